/*
 * notify_int.h — what the notifier's files share: the dispatcher (notify.c) drives an MQTT client
 * (notify_mqtt.c, over libmosquitto) and the webhook workers (notify_webhook.c, over libcurl).
 */
#ifndef MIEN_BUS_NOTIFY_INT_H
#define MIEN_BUS_NOTIFY_INT_H

#include "bus/notify.h"

/* --- the MQTT client ----------------------------------------------------------------------------------------- */

typedef struct notify_mqtt notify_mqtt;

/* Called on the client's thread each time a connection is accepted by the broker (after "online" went out), so
 * that the dispatcher publishes the retained state again. Must return quickly. */
typedef void (*notify_connected_fn)(void *ctx);

/*
 * Starts the client's thread, which connects to `url` (notify_mqtt_url_parse) with the last will
 * "<prefix>/available" = "offline" (retained), publishes "online" there on every connection, keeps the connection
 * and reconnects with backoff. `ca` (may be NULL) is the CA file for mqtts. Strings are copied. MIEN_EINVAL,
 * MIEN_ENOENT (CA file), MIEN_EBACKEND (libmosquitto).
 */
int notify__mqtt_start(const char *url, const char *ca, const char *prefix, const char *client_id,
                       notify_connected_fn connected, void *ctx, notify_mqtt **out, mien_error *err);
/* Publishes "offline" (retained) when connected, disconnects, stops the thread, frees. NULL is a no-op. */
void notify__mqtt_stop(notify_mqtt **m);
/* Hands one message to the broker (QoS 1); never waits for the network. MIEN_EUNAVAILABLE (counted as dropped)
 * while disconnected or with NOTIFY_MQTT_PENDING messages unacknowledged. Any thread. */
int notify__mqtt_publish(notify_mqtt *m, const char *topic, const char *payload, size_t len, int retain);
int notify__mqtt_connected(notify_mqtt *m);
void notify__mqtt_stats(notify_mqtt *m, uint64_t *published, uint64_t *dropped, uint64_t *reconnects);

/* --- webhook deliveries -------------------------------------------------------------------------------------- */

typedef struct notify_hooks notify_hooks;

typedef struct notify_hooks_options {
	int64_t timeout_ms, retry_ms;
	int attempts;
} notify_hooks_options;

/* Starts NOTIFY_WEBHOOK_WORKERS delivery threads. `db` is borrowed. */
int notify__hooks_start(store *db, const notify_hooks_options *options, notify_hooks **out, mien_error *err);
/* Stops the workers after the attempts in flight; jobs still queued are logged as dropped. NULL is a no-op. */
void notify__hooks_stop(notify_hooks **h);

/*
 * Queues a delivery to `w` (copied): logs it as pending and lets a worker send it. `camera` is the JSON text of the
 * envelope's "camera" (e.g. {"id":1,"name":"door"} or null) and `data` that of its "data"; both are copied.
 * A full queue logs the delivery as dropped and counts it.
 */
void notify__hooks_send(notify_hooks *h, const store_webhook *w, const char *kind, const char *subject,
                        const char *camera, const char *data);
/* One attempt now on the caller's thread, logged (notify_webhook_test). */
int notify__hooks_test(notify_hooks *h, const store_webhook *w, notify_attempt *out, mien_error *err);
void notify__hooks_stats(notify_hooks *h, uint64_t *delivered, uint64_t *failed, uint64_t *retries, uint64_t *dropped,
                         int *queued);

#endif
