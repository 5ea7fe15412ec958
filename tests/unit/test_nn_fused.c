/*
 * test_nn_fused.c — the fused separable residual blocks (src/nn/fused.c) and the finalise rewrites that make
 * them. Small graphs of Depthwise3x3 → Conv1x1 → Add(x) blocks are finalised, the rewrite's host op is run
 * directly, and its output is checked against a direct evaluation of the unfused TensorFlow ops written
 * here in double precision (the definition of the three ops, not the kernel under test). The shapes pick
 * each code path: C = 24 / 48 (the constant-C kernels), 16 (vector kernels with leftover channels), 5 (the
 * portable kernel), strips wider than one buffer, images of one or two pixels, explicit padding, chains
 * of blocks with and without threads. The stride-2 block (depthwise at stride 2, 2×2 max pool, channel pad,
 * add) is checked the same way at odd and even heights and widths (TF SAME padding follows the parity), with
 * and without the channel pad, at the end of a chain of stride-1 blocks, before one, and on threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

typedef struct block_case {
	int C, H, W, blocks;
	int pad_top, pad_bottom, pad_left, pad_right; /* all 0: SAME */
	int dw_bias;
	float lo, hi;
	size_t threads;
	int expect_host_nodes;
	int dw_also_output;   /* the first depthwise result is also a graph output: no fusion may happen */
	int64_t min_elements; /* the graph's fuse_min_elements (0: fuse any size) */
} block_case;

static uint32_t rng_state;

static float rnd(void)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return (float)((rng_state >> 8) & 0xffff) / 65536.0f - 0.5f;
}

typedef struct block_weights {
	float *dw, *dw_b, *pw, *pw_b; /* TF layouts: [3,3,C,1], [C], [1,1,C,C], [C] */
} block_weights;

/* out = clamp(pw · (dw ⊛ x + dw_b) + pw_b + x), straight from the definitions */
static void reference_block(const block_case *c, const block_weights *w, const float *x, float *out)
{
	const int C = c->C, H = c->H, W = c->W;
	int pt = c->pad_top, pl = c->pad_left;
	if (!c->pad_top && !c->pad_bottom && !c->pad_left && !c->pad_right)
		pt = pl = 1; /* TF SAME for k = 3, stride 1 */
	double *d = calloc((size_t)C, sizeof(double));
	assert_non_null(d);
	for (int y = 0; y < H; y++)
		for (int xx = 0; xx < W; xx++) {
			for (int ch = 0; ch < C; ch++) {
				double s = c->dw_bias ? w->dw_b[ch] : 0.0;
				for (int ky = 0; ky < 3; ky++)
					for (int kx = 0; kx < 3; kx++) {
						int iy = y + ky - pt, ix = xx + kx - pl;
						if (iy < 0 || iy >= H || ix < 0 || ix >= W)
							continue;
						s += (double)x[((size_t)iy * W + ix) * C + ch] *
						     w->dw[(ky * 3 + kx) * C + ch];
					}
				d[ch] = s;
			}
			for (int co = 0; co < C; co++) {
				double s = w->pw_b[co] + x[((size_t)y * W + xx) * C + co];
				for (int ci = 0; ci < C; ci++)
					s += d[ci] * w->pw[(size_t)ci * C + co];
				float v = (float)s;
				out[((size_t)y * W + xx) * C + co] = v < c->lo ? c->lo : v > c->hi ? c->hi : v;
			}
		}
	free(d);
}

