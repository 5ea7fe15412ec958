/*
 * finalize.c — once per model: drop what no output needs, infer shapes at the published size, apply exact
 * rewrites, and re-lay filters out for XNNPACK.
 *
 * Rewrites (each exact in real arithmetic; float results differ from TF.js by rounding only):
 *  - Identity nodes disappear (their consumers read the source).
 *  - Mul/Add/Sub by a per-output-channel constant right after a convolution or MatMul whose only consumer it
 *    is are folded into the filter and bias (the batch-norm pattern).
 *  - Relu, Relu6, Minimum/Maximum by a scalar constant, and Clamp after a node that can clamp its own output,
 *    whose only consumer they are, become that node's output bounds.
 *  - A zero Pad of H and W only, before a VALID or explicit-padding convolution that is its only consumer,
 *    becomes the convolution's padding.
 *  - Add(x, Conv1x1(Depthwise3x3(x))) with the Add's clamp, at stride 1 and C -> C channels, on a tensor of at
 *    least g->fuse_min_elements, becomes one host op (fused.c), and runs of such blocks become one chain
 *    (after the folds above, once; MIEN_NN_NO_FUSE leaves them to XNNPACK). Likewise the stride-2 block,
 *    Add(Conv1x1(Depthwise3x3/2(x)), [channel Pad](MaxPool2x2/2(x))), which may end such a chain.
 * A rewrite never fires on a tensor that other nodes also read (see the mobilefacenet trap in
 * INFERENCE-NOTES.md: a converter-fused Relu there feeds both a PReLU decomposition and a residual add).
 */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

static void count_uses(const nn_graph *g, int *count)
{
	memset(count, 0, sizeof(int) * (size_t)g->n_tensors);
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_inputs && g->nodes[i].op != NN_OP_NONE; k++)
			if (g->nodes[i].inputs[k] >= 0)
				count[g->nodes[i].inputs[k]]++;
	for (int i = 0; i < g->n_outputs; i++)
		count[g->outputs[i]]++;
}

/* Every reader of `from` reads `to` instead. */
static void redirect(nn_graph *g, int from, int to)
{
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_inputs; k++)
			if (g->nodes[i].inputs[k] == from)
				g->nodes[i].inputs[k] = to;
	for (int i = 0; i < g->n_outputs; i++)
		if (g->outputs[i] == from)
			g->outputs[i] = to;
}

/* Removes nodes marked dead (op NONE) and nodes no output needs, keeping order. */
static void compact(nn_graph *g)
{
	unsigned char *need = calloc((size_t)g->n_tensors, 1);
	if (!need)
		return; /* keeping dead nodes is harmless */
	for (int i = 0; i < g->n_outputs; i++)
		need[g->outputs[i]] = 1;
	for (int i = g->n_nodes - 1; i >= 0; i--) {
		nn_node *n = &g->nodes[i];
		if (n->op == NN_OP_NONE || !need[n->output])
			continue;
		for (int k = 0; k < n->n_inputs; k++)
			if (n->inputs[k] >= 0)
				need[n->inputs[k]] = 1;
	}
	int w = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *n = &g->nodes[i];
		if (n->op == NN_OP_NONE || !need[n->output]) {
			g->tensors[n->output].producer = -1;
			continue;
		}
		g->nodes[w] = *n;
		g->tensors[n->output].producer = w;
		w++;
	}
	g->n_nodes = w;
	free(need);
}

static int is_const(const nn_graph *g, int t)
{
	return t >= 0 && g->tensors[t].data != NULL && g->tensors[t].producer < 0;
}

static int can_clamp(nn_op op)
{
	switch (op) {
	case NN_OP_CONV2D:
	case NN_OP_DEPTHWISE_CONV2D:
	case NN_OP_MATMUL:
	case NN_OP_ADD:
	case NN_OP_SUB:
	case NN_OP_MUL:
	case NN_OP_DIV:
	case NN_OP_CLAMP:
	case NN_OP_MAX_POOL:
	case NN_OP_AVG_POOL:
		return 1;
	default:
		return 0;
	}
}

/* Number of output channels of a conv/matmul filter in TF layout, and the stride pattern: channel c of the
 * filter is every element whose index % cout == c (HWIO, [KH,KW,C,M], [K,N]) or a row ([N,K]). */
