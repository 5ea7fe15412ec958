/*
 * store_unknowns.c — the face each event keeps, and unknown visitors grouped into identities.
 *
 * An identity stores the sum of its members' L2-normalised embeddings and their count (face/cluster.h reads
 * them); a join adds the event's face to the sum inside a transaction that first updates the identity's row, so
 * that PostgreSQL holds the row's lock (and SQLite the database's) until the new sum is written: two nodes adding
 * to one identity at once lose nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/store.h"
#include "store/store_int.h"

#define DIM_MAX 4096

/* --- the face an event keeps ---------------------------------------------------------------------------------- */

static int check_embedding(const char *model, const float *embedding, int dim, mien_error *err)
{
	int rc = store__check_text(model, STORE_MODEL_MAX, "model name", 1, err);
	if (rc)
		return rc;
	if (!embedding || dim < 1 || dim > DIM_MAX)
		return mien_error_set(err, MIEN_EINVAL, "embedding of %d values (1..%d)", dim, DIM_MAX);
	double n2 = 0;
	for (int i = 0; i < dim; i++)
		n2 += (double)embedding[i] * embedding[i];
	if (!(n2 > 0) || !isfinite(n2))
		return mien_error_set(err, MIEN_EINVAL, "a zero or non-finite embedding");
	return MIEN_OK;
}

static void normalise(const float *in, int dim, float *out)
{
	double n2 = 0;
	for (int i = 0; i < dim; i++)
		n2 += (double)in[i] * in[i];
	float k = (float)(1.0 / sqrt(n2));
	for (int i = 0; i < dim; i++)
		out[i] = in[i] * k;
}

int store_event_set_embedding(store *s, int64_t event_id, const char *model, const float *embedding, int dim,
                              mien_error *err)
{
	int rc = check_embedding(model, embedding, dim, err);
	if (rc)
		return rc;
	int64_t found = 0;
	store_value p[] = { SV_INT(event_id), SV_TEXT(model), SV_BLOB(embedding, (size_t)dim * sizeof(float)) };
	rc = RUN(s, "UPDATE events SET embedding_model = $2, embedding = $3 WHERE id = $1 RETURNING id", p,
	         store__count_row, &found);
	return store__found_or(rc, found, "event", event_id, err);
}

typedef struct vector_ctx {
	char *model; /* STORE_MODEL_MAX; may be NULL */
	float *values;
	int dim;
	int found;
	int members;
	mien_error *err;
} vector_ctx;

/* Row: model, blob (float32), and optionally members in column 2. */
static int vector_row(void *ctx, const store_row *row)
{
	vector_ctx *v = ctx;
	size_t len;
	const void *blob = store__col_blob(row, 1, &len);
	if (!blob)
		return MIEN_OK;
	if (len == 0 || len % sizeof(float) || len / sizeof(float) > DIM_MAX)
		return mien_error_set(v->err, MIEN_EFORMAT, "a stored embedding of %zu bytes", len);
	if (v->model)
		store__copy_text(v->model, STORE_MODEL_MAX, store__col_text(row, 0));
	memcpy(v->values, blob, len); /* copied: the blob may not be aligned for floats */
	v->dim = (int)(len / sizeof(float));
	v->members = (int)store__col_int(row, 2);
	v->found = 1;
	return MIEN_OK;
}

int store_event_embedding(store *s, int64_t event_id, char *model, float *embedding, int *dim, mien_error *err)
{
	vector_ctx v = { model, embedding, 0, 0, 0, err };
	store_value p[] = { SV_INT(event_id) };
	int rc = RUN(s, "SELECT embedding_model, embedding, 0 FROM events WHERE id = $1", p, vector_row, &v);
	if (rc)
		return rc;
	if (!v.found)
		return mien_error_set(err, MIEN_ENOENT, "event %lld has no face embedding", (long long)event_id);
	*dim = v.dim;
	return MIEN_OK;
}

/* The index's source (store.h, "Event faces"): finished events with a face of `model`; face id = person id = event
 * id. The width comes from the blob (events keep no dim column). Every statement keeps the same WHERE, so that
 * the planner takes the partial index events_face. */
#define EVENT_FACES "FROM events WHERE embedding_model = $1 AND ended_at IS NOT NULL"

