/*
 * gallery_bench.c — top-5 search latency of src/store/gallery.c beside a naive C loop, plus add throughput,
 * memory per identity and recall@1 of the compressed formats against the exact one.
 *
 *   gallery_bench --n 1000000 [--dim 192] [--queries 200] [--recall-queries 500] [--threads 2]
 *   gallery_bench --event-faces --n 1000000 [--dim 128] [--k 50] [--queries 200] [--recall-queries 100]
 *
 * Prints one JSON line per measured method (bench/gallery/run.sh collects them). Vectors are random unit
 * vectors, one face per identity. Timed queries are stored vectors plus Gaussian noise with sigma chosen so
 * the cosine to the source is about 0.7; recall is measured on such noisy queries and on pure random ones.
 *
 * --event-faces measures the face search's index instead (src/http/search.c): an int8 gallery in which every
 * event is its own "person", searched for the top k (50) with gallery_search_where. Its events come from
 * n / 10 visitors of about ten visits each (every visit a noisy copy of its visitor, cosine ~0.85), and a query is
 * a new picture of a stored visitor (cosine ~0.85 to the visitor), so each search has real matches to rank. Rows:
 * the plain top k; the top k as the API's first round asks for it (a similarity floor and its exclusion
 * predicate); the naive C loop with a top-k selection (the peer above); and recall@k of int8 against that loop.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/gallery.h"

#define MODEL "bench"
#define K     5

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_gauss(void)
{
	double u = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
	double v = (double)(rng_next() >> 11) / 9007199254740992.0;
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void random_unit(float *v, int dim)
{
	double s = 0;
	for (int i = 0; i < dim; i++) {
		v[i] = (float)rng_gauss();
		s += (double)v[i] * v[i];
	}
	for (int i = 0; i < dim; i++)
		v[i] = (float)(v[i] / sqrt(s));
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* This thread's CPU time: on a shared machine, the time a search costs its core, without the time it waited for one. */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of `runs` values (sorts them). */
static double median(double *v, int runs)
{
	qsort(v, (size_t)runs, sizeof(double), cmp_double);
	return v[runs / 2];
}

static void report(const char *method, size_t n, double *ms, int runs, double bytes_per_id, const char *extra)
{
	qsort(ms, (size_t)runs, sizeof(double), cmp_double);
	printf("{\"method\":\"%s\",\"n\":%zu,\"median_ms\":%.4f,\"p95_ms\":%.4f,\"runs\":%d,\"bytes_per_id\":%.1f%s}\n",
	       method, n, ms[runs / 2], ms[(runs * 95) / 100 < runs ? (runs * 95) / 100 : runs - 1], runs, bytes_per_id,
	       extra);
	fflush(stdout);
}

/* The naive peer: a plain scalar loop into a score array, then a partial selection of the top k. */
__attribute__((optimize("no-tree-vectorize"))) static void
naive_search_k(const float *data, size_t n, int dim, const float *q, float *scores, size_t k, size_t *best)
{
	for (size_t i = 0; i < n; i++) {
		float s = 0.0f;
		for (int d = 0; d < dim; d++)
			s += data[i * (size_t)dim + d] * q[d];
		scores[i] = s;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m == k && scores[i] <= scores[best[k - 1]])
			continue;
		size_t j = m < k ? m++ : k - 1;
		while (j > 0 && scores[best[j - 1]] < scores[i]) {
			best[j] = best[j - 1];
			j--;
		}
		best[j] = i;
	}
}

static void naive_search(const float *data, size_t n, int dim, const float *q, float *scores, size_t *best)
{
	naive_search_k(data, n, dim, q, scores, K, best);
}

/* --- the face search's index over event faces ------------------------------------------------------------------ */

/* A noisy copy of unit vector `src` at cosine ~`cosine` to it, unit length. */
static void near_copy(const float *src, int dim, double cosine, float *out)
{
	double sigma = sqrt((1.0 / (cosine * cosine) - 1.0) / dim), s = 0;
	for (int d = 0; d < dim; d++) {
		out[d] = src[d] + (float)(sigma * rng_gauss());
		s += (double)out[d] * out[d];
	}
	for (int d = 0; d < dim; d++)
		out[d] = (float)(out[d] / sqrt(s));
}

/* The API's exclusion predicate (src/http/search.c: the events a request has seen), here over an empty list. */
typedef struct seen_list {
	int64_t ids[100];
	size_t n;
} seen_list;

