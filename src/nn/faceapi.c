/*
 * faceapi.c — face-api.js models: a `*-weights_manifest.json` plus its shard, into the IR.
 *
 * A face-api manifest holds only weights; the architecture lives in face-api's source. This file rebuilds
 * the five networks mien uses (ssd_mobilenetv1, tiny_face_detector, face_landmark_68, face_expression,
 * face_recognition) layer by layer from @vladmandic/face-api 1.7.15 (src/..., named at each builder), with
 * face-api's input normalisation as the first ops so callers feed RGB pixels in [0,255].
 * tests/ref/FACEAPI.md lists the layers, the pre-processing and the outputs; tests/ref/make_faceapi_refs.mjs
 * makes reference outputs with face-api itself at the same boundary.
 *
 * Every weight is looked up by its manifest name and its shape is checked against the running channel count
 * before use, so a manifest with missing or mis-shaped weights is an error naming the model and the weight,
 * never a crash. Building uses a sticky error: each helper returns -1 once a step has failed, and the
 * loader checks the builder's code at the end.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

#define NAME_MAX_LEN 160

typedef struct builder {
	nn_graph *g;
	const char *model; /* manifest stem, for messages: "face_recognition_model" */
	mien_error *err;
	int rc; /* first error; once set, every helper is a no-op returning -1 */
} builder;

/* A feature map while building: its tensor and the NHWC size we expect it to have at the published input. */
typedef struct feat {
	int t;
	int64_t h, w, c;
} feat;

static const feat FEAT_NONE = { -1, 0, 0, 0 };

