/*
 * fused.c — a host kernel for the separable residual block, which XNNPACK runs as three passes over memory.
 *
 * The block (BlazeFace's BlazeBlock at stride 1):
 *
 *     out = clamp(W · (D ⊛ x + b_dw) + b_pw + x)
 *
 * with D a 3×3 depthwise filter at stride 1 whose output keeps the input's size, W a 1×1 convolution from C
 * to C channels, and the residual x the block's own input. Each output row is made from three input rows in
 * one pass: the depthwise result for a strip of pixels goes to a buffer on the stack (L1), the 1×1
 * convolution reads it back with the residual, clamps and stores. The depthwise bias is folded into the 1×1
 * bias when the op is built (W·b_dw + b_pw), exact in real arithmetic.
 *
 * Consecutive blocks run as one chain: block k+1 consumes block k's rows from a three-row ring as soon as
 * they exist, so the intermediate tensors never leave the cache (see chain_band). The rings are the
 * runtime's scratch (nn_host_op.scratch), one set per band of rows when the runtime has threads; the
 * parameters are read-only graph storage shared by every runtime. Nothing allocates at run time.
 *
 * On x86-64 the kernels exist as portable C and as AVX2+FMA and AVX-512VL intrinsics (the latter only for
 * the 32 registers: tiles stay 256 bits wide), chosen at run time from what the CPU has; the binary itself
 * needs no more than baseline x86-64. Channel counts that are not a multiple of 8 take the portable path.
 */
#include <pthreadpool.h>
#include <string.h>

#include "nn/nn_int.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FUSED_X86 1
#include <immintrin.h>
#endif

/* Floats in one strip buffer (32 KiB); a strip is STRIP_FLOATS / C pixels of one row. */
#define STRIP_FLOATS 8192

typedef struct block_params {
	int channels;
	int pad_top, pad_left;
	float lo, hi;
	const float *dw;      /* [9][C]: tap (ky,kx) at dw[(ky*3+kx)*C] */
	const float *pw;      /* [C][C]: input channel major, pw[ci*C + co] */
	const float *pw_bias; /* [C], the depthwise bias folded in */
} block_params;

static const float zero_pixel[NN_FUSED_BLOCK_MAX_CHANNELS];
static const float zero_pixels[3 * NN_FUSED_BLOCK_MAX_CHANNELS]; /* a row outside the image, three taps wide */

/* ---- portable kernels */

static inline __attribute__((always_inline)) void dw_pixel(int C, const float *const *t, const float *restrict w,
                                                           float *restrict d)
{
	const float *restrict t0 = t[0], *restrict t1 = t[1], *restrict t2 = t[2];
	const float *restrict t3 = t[3], *restrict t4 = t[4], *restrict t5 = t[5];
	const float *restrict t6 = t[6], *restrict t7 = t[7], *restrict t8 = t[8];
	const float *restrict w0 = w, *restrict w1 = w + C, *restrict w2 = w + 2 * C;
	const float *restrict w3 = w + 3 * C, *restrict w4 = w + 4 * C, *restrict w5 = w + 5 * C;
	const float *restrict w6 = w + 6 * C, *restrict w7 = w + 7 * C, *restrict w8 = w + 8 * C;
	for (int c = 0; c < C; c++)
		d[c] = t0[c] * w0[c] + t1[c] * w1[c] + t2[c] * w2[c] + t3[c] * w3[c] + t4[c] * w4[c] + t5[c] * w5[c] +
		       t6[c] * w6[c] + t7[c] * w7[c] + t8[c] * w8[c];
}

/* The nine tap pointers of the output pixel whose tap kx = 0 is input column ix0; rows[ky] is the input row
 * the kernel's row ky reads (NULL above or below the image); taps outside the image read zeros. */
static inline __attribute__((always_inline)) void tap_pointers(const block_params *p, const float *const *rows, int W,
                                                               int ix0, const float **t)
{
	for (int ky = 0; ky < 3; ky++)
		for (int kx = 0; kx < 3; kx++) {
			int ix = ix0 + kx;
			t[ky * 3 + kx] = rows[ky] && ix >= 0 && ix < W ? rows[ky] + (size_t)ix * (size_t)p->channels
			                                               : zero_pixel;
		}
}