int store_event_faces_each(store *s, const char *model, store_embedding_fn fn, void *ctx, mien_error *err)
{
	store_value p[] = { SV_TEXT(model) };
	/* a damaged row (it cannot come from store_event_set_embedding) is left out rather than hiding every event */
	return store__embeddings_run(s, "SELECT id, id, length(embedding) / 4, embedding " EVENT_FACES " ORDER BY id",
	                             p, 1, 1, fn, ctx, err);
}

int store_event_faces_range(store *s, const char *model, int64_t from_id, int64_t to_id, store_embedding_fn fn,
                            void *ctx, mien_error *err)
{
	store_value p[] = { SV_TEXT(model), SV_INT(from_id), SV_INT(to_id) };
	return store__embeddings_run(s,
	                             "SELECT id, id, length(embedding) / 4, embedding " EVENT_FACES
	                             " AND id >= $2 AND id <= $3 ORDER BY id",
	                             p, 3, 1, fn, ctx, err);
}

int store_event_face_signature(store *s, const char *model, store_face_signature *out, mien_error *err)
{
	memset(out, 0, sizeof(*out));
	store_value p[] = { SV_TEXT(model) };
	return RUN(s, "SELECT COUNT(*), COALESCE(MAX(id), 0), CAST(COALESCE(SUM(id), 0) AS BIGINT) " EVENT_FACES, p,
	           store__signature_row, out);
}

int store_event_face_ids(store *s, const char *model, int64_t **ids, size_t *count, mien_error *err)
{
	store_value p[] = { SV_TEXT(model) };
	return store__ids_run(s, "SELECT id " EVENT_FACES " ORDER BY id", p, 1, ids, count, err);
}

int store_event_relabel(store *s, int64_t id, int64_t person_id, float similarity, int64_t unknown_id, mien_error *err)
{
	int64_t found = 0;
	store_value p[] = { SV_INT(id), SV_ID_OR_NULL(person_id), SV_REAL(similarity), SV_ID_OR_NULL(unknown_id) };
	int rc = RUN(s, "UPDATE events SET person_id = $2, similarity = $3, unknown_id = $4 WHERE id = $1 RETURNING id",
	             p, store__count_row, &found);
	return store__found_or(rc, found, "event", id, err);
}

/* --- identities ------------------------------------------------------------------------------------------------ */

#define UNKNOWN_COLUMNS                                                                                    \
	"u.id, u.model, u.dim, u.members, u.visits, u.first_seen, u.last_seen, u.dismissed, u.created_at," \
	" u.updated_at"

static void fill_unknown(void *item, const store_row *row)
{
	store_unknown *u = item;
	memset(u, 0, sizeof(*u));
	u->id = store__col_int(row, 0);
	store__copy_text(u->model, sizeof(u->model), store__col_text(row, 1));
	u->dim = (int)store__col_int(row, 2);
	u->members = (int)store__col_int(row, 3);
	u->visits = store__col_int(row, 4);
	u->first_seen = store__col_int(row, 5);
	u->last_seen = store__col_int(row, 6);
	u->dismissed = (int)store__col_int(row, 7);
	u->created_at = store__col_int(row, 8);
	u->updated_at = store__col_int(row, 9);
}

static int get_in(store__txn *t, int64_t id, store_unknown *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_unknown };
	store_value p[] = { SV_INT(id) };
	int rc = TX(t, "SELECT " UNKNOWN_COLUMNS " FROM unknowns u WHERE u.id = $1", p, store__list_row, &l);
	return store__found_or(rc, (int64_t)l.count, "unknown identity", id, err);
}

int store_unknown_get(store *s, int64_t id, store_unknown *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_unknown };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " UNKNOWN_COLUMNS " FROM unknowns u WHERE u.id = $1", p, store__list_row, &l);
	return store__found_or(rc, (int64_t)l.count, "unknown identity", id, err);
}

static int read_sum(store__txn *t, int64_t id, float *sum, int *dim, mien_error *err)
{
	vector_ctx v = { NULL, sum, 0, 0, 0, err };
	store_value p[] = { SV_INT(id) };
	int rc = TX(t, "SELECT model, sum, members FROM unknowns WHERE id = $1", p, vector_row, &v);
	if (rc == MIEN_OK && !v.found)
		rc = mien_error_set(err, MIEN_ENOENT, "unknown identity %lld not found", (long long)id);
	*dim = v.dim;
	return rc;
}

int store_unknown_sum(store *s, int64_t id, float *sum, int *dim, int *members, mien_error *err)
{
	vector_ctx v = { NULL, sum, 0, 0, 0, err };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT model, sum, members FROM unknowns WHERE id = $1", p, vector_row, &v);
	if (rc == MIEN_OK && !v.found)
		return mien_error_set(err, MIEN_ENOENT, "unknown identity %lld not found", (long long)id);
	*dim = v.dim;
	*members = v.members;
	return rc;
}

