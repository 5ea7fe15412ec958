/*
 * notify.h — telling the rest of the house: MQTT (with Home Assistant discovery) and signed webhooks.
 *
 * A notifier is a subscriber of the bus. It takes the messages of events, alerts and camera status that this node
 * published itself (the node that stored an event or raised an alert is the one that tells the world about it, so
 * that with several nodes on one Redis each message leaves exactly once), and camera changes from any node. The bus
 * callback only copies the message into a bounded queue (NOTIFY_QUEUE_MAX messages, NOTIFY_QUEUE_BYTES bytes); a
 * full queue drops the message and counts it, so analysis never waits for a broker or a receiver. One dispatcher
 * thread then:
 *
 *   MQTT (MIEN_MQTT=mqtt://[user:pass@]host[:port], or mqtts:// with MIEN_MQTT_CA; prefix MIEN_MQTT_PREFIX,
 *   default "mien"; client id "mien-<node>"), all payloads JSON:
 *     <prefix>/available              "online"; "offline" as the last will and on a clean stop (retained)
 *     <prefix>/events                 every event change: the object of GET /api/v1/events plus "camera" (its
 *                                     name); expression fields only with the mqtt_expression setting
 *     <prefix>/alerts                 every alert, new or counted again in its cooldown, that the MQTT filter
 *                                     lets through: the object of GET /api/v1/alerts plus "camera"
 *     <prefix>/<camera>/people        who is in view now (retained): {"camera_id","camera","count","unknown",
 *                                     "watchlist","people":[{"id","name","watchlist","event_id","since"}]}
 *     <prefix>/<camera>/last_person   the last enrolled person seen (retained): {"id","name","event_id","at",
 *                                     "similarity","camera_id","camera"}
 *     <prefix>/<camera>/status        the camera's status (retained): {"id","name","status","error"}
 *   <camera> is the camera's name as a topic word (notify_topic_word). Home Assistant discovery (setting
 *   mqtt_discovery, default on; prefix mqtt_discovery_prefix, default "homeassistant") puts each camera's sensors
 *   under <discovery prefix>/{sensor,binary_sensor}/<node>/camera_<id>_<what>/config (retained): last person seen,
 *   people in view, camera status and a watchlist binary sensor; a deleted camera's configs and state topics are
 *   cleared with empty retained payloads. The client reconnects with backoff (1 s doubling to 30 s); while the
 *   broker is away messages are dropped (counted) and the retained state is published again on reconnection.
 *   At most NOTIFY_MQTT_PENDING messages wait for the broker's acknowledgement; past that, messages are dropped.
 *
 *   Webhooks (store.h's webhooks): each enabled webhook whose kinds ("event", "alert", "camera") and filter
 *   (bus/rules.h) let a message through gets a POST of the JSON envelope
 *     {"type","delivery","timestamp","attempt","camera":{"id","name"}|null,"data":{...}}
 *   with X-Mien-Event (the type), X-Mien-Delivery (the same id on every attempt), X-Mien-Timestamp (unix seconds,
 *   the same as the body's) and, when the webhook has a secret, X-Mien-Signature: sha256=<hex HMAC-SHA256 of the
 *   exact body bytes under the secret>. The body carries the timestamp and the delivery id, so the signature covers
 *   them: a receiver checks the signature, refuses old timestamps and remembers delivery ids. Deliveries run on
 *   NOTIFY_WEBHOOK_WORKERS threads over a queue of NOTIFY_WEBHOOK_QUEUE jobs; an attempt that fails (no answer
 *   within the timeout, a 5xx, 408 or 429) is retried with exponential backoff until the attempts run out; any
 *   other answer is final. Redirects are not followed, and only http and https are ever spoken. Each delivery is
 *   logged (store_delivery_*, NOTIFY_WEBHOOK_LOG rows per webhook, oldest pruned). Retries waiting when the node
 *   stops are dropped (logged as such).
 *
 * The rules of who is told (bus/rules.h) apply to webhooks and to MQTT alerts; MQTT events and the per-camera
 * topics carry everything. Settings and webhooks are re-read every NOTIFY_RELOAD_MS and at once after
 * notify_reload (this node's API calls it after a change).
 *
 * Secrets: the MQTT password, webhook secrets and credentials inside webhook URLs are never logged; URLs are shown
 * through core/redact.h.
 */
#ifndef MIEN_BUS_NOTIFY_H
#define MIEN_BUS_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "core/result.h"
#include "store/store.h"

#define NOTIFY_QUEUE_MAX       1024
#define NOTIFY_QUEUE_BYTES     ((size_t)16 << 20)
#define NOTIFY_MQTT_PENDING    1000
#define NOTIFY_WEBHOOK_WORKERS 2
#define NOTIFY_WEBHOOK_QUEUE   256
#define NOTIFY_WEBHOOK_LOG     100
#define NOTIFY_RELOAD_MS       5000
#define NOTIFY_PREFIX_MAX      64 /* MQTT topic prefixes, in bytes without the terminator */
#define NOTIFY_SECRET_MIN      8
#define NOTIFY_SECRET_MAX      (STORE_WEBHOOK_SECRET_MAX - 1)

typedef struct notify notify;

