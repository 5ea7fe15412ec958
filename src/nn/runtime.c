/*
 * runtime.c — lowering a finalised graph onto XNNPACK, and running it.
 *
 * A runtime is a list of steps: maximal runs of consecutive XNNPACK-lowerable nodes become one XNNPACK
 * subgraph + runtime each; the few ops XNNPACK lacks (concat, exp, tanh, loader-defined host ops) run as
 * host C between them. Tensors that cross a step boundary, and the graph's inputs and outputs, get a buffer
 * in the runtime's arena; everything else lives inside XNNPACK's own workspace. All memory is sized and set
 * up at creation, so a run is invoke calls and host loops only.
 */
#include <pthread.h>
#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "core/log.h"
#include "nn/nn_int.h"

struct nn_pool {
	pthreadpool_t pool;
	size_t threads;
};

enum step_kind { STEP_XNN = 1, STEP_HOST = 2 };

typedef struct step {
	enum step_kind kind;
	xnn_runtime_t xnn;
	const nn_node *node; /* host steps */
	nn_host_call call;
} step;

struct nn_runtime {
	const nn_model *model;
	const nn_graph *g;
	nn_shape *shapes; /* per tensor, at this runtime's input shapes */
	float **buffers;  /* per tensor: a buffer for step-crossing tensors, graph inputs and outputs; else NULL */
	step *steps;
	int n_steps;
	mien_arena arena; /* activation buffers */
	nn_graph scratch; /* constants made for this runtime (ones for Sum, reshaped alphas) */
	double mmac;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static enum xnn_status init_status = xnn_status_uninitialized;

static void init_xnnpack(void)
{
	init_status = xnn_initialize(NULL);
}

int nn_init(mien_error *err)
{
	pthread_once(&init_once, init_xnnpack);
	if (init_status != xnn_status_success)
		return mien_error_set(err, MIEN_EBACKEND, "XNNPACK failed to initialise (status %d)", (int)init_status);
	return MIEN_OK;
}

int nn_pool_create(size_t threads, nn_pool **out, mien_error *err)
{
	*out = NULL;
	if (threads > 256)
		return mien_error_set(err, MIEN_ERANGE, "thread pool of %zu threads is over the limit of 256", threads);
	nn_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory creating a thread pool");
	p->threads = threads ? threads : 1;
	if (p->threads > 1) {
		p->pool = pthreadpool_create(p->threads);
		if (!p->pool) {
			free(p);
			return mien_error_set(err, MIEN_EBACKEND, "cannot create a pool of %zu threads", threads);
		}
	}
	*out = p;
	return MIEN_OK;
}

void nn_pool_destroy(nn_pool **pool)
{
	if (!pool || !*pool)
		return;
	if ((*pool)->pool)
		pthreadpool_destroy((*pool)->pool);
	free(*pool);
	*pool = NULL;
}

size_t nn_pool_threads(const nn_pool *pool)
{
	return pool ? pool->threads : 1;
}

static int is_host(nn_op op)
{
	return op == NN_OP_CONCAT || op == NN_OP_EXP || op == NN_OP_TANH || op == NN_OP_HOST;
}

static int is_shape_only(nn_op op)
{
	return op == NN_OP_SHAPE || op == NN_OP_STRIDED_SLICE || op == NN_OP_PACK;
}

double nn__node_macs(const nn_graph *g, const nn_node *n, const nn_shape *shapes)
{
	const nn_shape *o = &shapes[n->output];
	if (o->rank < 1)
		return 0;
	double out = (double)nn_shape_count(o);
	const nn_tensor *f = n->n_inputs > 1 && n->inputs[1] >= 0 ? &g->tensors[n->inputs[1]] : NULL;
	switch (n->op) {
	case NN_OP_CONV2D: {
		int64_t per = nn_shape_count(&f->shape) / (f->xnn_layout ? f->shape.dims[0] : f->shape.dims[3]);
		return out * (double)per;
	}
	case NN_OP_DEPTHWISE_CONV2D:
		return out * (double)(f->shape.dims[f->xnn_layout ? 1 : 0] * f->shape.dims[f->xnn_layout ? 2 : 1]);
	case NN_OP_MATMUL: {
		const nn_shape *x = &shapes[n->inputs[0]];
		return out * (double)x->dims[x->rank - 1];
	}
	case NN_OP_HOST: {
		if (n->p.host.macs) {
			const nn_shape *in[NN_NODE_MAX_INPUTS];
			for (int k = 0; k < n->n_inputs; k++)
				in[k] = &shapes[n->inputs[k]];
			return n->p.host.macs(in, n->p.host.params);
		}
		return out * (double)n->p.host.macs_per_output;
	}
	default:
		return 0;
	}
}

/* ---- lowering one XNNPACK group */

typedef struct lower {
	nn_runtime *rt;
	const nn_graph *g;
	xnn_subgraph_t sub;
	uint32_t *value;  /* per tensor: XNNPACK value id in this group, or XNN_INVALID_VALUE_ID */
	uint32_t *ext_id; /* per tensor: external id in this group, or XNN_INVALID_VALUE_ID */
	mien_error *err;
} lower;

static const float one_value[16] = { 1.0f };

static int xfail(lower *l, const nn_node *n, enum xnn_status st, const char *what)
{
	return mien_error_set(l->err, MIEN_EBACKEND, "%s: node %s (op %s): XNNPACK rejected %s (status %d)",
	                      l->g->model_name, n->name, n->source_op, what, (int)st);
}

static int unsupported(lower *l, const nn_node *n, const char *what)
{
	return mien_error_set(l->err, MIEN_EUNSUPPORTED, "%s: node %s (op %s): %s", l->g->model_name, n->name,
	                      n->source_op, what);
}

static void dims_of(const nn_shape *s, size_t *dims, size_t *rank)
{
	if (s->rank == 0) {
		*rank = 1;
		dims[0] = 1;
		return;
	}
	*rank = (size_t)s->rank;
	for (int i = 0; i < s->rank; i++)
		dims[i] = (size_t)s->dims[i];
}

/* Defines (once) the XNNPACK value for tensor t: external, static constant, or internal. */
static int value(lower *l, const nn_node *n, int t, uint32_t *id)
{
	if (l->value[t] != XNN_INVALID_VALUE_ID) {
		*id = l->value[t];
		return MIEN_OK;
	}
	const nn_tensor *x = &l->g->tensors[t];
	size_t dims[NN_MAX_RANK], rank;
	const void *data = NULL;
	uint32_t ext = XNN_INVALID_VALUE_ID, flags = 0;
	if (x->data && x->producer < 0) {
		if (x->dtype != NN_DTYPE_F32)
			return unsupported(l, n, "an integer constant feeds a float op");
		data = x->data;
		dims_of(&x->shape, dims, &rank);
	} else {
		dims_of(&l->rt->shapes[t], dims, &rank);
		if (l->ext_id[t] != XNN_INVALID_VALUE_ID) {
			ext = l->ext_id[t];
			flags = x->producer >= 0 && &l->g->nodes[x->producer] == n ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT
			                                                           : XNN_VALUE_FLAG_EXTERNAL_INPUT;
		}
	}
	enum xnn_status st = xnn_define_tensor_value(l->sub, xnn_datatype_fp32, rank, dims, data, ext, flags, id);
	if (st != xnn_status_success)
		return xfail(l, n, st, "a tensor");
	l->value[t] = *id;
	return MIEN_OK;
}

/* A static tensor for this runtime only (data in the runtime's scratch graph storage). */
static int static_value(lower *l, const nn_node *n, const float *data, size_t rank, const size_t *dims, uint32_t *id)
{
	enum xnn_status st =
	        xnn_define_tensor_value(l->sub, xnn_datatype_fp32, rank, dims, data, XNN_INVALID_VALUE_ID, 0, id);
	return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "a constant");
}

