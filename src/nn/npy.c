/*
 * npy.c — NumPy .npy reading and writing (see npy.h).
 *
 * The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (1, 128), }.
 * It is parsed by a small hand-written scanner that accepts exactly what NumPy accepts for our dtypes and
 * nothing more: the three keys once each in any order, single- or double-quoted strings, a tuple of
 * non-negative integers (trailing comma and Python 2 'L' suffixes allowed), then padding whitespace.
 */
#include "nn/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif

static const unsigned char NPY_MAGIC[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

typedef struct npy_header {
	size_t data_offset; /* bytes before the array data */
	size_t item_size;   /* 4 for '<f4', 8 for '<f8' */
	nn_shape shape;
	int64_t count;
} npy_header;

int64_t nn_npy_count(const nn_shape *shape)
{
	if (!shape || shape->rank < 0 || shape->rank > NN_MAX_RANK)
		return -1;
	int64_t n = 1;
	for (int i = 0; i < shape->rank; i++) {
		int64_t d = shape->dims[i];
		if (d < 0)
			return -1;
		if (d != 0 && n > INT64_MAX / d)
			return -1;
		n *= d;
	}
	return n;
}

/* --- header scanner ------------------------------------------------------------------------------- */

typedef struct scanner {
	const char *p;
	const char *end;
} scanner;

static void skip_space(scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int accept_char(scanner *s, char c)
{
	skip_space(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 1;
	}
	return 0;
}

/* A quoted string without escapes (NumPy never writes any in these keys); copied into buf. */
static int scan_string(scanner *s, char *buf, size_t size)
{
	skip_space(s);
	if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
		return -1;
	char quote = *s->p++;
	size_t n = 0;
	while (s->p < s->end && *s->p != quote) {
		if (*s->p == '\\' || *s->p == '\n' || n + 1 >= size)
			return -1;
		buf[n++] = *s->p++;
	}
	if (s->p >= s->end)
		return -1;
	s->p++;
	buf[n] = '\0';
	return 0;
}

static int scan_word(scanner *s, const char *word)
{
	skip_space(s);
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int scan_dim(scanner *s, int64_t *out)
{
	skip_space(s);
	int64_t v = 0;
	int digits = 0;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		int digit = *s->p - '0';
		if (v > (INT64_MAX - digit) / 10)
			return -2; /* does not fit int64: far above any cap */
		v = v * 10 + digit;
		s->p++;
		digits++;
	}
	if (!digits)
		return -1;
	if (s->p < s->end && *s->p == 'L')
		s->p++;
	*out = v;
	return 0;
}

/* ( ) | ( d , ) | ( d , d [,] ) ... ; a rank above NN_MAX_RANK gives MIEN_ERANGE. */
static int scan_shape(scanner *s, nn_shape *shape, const char *name, mien_error *err)
{
	if (!accept_char(s, '('))
		return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: 'shape' is not a tuple", name);
	shape->rank = 0;
	if (accept_char(s, ')'))
		return 0;
	for (;;) {
		int64_t d;
		int rc = scan_dim(s, &d);
		if (rc == -2)
			return mien_error_set(err, MIEN_ETOOBIG,
			                      "%s: npy array has too many elements (a dimension "
			                      "overflows int64)",
			                      name);
		if (rc)
			return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: bad dimension in 'shape'", name);
		if (shape->rank >= NN_MAX_RANK)
			return mien_error_set(err, MIEN_ERANGE, "%s: npy array has more than %d dimensions", name,
			                      NN_MAX_RANK);
		shape->dims[shape->rank++] = d;
		int comma = accept_char(s, ',');
		if (accept_char(s, ')')) {
			if (shape->rank == 1 && !comma)
				return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: '(n)' is not a tuple", name);
			return 0;
		}
		if (!comma)
			return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: malformed 'shape'", name);
	}
}

static int parse_dict(const char *text, size_t len, const char *name, npy_header *hdr, mien_error *err)
{
	scanner s = { text, text + len };
	int have_descr = 0, have_order = 0, have_shape = 0;
	char key[32], descr[32];

	if (!accept_char(&s, '{'))
		return mien_error_set(err, MIEN_EFORMAT, "%s: npy header is not a dict", name);
	for (;;) {
		if (accept_char(&s, '}'))
			break;
		if (scan_string(&s, key, sizeof(key)) || !accept_char(&s, ':'))
			return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: malformed key", name);
		if (strcmp(key, "descr") == 0 && !have_descr) {
			if (scan_string(&s, descr, sizeof(descr)))
				return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: 'descr' is not a string",
				                      name);
			have_descr = 1;
		} else if (strcmp(key, "fortran_order") == 0 && !have_order) {
			if (scan_word(&s, "False") == 0) {
				have_order = 1;
			} else if (scan_word(&s, "True") == 0) {
				return mien_error_set(err, MIEN_EUNSUPPORTED,
				                      "%s: npy array is in Fortran order; only C order is supported",
				                      name);
			} else {
				return mien_error_set(err, MIEN_EFORMAT,
				                      "%s: npy header: 'fortran_order' is not True or False", name);
			}
		} else if (strcmp(key, "shape") == 0 && !have_shape) {
			int rc = scan_shape(&s, &hdr->shape, name, err);
			if (rc)
				return rc;
			have_shape = 1;
		} else {
			return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: unexpected or repeated key '%s'",
			                      name, key);
		}
		if (!accept_char(&s, ',')) {
			if (!accept_char(&s, '}'))
				return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: expected ',' or '}'", name);
			break;
		}
	}
	skip_space(&s);
	if (s.p != s.end)
		return mien_error_set(err, MIEN_EFORMAT, "%s: npy header: trailing characters after the dict", name);
	if (!have_descr || !have_order || !have_shape)
		return mien_error_set(err, MIEN_EFORMAT, "%s: npy header lacks '%s'", name,
		                      !have_descr   ? "descr"
		                      : !have_order ? "fortran_order"
		                                    : "shape");

	if (strcmp(descr, "<f4") == 0) {
		hdr->item_size = 4;
	} else if (strcmp(descr, "<f8") == 0) {
		hdr->item_size = 8;
	} else {
		return mien_error_set(err, MIEN_EUNSUPPORTED,
		                      "%s: npy dtype '%s' is not supported (need float32 '<f4' or float64 '<f8')", name,
		                      descr);
	}
	hdr->count = nn_npy_count(&hdr->shape);
	if (hdr->count < 0 || hdr->count > NN_NPY_MAX_ELEMENTS)
		return mien_error_set(err, MIEN_ETOOBIG, "%s: npy array has too many elements (cap %lld)", name,
		                      (long long)NN_NPY_MAX_ELEMENTS);
	return 0;
}

