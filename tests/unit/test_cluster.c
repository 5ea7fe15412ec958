/*
 * test_cluster.c — grouping face embeddings (src/face/cluster.h) on synthetic embeddings whose right answers follow
 * from how they are built: faces at known angles in a plane (mean similarities worked out by hand from their
 * cosines), and well-separated random people in 128 dimensions. Join, new, merge of clusters that grew towards
 * each other (and not of dismissed ones), subtract and remove, ties, order independence, the one-pass merge
 * against repeated merge steps, face_cluster_run's numbering, the scores on a hand-worked example, bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "face/cluster.h"
#include "face/face.h"

#define PI 3.14159265358979323846

/* A face in the plane at `degrees` (dim 2). */
static void at(float *v, double degrees)
{
	v[0] = (float)cos(degrees * PI / 180);
	v[1] = (float)sin(degrees * PI / 180);
}

static double cosd(double degrees)
{
	return cos(degrees * PI / 180);
}

static face_cluster_set *make(int dim, float merge)
{
	face_cluster_set *s = NULL;
	mien_error err = { 0 };
	assert_int_equal(face_cluster_create(dim, merge, &s, &err), MIEN_OK);
	assert_non_null(s);
	return s;
}

/* What the online grouping does with one face: join the nearest cluster at `t`, else start cluster `next`. */
static int64_t visit(face_cluster_set *s, const float *e, float t, int64_t next)
{
	face_cluster_hit hit;
	mien_error err = { 0 };
	assert_int_equal(face_cluster_nearest(s, e, &hit, &err), MIEN_OK);
	if (hit.id && hit.similarity >= t) {
		assert_int_equal(face_cluster_add(s, hit.id, e, &err), MIEN_OK);
		return hit.id;
	}
	assert_int_equal(face_cluster_put(s, next, e, 1, 0, &err), MIEN_OK);
	return next;
}

static void test_join_and_new(void **state)
{
	(void)state;
	face_cluster_set *s = make(2, 0.8f);
	float e[2];
	face_cluster_hit hit;
	mien_error err = { 0 };
	at(e, 0);
	assert_int_equal(face_cluster_nearest(s, e, &hit, &err), MIEN_OK);
	assert_int_equal(hit.id, 0); /* empty */
	assert_int_equal(visit(s, e, 0.8f, 1), 1);
	at(e, 20); /* cos 20° = 0.940 >= 0.8: joins */
	assert_int_equal(visit(s, e, 0.8f, 2), 1);
	at(e, 90); /* mean of cos 90° and cos 70° = 0.171: new */
	assert_int_equal(visit(s, e, 0.8f, 2), 2);
	assert_int_equal(face_cluster_count(s), 2);
	/* a face at 10°: the mean similarity to {0°, 20°} is cos 10°; to {90°} cos 80° */
	at(e, 10);
	assert_int_equal(face_cluster_nearest(s, e, &hit, &err), MIEN_OK);
	assert_int_equal(hit.id, 1);
	assert_int_equal(hit.n, 2);
	assert_int_equal(hit.dismissed, 0);
	assert_float_equal(hit.similarity, cosd(10), 1e-5);
	/* not normalised: the same */
	e[0] *= 7;
	e[1] *= 7;
	assert_int_equal(face_cluster_nearest(s, e, &hit, &err), MIEN_OK);
	assert_float_equal(hit.similarity, cosd(10), 1e-5);
	float sum[2];
	int n = 0;
	assert_int_equal(face_cluster_get(s, 1, sum, &n), MIEN_OK);
	assert_int_equal(n, 2);
	assert_float_equal(sum[0], 1 + cosd(20), 1e-5);
	assert_float_equal(sum[1], sin(20 * PI / 180), 1e-5);
	face_cluster_free(&s);
	assert_null(s);
	face_cluster_free(&s); /* NULL: nothing */
	face_cluster_free(NULL);
}

/* Cluster A starts at 0°, B at 50° (cos 50° = 0.643 < 0.8: apart). A face at 20° joins A, one at 30° joins B
 * (cos 20° = 0.940 to B's 50° against (cos 30° + cos 10°) / 2 = 0.925 to A); then A {0°, 20°} and B {50°, 30°}
 * have a mean similarity of (cos 50° + 2 cos 30° + cos 10°) / 4 = 0.840 >= 0.8: they merge. */