static int internal_value(lower *l, const nn_node *n, const nn_shape *s, uint32_t *id)
{
	size_t dims[NN_MAX_RANK], rank;
	dims_of(s, dims, &rank);
	enum xnn_status st =
	        xnn_define_tensor_value(l->sub, xnn_datatype_fp32, rank, dims, NULL, XNN_INVALID_VALUE_ID, 0, id);
	return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "an intermediate tensor");
}

static void same_pads(int64_t in, int64_t out, int k, int s, int d, int *before, int *after)
{
	int64_t total = (out - 1) * s + (int64_t)(k - 1) * d + 1 - in;
	if (total < 0)
		total = 0;
	*before = (int)(total / 2);
	*after = (int)(total - total / 2);
}

/* The node's own output value; when its fused bounds must be applied by a separate clamp, the op writes an
 * intermediate and the clamp writes the output. */
static int output_values(lower *l, const nn_node *n, int op_clamps, uint32_t *op_out, uint32_t *final_out)
{
	int rc = value(l, n, n->output, final_out);
	if (rc)
		return rc;
	*op_out = *final_out;
	if (!op_clamps && (n->out_min != -INFINITY || n->out_max != INFINITY))
		return internal_value(l, n, &l->rt->shapes[n->output], op_out);
	return MIEN_OK;
}

static int finish_clamp(lower *l, const nn_node *n, int op_clamps, uint32_t op_out, uint32_t final_out)
{
	if (op_clamps || op_out == final_out)
		return MIEN_OK;
	enum xnn_status st = xnn_define_clamp(l->sub, n->out_min, n->out_max, op_out, final_out, 0);
	return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "the fused clamp");
}

