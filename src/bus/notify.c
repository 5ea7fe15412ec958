/*
 * notify.c — the notifier's dispatcher: the bus subscription and its bounded queue, what each node knows of its
 * cameras (names, who is in view, status), the MQTT topics and Home Assistant discovery, and the choice of webhooks
 * for each message.
 *
 * Everything after the queue runs on the one dispatcher thread, which alone owns the camera table, the cached
 * webhooks and settings: no lock beyond the queue's. The MQTT client's thread only raises a flag when a connection
 * is accepted, and the dispatcher publishes the retained state again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/notify_int.h"
#include "bus/rules.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/redact.h"

#define WAIT_MS           1000
#define DRAIN_MS          2000
#define PEOPLE_CACHE      256
#define PEOPLE_TTL_MS     5000
#define VIEW_MAX          256 /* open visits followed per camera */
#define CAMERA_PAGE       100
#define WORD_MAX          64
#define TOPIC_MAX         512 /* prefixes, a topic word, a few levels */
#define DISCOVERY_DEFAULT "homeassistant"

typedef struct qmsg {
	int kind;
	int remote;
	char *json; /* owned */
	size_t len;
} qmsg;

/* An open visit at a camera. */
typedef struct viewer {
	int64_t event_id, person_id;
	char name[STORE_NAME_MAX];
	int watchlist;
	char since[40];
} viewer;

typedef struct cam_state {
	int64_t id;
	char name[STORE_NAME_MAX];
	char word[WORD_MAX]; /* the topic level */
	char *status;        /* the last status message here (JSON, owned); NULL = none */
	char *last_person;   /* the last_person payload (owned); NULL = none */
	int64_t last_event_id, last_person_id;
	viewer *view;
	int n_view, cap_view;
	int people_sent; /* the people topic was published since the start */
} cam_state;

typedef struct hook_entry {
	store_webhook w;
	unsigned kinds;
	rule filter;
} hook_entry;

typedef struct person_entry {
	int64_t id, at_ms;
	int watchlist;
} person_entry;

typedef struct mqtt_settings {
	int expression, discovery;
	char discovery_prefix[NOTIFY_PREFIX_MAX + 1];
	rule filter;
} mqtt_settings;

struct notify {
	store *db;
	bus *bus;
	int sub_id;
	char prefix[NOTIFY_PREFIX_MAX + 1];
	char node_word[WORD_MAX]; /* the prefix as one topic level, for discovery ids */
	char client_id[BUS_NODE_MAX + 8];
	char broker[2 * STORE_URL_MAX]; /* redacted */
	notify_mqtt *mqtt;
	notify_hooks *hooks;

	pthread_mutex_t lock; /* the queue and the flags below */
	pthread_cond_t ready;
	qmsg ring[NOTIFY_QUEUE_MAX];
	size_t head, n, bytes;
	int stop, resync, reload;
	int64_t stop_by;
	pthread_t thread;
	int started;
	_Atomic uint64_t queue_dropped;

	/* the dispatcher's own */
	cam_state *cams;
	size_t n_cams, cap_cams;
	hook_entry *hook_list;
	size_t n_hooks;
	int64_t loaded_at;
	mqtt_settings settings;
	char discovery_live[NOTIFY_PREFIX_MAX + 1]; /* where discovery configs are published now; "" = nowhere */
	person_entry people[PEOPLE_CACHE];
};

/* --- pure helpers ------------------------------------------------------------------------------------------- */

void notify_topic_word(const char *name, int64_t id, char *out, size_t cap)
{
	size_t n = 0, limit = cap - 1 < 48 ? cap - 1 : 48;
	int gap = 0;
	for (const char *p = name ? name : ""; *p && n < limit; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (gap && n > 0 && n + 1 < limit)
				out[n++] = '_';
			gap = 0;
			out[n++] = c;
		} else {
			gap = 1;
		}
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, cap, "camera_%lld", (long long)id);
}

/* --- publishing helpers ----------------------------------------------------------------------------------------- */

static void publish(notify *n, const char *topic, const char *payload, int retain)
{
	if (n->mqtt)
		notify__mqtt_publish(n->mqtt, topic, payload, strlen(payload), retain);
}

static void publish_json(notify *n, const char *topic, json_t *msg, int retain)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (text)
		publish(n, topic, text, retain);
	free(text);
}

static void camera_topic(notify *n, const cam_state *c, const char *what, char *topic, size_t cap)
{
	snprintf(topic, cap, "%s/%s/%s", n->prefix, c->word, what);
}

/* --- who is in view ------------------------------------------------------------------------------------------ */

