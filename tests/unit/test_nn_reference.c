/*
 * test_nn_reference.c — mien's model outputs against TensorFlow.js, and the engine's error paths.
 *
 * Reference cases come from tests/ref/make_refs.mjs and make_faceapi_refs.mjs (TF.js on tfjs-backend-cpu,
 * never mien's code): $MIEN_REF_DIR/<model>/<case>/manifest.json (default build/ref) with .npy inputs and
 * outputs. Each model is one cmocka test running all its cases: the model is loaded by short name from
 * $MIEN_MODELS (default models), a runtime is created at each input .npy's shape, inputs are fed and
 * outputs matched by name, and every output must satisfy
 *     max |mien - ref| <= 1e-3 * max |ref| + 1e-4
 * with equal shapes. One line per case and output reports the max difference, tolerance and cosine.
 *
 * The error-path tests build broken models from a real one (emotion) in a temporary directory; the
 * concurrency test runs one shared model on two threads, each with its own runtime.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/result.h"
#include "nn/nn.h"
#include "nn/npy.h"

#define MAX_MODELS 64
#define MAX_CASES  32
#define MAX_IO     16
#define REL_TOL    1e-3
#define ABS_TOL    1e-4

typedef struct ref_model {
	char name[128];
	char test_name[192];
	size_t n_cases;
	char case_dirs[MAX_CASES][1024];
} ref_model;

static const char *g_models_dir = "models";
static const char *g_ref_dir = "build/ref";
static ref_model g_ref_models[MAX_MODELS];
static size_t g_ref_model_count;
static size_t g_manifest_count;

/* --- discovery -------------------------------------------------------------------------------------- */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of the subdirectories of `dir` (caller frees each and the array); -1 if unreadable. */
static int list_subdirs(const char *dir, char ***names_out, size_t *count_out)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				break;
			names = grown;
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), compare_names);
	*names_out = names;
	*count_out = n;
	return 0;
}

static void discover_cases(void)
{
	char **models = NULL;
	size_t n_models = 0;
	if (list_subdirs(g_ref_dir, &models, &n_models) != 0)
		return;
	for (size_t m = 0; m < n_models; m++) {
		char model_dir[512];
		char **cases = NULL;
		size_t n_cases = 0;
		snprintf(model_dir, sizeof(model_dir), "%.250s/%.250s", g_ref_dir, models[m]);
		if (list_subdirs(model_dir, &cases, &n_cases) == 0) {
			ref_model *rm = NULL;
			for (size_t c = 0; c < n_cases; c++) {
				char manifest[PATH_MAX];
				snprintf(manifest, sizeof(manifest), "%s/%.250s/manifest.json", model_dir, cases[c]);
				if (access(manifest, R_OK) == 0 && g_ref_model_count < MAX_MODELS) {
					if (!rm) {
						rm = &g_ref_models[g_ref_model_count++];
						snprintf(rm->name, sizeof(rm->name), "%s", models[m]);
						snprintf(rm->test_name, sizeof(rm->test_name), "reference_%s",
						         models[m]);
					}
					if (rm->n_cases < MAX_CASES)
						snprintf(rm->case_dirs[rm->n_cases++], sizeof(rm->case_dirs[0]),
						         "%s/%.250s", model_dir, cases[c]);
					g_manifest_count++;
				}
				free(cases[c]);
			}
			free(cases);
		}
		free(models[m]);
	}
	free(models);
}

/* --- one reference case ----------------------------------------------------------------------------- */

static nn_shape concrete(nn_shape s)
{
	for (int d = 0; d < s.rank; d++)
		if (s.dims[d] < 0)
			s.dims[d] = 1;
	return s;
}

static int shapes_equal(const nn_shape *a, const nn_shape *b)
{
	if (a->rank != b->rank)
		return 0;
	for (int d = 0; d < a->rank; d++)
		if (a->dims[d] != b->dims[d])
			return 0;
	return 1;
}

