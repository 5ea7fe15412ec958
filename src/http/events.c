/*
 * events.c — /events and /alerts. Every read is limited to the user's cameras: lists pass the list to the
 * store, single reads answer 404 for an event or alert of another camera (never 403, which would confirm that
 * the id exists). Expression fields are written only for analysts and admins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "http/http_int.h"
#include "watch/watch.h"

static json_t *event_json(const http_req *r, const store_event *e)
{
	return watch_event_json(e, http__role_at_least(r, STORE_ROLE_ANALYST));
}

void http__h_events_list(http_req *r)
{
	store_event_filter f = { 0 };
	size_t limit, count = 0;
	int unknown = -1;
	if (http__query_limit(r, &limit) || http__query_id(r, "cursor", &f.before_id) ||
	    http__query_id(r, "camera", &f.camera_id) || http__query_id(r, "person", &f.person_id) ||
	    http__query_id(r, "unknown_id", &f.unknown_id) || http__query_bool(r, "unknown", &unknown) ||
	    http__query_time(r, "from", &f.from) || http__query_time(r, "to", &f.to))
		return;
	f.people = unknown < 0 ? STORE_PEOPLE_ANY : unknown ? STORE_PEOPLE_UNKNOWN : STORE_PEOPLE_KNOWN;
	f.expression = http__query(r, "expression");
	if (f.expression) {
		if (!http__role_at_least(r, STORE_ROLE_ANALYST)) {
			http__reply_error(r, 403, "forbidden", "the recognition role may not filter by expression");
			return;
		}
		int known = 0;
		for (int i = 0; i < STORE_EXPRESSIONS; i++)
			known |= strcmp(f.expression, store_expression_names[i]) == 0;
		if (!known) {
			http__reply_error(r, 400, "bad_request", "unknown expression '%.32s'", f.expression);
			return;
		}
	}
	if (!r->user.all_cameras) {
		f.cameras = r->user.cameras;
		f.n_cameras = r->user.n_cameras;
		if (f.n_cameras == 0) { /* no camera at all: nothing to see */
			http__reply_list(r, NULL, 0);
			return;
		}
	}
	store_event *events = malloc(limit * sizeof(*events));
	mien_error err = { 0 };
	int rc = events ? store_event_list(r->srv->db, &f, events, limit, &count, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		free(events);
		http__reply_store_error(r, rc, &err, "events");
		return;
	}
	/* Written directly rather than through a jansson tree: the list is the API's most requested page. */
	watch_text t = { 0 };
	int expr = http__role_at_least(r, STORE_ROLE_ANALYST), first = 1;
	watch_text_put(&t, "{\"items\":[", 10);
	for (size_t i = 0; i < count; i++) {
		if (!http__camera_allowed(r, events[i].camera_id)) /* the store filtered already; belt and braces */
			continue;
		if (!first)
			watch_text_put(&t, ",", 1);
		first = 0;
		watch_event_write(&t, &events[i], expr);
	}
	char tail[64];
	int n = count == limit
	                ? snprintf(tail, sizeof(tail), "],\"next_cursor\":\"%lld\"}", (long long)events[count - 1].id)
	                : snprintf(tail, sizeof(tail), "],\"next_cursor\":null}");
	watch_text_put(&t, tail, (size_t)n);
	free(events);
	if (t.failed) {
		free(t.data);
		http__reply_error(r, 500, "internal", "out of memory");
		return;
	}
	http__reply_bytes(r, 200, "application/json", t.data, t.len, 0);
}

/* The event of the path, or 404 (unknown, or another camera's). */
static int event_of_path(http_req *r, store_event *e)
{
	mien_error err = { 0 };
	int rc = store_event_get(r->srv->db, r->ids[0], e, &err);
	if (rc == MIEN_OK && !http__camera_allowed(r, e->camera_id))
		rc = MIEN_ENOENT;
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "event");
		return -1;
	}
	return 0;
}

void http__h_event_get(http_req *r)
{
	store_event e;
	if (event_of_path(r, &e) == 0)
		http__reply_json(r, 200, event_json(r, &e));
}

/* One of the event's stored pictures, under the event's own access rules. */
static void event_image(http_req *r, int which, const char *what)
{
	store_event e;
	if (event_of_path(r, &e) != 0)
		return;
	uint8_t *jpeg = NULL;
	size_t len = 0;
	mien_error err = { 0 };
	int rc = store_event_image(r->srv->db, e.id, which, &jpeg, &len, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, what);
		return;
	}
	http__reply_bytes(r, 200, "image/jpeg", jpeg, len, 0);
}

void http__h_event_snapshot(http_req *r)
{
	event_image(r, STORE_IMAGE_SNAPSHOT, "snapshot");
}

void http__h_event_face(http_req *r)
{
	event_image(r, STORE_IMAGE_THUMBNAIL, "face picture");
}

static json_t *alert_json(const store_alert *a)
{
	return watch_alert_json(a);
}

void http__h_alerts_list(http_req *r)
{
	size_t limit, count = 0;
	int64_t before = 0;
	int open_only = 0;
	if (http__query_limit(r, &limit) || http__query_id(r, "cursor", &before) ||
	    http__query_bool(r, "open", &open_only))
		return;
	if (!r->user.all_cameras && r->user.n_cameras == 0) {
		http__reply_list(r, NULL, 0);
		return;
	}
	store_alert *alerts = malloc(limit * sizeof(*alerts));
	mien_error err = { 0 };
	int rc = alerts ? store_alert_list(r->srv->db, r->user.all_cameras ? NULL : r->user.cameras,
	                                   r->user.all_cameras ? 0 : r->user.n_cameras, open_only, before, alerts,
	                                   limit, &count, &err)
	                : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		free(alerts);
		http__reply_store_error(r, rc, &err, "alerts");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++)
		if (http__camera_allowed(r, alerts[i].camera_id))
			json_array_append_new(items, alert_json(&alerts[i]));
	http__reply_list(r, items, count == limit ? alerts[count - 1].id : 0);
	free(alerts);
}

void http__h_alert_ack(http_req *r)
{
	store_alert a;
	mien_error err = { 0 };
	int rc = store_alert_get(r->srv->db, r->ids[0], &a, &err);
	if (rc == MIEN_OK && !http__camera_allowed(r, a.camera_id))
		rc = MIEN_ENOENT;
	if (rc == MIEN_OK)
		rc = store_alert_ack(r->srv->db, a.id, r->user.user_id, mien_wall_ms(), &err);
	if (rc == MIEN_OK)
		rc = store_alert_get(r->srv->db, a.id, &a, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "alert");
		return;
	}
	http__audit(r, "ack", "alert %lld", (long long)a.id);
	http__reply_json(r, 200, alert_json(&a));
}
