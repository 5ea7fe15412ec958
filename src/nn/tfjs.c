/*
 * tfjs.c — TF.js graph models: model.json (a TensorFlow GraphDef as JSON) plus weight shards, into the IR.
 *
 * Every Const node's value comes from the weights manifest under the node's name. Each TensorFlow op is
 * mapped onto one IR node (or two, where a fused op ends in an activation XNNPACK cannot fuse); ops we do not
 * know are an error naming the model, the node and the op.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

#define MODEL_JSON_MAX ((size_t)64 << 20)

typedef struct loader {
	nn_graph *g;
	const char *model;
	mien_error *err;
} loader;

/* ---- attribute access: attr values are {"i": "2"}, {"f": 0.1}, {"s": base64}, {"b": true}, {"list": {...}} */

static json_t *attr(json_t *node, const char *key)
{
	return json_object_get(json_object_get(node, "attr"), key);
}

static long long json_int_any(json_t *v, long long fallback)
{
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v)) {
		char *end = NULL;
		long long x = strtoll(json_string_value(v), &end, 10);
		if (end && *end == '\0')
			return x;
	}
	return fallback;
}

static long long attr_int(json_t *node, const char *key, long long fallback)
{
	json_t *a = attr(node, key);
	return a ? json_int_any(json_object_get(a, "i"), fallback) : fallback;
}

static double attr_float(json_t *node, const char *key, double fallback)
{
	json_t *f = json_object_get(attr(node, key), "f");
	return json_is_number(f) ? json_number_value(f) : fallback;
}

static int attr_bool(json_t *node, const char *key)
{
	return json_is_true(json_object_get(attr(node, key), "b"));
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes a base64 string attribute into out (NUL-terminated, truncated to size). */
static const char *b64_decode(const char *in, char *out, size_t size)
{
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *in && *in != '='; in++) {
		int v = b64_value(*in);
		if (v < 0)
			break;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 < size)
				out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[n] = '\0';
	return out;
}

static const char *attr_string(json_t *node, const char *key, char *buf, size_t size)
{
	const char *s = json_string_value(json_object_get(attr(node, key), "s"));
	if (!s)
		return NULL;
	return b64_decode(s, buf, size);
}

/* Reads attr.list.i into out (up to max); returns the count or -1. */
static int attr_ints(json_t *node, const char *key, long long *out, int max)
{
	json_t *list = json_object_get(json_object_get(attr(node, key), "list"), "i");
	if (!json_is_array(list))
		return -1;
	int n = (int)json_array_size(list);
	if (n > max)
		return -1;
	for (int i = 0; i < n; i++)
		out[i] = json_int_any(json_array_get(list, (size_t)i), 0);
	return n;
}

/* Reads attr.list.s (base64) entry i. */
static const char *attr_strings_at(json_t *node, const char *key, size_t i, char *buf, size_t size)
{
	json_t *list = json_object_get(json_object_get(attr(node, key), "list"), "s");
	const char *s = json_string_value(json_array_get(list, i));
	return s ? b64_decode(s, buf, size) : NULL;
}

static size_t attr_strings_len(json_t *node, const char *key)
{
	return json_array_size(json_object_get(json_object_get(attr(node, key), "list"), "s"));
}

/* ---- helpers */

static int fail_node(loader *l, int code, json_t *node, const char *what)
{
	return mien_error_set(l->err, code, "%s: node %s (op %s): %s", l->model,
	                      json_string_value(json_object_get(node, "name")) ?: "?",
	                      json_string_value(json_object_get(node, "op")) ?: "?", what);
}

/* Resolves an input reference ("name", "name:0", "^control") to a tensor id; -2 for control inputs. */
static int input_tensor(loader *l, json_t *node, size_t i, int *out)
{
	const char *ref = json_string_value(json_array_get(json_object_get(node, "input"), i));
	if (!ref)
		return fail_node(l, MIEN_EFORMAT, node, "input is not a string");
	if (ref[0] == '^') {
		*out = -2;
		return MIEN_OK;
	}
	char name[1024];
	size_t n = strlen(ref);
	if (n >= sizeof(name))
		return fail_node(l, MIEN_EFORMAT, node, "input name too long");
	memcpy(name, ref, n + 1);
	char *colon = strrchr(name, ':');
	if (colon) {
		if (strcmp(colon, ":0") != 0) {
			char msg[1200];
			snprintf(msg, sizeof(msg), "input %s uses a second output, which is not supported", ref);
			return fail_node(l, MIEN_EUNSUPPORTED, node, msg);
		}
		*colon = '\0';
	}
	int t = nn__graph_find_tensor(l->g, name);
	if (t < 0) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "input %s is not defined (no such node or weight)", name);
		return fail_node(l, MIEN_EFORMAT, node, msg);
	}
	*out = t;
	return MIEN_OK;
}

