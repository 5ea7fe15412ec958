/*
 * test_npy.c — nn/npy: round trips, byte-exact headers as NumPy writes them, and hostile files.
 *
 * The expected header bytes are NumPy's own (numpy.lib.format, version 1.0): written out here by hand,
 * not produced by npy.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/result.h"
#include "nn/npy.h"

typedef struct tmp_dir {
	char path[256];
} tmp_dir;

static int setup_dir(void **state)
{
	tmp_dir *d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/mien-test-npy-XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int teardown_dir(void **state)
{
	tmp_dir *d = *state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d->path);
	free(d);
	return 0;
}

static void file_path(void **state, const char *name, char *buf, size_t size)
{
	tmp_dir *d = *state;
	snprintf(buf, size, "%s/%s", d->path, name);
}

static void write_bytes(const char *path, const void *bytes, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*n = (size_t)size;
	return buf;
}

#define write_lit(path, lit) write_bytes(path, lit, sizeof(lit) - 1)

/* Builds a version-1.0 file: magic, version, header padded as NumPy pads it, then `data_bytes`. */
static size_t build_v1(unsigned char *out, size_t cap, const char *dict, const void *data, size_t data_bytes)
{
	size_t dlen = strlen(dict);
	size_t total = (10 + dlen + 1 + 63) / 64 * 64;
	size_t hlen = total - 10;
	assert_true(total + data_bytes <= cap);
	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (unsigned char)(hlen & 0xff);
	out[9] = (unsigned char)(hlen >> 8);
	memcpy(out + 10, dict, dlen);
	memset(out + 10 + dlen, ' ', hlen - dlen - 1);
	out[total - 1] = '\n';
	if (data_bytes)
		memcpy(out + total, data, data_bytes);
	return total + data_bytes;
}

