/*
 * weights.c — TF.js weights manifests: shards read back to back, weights dequantised to float32.
 *
 * A manifest is an array of groups; each group's `paths` are shards that, concatenated, hold its
 * `weights` packed with no alignment in manifest order. Quantised weights are stored as
 * uint8/uint16 q with value = q * scale + min, or as float16.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

#define SHARD_GROUP_MAX ((size_t)1 << 30) /* 1 GiB of weights per group is far beyond any face model */

static int read_group(const char *model, json_t *paths, const char *dir, unsigned char **out, size_t *out_size,
                      mien_error *err)
{
	unsigned char *buf = NULL;
	size_t size = 0;
	size_t n = json_array_size(paths);
	*out = NULL;
	*out_size = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rel = json_string_value(json_array_get(paths, i));
		if (!rel || !*rel || strstr(rel, "..") || rel[0] == '/') {
			free(buf);
			return mien_error_set(err, MIEN_EFORMAT, "%s: weights manifest has a bad shard path", model);
		}
		char path[4096];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path)) {
			free(buf);
			return mien_error_set(err, MIEN_ERANGE, "%s: shard path too long", model);
		}
		char *data = NULL;
		size_t len = 0;
		int rc = nn__read_file(path, SHARD_GROUP_MAX - size, &data, &len, err);
		if (rc) {
			free(buf);
			return mien_error_prefix(err, "%s: weight shard", model);
		}
		unsigned char *grown = realloc(buf, size + len + 1);
		if (!grown) {
			free(data);
			free(buf);
			return mien_error_set(err, MIEN_ENOMEM, "%s: out of memory reading shards", model);
		}
		buf = grown;
		memcpy(buf + size, data, len);
		size += len;
		free(data);
	}
	*out = buf;
	*out_size = size;
	return MIEN_OK;
}

static int parse_shape(json_t *arr, nn_shape *shape)
{
	if (!json_is_array(arr) || json_array_size(arr) > NN_MAX_RANK)
		return MIEN_EFORMAT;
	shape->rank = (int)json_array_size(arr);
	for (int i = 0; i < shape->rank; i++) {
		json_t *d = json_array_get(arr, (size_t)i);
		if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > (1 << 28))
			return MIEN_EFORMAT;
		shape->dims[i] = json_integer_value(d);
	}
	return MIEN_OK;
}

static void count_dtype(nn_graph *g, const char *stored)
{
	/* report the narrowest stored float type: "uint8" beats "float16" beats "float32" */
	static const char *const order[] = { "float32", "float16", "uint16", "uint8" };
	int have = 0, now = 0;
	for (int i = 0; i < 4; i++) {
		if (strcmp(g->weight_dtype, order[i]) == 0)
			have = i;
		if (strcmp(stored, order[i]) == 0)
			now = i;
	}
	if (now > have)
		g->weight_dtype = order[now];
}

int nn__manifest_load(nn_graph *g, const void *manifest_ptr, const char *dir, mien_error *err)
{
	json_t *manifest = (json_t *)manifest_ptr;
	const char *model = g->model_name;
	unsigned char *buf = NULL;
	int rc = MIEN_OK;
	if (!json_is_array(manifest))
		return mien_error_set(err, MIEN_EFORMAT, "%s: weightsManifest is not an array", model);
	for (size_t gi = 0; gi < json_array_size(manifest); gi++) {
		json_t *group = json_array_get(manifest, gi);
		json_t *paths = json_object_get(group, "paths");
		json_t *weights = json_object_get(group, "weights");
		if (!json_is_array(paths) || !json_is_array(weights))
			return mien_error_set(err, MIEN_EFORMAT, "%s: weights group %zu lacks paths or weights", model,
			                      gi);
		size_t size = 0;
		rc = read_group(model, paths, dir, &buf, &size, err);
		if (rc)
			return rc;
		size_t at = 0;
		for (size_t wi = 0; wi < json_array_size(weights); wi++) {
			json_t *w = json_array_get(weights, wi);
			const char *name = json_string_value(json_object_get(w, "name"));
			const char *dtype = json_string_value(json_object_get(w, "dtype"));
			json_t *quant = json_object_get(w, "quantization");
			nn_shape shape;
			if (!name || !dtype || parse_shape(json_object_get(w, "shape"), &shape)) {
				rc = mien_error_set(err, MIEN_EFORMAT, "%s: weight %zu of group %zu is malformed",
				                    model, wi, gi);
				goto fail;
			}
			int is_int = strcmp(dtype, "int32") == 0;
			if (!is_int && strcmp(dtype, "float32") != 0) {
				rc = mien_error_set(err, MIEN_EUNSUPPORTED, "%s: weight %s has unsupported dtype %s",
				                    model, name, dtype);
				goto fail;
			}
			const char *stored = is_int ? "int32" : "float32";
			double scale = 1, min = 0;
			if (quant) {
				stored = json_string_value(json_object_get(quant, "dtype"));
				if (!stored || (strcmp(stored, "float16") && strcmp(stored, "uint8") &&
				                strcmp(stored, "uint16"))) {
					rc = mien_error_set(err, MIEN_EUNSUPPORTED,
					                    "%s: weight %s has unsupported quantization %s", model,
					                    name, stored ? stored : "(none)");
					goto fail;
				}
				scale = json_number_value(json_object_get(quant, "scale"));
				min = json_number_value(json_object_get(quant, "min"));
			}
			size_t elem = strcmp(stored, "uint8") == 0                                ? 1
			              : (!strcmp(stored, "float16") || !strcmp(stored, "uint16")) ? 2
			                                                                          : 4;
			int64_t count = nn_shape_count(&shape);
			size_t bytes = (size_t)count * elem;
			if (bytes > size - at) {
				rc = mien_error_set(
				        err, MIEN_EFORMAT,
				        "%s: weight shards are truncated: %s needs %zu bytes at offset %zu, "
				        "only %zu remain",
				        model, name, bytes, at, size - at);
				goto fail;
			}
			const unsigned char *src = buf + at;
			at += bytes;
			int t = nn__graph_add_const(g, name, is_int ? NN_DTYPE_I32 : NN_DTYPE_F32, &shape, NULL);
			if (t < 0) {
				rc = mien_error_set(err, t, "%s: cannot store weight %s", model, name);
				goto fail;
			}
			void *dst = g->tensors[t].data;
			for (int64_t i = 0; i < count; i++) {
				double v;
				if (elem == 1) {
					v = src[i] * scale + min;
				} else if (!strcmp(stored, "uint16")) {
					uint16_t q;
					memcpy(&q, src + 2 * i, 2);
					v = q * scale + min;
				} else if (elem == 2) {
					uint16_t h;
					memcpy(&h, src + 2 * i, 2);
					v = nn__half_to_float(h);
				} else if (is_int) {
					int32_t q;
					memcpy(&q, src + 4 * i, 4);
					v = q;
				} else {
					float f;
					memcpy(&f, src + 4 * i, 4);
					v = f;
				}
				if (is_int)
					((int32_t *)dst)[i] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
				else
					((float *)dst)[i] = (float)v;
			}
			g->weight_bytes += count * 4;
			if (!is_int)
				count_dtype(g, stored);
		}
		if (at != size) {
			rc = mien_error_set(err, MIEN_EFORMAT,
			                    "%s: weight shards hold %zu bytes but the manifest describes %zu", model,
			                    size, at);
			goto fail;
		}
		free(buf);
		buf = NULL;
	}
	return MIEN_OK;
fail:
	free(buf);
	return rc;
}