static int set_padding(loader *l, json_t *node, nn_padding *padding, int *pads4)
{
	char buf[32];
	const char *p = attr_string(node, "padding", buf, sizeof(buf));
	if (!p)
		return fail_node(l, MIEN_EFORMAT, node, "padding attribute missing");
	if (strcmp(p, "SAME") == 0) {
		*padding = NN_PAD_SAME;
	} else if (strcmp(p, "VALID") == 0) {
		*padding = NN_PAD_VALID;
	} else if (strcmp(p, "EXPLICIT") == 0) {
		long long e[8];
		if (attr_ints(node, "explicit_paddings", e, 8) != 8)
			return fail_node(l, MIEN_EFORMAT, node, "explicit_paddings must have 8 values");
		*padding = NN_PAD_EXPLICIT;
		pads4[0] = (int)e[2];
		pads4[1] = (int)e[3];
		pads4[2] = (int)e[4];
		pads4[3] = (int)e[5];
	} else {
		return fail_node(l, MIEN_EUNSUPPORTED, node, "unknown padding");
	}
	return MIEN_OK;
}

static int check_nhwc(loader *l, json_t *node)
{
	char buf[16];
	const char *f = attr_string(node, "data_format", buf, sizeof(buf));
	if (f && strcmp(f, "NHWC") != 0)
		return fail_node(l, MIEN_EUNSUPPORTED, node, "only NHWC data_format is supported");
	return MIEN_OK;
}

static int conv_params(loader *l, json_t *node, nn_conv_params *c)
{
	long long s[4] = { 1, 1, 1, 1 }, d[4] = { 1, 1, 1, 1 };
	int rc = check_nhwc(l, node);
	if (rc)
		return rc;
	if (attr_ints(node, "strides", s, 4) != 4)
		return fail_node(l, MIEN_EFORMAT, node, "strides must have 4 values");
	if (attr(node, "dilations") && attr_ints(node, "dilations", d, 4) != 4)
		return fail_node(l, MIEN_EFORMAT, node, "dilations must have 4 values");
	if (s[0] != 1 || s[3] != 1 || d[0] != 1 || d[3] != 1 || s[1] < 1 || s[2] < 1 || d[1] < 1 || d[2] < 1 ||
	    s[1] > 64 || s[2] > 64 || d[1] > 64 || d[2] > 64)
		return fail_node(l, MIEN_EUNSUPPORTED, node, "unsupported strides or dilations");
	c->stride_h = (int)s[1];
	c->stride_w = (int)s[2];
	c->dilation_h = (int)d[1];
	c->dilation_w = (int)d[2];
	int pads[4] = { 0 };
	rc = set_padding(l, node, &c->padding, pads);
	c->pad_top = pads[0];
	c->pad_bottom = pads[1];
	c->pad_left = pads[2];
	c->pad_right = pads[3];
	return rc;
}

static int pool_params(loader *l, json_t *node, nn_pool_params *p)
{
	long long k[4], s[4];
	int rc = check_nhwc(l, node);
	if (rc)
		return rc;
	if (attr_ints(node, "ksize", k, 4) != 4 || attr_ints(node, "strides", s, 4) != 4)
		return fail_node(l, MIEN_EFORMAT, node, "ksize and strides must have 4 values");
	if (k[0] != 1 || k[3] != 1 || s[0] != 1 || s[3] != 1 || k[1] < 1 || k[2] < 1 || s[1] < 1 || s[2] < 1 ||
	    k[1] > 256 || k[2] > 256 || s[1] > 256 || s[2] > 256)
		return fail_node(l, MIEN_EUNSUPPORTED, node, "pooling over batch or channels is not supported");
	p->kernel_h = (int)k[1];
	p->kernel_w = (int)k[2];
	p->stride_h = (int)s[1];
	p->stride_w = (int)s[2];
	int pads[4] = { 0 };
	rc = set_padding(l, node, &p->padding, pads);
	p->pad_top = pads[0];
	p->pad_bottom = pads[1];
	p->pad_left = pads[2];
	p->pad_right = pads[3];
	return rc;
}

