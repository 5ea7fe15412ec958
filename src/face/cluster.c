/*
 * cluster.c — average-linkage grouping of face embeddings (see cluster.h).
 *
 * Clusters lie in one array; a cluster's row is its sum (dim floats). Lookups by id are linear: the sets hold the
 * unknown identities of one deployment (thousands, not millions), and a nearest search reads every row anyway.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "face/cluster.h"
#include "face/face.h"

#define DIM_MAX 4096

typedef struct slot {
	int64_t id;
	int n;
	int dismissed;
} slot;

struct face_cluster_set {
	int dim;
	float merge;
	size_t count, cap;
	slot *slots;
	float *sums; /* cap rows of dim */
};

static float dot(const float *a, const float *b, int dim)
{
	float s = 0;
	for (int i = 0; i < dim; i++)
		s += a[i] * b[i];
	return s;
}

/* `in` scaled to unit length into `out`; MIEN_EINVAL for a zero or non-finite vector. */
static int normalised(const float *in, int dim, float *out, mien_error *err)
{
	float n2 = dot(in, in, dim);
	if (!(n2 > 0) || !isfinite(n2))
		return mien_error_set(err, MIEN_EINVAL, "cluster: a zero or non-finite embedding");
	float k = 1.0f / sqrtf(n2);
	for (int i = 0; i < dim; i++)
		out[i] = in[i] * k;
	return MIEN_OK;
}

static long find(const face_cluster_set *s, int64_t id)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->slots[i].id == id)
			return (long)i;
	return -1;
}

static float *row(const face_cluster_set *s, size_t i)
{
	return s->sums + i * (size_t)s->dim;
}

int face_cluster_create(int dim, float merge, face_cluster_set **out, mien_error *err)
{
	*out = NULL;
	if (dim < 1 || dim > DIM_MAX || !(merge >= -1 && merge <= 1))
		return mien_error_set(err, MIEN_EINVAL, "cluster: dim %d (1..%d), threshold %g (-1..1)", dim, DIM_MAX,
		                      (double)merge);
	face_cluster_set *s = calloc(1, sizeof(*s));
	if (!s)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	s->dim = dim;
	s->merge = merge;
	*out = s;
	return MIEN_OK;
}

void face_cluster_free(face_cluster_set **set)
{
	if (!set || !*set)
		return;
	free((*set)->slots);
	free((*set)->sums);
	free(*set);
	*set = NULL;
}

static int grow(face_cluster_set *s, mien_error *err)
{
	if (s->count < s->cap)
		return MIEN_OK;
	if (s->cap >= FACE_CLUSTER_MAX)
		return mien_error_set(err, MIEN_ERANGE, "cluster: %d clusters already", FACE_CLUSTER_MAX);
	size_t cap = s->cap ? 2 * s->cap : 64;
	if (cap > FACE_CLUSTER_MAX)
		cap = FACE_CLUSTER_MAX;
	slot *slots = realloc(s->slots, cap * sizeof(*slots));
	if (!slots)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	s->slots = slots;
	float *sums = realloc(s->sums, cap * (size_t)s->dim * sizeof(*sums));
	if (!sums)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	s->sums = sums;
	s->cap = cap;
	return MIEN_OK;
}

int face_cluster_put(face_cluster_set *s, int64_t id, const float *sum, int n, int dismissed, mien_error *err)
{
	if (!s || !sum || id <= 0 || n < 1)
		return mien_error_set(err, MIEN_EINVAL, "cluster: bad cluster (id %lld, %d members)", (long long)id, n);
	float v[DIM_MAX];
	if (n == 1) {
		int rc = normalised(sum, s->dim, v, err);
		if (rc)
			return rc;
	} else {
		memcpy(v, sum, (size_t)s->dim * sizeof(float));
		float n2 = dot(v, v, s->dim);
		if (!isfinite(n2))
			return mien_error_set(err, MIEN_EINVAL, "cluster: a non-finite sum");
	}
	long i = find(s, id);
	if (i < 0) {
		int rc = grow(s, err);
		if (rc)
			return rc;
		i = (long)s->count++;
	}
	memcpy(row(s, (size_t)i), v, (size_t)s->dim * sizeof(float));
	s->slots[i] = (slot){ id, n, dismissed ? 1 : 0 };
	return MIEN_OK;
}

