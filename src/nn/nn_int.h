/*
 * nn_int.h — internals shared by the engine's files: the graph IR, the loaders and the lowering.
 *
 * Both loaders (tfjs.c for TF.js graph models, faceapi.c for face-api weight manifests) build the same IR:
 * an nn_graph of tensors and single-output nodes with TensorFlow semantics and TensorFlow weight layouts
 * (conv filters HWIO, depthwise filters [KH,KW,C,M], MatMul weights [K,N]). nn__graph_finalize then sorts,
 * checks, infers shapes and rewrites the graph once per model (folding batch-norm and clamps, re-laying
 * filters out for XNNPACK); lower.c turns a finalised graph into an executable plan per runtime.
 *
 * Ownership: every string and constant belongs to the graph's storage and lives until nn__graph_release.
 */
#ifndef MIEN_NN_NN_INT_H
#define MIEN_NN_NN_INT_H

#include <math.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/result.h"
#include "nn/nn.h"

#define NN_NODE_MAX_INPUTS 16
#define NN_GRAPH_MAX_IO    16

typedef enum nn_dtype {
	NN_DTYPE_F32 = 1,
	NN_DTYPE_I32 = 2,
} nn_dtype;

typedef enum nn_op {
	NN_OP_NONE = 0,
	/* XNNPACK-backed */
	NN_OP_CONV2D,           /* in: x, filter HWIO, bias [O] or -1 */
	NN_OP_DEPTHWISE_CONV2D, /* in: x, filter [KH,KW,C,M], bias [C*M] or -1 */
	NN_OP_MATMUL,           /* in: x [.., K], weights [K,N] (or [N,K] with p.matmul.transpose_b), bias [N] or -1 */
	NN_OP_ADD,              /* in: a, b (NumPy broadcasting) */
	NN_OP_SUB,
	NN_OP_MUL,
	NN_OP_DIV,
	NN_OP_MAXIMUM,
	NN_OP_MINIMUM,
	NN_OP_CLAMP,      /* in: x; bounds are out_min/out_max (Relu = [0, inf], Relu6 = [0, 6]) */
	NN_OP_PRELU,      /* in: x, alpha [C] */
	NN_OP_LEAKY_RELU, /* in: x; p.alpha */
	NN_OP_ABS,
	NN_OP_SQUARE,
	NN_OP_SQRT,
	NN_OP_RSQRT, /* lowered as sqrt then divide */
	NN_OP_SIGMOID,
	NN_OP_SOFTMAX,         /* over the last axis */
	NN_OP_MAX_POOL,        /* p.pool */
	NN_OP_AVG_POOL,        /* p.pool */
	NN_OP_MEAN,            /* in: x, axes (i32 const) or p.reduce; lowered for axes {1,2} of NHWC */
	NN_OP_SUM,             /* in: x, axes; lowered for the last axis */
	NN_OP_PAD,             /* in: x, paddings i32 [rank,2]; p.pad_value */
	NN_OP_RESHAPE,         /* in: x, shape i32 (may hold one -1) */
	NN_OP_SQUEEZE,         /* in: x; p.reduce.axes (none = every size-1 axis) */
	NN_OP_RESIZE_BILINEAR, /* in: x, size i32 [2]; p.resize */
	NN_OP_DEPTH_TO_SPACE,  /* p.block */
	NN_OP_IDENTITY,
	/* host C */
	NN_OP_CONCAT, /* in: tensors...; p.axis (already normalised >= 0 by the loader, or negative from the end) */
	NN_OP_EXP,
	NN_OP_TANH,
	NN_OP_HOST, /* a loader-defined host function: p.host */
	/* shape-only: evaluated at runtime creation, never executed */
	NN_OP_SHAPE,         /* in: x -> i32 [rank] */
	NN_OP_STRIDED_SLICE, /* in: x, begin, end, strides (i32 const); p.slice masks */
	NN_OP_PACK,          /* in: scalars/vectors; p.axis */
	NN_OP_COUNT_
} nn_op;

typedef enum nn_padding {
	NN_PAD_VALID = 0,
	NN_PAD_SAME = 1,     /* TensorFlow SAME: extra padding goes to the bottom/right */
	NN_PAD_EXPLICIT = 2, /* pad_* fields */
} nn_padding;

