/*
 * store_gallery.c — fills a gallery index from the stored embeddings (what a process does at start), and keeps it
 * current with the changes other processes make to the same database (store.h, "Gallery sync").
 *
 * An index is filled from one source (enum store_gallery_source): the enrolled faces (with the negatives) that
 * identification searches, or the faces events kept that the face search searches. Each source is the same four
 * store calls — walk, range walk, signature, ids — so loading and syncing are written once, over a small table.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/gallery.h"
#include "store/store.h"

typedef struct source_ops {
	const char *noun;   /* "face", "event face": the log lines' words */
	const char *origin; /* who makes the changes a pass finds */
	int verbose;        /* changes are logged at info level (else debug: event faces come and go all day) */
	int (*each)(store *s, const char *model, store_embedding_fn fn, void *ctx, mien_error *err);
	int (*range)(store *s, const char *model, int64_t from_id, int64_t to_id, store_embedding_fn fn, void *ctx,
	             mien_error *err);
	int (*signature)(store *s, const char *model, store_face_signature *out, mien_error *err);
	int (*ids)(store *s, const char *model, int64_t **ids, size_t *count, mien_error *err);
} source_ops;

static const source_ops sources[] = {
	[STORE_GALLERY_FACES] = { "face", "by another process", 1, store_embeddings_each, store_embeddings_range,
	                          store_face_signature_get, store_face_ids },
	/* every visit's face comes through the store, this node's own included */
	[STORE_GALLERY_EVENT_FACES] = { "event face", "in the store", 0, store_event_faces_each,
	                                store_event_faces_range, store_event_face_signature, store_event_face_ids },
};

static const source_ops *source_of(int source, mien_error *err)
{
	if (source < 0 || (size_t)source >= MIEN_ARRAY_LEN(sources)) {
		mien_error_set(err, MIEN_EINVAL, "gallery: unknown source %d", source);
		return NULL;
	}
	return &sources[source];
}

typedef struct fill_ctx {
	gallery *index;
	const char *model;
	mien_error *err;
	int64_t skipped;
} fill_ctx;

static int fill(void *ctx, int64_t face_id, int64_t person_id, const float *embedding, int dim)
{
	fill_ctx *f = ctx;
	mien_error local;
	int rc = gallery_add(f->index, face_id, person_id, embedding, dim, f->model, &local);
	if (rc == MIEN_EINVAL) {
		/* A stored row the index refuses (another width, a zero vector) cannot match anything; it is counted
		 * and left out rather than keeping everyone else from being recognised. */
		f->skipped++;
		return MIEN_OK;
	}
	if (rc)
		*f->err = local;
	return rc;
}

int store_gallery_load(store *s, int source, const char *model, int dim, int format, gallery **out, mien_error *err)
{
	*out = NULL;
	const source_ops *src = source_of(source, err);
	if (!src)
		return MIEN_EINVAL;
	gallery *g = NULL;
	int rc = gallery_create(model, dim, format, &g, err);
	if (rc)
		return rc;
	fill_ctx f = { g, model, err, 0 };
	rc = src->each(s, model, fill, &f, err);
	if (rc) {
		gallery_free(&g);
		return rc;
	}
	if (f.skipped)
		MIEN_LOG_WARN_("store", "gallery %s: %lld stored %s embeddings left out (wrong size or empty)", model,
		               (long long)f.skipped, src->noun);
	*out = g;
	return MIEN_OK;
}

/* --- keeping an index current with changes made by other processes ----------------------------------------- */

static void signature_of(const int64_t *ids, size_t n, store_face_signature *sig)
{
	memset(sig, 0, sizeof(*sig));
	sig->count = (int64_t)n;
	for (size_t i = 0; i < n; i++) {
		sig->id_sum += ids[i];
		if (ids[i] > sig->max_id)
			sig->max_id = ids[i];
	}
}

static int same(const store_face_signature *a, const store_face_signature *b)
{
	return a->count == b->count && a->max_id == b->max_id && a->id_sum == b->id_sum;
}

static int by_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The index's signature, from a copy of its ids; with `sorted`, the copy is sorted and handed over (caller frees). */
static int indexed_signature(const gallery *g, store_face_signature *sig, int64_t **sorted, size_t *count,
                             mien_error *err)
{
	int64_t *ids = NULL;
	size_t n = 0;
	if (gallery_face_ids(g, &ids, &n) != MIEN_OK)
		return mien_error_set(err, MIEN_ENOMEM, "gallery sync: out of memory copying %zu face ids",
		                      gallery_size(g));
	signature_of(ids, n, sig);
	if (!sorted) {
		free(ids);
		return MIEN_OK;
	}
	qsort(ids, n, sizeof(*ids), by_id);
	*sorted = ids;
	*count = n;
	return MIEN_OK;
}

typedef struct add_ctx {
	gallery *index;
	const int64_t *missing; /* ascending */
	size_t n_missing;
	size_t added, refused;
	mien_error *err;
} add_ctx;

