/*
 * cli_eval_cluster.c — `mien eval cluster DIR` (grouping unknown faces, scored against the people's folders) and
 * `mien eval negatives DIR` (what "not P" corrections do to false accepts).
 *
 * Both read one face per picture as `mien eval identity` does (cli__identity_set_load), optionally for one half of
 * the people (--split), and print one JSON object.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_eval_int.h"
#include "face/cluster.h"

#define ARRIVAL_ORDERS 5 /* online: shuffled orders the faces arrive in */

/* The faces of a set that have an embedding, packed: embeddings row-major, person per face. */
typedef struct packed {
	float *embeddings;
	int *person;
	size_t n;
	int dim;
} packed;

static void packed_free(packed *p)
{
	free(p->embeddings);
	free(p->person);
	memset(p, 0, sizeof(*p));
}

/* The faces of the people in `half` (EVAL_SPLIT_ALL: everybody read). 0, or -1 out of memory. */
static int pack(const identity_set *set, int half, packed *p)
{
	memset(p, 0, sizeof(*p));
	p->dim = set->dim;
	p->embeddings = malloc((set->total ? set->total : 1) * (size_t)(set->dim ? set->dim : 1) * sizeof(float));
	p->person = malloc((set->total ? set->total : 1) * sizeof(int));
	if (!p->embeddings || !p->person) {
		packed_free(p);
		return -1;
	}
	for (size_t i = 0; i < set->total; i++) {
		const sample *s = &set->samples[i];
		if (!s->ok || (half != EVAL_SPLIT_ALL && set->half[s->person] != half))
			continue;
		memcpy(p->embeddings + p->n * (size_t)set->dim, s->embedding, (size_t)set->dim * sizeof(float));
		p->person[p->n++] = s->person;
	}
	return 0;
}

static json_t *scores_json(const face_cluster_scores *s)
{
	json_t *o = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "pair_precision", s->pair_precision, "pair_recall",
	                      s->pair_recall, "pair_f", s->pair_f, "bcubed_precision", s->bcubed_precision,
	                      "bcubed_recall", s->bcubed_recall, "bcubed_f", s->bcubed_f);
	json_object_set_new(o, "clusters", json_integer((json_int_t)s->clusters));
	json_object_set_new(o, "people", json_integer((json_int_t)s->people));
	json_object_set_new(o, "singletons", json_integer((json_int_t)s->singletons));
	return o;
}

/* A fixed permutation of 0..n-1 for seed k (xorshift64*, Fisher-Yates): the same on every machine. */
static void shuffle(size_t *order, size_t n, uint64_t seed)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n; i > 1; i--) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		size_t j = (size_t)((x * 0x2545F4914F6CDD1Dull) >> 33) % i;
		size_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

static int follow(void *ctx, int64_t into, int64_t from, float similarity)
{
	int64_t *parent = ctx;
	(void)similarity;
	parent[from - 1] = into;
	return 0;
}

/*
 * The grouping `mien serve` does for unknown visitors, on these faces: they arrive in a shuffled order, each joins
 * the cluster of highest mean similarity when that reaches `t` (face_cluster_nearest, face_cluster_add) or starts
 * a new one; then a merge pass (face_cluster_merge_all) at `t`. Scores per order into scores[ARRIVAL_ORDERS].
 */