static face_cluster_set *grown_together(int dismiss_b)
{
	face_cluster_set *s = make(2, 0.8f);
	float e[2];
	int64_t into, from;
	float sim;
	at(e, 0);
	assert_int_equal(visit(s, e, 0.8f, 1), 1);
	at(e, 50);
	assert_int_equal(visit(s, e, 0.8f, 2), 2);
	assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 0);
	at(e, 20);
	assert_int_equal(visit(s, e, 0.8f, 3), 1);
	at(e, 30);
	assert_int_equal(visit(s, e, 0.8f, 3), 2);
	if (dismiss_b)
		assert_int_equal(face_cluster_set_dismissed(s, 2, 1), MIEN_OK);
	return s;
}

static void test_merge_grown_together(void **state)
{
	(void)state;
	double expected = (cosd(50) + 2 * cosd(30) + cosd(10)) / 4;
	int64_t into, from;
	float sim;
	face_cluster_set *s = grown_together(0);
	assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 1);
	assert_int_equal(into, 1); /* two members each: the lower id keeps */
	assert_int_equal(from, 2);
	assert_float_equal(sim, expected, 1e-5);
	assert_int_equal(face_cluster_count(s), 1);
	float sum[2];
	int n = 0;
	assert_int_equal(face_cluster_get(s, 1, sum, &n), MIEN_OK);
	assert_int_equal(n, 4);
	assert_float_equal(sum[0], 1 + cosd(20) + cosd(30) + cosd(50), 1e-5);
	assert_int_equal(face_cluster_get(s, 2, sum, &n), MIEN_ENOENT);
	assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 0);
	face_cluster_free(&s);

	/* the one-pass merge does the same */
	s = grown_together(0);
	size_t merges = 0;
	mien_error err = { 0 };
	assert_int_equal(face_cluster_merge_all(s, NULL, NULL, &merges, &err), MIEN_OK);
	assert_int_equal(merges, 1);
	assert_int_equal(face_cluster_count(s), 1);
	assert_int_equal(face_cluster_get(s, 1, sum, &n), MIEN_OK);
	assert_int_equal(n, 4);
	face_cluster_free(&s);
}

static void test_dismissed_never_merge(void **state)
{
	(void)state;
	int64_t into, from;
	float sim;
	size_t merges = 5;
	mien_error err = { 0 };
	face_cluster_set *s = grown_together(1);
	assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 0);
	assert_int_equal(into, 0);
	assert_int_equal(face_cluster_merge_all(s, NULL, NULL, &merges, &err), MIEN_OK);
	assert_int_equal(merges, 0);
	assert_int_equal(face_cluster_count(s), 2);
	/* but it is still found, and says it is dismissed */
	float e[2];
	face_cluster_hit hit;
	at(e, 40);
	assert_int_equal(face_cluster_nearest(s, e, &hit, &err), MIEN_OK);
	assert_int_equal(hit.id, 2);
	assert_int_equal(hit.dismissed, 1);
	/* taken back: it merges */
	assert_int_equal(face_cluster_set_dismissed(s, 2, 0), MIEN_OK);
	assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 1);
	assert_int_equal(face_cluster_set_dismissed(s, 2, 1), MIEN_ENOENT);
	face_cluster_free(&s);
}

static void test_subtract_and_remove(void **state)
{
	(void)state;
	face_cluster_set *s = make(2, 0.8f);
	float a[2], b[2], sum[2];
	int n = 0;
	mien_error err = { 0 };
	at(a, 0);
	at(b, 20);
	assert_int_equal(face_cluster_put(s, 7, a, 1, 0, &err), MIEN_OK);
	assert_int_equal(face_cluster_add(s, 7, b, &err), MIEN_OK);
	assert_int_equal(face_cluster_subtract(s, 7, b, &err), MIEN_OK);
	assert_int_equal(face_cluster_get(s, 7, sum, &n), MIEN_OK);
	assert_int_equal(n, 1);
	assert_float_equal(sum[0], 1, 1e-6);
	assert_float_equal(sum[1], 0, 1e-6);
	/* the last face taken out: the cluster goes */
	assert_int_equal(face_cluster_subtract(s, 7, a, &err), MIEN_OK);
	assert_int_equal(face_cluster_count(s), 0);
	assert_int_equal(face_cluster_subtract(s, 7, a, &err), MIEN_ENOENT);
	/* put replaces; remove removes once */
	assert_int_equal(face_cluster_put(s, 3, a, 1, 0, &err), MIEN_OK);
	float two[2] = { a[0] + b[0], a[1] + b[1] };
	assert_int_equal(face_cluster_put(s, 3, two, 2, 1, &err), MIEN_OK);
	assert_int_equal(face_cluster_count(s), 1);
	assert_int_equal(face_cluster_get(s, 3, sum, &n), MIEN_OK);
	assert_int_equal(n, 2);
	assert_int_equal(face_cluster_remove(s, 3), MIEN_OK);
	assert_int_equal(face_cluster_remove(s, 3), MIEN_ENOENT);
	assert_int_equal(face_cluster_add(s, 3, a, &err), MIEN_ENOENT);
	face_cluster_free(&s);
}

