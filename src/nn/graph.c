/*
 * graph.c — building the IR: tensors, nodes, graph storage, names and the op histogram.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

/* Storage is a chain of 64-byte aligned blocks; large requests get a block of their own. */
struct nn_storage_block {
	nn_storage_block *next;
	size_t capacity, used;
	unsigned char *base;
};

#define STORAGE_BLOCK_MIN ((size_t)1 << 20)
#define STORAGE_ALIGN     64

int64_t nn_shape_count(const nn_shape *shape)
{
	int64_t n = 1;
	for (int i = 0; i < shape->rank; i++) {
		if (shape->dims[i] < 0)
			return 0;
		n *= shape->dims[i];
	}
	return n;
}

const char *nn_shape_str(const nn_shape *shape, char *buf, size_t size)
{
	size_t at = 0;
	if (size == 0)
		return buf;
	buf[0] = '\0';
	at += (size_t)snprintf(buf + at, size - at, "[");
	for (int i = 0; i < shape->rank && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, i ? ",%lld" : "%lld", (long long)shape->dims[i]);
	if (at < size)
		snprintf(buf + at, size - at, "]");
	return buf;
}

int nn__graph_init(nn_graph *g, const char *model_name, mien_error *err)
{
	memset(g, 0, sizeof(*g));
	g->model_name = nn__graph_strdup(g, model_name ? model_name : "model");
	if (!g->model_name)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory starting a graph");
	g->weight_dtype = "float32";
	g->fuse_min_elements = NN_FUSE_MIN_ELEMENTS;
	return MIEN_OK;
}

void nn__graph_release(nn_graph *g)
{
	if (!g)
		return;
	nn_storage_block *b = g->storage;
	while (b) {
		nn_storage_block *next = b->next;
		mien_aligned_free(b->base);
		free(b);
		b = next;
	}
	free(g->tensors);
	free(g->nodes);
	memset(g, 0, sizeof(*g));
}

void *nn__graph_alloc(nn_graph *g, size_t bytes)
{
	/* the slack lets XNNPACK read past the end of static data, as its kernels may (XNN_EXTRA_BYTES) */
	size_t need = mien_align_up(bytes + 64, STORAGE_ALIGN);
	if (need == 0)
		return NULL;
	nn_storage_block *b = g->storage;
	if (!b || b->capacity - b->used < need) {
		size_t cap = need > STORAGE_BLOCK_MIN ? need : STORAGE_BLOCK_MIN;
		nn_storage_block *nb = calloc(1, sizeof(*nb));
		if (!nb)
			return NULL;
		nb->base = mien_aligned_alloc(STORAGE_ALIGN, cap);
		if (!nb->base) {
			free(nb);
			return NULL;
		}
		nb->capacity = cap;
		if (b && need > STORAGE_BLOCK_MIN) {
			/* keep the partly used block at the head for small requests */
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			g->storage = nb;
		}
		b = nb;
	}
	void *p = b->base + b->used;
	b->used += need;
	memset(p, 0, need);
	return p;
}

const char *nn__graph_strdup(nn_graph *g, const char *text)
{
	size_t n = strlen(text);
	char *s = nn__graph_alloc(g, n + 1);
	if (s)
		memcpy(s, text, n + 1);
	return s;
}

void nn__graph_count_op(nn_graph *g, const char *source_op)
{
	for (size_t i = 0; i < g->histogram_len; i++) {
		if (strcmp(g->histogram[i].op, source_op) == 0) {
			g->histogram[i].count++;
			return;
		}
	}
	if (g->histogram_len == MIEN_ARRAY_LEN(g->histogram))
		return;
	const char *name = nn__graph_strdup(g, source_op);
	if (!name)
		return;
	g->histogram[g->histogram_len].op = name;
	g->histogram[g->histogram_len].count = 1;
	g->histogram_len++;
}

static int grow(void **items, int *cap, int need, size_t item_size)
{
	if (need <= *cap)
		return MIEN_OK;
	int ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	void *n = realloc(*items, (size_t)ncap * item_size);
	if (!n)
		return MIEN_ENOMEM;
	*items = n;
	*cap = ncap;
	return MIEN_OK;
}