static int add_block(nn_graph *g, const block_case *c, const block_weights *w, int x, int k, int *dw_out)
{
	const int C = c->C;
	char name[64];
	nn_shape dws = { .rank = 4, .dims = { 3, 3, C, 1 } }, pws = { .rank = 4, .dims = { 1, 1, C, C } };
	nn_shape bs = { .rank = 1, .dims = { C } };
	snprintf(name, sizeof(name), "dw_filter_%d", k);
	int dwf = nn__graph_add_const(g, name, NN_DTYPE_F32, &dws, w->dw);
	snprintf(name, sizeof(name), "dw_bias_%d", k);
	int dwb = c->dw_bias ? nn__graph_add_const(g, name, NN_DTYPE_F32, &bs, w->dw_b) : -1;
	snprintf(name, sizeof(name), "pw_filter_%d", k);
	int pwf = nn__graph_add_const(g, name, NN_DTYPE_F32, &pws, w->pw);
	snprintf(name, sizeof(name), "pw_bias_%d", k);
	int pwb = nn__graph_add_const(g, name, NN_DTYPE_F32, &bs, w->pw_b);
	assert_true(dwf >= 0 && pwf >= 0 && pwb >= 0 && (!c->dw_bias || dwb >= 0));

	snprintf(name, sizeof(name), "dw_%d", k);
	nn_node dw = nn__node(NN_OP_DEPTHWISE_CONV2D, name, "DepthwiseConv2dNative");
	dw.n_inputs = 3;
	dw.inputs[0] = x;
	dw.inputs[1] = dwf;
	dw.inputs[2] = dwb;
	dw.p.conv = (nn_conv_params){ .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1 };
	if (c->pad_top || c->pad_bottom || c->pad_left || c->pad_right) {
		dw.p.conv.padding = NN_PAD_EXPLICIT;
		dw.p.conv.pad_top = c->pad_top;
		dw.p.conv.pad_bottom = c->pad_bottom;
		dw.p.conv.pad_left = c->pad_left;
		dw.p.conv.pad_right = c->pad_right;
	} else {
		dw.p.conv.padding = NN_PAD_SAME;
	}
	int d = nn__graph_add_node(g, &dw);
	*dw_out = d;

	snprintf(name, sizeof(name), "pw_%d", k);
	nn_node pw = nn__node(NN_OP_CONV2D, name, "_FusedConv2D");
	pw.n_inputs = 3;
	pw.inputs[0] = d;
	pw.inputs[1] = pwf;
	pw.inputs[2] = pwb;
	pw.p.conv = (nn_conv_params){
		.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .padding = NN_PAD_VALID
	};
	int p = nn__graph_add_node(g, &pw);

	snprintf(name, sizeof(name), "add_%d", k);
	nn_node add = nn__node(NN_OP_ADD, name, "AddV2");
	add.n_inputs = 2;
	add.inputs[0] = k % 2 ? x : p; /* both operand orders */
	add.inputs[1] = k % 2 ? p : x;
	add.out_min = c->lo;
	add.out_max = c->hi;
	return nn__graph_add_node(g, &add);
}