static void publish_people(notify *n, cam_state *c)
{
	json_t *people = json_array();
	int unknown = 0, watchlist = 0;
	for (int i = 0; i < c->n_view; i++) {
		const viewer *v = &c->view[i];
		watchlist |= v->watchlist;
		if (!v->person_id) {
			unknown++;
			continue;
		}
		int shown = 0;
		for (int k = 0; k < i; k++)
			shown |= c->view[k].person_id == v->person_id;
		if (!shown)
			json_array_append_new(people, json_pack("{s:I,s:s,s:b,s:I,s:s}", "id", (json_int_t)v->person_id,
			                                        "name", v->name, "watchlist", v->watchlist, "event_id",
			                                        (json_int_t)v->event_id, "since", v->since));
	}
	char topic[TOPIC_MAX];
	camera_topic(n, c, "people", topic, sizeof(topic));
	publish_json(n, topic,
	             json_pack("{s:I,s:s,s:i,s:i,s:b,s:o}", "camera_id", (json_int_t)c->id, "camera", c->name, "count",
	                       c->n_view, "unknown", unknown, "watchlist", watchlist, "people", people),
	             1);
	c->people_sent = 1;
}

/* Follows an event into the camera's open visits; 1 when who is in view changed. */
static int follow_visit(cam_state *c, int64_t event_id, int ended, int64_t person_id, const char *name, int watchlist,
                        const char *since)
{
	int at = -1;
	for (int i = 0; i < c->n_view; i++)
		if (c->view[i].event_id == event_id)
			at = i;
	if (ended) {
		if (at < 0)
			return 0;
		c->view[at] = c->view[--c->n_view];
		return 1;
	}
	if (at >= 0) {
		viewer *v = &c->view[at];
		if (v->person_id == person_id && v->watchlist == watchlist && strcmp(v->name, name) == 0)
			return 0;
		v->person_id = person_id;
		v->watchlist = watchlist;
		snprintf(v->name, sizeof(v->name), "%s", name);
		return 1;
	}
	if (c->n_view == VIEW_MAX)
		return 0;
	if (c->n_view == c->cap_view) {
		int cap = c->cap_view ? 2 * c->cap_view : 8;
		viewer *grown = realloc(c->view, (size_t)cap * sizeof(*grown));
		if (!grown)
			return 0;
		c->view = grown;
		c->cap_view = cap;
	}
	viewer *v = &c->view[c->n_view++];
	*v = (viewer){ .event_id = event_id, .person_id = person_id, .watchlist = watchlist };
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->since, sizeof(v->since), "%s", since);
	return 1;
}

/* --- Home Assistant discovery ------------------------------------------------------------------------------------ */

static const struct {
	const char *component, *what;
} ENTITIES[] = {
	{ "sensor", "last_person" },
	{ "sensor", "people" },
	{ "sensor", "status" },
	{ "binary_sensor", "watchlist" },
};

static void discovery_topic(notify *n, const char *disc, const cam_state *c, int k, char *topic, size_t cap)
{
	snprintf(topic, cap, "%s/%s/%s/camera_%lld_%s/config", disc, ENTITIES[k].component, n->node_word,
	         (long long)c->id, ENTITIES[k].what);
}

static json_t *discovery_config(notify *n, const cam_state *c, int k)
{
	char state[NOTIFY_PREFIX_MAX + WORD_MAX + 32], unique[WORD_MAX + 64], device_id[WORD_MAX + 32],
	        available[NOTIFY_PREFIX_MAX + 16];
	const char *what = ENTITIES[k].what;
	camera_topic(n, c, strcmp(what, "watchlist") == 0 ? "people" : what, state, sizeof(state));
	snprintf(unique, sizeof(unique), "%s_camera_%lld_%s", n->node_word, (long long)c->id, what);
	snprintf(device_id, sizeof(device_id), "%s_camera_%lld", n->node_word, (long long)c->id);
	snprintf(available, sizeof(available), "%s/available", n->prefix);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:{s:[s],s:s,s:s,s:s}}", "unique_id", unique, "object_id", unique,
	                      "state_topic", state, "availability_topic", available, "has_entity_name", 1, "device",
	                      "identifiers", device_id, "name", c->name, "manufacturer", "mien", "model", "camera");
	if (!o)
		return NULL;
	if (strcmp(what, "last_person") == 0) {
		json_object_set_new(o, "name", json_string("Last person seen"));
		json_object_set_new(o, "value_template", json_string("{{ value_json.name }}"));
		json_object_set_new(o, "json_attributes_topic", json_string(state));
		json_object_set_new(o, "icon", json_string("mdi:account-eye"));
	} else if (strcmp(what, "people") == 0) {
		json_object_set_new(o, "name", json_string("People in view"));
		json_object_set_new(o, "value_template", json_string("{{ value_json.count }}"));
		json_object_set_new(o, "json_attributes_topic", json_string(state));
		json_object_set_new(o, "state_class", json_string("measurement"));
		json_object_set_new(o, "icon", json_string("mdi:account-group"));
	} else if (strcmp(what, "status") == 0) {
		json_object_set_new(o, "name", json_string("Camera status"));
		json_object_set_new(o, "value_template", json_string("{{ value_json.status }}"));
		json_object_set_new(o, "entity_category", json_string("diagnostic"));
		json_object_set_new(o, "icon", json_string("mdi:cctv"));
	} else {
		json_object_set_new(o, "name", json_string("Watchlist person in view"));
		json_object_set_new(o, "value_template", json_string("{{ 'ON' if value_json.watchlist else 'OFF' }}"));
		json_object_set_new(o, "payload_on", json_string("ON"));
		json_object_set_new(o, "payload_off", json_string("OFF"));
		json_object_set_new(o, "icon", json_string("mdi:account-alert"));
	}
	return o;
}

