/*
 * bus.h — how news travels inside mien and between mien nodes: live faces, events, alerts, camera status and
 * gallery changes.
 *
 * A publisher hands the bus one message (a kind, the camera it concerns, and a JSON text); every subscriber of
 * this process gets it, and with Redis (MIEN_REDIS=redis://host:port[/db]) so does every subscriber of every other
 * node on the same Redis. Without Redis the bus is in-process only (bus_local.c); with it, messages go out on one
 * Redis pub/sub channel and come back to the other nodes (bus_redis.c). A node never receives its own messages
 * twice: local subscribers get a message at publish time, and copies coming back from Redis with this node's id
 * are dropped.
 *
 * Delivery is at-most-once and never blocks the publisher on a slow subscriber: callbacks run on the
 * publisher's thread (local messages) or on the bus's Redis reader thread (remote ones) and must return quickly —
 * copy the message into a bounded queue of your own. Anything that must not be lost (events, alerts) is in the
 * store first; the bus only tells others about it.
 *
 * When Redis goes away, publishing still reaches this node's subscribers and returns MIEN_EUNAVAILABLE for the
 * remote part; the reader thread reconnects with backoff and bus_ready() says whether the link is up.
 *
 * The bus also offers a small key-value cache with expiry, shared between nodes on Redis and in-process
 * otherwise (for the token cache: a logout on one node must be a logout everywhere).
 */
#ifndef MIEN_BUS_BUS_H
#define MIEN_BUS_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

typedef struct bus bus;

/* Message kinds; wire values (the SSE event names are bus_kind_name's). They only grow at the end. */
enum bus_kind {
	BUS_FACE = 1,    /* live boxes of one frame */
	BUS_EVENT = 2,   /* an event started, changed or ended */
	BUS_ALERT = 3,   /* an alert was raised or acknowledged */
	BUS_CAMERA = 4,  /* a camera's status changed */
	BUS_GALLERY = 5, /* an enrollment or an erasure: other nodes update their gallery index */
	BUS_TOKEN = 6,   /* a session ended or a user changed: other nodes drop cached sessions */
};
#define BUS_KIND_MAX 6

/* "face", "event", "alert", "camera", "gallery", "token"; NULL for an unknown kind. */
const char *bus_kind_name(int kind);

#define BUS_MESSAGE_MAX     (256u << 10) /* the largest JSON text a message may carry */
#define BUS_NODE_MAX        64
#define BUS_SUBSCRIBERS_MAX 64

typedef struct bus_message {
	int kind;
	int64_t camera_id; /* 0 when the message concerns no camera */
	const char *json;  /* borrowed for the duration of the callback; NUL-terminated */
	size_t len;
	const char *node; /* the publishing node's id */
	int remote;       /* 1 when it came from another node */
} bus_message;

typedef void (*bus_fn)(void *ctx, const bus_message *message);

/*
 * Opens a bus. `redis_url` NULL or "" gives the in-process bus; otherwise redis://[:password@]host[:port][/db].
 * `node` names this node (NULL: host name and process id). With Redis, the first connection is tried at once but
 * a Redis that is down is not an error: the bus starts unready and connects when it can. Caller frees with
 * bus_close. MIEN_EINVAL for a malformed URL.
 */
int bus_open(const char *redis_url, const char *node, bus **out, mien_error *err);
void bus_close(bus **b);

/* "local" or "redis". */
const char *bus_backend(const bus *b);
const char *bus_node(const bus *b);
/* 1 when messages reach other nodes (always 1 for the in-process bus). */
int bus_ready(const bus *b);

/* Adds a subscriber; *id identifies it for bus_unsubscribe. MIEN_ERANGE past BUS_SUBSCRIBERS_MAX. */
int bus_subscribe(bus *b, bus_fn fn, void *ctx, int *id, mien_error *err);
/* Removes a subscriber; once it returns, the callback is not running and will not be called again. */
void bus_unsubscribe(bus *b, int id);

/*
 * Publishes a message: this node's subscribers are called before it returns; with Redis it is also sent to
 * the other nodes. MIEN_EINVAL for an unknown kind or a json that is not NUL-terminated text; MIEN_ETOOBIG
 * past BUS_MESSAGE_MAX; MIEN_EUNAVAILABLE when Redis could not take it (local delivery still happened).
 */
int bus_publish(bus *b, int kind, int64_t camera_id, const char *json, mien_error *err);

/* Counters for /metrics. */
typedef struct bus_stats {
	uint64_t published, delivered, received_remote, dropped_remote, reconnects;
} bus_stats;
void bus_get_stats(bus *b, bus_stats *out);

/* --- shared cache ----------------------------------------------------------------------------------------- */

#define BUS_CACHE_KEY_MAX   128
#define BUS_CACHE_VALUE_MAX 8192

/* Stores `value` under `key` for `ttl_ms` milliseconds. MIEN_EUNAVAILABLE when Redis is down. */
int bus_cache_set(bus *b, const char *key, const char *value, int64_t ttl_ms, mien_error *err);
/* Copies the value into `value` (cap bytes); MIEN_ENOENT when absent or expired, MIEN_ERANGE when too long. */
int bus_cache_get(bus *b, const char *key, char *value, size_t cap, mien_error *err);
/* Deletes a key (absent is fine). */
int bus_cache_del(bus *b, const char *key, mien_error *err);

#endif