static int online(const packed *p, float t, face_cluster_scores *scores, mien_error *err)
{
	size_t n = p->n;
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	int64_t *cluster = malloc((n ? n : 1) * sizeof(*cluster)); /* each face's cluster id */
	int64_t *parent = malloc((n ? n : 1) * sizeof(*parent));   /* cluster id -> the cluster it was merged into */
	int *labels = malloc((n ? n : 1) * sizeof(*labels));
	int rc = order && cluster && parent && labels ? MIEN_OK : mien_error_set(err, MIEN_ENOMEM, "out of memory");
	for (int k = 0; rc == MIEN_OK && k < ARRIVAL_ORDERS; k++) {
		face_cluster_set *set = NULL;
		rc = face_cluster_create(p->dim, t, &set, err);
		shuffle(order, n, (uint64_t)k);
		int64_t next = 1;
		for (size_t a = 0; rc == MIEN_OK && a < n; a++) {
			size_t i = order[a];
			const float *e = p->embeddings + i * (size_t)p->dim;
			face_cluster_hit hit;
			rc = face_cluster_nearest(set, e, &hit, err);
			if (rc == MIEN_OK && hit.id && hit.similarity >= t) {
				cluster[i] = hit.id;
				rc = face_cluster_add(set, hit.id, e, err);
			} else if (rc == MIEN_OK) {
				cluster[i] = next;
				parent[next - 1] = next;
				rc = face_cluster_put(set, next++, e, 1, 0, err);
			}
		}
		if (rc == MIEN_OK)
			rc = face_cluster_merge_all(set, follow, parent, NULL, err);
		for (size_t i = 0; rc == MIEN_OK && i < n; i++) {
			int64_t c = cluster[i];
			while (parent[c - 1] != c)
				c = parent[c - 1];
			labels[i] = (int)c;
		}
		if (rc == MIEN_OK)
			rc = face_cluster_score(p->person, labels, n, &scores[k], err);
		face_cluster_free(&set);
	}
	free(order);
	free(cluster);
	free(parent);
	free(labels);
	return rc;
}

/* Offline (face_cluster_run) and online scores at t, as one JSON object; NULL on failure (err set). */
static json_t *scores_at(const packed *p, float t, int *labels, mien_error *err)
{
	face_cluster_scores offline, orders[ARRIVAL_ORDERS];
	if (face_cluster_run(p->embeddings, p->n, p->dim, t, labels, err) ||
	    face_cluster_score(p->person, labels, p->n, &offline, err) || online(p, t, orders, err))
		return NULL;
	json_t *o = scores_json(&offline);
	json_object_set_new(o, "threshold", json_real(t));
	double precision = 0, recall = 0, f = 0, worst = 1;
	for (int k = 0; k < ARRIVAL_ORDERS; k++) {
		precision += orders[k].pair_precision / ARRIVAL_ORDERS;
		recall += orders[k].pair_recall / ARRIVAL_ORDERS;
		f += orders[k].pair_f / ARRIVAL_ORDERS;
		worst = orders[k].pair_f < worst ? orders[k].pair_f : worst;
	}
	json_object_set_new(o, "online",
	                    json_pack("{s:i,s:f,s:f,s:f,s:f}", "orders", ARRIVAL_ORDERS, "pair_precision", precision,
	                              "pair_recall", recall, "pair_f", f, "pair_f_worst", worst));
	return o;
}

/*
 * The scores of the faces of `half` at t and, with sweep, at thresholds from well below recognition's to a little
 * above the point where hardly anything groups any more, as {"people","faces","at_threshold","sweep"}. NULL on
 * failure (err set).
 */
static json_t *half_json(const identity_set *set, int half, float t, float recognition, int sweep, mien_error *err)
{
	packed p;
	int *labels = NULL;
	json_t *o = NULL;
	if (pack(set, half, &p) || !(labels = malloc((p.n ? p.n : 1) * sizeof(int)))) {
		mien_error_set(err, MIEN_ENOMEM, "out of memory");
		goto done;
	}
	int people = half == EVAL_SPLIT_ALL ? set->people_used : 0; /* everybody read, or the people of the half */
	for (size_t k = 0; half != EVAL_SPLIT_ALL && k < set->people.n; k++)
		people += set->half[k] == half;
	json_t *at = scores_at(&p, t, labels, err);
	if (!at)
		goto done;
	o = json_pack("{s:i,s:i,s:o}", "people", people, "faces", (int)p.n, "at_threshold", at);
	if (sweep) {
		json_t *list = json_array();
		json_object_set_new(o, "sweep", list);
		for (int k = -60; k <= 16; k++) {
			float ts = roundf(recognition * 400) / 400 + (float)k * 0.0025f;
			json_t *s = ts >= -1 && ts <= 1 ? scores_at(&p, ts, labels, err) : json_null();
			if (!s) {
				json_decref(o);
				o = NULL;
				goto done;
			}
			if (json_is_null(s))
				json_decref(s);
			else
				json_array_append_new(list, s);
		}
	}
done:
	free(labels);
	packed_free(&p);
	return o;
}