/* Equal similarities are settled by ids, never by the order clusters were stored in. */
static void test_ties(void **state)
{
	(void)state;
	float e[2], probe[2];
	face_cluster_hit hit;
	int64_t into, from;
	float sim;
	mien_error err = { 0 };
	at(probe, 0);
	for (int order = 0; order < 2; order++) {
		/* clusters 4 at +30° and 9 at -30°: a face at 0° is as close to both */
		face_cluster_set *s = make(2, 0.5f);
		at(e, order ? -30 : 30);
		assert_int_equal(face_cluster_put(s, order ? 9 : 4, e, 1, 0, &err), MIEN_OK);
		at(e, order ? 30 : -30);
		assert_int_equal(face_cluster_put(s, order ? 4 : 9, e, 1, 0, &err), MIEN_OK);
		assert_int_equal(face_cluster_nearest(s, probe, &hit, &err), MIEN_OK);
		assert_int_equal(hit.id, 4);
		assert_float_equal(hit.similarity, cosd(30), 1e-6);
		face_cluster_free(&s);
	}
	for (int order = 0; order < 2; order++) {
		/* pairs (2, 5) and (3, 8), one the mirror image of the other through the origin, so exactly as close
		 * (0.6), far from each other (-0.6, -1): (2, 5) merges first, and 2 keeps */
		face_cluster_set *s = make(2, 0.5f);
		const int64_t ids[4] = { 2, 5, 3, 8 };
		const float faces[4][2] = { { 1, 0 }, { 0.6f, 0.8f }, { -1, 0 }, { -0.6f, -0.8f } };
		for (int k = 0; k < 4; k++) {
			int i = order ? 3 - k : k;
			assert_int_equal(face_cluster_put(s, ids[i], faces[i], 1, 0, &err), MIEN_OK);
		}
		assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 1);
		assert_int_equal(into, 2);
		assert_int_equal(from, 5);
		assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 1);
		assert_int_equal(into, 3);
		assert_int_equal(from, 8);
		assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 0);
		face_cluster_free(&s);
	}
	/* the larger cluster keeps, whatever its id */
	face_cluster_set *s = make(2, 0.7f);
	at(e, 0);
	assert_int_equal(face_cluster_put(s, 1, e, 1, 0, &err), MIEN_OK);
	at(e, 10);
	assert_int_equal(face_cluster_put(s, 6, e, 1, 0, &err), MIEN_OK);
	at(e, 20);
	assert_int_equal(face_cluster_add(s, 6, e, &err), MIEN_OK);
	assert_int_equal(face_cluster_merge_step(s, &into, &from, &sim), 1);
	assert_int_equal(into, 6);
	assert_int_equal(from, 1);
	face_cluster_free(&s);
}

/* --- random people in 128 dimensions ------------------------------------------------------------------- */

#define DIM 128

static uint32_t rng_state;
static float rnd(void)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return (float)(rng_state >> 8) / (float)(1u << 24) - 0.5f;
}

/* Face f of person p: the person's random direction plus noise of relative size `noise` (0.6 keeps two faces of
 * one person at a cosine of about 0.7 and faces of different people near 0: well separated). */
static void person_face(int p, int f, float noise, float *v)
{
	float base[DIM];
	rng_state = 0x9e3779b9u * (uint32_t)(p + 1);
	for (int i = 0; i < DIM; i++)
		base[i] = rnd();
	rng_state = 0x85ebca6bu * (uint32_t)(p * 1000 + f + 1);
	double n = 0, nb = 0;
	for (int i = 0; i < DIM; i++)
		nb += (double)base[i] * base[i];
	for (int i = 0; i < DIM; i++) {
		v[i] = (float)(base[i] / sqrt(nb)) + noise * rnd() * (float)sqrt(12.0 / DIM);
		n += (double)v[i] * v[i];
	}
	for (int i = 0; i < DIM; i++)
		v[i] = (float)(v[i] / sqrt(n));
}

