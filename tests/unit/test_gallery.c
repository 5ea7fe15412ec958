/*
 * test_gallery.c — the gallery index against a brute-force double-precision reference written here, on
 * seeded random vectors: exact ranking, every kernel agreeing, int8 recall, distinct people, removal,
 * errors, and searches racing a writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/result.h"
#include "store/gallery.h"

#define MODEL "test-embedder"

static const char *const isas[] = { "portable", "avx2", "avx512" };

/* --- seeded random vectors (splitmix64 + Box-Muller) ---------------------------------------------- */

typedef struct rng {
	uint64_t state;
} rng;

static uint64_t rng_next(rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_gauss(rng *r)
{
	double u = ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
	double v = (double)(rng_next(r) >> 11) / 9007199254740992.0;
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Random, deliberately not normalised (lengths vary): the index must normalise. */
static float *random_vectors(rng *r, size_t n, int dim)
{
	float *v = malloc(n * (size_t)dim * sizeof(float));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		double length = 0.5 + (double)(rng_next(r) % 1000) / 100.0;
		for (int d = 0; d < dim; d++)
			v[i * dim + d] = (float)(length * rng_gauss(r));
	}
	return v;
}

/* A query near `source`: the source's direction plus Gaussian noise giving a cosine of about 0.7. */
static void noisy_copy(rng *r, const float *source, int dim, float *out)
{
	double norm = 0;
	for (int d = 0; d < dim; d++)
		norm += (double)source[d] * source[d];
	norm = sqrt(norm);
	double sigma = sqrt((1.0 / 0.49 - 1.0) / dim);
	for (int d = 0; d < dim; d++)
		out[d] = (float)(source[d] / norm + sigma * rng_gauss(r));
}

static double ref_cosine(const float *a, const float *b, int dim)
{
	double ab = 0, aa = 0, bb = 0;
	for (int d = 0; d < dim; d++) {
		ab += (double)a[d] * b[d];
		aa += (double)a[d] * a[d];
		bb += (double)b[d] * b[d];
	}
	return ab / sqrt(aa * bb);
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x > y ? -1 : x < y;
}

static gallery *make_gallery(const char *isa, int dim, int format)
{
	if (isa)
		setenv("MIEN_GALLERY_ISA", isa, 1);
	gallery *g = NULL;
	mien_error err = { 0 };
	int rc = gallery_create(MODEL, dim, format, &g, &err);
	unsetenv("MIEN_GALLERY_ISA");
	if (rc != MIEN_OK)
		fail_msg("gallery_create: %s", err.message);
	return g;
}

/* Face i belongs to person 1000 + i. */
static void add_all(gallery *g, const float *v, size_t n, int dim)
{
	mien_error err = { 0 };
	for (size_t i = 0; i < n; i++) {
		int rc = gallery_add(g, (int64_t)i, 1000 + (int64_t)i, v + i * dim, dim, MODEL, &err);
		if (rc != MIEN_OK)
			fail_msg("gallery_add %zu: %s", i, err.message);
	}
	assert_int_equal(gallery_size(g), n);
	assert_int_equal(gallery_people(g), n);
}

static void search_ok(const gallery *g, const float *q, int dim, size_t k, gallery_hit *hits, size_t *count)
{
	mien_error err = { 0 };
	int rc = gallery_search(g, q, dim, MODEL, k, hits, count, &err);
	if (rc != MIEN_OK)
		fail_msg("gallery_search: %s", err.message);
}

/* --- tests ------------------------------------------------------------------------------------------ */

/* Every kernel's exact search gives the reference's ranking: at rank i, the reference's i-th best score,
 * and a hit whose own reference score is that score (so near-ties may swap, nothing else may). */
static void check_exact_against_reference(int dim)
{
	rng r = { 42 + (uint64_t)dim };
	const size_t n = 1500, queries = 15, k = 10;
	float *v = random_vectors(&r, n, dim);
	float *q = random_vectors(&r, queries, dim);
	double *sorted = malloc(n * sizeof(double));
	double *by_face = malloc(n * sizeof(double));
	assert_non_null(sorted);
	assert_non_null(by_face);
	for (size_t s = 0; s < MIEN_ARRAY_LEN(isas); s++) {
		gallery *g = make_gallery(isas[s], dim, GALLERY_FLOAT32);
		add_all(g, v, n, dim);
		for (size_t j = 0; j < queries; j++) {
			for (size_t i = 0; i < n; i++)
				sorted[i] = by_face[i] = ref_cosine(q + j * dim, v + i * dim, dim);
			qsort(sorted, n, sizeof(double), cmp_desc);
			gallery_hit hits[10];
			size_t count = 0;
			search_ok(g, q + j * dim, dim, k, hits, &count);
			assert_int_equal(count, k);
			for (size_t i = 0; i < k; i++) {
				double own = by_face[hits[i].face_id];
				if (fabs(hits[i].similarity - sorted[i]) > 1e-5 ||
				    fabs(hits[i].similarity - own) > 1e-5)
					fail_msg("%s dim %d query %zu rank %zu: got %.7f (face %lld, reference %.7f), "
					         "reference rank value %.7f",
					         isas[s], dim, j, i, hits[i].similarity, (long long)hits[i].face_id,
					         own, sorted[i]);
				assert_int_equal(hits[i].person_id, 1000 + hits[i].face_id);
			}
		}
		gallery_free(&g);
		assert_null(g);
	}
	free(by_face);
	free(sorted);
	free(q);
	free(v);
}

static void test_exact_matches_reference(void **state)
{
	(void)state;
	check_exact_against_reference(192);
	check_exact_against_reference(100); /* rows padded: 100 values in a 112-float row */
	check_exact_against_reference(3);
}

/* The compressed kernels: int8 bit-identical across ISAs (exact integer dots), float16 within rounding. */
static void test_kernels_agree(void **state)
{
	(void)state;
	const int dims[] = { 192, 77 };
	const int formats[] = { GALLERY_INT8, GALLERY_FLOAT16 };
	rng r = { 7 };
	const size_t n = 1003, queries = 10, k = 8; /* n not a multiple of the 4-row AVX-512 step */
	for (size_t di = 0; di < MIEN_ARRAY_LEN(dims); di++) {
		int dim = dims[di];
		float *v = random_vectors(&r, n, dim);
		float *q = random_vectors(&r, queries, dim);
		for (size_t fi = 0; fi < MIEN_ARRAY_LEN(formats); fi++) {
			gallery *g[3];
			for (size_t s = 0; s < 3; s++) {
				g[s] = make_gallery(isas[s], dim, formats[fi]);
				add_all(g[s], v, n, dim);
			}
			for (size_t j = 0; j < queries; j++) {
				gallery_hit base[8], other[8];
				size_t nb, no;
				search_ok(g[0], q + j * dim, dim, k, base, &nb);
				assert_int_equal(nb, k);
				for (size_t s = 1; s < 3; s++) {
					search_ok(g[s], q + j * dim, dim, k, other, &no);
					assert_int_equal(no, nb);
					for (size_t i = 0; i < k; i++) {
						double tol = formats[fi] == GALLERY_INT8 ? 0.0 : 1e-5;
						if (fabs(other[i].similarity - base[i].similarity) > tol)
							fail_msg("format %d dim %d %s vs portable, rank %zu: %.8f vs "
							         "%.8f",
							         formats[fi], dim, isas[s], i, other[i].similarity,
							         base[i].similarity);
						if (formats[fi] == GALLERY_INT8)
							assert_int_equal(other[i].face_id, base[i].face_id);
					}
				}
				/* and close to the true cosine: int8 within 0.01, float16 within 0.002 */
				for (size_t i = 0; i < k; i++) {
					double truth = ref_cosine(q + j * dim, v + base[i].face_id * dim, dim);
					double tol = formats[fi] == GALLERY_INT8 ? 0.01 : 0.002;
					if (fabs(base[i].similarity - truth) > tol)
						fail_msg("format %d: similarity %.5f, true cosine %.5f", formats[fi],
						         base[i].similarity, truth);
				}
			}
			for (size_t s = 0; s < 3; s++)
				gallery_free(&g[s]);
		}
		free(q);
		free(v);
	}
}

/* recall@1 of int8 on noisy queries (cosine ~0.7 to a stored face): the truth is the source face, checked
 * against the double reference too. */
static void test_int8_recall(void **state)
{
	(void)state;
	const int dim = 192;
	const size_t n = 20000, queries = 1000;
	rng r = { 2024 };
	float *v = random_vectors(&r, n, dim);
	gallery *g = make_gallery(NULL, dim, GALLERY_INT8);
	add_all(g, v, n, dim);
	float q[192];
	size_t hits_ok = 0;
	for (size_t j = 0; j < queries; j++) {
		size_t source = rng_next(&r) % n;
		noisy_copy(&r, v + source * dim, dim, q);
		gallery_hit hit;
		size_t count;
		search_ok(g, q, dim, 1, &hit, &count);
		assert_int_equal(count, 1);
		hits_ok += (size_t)hit.face_id == source;
	}
	/* the reference agrees that the sources are the true nearest (spot check on 20 queries) */
	for (size_t j = 0; j < 20; j++) {
		size_t source = rng_next(&r) % n;
		noisy_copy(&r, v + source * dim, dim, q);
		double best = -2;
		size_t arg = 0;
		for (size_t i = 0; i < n; i++) {
			double c = ref_cosine(q, v + i * dim, dim);
			if (c > best) {
				best = c;
				arg = i;
			}
		}
		assert_int_equal(arg, source);
	}
	double recall = (double)hits_ok / queries;
	if (recall < 0.999)
		fail_msg("int8 recall@1 %.4f < 0.999 (%zu of %zu)", recall, hits_ok, queries);
	gallery_free(&g);
	free(v);
}

/* A person with many close faces appears once, with its best face; the others still fill the top k. */
static void test_distinct_people(void **state)
{
	(void)state;
	const int dim = 64;
	rng r = { 99 };
	float *v = random_vectors(&r, 200, dim);
	const int formats[] = { GALLERY_FLOAT32, GALLERY_INT8, GALLERY_FLOAT16 };
	for (size_t fi = 0; fi < MIEN_ARRAY_LEN(formats); fi++) {
		gallery *g = make_gallery(NULL, dim, formats[fi]);
		mien_error err = { 0 };
		/* person 7: faces 500..509 around v[0]'s direction (cosine ~1 / sqrt(1 + spread^2), so 0.999 for
		 * face 505 and 0.98..0.93 for the others), all closer than any random face (~0.35 at best) */
		double norm = 0;
		for (int d = 0; d < dim; d++)
			norm += (double)v[d] * v[d];
		norm = sqrt(norm);
		float face[64];
		for (int f = 0; f < 10; f++) {
			double spread = f == 5 ? 0.05 : 0.2 + 0.02 * f;
			for (int d = 0; d < dim; d++)
				face[d] = (float)(v[d] / norm + spread * rng_gauss(&r) / sqrt(dim));
			assert_int_equal(gallery_add(g, 500 + f, 7, face, dim, MODEL, &err), MIEN_OK);
		}
		for (int i = 1; i < 200; i++)
			assert_int_equal(gallery_add(g, i, 1000 + i, v + i * dim, dim, MODEL, &err), MIEN_OK);
		assert_int_equal(gallery_size(g), 209);
		assert_int_equal(gallery_people(g), 200);
		gallery_hit hits[5];
		size_t count;
		search_ok(g, v, dim, 5, hits, &count);
		assert_int_equal(count, 5);
		assert_int_equal(hits[0].person_id, 7);
		assert_int_equal(hits[0].face_id, 505);
		for (size_t i = 1; i < count; i++) {
			assert_true(hits[i].person_id != 7);
			assert_true(hits[i].similarity <= hits[i - 1].similarity);
		}
		/* the other four are the reference's best four among the random faces */
		double best[199];
		for (int i = 1; i < 200; i++)
			best[i - 1] = ref_cosine(v, v + i * dim, dim);
		qsort(best, 199, sizeof(double), cmp_desc);
		double tol = formats[fi] == GALLERY_FLOAT32 ? 1e-5 : 0.01;
		for (size_t i = 1; i < 5; i++)
			if (fabs(hits[i].similarity - best[i - 1]) > tol)
				fail_msg("format %d rank %zu: %.5f vs reference %.5f", formats[fi], i,
				         hits[i].similarity, best[i - 1]);
		/* k larger than the people: one hit per person */
		gallery_hit all[GALLERY_MAX_K];
		search_ok(g, v, dim, GALLERY_MAX_K, all, &count);
		assert_int_equal(count, GALLERY_MAX_K);
		for (size_t i = 0; i < count; i++)
			for (size_t j = i + 1; j < count; j++)
				assert_true(all[i].person_id != all[j].person_id);
		gallery_free(&g);
	}
	free(v);
}

/* Removing from the middle, the end and whole people: gone from every search, the rest still found. */
static void test_remove(void **state)
{
	(void)state;
	const int dim = 32;
	const size_t n = 300;
	rng r = { 5 };
	float *v = random_vectors(&r, n, dim);
	gallery *g = make_gallery(NULL, dim, GALLERY_INT8);
	mien_error err = { 0 };
	/* face i belongs to person i / 3 (three faces a person) */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(gallery_add(g, (int64_t)i, (int64_t)i / 3, v + i * dim, dim, MODEL, &err), MIEN_OK);
	assert_int_equal(gallery_people(g), n / 3);

	assert_int_equal(gallery_remove_face(g, 150), 1);            /* the middle */
	assert_int_equal(gallery_remove_face(g, (int64_t)n - 1), 1); /* the last row */
	assert_int_equal(gallery_remove_face(g, 150), MIEN_ENOENT);
	assert_int_equal(gallery_remove_person(g, 20), 3); /* faces 60, 61, 62 */
	assert_int_equal(gallery_remove_person(g, 50), 2); /* 150 went already */
	assert_int_equal(gallery_remove_person(g, 20), MIEN_ENOENT);
	assert_int_equal(gallery_remove_person(g, 12345), MIEN_ENOENT);
	assert_int_equal(gallery_size(g), n - 7);
	assert_int_equal(gallery_people(g), n / 3 - 2);

	for (size_t i = 0; i < n; i++) {
		int gone = i == 150 || i == n - 1 || (i >= 60 && i <= 62) || i / 3 == 50;
		gallery_hit hits[10];
		size_t count;
		search_ok(g, v + i * dim, dim, 10, hits, &count);
		assert_int_equal(count, 10);
		for (size_t h = 0; h < count; h++) {
			assert_true(hits[h].face_id != 150 && hits[h].face_id != (int64_t)n - 1);
			assert_true(hits[h].person_id != 20 && hits[h].person_id != 50);
			assert_int_equal(hits[h].person_id, hits[h].face_id / 3);
		}
		if (!gone) { /* its own vector finds it first */
			assert_int_equal(hits[0].face_id, i);
			assert_true(hits[0].similarity > 0.99f);
		}
	}
	/* everything can go, and come back */
	for (int64_t p = 0; p < (int64_t)n / 3; p++)
		gallery_remove_person(g, p);
	assert_int_equal(gallery_size(g), 0);
	assert_int_equal(gallery_people(g), 0);
	gallery_hit hit;
	size_t count = 99;
	search_ok(g, v, dim, 1, &hit, &count);
	assert_int_equal(count, 0);
	assert_int_equal(gallery_add(g, 1, 2, v, dim, MODEL, &err), MIEN_OK);
	search_ok(g, v, dim, 1, &hit, &count);
	assert_int_equal(count, 1);
	assert_int_equal(hit.face_id, 1);
	gallery_free(&g);
	free(v);
}

/* Adding an existing face id replaces its vector and its person. */
static void test_replace_face(void **state)
{
	(void)state;
	const int dim = 16;
	rng r = { 11 };
	float *v = random_vectors(&r, 3, dim);
	gallery *g = make_gallery(NULL, dim, GALLERY_FLOAT32);
	mien_error err = { 0 };
	assert_int_equal(gallery_add(g, 1, 10, v, dim, MODEL, &err), MIEN_OK);
	assert_int_equal(gallery_add(g, 2, 20, v + dim, dim, MODEL, &err), MIEN_OK);
	assert_int_equal(gallery_add(g, 1, 30, v + 2 * dim, dim, MODEL, &err), MIEN_OK);
	assert_int_equal(gallery_size(g), 2);
	assert_int_equal(gallery_people(g), 2); /* person 10 has no faces left */
	gallery_hit hits[3];
	size_t count;
	search_ok(g, v + 2 * dim, dim, 3, hits, &count);
	assert_int_equal(count, 2);
	assert_int_equal(hits[0].face_id, 1);
	assert_int_equal(hits[0].person_id, 30);
	assert_true(fabs(hits[0].similarity - 1.0) < 1e-6);
	assert_int_equal(gallery_remove_person(g, 10), MIEN_ENOENT);
	gallery_free(&g);
	free(v);
}

static void test_errors(void **state)
{
	(void)state;
	gallery *g = NULL;
	mien_error err = { 0 };
	char long_name[80];
	memset(long_name, 'm', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(gallery_create(long_name, 8, GALLERY_INT8, &g, &err), MIEN_EINVAL);
	assert_int_equal(gallery_create("", 8, GALLERY_INT8, &g, &err), MIEN_EINVAL);
	assert_int_equal(gallery_create(MODEL, 0, GALLERY_INT8, &g, &err), MIEN_EINVAL);
	assert_int_equal(gallery_create(MODEL, GALLERY_MAX_DIM + 1, GALLERY_INT8, &g, &err), MIEN_EINVAL);
	assert_int_equal(gallery_create(MODEL, 8, 3, &g, &err), MIEN_EINVAL);
	setenv("MIEN_GALLERY_ISA", "sse9", 1);
	assert_int_equal(gallery_create(MODEL, 8, GALLERY_INT8, &g, &err), MIEN_EINVAL);
	assert_non_null(strstr(err.message, "MIEN_GALLERY_ISA"));
	unsetenv("MIEN_GALLERY_ISA");
	assert_null(g);
	gallery_free(&g);
	gallery_free(NULL);

	g = make_gallery(NULL, 8, GALLERY_INT8);
	const float ok[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	float bad[8] = { 0 };
	assert_int_equal(gallery_add(g, 1, 1, ok, 8, "other-embedder", &err), MIEN_EINVAL);
	assert_non_null(strstr(err.message, "other-embedder"));
	assert_int_equal(gallery_add(g, 1, 1, ok, 8, NULL, &err), MIEN_EINVAL);
	assert_int_equal(gallery_add(g, 1, 1, ok, 7, MODEL, &err), MIEN_EINVAL);
	assert_non_null(strstr(err.message, "7 values"));
	assert_int_equal(gallery_add(g, 1, 1, bad, 8, MODEL, &err), MIEN_EINVAL); /* zero */
	assert_non_null(strstr(err.message, "zero"));
	bad[3] = NAN;
	assert_int_equal(gallery_add(g, 1, 1, bad, 8, MODEL, &err), MIEN_EINVAL);
	bad[3] = INFINITY;
	assert_int_equal(gallery_add(g, 1, 1, bad, 8, MODEL, &err), MIEN_EINVAL);
	bad[3] = 3e38f; /* finite, but its square overflows a float (not the double the norm uses) */
	assert_int_equal(gallery_add(g, 1, 1, bad, 8, MODEL, &err), MIEN_OK);
	assert_int_equal(gallery_size(g), 1);

	gallery_hit hits[GALLERY_MAX_K + 1];
	size_t count = 5;
	assert_int_equal(gallery_search(g, ok, 8, "other-embedder", 1, hits, &count, &err), MIEN_EINVAL);
	assert_int_equal(count, 0);
	assert_int_equal(gallery_search(g, ok, 9, MODEL, 1, hits, &count, &err), MIEN_EINVAL);
	assert_int_equal(gallery_search(g, (float[8]){ 0 }, 8, MODEL, 1, hits, &count, &err), MIEN_EINVAL);
	assert_int_equal(gallery_search(g, ok, 8, MODEL, GALLERY_MAX_K + 1, hits, &count, &err), MIEN_ERANGE);
	assert_int_equal(gallery_search(g, ok, 8, MODEL, 0, NULL, &count, &err), MIEN_OK);
	assert_int_equal(count, 0);
	assert_int_equal(gallery_search(g, ok, 8, MODEL, 1, NULL, &count, &err), MIEN_EINVAL);
	assert_int_equal(gallery_set_threads(g, 0), MIEN_ERANGE);
	assert_int_equal(gallery_set_threads(g, GALLERY_MAX_THREADS + 1), MIEN_ERANGE);
	assert_int_equal(gallery_remove_face(NULL, 1), MIEN_EINVAL);
	assert_true(gallery_memory_bytes(g) > 1024 * 8);
	gallery_free(&g);
}

/* Searches split across threads give the one-thread answer (needs GALLERY_PARALLEL_MIN faces). */
static void test_threaded_search(void **state)
{
	(void)state;
	const int dim = 16;
	const size_t n = GALLERY_PARALLEL_MIN + 1234;
	rng r = { 77 };
	float *v = random_vectors(&r, n, dim);
	gallery *g = make_gallery(NULL, dim, GALLERY_INT8);
	mien_error err = { 0 };
	for (size_t i = 0; i < n; i++) /* ten faces a person, spread across the slices */
		assert_int_equal(gallery_add(g, (int64_t)i, (int64_t)(i % (n / 10)), v + i * dim, dim, MODEL, &err),
		                 MIEN_OK);
	float *q = random_vectors(&r, 5, dim);
	for (size_t j = 0; j < 5; j++) {
		gallery_hit one[20], many[20];
		size_t n1, n4;
		assert_int_equal(gallery_set_threads(g, 1), MIEN_OK);
		search_ok(g, q + j * dim, dim, 20, one, &n1);
		assert_int_equal(gallery_set_threads(g, 3), MIEN_OK);
		search_ok(g, q + j * dim, dim, 20, many, &n4);
		assert_int_equal(n1, n4);
		for (size_t i = 0; i < n1; i++) {
			assert_int_equal(one[i].person_id, many[i].person_id);
			assert_int_equal(one[i].face_id, many[i].face_id);
			assert_true(one[i].similarity == many[i].similarity);
		}
	}
	free(q);
	gallery_free(&g);
	free(v);
}

/* --- restricted searches (gallery_search_where): a similarity floor and a keep predicate ---------------------- */

typedef struct keep_even {
	const float *query, *v;
	int dim;
	double floor;
	atomic_int calls, below_floor;
} keep_even;

/* Keeps even face ids; counts its calls, and those for rows at or below the floor (there must be none). */
static int keep_even_faces(void *ctx, int64_t person_id, int64_t face_id)
{
	keep_even *k = ctx;
	atomic_fetch_add(&k->calls, 1);
	if (ref_cosine(k->query, k->v + face_id * k->dim, k->dim) <= k->floor - 1e-5)
		atomic_fetch_add(&k->below_floor, 1);
	return person_id == 1000 + face_id && face_id % 2 == 0;
}

static void test_search_where(void **state)
{
	(void)state;
	const int dim = 32;
	const size_t n = 3000, k = 25;
	rng r = { 99 };
	float *v = random_vectors(&r, n, dim);
	float *q = random_vectors(&r, 4, dim);
	double *ref = malloc(n * sizeof(double));
	assert_non_null(ref);
	gallery *g = make_gallery(NULL, dim, GALLERY_FLOAT32);
	add_all(g, v, n, dim);
	const float floors[] = { -INFINITY, 0.2f, 0.45f, 0.99f };
	for (size_t j = 0; j < 4; j++) {
		const float *query = q + j * dim;
		for (size_t f = 0; f < MIEN_ARRAY_LEN(floors); f++) {
			/* the reference: even faces above the floor, best first */
			size_t m = 0;
			for (size_t i = 0; i < n; i += 2) {
				double c = ref_cosine(query, v + i * dim, dim);
				if (c > floors[f])
					ref[m++] = c;
			}
			qsort(ref, m, sizeof(double), cmp_desc);
			keep_even kept = { .query = query, .v = v, .dim = dim, .floor = floors[f] };
			gallery_hit hits[25];
			size_t count = 99;
			mien_error err = { 0 };
			int rc = gallery_search_where(g, query, dim, MODEL, k, floors[f], keep_even_faces, &kept, hits,
			                              &count, &err);
			if (rc != MIEN_OK)
				fail_msg("gallery_search_where: %s", err.message);
			assert_int_equal(count, m < k ? m : k);
			for (size_t i = 0; i < count; i++) {
				assert_int_equal(hits[i].face_id % 2, 0);
				assert_true(hits[i].similarity > floors[f]);
				if (fabs(hits[i].similarity - ref[i]) > 1e-5)
					fail_msg("floor %g query %zu rank %zu: %.7f, reference %.7f", (double)floors[f],
					         j, i, hits[i].similarity, ref[i]);
			}
			assert_int_equal(atomic_load(&kept.below_floor), 0);
			/* the predicate runs only on rows that would enter the top list: far fewer than the rows */
			assert_true(atomic_load(&kept.calls) < (int)n / 4);
			/* without a predicate: the same as gallery_search cut at the floor */
			gallery_hit all[25];
			size_t n_all = 0;
			assert_int_equal(gallery_search_where(g, query, dim, MODEL, k, floors[f], NULL, NULL, hits,
			                                      &count, &err),
			                 MIEN_OK);
			search_ok(g, query, dim, k, all, &n_all);
			size_t above = 0;
			while (above < n_all && all[above].similarity > floors[f])
				above++;
			assert_int_equal(count, above);
			for (size_t i = 0; i < count; i++)
				assert_int_equal(hits[i].face_id, all[i].face_id);
		}
	}
	mien_error err = { 0 };
	size_t count;
	gallery_hit hit;
	assert_int_equal(gallery_search_where(g, q, dim, MODEL, 1, NAN, NULL, NULL, &hit, &count, &err), MIEN_EINVAL);
	gallery_free(&g);
	free(ref);
	free(q);
	free(v);
}

/* The same predicate across threads (int8, past GALLERY_PARALLEL_MIN): every slice applies it, the merge is exact. */
static void test_search_where_threaded(void **state)
{
	(void)state;
	const int dim = 16;
	const size_t n = GALLERY_PARALLEL_MIN + 999;
	rng r = { 123 };
	float *v = random_vectors(&r, n, dim);
	gallery *g = make_gallery(NULL, dim, GALLERY_INT8);
	add_all(g, v, n, dim);
	float *q = random_vectors(&r, 3, dim);
	for (size_t j = 0; j < 3; j++) {
		gallery_hit one[40], many[40];
		size_t n1 = 0, n3 = 0;
		mien_error err = { 0 };
		/* int8 scores are within ~0.003 of the cosine: the floor check allows for it */
		keep_even k1 = { .query = q + j * dim, .v = v, .dim = dim, .floor = 0.29 };
		keep_even k3 = k1;
		assert_int_equal(gallery_set_threads(g, 1), MIEN_OK);
		assert_int_equal(gallery_search_where(g, q + j * dim, dim, MODEL, 40, 0.3f, keep_even_faces, &k1, one,
		                                      &n1, &err),
		                 MIEN_OK);
		assert_int_equal(gallery_set_threads(g, 3), MIEN_OK);
		assert_int_equal(gallery_search_where(g, q + j * dim, dim, MODEL, 40, 0.3f, keep_even_faces, &k3, many,
		                                      &n3, &err),
		                 MIEN_OK);
		assert_int_equal(n1, 40);
		assert_int_equal(n1, n3);
		for (size_t i = 0; i < n1; i++) {
			assert_int_equal(one[i].face_id, many[i].face_id);
			assert_int_equal(one[i].face_id % 2, 0);
			assert_true(one[i].similarity == many[i].similarity && one[i].similarity > 0.3f);
		}
		assert_int_equal(atomic_load(&k3.below_floor), 0);
	}
	free(q);
	gallery_free(&g);
	free(v);
}

/* --- concurrency: four searching threads, one writer adding and removing ------------------------------ */

#define STABLE    400
#define RACE_DIM  24
#define TRANSIENT 1000000

typedef struct race {
	gallery *g;
	const float *stable; /* STABLE vectors, face i = person i, never removed */
	const float *transient;
	atomic_int stop;
	int failures;
	pthread_mutex_t mutex;
} race;

static void *reader(void *arg)
{
	race *x = arg;
	for (int round = 0; !atomic_load(&x->stop) || round < 50; round++) {
		size_t i = (size_t)round * 7 % STABLE;
		gallery_hit hits[10];
		size_t count = 0;
		mien_error err = { 0 };
		int bad = gallery_search(x->g, x->stable + i * RACE_DIM, RACE_DIM, MODEL, 10, hits, &count, &err) !=
		          MIEN_OK;
		/* its own stable face is first (transient vectors are random, never that close), hits are sorted,
		 * one per person, and every hit is a face that exists or existed */
		bad |= count != 10 || hits[0].face_id != (int64_t)i || hits[0].similarity < 0.99f;
		for (size_t h = 0; h < count && !bad; h++) {
			int stable = hits[h].face_id < STABLE && hits[h].person_id == hits[h].face_id;
			int transient = hits[h].face_id >= TRANSIENT && hits[h].person_id == hits[h].face_id / 2;
			bad |= !stable && !transient;
			bad |= h > 0 && hits[h].similarity > hits[h - 1].similarity;
			for (size_t o = 0; o < h; o++)
				bad |= hits[o].person_id == hits[h].person_id;
		}
		if (bad) {
			pthread_mutex_lock(&x->mutex);
			x->failures++;
			pthread_mutex_unlock(&x->mutex);
		}
	}
	return NULL;
}

static void test_concurrent_search_and_write(void **state)
{
	(void)state;
	rng r = { 31337 };
	float *stable = random_vectors(&r, STABLE, RACE_DIM);
	float *transient = random_vectors(&r, 600, RACE_DIM);
	race x = { .stable = stable, .transient = transient };
	pthread_mutex_init(&x.mutex, NULL);
	x.g = make_gallery(NULL, RACE_DIM, GALLERY_INT8);
	mien_error err = { 0 };
	for (int i = 0; i < STABLE; i++)
		assert_int_equal(gallery_add(x.g, i, i, stable + i * RACE_DIM, RACE_DIM, MODEL, &err), MIEN_OK);
	pthread_t readers[4];
	for (int t = 0; t < 4; t++)
		assert_int_equal(pthread_create(&readers[t], NULL, reader, &x), 0);
	/* the writer: transient faces 1000000.. in pairs per person, added, replaced, removed */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 600; i++)
			assert_int_equal(gallery_add(x.g, TRANSIENT + i, (TRANSIENT + i) / 2, transient + i * RACE_DIM,
			                             RACE_DIM, MODEL, &err),
			                 MIEN_OK);
		for (int i = 0; i < 600; i += 3)
			assert_int_equal(gallery_remove_face(x.g, TRANSIENT + i), 1);
		for (int p = TRANSIENT / 2; p < (TRANSIENT + 600) / 2; p += 2)
			gallery_remove_person(x.g, p);
		for (int i = 0; i < 600; i++)
			gallery_remove_face(x.g, TRANSIENT + i);
		assert_int_equal(gallery_size(x.g), STABLE);
	}
	atomic_store(&x.stop, 1);
	for (int t = 0; t < 4; t++)
		pthread_join(readers[t], NULL);
	assert_int_equal(x.failures, 0);
	assert_int_equal(gallery_people(x.g), STABLE);
	gallery_free(&x.g);
	pthread_mutex_destroy(&x.mutex);
	free(transient);
	free(stable);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_matches_reference),
		cmocka_unit_test(test_kernels_agree),
		cmocka_unit_test(test_int8_recall),
		cmocka_unit_test(test_distinct_people),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_replace_face),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_threaded_search),
		cmocka_unit_test(test_search_where),
		cmocka_unit_test(test_search_where_threaded),
		cmocka_unit_test(test_concurrent_search_and_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