int cli__eval_cluster(eval_ctx *c, const char *dir)
{
	identity_set set;
	if (cli__identity_set_load(c, dir, "cluster", &set))
		return CLI_EXIT_FAIL;
	const char *model = face_analyzer_embedder(c->analyzer);
	float recognition = face_default_threshold(model);
	float t = isnan(c->threshold) ? face_cluster_default_threshold(model) : c->threshold;
	mien_error err = { 0 };
	int rc = CLI_EXIT_FAIL;
	json_t *o =
	        json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:f,s:f}", "mode", "cluster", "dataset", dir, "split",
	                  cli__split_name(c->split), "embedder", model, "detector", face_analyzer_detector(c->analyzer),
	                  "images", (int)set.total, "no_embedding", set.failed, "whole_picture_as_face", set.crops,
	                  "threshold", (double)t, "recognition_threshold", (double)recognition);
	/* the split read; when that is everybody, each half on its own as well (one embedding pass for all three) */
	json_t *whole = half_json(&set, EVAL_SPLIT_ALL, t, recognition, c->sweep, &err);
	if (!whole)
		goto fail;
	json_object_update(o, whole);
	json_decref(whole);
	if (c->split == EVAL_SPLIT_ALL) {
		json_t *halves = json_object();
		json_object_set_new(o, "halves", halves);
		for (int h = EVAL_SPLIT_TUNE; h <= EVAL_SPLIT_HELD; h++) {
			json_t *one = half_json(&set, h, t, recognition, c->sweep, &err);
			if (!one)
				goto fail;
			json_object_set_new(halves, cli__split_name(h), one);
		}
	}
	cli__print_json(o);
	rc = CLI_EXIT_OK;
	goto done;
fail:
	cli_error("%s: %s", dir, err.message);
done:
	json_decref(o);
	cli__identity_set_free(&set);
	return rc;
}

/*
 * Negatives ("not P"). The people of the tuning half (the --split rule) are enrolled with their first NEG_ENROL
 * pictures (by file name; a person with no more pictures than that is not enrolled); the held-out half are
 * strangers, never enrolled. Every other picture is a query, and each person's queries are split in two by the
 * FNV-1a hash of their file name: the first half (rounded up) are corrections, the rest held out. A correction
 * named as somebody it is not becomes a negative of that person, as an operator's "not P" makes it. The held-out
 * queries are then named without and with the negatives: P is a candidate when P's best face reaches the threshold
 * and, with negatives, is closer than P's closest negative; the name is the candidate with the best face (the
 * gallery's nearest person), or nobody ("after"); "after_nearest_only" names nobody when the nearest person is
 * passed over.
 */
#define NEG_ENROL 3

enum { ROLE_ENROLLED, ROLE_CORRECTION, ROLE_HELD };

typedef struct negatives_run {
	const identity_set *set;
	char *role;       /* per sample */
	char *enrolled;   /* per person */
	int *negative_of; /* per sample: the person it is a negative of, or -1 */
	float t;
} negatives_run;

/* Sample q's best similarity to each person's enrolled faces (face[p]) and negatives (negative[p]); -2 for none. */
static void person_scores(const negatives_run *r, size_t q, float *face, float *negative)
{
	const identity_set *set = r->set;
	for (size_t p = 0; p < set->people.n; p++)
		face[p] = negative[p] = -2;
	for (size_t g = 0; g < set->total; g++) {
		const sample *s = &set->samples[g];
		int is_face = r->role[g] == ROLE_ENROLLED, to = is_face ? s->person : r->negative_of[g];
		if (!s->ok || (!is_face && to < 0))
			continue;
		float sim = cli__dot(set->samples[q].embedding, s->embedding, set->dim),
		      *best = is_face ? face : negative;
		if (sim > best[to])
			best[to] = sim;
	}
}

/* How the negatives are used: not at all (before), as the rule says (a person is passed over when a negative is
 * closer than their best face, and the next candidate may be named: what gallery_identify does), or with a passed-
 * over nearest person leaving the face unnamed. */
enum { NEGATIVES_UNUSED, NEGATIVES_NEXT, NEGATIVES_UNKNOWN, NEGATIVE_RULES };

