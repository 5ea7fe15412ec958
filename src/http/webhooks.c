/*
 * webhooks.c — /webhooks (admin only): where events, alerts and camera status are POSTed, signed (bus/notify.h
 * sends them). A webhook's secret is never answered back ("has_secret" says whether there is one); its URL is shown
 * redacted like a camera's, and a PATCH that sends the redacted URL back unchanged keeps the stored secrets in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/notify.h"
#include "bus/rules.h"
#include "core/redact.h"
#include "core/utf8.h"
#include "http/http_int.h"

static json_t *stored_filter(const store_webhook *w)
{
	json_t *v = w->rules[0] ? json_loads(w->rules, 0, NULL) : NULL;
	rule r;
	char why[160];
	if (rule_parse(v, &r, why, sizeof(why)) != 0)
		rule_init(&r);
	json_decref(v);
	return rule_json(&r);
}

static json_t *webhook_json(const store_webhook *w)
{
	char url[2 * STORE_URL_MAX], created[32], updated[32];
	mien_redact_url(w->url, url, sizeof(url));
	http__iso_time(w->created_at, created);
	http__iso_time(w->updated_at, updated);
	return json_pack("{s:I,s:s,s:s,s:o,s:b,s:b,s:b,s:o,s:s,s:s}", "id", (json_int_t)w->id, "name", w->name, "url",
	                 url, "events", notify_kinds_json(notify_kinds_parse(w->kinds)), "has_secret",
	                 w->secret[0] != '\0', "enabled", w->enabled, "expression", w->expression, "filter",
	                 stored_filter(w), "created_at", created, "updated_at", updated);
}

static const http_field WEBHOOK_FIELDS[] = {
	{ "name", HTTP_FIELD_STRING, 0, STORE_NAME_MAX - 1 },
	{ "url", HTTP_FIELD_STRING, 0, STORE_URL_MAX - 1 },
	{ "events", HTTP_FIELD_ARRAY, 0, 8 },
	{ "secret", HTTP_FIELD_STRING_OR_NULL, 0, NOTIFY_SECRET_MAX },
	{ "filter", HTTP_FIELD_OBJECT_OR_NULL, 0, 0 },
	{ "enabled", HTTP_FIELD_BOOL, 0, 0 },
	{ "expression", HTTP_FIELD_BOOL, 0, 0 },
	{ 0 },
};

/* Copies the body into *w (which holds the stored webhook on PATCH); the STORE_WEBHOOK_* set, or -1 answered. */
static int webhook_from_json(http_req *r, const json_t *body, store_webhook *w)
{
	int fields = 0;
	char why[256];
	json_t *v;
	if ((v = json_object_get(body, "name"))) {
		snprintf(w->name, sizeof(w->name), "%s", json_string_value(v));
		fields |= STORE_WEBHOOK_NAME;
	}
	if ((v = json_object_get(body, "url"))) {
		const char *url = json_string_value(v);
		if (mien_redact_marked(url)) {
			char restored[STORE_URL_MAX];
			if (!w->id || mien_redact_restore(url, w->url, restored, sizeof(restored)) != 0) {
				http__reply_error(
				        r, 400, "bad_request",
				        "'url' carries the redaction mark: send the secrets, or the URL unchanged");
				return -1;
			}
		} else {
			mien_error err = { 0 };
			if (notify_webhook_url_check(url, &err) != MIEN_OK) {
				http__reply_error(r, 400, "bad_request", "%s",
				                  err.message); /* shows the URL redacted */
				return -1;
			}
			snprintf(w->url, sizeof(w->url), "%s", url);
			fields |= STORE_WEBHOOK_URL;
		}
	}
	if ((v = json_object_get(body, "events"))) {
		if (notify_kinds_from_json(v, w->kinds, sizeof(w->kinds), why, sizeof(why)) != 0) {
			http__reply_error(r, 400, "bad_request", "%s", why);
			return -1;
		}
		fields |= STORE_WEBHOOK_KINDS;
	}
	if ((v = json_object_get(body, "secret"))) {
		const char *secret = json_is_null(v) ? "" : json_string_value(v);
		size_t len = strlen(secret);
		if (!json_is_null(v) && len < NOTIFY_SECRET_MIN) {
			http__reply_error(r, 400, "bad_request", "'secret' must be %d to %d bytes (null: unsigned)",
			                  NOTIFY_SECRET_MIN, NOTIFY_SECRET_MAX);
			return -1;
		}
		memcpy(w->secret, secret, len + 1);
		fields |= STORE_WEBHOOK_SECRET;
	}
	if ((v = json_object_get(body, "filter"))) {
		rule f;
		if (rule_parse(v, &f, why, sizeof(why)) != 0) {
			http__reply_error(r, 400, "bad_request", "%s", why);
			return -1;
		}
		w->rules[0] = '\0';
		if (!json_is_null(v)) {
			json_t *canonical = rule_json(&f);
			char *text = canonical ? json_dumps(canonical, JSON_COMPACT) : NULL;
			json_decref(canonical);
			if (!text || strlen(text) >= sizeof(w->rules)) {
				free(text);
				http__reply_error(r, 400, "bad_request", "'filter' is too large");
				return -1;
			}
			memcpy(w->rules, text, strlen(text) + 1);
			free(text);
		}
		fields |= STORE_WEBHOOK_RULES;
	}
	if ((v = json_object_get(body, "enabled"))) {
		w->enabled = json_is_true(v);
		fields |= STORE_WEBHOOK_ENABLED;
	}
	if ((v = json_object_get(body, "expression"))) {
		w->expression = json_is_true(v);
		fields |= STORE_WEBHOOK_EXPRESSION;
	}
	return fields;
}