static int change(face_cluster_set *s, int64_t id, const float *embedding, float sign, mien_error *err)
{
	if (!s || !embedding)
		return mien_error_set(err, MIEN_EINVAL, "cluster: NULL argument");
	long i = find(s, id);
	if (i < 0)
		return mien_error_set(err, MIEN_ENOENT, "cluster %lld not found", (long long)id);
	float v[DIM_MAX];
	int rc = normalised(embedding, s->dim, v, err);
	if (rc)
		return rc;
	if (sign < 0 && s->slots[i].n <= 1)
		return face_cluster_remove(s, id);
	float *r = row(s, (size_t)i);
	for (int k = 0; k < s->dim; k++)
		r[k] += sign * v[k];
	s->slots[i].n += sign > 0 ? 1 : -1;
	return MIEN_OK;
}

int face_cluster_add(face_cluster_set *s, int64_t id, const float *embedding, mien_error *err)
{
	return change(s, id, embedding, 1, err);
}

int face_cluster_subtract(face_cluster_set *s, int64_t id, const float *embedding, mien_error *err)
{
	return change(s, id, embedding, -1, err);
}

int face_cluster_remove(face_cluster_set *s, int64_t id)
{
	long i = s ? find(s, id) : -1;
	if (i < 0)
		return MIEN_ENOENT;
	size_t last = --s->count;
	if ((size_t)i != last) {
		s->slots[i] = s->slots[last];
		memcpy(row(s, (size_t)i), row(s, last), (size_t)s->dim * sizeof(float));
	}
	return MIEN_OK;
}

int face_cluster_set_dismissed(face_cluster_set *s, int64_t id, int on)
{
	long i = s ? find(s, id) : -1;
	if (i < 0)
		return MIEN_ENOENT;
	s->slots[i].dismissed = on ? 1 : 0;
	return MIEN_OK;
}

int face_cluster_get(const face_cluster_set *s, int64_t id, float *sum, int *n)
{
	long i = s ? find(s, id) : -1;
	if (i < 0)
		return MIEN_ENOENT;
	memcpy(sum, row(s, (size_t)i), (size_t)s->dim * sizeof(float));
	*n = s->slots[i].n;
	return MIEN_OK;
}

size_t face_cluster_count(const face_cluster_set *s)
{
	return s ? s->count : 0;
}

int face_cluster_nearest(const face_cluster_set *s, const float *embedding, face_cluster_hit *hit, mien_error *err)
{
	*hit = (face_cluster_hit){ 0 };
	if (!s || !embedding)
		return mien_error_set(err, MIEN_EINVAL, "cluster: NULL argument");
	float v[DIM_MAX];
	int rc = normalised(embedding, s->dim, v, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->count; i++) {
		float sim = dot(v, row(s, i), s->dim) / (float)s->slots[i].n;
		/* ties go to the lower id, so the answer does not depend on the order clusters were stored in */
		if (!hit->id || sim > hit->similarity || (sim == hit->similarity && s->slots[i].id < hit->id))
			*hit = (face_cluster_hit){ s->slots[i].id, sim, s->slots[i].n, s->slots[i].dismissed };
	}
	return MIEN_OK;
}

/* Is pair (a, b) ordered before (c, d)? Pairs are compared by their ids, lower first, so that ties do not depend
 * on storage order. */
static int pair_before(int64_t a, int64_t b, int64_t c, int64_t d)
{
	int64_t lo1 = a < b ? a : b, hi1 = a < b ? b : a, lo2 = c < d ? c : d, hi2 = c < d ? d : c;
	return lo1 < lo2 || (lo1 == lo2 && hi1 < hi2);
}