static int64_t out_channels(const nn_graph *g, const nn_node *n, int *rows)
{
	const nn_tensor *f = &g->tensors[n->inputs[1]];
	*rows = 0;
	if (n->op == NN_OP_CONV2D)
		return f->shape.dims[3];
	if (n->op == NN_OP_DEPTHWISE_CONV2D)
		return f->shape.dims[2] * f->shape.dims[3];
	if (n->p.matmul.transpose_b) {
		*rows = 1;
		return f->shape.dims[0];
	}
	return f->shape.dims[1];
}

/* A constant that is a scalar or a vector over the last axis of length cout. Returns its element stride. */
static int channel_const(const nn_graph *g, int t, int64_t cout, int *stride)
{
	if (!is_const(g, t) || g->tensors[t].dtype != NN_DTYPE_F32)
		return 0;
	const nn_shape *s = &g->tensors[t].shape;
	int64_t count = nn_shape_count(s);
	if (count == 1) {
		*stride = 0;
		return 1;
	}
	if (count != cout || s->rank < 1 || s->dims[s->rank - 1] != cout)
		return 0;
	*stride = 1;
	return 1;
}

/* A private copy of filter tensor t, so folding never changes a tensor that another node reads. Returns the
 * new tensor's id or a negative code. */
static int copy_filter(nn_graph *g, int t)
{
	int64_t count = nn_shape_count(&g->tensors[t].shape);
	float *copy = nn__graph_alloc(g, (size_t)count * sizeof(float));
	if (!copy)
		return MIEN_ENOMEM;
	memcpy(copy, g->tensors[t].data, (size_t)count * sizeof(float));
	nn_shape shape = g->tensors[t].shape;
	return nn__graph_add_tensor(g, g->tensors[t].name, NN_DTYPE_F32, &shape, copy);
}

static int fold_scale_shift(nn_graph *g, int *uses)
{
	int changed = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *m = &g->nodes[i];
		if (m->op != NN_OP_MUL && m->op != NN_OP_ADD && m->op != NN_OP_SUB)
			continue;
		int src = m->inputs[0], k = m->inputs[1];
		if (m->op != NN_OP_SUB && is_const(g, src) && !is_const(g, k)) {
			src = m->inputs[1];
			k = m->inputs[0];
		}
		if (src < 0 || g->tensors[src].producer < 0 || uses[src] != 1)
			continue;
		nn_node *c = &g->nodes[g->tensors[src].producer];
		if ((c->op != NN_OP_CONV2D && c->op != NN_OP_DEPTHWISE_CONV2D && c->op != NN_OP_MATMUL) ||
		    c->out_min != -INFINITY || c->out_max != INFINITY || !is_const(g, c->inputs[1]))
			continue;
		int rows;
		int64_t cout = out_channels(g, c, &rows);
		int stride;
		if (!channel_const(g, k, cout, &stride))
			continue;
		/* m's output must keep the shape of c's output (no broadcasting growth) */
		const float *kv = g->tensors[k].data;
		int ft = copy_filter(g, c->inputs[1]);
		if (ft < 0)
			return ft;
		c->inputs[1] = ft;
		float *bias = nn__graph_alloc(g, (size_t)cout * sizeof(float));
		if (!bias)
			return MIEN_ENOMEM;
		if (c->inputs[2] >= 0)
			memcpy(bias, g->tensors[c->inputs[2]].data, (size_t)cout * sizeof(float));
		nn_shape bshape = { .rank = 1, .dims = { cout } };
		int bt = nn__graph_add_tensor(g, c->name, NN_DTYPE_F32, &bshape, bias);
		if (bt < 0)
			return bt;
		c->inputs[2] = bt;
		c->n_inputs = 3;
		float *filter = g->tensors[ft].data;
		int64_t count = nn_shape_count(&g->tensors[ft].shape);
		for (int64_t ch = 0; ch < cout; ch++) {
			float v = kv[stride * ch];
			if (m->op == NN_OP_MUL) {
				bias[ch] *= v;
				if (rows) {
					int64_t kk = count / cout;
					for (int64_t j = 0; j < kk; j++)
						filter[ch * kk + j] *= v;
				} else {
					for (int64_t j = ch; j < count; j += cout)
						filter[j] *= v;
				}
			} else if (m->op == NN_OP_ADD) {
				bias[ch] += v;
			} else {
				bias[ch] -= v;
			}
		}
		/* c now computes m, including m's own output bounds (c had none): m's readers read c */
		c->out_min = m->out_min;
		c->out_max = m->out_max;
		redirect(g, m->output, src);
		m->op = NN_OP_NONE;
		uses[src] = uses[m->output];
		changed = 1;
	}
	return changed;
}

