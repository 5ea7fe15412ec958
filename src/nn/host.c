/*
 * host.c — the few kernels XNNPACK lacks, in plain C: concatenation, exp, tanh, and non-maximum suppression.
 * None allocates.
 */
#include <math.h>
#include <string.h>

#include "nn/nn_int.h"

void nn__host_concat(const nn_host_call *call, int axis)
{
	const nn_shape *os = call->output_shape;
	if (axis < 0)
		axis += os->rank;
	/* outer = product of dims before the axis; each input contributes a contiguous chunk per outer index */
	int64_t outer = 1, inner = 1;
	for (int d = 0; d < axis; d++)
		outer *= os->dims[d];
	for (int d = axis + 1; d < os->rank; d++)
		inner *= os->dims[d];
	float *dst = call->output;
	for (int64_t o = 0; o < outer; o++) {
		for (int i = 0; i < call->n_inputs; i++) {
			int64_t chunk = call->input_shapes[i]->dims[axis] * inner;
			memcpy(dst, call->inputs[i] + o * chunk, (size_t)chunk * sizeof(float));
			dst += chunk;
		}
	}
}

void nn__host_exp(const nn_host_call *call)
{
	int64_t n = nn_shape_count(call->output_shape);
	for (int64_t i = 0; i < n; i++)
		call->output[i] = expf(call->inputs[0][i]);
}

void nn__host_tanh(const nn_host_call *call)
{
	int64_t n = nn_shape_count(call->output_shape);
	for (int64_t i = 0; i < n; i++)
		call->output[i] = tanhf(call->inputs[0][i]);
}

static float iou(const float *a, const float *b)
{
	float ay0 = fminf(a[0], a[2]), ay1 = fmaxf(a[0], a[2]), ax0 = fminf(a[1], a[3]), ax1 = fmaxf(a[1], a[3]);
	float by0 = fminf(b[0], b[2]), by1 = fmaxf(b[0], b[2]), bx0 = fminf(b[1], b[3]), bx1 = fmaxf(b[1], b[3]);
	float area_a = (ay1 - ay0) * (ax1 - ax0), area_b = (by1 - by0) * (bx1 - bx0);
	if (area_a <= 0 || area_b <= 0)
		return 0;
	float iy = fminf(ay1, by1) - fmaxf(ay0, by0), ix = fminf(ax1, bx1) - fmaxf(ax0, bx0);
	if (iy <= 0 || ix <= 0)
		return 0;
	float inter = iy * ix;
	return inter / (area_a + area_b - inter);
}

size_t nn_nms(const float *boxes, const float *scores, size_t n, float iou_threshold, float score_threshold,
              size_t max_out, int *keep, int *scratch)
{
	/* candidates above the threshold, sorted by score (descending; ties keep index order, as TF does) */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (scores[i] > score_threshold)
			scratch[m++] = (int)i;
	for (size_t i = 1; i < m; i++) { /* insertion sort: candidates are few after thresholding */
		int v = scratch[i];
		size_t j = i;
		while (j > 0 && scores[scratch[j - 1]] < scores[v]) {
			scratch[j] = scratch[j - 1];
			j--;
		}
		scratch[j] = v;
	}
	size_t kept = 0;
	for (size_t i = 0; i < m && kept < max_out; i++) {
		int c = scratch[i];
		int ok = 1;
		for (size_t k = 0; k < kept && ok; k++)
			if (iou(boxes + 4 * (size_t)c, boxes + 4 * (size_t)keep[k]) > iou_threshold)
				ok = 0;
		if (ok)
			keep[kept++] = c;
	}
	return kept;
}
