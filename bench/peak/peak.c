// bench/peak/peak.c — this CPU's single-core FP32 FMA peak, measured with independent FMA chains.
//
//   cc -O2 -mavx512f -mfma -mavx2 -o build/bench/peak bench/peak/peak.c && build/bench/peak
//   -> {"avx512_gflops":...,"avx2_gflops":...,"seconds":...}
//
// Each kernel keeps its accumulators in registers (16 zmm chains for AVX-512, 12 ymm chains for AVX2) and
// issues one independent FMA per chain per iteration: more than FMA latency x ports (4 x 2 = 8 in flight on
// current x86 cores). GFLOP/s = 2 flops x lanes x FMAs / second. The loop runs until ~0.5 s have passed (the
// iteration count is calibrated first), best of 3 repeats. AVX-512 is skipped (null) where the CPU lacks
// avx512f. Runs on whatever core the OS picks: pin it with taskset for a specific core.
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NACC 16
// Written out: at -O2 a `for k` loop over acc[] is not unrolled and the accumulators then live in memory.
#define FMA16(F)                            \
	do {                                \
		acc[0] = F(acc[0], a, b);   \
		acc[1] = F(acc[1], a, b);   \
		acc[2] = F(acc[2], a, b);   \
		acc[3] = F(acc[3], a, b);   \
		acc[4] = F(acc[4], a, b);   \
		acc[5] = F(acc[5], a, b);   \
		acc[6] = F(acc[6], a, b);   \
		acc[7] = F(acc[7], a, b);   \
		acc[8] = F(acc[8], a, b);   \
		acc[9] = F(acc[9], a, b);   \
		acc[10] = F(acc[10], a, b); \
		acc[11] = F(acc[11], a, b); \
		acc[12] = F(acc[12], a, b); \
		acc[13] = F(acc[13], a, b); \
		acc[14] = F(acc[14], a, b); \
		acc[15] = F(acc[15], a, b); \
	} while (0)
// AVX2 has 16 ymm registers (ymm16-31 need AVX-512VL): 12 chains + the two constants fit, 16 would spill.
#define NACC2 12
#define FMA12(F)                            \
	do {                                \
		acc[0] = F(acc[0], a, b);   \
		acc[1] = F(acc[1], a, b);   \
		acc[2] = F(acc[2], a, b);   \
		acc[3] = F(acc[3], a, b);   \
		acc[4] = F(acc[4], a, b);   \
		acc[5] = F(acc[5], a, b);   \
		acc[6] = F(acc[6], a, b);   \
		acc[7] = F(acc[7], a, b);   \
		acc[8] = F(acc[8], a, b);   \
		acc[9] = F(acc[9], a, b);   \
		acc[10] = F(acc[10], a, b); \
		acc[11] = F(acc[11], a, b); \
	} while (0)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float sink;

__attribute__((target("avx512f"), noinline)) static void fma512(long iters)
{
	__m512 acc[NACC];
	for (int k = 0; k < NACC; k++)
		acc[k] = _mm512_set1_ps(0.001f * k);
	const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
	for (long i = 0; i < iters; i++) {
		FMA16(_mm512_fmadd_ps);
	}
	__m512 s = acc[0];
	for (int k = 1; k < NACC; k++)
		s = _mm512_add_ps(s, acc[k]);
	sink = _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"), noinline)) static void fma256(long iters)
{
	__m256 acc[NACC2];
	for (int k = 0; k < NACC2; k++)
		acc[k] = _mm256_set1_ps(0.001f * k);
	const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
	for (long i = 0; i < iters; i++) {
		FMA12(_mm256_fmadd_ps);
	}
	__m256 s = acc[0];
	for (int k = 1; k < NACC2; k++)
		s = _mm256_add_ps(s, acc[k]);
	float v[8];
	_mm256_storeu_ps(v, s);
	sink = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

// GFLOP/s of kernel f with `lanes` floats per vector: calibrate to ~target seconds, best of 3.
static double measure(void (*f)(long), int lanes, int chains, double target)
{
	long iters = 1 << 16;
	for (;;) { // calibrate (also warms the core's clock and the wide units)
		double t0 = now();
		f(iters);
		double dt = now() - t0;
		if (dt > 0.05) {
			iters = (long)(iters * target / dt);
			break;
		}
		iters *= 2;
	}
	double best = 0;
	for (int r = 0; r < 3; r++) {
		double t0 = now();
		f(iters);
		double dt = now() - t0;
		double g = 2.0 * lanes * chains * (double)iters / dt * 1e-9;
		if (g > best)
			best = g;
	}
	return best;
}

int main(int argc, char **argv)
{
	double target = argc > 1 ? atof(argv[1]) : 0.5;
	if (!(target > 0))
		target = 0.5;
	__builtin_cpu_init();
	double t0 = now();
	int has512 = __builtin_cpu_supports("avx512f");
	int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	double g512 = has512 ? measure(fma512, 16, NACC, target) : 0;
	double g256 = has2 ? measure(fma256, 8, NACC2, target) : 0;
	printf("{\"avx512_gflops\":");
	if (has512)
		printf("%.1f", g512);
	else
		printf("null");
	printf(",\"avx2_gflops\":");
	if (has2)
		printf("%.1f", g256);
	else
		printf("null");
	printf(",\"chains_avx512\":%d,\"chains_avx2\":%d,\"seconds\":%.2f}\n", NACC, NACC2, now() - t0);
	return 0;
}