static int scalar_const(const nn_graph *g, int t, float *v)
{
	if (!is_const(g, t) || g->tensors[t].dtype != NN_DTYPE_F32 || nn_shape_count(&g->tensors[t].shape) != 1)
		return 0;
	*v = *(const float *)g->tensors[t].data;
	return 1;
}

static int fold_clamps(nn_graph *g, int *uses)
{
	int changed = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *m = &g->nodes[i];
		float lo = -INFINITY, hi = INFINITY, v;
		int src = m->inputs[0];
		if (m->op == NN_OP_CLAMP) {
			lo = m->out_min;
			hi = m->out_max;
		} else if ((m->op == NN_OP_MINIMUM || m->op == NN_OP_MAXIMUM) && m->n_inputs == 2) {
			if (scalar_const(g, m->inputs[1], &v)) {
				src = m->inputs[0];
			} else if (scalar_const(g, m->inputs[0], &v)) {
				src = m->inputs[1];
			} else {
				continue;
			}
			if (m->op == NN_OP_MINIMUM)
				hi = v;
			else
				lo = v;
		} else {
			continue;
		}
		if (src < 0 || g->tensors[src].producer < 0 || uses[src] != 1)
			continue;
		nn_node *c = &g->nodes[g->tensors[src].producer];
		if (!can_clamp(c->op))
			continue;
		c->out_min = c->out_min > lo ? c->out_min : lo;
		c->out_max = c->out_max < hi ? c->out_max : hi;
		if (c->out_min > c->out_max)
			c->out_min = c->out_max;
		redirect(g, m->output, src);
		m->op = NN_OP_NONE;
		uses[src] = uses[m->output];
		changed = 1;
	}
	return changed;
}

static int fold_pads(nn_graph *g, int *uses)
{
	int changed = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *c = &g->nodes[i];
		if (c->op != NN_OP_CONV2D && c->op != NN_OP_DEPTHWISE_CONV2D)
			continue;
		if (c->p.conv.padding == NN_PAD_SAME)
			continue;
		int t = c->inputs[0];
		if (t < 0 || g->tensors[t].producer < 0 || uses[t] != 1)
			continue;
		nn_node *p = &g->nodes[g->tensors[t].producer];
		if (p->op != NN_OP_PAD || p->p.pad_value != 0 || !is_const(g, p->inputs[1]) ||
		    g->tensors[p->inputs[1]].dtype != NN_DTYPE_I32 ||
		    nn_shape_count(&g->tensors[p->inputs[1]].shape) != 8)
			continue;
		const int32_t *pad = g->tensors[p->inputs[1]].data;
		if (pad[0] || pad[1] || pad[6] || pad[7] || pad[2] < 0 || pad[3] < 0 || pad[4] < 0 || pad[5] < 0)
			continue;
		c->p.conv.padding = NN_PAD_EXPLICIT;
		c->p.conv.pad_top += pad[2];
		c->p.conv.pad_bottom += pad[3];
		c->p.conv.pad_left += pad[4];
		c->p.conv.pad_right += pad[5];
		c->inputs[0] = p->inputs[0];
		uses[p->inputs[0]]++;
		uses[t]--;
		changed = 1;
	}
	return changed;
}

/* The producer node of tensor t when t has exactly one reader and that node is `op`; else NULL. */
static nn_node *sole_producer(nn_graph *g, const int *uses, int t, nn_op op)
{
	if (t < 0 || uses[t] != 1 || g->tensors[t].producer < 0)
		return NULL;
	nn_node *p = &g->nodes[g->tensors[t].producer];
	return p->op == op ? p : NULL;
}

/*
 * Keras exports PReLU as relu(x) + k*(x - |x|) with k = alpha/2 per channel (Relu, Abs, Sub, Mul, Add).
 * With P the Relu of x this is exactly max(x,0) + alpha*min(x,0): one XNNPACK PReLU. When P is x itself and x
 * already carries a lower bound >= 0 (a Relu the converter fused into x's producer), x - |x| is 0 and the Add
 * is x. Either way the decomposition disappears; any other shape of the pattern is left alone.
 */
