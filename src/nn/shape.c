/*
 * shape.c — shape inference over the IR, and evaluation of the integer shape-only subgraphs
 * (Shape → StridedSlice → Pack → Reshape target) that TF.js graphs carry, so they fold to constants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

#define IVAL_MAX (NN_MAX_RANK * 2)
/* a hard cap on any one activation (1 GiB of float32): far above a 4K frame, below what breaks a machine */
#define NN_TENSOR_MAX_ELEMENTS ((int64_t)1 << 28)

typedef struct ctx {
	const nn_graph *g;
	nn_shape_env *env;
	mien_error *err;
	int resized; /* the inputs differ from the published shapes */
} ctx;

static int fail(ctx *c, const nn_node *n, const char *fmt, const char *detail)
{
	char msg[400];
	snprintf(msg, sizeof(msg), fmt, detail ? detail : "");
	return mien_error_set(c->err, MIEN_EFORMAT, "%s: node %s (op %s): %s", c->g->model_name, n->name, n->source_op,
	                      msg);
}

static const nn_shape *in_shape(ctx *c, const nn_node *n, int i)
{
	return &c->env->shapes[n->inputs[i]];
}

/* Integer values of input i (a constant or a folded shape tensor); NULL when unknown. */
static const int64_t *in_ivals(ctx *c, const nn_node *n, int i, int *len)
{
	int t = n->inputs[i];
	if (t < 0 || c->env->ilen[t] < 0)
		return NULL;
	*len = c->env->ilen[t];
	return c->env->ivalues[t];
}

static int64_t conv_out(int64_t in, int k, int s, int d, nn_padding pad, int before, int after)
{
	int64_t dk = (int64_t)(k - 1) * d + 1;
	switch (pad) {
	case NN_PAD_SAME:
		return (in + s - 1) / s;
	case NN_PAD_VALID:
		return in >= dk ? (in - dk) / s + 1 : 0;
	default:
		return in + before + after >= dk ? (in + before + after - dk) / s + 1 : 0;
	}
}

static int broadcast(const nn_shape *a, const nn_shape *b, nn_shape *out)
{
	int r = a->rank > b->rank ? a->rank : b->rank;
	out->rank = r;
	for (int i = 0; i < r; i++) {
		int64_t da = i - (r - a->rank) >= 0 ? a->dims[i - (r - a->rank)] : 1;
		int64_t db = i - (r - b->rank) >= 0 ? b->dims[i - (r - b->rank)] : 1;
		if (da != db && da != 1 && db != 1)
			return MIEN_EINVAL;
		out->dims[i] = da == 1 ? db : da;
	}
	return MIEN_OK;
}

static int norm_axis(int axis, int rank)
{
	return axis < 0 ? axis + rank : axis;
}

static int reshape(ctx *c, const nn_node *n, const nn_shape *x, nn_shape *out)
{
	int len;
	const int64_t *v = in_ivals(c, n, 1, &len);
	if (!v)
		return fail(c, n, "the target shape is not a constant%s", NULL);
	if (len > NN_MAX_RANK)
		return fail(c, n, "target rank too large%s", NULL);
	int64_t total = nn_shape_count(x), known = 1;
	int unknown = -1;
	out->rank = len;
	for (int i = 0; i < len; i++) {
		out->dims[i] = v[i];
		if (v[i] == -1) {
			if (unknown >= 0)
				return fail(c, n, "more than one -1 in the target%s", NULL);
			unknown = i;
		} else if (v[i] < 0) {
			return fail(c, n, "negative target dimension%s", NULL);
		} else {
			known *= v[i];
		}
	}
	if (unknown < 0 && known != total && c->resized && len >= 2) {
		/* A detector head flattens [N,H,W,A*K] to a target baked in at the published size, e.g.
		 * [1,512,1]; at another size the anchor axis (1) is the one that changes. */
		known /= out->dims[1] ? out->dims[1] : 1;
		unknown = 1;
	}
	if (unknown >= 0) {
		if (known == 0 || total % known)
			return fail(c, n, "element count does not fit the target shape%s", NULL);
		out->dims[unknown] = total / known;
	} else if (known != total) {
		return fail(c, n, "element count does not match the target shape%s", NULL);
	}
	return MIEN_OK;
}