typedef struct notify_options {
	const char *mqtt_url;       /* MIEN_MQTT; NULL or "" = no MQTT */
	const char *mqtt_ca;        /* MIEN_MQTT_CA: the CA file for mqtts://; NULL or "" = the system's CAs */
	const char *mqtt_prefix;    /* MIEN_MQTT_PREFIX; NULL or "" = "mien" */
	const char *node;           /* this node's id (bus_node); the MQTT client id is "mien-<node>" */
	int64_t webhook_timeout_ms; /* one attempt; 0 = MIEN_WEBHOOK_TIMEOUT_MS or 10000 */
	int webhook_attempts;       /* attempts per delivery; 0 = MIEN_WEBHOOK_ATTEMPTS or 6 */
	int64_t webhook_retry_ms;   /* the wait before the first retry, doubling each time (at most 10 min);
	                               0 = MIEN_WEBHOOK_RETRY_MS or 5000 */
} notify_options;

/*
 * Subscribes to `b` and starts the dispatcher, the webhook workers and (with mqtt_url) the MQTT client. A broker
 * that cannot be reached is not an error: the client keeps trying. `db` and `b` are borrowed and must outlive the
 * notifier. Caller stops it with notify_stop. MIEN_EINVAL for a malformed MQTT URL or prefix (the message shows the
 * URL redacted), MIEN_ENOENT for a missing CA file.
 */
int notify_start(store *db, bus *b, const notify_options *options, notify **out, mien_error *err);

/* Unsubscribes, handles what is queued (for up to 2 s), drops waiting retries, publishes "offline" and
 * disconnects. NULL is a no-op. */
void notify_stop(notify **n);

/* Webhooks or MQTT settings changed: re-read them before the next message. */
void notify_reload(notify *n);

typedef struct notify_stats {
	int mqtt_configured, mqtt_connected;
	uint64_t mqtt_published, mqtt_dropped, mqtt_reconnects;
	uint64_t queue_dropped; /* bus messages the dispatcher's queue could not take */
	uint64_t webhook_delivered, webhook_failed, webhook_retries, webhook_dropped;
	int webhook_queued;
} notify_stats;
void notify_get_stats(notify *n, notify_stats *out);

/* What the MQTT client is configured with, for GET /api/v1/mqtt: the broker URL redacted (password hidden), the
 * topic prefix and the client id; "" when MQTT is off. */
void notify_mqtt_describe(notify *n, char *broker, size_t broker_cap, char *prefix, size_t prefix_cap, char *client_id,
                          size_t client_id_cap);

typedef struct notify_attempt {
	char delivery[40];
	int delivered;   /* 1 when the receiver answered 2xx */
	int http_status; /* 0 when no answer came */
	char error[256]; /* why it failed; "" when delivered */
	int64_t duration_ms;
} notify_attempt;

/*
 * Sends webhook `id` a "test" delivery now, on the caller's thread (one attempt, no retry), logs it and reports the
 * outcome in *out. MIEN_ENOENT when there is no such webhook; a delivery that fails is MIEN_OK with
 * out->delivered 0.
 */
int notify_webhook_test(notify *n, int64_t id, notify_attempt *out, mien_error *err);

/* --- pure helpers, shared with the API's checks (unit-tested) --------------------------------------------- */

/* Webhook destinations: http:// or https:// with a host, at most STORE_URL_MAX - 1 bytes, no spaces or control
 * characters. MIEN_EINVAL with a message that shows the URL redacted. */
int notify_webhook_url_check(const char *url, mien_error *err);

/* What a webhook may be sent; wire names, and bits of a kinds mask. */
enum { NOTIFY_KIND_EVENT = 1 << 0, NOTIFY_KIND_ALERT = 1 << 1, NOTIFY_KIND_CAMERA = 1 << 2 };
/* Reads "event,alert" (the stored form) into a mask; unknown words are ignored. */
unsigned notify_kinds_parse(const char *text);
/* Reads a JSON array of kind names into the stored form ("event,alert", in that order): 0, or -1 with `why` for
 * anything but a non-empty array of known names. */
int notify_kinds_from_json(const json_t *array, char *kinds, size_t cap, char *why, size_t why_size);
/* The kinds of a mask as a new JSON array. */
json_t *notify_kinds_json(unsigned mask);

/* X-Mien-Signature's value without "sha256=": the lowercase hex HMAC-SHA256 of body under secret (any length). */
void notify_sign(const char *secret, const char *body, size_t len, char hex[65]);

/* The wait before retry `retry` (1 = the first retry): first_ms · 2^(retry-1), at most cap_ms. */
int64_t notify_backoff_ms(int retry, int64_t first_ms, int64_t cap_ms);

/* 1 when an attempt that got `http_status` (0: no answer) is worth another: no answer, 408, 429 or 5xx. */
int notify_retryable(int http_status);

/* A broker URL taken apart. */
typedef struct notify_mqtt_url {
	int tls;
	char host[256];
	int port;
	char username[256]; /* percent-decoded; "" = none */
	char password[256]; /* percent-decoded; "" = none */
} notify_mqtt_url;
/* Parses mqtt://[user[:pass]@]host[:port][/] (1883) or mqtts:// (8883); IPv6 hosts in brackets. MIEN_EINVAL with
 * a redacted message for anything else. */
int notify_mqtt_url_parse(const char *url, notify_mqtt_url *out, mien_error *err);

/* 1 when `prefix` may start MQTT topics: 1..NOTIFY_PREFIX_MAX bytes, no '+', '#', NUL or control characters, no
 * leading or trailing '/', no empty level. */
int notify_prefix_ok(const char *prefix);

/* A camera's name as one topic level: ASCII letters and digits lowercased, anything else as '_' (runs of them as
 * one, none at the ends), at most 48 bytes; "camera_<id>" when nothing is left. */
void notify_topic_word(const char *name, int64_t id, char *out, size_t cap);

#endif