/* Same partition: faces i and j share a label in a exactly when they do in b. */
static int same_partition(const int *a, const int *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if ((a[i] == a[j]) != (b[i] == b[j]))
				return 0;
	return 1;
}

#define PEOPLE 8
#define FACES  10

static void test_order_independence(void **state)
{
	(void)state;
	const size_t n = PEOPLE * FACES;
	float *e = malloc(n * DIM * sizeof(float)), *shuffled = malloc(n * DIM * sizeof(float));
	int truth[PEOPLE * FACES], labels[PEOPLE * FACES], again[PEOPLE * FACES], back[PEOPLE * FACES];
	size_t order[PEOPLE * FACES];
	mien_error err = { 0 };
	assert_non_null(e);
	assert_non_null(shuffled);
	for (size_t i = 0; i < n; i++) {
		/* interleaved: person i % PEOPLE, so that each person's faces are spread through the list */
		truth[i] = (int)(i % PEOPLE);
		person_face(truth[i], (int)(i / PEOPLE), 0.6f, e + i * DIM);
	}
	assert_int_equal(face_cluster_run(e, n, DIM, 0.5f, labels, &err), MIEN_OK);
	assert_true(same_partition(labels, truth, n));
	face_cluster_scores sc;
	assert_int_equal(face_cluster_score(truth, labels, n, &sc, &err), MIEN_OK);
	assert_float_equal(sc.pair_f, 1, 1e-12);
	assert_int_equal(sc.clusters, PEOPLE);
	for (uint32_t seed = 1; seed <= 5; seed++) {
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		rng_state = seed * 2654435761u;
		for (size_t i = n; i > 1; i--) {
			rnd();
			size_t j = (rng_state >> 8) % i, t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t i = 0; i < n; i++)
			memcpy(shuffled + i * DIM, e + order[i] * DIM, DIM * sizeof(float));
		assert_int_equal(face_cluster_run(shuffled, n, DIM, 0.5f, again, &err), MIEN_OK);
		for (size_t i = 0; i < n; i++)
			back[order[i]] = again[i];
		assert_true(same_partition(back, labels, n));
		/* the online form, in this order, then a merge pass: the same partition too */
		face_cluster_set *s = make(DIM, 0.5f);
		int64_t next = 1;
		for (size_t i = 0; i < n; i++) {
			int64_t id = visit(s, shuffled + i * DIM, 0.5f, next);
			next += id == next;
			back[order[i]] = (int)id;
		}
		assert_int_equal(face_cluster_merge_all(s, NULL, NULL, NULL, &err), MIEN_OK);
		assert_int_equal(face_cluster_count(s), PEOPLE);
		assert_true(same_partition(back, truth, n));
		face_cluster_free(&s);
	}
	free(e);
	free(shuffled);
}

/* Records merges: parent[id - 1] = the cluster id was folded into. */
static int follow(void *ctx, int64_t into, int64_t from, float similarity)
{
	int64_t *parent = ctx;
	(void)similarity;
	parent[from - 1] = into;
	return 0;
}

static int64_t root(const int64_t *parent, int64_t id)
{
	while (parent[id - 1] != id)
		id = parent[id - 1];
	return id;
}

/* People that overlap (noise 2.5: a cosine of about 0.14 within a person, 0 ± 0.09 between two) and a threshold in
 * the thick of it, so that many merges happen in different orders: the one-pass merge ends with the clusters of
 * repeated merge steps. */
