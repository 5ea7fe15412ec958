/*
 * cli_bench.c — `mien bench [models] [--runs N] [--warmup N] [--threads N[,N...]] [--only a,b] [--json]`.
 *
 * For each model and thread count: one runtime at the published shape, inputs filled with deterministic
 * values, warm-up runs, then N timed runs of nn_runtime_run alone (CLOCK_MONOTONIC). Prints median, p10 and
 * p90 milliseconds, MMAC (nn_runtime_mmac) and GFLOP/s = 2 * MAC / median time. With --json, one object per
 * line, joined by bench/models/report.mjs with the TF.js-wasm peer (bench/models/peer.mjs).
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "nn/nn.h"

#define MAX_THREAD_COUNTS 8
#define MAX_ONLY          64
#define MAX_RUNS          100000

/* Every model mien ships, in the order of DESIGN.md's table. */
static const char *const ALL_MODELS[] = {
	"blazeface-back",   "blazeface-front",    "facemesh-detection-full",
	"ssd_mobilenetv1",  "tiny_face_detector", "facemesh",
	"face_landmark_68", "mobilefacenet",      "faceres",
	"faceres-deep",     "mobileface",         "face_recognition",
	"emotion",          "face_expression",    "antispoof",
	"liveness",
};

static const char BENCH_USAGE[] =
        "usage: mien bench [models] [--runs N] [--warmup N] [--threads N[,N...]] [--only a,b] [--json]\n"
        "  --runs N       timed runs per model (default 20)\n"
        "  --warmup N     untimed runs first (default 3)\n"
        "  --threads LIST thread counts to measure, e.g. 1,2 (default MIEN_THREADS)\n"
        "  --only LIST    model names or paths (default: every model)\n"
        "  --json         one JSON object per model and thread count\n";

typedef struct bench_result {
	double median_ms, p10_ms, p90_ms, min_ms, mmac, gflops;
	nn_shape input;
} bench_result;

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Linear interpolation between closest ranks of a sorted array. */
static double percentile(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	double pos = p * (double)(n - 1);
	size_t lo = (size_t)pos;
	if (lo + 1 >= n)
		return sorted[n - 1];
	double frac = pos - (double)lo;
	return sorted[lo] * (1 - frac) + sorted[lo + 1] * frac;
}

/* Deterministic values in [0, 1): timings must not depend on the run, and TF.js's peer uses the same kind. */
static void fill_input(float *data, int64_t count, uint32_t seed)
{
	uint32_t state = seed * 2654435761u + 1;
	for (int64_t i = 0; i < count; i++) {
		state = state * 1664525u + 1013904223u;
		data[i] = (float)(state >> 8) / 16777216.0f;
	}
}

static int bench_one(const nn_model *model, long threads, long warmup, long runs, double *times, bench_result *res,
                     mien_error *err)
{
	nn_pool *pool = NULL;
	nn_runtime *runtime = NULL;
	int rc = nn_pool_create((size_t)threads, &pool, err);
	if (rc)
		goto done;
	rc = nn_runtime_create(model, NULL, pool, &runtime, err);
	if (rc)
		goto done;
	for (size_t i = 0; i < nn_model_input_count(model); i++) {
		nn_shape shape;
		float *in = nn_runtime_input(runtime, i, &shape);
		if (i == 0)
			res->input = shape;
		if (in)
			fill_input(in, nn_shape_count(&shape), (uint32_t)i + 1);
	}
	for (long r = 0; r < warmup; r++) {
		rc = nn_runtime_run(runtime, err);
		if (rc)
			goto done;
	}
	for (long r = 0; r < runs; r++) {
		double t0 = cli_now_ms();
		rc = nn_runtime_run(runtime, err);
		times[r] = cli_now_ms() - t0;
		if (rc)
			goto done;
	}
	qsort(times, (size_t)runs, sizeof(double), compare_double);
	res->median_ms = percentile(times, (size_t)runs, 0.5);
	res->p10_ms = percentile(times, (size_t)runs, 0.1);
	res->p90_ms = percentile(times, (size_t)runs, 0.9);
	res->min_ms = times[0];
	res->mmac = nn_runtime_mmac(runtime);
	res->gflops = res->median_ms > 0 ? 2.0 * res->mmac / res->median_ms : 0; /* 2*MAC*1e6 / (ms*1e-3) / 1e9 */
done:
	nn_runtime_free(&runtime);
	nn_pool_destroy(&pool);
	return rc;
}

/* Splits a comma list in place into `items`; returns the count or -1 when there are too many. */
static int split_list(char *text, const char **items, int max)
{
	int n = 0;
	for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!*tok)
			continue;
		if (n == max)
			return -1;
		items[n++] = tok;
	}
	return n;
}

static int bench_usage(const char *fmt, const char *arg)
{
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	cli_error("%s", msg);
	fputs(BENCH_USAGE, stderr);
	return CLI_EXIT_USAGE;
}