/* Adds `n` to the graph under the TF node's name, checking the result. */
static int add(loader *l, json_t *node, nn_node *n)
{
	int t = nn__graph_add_node(l->g, n);
	if (t < 0)
		return fail_node(l, t, node, "cannot add node (out of memory or too many inputs)");
	return MIEN_OK;
}

/* Applies the activation named `act` of a fused op: Relu/Relu6 become the node's clamp; Prelu and LeakyRelu
 * become a second node that takes the TF node's name. `base` has its inputs set. */
static int add_fused(loader *l, json_t *node, nn_node *base, const char *act, int prelu_alpha)
{
	const char *name = base->name;
	if (!act || !*act)
		return add(l, node, base);
	if (strcmp(act, "Relu") == 0) {
		base->out_min = 0;
		return add(l, node, base);
	}
	if (strcmp(act, "Relu6") == 0) {
		base->out_min = 0;
		base->out_max = 6;
		return add(l, node, base);
	}
	int is_prelu = strcmp(act, "Prelu") == 0, is_leaky = strcmp(act, "LeakyRelu") == 0;
	int is_elu = strcmp(act, "Elu") == 0, is_sigmoid = strcmp(act, "Sigmoid") == 0;
	if (!is_prelu && !is_leaky && !is_sigmoid) {
		(void)is_elu;
		return fail_node(l, MIEN_EUNSUPPORTED, node, "unsupported fused activation");
	}
	char inner[1100];
	snprintf(inner, sizeof(inner), "%s/_pre_activation", name);
	base->name = inner;
	int t = nn__graph_add_node(l->g, base);
	if (t < 0)
		return fail_node(l, t, node, "cannot add node");
	nn_node a = nn__node(is_prelu   ? NN_OP_PRELU
	                     : is_leaky ? NN_OP_LEAKY_RELU
	                                : NN_OP_SIGMOID,
	                     name, base->source_op);
	a.n_inputs = is_prelu ? 2 : 1;
	a.inputs[0] = t;
	if (is_prelu) {
		if (prelu_alpha < 0)
			return fail_node(l, MIEN_EFORMAT, node, "Prelu without alpha input");
		a.inputs[1] = prelu_alpha;
	}
	if (is_leaky)
		a.p.alpha = (float)attr_float(node, "leakyrelu_alpha", 0.2);
	return add(l, node, &a);
}

/* The BiasAdd[+activation] tail of a fused TF op: sets the bias input and returns the activation name (NULL for
 * none) and the PReLU alpha input (-1 for none). */
static int fused_bias_activation(loader *l, json_t *node, const int *in, int n_in, nn_node *n, const char **act,
                                 char *act_buf, size_t act_size, int *alpha)
{
	char buf[64];
	size_t n_ops = attr_strings_len(node, "fused_ops");
	const char *first = attr_strings_at(node, "fused_ops", 0, buf, sizeof(buf));
	if (n_ops < 1 || n_ops > 2 || !first || strcmp(first, "BiasAdd") != 0 || n_in < 3)
		return fail_node(l, MIEN_EUNSUPPORTED, node,
		                 "fused ops other than BiasAdd[+activation] are not supported");
	n->inputs[2] = in[2];
	*act = n_ops == 2 ? attr_strings_at(node, "fused_ops", 1, act_buf, act_size) : NULL;
	*alpha = n_in > 3 ? in[3] : -1;
	return MIEN_OK;
}

typedef struct simple_op {
	const char *tf;
	nn_op op;
	int n_inputs;
} simple_op;