typedef struct nn_conv_params {
	int stride_h, stride_w;
	int dilation_h, dilation_w;
	nn_padding padding;
	int pad_top, pad_bottom, pad_left, pad_right;
} nn_conv_params;

typedef struct nn_pool_params {
	int kernel_h, kernel_w;
	int stride_h, stride_w;
	nn_padding padding;
	int pad_top, pad_bottom, pad_left, pad_right;
} nn_pool_params;

/* Arguments a host function sees at run time. Buffers are float32 and dense (C order). */
typedef struct nn_host_call {
	int n_inputs;
	const float *inputs[NN_NODE_MAX_INPUTS];
	const nn_shape *input_shapes[NN_NODE_MAX_INPUTS];
	float *output;
	const nn_shape *output_shape;
	const void *params; /* the node's p.host.params */
	void *pool;         /* the runtime's pthreadpool_t (NULL = one thread): a host op may split its work over it */
	size_t threads;     /* threads in that pool (1 without one) */
	void *scratch; /* this runtime's own scratch for the op (nn_host_op.scratch bytes, 64-byte aligned), or NULL */
	size_t scratch_bytes;
} nn_host_call;

typedef struct nn_host_op {
	const char *kind;                      /* for messages: "ssd_decode" */
	void (*run)(const nn_host_call *call); /* must not allocate */
	/* Computes the output shape from the input shapes (called at finalise and at runtime creation). */
	int (*shape)(const nn_shape *const *input_shapes, int n_inputs, const void *params, nn_shape *out,
	             mien_error *err);
	/* Optional: bytes of per-runtime scratch the op needs at these input shapes and thread count (runtime
	 * creation reserves them, so run never allocates; params are shared by concurrent runtimes and must not
	 * be written). */
	size_t (*scratch)(const nn_shape *const *input_shapes, const void *params, size_t threads);
	const void *params;      /* in graph storage; shared by every runtime, so read-only at run time */
	int64_t macs_per_output; /* multiply-accumulates per output element, for reporting (0 = none) */
	/* Optional, for reporting: multiply-accumulates at these input shapes (replaces macs_per_output). */
	double (*macs)(const nn_shape *const *input_shapes, const void *params);
} nn_host_op;

typedef struct nn_node {
	nn_op op;
	const char *name;      /* graph node name; also the name of its output tensor */
	const char *source_op; /* op as the file names it ("_FusedConv2D") or the face-api layer kind */
	int n_inputs;
	int inputs[NN_NODE_MAX_INPUTS]; /* tensor ids; -1 = absent optional input */
	int output;                     /* tensor id */
	float out_min, out_max;         /* fused output clamp; -INFINITY/INFINITY when none */
	union {
		nn_conv_params conv;
		nn_pool_params pool;
		struct {
			int n_axes;
			int axes[NN_MAX_RANK];
			int keep_dims;
		} reduce;
		struct {
			int align_corners;
			int half_pixel_centers;
		} resize;
		struct {
			int begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask;
		} slice;
		struct {
			int transpose_b;
		} matmul;
		float pad_value;
		float alpha;
		int axis;
		int block;
		nn_host_op host;
	} p;
} nn_node;

typedef struct nn_tensor {
	const char *name;
	nn_dtype dtype;
	nn_shape shape; /* at the published input shape; inputs may keep -1 for the batch */
	void *data;     /* constant value (graph storage), or NULL for computed tensors and graph inputs */
	int producer;   /* node index, or -1 for constants and graph inputs */
	int xnn_layout; /* 1 once nn__graph_finalize has re-laid this filter out for XNNPACK (OHWI / [N,K]) */
} nn_tensor;

typedef struct nn_storage_block nn_storage_block;

