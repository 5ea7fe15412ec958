/*
 * store_events.c — events (visits), their pictures, the filtered event list, retention and storage use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

/* --- events ---------------------------------------------------------------------------------------------- */

#define EVENT_COLUMNS                                                                                         \
	"e.id, e.camera_id, e.track_id, e.person_id, COALESCE(p.name, ''), e.similarity, e.started_at,"       \
	" e.ended_at, e.dominant_expression, e.expr_neutral, e.expr_happy, e.expr_sad, e.expr_angry,"         \
	" e.expr_fearful, e.expr_disgusted, e.expr_surprised, e.box_x, e.box_y, e.box_w, e.box_h, e.quality," \
	" e.alert, e.frame_w, e.frame_h, e.unknown_id"
#define EVENT_FROM " FROM events e LEFT JOIN people p ON p.id = e.person_id"

static void fill_event(void *item, const store_row *row)
{
	store_event *e = item;
	memset(e, 0, sizeof(*e));
	e->id = store__col_int(row, 0);
	e->camera_id = store__col_int(row, 1);
	e->track_id = store__col_int(row, 2);
	e->person_id = store__col_int(row, 3);
	store__copy_text(e->person_name, sizeof(e->person_name), store__col_text(row, 4));
	e->similarity = (float)store__col_real(row, 5);
	e->started_at = store__col_int(row, 6);
	e->ended_at = store__col_int(row, 7);
	store__copy_text(e->dominant_expression, sizeof(e->dominant_expression), store__col_text(row, 8));
	for (int k = 0; k < STORE_EXPRESSIONS; k++)
		e->expression[k] = (float)store__col_real(row, 9 + k);
	for (int k = 0; k < 4; k++)
		e->box[k] = (float)store__col_real(row, 16 + k);
	e->quality = (float)store__col_real(row, 20);
	e->alert = (int)store__col_int(row, 21);
	e->frame[0] = (int)store__col_int(row, 22);
	e->frame[1] = (int)store__col_int(row, 23);
	e->unknown_id = store__col_int(row, 24);
}

static int check_event(const store_event *e, mien_error *err)
{
	if (strlen(e->dominant_expression) >= sizeof(e->dominant_expression))
		return mien_error_set(err, MIEN_ERANGE, "event: dominant expression too long");
	if (e->dominant_expression[0]) {
		int known = 0;
		for (int k = 0; k < STORE_EXPRESSIONS; k++)
			known |= strcmp(e->dominant_expression, store_expression_names[k]) == 0;
		if (!known)
			return mien_error_set(err, MIEN_EINVAL, "event: unknown expression %s", e->dominant_expression);
	}
	return MIEN_OK;
}

static int write_event_images(store__txn *t, int64_t id, const uint8_t *snapshot, size_t snapshot_len,
                              const uint8_t *thumbnail, size_t thumbnail_len, mien_error *err)
{
	if (!snapshot && !thumbnail)
		return MIEN_OK;
	if (snapshot_len > STORE_IMAGE_MAX || thumbnail_len > STORE_IMAGE_MAX)
		return mien_error_set(err, MIEN_ETOOBIG, "event picture over %u bytes", STORE_IMAGE_MAX);
	/* Insert the row when missing, then replace only the pictures that were given. */
	store_value p[] = { SV_INT(id) };
	int rc = TX(t, "INSERT INTO event_images (event_id) VALUES ($1) ON CONFLICT DO NOTHING", p, NULL, NULL);
	if (rc == MIEN_OK && snapshot) {
		store_value q[] = { SV_INT(id), SV_BLOB(snapshot, snapshot_len) };
		rc = TX(t, "UPDATE event_images SET snapshot = $2 WHERE event_id = $1", q, NULL, NULL);
	}
	if (rc == MIEN_OK && thumbnail) {
		store_value q[] = { SV_INT(id), SV_BLOB(thumbnail, thumbnail_len) };
		rc = TX(t, "UPDATE event_images SET thumbnail = $2 WHERE event_id = $1", q, NULL, NULL);
	}
	return rc;
}

