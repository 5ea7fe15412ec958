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

/* The embedder of one face of sample1 under `name`; its width and model name. */
static face_result embed_with(const char *name, const face_image *img)
{
	mien_error err = { 0 };
	face_options o;
	face_options_default(&o);
	o.expressions = 0;
	o.embedder = name;
	face_analyzer *a = NULL;
	if (face_analyzer_create(&o, "models", NULL, &a, &err))
		fail_msg("%s: %s", name, err.message);
	face_result faces[16];
	size_t n = 0;
	assert_int_equal(face_analyze(a, img, faces, 16, &n, &err), MIEN_OK);
	assert_true(n >= 1);
	face_result f = faces[largest(faces, n)];
	assert_int_equal(f.embedding_dim, face_analyzer_embedding_dim(a));
	face_analyzer_free(&a);
	return f;
}

static float dot(const face_result *a, const face_result *b, int from, int n)
{
	double s = 0;
	for (int i = from; i < from + n; i++)
		s += (double)a->embedding[i] * b->embedding[i];
	return (float)s;
}

/* Every embedder loads and gives a unit embedding of its width; a fusion is its parts side by side, each scaled by
 * the square root of its weight, so that its cosine is the weighted mean of theirs; bad names say what is allowed. */
static void test_embedders_and_fusion(void **state)
{
	(void)state;
	face_image *img = load("models/samples/sample1.jpg");
	face_image *other = load("models/samples/sample2.jpg");
	static const struct {
		const char *name;
		int dim;
	} each[] = { { "face_recognition", 128 }, { "face_recognition-v2", 128 }, { "faceres", 1024 },
		     { "faceres-deep", 1024 },    { "mobileface", 256 },          { "mobilefacenet", 192 } };
	for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++) {
		face_result f = embed_with(each[i].name, img);
		assert_int_equal(f.embedding_dim, each[i].dim);
		assert_string_equal(f.embedding_model, each[i].name);
		assert_true(fabsf(dot(&f, &f, 0, f.embedding_dim) - 1) < 1e-4f);
	}
	/* v2 is the same network on a levelled chip and its mirror: close to face_recognition's, not equal */
	face_result v1 = embed_with("face_recognition", img), v2 = embed_with("face_recognition-v2", img);
	float close = dot(&v1, &v2, 0, 128);
	printf("face_recognition against face_recognition-v2 on one face: %.3f\n", close);
	assert_true(close > 0.9f && close < 0.9999f);
	/* a weighted fusion's cosine is the weighted mean of the parts' cosines */
	face_result fa = embed_with("face_recognition*3+mobileface", img);
	face_result fb = embed_with("face_recognition*3+mobileface", other);
	face_result ra = embed_with("face_recognition", img), rb = embed_with("face_recognition", other);
	face_result ma = embed_with("mobileface", img), mb = embed_with("mobileface", other);
	assert_int_equal(fa.embedding_dim, 128 + 256);
	assert_string_equal(fa.embedding_model, "face_recognition*3+mobileface");
	float fused = dot(&fa, &fb, 0, fa.embedding_dim);
	float expect = (3 * dot(&ra, &rb, 0, 128) + dot(&ma, &mb, 0, 256)) / 4;
	assert_true(fabsf(fused - expect) < 1e-4f);
	/* thresholds: calibrated ones as listed; an uncalibrated fusion gets the weighted mean of its parts' */
	assert_true(fabsf(face_default_threshold("face_recognition") - 0.930f) < 1e-6f);
	assert_true(fabsf(face_default_threshold("face_recognition*3+mobileface") -
	                  (3 * face_default_threshold("face_recognition") + face_default_threshold("mobileface")) / 4) <
	            1e-5f);
	assert_true(face_default_threshold("nosuch") > 0.9999f);
	/* bad names: unknown, repeated, too many, a bad weight, too wide (1024 + 1024 > FACE_EMBEDDING_MAX) */
	static const char *const bad[] = { "face_recognition+nosuch",
		                           "faceres+faceres",
		                           "faceres+mobileface+mobilefacenet+face_recognition",
		                           "faceres*0+mobileface",
		                           "faceres*x+mobileface",
		                           "faceres+faceres-deep",
		                           "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mien_error err = { 0 };
		face_options o;
		face_options_default(&o);
		o.embedder = bad[i];
		face_analyzer *a = NULL;
		int rc = face_analyzer_create(&o, "models", NULL, &a, &err);
		if (bad[i][0]) { /* "" means "the default" */
			assert_int_equal(rc, MIEN_EINVAL);
			assert_non_null(strstr(err.message, bad[i]));
		}
		face_analyzer_free(&a);
	}
	face_image_free(&other);
	face_image_free(&img);
}

