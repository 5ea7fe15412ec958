/*
 * grid.c — what one blazeface-back pass costs at a given input grid: milliseconds per run and the resident
 * memory one runtime adds (activations and XNNPACK's packed filters). Behind the grid sizes of
 * src/face/detect.c. Not part of the build; compile from the repository root:
 *
 *   cc -Isrc -D_GNU_SOURCE -std=c11 -O2 -o build/grid bench/detect/grid.c build/libmien.a \
 *      -ljansson -lXNNPACK -lpthreadpool -lpthread -lm -lturbojpeg -lspng
 *
 *   build/grid [THREADS] WxH...    e.g. build/grid 1 256x256 512x512 1280x704 1600x896
 *
 * Each size: a fresh runtime, 2 warm-up runs, then the median of 10; RSS (from /proc/self/statm) before
 * creation, after creation and after the first run, so the growth is what that runtime holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nn/nn.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double rss_mib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: grid THREADS WxH...\n");
		return 2;
	}
	mien_error err = { 0 };
	nn_pool *pool = NULL;
	int threads = atoi(argv[1]);
	if (threads > 1 && nn_pool_create((size_t)threads, &pool, &err)) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	nn_model *m = NULL;
	if (nn_model_load("blazeface-back", getenv("MIEN_MODELS") ? getenv("MIEN_MODELS") : "models", &m, &err)) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	printf("%-10s %8s %9s %10s %11s %12s\n", "grid", "Mpx", "ms", "ms/256²", "RSS create", "RSS run MiB");
	for (int a = 2; a < argc; a++) {
		int w = 0, h = 0;
		if (sscanf(argv[a], "%dx%d", &w, &h) != 2 || w < 32 || h < 32) {
			fprintf(stderr, "bad size %s\n", argv[a]);
			return 2;
		}
		nn_shape s = nn_model_input_shape(m, 0);
		s.dims[0] = 1;
		s.dims[1] = h;
		s.dims[2] = w;
		s.dims[3] = 3;
		double r0 = rss_mib();
		nn_runtime *rt = NULL;
		if (nn_runtime_create(m, &s, pool, &rt, &err)) {
			fprintf(stderr, "%s: %s\n", argv[a], err.message);
			return 1;
		}
		double r1 = rss_mib();
		float *in = nn_runtime_input(rt, 0, NULL);
		for (size_t i = 0; i < (size_t)w * h * 3; i++)
			in[i] = (float)((i * 2654435761u) % 255) / 127.5f - 1.0f;
		double t[10];
		for (int i = 0; i < 12; i++) {
			double t0 = now_ms();
			if (nn_runtime_run(rt, &err)) {
				fprintf(stderr, "%s\n", err.message);
				return 1;
			}
			if (i >= 2)
				t[i - 2] = now_ms() - t0;
		}
		double r2 = rss_mib();
		qsort(t, 10, sizeof(double), cmp_double);
		double mpx = (double)w * h / 1e6;
		printf("%-10s %8.3f %9.2f %10.2f %11.1f %12.1f\n", argv[a], mpx, t[5], t[5] / (mpx / 0.065536), r1 - r0,
		       r2 - r0);
		nn_runtime_free(&rt);
	}
	nn_model_free(&m);
	nn_pool_destroy(&pool);
	return 0;
}
