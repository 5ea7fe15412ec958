/*
 * test_face.c — the per-picture pipeline on face-api's demo photos (models/samples, shipped in its npm
 * package) and the gallery. Face counts are covered by test_detect.c against labelled counts; here: every
 * output is well formed, a face keeps its identity under resizing and cropping, and the gallery round-trips.
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
#include <unistd.h>

#include "face/face.h"
#include "face/gallery.h"

typedef struct fixture {
	face_analyzer *analyzer;
	face_result faces[64];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	mien_error err = { 0 };
	face_options o;
	face_options_default(&o);
	if (!f || face_analyzer_create(&o, "models", NULL, &f->analyzer, &err)) {
		fprintf(stderr, "analyzer: %s (run `make models`)\n", err.message);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	face_analyzer_free(&f->analyzer);
	free(f);
	return 0;
}

static face_image *load(const char *path)
{
	face_image *img = NULL;
	mien_error err = { 0 };
	if (face_image_load(path, 0, &img, &err))
		fail_msg("%s: %s", path, err.message);
	return img;
}

static void test_outputs_well_formed(void **state)
{
	fixture *f = *state;
	mien_error err = { 0 };
	for (int k = 1; k <= 6; k++) {
		char path[64];
		snprintf(path, sizeof(path), "models/samples/sample%d.jpg", k);
		face_image *img = load(path);
		size_t n = 0;
		assert_int_equal(face_analyze(f->analyzer, img, f->faces, 64, &n, &err), MIEN_OK);
		assert_true(n >= 1);
		for (size_t i = 0; i < n && i < 64; i++) {
			const face_result *r = &f->faces[i];
			double sum = 0, norm = 0;
			for (int e = 0; e < FACE_EXPRESSIONS; e++) {
				assert_true(r->expression[e] >= 0 && r->expression[e] <= 1);
				sum += r->expression[e];
			}
			assert_true(r->has_expression);
			assert_true(fabs(sum - 1) < 1e-4);
			assert_true(r->quality >= 0 && r->quality <= 1);
			/* the eyes lie in the upper half of the box, the mouth corners below them */
			for (int p = 0; p < 5; p++) {
				assert_true(r->landmarks[p][0] >= r->box[0] - r->box[2] * 0.25f);
				assert_true(r->landmarks[p][0] <= r->box[0] + r->box[2] * 1.25f);
			}
			assert_true(r->landmarks[0][1] < r->landmarks[3][1]);
			assert_true(r->landmarks[1][1] < r->landmarks[4][1]);
			if (r->recognisable) {
				assert_non_null(r->embedding_model);
				for (int e = 0; e < r->embedding_dim; e++)
					norm += (double)r->embedding[e] * r->embedding[e];
				assert_true(fabs(norm - 1) < 1e-3);
			}
		}
		face_image_free(&img);
	}
}

static int largest(const face_result *faces, size_t n)
{
	int best = 0;
	for (size_t i = 1; i < n; i++)
		if (faces[i].box[2] * faces[i].box[3] > faces[best].box[2] * faces[best].box[3])
			best = (int)i;
	return best;
}

/* The largest face of sample1, then the same face cut out with a margin and shrunk by 0.7: the same person. */
static void test_identity_survives_crop_and_scale(void **state)
{
	fixture *f = *state;
	mien_error err = { 0 };
	face_image *img = load("models/samples/sample1.jpg");
	size_t n = 0;
	assert_int_equal(face_analyze(f->analyzer, img, f->faces, 64, &n, &err), MIEN_OK);
	assert_true(n >= 2);
	int big = largest(f->faces, n);
	face_result whole = f->faces[big];
	face_image *crop = NULL;
	float m = whole.box[2];
	assert_int_equal(face_image_crop(img, whole.box[0] - m, whole.box[1] - m, whole.box[2] + 2 * m,
	                                 whole.box[3] + 2 * m, (int)((whole.box[2] + 2 * m) * 0.7f),
	                                 (int)((whole.box[3] + 2 * m) * 0.7f), &crop, &err),
	                 MIEN_OK);
	size_t k = 0;
	assert_int_equal(face_analyze(f->analyzer, crop, f->faces, 64, &k, &err), MIEN_OK);
	assert_true(k >= 1);
	face_result cropped = f->faces[largest(f->faces, k)];
	float same;
	assert_int_equal(face_similarity(&whole, &cropped, &same, &err), MIEN_OK);
	float t = face_default_threshold(whole.embedding_model);
	printf("same face, cropped and scaled: similarity %.3f (threshold %.3f)\n", same, t);
	assert_true(same > t);
	/* embeddings of different models are never compared */
	cropped.embedding_model = "mobilefacenet";
	assert_int_equal(face_similarity(&whole, &cropped, &same, &err), MIEN_EINVAL);
	face_image_free(&crop);
	face_image_free(&img);
}