static void test_round_trip(void **state)
{
	char path[300];
	file_path(state, "rt.npy", path, sizeof(path));
	nn_shape shape = { .rank = 4, .dims = { 1, 3, 4, 2 } };
	float values[24];
	for (int i = 0; i < 24; i++)
		values[i] = (float)i * 0.25f - 3.0f;
	mien_error err;
	assert_int_equal(nn_npy_write(path, values, &shape, &err), 0);

	float *data = NULL;
	nn_shape got;
	int rc = nn_npy_read(path, &data, &got, &err);
	if (rc)
		fail_msg("read: %s", err.message);
	assert_int_equal(got.rank, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(got.dims[i], shape.dims[i]);
	assert_memory_equal(data, values, sizeof(values));
	free(data);
}

/* Byte-for-byte what numpy.save(np.zeros((1, 128), np.float32)) writes. */
static void test_write_matches_numpy_header(void **state)
{
	char path[300];
	file_path(state, "hdr.npy", path, sizeof(path));
	/* numpy.save follows the 61-byte dict with 20 growth spaces (21 - digits of shape[0]), 36 pad spaces
	 * and '\n': 10 + 118 = 128 bytes; 118 = 0x76. */
	static const char dict_2d[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 128), }";
	char expect_2d[128];
	memcpy(expect_2d, "\x93NUMPY\x01\x00\x76\x00", 10);
	memcpy(expect_2d + 10, dict_2d, 61);
	memset(expect_2d + 71, ' ', 56);
	expect_2d[127] = '\n';
	float zeros[128] = { 0 };
	nn_shape shape = { .rank = 2, .dims = { 1, 128 } };
	mien_error err;
	assert_int_equal(nn_npy_write(path, zeros, &shape, &err), 0);
	size_t n;
	unsigned char *bytes = read_bytes(path, &n);
	assert_int_equal(sizeof(dict_2d) - 1, 61);
	assert_int_equal(n, 128 + sizeof(zeros));
	assert_memory_equal(bytes, expect_2d, 128);
	free(bytes);

	/* 1-D: "(128,)"; 0-D: "()". */
	shape.rank = 1;
	shape.dims[0] = 128;
	assert_int_equal(nn_npy_write(path, zeros, &shape, &err), 0);
	bytes = read_bytes(path, &n);
	assert_int_equal(n, 128 + sizeof(zeros));
	static const char dict_1d[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (128,), }";
	assert_memory_equal(bytes + 10, dict_1d, sizeof(dict_1d) - 1);
	assert_int_equal(bytes[127], '\n');
	assert_int_equal(bytes[10 + sizeof(dict_1d) - 1], ' ');
	free(bytes);

	shape.rank = 0;
	assert_int_equal(nn_npy_write(path, zeros, &shape, &err), 0);
	bytes = read_bytes(path, &n);
	assert_int_equal(n, 128 + 4);
	static const char dict_0d[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
	assert_memory_equal(bytes + 10, dict_0d, sizeof(dict_0d) - 1);
	free(bytes);

	float *data = NULL;
	nn_shape got;
	assert_int_equal(nn_npy_read(path, &data, &got, &err), 0);
	assert_int_equal(got.rank, 0);
	free(data);
}

/* A header as NumPy writes it, with keys in another order, double quotes and version 2.0: all accepted. */
static void test_read_handmade(void **state)
{
	char path[300];
	file_path(state, "hand.npy", path, sizeof(path));
	unsigned char buf[512];
	float values[6] = { 1, 2, 3, 4, 5, 6 };
	mien_error err;
	float *data = NULL;
	nn_shape got;

	size_t n = build_v1(buf, sizeof(buf), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", values,
	                    sizeof(values));
	write_bytes(path, buf, n);
	assert_int_equal(nn_npy_read(path, &data, &got, &err), 0);
	assert_int_equal(got.rank, 2);
	assert_int_equal(got.dims[0], 2);
	assert_int_equal(got.dims[1], 3);
	assert_memory_equal(data, values, sizeof(values));
	free(data);

	n = build_v1(buf, sizeof(buf), "{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}", values,
	             sizeof(values));
	write_bytes(path, buf, n);
	assert_int_equal(nn_npy_read(path, &data, &got, &err), 0);
	assert_int_equal(got.rank, 1);
	assert_int_equal(got.dims[0], 6);
	free(data);

	/* Version 2.0: a 4-byte header length. */
	const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
	size_t dlen = strlen(dict);
	size_t total = (12 + dlen + 1 + 63) / 64 * 64;
	size_t hlen = total - 12;
	memcpy(buf, "\x93NUMPY\x02\x00", 8);
	buf[8] = (unsigned char)hlen;
	buf[9] = buf[10] = buf[11] = 0;
	memcpy(buf + 12, dict, dlen);
	memset(buf + 12 + dlen, ' ', hlen - dlen - 1);
	buf[total - 1] = '\n';
	memcpy(buf + total, values, sizeof(values));
	write_bytes(path, buf, total + sizeof(values));
	assert_int_equal(nn_npy_read(path, &data, &got, &err), 0);
	assert_int_equal(got.dims[0], 3);
	assert_int_equal(got.dims[1], 2);
	assert_memory_equal(data, values, sizeof(values));
	free(data);

	/* float64 is converted. */
	double wide[3] = { 0.5, -1.25, 1e10 };
	n = build_v1(buf, sizeof(buf), "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", wide, sizeof(wide));
	write_bytes(path, buf, n);
	assert_int_equal(nn_npy_read(path, &data, &got, &err), 0);
	assert_true(data[0] == 0.5f && data[1] == -1.25f && data[2] == 1e10f);
	free(data);

	/* The in-memory parser agrees. */
	n = build_v1(buf, sizeof(buf), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", values,
	             sizeof(values));
	assert_int_equal(nn_npy_parse(buf, n, "mem", &data, &got, &err), 0);
	assert_memory_equal(data, values, sizeof(values));
	free(data);
}

typedef struct bad_case {
	const char *dict;
	int code;
	const char *needle; /* part of the message */
} bad_case;

static void test_malformed_headers(void **state)
{
	char path[300];
	file_path(state, "bad.npy", path, sizeof(path));
	static const bad_case cases[] = {
		{ "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", MIEN_EUNSUPPORTED, ">f4" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", MIEN_EUNSUPPORTED, "<i4" },
		{ "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", MIEN_EUNSUPPORTED, "<f2" },
		{ "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", MIEN_EUNSUPPORTED, "Fortran" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", MIEN_EFORMAT, "tuple" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", MIEN_EFORMAT, "dimension" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7), }", MIEN_ERANGE, "dimensions" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }", MIEN_ETOOBIG, "too many" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 9), }", MIEN_ETOOBIG,
		  "too many" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", MIEN_ETOOBIG,
		  "too many" },
		{ "{'descr': '<f4', 'fortran_order': False}", MIEN_EFORMAT, "shape" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", MIEN_EFORMAT, "extra" },
		{ "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", MIEN_EFORMAT, "descr" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", MIEN_EFORMAT, "trailing" },
		{ "{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", MIEN_EFORMAT, "" },
		{ "['descr', '<f4']", MIEN_EFORMAT, "dict" },
		{ "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", MIEN_EFORMAT, "fortran_order" },
		{ "", MIEN_EFORMAT, "" },
	};
	float values[2] = { 1, 2 };
	unsigned char buf[512];
	for (size_t i = 0; i < MIEN_ARRAY_LEN(cases); i++) {
		size_t n = build_v1(buf, sizeof(buf), cases[i].dict, values, sizeof(values));
		write_bytes(path, buf, n);
		float *data = (float *)1;
		nn_shape got;
		mien_error err;
		mien_error_clear(&err);
		int rc = nn_npy_read(path, &data, &got, &err);
		if (rc != cases[i].code || !strstr(err.message, cases[i].needle) || !strstr(err.message, path))
			fail_msg("case %zu (%s): rc %d (want %d), message \"%s\" (want \"%s\" and the path)", i,
			         cases[i].dict, rc, cases[i].code, err.message, cases[i].needle);
		assert_null(data);
	}
}

