/*
 * npy.h — NumPy .npy files of float32 tensors: how mien exchanges tensors with TensorFlow.js reference
 * scripts, `mien model run` and the tests.
 *
 * Reading accepts format versions 1.0, 2.0 and 3.0, dtype '<f4' (and '<f8', converted to float32), C order
 * only, rank 0..NN_MAX_RANK. The file is untrusted input: the header length, the element count
 * (NN_NPY_MAX_ELEMENTS) and the file size (it must match the header exactly) are all checked. Writing
 * produces exactly what numpy.save writes for a float32 C-order array (version 1.0, NumPy's growth spaces
 * after the dict, then spaces and a newline up to a multiple of 64 bytes).
 *
 *     float *data = NULL; nn_shape shape; mien_error err;
 *     if (nn_npy_read("input.npy", &data, &shape, &err)) log err.message;
 *     ...
 *     free(data);
 */
#ifndef MIEN_NN_NPY_H
#define MIEN_NN_NPY_H

#include <stdint.h>

#include "core/result.h"
#include "nn/nn.h"

/* Hard caps on what nn_npy_read accepts. */
#define NN_NPY_MAX_HEADER   65536
#define NN_NPY_MAX_ELEMENTS ((int64_t)1 << 28)

/*
 * Reads `path` into a new float32 buffer. On success *data holds nn_npy_count(shape) floats (never NULL,
 * even for zero elements; caller frees with free) and *shape the array's shape. On failure *data is NULL and
 * `err` names the file: MIEN_ENOENT / MIEN_EIO (cannot open or read), MIEN_EFORMAT (bad magic, malformed
 * header, size mismatch, truncated data), MIEN_EUNSUPPORTED (a dtype other than '<f4'/'<f8', fortran
 * order), MIEN_ERANGE (rank above NN_MAX_RANK), MIEN_ETOOBIG (a cap exceeded), MIEN_ENOMEM.
 */
int nn_npy_read(const char *path, float **data, nn_shape *shape, mien_error *err);

/*
 * Parses an .npy image already in memory (`bytes`, `size`, borrowed); same contract as nn_npy_read, with
 * `name` used in messages in place of a path.
 */
int nn_npy_parse(const void *bytes, size_t size, const char *name, float **data, nn_shape *shape, mien_error *err);

/*
 * Writes `data` (nn_npy_count(shape) floats, borrowed) with `shape` to `path`, replacing the file.
 * Every dimension must be >= 0 (MIEN_EINVAL otherwise). MIEN_EIO when the file cannot be written (a partly
 * written file is removed).
 */
int nn_npy_write(const char *path, const float *data, const nn_shape *shape, mien_error *err);

/* Elements in `shape` (1 for rank 0); -1 when a dimension is negative or the product overflows int64. */
int64_t nn_npy_count(const nn_shape *shape);

#endif