static void run_case(const block_case *c)
{
	const int C = c->C, H = c->H, W = c->W, K = c->blocks;
	const size_t count = (size_t)H * W * C;
	mien_error err = { 0 };
	nn_graph g;
	rng_state = (uint32_t)(C * 7919 + H * 104729 + W * 1299709 + K);
	assert_int_equal(nn__graph_init(&g, "fused-test", &err), MIEN_OK);
	g.fuse_min_elements = c->min_elements;
	g.fuse_any_width = 1;
	block_weights w[8];
	assert_true(K <= 8);
	float *x = malloc(count * sizeof(float)), *want = malloc(count * sizeof(float));
	float *tmp = malloc(count * sizeof(float)), *got = malloc(count * sizeof(float));
	assert_non_null(x);
	assert_non_null(want);
	assert_non_null(tmp);
	assert_non_null(got);
	for (size_t i = 0; i < count; i++)
		x[i] = 2.0f * rnd();
	nn_shape xs = { .rank = 4, .dims = { 1, H, W, C } };
	int t = nn__graph_add_input(&g, "x", &xs);
	assert_true(t >= 0);
	int first_dw = -1;
	for (int k = 0; k < K; k++) {
		w[k].dw = malloc((size_t)9 * C * sizeof(float));
		w[k].dw_b = malloc((size_t)C * sizeof(float));
		w[k].pw = malloc((size_t)C * C * sizeof(float));
		w[k].pw_b = malloc((size_t)C * sizeof(float));
		assert_true(w[k].dw && w[k].dw_b && w[k].pw && w[k].pw_b);
		for (int i = 0; i < 9 * C; i++)
			w[k].dw[i] = rnd();
		for (int i = 0; i < C * C; i++)
			w[k].pw[i] = rnd() / sqrtf((float)C);
		for (int i = 0; i < C; i++) {
			w[k].dw_b[i] = rnd();
			w[k].pw_b[i] = rnd();
		}
		int dw_out;
		t = add_block(&g, c, &w[k], t, k, &dw_out);
		assert_true(t >= 0);
		if (k == 0)
			first_dw = dw_out;
	}
	assert_int_equal(nn__graph_add_output(&g, t, NULL), MIEN_OK);
	if (c->dw_also_output)
		assert_int_equal(nn__graph_add_output(&g, first_dw, NULL), MIEN_OK);
	int rc = nn__graph_finalize(&g, &err);
	if (rc)
		fail_msg("finalise: %s", err.message);

	int host = 0, last_host = -1;
	for (int i = 0; i < g.n_nodes; i++)
		if (g.nodes[i].op == NN_OP_HOST) {
			host++;
			last_host = i;
		}
	if (host != c->expect_host_nodes)
		fail_msg("C=%d H=%d W=%d K=%d: %d host nodes after finalise, expected %d", C, H, W, K, host,
		         c->expect_host_nodes);

	/* the reference, block by block */
	memcpy(tmp, x, count * sizeof(float));
	for (int k = 0; k < K; k++) {
		reference_block(c, &w[k], tmp, want);
		memcpy(tmp, want, count * sizeof(float));
	}

	if (host == 1 && g.n_nodes == 1) {
		/* the whole graph is one op: run it as the runtime would */
		const nn_node *n = &g.nodes[last_host];
		pthreadpool_t pool = c->threads > 1 ? pthreadpool_create(c->threads) : NULL;
		nn_host_call call = { .n_inputs = 1, .output = got, .params = n->p.host.params, .pool = pool };
		call.inputs[0] = x;
		call.input_shapes[0] = &xs;
		call.output_shape = &xs;
		call.threads = c->threads ? c->threads : 1;
		call.scratch_bytes =
		        n->p.host.scratch ? n->p.host.scratch(call.input_shapes, call.params, call.threads) : 0;
		call.scratch = call.scratch_bytes ? aligned_alloc(64, (call.scratch_bytes + 63) / 64 * 64) : NULL;
		memset(got, 0xff, count * sizeof(float)); /* NaN: every element must be written */
		n->p.host.run(&call);
		free(call.scratch);
		if (pool)
			pthreadpool_destroy(pool);
		double worst = 0, scale = 0;
		size_t at = 0;
		for (size_t i = 0; i < count; i++) {
			double e = fabs((double)got[i] - want[i]);
			if (!(e <= worst)) {
				worst = e;
				at = i;
			}
			scale = fmax(scale, fabs((double)want[i]));
		}
		if (!(worst <= 1e-5 * (1 + scale)))
			fail_msg("C=%d H=%d W=%d K=%d: max|diff| %g at %zu (got %g, want %g)", C, H, W, K, worst, at,
			         (double)got[at], (double)want[at]);
	}
	for (int k = 0; k < K; k++) {
		free(w[k].dw);
		free(w[k].dw_b);
		free(w[k].pw);
		free(w[k].pw_b);
	}
	free(x);
	free(want);
	free(tmp);
	free(got);
	nn__graph_release(&g);
}