static int fold_prelu(nn_graph *g, int *uses)
{
	int changed = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *a = &g->nodes[i];
		if (a->op != NN_OP_ADD || a->n_inputs != 2 || a->out_min != -INFINITY || a->out_max != INFINITY)
			continue;
		for (int side = 0; side < 2; side++) {
			int p = a->inputs[side], q = a->inputs[1 - side];
			nn_node *mul = sole_producer(g, uses, q, NN_OP_MUL);
			if (!mul)
				continue;
			int sub_t = is_const(g, mul->inputs[1]) ? mul->inputs[0] : mul->inputs[1];
			int k_t = sub_t == mul->inputs[0] ? mul->inputs[1] : mul->inputs[0];
			nn_node *sub = sole_producer(g, uses, sub_t, NN_OP_SUB);
			if (!sub || !is_const(g, k_t))
				continue;
			int x = sub->inputs[0];
			nn_node *abs = sole_producer(g, uses, sub->inputs[1], NN_OP_ABS);
			if (!abs || abs->inputs[0] != x || g->tensors[x].producer < 0)
				continue;
			const nn_shape *xs = &g->tensors[x].shape;
			int64_t ch = xs->rank > 0 ? xs->dims[xs->rank - 1] : 0;
			int stride;
			if (ch <= 0 || !channel_const(g, k_t, ch, &stride))
				continue;
			nn_node *relu = sole_producer(g, uses, p, NN_OP_CLAMP);
			int relu_of_x = relu && relu->inputs[0] == x && relu->out_min == 0 && relu->out_max == INFINITY;
			int x_nonneg = p == x && g->nodes[g->tensors[x].producer].out_min >= 0;
			if (!relu_of_x && !x_nonneg)
				continue;
			if (relu_of_x) {
				float *alpha = nn__graph_alloc(g, (size_t)ch * sizeof(float));
				if (!alpha)
					return MIEN_ENOMEM;
				const float *k = g->tensors[k_t].data;
				for (int64_t c = 0; c < ch; c++)
					alpha[c] = 2.0f * k[stride * c];
				nn_shape shape = { .rank = 1, .dims = { ch } };
				int at = nn__graph_add_tensor(g, mul->name, NN_DTYPE_F32, &shape, alpha);
				if (at < 0)
					return at;
				a = &g->nodes[i];
				a->op = NN_OP_PRELU;
				a->inputs[0] = x;
				a->inputs[1] = at;
				relu->op = NN_OP_NONE;
			} else {
				redirect(g, a->output, x);
				a->op = NN_OP_NONE;
			}
			mul->op = sub->op = abs->op = NN_OP_NONE;
			changed = 1;
			break;
		}
	}
	return changed;
}

/* A float constant of exactly `count` elements, or NULL. */
static const float *float_const(const nn_graph *g, int t, int64_t count)
{
	if (!is_const(g, t) || g->tensors[t].dtype != NN_DTYPE_F32 || nn_shape_count(&g->tensors[t].shape) != count)
		return NULL;
	return g->tensors[t].data;
}

static int same_shape(const nn_shape *a, const nn_shape *b)
{
	if (a->rank != b->rank)
		return 0;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return 0;
	return 1;
}

/* Completes `b` with the depthwise and pointwise weights and a's clamp and turns the Add `a` into the fused
 * host op reading x (tensor xt). Returns 1 when replaced, 0 when the block does not qualify, MIEN_ENOMEM. */
static int replace_with_block(nn_graph *g, nn_node *a, const nn_node *dw, const nn_node *pw, int xt, nn_fused_block *b,
                              const char *kind)
{
	const int64_t C = b->channels, CO = b->out_channels ? b->out_channels : b->channels;
	b->dw_filter = float_const(g, dw->inputs[1], 9 * C);
	b->dw_bias = dw->n_inputs > 2 ? float_const(g, dw->inputs[2], C) : NULL;
	b->pw_filter = float_const(g, pw->inputs[1], C * CO);
	b->pw_bias = pw->n_inputs > 2 ? float_const(g, pw->inputs[2], CO) : NULL;
	b->lo = a->out_min;
	b->hi = a->out_max;
	if (!b->dw_filter || !b->pw_filter || (dw->n_inputs > 2 && dw->inputs[2] >= 0 && !b->dw_bias) ||
	    (pw->n_inputs > 2 && pw->inputs[2] >= 0 && !b->pw_bias))
		return 0;
	nn_host_op op;
	int rc = nn__fused_block_op(g, b, &op);
	if (rc == MIEN_ENOMEM)
		return rc;
	if (rc)
		return 0;
	a->op = NN_OP_HOST;
	a->source_op = kind;
	a->n_inputs = 1;
	a->inputs[0] = xt;
	a->inputs[1] = -1;
	a->out_min = -INFINITY;
	a->out_max = INFINITY;
	a->p.host = op;
	return 1;
}

