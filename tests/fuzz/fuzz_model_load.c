/*
 * fuzz_model_load.c — libFuzzer target for the TF.js model loader: the input is a model.json.
 *
 * Each input is written as <tmp>/model.json beside a weight shard, weights.bin, so only the JSON is mutated.
 * The shard's bytes are fixed (small non-zero floats); its length follows the input: when the JSON parses and
 * its first weights group is "paths": ["weights.bin"], the shard is exactly as long as that group's weights
 * need (so mutated shapes and dtypes still load and reach graph building), else 64 KiB. When the model
 * loads, a runtime is created at the published shapes and run once. Any crash, sanitizer report, leak or
 * abort is a bug: every malformed model must come back as an error code.
 *
 * Seeds (tests/fuzz/corpus/fuzz_model_load/) are tiny hand-written graphs (conv + relu, depthwise with
 * float16 weights, pool + matmul with uint8 weights, pad + mean + concat).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"
#include "core/result.h"
#include "nn/nn.h"

#define SHARD_BYTES (64 * 1024)
#define SHARD_MAX   (4 * 1024 * 1024)
/* Skip runtimes whose inputs alone would be large: the loader's job is under test, not memory. */
#define MAX_INPUT_ELEMENTS (1 << 20)

static char g_dir[64];
static char g_model_path[128];
static char g_shard_path[128];

static void cleanup(void)
{
	unlink(g_model_path);
	unlink(g_shard_path);
	rmdir(g_dir);
}

/* Writes `bytes` bytes of a repeating pattern of small floats (0.01 .. 0.16) to weights.bin. */
static int write_shard(size_t bytes)
{
	static unsigned char pattern[4096];
	static int ready;
	if (!ready) {
		for (size_t i = 0; i < sizeof(pattern) / sizeof(float); i++) {
			float v = 0.01f * (float)(1 + i % 16);
			memcpy(pattern + i * sizeof(float), &v, sizeof(v));
		}
		ready = 1;
	}
	FILE *f = fopen(g_shard_path, "wb");
	if (!f)
		return -1;
	for (size_t at = 0; at < bytes; at += sizeof(pattern)) {
		size_t n = bytes - at < sizeof(pattern) ? bytes - at : sizeof(pattern);
		if (fwrite(pattern, 1, n, f) != n) {
			fclose(f);
			return -1;
		}
	}
	return fclose(f);
}

/* Bytes the first weights group needs when it names weights.bin alone; SHARD_BYTES when unknown. */
static size_t shard_size_for(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, 0, NULL);
	json_t *group = json_array_get(json_object_get(root, "weightsManifest"), 0);
	json_t *paths = json_object_get(group, "paths");
	json_t *weights = json_object_get(group, "weights");
	size_t total = SHARD_BYTES;
	if (json_array_size(paths) == 1 && json_is_string(json_array_get(paths, 0)) &&
	    strcmp(json_string_value(json_array_get(paths, 0)), "weights.bin") == 0 && json_is_array(weights)) {
		total = 0;
		for (size_t i = 0; i < json_array_size(weights) && total <= SHARD_MAX; i++) {
			json_t *w = json_array_get(weights, i);
			json_t *shape = json_object_get(w, "shape");
			const char *q = json_string_value(json_object_get(json_object_get(w, "quantization"), "dtype"));
			size_t elem = !q ? 4 : strcmp(q, "uint8") == 0 ? 1 : 2;
			size_t count = 1;
			for (size_t d = 0; d < json_array_size(shape) && count <= SHARD_MAX; d++) {
				json_int_t dim = json_integer_value(json_array_get(shape, d));
				count = dim <= 0 ? 0 : (size_t)dim > SHARD_MAX ? SHARD_MAX + 1 : count * (size_t)dim;
			}
			total += count * elem;
		}
		if (total > SHARD_MAX)
			total = SHARD_BYTES;
	}
	json_decref(root);
	return total;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(g_dir, sizeof(g_dir), "/tmp/mien-fuzz-model-XXXXXX");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(g_model_path, sizeof(g_model_path), "%s/model.json", g_dir);
	snprintf(g_shard_path, sizeof(g_shard_path), "%s/weights.bin", g_dir);

	if (write_shard(SHARD_BYTES))
		abort();
	atexit(cleanup);
	mien_log_set_level(MIEN_LOG_OFF);
	mien_error err;
	if (nn_init(&err)) {
		fprintf(stderr, "nn_init: %s\n", err.message);
		abort();
	}
	return 0;
}

static int inputs_small(const nn_model *model)
{
	int64_t total = 0;
	for (size_t i = 0; i < nn_model_input_count(model); i++) {
		nn_shape s = nn_model_input_shape(model, i);
		int64_t n = 1;
		for (int d = 0; d < s.rank; d++) {
			int64_t dim = s.dims[d] < 0 ? 1 : s.dims[d];
			if (dim != 0 && n > MAX_INPUT_ELEMENTS / dim)
				return 0;
			n *= dim;
		}
		total += n;
		if (total > MAX_INPUT_ELEMENTS)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (write_shard(shard_size_for(data, size)))
		abort();
	FILE *f = fopen(g_model_path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();

	nn_model *model = NULL;
	nn_runtime *runtime = NULL;
	mien_error err;
	if (nn_model_load(g_model_path, g_dir, &model, &err) != 0) {
		if (model)
			abort(); /* contract: *out stays NULL on failure */
		return 0;
	}
	nn_model_info info;
	nn_model_get_info(model, &info, &err);
	if (inputs_small(model) && nn_runtime_create(model, NULL, NULL, &runtime, &err) == 0) {
		for (size_t i = 0; i < nn_model_input_count(model); i++) {
			nn_shape shape;
			float *in = nn_runtime_input(runtime, i, &shape);
			int64_t n = nn_shape_count(&shape);
			for (int64_t k = 0; in && k < n; k++)
				in[k] = (float)(k % 7) * 0.25f - 0.5f;
		}
		nn_runtime_run(runtime, &err);
		for (size_t i = 0; i < nn_model_output_count(model); i++)
			nn_runtime_output(runtime, i, NULL);
		nn_runtime_free(&runtime);
	}
	nn_model_free(&model);
	return 0;
}