static void discovery_publish(notify *n, const char *disc, const cam_state *c)
{
	char topic[TOPIC_MAX];
	for (int k = 0; k < (int)MIEN_ARRAY_LEN(ENTITIES); k++) {
		discovery_topic(n, disc, c, k, topic, sizeof(topic));
		publish_json(n, topic, discovery_config(n, c, k), 1);
	}
}

static void discovery_remove(notify *n, const char *disc, const cam_state *c)
{
	char topic[TOPIC_MAX];
	for (int k = 0; k < (int)MIEN_ARRAY_LEN(ENTITIES); k++) {
		discovery_topic(n, disc, c, k, topic, sizeof(topic));
		publish(n, topic, "", 1); /* an empty retained message removes the entity */
	}
}

/* Clears the retained state topics of a camera (under its current topic word). */
static void state_clear(notify *n, const cam_state *c)
{
	static const char *const WHAT[] = { "status", "people", "last_person" };
	char topic[TOPIC_MAX];
	for (size_t k = 0; k < MIEN_ARRAY_LEN(WHAT); k++) {
		camera_topic(n, c, WHAT[k], topic, sizeof(topic));
		publish(n, topic, "", 1);
	}
}

/* Publishes the retained state this node holds for a camera. */
static void state_publish(notify *n, cam_state *c)
{
	char topic[TOPIC_MAX];
	if (c->status) {
		camera_topic(n, c, "status", topic, sizeof(topic));
		publish(n, topic, c->status, 1);
	}
	if (c->last_person) {
		camera_topic(n, c, "last_person", topic, sizeof(topic));
		publish(n, topic, c->last_person, 1);
	}
	if (c->status || c->people_sent)
		publish_people(n, c);
}

static int holds_state(const cam_state *c)
{
	return c->status || c->last_person || c->people_sent;
}

/* --- the camera table ------------------------------------------------------------------------------------------ */

static void cam_clear(cam_state *c)
{
	free(c->status);
	free(c->last_person);
	free(c->view);
	memset(c, 0, sizeof(*c));
}

static cam_state *cam_find(notify *n, int64_t id)
{
	for (size_t i = 0; i < n->n_cams; i++)
		if (n->cams[i].id == id)
			return &n->cams[i];
	return NULL;
}

/* The topic words of every camera: its name's, or with "_<id>" when a camera of a lower id has the same. */
static void assign_words(notify *n, char (*words)[WORD_MAX])
{
	for (size_t i = 0; i < n->n_cams; i++) {
		notify_topic_word(n->cams[i].name, n->cams[i].id, words[i], WORD_MAX);
		for (size_t k = 0; k < i; k++) {
			if (strcmp(words[k], words[i]) == 0) {
				char base[41];
				snprintf(base, sizeof(base), "%s", words[i]);
				snprintf(words[i], WORD_MAX, "%s_%lld", base, (long long)n->cams[i].id);
				break;
			}
		}
	}
}

/*
 * Re-reads the cameras. Every node that knew a camera now gone clears its retained state and discovery configs
 * (empty retained messages: the same from several nodes is harmless); a camera new to this node gets its discovery
 * configs, and one renamed moves its state to its new topics and gets its configs again. MIEN_OK, or the store's
 * error (the table is then unchanged).
 */