int store_unknown_create(store *s, int64_t event_id, const char *model, const float *embedding, int dim,
                         int64_t seen_at, store_unknown *out, mien_error *err)
{
	int rc = check_embedding(model, embedding, dim, err);
	if (rc)
		return rc;
	float v[DIM_MAX];
	normalise(embedding, dim, v);
	int64_t now = mien_wall_ms(), id = 0, found = 0;
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	store_value p[] = { SV_TEXT(model), SV_INT(dim), SV_BLOB(v, (size_t)dim * sizeof(float)), SV_INT(seen_at),
		            SV_INT(now) };
	rc = TX(&t,
	        "INSERT INTO unknowns (model, dim, sum, members, visits, first_seen, last_seen, created_at, updated_at)"
	        " VALUES ($1, $2, $3, 1, 1, $4, $4, $5, $5) RETURNING id",
	        p, store__int_row, &id);
	if (rc == MIEN_OK) {
		store_value q[] = { SV_INT(event_id), SV_INT(id) };
		rc = TX(&t, "UPDATE events SET unknown_id = $2 WHERE id = $1 RETURNING id", q, store__count_row,
		        &found);
		rc = store__found_or(rc, found, "event", event_id, err);
	}
	if (rc == MIEN_OK)
		rc = get_in(&t, id, out, err);
	return store__txn_end(&t, rc, err);
}

/* Adds (sign 1) or takes out (sign -1) one normalised face in identity `id`'s sum, visits and members, inside t. */
static int change_sum(store__txn *t, int64_t id, const char *model, const float *face, int dim, int sign,
                      int64_t seen_at, mien_error *err)
{
	/* First the row update: it takes the row's lock, so the sum read next is the latest. */
	int64_t found = 0;
	store_value p[] = { SV_INT(id),     SV_INT(sign), SV_INT(seen_at), SV_INT(mien_wall_ms()),
		            SV_TEXT(model), SV_INT(dim) };
	int rc = TX(t,
	            "UPDATE unknowns SET members = members + $2, visits = visits + $2,"
	            " last_seen = CASE WHEN $3 > last_seen THEN $3 ELSE last_seen END, updated_at = $4"
	            " WHERE id = $1 AND model = $5 AND dim = $6 RETURNING id",
	            p, store__count_row, &found);
	if (rc)
		return rc;
	if (!found)
		return mien_error_set(err, MIEN_ENOENT, "unknown identity %lld not found for a %s face", (long long)id,
		                      model);
	float sum[DIM_MAX];
	int sum_dim = 0;
	if ((rc = read_sum(t, id, sum, &sum_dim, err)))
		return rc;
	if (sum_dim != dim)
		return mien_error_set(err, MIEN_EFORMAT, "unknown identity %lld: a sum of %d values", (long long)id,
		                      sum_dim);
	for (int i = 0; i < dim; i++)
		sum[i] += (float)sign * face[i];
	store_value q[] = { SV_INT(id), SV_BLOB(sum, (size_t)dim * sizeof(float)) };
	return TX(t, "UPDATE unknowns SET sum = $2 WHERE id = $1", q, NULL, NULL);
}

int store_unknown_join(store *s, int64_t id, int64_t event_id, const float *embedding, int dim, int64_t seen_at,
                       store_unknown *out, mien_error *err)
{
	store_unknown u;
	int rc = store_unknown_get(s, id, &u, err);
	if (rc)
		return rc;
	if ((rc = check_embedding(u.model, embedding, dim, err)))
		return rc;
	float v[DIM_MAX];
	normalise(embedding, dim, v);
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	rc = change_sum(&t, id, u.model, v, dim, 1, seen_at, err);
	if (rc == MIEN_OK) {
		int64_t found = 0;
		store_value q[] = { SV_INT(event_id), SV_INT(id) };
		rc = TX(&t, "UPDATE events SET unknown_id = $2 WHERE id = $1 RETURNING id", q, store__count_row,
		        &found);
		rc = store__found_or(rc, found, "event", event_id, err);
	}
	if (rc == MIEN_OK)
		rc = get_in(&t, id, out, err);
	return store__txn_end(&t, rc, err);
}