static int lower_node(lower *l, const nn_node *n)
{
	nn_runtime *rt = l->rt;
	const nn_graph *g = l->g;
	const nn_shape *xs = &rt->shapes[n->inputs[0]];
	const nn_shape *os = &rt->shapes[n->output];
	uint32_t in, in2 = XNN_INVALID_VALUE_ID, out, fin;
	enum xnn_status st = xnn_status_success;
	int rc = value(l, n, n->inputs[0], &in);
	if (rc)
		return rc;
	float lo = n->out_min, hi = n->out_max;
	switch (n->op) {
	case NN_OP_CONV2D:
	case NN_OP_DEPTHWISE_CONV2D: {
		const nn_tensor *f = &g->tensors[n->inputs[1]];
		uint32_t fid, bid = XNN_INVALID_VALUE_ID;
		if ((rc = value(l, n, n->inputs[1], &fid)))
			return rc;
		if (n->inputs[2] >= 0 && (rc = value(l, n, n->inputs[2], &bid)))
			return rc;
		if ((rc = output_values(l, n, 1, &out, &fin)))
			return rc;
		const nn_conv_params *p = &n->p.conv;
		int kh = (int)f->shape.dims[1], kw = (int)f->shape.dims[2];
		int pt = p->pad_top, pb = p->pad_bottom, pl = p->pad_left, pr = p->pad_right;
		if (p->padding == NN_PAD_SAME) {
			same_pads(xs->dims[1], os->dims[1], kh, p->stride_h, p->dilation_h, &pt, &pb);
			same_pads(xs->dims[2], os->dims[2], kw, p->stride_w, p->dilation_w, &pl, &pr);
		} else if (p->padding == NN_PAD_VALID) {
			pt = pb = pl = pr = 0;
		}
		if (n->op == NN_OP_CONV2D)
			st = xnn_define_convolution_2d(l->sub, (uint32_t)pt, (uint32_t)pr, (uint32_t)pb, (uint32_t)pl,
			                               (uint32_t)kh, (uint32_t)kw, (uint32_t)p->stride_h,
			                               (uint32_t)p->stride_w, (uint32_t)p->dilation_h,
			                               (uint32_t)p->dilation_w, 1, (size_t)xs->dims[3],
			                               (size_t)os->dims[3], lo, hi, in, fid, bid, out, 0);
		else
			st = xnn_define_depthwise_convolution_2d(
			        l->sub, (uint32_t)pt, (uint32_t)pr, (uint32_t)pb, (uint32_t)pl, (uint32_t)kh,
			        (uint32_t)kw, (uint32_t)p->stride_h, (uint32_t)p->stride_w, (uint32_t)p->dilation_h,
			        (uint32_t)p->dilation_w, (uint32_t)(os->dims[3] / xs->dims[3]), (size_t)xs->dims[3], lo,
			        hi, in, fid, bid, out, 0);
		return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "the convolution");
	}
	case NN_OP_MATMUL: {
		uint32_t fid, bid = XNN_INVALID_VALUE_ID;
		if ((rc = value(l, n, n->inputs[1], &fid)))
			return rc;
		if (n->inputs[2] >= 0 && (rc = value(l, n, n->inputs[2], &bid)))
			return rc;
		if ((rc = output_values(l, n, 1, &out, &fin)))
			return rc;
		st = xnn_define_fully_connected(l->sub, lo, hi, in, fid, bid, out,
		                                n->p.matmul.transpose_b ? 0 : XNN_FLAG_TRANSPOSE_WEIGHTS);
		return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "the fully-connected layer");
	}
	case NN_OP_ADD:
	case NN_OP_SUB:
	case NN_OP_MUL:
	case NN_OP_DIV:
	case NN_OP_MAXIMUM:
	case NN_OP_MINIMUM: {
		if ((rc = value(l, n, n->inputs[1], &in2)))
			return rc;
		int clamps = n->op != NN_OP_MAXIMUM && n->op != NN_OP_MINIMUM;
		if ((rc = output_values(l, n, clamps, &out, &fin)))
			return rc;
		switch (n->op) {
		case NN_OP_ADD:
			st = xnn_define_add2(l->sub, lo, hi, in, in2, out, 0);
			break;
		case NN_OP_SUB:
			st = xnn_define_subtract(l->sub, lo, hi, in, in2, out, 0);
			break;
		case NN_OP_MUL:
			st = xnn_define_multiply2(l->sub, lo, hi, in, in2, out, 0);
			break;
		case NN_OP_DIV:
			st = xnn_define_divide(l->sub, lo, hi, in, in2, out, 0);
			break;
		case NN_OP_MAXIMUM:
			st = xnn_define_maximum2(l->sub, in, in2, out, 0);
			break;
		default:
			st = xnn_define_minimum2(l->sub, in, in2, out, 0);
			break;
		}
		if (st != xnn_status_success)
			return xfail(l, n, st, "the element-wise op");
		return finish_clamp(l, n, clamps, out, fin);
	}
	case NN_OP_CLAMP:
		if ((rc = value(l, n, n->output, &out)))
			return rc;
		st = xnn_define_clamp(l->sub, lo, hi, in, out, 0);
		return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "the clamp");
	case NN_OP_PRELU: {
		const nn_tensor *a = &g->tensors[n->inputs[1]];
		int64_t ch = xs->dims[xs->rank - 1];
		if ((rc = output_values(l, n, 0, &out, &fin)))
			return rc;
		if (a->data && a->producer < 0 && nn_shape_count(&a->shape) == ch &&
		    a->shape.dims[a->shape.rank - 1] == ch) {
			size_t d[1] = { (size_t)ch };
			if ((rc = static_value(l, n, a->data, 1, d, &in2)))
				return rc;
			st = xnn_define_prelu(l->sub, in, in2, out, 0);
			if (st != xnn_status_success)
				return xfail(l, n, st, "the PReLU");
		} else {
			/* alpha is not per channel: max(x,0) + alpha*min(x,0) */
			uint32_t pos, neg, scaled, alpha;
			if ((rc = value(l, n, n->inputs[1], &alpha)) || (rc = internal_value(l, n, xs, &pos)) ||
			    (rc = internal_value(l, n, xs, &neg)) || (rc = internal_value(l, n, os, &scaled)))
				return rc;
			if (xnn_define_clamp(l->sub, 0, INFINITY, in, pos, 0) != xnn_status_success ||
			    xnn_define_clamp(l->sub, -INFINITY, 0, in, neg, 0) != xnn_status_success ||
			    xnn_define_multiply2(l->sub, -INFINITY, INFINITY, neg, alpha, scaled, 0) !=
			            xnn_status_success ||
			    xnn_define_add2(l->sub, -INFINITY, INFINITY, pos, scaled, out, 0) != xnn_status_success)
				return xfail(l, n, xnn_status_invalid_parameter, "the PReLU decomposition");
		}
		return finish_clamp(l, n, 0, out, fin);
	}
	case NN_OP_LEAKY_RELU:
	case NN_OP_ABS:
	case NN_OP_SQUARE:
	case NN_OP_SQRT:
	case NN_OP_SIGMOID:
	case NN_OP_SOFTMAX:
		if ((rc = output_values(l, n, 0, &out, &fin)))
			return rc;
		if (n->op == NN_OP_LEAKY_RELU)
			st = xnn_define_leaky_relu(l->sub, n->p.alpha, in, out, 0);
		else if (n->op == NN_OP_ABS)
			st = xnn_define_abs(l->sub, in, out, 0);
		else if (n->op == NN_OP_SQUARE)
			st = xnn_define_square(l->sub, in, out, 0);
		else if (n->op == NN_OP_SQRT)
			st = xnn_define_square_root(l->sub, in, out, 0);
		else if (n->op == NN_OP_SIGMOID)
			st = xnn_define_sigmoid(l->sub, in, out, 0);
		else
			st = xnn_define_softmax(l->sub, in, out, 0);
		if (st != xnn_status_success)
			return xfail(l, n, st, "the unary op");
		return finish_clamp(l, n, 0, out, fin);
	case NN_OP_RSQRT: {
		uint32_t root, one;
		size_t d[1] = { 1 };
		if ((rc = output_values(l, n, 1, &out, &fin)) || (rc = internal_value(l, n, xs, &root)) ||
		    (rc = static_value(l, n, one_value, 1, d, &one)))
			return rc;
		if (xnn_define_square_root(l->sub, in, root, 0) != xnn_status_success ||
		    xnn_define_divide(l->sub, lo, hi, one, root, out, 0) != xnn_status_success)
			return xfail(l, n, xnn_status_invalid_parameter, "the rsqrt");
		return MIEN_OK;
	}
	case NN_OP_MAX_POOL:
	case NN_OP_AVG_POOL: {
		const nn_pool_params *p = &n->p.pool;
		int pt = p->pad_top, pb = p->pad_bottom, pl = p->pad_left, pr = p->pad_right;
		uint32_t flags = 0;
		if (p->padding == NN_PAD_SAME) {
			if (n->op == NN_OP_MAX_POOL) {
				same_pads(xs->dims[1], os->dims[1], p->kernel_h, p->stride_h, 1, &pt, &pb);
				same_pads(xs->dims[2], os->dims[2], p->kernel_w, p->stride_w, 1, &pl, &pr);
			} else {
				/* TF's average excludes padded cells; XNNPACK does the same under this flag */
				flags = XNN_FLAG_TENSORFLOW_SAME_PADDING;
				pt = pb = pl = pr = 0;
			}
		} else if (p->padding == NN_PAD_VALID) {
			pt = pb = pl = pr = 0;
		}
		if ((rc = output_values(l, n, 1, &out, &fin)))
			return rc;
		if (n->op == NN_OP_MAX_POOL)
			st = xnn_define_max_pooling_2d(l->sub, (uint32_t)pt, (uint32_t)pr, (uint32_t)pb, (uint32_t)pl,
			                               (uint32_t)p->kernel_h, (uint32_t)p->kernel_w,
			                               (uint32_t)p->stride_h, (uint32_t)p->stride_w, 1, 1, lo, hi, in,
			                               out, 0);
		else
			st = xnn_define_average_pooling_2d(l->sub, (uint32_t)pt, (uint32_t)pr, (uint32_t)pb,
			                                   (uint32_t)pl, (uint32_t)p->kernel_h, (uint32_t)p->kernel_w,
			                                   (uint32_t)p->stride_h, (uint32_t)p->stride_w, lo, hi, in,
			                                   out, flags);
		return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "the pooling");
	}
	case NN_OP_MEAN:
	case NN_OP_SUM: {
		/* which axes: read back from the shapes (reduced axes are the ones that became 1 or vanished) */
		int len = 0;
		int64_t axes[NN_MAX_RANK];
		if (n->n_inputs >= 2) {
			const nn_tensor *a = &g->tensors[n->inputs[1]];
			if (!a->data || a->dtype != NN_DTYPE_I32 || nn_shape_count(&a->shape) > NN_MAX_RANK)
				return unsupported(l, n, "reduction axes must be an integer constant");
			len = (int)nn_shape_count(&a->shape);
			for (int i = 0; i < len; i++)
				axes[i] = ((const int32_t *)a->data)[i];
		} else {
			len = n->p.reduce.n_axes;
			for (int i = 0; i < len; i++)
				axes[i] = n->p.reduce.axes[i];
		}
		for (int i = 0; i < len; i++)
			if (axes[i] < 0)
				axes[i] += xs->rank;
		if ((rc = output_values(l, n, 1, &out, &fin)))
			return rc;
		if (n->op == NN_OP_MEAN) {
			if (xs->rank != 4 || len != 2 ||
			    !((axes[0] == 1 && axes[1] == 2) || (axes[0] == 2 && axes[1] == 1)))
				return unsupported(l, n, "Mean is supported over the spatial axes of NHWC only");
			nn_shape pooled = { .rank = 4, .dims = { xs->dims[0], 1, 1, xs->dims[3] } };
			uint32_t pid = out;
			if (os->rank != 4 && (rc = internal_value(l, n, &pooled, &pid)))
				return rc;
			st = xnn_define_global_average_pooling_2d(l->sub, lo, hi, in, pid, 0);
			if (st != xnn_status_success)
				return xfail(l, n, st, "the global average pooling");
			if (pid != out) {
				size_t d[NN_MAX_RANK], r;
				dims_of(os, d, &r);
				st = xnn_define_static_reshape(l->sub, r, d, pid, out, 0);
			}
			return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "the reshape after Mean");
		}
		if (len != 1 || axes[0] != xs->rank - 1)
			return unsupported(l, n, "Sum is supported over the last axis only");
		/* Sum over the last axis = a fully-connected layer with an all-ones [1,K] filter */
		int64_t k = xs->dims[xs->rank - 1];
		float *ones = nn__graph_alloc(&rt->scratch, (size_t)k * sizeof(float));
		if (!ones)
			return mien_error_set(l->err, MIEN_ENOMEM, "%s: out of memory", g->model_name);
		for (int64_t i = 0; i < k; i++)
			ones[i] = 1.0f;
		size_t fd[2] = { 1, (size_t)k };
		uint32_t fid, sid = out;
		if ((rc = static_value(l, n, ones, 2, fd, &fid)))
			return rc;
		nn_shape summed = *xs;
		summed.dims[xs->rank - 1] = 1;
		if (os->rank != xs->rank && (rc = internal_value(l, n, &summed, &sid)))
			return rc;
		st = xnn_define_fully_connected(l->sub, lo, hi, in, fid, XNN_INVALID_VALUE_ID, sid, 0);
		if (st == xnn_status_success && sid != out) {
			size_t d[NN_MAX_RANK], r;
			dims_of(os, d, &r);
			st = xnn_define_static_reshape(l->sub, r, d, sid, out, 0);
		}
		return st == xnn_status_success ? MIEN_OK : xfail(l, n, st, "the Sum");
	}
	case NN_OP_PAD: {
		const nn_tensor *p = &g->tensors[n->inputs[1]];
		if (!p->data || p->dtype != NN_DTYPE_I32 || nn_shape_count(&p->shape) != 2 * xs->rank)
			return unsupported(l, n, "paddings must be an integer constant");
		size_t pre[XNN_MAX_TENSOR_DIMS] = { 0 }, post[XNN_MAX_TENSOR_DIMS] = { 0 };
		for (int i = 0; i < xs->rank; i++) {
			pre[i] = (size_t)((const int32_t *)p->data)[2 * i];
			post[i] = (size_t)((const int32_t *)p->data)[2 * i + 1];
		}
		if ((rc = output_values(l, n, 0, &out, &fin)))
			return rc;
		st = xnn_define_static_constant_pad(l->sub, pre, post, n->p.pad_value, in, out, 0);
		if (st != xnn_status_success)
			return xfail(l, n, st, "the pad");
		return finish_clamp(l, n, 0, out, fin);
	}
	case NN_OP_RESHAPE:
	case NN_OP_SQUEEZE:
	case NN_OP_IDENTITY: {
		size_t d[NN_MAX_RANK], r;
		dims_of(os, d, &r);
		if ((rc = output_values(l, n, 0, &out, &fin)))
			return rc;
		st = xnn_define_static_reshape(l->sub, r, d, in, out, 0);
		if (st != xnn_status_success)
			return xfail(l, n, st, "the reshape");
		return finish_clamp(l, n, 0, out, fin);
	}
	case NN_OP_RESIZE_BILINEAR: {
		uint32_t flags = n->p.resize.align_corners        ? XNN_FLAG_ALIGN_CORNERS
		                 : n->p.resize.half_pixel_centers ? 0
		                                                  : XNN_FLAG_TENSORFLOW_LEGACY_MODE;
		if ((rc = output_values(l, n, 0, &out, &fin)))
			return rc;
		st = xnn_define_static_resize_bilinear_2d(l->sub, (size_t)os->dims[1], (size_t)os->dims[2], in, out,
		                                          flags);
		if (st != xnn_status_success)
			return xfail(l, n, st, "the bilinear resize");
		return finish_clamp(l, n, 0, out, fin);
	}
	case NN_OP_DEPTH_TO_SPACE:
		if ((rc = output_values(l, n, 0, &out, &fin)))
			return rc;
		st = xnn_define_depth_to_space(l->sub, in, out, (uint32_t)n->p.block, 0);
		if (st != xnn_status_success)
			return xfail(l, n, st, "the depth-to-space");
		return finish_clamp(l, n, 0, out, fin);
	default:
		return unsupported(l, n, "no XNNPACK lowering for this op");
	}
}