static int cams_reload(notify *n)
{
	store_camera *page = malloc(CAMERA_PAGE * sizeof(*page));
	if (!page)
		return MIEN_ENOMEM;
	int64_t after = 0;
	size_t count = 0;
	mien_error err = { 0 };
	int rc;
	/* The cameras as the store has them now. */
	char(*names)[STORE_NAME_MAX] = NULL;
	int64_t *ids = NULL;
	size_t n_loaded = 0, cap_loaded = 0;
	do {
		rc = store_camera_list(n->db, after, page, CAMERA_PAGE, &count, &err);
		for (size_t i = 0; rc == MIEN_OK && i < count; i++) {
			if (n_loaded == cap_loaded) {
				size_t cap = cap_loaded ? 2 * cap_loaded : 64;
				void *a = realloc(names, cap * sizeof(*names));
				if (a)
					names = a;
				void *b = a ? realloc(ids, cap * sizeof(*ids)) : NULL;
				if (!a || !b) {
					rc = MIEN_ENOMEM;
					break;
				}
				ids = b;
				cap_loaded = cap;
			}
			ids[n_loaded] = page[i].id;
			snprintf(names[n_loaded], STORE_NAME_MAX, "%s", page[i].name);
			n_loaded++;
			after = page[i].id;
		}
	} while (rc == MIEN_OK && count == CAMERA_PAGE);
	free(page);
	if (rc != MIEN_OK) {
		if (rc != MIEN_ENOMEM)
			mien_log(MIEN_LOG_WARN, "notify", "cameras: %s", err.message);
		free(names);
		free(ids);
		return rc;
	}
	/* Cameras gone. */
	for (size_t i = 0; i < n->n_cams;) {
		int there = 0;
		for (size_t k = 0; k < n_loaded && !there; k++)
			there = ids[k] == n->cams[i].id;
		if (there) {
			i++;
			continue;
		}
		cam_state *c = &n->cams[i];
		state_clear(n, c);
		if (n->discovery_live[0])
			discovery_remove(n, n->discovery_live, c);
		cam_clear(c);
		n->cams[i] = n->cams[--n->n_cams];
	}
	/* Cameras new, and names. */
	for (size_t k = 0; k < n_loaded; k++) {
		cam_state *c = cam_find(n, ids[k]);
		if (!c) {
			if (n->n_cams == n->cap_cams) {
				size_t cap = n->cap_cams ? 2 * n->cap_cams : 16;
				cam_state *grown = realloc(n->cams, cap * sizeof(*grown));
				if (!grown)
					continue;
				n->cams = grown;
				n->cap_cams = cap;
			}
			c = &n->cams[n->n_cams++];
			memset(c, 0, sizeof(*c));
			c->id = ids[k];
		}
		snprintf(c->name, sizeof(c->name), "%s", names[k]);
	}
	free(names);
	free(ids);
	/* keep the table in id order, so that topic words are assigned the same way on every node */
	for (size_t i = 1; i < n->n_cams; i++)
		for (size_t k = i; k > 0 && n->cams[k - 1].id > n->cams[k].id; k--) {
			cam_state t = n->cams[k];
			n->cams[k] = n->cams[k - 1];
			n->cams[k - 1] = t;
		}
	char(*words)[WORD_MAX] = calloc(n->n_cams ? n->n_cams : 1, WORD_MAX);
	if (!words)
		return MIEN_ENOMEM;
	assign_words(n, words);
	for (size_t i = 0; i < n->n_cams; i++) {
		cam_state *c = &n->cams[i];
		if (strcmp(c->word, words[i]) == 0)
			continue;
		int had = c->word[0] != '\0';
		if (had && holds_state(c))
			state_clear(n, c);
		snprintf(c->word, sizeof(c->word), "%s", words[i]);
		if (had && holds_state(c))
			state_publish(n, c);
		/* new or renamed: its configs name the camera and its state topics */
		if (n->discovery_live[0])
			discovery_publish(n, n->discovery_live, c);
	}
	free(words);
	return MIEN_OK;
}

/* The camera of a message; a camera this node has not heard of yet is looked up in the store. */
static cam_state *cam_of(notify *n, int64_t id)
{
	cam_state *c = cam_find(n, id);
	if (!c && id > 0 && cams_reload(n) == MIEN_OK)
		c = cam_find(n, id);
	return c;
}

/* --- people and settings ------------------------------------------------------------------------------------------ */

/* Whether a person is on the watchlist (re-read after PEOPLE_TTL_MS); 0 for a person gone. */
static int person_watchlist(notify *n, int64_t id)
{
	int64_t now = mien_mono_ms();
	int slot = 0;
	for (int i = 0; i < PEOPLE_CACHE; i++) {
		if (n->people[i].id == id && now - n->people[i].at_ms < PEOPLE_TTL_MS)
			return n->people[i].watchlist;
		if (n->people[i].at_ms < n->people[slot].at_ms)
			slot = i;
	}
	store_person p;
	mien_error err = { 0 };
	int watchlist = store_person_get(n->db, id, &p, &err) == MIEN_OK && p.watchlist;
	n->people[slot] = (person_entry){ id, now, watchlist };
	return watchlist;
}

