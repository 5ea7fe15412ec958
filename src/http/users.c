/*
 * users.c — the admin's routes: /users, /settings, /storage and /audit. A user's JSON never carries the password hash.
 * Changing a user's role or cameras forgets their cached sessions at once and closes their live streams and views;
 * changing the password or disabling them also ends every session they have.
 *
 * An admin limited to some cameras manages only users within its reach: users limited to cameras of its own.
 * It can never create, grant or change a user with more cameras than it has itself, nor touch (reset the
 * password of, demote, delete) an all-camera user; such attempts get 403 and an audit row ("denied").
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "face/face.h"
#include "http/http_int.h"
#include "watch/watch.h"

#define TEXT_OF(x)   #x
#define NUMBER_OF(x) TEXT_OF(x)

#define PASSWORD_MIN 8

static json_t *user_json(const store_user *u)
{
	char created[32], updated[32];
	http__iso_time(u->created_at, created);
	http__iso_time(u->updated_at, updated);
	json_t *cams = json_array();
	for (int i = 0; i < u->n_cameras; i++)
		json_array_append_new(cams, json_integer(u->cameras[i]));
	return json_pack("{s:I,s:s,s:s,s:b,s:b,s:o,s:s,s:s}", "id", (json_int_t)u->id, "username", u->username, "role",
	                 store_role_name(u->role), "disabled", u->disabled, "all_cameras", u->all_cameras, "cameras",
	                 cams, "created_at", created, "updated_at", updated);
}

void http__h_users_list(http_req *r)
{
	size_t limit, count = 0;
	int64_t after = 0;
	if (http__query_limit(r, &limit) || http__query_id(r, "cursor", &after))
		return;
	store_user *users = malloc(limit * sizeof(*users));
	mien_error err = { 0 };
	int rc = users ? store_user_list(r->srv->db, after, users, limit, &count, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		free(users);
		http__reply_store_error(r, rc, &err, "users");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(items, user_json(&users[i]));
	http__reply_list(r, items, count == limit ? users[count - 1].id : 0);
	free(users);
}

static const http_field USER_FIELDS[] = {
	{ "username", HTTP_FIELD_STRING, 0, STORE_USERNAME_MAX - 1 },
	{ "password", HTTP_FIELD_STRING, 0, 1024 },
	{ "role", HTTP_FIELD_STRING, 0, 16 },
	{ "disabled", HTTP_FIELD_BOOL, 0, 0 },
	{ "all_cameras", HTTP_FIELD_BOOL, 0, 0 },
	{ "cameras", HTTP_FIELD_ID_ARRAY, 0, STORE_USER_CAMERAS_MAX },
	{ 0 },
};

/* 1 when `actor` may manage a user who sees `all_cameras` / cameras[0..n): an all-camera actor any user; a
 * camera-limited one only users limited to cameras that it has itself. */
static int within_reach(const auth_entry *actor, int all_cameras, const int64_t *cameras, int n)
{
	if (actor->all_cameras)
		return 1;
	if (all_cameras)
		return 0;
	for (int i = 0; i < n; i++) {
		int mine = 0;
		for (int j = 0; j < actor->n_cameras && !mine; j++)
			mine = actor->cameras[j] == cameras[i];
		if (!mine)
			return 0;
	}
	return 1;
}

static void deny_reach(http_req *r, const char *what, int64_t target)
{
	if (target)
		http__audit(r, "denied", "%s user %lld: beyond the caller's cameras", what, (long long)target);
	else
		http__audit(r, "denied", "%s user: beyond the caller's cameras", what);
	http__reply_error(r, 403, "forbidden",
	                  "you are limited to some cameras: you may only manage users limited to cameras of yours");
}

static int username_ok(const char *name)
{
	if (!*name)
		return 0;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.@-", *c))
			return 0;
	return 1;
}