/* face_analyze_locate + face_analyze_describe, as the watch calls them: blazeface's keypoints give the quality, so
 * the landmark model runs only for faces that get an embedding (or ask for landmarks), and what the two halves
 * give is what face_analyze gives. */
static void test_locate_then_describe(void **state)
{
	fixture *f = *state;
	mien_error err = { 0 };
	face_result located[64];
	int compared = 0;
	for (int k = 1; k <= 6; k++) {
		char path[64];
		snprintf(path, sizeof(path), "models/samples/sample%d.jpg", k);
		face_image *img = load(path);
		size_t n = 0, m = 0;
		assert_int_equal(face_analyze(f->analyzer, img, f->faces, 64, &n, &err), MIEN_OK);
		assert_int_equal(face_analyze_locate(f->analyzer, img, NULL, 0, -1, 0, located, 64, &m, &err), MIEN_OK);
		assert_int_equal(m, n);
		for (size_t i = 0; i < n && i < 64; i++) {
			face_result *l = &located[i];
			const face_result *whole = &f->faces[i];
			assert_true(whole->has_landmarks);
			assert_false(l->has_landmarks);
			assert_null(l->embedding_model);
			assert_false(l->has_expression);
			/* the same face, with the same quality (the landmarks play no part in it) */
			assert_memory_equal(l->box, whole->box, sizeof(l->box));
			assert_true(l->quality == whole->quality);
			assert_int_equal(l->recognisable, whole->recognisable);
			/* expressions need no landmarks */
			assert_int_equal(face_analyze_describe(f->analyzer, img, l, FACE_WANT_EXPRESSION, &err),
			                 MIEN_OK);
			assert_false(l->has_landmarks);
			assert_true(l->has_expression);
			assert_int_equal(face_analyze_describe(f->analyzer, img, l, FACE_WANT_EMBEDDING, &err),
			                 MIEN_OK);
			assert_int_equal(l->has_landmarks, l->recognisable);
			if (!l->recognisable)
				continue;
			assert_memory_equal(l->landmarks, whole->landmarks, sizeof(l->landmarks));
			float sim = 0;
			assert_int_equal(face_similarity(l, whole, &sim, &err), MIEN_OK);
			assert_true(sim > 0.9999f);
			compared++;
		}
		face_image_free(&img);
	}
	assert_true(compared >= 6);
	/* quality from the detector's keypoints ranks faces as the landmarks do: a face and the same face blurred */
	face_image *img = load("models/samples/sample1.jpg"), *blurred = NULL;
	size_t n = 0;
	assert_int_equal(face_analyze_locate(f->analyzer, img, NULL, 0, -1, 0, located, 64, &n, &err), MIEN_OK);
	assert_true(n >= 1);
	float sharp = located[0].sharpness, frontal = located[0].frontal;
	assert_true(frontal > 0.5f); /* the demo faces look at the camera */
	/* a quarter-size copy scaled back up: the same faces, softer */
	face_image *small = NULL;
	assert_int_equal(face_image_crop(img, 0, 0, (float)img->width, (float)img->height, img->width / 4,
	                                 img->height / 4, &small, &err),
	                 MIEN_OK);
	assert_int_equal(face_image_crop(small, 0, 0, (float)small->width, (float)small->height, img->width,
	                                 img->height, &blurred, &err),
	                 MIEN_OK);
	assert_int_equal(face_analyze_locate(f->analyzer, blurred, NULL, 0, -1, 0, located, 64, &n, &err), MIEN_OK);
	assert_true(n >= 1);
	assert_true(located[0].sharpness < sharp);
	face_image_free(&small);
	face_image_free(&blurred);
	face_image_free(&img);
}

static void test_enroll_verdict_and_thumbnail(void **state)
{
	(void)state;
	mien_error err = { 0 };
	face_result faces[2];
	memset(faces, 0, sizeof(faces));
	assert_int_equal(face_enroll_verdict(faces, 0), FACE_ENROLL_NO_FACE);
	assert_int_equal(face_enroll_verdict(faces, 2), FACE_ENROLL_SEVERAL);
	assert_int_equal(face_enroll_verdict(faces, 1), FACE_ENROLL_TOO_SMALL); /* no embedding */
	faces[0].recognisable = 1;
	faces[0].embedding_model = "faceres";
	assert_int_equal(face_enroll_verdict(faces, 1), FACE_ENROLL_OK);
	assert_string_equal(face_enroll_verdict_name(FACE_ENROLL_SEVERAL), "several_faces");
	/* A thumbnail is a square JPEG of the asked size, also for a face at the picture's edge. */
	face_image *img = NULL, *back = NULL;
	assert_int_equal(face_image_load("models/samples/sample1.jpg", 0, &img, &err), MIEN_OK);
	faces[0].box[0] = 2, faces[0].box[1] = 3, faces[0].box[2] = 60, faces[0].box[3] = 80;
	uint8_t *jpeg = NULL;
	size_t len = 0;
	assert_int_equal(face_thumbnail(img, &faces[0], 160, &jpeg, &len, &err), MIEN_OK);
	assert_int_equal(face_image_decode(jpeg, len, 0, &back, &err), MIEN_OK);
	assert_int_equal(back->width, 160);
	assert_int_equal(back->height, 160);
	free(jpeg);
	assert_int_equal(face_thumbnail(img, &faces[0], 8, &jpeg, &len, &err), MIEN_ERANGE);
	assert_null(jpeg);
	face_image_free(&back);
	face_image_free(&img);
}