/* A JSON setting as text; `fallback` when unset or unreadable. */
static json_t *setting_json(notify *n, const char *key, const char *fallback)
{
	char *value = malloc(STORE_SETTING_MAX);
	json_t *v = NULL;
	if (value && store_setting_get(n->db, key, value, STORE_SETTING_MAX, NULL) == MIEN_OK)
		v = json_loads(value, JSON_DECODE_ANY, NULL);
	free(value);
	return v ? v : json_loads(fallback, JSON_DECODE_ANY, NULL);
}

static void settings_reload(notify *n)
{
	mqtt_settings s = { 0 };
	json_t *v = setting_json(n, "mqtt_expression", "false");
	s.expression = json_is_true(v);
	json_decref(v);
	v = setting_json(n, "mqtt_discovery", "true");
	s.discovery = !json_is_false(v);
	json_decref(v);
	v = setting_json(n, "mqtt_discovery_prefix", "\"" DISCOVERY_DEFAULT "\"");
	snprintf(s.discovery_prefix, sizeof(s.discovery_prefix), "%s",
	         json_is_string(v) && notify_prefix_ok(json_string_value(v)) ? json_string_value(v)
	                                                                     : DISCOVERY_DEFAULT);
	json_decref(v);
	v = setting_json(n, "mqtt_rules", "null");
	char why[160];
	if (rule_parse(v, &s.filter, why, sizeof(why)) != 0) {
		mien_log(MIEN_LOG_WARN, "notify", "the stored MQTT filter is unreadable (%s): alerts go out unfiltered",
		         why);
		rule_init(&s.filter);
	}
	json_decref(v);
	n->settings = s;
}

/* Publishes or removes discovery configs so that they are where the settings say (connected only). */
static void discovery_follow(notify *n)
{
	if (!n->mqtt || !notify__mqtt_connected(n->mqtt))
		return;
	const char *want = n->settings.discovery ? n->settings.discovery_prefix : "";
	if (strcmp(want, n->discovery_live) == 0)
		return;
	for (size_t i = 0; n->discovery_live[0] && i < n->n_cams; i++)
		discovery_remove(n, n->discovery_live, &n->cams[i]);
	snprintf(n->discovery_live, sizeof(n->discovery_live), "%s", want);
	for (size_t i = 0; want[0] && i < n->n_cams; i++)
		discovery_publish(n, want, &n->cams[i]);
}

static void hooks_reload(notify *n)
{
	hook_entry *list = calloc(STORE_WEBHOOKS_MAX, sizeof(*list));
	store_webhook *rows = calloc(STORE_WEBHOOKS_MAX, sizeof(*rows));
	size_t count = 0;
	mien_error err = { 0 };
	if (!list || !rows || store_webhook_list(n->db, 0, rows, STORE_WEBHOOKS_MAX, &count, &err) != MIEN_OK) {
		if (list && rows)
			mien_log(MIEN_LOG_WARN, "notify", "webhooks: %s", err.message);
		free(list);
		free(rows);
		return; /* keep the list we had */
	}
	size_t kept = 0;
	for (size_t i = 0; i < count; i++) {
		if (!rows[i].enabled)
			continue;
		hook_entry *h = &list[kept];
		h->w = rows[i];
		h->kinds = notify_kinds_parse(rows[i].kinds);
		json_t *r = rows[i].rules[0] ? json_loads(rows[i].rules, 0, NULL) : NULL;
		char why[160];
		int bad = rows[i].rules[0] && (!r || rule_parse(r, &h->filter, why, sizeof(why)) != 0);
		if (!rows[i].rules[0])
			rule_init(&h->filter);
		json_decref(r);
		if (bad) {
			mien_log(MIEN_LOG_WARN, "notify", "webhook %lld: unreadable filter: not used",
			         (long long)rows[i].id);
			continue;
		}
		kept++;
	}
	free(rows);
	free(n->hook_list);
	n->hook_list = list;
	n->n_hooks = kept;
}

static void reload_all(notify *n)
{
	hooks_reload(n);
	if (n->mqtt) {
		settings_reload(n);
		discovery_follow(n);
	}
	n->loaded_at = mien_mono_ms();
}

/* --- messages ----------------------------------------------------------------------------------------------------- */

static json_t *camera_ref(const cam_state *c)
{
	return json_pack("{s:I,s:s}", "id", (json_int_t)c->id, "name", c->name);
}

/* Hands a message to every webhook that takes `kind` (NOTIFY_KIND_*) and whose filter lets `s` through. `full` and
 * `lite` are the data's JSON with and without expression fields. */