static void test_merge_all_equals_merge_steps(void **state)
{
	(void)state;
	const size_t n = 60;
	mien_error err = { 0 };
	face_cluster_set *a = make(DIM, 0.08f), *b = make(DIM, 0.08f);
	float v[DIM];
	int64_t pa[60], pb[60], into, from;
	float sim;
	for (size_t i = 0; i < n; i++) {
		person_face((int)(i % 6), (int)(i / 6), 2.5f, v);
		assert_int_equal(face_cluster_put(a, (int64_t)i + 1, v, 1, 0, &err), MIEN_OK);
		assert_int_equal(face_cluster_put(b, (int64_t)i + 1, v, 1, 0, &err), MIEN_OK);
		pa[i] = pb[i] = (int64_t)i + 1;
	}
	size_t steps = 0, merges = 0;
	while (face_cluster_merge_step(a, &into, &from, &sim)) {
		assert_true(sim >= 0.08f);
		pa[from - 1] = into;
		steps++;
	}
	assert_int_equal(face_cluster_merge_all(b, follow, pb, &merges, &err), MIEN_OK);
	assert_int_equal(merges, steps);
	printf("merge steps: %zu, clusters left %zu\n", steps, face_cluster_count(a));
	assert_true(steps > 10 && steps < n - 2); /* the threshold does cut the tree somewhere in the middle */
	assert_int_equal(face_cluster_count(a), face_cluster_count(b));
	int la[60], lb[60];
	for (size_t i = 0; i < n; i++) {
		la[i] = (int)root(pa, (int64_t)i + 1);
		lb[i] = (int)root(pb, (int64_t)i + 1);
	}
	assert_true(same_partition(la, lb, n));
	/* and every remaining cluster of one has the members and sum of its twin */
	for (size_t i = 0; i < n; i++) {
		float sa[DIM], sb[DIM];
		int na = 0, nb = 0;
		if (face_cluster_get(a, (int64_t)i + 1, sa, &na) != MIEN_OK)
			continue;
		/* b's cluster of the same faces may carry the id of another of them */
		assert_int_equal(face_cluster_get(b, lb[i], sb, &nb), MIEN_OK);
		assert_int_equal(na, nb);
		for (int d = 0; d < DIM; d++)
			assert_float_equal(sa[d], sb[d], 1e-4);
	}
	face_cluster_free(&a);
	face_cluster_free(&b);
}

static int stop_after_one(void *ctx, int64_t into, int64_t from, float similarity)
{
	int *calls = ctx;
	(void)into;
	(void)from;
	(void)similarity;
	return ++*calls >= 1;
}

/* A pass stopped by its callback keeps the merges made so far; a later pass finishes the rest. */
static void test_merge_all_stops(void **state)
{
	(void)state;
	mien_error err = { 0 };
	face_cluster_set *s = make(DIM, 0.5f);
	float v[DIM];
	for (int i = 0; i < 12; i++) {
		person_face(i % 3, i / 3, 0.6f, v);
		assert_int_equal(face_cluster_put(s, i + 1, v, 1, 0, &err), MIEN_OK);
	}
	int calls = 0;
	size_t merges = 0;
	assert_int_equal(face_cluster_merge_all(s, stop_after_one, &calls, &merges, &err), MIEN_OK);
	assert_int_equal(calls, 1);
	assert_int_equal(merges, 1);
	assert_int_equal(face_cluster_count(s), 11);
	assert_int_equal(face_cluster_merge_all(s, NULL, NULL, &merges, &err), MIEN_OK);
	assert_int_equal(merges, 8);
	assert_int_equal(face_cluster_count(s), 3);
	face_cluster_free(&s);
}