static const simple_op simple_ops[] = {
	{ "Add", NN_OP_ADD, 2 },
	{ "AddV2", NN_OP_ADD, 2 },
	{ "BiasAdd", NN_OP_ADD, 2 },
	{ "Sub", NN_OP_SUB, 2 },
	{ "Mul", NN_OP_MUL, 2 },
	{ "RealDiv", NN_OP_DIV, 2 },
	{ "Div", NN_OP_DIV, 2 },
	{ "Maximum", NN_OP_MAXIMUM, 2 },
	{ "Minimum", NN_OP_MINIMUM, 2 },
	{ "Prelu", NN_OP_PRELU, 2 },
	{ "Abs", NN_OP_ABS, 1 },
	{ "Square", NN_OP_SQUARE, 1 },
	{ "Sqrt", NN_OP_SQRT, 1 },
	{ "Rsqrt", NN_OP_RSQRT, 1 },
	{ "Sigmoid", NN_OP_SIGMOID, 1 },
	{ "Softmax", NN_OP_SOFTMAX, 1 },
	{ "Exp", NN_OP_EXP, 1 },
	{ "Tanh", NN_OP_TANH, 1 },
	{ "Identity", NN_OP_IDENTITY, 1 },
	{ "Reshape", NN_OP_RESHAPE, 2 },
	{ "Shape", NN_OP_SHAPE, 1 },
	{ "Pad", NN_OP_PAD, 2 },
	{ "ResizeBilinear", NN_OP_RESIZE_BILINEAR, 2 },
	{ "Mean", NN_OP_MEAN, 2 },
	{ "Sum", NN_OP_SUM, 2 },
};

