/*
 * test_cli_face.c — `mien analyze`, `enroll`, `identify` and `compare` as a user runs them: build/mien in a
 * child process on files made here from face-api's demo photo (models/samples/sample1.jpg), with a throw-away
 * database (MIEN_DB): an SQLite file, then the PostgreSQL server of MIEN_TEST_PG (started by `make check-unit`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "face/face.h"

static char dir[64];
static char db[512]; /* the MIEN_DB the commands get */

/* Runs a shell command, captures stdout into out (NUL-terminated), returns the exit status. */
static int run(const char *cmd, char *out, size_t size)
{
	char full[2048];
	snprintf(full, sizeof(full), "MIEN_DB='%s' MIEN_LOG_LEVEL=error %s", db, cmd);
	FILE *p = popen(full, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	printf("$ %s -> %d\n%s", cmd, WEXITSTATUS(status), out);
	return WEXITSTATUS(status);
}

static void write_jpeg(const face_image *img, const char *name)
{
	uint8_t *jpg = NULL;
	size_t size = 0;
	mien_error err = { 0 };
	assert_int_equal(face_image_encode_jpeg(img, 92, &jpg, &size, &err), MIEN_OK);
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(jpg, 1, size, f), size);
	fclose(f);
	free(jpg);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mien-cli-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* two different cuts of sample1's largest face, and a picture with no face */
	mien_error err = { 0 };
	face_image *img = NULL, *a = NULL, *b = NULL, *blank = NULL;
	face_analyzer *an = NULL;
	face_result faces[32];
	size_t n = 0;
	face_options o;
	face_options_default(&o);
	if (face_image_load("models/samples/sample1.jpg", 0, &img, &err) ||
	    face_analyzer_create(&o, "models", NULL, &an, &err) || face_analyze(an, img, faces, 32, &n, &err) || n < 2)
		return -1;
	int big = 0;
	for (size_t i = 1; i < n; i++)
		if (faces[i].box[2] > faces[big].box[2])
			big = (int)i;
	const float *bx = faces[big].box;
	if (face_image_crop(img, bx[0] - bx[2] * 0.6f, bx[1] - bx[3] * 0.6f, bx[2] * 2.2f, bx[3] * 2.2f, 300, 300, &a,
	                    &err) ||
	    face_image_crop(img, bx[0] - bx[2] * 0.9f, bx[1] - bx[3] * 0.7f, bx[2] * 2.6f, bx[3] * 2.4f, 240, 222, &b,
	                    &err) ||
	    face_image_create(320, 240, 0, &blank, &err))
		return -1;
	for (int y = 0; y < 240; y++)
		for (int x = 0; x < 320 * 3; x++)
			blank->pixels[y * blank->stride + x] = (uint8_t)(x / 4);
	write_jpeg(a, "ada1.jpg");
	write_jpeg(b, "ada2.jpg");
	write_jpeg(blank, "blank.jpg");
	FILE *f = fopen("/tmp/mien-cli-corrupt.jpg", "wb");
	fputs("\xff\xd8\xff\xe0 this is not really a JPEG", f);
	fclose(f);
	face_image_free(&img);
	face_image_free(&a);
	face_image_free(&b);
	face_image_free(&blank);
	face_analyzer_free(&an);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s /tmp/mien-cli-corrupt.jpg", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void enroll_identify_compare(void)
{
	char out[65536], cmd[512];
	/* Nobody enrolled yet: identities are null, and identify says what to do. */
	snprintf(cmd, sizeof(cmd), "build/mien analyze --json %s/ada2.jpg", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"identity\":null"));
	snprintf(cmd, sizeof(cmd), "build/mien enroll --name 'Ada <b>' %s/ada1.jpg", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"verdict\":\"enrolled\""));
	/* a group photo is refused: which face would it be? */
	assert_int_equal(run("build/mien enroll --name Crowd models/samples/sample1.jpg", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "\"verdict\":\"several_faces\""));
	assert_non_null(strstr(out, "\"person_id\":null")); /* nobody was created for a refused picture */
	/* ... unless --face names one (#1 to #3 as `mien analyze` numbers them): sample1.jpg is labelled with 3 faces,
	 * so #4 is none of them, and #0 is no face number at all. */
	assert_int_equal(run("build/mien enroll --name Crowd --face 4 models/samples/sample1.jpg", out, sizeof(out)),
	                 1);
	assert_non_null(strstr(out, "\"verdict\":\"no_such_face\""));
	assert_int_equal(
	        run("build/mien enroll --name Crowd --face x models/samples/sample1.jpg 2>&1", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--face takes the number"));
	assert_int_equal(
	        run("build/mien enroll --name Crowd --face 0 models/samples/sample1.jpg 2>&1", out, sizeof(out)), 2);
	assert_int_equal(run("build/mien enroll --name Crowd --face 3 models/samples/sample1.jpg", out, sizeof(out)),
	                 0);
	assert_non_null(strstr(out, "\"verdict\":\"enrolled\""));
	snprintf(cmd, sizeof(cmd), "build/mien enroll --name Nobody %s/blank.jpg", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "\"verdict\":\"no_face\""));
	/* Another process finds Ada in the database, from a different cut of her face. */
	snprintf(cmd, sizeof(cmd), "build/mien identify --json %s/ada2.jpg", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"name\":\"Ada <b>\""));
	/* The blank picture has no face; the group photo's people are not Ada. */
	assert_int_equal(run("build/mien identify --json models/samples/sample2.jpg", out, sizeof(out)), 0);
	assert_null(strstr(out, "Ada"));
	/* Several pictures at once, as text by default: a line per picture and per face, with the name or unknown. */
	snprintf(cmd, sizeof(cmd), "build/mien identify %s/ada2.jpg models/samples/sample2.jpg", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_null(strstr(out, "{\""));
	assert_non_null(strstr(out, "ada2.jpg: "));
	assert_non_null(strstr(out, "-> Ada <b> (person "));
	assert_non_null(strstr(out, "sample2.jpg: "));
	assert_non_null(strstr(out, "-> unknown"));
	/* Each subcommand's own help. */
	assert_int_equal(run("build/mien identify --help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: mien identify"));
	assert_int_equal(run("build/mien eval --help", out, sizeof(out)), 0);
	assert_null(strstr(out, "%%"));
	snprintf(cmd, sizeof(cmd), "build/mien compare %s/ada1.jpg %s/ada2.jpg", dir, dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"same_person\":true"));
	assert_int_equal(run("build/mien migrate", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"applied\":0"));
}