int nn__graph_add_tensor(nn_graph *g, const char *name, nn_dtype dtype, const nn_shape *shape, void *data)
{
	if (shape && (shape->rank < 0 || shape->rank > NN_MAX_RANK))
		return MIEN_ERANGE;
	if (grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof(nn_tensor)))
		return MIEN_ENOMEM;
	nn_tensor *t = &g->tensors[g->n_tensors];
	memset(t, 0, sizeof(*t));
	t->name = nn__graph_strdup(g, name ? name : "");
	if (!t->name)
		return MIEN_ENOMEM;
	t->dtype = dtype;
	if (shape)
		t->shape = *shape;
	else
		t->shape.rank = -1; /* unknown until shape inference */
	t->data = data;
	t->producer = -1;
	return g->n_tensors++;
}

int nn__graph_add_const(nn_graph *g, const char *name, nn_dtype dtype, const nn_shape *shape, const void *src)
{
	for (int i = 0; i < shape->rank; i++)
		if (shape->dims[i] < 0)
			return MIEN_ERANGE;
	int64_t count = nn_shape_count(shape);
	size_t bytes = (size_t)count * 4;
	void *data = nn__graph_alloc(g, bytes);
	if (!data)
		return MIEN_ENOMEM;
	if (src && bytes)
		memcpy(data, src, bytes);
	return nn__graph_add_tensor(g, name, dtype, shape, data);
}

int nn__graph_add_input(nn_graph *g, const char *name, const nn_shape *shape)
{
	if (g->n_inputs == NN_GRAPH_MAX_IO)
		return MIEN_ERANGE;
	int t = nn__graph_add_tensor(g, name, NN_DTYPE_F32, shape, NULL);
	if (t >= 0)
		g->inputs[g->n_inputs++] = t;
	return t;
}

nn_node nn__node(nn_op op, const char *name, const char *source_op)
{
	nn_node n;
	memset(&n, 0, sizeof(n));
	n.op = op;
	n.name = name;
	n.source_op = source_op;
	n.output = -1;
	n.out_min = -INFINITY;
	n.out_max = INFINITY;
	for (int i = 0; i < NN_NODE_MAX_INPUTS; i++)
		n.inputs[i] = -1;
	return n;
}

int nn__graph_add_node(nn_graph *g, const nn_node *node)
{
	if (node->n_inputs < 0 || node->n_inputs > NN_NODE_MAX_INPUTS)
		return MIEN_ERANGE;
	if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(nn_node)))
		return MIEN_ENOMEM;
	int t = nn__graph_add_tensor(g, node->name, NN_DTYPE_F32, NULL, NULL);
	if (t < 0)
		return t;
	nn_node *n = &g->nodes[g->n_nodes];
	*n = *node;
	n->name = g->tensors[t].name;
	n->source_op = nn__graph_strdup(g, node->source_op ? node->source_op : nn__op_name(node->op));
	if (!n->source_op)
		return MIEN_ENOMEM;
	n->output = t;
	g->tensors[t].producer = g->n_nodes;
	g->n_nodes++;
	return t;
}

int nn__graph_add_output(nn_graph *g, int tensor, const char *name)
{
	if (g->n_outputs == NN_GRAPH_MAX_IO || tensor < 0 || tensor >= g->n_tensors)
		return MIEN_ERANGE;
	const char *n = name ? nn__graph_strdup(g, name) : g->tensors[tensor].name;
	if (!n)
		return MIEN_ENOMEM;
	g->outputs[g->n_outputs] = tensor;
	g->output_names[g->n_outputs] = n;
	g->n_outputs++;
	return MIEN_OK;
}

int nn__graph_find_tensor(const nn_graph *g, const char *name)
{
	/* the last tensor of a name wins: a node's output shadows a constant of the same name */
	for (int i = g->n_tensors - 1; i >= 0; i--)
		if (strcmp(g->tensors[i].name, name) == 0)
			return i;
	return -1;
}