static void list_names(const nn_model *model, int outputs, char *buf, size_t size)
{
	size_t n = outputs ? nn_model_output_count(model) : nn_model_input_count(model);
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
		                         outputs ? nn_model_output_name(model, i) : nn_model_input_name(model, i));
}

/* Runs one case; returns the number of failed checks (messages printed). */
static int run_case(const nn_model *model, nn_pool *pool, const char *case_dir)
{
	char path[PATH_MAX + 64], names[1024], a[128], b[128];
	json_t *manifest = NULL;
	json_error_t jerr;
	nn_runtime *runtime = NULL;
	float *inputs[MAX_IO] = { NULL };
	nn_shape shapes[MAX_IO];
	int index[MAX_IO];
	mien_error err;
	int failures = 0;
	size_t n_in = 0;

	snprintf(path, sizeof(path), "%s/manifest.json", case_dir);
	manifest = json_load_file(path, 0, &jerr);
	if (!manifest) {
		printf("  FAIL %s: %s (line %d)\n", path, jerr.text, jerr.line);
		return 1;
	}
	const char *model_name = json_string_value(json_object_get(manifest, "model"));
	const char *case_name = json_string_value(json_object_get(manifest, "case"));
	json_t *in_list = json_object_get(manifest, "inputs");
	json_t *out_list = json_object_get(manifest, "outputs");
	if (!model_name || !case_name || !json_is_array(in_list) || !json_is_array(out_list) ||
	    json_array_size(in_list) > MAX_IO || nn_model_input_count(model) > MAX_IO) {
		printf("  FAIL %s: manifest lacks model, case, inputs or outputs\n", path);
		failures++;
		goto done;
	}

	for (size_t i = 0; i < nn_model_input_count(model); i++)
		shapes[i] = concrete(nn_model_input_shape(model, i));
	n_in = json_array_size(in_list);
	for (size_t k = 0; k < n_in; k++) {
		json_t *item = json_array_get(in_list, k);
		const char *name = json_string_value(json_object_get(item, "name"));
		const char *file = json_string_value(json_object_get(item, "file"));
		nn_shape shape;
		index[k] = name ? nn_model_input_index(model, name) : -1;
		if (index[k] < 0 || !file) {
			list_names(model, 0, names, sizeof(names));
			printf("  FAIL %s/%s: mien's model has no input named '%s' (it has: %s)\n", model_name,
			       case_name, name ? name : "?", names);
			failures++;
			goto done;
		}
		snprintf(path, sizeof(path), "%s/%s", case_dir, file);
		if (nn_npy_read(path, &inputs[k], &shape, &err)) {
			printf("  FAIL %s/%s: %s\n", model_name, case_name, err.message);
			failures++;
			goto done;
		}
		shapes[index[k]] = shape;
	}
	if (nn_runtime_create(model, shapes, pool, &runtime, &err)) {
		printf("  FAIL %s/%s: runtime at %s: %s\n", model_name, case_name,
		       nn_shape_str(&shapes[0], a, sizeof(a)), err.message);
		failures++;
		goto done;
	}
	for (size_t k = 0; k < n_in; k++) {
		nn_shape have;
		float *dst = nn_runtime_input(runtime, (size_t)index[k], &have);
		if (!dst || !shapes_equal(&have, &shapes[index[k]])) {
			printf("  FAIL %s/%s: runtime input %s is %s, the reference %s\n", model_name, case_name,
			       nn_model_input_name(model, (size_t)index[k]), nn_shape_str(&have, a, sizeof(a)),
			       nn_shape_str(&shapes[index[k]], b, sizeof(b)));
			failures++;
			goto done;
		}
		memcpy(dst, inputs[k], (size_t)nn_npy_count(&have) * sizeof(float));
	}
	if (nn_runtime_run(runtime, &err)) {
		printf("  FAIL %s/%s: run: %s\n", model_name, case_name, err.message);
		failures++;
		goto done;
	}

	for (size_t k = 0; k < json_array_size(out_list); k++) {
		json_t *item = json_array_get(out_list, k);
		const char *name = json_string_value(json_object_get(item, "name"));
		const char *file = json_string_value(json_object_get(item, "file"));
		int idx = name ? nn_model_output_index(model, name) : -1;
		float *ref = NULL;
		nn_shape ref_shape, got_shape;
		if (idx < 0 || !file) {
			list_names(model, 1, names, sizeof(names));
			printf("  FAIL %s/%s: mien's model has no output named '%s' (it has: %s)\n", model_name,
			       case_name, name ? name : "?", names);
			failures++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", case_dir, file);
		if (nn_npy_read(path, &ref, &ref_shape, &err)) {
			printf("  FAIL %s/%s: %s\n", model_name, case_name, err.message);
			failures++;
			continue;
		}
		const float *got = nn_runtime_output(runtime, (size_t)idx, &got_shape);
		if (!got || !shapes_equal(&got_shape, &ref_shape)) {
			printf("  FAIL %-24s %-12s %-32s shape %s, reference %s\n", model_name, case_name, name,
			       nn_shape_str(&got_shape, a, sizeof(a)), nn_shape_str(&ref_shape, b, sizeof(b)));
			failures++;
			free(ref);
			continue;
		}
		int64_t n = nn_npy_count(&ref_shape);
		double max_diff = 0, max_ref = 0, dot = 0, n_got = 0, n_ref = 0;
		int64_t worst = 0;
		for (int64_t i = 0; i < n; i++) {
			double g = got[i], r = ref[i];
			double diff = fabs(g - r);
			if (!(diff <= max_diff)) { /* also catches NaN */
				max_diff = isnan(diff) ? INFINITY : diff;
				worst = i;
			}
			if (fabs(r) > max_ref)
				max_ref = fabs(r);
			dot += g * r;
			n_got += g * g;
			n_ref += r * r;
		}
		double tol = REL_TOL * max_ref + ABS_TOL;
		double cosine = (n_got > 0 && n_ref > 0) ? dot / sqrt(n_got * n_ref) : (n_got == n_ref ? 1.0 : 0.0);
		int ok = max_diff <= tol;
		printf("  %s %-24s %-12s %-32s max_abs_diff %-10.3g tol %-10.3g cosine %.7f", ok ? "ok  " : "FAIL",
		       model_name, case_name, name, max_diff, tol, cosine);
		if (!ok && n > 0)
			printf("  (worst at %lld: mien %.6g, ref %.6g)", (long long)worst, (double)got[worst],
			       (double)ref[worst]);
		printf("\n");
		failures += !ok;
		free(ref);
	}
done:
	for (size_t k = 0; k < n_in && k < MAX_IO; k++)
		free(inputs[k]);
	nn_runtime_free(&runtime);
	json_decref(manifest);
	return failures;
}

static void test_reference_model(void **state)
{
	const ref_model *rm = *state;
	nn_model *model = NULL;
	nn_pool *pool = NULL;
	mien_error err;
	if (nn_model_load(rm->name, g_models_dir, &model, &err))
		fail_msg("%s: load from %s failed: %s", rm->name, g_models_dir, err.message);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (nn_pool_create(cpus > 4 ? 4 : (size_t)(cpus > 0 ? cpus : 1), &pool, &err)) {
		nn_model_free(&model);
		fail_msg("%s: pool: %s", rm->name, err.message);
	}
	int failures = 0;
	for (size_t c = 0; c < rm->n_cases; c++)
		failures += run_case(model, pool, rm->case_dirs[c]);
	nn_pool_destroy(&pool);
	nn_model_free(&model);
	fflush(stdout);
	if (failures)
		fail_msg("%s: %d check%s failed against TensorFlow.js (see the lines above)", rm->name, failures,
		         failures == 1 ? "" : "s");
}

static void test_reference_present(void **state)
{
	(void)state;
	if (g_manifest_count == 0)
		fail_msg("no reference cases under %s (MIEN_REF_DIR): run `node tests/ref/make_refs.mjs` and "
		         "`node tests/ref/make_faceapi_refs.mjs` first (see tests/ref/README.md)",
		         g_ref_dir);
	printf("  %zu reference cases for %zu models under %s\n", g_manifest_count, g_ref_model_count, g_ref_dir);
}

/* --- error paths ------------------------------------------------------------------------------------ */

typedef struct scratch {
	char dir[256];
	char emotion_json[PATH_MAX];
	char emotion_bin[PATH_MAX];
} scratch;

static int setup_scratch(void **state)
{
	scratch *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/mien-test-nnref-XXXXXX");
	if (!mkdtemp(s->dir)) {
		free(s);
		return -1;
	}
	snprintf(s->emotion_json, sizeof(s->emotion_json), "%s/human/emotion.json", g_models_dir);
	snprintf(s->emotion_bin, sizeof(s->emotion_bin), "%s/human/emotion.bin", g_models_dir);
	*state = s;
	return 0;
}

static int teardown_scratch(void **state)
{
	scratch *s = *state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", s->dir);
	free(s);
	return 0;
}

static void require_emotion(const scratch *s)
{
	if (access(s->emotion_json, R_OK) != 0 || access(s->emotion_bin, R_OK) != 0)
		fail_msg("%s or %s is missing: run `make models` (or set MIEN_MODELS)", s->emotion_json,
		         s->emotion_bin);
}

/* Copies at most `limit` bytes of src to dst. */
static void copy_file(const char *src, const char *dst, long limit)
{
	FILE *in = fopen(src, "rb");
	FILE *out = fopen(dst, "wb");
	assert_non_null(in);
	assert_non_null(out);
	char buf[65536];
	long total = 0;
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (limit >= 0 && total + (long)n > limit)
			n = (size_t)(limit - total);
		assert_int_equal(fwrite(buf, 1, n, out), n);
		total += (long)n;
		if (limit >= 0 && total >= limit)
			break;
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static void make_subdir(const scratch *s, const char *sub, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", s->dir, sub);
	assert_int_equal(mkdir(buf, 0700), 0);
}

/* The load must fail with a code and a message mentioning every string in `needles` (NULL-terminated). */
static void expect_load_error(const char *spec, const char *const *needles)
{
	nn_model *model = NULL;
	mien_error err;
	mien_error_clear(&err);
	int rc = nn_model_load(spec, g_models_dir, &model, &err);
	printf("  %s -> %d: %s\n", spec, rc, err.message);
	if (rc == 0) {
		nn_model_free(&model);
		fail_msg("%s: loaded, but an error was expected", spec);
	}
	assert_null(model);
	assert_true(rc < 0);
	assert_int_equal(err.code, rc);
	for (size_t i = 0; needles[i]; i++)
		if (!strstr(err.message, needles[i]))
			fail_msg("%s: the message \"%s\" does not mention \"%s\"", spec, err.message, needles[i]);
}

static void test_missing_model(void **state)
{
	scratch *s = *state;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/missing-model.json", s->dir);
	expect_load_error(path, (const char *const[]){ "missing-model", NULL });
	expect_load_error("no-such-model", (const char *const[]){ "no-such-model", NULL });
}

static void test_truncated_shard(void **state)
{
	scratch *s = *state;
	require_emotion(s);
	char dir[PATH_MAX], json[PATH_MAX + 32], bin[PATH_MAX + 32];
	make_subdir(s, "trunc", dir, sizeof(dir));
	snprintf(json, sizeof(json), "%s/emotion-trunc.json", dir);
	snprintf(bin, sizeof(bin), "%s/emotion.bin", dir);
	copy_file(s->emotion_json, json, -1);
	struct stat st;
	assert_int_equal(stat(s->emotion_bin, &st), 0);
	copy_file(s->emotion_bin, bin, (long)st.st_size / 2);
	expect_load_error(json, (const char *const[]){ "emotion-trunc", NULL });

	/* An empty shard, and a shard that is missing altogether. */
	copy_file(s->emotion_bin, bin, 0);
	expect_load_error(json, (const char *const[]){ "emotion-trunc", NULL });
	assert_int_equal(unlink(bin), 0);
	expect_load_error(json, (const char *const[]){ "emotion-trunc", NULL });
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_malformed_json(void **state)
{
	scratch *s = *state;
	require_emotion(s);
	char dir[PATH_MAX], json[PATH_MAX + 32], bin[PATH_MAX + 32];
	make_subdir(s, "bad", dir, sizeof(dir));
	snprintf(json, sizeof(json), "%s/emotion-bad.json", dir);
	snprintf(bin, sizeof(bin), "%s/emotion.bin", dir);
	copy_file(s->emotion_bin, bin, -1);

	static const char *const texts[] = {
		"{\"format\": \"graph-model\", \"modelTopology\": {\"node\": [",
		"",
		"[1, 2, 3]",
		"{\"format\": \"graph-model\"}",
		"{\"modelTopology\": {\"node\": 7}, \"weightsManifest\": []}",
		"{\"modelTopology\": {\"node\": [{\"name\": \"x\"}]}, \"weightsManifest\": {}}",
	};
	for (size_t i = 0; i < MIEN_ARRAY_LEN(texts); i++) {
		write_text(json, texts[i]);
		expect_load_error(json, (const char *const[]){ "emotion-bad", NULL });
	}
}

static void test_unsupported_op(void **state)
{
	scratch *s = *state;
	require_emotion(s);
	char dir[PATH_MAX], json[PATH_MAX + 32], bin[PATH_MAX + 32];
	make_subdir(s, "foobar", dir, sizeof(dir));
	snprintf(json, sizeof(json), "%s/emotion-foobar.json", dir);
	snprintf(bin, sizeof(bin), "%s/emotion.bin", dir);
	copy_file(s->emotion_bin, bin, -1);

	json_error_t jerr;
	json_t *root = json_load_file(s->emotion_json, 0, &jerr);
	if (!root)
		fail_msg("%s: %s", s->emotion_json, jerr.text);
	json_t *nodes = json_object_get(json_object_get(root, "modelTopology"), "node");
	char node_name[256] = "";
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		json_t *node = json_array_get(nodes, i);
		const char *op = json_string_value(json_object_get(node, "op"));
		if (op && strcmp(op, "Const") != 0 && strcmp(op, "Placeholder") != 0) {
			snprintf(node_name, sizeof(node_name), "%s", json_string_value(json_object_get(node, "name")));
			json_object_set_new(node, "op", json_string("FooBar"));
			break;
		}
	}
	assert_true(node_name[0] != '\0');
	assert_int_equal(json_dump_file(root, json, JSON_COMPACT), 0);
	json_decref(root);
	expect_load_error(json, (const char *const[]){ "emotion-foobar", node_name, "FooBar", NULL });
}

/* --- concurrency ------------------------------------------------------------------------------------ */

#define CONCURRENT_RUNS 3

typedef struct worker {
	const nn_model *model;
	const float *const *expected; /* per output */
	const int64_t *counts;
	int failed;
	char message[MIEN_ERROR_MESSAGE_MAX + 64];
} worker;

static void fill_inputs(nn_runtime *runtime, size_t n_inputs)
{
	for (size_t i = 0; i < n_inputs; i++) {
		nn_shape shape;
		float *in = nn_runtime_input(runtime, i, &shape);
		uint32_t state = 12345u + (uint32_t)i;
		for (int64_t k = 0; in && k < nn_shape_count(&shape); k++) {
			state = state * 1664525u + 1013904223u;
			in[k] = (float)(state >> 8) / 16777216.0f * 2.0f - 1.0f;
		}
	}
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	nn_runtime *runtime = NULL;
	mien_error err;
	if (nn_runtime_create(w->model, NULL, NULL, &runtime, &err)) {
		w->failed = 1;
		snprintf(w->message, sizeof(w->message), "runtime: %s", err.message);
		return NULL;
	}
	for (int r = 0; r < CONCURRENT_RUNS && !w->failed; r++) {
		fill_inputs(runtime, nn_model_input_count(w->model));
		if (nn_runtime_run(runtime, &err)) {
			w->failed = 1;
			snprintf(w->message, sizeof(w->message), "run %d: %s", r, err.message);
			break;
		}
		for (size_t o = 0; o < nn_model_output_count(w->model); o++) {
			const float *out = nn_runtime_output(runtime, o, NULL);
			if (!out || memcmp(out, w->expected[o], (size_t)w->counts[o] * sizeof(float)) != 0) {
				w->failed = 1;
				snprintf(w->message, sizeof(w->message),
				         "run %d: output %s differs from the single-thread run", r,
				         nn_model_output_name(w->model, o));
				break;
			}
		}
	}
	nn_runtime_free(&runtime);
	return NULL;
}

static void check_concurrent(const char *name)
{
	nn_model *model = NULL;
	nn_runtime *runtime = NULL;
	mien_error err;
	float *expected[MAX_IO] = { NULL };
	int64_t counts[MAX_IO] = { 0 };
	if (nn_model_load(name, g_models_dir, &model, &err))
		fail_msg("%s: %s", name, err.message);
	size_t n_out = nn_model_output_count(model);
	assert_true(n_out <= MAX_IO);
	if (nn_runtime_create(model, NULL, NULL, &runtime, &err) ||
	    (fill_inputs(runtime, nn_model_input_count(model)), nn_runtime_run(runtime, &err)))
		fail_msg("%s: %s", name, err.message);
	for (size_t o = 0; o < n_out; o++) {
		nn_shape shape;
		const float *out = nn_runtime_output(runtime, o, &shape);
		assert_non_null(out);
		counts[o] = nn_shape_count(&shape);
		expected[o] = malloc((size_t)counts[o] * sizeof(float) + 1);
		assert_non_null(expected[o]);
		memcpy(expected[o], out, (size_t)counts[o] * sizeof(float));
	}
	nn_runtime_free(&runtime);

	worker workers[2];
	pthread_t threads[2];
	for (int t = 0; t < 2; t++) {
		memset(&workers[t], 0, sizeof(workers[t]));
		workers[t].model = model;
		workers[t].expected = (const float *const *)expected;
		workers[t].counts = counts;
		assert_int_equal(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
	}
	for (int t = 0; t < 2; t++)
		pthread_join(threads[t], NULL);
	for (size_t o = 0; o < n_out; o++)
		free(expected[o]);
	nn_model_free(&model);
	for (int t = 0; t < 2; t++)
		if (workers[t].failed)
			fail_msg("%s, thread %d: %s", name, t, workers[t].message);
	printf("  %s: 2 threads x %d runs identical to the single-thread run\n", name, CONCURRENT_RUNS);
}

static void test_concurrent_runtimes(void **state)
{
	(void)state;
	check_concurrent("emotion");
	check_concurrent("blazeface-back");
}

/* --- main ------------------------------------------------------------------------------------------- */

int main(void)
{
	const char *env = getenv("MIEN_REF_DIR");
	if (env && *env)
		g_ref_dir = env;
	env = getenv("MIEN_MODELS");
	if (env && *env)
		g_models_dir = env;
	discover_cases();

	struct CMUnitTest tests[MAX_MODELS + 8];
	size_t n = 0;
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reference_present);
	for (size_t m = 0; m < g_ref_model_count; m++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_reference_model, &g_ref_models[m]);
		tests[n++].name = g_ref_models[m].test_name;
	}
	tests[n++] =
	        (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_missing_model, setup_scratch, teardown_scratch);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_truncated_shard, setup_scratch,
	                                                                teardown_scratch);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_malformed_json, setup_scratch,
	                                                                teardown_scratch);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_unsupported_op, setup_scratch,
	                                                                teardown_scratch);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_concurrent_runtimes);
	return _cmocka_run_group_tests("nn_reference", tests, n, NULL, NULL);
}
