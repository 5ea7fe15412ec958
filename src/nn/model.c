/*
 * model.c — loading a model by path or short name, and what `mien model info` reports about it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "nn/nn_int.h"

struct nn_model {
	nn_graph graph;
	char name[128];
	char path[4096];
	const char *format;
};

const nn_graph *nn__model_graph(const nn_model *model)
{
	return &model->graph;
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Short names: human-models graph models under human/, face-api manifests under faceapi/, and the models mien
 * trains itself (train/) under mien/<name>/model.json. */
static int resolve(const char *spec, const char *dir, char *path, size_t size, int *faceapi, mien_error *err)
{
	if (strchr(spec, '/') || ends_with(spec, ".json")) {
		if ((size_t)snprintf(path, size, "%s", spec) >= size)
			return mien_error_set(err, MIEN_ERANGE, "model path too long");
		*faceapi = ends_with(spec, "-weights_manifest.json");
		return MIEN_OK;
	}
	for (const char *p = spec; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return mien_error_set(err, MIEN_EINVAL, "model name %s has characters other than a-z 0-9 _ -",
			                      spec);
	if (!dir || !*dir)
		dir = "models";
	snprintf(path, size, "%s/human/%s.json", dir, spec);
	if (file_exists(path)) {
		*faceapi = 0;
		return MIEN_OK;
	}
	const char *stem = ends_with(spec, "_model") ? "" : "_model";
	snprintf(path, size, "%s/faceapi/%s%s-weights_manifest.json", dir, spec, stem);
	if (file_exists(path)) {
		*faceapi = 1;
		return MIEN_OK;
	}
	snprintf(path, size, "%s/mien/%s/model.json", dir, spec);
	if (file_exists(path)) {
		*faceapi = 0;
		return MIEN_OK;
	}
	return mien_error_set(
	        err, MIEN_ENOENT,
	        "model %s not found under %s (looked for human/%s.json, faceapi/%s%s-weights_manifest.json "
	        "and mien/%s/model.json; run `make models`)",
	        spec, dir, spec, spec, stem, spec);
}

static void short_name(const char *path, int faceapi, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t len = strlen(base);
	if (len >= size)
		len = size - 1;
	memcpy(out, base, len);
	out[len] = '\0';
	if (!faceapi && strcmp(base, "model.json") == 0 && base != path) {
		/* .../blazeface/model.json is named after its folder, as the loader's messages do */
		const char *end = base - 1, *start = end;
		while (start > path && start[-1] != '/')
			start--;
		snprintf(out, size, "%.*s", (int)(end - start < 127 ? end - start : 127), start);
		return;
	}
	char *cut = strstr(out, faceapi ? "-weights_manifest.json" : ".json");
	if (cut)
		*cut = '\0';
	size_t n = strlen(out);
	if (faceapi && n > 6 && strcmp(out + n - 6, "_model") == 0)
		out[n - 6] = '\0';
}

int nn_model_load(const char *spec, const char *models_dir, nn_model **out, mien_error *err)
{
	*out = NULL;
	int rc = nn_init(err);
	if (rc)
		return rc;
	nn_model *m = calloc(1, sizeof(*m));
	if (!m)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory loading %s", spec);
	int faceapi = 0;
	rc = resolve(spec, models_dir, m->path, sizeof(m->path), &faceapi, err);
	if (rc)
		goto fail;
	short_name(m->path, faceapi, m->name, sizeof(m->name));
	m->format = faceapi ? "face-api" : "graph-model";
	rc = nn__graph_init(&m->graph, m->name, err);
	if (rc)
		goto fail;
	rc = faceapi ? nn__faceapi_load(&m->graph, m->path, err) : nn__tfjs_load(&m->graph, m->path, err);
	if (rc)
		goto fail;
	rc = nn__graph_finalize(&m->graph, err);
	if (rc)
		goto fail;
	mien_log(MIEN_LOG_DEBUG, "nn", "loaded %s: %d nodes, %d after rewrites, %.1f MB of weights", m->name,
	         m->graph.source_nodes, m->graph.n_nodes, (double)m->graph.weight_bytes / 1e6);
	*out = m;
	return MIEN_OK;
fail:
	nn_model_free(&m);
	return rc;
}

void nn_model_free(nn_model **model)
{
	if (!model || !*model)
		return;
	nn__graph_release(&(*model)->graph);
	free(*model);
	*model = NULL;
}

const char *nn_model_name(const nn_model *m)
{
	return m->name;
}

const char *nn_model_path(const nn_model *m)
{
	return m->path;
}

size_t nn_model_input_count(const nn_model *m)
{
	return (size_t)m->graph.n_inputs;
}

size_t nn_model_output_count(const nn_model *m)
{
	return (size_t)m->graph.n_outputs;
}

const char *nn_model_input_name(const nn_model *m, size_t i)
{
	return i < (size_t)m->graph.n_inputs ? m->graph.tensors[m->graph.inputs[i]].name : NULL;
}

const char *nn_model_output_name(const nn_model *m, size_t i)
{
	return i < (size_t)m->graph.n_outputs ? m->graph.output_names[i] : NULL;
}

nn_shape nn_model_input_shape(const nn_model *m, size_t i)
{
	nn_shape s = { 0 };
	if (i < (size_t)m->graph.n_inputs)
		s = m->graph.tensors[m->graph.inputs[i]].shape;
	return s;
}

int nn_model_input_index(const nn_model *m, const char *name)
{
	for (int i = 0; i < m->graph.n_inputs; i++)
		if (strcmp(m->graph.tensors[m->graph.inputs[i]].name, name) == 0)
			return i;
	return -1;
}

int nn_model_output_index(const nn_model *m, const char *name)
{
	for (int i = 0; i < m->graph.n_outputs; i++)
		if (strcmp(m->graph.output_names[i], name) == 0)
			return i;
	return -1;
}

int nn_model_resizable(const nn_model *m)
{
	return m->graph.resizable;
}

static int by_count(const void *a, const void *b)
{
	const nn_op_count *x = a, *y = b;
	if (x->count != y->count)
		return y->count - x->count;
	return strcmp(x->op, y->op);
}

int nn_model_get_info(const nn_model *m, nn_model_info *info, mien_error *err)
{
	const nn_graph *g = &m->graph;
	memset(info, 0, sizeof(*info));
	info->node_count = g->source_nodes;
	info->weight_bytes = g->weight_bytes;
	info->parameters = g->weight_bytes / 4;
	info->format = m->format;
	info->weight_dtype = g->weight_dtype;
	info->op_kinds = g->histogram_len;
	memcpy(info->ops, g->histogram, sizeof(nn_op_count) * g->histogram_len);
	qsort(info->ops, info->op_kinds, sizeof(nn_op_count), by_count);
	nn_shape *shapes = malloc(sizeof(nn_shape) * (size_t)g->n_tensors);
	if (!shapes)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	for (int t = 0; t < g->n_tensors; t++)
		shapes[t] = g->tensors[t].shape;
	for (int i = 0; i < g->n_inputs; i++)
		if (shapes[g->inputs[i]].rank > 0 && shapes[g->inputs[i]].dims[0] < 0)
			shapes[g->inputs[i]].dims[0] = 1;
	double macs = 0;
	for (int i = 0; i < g->n_nodes; i++)
		macs += nn__node_macs(g, &g->nodes[i], shapes);
	info->mmac = macs / 1e6;
	free(shapes);
	return MIEN_OK;
}
