/*
 * test_cli_face.c — `mien analyze`, `enroll`, `identify`, `compare` and `cluster` (and `mien eval cluster|negatives`)
 * as a user runs them: build/mien in a child process on files made here from face-api's demo photos
 * (models/samples), with a throw-away database (MIEN_DB): an SQLite file, then the PostgreSQL server of MIEN_TEST_PG
 * (started by `make check-unit`).
 *
 * The facts the grouping is checked against come from how the pictures are made and what they are labelled with,
 * not from the code under test: sample1.jpg and sample2.jpg hold 3 faces each (counted by eye,
 * ../shared/data/detection/face_counts.csv); the people in one photo are different people; a copy of a picture, or
 * the picture made smaller, shows the same faces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
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

/*
 * The pictures of the `mien cluster` tests: copy.jpg (sample1 byte for byte), small.jpg (sample1 at 2/3 of its
 * size), one.jpg and two.jpg (sample1's two largest faces cut out: two people who stand side by side, so two
 * different people), one_small.jpg and two_small.jpg (the same, smaller), and people/a/, people/b/ (a labelled
 * folder of those).
 */
static int cluster_pictures(const face_image *img, const face_result *faces, size_t n)
{
	mien_error err = { 0 };
	face_image *small = NULL, *cut = NULL;
	char path[256];
	snprintf(path, sizeof(path), "cp models/samples/sample1.jpg %s/copy.jpg", dir);
	if (system(path) != 0 || face_image_crop(img, 0, 0, (float)img->width, (float)img->height, img->width * 2 / 3,
	                                         img->height * 2 / 3, &small, &err))
		return -1;
	write_jpeg(small, "small.jpg");
	face_image_free(&small);
	int big[2] = { -1, -1 }; /* the two largest faces */
	for (size_t i = 0; i < n; i++) {
		if (big[0] < 0 || faces[i].box[2] > faces[big[0]].box[2]) {
			big[1] = big[0];
			big[0] = (int)i;
		} else if (big[1] < 0 || faces[i].box[2] > faces[big[1]].box[2]) {
			big[1] = (int)i;
		}
	}
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "%s/people/%c", dir, k ? 'b' : 'a');
		if (cli_mkdir_p(path, &err))
			return -1;
		const float *b = faces[big[k]].box;
		for (int size = 0; size < 2; size++) {
			int side = size ? 150 : 300;
			if (face_image_crop(img, b[0] - b[2] * 0.6f, b[1] - b[3] * 0.6f, b[2] * 2.2f, b[3] * 2.2f, side,
			                    side, &cut, &err))
				return -1;
			char name[64];
			snprintf(name, sizeof(name), "%s%s.jpg", k ? "two" : "one", size ? "_small" : "");
			write_jpeg(cut, name);
			snprintf(name, sizeof(name), "people/%c/%d.jpg", k ? 'b' : 'a', size);
			write_jpeg(cut, name);
			face_image_free(&cut);
		}
	}
	return 0;
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
	if (cluster_pictures(img, faces, n))
		return -1;
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

typedef struct line {
	char image[256];
	float box[4];
	int cluster; /* 0: null */
} line;

/* The JSON lines of `out` (other lines, such as error messages, are skipped). */
static int parse_lines(char *out, line *lines, int max)
{
	int n = 0;
	for (char *p = strtok(out, "\n"); p; p = strtok(NULL, "\n")) {
		if (*p != '{')
			continue;
		json_error_t jerr;
		json_t *o = json_loads(p, 0, &jerr);
		assert_non_null(o);
		assert_true(n < max);
		line *l = &lines[n++];
		const char *image = json_string_value(json_object_get(o, "image"));
		assert_non_null(image);
		snprintf(l->image, sizeof(l->image), "%s", strrchr(image, '/') ? strrchr(image, '/') + 1 : image);
		json_t *box = json_object_get(o, "box");
		assert_int_equal(json_array_size(box), 4);
		for (int k = 0; k < 4; k++)
			l->box[k] = (float)json_number_value(json_array_get(box, k));
		json_t *c = json_object_get(o, "cluster");
		assert_true(json_is_integer(c) || json_is_null(c));
		l->cluster = json_is_integer(c) ? (int)json_integer_value(c) : 0;
		json_decref(o);
	}
	return n;
}

static int count_image(const line *lines, int n, const char *image)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += strcmp(lines[i].image, image) == 0;
	return k;
}

/* The line of `image` whose box, scaled by `scale`, lies on `box` (within a tenth of its size); NULL if none. */
static const line *find_face(const line *lines, int n, const char *image, const float *box, float scale)
{
	for (int i = 0; i < n; i++) {
		const float *b = lines[i].box;
		if (strcmp(lines[i].image, image) == 0 && fabsf(b[0] / scale - box[0]) < box[2] * 0.1f &&
		    fabsf(b[1] / scale - box[1]) < box[3] * 0.1f && fabsf(b[2] / scale - box[2]) < box[2] * 0.1f)
			return &lines[i];
	}
	return NULL;
}

