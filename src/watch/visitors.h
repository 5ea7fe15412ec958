/*
 * visitors.h — unknown visitors for the watch: grouping each unknown visit's face into an identity, ignoring
 * dismissed identities, and the alert rules for unknown faces. Used by the watch's recorder thread only (one
 * thread: no locks).
 *
 * The identities live in the store (store.h, "unknown identities"); this keeps a face_cluster_set copy of those of
 * the watch's embedder, re-read when the store's identities change (another node, the API's merge or dismiss), and
 * runs a merge pass now and then (identities that grew towards each other, or that two nodes started for one face
 * at the same time, become one).
 */
#ifndef MIEN_WATCH_VISITORS_H
#define MIEN_WATCH_VISITORS_H

#include <stdint.h>

#include "core/result.h"
#include "store/store.h"

typedef struct watch_visitors watch_visitors;

/* For faces of embedder `model` (a static string or one that outlives the result). Threshold: MIEN_UNKNOWN_THRESHOLD
 * when set (cosine, 0..1), else face_cluster_default_threshold(model). */
int watch_visitors_create(store *db, const char *model, watch_visitors **out, mien_error *err);
void watch_visitors_free(watch_visitors **v);

/* 1 when `face` belongs to a dismissed identity (its visit makes no event), else 0. */
int watch_visitors_dismissed(watch_visitors *v, const float *face, int dim);

/* Groups event `event_id`'s unknown face: joins the nearest identity when it is close enough, else starts one.
 * *unknown_id is the identity, *dismissed 1 when it is a dismissed one (the caller drops the event). */
int watch_visitors_group(watch_visitors *v, int64_t event_id, const float *face, int dim, int64_t seen_at,
                         int64_t *unknown_id, int *dismissed, mien_error *err);

/* Re-reads the identities when the store's changed, and runs the merge pass every merge_ms. Call often; it does
 * nothing most of the time. */
void watch_visitors_tick(watch_visitors *v, int64_t now_ms);

/* The identities held (the recorder's thread only) and merges made (any thread: for /metrics). */
size_t watch_visitors_count(const watch_visitors *v);
uint64_t watch_visitors_merges(watch_visitors *v);

/*
 * The first enabled alert rule of `kind` (STORE_RULE_*) for an unknown face at `camera_id` at `now_ms` (local time
 * of day within the rule's window); for STORE_RULE_REPEAT_UNKNOWN also identity `unknown_id` seen at least
 * min_visits times in the rule's days. MIEN_ENOENT when none applies.
 */
int watch_rule_match(store *db, int kind, int64_t camera_id, int64_t unknown_id, int64_t now_ms, store_alert_rule *out,
                     mien_error *err);

/* Is minute-of-day m within [from, to) (crossing midnight when to <= from)? from < 0: all day. */
int watch_rule_window(int from, int to, int m);

#endif
