/*
 * cli_pipeline.c — `mien bench pipeline IMG`: the whole face pipeline (decode excluded, detection, landmarks,
 * alignment, embedding, expression) on one picture, timed in-process at each thread count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "face/face.h"

static const char PIPELINE_USAGE[] =
        "usage: mien bench pipeline IMG [--runs N] [--threads 1,2] [--json]\n"
        "  Median milliseconds of the whole pipeline on IMG (decoded once), per thread count.\n";

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int cli_bench_pipeline(int argc, char **argv, const mien_config *cfg)
{
	const char *path = NULL, *value;
	long runs = 10, threads[8] = { cfg->threads };
	int n_threads = 1, json = 0;
	for (int i = 1; i < argc; i++) {
		int m;
		if (strcmp(argv[i], "--help") == 0) {
			fputs(PIPELINE_USAGE, stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if ((m = cli_option(argc, argv, &i, "--runs", &value)) != 0) {
			if (m < 0 || cli_parse_int(value, 1, 10000, &runs))
				return CLI_EXIT_USAGE;
		} else if ((m = cli_option(argc, argv, &i, "--threads", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			n_threads = 0;
			char copy[128];
			snprintf(copy, sizeof(copy), "%s", value);
			for (char *tok = strtok(copy, ","); tok && n_threads < 8; tok = strtok(NULL, ","))
				if (cli_parse_int(tok, 1, 256, &threads[n_threads++]))
					return CLI_EXIT_USAGE;
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			fputs(PIPELINE_USAGE, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (!path) {
		fputs(PIPELINE_USAGE, stderr);
		return CLI_EXIT_USAGE;
	}
	mien_error err = { 0 };
	face_image *img = NULL;
	if (face_image_load(path, 0, &img, &err)) {
		cli_error("%s", err.message);
		return CLI_EXIT_FAIL;
	}
	face_result *faces = calloc(256, sizeof(face_result));
	double *ms = calloc((size_t)runs, sizeof(double));
	int rc = faces && ms ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	for (int t = 0; rc == CLI_EXIT_OK && t < n_threads; t++) {
		nn_pool *pool = NULL;
		face_analyzer *a = NULL;
		face_options options;
		face_options_default(&options);
		size_t count = 0;
		if (nn_pool_create((size_t)threads[t], &pool, &err) ||
		    face_analyzer_create(&options, cfg->models, pool, &a, &err) ||
		    face_analyze(a, img, faces, 256, &count, &err)) { /* the first run warms caches up */
			cli_error("%s", err.message);
			rc = CLI_EXIT_FAIL;
		}
		for (long r = 0; rc == CLI_EXIT_OK && r < runs; r++) {
			double t0 = cli_now_ms();
			if (face_analyze(a, img, faces, 256, &count, &err)) {
				cli_error("%s", err.message);
				rc = CLI_EXIT_FAIL;
			}
			ms[r] = cli_now_ms() - t0;
		}
		if (rc == CLI_EXIT_OK) {
			qsort(ms, (size_t)runs, sizeof(double), by_double);
			double median = runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
			if (json)
				printf("{\"peer\":\"mien\",\"threads\":%ld,\"median_ms\":%.3f,\"faces\":%zu,"
				       "\"detector\":\"%s\","
				       "\"embedder\":\"%s\",\"width\":%d,\"height\":%d}\n",
				       threads[t], median, count, face_analyzer_detector(a), face_analyzer_embedder(a),
				       img->width, img->height);
			else
				printf("mien pipeline %dx%d, %ld thread%s: median %.2f ms, %zu faces (%s + %s)\n",
				       img->width, img->height, threads[t], threads[t] == 1 ? "" : "s", median, count,
				       face_analyzer_detector(a), face_analyzer_embedder(a));
		}
		face_analyzer_free(&a);
		nn_pool_destroy(&pool);
	}
	free(ms);
	free(faces);
	face_image_free(&img);
	return rc;
}
