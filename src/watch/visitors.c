/*
 * visitors.c — unknown visitors grouped into identities, dismissed ones ignored, alert rules (see visitors.h).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/rules.h"
#include "core/clock.h"
#include "core/log.h"
#include "face/cluster.h"
#include "watch/visitors.h"

#define SYNC_MS   5000  /* how often the store is asked whether identities changed */
#define MERGE_MS  60000 /* how often the merge pass runs */
#define RULES_MAX 64

struct watch_visitors {
	store *db;
	const char *model;
	float threshold;
	face_cluster_set *set; /* NULL until the first face (its width) or after a failed load */
	int dim;
	store_face_signature seen; /* the store's identities when the set was loaded */
	int64_t next_sync, next_merge;
	_Atomic uint64_t merges; /* read by /metrics on other threads */
	int stale;               /* a merge the store refused: read the set again */
};

static int load_one(void *ctx, const store_unknown *u, const float *sum)
{
	watch_visitors *v = ctx;
	mien_error err;
	if (u->dim != v->dim)
		return MIEN_OK;
	if (face_cluster_put(v->set, u->id, sum, u->members > 0 ? u->members : 1, u->dismissed, &err) != MIEN_OK)
		MIEN_LOG_WARN_("watch", "unknown identity %lld left out: %s", (long long)u->id, err.message);
	return MIEN_OK;
}

/* A cheap fingerprint of the identities: any create, join, merge, dismissal or erasure changes it. */
static int signature(store *db, const char *model, store_face_signature *out, mien_error *err)
{
	return store_unknown_signature(db, model, out, err);
}

/* (Re)reads every identity of the embedder into a fresh set. */
static int reload(watch_visitors *v, mien_error *err)
{
	if (!v->dim)
		return MIEN_OK;
	store_face_signature sig;
	int rc = signature(v->db, v->model, &sig, err);
	if (rc)
		return rc;
	face_cluster_set *fresh = NULL;
	if ((rc = face_cluster_create(v->dim, v->threshold, &fresh, err)))
		return rc;
	face_cluster_set *old = v->set;
	v->set = fresh;
	rc = store_unknowns_each(v->db, v->model, load_one, v, err);
	if (rc) {
		v->set = old;
		face_cluster_free(&fresh);
		return rc;
	}
	face_cluster_free(&old);
	v->seen = sig;
	return MIEN_OK;
}

int watch_visitors_create(store *db, const char *model, watch_visitors **out, mien_error *err)
{
	*out = NULL;
	watch_visitors *v = calloc(1, sizeof(*v));
	if (!v)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	v->db = db;
	v->model = model;
	v->threshold = face_cluster_default_threshold(model);
	const char *env = getenv("MIEN_UNKNOWN_THRESHOLD");
	if (env && *env) {
		char *end;
		double t = strtod(env, &end);
		if (*end || !(t > 0 && t < 1)) {
			free(v);
			return mien_error_set(err, MIEN_EINVAL,
			                      "MIEN_UNKNOWN_THRESHOLD: a cosine similarity in (0, 1)");
		}
		v->threshold = (float)t;
	}
	int64_t now = mien_mono_ms();
	v->next_sync = now + SYNC_MS;
	v->next_merge = now + MERGE_MS;
	*out = v;
	return MIEN_OK;
}

void watch_visitors_free(watch_visitors **v)
{
	if (!v || !*v)
		return;
	face_cluster_free(&(*v)->set);
	free(*v);
	*v = NULL;
}

/* The set, loaded for faces of `dim` values; NULL when it cannot be (another width than the first face's). */
static face_cluster_set *ready(watch_visitors *v, int dim)
{
	if (v->dim && v->dim != dim)
		return NULL;
	if (!v->set) {
		v->dim = dim;
		mien_error err;
		if (reload(v, &err) != MIEN_OK) {
			MIEN_LOG_WARN_("watch", "unknown identities: %s", err.message);
			return NULL;
		}
	}
	return v->set;
}

int watch_visitors_dismissed(watch_visitors *v, const float *face, int dim)
{
	face_cluster_set *set = ready(v, dim);
	face_cluster_hit hit;
	mien_error err;
	if (!set || face_cluster_nearest(set, face, &hit, &err) != MIEN_OK)
		return 0;
	return hit.id && hit.dismissed && hit.similarity >= v->threshold;
}