typedef struct nn_graph {
	const char *model_name; /* for messages */
	nn_tensor *tensors;
	int n_tensors, cap_tensors;
	nn_node *nodes; /* topologically sorted after finalise */
	int n_nodes, cap_nodes;
	int n_inputs, inputs[NN_GRAPH_MAX_IO];
	int n_outputs, outputs[NN_GRAPH_MAX_IO];
	const char *output_names[NN_GRAPH_MAX_IO]; /* the names callers use; usually the tensor name */
	int resizable;    /* spatial input size may change (set by the loader for fully convolutional models) */
	int source_nodes; /* nodes in the file, constants included, for info */
	nn_op_count histogram[64];
	size_t histogram_len;
	const char *weight_dtype;
	int64_t weight_bytes;
	nn_storage_block *storage; /* owned chain of aligned blocks */
	/* Finalise fuses a residual block (fused.c) only where its tensor has at least this many elements
	 * (NN_FUSE_MIN_ELEMENTS from nn__graph_init; tests lower it). */
	int64_t fuse_min_elements;
	/* fuse blocks whose channel counts are not multiples of 8 too: those run fused.c's portable C path, which
	 * is slower than XNNPACK (blazeface-front's 28- and 42-channel blocks: 1.35 vs 0.67 ms), so only the unit
	 * tests turn this on, to check that path */
	int fuse_any_width;
} nn_graph;

/* Below ~160 KiB a block's three XNNPACK passes stay in L2 and XNNPACK's kernels beat the fused one, which
 * also splits the XNNPACK subgraph: measured on Zen 4, facemesh 0.79 -> 0.68 ms with this bound and 0.84 ms
 * without one; blazeface-back 3.06 ms with it, 3.2 ms without. */
#define NN_FUSE_MIN_ELEMENTS 40960

/* Starts an empty graph; `model_name` is copied. */
int nn__graph_init(nn_graph *g, const char *model_name, mien_error *err);
/* Frees everything the graph owns; a zeroed graph is a no-op. */
void nn__graph_release(nn_graph *g);

/* 64-byte aligned, zeroed memory owned by the graph; NULL when out of memory. */
void *nn__graph_alloc(nn_graph *g, size_t bytes);
const char *nn__graph_strdup(nn_graph *g, const char *text);

/* Counts one occurrence of a source op in the histogram (the loaders call it per file node). */
void nn__graph_count_op(nn_graph *g, const char *source_op);

/* Adds a tensor; returns its id (>= 0) or a negative MIEN_E* code. `data` is borrowed and must be graph
 * storage (or NULL). */
int nn__graph_add_tensor(nn_graph *g, const char *name, nn_dtype dtype, const nn_shape *shape, void *data);
/* Adds a constant, copying `count` elements from `src` into graph storage. */
int nn__graph_add_const(nn_graph *g, const char *name, nn_dtype dtype, const nn_shape *shape, const void *src);
/* Adds a graph input of the given (published) shape. */
int nn__graph_add_input(nn_graph *g, const char *name, const nn_shape *shape);
/* Appends a node (copied from `node`, whose `output` is ignored): creates its output tensor, named after the node,
 * with an unknown shape, and returns that tensor's id. node->name is copied. */
int nn__graph_add_node(nn_graph *g, const nn_node *node);
/* Marks a tensor as a graph output under `name` (copied; NULL = the tensor's name). */
int nn__graph_add_output(nn_graph *g, int tensor, const char *name);
/* Looks a tensor up by name; -1 when absent. */
int nn__graph_find_tensor(const nn_graph *g, const char *name);

/* A node template with no inputs and no clamp. */
nn_node nn__node(nn_op op, const char *name, const char *source_op);

/*
 * Makes a loaded graph ready to lower: topological sort and removal of nodes no output needs; shape
 * inference at the published shapes; folding of shape-only subgraphs; exact rewrites (Mul/Add by constants
 * into the preceding convolution, Relu/Relu6/Minimum/Maximum into its clamp, Pad into a VALID convolution's
 * padding); filter re-layout for XNNPACK. Errors name the model, node and op.
 */
int nn__graph_finalize(nn_graph *g, mien_error *err);

/*
 * Shape inference over the whole graph for the given input shapes: fills shapes[n_tensors] and, for
 * integer shape-only tensors, their values into `ivalues` (graph-storage-free: values are written into
 * arrays the caller provides: ivalues[t] points to NN_MAX_RANK*2 int64 slots, ilen[t] their count).
 */