/* Depthwise result of pixels [x0, x0+n) of one output row into d[n][C]. */
static inline __attribute__((always_inline)) void dw_strip(const block_params *p, const float *const *rows, int W,
                                                           int x0, int n, float *restrict d)
{
	for (int i = 0; i < n; i++) {
		const float *t[9];
		tap_pointers(p, rows, W, x0 + i - p->pad_left, t);
		dw_pixel(p->channels, t, p->dw, d + (size_t)i * (size_t)p->channels);
	}
}

/* out[i] = clamp(pw_bias + res[i] + W·d[i]) for n pixels. */
static inline __attribute__((always_inline)) void pw_strip(const block_params *p, const float *restrict d,
                                                           const float *restrict res, float *restrict out, int n)
{
	const int C = p->channels;
	const float lo = p->lo, hi = p->hi;
	for (int i = 0; i < n; i++) {
		const float *restrict di = d + (size_t)i * (size_t)C;
		const float *restrict ri = res + (size_t)i * (size_t)C;
		float *restrict oi = out + (size_t)i * (size_t)C;
		for (int co = 0; co < C; co++)
			oi[co] = p->pw_bias[co] + ri[co];
		for (int ci = 0; ci < C; ci++) {
			const float v = di[ci];
			const float *restrict w = p->pw + (size_t)ci * (size_t)C;
			for (int co = 0; co < C; co++)
				oi[co] += v * w[co];
		}
		for (int co = 0; co < C; co++)
			oi[co] = oi[co] < lo ? lo : oi[co] > hi ? hi : oi[co];
	}
}

/* One output row of one block: rows[ky] as for dw_strip; the residual is the input row at the output's own
 * height, rows[pad_top]. */
typedef void (*block_row_fn)(const block_params *p, const float *const *rows, int W, float *out);

static void block_row_portable(const block_params *p, const float *const *rows, int W, float *out)
{
	const int C = p->channels, strip = STRIP_FLOATS / C;
	float d[STRIP_FLOATS];
	for (int x0 = 0; x0 < W; x0 += strip) {
		int n = W - x0 < strip ? W - x0 : strip;
		size_t at = (size_t)x0 * (size_t)C;
		dw_strip(p, rows, W, x0, n, d);
		pw_strip(p, d, rows[p->pad_top] + at, out + at, n);
	}
}

#ifdef FUSED_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* Depthwise for n pixels whose taps are all inside the image's columns, channels in blocks of 8 with the
 * block's nine weights in registers. Pixel i, row ky, tap kx reads p[ky] + i*s[ky] + kx*C: a row outside the
 * image has p = a zero block and s = 0 and is skipped. Four pixels at a time share their input loads (six
 * loads per row for twelve FMAs), so the loop is bound by FMAs rather than loads. */