static void test_bad_preambles(void **state)
{
	char path[300];
	file_path(state, "pre.npy", path, sizeof(path));
	mien_error err;
	float *data = NULL;
	nn_shape got;

	/* Missing file. */
	char missing[300];
	file_path(state, "missing.npy", missing, sizeof(missing));
	assert_int_equal(nn_npy_read(missing, &data, &got, &err), MIEN_ENOENT);
	assert_non_null(strstr(err.message, missing));

	/* Empty file, short file, bad magic, bad version. */
	write_lit(path, "");
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EFORMAT);
	write_lit(path, "\x93NUM");
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EFORMAT);
	write_lit(path, "PK\x03\x04 not npy at all");
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EFORMAT);
	assert_non_null(strstr(err.message, "magic"));
	write_lit(path, "\x93NUMPY\x07\x00\x10\x00{}              ");
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EUNSUPPORTED);

	/* A header length that runs past the end of the file. */
	write_lit(path, "\x93NUMPY\x01\x00\xff\x7f{'descr'");
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EFORMAT);
	assert_non_null(strstr(err.message, "truncated"));

	/* A v2 header length above the cap. */
	write_lit(path, "\x93NUMPY\x02\x00\x00\x00\x00\x01{}");
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_ETOOBIG);

	/* A NUL inside the header. */
	unsigned char buf[256];
	size_t n = build_v1(buf, sizeof(buf), "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "\0\0\0\0", 4);
	buf[12] = '\0';
	write_bytes(path, buf, n);
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EFORMAT);
	assert_null(data);
}

static void test_truncated_and_extra_data(void **state)
{
	char path[300];
	file_path(state, "trunc.npy", path, sizeof(path));
	float values[8] = { 0 };
	unsigned char buf[512];
	mien_error err;
	float *data = NULL;
	nn_shape got;

	size_t n = build_v1(buf, sizeof(buf), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", values,
	                    sizeof(values));
	write_bytes(path, buf, n - 1);
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EFORMAT);
	assert_non_null(strstr(err.message, "truncated"));
	assert_null(data);

	write_bytes(path, buf, n - 32);
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EFORMAT);

	/* Trailing bytes after the data are an error too: the size must match exactly. */
	buf[n] = 0;
	write_bytes(path, buf, n + 1);
	assert_int_equal(nn_npy_read(path, &data, &got, &err), MIEN_EFORMAT);
	assert_non_null(strstr(err.message, "header"));

	/* Same through the in-memory parser. */
	assert_int_equal(nn_npy_parse(buf, n - 4, "mem", &data, &got, &err), MIEN_EFORMAT);
	assert_int_equal(nn_npy_parse(buf, 5, "mem", &data, &got, &err), MIEN_EFORMAT);
	assert_null(data);
}

static void test_write_errors(void **state)
{
	char path[300];
	file_path(state, "no/such/dir/x.npy", path, sizeof(path));
	float v[2] = { 0 };
	nn_shape shape = { .rank = 1, .dims = { 2 } };
	mien_error err;
	assert_int_equal(nn_npy_write(path, v, &shape, &err), MIEN_ENOENT);
	assert_non_null(strstr(err.message, path));

	file_path(state, "neg.npy", path, sizeof(path));
	shape.dims[0] = -1;
	assert_int_equal(nn_npy_write(path, v, &shape, &err), MIEN_EINVAL);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_matches_numpy_header, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_read_handmade, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_malformed_headers, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_bad_preambles, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_truncated_and_extra_data, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_errors, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests_name("npy", tests, NULL, NULL);
}