typedef struct nn_shape_env {
	nn_shape *shapes; /* n_tensors */
	int64_t (*ivalues)[NN_MAX_RANK * 2];
	int *ilen; /* -1 = not a known integer tensor */
} nn_shape_env;
int nn__infer_shapes(const nn_graph *g, const nn_shape *input_shapes, nn_shape_env *env, mien_error *err);

/*
 * Reads a TF.js weights manifest (the JSON array of {paths, weights:[{name, shape, dtype, quantization}]}
 * groups; `manifest` is a jansson json_t* passed as void* to keep jansson out of this header) whose shard
 * paths are relative to `dir`, and adds every weight as a constant tensor named as in the manifest:
 * float32 as is, float16 and uint8/uint16 affine (q*scale+min) dequantised to float32, int32 as int32.
 * Shard sizes are checked against the manifest (a truncated shard is an error naming file and weight).
 * Sets g->weight_dtype and g->weight_bytes.
 */
int nn__manifest_load(nn_graph *g, const void *manifest, const char *dir, mien_error *err);

/* Loaders: fill an initialised graph (not yet finalised). */
int nn__tfjs_load(nn_graph *g, const char *model_json_path, mien_error *err);
int nn__faceapi_load(nn_graph *g, const char *manifest_path, mien_error *err);

/* Reads a whole file into a malloc'd buffer (NUL-terminated) of at most `cap` bytes; caller frees. */
int nn__read_file(const char *path, size_t cap, char **data, size_t *size, mien_error *err);

/* IEEE half to float. */
float nn__half_to_float(uint16_t h);

/* Built-in host kernels (host.c). */
void nn__host_concat(const nn_host_call *call, int axis);
void nn__host_exp(const nn_host_call *call);
void nn__host_tanh(const nn_host_call *call);

/*
 * The fused separable residual block (fused.c): out = clamp(W·(D⊛x + b_dw) + b_pw + x) as one host op, where
 * D is a 3×3 depthwise filter at stride 1 whose output keeps x's size (pad_top + pad_bottom = 2, likewise
 * left/right) and W a 1×1 convolution from C to C channels. At stride 2 (BlazeFace's downsampling block) D
 * has TF SAME padding and the residual is a 2×2 max pool of x at stride 2 (SAME), its channels zero-padded
 * at the end from C to W's output channels: out = clamp(W·(D⊛₂x + b_dw) + b_pw + pad(maxpool(x))).
 * Filters are in TF layout ([3,3,C,1] and [1,1,C,CO]); biases may be NULL. The op's own parameters are
 * copied into graph storage.
 */
#define NN_FUSED_BLOCK_MAX_CHANNELS 256
typedef struct nn_fused_block {
	int channels;
	int out_channels;      /* 0: channels; at stride 2 it may be larger (the residual's channel padding) */
	int stride;            /* 0 or 1: stride 1; 2: stride 2 (pad_top and pad_left unused: TF SAME) */
	int pad_top, pad_left; /* stride 1 */
	const float *dw_filter, *dw_bias;
	const float *pw_filter, *pw_bias;
	float lo, hi; /* output clamp */
} nn_fused_block;
/* Fills `op`; MIEN_EINVAL when the block is outside what the kernel handles, MIEN_ENOMEM. */
int nn__fused_block_op(nn_graph *g, const nn_fused_block *block, nn_host_op *op);
/* Where `second` reads only `first`'s output: one op running both (their blocks in order, the intermediate
 * tensors kept in per-runtime row rings) into `op`, returning 1; 0 when they cannot chain (not both fused
 * blocks, channel counts that do not meet, a stride-1 block with padding other than one pixel at the top,
 * over NN_FUSED_CHAIN_MAX blocks); MIEN_ENOMEM. Stride-2 blocks chain with the blocks before and after them. */
#define NN_FUSED_CHAIN_MAX 32
int nn__fused_block_chain(nn_graph *g, const nn_host_op *first, const nn_host_op *second, nn_host_op *op);

const char *nn__op_name(nn_op op);

/* The finalised graph of a loaded model (borrowed). */
const nn_graph *nn__model_graph(const nn_model *model);

/* Multiply-accumulates of node n at the shapes in `shapes` (per tensor). */
double nn__node_macs(const nn_graph *g, const nn_node *n, const nn_shape *shapes);

#endif
