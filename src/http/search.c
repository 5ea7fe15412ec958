/*
 * search.c — POST /search/faces: the past events whose face looks like a face in a picture, or like an event's own
 * face (?event=ID), best first, within the caller's cameras. Nothing is enrolled or stored.
 *
 * The index is a gallery (store/gallery.h, int8) over the faces events kept (store.h, "Event faces"): every finished
 * event is a face of its own, face id = person id = event id, so that a search returns distinct events. It holds the
 * server's embedder's faces, is loaded from the store at the first search and is then kept current by a gallery
 * syncer over the event-face source: events finished on any node come in within MIEN_GALLERY_SYNC_MS, and events
 * that retention purged or someone erased go out. Every hit is read back from the store before it is answered, so a
 * deleted event is never answered even before the syncer takes it out.
 *
 * What the index cannot filter on (the caller's cameras, camera_id, since, until) is checked on the events read
 * back. When that passes over hits, the index is asked again with the events already seen excluded (the gallery's
 * keep predicate, which costs nothing on rows below the similarity floor), up to SEARCH_ROUNDS times.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "face/face.h"
#include "store/gallery.h"
#include "watch/watch.h"
#include "http/http_int.h"

#define SEARCH_LIMIT_MAX 200 /* results one search answers */
#define SEARCH_ROUNDS    8   /* index searches of GALLERY_MAX_K hits for one request, at most */
#define DIM_MAX          4096

struct http_search {
	pthread_mutex_t lock;         /* guards creating the index */
	gallery *index;               /* NULL until the first search */
	store_gallery_syncer *syncer; /* started with the index (NULL: MIEN_GALLERY_SYNC_MS=0) */
};

int http__search_create(http_server *s, http_search **out)
{
	(void)s;
	http_search *x = calloc(1, sizeof(*x));
	if (!x)
		return MIEN_ENOMEM;
	pthread_mutex_init(&x->lock, NULL);
	*out = x;
	return MIEN_OK;
}

void http__search_free(http_search **px)
{
	if (!px || !*px)
		return;
	http_search *x = *px;
	store_gallery_sync_stop(&x->syncer);
	gallery_free(&x->index);
	pthread_mutex_destroy(&x->lock);
	free(x);
	*px = NULL;
}

/* The index over the event faces of `model`, loaded the first time; NULL (err set) when it cannot be. */
static gallery *index_for(http_server *s, const char *model, int dim, mien_error *err)
{
	http_search *x = s->search;
	pthread_mutex_lock(&x->lock);
	if (!x->index) {
		int64_t t0 = mien_mono_ms();
		if (store_gallery_load(s->db, STORE_GALLERY_EVENT_FACES, model, dim, GALLERY_INT8, &x->index, err) ==
		    MIEN_OK) {
			MIEN_LOG_INFO_("http", "search: %zu event faces indexed (%s, %s, %lld ms)",
			               gallery_size(x->index), model, gallery_isa(x->index),
			               (long long)(mien_mono_ms() - t0));
			int every = store_gallery_sync_interval();
			mien_error sync_err = { 0 };
			if (every > 0 && store_gallery_sync_start(s->db, STORE_GALLERY_EVENT_FACES, x->index, every,
			                                          "http", NULL, NULL, &x->syncer, &sync_err) != MIEN_OK)
				MIEN_LOG_WARN_("http", "search: %s; events after now are searchable after a restart",
				               sync_err.message);
		}
	}
	gallery *g = x->index;
	pthread_mutex_unlock(&x->lock);
	return g;
}

/* --- the query -----------------------------------------------------------------------------------------------------
 */

typedef struct search_query {
	float embedding[DIM_MAX];
	int dim;
	char model[STORE_MODEL_MAX];
	json_t *about; /* what was searched for: {"event_id"} or {"face","box"} */
} search_query;

/* The face of event `id` (visible to the caller). 0, or -1 after answering 404 or 422 no_face. */
static int query_of_event(http_req *r, int64_t id, search_query *q)
{
	store_event e;
	mien_error err = { 0 };
	int rc = store_event_get(r->srv->db, id, &e, &err);
	if (rc == MIEN_OK && !http__camera_allowed(r, e.camera_id))
		rc = MIEN_ENOENT; /* another camera's event is one that does not exist */
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "event");
		return -1;
	}
	rc = store_event_embedding(r->srv->db, id, q->model, q->embedding, &q->dim, &err);
	if (rc == MIEN_ENOENT) {
		http__reply_error(r, 422, "no_face", "event %lld kept no face to search with", (long long)id);
		return -1;
	}
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "event");
		return -1;
	}
	q->about = json_pack("{s:I}", "event_id", (json_int_t)id);
	return 0;
}

