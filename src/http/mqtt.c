/*
 * mqtt.c — /mqtt (admin only): this node's MQTT connection as bus/notify.h runs it (broker shown redacted), and the
 * MQTT settings every node follows: expression fields in events, Home Assistant discovery and its prefix, and the
 * filter of alerts. The settings live in the store (mqtt_expression, mqtt_discovery, mqtt_discovery_prefix,
 * mqtt_rules); the broker is configuration (MIEN_MQTT), not a setting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/notify.h"
#include "bus/rules.h"
#include "http/http_int.h"

/* A stored JSON setting, or `fallback` (JSON text) when unset; NULL and an answered error when the store fails. */
static json_t *setting(http_req *r, const char *key, const char *fallback)
{
	char *value = malloc(STORE_SETTING_MAX);
	mien_error err = { 0 };
	int rc = value ? store_setting_get(r->srv->db, key, value, STORE_SETTING_MAX, &err) : MIEN_ENOMEM;
	json_t *v = NULL;
	if (rc == MIEN_OK)
		v = json_loads(value, JSON_DECODE_ANY, NULL);
	free(value);
	if (rc != MIEN_OK && rc != MIEN_ENOENT) {
		http__reply_store_error(r, rc, &err, "settings");
		return NULL;
	}
	return v ? v : json_loads(fallback, JSON_DECODE_ANY, NULL);
}

void http__h_mqtt_get(http_req *r)
{
	json_t *expression = setting(r, "mqtt_expression", "false");
	json_t *discovery = expression ? setting(r, "mqtt_discovery", "true") : NULL;
	json_t *prefix = discovery ? setting(r, "mqtt_discovery_prefix", "\"homeassistant\"") : NULL;
	json_t *rules = prefix ? setting(r, "mqtt_rules", "null") : NULL;
	if (!rules) {
		json_decref(expression);
		json_decref(discovery);
		json_decref(prefix);
		return;
	}
	rule f;
	char why[160];
	if (rule_parse(rules, &f, why, sizeof(why)) != 0)
		rule_init(&f);
	json_decref(rules);
	char broker[2 * STORE_URL_MAX] = "", topic_prefix[NOTIFY_PREFIX_MAX + 1] = "", client_id[128] = "";
	notify_stats st = { 0 };
	notify *n = r->srv->options.notify;
	if (n) {
		notify_mqtt_describe(n, broker, sizeof(broker), topic_prefix, sizeof(topic_prefix), client_id,
		                     sizeof(client_id));
		notify_get_stats(n, &st);
	}
	json_t *o = json_pack("{s:b,s:b,s:o,s:o,s:o,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "configured", st.mqtt_configured,
	                      "connected", st.mqtt_connected, "broker", broker[0] ? json_string(broker) : json_null(),
	                      "prefix", topic_prefix[0] ? json_string(topic_prefix) : json_null(), "client_id",
	                      client_id[0] ? json_string(client_id) : json_null(), "published",
	                      (json_int_t)st.mqtt_published, "dropped", (json_int_t)st.mqtt_dropped, "reconnects",
	                      (json_int_t)st.mqtt_reconnects, "expression", json_boolean(json_is_true(expression)),
	                      "discovery", json_boolean(!json_is_false(discovery)), "discovery_prefix",
	                      json_is_string(prefix) ? json_incref(prefix) : json_string("homeassistant"), "filter",
	                      rule_json(&f));
	json_decref(expression);
	json_decref(discovery);
	json_decref(prefix);
	http__reply_json(r, 200, o);
}

void http__h_mqtt_patch(http_req *r)
{
	static const http_field FIELDS[] = {
		{ "expression", HTTP_FIELD_BOOL, 0, 0 },
		{ "discovery", HTTP_FIELD_BOOL, 0, 0 },
		{ "discovery_prefix", HTTP_FIELD_STRING, 0, NOTIFY_PREFIX_MAX },
		{ "filter", HTTP_FIELD_OBJECT_OR_NULL, 0, 0 },
		{ 0 },
	};
	json_t *body = http__body_json(r, FIELDS);
	if (!body)
		return;
	json_t *v;
	char why[256];
	rule f;
	/* validate everything before writing anything */
	if ((v = json_object_get(body, "discovery_prefix")) && !notify_prefix_ok(json_string_value(v))) {
		http__reply_error(r, 400, "bad_request",
		                  "'discovery_prefix' must be 1..%d bytes without '+', '#', empty levels or a '/' at "
		                  "either end",
		                  NOTIFY_PREFIX_MAX);
		json_decref(body);
		return;
	}
	if ((v = json_object_get(body, "filter")) && rule_parse(v, &f, why, sizeof(why)) != 0) {
		http__reply_error(r, 400, "bad_request", "%s", why);
		json_decref(body);
		return;
	}
	static const struct {
		const char *field, *key;
	} KEYS[] = {
		{ "expression", "mqtt_expression" },
		{ "discovery", "mqtt_discovery" },
		{ "discovery_prefix", "mqtt_discovery_prefix" },
		{ "filter", "mqtt_rules" },
	};
	int rc = MIEN_OK;
	mien_error err = { 0 };
	for (size_t i = 0; rc == MIEN_OK && i < MIEN_ARRAY_LEN(KEYS); i++) {
		if (!(v = json_object_get(body, KEYS[i].field)))
			continue;
		json_t *stored =
		        strcmp(KEYS[i].field, "filter") == 0 && !json_is_null(v) ? rule_json(&f) : json_incref(v);
		char *text = stored ? json_dumps(stored, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
		json_decref(stored);
		rc = text ? store_setting_set(r->srv->db, KEYS[i].key, text, &err) : MIEN_ENOMEM;
		free(text);
		if (rc == MIEN_OK)
			http__audit(r, "settings", "%s", KEYS[i].key);
	}
	json_decref(body);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "settings");
		return;
	}
	if (r->srv->options.notify)
		notify_reload(r->srv->options.notify);
	http__h_mqtt_get(r);
}