static void to_webhooks(notify *n, unsigned kind, const char *kind_name, const rule_subject *s, const cam_state *c,
                        const char *subject, const char *full, const char *lite)
{
	time_t now = time(NULL);
	char *camera = NULL;
	for (size_t i = 0; i < n->n_hooks; i++) {
		hook_entry *h = &n->hook_list[i];
		if (!(h->kinds & kind) || !rule_match_now(&h->filter, s, now))
			continue;
		if (!camera) {
			json_t *ref = c ? camera_ref(c) : NULL;
			camera = ref ? json_dumps(ref, JSON_COMPACT) : strdup("null");
			json_decref(ref);
			if (!camera)
				return;
		}
		notify__hooks_send(n->hooks, &h->w, kind_name, subject, camera, h->w.expression ? full : lite);
	}
	free(camera);
}

static const char *string_or(const json_t *v, const char *fallback)
{
	return json_is_string(v) ? json_string_value(v) : fallback;
}

static void on_event(notify *n, json_t *e)
{
	int64_t camera_id = json_integer_value(json_object_get(e, "camera_id"));
	int64_t event_id = json_integer_value(json_object_get(e, "id"));
	cam_state *c = cam_of(n, camera_id);
	if (!c || !event_id)
		return;
	const json_t *person = json_object_get(e, "person");
	int64_t person_id = json_integer_value(json_object_get(person, "id"));
	const char *name = string_or(json_object_get(person, "name"), "");
	int watchlist = person_id ? person_watchlist(n, person_id) : 0;
	int ended = !json_is_null(json_object_get(e, "ended_at"));
	char *full = json_dumps(e, JSON_COMPACT);
	json_object_del(e, "expression");
	json_object_del(e, "dominant_expression");
	char *lite = json_dumps(e, JSON_COMPACT);
	if (!full || !lite)
		goto done;
	if (n->mqtt) {
		json_t *m = n->settings.expression ? json_loads(full, 0, NULL) : json_deep_copy(e);
		if (m)
			json_object_set_new(m, "camera", json_string(c->name));
		char topic[TOPIC_MAX];
		snprintf(topic, sizeof(topic), "%s/events", n->prefix);
		publish_json(n, topic, m, 0);
		if (follow_visit(c, event_id, ended, person_id, name, watchlist,
		                 string_or(json_object_get(e, "started_at"), "")) ||
		    !c->people_sent)
			publish_people(n, c);
		if (person_id && (event_id != c->last_event_id || person_id != c->last_person_id)) {
			json_t *last = json_pack("{s:I,s:s,s:I,s:s,s:f,s:I,s:s}", "id", (json_int_t)person_id, "name",
			                         name, "event_id", (json_int_t)event_id, "at",
			                         string_or(json_object_get(e, "started_at"), ""), "similarity",
			                         json_number_value(json_object_get(e, "similarity")), "camera_id",
			                         (json_int_t)c->id, "camera", c->name);
			char *text = last ? json_dumps(last, JSON_COMPACT) : NULL;
			json_decref(last);
			if (text) {
				free(c->last_person);
				c->last_person = text;
				c->last_event_id = event_id;
				c->last_person_id = person_id;
				camera_topic(n, c, "last_person", topic, sizeof(topic));
				publish(n, topic, text, 1);
			}
		}
	}
	rule_subject s = { .camera_id = c->id, .face = 1, .person_id = person_id, .watchlist = watchlist };
	char subject[64];
	snprintf(subject, sizeof(subject), "event %lld", (long long)event_id);
	to_webhooks(n, NOTIFY_KIND_EVENT, "event", &s, c, subject, full, lite);
done:
	free(full);
	free(lite);
}

static void on_alert(notify *n, json_t *a)
{
	int64_t camera_id = json_integer_value(json_object_get(a, "camera_id"));
	cam_state *c = cam_of(n, camera_id);
	if (!c)
		return;
	int64_t person_id = json_integer_value(json_object_get(json_object_get(a, "person"), "id"));
	int watchlist = strcmp(string_or(json_object_get(a, "kind"), ""), "watchlist") == 0 ||
	                (person_id && person_watchlist(n, person_id));
	rule_subject s = { .camera_id = c->id, .face = 1, .person_id = person_id, .watchlist = watchlist };
	char *text = json_dumps(a, JSON_COMPACT);
	if (!text)
		return;
	if (n->mqtt && rule_match_now(&n->settings.filter, &s, time(NULL))) {
		json_t *m = json_deep_copy(a);
		if (m)
			json_object_set_new(m, "camera", json_string(c->name));
		char topic[TOPIC_MAX];
		snprintf(topic, sizeof(topic), "%s/alerts", n->prefix);
		publish_json(n, topic, m, 0);
	}
	char subject[64];
	snprintf(subject, sizeof(subject), "alert %lld", (long long)json_integer_value(json_object_get(a, "id")));
	to_webhooks(n, NOTIFY_KIND_ALERT, "alert", &s, c, subject, text, text);
	free(text);
}