/*
 * The stride-1 separable residual block, Add(x, Conv1x1(Depthwise3x3(x))) with the Add's clamp, becomes one
 * host op (fused.c) that reads x once and writes the result once; XNNPACK would stream the tensor through
 * memory three times. Fires only where the depthwise and convolution outputs have no other reader, neither
 * clamps its own output, the depthwise keeps x's size (stride 1, dilation 1, one pixel of padding per side
 * in total per axis), and the convolution maps C channels to the same C. Runs after the clamp folds, so a
 * Relu after the Add is already the Add's clamp.
 */
static int fuse_blocks(nn_graph *g, const int *uses)
{
	int changed = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *a = &g->nodes[i];
		if (a->op != NN_OP_ADD || a->n_inputs != 2)
			continue;
		for (int side = 0; side < 2; side++) {
			int xt = a->inputs[1 - side];
			nn_node *pw = sole_producer(g, uses, a->inputs[side], NN_OP_CONV2D);
			if (!pw || pw->out_min != -INFINITY || pw->out_max != INFINITY)
				continue;
			nn_node *dw = sole_producer(g, uses, pw->inputs[0], NN_OP_DEPTHWISE_CONV2D);
			if (!dw || dw->inputs[0] != xt || dw->out_min != -INFINITY || dw->out_max != INFINITY)
				continue;
			const nn_shape *xs = &g->tensors[xt].shape;
			if (xs->rank != 4 || g->tensors[xt].dtype != NN_DTYPE_F32 ||
			    !same_shape(xs, &g->tensors[a->output].shape) ||
			    !same_shape(xs, &g->tensors[pw->output].shape) ||
			    !same_shape(xs, &g->tensors[dw->output].shape))
				continue;
			int64_t C = xs->dims[3];
			if (C < 1 || C > NN_FUSED_BLOCK_MAX_CHANNELS || nn_shape_count(xs) < g->fuse_min_elements ||
			    (C % 8 && !g->fuse_any_width))
				continue;
			const nn_tensor *df = &g->tensors[dw->inputs[1]], *pf = &g->tensors[pw->inputs[1]];
			if (df->xnn_layout || pf->xnn_layout || df->shape.rank != 4 || df->shape.dims[0] != 3 ||
			    df->shape.dims[1] != 3 || df->shape.dims[2] != C || df->shape.dims[3] != 1 ||
			    pf->shape.rank != 4 || pf->shape.dims[0] != 1 || pf->shape.dims[1] != 1 ||
			    pf->shape.dims[2] != C || pf->shape.dims[3] != C)
				continue;
			const nn_conv_params *dp = &dw->p.conv, *pp = &pw->p.conv;
			if (dp->stride_h != 1 || dp->stride_w != 1 || dp->dilation_h != 1 || dp->dilation_w != 1 ||
			    pp->stride_h != 1 || pp->stride_w != 1)
				continue;
			int pad_top = 1, pad_left = 1;
			if (dp->padding == NN_PAD_EXPLICIT) {
				if (dp->pad_top < 0 || dp->pad_left < 0 || dp->pad_top + dp->pad_bottom != 2 ||
				    dp->pad_left + dp->pad_right != 2)
					continue;
				pad_top = dp->pad_top;
				pad_left = dp->pad_left;
			} else if (dp->padding != NN_PAD_SAME) {
				continue;
			}
			if (pp->padding == NN_PAD_EXPLICIT &&
			    (pp->pad_top || pp->pad_bottom || pp->pad_left || pp->pad_right))
				continue;
			nn_fused_block b = { .channels = (int)C, .pad_top = pad_top, .pad_left = pad_left };
			int r = replace_with_block(g, a, dw, pw, xt, &b, "FusedBlock");
			if (r < 0)
				return r;
			if (r == 0)
				continue;
			dw->op = pw->op = NN_OP_NONE;
			changed = 1;
			break;
		}
	}
	return changed;
}