static int strided_slice(ctx *c, const nn_node *n, int64_t *vals, int *vlen, nn_shape *out)
{
	int len = 0, lb = 0, le = 0, ls = 0;
	const int64_t *x = in_ivals(c, n, 0, &len);
	const int64_t *b = in_ivals(c, n, 1, &lb), *e = in_ivals(c, n, 2, &le), *s = in_ivals(c, n, 3, &ls);
	if (!x || !b || !e || !s || lb != 1 || le != 1 || ls != 1 || in_shape(c, n, 0)->rank != 1)
		return fail(c, n, "only 1-D slices of known integer tensors are supported%s", NULL);
	int64_t begin = b[0], end = e[0], step = s[0];
	if (step == 0)
		return fail(c, n, "zero stride%s", NULL);
	if (n->p.slice.begin_mask & 1)
		begin = step > 0 ? 0 : len - 1;
	if (n->p.slice.end_mask & 1)
		end = step > 0 ? len : -len - 1;
	if (begin < 0)
		begin += len;
	if (end < 0 && !(n->p.slice.end_mask & 1))
		end += len;
	if (n->p.slice.shrink_axis_mask & 1)
		end = begin + 1, step = 1;
	int count = 0;
	for (int64_t i = begin; step > 0 ? i < end : i > end; i += step) {
		if (i < 0 || i >= len || count == IVAL_MAX)
			return fail(c, n, "slice out of range%s", NULL);
		vals[count++] = x[i];
	}
	*vlen = count;
	if (n->p.slice.shrink_axis_mask & 1) {
		out->rank = 0;
	} else {
		out->rank = 1;
		out->dims[0] = count;
	}
	return MIEN_OK;
}