int store_unknown_remove_event(store *s, int64_t id, int64_t event_id, mien_error *err)
{
	char model[STORE_MODEL_MAX];
	float face[DIM_MAX];
	int dim = 0;
	store_event e;
	int rc = store_event_get(s, event_id, &e, err);
	if (rc)
		return rc;
	if (e.unknown_id != id)
		return mien_error_set(err, MIEN_ENOENT, "event %lld is not in unknown identity %lld",
		                      (long long)event_id, (long long)id);
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	mien_error none;
	int has_face = store_event_embedding(s, event_id, model, face, &dim, &none) == MIEN_OK;
	store_unknown u;
	rc = get_in(&t, id, &u, err);
	if (rc == MIEN_OK && u.members <= 1) {
		store_value p[] = { SV_INT(id) };
		rc = TX(&t, "DELETE FROM unknowns WHERE id = $1", p, NULL, NULL);
	} else if (rc == MIEN_OK && has_face) {
		normalise(face, dim, face);
		rc = change_sum(&t, id, model, face, dim, -1, 0, err);
	}
	if (rc == MIEN_OK) {
		store_value q[] = { SV_INT(event_id) };
		rc = TX(&t, "UPDATE events SET unknown_id = NULL WHERE id = $1", q, NULL, NULL);
	}
	return store__txn_end(&t, rc, err);
}

int store_unknown_merge(store *s, int64_t into, int64_t from, store_unknown *out, mien_error *err)
{
	if (into == from)
		return mien_error_set(err, MIEN_EINVAL, "an identity cannot be merged into itself");
	store__txn t;
	int rc = store__txn_begin(s, &t, err);
	if (rc)
		return rc;
	store_unknown a, b;
	float sa[DIM_MAX], sb[DIM_MAX];
	int da = 0, db = 0;
	/* touch both rows first (their locks), lower id first so that two merges cannot deadlock */
	int64_t first = into < from ? into : from, second = into < from ? from : into;
	store_value p1[] = { SV_INT(first) }, p2[] = { SV_INT(second) };
	rc = TX(&t, "UPDATE unknowns SET updated_at = updated_at WHERE id = $1", p1, NULL, NULL);
	if (rc == MIEN_OK)
		rc = TX(&t, "UPDATE unknowns SET updated_at = updated_at WHERE id = $1", p2, NULL, NULL);
	if (rc == MIEN_OK)
		rc = get_in(&t, into, &a, err);
	if (rc == MIEN_OK)
		rc = get_in(&t, from, &b, err);
	if (rc == MIEN_OK && (strcmp(a.model, b.model) != 0 || a.dim != b.dim))
		rc = mien_error_set(err, MIEN_EINVAL, "identities %lld and %lld hold faces of different embedders",
		                    (long long)into, (long long)from);
	if (rc == MIEN_OK)
		rc = read_sum(&t, into, sa, &da, err);
	if (rc == MIEN_OK)
		rc = read_sum(&t, from, sb, &db, err);
	if (rc == MIEN_OK && (da != a.dim || db != a.dim))
		rc = mien_error_set(err, MIEN_EFORMAT, "unknown identities: sums of %d and %d values", da, db);
	if (rc == MIEN_OK) {
		for (int i = 0; i < da; i++)
			sa[i] += sb[i];
		int64_t first_seen = a.first_seen < b.first_seen ? a.first_seen : b.first_seen;
		int64_t last_seen = a.last_seen > b.last_seen ? a.last_seen : b.last_seen;
		store_value q[] = { SV_INT(into),
			            SV_BLOB(sa, (size_t)da * sizeof(float)),
			            SV_INT(a.members + b.members),
			            SV_INT(a.visits + b.visits),
			            SV_INT(first_seen),
			            SV_INT(last_seen),
			            SV_INT(mien_wall_ms()),
			            SV_BOOL(a.dismissed || b.dismissed) };
		rc = TX(&t,
		        "UPDATE unknowns SET sum = $2, members = $3, visits = $4, first_seen = $5, last_seen = $6,"
		        " updated_at = $7, dismissed = $8 WHERE id = $1",
		        q, NULL, NULL);
	}
	if (rc == MIEN_OK) {
		store_value q[] = { SV_INT(into), SV_INT(from) };
		rc = TX(&t, "UPDATE events SET unknown_id = $1 WHERE unknown_id = $2", q, NULL, NULL);
	}
	if (rc == MIEN_OK)
		rc = TX(&t, "DELETE FROM unknowns WHERE id = $1", ((store_value[]){ SV_INT(from) }), NULL, NULL);
	if (rc == MIEN_OK)
		rc = get_in(&t, into, out, err);
	return store__txn_end(&t, rc, err);
}