static int add_missing(void *ctx, int64_t face_id, int64_t person_id, const float *embedding, int dim)
{
	add_ctx *a = ctx;
	if (!bsearch(&face_id, a->missing, a->n_missing, sizeof(int64_t), by_id))
		return MIEN_OK; /* inside a loaded range but already indexed */
	mien_error local;
	int rc = gallery_add(a->index, face_id, person_id, embedding, dim, gallery_model(a->index), &local);
	if (rc == MIEN_EINVAL) {
		a->refused++; /* as at load: a row the index cannot hold is left out, not fatal */
		return MIEN_OK;
	}
	if (rc) {
		*a->err = local;
		return rc;
	}
	a->added++;
	return MIEN_OK;
}

/* Past this many separate runs of missing ids, one range query over all of them beats a query per run. */
#define SYNC_RUNS_MAX 32

int store_gallery_sync_once(store *s, int source, gallery *g, store_gallery_sync_state *state, size_t *added,
                            size_t *removed, mien_error *err)
{
	if (added)
		*added = 0;
	if (removed)
		*removed = 0;
	if (!s || !g || !state)
		return mien_error_set(err, MIEN_EINVAL, "gallery sync: needs a store, an index and a state");
	const source_ops *src = source_of(source, err);
	if (!src)
		return MIEN_EINVAL;
	const char *model = gallery_model(g);
	int64_t *mine = NULL, *theirs = NULL, *missing = NULL;
	size_t n_mine = 0, n_theirs = 0, n_missing = 0, n_removed = 0, runs = 0;
	store_face_signature indexed, stored;
	/* The index first, then the store: see store.h on why this order. */
	int rc = indexed_signature(g, &indexed, NULL, NULL, err);
	if (rc == MIEN_OK)
		rc = src->signature(s, model, &stored, err);
	if (rc != MIEN_OK)
		return rc;
	if (same(&indexed, &stored)) {
		state->settled = 0;
		return MIEN_OK;
	}
	if (state->settled && same(&state->stored, &stored) && same(&state->indexed, &indexed))
		return MIEN_OK; /* only the rows the index refused, as last time */

	rc = indexed_signature(g, &indexed, &mine, &n_mine, err);
	if (rc == MIEN_OK)
		rc = src->ids(s, model, &theirs, &n_theirs, err);
	if (rc != MIEN_OK)
		goto done;
	missing = malloc((n_theirs ? n_theirs : 1) * sizeof(*missing));
	if (!missing) {
		rc = mien_error_set(err, MIEN_ENOMEM, "gallery sync: out of memory");
		goto done;
	}
	/* Both ascending: one merge walk finds the stored faces the index lacks and the indexed ones no longer
	 * stored (taken out at once, in place). */
	for (size_t i = 0, j = 0; i < n_mine || j < n_theirs;) {
		if (j == n_theirs || (i < n_mine && mine[i] < theirs[j])) {
			if (gallery_remove_face(g, mine[i]) == 1)
				n_removed++;
			i++;
		} else if (i == n_mine || theirs[j] < mine[i]) {
			if (n_missing == 0 || j == 0 || theirs[j - 1] != missing[n_missing - 1])
				runs++;
			missing[n_missing++] = theirs[j++];
		} else {
			i++;
			j++;
		}
	}
	add_ctx a = { g, missing, n_missing, 0, 0, err };
	if (runs > SYNC_RUNS_MAX) {
		rc = src->range(s, model, missing[0], missing[n_missing - 1], add_missing, &a, err);
	} else {
		/* One query per run of ids that follow each other among the stored ones (usually one: the newest). */
		for (size_t k = 0, pos = 0; rc == MIEN_OK && k < n_missing;) {
			while (theirs[pos] != missing[k])
				pos++;
			size_t end = k + 1;
			while (end < n_missing && pos + (end - k) < n_theirs && theirs[pos + (end - k)] == missing[end])
				end++;
			rc = src->range(s, model, missing[k], missing[end - 1], add_missing, &a, err);
			pos += end - k;
			k = end;
		}
	}
	if (added)
		*added = a.added;
	if (a.refused)
		MIEN_LOG_WARN_("store", "gallery %s: %zu stored %s embeddings left out (wrong size or empty)", model,
		               a.refused, src->noun);
	if (rc != MIEN_OK)
		goto done;
	/* What is still apart now (refused rows) is remembered, so that the next poll does not list again for it. The
	 * store's signature is the one read before the listing: a change since then makes the next poll look. */
	rc = indexed_signature(g, &state->indexed, NULL, NULL, err);
	state->stored = stored;
	state->settled = rc == MIEN_OK && !same(&state->indexed, &stored);
done:
	if (removed)
		*removed = n_removed;
	free(missing);
	free(theirs);
	free(mine);
	return rc;
}

#define SYNC_DEFAULT_MS 2000
#define SYNC_MIN_MS     100
#define SYNC_MAX_MS     3600000