const char *nn__op_name(nn_op op)
{
	static const char *const names[NN_OP_COUNT_] = {
		[NN_OP_NONE] = "none",
		[NN_OP_CONV2D] = "conv2d",
		[NN_OP_DEPTHWISE_CONV2D] = "depthwise_conv2d",
		[NN_OP_MATMUL] = "matmul",
		[NN_OP_ADD] = "add",
		[NN_OP_SUB] = "sub",
		[NN_OP_MUL] = "mul",
		[NN_OP_DIV] = "div",
		[NN_OP_MAXIMUM] = "maximum",
		[NN_OP_MINIMUM] = "minimum",
		[NN_OP_CLAMP] = "clamp",
		[NN_OP_PRELU] = "prelu",
		[NN_OP_LEAKY_RELU] = "leaky_relu",
		[NN_OP_ABS] = "abs",
		[NN_OP_SQUARE] = "square",
		[NN_OP_SQRT] = "sqrt",
		[NN_OP_RSQRT] = "rsqrt",
		[NN_OP_SIGMOID] = "sigmoid",
		[NN_OP_SOFTMAX] = "softmax",
		[NN_OP_MAX_POOL] = "max_pool",
		[NN_OP_AVG_POOL] = "avg_pool",
		[NN_OP_MEAN] = "mean",
		[NN_OP_SUM] = "sum",
		[NN_OP_PAD] = "pad",
		[NN_OP_RESHAPE] = "reshape",
		[NN_OP_SQUEEZE] = "squeeze",
		[NN_OP_RESIZE_BILINEAR] = "resize_bilinear",
		[NN_OP_DEPTH_TO_SPACE] = "depth_to_space",
		[NN_OP_IDENTITY] = "identity",
		[NN_OP_CONCAT] = "concat",
		[NN_OP_EXP] = "exp",
		[NN_OP_TANH] = "tanh",
		[NN_OP_HOST] = "host",
		[NN_OP_SHAPE] = "shape",
		[NN_OP_STRIDED_SLICE] = "strided_slice",
		[NN_OP_PACK] = "pack",
	};
	if ((int)op < 0 || op >= NN_OP_COUNT_ || !names[op])
		return "unknown";
	return names[op];
}

float nn__half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;
	uint32_t bits;
	if (exp == 0) {
		if (mant == 0) {
			bits = sign;
		} else { /* subnormal: normalise */
			int e = -1;
			do {
				e++;
				mant <<= 1;
			} while (!(mant & 0x400));
			mant &= 0x3ff;
			bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
		}
	} else if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (mant << 13);
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	}
	float f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

int nn__read_file(const char *path, size_t cap, char **data, size_t *size, mien_error *err)
{
	*data = NULL;
	*size = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return mien_error_set(err, MIEN_ENOENT, "cannot open %s", path);
	char *buf = NULL;
	int rc = MIEN_OK;
	if (fseek(f, 0, SEEK_END) != 0) {
		rc = mien_error_set(err, MIEN_EIO, "cannot seek %s", path);
		goto fail;
	}
	long len = ftell(f);
	if (len < 0) {
		rc = mien_error_set(err, MIEN_EIO, "cannot size %s", path);
		goto fail;
	}
	if ((size_t)len > cap) {
		rc = mien_error_set(err, MIEN_ETOOBIG, "%s is %ld bytes, over the %zu-byte limit", path, len, cap);
		goto fail;
	}
	rewind(f);
	buf = malloc((size_t)len + 1);
	if (!buf) {
		rc = mien_error_set(err, MIEN_ENOMEM, "out of memory reading %s", path);
		goto fail;
	}
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		rc = mien_error_set(err, MIEN_EIO, "short read on %s", path);
		goto fail;
	}
	buf[len] = '\0';
	fclose(f);
	*data = buf;
	*size = (size_t)len;
	return MIEN_OK;
fail:
	free(buf);
	fclose(f);
	return rc;
}
