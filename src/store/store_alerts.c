/*
 * store_alerts.c — alerts raised on events, their cooldown repeats and acknowledgements.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/store.h"
#include "store/store_int.h"

/* --- alerts ------------------------------------------------------------------------------------------------- */

#define ALERT_COLUMNS                                                                                         \
	"a.id, a.event_id, a.camera_id, a.person_id, COALESCE(p.name, ''), a.kind, a.created_at, a.acked_at," \
	" a.acked_by, a.visit_count, a.last_at, a.rule_id"
#define ALERT_FROM " FROM alerts a LEFT JOIN people p ON p.id = a.person_id"

static void fill_alert(void *item, const store_row *row)
{
	store_alert *a = item;
	memset(a, 0, sizeof(*a));
	a->id = store__col_int(row, 0);
	a->event_id = store__col_int(row, 1);
	a->camera_id = store__col_int(row, 2);
	a->person_id = store__col_int(row, 3);
	store__copy_text(a->person_name, sizeof(a->person_name), store__col_text(row, 4));
	store__copy_text(a->kind, sizeof(a->kind), store__col_text(row, 5));
	a->created_at = store__col_int(row, 6);
	a->acked_at = store__col_int(row, 7);
	a->acked_by = store__col_int(row, 8);
	a->count = store__col_int(row, 9);
	a->last_at = store__col_int(row, 10);
	a->rule_id = store__col_int(row, 11);
}

int store_alert_create(store *s, store_alert *a, mien_error *err)
{
	if (strcmp(a->kind, "watchlist") != 0 && strcmp(a->kind, "unknown") != 0 &&
	    strcmp(a->kind, "repeat_unknown") != 0)
		return mien_error_set(err, MIEN_EINVAL, "alert: kind must be watchlist, unknown or repeat_unknown");
	if (!a->created_at)
		a->created_at = mien_wall_ms();
	a->id = 0;
	/* The camera and person come from the event, so an alert can never point at another camera's event. */
	store_value p[] = { SV_INT(a->event_id), SV_TEXT(a->kind), SV_INT(a->created_at), SV_ID_OR_NULL(a->rule_id) };
	int rc = RUN(s,
	             "INSERT INTO alerts (event_id, camera_id, person_id, kind, created_at, last_at, rule_id)"
	             " SELECT id, camera_id, person_id, $2, $3, $3, $4 FROM events WHERE id = $1 RETURNING id",
	             p, store__int_row, &a->id);
	if (rc == MIEN_OK && !a->id)
		return mien_error_set(err, MIEN_ENOENT, "alert: event %lld not found", (long long)a->event_id);
	if (rc)
		return rc;
	store_alert full;
	rc = store_alert_get(s, a->id, &full, err);
	if (rc == MIEN_OK)
		*a = full;
	return rc;
}

int store_alert_repeat(store *s, int64_t event_id, const char *kind, int64_t since, int64_t now, store_alert *out,
                       mien_error *err)
{
	int64_t id = 0;
	/* The camera and person come from the event, as for a new alert; person 0 stands for unknown faces. */
	store_value p[] = { SV_INT(event_id), SV_TEXT(kind), SV_INT(since), SV_INT(now) };
	int rc = RUN(s,
	             "UPDATE alerts SET visit_count = visit_count + 1, last_at = $4 WHERE id = ("
	             "SELECT a.id FROM alerts a JOIN events e ON e.id = $1"
	             " WHERE a.camera_id = e.camera_id AND COALESCE(a.person_id, 0) = COALESCE(e.person_id, 0)"
	             " AND a.kind = $2 AND a.last_at >= $3 ORDER BY a.id DESC LIMIT 1) RETURNING id",
	             p, store__int_row, &id);
	if (rc)
		return rc;
	if (!id)
		return mien_error_set(err, MIEN_ENOENT, "no alert within the cooldown");
	return store_alert_get(s, id, out, err);
}

int store_alert_get(store *s, int64_t id, store_alert *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_alert };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " ALERT_COLUMNS ALERT_FROM " WHERE a.id = $1", p, store__list_row, &l);
	return store__found_or(rc, (int64_t)l.count, "alert", id, err);
}

int store_alert_ack(store *s, int64_t id, int64_t user_id, int64_t now, mien_error *err)
{
	int64_t found = 0;
	store_value p[] = { SV_INT(id), SV_ID_OR_NULL(user_id), SV_INT(now) };
	int rc =
	        RUN(s, "UPDATE alerts SET acked_at = $3, acked_by = $2 WHERE id = $1 AND acked_at IS NULL RETURNING id",
	            p, store__count_row, &found);
	if (rc || found)
		return rc;
	store_alert a;
	rc = store_alert_get(s, id, &a, err);
	if (rc)
		return rc;
	return mien_error_set(err, MIEN_ECONFLICT, "alert %lld was already acknowledged", (long long)id);
}

int store_alert_list(store *s, const int64_t *cameras, int n_cameras, int open_only, int64_t before_id,
                     store_alert *out, size_t max, size_t *count, mien_error *err)
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
	if (cameras)
		store__where_in(w, "a.camera_id", cameras, n_cameras);
	if (open_only)
		store__where_add(w, "a.acked_at IS NULL", NULL);
	if (before_id) {
		store_value v = SV_INT(before_id);
		store__where_add(w, "a.id < $%d", &v);
	}
	if (w->overflow) {
		rc = mien_error_set(err, MIEN_ERANGE, "alert filter too large");
		goto done;
	}
	w->params[w->n++] = SV_INT((int64_t)max);
	snprintf(sql, sizeof(buffers->sql), "SELECT " ALERT_COLUMNS ALERT_FROM "%s ORDER BY a.id DESC LIMIT $%d",
	         w->sql, w->n);
	store__list l = { out, sizeof(*out), max, 0, fill_alert };
	rc = store__run(s, sql, w->params, w->n, store__list_row, &l, err);
	*count = rc ? 0 : l.count;
done:
	return rc;
}