static void test_run_numbers_by_first_face(void **state)
{
	(void)state;
	/* persons B, A, B, C, A (well separated): labels 1, 2, 1, 3, 2 */
	const int person[5] = { 1, 0, 1, 2, 0 };
	float e[5 * DIM];
	int labels[5];
	mien_error err = { 0 };
	for (int i = 0; i < 5; i++)
		person_face(person[i], i, 0.6f, e + i * DIM);
	assert_int_equal(face_cluster_run(e, 5, DIM, 0.5f, labels, &err), MIEN_OK);
	const int expected[5] = { 1, 2, 1, 3, 2 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(labels[i], expected[i]);
	/* a face and its exact copy always group; no faces: nothing to do */
	memcpy(e + DIM, e, DIM * sizeof(float));
	assert_int_equal(face_cluster_run(e, 2, DIM, 0.999f, labels, &err), MIEN_OK);
	assert_int_equal(labels[0], 1);
	assert_int_equal(labels[1], 1);
	assert_int_equal(face_cluster_run(NULL, 0, DIM, 0.5f, NULL, &err), MIEN_OK);
	/* at a threshold above 1 nothing but copies could group; at -1 everything groups */
	assert_int_equal(face_cluster_run(e + 2 * DIM, 3, DIM, -1, labels, &err), MIEN_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(labels[i], 1);
}

/* Hand-worked: truth 1 1 1 2 2, grouping 1 1 2 2 2. Pairs grouped together: 1 + 3 = 4; pairs of one person: 3 + 1
 * = 4; both: 1 (faces 0, 1) + 1 (faces 3, 4) = 2. BCubed per face: precision 1, 1, 1/3, 2/3, 2/3; recall 2/3, 2/3,
 * 1/3, 1, 1; both average 11/15. */
static void test_scores(void **state)
{
	(void)state;
	const int truth[5] = { 1, 1, 1, 2, 2 }, labels[5] = { 1, 1, 2, 2, 2 };
	face_cluster_scores s;
	mien_error err = { 0 };
	assert_int_equal(face_cluster_score(truth, labels, 5, &s, &err), MIEN_OK);
	assert_float_equal(s.pair_precision, 0.5, 1e-12);
	assert_float_equal(s.pair_recall, 0.5, 1e-12);
	assert_float_equal(s.pair_f, 0.5, 1e-12);
	assert_float_equal(s.bcubed_precision, 11.0 / 15, 1e-12);
	assert_float_equal(s.bcubed_recall, 11.0 / 15, 1e-12);
	assert_float_equal(s.bcubed_f, 11.0 / 15, 1e-12);
	assert_int_equal(s.clusters, 2);
	assert_int_equal(s.people, 2);
	assert_int_equal(s.singletons, 0);
	/* labels are any ints; every face alone: nothing wrongly grouped, nothing of a person together */
	const int alone[5] = { -4, 100, 7, 0, 3 };
	assert_int_equal(face_cluster_score(truth, alone, 5, &s, &err), MIEN_OK);
	assert_float_equal(s.pair_precision, 1, 1e-12);
	assert_float_equal(s.pair_recall, 0, 1e-12);
	assert_float_equal(s.pair_f, 0, 1e-12);
	assert_float_equal(s.bcubed_precision, 1, 1e-12);
	assert_float_equal(s.bcubed_recall, (1.0 / 3 * 3 + 1.0 / 2 * 2) / 5, 1e-12);
	assert_int_equal(s.singletons, 5);
	assert_int_equal(face_cluster_score(truth, NULL, 5, &s, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_score(NULL, NULL, 0, &s, &err), MIEN_OK);
}

static void test_bad_input(void **state)
{
	(void)state;
	face_cluster_set *s = NULL;
	mien_error err = { 0 };
	assert_int_equal(face_cluster_create(0, 0.5f, &s, &err), MIEN_EINVAL);
	assert_null(s);
	assert_int_equal(face_cluster_create(5000, 0.5f, &s, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_create(4, 1.5f, &s, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_create(4, NAN, &s, &err), MIEN_EINVAL);
	s = make(4, 0.5f);
	const float zero[4] = { 0 }, one[4] = { 1, 0, 0, 0 }, bad[4] = { 1, NAN, 0, 0 };
	face_cluster_hit hit;
	assert_int_equal(face_cluster_put(s, 0, one, 1, 0, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_put(s, 1, one, 0, 0, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_put(s, 1, zero, 1, 0, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_put(s, 1, bad, 1, 0, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_put(s, 1, bad, 3, 0, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_count(s), 0);
	assert_int_equal(face_cluster_put(s, 1, one, 1, 0, &err), MIEN_OK);
	assert_int_equal(face_cluster_add(s, 1, zero, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_nearest(s, zero, &hit, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_nearest(s, NULL, &hit, &err), MIEN_EINVAL);
	face_cluster_free(&s);
	int labels[2];
	float two[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(face_cluster_run(NULL, 2, 4, 0.5f, labels, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_run(two, 2, 4, 0.5f, labels, &err), MIEN_EINVAL); /* the second is zero */
	assert_int_equal(face_cluster_run(two, 1, 0, 0.5f, labels, &err), MIEN_EINVAL);
	assert_int_equal(face_cluster_merge_all(NULL, NULL, NULL, NULL, &err), MIEN_EINVAL);
}

/* Each embedder's unknown-visitor threshold is no looser than its recognition threshold; without a calibration it
 * is recognition's. */
static void test_default_threshold(void **state)
{
	(void)state;
	const char *models[] = { "face_recognition-v2", "face_recognition", "faceres",
		                 "faceres-deep",        "mobileface",       "face_recognition-v2*10+faceres",
		                 "something-else" };
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		float t = face_cluster_default_threshold(models[i]), r = face_default_threshold(models[i]);
		assert_true(t >= r);
		assert_true(t <= 1);
	}
	assert_float_equal(face_cluster_default_threshold("something-else"), face_default_threshold("something-else"),
	                   0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_and_new),
		cmocka_unit_test(test_merge_grown_together),
		cmocka_unit_test(test_dismissed_never_merge),
		cmocka_unit_test(test_subtract_and_remove),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_order_independence),
		cmocka_unit_test(test_merge_all_equals_merge_steps),
		cmocka_unit_test(test_merge_all_stops),
		cmocka_unit_test(test_run_numbers_by_first_face),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_default_threshold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