/* The audit's detail of a webhook change: the URL as the API shows it (redacted). */
static void audit_url(const store_webhook *w, char *detail, size_t size)
{
	char url[2 * STORE_URL_MAX];
	mien_redact_url(w->url, url, sizeof(url));
	char text[2 * STORE_URL_MAX + 8];
	snprintf(text, sizeof(text), "url %s", url);
	mien_utf8_copy(detail, size, text);
}

static void changed(http_req *r)
{
	if (r->srv->options.notify)
		notify_reload(r->srv->options.notify);
}

void http__h_webhooks_list(http_req *r)
{
	size_t limit, count = 0;
	int64_t after = 0;
	if (http__query_limit(r, &limit) || http__query_id(r, "cursor", &after))
		return;
	if (limit > STORE_WEBHOOKS_MAX)
		limit = STORE_WEBHOOKS_MAX;
	store_webhook *rows = malloc(limit * sizeof(*rows));
	mien_error err = { 0 };
	int rc = rows ? store_webhook_list(r->srv->db, after, rows, limit, &count, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		free(rows);
		http__reply_store_error(r, rc, &err, "webhooks");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(items, webhook_json(&rows[i]));
	http__reply_list(r, items, count == limit ? rows[count - 1].id : 0);
	free(rows);
}

void http__h_webhooks_create(http_req *r)
{
	json_t *body = http__body_json(r, WEBHOOK_FIELDS);
	if (!body)
		return;
	store_webhook *w = calloc(1, sizeof(*w));
	if (!w) {
		json_decref(body);
		http__reply_error(r, 500, "internal", "out of memory");
		return;
	}
	w->enabled = 1;
	snprintf(w->kinds, sizeof(w->kinds), "alert");
	int fields = webhook_from_json(r, body, w);
	json_decref(body);
	if (fields >= 0 && !(fields & STORE_WEBHOOK_URL)) {
		http__reply_error(r, 400, "bad_request", "'url' is required");
		fields = -1;
	}
	mien_error err = { 0 };
	int rc = fields < 0 ? MIEN_OK : store_webhook_create(r->srv->db, w, &err);
	if (fields >= 0 && rc != MIEN_OK) {
		if (rc == MIEN_ETOOBIG)
			http__reply_error(r, 409, "conflict", "%s", err.message);
		else
			http__reply_store_error(r, rc, &err, "webhook");
	} else if (fields >= 0) {
		char detail[sizeof(((store_audit *)0)->detail)];
		audit_url(w, detail, sizeof(detail));
		http__audit_detail(r, "create", detail, "webhook %lld", (long long)w->id);
		changed(r);
		http__reply_json(r, 201, webhook_json(w));
	}
	memset(w->secret, 0, sizeof(w->secret));
	free(w);
}

/* Reads the webhook of the path into a new allocation; answers 404 (or the store's error) and returns NULL. */
static store_webhook *webhook_of_path(http_req *r)
{
	store_webhook *w = malloc(sizeof(*w));
	mien_error err = { 0 };
	int rc = w ? store_webhook_get(r->srv->db, r->ids[0], w, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		free(w);
		http__reply_store_error(r, rc, &err, "webhook");
		return NULL;
	}
	return w;
}

void http__h_webhook_get(http_req *r)
{
	store_webhook *w = webhook_of_path(r);
	if (!w)
		return;
	http__reply_json(r, 200, webhook_json(w));
	free(w);
}

void http__h_webhook_patch(http_req *r)
{
	json_t *body = http__body_json(r, WEBHOOK_FIELDS);
	if (!body)
		return;
	store_webhook *w = webhook_of_path(r);
	if (!w) {
		json_decref(body);
		return;
	}
	int fields = webhook_from_json(r, body, w);
	json_decref(body);
	mien_error err = { 0 };
	int rc = MIEN_OK;
	if (fields > 0)
		rc = store_webhook_update(r->srv->db, w, (unsigned)fields, &err);
	if (fields >= 0 && rc == MIEN_OK)
		rc = store_webhook_get(r->srv->db, w->id, w, &err);
	if (fields >= 0 && rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "webhook");
	} else if (fields >= 0) {
		char detail[sizeof(((store_audit *)0)->detail)] = "";
		if (fields & STORE_WEBHOOK_URL)
			audit_url(w, detail, sizeof(detail));
		http__audit_detail(r, "update", detail, "webhook %lld", (long long)w->id);
		changed(r);
		http__reply_json(r, 200, webhook_json(w));
	}
	memset(w->secret, 0, sizeof(w->secret));
	free(w);
}