/* Copies the body into *u; returns the STORE_USER_* set, or -1 after answering 400. */
static int user_from_json(http_req *r, const json_t *body, store_user *u)
{
	int fields = 0;
	json_t *v;
	mien_error err = { 0 };
	if ((v = json_object_get(body, "password"))) {
		if (json_string_length(v) < PASSWORD_MIN) {
			http__reply_error(r, 400, "bad_request", "the password needs at least %d characters",
			                  PASSWORD_MIN);
			return -1;
		}
		if (http_password_hash(json_string_value(v), u->password_hash, &err) != MIEN_OK) {
			http__reply_error(r, 503, "unavailable", "cannot hash the password now");
			return -1;
		}
		fields |= STORE_USER_PASSWORD;
	}
	if ((v = json_object_get(body, "role"))) {
		u->role = store_role_parse(json_string_value(v));
		if (u->role == STORE_ROLE_NONE) {
			http__reply_error(r, 400, "bad_request", "'role' must be recognition, analyst or admin");
			return -1;
		}
		fields |= STORE_USER_ROLE;
	}
	if ((v = json_object_get(body, "disabled"))) {
		u->disabled = json_is_true(v);
		fields |= STORE_USER_DISABLED;
	}
	json_t *all = json_object_get(body, "all_cameras"), *list = json_object_get(body, "cameras");
	if (all || list) {
		u->all_cameras = all ? json_is_true(all) : 0;
		u->n_cameras = 0;
		size_t i;
		json_t *e;
		json_array_foreach(list, i, e) u->cameras[u->n_cameras++] = json_integer_value(e);
		fields |= STORE_USER_CAMERAS;
	}
	return fields;
}

void http__h_users_create(http_req *r)
{
	json_t *body = http__body_json(r, USER_FIELDS);
	if (!body)
		return;
	store_user *u = calloc(1, sizeof(*u));
	if (!u) {
		json_decref(body);
		http__reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	/* A new user sees every camera unless told otherwise; one created by a camera-limited admin sees that admin's
	 * cameras unless told otherwise. */
	u->all_cameras = r->user.all_cameras;
	if (!u->all_cameras) {
		u->n_cameras = r->user.n_cameras;
		memcpy(u->cameras, r->user.cameras, (size_t)u->n_cameras * sizeof(int64_t));
	}
	json_t *name = json_object_get(body, "username");
	int fields = user_from_json(r, body, u);
	if (fields >= 0) {
		mien_error err = { 0 };
		if (!within_reach(&r->user, u->all_cameras, u->cameras, u->n_cameras)) {
			deny_reach(r, "create", 0);
		} else if (!name || !(fields & STORE_USER_PASSWORD) || !(fields & STORE_USER_ROLE)) {
			http__reply_error(r, 400, "bad_request", "'username', 'password' and 'role' are required");
		} else if (!username_ok(json_string_value(name))) {
			http__reply_error(r, 400, "bad_request",
			                  "'username' may hold letters, digits and _ . @ - only");
		} else {
			snprintf(u->username, sizeof(u->username), "%s", json_string_value(name));
			int rc = store_user_create(r->srv->db, u, &err);
			if (rc == MIEN_ENOENT) {
				http__reply_error(r, 400, "bad_request", "a listed camera does not exist");
			} else if (rc != MIEN_OK) {
				http__reply_store_error(r, rc, &err, "user");
			} else {
				http__audit(r, "create", "user %lld", (long long)u->id);
				http__reply_json(r, 201, user_json(u));
			}
		}
	}
	json_decref(body);
	free(u);
}

void http__h_user_patch(http_req *r)
{
	json_t *body = http__body_json(r, USER_FIELDS);
	if (!body)
		return;
	store_user *u = calloc(1, sizeof(*u));
	mien_error err = { 0 };
	int rc = u ? store_user_get(r->srv->db, r->ids[0], u, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "user");
		goto done;
	}
	if (json_object_get(body, "username")) {
		http__reply_error(r, 400, "bad_request", "'username' cannot be changed");
		goto done;
	}
	if (!within_reach(&r->user, u->all_cameras, u->cameras, u->n_cameras)) {
		deny_reach(r, "change", u->id);
		goto done;
	}
	int fields = user_from_json(r, body, u);
	if (fields < 0)
		goto done;
	if (!within_reach(&r->user, u->all_cameras, u->cameras, u->n_cameras)) {
		deny_reach(r, "widen", u->id);
		goto done;
	}
	rc = fields ? store_user_update(r->srv->db, u, (unsigned)fields, &err) : MIEN_OK;
	if (rc == MIEN_OK && (fields & (STORE_USER_PASSWORD | STORE_USER_DISABLED)))
		rc = store_token_delete_user(r->srv->db, u->id, NULL, &err);
	http__auth_forget_user(r->srv, u->id);
	if (rc == MIEN_OK)
		rc = store_user_get(r->srv->db, u->id, u, &err);
	if (rc == MIEN_ENOENT && (fields & STORE_USER_CAMERAS)) {
		http__reply_error(r, 400, "bad_request", "a listed camera does not exist");
		goto done;
	}
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "user");
		goto done;
	}
	http__audit(r, (fields & STORE_USER_PASSWORD) ? "password" : "update", "user %lld", (long long)u->id);
	http__reply_json(r, 200, user_json(u));