/*
 * BlazeFace's stride-2 block, clamp(Add(Conv1x1(Depthwise3x3/2(x)), [Pad](MaxPool2x2/2(x)))), becomes one
 * host op (fused.c): the depthwise at stride 2 with SAME padding, the pool 2×2 at stride 2 with SAME padding
 * reading the same x, the Pad (when there is one) a zero padding of the channels at their end up to the
 * convolution's output channels, and the depthwise, convolution, pool and pad outputs read by nothing else
 * and unclamped. Same size bound as the stride-1 block, on x.
 */
static int fuse_stride2_blocks(nn_graph *g, const int *uses)
{
	int changed = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *a = &g->nodes[i];
		if (a->op != NN_OP_ADD || a->n_inputs != 2)
			continue;
		for (int side = 0; side < 2; side++) {
			nn_node *pw = sole_producer(g, uses, a->inputs[side], NN_OP_CONV2D);
			if (!pw || pw->out_min != -INFINITY || pw->out_max != INFINITY)
				continue;
			nn_node *dw = sole_producer(g, uses, pw->inputs[0], NN_OP_DEPTHWISE_CONV2D);
			if (!dw || dw->out_min != -INFINITY || dw->out_max != INFINITY)
				continue;
			const int xt = dw->inputs[0];
			int rt = a->inputs[1 - side];
			nn_node *pad = sole_producer(g, uses, rt, NN_OP_PAD);
			if (pad)
				rt = pad->inputs[0];
			nn_node *mp = sole_producer(g, uses, rt, NN_OP_MAX_POOL);
			if (!mp || mp->inputs[0] != xt || mp->out_min != -INFINITY || mp->out_max != INFINITY)
				continue;
			const nn_shape *xs = &g->tensors[xt].shape, *os = &g->tensors[a->output].shape;
			if (xs->rank != 4 || g->tensors[xt].dtype != NN_DTYPE_F32 || os->rank != 4 || xs->dims[1] < 1 ||
			    xs->dims[2] < 1 || nn_shape_count(xs) < g->fuse_min_elements ||
			    !same_shape(os, &g->tensors[pw->output].shape) ||
			    !same_shape(os, &g->tensors[a->inputs[1 - side]].shape))
				continue;
			const int64_t C = xs->dims[3], CO = os->dims[3];
			if (C < 1 || CO < C || CO > NN_FUSED_BLOCK_MAX_CHANNELS || os->dims[0] != xs->dims[0] ||
			    ((C % 8 || CO % 8) && !g->fuse_any_width) || os->dims[1] != (xs->dims[1] + 1) / 2 ||
			    os->dims[2] != (xs->dims[2] + 1) / 2)
				continue;
			const nn_tensor *df = &g->tensors[dw->inputs[1]], *pf = &g->tensors[pw->inputs[1]];
			if (df->xnn_layout || pf->xnn_layout || df->shape.rank != 4 || df->shape.dims[0] != 3 ||
			    df->shape.dims[1] != 3 || df->shape.dims[2] != C || df->shape.dims[3] != 1 ||
			    pf->shape.rank != 4 || pf->shape.dims[0] != 1 || pf->shape.dims[1] != 1 ||
			    pf->shape.dims[2] != C || pf->shape.dims[3] != CO)
				continue;
			const nn_conv_params *dp = &dw->p.conv, *pp = &pw->p.conv;
			const nn_pool_params *mpp = &mp->p.pool;
			if (dp->stride_h != 2 || dp->stride_w != 2 || dp->dilation_h != 1 || dp->dilation_w != 1 ||
			    dp->padding != NN_PAD_SAME || pp->stride_h != 1 || pp->stride_w != 1 ||
			    (pp->padding == NN_PAD_EXPLICIT &&
			     (pp->pad_top || pp->pad_bottom || pp->pad_left || pp->pad_right)) ||
			    mpp->kernel_h != 2 || mpp->kernel_w != 2 || mpp->stride_h != 2 || mpp->stride_w != 2 ||
			    mpp->padding != NN_PAD_SAME)
				continue;
			if (pad) {
				if (pad->p.pad_value != 0 || !is_const(g, pad->inputs[1]) ||
				    g->tensors[pad->inputs[1]].dtype != NN_DTYPE_I32 ||
				    nn_shape_count(&g->tensors[pad->inputs[1]].shape) != 8)
					continue;
				const int32_t *pd = g->tensors[pad->inputs[1]].data;
				if (pd[0] || pd[1] || pd[2] || pd[3] || pd[4] || pd[5] || pd[6] || pd[7] != CO - C)
					continue;
			} else if (CO != C) {
				continue;
			}
			nn_fused_block b = { .channels = (int)C, .out_channels = (int)CO, .stride = 2 };
			int r = replace_with_block(g, a, dw, pw, xt, &b, "FusedBlockStride2");
			if (r < 0)
				return r;
			if (r == 0)
				continue;
			dw->op = pw->op = mp->op = NN_OP_NONE;
			if (pad)
				pad->op = NN_OP_NONE;
			changed = 1;
			break;
		}
	}
	return changed;
}