static int fail(builder *b, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(builder *b, int code, const char *fmt, ...)
{
	if (b->rc)
		return -1;
	char msg[MIEN_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->rc = mien_error_set(b->err, code, "%s: %s", b->model, msg);
	return -1;
}

static const char *fmt_name(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *fmt_name(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, NAME_MAX_LEN, fmt, ap);
	va_end(ap);
	return buf;
}

static const char *shape_text(const nn_shape *s, char *buf, size_t size)
{
	return nn_shape_str(s, buf, size);
}

/*
 * The constant float32 weight `name`, checked to have rank `rank` and the given dims (-1 = any). Returns its
 * tensor id, or -1 after recording "weight X missing" / "weight X has shape [..], expected [..]".
 */
static int weight(builder *b, const char *name, int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	if (b->rc)
		return -1;
	int id = nn__graph_find_tensor(b->g, name);
	if (id < 0)
		return fail(b, MIEN_EFORMAT, "weight %s missing", name);
	const nn_tensor *t = &b->g->tensors[id];
	if (!t->data || t->producer >= 0 || t->dtype != NN_DTYPE_F32)
		return fail(b, MIEN_EFORMAT, "weight %s is not a float32 constant", name);
	const int64_t want[4] = { d0, d1, d2, d3 };
	int ok = t->shape.rank == rank;
	for (int i = 0; ok && i < rank; i++)
		ok = want[i] < 0 ? t->shape.dims[i] > 0 : t->shape.dims[i] == want[i];
	if (!ok) {
		char have[64], expect[96];
		size_t n = 0;
		n += (size_t)snprintf(expect + n, sizeof(expect) - n, "[");
		for (int i = 0; i < rank && n < sizeof(expect); i++) {
			if (want[i] < 0)
				n += (size_t)snprintf(expect + n, sizeof(expect) - n, "%s?", i ? "," : "");
			else
				n += (size_t)snprintf(expect + n, sizeof(expect) - n, "%s%lld", i ? "," : "",
				                      (long long)want[i]);
		}
		if (n < sizeof(expect))
			snprintf(expect + n, sizeof(expect) - n, "]");
		return fail(b, MIEN_EFORMAT, "weight %s has shape %s, expected %s", name,
		            shape_text(&t->shape, have, sizeof(have)), expect);
	}
	return id;
}

static const float *weight_data(builder *b, int id)
{
	return (const float *)b->g->tensors[id].data;
}

static int add_const(builder *b, const char *name, nn_dtype dtype, int rank, const int64_t *dims, const void *data)
{
	if (b->rc)
		return -1;
	nn_shape s = { .rank = rank };
	for (int i = 0; i < rank; i++)
		s.dims[i] = dims[i];
	int id = nn__graph_add_const(b->g, name, dtype, &s, data);
	if (id < 0)
		return fail(b, id, "cannot add constant %s", name);
	return id;
}

/* A [n] float32 constant (n = 1 broadcasts as a scalar). */
static int vec_const(builder *b, const char *name, int64_t n, const float *values)
{
	return add_const(b, name, NN_DTYPE_F32, 1, &n, values);
}

static int add_node(builder *b, nn_node *n)
{
	if (b->rc)
		return -1;
	for (int i = 0; i < n->n_inputs; i++)
		MIEN_ASSERT(n->inputs[i] >= -1 && n->inputs[i] < b->g->n_tensors);
	int id = nn__graph_add_node(b->g, n);
	if (id < 0)
		return fail(b, id, "cannot add node %s", n->name);
	return id;
}

/* ---- layers: each returns the new feature map, or FEAT_NONE once the builder has failed */

static int64_t out_size(int64_t in, int k, int stride, nn_padding pad, int pad_lo, int pad_hi)
{
	if (pad == NN_PAD_SAME)
		return (in + stride - 1) / stride;
	if (pad == NN_PAD_EXPLICIT)
		in += pad_lo + pad_hi;
	return in < k ? 0 : (in - k) / stride + 1;
}

/*
 * Conv2D of x with filter `fname` ([k,k,x.c,?], square) and optional bias `bname` ([O]), TensorFlow padding
 * (`pad` = NN_PAD_EXPLICIT uses `explicit_pad` on every side), clamp [lo, hi].
 */
static feat conv(builder *b, const char *name, const char *kind, feat x, const char *fname, const char *bname,
                 int stride, nn_padding pad, int explicit_pad, float lo, float hi)
{
	int f = weight(b, fname, 4, -1, -1, x.c, -1);
	if (f < 0)
		return FEAT_NONE;
	const nn_shape *fs = &b->g->tensors[f].shape;
	int64_t k = fs->dims[0], cout = fs->dims[3];
	if (fs->dims[1] != k || k > 16) {
		fail(b, MIEN_EFORMAT, "weight %s: expected a square filter", fname);
		return FEAT_NONE;
	}
	int bias = bname ? weight(b, bname, 1, cout, 0, 0, 0) : -1;
	if (b->rc)
		return FEAT_NONE;
	nn_node n = nn__node(NN_OP_CONV2D, name, kind);
	n.n_inputs = 3;
	n.inputs[0] = x.t;
	n.inputs[1] = f;
	n.inputs[2] = bias;
	n.p.conv = (nn_conv_params){
		.stride_h = stride, .stride_w = stride, .dilation_h = 1, .dilation_w = 1, .padding = pad
	};
	if (pad == NN_PAD_EXPLICIT)
		n.p.conv.pad_top = n.p.conv.pad_bottom = n.p.conv.pad_left = n.p.conv.pad_right = explicit_pad;
	n.out_min = lo;
	n.out_max = hi;
	int t = add_node(b, &n);
	int p = pad == NN_PAD_EXPLICIT ? explicit_pad : 0;
	return t < 0 ? FEAT_NONE
	             : (feat){ t, out_size(x.h, (int)k, stride, pad, p, p), out_size(x.w, (int)k, stride, pad, p, p),
		               cout };
}

/* Depthwise 3x3 (filter [3,3,x.c,1]), no bias, no clamp. */
static feat depthwise(builder *b, const char *name, const char *kind, feat x, const char *fname, int stride,
                      nn_padding pad, int explicit_pad)
{
	int f = weight(b, fname, 4, 3, 3, x.c, 1);
	if (f < 0)
		return FEAT_NONE;
	nn_node n = nn__node(NN_OP_DEPTHWISE_CONV2D, name, kind);
	n.n_inputs = 3;
	n.inputs[0] = x.t;
	n.inputs[1] = f;
	n.inputs[2] = -1;
	n.p.conv = (nn_conv_params){
		.stride_h = stride, .stride_w = stride, .dilation_h = 1, .dilation_w = 1, .padding = pad
	};
	if (pad == NN_PAD_EXPLICIT)
		n.p.conv.pad_top = n.p.conv.pad_bottom = n.p.conv.pad_left = n.p.conv.pad_right = explicit_pad;
	int t = add_node(b, &n);
	int p = pad == NN_PAD_EXPLICIT ? explicit_pad : 0;
	return t < 0 ? FEAT_NONE
	             : (feat){ t, out_size(x.h, 3, stride, pad, p, p), out_size(x.w, 3, stride, pad, p, p), x.c };
}

/* Elementwise a (op) b with clamp; the result has a's size (b is a per-channel constant or the same size). */
static feat binary(builder *b, nn_op op, const char *name, const char *kind, feat a, int other, float lo, float hi)
{
	if (b->rc)
		return FEAT_NONE;
	nn_node n = nn__node(op, name, kind);
	n.n_inputs = 2;
	n.inputs[0] = a.t;
	n.inputs[1] = other;
	n.out_min = lo;
	n.out_max = hi;
	int t = add_node(b, &n);
	return t < 0 ? FEAT_NONE : (feat){ t, a.h, a.w, a.c };
}

/* a + b for two feature maps of the same size. */
static feat add_maps(builder *b, const char *name, const char *kind, feat a, feat c, float lo)
{
	if (b->rc)
		return FEAT_NONE;
	if (a.h != c.h || a.w != c.w || a.c != c.c) {
		fail(b, MIEN_EFORMAT, "%s: operands differ in size ([%lld,%lld,%lld] vs [%lld,%lld,%lld])", name,
		     (long long)a.h, (long long)a.w, (long long)a.c, (long long)c.h, (long long)c.w, (long long)c.c);
		return FEAT_NONE;
	}
	return binary(b, NN_OP_ADD, name, kind, a, c.t, lo, INFINITY);
}

/* A separate Relu/Relu6 node. Used after a multiply/add by constants that finalise folds into the preceding
 * convolution: the clamp then folds into that convolution too, as TensorFlow graphs have it. */
static feat clamp(builder *b, const char *name, const char *kind, feat x, float lo, float hi)
{
	if (b->rc)
		return FEAT_NONE;
	nn_node n = nn__node(NN_OP_CLAMP, name, kind);
	n.n_inputs = 1;
	n.inputs[0] = x.t;
	n.out_min = lo;
	n.out_max = hi;
	int t = add_node(b, &n);
	return t < 0 ? FEAT_NONE : (feat){ t, x.h, x.w, x.c };
}

static feat pool(builder *b, nn_op op, const char *name, const char *kind, feat x, int k, int stride, nn_padding pad)
{
	if (b->rc)
		return FEAT_NONE;
	nn_node n = nn__node(op, name, kind);
	n.n_inputs = 1;
	n.inputs[0] = x.t;
	n.p.pool = (nn_pool_params){
		.kernel_h = k, .kernel_w = k, .stride_h = stride, .stride_w = stride, .padding = pad
	};
	int t = add_node(b, &n);
	return t < 0 ? FEAT_NONE
	             : (feat){ t, out_size(x.h, k, stride, pad, 0, 0), out_size(x.w, k, stride, pad, 0, 0), x.c };
}

static feat leaky(builder *b, const char *name, const char *kind, feat x, float alpha)
{
	if (b->rc)
		return FEAT_NONE;
	nn_node n = nn__node(NN_OP_LEAKY_RELU, name, kind);
	n.n_inputs = 1;
	n.inputs[0] = x.t;
	n.p.alpha = alpha;
	int t = add_node(b, &n);
	return t < 0 ? FEAT_NONE : (feat){ t, x.h, x.w, x.c };
}

/* NHWC zero padding: `after_hw` rows/columns at the bottom/right, `after_c` channels at the end. */
static feat zero_pad(builder *b, const char *name, const char *kind, feat x, int after_hw, int after_c)
{
	char cname[NAME_MAX_LEN];
	const int32_t paddings[8] = { 0, 0, 0, after_hw, 0, after_hw, 0, after_c };
	const int64_t dims[2] = { 4, 2 };
	int p = add_const(b, fmt_name(cname, "%s/paddings", name), NN_DTYPE_I32, 2, dims, paddings);
	if (p < 0)
		return FEAT_NONE;
	nn_node n = nn__node(NN_OP_PAD, name, kind);
	n.n_inputs = 2;
	n.inputs[0] = x.t;
	n.inputs[1] = p;
	n.p.pad_value = 0.0f;
	int t = add_node(b, &n);
	return t < 0 ? FEAT_NONE : (feat){ t, x.h + after_hw, x.w + after_hw, x.c + after_c };
}

/* The graph input: [1,size,size,3] RGB in [0,255]. */
static feat input(builder *b, int64_t size)
{
	if (b->rc)
		return FEAT_NONE;
	nn_shape s = { .rank = 4, .dims = { 1, size, size, 3 } };
	int t = nn__graph_add_input(b->g, "input", &s);
	if (t < 0) {
		fail(b, t, "cannot add the input");
		return FEAT_NONE;
	}
	return (feat){ t, size, size, 3 };
}

/* face-api's ops/normalize.ts then .div(255): (x - mean_rgb) / 255. */
static feat normalize_rgb(builder *b, feat x, const float mean_rgb[3])
{
	const float scale = 255.0f;
	feat centred = binary(b, NN_OP_SUB, "normalize/sub", "normalize", x,
	                      vec_const(b, "normalize/mean_rgb", 3, mean_rgb), -INFINITY, INFINITY);
	return binary(b, NN_OP_DIV, "normalize/div", "normalize", centred, vec_const(b, "normalize/255", 1, &scale),
	              -INFINITY, INFINITY);
}

static int output(builder *b, feat x, const char *name)
{
	if (b->rc)
		return -1;
	int rc = nn__graph_add_output(b->g, x.t, name);
	return rc ? fail(b, rc, "cannot add output %s", name) : 0;
}

/* ==== ssd_mobilenetv1 (src/ssdMobilenetv1/) ==== */

/* Host step: SSD box decoding (outputLayer.ts decodeBoxesLayer). Inputs: the six box-encoding convolutions
 * ([B,H,W,4A], flattened in order as boxPredictionLayer's reshape + predictionLayer's concat do), then the
 * anchors [1,N,4] (Output/extra_dim). Output [B,N,4] as (y0,x0,y1,x1). */
static int ssd_boxes_shape(const nn_shape *const *in, int n_in, const void *params, nn_shape *out, mien_error *err)
{
	(void)params;
	if (n_in < 2)
		return mien_error_set(err, MIEN_EINVAL, "ssd_boxes: needs encodings and anchors");
	const nn_shape *anchors = in[n_in - 1];
	int64_t batch = in[0]->dims[0], n = 0;
	for (int i = 0; i < n_in - 1; i++) {
		if (in[i]->rank != 4 || in[i]->dims[0] != batch || in[i]->dims[3] % 4)
			return mien_error_set(err, MIEN_EINVAL, "ssd_boxes: encoding %d is not [B,H,W,4A]", i);
		n += in[i]->dims[1] * in[i]->dims[2] * (in[i]->dims[3] / 4);
	}
	if (anchors->rank != 3 || anchors->dims[0] != 1 || anchors->dims[2] != 4 || anchors->dims[1] != n)
		return mien_error_set(
		        err, MIEN_EINVAL,
		        "ssd_boxes: %lld boxes predicted but the anchors are not [1,%lld,4] (the input size "
		        "must be the published 512x512)",
		        (long long)n, (long long)n);
	*out = (nn_shape){ .rank = 3, .dims = { batch, n, 4 } };
	return MIEN_OK;
}

static void ssd_boxes_run(const nn_host_call *call)
{
	const int n_enc = call->n_inputs - 1;
	const float *anchors = call->inputs[n_enc];
	const int64_t batch = call->output_shape->dims[0];
	float *out = call->output;
	for (int64_t bi = 0; bi < batch; bi++) {
		const float *a = anchors;
		for (int i = 0; i < n_enc; i++) {
			const nn_shape *s = call->input_shapes[i];
			int64_t per_batch = s->dims[1] * s->dims[2] * s->dims[3];
			const float *v = call->inputs[i] + bi * per_batch;
			for (int64_t j = 0; j < per_batch / 4; j++, v += 4, a += 4, out += 4) {
				/* float arithmetic in face-api's op order (each TF.js op rounds to float32) */
				float size0 = a[2] - a[0], size1 = a[3] - a[1];
				float centre0 = a[0] + size0 / 2.0f, centre1 = a[1] + size1 / 2.0f;
				float half0 = expf(v[2] / 5.0f) * size0 / 2.0f;
				float mid0 = v[0] / 10.0f * size0 + centre0;
				float half1 = expf(v[3] / 5.0f) * size1 / 2.0f;
				float mid1 = v[1] / 10.0f * size1 + centre1;
				out[0] = mid0 - half0;
				out[1] = mid1 - half1;
				out[2] = mid0 + half0;
				out[3] = mid1 + half1;
			}
		}
	}
}

/* Host step: face scores (outputLayer.ts): sigmoid of class 1 of the six class convolutions ([B,H,W,3A],
 * classes background/face/unused per anchor). Output [B,N]. */
static int ssd_scores_shape(const nn_shape *const *in, int n_in, const void *params, nn_shape *out, mien_error *err)
{
	(void)params;
	if (n_in < 1)
		return mien_error_set(err, MIEN_EINVAL, "ssd_scores: no inputs");
	int64_t batch = in[0]->dims[0], n = 0;
	for (int i = 0; i < n_in; i++) {
		if (in[i]->rank != 4 || in[i]->dims[0] != batch || in[i]->dims[3] % 3)
			return mien_error_set(err, MIEN_EINVAL, "ssd_scores: class input %d is not [B,H,W,3A]", i);
		n += in[i]->dims[1] * in[i]->dims[2] * (in[i]->dims[3] / 3);
	}
	*out = (nn_shape){ .rank = 2, .dims = { batch, n } };
	return MIEN_OK;
}

static void ssd_scores_run(const nn_host_call *call)
{
	const int64_t batch = call->output_shape->dims[0];
	float *out = call->output;
	for (int64_t bi = 0; bi < batch; bi++) {
		for (int i = 0; i < call->n_inputs; i++) {
			const nn_shape *s = call->input_shapes[i];
			int64_t per_batch = s->dims[1] * s->dims[2] * s->dims[3];
			const float *v = call->inputs[i] + bi * per_batch;
			for (int64_t j = 0; j < per_batch / 3; j++, v += 3)
				*out++ = (float)(1.0 / (1.0 + exp(-(double)v[1])));
		}
	}
}

/* pointwiseConvLayer.ts: conv (SAME) + batch_norm_offset, relu6. */
static feat ssd_pointwise(builder *b, const char *scope, int idx, feat x, int stride)
{
	char name[NAME_MAX_LEN], fname[NAME_MAX_LEN], bname[NAME_MAX_LEN];
	nn__graph_count_op(b->g, "pointwiseConvLayer");
	return conv(b, fmt_name(name, "%s/Conv2d_%d_pointwise", scope, idx), "pointwiseConvLayer", x,
	            fmt_name(fname, "%s/Conv2d_%d_pointwise/weights", scope, idx),
	            fmt_name(bname, "%s/Conv2d_%d_pointwise/convolution_bn_offset", scope, idx), stride, NN_PAD_SAME, 0,
	            0.0f, 6.0f);
}

/* mobileNetV1.ts depthwiseConvLayer: depthwise 3x3 SAME, batch norm (epsilon 0.001), relu6. The batch norm is
 * emitted as a multiply and an add by per-channel constants, which finalise folds into the depthwise filter. */
static feat ssd_depthwise(builder *b, int idx, feat x, int stride)
{
	char name[NAME_MAX_LEN], wname[NAME_MAX_LEN];
	const char *kind = "depthwiseConvLayer";
	nn__graph_count_op(b->g, kind);
	feat y = depthwise(b, fmt_name(name, "MobilenetV1/Conv2d_%d_depthwise", idx), kind, x,
	                   fmt_name(wname, "MobilenetV1/Conv2d_%d_depthwise/depthwise_weights", idx), stride,
	                   NN_PAD_SAME, 0);
	static const char *const parts[4] = { "gamma", "beta", "moving_mean", "moving_variance" };
	int ids[4];
	for (int i = 0; i < 4; i++)
		ids[i] = weight(b, fmt_name(wname, "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/%s", idx, parts[i]), 1,
		                x.c, 0, 0, 0);
	if (b->rc)
		return FEAT_NONE;
	float *scale = malloc(sizeof(float) * (size_t)x.c * 2);
	if (!scale) {
		fail(b, MIEN_ENOMEM, "out of memory");
		return FEAT_NONE;
	}
	float *shift = scale + x.c;
	const float *gamma = weight_data(b, ids[0]), *beta = weight_data(b, ids[1]);
	const float *mean = weight_data(b, ids[2]), *var = weight_data(b, ids[3]);
	const double epsilon = 0.0010000000474974513; /* mobileNetV1.ts, float32(0.001) */
	for (int64_t c = 0; c < x.c; c++) {
		double s = (double)gamma[c] / sqrt((double)var[c] + epsilon);
		scale[c] = (float)s;
		shift[c] = (float)((double)beta[c] - (double)mean[c] * s);
	}
	int scale_id = vec_const(b, fmt_name(wname, "MobilenetV1/Conv2d_%d_depthwise/bn_scale", idx), x.c, scale);
	int shift_id = vec_const(b, fmt_name(wname, "MobilenetV1/Conv2d_%d_depthwise/bn_shift", idx), x.c, shift);
	free(scale);
	y = binary(b, NN_OP_MUL, fmt_name(name, "MobilenetV1/Conv2d_%d_depthwise/bn_mul", idx), kind, y, scale_id,
	           -INFINITY, INFINITY);
	y = binary(b, NN_OP_ADD, fmt_name(name, "MobilenetV1/Conv2d_%d_depthwise/bn_add", idx), kind, y, shift_id,
	           -INFINITY, INFINITY);
	return clamp(b, fmt_name(name, "MobilenetV1/Conv2d_%d_depthwise/relu6", idx), kind, y, 0.0f, 6.0f);
}

/* boxPredictionLayer.ts: two 1x1 convolutions with bias (common/convLayer.ts, SAME, no relu). */
static void ssd_box_predictor(builder *b, int idx, feat x, int *box_t, int *class_t, int64_t *boxes)
{
	char name[NAME_MAX_LEN], fname[NAME_MAX_LEN], bname[NAME_MAX_LEN];
	const char *kind = "boxPredictionLayer";
	nn__graph_count_op(b->g, kind);
	feat box = conv(b, fmt_name(name, "Prediction/BoxPredictor_%d/BoxEncodingPredictor", idx), kind, x,
	                fmt_name(fname, "Prediction/BoxPredictor_%d/BoxEncodingPredictor/weights", idx),
	                fmt_name(bname, "Prediction/BoxPredictor_%d/BoxEncodingPredictor/biases", idx), 1, NN_PAD_SAME,
	                0, -INFINITY, INFINITY);
	feat cls = conv(b, fmt_name(name, "Prediction/BoxPredictor_%d/ClassPredictor", idx), kind, x,
	                fmt_name(fname, "Prediction/BoxPredictor_%d/ClassPredictor/weights", idx),
	                fmt_name(bname, "Prediction/BoxPredictor_%d/ClassPredictor/biases", idx), 1, NN_PAD_SAME, 0,
	                -INFINITY, INFINITY);
	if (b->rc)
		return;
	if (box.c % 4 || cls.c % 3 || box.c / 4 != cls.c / 3) {
		fail(b, MIEN_EFORMAT,
		     "box predictor %d: %lld box and %lld class channels do not give 4 and 3 per anchor", idx,
		     (long long)box.c, (long long)cls.c);
		return;
	}
	*box_t = box.t;
	*class_t = cls.t;
	*boxes += box.h * box.w * (box.c / 4);
}

static int host_node(builder *b, const char *name, const char *kind, const int *inputs, int n_inputs,
                     void (*run)(const nn_host_call *),
                     int (*shape)(const nn_shape *const *, int, const void *, nn_shape *, mien_error *))
{
	if (b->rc)
		return -1;
	nn_node n = nn__node(NN_OP_HOST, name, kind);
	n.n_inputs = n_inputs;
	for (int i = 0; i < n_inputs; i++)
		n.inputs[i] = inputs[i];
	n.p.host = (nn_host_op){ .kind = kind, .run = run, .shape = shape, .params = NULL };
	return add_node(b, &n);
}

/* SsdMobilenetv1.ts forwardInput: x/127.5 - 1, mobileNetV1, predictionLayer, outputLayer (before NMS). */
static void build_ssd_mobilenetv1(builder *b)
{
	const float c127_5 = 127.5f, one = 1.0f;
	feat x = input(b, 512);
	x = binary(b, NN_OP_DIV, "preprocess/div", "normalize", x, vec_const(b, "preprocess/127.5", 1, &c127_5),
	           -INFINITY, INFINITY);
	x = binary(b, NN_OP_SUB, "preprocess/sub", "normalize", x, vec_const(b, "preprocess/1", 1, &one), -INFINITY,
	           INFINITY);

	/* mobileNetV1.ts: conv_0 stride 2, then 13 depthwise/pointwise pairs; stride 2 at 2, 4, 6 and 12 */
	x = ssd_pointwise(b, "MobilenetV1", 0, x, 2);
	feat conv11 = FEAT_NONE;
	for (int i = 1; i <= 13; i++) {
		int stride = (i == 2 || i == 4 || i == 6 || i == 12) ? 2 : 1;
		x = ssd_depthwise(b, i, x, stride);
		x = ssd_pointwise(b, "MobilenetV1", i, x, 1);
		if (i == 11)
			conv11 = x;
	}

	/* predictionLayer.ts: eight more pointwise layers; box predictors on conv11, x, conv1, conv3, conv5, conv7 */
	feat pc[8];
	feat prev = x;
	for (int i = 0; i < 8; i++) {
		pc[i] = ssd_pointwise(b, "Prediction", i, prev, i % 2 ? 2 : 1);
		prev = pc[i];
	}
	const feat sources[6] = { conv11, x, pc[1], pc[3], pc[5], pc[7] };
	int box_t[7] = { 0 }, class_t[6] = { 0 };
	int64_t n_boxes = 0;
	for (int i = 0; i < 6; i++)
		ssd_box_predictor(b, i, sources[i], &box_t[i], &class_t[i], &n_boxes);

	/* outputLayer.ts: decode against the anchors; face score = sigmoid(class 1) */
	nn__graph_count_op(b->g, "outputLayer");
	box_t[6] = weight(b, "Output/extra_dim", 3, 1, n_boxes, 4, 0);
	int boxes = host_node(b, "boxes", "outputLayer", box_t, 7, ssd_boxes_run, ssd_boxes_shape);
	int scores = host_node(b, "scores", "outputLayer", class_t, 6, ssd_scores_run, ssd_scores_shape);
	output(b, (feat){ boxes, 0, 0, 0 }, "boxes");
	output(b, (feat){ scores, 0, 0, 0 }, "scores");
}

/* ==== tiny_face_detector (src/tinyFaceDetector/, src/tinyYolov2/) ==== */

/* tinyYolov2/leaky.ts: relu(x - 0.1x) + 0.1x, i.e. a leaky relu with alpha float32(0.1). */
#define TINY_LEAKY_ALPHA 0.10000000149011612f

/* tinyYolov2/depthwiseSeparableConv.ts: pad 1, depthwise 3x3 + pointwise 1x1 (VALID), bias, leaky. A 1-pixel
 * pad before a 3x3 stride-1 VALID convolution is TensorFlow SAME padding, which is what the graph says. */
static feat tiny_separable(builder *b, int idx, feat x)
{
	char name[NAME_MAX_LEN], fname[NAME_MAX_LEN], bname[NAME_MAX_LEN];
	const char *kind = "depthwiseSeparableConv";
	nn__graph_count_op(b->g, kind);
	x = depthwise(b, fmt_name(name, "conv%d/depthwise", idx), kind, x,
	              fmt_name(fname, "conv%d/depthwise_filter", idx), 1, NN_PAD_SAME, 0);
	x = conv(b, fmt_name(name, "conv%d/pointwise", idx), kind, x, fmt_name(fname, "conv%d/pointwise_filter", idx),
	         fmt_name(bname, "conv%d/bias", idx), 1, NN_PAD_VALID, 0, -INFINITY, INFINITY);
	return leaky(b, fmt_name(name, "conv%d/leaky", idx), kind, x, TINY_LEAKY_ALPHA);
}

static feat tiny_max_pool(builder *b, int idx, feat x, int stride)
{
	char name[NAME_MAX_LEN];
	nn__graph_count_op(b->g, "maxPool");
	return pool(b, NN_OP_MAX_POOL, fmt_name(name, "pool%d", idx), "maxPool", x, 2, stride, NN_PAD_SAME);
}

/* TinyYolov2Base.ts forwardInput + runMobilenet with TinyFaceDetector.ts's config (mean RGB, separable convs,
 * first layer a plain conv, filter sizes [3,16,32,64,128,256,512]: no conv6/conv7). */
static void build_tiny_face_detector(builder *b)
{
	static const float mean_rgb[3] = { 117.001f, 114.697f, 97.404f }; /* tinyFaceDetector/const.ts */
	feat x = normalize_rgb(b, input(b, 416), mean_rgb);
	nn__graph_count_op(b->g, "convLayer");
	x = conv(b, "conv0", "convLayer", x, "conv0/filters", "conv0/bias", 1, NN_PAD_VALID, 0, -INFINITY, INFINITY);
	x = leaky(b, "conv0/leaky", "convLayer", x, TINY_LEAKY_ALPHA);
	for (int i = 1; i <= 5; i++) {
		x = tiny_max_pool(b, i - 1, x, 2);
		x = tiny_separable(b, i, x);
	}
	x = tiny_max_pool(b, 5, x, 1);
	nn__graph_count_op(b->g, "convLayer");
	x = conv(b, "grid", "convLayer", x, "conv8/filters", "conv8/bias", 1, NN_PAD_VALID, 0, -INFINITY, INFINITY);
	if (!b->rc && x.c != 25)
		fail(b, MIEN_EFORMAT, "weight conv8/filters has %lld output channels, expected 25 (5 anchors x 5)",
		     (long long)x.c);
	output(b, x, "grid");
	if (!b->rc)
		b->g->resizable = 1;
}

/* ==== face_landmark_68, face_expression (src/faceFeatureExtractor/, src/faceProcessor/) ==== */

/* common/depthwiseSeparableConv.ts: separableConv2d (depthwise with stride, SAME; pointwise 1x1) + bias. */
static feat dense_separable(builder *b, const char *prefix, int idx, feat x, int stride, float lo)
{
	char name[NAME_MAX_LEN], fname[NAME_MAX_LEN], bname[NAME_MAX_LEN];
	x = depthwise(b, fmt_name(name, "%s/conv%d/depthwise", prefix, idx), "denseBlock4", x,
	              fmt_name(fname, "%s/conv%d/depthwise_filter", prefix, idx), stride, NN_PAD_SAME, 0);
	return conv(b, fmt_name(name, "%s/conv%d", prefix, idx), "denseBlock4", x,
	            fmt_name(fname, "%s/conv%d/pointwise_filter", prefix, idx),
	            fmt_name(bname, "%s/conv%d/bias", prefix, idx), 1, NN_PAD_VALID, 0, lo, INFINITY);
}

/* faceFeatureExtractor/denseBlock.ts denseBlock4 (scale down by 2); out = relu of the running sums. */
static feat dense_block4(builder *b, const char *prefix, feat x, int first)
{
	char name[NAME_MAX_LEN], fname[NAME_MAX_LEN], bname[NAME_MAX_LEN];
	const char *kind = "denseBlock4";
	nn__graph_count_op(b->g, kind);
	feat out1 = first ? conv(b, fmt_name(name, "%s/conv0", prefix), kind, x,
	                         fmt_name(fname, "%s/conv0/filters", prefix), fmt_name(bname, "%s/conv0/bias", prefix),
	                         2, NN_PAD_SAME, 0, 0.0f, INFINITY)
	                  : dense_separable(b, prefix, 0, x, 2, 0.0f);
	feat out2 = dense_separable(b, prefix, 1, out1, 1, -INFINITY);
	feat in3 = add_maps(b, fmt_name(name, "%s/in3", prefix), kind, out1, out2, 0.0f);
	feat out3 = dense_separable(b, prefix, 2, in3, 1, -INFINITY);
	/* relu(out1 + (out2 + out3)), TF.js's association */
	feat s23 = add_maps(b, fmt_name(name, "%s/sum23", prefix), kind, out2, out3, -INFINITY);
	feat in4 = add_maps(b, fmt_name(name, "%s/in4", prefix), kind, out1, s23, 0.0f);
	feat out4 = dense_separable(b, prefix, 3, in4, 1, -INFINITY);
	feat s34 = add_maps(b, fmt_name(name, "%s/sum34", prefix), kind, out3, out4, -INFINITY);
	feat s234 = add_maps(b, fmt_name(name, "%s/sum234", prefix), kind, out2, s34, -INFINITY);
	return add_maps(b, fmt_name(name, "%s/out", prefix), kind, out1, s234, 0.0f);
}

/* [1,1,1,C] (or any [..,C]) to [1,C]: as2D(batch, -1). */
static feat flatten(builder *b, const char *name, feat x)
{
	const int32_t shape[2] = { 1, -1 };
	const int64_t dims[1] = { 2 };
	char cname[NAME_MAX_LEN];
	int s = add_const(b, fmt_name(cname, "%s/shape", name), NN_DTYPE_I32, 1, dims, shape);
	if (b->rc)
		return FEAT_NONE;
	nn_node n = nn__node(NN_OP_RESHAPE, name, "flatten");
	n.n_inputs = 2;
	n.inputs[0] = x.t;
	n.inputs[1] = s;
	int t = add_node(b, &n);
	return t < 0 ? FEAT_NONE : (feat){ t, 1, 1, x.h * x.w * x.c };
}

/* Fully connected [1,K] x weights [K,N] (+ bias [N] when `bname`). */
static feat matmul(builder *b, const char *name, const char *kind, feat x, const char *wname, const char *bname,
                   int64_t n_out)
{
	int w = weight(b, wname, 2, x.c, n_out, 0, 0);
	int bias = bname ? weight(b, bname, 1, n_out, 0, 0, 0) : -1;
	if (b->rc)
		return FEAT_NONE;
	nn_node n = nn__node(NN_OP_MATMUL, name, kind);
	n.n_inputs = 3;
	n.inputs[0] = x.t;
	n.inputs[1] = w;
	n.inputs[2] = bias;
	int t = add_node(b, &n);
	return t < 0 ? FEAT_NONE : (feat){ t, 1, 1, n_out };
}

/* FaceFeatureExtractor.ts forwardInput + FaceProcessor.ts runNet: normalise, 4 dense blocks, 7x7 average pool,
 * flatten, fully connected (fc/weights, fc/bias) to `n_out`. */
static feat feature_extractor_fc(builder *b, const char *fc_name, int64_t n_out)
{
	static const float mean_rgb[3] = { 122.782f, 117.001f, 104.298f }; /* FaceFeatureExtractor.ts */
	feat x = normalize_rgb(b, input(b, 112), mean_rgb);
	x = dense_block4(b, "dense0", x, 1);
	x = dense_block4(b, "dense1", x, 0);
	x = dense_block4(b, "dense2", x, 0);
	x = dense_block4(b, "dense3", x, 0);
	nn__graph_count_op(b->g, "avgPool");
	x = pool(b, NN_OP_AVG_POOL, "avg_pool", "avgPool", x, 7, 2, NN_PAD_VALID);
	x = flatten(b, "flatten", x);
	nn__graph_count_op(b->g, "fullyConnectedLayer");
	return matmul(b, fc_name, "fullyConnectedLayer", x, "fc/weights", "fc/bias", n_out);
}

/* FaceLandmark68Net: runNet output (68 interleaved x,y in [0,1] of the padded input), before postProcess. */
static void build_face_landmark_68(builder *b)
{
	output(b, feature_extractor_fc(b, "landmarks", 136), "landmarks");
}

/* FaceExpressionNet.ts forwardInput: softmax(runNet), classes as FaceExpressions.ts lists them. */
static void build_face_expression(builder *b)
{
	feat logits = feature_extractor_fc(b, "logits", 7);
	if (b->rc)
		return;
	nn__graph_count_op(b->g, "softmax");
	nn_node n = nn__node(NN_OP_SOFTMAX, "expressions", "softmax");
	n.n_inputs = 1;
	n.inputs[0] = logits.t;
	int t = add_node(b, &n);
	output(b, (feat){ t, 1, 1, 7 }, "expressions");
}

/* ==== face_recognition (src/faceRecognitionNet/) ==== */

/* convLayer.ts: conv + bias, scaleLayer.ts (x * weights + biases), optional relu. */
static feat rec_conv(builder *b, const char *prefix, feat x, int stride, nn_padding pad, int relu)
{
	char name[NAME_MAX_LEN], fname[NAME_MAX_LEN], bname[NAME_MAX_LEN];
	const char *kind = "convLayer";
	x = conv(b, fmt_name(name, "%s/conv", prefix), kind, x, fmt_name(fname, "%s/conv/filters", prefix),
	         fmt_name(bname, "%s/conv/bias", prefix), stride, pad, 0, -INFINITY, INFINITY);
	int scale = weight(b, fmt_name(fname, "%s/scale/weights", prefix), 1, x.c, 0, 0, 0);
	int shift = weight(b, fmt_name(bname, "%s/scale/biases", prefix), 1, x.c, 0, 0, 0);
	x = binary(b, NN_OP_MUL, fmt_name(name, "%s/scale/mul", prefix), kind, x, scale, -INFINITY, INFINITY);
	x = binary(b, NN_OP_ADD, fmt_name(name, "%s/scale/add", prefix), kind, x, shift, -INFINITY, INFINITY);
	return relu ? clamp(b, fmt_name(name, "%s/relu", prefix), kind, x, 0.0f, INFINITY) : x;
}

/* residualLayer.ts residual: relu(convNoRelu(conv(x)) + x). */
static feat rec_residual(builder *b, const char *prefix, feat x)
{
	char name[NAME_MAX_LEN];
	nn__graph_count_op(b->g, "residual");
	feat y = rec_conv(b, fmt_name(name, "%s/conv1", prefix), x, 1, NN_PAD_SAME, 1);
	y = rec_conv(b, fmt_name(name, "%s/conv2", prefix), y, 1, NN_PAD_SAME, 0);
	return add_maps(b, fmt_name(name, "%s/add", prefix), "residual", y, x, 0.0f);
}

/* residualLayer.ts residualDown: the convolution path (3x3 stride 2 VALID, then 3x3 SAME) is zero-padded by one
 * row and column where it comes out smaller than the 2x2 average-pooled shortcut; the shortcut is zero-padded
 * to the doubled channel count. relu(pooled + out). */
static feat rec_residual_down(builder *b, const char *prefix, feat x)
{
	char name[NAME_MAX_LEN];
	const char *kind = "residualDown";
	nn__graph_count_op(b->g, kind);
	feat y = rec_conv(b, fmt_name(name, "%s/conv1", prefix), x, 2, NN_PAD_VALID, 1);
	y = rec_conv(b, fmt_name(name, "%s/conv2", prefix), y, 1, NN_PAD_SAME, 0);
	feat pooled = pool(b, NN_OP_AVG_POOL, fmt_name(name, "%s/avg_pool", prefix), kind, x, 2, 2, NN_PAD_VALID);
	if (b->rc)
		return FEAT_NONE;
	if (pooled.h != y.h || pooled.w != y.w) {
		if (pooled.h != y.h + 1 || pooled.w != y.w + 1) {
			fail(b, MIEN_EUNSUPPORTED, "%s: the convolution path is %lldx%lld, the shortcut %lldx%lld",
			     prefix, (long long)y.h, (long long)y.w, (long long)pooled.h, (long long)pooled.w);
			return FEAT_NONE;
		}
		y = zero_pad(b, fmt_name(name, "%s/pad_hw", prefix), kind, y, 1, 0);
	}
	if (pooled.c != y.c) {
		if (y.c != 2 * pooled.c) {
			fail(b, MIEN_EFORMAT, "%s: %lld output channels, expected %lld (twice the input)", prefix,
			     (long long)y.c, (long long)(2 * pooled.c));
			return FEAT_NONE;
		}
		pooled = zero_pad(b, fmt_name(name, "%s/pad_channels", prefix), kind, pooled, 0, (int)pooled.c);
	}
	return add_maps(b, fmt_name(name, "%s/add", prefix), kind, pooled, y, 0.0f);
}

/* FaceRecognitionNet.ts forwardInput. */
static void build_face_recognition(builder *b)
{
	static const float mean_rgb[3] = { 122.782f, 117.001f, 104.298f }; /* FaceRecognitionNet.ts */
	feat x = normalize_rgb(b, input(b, 150), mean_rgb);
	nn__graph_count_op(b->g, "convDown");
	x = rec_conv(b, "conv32_down", x, 2, NN_PAD_VALID, 1);
	nn__graph_count_op(b->g, "maxPool");
	x = pool(b, NN_OP_MAX_POOL, "max_pool", "maxPool", x, 3, 2, NN_PAD_VALID);
	static const char *const stages[] = { "conv32_1",  "conv32_2",         "conv32_3",      "+conv64_down",
		                              "conv64_1",  "conv64_2",         "conv64_3",      "+conv128_down",
		                              "conv128_1", "conv128_2",        "+conv256_down", "conv256_1",
		                              "conv256_2", "+conv256_down_out" };
	for (size_t i = 0; i < MIEN_ARRAY_LEN(stages); i++)
		x = stages[i][0] == '+' ? rec_residual_down(b, stages[i] + 1, x) : rec_residual(b, stages[i], x);
	if (b->rc)
		return;
	nn__graph_count_op(b->g, "mean");
	nn_node n = nn__node(NN_OP_MEAN, "global_avg", "mean");
	n.n_inputs = 1;
	n.inputs[0] = x.t;
	n.p.reduce.n_axes = 2;
	n.p.reduce.axes[0] = 1;
	n.p.reduce.axes[1] = 2;
	n.p.reduce.keep_dims = 0;
	int t = add_node(b, &n);
	nn__graph_count_op(b->g, "matMul");
	feat d = matmul(b, "descriptor", "matMul", (feat){ t, 1, 1, x.c }, "fc", NULL, 128);
	output(b, d, "descriptor");
}

/* ==== entry point */

typedef struct faceapi_model {
	const char *stem; /* manifest file name before "-weights_manifest.json" */
	void (*build)(builder *b);
} faceapi_model;

static const faceapi_model MODELS[] = {
	{ "ssd_mobilenetv1_model", build_ssd_mobilenetv1 },   { "tiny_face_detector_model", build_tiny_face_detector },
	{ "face_landmark_68_model", build_face_landmark_68 }, { "face_recognition_model", build_face_recognition },
	{ "face_expression_model", build_face_expression },
};

int nn__faceapi_load(nn_graph *g, const char *manifest_path, mien_error *err)
{
	const char *base = strrchr(manifest_path, '/');
	base = base ? base + 1 : manifest_path;
	const faceapi_model *model = NULL;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(MODELS); i++) {
		size_t len = strlen(MODELS[i].stem);
		if (strncmp(base, MODELS[i].stem, len) == 0 && strcmp(base + len, "-weights_manifest.json") == 0)
			model = &MODELS[i];
	}
	if (!model)
		return mien_error_set(
		        err, MIEN_EUNSUPPORTED,
		        "%s: not one of the face-api models mien knows (ssd_mobilenetv1, tiny_face_detector, "
		        "face_landmark_68, face_recognition, face_expression)",
		        base);

	json_error_t jerr;
	json_t *manifest = json_load_file(manifest_path, JSON_REJECT_DUPLICATES, &jerr);
	if (!manifest)
		return mien_error_set(err, MIEN_EFORMAT, "%s: %s at line %d column %d: %s", model->stem, manifest_path,
		                      jerr.line, jerr.column, jerr.text);
	int rc;
	if (!json_is_array(manifest)) {
		rc = mien_error_set(err, MIEN_EFORMAT, "%s: %s is not a weights manifest (a JSON array)", model->stem,
		                    manifest_path);
		goto done;
	}
	char dir[4096];
	if (base == manifest_path)
		snprintf(dir, sizeof(dir), ".");
	else if (base == manifest_path + 1)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - manifest_path - 1), manifest_path);
	rc = nn__manifest_load(g, manifest, dir, err);
	if (rc)
		goto done; /* the manifest reader's message names the model already */
	int n_weights = g->n_tensors;
	builder b = { .g = g, .model = model->stem, .err = err, .rc = 0 };
	model->build(&b);
	rc = b.rc;
	if (!rc)
		g->source_nodes = n_weights + g->n_nodes;
done:
	json_decref(manifest);
	return rc;
}