done:
	json_decref(body);
	free(u);
}

void http__h_user_delete(http_req *r)
{
	if (r->ids[0] == r->user.user_id) {
		http__reply_error(r, 409, "conflict", "you cannot delete yourself");
		return;
	}
	mien_error err = { 0 };
	int rc = MIEN_OK;
	if (!r->user.all_cameras) {
		store_user *u = malloc(sizeof(*u));
		rc = u ? store_user_get(r->srv->db, r->ids[0], u, &err) : MIEN_ENOMEM;
		int reach = rc == MIEN_OK && within_reach(&r->user, u->all_cameras, u->cameras, u->n_cameras);
		free(u);
		if (rc != MIEN_OK) {
			http__reply_store_error(r, rc, &err, "user");
			return;
		}
		if (!reach) {
			deny_reach(r, "delete", r->ids[0]);
			return;
		}
	}
	rc = store_user_delete(r->srv->db, r->ids[0], &err);
	http__auth_forget_user(r->srv, r->ids[0]);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "user");
		return;
	}
	http__audit(r, "delete", "user %lld", (long long)r->ids[0]);
	http__reply_empty(r, 204);
}

/* --- settings ------------------------------------------------------------------------------------------------ */

typedef struct setting {
	const char *key;
	int kind; /* HTTP_FIELD_NUMBER, _INT or _BOOL */
	double min, max;
	const char *fallback; /* JSON text when never set */
} setting;

static const setting SETTINGS[] = {
	{ "recognition_threshold", HTTP_FIELD_NUMBER, 0, 1, "null" },
	{ "analysis_fps", HTTP_FIELD_NUMBER, 0.1, 60, "5" },
	{ "retention_days", HTTP_FIELD_INT, 0, 3650, "30" },
	{ "alert_cooldown_minutes", HTTP_FIELD_INT, 0, 1440, NUMBER_OF(WATCH_ALERT_COOLDOWN_MIN) },
	{ "validated", HTTP_FIELD_BOOL, 0, 1, "false" },
	/* 0 = no snapshot, else at least SNAPSHOT_WIDTH_MIN (checked below) */
	{ "snapshot_width", HTTP_FIELD_INT, 0, 3840, NUMBER_OF(WATCH_SNAPSHOT_WIDTH) },
	{ "snapshot_quality", HTTP_FIELD_INT, 30, 95, NUMBER_OF(WATCH_SNAPSHOT_QUALITY) },
};

#define SNAPSHOT_WIDTH_MIN 160

/* A number rounded to 6 decimals, so that a float read back as double shows as it was written (0.42, not
 * 0.41999998688697815). */
static json_t *json_rounded(double v)
{
	return json_real(round(v * 1e6) / 1e6);
}