/* The face of the request's picture: ?face=N or ?box=..., else the largest. 0, or -1 after answering. */
static int query_of_picture(http_req *r, search_query *q)
{
	http_face_selector sel;
	if (http__face_selector_parse(r, &sel))
		return -1;
	face_image *image = NULL;
	face_result *faces = calloc(HTTP_FACES_MAX, sizeof(face_result));
	size_t count = 0;
	int rc = -1;
	if (!faces) {
		http__reply_error(r, 503, "unavailable", "out of memory");
		return -1;
	}
	if (http__analyze_picture(r, &image, faces, &count) != 0)
		goto done;
	long index = http__face_pick(r, &sel, faces, count, HTTP_PICK_LARGEST);
	if (index < 0)
		goto done;
	const face_result *f = &faces[index];
	if (!f->embedding_model || f->embedding_dim < 1 || f->embedding_dim > DIM_MAX) {
		http__reply_json(r, 422,
		                 json_pack("{s:{s:s,s:s},s:I}", "error", "code", "too_small", "message",
		                           "the face is too small to recognise", "face", (json_int_t)index));
		goto done;
	}
	memcpy(q->embedding, f->embedding, (size_t)f->embedding_dim * sizeof(float));
	q->dim = f->embedding_dim;
	snprintf(q->model, sizeof(q->model), "%s", f->embedding_model);
	q->about = json_pack("{s:I,s:[f,f,f,f]}", "face", (json_int_t)index, "box", f->box[0], f->box[1], f->box[2],
	                     f->box[3]);
	rc = 0;
done:
	face_image_free(&image);
	free(faces);
	return rc;
}

/* --- the search ----------------------------------------------------------------------------------------------------
 */

typedef struct search_filter {
	size_t limit;
	float min_similarity;
	int64_t camera_id, since, until;
} search_filter;

/* Parses the query string; answers 400 itself and returns -1 on a bad value. */
static int filter_parse(http_req *r, search_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->limit = HTTP_LIST_DEFAULT;
	f->min_similarity = NAN; /* the recognition threshold, once the model is known */
	const char *limit = http__query(r, "limit");
	int64_t n = 0;
	if (limit && (http__id_parse(limit, &n) != 0 || n > SEARCH_LIMIT_MAX)) {
		http__reply_error(r, 400, "bad_request", "'limit' must be between 1 and %d", SEARCH_LIMIT_MAX);
		return -1;
	}
	if (limit)
		f->limit = (size_t)n;
	const char *min = http__query(r, "min_similarity");
	if (min) {
		char *end = NULL;
		double v = strtod(min, &end);
		if (!*min || *end || !isfinite(v) || v < -1 || v > 1) {
			http__reply_error(r, 400, "bad_request", "'min_similarity' must be a number from -1 to 1");
			return -1;
		}
		f->min_similarity = (float)v;
	}
	if (http__query_id(r, "camera_id", &f->camera_id) || http__query_time(r, "since", &f->since) ||
	    http__query_time(r, "until", &f->until))
		return -1;
	if (f->since && f->until && f->until <= f->since) {
		http__reply_error(r, 400, "bad_request", "'until' must be after 'since'");
		return -1;
	}
	return 0;
}

typedef struct search_result {
	store_event event;
	float similarity;
} search_result;

/* The event ids a request has looked at, ascending: the index is asked again without them. */
typedef struct seen_set {
	int64_t ids[SEARCH_ROUNDS * GALLERY_MAX_K];
	size_t n;
} seen_set;