int store_unknown_dismiss(store *s, int64_t id, int dismissed, mien_error *err)
{
	int64_t found = 0;
	store_value p[] = { SV_INT(id), SV_BOOL(dismissed), SV_INT(mien_wall_ms()) };
	int rc = RUN(s, "UPDATE unknowns SET dismissed = $2, updated_at = $3 WHERE id = $1 RETURNING id", p,
	             store__count_row, &found);
	return store__found_or(rc, found, "unknown identity", id, err);
}

int store_unknown_erase(store *s, int64_t id, mien_error *err)
{
	store_unknown u;
	int rc = store_unknown_get(s, id, &u, err);
	if (rc)
		return rc;
	int64_t erased = 0;
	store_value p[] = { SV_INT(id) };
	/* the events first (their pictures and alerts go with them), then the identity */
	if ((rc = store__erase(s, "DELETE FROM events WHERE unknown_id = $1 RETURNING id", p, 1, &erased, err)))
		return rc;
	return store__erase_id(s, "DELETE FROM unknowns WHERE id = $1 RETURNING id", id, "unknown identity", err);
}

int store_unknown_assign(store *s, int64_t id, int64_t person_id, int64_t *events, mien_error *err)
{
	*events = 0;
	store__txn t;
	int rc = store__txn_begin(s, &t, err);
	if (rc)
		return rc;
	store_unknown u;
	rc = get_in(&t, id, &u, err);
	if (rc == MIEN_OK) {
		store_value p[] = { SV_INT(id), SV_INT(person_id) };
		rc = TX(&t,
		        "UPDATE events SET person_id = $2, similarity = 0, unknown_id = NULL WHERE unknown_id = $1"
		        " RETURNING id",
		        p, store__count_row, events);
	}
	if (rc == MIEN_OK)
		rc = TX(&t, "DELETE FROM unknowns WHERE id = $1", ((store_value[]){ SV_INT(id) }), NULL, NULL);
	return store__txn_end(&t, rc, err);
}

/* "EXISTS (an event of the identity on one of the cameras)" into w; an empty list matches nothing. */
static void where_seen_by(store__where *w, const int64_t *cameras, int n)
{
	char piece[STORE_USER_CAMERAS_MAX * 8 + 128];
	if (n > STORE_USER_CAMERAS_MAX || w->n + n >= (int)MIEN_ARRAY_LEN(w->params)) {
		w->overflow = 1;
		return;
	}
	if (n == 0) {
		store__where_add(w, "1 = 0", NULL);
		return;
	}
	size_t len = (size_t)snprintf(piece, sizeof(piece),
	                              "EXISTS (SELECT 1 FROM events c WHERE c.unknown_id = u.id AND c.camera_id IN (");
	for (int i = 0; i < n; i++) {
		w->params[w->n++] = SV_INT(cameras[i]);
		len += (size_t)snprintf(piece + len, sizeof(piece) - len, i ? ", $%d" : "$%d", w->n);
	}
	snprintf(piece + len, sizeof(piece) - len, "))");
	store__where_add(w, piece, NULL);
}

int store_unknown_list(store *s, const store_unknown_filter *f, store_unknown *out, size_t max, size_t *count,
                       mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__where_buffers *buffers = store__where_begin();
	if (!buffers)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	store__where *w = &buffers->w;
	if (f->dismissed >= 0) {
		store_value v = SV_BOOL(f->dismissed);
		store__where_add(w, "u.dismissed = $%d", &v);
	}
	if (f->after_id) {
		store_value v = SV_INT(f->after_visits);
		store__where_add(w, "u.visits <= $%d", &v);
		/* (visits, id) below the cursor: fewer visits, or as many and a lower id */
		char piece[96];
		snprintf(piece, sizeof(piece), "(u.visits < $%d OR u.id < $%%d)", w->n);
		store_value id = SV_INT(f->after_id);
		store__where_add(w, piece, &id);
	}
	if (f->cameras)
		where_seen_by(w, f->cameras, f->n_cameras);
	if (w->overflow)
		return mien_error_set(err, MIEN_ERANGE, "unknowns: filter too long");
	store_value limit = SV_INT((int64_t)max);
	w->params[w->n] = limit;
	snprintf(buffers->sql, sizeof(buffers->sql),
	         "SELECT " UNKNOWN_COLUMNS " FROM unknowns u%s ORDER BY u.visits DESC, u.id DESC LIMIT $%d", w->sql,
	         w->n + 1);
	store__list l = { out, sizeof(*out), max, 0, fill_unknown };
	rc = store__run(s, buffers->sql, w->params, w->n + 1, store__list_row, &l, err);
	*count = l.count;
	return rc;
}