void http__h_webhook_delete(http_req *r)
{
	mien_error err = { 0 };
	int rc = store_webhook_delete(r->srv->db, r->ids[0], &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "webhook");
		return;
	}
	http__audit(r, "delete", "webhook %lld", (long long)r->ids[0]);
	changed(r);
	http__reply_empty(r, 204);
}

void http__h_webhook_test(http_req *r)
{
	if (!r->srv->options.notify) {
		http__reply_error(r, 503, "unavailable", "webhooks are not running on this node");
		return;
	}
	notify_attempt a;
	mien_error err = { 0 };
	int rc = notify_webhook_test(r->srv->options.notify, r->ids[0], &a, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "webhook");
		return;
	}
	http__audit(r, "test", "webhook %lld", (long long)r->ids[0]);
	http__reply_json(r, 200,
	                 json_pack("{s:s,s:b,s:o,s:s,s:I}", "delivery", a.delivery, "delivered", a.delivered,
	                           "http_status", a.http_status ? json_integer(a.http_status) : json_null(), "error",
	                           a.error, "duration_ms", (json_int_t)a.duration_ms));
}

static json_t *time_or_null(int64_t ms)
{
	char t[32];
	if (!ms)
		return json_null();
	http__iso_time(ms, t);
	return json_string(t);
}

void http__h_webhook_deliveries(http_req *r)
{
	size_t limit, count = 0;
	int64_t before = 0;
	if (http__query_limit(r, &limit) || http__query_id(r, "cursor", &before))
		return;
	store_webhook *w = webhook_of_path(r);
	if (!w)
		return;
	free(w);
	store_delivery *rows = malloc(limit * sizeof(*rows));
	mien_error err = { 0 };
	int rc = rows ? store_delivery_list(r->srv->db, r->ids[0], before, rows, limit, &count, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		free(rows);
		http__reply_store_error(r, rc, &err, "deliveries");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++) {
		const store_delivery *d = &rows[i];
		json_array_append_new(items,
		                      json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:o,s:s,s:I,s:o,s:o,s:o}", "id",
		                                (json_int_t)d->id, "delivery", d->delivery, "type", d->kind, "subject",
		                                d->subject, "status", d->status, "attempts", d->attempts, "http_status",
		                                d->http_status ? json_integer(d->http_status) : json_null(), "error",
		                                d->error, "duration_ms", (json_int_t)d->duration_ms, "created_at",
		                                time_or_null(d->created_at), "updated_at", time_or_null(d->updated_at),
		                                "next_attempt_at", time_or_null(d->next_at)));
	}
	http__reply_list(r, items, count == limit ? rows[count - 1].id : 0);
	free(rows);
}