static void test_cluster_json(void **state)
{
	(void)state;
	char out[65536], cmd[1024];
	line lines[64];
	snprintf(cmd, sizeof(cmd),
	         "build/mien cluster --json models/samples/sample1.jpg %s/copy.jpg %s/small.jpg "
	         "models/samples/sample2.jpg %s/missing.jpg /tmp/mien-cli-corrupt.jpg 2>&1",
	         dir, dir, dir);
	/* two bad files: each named on stderr, the others still grouped, exit status 1 */
	assert_int_equal(run(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "missing.jpg"));
	assert_non_null(strstr(out, "mien-cli-corrupt.jpg"));
	int n = parse_lines(out, lines, 64);
	assert_int_equal(count_image(lines, n, "sample1.jpg"), 3);
	assert_int_equal(count_image(lines, n, "copy.jpg"), 3);
	assert_int_equal(count_image(lines, n, "small.jpg"), 3);
	assert_int_equal(count_image(lines, n, "sample2.jpg"), 3);
	assert_int_equal(n, 12);
	/* sample1's faces come first: clusters 1, 2, 3 (numbered by first face), different people all */
	for (int i = 0; i < 3; i++) {
		assert_string_equal(lines[i].image, "sample1.jpg");
		assert_int_equal(lines[i].cluster, i + 1);
		/* the copy's face at the same place, and the smaller picture's, are in its cluster */
		const line *copy = find_face(lines, n, "copy.jpg", lines[i].box, 1);
		const line *small = find_face(lines, n, "small.jpg", lines[i].box, 2.0f / 3);
		assert_non_null(copy);
		assert_non_null(small);
		assert_int_equal(copy->cluster, lines[i].cluster);
		assert_int_equal(small->cluster, lines[i].cluster);
	}
	/* sample2's three people are three clusters */
	int c2[3], k = 0;
	for (int i = 0; i < n; i++)
		if (strcmp(lines[i].image, "sample2.jpg") == 0)
			c2[k++] = lines[i].cluster;
	assert_true(c2[0] > 0 && c2[1] > 0 && c2[2] > 0);
	assert_true(c2[0] != c2[1] && c2[1] != c2[2] && c2[0] != c2[2]);
}

static void test_cluster_text_two_people(void **state)
{
	(void)state;
	char out[16384], cmd[1024];
	/* two people who stand side by side in one photo, each twice: two clusters, whatever the order */
	snprintf(cmd, sizeof(cmd), "build/mien cluster %s/two.jpg %s/one.jpg %s/one_small.jpg %s/two_small.jpg", dir,
	         dir, dir, dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	char expect[512];
	const char *order[4][2] = {
		{ "two.jpg", "1" }, { "one.jpg", "2" }, { "one_small.jpg", "2" }, { "two_small.jpg", "1" }
	};
	for (int i = 0; i < 4; i++) {
		/* IMG  #N  x,y,w,h  cluster K */
		snprintf(expect, sizeof(expect), "%s/%s  #1  ", dir, order[i][0]);
		const char *at = strstr(out, expect);
		assert_non_null(at);
		const char *end = strchr(at, '\n');
		assert_non_null(end);
		snprintf(expect, sizeof(expect), "  cluster %s\n", order[i][1]);
		assert_true(strncmp(end - strlen(expect) + 1, expect, strlen(expect)) == 0);
	}
	/* --threshold 1 keeps even these apart (a smaller copy is not the same pixels) */
	snprintf(cmd, sizeof(cmd), "build/mien cluster --threshold 1 %s/one.jpg %s/one_small.jpg", dir, dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "cluster 1\n"));
	assert_non_null(strstr(out, "cluster 2\n"));
}

static void test_cluster_usage(void **state)
{
	(void)state;
	char out[8192];
	assert_int_equal(run("build/mien cluster 2>&1", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "usage: mien cluster"));
	assert_int_equal(run("build/mien cluster --threshold 2 models/samples/sample1.jpg 2>&1", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--threshold"));
	assert_int_equal(run("build/mien cluster --bogus models/samples/sample1.jpg 2>&1", out, sizeof(out)), 2);
	assert_int_equal(run("build/mien cluster --help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: mien cluster"));
	assert_int_equal(run("build/mien help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "cluster"));
}

/* The evaluations on a labelled folder of two people with two pictures each. */
static void test_eval_cluster_and_negatives(void **state)
{
	(void)state;
	char out[1 << 17], cmd[1024];
	snprintf(cmd, sizeof(cmd), "build/mien eval cluster %s/people --sweep", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	json_error_t jerr;
	json_t *o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	json_t *at = json_object_get(o, "at_threshold");
	assert_int_equal(json_integer_value(json_object_get(o, "people")), 2);
	assert_int_equal(json_integer_value(json_object_get(o, "faces")), 4);
	assert_float_equal(json_number_value(json_object_get(at, "pair_f")), 1, 1e-9);
	assert_float_equal(json_number_value(json_object_get(at, "bcubed_f")), 1, 1e-9);
	assert_int_equal(json_integer_value(json_object_get(at, "clusters")), 2);
	assert_true(json_array_size(json_object_get(o, "sweep")) > 10);
	/* each half holds one of the two people */
	json_t *halves = json_object_get(o, "halves");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(halves, "tune"), "people")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(halves, "held"), "people")), 1);
	json_decref(o);
	snprintf(cmd, sizeof(cmd), "build/mien eval cluster %s/people --split held --threshold 0.5", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "people")), 1);
	assert_float_equal(json_number_value(json_object_get(o, "threshold")), 0.5, 1e-6);
	assert_null(json_object_get(o, "halves"));
	json_decref(o);
	/* negatives: nobody has more than 3 pictures, so nobody is enrolled and nothing can be misnamed */
	snprintf(cmd, sizeof(cmd), "build/mien eval negatives %s/people", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "people_enrolled")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "after"), "all_misnamed")), 0);
	json_decref(o);
	assert_int_equal(run("build/mien eval cluster /nonexistent 2>&1", out, sizeof(out)), 1);
	assert_int_equal(run("build/mien eval cluster . --split half 2>&1", out, sizeof(out)), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enroll_identify_sqlite),     cmocka_unit_test(test_enroll_identify_postgresql),
		cmocka_unit_test(test_analyze_json_and_bad_input), cmocka_unit_test(test_cluster_json),
		cmocka_unit_test(test_cluster_text_two_people),    cmocka_unit_test(test_cluster_usage),
		cmocka_unit_test(test_eval_cluster_and_negatives),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