int store_event_create(store *s, store_event *e, const uint8_t *snapshot, size_t snapshot_len, const uint8_t *thumbnail,
                       size_t thumbnail_len, mien_error *err)
{
	int rc = check_event(e, err);
	if (rc)
		return rc;
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	store_value v[] = { SV_INT(e->camera_id),
		            SV_INT(e->track_id),
		            SV_ID_OR_NULL(e->person_id),
		            SV_REAL(e->similarity),
		            SV_INT(e->started_at),
		            SV_ID_OR_NULL(e->ended_at),
		            SV_TEXT(e->dominant_expression),
		            SV_REAL(e->expression[0]),
		            SV_REAL(e->expression[1]),
		            SV_REAL(e->expression[2]),
		            SV_REAL(e->expression[3]),
		            SV_REAL(e->expression[4]),
		            SV_REAL(e->expression[5]),
		            SV_REAL(e->expression[6]),
		            SV_REAL(e->box[0]),
		            SV_REAL(e->box[1]),
		            SV_REAL(e->box[2]),
		            SV_REAL(e->box[3]),
		            SV_REAL(e->quality),
		            SV_BOOL(e->alert),
		            SV_INT(e->frame[0]),
		            SV_INT(e->frame[1]) };
	rc = TX(&t,
	        "INSERT INTO events (camera_id, track_id, person_id, similarity, started_at, ended_at,"
	        " dominant_expression, expr_neutral, expr_happy, expr_sad, expr_angry, expr_fearful, expr_disgusted,"
	        " expr_surprised, box_x, box_y, box_w, box_h, quality, alert, frame_w, frame_h)"
	        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,"
	        " $21, $22) RETURNING id",
	        v, store__int_row, &e->id);
	if (rc == MIEN_OK)
		rc = write_event_images(&t, e->id, snapshot, snapshot_len, thumbnail, thumbnail_len, err);
	return store__txn_end(&t, rc, err);
}

int store_event_update(store *s, const store_event *e, const uint8_t *snapshot, size_t snapshot_len,
                       const uint8_t *thumbnail, size_t thumbnail_len, mien_error *err)
{
	int rc = check_event(e, err);
	if (rc)
		return rc;
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	int64_t found = 0;
	store_value v[] = { SV_INT(e->id),
		            SV_ID_OR_NULL(e->person_id),
		            SV_REAL(e->similarity),
		            SV_ID_OR_NULL(e->ended_at),
		            SV_TEXT(e->dominant_expression),
		            SV_REAL(e->expression[0]),
		            SV_REAL(e->expression[1]),
		            SV_REAL(e->expression[2]),
		            SV_REAL(e->expression[3]),
		            SV_REAL(e->expression[4]),
		            SV_REAL(e->expression[5]),
		            SV_REAL(e->expression[6]),
		            SV_REAL(e->box[0]),
		            SV_REAL(e->box[1]),
		            SV_REAL(e->box[2]),
		            SV_REAL(e->box[3]),
		            SV_REAL(e->quality),
		            SV_BOOL(e->alert),
		            SV_INT(e->frame[0]),
		            SV_INT(e->frame[1]) };
	rc = TX(&t,
	        "UPDATE events SET person_id = $2, similarity = $3, ended_at = $4, dominant_expression = $5,"
	        " expr_neutral = $6, expr_happy = $7, expr_sad = $8, expr_angry = $9, expr_fearful = $10,"
	        " expr_disgusted = $11, expr_surprised = $12, box_x = $13, box_y = $14, box_w = $15, box_h = $16,"
	        " quality = $17, alert = $18, frame_w = $19, frame_h = $20 WHERE id = $1 RETURNING id",
	        v, store__count_row, &found);
	rc = store__found_or(rc, found, "event", e->id, err);
	if (rc == MIEN_OK)
		rc = write_event_images(&t, e->id, snapshot, snapshot_len, thumbnail, thumbnail_len, err);
	return store__txn_end(&t, rc, err);
}

int store_event_get(store *s, int64_t id, store_event *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_event };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " EVENT_COLUMNS EVENT_FROM " WHERE e.id = $1", p, store__list_row, &l);
	return store__found_or(rc, (int64_t)l.count, "event", id, err);
}

int store_event_delete(store *s, int64_t id, mien_error *err)
{
	return store__erase_id(s, "DELETE FROM events WHERE id = $1 RETURNING id", id, "event", err);
}

int store_event_image(store *s, int64_t id, int which, uint8_t **jpeg, size_t *len, mien_error *err)
{
	if (which != STORE_IMAGE_SNAPSHOT && which != STORE_IMAGE_THUMBNAIL)
		return mien_error_set(err, MIEN_EINVAL, "event picture kind %d", which);
	return store__read_blob(s,
	                        which == STORE_IMAGE_SNAPSHOT
	                                ? "SELECT snapshot FROM event_images WHERE event_id = $1"
	                                : "SELECT thumbnail FROM event_images WHERE event_id = $1",
	                        id, jpeg, len, "event", err);
}

/*
 * A WHERE clause assembled from fixed fragments with numbered parameters; only numbers generated here go into
 * the text, never a caller's string.
 */