static void on_camera(notify *n, json_t *m, int remote)
{
	if (json_object_get(m, "changed")) {
		cams_reload(n);
		return;
	}
	if (remote)
		return; /* a status is told by the node that runs the camera */
	cam_state *c = cam_of(n, json_integer_value(json_object_get(m, "id")));
	if (!c)
		return;
	char *text = json_dumps(m, JSON_COMPACT);
	if (!text)
		return;
	free(c->status);
	c->status = text;
	if (n->mqtt) {
		char topic[TOPIC_MAX];
		camera_topic(n, c, "status", topic, sizeof(topic));
		publish(n, topic, text, 1);
		if (!c->people_sent)
			publish_people(n,
			               c); /* a camera starting here: nobody in view yet (clears what a crash left) */
	}
	rule_subject s = { .camera_id = c->id, .face = 0 };
	char subject[64];
	snprintf(subject, sizeof(subject), "camera %lld", (long long)c->id);
	to_webhooks(n, NOTIFY_KIND_CAMERA, "camera", &s, c, subject, text, text);
}

static void handle(notify *n, const qmsg *q)
{
	if (!n->mqtt && n->n_hooks == 0 && q->kind != BUS_CAMERA)
		return; /* nobody to tell */
	json_t *m = json_loads(q->json, 0, NULL);
	if (!json_is_object(m)) {
		json_decref(m);
		return;
	}
	if (q->kind == BUS_EVENT)
		on_event(n, m);
	else if (q->kind == BUS_ALERT)
		on_alert(n, m);
	else if (q->kind == BUS_CAMERA)
		on_camera(n, m, q->remote);
	json_decref(m);
}

/* After a connection was accepted: the retained state again. */
static void resync(notify *n)
{
	if (!n->mqtt || !notify__mqtt_connected(n->mqtt))
		return;
	cams_reload(n);
	settings_reload(n);
	n->discovery_live[0] = '\0';
	discovery_follow(n);
	for (size_t i = 0; i < n->n_cams; i++)
		state_publish(n, &n->cams[i]);
}

/* --- the queue and the thread ----------------------------------------------------------------------------------- */

static void on_bus(void *ctx, const bus_message *m)
{
	notify *n = ctx;
	if (m->kind != BUS_EVENT && m->kind != BUS_ALERT && m->kind != BUS_CAMERA)
		return;
	/* Events, alerts and status are told by the node that made them; camera changes are heard from anywhere. */
	if (m->remote && (m->kind != BUS_CAMERA || !strstr(m->json, "\"changed\"")))
		return;
	char *copy = malloc(m->len + 1);
	if (copy)
		memcpy(copy, m->json, m->len + 1);
	pthread_mutex_lock(&n->lock);
	if (!copy || n->stop || n->n == NOTIFY_QUEUE_MAX || n->bytes + m->len > NOTIFY_QUEUE_BYTES) {
		pthread_mutex_unlock(&n->lock);
		free(copy);
		if (atomic_fetch_add(&n->queue_dropped, 1) % 1000 == 0)
			mien_log(MIEN_LOG_WARN, "notify", "the notification queue is full: messages are dropped");
		return;
	}
	n->ring[(n->head + n->n++) % NOTIFY_QUEUE_MAX] = (qmsg){ m->kind, m->remote, copy, m->len };
	n->bytes += m->len;
	pthread_cond_signal(&n->ready);
	pthread_mutex_unlock(&n->lock);
}

static void on_connected(void *ctx)
{
	notify *n = ctx;
	pthread_mutex_lock(&n->lock);
	n->resync = 1;
	pthread_cond_signal(&n->ready);
	pthread_mutex_unlock(&n->lock);
}