/* Whom a query is named as (-1: nobody) from its person_scores, under one of the NEGATIVES_* rules. */
static int name_query(const negatives_run *r, const float *face, const float *negative, int rule)
{
	int best = -1, nearest = -1;
	for (size_t p = 0; p < r->set->people.n; p++) {
		if (!r->enrolled[p] || face[p] < r->t)
			continue;
		if (nearest < 0 || face[p] > face[nearest])
			nearest = (int)p;
		if (rule != NEGATIVES_UNUSED && !(face[p] > negative[p]))
			continue;
		if (best < 0 || face[p] > face[best])
			best = (int)p;
	}
	return rule == NEGATIVES_UNKNOWN && best != nearest ? -1 : best;
}

typedef struct tally {
	long impostor_trials, false_accepts;      /* (held query, person with negatives) of different people */
	long returning_trials, returning_accepts; /* ... where the query's person gave that person a negative */
	long genuine, genuine_named;              /* held queries of people with negatives */
	long all_impostor_queries, all_misnamed;  /* every held query not of an enrolled person or of another one */
	long all_genuine, all_genuine_named;      /* every held query of an enrolled person */
} tally;

static double rate(long part, long whole)
{
	return whole ? (double)part / (double)whole : 0;
}

static json_t *tally_json(const tally *t)
{
	json_t *o = json_object();
	json_object_set_new(o, "impostor_trials", json_integer(t->impostor_trials));
	json_object_set_new(o, "false_accepts", json_integer(t->false_accepts));
	json_object_set_new(o, "far", json_real(rate(t->false_accepts, t->impostor_trials)));
	json_object_set_new(o, "returning_trials", json_integer(t->returning_trials));
	json_object_set_new(o, "returning_false_accepts", json_integer(t->returning_accepts));
	json_object_set_new(o, "returning_far", json_real(rate(t->returning_accepts, t->returning_trials)));
	json_object_set_new(o, "genuine", json_integer(t->genuine));
	json_object_set_new(o, "genuine_named", json_integer(t->genuine_named));
	json_object_set_new(o, "genuine_accept_rate", json_real(rate(t->genuine_named, t->genuine)));
	long queries = t->all_impostor_queries + t->all_genuine;
	json_object_set_new(o, "all_queries", json_integer(queries));
	json_object_set_new(o, "all_misnamed", json_integer(t->all_misnamed));
	json_object_set_new(o, "all_misnamed_rate", json_real(rate(t->all_misnamed, queries)));
	json_object_set_new(o, "all_genuine", json_integer(t->all_genuine));
	json_object_set_new(o, "all_genuine_named", json_integer(t->all_genuine_named));
	json_object_set_new(o, "all_genuine_accept_rate", json_real(rate(t->all_genuine_named, t->all_genuine)));
	return o;
}