static void test_one_block_c24(void **state)
{
	(void)state;
	run_case(&(block_case){
	        .C = 24, .H = 9, .W = 11, .blocks = 1, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
}

static void test_one_block_no_clamp_dw_bias(void **state)
{
	(void)state;
	run_case(&(block_case){ .C = 48,
	                        .H = 6,
	                        .W = 5,
	                        .blocks = 1,
	                        .dw_bias = 1,
	                        .lo = -INFINITY,
	                        .hi = INFINITY,
	                        .expect_host_nodes = 1 });
}

static void test_wide_rows_cross_strips(void **state)
{
	(void)state;
	/* 8192 / 24 = 341 pixels per strip */
	run_case(&(block_case){ .C = 24, .H = 4, .W = 700, .blocks = 2, .lo = 0, .hi = 6, .expect_host_nodes = 1 });
}

static void test_leftover_channels_and_portable(void **state)
{
	(void)state;
	run_case(
	        &(block_case){ .C = 16, .H = 7, .W = 6, .blocks = 2, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_case(
	        &(block_case){ .C = 40, .H = 5, .W = 9, .blocks = 1, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_case(&(block_case){ .C = 5, .H = 3, .W = 4, .blocks = 3, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
}

static void test_avx512_tiles(void **state)
{
	(void)state;
	/* C = 24 on pixel pairs (tiles of four pairs, a pair, an odd pixel), 48-channel and 16-channel tiles */
	run_case(&(block_case){ .C = 24, .H = 3, .W = 16, .blocks = 2, .lo = 0, .hi = 6, .expect_host_nodes = 1 });
	run_case(&(block_case){
	        .C = 24, .H = 4, .W = 23, .blocks = 1, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_case(&(block_case){
	        .C = 96, .H = 5, .W = 13, .blocks = 2, .dw_bias = 1, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_case(&(block_case){
	        .C = 64, .H = 4, .W = 11, .blocks = 1, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_case(
	        &(block_case){ .C = 8, .H = 3, .W = 21, .blocks = 1, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
}

static void test_tiny_images(void **state)
{
	(void)state;
	run_case(&(block_case){ .C = 8, .H = 1, .W = 1, .blocks = 2, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_case(
	        &(block_case){ .C = 24, .H = 2, .W = 2, .blocks = 3, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
}

static void test_explicit_padding_does_not_chain(void **state)
{
	(void)state;
	/* two pixels of padding at the top and left: fused one block at a time, not chained */
	run_case(&(block_case){ .C = 24,
	                        .H = 5,
	                        .W = 6,
	                        .blocks = 1,
	                        .pad_top = 2,
	                        .pad_left = 2,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .expect_host_nodes = 1 });
	run_case(&(block_case){ .C = 24,
	                        .H = 5,
	                        .W = 6,
	                        .blocks = 2,
	                        .pad_top = 0,
	                        .pad_bottom = 2,
	                        .pad_left = 1,
	                        .pad_right = 1,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .expect_host_nodes = 2 });
}

static void test_chain_in_bands_on_threads(void **state)
{
	(void)state;
	run_case(&(block_case){ .C = 24,
	                        .H = 40,
	                        .W = 13,
	                        .blocks = 4,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .threads = 3,
	                        .expect_host_nodes = 1 });
	run_case(&(block_case){
	        .C = 96, .H = 17, .W = 5, .blocks = 2, .lo = 0, .hi = INFINITY, .threads = 2, .expect_host_nodes = 1 });
}

static void test_small_tensors_stay_with_xnnpack(void **state)
{
	(void)state;
	/* 9 * 11 * 24 = 2376 elements: under the default bound, the blocks stay as they are */
	run_case(&(block_case){ .C = 24,
	                        .H = 9,
	                        .W = 11,
	                        .blocks = 2,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .expect_host_nodes = 0,
	                        .min_elements = NN_FUSE_MIN_ELEMENTS });
	run_case(&(block_case){ .C = 24,
	                        .H = 9,
	                        .W = 11,
	                        .blocks = 2,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .expect_host_nodes = 1,
	                        .min_elements = 9 * 11 * 24 });
}

static void test_shared_intermediate_is_not_fused(void **state)
{
	(void)state;
	run_case(&(block_case){ .C = 24,
	                        .H = 4,
	                        .W = 4,
	                        .blocks = 1,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .expect_host_nodes = 0,
	                        .dw_also_output = 1 });
}

/* ---- stride 2 */

typedef struct s2_case {
	int C, CO, H, W;
	int before, after; /* stride-1 blocks before the stride-2 block (at C) and after it (at CO) */
	int dw_bias;
	float lo, hi;
	size_t threads;
	int expect_host_nodes;
	int pad_front; /* the channel pad at the front instead of the end: not the pattern */
} s2_case;

/* clamp(pw · (dw ⊛₂ x + dw_b) + pw_b + pad(maxpool(x))), TF SAME padding for both, straight from the
 * definitions */
static void reference_s2(const s2_case *c, const block_weights *w, const float *x, float *out)
{
	const int C = c->C, CO = c->CO, H = c->H, W = c->W, Ho = (H + 1) / 2, Wo = (W + 1) / 2;
	const int pt = ((Ho - 1) * 2 + 3 - H) / 2, pl = ((Wo - 1) * 2 + 3 - W) / 2; /* pool: none at the top */
	const int shift = c->pad_front ? CO - C : 0;
	double *d = calloc((size_t)C, sizeof(double));
	assert_non_null(d);
	for (int y = 0; y < Ho; y++)
		for (int xx = 0; xx < Wo; xx++) {
			for (int ch = 0; ch < C; ch++) {
				double s = c->dw_bias ? w->dw_b[ch] : 0.0;
				for (int ky = 0; ky < 3; ky++)
					for (int kx = 0; kx < 3; kx++) {
						int iy = 2 * y + ky - pt, ix = 2 * xx + kx - pl;
						if (iy < 0 || iy >= H || ix < 0 || ix >= W)
							continue;
						s += (double)x[((size_t)iy * W + ix) * C + ch] *
						     w->dw[(ky * 3 + kx) * C + ch];
					}
				d[ch] = s;
			}
			for (int co = 0; co < CO; co++) {
				double r = 0;
				int ch = co - shift;
				if (ch >= 0 && ch < C) {
					r = -INFINITY;
					for (int py = 2 * y; py < 2 * y + 2 && py < H; py++)
						for (int px = 2 * xx; px < 2 * xx + 2 && px < W; px++)
							r = fmax(r, x[((size_t)py * W + px) * C + ch]);
				}
				double s = w->pw_b[co] + r;
				for (int ci = 0; ci < C; ci++)
					s += d[ci] * w->pw[(size_t)ci * CO + co];
				float v = (float)s;
				out[((size_t)y * Wo + xx) * CO + co] = v < c->lo ? c->lo : v > c->hi ? c->hi : v;
			}
		}
	free(d);
}

static int add_s2_block(nn_graph *g, const s2_case *c, const block_weights *w, int x)
{
	const int C = c->C, CO = c->CO;
	nn_shape dws = { .rank = 4, .dims = { 3, 3, C, 1 } }, pws = { .rank = 4, .dims = { 1, 1, C, CO } };
	nn_shape bs = { .rank = 1, .dims = { C } }, bos = { .rank = 1, .dims = { CO } };
	int dwf = nn__graph_add_const(g, "s2_dw_filter", NN_DTYPE_F32, &dws, w->dw);
	int dwb = c->dw_bias ? nn__graph_add_const(g, "s2_dw_bias", NN_DTYPE_F32, &bs, w->dw_b) : -1;
	int pwf = nn__graph_add_const(g, "s2_pw_filter", NN_DTYPE_F32, &pws, w->pw);
	int pwb = nn__graph_add_const(g, "s2_pw_bias", NN_DTYPE_F32, &bos, w->pw_b);
	assert_true(dwf >= 0 && pwf >= 0 && pwb >= 0 && (!c->dw_bias || dwb >= 0));

	nn_node dw = nn__node(NN_OP_DEPTHWISE_CONV2D, "s2_dw", "DepthwiseConv2dNative");
	dw.n_inputs = 3;
	dw.inputs[0] = x;
	dw.inputs[1] = dwf;
	dw.inputs[2] = dwb;
	dw.p.conv = (nn_conv_params){
		.stride_h = 2, .stride_w = 2, .dilation_h = 1, .dilation_w = 1, .padding = NN_PAD_SAME
	};
	int d = nn__graph_add_node(g, &dw);

	nn_node pw = nn__node(NN_OP_CONV2D, "s2_pw", "_FusedConv2D");
	pw.n_inputs = 3;
	pw.inputs[0] = d;
	pw.inputs[1] = pwf;
	pw.inputs[2] = pwb;
	pw.p.conv = (nn_conv_params){
		.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .padding = NN_PAD_VALID
	};
	int p = nn__graph_add_node(g, &pw);

	nn_node mp = nn__node(NN_OP_MAX_POOL, "s2_pool", "MaxPool");
	mp.n_inputs = 1;
	mp.inputs[0] = x;
	mp.p.pool =
	        (nn_pool_params){ .kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .padding = NN_PAD_SAME };
	int r = nn__graph_add_node(g, &mp);
	if (CO != C) {
		int32_t pads[8] = { 0, 0, 0, 0, 0, 0, c->pad_front ? CO - C : 0, c->pad_front ? 0 : CO - C };
		nn_shape ps = { .rank = 2, .dims = { 4, 2 } };
		int pt = nn__graph_add_const(g, "s2_paddings", NN_DTYPE_I32, &ps, pads);
		assert_true(pt >= 0);
		nn_node pad = nn__node(NN_OP_PAD, "s2_pad", "Pad");
		pad.n_inputs = 2;
		pad.inputs[0] = r;
		pad.inputs[1] = pt;
		r = nn__graph_add_node(g, &pad);
	}

	nn_node add = nn__node(NN_OP_ADD, "s2_add", "AddV2");
	add.n_inputs = 2;
	add.inputs[0] = c->C % 2 ? r : p; /* both operand orders */
	add.inputs[1] = c->C % 2 ? p : r;
	add.out_min = c->lo;
	add.out_max = c->hi;
	return nn__graph_add_node(g, &add);
}

static void random_weights(block_weights *w, int C, int CO)
{
	w->dw = malloc((size_t)9 * C * sizeof(float));
	w->dw_b = malloc((size_t)C * sizeof(float));
	w->pw = malloc((size_t)C * CO * sizeof(float));
	w->pw_b = malloc((size_t)CO * sizeof(float));
	assert_true(w->dw && w->dw_b && w->pw && w->pw_b);
	for (int i = 0; i < 9 * C; i++)
		w->dw[i] = rnd();
	for (int i = 0; i < C * CO; i++)
		w->pw[i] = rnd() / sqrtf((float)C);
	for (int i = 0; i < C; i++)
		w->dw_b[i] = rnd();
	for (int i = 0; i < CO; i++)
		w->pw_b[i] = rnd();
}

static void free_weights(block_weights *w)
{
	free(w->dw);
	free(w->dw_b);
	free(w->pw);
	free(w->pw_b);
}

static void run_s2_case(const s2_case *c)
{
	const int C = c->C, CO = c->CO, H = c->H, W = c->W, Ho = (H + 1) / 2, Wo = (W + 1) / 2;
	const int K = c->before + 1 + c->after;
	const size_t in_count = (size_t)H * W * C, out_count = (size_t)Ho * Wo * CO;
	mien_error err = { 0 };
	nn_graph g;
	rng_state = (uint32_t)(C * 7919 + CO * 31 + H * 104729 + W * 1299709 + K);
	assert_int_equal(nn__graph_init(&g, "fused-s2-test", &err), MIEN_OK);
	g.fuse_min_elements = 0;
	g.fuse_any_width = 1;
	block_weights w[8];
	assert_true(K <= 8);
	float *x = malloc(in_count * sizeof(float)), *a = malloc(in_count * sizeof(float));
	float *b = malloc(in_count * sizeof(float)), *want = malloc(out_count * sizeof(float));
	float *oa = malloc(out_count * sizeof(float));
	assert_true(x && a && b && want && oa);
	for (size_t i = 0; i < in_count; i++)
		x[i] = 2.0f * rnd();
	nn_shape xs = { .rank = 4, .dims = { 1, H, W, C } };
	int t = nn__graph_add_input(&g, "x", &xs);
	assert_true(t >= 0);
	block_case pre = { .C = C, .H = H, .W = W, .dw_bias = c->dw_bias, .lo = 0, .hi = INFINITY };
	block_case post = { .C = CO, .H = Ho, .W = Wo, .dw_bias = c->dw_bias, .lo = 0, .hi = INFINITY };
	int dw_out;
	for (int k = 0; k < K; k++) {
		const int s2 = k == c->before;
		const int ci = k <= c->before ? C : CO;
		random_weights(&w[k], ci, s2 ? CO : ci);
		t = s2 ? add_s2_block(&g, c, &w[k], t)
		       : add_block(&g, k < c->before ? &pre : &post, &w[k], t, k, &dw_out);
		assert_true(t >= 0);
	}
	assert_int_equal(nn__graph_add_output(&g, t, NULL), MIEN_OK);
	int rc = nn__graph_finalize(&g, &err);
	if (rc)
		fail_msg("finalise: %s", err.message);
	int host = 0;
	for (int i = 0; i < g.n_nodes; i++)
		host += g.nodes[i].op == NN_OP_HOST;
	if (host != c->expect_host_nodes)
		fail_msg("C=%d CO=%d H=%d W=%d: %d host nodes after finalise, expected %d", C, CO, H, W, host,
		         c->expect_host_nodes);

	/* the reference, block by block */
	memcpy(a, x, in_count * sizeof(float));
	for (int k = 0; k < c->before; k++) {
		reference_block(&pre, &w[k], a, b);
		memcpy(a, b, in_count * sizeof(float));
	}
	reference_s2(c, &w[c->before], a, want);
	for (int k = c->before + 1; k < K; k++) {
		reference_block(&post, &w[k], want, oa);
		memcpy(want, oa, out_count * sizeof(float));
	}

	if (host == g.n_nodes) {
		/* every node is a fused op: run them in order as the runtime would */
		pthreadpool_t pool = c->threads > 1 ? pthreadpool_create(c->threads) : NULL;
		const float *in = x;
		nn_shape in_shape = xs;
		float *got = NULL;
		for (int i = 0; i < g.n_nodes; i++) {
			const nn_node *n = &g.nodes[i];
			const nn_shape *os = &g.tensors[n->output].shape;
			size_t count = (size_t)nn_shape_count(os);
			float *o = malloc(count * sizeof(float));
			assert_non_null(o);
			nn_host_call call = { .n_inputs = 1, .output = o, .params = n->p.host.params, .pool = pool };
			call.inputs[0] = in;
			call.input_shapes[0] = &in_shape;
			call.output_shape = os;
			call.threads = c->threads ? c->threads : 1;
			call.scratch_bytes =
			        n->p.host.scratch ? n->p.host.scratch(call.input_shapes, call.params, call.threads) : 0;
			call.scratch =
			        call.scratch_bytes ? aligned_alloc(64, (call.scratch_bytes + 63) / 64 * 64) : NULL;
			memset(o, 0xff, count * sizeof(float)); /* NaN: every element must be written */
			n->p.host.run(&call);
			free(call.scratch);
			if (got)
				free(got);
			got = o;
			in = o;
			in_shape = *os;
		}
		if (pool)
			pthreadpool_destroy(pool);
		assert_non_null(got);
		assert_int_equal(in_shape.dims[1], Ho);
		assert_int_equal(in_shape.dims[2], Wo);
		assert_int_equal(in_shape.dims[3], CO);
		double worst = 0, scale = 0;
		size_t at = 0;
		for (size_t i = 0; i < out_count; i++) {
			double e = fabs((double)got[i] - want[i]);
			if (!(e <= worst)) {
				worst = e;
				at = i;
			}
			scale = fmax(scale, fabs((double)want[i]));
		}
		if (!(worst <= 1e-5 * (1 + scale)))
			fail_msg("C=%d CO=%d H=%d W=%d: max|diff| %g at %zu (got %g, want %g)", C, CO, H, W, worst, at,
			         (double)got[at], (double)want[at]);
		free(got);
	}
	for (int k = 0; k < K; k++)
		free_weights(&w[k]);
	free(x);
	free(a);
	free(b);
	free(want);
	free(oa);
	nn__graph_release(&g);
}

static void test_s2_same_channels(void **state)
{
	(void)state;
	/* odd and even sides: the depthwise's top/left padding and the pool's window follow the parity */
	run_s2_case(&(s2_case){ .C = 24, .CO = 24, .H = 9, .W = 11, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){ .C = 24, .CO = 24, .H = 8, .W = 10, .lo = 0, .hi = 6, .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){ .C = 24,
	                        .CO = 24,
	                        .H = 7,
	                        .W = 12,
	                        .dw_bias = 1,
	                        .lo = -INFINITY,
	                        .hi = INFINITY,
	                        .expect_host_nodes = 1 });
}

static void test_s2_channel_pad(void **state)
{
	(void)state;
	run_s2_case(&(s2_case){ .C = 24, .CO = 48, .H = 10, .W = 7, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){
	        .C = 48, .CO = 96, .H = 7, .W = 8, .dw_bias = 1, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	/* vector kernels with leftover channels on both sides of the pad, and the portable kernel */
	run_s2_case(&(s2_case){ .C = 16, .CO = 32, .H = 5, .W = 9, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){ .C = 40, .CO = 64, .H = 6, .W = 5, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){ .C = 5, .CO = 7, .H = 5, .W = 6, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
}

static void test_s2_tiny_and_wide(void **state)
{
	(void)state;
	run_s2_case(&(s2_case){ .C = 8, .CO = 16, .H = 1, .W = 1, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){ .C = 24, .CO = 24, .H = 2, .W = 3, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){ .C = 24, .CO = 48, .H = 3, .W = 2, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	/* 8192 / 24 = 341 output pixels per strip: 401 output pixels cross a strip, the last one cut */
	run_s2_case(&(s2_case){ .C = 24, .CO = 24, .H = 3, .W = 801, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
}

static void test_s2_in_chains(void **state)
{
	(void)state;
	/* stride-1 blocks then the stride-2 block: one chain, on one thread and in bands */
	run_s2_case(&(s2_case){
	        .C = 24, .CO = 48, .H = 21, .W = 13, .before = 3, .lo = 0, .hi = INFINITY, .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){ .C = 24,
	                        .CO = 24,
	                        .H = 64,
	                        .W = 9,
	                        .before = 2,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .threads = 2,
	                        .expect_host_nodes = 1 });
	run_s2_case(&(s2_case){ .C = 48,
	                        .CO = 96,
	                        .H = 47,
	                        .W = 7,
	                        .before = 1,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .threads = 3,
	                        .expect_host_nodes = 1 });
	/* a stride-2 block does not start a chain: the blocks after it are their own */
	run_s2_case(&(s2_case){ .C = 24,
	                        .CO = 24,
	                        .H = 30,
	                        .W = 11,
	                        .before = 1,
	                        .after = 2,
	                        .lo = 0,
	                        .hi = INFINITY,
	                        .threads = 2,
	                        .expect_host_nodes = 2 });
}

static void test_s2_not_the_pattern(void **state)
{
	(void)state;
	/* the channel pad at the front: left to XNNPACK */
	run_s2_case(&(s2_case){
	        .C = 8, .CO = 16, .H = 4, .W = 4, .lo = 0, .hi = INFINITY, .pad_front = 1, .expect_host_nodes = 0 });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_block_c24),
		cmocka_unit_test(test_one_block_no_clamp_dw_bias),
		cmocka_unit_test(test_wide_rows_cross_strips),
		cmocka_unit_test(test_leftover_channels_and_portable),
		cmocka_unit_test(test_avx512_tiles),
		cmocka_unit_test(test_tiny_images),
		cmocka_unit_test(test_explicit_padding_does_not_chain),
		cmocka_unit_test(test_chain_in_bands_on_threads),
		cmocka_unit_test(test_small_tensors_stay_with_xnnpack),
		cmocka_unit_test(test_shared_intermediate_is_not_fused),
		cmocka_unit_test(test_s2_same_channels),
		cmocka_unit_test(test_s2_channel_pad),
		cmocka_unit_test(test_s2_tiny_and_wide),
		cmocka_unit_test(test_s2_in_chains),
		cmocka_unit_test(test_s2_not_the_pattern),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