/*
 * Parses the preamble and header from the first `avail` bytes of a file. Returns MIEN_EFORMAT with
 * *need set when more bytes are needed than `avail` (so the file reader can fetch exactly the header).
 */
static int parse_header(const unsigned char *bytes, size_t avail, const char *name, npy_header *hdr, size_t *need,
                        mien_error *err)
{
	*need = 0;
	if (avail < 10 || memcmp(bytes, NPY_MAGIC, sizeof(NPY_MAGIC)) != 0)
		return mien_error_set(err, MIEN_EFORMAT, "%s: not an npy file (bad magic)", name);
	int major = bytes[6];
	size_t pre, hlen;
	if (major == 1) {
		pre = 10;
		hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8;
	} else if (major == 2 || major == 3) {
		if (avail < 12)
			return mien_error_set(err, MIEN_EFORMAT, "%s: npy file is truncated in its preamble", name);
		pre = 12;
		hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 | (size_t)bytes[11] << 24;
	} else {
		return mien_error_set(err, MIEN_EUNSUPPORTED, "%s: npy format version %d.%d is not supported", name,
		                      major, bytes[7]);
	}
	if (hlen > NN_NPY_MAX_HEADER)
		return mien_error_set(err, MIEN_ETOOBIG, "%s: npy header of %zu bytes exceeds the cap of %d", name,
		                      hlen, NN_NPY_MAX_HEADER);
	if (avail < pre + hlen) {
		*need = pre + hlen;
		return mien_error_set(err, MIEN_EFORMAT, "%s: npy file is truncated in its header", name);
	}
	const char *text = (const char *)bytes + pre;
	if (memchr(text, '\0', hlen))
		return mien_error_set(err, MIEN_EFORMAT, "%s: npy header contains a NUL byte", name);
	int rc = parse_dict(text, hlen, name, hdr, err);
	if (rc)
		return rc;
	hdr->data_offset = pre + hlen;
	return 0;
}