static void test_small_faces_not_recognised(void **state)
{
	(void)state;
	mien_error err = { 0 };
	face_options o;
	face_options_default(&o);
	o.min_face = 100000;
	o.expressions = 0;
	face_analyzer *a = NULL;
	assert_int_equal(face_analyzer_create(&o, "models", NULL, &a, &err), MIEN_OK);
	face_image *img = load("models/samples/sample2.jpg");
	face_result faces[16];
	size_t n = 0;
	assert_int_equal(face_analyze(a, img, faces, 16, &n, &err), MIEN_OK);
	assert_true(n >= 1);
	for (size_t i = 0; i < n && i < 16; i++) {
		assert_false(faces[i].recognisable);
		assert_null(faces[i].embedding_model);
		assert_false(faces[i].has_expression);
	}
	face_image_free(&img);
	face_analyzer_free(&a);
	/* unknown model names are errors that say what is allowed */
	o.embedder = "nosuchmodel";
	assert_int_equal(face_analyzer_create(&o, "models", NULL, &a, &err), MIEN_EINVAL);
	assert_non_null(strstr(err.message, "faceres"));
}

static void test_gallery_round_trip(void **state)
{
	(void)state;
	mien_error err = { 0 };
	face_gallery *g = NULL;
	assert_int_equal(face_gallery_create("faceres", 4, &g, &err), MIEN_OK);
	const float ada1[4] = { 1, 0, 0, 0 }, ada2[4] = { 0.9f, 0.1f, 0, 0 }, bob[4] = { 0, 0, 1, 0 },
	            query[4] = { 0.8f, 0.3f, 0.1f, 0 };
	int id_ada, id_ada2, id_bob;
	assert_int_equal(face_gallery_add(g, "Ada", ada1, 4, "faceres", &id_ada, &err), MIEN_OK);
	assert_int_equal(face_gallery_add(g, "Ada", ada2, 4, "faceres", &id_ada2, &err), MIEN_OK);
	assert_int_equal(face_gallery_add(g, "Bob <script>", bob, 4, "faceres", &id_bob, &err), MIEN_OK);
	assert_int_equal(id_ada, id_ada2);
	assert_int_not_equal(id_ada, id_bob);
	assert_int_equal(face_gallery_people(g), 2);
	assert_int_equal(face_gallery_faces(g), 3);
	/* wrong model or size */
	assert_int_equal(face_gallery_add(g, "Eve", ada1, 4, "face_recognition", &id_bob, &err), MIEN_EINVAL);
	assert_int_equal(face_gallery_add(g, "", ada1, 4, "faceres", &id_bob, &err), MIEN_EINVAL);
	face_match m[4];
	size_t n = 0;
	assert_int_equal(face_gallery_search(g, query, 4, "faceres", m, 4, &n, &err), MIEN_OK);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].name, "Ada");
	assert_true(m[0].similarity > m[1].similarity);
	/* the best of Ada's two faces: ada2 normalised · query normalised */
	double qn = sqrt(0.64 + 0.09 + 0.01), an = sqrt(0.81 + 0.01);
	assert_true(fabs(m[0].similarity - (0.9 * 0.8 + 0.1 * 0.3) / (qn * an)) < 1e-4);
	assert_true(fabs(m[1].similarity - 0.1 / qn) < 1e-4);
	char path[] = "/tmp/mien-gallery-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(face_gallery_save(g, path, &err), MIEN_OK);
	face_gallery *h = NULL;
	assert_int_equal(face_gallery_load(path, &h, &err), MIEN_OK);
	assert_int_equal(face_gallery_people(h), 2);
	assert_int_equal(face_gallery_faces(h), 3);
	face_match m2[4];
	size_t n2 = 0;
	assert_int_equal(face_gallery_search(h, query, 4, "faceres", m2, 4, &n2, &err), MIEN_OK);
	assert_int_equal(n2, 2);
	assert_int_equal(m2[0].person_id, m[0].person_id);
	assert_true(fabs(m2[0].similarity - m[0].similarity) < 1e-5);
	assert_string_equal(m2[1].name, "Bob <script>");
	/* a damaged file is an error, not a crash */
	FILE *fp = fopen(path, "w");
	fputs("{\"model\":\"faceres\",\"dim\":4,\"people\":[{\"id\":1,\"name\":\"x\",\"faces\":[[1,2]]}]}", fp);
	fclose(fp);
	face_gallery *bad = NULL;
	assert_int_equal(face_gallery_load(path, &bad, &err), MIEN_EFORMAT);
	assert_null(bad);
	unlink(path);
	assert_int_equal(face_gallery_load(path, &bad, &err), MIEN_ENOENT);
	face_gallery_free(&h);
	face_gallery_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outputs_well_formed),
		cmocka_unit_test(test_identity_survives_crop_and_scale),
		cmocka_unit_test(test_small_faces_not_recognised),
		cmocka_unit_test(test_gallery_round_trip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