static int map_node(loader *l, json_t *node)
{
	const char *op = json_string_value(json_object_get(node, "op"));
	const char *name = json_string_value(json_object_get(node, "name"));
	json_t *inputs = json_object_get(node, "input");
	int in[NN_NODE_MAX_INPUTS + 1];
	int n_in = 0;
	for (size_t i = 0; i < json_array_size(inputs); i++) {
		int t = -1;
		int rc = input_tensor(l, node, i, &t);
		if (rc)
			return rc;
		if (t == -2)
			continue; /* control dependency: ordering only */
		if (n_in == NN_NODE_MAX_INPUTS + 1)
			return fail_node(l, MIEN_EUNSUPPORTED, node, "too many inputs");
		in[n_in++] = t;
	}
	nn_node n = nn__node(NN_OP_NONE, name, op);

	for (size_t i = 0; i < MIEN_ARRAY_LEN(simple_ops); i++) {
		if (strcmp(op, simple_ops[i].tf) != 0)
			continue;
		if (n_in != simple_ops[i].n_inputs)
			return fail_node(l, MIEN_EFORMAT, node, "wrong number of inputs");
		n.op = simple_ops[i].op;
		n.n_inputs = n_in;
		memcpy(n.inputs, in, sizeof(int) * (size_t)n_in);
		if (n.op == NN_OP_MEAN || n.op == NN_OP_SUM)
			n.p.reduce.keep_dims = attr_bool(node, "keep_dims");
		if (n.op == NN_OP_RESIZE_BILINEAR) {
			n.p.resize.align_corners = attr_bool(node, "align_corners");
			n.p.resize.half_pixel_centers = attr_bool(node, "half_pixel_centers");
		}
		return add(l, node, &n);
	}
	if (strcmp(op, "Relu") == 0 || strcmp(op, "Relu6") == 0) {
		if (n_in != 1)
			return fail_node(l, MIEN_EFORMAT, node, "wrong number of inputs");
		n.op = NN_OP_CLAMP;
		n.n_inputs = 1;
		n.inputs[0] = in[0];
		n.out_min = 0;
		if (op[4] == '6')
			n.out_max = 6;
		return add(l, node, &n);
	}
	if (strcmp(op, "LeakyRelu") == 0) {
		if (n_in != 1)
			return fail_node(l, MIEN_EFORMAT, node, "wrong number of inputs");
		n.op = NN_OP_LEAKY_RELU;
		n.n_inputs = 1;
		n.inputs[0] = in[0];
		n.p.alpha = (float)attr_float(node, "alpha", 0.2);
		return add(l, node, &n);
	}
	if (strcmp(op, "Conv2D") == 0 || strcmp(op, "_FusedConv2D") == 0 || strcmp(op, "DepthwiseConv2dNative") == 0 ||
	    strcmp(op, "FusedDepthwiseConv2dNative") == 0) {
		int fused = op[0] == '_' || op[0] == 'F';
		n.op = strstr(op, "Depthwise") ? NN_OP_DEPTHWISE_CONV2D : NN_OP_CONV2D;
		int rc = conv_params(l, node, &n.p.conv);
		if (rc)
			return rc;
		if (n_in < 2)
			return fail_node(l, MIEN_EFORMAT, node, "convolution needs input and filter");
		n.inputs[0] = in[0];
		n.inputs[1] = in[1];
		n.n_inputs = 3;
		const char *act = NULL;
		char act_buf[32];
		int alpha = -1;
		if (fused) {
			int frc = fused_bias_activation(l, node, in, n_in, &n, &act, act_buf, sizeof(act_buf), &alpha);
			if (frc)
				return frc;
		}
		return add_fused(l, node, &n, act, alpha);
	}
	if (strcmp(op, "MatMul") == 0 || strcmp(op, "_FusedMatMul") == 0) {
		if (attr_bool(node, "transpose_a"))
			return fail_node(l, MIEN_EUNSUPPORTED, node, "transpose_a is not supported");
		if (n_in < 2)
			return fail_node(l, MIEN_EFORMAT, node, "MatMul needs two inputs");
		n.op = NN_OP_MATMUL;
		n.p.matmul.transpose_b = attr_bool(node, "transpose_b");
		n.inputs[0] = in[0];
		n.inputs[1] = in[1];
		n.n_inputs = 3;
		const char *act = NULL;
		char act_buf[32];
		int alpha = -1;
		if (op[0] == '_') {
			int frc = fused_bias_activation(l, node, in, n_in, &n, &act, act_buf, sizeof(act_buf), &alpha);
			if (frc)
				return frc;
		}
		return add_fused(l, node, &n, act, alpha);
	}
	if (strcmp(op, "MaxPool") == 0 || strcmp(op, "AvgPool") == 0) {
		n.op = op[0] == 'M' ? NN_OP_MAX_POOL : NN_OP_AVG_POOL;
		int rc = pool_params(l, node, &n.p.pool);
		if (rc)
			return rc;
		if (n_in != 1)
			return fail_node(l, MIEN_EFORMAT, node, "wrong number of inputs");
		n.n_inputs = 1;
		n.inputs[0] = in[0];
		return add(l, node, &n);
	}
	if (strcmp(op, "PadV2") == 0) {
		if (n_in != 3 || !l->g->tensors[in[2]].data)
			return fail_node(l, MIEN_EUNSUPPORTED, node, "PadV2 needs a constant pad value");
		n.op = NN_OP_PAD;
		n.n_inputs = 2;
		n.inputs[0] = in[0];
		n.inputs[1] = in[1];
		n.p.pad_value = *(const float *)l->g->tensors[in[2]].data;
		return add(l, node, &n);
	}
	if (strcmp(op, "Squeeze") == 0) {
		long long axes[NN_MAX_RANK];
		int k = attr(node, "squeeze_dims") ? attr_ints(node, "squeeze_dims", axes, NN_MAX_RANK) : 0;
		if (k < 0 || n_in != 1)
			return fail_node(l, MIEN_EFORMAT, node, "bad squeeze_dims");
		n.op = NN_OP_SQUEEZE;
		n.n_inputs = 1;
		n.inputs[0] = in[0];
		n.p.reduce.n_axes = k;
		for (int i = 0; i < k; i++)
			n.p.reduce.axes[i] = (int)axes[i];
		return add(l, node, &n);
	}
	if (strcmp(op, "DepthToSpace") == 0) {
		if (check_nhwc(l, node) || n_in != 1)
			return fail_node(l, MIEN_EUNSUPPORTED, node, "DepthToSpace must be NHWC with one input");
		n.op = NN_OP_DEPTH_TO_SPACE;
		n.n_inputs = 1;
		n.inputs[0] = in[0];
		n.p.block = (int)attr_int(node, "block_size", 0);
		if (n.p.block < 1 || n.p.block > 64)
			return fail_node(l, MIEN_EFORMAT, node, "bad block_size");
		return add(l, node, &n);
	}
	if (strcmp(op, "ConcatV2") == 0) {
		if (n_in < 2 || n_in - 1 > NN_NODE_MAX_INPUTS)
			return fail_node(l, MIEN_EUNSUPPORTED, node, "ConcatV2 with too few or too many inputs");
		nn_tensor *axis = &l->g->tensors[in[n_in - 1]];
		if (!axis->data || axis->dtype != NN_DTYPE_I32)
			return fail_node(l, MIEN_EUNSUPPORTED, node, "ConcatV2 axis must be a constant");
		n.op = NN_OP_CONCAT;
		n.p.axis = *(const int32_t *)axis->data;
		n.n_inputs = n_in - 1;
		memcpy(n.inputs, in, sizeof(int) * (size_t)(n_in - 1));
		return add(l, node, &n);
	}
	if (strcmp(op, "StridedSlice") == 0) {
		if (n_in != 4)
			return fail_node(l, MIEN_EFORMAT, node, "StridedSlice needs 4 inputs");
		n.op = NN_OP_STRIDED_SLICE;
		n.n_inputs = 4;
		memcpy(n.inputs, in, sizeof(int) * 4);
		n.p.slice.begin_mask = (int)attr_int(node, "begin_mask", 0);
		n.p.slice.end_mask = (int)attr_int(node, "end_mask", 0);
		n.p.slice.ellipsis_mask = (int)attr_int(node, "ellipsis_mask", 0);
		n.p.slice.new_axis_mask = (int)attr_int(node, "new_axis_mask", 0);
		n.p.slice.shrink_axis_mask = (int)attr_int(node, "shrink_axis_mask", 0);
		if (n.p.slice.ellipsis_mask || n.p.slice.new_axis_mask)
			return fail_node(l, MIEN_EUNSUPPORTED, node, "ellipsis and new-axis masks are not supported");
		return add(l, node, &n);
	}
	if (strcmp(op, "Pack") == 0) {
		if (n_in < 1 || n_in > NN_NODE_MAX_INPUTS)
			return fail_node(l, MIEN_EUNSUPPORTED, node, "Pack with too many inputs");
		n.op = NN_OP_PACK;
		n.p.axis = (int)attr_int(node, "axis", 0);
		n.n_inputs = n_in;
		memcpy(n.inputs, in, sizeof(int) * (size_t)n_in);
		return add(l, node, &n);
	}
	return fail_node(l, MIEN_EUNSUPPORTED, node, "unsupported op");
}