static int infer_node(ctx *c, const nn_node *n, nn_shape *out, int64_t *vals, int *vlen)
{
	const nn_graph *g = c->g;
	for (int i = 0; i < n->n_inputs; i++) {
		int t = n->inputs[i];
		if (t < 0)
			continue;
		if (c->env->shapes[t].rank < 0)
			return fail(c, n, "an input has no known shape%s", NULL);
	}
	const nn_shape *x = n->n_inputs > 0 && n->inputs[0] >= 0 ? in_shape(c, n, 0) : NULL;
	if (!x && n->op != NN_OP_PACK)
		return fail(c, n, "missing input%s", NULL);
	*vlen = -1;
	switch (n->op) {
	case NN_OP_CONV2D:
	case NN_OP_DEPTHWISE_CONV2D: {
		const nn_tensor *f = n->inputs[1] >= 0 ? &g->tensors[n->inputs[1]] : NULL;
		if (!f || !f->data || f->shape.rank != 4 || x->rank != 4)
			return fail(c, n, "needs a 4-D input and a constant 4-D filter%s", NULL);
		int64_t kh, kw, cin, cout;
		if (n->op == NN_OP_CONV2D) {
			if (f->xnn_layout) { /* OHWI */
				cout = f->shape.dims[0], kh = f->shape.dims[1], kw = f->shape.dims[2],
				cin = f->shape.dims[3];
			} else { /* HWIO */
				kh = f->shape.dims[0], kw = f->shape.dims[1], cin = f->shape.dims[2],
				cout = f->shape.dims[3];
			}
		} else {
			kh = f->shape.dims[f->xnn_layout ? 1 : 0], kw = f->shape.dims[f->xnn_layout ? 2 : 1];
			cin = x->dims[3];
			cout = f->xnn_layout ? f->shape.dims[3] : f->shape.dims[2] * f->shape.dims[3];
			if (!f->xnn_layout && f->shape.dims[2] != cin)
				return fail(c, n, "filter channels do not match the input%s", NULL);
		}
		if (cin != x->dims[3])
			return fail(c, n, "filter input channels do not match the input%s", NULL);
		if (n->inputs[2] >= 0 && nn_shape_count(&g->tensors[n->inputs[2]].shape) != cout)
			return fail(c, n, "bias size does not match the output channels%s", NULL);
		const nn_conv_params *p = &n->p.conv;
		out->rank = 4;
		out->dims[0] = x->dims[0];
		out->dims[1] = conv_out(x->dims[1], (int)kh, p->stride_h, p->dilation_h, p->padding, p->pad_top,
		                        p->pad_bottom);
		out->dims[2] = conv_out(x->dims[2], (int)kw, p->stride_w, p->dilation_w, p->padding, p->pad_left,
		                        p->pad_right);
		out->dims[3] = cout;
		if (out->dims[1] <= 0 || out->dims[2] <= 0)
			return fail(c, n, "the input is smaller than the kernel%s", NULL);
		return MIEN_OK;
	}
	case NN_OP_MATMUL: {
		const nn_tensor *w = &g->tensors[n->inputs[1]];
		if (!w->data || w->shape.rank != 2 || x->rank < 1)
			return fail(c, n, "needs constant 2-D weights%s", NULL);
		int64_t k = n->p.matmul.transpose_b || w->xnn_layout ? w->shape.dims[1] : w->shape.dims[0];
		int64_t nout = n->p.matmul.transpose_b || w->xnn_layout ? w->shape.dims[0] : w->shape.dims[1];
		if (x->dims[x->rank - 1] != k)
			return fail(c, n, "inner dimensions do not match%s", NULL);
		if (n->inputs[2] >= 0 && nn_shape_count(&g->tensors[n->inputs[2]].shape) != nout)
			return fail(c, n, "bias size does not match%s", NULL);
		*out = *x;
		out->dims[x->rank - 1] = nout;
		return MIEN_OK;
	}
	case NN_OP_ADD:
	case NN_OP_SUB:
	case NN_OP_MUL:
	case NN_OP_DIV:
	case NN_OP_MAXIMUM:
	case NN_OP_MINIMUM:
		if (broadcast(x, in_shape(c, n, 1), out))
			return fail(c, n, "operand shapes do not broadcast%s", NULL);
		return MIEN_OK;
	case NN_OP_PRELU: {
		const nn_shape *a = in_shape(c, n, 1);
		nn_shape tmp;
		if (broadcast(x, a, &tmp) || tmp.rank != x->rank)
			return fail(c, n, "alpha does not broadcast to the input%s", NULL);
		*out = *x;
		return MIEN_OK;
	}
	case NN_OP_CLAMP:
	case NN_OP_LEAKY_RELU:
	case NN_OP_ABS:
	case NN_OP_SQUARE:
	case NN_OP_SQRT:
	case NN_OP_RSQRT:
	case NN_OP_SIGMOID:
	case NN_OP_SOFTMAX:
	case NN_OP_EXP:
	case NN_OP_TANH:
	case NN_OP_IDENTITY:
		*out = *x;
		if (n->op == NN_OP_IDENTITY) {
			int len;
			const int64_t *v = in_ivals(c, n, 0, &len);
			if (v) {
				memcpy(vals, v, sizeof(int64_t) * (size_t)len);
				*vlen = len;
			}
		}
		return MIEN_OK;
	case NN_OP_MAX_POOL:
	case NN_OP_AVG_POOL: {
		const nn_pool_params *p = &n->p.pool;
		if (x->rank != 4)
			return fail(c, n, "pooling needs a 4-D input%s", NULL);
		*out = *x;
		out->dims[1] = conv_out(x->dims[1], p->kernel_h, p->stride_h, 1, p->padding, p->pad_top, p->pad_bottom);
		out->dims[2] = conv_out(x->dims[2], p->kernel_w, p->stride_w, 1, p->padding, p->pad_left, p->pad_right);
		if (out->dims[1] <= 0 || out->dims[2] <= 0)
			return fail(c, n, "the input is smaller than the window%s", NULL);
		return MIEN_OK;
	}
	case NN_OP_MEAN:
	case NN_OP_SUM: {
		int len = 0;
		const int64_t *axes = NULL;
		int64_t own[NN_MAX_RANK];
		if (n->n_inputs >= 2) {
			axes = in_ivals(c, n, 1, &len);
			if (!axes)
				return fail(c, n, "reduction axes must be constant%s", NULL);
		} else {
			len = n->p.reduce.n_axes;
			for (int i = 0; i < len; i++)
				own[i] = n->p.reduce.axes[i];
			axes = own;
		}
		int reduce[NN_MAX_RANK] = { 0 };
		for (int i = 0; i < len; i++) {
			int a = norm_axis((int)axes[i], x->rank);
			if (a < 0 || a >= x->rank)
				return fail(c, n, "reduction axis out of range%s", NULL);
			reduce[a] = 1;
		}
		out->rank = 0;
		for (int i = 0; i < x->rank; i++) {
			if (!reduce[i])
				out->dims[out->rank++] = x->dims[i];
			else if (n->p.reduce.keep_dims)
				out->dims[out->rank++] = 1;
		}
		return MIEN_OK;
	}
	case NN_OP_PAD: {
		int len;
		const int64_t *p = in_ivals(c, n, 1, &len);
		if (!p || len != 2 * x->rank)
			return fail(c, n, "paddings must be a constant [rank,2]%s", NULL);
		*out = *x;
		for (int i = 0; i < x->rank; i++) {
			if (p[2 * i] < 0 || p[2 * i + 1] < 0 || p[2 * i] > 4096 || p[2 * i + 1] > 4096)
				return fail(c, n, "negative or huge padding%s", NULL);
			out->dims[i] += p[2 * i] + p[2 * i + 1];
		}
		return MIEN_OK;
	}
	case NN_OP_RESHAPE:
		return reshape(c, n, x, out);
	case NN_OP_SQUEEZE: {
		int drop[NN_MAX_RANK] = { 0 };
		for (int i = 0; i < n->p.reduce.n_axes; i++) {
			int a = norm_axis(n->p.reduce.axes[i], x->rank);
			if (a < 0 || a >= x->rank || x->dims[a] != 1)
				return fail(c, n, "squeezed axis is not of size 1%s", NULL);
			drop[a] = 1;
		}
		out->rank = 0;
		for (int i = 0; i < x->rank; i++)
			if (!(n->p.reduce.n_axes ? drop[i] : x->dims[i] == 1))
				out->dims[out->rank++] = x->dims[i];
		return MIEN_OK;
	}
	case NN_OP_RESIZE_BILINEAR: {
		int len;
		const int64_t *sz = in_ivals(c, n, 1, &len);
		if (!sz || len != 2 || x->rank != 4 || sz[0] < 1 || sz[1] < 1 || sz[0] > 16384 || sz[1] > 16384)
			return fail(c, n, "size must be a constant pair of positive integers%s", NULL);
		*out = *x;
		out->dims[1] = sz[0];
		out->dims[2] = sz[1];
		const nn_shape *pub_in = &g->tensors[n->inputs[0]].shape, *pub_out = &g->tensors[n->output].shape;
		if (c->resized && pub_in->rank == 4 && pub_out->rank == 4 && pub_in->dims[1] > 0 &&
		    pub_in->dims[2] > 0 && pub_out->dims[1] % pub_in->dims[1] == 0 &&
		    pub_out->dims[2] % pub_in->dims[2] == 0) {
			/* an upsampling whose size was baked in at the published input size: keep its factor */
			out->dims[1] = x->dims[1] * (pub_out->dims[1] / pub_in->dims[1]);
			out->dims[2] = x->dims[2] * (pub_out->dims[2] / pub_in->dims[2]);
		}
		return MIEN_OK;
	}
	case NN_OP_DEPTH_TO_SPACE: {
		int b = n->p.block;
		if (x->rank != 4 || b < 1 || x->dims[3] % ((int64_t)b * b))
			return fail(c, n, "channels not divisible by block^2%s", NULL);
		*out = *x;
		out->dims[1] *= b;
		out->dims[2] *= b;
		out->dims[3] /= (int64_t)b * b;
		return MIEN_OK;
	}
	case NN_OP_CONCAT: {
		*out = *x;
		int a = norm_axis(n->p.axis, x->rank);
		if (a < 0 || a >= x->rank)
			return fail(c, n, "concat axis out of range%s", NULL);
		for (int i = 1; i < n->n_inputs; i++) {
			const nn_shape *s = in_shape(c, n, i);
			if (s->rank != x->rank)
				return fail(c, n, "concat inputs differ in rank%s", NULL);
			for (int d = 0; d < x->rank; d++)
				if (d != a && s->dims[d] != x->dims[d])
					return fail(c, n, "concat inputs differ off the axis%s", NULL);
			out->dims[a] += s->dims[a];
		}
		return MIEN_OK;
	}
	case NN_OP_HOST: {
		const nn_shape *ins[NN_NODE_MAX_INPUTS];
		for (int i = 0; i < n->n_inputs; i++)
			ins[i] = in_shape(c, n, i);
		if (!n->p.host.shape || !n->p.host.run)
			return fail(c, n, "host op without functions%s", NULL);
		int rc = n->p.host.shape(ins, n->n_inputs, n->p.host.params, out, c->err);
		if (rc)
			return mien_error_prefix(c->err, "%s: node %s (op %s)", g->model_name, n->name, n->source_op);
		return MIEN_OK;
	}
	case NN_OP_SHAPE:
		out->rank = 1;
		out->dims[0] = x->rank;
		for (int i = 0; i < x->rank; i++)
			vals[i] = x->dims[i];
		*vlen = x->rank;
		return MIEN_OK;
	case NN_OP_STRIDED_SLICE:
		return strided_slice(c, n, vals, vlen, out);
	case NN_OP_PACK: {
		if (n->p.axis != 0 || n->n_inputs > IVAL_MAX)
			return fail(c, n, "only packing integer scalars on axis 0 is supported%s", NULL);
		for (int i = 0; i < n->n_inputs; i++) {
			int len;
			const int64_t *v = in_ivals(c, n, i, &len);
			if (!v || len != 1 || in_shape(c, n, i)->rank > 1)
				return fail(c, n, "only packing known integer scalars is supported%s", NULL);
			vals[i] = v[0];
		}
		*vlen = n->n_inputs;
		out->rank = 1;
		out->dims[0] = n->n_inputs;
		return MIEN_OK;
	}
	default:
		return fail(c, n, "no shape rule for this op%s", NULL);
	}
}