static int convert_data(const unsigned char *src, const npy_header *hdr, float **data, const char *name,
                        mien_error *err)
{
	size_t n = (size_t)hdr->count;
	float *out = malloc(n ? n * sizeof(float) : 1);
	if (!out)
		return mien_error_set(err, MIEN_ENOMEM, "%s: out of memory for %zu floats", name, n);
	if (hdr->item_size == 4) {
		memcpy(out, src, n * sizeof(float));
	} else {
		for (size_t i = 0; i < n; i++) {
			double v;
			memcpy(&v, src + i * 8, 8);
			out[i] = (float)v;
		}
	}
	*data = out;
	return 0;
}

int nn_npy_parse(const void *bytes, size_t size, const char *name, float **data, nn_shape *shape, mien_error *err)
{
	npy_header hdr;
	size_t need;
	if (!data || !shape || (!bytes && size))
		return mien_error_set(err, MIEN_EINVAL, "nn_npy_parse: NULL argument");
	*data = NULL;
	if (!name)
		name = "npy";
	memset(&hdr, 0, sizeof(hdr));
	int rc = parse_header(bytes, size, name, &hdr, &need, err);
	if (rc)
		return rc;
	size_t body = (size_t)hdr.count * hdr.item_size;
	if (size - hdr.data_offset != body)
		return mien_error_set(err, MIEN_EFORMAT, "%s: npy data is %zu bytes, the header says %zu", name,
		                      size - hdr.data_offset, body);
	rc = convert_data((const unsigned char *)bytes + hdr.data_offset, &hdr, data, name, err);
	if (rc)
		return rc;
	*shape = hdr.shape;
	return 0;
}

static int read_exact(FILE *f, void *buf, size_t n)
{
	return fread(buf, 1, n, f) == n ? 0 : -1;
}

int nn_npy_read(const char *path, float **data, nn_shape *shape, mien_error *err)
{
	FILE *f = NULL;
	unsigned char *head = NULL;
	unsigned char *body = NULL;
	float *out = NULL;
	npy_header hdr;
	size_t need = 0;
	int rc;

	if (!path || !data || !shape)
		return mien_error_set(err, MIEN_EINVAL, "nn_npy_read: NULL argument");
	*data = NULL;
	memset(&hdr, 0, sizeof(hdr));

	f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		return mien_error_set(err, e == ENOENT ? MIEN_ENOENT : MIEN_EIO, "%s: cannot open: %s", path,
		                      strerror(e));
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = mien_error_set(err, MIEN_EIO, "%s: not a regular file", path);
		goto fail;
	}
	size_t file_size = (size_t)st.st_size;

	/* The preamble is at most 12 bytes; read it, learn the header length, then read the header. */
	size_t have = file_size < 12 ? file_size : 12;
	head = malloc(12);
	if (!head) {
		rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	if (read_exact(f, head, have)) {
		rc = mien_error_set(err, MIEN_EIO, "%s: read failed", path);
		goto fail;
	}
	rc = parse_header(head, have, path, &hdr, &need, err);
	if (rc && need) {
		if (need > file_size) {
			rc = mien_error_set(err, MIEN_EFORMAT, "%s: npy file is truncated in its header", path);
			goto fail;
		}
		unsigned char *grown = realloc(head, need);
		if (!grown) {
			rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory", path);
			goto fail;
		}
		head = grown;
		if (read_exact(f, head + have, need - have)) {
			rc = mien_error_set(err, MIEN_EIO, "%s: read failed", path);
			goto fail;
		}
		have = need;
		rc = parse_header(head, have, path, &hdr, &need, err);
	}
	if (rc)
		goto fail;
	if (have > hdr.data_offset) {
		/* The whole file was shorter than 12 bytes + header: only possible for a v1 header whose data
		 * began inside our 12-byte read. Seek back to the data. */
		if (fseek(f, (long)hdr.data_offset, SEEK_SET) != 0) {
			rc = mien_error_set(err, MIEN_EIO, "%s: seek failed", path);
			goto fail;
		}
	}

	size_t body_size = (size_t)hdr.count * hdr.item_size;
	if (file_size - hdr.data_offset != body_size) {
		rc = mien_error_set(err, MIEN_EFORMAT, "%s: npy data is %zu bytes, the header %s needs %zu%s", path,
		                    file_size - hdr.data_offset, hdr.item_size == 4 ? "<f4" : "<f8", body_size,
		                    file_size - hdr.data_offset < body_size ? " (truncated)" : "");
		goto fail;
	}
	if (hdr.item_size == 4) {
		out = malloc(body_size ? body_size : 1);
		if (!out) {
			rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory for %zu bytes", path, body_size);
			goto fail;
		}
		if (read_exact(f, out, body_size)) {
			rc = mien_error_set(err, MIEN_EIO, "%s: read failed", path);
			goto fail;
		}
	} else {
		body = malloc(body_size ? body_size : 1);
		if (!body) {
			rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory for %zu bytes", path, body_size);
			goto fail;
		}
		if (read_exact(f, body, body_size)) {
			rc = mien_error_set(err, MIEN_EIO, "%s: read failed", path);
			goto fail;
		}
		rc = convert_data(body, &hdr, &out, path, err);
		if (rc)
			goto fail;
	}
	free(body);
	free(head);
	fclose(f);
	*data = out;
	*shape = hdr.shape;
	return 0;

fail:
	free(out);
	free(body);
	free(head);
	fclose(f);
	return rc;
}