static int by_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int unseen(void *ctx, int64_t person_id, int64_t face_id)
{
	(void)person_id;
	const seen_list *seen = ctx;
	return bsearch(&face_id, seen->ids, seen->n, sizeof(seen->ids[0]), by_id) == NULL;
}

static int event_faces(size_t n, int dim, size_t k, int queries, int recall_queries)
{
	if (k < 1 || k > GALLERY_MAX_K)
		k = 50;
	size_t visitors = n / 10 ? n / 10 : 1;
	float *centres = malloc(visitors * (size_t)dim * sizeof(float));
	float *data = malloc(n * (size_t)dim * sizeof(float));
	float *scores = malloc(n * sizeof(float));
	int nq = queries > recall_queries ? queries : recall_queries;
	float *q = malloc((size_t)nq * dim * sizeof(float));
	double *ms = malloc((size_t)nq * sizeof(double));
	double *cpu = malloc((size_t)nq * sizeof(double));
	size_t *best = malloc(k * sizeof(size_t));
	gallery_hit *hits = malloc(k * sizeof(gallery_hit));
	if (!centres || !data || !scores || !q || !ms || !cpu || !best || !hits)
		return 1;
	for (size_t v = 0; v < visitors; v++)
		random_unit(centres + v * dim, dim);
	for (size_t i = 0; i < n; i++) /* a visitor's visits lie apart in time: spread over the ids */
		near_copy(centres + (i % visitors) * dim, dim, 0.85, data + i * dim);
	size_t *visitor_of = malloc((size_t)nq * sizeof(size_t));
	if (!visitor_of)
		return 1;
	for (int qi = 0; qi < nq; qi++) {
		visitor_of[qi] = rng_next() % visitors;
		near_copy(centres + visitor_of[qi] * dim, dim, 0.85, q + (size_t)qi * dim);
	}

	gallery *g = NULL;
	mien_error err = { 0 };
	if (gallery_create(MODEL, dim, GALLERY_INT8, &g, &err) != MIEN_OK) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	double t0 = now_ms();
	for (size_t i = 0; i < n; i++) /* event ids from 1, each its own person */
		if (gallery_add(g, (int64_t)i + 1, (int64_t)i + 1, data + i * dim, dim, MODEL, &err) != MIEN_OK) {
			fprintf(stderr, "%s\n", err.message);
			return 1;
		}
	double build = now_ms() - t0;
	double per_event = (double)gallery_memory_bytes(g) / n;
	char extra[256];
	size_t count = 0;
	for (int qi = 0; qi < 3; qi++) /* warm-up */
		gallery_search_where(g, q, dim, MODEL, k, -INFINITY, NULL, NULL, hits, &count, &err);
	double kth = 0, first = 0;
	for (int qi = 0; qi < queries; qi++) {
		double s = now_ms(), c = cpu_ms();
		gallery_search_where(g, q + (size_t)qi * dim, dim, MODEL, k, -INFINITY, NULL, NULL, hits, &count, &err);
		ms[qi] = now_ms() - s;
		cpu[qi] = cpu_ms() - c;
		first += hits[0].similarity;
		kth += hits[count - 1].similarity;
	}
	snprintf(extra, sizeof(extra),
	         ",\"event_faces\":true,\"dim\":%d,\"k\":%zu,\"isa\":\"%s\",\"cpu_median_ms\":%.4f,\"build_ms\":%.1f,"
	         "\"best_similarity\":%.3f,\"kth_similarity\":%.3f",
	         dim, k, gallery_isa(g), median(cpu, queries), build, first / queries, kth / queries);
	report("mien event index int8", n, ms, queries, per_event, extra);

	/* As the API's first round asks: a floor (0.5 here; the recognition threshold there) and the predicate. */
	seen_list seen = { .n = 0 };
	for (int qi = 0; qi < queries; qi++) {
		double s = now_ms(), c = cpu_ms();
		gallery_search_where(g, q + (size_t)qi * dim, dim, MODEL, k, 0.5f, unseen, &seen, hits, &count, &err);
		ms[qi] = now_ms() - s;
		cpu[qi] = cpu_ms() - c;
	}
	snprintf(extra, sizeof(extra),
	         ",\"event_faces\":true,\"dim\":%d,\"k\":%zu,\"isa\":\"%s\",\"cpu_median_ms\":%.4f", dim, k,
	         gallery_isa(g), median(cpu, queries));
	report("mien event index int8, floor 0.5 + predicate", n, ms, queries, per_event, extra);

	for (int qi = 0; qi < queries; qi++) {
		double s = now_ms(), c = cpu_ms();
		naive_search_k(data, n, dim, q + (size_t)qi * dim, scores, k, best);
		ms[qi] = now_ms() - s;
		cpu[qi] = cpu_ms() - c;
	}
	snprintf(extra, sizeof(extra), ",\"event_faces\":true,\"dim\":%d,\"k\":%zu,\"cpu_median_ms\":%.4f", dim, k,
	         median(cpu, queries));
	report("naive C loop", n, ms, queries, (double)dim * sizeof(float) + sizeof(int64_t), extra);

	/* recall@k: how much of the exact top k (the naive loop, float32) the int8 index returns; and how many of the
	 * queried visitor's own visits (events i with i % visitors == v) it returns */
	size_t agree = 0, visits = 0, found = 0;
	for (int qi = 0; qi < recall_queries; qi++) {
		naive_search_k(data, n, dim, q + (size_t)qi * dim, scores, k, best);
		gallery_search_where(g, q + (size_t)qi * dim, dim, MODEL, k, -INFINITY, NULL, NULL, hits, &count, &err);
		for (size_t a = 0; a < k; a++)
			for (size_t b = 0; b < count; b++)
				agree += hits[b].face_id == (int64_t)best[a] + 1;
		for (size_t i = visitor_of[qi]; i < n; i += visitors) {
			visits++;
			for (size_t b = 0; b < count; b++)
				found += hits[b].face_id == (int64_t)i + 1;
		}
	}
	printf("{\"recall_event_faces\":\"int8\",\"n\":%zu,\"dim\":%d,\"k\":%zu,\"queries\":%d,\"recall\":%.4f,"
	       "\"visits_found\":%.4f}\n",
	       n, dim, k, recall_queries, (double)agree / ((double)recall_queries * (double)k),
	       visits ? (double)found / (double)visits : 0.0);
	free(visitor_of);
	gallery_free(&g);
	free(hits);
	free(best);
	free(cpu);
	free(ms);
	free(q);
	free(scores);
	free(data);
	free(centres);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = 10000;
	int dim = 192, queries = 200, recall_queries = 500, threads = 2, only = -1, events = 0, dim_set = 0;
	size_t k = 50;
	for (int i = 1; i < argc; i++) /* the one flag without a value: taken out, so that the rest go in pairs */
		if (!strcmp(argv[i], "--event-faces")) {
			events = 1;
			memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof(*argv));
			argc--, i--;
		}
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--n"))
			n = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--dim"))
			dim = atoi(argv[i + 1]), dim_set = 1;
		else if (!strcmp(argv[i], "--k"))
			k = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--queries"))
			queries = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--recall-queries"))
			recall_queries = atoi(argv[i + 1]);
		else if (!strcmp(argv[i],
		                 "--only")) /* one format: 0 float32, 1 int8, 2 float16 (no naive, no recall) */
			only = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			threads = atoi(argv[i + 1]);
	}
	if (events)
		return event_faces(n, dim_set ? dim : 128, k, queries, recall_queries < 100 ? recall_queries : 100);
	float *data = malloc(n * (size_t)dim * sizeof(float));
	float *scores = malloc(n * sizeof(float));
	int nq = queries > recall_queries ? queries : recall_queries;
	float *noisy = malloc((size_t)nq * dim * sizeof(float));
	float *pure = malloc((size_t)nq * dim * sizeof(float));
	if (!data || !scores || !noisy || !pure)
		return 1;
	for (size_t i = 0; i < n; i++)
		random_unit(data + i * dim, dim);
	/* |noise|^2 ~ dim sigma^2; cosine to the source ~ 1 / sqrt(1 + dim sigma^2) = 0.7 */
	double sigma = sqrt((1.0 / 0.49 - 1.0) / dim);
	double cos_sum = 0;
	for (int qi = 0; qi < nq; qi++) {
		const float *src = data + (rng_next() % n) * dim;
		float *q = noisy + (size_t)qi * dim;
		double dot = 0, qq = 0;
		for (int d = 0; d < dim; d++) {
			q[d] = src[d] + (float)(sigma * rng_gauss());
			dot += (double)q[d] * src[d];
			qq += (double)q[d] * q[d];
		}
		cos_sum += dot / sqrt(qq);
		random_unit(pure + (size_t)qi * dim, dim);
	}
	fprintf(stderr, "n=%zu: noisy queries have mean cosine %.3f to their source\n", n, cos_sum / nq);

	const int formats[] = { GALLERY_FLOAT32, GALLERY_INT8, GALLERY_FLOAT16 };
	const char *names[] = { "float32", "int8", "float16" };
	gallery *g[3] = { NULL, NULL, NULL };
	double *ms = malloc((size_t)nq * sizeof(double));
	mien_error err = { 0 };
	for (int f = 0; f < 3; f++) {
		if (only >= 0 && f != only)
			continue;
		if (gallery_create(MODEL, dim, formats[f], &g[f], &err) != MIEN_OK) {
			fprintf(stderr, "%s\n", err.message);
			return 1;
		}
		double t0 = now_ms();
		for (size_t i = 0; i < n; i++)
			if (gallery_add(g[f], (int64_t)i, (int64_t)i, data + i * dim, dim, MODEL, &err) != MIEN_OK) {
				fprintf(stderr, "%s\n", err.message);
				return 1;
			}
		double build = now_ms() - t0;
		char extra[160];
		snprintf(extra, sizeof(extra), ",\"isa\":\"%s\",\"build_ms\":%.1f,\"adds_per_s\":%.0f",
		         gallery_isa(g[f]), build, n / (build / 1e3));
		gallery_hit hits[K];
		size_t count;
		for (int qi = 0; qi < 3; qi++) /* warm-up */
			gallery_search(g[f], noisy, dim, MODEL, K, hits, &count, &err);
		for (int qi = 0; qi < queries; qi++) {
			double s = now_ms();
			gallery_search(g[f], noisy + (size_t)qi * dim, dim, MODEL, K, hits, &count, &err);
			ms[qi] = now_ms() - s;
		}
		char method[64];
		snprintf(method, sizeof(method), "mien %s", names[f]);
		report(method, n, ms, queries, (double)gallery_memory_bytes(g[f]) / n, extra);
		if (formats[f] == GALLERY_INT8 && threads > 1 && n >= GALLERY_PARALLEL_MIN) {
			gallery_set_threads(g[f], threads);
			for (int qi = 0; qi < queries; qi++) {
				double s = now_ms();
				gallery_search(g[f], noisy + (size_t)qi * dim, dim, MODEL, K, hits, &count, &err);
				ms[qi] = now_ms() - s;
			}
			snprintf(method, sizeof(method), "mien int8, %d threads", threads);
			report(method, n, ms, queries, (double)gallery_memory_bytes(g[f]) / n, "");
			gallery_set_threads(g[f], 1);
		}
	}

	if (only >= 0)
		return 0;
	size_t best[K];
	for (int qi = 0; qi < queries; qi++) {
		double s = now_ms();
		naive_search(data, n, dim, noisy + (size_t)qi * dim, scores, best);
		ms[qi] = now_ms() - s;
	}
	report("naive C loop", n, ms, queries, (double)dim * sizeof(float) + sizeof(int64_t), "");

	/* recall@1 of each compressed format against the exact one, and of exact against the noisy query's source */
	for (int f = 1; f < 3; f++) {
		int agree_noisy = 0, agree_pure = 0;
		for (int qi = 0; qi < recall_queries; qi++) {
			gallery_hit a, b;
			size_t ca, cb;
			gallery_search(g[0], noisy + (size_t)qi * dim, dim, MODEL, 1, &a, &ca, &err);
			gallery_search(g[f], noisy + (size_t)qi * dim, dim, MODEL, 1, &b, &cb, &err);
			agree_noisy += a.person_id == b.person_id;
			gallery_search(g[0], pure + (size_t)qi * dim, dim, MODEL, 1, &a, &ca, &err);
			gallery_search(g[f], pure + (size_t)qi * dim, dim, MODEL, 1, &b, &cb, &err);
			agree_pure += a.person_id == b.person_id;
		}
		printf("{\"recall\":\"%s\",\"n\":%zu,\"queries\":%d,\"noisy\":%.4f,\"random\":%.4f}\n", names[f], n,
		       recall_queries, (double)agree_noisy / recall_queries, (double)agree_pure / recall_queries);
	}
	for (int f = 0; f < 3; f++)
		gallery_free(&g[f]);
	free(ms);
	free(pure);
	free(noisy);
	free(scores);
	free(data);
	return 0;
}
