/*
 * cameras.c — /cameras. Everyone logged in sees the cameras of their list (id, name, enabled); the admin also
 * sees the URL, always redacted by core/redact.h (the password and every secret-looking parameter replaced by
 * "***"), and changes cameras. A PATCH that sends the redacted URL back unchanged keeps every stored secret;
 * one that carries the mark but differs anywhere else is refused. The audit row of a create or a URL change
 * names the URL, redacted the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/redact.h"
#include "core/utf8.h"
#include "http/http_int.h"
#include "video/video.h"
#include "watch/watch.h"

static json_t *camera_json(const http_req *r, const store_camera *c)
{
	json_t *o = json_pack("{s:I,s:s,s:b}", "id", (json_int_t)c->id, "name", c->name, "enabled", c->enabled);
	/* What the camera is doing, when it runs on this node. */
	watch_camera_info info;
	if (r->srv->options.watch && watch_camera_get(r->srv->options.watch, c->id, &info) == MIEN_OK) {
		json_object_set_new(o, "status", json_string(video_status_name(info.status)));
		json_object_set_new(o, "fps", json_real(info.fps));
		json_object_set_new(o, "analysed_fps", json_real(info.analysed_fps));
		json_object_set_new(o, "width", json_integer(info.width));
		json_object_set_new(o, "height", json_integer(info.height));
		if (http__role_at_least(r, STORE_ROLE_ADMIN) && info.last_error[0])
			json_object_set_new(o, "last_error", json_string(info.last_error));
	} else {
		json_object_set_new(o, "status",
		                    json_string(c->enabled && r->srv->options.watch
		                                        ? "offline"
		                                        : (c->enabled ? "unknown" : "disabled")));
	}
	if (http__role_at_least(r, STORE_ROLE_ADMIN)) {
		char url[2 * STORE_URL_MAX], created[32], updated[32];
		mien_redact_url(c->url, url, sizeof(url));
		http__iso_time(c->created_at, created);
		http__iso_time(c->updated_at, updated);
		json_object_set_new(o, "url", json_string(url));
		json_object_set_new(o, "analysis_fps", json_real(c->analysis_fps));
		json_object_set_new(o, "alert_unknown", json_boolean(c->alert_unknown));
		json_object_set_new(o, "created_at", json_string(created));
		json_object_set_new(o, "updated_at", json_string(updated));
	}
	return o;
}

void http__h_cameras_list(http_req *r)
{
	size_t limit, count = 0;
	int64_t after = 0;
	if (http__query_limit(r, &limit) || http__query_id(r, "cursor", &after))
		return;
	store_camera *cams = malloc(limit * sizeof(*cams));
	mien_error err = { 0 };
	json_t *items = json_array();
	int64_t last = 0;
	/* Walk pages until `limit` visible cameras are found, so that a user's list does not leave holes. */
	size_t shown = 0;
	int rc = cams ? MIEN_OK : MIEN_ENOMEM;
	while (rc == MIEN_OK && shown < limit) {
		rc = store_camera_list(r->srv->db, after, cams, limit, &count, &err);
		for (size_t i = 0; rc == MIEN_OK && i < count && shown < limit; i++) {
			after = cams[i].id;
			if (!http__camera_allowed(r, cams[i].id))
				continue;
			json_array_append_new(items, camera_json(r, &cams[i]));
			last = cams[i].id;
			shown++;
		}
		if (count < limit)
			break;
	}
	free(cams);
	if (rc != MIEN_OK) {
		json_decref(items);
		http__reply_store_error(r, rc, &err, "cameras");
		return;
	}
	http__reply_list(r, items, shown == limit ? last : 0);
}

static const http_field CAMERA_FIELDS[] = {
	{ "name", HTTP_FIELD_STRING, 0, STORE_NAME_MAX - 1 },
	{ "url", HTTP_FIELD_STRING, 0, STORE_URL_MAX - 1 },
	{ "enabled", HTTP_FIELD_BOOL, 0, 0 },
	{ "analysis_fps", HTTP_FIELD_NUMBER, 0, 0 },
	{ "alert_unknown", HTTP_FIELD_BOOL, 0, 0 },
	{ 0 },
};

/* Copies the body into *c (whose url holds the stored one on PATCH); the STORE_CAMERA_* set, or -1 answered. */
static int camera_from_json(http_req *r, const json_t *body, store_camera *c)
{
	int fields = 0;
	json_t *v;
	if ((v = json_object_get(body, "name"))) {
		if (json_string_length(v) == 0) {
			http__reply_error(r, 400, "bad_request", "'name' must not be empty");
			return -1;
		}
		snprintf(c->name, sizeof(c->name), "%s", json_string_value(v));
		fields |= STORE_CAMERA_NAME;
	}
	if ((v = json_object_get(body, "url"))) {
		const char *url = json_string_value(v);
		if (!*url) {
			http__reply_error(r, 400, "bad_request", "'url' must not be empty");
			return -1;
		}
		if (mien_redact_marked(url)) {
			char restored[STORE_URL_MAX];
			if (!c->id || mien_redact_restore(url, c->url, restored, sizeof(restored)) != 0) {
				http__reply_error(
				        r, 400, "bad_request",
				        "'url' carries the redaction mark: send the secrets, or the URL unchanged");
				return -1;
			}
		} else {
			snprintf(c->url, sizeof(c->url), "%s", url);
			fields |= STORE_CAMERA_URL;
		}
	}
	if ((v = json_object_get(body, "enabled"))) {
		c->enabled = json_is_true(v);
		fields |= STORE_CAMERA_ENABLED;
	}
	if ((v = json_object_get(body, "analysis_fps"))) {
		double fps = json_number_value(v);
		if (!(fps > 0 && fps <= 60)) {
			http__reply_error(r, 400, "bad_request", "'analysis_fps' must be in (0, 60]");
			return -1;
		}
		c->analysis_fps = (float)fps;
		fields |= STORE_CAMERA_FPS;
	}
	if ((v = json_object_get(body, "alert_unknown"))) {
		c->alert_unknown = json_is_true(v);
		fields |= STORE_CAMERA_ALERT_UNKNOWN;
	}
	return fields;
}