/* The live view's labels: names for every viewer, the dominant expression only for those who may see it. */
/* MIEN_EXPRESSION's values: each model and '+' combinations give probabilities summing to 1, mien's own network
 * contributes to a combination, and an unknown name is refused when the analyzer is made. */
static void test_expression_models(void **state)
{
	(void)state;
	static const char *const specs[] = { "mien", "mien+average", "average", "emotion+mien" };
	float first[4][FACE_EXPRESSIONS];
	face_image *img = load("models/samples/sample1.jpg");
	for (int k = 0; k < 4; k++) {
		face_options o;
		face_options_default(&o);
		o.embeddings = 0;
		o.expression = specs[k];
		face_analyzer *a = NULL;
		mien_error err = { 0 };
		if (face_analyzer_create(&o, "models", NULL, &a, &err))
			fail_msg("%s: %s", specs[k], err.message);
		face_result faces[16];
		size_t n = 0;
		assert_int_equal(face_analyze(a, img, faces, 16, &n, &err), MIEN_OK);
		assert_true(n >= 1);
		double sum = 0;
		for (int e = 0; e < FACE_EXPRESSIONS; e++)
			sum += faces[0].expression[e];
		assert_true(faces[0].has_expression);
		if (fabs(sum - 1.0) > 1e-4)
			fail_msg("%s: expressions sum to %f", specs[k], sum);
		memcpy(first[k], faces[0].expression, sizeof(first[k]));
		face_analyzer_free(&a);
	}
	double d_alone = 0, d_mix = 0;
	for (int e = 0; e < FACE_EXPRESSIONS; e++) {
		d_alone += fabs(first[0][e] - first[2][e]);
		d_mix += fabs(first[1][e] - first[2][e]);
	}
	if (d_alone < 1e-3 || d_mix < 1e-3)
		fail_msg("mien's network changes nothing: |mien - average| %f, |mien+average - average| %f", d_alone,
		         d_mix);
	face_image_free(&img);
	static const char *const bad[] = { "bogus", "mien+", "mien+bogus", "+average" };
	for (int k = 0; k < 4; k++) {
		face_options o;
		face_options_default(&o);
		o.expression = bad[k];
		face_analyzer *a = NULL;
		mien_error err = { 0 };
		int rc = face_analyzer_create(&o, "models", NULL, &a, &err);
		if (rc != MIEN_EINVAL || a != NULL || !strstr(err.message, "unknown expression model"))
			fail_msg("%s: rc %d, message '%s'", bad[k], rc, err.message);
	}
}

static void test_live_label(void **state)
{
	(void)state;
	face_result f;
	memset(&f, 0, sizeof(f));
	char out[64];
	face_live_label(out, sizeof(out), "Ada", &f, 1);
	assert_string_equal(out, "Ada"); /* no expressions read */
	f.has_expression = 1;
	f.expression[FACE_NEUTRAL] = 0.2f;
	f.expression[FACE_SURPRISED] = 0.7f;
	f.expression[FACE_HAPPY] = 0.1f;
	face_live_label(out, sizeof(out), "Ada", &f, 1);
	assert_string_equal(out, "Ada surprised");
	face_live_label(out, sizeof(out), "Ada", &f, 0);
	assert_string_equal(out, "Ada");
	face_live_label(out, sizeof(out), NULL, &f, 1);
	assert_string_equal(out, "unknown surprised");
	face_live_label(out, sizeof(out), "", &f, 0);
	assert_string_equal(out, "unknown");
	face_live_label(out, 6, "Ada", &f, 1);
	assert_string_equal(out, "Ada s");
	face_live_label(out, 3, "Ada", &f, 1);
	assert_string_equal(out, "Ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outputs_well_formed),  cmocka_unit_test(test_identity_survives_crop_and_scale),
		cmocka_unit_test(test_locate_then_describe), cmocka_unit_test(test_small_faces_not_recognised),
		cmocka_unit_test(test_embedders_and_fusion), cmocka_unit_test(test_enroll_verdict_and_thumbnail),
		cmocka_unit_test(test_live_label),           cmocka_unit_test(test_expression_models),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