int face_cluster_merge_step(face_cluster_set *s, int64_t *into, int64_t *from, float *similarity)
{
	*into = *from = 0;
	*similarity = 0;
	if (!s)
		return 0;
	long best_i = -1, best_j = -1;
	float best = 0;
	for (size_t i = 0; i < s->count; i++) {
		if (s->slots[i].dismissed)
			continue;
		const float *ri = row(s, i);
		for (size_t j = i + 1; j < s->count; j++) {
			if (s->slots[j].dismissed)
				continue;
			float sim = dot(ri, row(s, j), s->dim) / ((float)s->slots[i].n * (float)s->slots[j].n);
			if (sim < s->merge)
				continue;
			if (best_i < 0 || sim > best ||
			    (sim == best &&
			     pair_before(s->slots[i].id, s->slots[j].id, s->slots[best_i].id, s->slots[best_j].id))) {
				best = sim;
				best_i = (long)i;
				best_j = (long)j;
			}
		}
	}
	if (best_i < 0)
		return 0;
	slot *a = &s->slots[best_i], *b = &s->slots[best_j];
	int a_keeps = a->n > b->n || (a->n == b->n && a->id < b->id);
	long keep = a_keeps ? best_i : best_j, gone = a_keeps ? best_j : best_i;
	float *rk = row(s, (size_t)keep), *rg = row(s, (size_t)gone);
	for (int k = 0; k < s->dim; k++)
		rk[k] += rg[k];
	s->slots[keep].n += s->slots[gone].n;
	*into = s->slots[keep].id;
	*from = s->slots[gone].id;
	*similarity = best;
	face_cluster_remove(s, *from);
	return 1;
}

int face_cluster_run(const float *embeddings, size_t n, int dim, float threshold, int *labels, mien_error *err)
{
	if ((!embeddings || !labels) && n)
		return mien_error_set(err, MIEN_EINVAL, "cluster: NULL argument");
	face_cluster_set *s = NULL;
	int rc = face_cluster_create(dim, threshold, &s, err);
	if (rc)
		return rc;
	int64_t *owner = malloc((n ? n : 1) * sizeof(*owner)); /* each face's cluster id, followed through merges */
	if (!owner) {
		face_cluster_free(&s);
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	}
	int64_t next = 1;
	for (size_t i = 0; i < n && rc == MIEN_OK; i++) {
		const float *e = embeddings + i * (size_t)dim;
		face_cluster_hit hit;
		rc = face_cluster_nearest(s, e, &hit, err);
		if (rc)
			break;
		if (hit.id && hit.similarity >= threshold) {
			rc = face_cluster_add(s, hit.id, e, err);
			owner[i] = hit.id;
		} else {
			owner[i] = next;
			rc = face_cluster_put(s, next++, e, 1, 0, err);
		}
	}
	int64_t into, from;
	float sim;
	while (rc == MIEN_OK && face_cluster_merge_step(s, &into, &from, &sim))
		for (size_t i = 0; i < n; i++)
			if (owner[i] == from)
				owner[i] = into;
	if (rc == MIEN_OK) {
		/* number the clusters 1, 2, ... in order of their first face */
		int64_t *seen = calloc((size_t)next, sizeof(*seen)); /* cluster id -> label */
		if (!seen) {
			rc = mien_error_set(err, MIEN_ENOMEM, "out of memory");
		} else {
			int labels_used = 0;
			for (size_t i = 0; i < n; i++) {
				if (!seen[owner[i]])
					seen[owner[i]] = ++labels_used;
				labels[i] = (int)seen[owner[i]];
			}
			free(seen);
		}
	}
	free(owner);
	face_cluster_free(&s);
	return rc;
}

float face_cluster_default_threshold(const char *model)
{
	return face_default_threshold(model);
}