static int by_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* gallery_keep_fn: only events not seen yet (called on the search's threads: reads only). */
static int unseen(void *ctx, int64_t person_id, int64_t face_id)
{
	(void)person_id;
	const seen_set *seen = ctx;
	return bsearch(&face_id, seen->ids, seen->n, sizeof(seen->ids[0]), by_id) == NULL;
}

/* The event of `id` among `events` (newest first, as store_event_list answers), or NULL. */
static const store_event *event_among(const store_event *events, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (events[i].id == id)
			return &events[i];
	return NULL;
}

/* Up to f->limit events like `q`, best first, into out[]; answers errors itself (returns -1). */
static int search(http_req *r, gallery *g, const search_query *q, const search_filter *f, search_result *out,
                  size_t *count)
{
	*count = 0;
	seen_set *seen = calloc(1, sizeof(*seen));
	store_event *events = malloc(GALLERY_MAX_K * sizeof(*events));
	if (!seen || !events) {
		free(seen);
		free(events);
		http__reply_error(r, 503, "unavailable", "out of memory");
		return -1;
	}
	/* min_similarity counts itself in; the gallery's floor is strict */
	float floor = nextafterf(f->min_similarity, -INFINITY);
	int rc = 0;
	for (int round = 0; round < SEARCH_ROUNDS && *count < f->limit; round++) {
		gallery_hit hits[GALLERY_MAX_K];
		size_t n = 0;
		mien_error err = { 0 };
		if (gallery_search_where(g, q->embedding, q->dim, q->model, GALLERY_MAX_K, floor, unseen, seen, hits,
		                         &n, &err) != MIEN_OK) {
			mien_log(MIEN_LOG_WARN, "http", "search: %s", err.message);
			http__reply_error(r, 500, "internal", "the event faces could not be searched");
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		int64_t ids[GALLERY_MAX_K];
		for (size_t i = 0; i < n; i++)
			ids[i] = hits[i].face_id;
		store_event_filter sf = { 0 };
		sf.ids = ids;
		sf.n_ids = (int)n;
		sf.camera_id = f->camera_id;
		sf.from = f->since;
		sf.to = f->until;
		size_t found = 0;
		int src = store_event_list(r->srv->db, &sf, events, n, &found, &err);
		if (src != MIEN_OK) {
			http__reply_store_error(r, src, &err, "events");
			rc = -1;
			break;
		}
		/* Hits in the index's order (best first); those of other cameras, outside the times asked for, or
		 * deleted since the index last heard of them are passed over. */
		for (size_t i = 0; i < n && *count < f->limit; i++) {
			const store_event *e = event_among(events, found, hits[i].face_id);
			if (!e || !http__camera_allowed(r, e->camera_id))
				continue;
			out[*count].event = *e;
			out[*count].similarity = fminf(1.0f, fmaxf(-1.0f, hits[i].similarity));
			(*count)++;
		}
		if (n < GALLERY_MAX_K)
			break; /* nothing else above the floor */
		memcpy(seen->ids + seen->n, ids, n * sizeof(ids[0]));
		seen->n += n;
		qsort(seen->ids, seen->n, sizeof(seen->ids[0]), by_id);
	}
	free(events);
	free(seen);
	return rc;
}

static json_t *result_json(const search_result *res)
{
	const store_event *e = &res->event;
	char started[32], ended[32];
	http__iso_time(e->started_at, started);
	http__iso_time(e->ended_at, ended);
	json_t *person = e->person_id ? json_pack("{s:I,s:s}", "id", (json_int_t)e->person_id, "name", e->person_name)
	                              : json_null();
	return json_pack("{s:I,s:I,s:s,s:o,s:f,s:o,s:o}", "event_id", (json_int_t)e->id, "camera_id",
	                 (json_int_t)e->camera_id, "started_at", started, "ended_at",
	                 e->ended_at ? json_string(ended) : json_null(), "similarity", (double)res->similarity,
	                 "person", person, "unknown_id", e->unknown_id ? json_integer(e->unknown_id) : json_null());
}

void http__h_search_faces(http_req *r)
{
	search_filter f;
	int64_t event_id = 0;
	if (filter_parse(r, &f) || http__query_id(r, "event", &event_id))
		return;
	search_query *q = calloc(1, sizeof(*q));
	search_result *results = malloc(f.limit * sizeof(*results));
	if (!q || !results) {
		free(q);
		free(results);
		http__reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	const char *type = http__header(r, "Content-Type");
	if (event_id && (r->body_len || type)) {
		http__reply_error(r, 400, "bad_request", "give a picture or ?event=ID, not both");
		goto done;
	}
	if (event_id && (http__query(r, "face") || http__query(r, "box"))) {
		http__reply_error(r, 400, "bad_request", "'face' and 'box' pick a face of a picture, not of an event");
		goto done;
	}
	if (!event_id && !r->body_len && !type) {
		http__reply_error(r, 400, "bad_request",
		                  "send a picture (as POST /analyze takes it) or give ?event=ID");
		goto done;
	}
	if (event_id ? query_of_event(r, event_id, q) : query_of_picture(r, q))
		goto done;
	/* One index, of the server's embedder: an event kept under another embedder cannot be compared with it. */
	const char *model = face_embedder_name(NULL);
	if (strcmp(q->model, model) != 0) {
		http__reply_error(r, 422, "other_embedder",
		                  "the face was embedded by %.64s; the event faces searched are %.64s's", q->model,
		                  model);
		goto done;
	}
	if (isnan(f.min_similarity))
		f.min_similarity = watch_recognition_threshold(r->srv->db, q->model);
	mien_error err = { 0 };
	gallery *g = index_for(r->srv, q->model, q->dim, &err);
	if (!g) {
		mien_log(MIEN_LOG_WARN, "http", "search: %s", err.message);
		http__reply_error(r, 503, "unavailable", "the event faces could not be loaded");
		goto done;
	}
	size_t count = 0;
	if (search(r, g, q, &f, results, &count) != 0)
		goto done;
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(items, result_json(&results[i]));
	json_t *reply = json_pack("{s:o,s:n,s:o,s:f}", "items", items, "next_cursor", "query", q->about,
	                          "min_similarity", (double)f.min_similarity);
	q->about = NULL;
	http__reply_json(r, 200, reply);
done:
	json_decref(q->about);
	free(results);
	free(q);
}