typedef struct ids_out {
	int64_t *out;
	size_t max, count;
} ids_out;

static int id_into(void *ctx, const store_row *row)
{
	ids_out *o = ctx;
	if (o->count < o->max)
		o->out[o->count++] = store__col_int(row, 0);
	return MIEN_OK;
}

int store_unknown_events(store *s, int64_t id, int which, const int64_t *cameras, int n_cameras, int64_t *out,
                         size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__where_buffers *buffers = store__where_begin();
	if (!buffers)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	store__where *w = &buffers->w;
	store_value v = SV_INT(id);
	store__where_add(w, "e.unknown_id = $%d", &v);
	if (cameras)
		store__where_in(w, "e.camera_id", cameras, n_cameras);
	if (which == 1)
		store__where_add(w,
		                 "EXISTS (SELECT 1 FROM event_images i WHERE i.event_id = e.id"
		                 " AND i.thumbnail IS NOT NULL)",
		                 NULL);
	if (w->overflow)
		return mien_error_set(err, MIEN_ERANGE, "unknown events: filter too long");
	w->params[w->n] = SV_INT((int64_t)max);
	snprintf(buffers->sql, sizeof(buffers->sql), "SELECT e.id FROM events e%s ORDER BY %s LIMIT $%d", w->sql,
	         which == 1 ? "e.quality DESC, e.id DESC" : "e.id DESC", w->n + 1);
	ids_out o = { out, max, 0 };
	rc = store__run(s, buffers->sql, w->params, w->n + 1, id_into, &o, err);
	*count = o.count;
	return rc;
}

int store_unknown_cameras(store *s, int64_t id, int64_t *out, size_t max, size_t *count, mien_error *err)
{
	ids_out o = { out, max, 0 };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT DISTINCT camera_id FROM events WHERE unknown_id = $1 ORDER BY camera_id", p, id_into,
	             &o);
	*count = o.count;
	return rc;
}

int store_unknown_visits_since(store *s, int64_t id, int64_t since, int64_t *visits, mien_error *err)
{
	*visits = 0;
	store_value p[] = { SV_INT(id), SV_INT(since) };
	return RUN(s, "SELECT COUNT(*) FROM events WHERE unknown_id = $1 AND started_at >= $2", p, store__int_row,
	           visits);
}

int store_unknown_signature(store *s, const char *model, store_face_signature *out, mien_error *err)
{
	memset(out, 0, sizeof(*out));
	store_value p[] = { SV_TEXT(model) };
	return RUN(s,
	           "SELECT COUNT(*), COALESCE(MAX(updated_at), 0), CAST(COALESCE(SUM(id * 1000003 + members * 7 +"
	           " CASE WHEN dismissed THEN 1 ELSE 0 END), 0) AS BIGINT) FROM unknowns WHERE model = $1",
	           p, store__signature_row, out);
}

typedef struct each_ctx {
	store_unknown_fn fn;
	void *ctx;
	float *sum;
	mien_error *err;
} each_ctx;

static int each_row(void *ctx, const store_row *row)
{
	each_ctx *e = ctx;
	store_unknown u;
	fill_unknown(&u, row);
	size_t len;
	const void *blob = store__col_blob(row, 10, &len);
	if (!blob || u.dim < 1 || u.dim > DIM_MAX || len != (size_t)u.dim * sizeof(float))
		return MIEN_OK; /* a damaged row cannot be matched; it is left out, not fatal */
	memcpy(e->sum, blob, len);
	return e->fn(e->ctx, &u, e->sum);
}

int store_unknowns_each(store *s, const char *model, store_unknown_fn fn, void *ctx, mien_error *err)
{
	each_ctx e = { fn, ctx, malloc(DIM_MAX * sizeof(float)), err };
	if (!e.sum)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	store_value p[] = { SV_TEXT(model) };
	int rc = RUN(s, "SELECT " UNKNOWN_COLUMNS ", u.sum FROM unknowns u WHERE u.model = $1 ORDER BY u.id", p,
	             each_row, &e);
	free(e.sum);
	return rc;
}