static void *dispatcher_main(void *arg)
{
	notify *n = arg;
	reload_all(n);
	cams_reload(n);
	pthread_mutex_lock(&n->lock);
	for (;;) {
		if (n->n == 0 && !n->stop && !n->resync && !n->reload) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += WAIT_MS / 1000;
			pthread_cond_timedwait(&n->ready, &n->lock, &ts);
		}
		if (n->stop && (n->n == 0 || mien_mono_ms() > n->stop_by))
			break;
		qmsg q = { 0 };
		if (n->n) {
			q = n->ring[n->head];
			n->head = (n->head + 1) % NOTIFY_QUEUE_MAX;
			n->n--;
			n->bytes -= q.len;
		}
		int do_resync = n->resync, do_reload = n->reload;
		n->resync = n->reload = 0;
		pthread_mutex_unlock(&n->lock);
		if (do_reload || mien_mono_ms() - n->loaded_at >= NOTIFY_RELOAD_MS)
			reload_all(n);
		if (do_resync)
			resync(n);
		if (q.json) {
			handle(n, &q);
			free(q.json);
		}
		pthread_mutex_lock(&n->lock);
	}
	while (n->n) { /* what the drain deadline left */
		free(n->ring[n->head].json);
		n->head = (n->head + 1) % NOTIFY_QUEUE_MAX;
		n->n--;
		atomic_fetch_add(&n->queue_dropped, 1);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notify_start(store *db, bus *b, const notify_options *o, notify **out, mien_error *err)
{
	*out = NULL;
	notify *n = calloc(1, sizeof(*n));
	if (!n)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	n->db = db;
	n->bus = b;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->ready, NULL);
	snprintf(n->prefix, sizeof(n->prefix), "%s", o->mqtt_prefix && *o->mqtt_prefix ? o->mqtt_prefix : "mien");
	notify_topic_word(n->prefix, 0, n->node_word, sizeof(n->node_word));
	snprintf(n->client_id, sizeof(n->client_id), "mien-%s", o->node && *o->node ? o->node : bus_node(b));
	notify_hooks_options ho = {
		.timeout_ms = o->webhook_timeout_ms ? o->webhook_timeout_ms
		                                    : mien_env_number("MIEN_WEBHOOK_TIMEOUT_MS", 100, 120000, 10000),
		.retry_ms = o->webhook_retry_ms ? o->webhook_retry_ms
		                                : mien_env_number("MIEN_WEBHOOK_RETRY_MS", 10, 600000, 5000),
		.attempts = o->webhook_attempts ? o->webhook_attempts
		                                : (int)mien_env_number("MIEN_WEBHOOK_ATTEMPTS", 1, 20, 6),
	};
	int rc = notify__hooks_start(db, &ho, &n->hooks, err);
	if (rc == MIEN_OK && o->mqtt_url && *o->mqtt_url) {
		mien_redact_url(o->mqtt_url, n->broker, sizeof(n->broker));
		rc = notify__mqtt_start(o->mqtt_url, o->mqtt_ca, n->prefix, n->client_id, on_connected, n, &n->mqtt,
		                        err);
	}
	if (rc == MIEN_OK && pthread_create(&n->thread, NULL, dispatcher_main, n) != 0)
		rc = mien_error_set(err, MIEN_EBACKEND, "notify: cannot start a thread");
	if (rc == MIEN_OK) {
		n->started = 1;
		rc = bus_subscribe(b, on_bus, n, &n->sub_id, err);
	}
	if (rc != MIEN_OK) {
		notify_stop(&n);
		return rc;
	}
	*out = n;
	return MIEN_OK;
}

void notify_stop(notify **np)
{
	if (!np || !*np)
		return;
	notify *n = *np;
	if (n->sub_id)
		bus_unsubscribe(n->bus, n->sub_id);
	if (n->started) {
		pthread_mutex_lock(&n->lock);
		n->stop = 1;
		n->stop_by = mien_mono_ms() + DRAIN_MS;
		pthread_cond_signal(&n->ready);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
	}
	notify__hooks_stop(&n->hooks);
	notify__mqtt_stop(&n->mqtt);
	for (size_t i = 0; i < n->n_cams; i++)
		cam_clear(&n->cams[i]);
	free(n->cams);
	free(n->hook_list);
	pthread_cond_destroy(&n->ready);
	pthread_mutex_destroy(&n->lock);
	free(n);
	*np = NULL;
}

void notify_reload(notify *n)
{
	pthread_mutex_lock(&n->lock);
	n->reload = 1;
	pthread_cond_signal(&n->ready);
	pthread_mutex_unlock(&n->lock);
}

void notify_get_stats(notify *n, notify_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->queue_dropped = atomic_load(&n->queue_dropped);
	if (n->mqtt) {
		out->mqtt_configured = 1;
		out->mqtt_connected = notify__mqtt_connected(n->mqtt);
		notify__mqtt_stats(n->mqtt, &out->mqtt_published, &out->mqtt_dropped, &out->mqtt_reconnects);
	}
	notify__hooks_stats(n->hooks, &out->webhook_delivered, &out->webhook_failed, &out->webhook_retries,
	                    &out->webhook_dropped, &out->webhook_queued);
}

void notify_mqtt_describe(notify *n, char *broker, size_t broker_cap, char *prefix, size_t prefix_cap, char *client_id,
                          size_t client_id_cap)
{
	snprintf(broker, broker_cap, "%s", n->mqtt ? n->broker : "");
	snprintf(prefix, prefix_cap, "%s", n->mqtt ? n->prefix : "");
	snprintf(client_id, client_id_cap, "%s", n->mqtt ? n->client_id : "");
}

int notify_webhook_test(notify *n, int64_t id, notify_attempt *out, mien_error *err)
{
	store_webhook *w = malloc(sizeof(*w));
	if (!w)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	int rc = store_webhook_get(n->db, id, w, err);
	if (rc == MIEN_OK)
		rc = notify__hooks_test(n->hooks, w, out, err);
	free(w);
	return rc;
}