/* Answers 400 for a URL outside the camera allow-list (video.h: no exec:, pipe:; files only with
 * MIEN_ALLOW_FILE_CAMERAS=1, which video_url_check reads itself). */
static int url_refused(http_req *r, const store_camera *c)
{
	mien_error err = { 0 };
	if (video_url_check(c->url, 0, NULL, &err) != MIEN_OK) {
		http__reply_error(r, 400, "bad_request", "%s", err.message); /* the message shows the URL redacted */
		return 1;
	}
	return 0;
}

/* The audit's detail of a camera change: "url " and the URL as the API shows it (redacted), cut on a character
 * boundary to the field. */
static void audit_url(const store_camera *c, char *detail, size_t size)
{
	char url[2 * STORE_URL_MAX];
	mien_redact_url(c->url, url, sizeof(url));
	char text[2 * STORE_URL_MAX + 8];
	snprintf(text, sizeof(text), "url %s", url);
	mien_utf8_copy(detail, size, text);
}

void http__h_cameras_create(http_req *r)
{
	json_t *body = http__body_json(r, CAMERA_FIELDS);
	if (!body)
		return;
	store_camera c = { 0 };
	c.enabled = 1;
	c.analysis_fps = 5;
	/* The Settings page's analysis rate is the default for new cameras; each camera may set its own. */
	char rate[32];
	if (store_setting_get(r->srv->db, "analysis_fps", rate, sizeof(rate), NULL) == MIEN_OK) {
		char *end;
		float v = strtof(rate, &end);
		if (!*end && v > 0 && v <= 60)
			c.analysis_fps = v;
	}
	int fields = camera_from_json(r, body, &c);
	json_decref(body);
	if (fields < 0)
		return;
	if (!(fields & STORE_CAMERA_NAME) || !(fields & STORE_CAMERA_URL)) {
		http__reply_error(r, 400, "bad_request", "'name' and 'url' are required");
		return;
	}
	if (url_refused(r, &c))
		return;
	mien_error err = { 0 };
	int rc = store_camera_create(r->srv->db, &c, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "camera");
		return;
	}
	char detail[sizeof(((store_audit *)0)->detail)];
	audit_url(&c, detail, sizeof(detail));
	http__audit_detail(r, "create", detail, "camera %lld", (long long)c.id);
	http__cameras_changed(r->srv, c.id);
	http__reply_json(r, 201, camera_json(r, &c));
}

/* Reads the camera of the path; answers 404 (also for a camera outside the user's list) and returns -1. */
static int camera_of_path(http_req *r, store_camera *c)
{
	mien_error err = { 0 };
	int rc = http__camera_allowed(r, r->ids[0]) ? store_camera_get(r->srv->db, r->ids[0], c, &err) : MIEN_ENOENT;
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "camera");
		return -1;
	}
	return 0;
}

void http__h_camera_get(http_req *r)
{
	store_camera c;
	if (camera_of_path(r, &c) == 0)
		http__reply_json(r, 200, camera_json(r, &c));
}

void http__h_camera_patch(http_req *r)
{
	store_camera c;
	json_t *body = http__body_json(r, CAMERA_FIELDS);
	if (!body)
		return;
	if (camera_of_path(r, &c) != 0) {
		json_decref(body);
		return;
	}
	int fields = camera_from_json(r, body, &c);
	json_decref(body);
	if (fields < 0)
		return;
	if ((fields & STORE_CAMERA_URL) && url_refused(r, &c))
		return;
	mien_error err = { 0 };
	int rc = fields ? store_camera_update(r->srv->db, &c, (unsigned)fields, &err) : MIEN_OK;
	if (rc == MIEN_OK)
		rc = store_camera_get(r->srv->db, c.id, &c, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "camera");
		return;
	}
	char detail[sizeof(((store_audit *)0)->detail)] = "";
	if (fields & STORE_CAMERA_URL)
		audit_url(&c, detail, sizeof(detail));
	http__audit_detail(r, "update", detail, "camera %lld", (long long)c.id);
	http__cameras_changed(r->srv, c.id);
	http__reply_json(r, 200, camera_json(r, &c));
}

void http__h_camera_delete(http_req *r)
{
	mien_error err = { 0 };
	int rc = http__camera_allowed(r, r->ids[0]) ? store_camera_delete(r->srv->db, r->ids[0], &err) : MIEN_ENOENT;
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "camera");
		return;
	}
	http__audit(r, "delete", "camera %lld", (long long)r->ids[0]);
	http__cameras_changed(r->srv, r->ids[0]);
	http__reply_empty(r, 204);
}