static int parse_tensor_shape(json_t *tensor_shape, nn_shape *shape)
{
	json_t *dims = json_object_get(tensor_shape, "dim");
	if (!json_is_object(tensor_shape) || json_object_get(tensor_shape, "unknownRank"))
		return MIEN_EFORMAT;
	if (!dims) { /* TF writes a scalar's shape as {} */
		shape->rank = 0;
		return MIEN_OK;
	}
	if (!json_is_array(dims) || json_array_size(dims) > NN_MAX_RANK)
		return MIEN_EFORMAT;
	shape->rank = (int)json_array_size(dims);
	for (int i = 0; i < shape->rank; i++) {
		long long d = json_int_any(json_object_get(json_array_get(dims, (size_t)i), "size"), -2);
		if (d < -1 || d > (1 << 20))
			return MIEN_EFORMAT;
		shape->dims[i] = d;
	}
	return MIEN_OK;
}

/* A Const node missing from the manifest may carry its value inline (small int/float tensors). */
static int inline_const(loader *l, json_t *node)
{
	json_t *tensor = json_object_get(json_object_get(attr(node, "value"), "tensor"), "tensorShape");
	json_t *value = json_object_get(json_object_get(attr(node, "value"), "tensor"), NULL);
	(void)value;
	if (!tensor)
		return fail_node(l, MIEN_EFORMAT, node, "constant has no weight in the manifest and no inline value");
	json_t *t = json_object_get(attr(node, "value"), "tensor");
	nn_shape shape;
	if (parse_tensor_shape(tensor, &shape))
		return fail_node(l, MIEN_EFORMAT, node, "inline constant has a bad shape");
	const char *dtype = json_string_value(json_object_get(t, "dtype"));
	int is_int = dtype && strcmp(dtype, "DT_INT32") == 0;
	json_t *vals = json_object_get(t, is_int ? "intVal" : "floatVal");
	int64_t count = nn_shape_count(&shape);
	if (!json_is_array(vals) || count > 4096)
		return fail_node(l, MIEN_EUNSUPPORTED, node, "inline constant is not a small int32/float tensor");
	int id = nn__graph_add_const(l->g, json_string_value(json_object_get(node, "name")),
	                             is_int ? NN_DTYPE_I32 : NN_DTYPE_F32, &shape, NULL);
	if (id < 0)
		return fail_node(l, id, node, "cannot store inline constant");
	size_t nv = json_array_size(vals);
	for (int64_t i = 0; i < count; i++) {
		json_t *v = json_array_get(vals, nv == 1 ? 0 : (size_t)i);
		if (is_int)
			((int32_t *)l->g->tensors[id].data)[i] = (int32_t)json_int_any(v, 0);
		else
			((float *)l->g->tensors[id].data)[i] = (float)json_number_value(v);
	}
	return MIEN_OK;
}