int cli_bench_main(int argc, char **argv, const mien_config *cfg)
{
	long runs = 20, warmup = 3;
	long thread_counts[MAX_THREAD_COUNTS];
	int n_threads = 1, as_json = 0;
	const char *only[MAX_ONLY];
	int n_only = 0;
	char threads_text[256], only_text[4096];
	const char *value;
	thread_counts[0] = cfg->threads;

	int i = 1;
	if (i < argc && strcmp(argv[i], "pipeline") == 0)
		return cli_bench_pipeline(argc - 1, argv + 1, cfg);
	if (i < argc && argv[i][0] != '-') {
		if (strcmp(argv[i], "models") != 0) {
			cli_error("'bench %s' is not available yet in this build (try 'mien bench models')", argv[i]);
			return CLI_EXIT_USAGE;
		}
		i++;
	}
	for (; i < argc; i++) {
		const char *arg = argv[i];
		int m;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			fputs(BENCH_USAGE, stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(arg, "--json") == 0) {
			as_json = 1;
		} else if ((m = cli_option(argc, argv, &i, "--runs", &value)) != 0) {
			if (m < 0 || cli_parse_int(value, 1, MAX_RUNS, &runs))
				return bench_usage("--runs wants a number from 1 to 100000, not '%s'",
				                   m < 0 ? "" : value);
		} else if ((m = cli_option(argc, argv, &i, "--warmup", &value)) != 0) {
			if (m < 0 || cli_parse_int(value, 0, MAX_RUNS, &warmup))
				return bench_usage("--warmup wants a number from 0 to 100000, not '%s'",
				                   m < 0 ? "" : value);
		} else if ((m = cli_option(argc, argv, &i, "--threads", &value)) != 0) {
			const char *items[MAX_THREAD_COUNTS];
			if (m < 0)
				return CLI_EXIT_USAGE;
			snprintf(threads_text, sizeof(threads_text), "%s", value);
			n_threads = split_list(threads_text, items, MAX_THREAD_COUNTS);
			if (n_threads <= 0)
				return bench_usage("--threads wants a list like 1,2 (at most 8 entries), not '%s'",
				                   value);
			for (int k = 0; k < n_threads; k++)
				if (cli_parse_int(items[k], 1, 256, &thread_counts[k]))
					return bench_usage("--threads: '%s' is not a number from 1 to 256", items[k]);
		} else if ((m = cli_option(argc, argv, &i, "--only", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			snprintf(only_text, sizeof(only_text), "%s", value);
			n_only = split_list(only_text, only, MAX_ONLY);
			if (n_only <= 0)
				return bench_usage("--only wants a list of model names, not '%s'", value);
		} else {
			return bench_usage("unknown argument '%s'", arg);
		}
	}
	if (n_only == 0) {
		for (size_t k = 0; k < MIEN_ARRAY_LEN(ALL_MODELS); k++)
			only[n_only++] = ALL_MODELS[k];
	}

	double *times = malloc((size_t)runs * sizeof(double));
	if (!times) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	int failures = 0;
	if (!as_json)
		printf("%-24s %-16s %7s %9s %9s %9s %9s %8s\n", "model", "input", "threads", "MMAC", "median_ms",
		       "p10_ms", "p90_ms", "GFLOP/s");
	for (int k = 0; k < n_only; k++) {
		nn_model *model = NULL;
		mien_error err;
		if (nn_model_load(only[k], cfg->models, &model, &err)) {
			cli_error("%s", err.message);
			failures++;
			continue;
		}
		for (int t = 0; t < n_threads; t++) {
			bench_result res;
			char shape_text[128];
			memset(&res, 0, sizeof(res));
			if (bench_one(model, thread_counts[t], warmup, runs, times, &res, &err)) {
				cli_error("%s", err.message);
				failures++;
				break;
			}
			nn_shape_str(&res.input, shape_text, sizeof(shape_text));
			if (as_json) {
				json_t *input = json_array();
				for (int d = 0; d < res.input.rank; d++)
					json_array_append_new(input, json_integer((json_int_t)res.input.dims[d]));
				json_t *line =
				        json_pack("{s:s, s:s, s:i, s:o, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:i}",
				                  "model", only[k], "backend", "mien", "threads", (int)thread_counts[t],
				                  "input", input, "mmac", res.mmac, "median_ms", res.median_ms,
				                  "p10_ms", res.p10_ms, "p90_ms", res.p90_ms, "min_ms", res.min_ms,
				                  "gflops", res.gflops, "runs", (int)runs, "warmup", (int)warmup);
				char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER |
				                                             JSON_REAL_PRECISION(6))
				                  : NULL;
				if (text)
					puts(text);
				free(text);
				json_decref(line);
			} else {
				printf("%-24s %-16s %7ld %9.1f %9.3f %9.3f %9.3f %8.2f\n", only[k], shape_text,
				       thread_counts[t], res.mmac, res.median_ms, res.p10_ms, res.p90_ms, res.gflops);
			}
			fflush(stdout);
		}
		nn_model_free(&model);
	}
	free(times);
	return failures ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