static json_t *settings_json(http_req *r, int *rc, mien_error *err)
{
	json_t *o = json_object();
	for (size_t i = 0; i < MIEN_ARRAY_LEN(SETTINGS); i++) {
		char value[STORE_SETTING_MAX];
		int got = store_setting_get(r->srv->db, SETTINGS[i].key, value, sizeof(value), err);
		if (got != MIEN_OK && got != MIEN_ENOENT) {
			*rc = got;
			json_decref(o);
			return NULL;
		}
		json_t *v = json_loads(got == MIEN_OK ? value : SETTINGS[i].fallback, JSON_DECODE_ANY, NULL);
		json_object_set_new(o, SETTINGS[i].key, v ? v : json_null());
	}
	/* read-only: what the watch and /analyze compare similarities with, for the embedder this server runs */
	const char *model = face_embedder_name(NULL);
	json_object_set_new(o, "recognition_threshold_in_force",
	                    json_rounded(watch_recognition_threshold(r->srv->db, model)));
	json_object_set_new(o, "recognition_model", json_string(model));
	json_object_set_new(o, "recognition_model_default", json_rounded(face_default_threshold(model)));
	*rc = MIEN_OK;
	return o;
}

void http__h_settings_get(http_req *r)
{
	int rc;
	mien_error err = { 0 };
	json_t *o = settings_json(r, &rc, &err);
	if (!o)
		http__reply_store_error(r, rc, &err, "settings");
	else
		http__reply_json(r, 200, o);
}

void http__h_settings_patch(http_req *r)
{
	static const http_field FIELDS[] = {
		{ "recognition_threshold", HTTP_FIELD_NUMBER_OR_NULL, 0, 0 }, /* null: back to the model's default */
		{ "analysis_fps", HTTP_FIELD_NUMBER, 0, 0 },
		{ "retention_days", HTTP_FIELD_INT, 0, 0 },
		{ "alert_cooldown_minutes", HTTP_FIELD_INT, 0, 0 },
		{ "validated", HTTP_FIELD_BOOL, 0, 0 },
		{ "snapshot_width", HTTP_FIELD_INT, 0, 0 },
		{ "snapshot_quality", HTTP_FIELD_INT, 0, 0 },
		{ 0 },
	};
	json_t *body = http__body_json(r, FIELDS);
	if (!body)
		return;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(SETTINGS); i++) { /* validate everything before writing anything */
		json_t *v = json_object_get(body, SETTINGS[i].key);
		if (v && !json_is_null(v) && SETTINGS[i].kind != HTTP_FIELD_BOOL &&
		    (json_number_value(v) < SETTINGS[i].min || json_number_value(v) > SETTINGS[i].max)) {
			http__reply_error(r, 400, "bad_request", "'%s' must be in [%g, %g]", SETTINGS[i].key,
			                  SETTINGS[i].min, SETTINGS[i].max);
			json_decref(body);
			return;
		}
	}
	json_t *width = json_object_get(body, "snapshot_width");
	if (width && json_integer_value(width) != 0 && json_integer_value(width) < SNAPSHOT_WIDTH_MIN) {
		http__reply_error(r, 400, "bad_request", "'snapshot_width' must be 0 (no snapshot) or in [%d, 3840]",
		                  SNAPSHOT_WIDTH_MIN);
		json_decref(body);
		return;
	}
	int rc = MIEN_OK;
	mien_error err = { 0 };
	for (size_t i = 0; rc == MIEN_OK && i < MIEN_ARRAY_LEN(SETTINGS); i++) {
		json_t *v = json_object_get(body, SETTINGS[i].key);
		if (!v)
			continue;
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
		rc = text ? store_setting_set(r->srv->db, SETTINGS[i].key, text, &err) : MIEN_ENOMEM;
		free(text);
		if (rc == MIEN_OK)
			http__audit(r, "settings", "%s", SETTINGS[i].key);
	}
	json_decref(body);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "settings");
		return;
	}
	http__h_settings_get(r);
}