int watch_visitors_group(watch_visitors *v, int64_t event_id, const float *face, int dim, int64_t seen_at,
                         int64_t *unknown_id, int *dismissed, mien_error *err)
{
	*unknown_id = 0;
	*dismissed = 0;
	face_cluster_set *set = ready(v, dim);
	if (!set)
		return mien_error_set(err, MIEN_EINVAL, "unknown identities: a face of %d values (the set holds %d)",
		                      dim, v->dim);
	face_cluster_hit hit;
	int rc = face_cluster_nearest(set, face, &hit, err);
	if (rc)
		return rc;
	store_unknown u;
	if (hit.id && hit.similarity >= v->threshold) {
		if (hit.dismissed) {
			*unknown_id = hit.id;
			*dismissed = 1;
			return MIEN_OK;
		}
		rc = store_unknown_join(v->db, hit.id, event_id, face, dim, seen_at, &u, err);
		if (rc == MIEN_OK) {
			face_cluster_add(set, hit.id, face, err);
			*unknown_id = hit.id;
			return MIEN_OK;
		}
		if (rc != MIEN_ENOENT)
			return rc;
		/* merged or erased meanwhile (another node, the dashboard): a new identity; the merge pass tidies up */
		face_cluster_remove(set, hit.id);
	}
	rc = store_unknown_create(v->db, event_id, v->model, face, dim, seen_at, &u, err);
	if (rc)
		return rc;
	rc = face_cluster_put(set, u.id, face, 1, 0, err);
	*unknown_id = u.id;
	return rc;
}

/* One store merge per merge the set makes; a refusal (another node merged first) stops the pass, and the set is
 * read again from the store. */
static int merged_in_store(void *ctx, int64_t into, int64_t from, float sim)
{
	watch_visitors *v = ctx;
	store_unknown u;
	mien_error err;
	if (store_unknown_merge(v->db, into, from, &u, &err) != MIEN_OK) {
		MIEN_LOG_INFO_("watch", "unknown identities %lld and %lld: %s", (long long)into, (long long)from,
		               err.message);
		v->stale = 1;
		return 1;
	}
	atomic_fetch_add(&v->merges, 1);
	MIEN_LOG_INFO_("watch", "unknown identity %lld merged into %lld (similarity %.3f)", (long long)from,
	               (long long)into, (double)sim);
	return 0;
}

/* Every merge due, in one pass over the pairs (face_cluster_merge_all). */
static void merge_pass(watch_visitors *v)
{
	mien_error err;
	v->stale = 0;
	if (face_cluster_merge_all(v->set, merged_in_store, v, NULL, &err) != MIEN_OK)
		MIEN_LOG_WARN_("watch", "unknown identities: merge pass: %s", err.message);
	if (v->stale && reload(v, &err) != MIEN_OK)
		MIEN_LOG_WARN_("watch", "unknown identities: %s", err.message);
}

void watch_visitors_tick(watch_visitors *v, int64_t now)
{
	if (!v->set || now < v->next_sync)
		return;
	v->next_sync = now + SYNC_MS;
	mien_error err;
	store_face_signature sig;
	if (signature(v->db, v->model, &sig, &err) != MIEN_OK)
		return; /* the store is away; the next tick tries again */
	if ((sig.count != v->seen.count || sig.max_id != v->seen.max_id || sig.id_sum != v->seen.id_sum) &&
	    reload(v, &err) != MIEN_OK)
		MIEN_LOG_WARN_("watch", "unknown identities: %s", err.message);
	if (now >= v->next_merge) {
		v->next_merge = now + MERGE_MS;
		merge_pass(v);
		if (signature(v->db, v->model, &sig, &err) == MIEN_OK)
			v->seen = sig;
	}
}

size_t watch_visitors_count(const watch_visitors *v)
{
	return v ? face_cluster_count(v->set) : 0;
}

uint64_t watch_visitors_merges(watch_visitors *v)
{
	return v ? atomic_load(&v->merges) : 0;
}

int watch_rule_window(int from, int to, int m)
{
	return rule_minute_in(from, to, m); /* the notifier's rules (bus/rules.h) read time windows the same way */
}

int watch_rule_match(store *db, int kind, int64_t camera_id, int64_t unknown_id, int64_t now_ms, store_alert_rule *out,
                     mien_error *err)
{
	store_alert_rule rules[RULES_MAX];
	size_t n = 0;
	int rc = store_alert_rule_list(db, rules, RULES_MAX, &n, err);
	if (rc)
		return rc;
	time_t secs = (time_t)(now_ms / 1000);
	struct tm local;
	localtime_r(&secs, &local);
	int minute = local.tm_hour * 60 + local.tm_min;
	for (size_t i = 0; i < n; i++) {
		const store_alert_rule *r = &rules[i];
		if (!r->enabled || r->kind != kind || (r->camera_id && r->camera_id != camera_id) ||
		    !watch_rule_window(r->from_min, r->to_min, minute))
			continue;
		if (kind == STORE_RULE_REPEAT_UNKNOWN) {
			int64_t visits = 0;
			if (!unknown_id ||
			    store_unknown_visits_since(db, unknown_id, now_ms - (int64_t)r->days * 86400000, &visits,
			                               err) != MIEN_OK ||
			    visits < r->min_visits)
				continue;
		}
		*out = *r;
		return MIEN_OK;
	}
	return mien_error_set(err, MIEN_ENOENT, "no rule applies");
}