int cli__eval_negatives(eval_ctx *c, const char *dir)
{
	identity_set set;
	if (cli__identity_set_load(c, dir, "negatives", &set))
		return CLI_EXIT_FAIL;
	const char *model = face_analyzer_embedder(c->analyzer);
	negatives_run r = { .set = &set, .t = isnan(c->threshold) ? face_default_threshold(model) : c->threshold };
	size_t people = set.people.n;
	r.role = calloc(set.total ? set.total : 1, 1);
	r.enrolled = calloc(people, 1);
	r.negative_of = malloc((set.total ? set.total : 1) * sizeof(int));
	char *has_negatives = calloc(people, 1);
	char *gave = calloc(people * people, 1); /* gave[q * people + p]: a picture of q is a negative of p */
	float *face = malloc(people * sizeof(float)), *negative = malloc(people * sizeof(float));
	int rc = CLI_EXIT_FAIL;
	if (!r.role || !r.enrolled || !r.negative_of || !has_negatives || !gave || !face || !negative) {
		cli_error("out of memory");
		goto done;
	}
	/* roles: samples are grouped by person and sorted by file name within a person */
	for (size_t i = 0; i < set.total;) {
		size_t end = i, queries;
		while (end < set.total && set.samples[end].person == set.samples[i].person)
			end++;
		int enrol = end - i > NEG_ENROL && set.half[set.samples[i].person] == EVAL_SPLIT_TUNE;
		r.enrolled[set.samples[i].person] = (char)enrol;
		size_t first_query = enrol ? i + NEG_ENROL : i;
		for (size_t k = i; k < first_query; k++)
			r.role[k] = ROLE_ENROLLED;
		queries = end - first_query;
		/* the queries by the hash of their file name: the first half (rounded up) corrections */
		for (size_t k = first_query; k < end; k++) {
			size_t rank = 0;
			uint32_t hk = cli__fnv1a(set.samples[k].file);
			for (size_t m = first_query; m < end; m++) {
				uint32_t hm = cli__fnv1a(set.samples[m].file);
				rank += hm < hk || (hm == hk && strcmp(set.samples[m].file, set.samples[k].file) < 0);
			}
			r.role[k] = rank < (queries + 1) / 2 ? ROLE_CORRECTION : ROLE_HELD;
		}
		i = end;
	}
	/* corrections: a query named as somebody else becomes their negative */
	long negatives = 0, corrections = 0;
	for (size_t q = 0; q < set.total; q++)
		r.negative_of[q] = -1;
	for (size_t q = 0; q < set.total; q++) {
		if (r.role[q] != ROLE_CORRECTION || !set.samples[q].ok)
			continue;
		corrections++;
		person_scores(&r, q, face, negative);
		int named = name_query(&r, face, negative, NEGATIVES_UNUSED);
		if (named >= 0 && named != set.samples[q].person) {
			r.negative_of[q] = named;
			has_negatives[named] = 1;
			gave[(size_t)set.samples[q].person * people + (size_t)named] = 1;
			negatives++;
		}
		cli__progress("corrections", q + 1, set.total);
	}
	tally tallies[NEGATIVE_RULES] = { { 0 } };
	long held = 0;
	for (size_t q = 0; q < set.total; q++) {
		const sample *s = &set.samples[q];
		if (r.role[q] != ROLE_HELD || !s->ok)
			continue;
		held++;
		person_scores(&r, q, face, negative);
		for (int rule = 0; rule < NEGATIVE_RULES; rule++) {
			tally *t = &tallies[rule];
			int named = name_query(&r, face, negative, rule);
			if (r.enrolled[s->person]) {
				t->all_genuine++;
				t->all_genuine_named += named == s->person;
			} else {
				t->all_impostor_queries++;
			}
			t->all_misnamed += named >= 0 && named != s->person;
			for (size_t p = 0; p < people; p++) {
				if (!has_negatives[p])
					continue;
				if ((int)p == s->person) {
					t->genuine++;
					t->genuine_named += named == s->person;
					continue;
				}
				int returning = gave[(size_t)s->person * people + p];
				t->impostor_trials++;
				t->false_accepts += named == (int)p;
				t->returning_trials += returning;
				t->returning_accepts += returning && named == (int)p;
			}
		}
	}
	int enrolled_people = 0, negative_people = 0;
	for (size_t p = 0; p < people; p++) {
		enrolled_people += r.enrolled[p];
		negative_people += has_negatives[p];
	}
	json_t *o = json_pack(
	        "{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:f,s:i,s:i,s:I,s:I,s:I,s:i,s:o,s:o,s:o}", "mode", "negatives", "dataset",
	        dir, "embedder", model, "detector", face_analyzer_detector(c->analyzer), "people", (int)people,
	        "images", (int)set.total, "no_embedding", set.failed, "threshold", (double)r.t, "enrolled_per_person",
	        NEG_ENROL, "people_enrolled", enrolled_people, "correction_queries", (json_int_t)corrections,
	        "held_queries", (json_int_t)held, "negatives", (json_int_t)negatives, "people_with_negatives",
	        negative_people, "before", tally_json(&tallies[NEGATIVES_UNUSED]), "after",
	        tally_json(&tallies[NEGATIVES_NEXT]), "after_nearest_only", tally_json(&tallies[NEGATIVES_UNKNOWN]));
	cli__print_json(o);
	json_decref(o);
	rc = CLI_EXIT_OK;
done:
	free(face);
	free(negative);
	free(gave);
	free(has_negatives);
	free(r.negative_of);
	free(r.enrolled);
	free(r.role);
	cli__identity_set_free(&set);
	return rc;
}