/* --- storage ------------------------------------------------------------------------------------------------ */

#define DAY_MS 86400000.0

/* An integer figure, or null when unknown (negative). */
static json_t *json_count(int64_t v)
{
	return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

void http__h_storage_get(http_req *r)
{
	store_storage st;
	mien_error err = { 0 };
	int rc = store_storage_get(r->srv->db, mien_wall_ms(), &st, &err);
	char value[32];
	long retention = 30; /* the retention_days fallback above */
	if (rc == MIEN_OK) {
		rc = store_setting_get(r->srv->db, "retention_days", value, sizeof(value), &err);
		if (rc == MIEN_OK)
			retention = strtol(value, NULL, 10);
		else if (rc == MIEN_ENOENT)
			rc = MIEN_OK;
	}
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "storage");
		return;
	}
	/* The rate: events and picture bytes per day over the window (the last 24 h, else the last 7 days). */
	double days = (double)st.window_ms / DAY_MS;
	int rated = st.window_ms > 0;
	double per_day = rated ? (double)st.window_bytes / days : 0;
	json_t *o = json_object();
	json_object_set_new(o, "database_bytes", json_count(st.database_bytes));
	json_object_set_new(o, "free_bytes", json_count(st.free_bytes));
	json_object_set_new(o, "events", json_count(st.events));
	json_object_set_new(o, "picture_bytes", json_count(st.picture_bytes));
	json_object_set_new(o, "bytes_per_event", st.events ? json_count(st.picture_bytes / st.events) : json_null());
	json_object_set_new(o, "rate_window_days", rated ? json_integer((json_int_t)lround(days)) : json_null());
	json_object_set_new(o, "events_per_day", rated ? json_rounded((double)st.window_events / days) : json_null());
	json_object_set_new(o, "bytes_per_day", rated ? json_count((int64_t)llround(per_day)) : json_null());
	/* days the free space holds at that rate; null without a rate or where the free space is unknown */
	json_object_set_new(o, "days_left",
	                    rated && per_day > 0 && st.free_bytes >= 0
	                            ? json_rounded(floor((double)st.free_bytes / per_day * 10) / 10)
	                            : json_null());
	json_object_set_new(o, "retention_days", json_integer(retention));
	/* with a retention the pictures level off near bytes_per_day × retention_days; without one they grow */
	json_object_set_new(o, "retention_bounded", json_boolean(retention > 0));
	json_object_set_new(o, "retained_bytes",
	                    rated && retention > 0 ? json_count((int64_t)llround(per_day * (double)retention))
	                                           : json_null());
	json_object_set_new(
	        o, "retention_fits",
	        rated && retention > 0 && st.free_bytes >= 0
	                ? json_boolean(per_day * (double)retention <= (double)(st.free_bytes + st.picture_bytes))
	                : json_null());
	http__reply_json(r, 200, o);
}

/* --- audit ------------------------------------------------------------------------------------------------------ */

void http__h_audit_list(http_req *r)
{
	size_t limit, count = 0;
	int64_t before = 0;
	if (http__query_limit(r, &limit) || http__query_id(r, "cursor", &before))
		return;
	store_audit *rows = malloc(limit * sizeof(*rows));
	mien_error err = { 0 };
	int rc = rows ? store_audit_list(r->srv->db, before, rows, limit, &count, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		free(rows);
		http__reply_store_error(r, rc, &err, "audit");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++) {
		char at[32];
		http__iso_time(rows[i].at, at);
		json_array_append_new(
		        items, json_pack("{s:I,s:s,s:o,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)rows[i].id, "at", at,
		                         "user_id", rows[i].user_id ? json_integer(rows[i].user_id) : json_null(),
		                         "username", rows[i].username, "action", rows[i].action, "target",
		                         rows[i].target, "detail", rows[i].detail, "address", rows[i].address));
	}
	http__reply_list(r, items, count == limit ? rows[count - 1].id : 0);
	free(rows);
}
