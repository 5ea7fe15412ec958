/*
 * nn.h — mien's inference engine: TensorFlow.js models run natively on XNNPACK.
 *
 * A model (nn_model) is loaded once: the graph is parsed, weights are read and dequantised into one
 * aligned block, and size-independent rewrites (batch-norm and clamp folding, filter re-layout) are done.
 * It is immutable afterwards and may be shared by any number of threads.
 *
 * A runtime (nn_runtime) is one executable instance of a model at fixed input shapes: its XNNPACK
 * runtimes, host steps and activation buffers are all sized at creation, so nn_runtime_run never
 * allocates. Create one runtime per worker thread; runtimes of the same model share its weights (XNNPACK
 * packs a per-runtime copy of each filter in its own layout; the model's block is never duplicated).
 * Fully convolutional models accept input shapes other than the published one at creation.
 *
 * Usage:
 *     nn_model *m = NULL; mien_error err;
 *     if (nn_model_load("blazeface-back", "models", &m, &err)) log err.message;
 *     nn_runtime *rt = NULL;
 *     nn_runtime_create(m, NULL, pool, &rt, &err);         // NULL = published input shapes
 *     float *in = nn_runtime_input(rt, 0, NULL);            // fill it
 *     nn_runtime_run(rt, &err);
 *     const float *out = nn_runtime_output(rt, 0, &shape);  // read it
 */
#ifndef MIEN_NN_NN_H
#define MIEN_NN_NN_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

#define NN_MAX_RANK 6

typedef struct nn_shape {
	int rank;
	int64_t dims[NN_MAX_RANK]; /* -1 for a dimension the model leaves open (batch) */
} nn_shape;

/* Number of elements; 0 when a dimension is unknown (< 0). */
int64_t nn_shape_count(const nn_shape *shape);

/* Formats "[1,256,256,3]" into buf (always NUL-terminated); returns buf. */
const char *nn_shape_str(const nn_shape *shape, char *buf, size_t size);

typedef struct nn_pool nn_pool;

/* Initialises XNNPACK once per process (thread-safe, idempotent). nn_model_load calls it. */
int nn_init(mien_error *err);

/* A thread pool for intra-op parallelism, shared by runtimes. threads <= 1 means no pool: runtimes then run
 * on the calling thread. Caller frees with nn_pool_destroy. A pool runs one computation at a time, so give
 * each concurrently running worker its own pool or NULL. */
int nn_pool_create(size_t threads, nn_pool **out, mien_error *err);
void nn_pool_destroy(nn_pool **pool);
size_t nn_pool_threads(const nn_pool *pool);

typedef struct nn_model nn_model;

/*
 * Loads a model. `spec` is a path to a TF.js `model.json`, a face-api `*-weights_manifest.json`, or a short
 * name resolved under `models_dir` (the `make models` layout: human/<name>.json,
 * faceapi/<name>_model-weights_manifest.json; e.g. "blazeface-back", "mobilefacenet", "ssd_mobilenetv1"). On failure
 * *out stays NULL and `err` names the model, node and op. Caller frees with nn_model_free.
 */
int nn_model_load(const char *spec, const char *models_dir, nn_model **out, mien_error *err);
void nn_model_free(nn_model **model);

const char *nn_model_name(const nn_model *model);
const char *nn_model_path(const nn_model *model);

size_t nn_model_input_count(const nn_model *model);
size_t nn_model_output_count(const nn_model *model);
/* Name and published shape of input/output i (borrowed, valid while the model lives). */
const char *nn_model_input_name(const nn_model *model, size_t i);
const char *nn_model_output_name(const nn_model *model, size_t i);
nn_shape nn_model_input_shape(const nn_model *model, size_t i);
/* Index of the input/output with this name, or -1. */
int nn_model_input_index(const nn_model *model, const char *name);
int nn_model_output_index(const nn_model *model, const char *name);

/* Whether the model may be instantiated at spatial sizes other than the published one. */
int nn_model_resizable(const nn_model *model);

typedef struct nn_op_count {
	const char *op; /* TensorFlow op name as in the file ("_FusedConv2D"), or the face-api layer kind */
	int count;
} nn_op_count;

typedef struct nn_model_info {
	int node_count;           /* graph nodes as loaded, constants included */
	int64_t parameters;       /* float parameters in the weight block */
	int64_t weight_bytes;     /* size of the weight block after dequantisation */
	double mmac;              /* multiply-accumulates per inference at the published shape, millions */
	size_t op_kinds;          /* entries in `ops` */
	nn_op_count ops[64];      /* histogram of the file's ops, sorted by count */
	const char *format;       /* "graph-model" or "face-api" */
	const char *weight_dtype; /* "float32", "float16" or "uint8" as stored */
} nn_model_info;

/* Fills `info`. The MMAC figure counts conv, depthwise conv and fully-connected MACs at the published shape. */
int nn_model_get_info(const nn_model *model, nn_model_info *info, mien_error *err);

typedef struct nn_runtime nn_runtime;

/*
 * Creates a runtime. `input_shapes` has nn_model_input_count entries or is NULL for the published shapes
 * (an open batch dimension becomes 1). Spatial sizes other than the published ones need a resizable model.
 * `pool` is borrowed and may be NULL (single-threaded). The model must outlive the runtime.
 * Caller frees with nn_runtime_free.
 */
int nn_runtime_create(const nn_model *model, const nn_shape *input_shapes, nn_pool *pool, nn_runtime **out,
                      mien_error *err);
void nn_runtime_free(nn_runtime **runtime);

/* Input buffer i (float32, NHWC, shape in *shape if non-NULL): the caller fills it before nn_runtime_run.
 * Owned by the runtime; stable for its life. */
float *nn_runtime_input(nn_runtime *runtime, size_t i, nn_shape *shape);

/* Runs the model on the current inputs. Never allocates. */
int nn_runtime_run(nn_runtime *runtime, mien_error *err);

/* Output buffer i after nn_runtime_run (owned by the runtime; overwritten by the next run). */
const float *nn_runtime_output(const nn_runtime *runtime, size_t i, nn_shape *shape);

/* Multiply-accumulates of one run at this runtime's shapes, millions. */
double nn_runtime_mmac(const nn_runtime *runtime);

/*
 * Non-maximum suppression on the host, for detectors. `boxes` holds n boxes as [y0,x0,y1,x1] (any units),
 * `scores` n scores. Writes up to max_out indices of kept boxes, best first, into `keep`; returns how many.
 * Boxes scoring below score_threshold are dropped; a box overlapping a kept one by IoU > iou_threshold is
 * suppressed. `scratch` needs n ints.
 */
size_t nn_nms(const float *boxes, const float *scores, size_t n, float iou_threshold, float score_threshold,
              size_t max_out, int *keep, int *scratch);

#endif