static void model_name_from_path(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(out, size, "%s", base);
	char *dot = strstr(out, ".json");
	if (dot && dot != out)
		*dot = '\0';
	if (strcmp(out, "model") == 0 && base != path) {
		/* .../blazeface/model.json: name it after the folder */
		const char *end = base - 1, *start = end;
		while (start > path && start[-1] != '/')
			start--;
		snprintf(out, size, "%.*s", (int)(end - start), start);
	}
}

/* Graph outputs: the signature's outputs when present (in file order), else nodes nothing consumes. */
static int add_outputs(loader *l, json_t *root, json_t *nodes)
{
	json_t *sig = json_object_get(root, "signature");
	if (!sig)
		sig = json_object_get(json_object_get(root, "userDefinedMetadata"), "signature");
	json_t *outs = json_object_get(sig, "outputs");
	if (json_is_object(outs) && json_object_size(outs) > 0) {
		const char *key;
		json_t *v;
		json_object_foreach(outs, key, v)
		{
			const char *ref = json_string_value(json_object_get(v, "name"));
			char name[1024];
			snprintf(name, sizeof(name), "%s", ref ? ref : key);
			char *colon = strrchr(name, ':');
			if (colon)
				*colon = '\0';
			int t = nn__graph_find_tensor(l->g, name);
			if (t < 0)
				return mien_error_set(l->err, MIEN_EFORMAT, "%s: signature output %s is not a node",
				                      l->model, name);
			if (nn__graph_add_output(l->g, t, NULL))
				return mien_error_set(l->err, MIEN_ERANGE, "%s: too many outputs", l->model);
		}
		return MIEN_OK;
	}
	size_t n = json_array_size(nodes);
	for (size_t i = 0; i < n; i++) {
		json_t *node = json_array_get(nodes, i);
		const char *name = json_string_value(json_object_get(node, "name"));
		const char *op = json_string_value(json_object_get(node, "op"));
		if (strcmp(op, "Const") == 0 || strcmp(op, "Placeholder") == 0)
			continue;
		int used = 0;
		for (size_t j = 0; j < n && !used; j++) {
			json_t *ins = json_object_get(json_array_get(nodes, j), "input");
			for (size_t k = 0; k < json_array_size(ins) && !used; k++) {
				const char *ref = json_string_value(json_array_get(ins, k));
				if (!ref)
					continue;
				if (ref[0] == '^')
					ref++;
				size_t len = strlen(name);
				if (strncmp(ref, name, len) == 0 && (ref[len] == '\0' || ref[len] == ':'))
					used = 1;
			}
		}
		if (!used) {
			int t = nn__graph_find_tensor(l->g, name);
			if (t < 0 || nn__graph_add_output(l->g, t, NULL))
				return mien_error_set(l->err, MIEN_ERANGE, "%s: too many outputs", l->model);
		}
	}
	if (l->g->n_outputs == 0)
		return mien_error_set(l->err, MIEN_EFORMAT, "%s: the graph has no outputs", l->model);
	return MIEN_OK;
}