static void test_enroll_identify_sqlite(void **state)
{
	(void)state;
	snprintf(db, sizeof(db), "sqlite:%s/var/mien.db", dir);
	char out[4096], cmd[512];
	/* identify with no database at all: a clear failure, and no file is created */
	snprintf(cmd, sizeof(cmd), "build/mien identify %s/ada2.jpg 2>&1", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "enroll people first"));
	char path[128];
	snprintf(path, sizeof(path), "%s/var/mien.db", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	enroll_identify_compare();
}

static void test_enroll_identify_postgresql(void **state)
{
	(void)state;
	const char *url = getenv("MIEN_TEST_PG");
	if (!url)
		fail_msg(
		        "MIEN_TEST_PG is not set: run through `make check-unit` (scripts/testdb.sh starts PostgreSQL)");
	char cmd[1024], out[4096];
	/* a clean schema, through psql rather than the code under test */
	snprintf(cmd, sizeof(cmd),
	         "psql -q '%s' -c 'SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA "
	         "public;'",
	         url);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	snprintf(db, sizeof(db), "%s", url);
	enroll_identify_compare();
}

static void test_analyze_json_and_bad_input(void **state)
{
	(void)state;
	snprintf(db, sizeof(db), "sqlite:%s/none/mien.db", dir);
	char out[65536], cmd[512];
	snprintf(cmd, sizeof(cmd), "build/mien analyze --json --embeddings %s/blank.jpg models/samples/sample2.jpg",
	         dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"faces\":[]"));
	assert_non_null(strstr(out, "\"dominant_expression\":"));
	assert_non_null(strstr(out, "\"embedding\":["));
	/* a corrupt picture fails alone; the good one after it is still analysed */
	assert_int_equal(run("build/mien analyze --json /tmp/mien-cli-corrupt.jpg models/samples/sample3.jpg 2>&1", out,
	                     sizeof(out)),
	                 1);
	assert_non_null(strstr(out, "mien-cli-corrupt.jpg:"));
	assert_non_null(strstr(out, "sample3.jpg\""));
	assert_int_equal(run("build/mien analyze --json /nonexistent.jpg 2>&1", out, sizeof(out)), 1);
	assert_int_equal(run("build/mien compare models/samples/sample1.jpg 2>/dev/null", out, sizeof(out)), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enroll_identify_sqlite),
		cmocka_unit_test(test_enroll_identify_postgresql),
		cmocka_unit_test(test_analyze_json_and_bad_input),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