/* ---- host steps */

static void run_host(const step *s)
{
	const nn_node *n = s->node;
	switch (n->op) {
	case NN_OP_CONCAT:
		nn__host_concat(&s->call, n->p.axis);
		break;
	case NN_OP_EXP:
		nn__host_exp(&s->call);
		break;
	case NN_OP_TANH:
		nn__host_tanh(&s->call);
		break;
	default:
		n->p.host.run(&s->call);
		break;
	}
}

static void clamp_buffer(float *x, int64_t count, float lo, float hi)
{
	for (int64_t i = 0; i < count; i++)
		x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

/* ---- creation */

static size_t host_scratch_bytes(const nn_runtime *rt, const nn_node *n, size_t threads)
{
	const nn_shape *shapes[NN_NODE_MAX_INPUTS];
	for (int k = 0; k < n->n_inputs; k++)
		shapes[k] = &rt->shapes[n->inputs[k]];
	return n->p.host.scratch(shapes, n->p.host.params, threads);
}

int nn_runtime_create(const nn_model *model, const nn_shape *input_shapes, nn_pool *pool, nn_runtime **out,
                      mien_error *err)
{
	*out = NULL;
	const nn_graph *g = nn__model_graph(model);
	int rc = nn_init(err);
	if (rc)
		return rc;
	nn_runtime *rt = calloc(1, sizeof(*rt));
	int *group = NULL;
	unsigned char *external = NULL;
	lower l = { .rt = rt, .g = g, .err = err };
	nn_shape_env env = { 0 };
	if (!rt)
		return mien_error_set(err, MIEN_ENOMEM, "%s: out of memory creating a runtime", g->model_name);
	rt->model = model;
	rt->g = g;
	rc = nn__graph_init(&rt->scratch, g->model_name, err);
	if (rc)
		goto fail;
	size_t nt = (size_t)g->n_tensors;
	rt->shapes = calloc(nt, sizeof(nn_shape));
	rt->buffers = calloc(nt, sizeof(float *));
	rt->steps = calloc((size_t)g->n_nodes + 1, sizeof(step));
	env.ivalues = calloc(nt, sizeof(*env.ivalues));
	env.ilen = calloc(nt, sizeof(int));
	group = calloc((size_t)g->n_nodes + 1, sizeof(int));
	external = calloc(nt, 1);
	l.value = malloc(nt * sizeof(uint32_t));
	l.ext_id = malloc(nt * sizeof(uint32_t));
	if (!rt->shapes || !rt->buffers || !rt->steps || !env.ivalues || !env.ilen || !group || !external || !l.value ||
	    !l.ext_id) {
		rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory creating a runtime", g->model_name);
		goto fail;
	}
	env.shapes = rt->shapes;
	rc = nn__infer_shapes(g, input_shapes, &env, err);
	if (rc)
		goto fail;

	/* groups: consecutive XNNPACK nodes share one; each host node has its own; shape-only nodes none (-1) */
	int n_groups = 0, prev_xnn = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		const nn_node *n = &g->nodes[i];
		if (is_shape_only(n->op) || env.ilen[n->output] >= 0) {
			group[i] = -1;
			continue;
		}
		if (is_host(n->op)) {
			group[i] = n_groups++;
			prev_xnn = 0;
		} else {
			if (!prev_xnn)
				n_groups++;
			group[i] = n_groups - 1;
			prev_xnn = 1;
		}
		rt->mmac += nn__node_macs(g, n, rt->shapes) / 1e6;
	}
	/* external tensors: graph inputs and outputs, and anything read in a group other than its producer's */
	for (int i = 0; i < g->n_inputs; i++)
		external[g->inputs[i]] = 1;
	for (int i = 0; i < g->n_outputs; i++) {
		int t = g->outputs[i];
		int p = g->tensors[t].producer;
		if (p < 0 || group[p] < 0) {
			rc = mien_error_set(err, MIEN_EUNSUPPORTED, "%s: output %s is not computed by the graph",
			                    g->model_name, g->output_names[i]);
			goto fail;
		}
		external[t] = 1;
	}
	for (int i = 0; i < g->n_nodes; i++) {
		const nn_node *n = &g->nodes[i];
		if (group[i] < 0)
			continue;
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t < 0 || (g->tensors[t].data && g->tensors[t].producer < 0))
				continue;
			int p = g->tensors[t].producer;
			if (p >= 0 && group[p] < 0) {
				/* an integer shape tensor used as data: only the second input of reshape-like ops
				 * may be one, and those are read from constants at lowering */
				if (!((n->op == NN_OP_RESHAPE || n->op == NN_OP_RESIZE_BILINEAR || n->op == NN_OP_PAD ||
				       n->op == NN_OP_MEAN || n->op == NN_OP_SUM) &&
				      k == 1)) {
					rc = mien_error_set(err, MIEN_EUNSUPPORTED,
					                    "%s: node %s (op %s): reads a shape-only tensor as data",
					                    g->model_name, n->name, n->source_op);
					goto fail;
				}
				continue;
			}
			if (p < 0 || group[p] != group[i] || is_host(n->op))
				external[t] = 1;
			if (p >= 0 && is_host(g->nodes[p].op))
				external[t] = 1;
		}
	}
	/* buffers, and the scratch host ops ask for */
	size_t total = 0, threads = nn_pool_threads(pool);
	for (size_t t = 0; t < nt; t++)
		if (external[t])
			total += mien_align_up((size_t)nn_shape_count(&rt->shapes[t]) * sizeof(float) + 64, 64);
	for (int i = 0; i < g->n_nodes; i++)
		if (group[i] >= 0 && g->nodes[i].op == NN_OP_HOST && g->nodes[i].p.host.scratch)
			total += mien_align_up(host_scratch_bytes(rt, &g->nodes[i], threads), 64);
	rc = mien_arena_init(&rt->arena, total ? total : 64, 64);
	if (rc) {
		mien_error_set(err, rc, "%s: cannot reserve %zu bytes of activations", g->model_name, total);
		goto fail;
	}
	for (size_t t = 0; t < nt; t++) {
		if (!external[t])
			continue;
		rt->buffers[t] =
		        mien_arena_alloc(&rt->arena, (size_t)nn_shape_count(&rt->shapes[t]) * sizeof(float) + 64);
		MIEN_ASSERT(rt->buffers[t] != NULL);
		memset(rt->buffers[t], 0, (size_t)nn_shape_count(&rt->shapes[t]) * sizeof(float));
	}

	/* steps */
	for (int i = 0; i < g->n_nodes;) {
		if (group[i] < 0) {
			i++;
			continue;
		}
		const nn_node *n = &g->nodes[i];
		step *s = &rt->steps[rt->n_steps];
		if (is_host(n->op)) {
			s->kind = STEP_HOST;
			s->node = n;
			s->call.n_inputs = n->n_inputs;
			for (int k = 0; k < n->n_inputs; k++) {
				int t = n->inputs[k];
				const nn_tensor *x = &g->tensors[t];
				if (x->dtype != NN_DTYPE_F32) {
					rc = mien_error_set(err, MIEN_EUNSUPPORTED,
					                    "%s: node %s (op %s): integer input", g->model_name,
					                    n->name, n->source_op);
					goto fail;
				}
				s->call.inputs[k] = rt->buffers[t] ? rt->buffers[t] : (const float *)x->data;
				s->call.input_shapes[k] = &rt->shapes[t];
			}
			s->call.output = rt->buffers[n->output];
			s->call.output_shape = &rt->shapes[n->output];
			s->call.params = n->op == NN_OP_HOST ? n->p.host.params : NULL;
			s->call.pool = pool ? pool->pool : NULL;
			s->call.threads = threads;
			if (n->op == NN_OP_HOST && n->p.host.scratch) {
				s->call.scratch_bytes = host_scratch_bytes(rt, n, threads);
				if (s->call.scratch_bytes) {
					s->call.scratch = mien_arena_alloc(&rt->arena, s->call.scratch_bytes);
					MIEN_ASSERT(s->call.scratch != NULL);
				}
			}
			rt->n_steps++;
			i++;
			continue;
		}
		/* one XNNPACK subgraph for the run of nodes in this group */
		int grp = group[i], end = i;
		while (end < g->n_nodes && (group[end] == grp || group[end] < 0))
			end++;
		for (size_t t = 0; t < nt; t++)
			l.value[t] = l.ext_id[t] = XNN_INVALID_VALUE_ID;
		uint32_t n_ext = 0;
		struct xnn_external_value *ext = NULL;
		for (int j = i; j < end; j++) {
			if (group[j] != grp)
				continue;
			const nn_node *m = &g->nodes[j];
			for (int k = -1; k < m->n_inputs; k++) {
				int t = k < 0 ? m->output : m->inputs[k];
				if (t >= 0 && external[t] && l.ext_id[t] == XNN_INVALID_VALUE_ID)
					l.ext_id[t] = n_ext++;
			}
		}
		ext = calloc(n_ext ? n_ext : 1, sizeof(*ext));
		if (!ext) {
			rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory", g->model_name);
			goto fail;
		}
		for (size_t t = 0; t < nt; t++)
			if (l.ext_id[t] != XNN_INVALID_VALUE_ID)
				ext[l.ext_id[t]] =
				        (struct xnn_external_value){ .id = l.ext_id[t], .data = rt->buffers[t] };
		enum xnn_status st = xnn_create_subgraph(n_ext, 0, &l.sub);
		if (st != xnn_status_success) {
			free(ext);
			rc = mien_error_set(err, MIEN_EBACKEND, "%s: cannot create an XNNPACK subgraph", g->model_name);
			goto fail;
		}
		for (int j = i; j < end && rc == MIEN_OK; j++)
			if (group[j] == grp)
				rc = lower_node(&l, &g->nodes[j]);
		if (rc == MIEN_OK) {
			st = xnn_create_runtime_v2(l.sub, pool ? pool->pool : NULL, 0, &s->xnn);
			if (st != xnn_status_success)
				rc = mien_error_set(err, MIEN_EBACKEND,
				                    "%s: XNNPACK could not build the runtime (status %d)",
				                    g->model_name, (int)st);
		}
		xnn_delete_subgraph(l.sub);
		l.sub = NULL;
		if (rc == MIEN_OK) {
			s->kind = STEP_XNN;
			rt->n_steps++;
			st = xnn_setup_runtime(s->xnn, n_ext, ext);
			if (st != xnn_status_success)
				rc = mien_error_set(err, MIEN_EBACKEND,
				                    "%s: XNNPACK could not set the runtime up (status %d)",
				                    g->model_name, (int)st);
		}
		free(ext);
		if (rc)
			goto fail;
		i = end;
	}
	free(group);
	free(external);
	free(l.value);
	free(l.ext_id);
	free(env.ivalues);
	free(env.ilen);
	*out = rt;
	return MIEN_OK;