int nn__tfjs_load(nn_graph *g, const char *path, mien_error *err)
{
	char model[256];
	model_name_from_path(path, model, sizeof(model));
	loader l = { .g = g, .model = model, .err = err };
	char *text = NULL;
	size_t size = 0;
	json_t *root = NULL;
	int rc = nn__read_file(path, MODEL_JSON_MAX, &text, &size, err);
	if (rc)
		return mien_error_prefix(err, "%s", model);
	json_error_t jerr;
	root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root)
		return mien_error_set(err, MIEN_EFORMAT, "%s: malformed JSON at line %d column %d: %s", model,
		                      jerr.line, jerr.column, jerr.text);
	json_t *nodes = json_object_get(json_object_get(root, "modelTopology"), "node");
	json_t *manifest = json_object_get(root, "weightsManifest");
	if (!json_is_array(nodes) || !json_is_array(manifest)) {
		rc = mien_error_set(err, MIEN_EFORMAT, "%s: model.json lacks modelTopology.node or weightsManifest",
		                    model);
		goto done;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	rc = nn__manifest_load(g, manifest, dir, err);
	if (rc)
		goto done;
	g->source_nodes = (int)json_array_size(nodes);

	/* Nodes may be listed in any order: map them in passes until none is left, so inputs are defined first. */
	size_t n = json_array_size(nodes);
	unsigned char *done_flags = calloc(n ? n : 1, 1);
	if (!done_flags) {
		rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory", model);
		goto done;
	}
	size_t remaining = n;
	for (size_t i = 0; i < n; i++) {
		json_t *node = json_array_get(nodes, i);
		const char *name = json_string_value(json_object_get(node, "name"));
		const char *op = json_string_value(json_object_get(node, "op"));
		if (!name || !op || !*name || strlen(name) > 1000) {
			rc = mien_error_set(err, MIEN_EFORMAT, "%s: node %zu has no name or op", model, i);
			goto free_flags;
		}
		nn__graph_count_op(g, op);
		if (strcmp(op, "Const") == 0) {
			done_flags[i] = 1;
			remaining--;
			if (nn__graph_find_tensor(g, name) < 0 && (rc = inline_const(&l, node)))
				goto free_flags;
		} else if (strcmp(op, "Placeholder") == 0) {
			nn_shape shape;
			if (parse_tensor_shape(json_object_get(attr(node, "shape"), "shape"), &shape)) {
				rc = fail_node(&l, MIEN_EFORMAT, node, "Placeholder has no usable shape");
				goto free_flags;
			}
			if (nn__graph_add_input(g, name, &shape) < 0) {
				rc = fail_node(&l, MIEN_ERANGE, node, "too many inputs");
				goto free_flags;
			}
			done_flags[i] = 1;
			remaining--;
		}
	}
	while (remaining > 0) {
		size_t progress = 0;
		for (size_t i = 0; i < n; i++) {
			if (done_flags[i])
				continue;
			json_t *node = json_array_get(nodes, i);
			json_t *ins = json_object_get(node, "input");
			int ready = 1;
			for (size_t k = 0; k < json_array_size(ins) && ready; k++) {
				const char *ref = json_string_value(json_array_get(ins, k));
				char nm[1024];
				if (!ref)
					break; /* map_node reports it */
				snprintf(nm, sizeof(nm), "%s", ref[0] == '^' ? ref + 1 : ref);
				char *colon = strrchr(nm, ':');
				if (colon)
					*colon = '\0';
				if (nn__graph_find_tensor(g, nm) < 0) {
					/* defined later in the file? then wait; else map_node reports it */
					for (size_t j = 0; j < n; j++) {
						const char *other = json_string_value(
						        json_object_get(json_array_get(nodes, j), "name"));
						if (!done_flags[j] && other && strcmp(other, nm) == 0) {
							ready = 0;
							break;
						}
					}
				}
			}
			if (!ready)
				continue;
			rc = map_node(&l, node);
			if (rc)
				goto free_flags;
			done_flags[i] = 1;
			remaining--;
			progress++;
		}
		if (progress == 0) {
			rc = mien_error_set(err, MIEN_EFORMAT, "%s: the graph has a cycle", model);
			goto free_flags;
		}
	}
	if (g->n_inputs == 0) {
		rc = mien_error_set(err, MIEN_EFORMAT, "%s: the graph has no Placeholder input", model);
		goto free_flags;
	}
	rc = add_outputs(&l, root, nodes);
	/* fully convolutional (no MatMul) image models may run at other spatial sizes */
	g->resizable = g->tensors[g->inputs[0]].shape.rank == 4;
	for (int i = 0; i < g->n_nodes; i++)
		if (g->nodes[i].op == NN_OP_MATMUL)
			g->resizable = 0;
free_flags:
	free(done_flags);
done:
	json_decref(root);
	return rc;
}
