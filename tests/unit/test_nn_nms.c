/*
 * test_nn_nms.c — nn_nms on hand-made boxes, and on ssd_mobilenetv1's real outputs against the detections
 * face-api's own NMS kept (build/ref/ssd_mobilenetv1/<case>/detections.json, written by
 * tests/ref/make_faceapi_refs.mjs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/result.h"
#include "nn/nn.h"

static void test_overlap_suppressed(void **state)
{
	(void)state;
	/* two boxes overlapping by IoU 0.81 and a separate one */
	const float boxes[] = { 0, 0, 10, 10, 0, 0, 9, 9, 20, 20, 30, 30 };
	const float scores[] = { 0.9f, 0.95f, 0.6f };
	int keep[3], scratch[3];
	size_t n = nn_nms(boxes, scores, 3, 0.5f, 0.5f, 10, keep, scratch);
	assert_int_equal(n, 2);
	assert_int_equal(keep[0], 1); /* best first */
	assert_int_equal(keep[1], 2);
	/* a looser IoU threshold keeps all three */
	n = nn_nms(boxes, scores, 3, 0.9f, 0.5f, 10, keep, scratch);
	assert_int_equal(n, 3);
	assert_int_equal(keep[0], 1);
	assert_int_equal(keep[1], 0);
	assert_int_equal(keep[2], 2);
}

static void test_threshold_and_cap(void **state)
{
	(void)state;
	const float boxes[] = { 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7 };
	const float scores[] = { 0.4f, 0.8f, 0.7f, 0.9f };
	int keep[4], scratch[4];
	size_t n = nn_nms(boxes, scores, 4, 0.5f, 0.5f, 2, keep, scratch);
	assert_int_equal(n, 2);
	assert_int_equal(keep[0], 3);
	assert_int_equal(keep[1], 1);
	n = nn_nms(boxes, scores, 4, 0.5f, 0.95f, 4, keep, scratch);
	assert_int_equal(n, 0);
	/* degenerate boxes never suppress anything */
	const float flat[] = { 0, 0, 0, 5, 0, 0, 0, 5 };
	const float s2[] = { 0.9f, 0.8f };
	n = nn_nms(flat, s2, 2, 0.1f, 0.0f, 2, keep, scratch);
	assert_int_equal(n, 2);
}

static void check_case(const char *ref_dir, const char *models_dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/ssd_mobilenetv1/%s/detections.json", ref_dir, name);
	json_error_t jerr;
	json_t *det = json_load_file(path, 0, &jerr);
	if (!det)
		fail_msg("%s missing: run the reference scripts (make refs)", path);
	mien_error err = { 0 };
	nn_model *model = NULL;
	nn_runtime *rt = NULL;
	assert_int_equal(nn_model_load("ssd_mobilenetv1", models_dir, &model, &err), MIEN_OK);
	assert_int_equal(nn_runtime_create(model, NULL, NULL, &rt, &err), MIEN_OK);
	snprintf(path, sizeof(path), "%s/ssd_mobilenetv1/%s/input.npy", ref_dir, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	nn_shape shape;
	float *in = nn_runtime_input(rt, 0, &shape);
	int64_t count = nn_shape_count(&shape);
	assert_true(size >= count * 4);
	fseek(f, size - count * 4, SEEK_SET); /* the data ends the .npy file */
	assert_int_equal(fread(in, 4, (size_t)count, f), (size_t)count);
	fclose(f);
	assert_int_equal(nn_runtime_run(rt, &err), MIEN_OK);
	nn_shape bs, ss;
	const float *boxes = nn_runtime_output(rt, (size_t)nn_model_output_index(model, "boxes"), &bs);
	const float *scores = nn_runtime_output(rt, (size_t)nn_model_output_index(model, "scores"), &ss);
	size_t n = (size_t)ss.dims[1];
	int *keep = calloc(n, sizeof(int)), *scratch = calloc(n, sizeof(int));
	assert_non_null(keep);
	assert_non_null(scratch);
	size_t kept = nn_nms(boxes, scores, n, (float)json_number_value(json_object_get(det, "iou_threshold")),
	                     (float)json_number_value(json_object_get(det, "min_confidence")),
	                     (size_t)json_integer_value(json_object_get(det, "max_results")), keep, scratch);
	json_t *expected = json_object_get(det, "detections");
	printf("ssd_mobilenetv1/%s: face-api kept %zu, mien kept %zu\n", name, json_array_size(expected), kept);
	assert_int_equal(kept, json_array_size(expected));
	for (size_t i = 0; i < kept; i++) {
		int want = (int)json_integer_value(json_object_get(json_array_get(expected, i), "index"));
		printf("  #%zu face-api row %d, mien row %d, score %.4f\n", i, want, keep[i], scores[keep[i]]);
		assert_int_equal(keep[i], want);
	}
	free(keep);
	free(scratch);
	json_decref(det);
	nn_runtime_free(&rt);
	nn_model_free(&model);
}

static void test_ssd_against_faceapi(void **state)
{
	(void)state;
	const char *ref = getenv("MIEN_REF_DIR") ? getenv("MIEN_REF_DIR") : "build/ref";
	const char *models = getenv("MIEN_MODELS") ? getenv("MIEN_MODELS") : "models";
	check_case(ref, models, "photo");
	check_case(ref, models, "random");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap_suppressed),
		cmocka_unit_test(test_threshold_and_cap),
		cmocka_unit_test(test_ssd_against_faceapi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