fail:
	free(group);
	free(external);
	free(l.value);
	free(l.ext_id);
	free(env.ivalues);
	free(env.ilen);
	nn_runtime_free(&rt);
	return rc;
}

void nn_runtime_free(nn_runtime **runtime)
{
	if (!runtime || !*runtime)
		return;
	nn_runtime *rt = *runtime;
	for (int i = 0; i < rt->n_steps; i++)
		if (rt->steps[i].kind == STEP_XNN && rt->steps[i].xnn)
			xnn_delete_runtime(rt->steps[i].xnn);
	free(rt->steps);
	free(rt->shapes);
	free(rt->buffers);
	mien_arena_release(&rt->arena);
	nn__graph_release(&rt->scratch);
	free(rt);
	*runtime = NULL;
}

float *nn_runtime_input(nn_runtime *rt, size_t i, nn_shape *shape)
{
	if (i >= (size_t)rt->g->n_inputs)
		return NULL;
	int t = rt->g->inputs[i];
	if (shape)
		*shape = rt->shapes[t];
	return rt->buffers[t];
}

const float *nn_runtime_output(const nn_runtime *rt, size_t i, nn_shape *shape)
{
	if (i >= (size_t)rt->g->n_outputs)
		return NULL;
	int t = rt->g->outputs[i];
	if (shape)
		*shape = rt->shapes[t];
	return rt->buffers[t];
}

double nn_runtime_mmac(const nn_runtime *rt)
{
	return rt->mmac;
}

int nn_runtime_run(nn_runtime *rt, mien_error *err)
{
	for (int i = 0; i < rt->n_steps; i++) {
		step *s = &rt->steps[i];
		if (s->kind == STEP_XNN) {
			enum xnn_status st = xnn_invoke_runtime(s->xnn);
			if (st != xnn_status_success)
				return mien_error_set(err, MIEN_EBACKEND, "%s: XNNPACK run failed (status %d)",
				                      rt->g->model_name, (int)st);
		} else {
			run_host(s);
			const nn_node *n = s->node;
			if (n->out_min != -INFINITY || n->out_max != INFINITY)
				clamp_buffer(s->call.output, nn_shape_count(s->call.output_shape), n->out_min,
				             n->out_max);
		}
	}
	return MIEN_OK;
}
