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
 * The stride-2 block (BlazeFace's downsampling BlazeBlock) is the same with the depthwise at stride 2 and
 * the residual a 2×2 max pool at stride 2, zero-padded in channels from C to W's output channels:
 *
 *     out = clamp(W · (D ⊛₂ x + b_dw) + b_pw + pad(maxpool(x)))
 *
 * TF SAME padding for both, so the depthwise's top/left padding is one pixel for an odd input side and none
 * for an even one, and the pool window is cut at an odd bottom/right edge. Each output row reads three input
 * rows (the pool's two are among them); the pool max is taken inside the 1×1 tile's initialisation.
 *
 * Consecutive blocks run as one chain: block k+1 consumes block k's rows from a three-row ring as soon as
 * they exist, so the intermediate tensors never leave the cache (see chain_row). A stride-2 block may end a
 * chain of stride-1 blocks (the chain then halves the resolution on its way out). The rings are the
 * runtime's scratch (nn_host_op.scratch), one set per band of rows when the runtime has threads; the
 * parameters are read-only graph storage shared by every runtime. Nothing allocates at run time.
 *
 * On x86-64 the kernels exist as portable C and as AVX2+FMA and AVX-512 intrinsics, chosen at run time from
 * what the CPU has; the binary itself needs no more than baseline x86-64. Channel counts that are not a
 * multiple of 8 take the portable path. The stride-1 AVX-512 kernels are 512 bits wide (C = 24 on pixel
 * pairs, see pwp_strip_c24); the stride-2 ones keep 256-bit tiles and use AVX-512 for its 32 registers
 * (those blocks are a few per cent of BlazeFace's time, and 512-bit tiles measured no faster there).
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
	int channels;     /* input channels */
	int out_channels; /* = channels at stride 1; at stride 2 the residual's channels past `channels` are zero */
	int stride;       /* 1, or 2 (TF SAME padding, so the padding follows the input's parity) */
	int pad_top, pad_left; /* stride 1 */
	float lo, hi;
	const float *dw;      /* [9][C]: tap (ky,kx) at dw[(ky*3+kx)*C] */
	const float *pw;      /* [C][CO]: input channel major, pw[ci*CO + co] */
	const float *pw_bias; /* [CO], the depthwise bias folded in */
	const float *dwx;     /* stride 1: dw over lcm(C, 16) floats, [9][C] (= dw) for C % 16 == 0, else [9][2C] */
	const float *pwx;     /* stride 1, C = 24: pw in the pair order of pwp_strip_c24, [24][48]; else NULL */
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

/*
 * One output row of a stride-2 block: rows[ky] is the input row the depthwise kernel's row ky reads (NULL
 * outside the image), pool[0] and pool[1] the two input rows of the 2×2 max-pool window (pool[1] = pool[0]
 * where the window's second row is outside an odd-height input), Win the input's width, Wout the output's,
 * pad_left the depthwise's left padding. The residual is max-pool(x) in channels [0, C) and 0 above.
 */
typedef void (*s2_row_fn)(const block_params *p, const float *const *rows, const float *const *pool, int Win, int Wout,
                          int pad_left, float *out);

static void s2_row_portable(const block_params *p, const float *const *rows, const float *const *pool, int Win,
                            int Wout, int pad_left, float *out)
{
	const int C = p->channels, CO = p->out_channels;
	const float lo = p->lo, hi = p->hi;
	float d[NN_FUSED_BLOCK_MAX_CHANNELS];
	for (int ox = 0; ox < Wout; ox++) {
		const float *t[9];
		tap_pointers(p, rows, Win, 2 * ox - pad_left, t);
		dw_pixel(C, t, p->dw, d);
		const int c0 = 2 * ox, c1 = 2 * ox + 1 < Win ? 2 * ox + 1 : 2 * ox;
		const float *u0 = pool[0] + (size_t)c0 * (size_t)C, *u1 = pool[0] + (size_t)c1 * (size_t)C;
		const float *v0 = pool[1] + (size_t)c0 * (size_t)C, *v1 = pool[1] + (size_t)c1 * (size_t)C;
		float *restrict o = out + (size_t)ox * (size_t)CO;
		for (int co = 0; co < CO; co++) {
			float r = 0.0f;
			if (co < C) {
				float a = u0[co] > u1[co] ? u0[co] : u1[co], b = v0[co] > v1[co] ? v0[co] : v1[co];
				r = a > b ? a : b;
			}
			o[co] = p->pw_bias[co] + r;
		}
		for (int ci = 0; ci < C; ci++) {
			const float v = d[ci];
			const float *restrict w = p->pw + (size_t)ci * (size_t)CO;
			for (int co = 0; co < CO; co++)
				o[co] += v * w[co];
		}
		for (int co = 0; co < CO; co++)
			o[co] = o[co] < lo ? lo : o[co] > hi ? hi : o[co];
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

/*
 * Full-width AVX-512 stride-1 kernels: 16 channels a register. For C % 16 == 0 a pixel is C/16 registers;
 * for C = 24 a pair of pixels is three (48 floats: channels 0..15 of the first, 16..23 of the first with
 * 0..7 of the second, 8..23 of the second), so the depthwise runs on pixel pairs with its weights repeated
 * over two pixels (dwx), and the 1×1 keeps the middle register's lanes interleaved (first pixel's channel
 * 16+j in lane 2j, the second's channel j in lane 2j+1): its input is then one 64-bit broadcast of the two
 * pixels' values of an input channel, taken from a copy of the pair's depthwise result with the two pixels'
 * channels interleaved (pwx holds the weights in that order, [C][48]). A leftover odd pixel takes the
 * 256-bit kernels.
 */
#define DWZ_ACC(k, kx, r) \
	a##k = _mm512_fmadd_ps(_mm512_loadu_ps(q + (size_t)(per * (k) + (kx)) * (size_t)C), w##r##kx, a##k)
#define DWZ_X(m) const __m512 x##m = _mm512_loadu_ps(q + (size_t)(m) * (size_t)C)
#define DWZ_U(k, m0, m1, m2, r)                       \
	a##k = _mm512_fmadd_ps(x##m0, w##r##0, a##k); \
	a##k = _mm512_fmadd_ps(x##m1, w##r##1, a##k); \
	a##k = _mm512_fmadd_ps(x##m2, w##r##2, a##k)
/* eight units of one row (their taps overlap: each input column is loaded once) */
#define DWZ_ROW_1(r)                                                \
	if (s[r]) {                                                 \
		const float *q = p[r] + (size_t)u * (size_t)U + cb; \
		DWZ_X(0);                                           \
		DWZ_X(1);                                           \
		DWZ_X(2);                                           \
		DWZ_U(0, 0, 1, 2, r);                               \
		DWZ_X(3);                                           \
		DWZ_U(1, 1, 2, 3, r);                               \
		DWZ_X(4);                                           \
		DWZ_U(2, 2, 3, 4, r);                               \
		DWZ_X(5);                                           \
		DWZ_U(3, 3, 4, 5, r);                               \
		DWZ_X(6);                                           \
		DWZ_U(4, 4, 5, 6, r);                               \
		DWZ_X(7);                                           \
		DWZ_U(5, 5, 6, 7, r);                               \
		DWZ_X(8);                                           \
		DWZ_U(6, 6, 7, 8, r);                               \
		DWZ_X(9);                                           \
		DWZ_U(7, 7, 8, 9, r);                               \
	}
#define DWZ_ROW_2(r)                                                \
	if (s[r]) {                                                 \
		const float *q = p[r] + (size_t)u * (size_t)U + cb; \
		DWZ_X(0);                                           \
		DWZ_X(1);                                           \
		DWZ_X(2);                                           \
		DWZ_U(0, 0, 1, 2, r);                               \
		DWZ_X(3);                                           \
		DWZ_X(4);                                           \
		DWZ_U(1, 2, 3, 4, r);                               \
		DWZ_X(5);                                           \
		DWZ_X(6);                                           \
		DWZ_U(2, 4, 5, 6, r);                               \
		DWZ_X(7);                                           \
		DWZ_X(8);                                           \
		DWZ_U(3, 6, 7, 8, r);                               \
		DWZ_X(9);                                           \
		DWZ_X(10);                                          \
		DWZ_U(4, 8, 9, 10, r);                              \
		DWZ_X(11);                                          \
		DWZ_X(12);                                          \
		DWZ_U(5, 10, 11, 12, r);                            \
		DWZ_X(13);                                          \
		DWZ_X(14);                                          \
		DWZ_U(6, 12, 13, 14, r);                            \
		DWZ_X(15);                                          \
		DWZ_X(16);                                          \
		DWZ_U(7, 14, 15, 16, r);                            \
	}
#define DWZ_ROW1(r)                                                 \
	if (s[r]) {                                                 \
		const float *q = p[r] + (size_t)u * (size_t)U + cb; \
		DWZ_ACC(0, 0, r);                                   \
		DWZ_ACC(0, 1, r);                                   \
		DWZ_ACC(0, 2, r);                                   \
	}

#define DWZ_WEIGHTS                                                                                            \
	const float *w = bp->dwx + cb;                                                                         \
	const __m512 w00 = _mm512_loadu_ps(w), w01 = _mm512_loadu_ps(w + U), w02 = _mm512_loadu_ps(w + 2 * U); \
	const __m512 w10 = _mm512_loadu_ps(w + 3 * U), w11 = _mm512_loadu_ps(w + 4 * U),                       \
	             w12 = _mm512_loadu_ps(w + 5 * U);                                                         \
	const __m512 w20 = _mm512_loadu_ps(w + 6 * U), w21 = _mm512_loadu_ps(w + 7 * U),                       \
	             w22 = _mm512_loadu_ps(w + 8 * U);
/* Units of PER pixels (U = PER·C floats, a multiple of 16), eight units at a time with every channel block
 * of them before the next eight (their input stays in L1 across the blocks); n pixels, a leftover pixel by
 * the 256-bit span. Eight accumulators keep both FMA pipes busy through the FMA latency. */
#define DWZ_SPAN_FN(name, PER, ROW)                                                                                    \
	__attribute__((target(ISA_AVX512))) static void name(const block_params *bp, const float *const *p,            \
	                                                     const int *s, int n, float *restrict d)                   \
	{                                                                                                              \
		const int C = bp->channels, per = PER, U = per * C, nu = n / per;                                      \
		int u = 0;                                                                                             \
		for (; u + 8 <= nu; u += 8)                                                                            \
			for (int cb = 0; cb < U; cb += 16) {                                                           \
				DWZ_WEIGHTS                                                                            \
				__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, \
				       a7 = a0;                                                                        \
				ROW(0)                                                                                 \
				ROW(1)                                                                                 \
				ROW(2)                                                                                 \
				float *o = d + (size_t)u * (size_t)U + cb;                                             \
				_mm512_storeu_ps(o, a0);                                                               \
				_mm512_storeu_ps(o + U, a1);                                                           \
				_mm512_storeu_ps(o + 2 * U, a2);                                                       \
				_mm512_storeu_ps(o + 3 * U, a3);                                                       \
				_mm512_storeu_ps(o + 4 * U, a4);                                                       \
				_mm512_storeu_ps(o + 5 * U, a5);                                                       \
				_mm512_storeu_ps(o + 6 * U, a6);                                                       \
				_mm512_storeu_ps(o + 7 * U, a7);                                                       \
			}                                                                                              \
		for (; u < nu; u++)                                                                                    \
			for (int cb = 0; cb < U; cb += 16) {                                                           \
				DWZ_WEIGHTS                                                                            \
				__m512 a0 = _mm512_setzero_ps();                                                       \
				DWZ_ROW1(0)                                                                            \
				DWZ_ROW1(1)                                                                            \
				DWZ_ROW1(2)                                                                            \
				_mm512_storeu_ps(d + (size_t)u * (size_t)U + cb, a0);                                  \
			}                                                                                              \
		if (nu * PER < n) {                                                                                    \
			const int i = nu * PER;                                                                        \
			const float *pl[3] = { p[0] + (size_t)i * (size_t)s[0], p[1] + (size_t)i * (size_t)s[1],       \
				               p[2] + (size_t)i * (size_t)s[2] };                                      \
			dw_span_avx512(bp, pl, s, n - i, d + (size_t)i * (size_t)C);                                   \
		}                                                                                                      \
	}

DWZ_SPAN_FN(dwz_span1, 1, DWZ_ROW_1)
DWZ_SPAN_FN(dwz_span2, 2, DWZ_ROW_2)

/* 1×1 for C % 16 == 0 (CC: C as a constant or 0): P = 8 pixels × 48 channels, then 16 at a time. */
#define PWZ_INIT(k)                                                     \
	const float *d##k = d + (size_t)(i + k) * (size_t)C;            \
	const float *r##k = res + (size_t)(i + k) * (size_t)C + co;     \
	__m512 a##k##0 = _mm512_add_ps(b0, _mm512_loadu_ps(r##k));      \
	__m512 a##k##1 = _mm512_add_ps(b1, _mm512_loadu_ps(r##k + 16)); \
	__m512 a##k##2 = _mm512_add_ps(b2, _mm512_loadu_ps(r##k + 32));
#define PWZ_FMA(k)                                         \
	{                                                  \
		const __m512 v = _mm512_set1_ps(d##k[ci]); \
		a##k##0 = _mm512_fmadd_ps(v, w0, a##k##0); \
		a##k##1 = _mm512_fmadd_ps(v, w1, a##k##1); \
		a##k##2 = _mm512_fmadd_ps(v, w2, a##k##2); \
	}
#define PWZ_STORE(k)                                                                     \
	{                                                                                \
		float *o = out + (size_t)(i + k) * (size_t)C + co;                       \
		_mm512_storeu_ps(o, _mm512_max_ps(_mm512_min_ps(a##k##0, hi), lo));      \
		_mm512_storeu_ps(o + 16, _mm512_max_ps(_mm512_min_ps(a##k##1, hi), lo)); \
		_mm512_storeu_ps(o + 32, _mm512_max_ps(_mm512_min_ps(a##k##2, hi), lo)); \
	}
#define PWZ_TILE(LIST)                                                                      \
	{                                                                                   \
		LIST(PWZ_INIT)                                                              \
		const float *w = p->pw + co;                                                \
		for (int ci = 0; ci < C; ci++, w += C) {                                    \
			const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), \
			             w2 = _mm512_loadu_ps(w + 32);                          \
			LIST(PWZ_FMA)                                                       \
		}                                                                           \
		LIST(PWZ_STORE)                                                             \
	}
#define PWZ16_INIT(k)                                        \
	const float *d##k = d + (size_t)(i + k) * (size_t)C; \
	__m512 a##k##0 = _mm512_add_ps(b0, _mm512_loadu_ps(res + (size_t)(i + k) * (size_t)C + co));
#define PWZ16_FMA(k) a##k##0 = _mm512_fmadd_ps(_mm512_set1_ps(d##k[ci]), w0, a##k##0);
#define PWZ16_STORE(k) \
	_mm512_storeu_ps(out + (size_t)(i + k) * (size_t)C + co, _mm512_max_ps(_mm512_min_ps(a##k##0, hi), lo));
#define PWZ16_TILE(LIST)                                      \
	{                                                     \
		LIST(PWZ16_INIT)                              \
		const float *w = p->pw + co;                  \
		for (int ci = 0; ci < C; ci++, w += C) {      \
			const __m512 w0 = _mm512_loadu_ps(w); \
			LIST(PWZ16_FMA)                       \
		}                                             \
		LIST(PWZ16_STORE)                             \
	}

#define PWZ_STRIP_FN(name, CC)                                                                                      \
	__attribute__((target(ISA_AVX512))) static void name(const block_params *p, const float *restrict d,        \
	                                                     const float *restrict res, float *restrict out, int n) \
	{                                                                                                           \
		const int C = CC ? CC : p->channels;                                                                \
		const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);                                \
		int co = 0;                                                                                         \
		for (; co + 48 <= C; co += 48) {                                                                    \
			const __m512 b0 = _mm512_loadu_ps(p->pw_bias + co),                                         \
			             b1 = _mm512_loadu_ps(p->pw_bias + co + 16),                                    \
			             b2 = _mm512_loadu_ps(p->pw_bias + co + 32);                                    \
			int i = 0;                                                                                  \
			for (; i + 8 <= n; i += 8)                                                                  \
				PWZ_TILE(PX8)                                                                       \
			for (; i < n; i++)                                                                          \
				PWZ_TILE(PX1)                                                                       \
		}                                                                                                   \
		for (; co < C; co += 16) {                                                                          \
			const __m512 b0 = _mm512_loadu_ps(p->pw_bias + co);                                         \
			int i = 0;                                                                                  \
			for (; i + 8 <= n; i += 8)                                                                  \
				PWZ16_TILE(PX8)                                                                     \
			for (; i < n; i++)                                                                          \
				PWZ16_TILE(PX1)                                                                     \
		}                                                                                                   \
	}

PWZ_STRIP_FN(pwz_strip, 0)
PWZ_STRIP_FN(pwz_strip_c48, 48)
PWZ_STRIP_FN(pwz_strip_c96, 96)

/* 1×1 for C = 24 on pixel pairs, PP pairs a tile; pixel i of the strip starts pair k at i + 2k. */
#define PWP_INIT(k)                                                                                  \
	const float *d##k = d + (size_t)(i + 2 * k) * 24;                                            \
	__m512 a##k##0, a##k##1, a##k##2;                                                            \
	{                                                                                            \
		const __m512 z0 = _mm512_loadu_ps(d##k), z1 = _mm512_loadu_ps(d##k + 16),            \
		             z2 = _mm512_loadu_ps(d##k + 32);                                        \
		_mm512_store_ps((float *)(e + 24 * k), _mm512_permutex2var_ps(z0, ilv_lo, z1));      \
		_mm512_store_ps((float *)(e + 24 * k + 8), _mm512_permutex2var_ps(z0, ilv_mid, z2)); \
		_mm512_store_ps((float *)(e + 24 * k + 16), _mm512_permutex2var_ps(z1, ilv_lo, z2)); \
		const float *r = res + (size_t)(i + 2 * k) * 24;                                     \
		a##k##0 = _mm512_add_ps(b0, _mm512_loadu_ps(r));                                     \
		a##k##1 = _mm512_permutexvar_ps(ilv, _mm512_add_ps(bm, _mm512_loadu_ps(r + 16)));    \
		a##k##2 = _mm512_add_ps(b2, _mm512_loadu_ps(r + 32));                                \
	}
#define PWP_FMA(k)                                                                                \
	a##k##0 = _mm512_fmadd_ps(_mm512_set1_ps(d##k[ci]), w0, a##k##0);                         \
	a##k##1 = _mm512_fmadd_ps(_mm512_castpd_ps(_mm512_set1_pd(e[24 * k + ci])), w1, a##k##1); \
	a##k##2 = _mm512_fmadd_ps(_mm512_set1_ps(d##k[24 + ci]), w2, a##k##2);
#define PWP_STORE(k)                                                                                                 \
	{                                                                                                            \
		float *o = out + (size_t)(i + 2 * k) * 24;                                                           \
		_mm512_storeu_ps(o, _mm512_max_ps(_mm512_min_ps(a##k##0, hi), lo));                                  \
		_mm512_storeu_ps(o + 16, _mm512_permutexvar_ps(dlv, _mm512_max_ps(_mm512_min_ps(a##k##1, hi), lo))); \
		_mm512_storeu_ps(o + 32, _mm512_max_ps(_mm512_min_ps(a##k##2, hi), lo));                             \
	}
#define PWP_TILE(LIST)                                                                      \
	{                                                                                   \
		LIST(PWP_INIT)                                                              \
		const float *w = p->pwx;                                                    \
		for (int ci = 0; ci < 24; ci++, w += 48) {                                  \
			const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), \
			             w2 = _mm512_loadu_ps(w + 32);                          \
			LIST(PWP_FMA)                                                       \
		}                                                                           \
		LIST(PWP_STORE)                                                             \
	}
#define PX4(M) M(0) M(1) M(2) M(3)

__attribute__((target(ISA_AVX512))) static void pwp_strip_c24(const block_params *p, const float *restrict d,
                                                              const float *restrict res, float *restrict out, int n)
{
	const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
	const __m512i ilv_lo = _mm512_setr_epi32(0, 24, 1, 25, 2, 26, 3, 27, 4, 28, 5, 29, 6, 30, 7, 31);
	const __m512i ilv_mid = _mm512_setr_epi32(8, 16, 9, 17, 10, 18, 11, 19, 12, 20, 13, 21, 14, 22, 15, 23);
	const __m512i ilv = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
	const __m512i dlv = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
	const float *b = p->pw_bias;
	const __m512 b0 = _mm512_loadu_ps(b), b2 = _mm512_loadu_ps(b + 8);
	const __m512 bm =
	        _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(b + 16))),
	                                            _mm256_castps_pd(_mm256_loadu_ps(b)), 1));
	double e[4 * 24] __attribute__((aligned(64)));
	int i = 0;
	for (; i + 8 <= n; i += 8)
		PWP_TILE(PX4)
	for (; i + 2 <= n; i += 2)
		PWP_TILE(PX1)
	if (i < n)
		pw_strip_avx512_c24(p, d + (size_t)i * 24, res + (size_t)i * 24, out + (size_t)i * 24, n - i);
}

BLOCK_ROW_FN(block_row_avx512z_c24, ISA_AVX512, pwp_strip_c24, dwz_span2)
BLOCK_ROW_FN(block_row_avx512z_c48, ISA_AVX512, pwz_strip_c48, dwz_span1)
BLOCK_ROW_FN(block_row_avx512z_c96, ISA_AVX512, pwz_strip_c96, dwz_span1)
BLOCK_ROW_FN(block_row_avx512z, ISA_AVX512, pwz_strip, dwz_span1)
BLOCK_ROW_FN(block_row_avx512, ISA_AVX512, pw_strip_avx512, dwz_span2)
/*
 * Stride 2. The depthwise span: pixel i, row ky, tap kx reads p[ky] + 2i*s[ky] + kx*C (s = 0 and a zero
 * block for a row outside the image); four pixels share their nine input columns per row.
 */
#define DW2_ROW4(r)                                                                                           \
	if (s[r]) {                                                                                           \
		const float *q = p[r] + (size_t)(2 * i) * (size_t)C + cb;                                     \
		__m256 x0 = _mm256_loadu_ps(q), x1 = _mm256_loadu_ps(q + C), x2 = _mm256_loadu_ps(q + 2 * C); \
		a0 = _mm256_fmadd_ps(x0, w##r##0, a0);                                                        \
		a0 = _mm256_fmadd_ps(x1, w##r##1, a0);                                                        \
		a0 = _mm256_fmadd_ps(x2, w##r##2, a0);                                                        \
		x0 = _mm256_loadu_ps(q + 3 * C);                                                              \
		x1 = _mm256_loadu_ps(q + 4 * C);                                                              \
		a1 = _mm256_fmadd_ps(x2, w##r##0, a1);                                                        \
		a1 = _mm256_fmadd_ps(x0, w##r##1, a1);                                                        \
		a1 = _mm256_fmadd_ps(x1, w##r##2, a1);                                                        \
		x0 = _mm256_loadu_ps(q + 5 * C);                                                              \
		x2 = _mm256_loadu_ps(q + 6 * C);                                                              \
		a2 = _mm256_fmadd_ps(x1, w##r##0, a2);                                                        \
		a2 = _mm256_fmadd_ps(x0, w##r##1, a2);                                                        \
		a2 = _mm256_fmadd_ps(x2, w##r##2, a2);                                                        \
		x0 = _mm256_loadu_ps(q + 7 * C);                                                              \
		x1 = _mm256_loadu_ps(q + 8 * C);                                                              \
		a3 = _mm256_fmadd_ps(x2, w##r##0, a3);                                                        \
		a3 = _mm256_fmadd_ps(x0, w##r##1, a3);                                                        \
		a3 = _mm256_fmadd_ps(x1, w##r##2, a3);                                                        \
	}
#define DW2_SPAN_FN(name, target_isa)                                                                       \
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
				DW2_ROW4(0)                                                                 \
				DW2_ROW4(1)                                                                 \
				DW2_ROW4(2)                                                                 \
				float *o = d + (size_t)i * (size_t)C + cb;                                  \
				_mm256_storeu_ps(o, a0);                                                    \
				_mm256_storeu_ps(o + C, a1);                                                \
				_mm256_storeu_ps(o + 2 * C, a2);                                            \
				_mm256_storeu_ps(o + 3 * C, a3);                                            \
			}                                                                                   \
			const float *r0 = p[0] + (size_t)(2 * i) * (size_t)s[0] + cb;                       \
			const float *r1 = p[1] + (size_t)(2 * i) * (size_t)s[1] + cb;                       \
			const float *r2 = p[2] + (size_t)(2 * i) * (size_t)s[2] + cb;                       \
			float *o = d + (size_t)i * (size_t)C + cb;                                          \
			for (; i < n; i++, r0 += 2 * s[0], r1 += 2 * s[1], r2 += 2 * s[2], o += C) {        \
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

DW2_SPAN_FN(dw2_span_avx2, ISA_AVX2)
DW2_SPAN_FN(dw2_span_avx512, ISA_AVX512)

/* Depthwise at stride 2 of output pixels [x0, x0+n) into d[n][C]. */
AVX2 static void dw2_strip_avx2(const block_params *bp, const float *const *rows, int Win, int pad_left, int x0, int n,
                                float *restrict d, dw_span_fn span)
{
	const int C = bp->channels;
	const int ix0 = 2 * x0 - pad_left; /* input column of tap kx = 0 for strip pixel 0; pixel i: ix0 + 2i */
	int i0 = ix0 < 0 ? (1 - ix0) / 2 : 0, i1 = Win - 3 - ix0 < 0 ? 0 : (Win - 3 - ix0) / 2 + 1;
	if (i1 > n)
		i1 = n;
	if (i1 <= i0)
		i1 = i0 = n;
	const float *p[3];
	int s[3];
	for (int ky = 0; ky < 3; ky++) {
		if (rows[ky] && i0 < i1) {
			p[ky] = rows[ky] + (size_t)(ix0 + 2 * i0) * (size_t)C;
			s[ky] = C;
		} else {
			p[ky] = zero_pixels;
			s[ky] = 0;
		}
	}
	if (i0 < i1)
		span(bp, p, s, i1 - i0, d + (size_t)i0 * (size_t)C);
	for (int i = 0; i < n; i++) {
		if (i == i0 && i1 > i0)
			i = i1;
		if (i >= n)
			break;
		const float *t[9];
		tap_pointers(bp, rows, Win, ix0 + 2 * i, t);
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
 * Stride-2 1×1 convolution, residual and clamp: like PW_STRIP_FN, from CI to CO channels, with the residual
 * the 2×2 max of the pool rows q0, q1 (pixel i's window starts at column 2i; o1 is the offset of its second
 * column, 0 where that is outside an odd-width input) in output channels below CI, none above.
 */
#define MAX4(u, v, j)                                                                     \
	_mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(u + j), _mm256_loadu_ps(u + o1 + j)), \
	              _mm256_max_ps(_mm256_loadu_ps(v + j), _mm256_loadu_ps(v + o1 + j)))
#define PW2_INIT_POOL(k)                                                \
	const float *d##k = d + (size_t)(i + k) * (size_t)CI;           \
	const float *u##k = q0 + (size_t)(i + k) * 2 * (size_t)CI + co; \
	const float *v##k = q1 + (size_t)(i + k) * 2 * (size_t)CI + co; \
	__m256 a##k##0 = _mm256_add_ps(b0, MAX4(u##k, v##k, 0));        \
	__m256 a##k##1 = _mm256_add_ps(b1, MAX4(u##k, v##k, 8));        \
	__m256 a##k##2 = _mm256_add_ps(b2, MAX4(u##k, v##k, 16));
#define PW2_INIT_BIAS(k)                                      \
	const float *d##k = d + (size_t)(i + k) * (size_t)CI; \
	__m256 a##k##0 = b0, a##k##1 = b1, a##k##2 = b2;
#define PW2_STORE(k)                                                                     \
	{                                                                                \
		float *o = out + (size_t)(i + k) * (size_t)CO + co;                      \
		_mm256_storeu_ps(o, _mm256_max_ps(_mm256_min_ps(a##k##0, hi), lo));      \
		_mm256_storeu_ps(o + 8, _mm256_max_ps(_mm256_min_ps(a##k##1, hi), lo));  \
		_mm256_storeu_ps(o + 16, _mm256_max_ps(_mm256_min_ps(a##k##2, hi), lo)); \
	}
#define PW2_TILE(LIST, INIT)                                                               \
	{                                                                                  \
		LIST(INIT)                                                                 \
		const float *w = p->pw + co;                                               \
		for (int ci = 0; ci < CI; ci++, w += CO) {                                 \
			const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8), \
			             w2 = _mm256_loadu_ps(w + 16);                         \
			LIST(PW_TILE_FMA)                                                  \
		}                                                                          \
		LIST(PW2_STORE)                                                            \
	}
#define PW2_INIT8_POOL(k)                                               \
	const float *d##k = d + (size_t)(i + k) * (size_t)CI;           \
	const float *u##k = q0 + (size_t)(i + k) * 2 * (size_t)CI + co; \
	const float *v##k = q1 + (size_t)(i + k) * 2 * (size_t)CI + co; \
	__m256 a##k##0 = _mm256_add_ps(b0, MAX4(u##k, v##k, 0));
#define PW2_INIT8_BIAS(k)                                     \
	const float *d##k = d + (size_t)(i + k) * (size_t)CI; \
	__m256 a##k##0 = b0;
#define PW2_STORE8(k) \
	_mm256_storeu_ps(out + (size_t)(i + k) * (size_t)CO + co, _mm256_max_ps(_mm256_min_ps(a##k##0, hi), lo));
#define PW2_TILE8(LIST, INIT)                                 \
	{                                                     \
		LIST(INIT)                                    \
		const float *w = p->pw + co;                  \
		for (int ci = 0; ci < CI; ci++, w += CO) {    \
			const __m256 w0 = _mm256_loadu_ps(w); \
			LIST(PW_TILE8_FMA)                    \
		}                                             \
		LIST(PW2_STORE8)                              \
	}

/* n pixels; the last one's pool window is cut at the right edge when clip_last */
#define PW2_STRIP_FN(name, target_isa, P, LIST, CIC, COC)                                                              \
	__attribute__((target(target_isa))) static void name(const block_params *p, const float *restrict d,           \
	                                                     const float *q0, const float *q1, int n, int clip_last,   \
	                                                     float *restrict out)                                      \
	{                                                                                                              \
		const int CI = CIC ? CIC : p->channels, CO = COC ? COC : p->out_channels;                              \
		const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);                                   \
		const int nfull = n - clip_last;                                                                       \
		int co = 0;                                                                                            \
		for (; co + 24 <= CI; co += 24) {                                                                      \
			const __m256 b0 = _mm256_loadu_ps(p->pw_bias + co), b1 = _mm256_loadu_ps(p->pw_bias + co + 8), \
			             b2 = _mm256_loadu_ps(p->pw_bias + co + 16);                                       \
			int i = 0;                                                                                     \
			{                                                                                              \
				const int o1 = CI;                                                                     \
				for (; i + P <= nfull; i += P)                                                         \
					PW2_TILE(LIST, PW2_INIT_POOL)                                                  \
			}                                                                                              \
			for (; i < n; i++) {                                                                           \
				const int o1 = i < nfull ? CI : 0;                                                     \
				PW2_TILE(PX1, PW2_INIT_POOL)                                                           \
			}                                                                                              \
		}                                                                                                      \
		for (; co < CI; co += 8) {                                                                             \
			const __m256 b0 = _mm256_loadu_ps(p->pw_bias + co);                                            \
			int i = 0;                                                                                     \
			{                                                                                              \
				const int o1 = CI;                                                                     \
				for (; i + P <= nfull; i += P)                                                         \
					PW2_TILE8(LIST, PW2_INIT8_POOL)                                                \
			}                                                                                              \
			for (; i < n; i++) {                                                                           \
				const int o1 = i < nfull ? CI : 0;                                                     \
				PW2_TILE8(PX1, PW2_INIT8_POOL)                                                         \
			}                                                                                              \
		}                                                                                                      \
		for (; co + 24 <= CO; co += 24) {                                                                      \
			const __m256 b0 = _mm256_loadu_ps(p->pw_bias + co), b1 = _mm256_loadu_ps(p->pw_bias + co + 8), \
			             b2 = _mm256_loadu_ps(p->pw_bias + co + 16);                                       \
			int i = 0;                                                                                     \
			for (; i + P <= n; i += P)                                                                     \
				PW2_TILE(LIST, PW2_INIT_BIAS)                                                          \
			for (; i < n; i++)                                                                             \
				PW2_TILE(PX1, PW2_INIT_BIAS)                                                           \
		}                                                                                                      \
		for (; co < CO; co += 8) {                                                                             \
			const __m256 b0 = _mm256_loadu_ps(p->pw_bias + co);                                            \
			int i = 0;                                                                                     \
			for (; i + P <= n; i += P)                                                                     \
				PW2_TILE8(LIST, PW2_INIT8_BIAS)                                                        \
			for (; i < n; i++)                                                                             \
				PW2_TILE8(PX1, PW2_INIT8_BIAS)                                                         \
		}                                                                                                      \
	}

PW2_STRIP_FN(pw2_strip_avx2, ISA_AVX2, 3, PX3, 0, 0)
PW2_STRIP_FN(pw2_strip_avx512, ISA_AVX512, 8, PX8, 0, 0)
PW2_STRIP_FN(pw2_strip_avx512_24_24, ISA_AVX512, 8, PX8, 24, 24)
PW2_STRIP_FN(pw2_strip_avx512_24_48, ISA_AVX512, 8, PX8, 24, 48)
PW2_STRIP_FN(pw2_strip_avx512_48_96, ISA_AVX512, 8, PX8, 48, 96)

#define S2_ROW_FN(name, target_isa, pw2_strip, dw2_span)                                                      \
	__attribute__((target(target_isa))) static void name(const block_params *p, const float *const *rows, \
	                                                     const float *const *pool, int Win, int Wout,     \
	                                                     int pad_left, float *out)                        \
	{                                                                                                     \
		const int C = p->channels, CO = p->out_channels, strip = STRIP_FLOATS / C;                    \
		float d[STRIP_FLOATS] __attribute__((aligned(32)));                                           \
		for (int x0 = 0; x0 < Wout; x0 += strip) {                                                    \
			int n = Wout - x0 < strip ? Wout - x0 : strip;                                        \
			dw2_strip_avx2(p, rows, Win, pad_left, x0, n, d, dw2_span);                           \
			const size_t at = (size_t)(2 * x0) * (size_t)C;                                       \
			pw2_strip(p, d, pool[0] + at, pool[1] + at, n, x0 + n == Wout && (Win & 1),           \
			          out + (size_t)x0 * (size_t)CO);                                             \
		}                                                                                             \
	}

S2_ROW_FN(s2_row_avx2, ISA_AVX2, pw2_strip_avx2, dw2_span_avx2)
S2_ROW_FN(s2_row_avx512, ISA_AVX512, pw2_strip_avx512, dw2_span_avx512)
S2_ROW_FN(s2_row_avx512_24_24, ISA_AVX512, pw2_strip_avx512_24_24, dw2_span_avx512)
S2_ROW_FN(s2_row_avx512_24_48, ISA_AVX512, pw2_strip_avx512_24_48, dw2_span_avx512)
S2_ROW_FN(s2_row_avx512_48_96, ISA_AVX512, pw2_strip_avx512_48_96, dw2_span_avx512)
#endif

/*
 * A chain of K blocks (K-1 intermediate tensors never leave the cache): block k's output rows go to a ring
 * of three rows that block k+1 reads. Rows are made on demand: before block k computes its row r it has
 * block k-1 compute, in order, the rows up to the last one row r reads (chain_row), so at most three rows of
 * each intermediate are alive — a stride-1 block reads rows r-1..r+1, a stride-2 block rows 2r-1..2r+1 or
 * 2r..2r+2 by parity, its pool window two of them — and the ring slot a new row takes held one no block
 * still needs. A chain may change resolution at its stride-2 blocks. With several threads the output is cut
 * into horizontal bands; a band recomputes the rows of each intermediate that its neighbours also need, so
 * bands are independent.
 */
typedef struct chain_params {
	int n_blocks;
	int channels;     /* input channels */
	int out_channels; /* output channels */
	const block_params *blocks[NN_FUSED_CHAIN_MAX];
} chain_params;

/* Input height/width of each block for an input of H×W (h[K], w[K]: the output's). */
static void chain_geometry(const chain_params *c, int64_t H, int64_t W, int64_t *h, int64_t *w)
{
	h[0] = H;
	w[0] = W;
	for (int k = 0; k < c->n_blocks; k++) {
		const int s = c->blocks[k]->stride;
		h[k + 1] = s == 2 ? (h[k] + 1) / 2 : h[k];
		w[k + 1] = s == 2 ? (w[k] + 1) / 2 : w[k];
	}
}

typedef struct chain_task {
	const chain_params *c;
	block_row_fn row[NN_FUSED_CHAIN_MAX];
	s2_row_fn row2[NN_FUSED_CHAIN_MAX];
	const float *x;
	float *out;
	float *rings;
	size_t band_floats;                 /* one band's rings */
	size_t ring_at[NN_FUSED_CHAIN_MAX]; /* block k's output ring within a band's (every block but the last) */
	int H[NN_FUSED_CHAIN_MAX + 1], W[NN_FUSED_CHAIN_MAX + 1];
	size_t in_image, out_image; /* floats per batch image */
	int bands;
} chain_task;

typedef struct chain_state {
	const chain_task *t;
	const float *x;
	float *out, *rings;
	int done[NN_FUSED_CHAIN_MAX]; /* the next row block k makes */
} chain_state;

/* Top padding of block k's depthwise (stride 2, TF SAME with a 3×3 kernel: one row for an odd input). */
static inline int block_pad_top(const block_params *p, int Hin)
{
	return p->stride == 2 ? Hin & 1 : p->pad_top;
}

static void chain_row(chain_state *b, int k, int r)
{
	const chain_task *t = b->t;
	const block_params *p = t->c->blocks[k];
	const int K = t->c->n_blocks, Hin = t->H[k], Win = t->W[k], Wout = t->W[k + 1];
	const int top = p->stride * r - block_pad_top(p, Hin);
	/* the depthwise's rows; a stride-2 pool window (rows 2r, 2r+1) lies within them */
	int need = top + 3 < Hin ? top + 3 : Hin;
	if (k > 0)
		while (b->done[k - 1] < need) {
			chain_row(b, k - 1, b->done[k - 1]);
			b->done[k - 1]++;
		}
	const size_t in_row = (size_t)Win * (size_t)p->channels, out_row = (size_t)Wout * (size_t)p->out_channels;
	const float *src = k == 0 ? b->x : b->rings + t->ring_at[k - 1];
	const float *rows[3];
	for (int ky = 0; ky < 3; ky++) {
		int iy = top + ky;
		rows[ky] = iy < 0 || iy >= Hin ? NULL : src + (size_t)(k == 0 ? iy : iy % 3) * in_row;
	}
	float *dst = k == K - 1 ? b->out + (size_t)r * out_row : b->rings + t->ring_at[k] + (size_t)(r % 3) * out_row;
	if (p->stride == 1) {
		t->row[k](p, rows, Win, dst);
	} else {
		const float *pool[2];
		pool[0] = src + (size_t)(k == 0 ? 2 * r : 2 * r % 3) * in_row;
		pool[1] = 2 * r + 1 < Hin ? src + (size_t)(k == 0 ? 2 * r + 1 : (2 * r + 1) % 3) * in_row : pool[0];
		t->row2[k](p, rows, pool, Win, Wout, Win & 1, dst);
	}
}

static void chain_band(void *context, size_t task)
{
	const chain_task *t = context;
	const int K = t->c->n_blocks, Ho = t->H[K];
	const int band = (int)(task % (size_t)t->bands);
	const size_t img = task / (size_t)t->bands;
	const int a = (int)((int64_t)band * Ho / t->bands), b = (int)((int64_t)(band + 1) * Ho / t->bands);
	chain_state st = { .t = t,
		           .x = t->x + img * t->in_image,
		           .out = t->out + img * t->out_image,
		           .rings = t->rings ? t->rings + (size_t)band * t->band_floats : NULL };
	/* the first row of each intermediate that the band's first output row needs, block by block back */
	int lo = a;
	for (int k = K - 1; k > 0; k--) {
		const block_params *p = t->c->blocks[k];
		lo = p->stride * lo - block_pad_top(p, t->H[k]);
		if (lo < 0)
			lo = 0;
		st.done[k - 1] = lo;
	}
	for (int r = a; r < b; r++)
		chain_row(&st, K - 1, r);
}

static int chain_bands(const chain_params *c, int64_t Ho, size_t threads)
{
	/* a band shorter than the chain would mostly recompute its neighbours' rows */
	int64_t bands = (int64_t)threads;
	if (bands > Ho / (2 * c->n_blocks))
		bands = Ho / (2 * c->n_blocks);
	return bands < 1 ? 1 : (int)bands;
}

/* Floats of one band's rings, and each block's ring offset in them. */
static size_t chain_rings(const chain_params *c, const int64_t *w, size_t *ring_at)
{
	size_t total = 0;
	for (int k = 0; k + 1 < c->n_blocks; k++) {
		if (ring_at)
			ring_at[k] = total;
		total += 3 * (size_t)w[k + 1] * (size_t)c->blocks[k]->out_channels;
	}
	return total;
}

static size_t chain_scratch(const nn_shape *const *input_shapes, const void *params, size_t threads)
{
	const chain_params *c = params;
	const nn_shape *s = input_shapes[0];
	int64_t h[NN_FUSED_CHAIN_MAX + 1], w[NN_FUSED_CHAIN_MAX + 1];
	chain_geometry(c, s->dims[1], s->dims[2], h, w);
	return (size_t)chain_bands(c, h[c->n_blocks], threads) * chain_rings(c, w, NULL) * sizeof(float);
}

static double chain_macs(const nn_shape *const *input_shapes, const void *params)
{
	const chain_params *c = params;
	int64_t h[NN_FUSED_CHAIN_MAX + 1], w[NN_FUSED_CHAIN_MAX + 1];
	chain_geometry(c, input_shapes[0]->dims[1], input_shapes[0]->dims[2], h, w);
	double macs = 0;
	for (int k = 0; k < c->n_blocks; k++) {
		const block_params *p = c->blocks[k];
		macs += (double)input_shapes[0]->dims[0] * (double)h[k + 1] * (double)w[k + 1] *
		        (9.0 * p->channels + (double)p->channels * p->out_channels);
	}
	return macs;
}

static block_row_fn pick_row(const block_params *p)
{
	(void)p;
#ifdef FUSED_X86
	const int C = p->channels;
	if (C % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
			return C == 24       ? block_row_avx512z_c24
			       : C == 48     ? block_row_avx512z_c48
			       : C == 96     ? block_row_avx512z_c96
			       : C % 16 == 0 ? block_row_avx512z
			                     : block_row_avx512;
		return C == 24 ? block_row_avx2_c24 : block_row_avx2;
	}
#endif
	return block_row_portable;
}

static s2_row_fn pick_row2(const block_params *p)
{
	(void)p;
#ifdef FUSED_X86
	const int C = p->channels, CO = p->out_channels;
	if (C % 8 == 0 && CO % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
			return C == 24 && CO == 24   ? s2_row_avx512_24_24
			       : C == 24 && CO == 48 ? s2_row_avx512_24_48
			       : C == 48 && CO == 96 ? s2_row_avx512_48_96
			                             : s2_row_avx512;
		return s2_row_avx2;
	}
#endif
	return s2_row_portable;
}

static void chain_run(const nn_host_call *call)
{
	const chain_params *c = call->params;
	const nn_shape *s = call->input_shapes[0];
	const int K = c->n_blocks;
	int64_t h[NN_FUSED_CHAIN_MAX + 1], w[NN_FUSED_CHAIN_MAX + 1];
	chain_geometry(c, s->dims[1], s->dims[2], h, w);
	chain_task t = { .c = c,
		         .x = call->inputs[0],
		         .out = call->output,
		         .rings = call->scratch,
		         .in_image = (size_t)h[0] * (size_t)w[0] * (size_t)c->channels,
		         .out_image = (size_t)h[K] * (size_t)w[K] * (size_t)c->out_channels,
		         .bands = chain_bands(c, h[K], call->threads) };
	t.band_floats = chain_rings(c, w, t.ring_at);
	for (int k = 0; k <= K; k++) {
		t.H[k] = (int)h[k];
		t.W[k] = (int)w[k];
	}
	for (int k = 0; k < K; k++) {
		if (c->blocks[k]->stride == 1)
			t.row[k] = pick_row(c->blocks[k]);
		else
			t.row2[k] = pick_row2(c->blocks[k]);
	}
	MIEN_ASSERT(K < 2 || call->scratch_bytes >= chain_scratch(call->input_shapes, c, call->threads));
	pthreadpool_parallelize_1d((pthreadpool_t)call->pool, chain_band, &t, (size_t)s->dims[0] * (size_t)t.bands, 0);
}

static int chain_shape(const nn_shape *const *input_shapes, int n_inputs, const void *params, nn_shape *out,
                       mien_error *err)
{
	const chain_params *c = params;
	const nn_shape *s = input_shapes[0];
	if (n_inputs != 1 || s->rank != 4 || s->dims[3] != c->channels || s->dims[0] < 1 || s->dims[1] < 1 ||
	    s->dims[2] < 1 || s->dims[1] > 65536 || s->dims[2] > 65536)
		return mien_error_set(err, MIEN_EUNSUPPORTED, "fused block: input must be NHWC with %d channels",
		                      c->channels);
	int64_t h[NN_FUSED_CHAIN_MAX + 1], w[NN_FUSED_CHAIN_MAX + 1];
	chain_geometry(c, s->dims[1], s->dims[2], h, w);
	*out = *s;
	out->dims[1] = h[c->n_blocks];
	out->dims[2] = w[c->n_blocks];
	out->dims[3] = c->out_channels;
	return MIEN_OK;
}

int nn__fused_block_op(nn_graph *g, const nn_fused_block *b, nn_host_op *op)
{
	const int C = b->channels, CO = b->out_channels ? b->out_channels : C, stride = b->stride ? b->stride : 1;
	if (C < 1 || C > NN_FUSED_BLOCK_MAX_CHANNELS || CO > NN_FUSED_BLOCK_MAX_CHANNELS || CO < C ||
	    (stride == 1 && (CO != C || b->pad_top < 0 || b->pad_top > 2 || b->pad_left < 0 || b->pad_left > 2)) ||
	    (stride != 1 && stride != 2))
		return MIEN_EINVAL;
	chain_params *c = nn__graph_alloc(g, sizeof(*c));
	block_params *p = nn__graph_alloc(g, sizeof(*p));
	float *dw = nn__graph_alloc(g, (size_t)9 * (size_t)C * sizeof(float));
	float *pw = nn__graph_alloc(g, (size_t)C * (size_t)CO * sizeof(float));
	float *bias = nn__graph_alloc(g, (size_t)CO * sizeof(float));
	/* the stride-1 AVX-512 kernels' copies (block_params.dwx, pwx) */
	const int U = stride == 1 && C % 16 ? 2 * C : C, pair = stride == 1 && C == 24;
	float *dwx = U == C ? dw : nn__graph_alloc(g, (size_t)9 * (size_t)U * sizeof(float));
	float *pwx = pair ? nn__graph_alloc(g, (size_t)24 * 48 * sizeof(float)) : NULL;
	if (!c || !p || !dw || !pw || !bias || !dwx || (pair && !pwx))
		return MIEN_ENOMEM;
	/* TF layouts: depthwise [3,3,C,1] is already [9][C]; a 1×1 HWIO filter [1,1,C,CO] is already [ci][co] */
	memcpy(dw, b->dw_filter, (size_t)9 * (size_t)C * sizeof(float));
	memcpy(pw, b->pw_filter, (size_t)C * (size_t)CO * sizeof(float));
	for (int co = 0; co < CO; co++) {
		double sum = b->pw_bias ? b->pw_bias[co] : 0.0;
		if (b->dw_bias)
			for (int ci = 0; ci < C; ci++)
				sum += (double)b->dw_bias[ci] * (double)pw[(size_t)ci * (size_t)CO + (size_t)co];
		bias[co] = (float)sum;
	}
	if (dwx != dw)
		for (int k = 0; k < 9; k++)
			for (int j = 0; j < U; j++)
				dwx[k * U + j] = dw[k * C + j % C];
	if (pwx)
		for (int ci = 0; ci < 24; ci++)
			for (int j = 0; j < 16; j++) {
				const float *w = pw + ci * 24;
				pwx[ci * 48 + j] = w[j];
				pwx[ci * 48 + 16 + j] = j % 2 ? w[j / 2] : w[16 + j / 2];
				pwx[ci * 48 + 32 + j] = w[8 + j];
			}
	*p = (block_params){ .channels = C,
		             .out_channels = CO,
		             .stride = stride,
		             .pad_top = stride == 1 ? b->pad_top : 0,
		             .pad_left = stride == 1 ? b->pad_left : 0,
		             .lo = b->lo,
		             .hi = b->hi,
		             .dw = dw,
		             .pw = pw,
		             .pw_bias = bias,
		             .dwx = dwx,
		             .pwx = pwx };
	c->n_blocks = 1;
	c->channels = C;
	c->out_channels = CO;
	c->blocks[0] = p;
	*op = (nn_host_op){ .kind = stride == 1 ? "fused_block" : "fused_block_s2",
		            .run = chain_run,
		            .shape = chain_shape,
		            .scratch = chain_scratch,
		            .params = c,
		            .macs = chain_macs };
	return MIEN_OK;
}

int nn__fused_block_chain(nn_graph *g, const nn_host_op *first, const nn_host_op *second, nn_host_op *op)
{
	if (first->run != chain_run || second->run != chain_run)
		return 0;
	const chain_params *a = first->params, *b = second->params;
	if (a->out_channels != b->channels || a->n_blocks + b->n_blocks > NN_FUSED_CHAIN_MAX)
		return 0;
	/* A stride-2 block only ends a chain: one that went on at the lower resolution would widen the rows a
	 * band recomputes at the higher one (the receptive field doubles at each stride 2), which costs more with
	 * threads than the tensor it saves, and saves nothing measurable on one. */
	const int K = a->n_blocks + b->n_blocks;
	for (int i = 0; i < K; i++) {
		const block_params *p = i < a->n_blocks ? a->blocks[i] : b->blocks[i - a->n_blocks];
		if ((p->stride == 1 && p->pad_top != 1) || (p->stride == 2 && i != K - 1))
			return 0;
	}
	chain_params *c = nn__graph_alloc(g, sizeof(*c));
	if (!c)
		return MIEN_ENOMEM;
	c->channels = a->channels;
	c->out_channels = b->out_channels;
	c->n_blocks = a->n_blocks + b->n_blocks;
	for (int i = 0; i < a->n_blocks; i++)
		c->blocks[i] = a->blocks[i];
	for (int i = 0; i < b->n_blocks; i++)
		c->blocks[a->n_blocks + i] = b->blocks[i];
	*op = *second;
	op->kind = "fused_chain";
	op->params = c;
	return 1;
}