int store_gallery_sync_interval(void)
{
	const char *env = getenv("MIEN_GALLERY_SYNC_MS");
	if (!env || !*env)
		return SYNC_DEFAULT_MS;
	char *end = NULL;
	errno = 0;
	long long ms = strtoll(env, &end, 10);
	if (*end != '\0' || errno || ms < 0) {
		MIEN_LOG_WARN_("store", "MIEN_GALLERY_SYNC_MS=%.32s is not a number of milliseconds; using %d", env,
		               SYNC_DEFAULT_MS);
		return SYNC_DEFAULT_MS;
	}
	if (ms == 0)
		return 0;
	return ms < SYNC_MIN_MS ? SYNC_MIN_MS : ms > SYNC_MAX_MS ? SYNC_MAX_MS : (int)ms;
}

struct store_gallery_syncer {
	store *db;
	int source;
	gallery *index;
	int interval_ms;
	char who[32];
	store_gallery_changed_fn changed;
	void *ctx;
	store_gallery_sync_state state;
	int failing; /* the last pass failed (its error was logged once) */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int closing;
};

static void sync_pass(store_gallery_syncer *sy)
{
	mien_error err = { 0 };
	size_t added = 0, removed = 0;
	int64_t started = mien_mono_ms();
	int rc = store_gallery_sync_once(sy->db, sy->source, sy->index, &sy->state, &added, &removed, &err);
	if (rc != MIEN_OK && !sy->failing)
		MIEN_LOG_WARN_(sy->who, "gallery sync: %s (retrying every %d ms)", err.message, sy->interval_ms);
	else if (rc == MIEN_OK && sy->failing)
		MIEN_LOG_INFO_(sy->who, "gallery sync: the store answers again");
	sy->failing = rc != MIEN_OK;
	if (!added && !removed)
		return;
	long long ms = (long long)(mien_mono_ms() - started);
	const source_ops *src = &sources[sy->source];
	int level = src->verbose ? MIEN_LOG_INFO : MIEN_LOG_DEBUG;
	if (added && removed)
		mien_log(level, sy->who, "gallery: %zu %s%s added and %zu removed %s (%zu %ss, %lld ms)", added,
		         src->noun, added == 1 ? "" : "s", removed, src->origin, gallery_size(sy->index), src->noun,
		         ms);
	else
		mien_log(level, sy->who, "gallery: %zu %s%s %s %s (%zu %ss, %lld ms)", added ? added : removed,
		         src->noun, (added ? added : removed) == 1 ? "" : "s", added ? "added" : "removed", src->origin,
		         gallery_size(sy->index), src->noun, ms);
	if (sy->changed)
		sy->changed(sy->ctx, added, removed);
}

static void *sync_main(void *arg)
{
	store_gallery_syncer *sy = arg;
	pthread_mutex_lock(&sy->lock);
	while (!sy->closing) {
		struct timespec deadline;
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += sy->interval_ms / 1000;
		deadline.tv_nsec += (long)(sy->interval_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		while (!sy->closing && pthread_cond_timedwait(&sy->wake, &sy->lock, &deadline) != ETIMEDOUT) {
		}
		if (sy->closing)
			break;
		pthread_mutex_unlock(&sy->lock);
		sync_pass(sy);
		pthread_mutex_lock(&sy->lock);
	}
	pthread_mutex_unlock(&sy->lock);
	return NULL;
}

int store_gallery_sync_start(store *s, int source, gallery *g, int interval_ms, const char *who,
                             store_gallery_changed_fn changed, void *ctx, store_gallery_syncer **out, mien_error *err)
{
	*out = NULL;
	if (!s || !g || interval_ms <= 0)
		return mien_error_set(err, MIEN_EINVAL, "gallery sync: needs a store, an index and an interval");
	if (!source_of(source, err))
		return MIEN_EINVAL;
	store_gallery_syncer *sy = calloc(1, sizeof(*sy));
	if (!sy)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	sy->db = s;
	sy->source = source;
	sy->index = g;
	sy->interval_ms = interval_ms;
	snprintf(sy->who, sizeof(sy->who), "%s", who && *who ? who : "store");
	sy->changed = changed;
	sy->ctx = ctx;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* a wall-clock step neither stalls nor floods the polls */
	pthread_cond_init(&sy->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&sy->lock, NULL);
	if (pthread_create(&sy->thread, NULL, sync_main, sy) != 0) {
		pthread_cond_destroy(&sy->wake);
		pthread_mutex_destroy(&sy->lock);
		free(sy);
		return mien_error_set(err, MIEN_EBACKEND, "cannot start the gallery sync");
	}
	*out = sy;
	return MIEN_OK;
}

void store_gallery_sync_stop(store_gallery_syncer **syp)
{
	if (!syp || !*syp)
		return;
	store_gallery_syncer *sy = *syp;
	pthread_mutex_lock(&sy->lock);
	sy->closing = 1;
	pthread_cond_broadcast(&sy->wake);
	pthread_mutex_unlock(&sy->lock);
	pthread_join(sy->thread, NULL);
	pthread_cond_destroy(&sy->wake);
	pthread_mutex_destroy(&sy->lock);
	free(sy);
	*syp = NULL;
}