/* Consecutive fused blocks, each the only reader of the one before, run as one chain (fused.c). */
static int chain_blocks(nn_graph *g, const int *uses)
{
	int changed = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *b = &g->nodes[i];
		if (b->op != NN_OP_HOST || b->n_inputs != 1)
			continue;
		nn_node *a = sole_producer(g, uses, b->inputs[0], NN_OP_HOST);
		if (!a || a->n_inputs != 1 || a->out_min != -INFINITY || a->out_max != INFINITY)
			continue;
		nn_host_op op;
		int r = nn__fused_block_chain(g, &a->p.host, &b->p.host, &op);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		b->p.host = op;
		b->inputs[0] = a->inputs[0];
		a->op = NN_OP_NONE;
		changed = 1;
	}
	return changed;
}

/* HWIO -> OHWI for convolutions; depthwise [KH,KW,C,M] is already XNNPACK's [1,KH,KW,C*M] in memory. */
static int relayout(nn_graph *g)
{
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *c = &g->nodes[i];
		if (c->op != NN_OP_CONV2D && c->op != NN_OP_DEPTHWISE_CONV2D)
			continue;
		nn_tensor *f = &g->tensors[c->inputs[1]];
		if (f->xnn_layout)
			continue;
		if (c->op == NN_OP_DEPTHWISE_CONV2D) {
			nn_shape s = { .rank = 4,
				       .dims = { 1, f->shape.dims[0], f->shape.dims[1],
				                 f->shape.dims[2] * f->shape.dims[3] } };
			f->shape = s;
			f->xnn_layout = 1;
			continue;
		}
		int64_t kh = f->shape.dims[0], kw = f->shape.dims[1], ci = f->shape.dims[2], co = f->shape.dims[3];
		float *dst = nn__graph_alloc(g, (size_t)(kh * kw * ci * co) * sizeof(float));
		if (!dst)
			return MIEN_ENOMEM;
		const float *src = f->data;
		for (int64_t y = 0; y < kh; y++)
			for (int64_t x = 0; x < kw; x++)
				for (int64_t i2 = 0; i2 < ci; i2++)
					for (int64_t o = 0; o < co; o++)
						dst[((o * kh + y) * kw + x) * ci + i2] =
						        src[((y * kw + x) * ci + i2) * co + o];
		f = &g->tensors[c->inputs[1]];
		f->data = dst;
		f->shape = (nn_shape){ .rank = 4, .dims = { co, kh, kw, ci } };
		f->xnn_layout = 1;
	}
	return MIEN_OK;
}

static int fail_at(nn_graph *g, const nn_node *n, mien_error *err, const char *what)
{
	return mien_error_set(err, MIEN_EUNSUPPORTED, "%s: node %s (op %s): %s", g->model_name, n->name, n->source_op,
	                      what);
}

/* Structural checks the lowering relies on: constant filters, float inputs where floats are computed. */
static int check_nodes(nn_graph *g, mien_error *err)
{
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *n = &g->nodes[i];
		if (n->op <= NN_OP_NONE || n->op >= NN_OP_COUNT_)
			return fail_at(g, n, err, "invalid op");
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t < -1 || t >= g->n_tensors)
				return fail_at(g, n, err, "input out of range");
			if (t == -1 &&
			    !((n->op == NN_OP_CONV2D || n->op == NN_OP_DEPTHWISE_CONV2D || n->op == NN_OP_MATMUL) &&
			      k == 2))
				return fail_at(g, n, err, "missing input");
		}
		if ((n->op == NN_OP_CONV2D || n->op == NN_OP_DEPTHWISE_CONV2D || n->op == NN_OP_MATMUL) &&
		    (n->n_inputs < 2 || !is_const(g, n->inputs[1]) || g->tensors[n->inputs[1]].dtype != NN_DTYPE_F32 ||
		     (n->inputs[2] >= 0 &&
		      (!is_const(g, n->inputs[2]) || g->tensors[n->inputs[2]].dtype != NN_DTYPE_F32))))
			return fail_at(g, n, err, "filter and bias must be float constants");
	}
	return MIEN_OK;
}

