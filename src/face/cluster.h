/*
 * cluster.h — grouping face embeddings into identities: unknown visitors (`mien serve`) and `mien cluster`.
 *
 * One algorithm for both: average linkage on cosine similarity. A cluster is held as the sum of its members'
 * L2-normalised embeddings and their count, so the mean similarity of a face to every member of a cluster is
 * dot(face, sum) / n, and the mean similarity between the members of two clusters is dot(sumA, sumB) / (nA nB),
 * without keeping the members.
 *
 * - Online (a visit of an unknown face): face_cluster_nearest finds the cluster of highest mean similarity; the
 *   caller adds the face to it when that is at least the join threshold (face_cluster_add), else starts a new
 *   cluster (face_cluster_put with n = 1).
 * - A merge pass (face_cluster_merge_step, repeated until it returns 0) joins the two clusters of highest mean
 *   similarity while that is at least the merge threshold: clusters that grew towards each other, or that two
 *   nodes started for the same face at the same time, become one.
 * - Offline (face_cluster_run): every face joins or starts a cluster in the order given, then merge steps run
 *   until none applies; labels are numbered 1, 2, ... in order of each cluster's first face.
 *
 * Clusters carry caller ids (the store's unknown ids) and a `dismissed` flag, which the set keeps but does not
 * interpret (a dismissed cluster is still found by face_cluster_nearest, so its faces can be ignored; it never
 * takes part in merges).
 *
 * Thread safety: none; the caller serialises. Memory: (dim + 4) floats per cluster, grown geometrically.
 */
#ifndef MIEN_FACE_CLUSTER_H
#define MIEN_FACE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

#define FACE_CLUSTER_MAX (4 * 1024 * 1024) /* clusters one set may hold */

typedef struct face_cluster_set face_cluster_set;

typedef struct face_cluster_hit {
	int64_t id;       /* 0 when the set is empty */
	float similarity; /* mean cosine similarity to the cluster's members */
	int n;            /* members */
	int dismissed;
} face_cluster_hit;

/* An empty set for embeddings of `dim` values (1..4096). `merge` is the merge threshold (cosine, -1..1).
 * MIEN_EINVAL, MIEN_ENOMEM. Free with face_cluster_free. */
int face_cluster_create(int dim, float merge, face_cluster_set **out, mien_error *err);
void face_cluster_free(face_cluster_set **set);

/* Stores (or replaces) cluster `id` (> 0) with the sum of its n >= 1 members' normalised embeddings. For a new
 * one-face cluster pass the face itself (normalised here when n == 1). MIEN_EINVAL, MIEN_ERANGE when full,
 * MIEN_ENOMEM. */
int face_cluster_put(face_cluster_set *set, int64_t id, const float *sum, int n, int dismissed, mien_error *err);
/* Adds one face (normalised here) to cluster `id`. MIEN_ENOENT when there is no such cluster. */
int face_cluster_add(face_cluster_set *set, int64_t id, const float *embedding, mien_error *err);
/* Takes one face (normalised here) out of cluster `id` (an event removed from an unknown); the cluster is removed
 * when it had one member. MIEN_ENOENT. */
int face_cluster_subtract(face_cluster_set *set, int64_t id, const float *embedding, mien_error *err);
int face_cluster_remove(face_cluster_set *set, int64_t id);                /* MIEN_OK or MIEN_ENOENT */
int face_cluster_set_dismissed(face_cluster_set *set, int64_t id, int on); /* MIEN_OK or MIEN_ENOENT */
/* The sum and count of cluster `id` (sum has room for dim values). MIEN_ENOENT. */
int face_cluster_get(const face_cluster_set *set, int64_t id, float *sum, int *n);
size_t face_cluster_count(const face_cluster_set *set);

/* The cluster of highest mean similarity to `embedding` (normalised here); hit->id = 0 when the set is empty. */
int face_cluster_nearest(const face_cluster_set *set, const float *embedding, face_cluster_hit *hit, mien_error *err);

/* One merge: when the two non-dismissed clusters of highest mean similarity reach the merge threshold, the one
 * with fewer members (the higher id on a tie) is folded into the other and removed from the set: *into and *from
 * say which, *similarity how close they were; returns 1. Returns 0 when no pair qualifies. O(clusters² · dim). */
int face_cluster_merge_step(face_cluster_set *set, int64_t *into, int64_t *from, float *similarity);

/* Offline: clusters `n` embeddings of `dim` values (row-major, need not be normalised) with the join and merge
 * threshold `threshold`, as described above; labels[i] in 1..k. MIEN_EINVAL, MIEN_ENOMEM. */
int face_cluster_run(const float *embeddings, size_t n, int dim, float threshold, int *labels, mien_error *err);

/* The unknown-visitor threshold for an embedder: calibrated per embedder (docs/accuracy.md, "Grouping unknown
 * faces"), stricter than recognition's; for an embedder without a calibration, recognition's threshold. */
float face_cluster_default_threshold(const char *model);

#endif