int nn__infer_shapes(const nn_graph *g, const nn_shape *input_shapes, nn_shape_env *env, mien_error *err)
{
	ctx c = { .g = g, .env = env, .err = err };
	for (int t = 0; t < g->n_tensors; t++) {
		const nn_tensor *x = &g->tensors[t];
		env->shapes[t] = x->data ? x->shape : (nn_shape){ .rank = -1 };
		env->ilen[t] = -1;
		if (x->data && x->dtype == NN_DTYPE_I32) {
			int64_t count = nn_shape_count(&x->shape);
			if (count <= IVAL_MAX) {
				for (int64_t i = 0; i < count; i++)
					env->ivalues[t][i] = ((const int32_t *)x->data)[i];
				env->ilen[t] = (int)count;
			}
		}
	}
	for (int i = 0; i < g->n_inputs; i++) {
		const nn_tensor *x = &g->tensors[g->inputs[i]];
		nn_shape s = input_shapes ? input_shapes[i] : x->shape;
		if (s.rank != x->shape.rank)
			return mien_error_set(err, MIEN_EINVAL, "%s: input %s must have rank %d, not %d", g->model_name,
			                      x->name, x->shape.rank, s.rank);
		for (int d = 0; d < s.rank; d++) {
			if (s.dims[d] < 0 && x->shape.dims[d] < 0 && d == 0)
				s.dims[d] = 1; /* an open batch runs as 1 */
			if (s.dims[d] <= 0 || s.dims[d] > (1 << 16))
				return mien_error_set(err, MIEN_EINVAL, "%s: input %s dimension %d is %lld",
				                      g->model_name, x->name, d, (long long)s.dims[d]);
			if (x->shape.dims[d] >= 0 && s.dims[d] != x->shape.dims[d]) {
				if (!g->resizable || d == 0 || d == 3)
					return mien_error_set(
					        err, MIEN_EINVAL,
					        "%s: input %s dimension %d must be %lld (the model is not "
					        "resizable there)",
					        g->model_name, x->name, d, (long long)x->shape.dims[d]);
				c.resized = 1;
			}
		}
		env->shapes[g->inputs[i]] = s;
	}
	int trace = getenv("MIEN_NN_TRACE") != NULL; /* a debugging aid: every node's shapes on stderr */
	for (int i = 0; i < g->n_nodes; i++) {
		const nn_node *n = &g->nodes[i];
		nn_shape out = { 0 };
		int64_t vals[IVAL_MAX];
		int vlen = -1;
		int rc = infer_node(&c, n, &out, vals, &vlen);
		if (rc)
			return rc;
		if (nn_shape_count(&out) > NN_TENSOR_MAX_ELEMENTS)
			return fail(&c, n, "the output would exceed the %s-element limit per tensor", "2^28");
		env->shapes[n->output] = out;
		if (trace) {
			char b1[64], b2[64];
			fprintf(stderr, "%-5d %-18s %-50.50s in0 %s out %s\n", i, nn__op_name(n->op), n->name,
			        nn_shape_str(&env->shapes[n->inputs[0] >= 0 ? n->inputs[0] : n->output], b1,
			                     sizeof(b1)),
			        nn_shape_str(&out, b2, sizeof(b2)));
		}
		if (vlen >= 0) {
			memcpy(env->ivalues[n->output], vals, sizeof(int64_t) * (size_t)vlen);
			env->ilen[n->output] = vlen;
		}
	}
	return MIEN_OK;
}