#define DW_ROW4(r)                                                                                                  \
	if (s[r]) {                                                                                                 \
		const float *q = p[r] + (size_t)i * (size_t)C + cb;                                                 \
		const __m256 x0 = _mm256_loadu_ps(q), x1 = _mm256_loadu_ps(q + C), x2 = _mm256_loadu_ps(q + 2 * C); \
		a0 = _mm256_fmadd_ps(x0, w##r##0, a0);                                                              \
		a0 = _mm256_fmadd_ps(x1, w##r##1, a0);                                                              \
		a1 = _mm256_fmadd_ps(x1, w##r##0, a1);                                                              \
		a0 = _mm256_fmadd_ps(x2, w##r##2, a0);                                                              \
		a1 = _mm256_fmadd_ps(x2, w##r##1, a1);                                                              \
		a2 = _mm256_fmadd_ps(x2, w##r##0, a2);                                                              \
		const __m256 x3 = _mm256_loadu_ps(q + 3 * C), x4 = _mm256_loadu_ps(q + 4 * C),                      \
		             x5 = _mm256_loadu_ps(q + 5 * C);                                                       \
		a1 = _mm256_fmadd_ps(x3, w##r##2, a1);                                                              \
		a2 = _mm256_fmadd_ps(x3, w##r##1, a2);                                                              \
		a3 = _mm256_fmadd_ps(x3, w##r##0, a3);                                                              \
		a2 = _mm256_fmadd_ps(x4, w##r##2, a2);                                                              \
		a3 = _mm256_fmadd_ps(x4, w##r##1, a3);                                                              \
		a3 = _mm256_fmadd_ps(x5, w##r##2, a3);                                                              \
	}
#define DW_SPAN_FN(name, target_isa)                                                                        \
	__attribute__((target(target_isa))) static void name(const block_params *bp, const float *const *p, \
	                                                     const int *s, int n, float *restrict d)        \
	{                                                                                                   \
		const int C = bp->channels;                                                                 \
		for (int cb = 0; cb < C; cb += 8) {                                                         \
			const float *w = bp->dw + cb;                                                       \
			const __m256 w00 = _mm256_loadu_ps(w), w01 = _mm256_loadu_ps(w + C),                \
			             w02 = _mm256_loadu_ps(w + 2 * C);                                      \
			const __m256 w10 = _mm256_loadu_ps(w + 3 * C), w11 = _mm256_loadu_ps(w + 4 * C),    \
			             w12 = _mm256_loadu_ps(w + 5 * C);                                      \
			const __m256 w20 = _mm256_loadu_ps(w + 6 * C), w21 = _mm256_loadu_ps(w + 7 * C),    \
			             w22 = _mm256_loadu_ps(w + 8 * C);                                      \
			int i = 0;                                                                          \
			for (; i + 4 <= n; i += 4) {                                                        \
				__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                 \
				DW_ROW4(0)                                                                  \
				DW_ROW4(1)                                                                  \
				DW_ROW4(2)                                                                  \
				float *o = d + (size_t)i * (size_t)C + cb;                                  \
				_mm256_storeu_ps(o, a0);                                                    \
				_mm256_storeu_ps(o + C, a1);                                                \
				_mm256_storeu_ps(o + 2 * C, a2);                                            \
				_mm256_storeu_ps(o + 3 * C, a3);                                            \
			}                                                                                   \
			const float *r0 = p[0] + (size_t)i * (size_t)s[0] + cb;                             \
			const float *r1 = p[1] + (size_t)i * (size_t)s[1] + cb;                             \
			const float *r2 = p[2] + (size_t)i * (size_t)s[2] + cb;                             \
			float *o = d + (size_t)i * (size_t)C + cb;                                          \
			for (; i < n; i++, r0 += s[0], r1 += s[1], r2 += s[2], o += C) {                    \
				__m256 a = _mm256_mul_ps(_mm256_loadu_ps(r0), w00);                         \
				__m256 b = _mm256_mul_ps(_mm256_loadu_ps(r1), w10);                         \
				__m256 c = _mm256_mul_ps(_mm256_loadu_ps(r2), w20);                         \
				a = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + C), w01, a);                       \
				b = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + C), w11, b);                       \
				c = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + C), w21, c);                       \
				a = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + 2 * C), w02, a);                   \
				b = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + 2 * C), w12, b);                   \
				c = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + 2 * C), w22, c);                   \
				_mm256_storeu_ps(o, _mm256_add_ps(_mm256_add_ps(a, b), c));                 \
			}                                                                                   \
		}                                                                                           \
	}

DW_SPAN_FN(dw_span_avx2, "avx2,fma")
DW_SPAN_FN(dw_span_avx512, "avx2,fma,avx512f,avx512vl")

typedef void (*dw_span_fn)(const block_params *bp, const float *const *p, const int *s, int n, float *restrict d);

AVX2 static void dw_strip_avx2(const block_params *bp, const float *const *rows, int W, int x0, int n,
                               float *restrict d, dw_span_fn span)
{
	const int C = bp->channels;
	const int ix0 = x0 - bp->pad_left; /* input column of tap kx = 0 for strip pixel 0 */
	int i0 = -ix0 > 0 ? -ix0 : 0, i1 = W - 2 - ix0 < n ? W - 2 - ix0 : n;
	if (i1 < i0)
		i1 = i0 = n; /* no pixel has all its columns inside: every pixel takes the edge path */
	const float *p[3];
	int s[3];
	for (int ky = 0; ky < 3; ky++) {
		if (rows[ky] && i0 < i1) {
			p[ky] = rows[ky] + (size_t)(ix0 + i0) * (size_t)C;
			s[ky] = C;
		} else {
			p[ky] = zero_pixels;
			s[ky] = 0;
		}
	}
	if (i0 < i1)
		span(bp, p, s, i1 - i0, d + (size_t)i0 * (size_t)C);
	/* the few pixels whose taps leave the image at the sides: one pointer per tap, zeros outside */
	for (int i = 0; i < n; i++) {
		if (i == i0 && i1 > i0)
			i = i1;
		if (i >= n)
			break;
		const float *t[9];
		tap_pointers(bp, rows, W, ix0 + i, t);
		float *o = d + (size_t)i * (size_t)C;
		for (int cb = 0; cb < C; cb += 8) {
			__m256 a = _mm256_setzero_ps();
			for (int k = 0; k < 9; k++)
				a = _mm256_fmadd_ps(_mm256_loadu_ps(t[k] + cb), _mm256_loadu_ps(bp->dw + k * C + cb),
				                    a);
			_mm256_storeu_ps(o + cb, a);
		}
	}
}