static int infer_published(nn_graph *g, mien_error *err)
{
	nn_shape_env env = { 0 };
	int rc = MIEN_ENOMEM;
	env.shapes = calloc((size_t)g->n_tensors, sizeof(nn_shape));
	env.ivalues = calloc((size_t)g->n_tensors, sizeof(*env.ivalues));
	env.ilen = calloc((size_t)g->n_tensors, sizeof(int));
	if (!env.shapes || !env.ivalues || !env.ilen) {
		mien_error_set(err, rc, "%s: out of memory", g->model_name);
		goto done;
	}
	rc = nn__infer_shapes(g, NULL, &env, err);
	if (rc)
		goto done;
	for (int i = 0; i < g->n_nodes; i++)
		g->tensors[g->nodes[i].output].shape = env.shapes[g->nodes[i].output];
done:
	free(env.shapes);
	free(env.ivalues);
	free(env.ilen);
	return rc;
}

int nn__graph_finalize(nn_graph *g, mien_error *err)
{
	int *uses = NULL;
	int rc = check_nodes(g, err);
	if (rc)
		return rc;
	for (int i = 0; i < g->n_outputs; i++)
		if (g->tensors[g->outputs[i]].producer < 0 && !g->tensors[g->outputs[i]].data)
			for (int k = 0; k < g->n_inputs; k++)
				if (g->inputs[k] == g->outputs[i])
					return mien_error_set(err, MIEN_EUNSUPPORTED, "%s: output %s is a graph input",
					                      g->model_name, g->output_names[i]);
	/* Identity: readers read the source */
	for (int i = 0; i < g->n_nodes; i++) {
		nn_node *n = &g->nodes[i];
		if (n->op == NN_OP_IDENTITY && g->tensors[n->inputs[0]].producer >= 0) {
			redirect(g, n->output, n->inputs[0]);
			n->op = NN_OP_NONE;
		}
	}
	compact(g);
	rc = infer_published(g, err);
	if (rc)
		return rc;
	for (int round = 0; round < 16; round++) {
		/* folding adds tensors, so the use counts are rebuilt before each rewrite */
		int changed = 0;
		for (int pass = 0; pass < 4; pass++) {
			int *grown = realloc(uses, sizeof(int) * (size_t)(g->n_tensors + 1));
			if (!grown) {
				rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory", g->model_name);
				goto done;
			}
			uses = grown;
			count_uses(g, uses);
			int r = pass == 0   ? fold_scale_shift(g, uses)
			        : pass == 1 ? fold_clamps(g, uses)
			        : pass == 2 ? fold_pads(g, uses)
			                    : fold_prelu(g, uses);
			if (r < 0) {
				rc = mien_error_set(err, r, "%s: out of memory folding constants", g->model_name);
				goto done;
			}
			changed |= r;
		}
		compact(g);
		if (!changed)
			break;
	}
	if (!getenv("MIEN_NN_NO_FUSE")) { /* a debugging aid: the XNNPACK lowering of the blocks, for A/B timing */
		count_uses(g, uses);
		int r = fuse_blocks(g, uses);
		compact(g);
		if (r >= 0) {
			count_uses(g, uses);
			r = fuse_stride2_blocks(g, uses);
			compact(g);
		}
		if (r >= 0) {
			count_uses(g, uses);
			r = chain_blocks(g, uses);
			compact(g);
		}
		if (r < 0) {
			rc = mien_error_set(err, r, "%s: out of memory fusing blocks", g->model_name);
			goto done;
		}
	}
	rc = relayout(g);
	if (rc) {
		mien_error_set(err, rc, "%s: out of memory re-laying filters out", g->model_name);
		goto done;
	}
	rc = infer_published(g, err);
done:
	free(uses);
	return rc;
}