/*
 * The header numpy.save writes (numpy/lib/format.py _write_array_header and _wrap_header):
 * "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 128), }", then GROWTH_AXIS_MAX_DIGITS (21) minus the
 * digits of shape[0] spaces (room to grow axis 0 in place; none for rank 0), then 64 - ((10 + len + 1) % 64)
 * spaces — a full 64 when already aligned, as NumPy does — and '\n'.
 */
static size_t format_header(const nn_shape *shape, char *buf, size_t size)
{
	char dims[NN_MAX_RANK * 24 + 8];
	size_t n = 0;
	dims[n++] = '(';
	for (int i = 0; i < shape->rank; i++)
		n += (size_t)snprintf(dims + n, sizeof(dims) - n, "%s%lld", i ? ", " : "", (long long)shape->dims[i]);
	if (shape->rank == 1)
		dims[n++] = ',';
	dims[n++] = ')';
	dims[n] = '\0';
	size_t len = (size_t)snprintf(buf, size, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", dims);
	if (shape->rank > 0) {
		char first[24];
		size_t digits = (size_t)snprintf(first, sizeof(first), "%lld", (long long)shape->dims[0]);
		size_t growth = digits < 21 ? 21 - digits : 0;
		memset(buf + len, ' ', growth);
		len += growth;
	}
	size_t pad = 64 - ((10 + len + 1) % 64);
	memset(buf + len, ' ', pad);
	len += pad;
	buf[len++] = '\n';
	return len;
}

int nn_npy_write(const char *path, const float *data, const nn_shape *shape, mien_error *err)
{
	if (!path || !shape)
		return mien_error_set(err, MIEN_EINVAL, "nn_npy_write: NULL argument");
	int64_t count = nn_npy_count(shape);
	if (count < 0)
		return mien_error_set(err, MIEN_EINVAL, "%s: cannot write an npy array of unknown or invalid shape",
		                      path);
	if (count > 0 && !data)
		return mien_error_set(err, MIEN_EINVAL, "nn_npy_write: NULL data");

	unsigned char pre[10];
	char header[512];
	size_t hlen = format_header(shape, header, sizeof(header));
	memcpy(pre, NPY_MAGIC, sizeof(NPY_MAGIC));
	pre[6] = 1;
	pre[7] = 0;
	pre[8] = (unsigned char)(hlen & 0xff);
	pre[9] = (unsigned char)(hlen >> 8);

	FILE *f = fopen(path, "wb");
	if (!f)
		return mien_error_set(err, errno == ENOENT ? MIEN_ENOENT : MIEN_EIO, "%s: cannot create: %s", path,
		                      strerror(errno));
	int ok = fwrite(pre, 1, sizeof(pre), f) == sizeof(pre) && fwrite(header, 1, hlen, f) == hlen &&
	         (count == 0 || fwrite(data, sizeof(float), (size_t)count, f) == (size_t)count);
	int e = errno;
	if (fclose(f) != 0 && ok) {
		ok = 0;
		e = errno;
	}
	if (!ok) {
		unlink(path);
		return mien_error_set(err, MIEN_EIO, "%s: write failed: %s", path, strerror(e));
	}
	return 0;
}