int store_event_list(store *s, const store_event_filter *f, store_event *out, size_t max, size_t *count,
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
	char *sql = buffers->sql;
	if (f->cameras)
		store__where_in(w, "e.camera_id", f->cameras, f->n_cameras);
	if (f->ids)
		store__where_in(w, "e.id", f->ids, f->n_ids);
	if (f->camera_id) {
		store_value v = SV_INT(f->camera_id);
		store__where_add(w, "e.camera_id = $%d", &v);
	}
	if (f->person_id) {
		store_value v = SV_INT(f->person_id);
		store__where_add(w, "e.person_id = $%d", &v);
	}
	if (f->people == STORE_PEOPLE_KNOWN)
		store__where_add(w, "e.person_id IS NOT NULL", NULL);
	else if (f->people == STORE_PEOPLE_UNKNOWN)
		store__where_add(w, "e.person_id IS NULL", NULL);
	if (f->unknown_id) {
		store_value v = SV_INT(f->unknown_id);
		store__where_add(w, "e.unknown_id = $%d", &v);
	}
	if (f->expression) {
		store_value v = SV_TEXT(f->expression);
		store__where_add(w, "e.dominant_expression = $%d", &v);
	}
	if (f->from) {
		store_value v = SV_INT(f->from);
		store__where_add(w, "e.started_at >= $%d", &v);
	}
	if (f->to) {
		store_value v = SV_INT(f->to);
		store__where_add(w, "e.started_at < $%d", &v);
	}
	if (f->before_id) {
		store_value v = SV_INT(f->before_id);
		store__where_add(w, "e.id < $%d", &v);
	}
	if (w->overflow) {
		rc = mien_error_set(err, MIEN_ERANGE, "event filter too large");
		goto done;
	}
	w->params[w->n++] = SV_INT((int64_t)max);
	snprintf(sql, sizeof(buffers->sql), "SELECT " EVENT_COLUMNS EVENT_FROM "%s ORDER BY e.id DESC LIMIT $%d",
	         w->sql, w->n);
	store__list l = { out, sizeof(*out), max, 0, fill_event };
	rc = store__run(s, sql, w->params, w->n, store__list_row, &l, err);
	*count = rc ? 0 : l.count;
done:
	return rc;
}

int store_event_purge(store *s, int64_t before, int64_t *deleted, mien_error *err)
{
	int64_t n = 0;
	store_value p[] = { SV_INT(before) };
	int rc = store__erase(s, "DELETE FROM events WHERE started_at < $1 RETURNING id", p, 1, &n, err);
	/* an unknown identity goes with the last of its visits */
	int64_t gone = 0;
	if (rc == MIEN_OK)
		rc = store__erase(s,
		                  "DELETE FROM unknowns WHERE last_seen < $1 AND NOT EXISTS"
		                  " (SELECT 1 FROM events e WHERE e.unknown_id = unknowns.id) RETURNING id",
		                  p, 1, &gone, err);
	if (deleted)
		*deleted = n;
	return rc;
}

/* --- storage ------------------------------------------------------------------------------------------------ */

static int pictures_row(void *ctx, const store_row *row)
{
	int64_t *out = ctx;
	out[0] = store__col_int(row, 0);
	out[1] = store__col_int(row, 1);
	return MIEN_OK;
}

/* Events started at or after `since` (0 = all) and the bytes of their pictures. */
static int count_pictures(store *s, int64_t since, int64_t *events, int64_t *bytes, mien_error *err)
{
	int64_t out[2] = { 0, 0 };
	store_value p[] = { SV_INT(since) };
	int rc =
	        RUN(s,
	            "SELECT COUNT(*), COALESCE(SUM(COALESCE(length(i.snapshot), 0) + COALESCE(length(i.thumbnail), 0)),"
	            " 0) FROM events e LEFT JOIN event_images i ON i.event_id = e.id WHERE e.started_at >= $1",
	            p, pictures_row, out);
	*events = out[0];
	*bytes = out[1];
	return rc;
}

int store_storage_get(store *s, int64_t now, store_storage *out, mien_error *err)
{
	static const int64_t windows[] = { 86400000, 7 * 86400000LL };
	memset(out, 0, sizeof(*out));
	int rc = store__disk_size(s, &out->database_bytes, &out->free_bytes, err);
	if (rc || (rc = count_pictures(s, 0, &out->events, &out->picture_bytes, err)))
		return rc;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(windows) && !out->window_ms; i++) {
		rc = count_pictures(s, now - windows[i], &out->window_events, &out->window_bytes, err);
		if (rc)
			return rc;
		if (out->window_events)
			out->window_ms = windows[i];
	}
	return MIEN_OK;
}