/*
 * 1×1 convolution, residual and clamp, in tiles of P pixels × 24 output channels (3P accumulators, 3 weight
 * vectors, one broadcast): P = 3 fits AVX2's 16 registers without the compiler re-reading the weights from
 * memory on every FMA; with AVX-512VL's 32 registers P = 8 halves the loads per FMA again. C % 8 == 0.
 */
#define PX1(M) M(0)
#define PX3(M) M(0) M(1) M(2)
#define PX8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define PW_TILE_INIT(k)                                                \
	const float *d##k = d + (size_t)(i + k) * (size_t)C;           \
	const float *r##k = res + (size_t)(i + k) * (size_t)C + co;    \
	__m256 a##k##0 = _mm256_add_ps(b0, _mm256_loadu_ps(r##k));     \
	__m256 a##k##1 = _mm256_add_ps(b1, _mm256_loadu_ps(r##k + 8)); \
	__m256 a##k##2 = _mm256_add_ps(b2, _mm256_loadu_ps(r##k + 16));
#define PW_TILE_FMA(k)                                           \
	{                                                        \
		const __m256 v = _mm256_broadcast_ss(d##k + ci); \
		a##k##0 = _mm256_fmadd_ps(v, w0, a##k##0);       \
		a##k##1 = _mm256_fmadd_ps(v, w1, a##k##1);       \
		a##k##2 = _mm256_fmadd_ps(v, w2, a##k##2);       \
	}
#define PW_TILE_STORE(k)                                                                 \
	{                                                                                \
		float *o = out + (size_t)(i + k) * (size_t)C + co;                       \
		_mm256_storeu_ps(o, _mm256_max_ps(_mm256_min_ps(a##k##0, hi), lo));      \
		_mm256_storeu_ps(o + 8, _mm256_max_ps(_mm256_min_ps(a##k##1, hi), lo));  \
		_mm256_storeu_ps(o + 16, _mm256_max_ps(_mm256_min_ps(a##k##2, hi), lo)); \
	}
#define PW_TILE(LIST)                                                                      \
	{                                                                                  \
		LIST(PW_TILE_INIT)                                                         \
		const float *w = p->pw + co;                                               \
		for (int ci = 0; ci < C; ci++, w += C) {                                   \
			const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8), \
			             w2 = _mm256_loadu_ps(w + 16);                         \
			LIST(PW_TILE_FMA)                                                  \
		}                                                                          \
		LIST(PW_TILE_STORE)                                                        \
	}

#define PW_TILE8_INIT(k)                                     \
	const float *d##k = d + (size_t)(i + k) * (size_t)C; \
	__m256 a##k##0 = _mm256_add_ps(b0, _mm256_loadu_ps(res + (size_t)(i + k) * (size_t)C + co));
#define PW_TILE8_FMA(k) a##k##0 = _mm256_fmadd_ps(_mm256_broadcast_ss(d##k + ci), w0, a##k##0);
#define PW_TILE8_STORE(k) \
	_mm256_storeu_ps(out + (size_t)(i + k) * (size_t)C + co, _mm256_max_ps(_mm256_min_ps(a##k##0, hi), lo));
#define PW_TILE8(LIST)                                        \
	{                                                     \
		LIST(PW_TILE8_INIT)                           \
		const float *w = p->pw + co;                  \
		for (int ci = 0; ci < C; ci++, w += C) {      \
			const __m256 w0 = _mm256_loadu_ps(w); \
			LIST(PW_TILE8_FMA)                    \
		}                                             \
		LIST(PW_TILE8_STORE)                          \
	}

/* CC: the channel count as a compile-time constant (the tile's pixels are then one pointer with immediate
 * offsets, which frees the registers the pixel pointers would take), or 0 for any multiple of 8. */
#define PW_STRIP_FN(name, target_isa, P, LIST, CC)                                                                     \
	__attribute__((target(target_isa))) static void name(const block_params *p, const float *restrict d,           \
	                                                     const float *restrict res, float *restrict out, int n)    \
	{                                                                                                              \
		const int C = CC ? CC : p->channels;                                                                   \
		const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);                                   \
		int co = 0;                                                                                            \
		for (; co + 24 <= C; co += 24) {                                                                       \
			const __m256 b0 = _mm256_loadu_ps(p->pw_bias + co), b1 = _mm256_loadu_ps(p->pw_bias + co + 8), \
			             b2 = _mm256_loadu_ps(p->pw_bias + co + 16);                                       \
			int i = 0;                                                                                     \
			for (; i + P <= n; i += P)                                                                     \
				PW_TILE(LIST)                                                                          \
			for (; i < n; i++)                                                                             \
				PW_TILE(PX1)                                                                           \
		}                                                                                                      \
		for (; co < C; co += 8) { /* channels left over when C is not a multiple of 24: P pixels × 8 */       \
			const __m256 b0 = _mm256_loadu_ps(p->pw_bias + co);                                            \
			int i = 0;                                                                                     \
			for (; i + P <= n; i += P)                                                                     \
				PW_TILE8(LIST)                                                                         \
			for (; i < n; i++)                                                                             \
				PW_TILE8(PX1)                                                                          \
		}                                                                                                      \
	}

#define ISA_AVX2   "avx2,fma"
#define ISA_AVX512 "avx2,fma,avx512f,avx512vl"
PW_STRIP_FN(pw_strip_avx2, ISA_AVX2, 3, PX3, 0)
PW_STRIP_FN(pw_strip_avx2_c24, ISA_AVX2, 3, PX3, 24)
PW_STRIP_FN(pw_strip_avx512, ISA_AVX512, 8, PX8, 0)
PW_STRIP_FN(pw_strip_avx512_c24, ISA_AVX512, 8, PX8, 24)
PW_STRIP_FN(pw_strip_avx512_c48, ISA_AVX512, 8, PX8, 48)
PW_STRIP_FN(pw_strip_avx512_c96, ISA_AVX512, 8, PX8, 96)

#define BLOCK_ROW_FN(name, target_isa, pw_strip, dw_span)                                                            \
	__attribute__((target(target_isa))) static void name(const block_params *p, const float *const *rows, int W, \
	                                                     float *out)                                             \
	{                                                                                                            \
		const int C = p->channels, strip = STRIP_FLOATS / C;                                                 \
		float d[STRIP_FLOATS] __attribute__((aligned(32)));                                                  \
		for (int x0 = 0; x0 < W; x0 += strip) {                                                              \
			int n = W - x0 < strip ? W - x0 : strip;                                                     \
			size_t at = (size_t)x0 * (size_t)C;                                                          \
			dw_strip_avx2(p, rows, W, x0, n, d, dw_span);                                                \
			pw_strip(p, d, rows[p->pad_top] + at, out + at, n);                                          \
		}                                                                                                    \
	}

BLOCK_ROW_FN(block_row_avx2, ISA_AVX2, pw_strip_avx2, dw_span_avx2)
BLOCK_ROW_FN(block_row_avx2_c24, ISA_AVX2, pw_strip_avx2_c24, dw_span_avx2)
BLOCK_ROW_FN(block_row_avx512, ISA_AVX512, pw_strip_avx512, dw_span_avx512)
BLOCK_ROW_FN(block_row_avx512_c24, ISA_AVX512, pw_strip_avx512_c24, dw_span_avx512)
BLOCK_ROW_FN(block_row_avx512_c48, ISA_AVX512, pw_strip_avx512_c48, dw_span_avx512)
BLOCK_ROW_FN(block_row_avx512_c96, ISA_AVX512, pw_strip_avx512_c96, dw_span_avx512)
#endif

/*
 * A chain of K blocks of the same C (K-1 intermediate tensors never leave the cache): block k's output rows
 * go to a ring of three rows that block k+1 reads as soon as it holds the three rows it needs. In the
 * wavefront order, at step s block k computes its row s - (k-1) after block k-1 computed row s - (k-2), so
 * the ring slot it overwrites held a row no block still needs. Chained blocks have one pixel of padding at
 * the top. With several threads the image is cut into horizontal bands; a band recomputes the K-1 rows of
 * each intermediate that its neighbours also need, so bands are independent.
 */
typedef struct chain_params {
	int n_blocks;
	int channels;
	const block_params *blocks[NN_FUSED_CHAIN_MAX];
} chain_params;

typedef struct chain_task {
	const chain_params *c;
	block_row_fn row;
	const float *x;
	float *out;
	float *rings; /* bands × (K-1) × 3 rows */
	int H, W, bands;
} chain_task;

static void chain_band(void *context, size_t task)
{
	const chain_task *t = context;
	const int K = t->c->n_blocks, C = t->c->channels, H = t->H, W = t->W;
	const size_t row_floats = (size_t)W * (size_t)C, image = (size_t)H * row_floats;
	const int band = (int)(task % (size_t)t->bands);
	const size_t img = task / (size_t)t->bands;
	const int a = (int)((int64_t)band * H / t->bands), b = (int)((int64_t)(band + 1) * H / t->bands);
	const float *x = t->x + img * image;
	float *out = t->out + img * image;
	float *rings = t->rings ? t->rings + (size_t)band * (size_t)(K - 1) * 3 * row_floats : NULL;
	for (int s = a - K; s < b + K; s++) {
		for (int k = 1; k <= K; k++) {
			const block_params *p = t->c->blocks[k - 1];
			int r = s - (k - 1);
			int lo = a - (K - k) > 0 ? a - (K - k) : 0, hi = b + (K - k) < H ? b + (K - k) : H;
			if (r < lo || r >= hi)
				continue;
			const float *src = k == 1 ? x : rings + (size_t)(k - 2) * 3 * row_floats;
			const float *rows[3];
			for (int ky = 0; ky < 3; ky++) {
				int iy = r + ky - p->pad_top;
				rows[ky] = iy < 0 || iy >= H ? NULL
				           : k == 1          ? src + (size_t)iy * row_floats
				                             : src + (size_t)(iy % 3) * row_floats;
			}
			float *dst = k == K ? out + (size_t)r * row_floats
			                    : rings + ((size_t)(k - 1) * 3 + (size_t)(r % 3)) * row_floats;
			t->row(p, rows, W, dst);
		}
	}
}

static int chain_bands(const chain_params *c, int64_t H, size_t threads)
{
	/* a band shorter than the chain would mostly recompute its neighbours' rows */
	int64_t bands = (int64_t)threads;
	if (bands > H / (2 * c->n_blocks))
		bands = H / (2 * c->n_blocks);
	return bands < 1 ? 1 : (int)bands;
}

static size_t chain_scratch(const nn_shape *const *input_shapes, const void *params, size_t threads)
{
	const chain_params *c = params;
	const nn_shape *s = input_shapes[0];
	if (c->n_blocks < 2)
		return 0;
	return (size_t)chain_bands(c, s->dims[1], threads) * (size_t)(c->n_blocks - 1) * 3 * (size_t)s->dims[2] *
	       (size_t)c->channels * sizeof(float);
}

static void chain_run(const nn_host_call *call)
{
	const chain_params *c = call->params;
	const nn_shape *s = call->input_shapes[0];
	const int C = c->channels;
	chain_task t = { .c = c,
		         .row = block_row_portable,
		         .x = call->inputs[0],
		         .out = call->output,
		         .rings = call->scratch,
		         .H = (int)s->dims[1],
		         .W = (int)s->dims[2],
		         .bands = chain_bands(c, s->dims[1], call->threads) };
	MIEN_ASSERT(c->n_blocks < 2 || call->scratch_bytes >= chain_scratch(call->input_shapes, c, call->threads));
#ifdef FUSED_X86
	if (C % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
			t.row = C == 24   ? block_row_avx512_c24
			        : C == 48 ? block_row_avx512_c48
			        : C == 96 ? block_row_avx512_c96
			                  : block_row_avx512;
		else
			t.row = C == 24 ? block_row_avx2_c24 : block_row_avx2;
	}
#endif
	(void)C;
	pthreadpool_parallelize_1d((pthreadpool_t)call->pool, chain_band, &t, (size_t)s->dims[0] * (size_t)t.bands, 0);
}

static int chain_shape(const nn_shape *const *input_shapes, int n_inputs, const void *params, nn_shape *out,
                       mien_error *err)
{
	const chain_params *c = params;
	const nn_shape *s = input_shapes[0];
	if (n_inputs != 1 || s->rank != 4 || s->dims[3] != c->channels || s->dims[0] < 1 || s->dims[1] < 1 ||
	    s->dims[2] < 1)
		return mien_error_set(err, MIEN_EUNSUPPORTED, "fused block: input must be NHWC with %d channels",
		                      c->channels);
	*out = *s;
	return MIEN_OK;
}

int nn__fused_block_op(nn_graph *g, const nn_fused_block *b, nn_host_op *op)
{
	const int C = b->channels;
	if (C < 1 || C > NN_FUSED_BLOCK_MAX_CHANNELS || b->pad_top < 0 || b->pad_top > 2 || b->pad_left < 0 ||
	    b->pad_left > 2)
		return MIEN_EINVAL;
	chain_params *c = nn__graph_alloc(g, sizeof(*c));
	block_params *p = nn__graph_alloc(g, sizeof(*p));
	float *dw = nn__graph_alloc(g, (size_t)9 * (size_t)C * sizeof(float));
	float *pw = nn__graph_alloc(g, (size_t)C * (size_t)C * sizeof(float));
	float *bias = nn__graph_alloc(g, (size_t)C * sizeof(float));
	if (!c || !p || !dw || !pw || !bias)
		return MIEN_ENOMEM;
	/* TF layouts: depthwise [3,3,C,1] is already [9][C]; a 1×1 HWIO filter [1,1,C,C] is already [ci][co] */
	memcpy(dw, b->dw_filter, (size_t)9 * (size_t)C * sizeof(float));
	memcpy(pw, b->pw_filter, (size_t)C * (size_t)C * sizeof(float));
	for (int co = 0; co < C; co++) {
		double sum = b->pw_bias ? b->pw_bias[co] : 0.0;
		if (b->dw_bias)
			for (int ci = 0; ci < C; ci++)
				sum += (double)b->dw_bias[ci] * (double)pw[(size_t)ci * (size_t)C + (size_t)co];
		bias[co] = (float)sum;
	}
	*p = (block_params){ .channels = C,
		             .pad_top = b->pad_top,
		             .pad_left = b->pad_left,
		             .lo = b->lo,
		             .hi = b->hi,
		             .dw = dw,
		             .pw = pw,
		             .pw_bias = bias };
	c->n_blocks = 1;
	c->channels = C;
	c->blocks[0] = p;
	*op = (nn_host_op){ .kind = "fused_block",
		            .run = chain_run,
		            .shape = chain_shape,
		            .scratch = chain_scratch,
		            .params = c,
		            .macs_per_output = 9 + C };
	return MIEN_OK;
}

int nn__fused_block_chain(nn_graph *g, const nn_host_op *first, const nn_host_op *second, nn_host_op *op)
{
	if (first->run != chain_run || second->run != chain_run)
		return 0;
	const chain_params *a = first->params, *b = second->params;
	if (a->channels != b->channels || a->n_blocks + b->n_blocks > NN_FUSED_CHAIN_MAX)
		return 0;
	for (int i = 0; i < a->n_blocks; i++)
		if (a->blocks[i]->pad_top != 1)
			return 0;
	for (int i = 0; i < b->n_blocks; i++)
		if (b->blocks[i]->pad_top != 1)
			return 0;
	chain_params *c = nn__graph_alloc(g, sizeof(*c));
	if (!c)
		return MIEN_ENOMEM;
	c->channels = a->channels;
	c->n_blocks = a->n_blocks + b->n_blocks;
	for (int i = 0; i < a->n_blocks; i++)
		c->blocks[i] = a->blocks[i];
	for (int i = 0; i < b->n_blocks; i++)
		c->blocks[a->n_blocks + i] = b->blocks[i];
	*op = *second;
	op->params = c;
	op->macs_per_output = first->macs_per_output + second->macs_per_output;
	return 1;
}
