/*
 * bus.c — subscribers and delivery, the wire frame between nodes, and the in-process cache.
 *
 * A frame on Redis is one line of header, "<kind> <camera_id> <node>\n", followed by the JSON text.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus_int.h"
#include "core/clock.h"
#include "core/log.h"

#define CACHE_BUCKETS 1024
#define CACHE_MAX     65536

typedef struct subscriber {
	bus_fn fn;
	void *ctx;
	int id;
} subscriber;

typedef struct cache_entry {
	struct cache_entry *next;
	int64_t expires; /* mien_mono_ms */
	char key[BUS_CACHE_KEY_MAX];
	char *value;
} cache_entry;

struct bus {
	char node[BUS_NODE_MAX];
	bus_redis *redis;
	/* Readers (deliveries) share the lock; subscribe and unsubscribe take it alone, so that once unsubscribe
	 * returns no callback of that subscriber is running. */
	pthread_rwlock_t subs_lock;
	subscriber subs[BUS_SUBSCRIBERS_MAX];
	int n_subs, next_id;
	_Atomic uint64_t published, delivered, received_remote, dropped_remote;
	pthread_mutex_t cache_lock;
	cache_entry *cache[CACHE_BUCKETS];
	size_t cache_count;
};

static const char *const kind_names[] = { NULL, "face", "event", "alert", "camera", "gallery", "token" };

const char *bus_kind_name(int kind)
{
	return kind >= 1 && kind <= BUS_KIND_MAX ? kind_names[kind] : NULL;
}

int bus_open(const char *redis_url, const char *node, bus **out, mien_error *err)
{
	*out = NULL;
	bus *b = calloc(1, sizeof(*b));
	if (!b)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	if (node && *node) {
		if (strlen(node) >= sizeof(b->node) || strpbrk(node, " \n\r")) {
			free(b);
			return mien_error_set(err, MIEN_EINVAL, "bus: node id must be under %d bytes without spaces",
			                      BUS_NODE_MAX);
		}
		snprintf(b->node, sizeof(b->node), "%s", node);
	} else {
		char host[40] = "mien";
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		for (char *p = host; *p; p++)
			if (*p == ' ')
				*p = '_';
		snprintf(b->node, sizeof(b->node), "%s-%d", host, (int)getpid());
	}
	pthread_rwlock_init(&b->subs_lock, NULL);
	pthread_mutex_init(&b->cache_lock, NULL);
	b->next_id = 1;
	if (redis_url && *redis_url) {
		int rc = bus__redis_open(b, redis_url, &b->redis, err);
		if (rc) {
			bus_close(&b);
			return rc;
		}
	}
	*out = b;
	return MIEN_OK;
}

void bus_close(bus **bp)
{
	if (!bp || !*bp)
		return;
	bus *b = *bp;
	bus__redis_close(&b->redis); /* stops the reader thread first: no delivery after this */
	for (int i = 0; i < CACHE_BUCKETS; i++) {
		for (cache_entry *e = b->cache[i], *next; e; e = next) {
			next = e->next;
			free(e->value);
			free(e);
		}
	}
	pthread_rwlock_destroy(&b->subs_lock);
	pthread_mutex_destroy(&b->cache_lock);
	free(b);
	*bp = NULL;
}

const char *bus_backend(const bus *b)
{
	return b->redis ? "redis" : "local";
}

const char *bus_node(const bus *b)
{
	return b->node;
}

int bus_ready(const bus *b)
{
	return b->redis ? bus__redis_ready(b->redis) : 1;
}

int bus_subscribe(bus *b, bus_fn fn, void *ctx, int *id, mien_error *err)
{
	if (!fn)
		return mien_error_set(err, MIEN_EINVAL, "bus: no callback");
	pthread_rwlock_wrlock(&b->subs_lock);
	if (b->n_subs == BUS_SUBSCRIBERS_MAX) {
		pthread_rwlock_unlock(&b->subs_lock);
		return mien_error_set(err, MIEN_ERANGE, "bus: %d subscribers already", BUS_SUBSCRIBERS_MAX);
	}
	b->subs[b->n_subs] = (subscriber){ fn, ctx, b->next_id++ };
	*id = b->subs[b->n_subs].id;
	b->n_subs++;
	pthread_rwlock_unlock(&b->subs_lock);
	return MIEN_OK;
}

void bus_unsubscribe(bus *b, int id)
{
	pthread_rwlock_wrlock(&b->subs_lock);
	for (int i = 0; i < b->n_subs; i++) {
		if (b->subs[i].id == id) {
			b->subs[i] = b->subs[--b->n_subs];
			break;
		}
	}
	pthread_rwlock_unlock(&b->subs_lock);
}

static void deliver(bus *b, const bus_message *m)
{
	pthread_rwlock_rdlock(&b->subs_lock);
	for (int i = 0; i < b->n_subs; i++) {
		b->subs[i].fn(b->subs[i].ctx, m);
		atomic_fetch_add(&b->delivered, 1);
	}
	pthread_rwlock_unlock(&b->subs_lock);
}

int bus_publish(bus *b, int kind, int64_t camera_id, const char *json, mien_error *err)
{
	if (!bus_kind_name(kind))
		return mien_error_set(err, MIEN_EINVAL, "bus: unknown message kind %d", kind);
	if (!json)
		return mien_error_set(err, MIEN_EINVAL, "bus: no message text");
	size_t len = strnlen(json, BUS_MESSAGE_MAX + 1);
	if (len > BUS_MESSAGE_MAX)
		return mien_error_set(err, MIEN_ETOOBIG, "bus: message over %u bytes", BUS_MESSAGE_MAX);
	atomic_fetch_add(&b->published, 1);
	bus_message m = { kind, camera_id, json, len, b->node, 0 };
	deliver(b, &m);
	if (!b->redis)
		return MIEN_OK;
	char header[BUS_NODE_MAX + 48];
	int h = snprintf(header, sizeof(header), "%d %lld %s\n", kind, (long long)camera_id, b->node);
	char *frame = malloc((size_t)h + len + 1);
	if (!frame)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	memcpy(frame, header, (size_t)h);
	memcpy(frame + h, json, len + 1);
	int rc = bus__redis_publish(b->redis, frame, (size_t)h + len, err);
	free(frame);
	return rc;
}

void bus__deliver_frame(bus *b, const char *frame, size_t len)
{
	const char *nl = memchr(frame, '\n', len);
	int kind = 0, used = 0;
	long long camera = 0;
	char node[BUS_NODE_MAX];
	if (!nl || nl - frame > BUS_NODE_MAX + 40 ||
	    sscanf(frame, "%d %lld %63s%n", &kind, &camera, node, &used) != 3 || frame + used != nl ||
	    !bus_kind_name(kind)) {
		atomic_fetch_add(&b->dropped_remote, 1);
		MIEN_LOG_WARN_("bus", "dropped a malformed message from Redis");
		return;
	}
	if (strcmp(node, b->node) == 0)
		return; /* our own, already delivered at publish time */
	atomic_fetch_add(&b->received_remote, 1);
	/* The frame lives in the Redis reply, which ends in a NUL: the JSON after the header is a C string. */
	bus_message m = { kind, camera, nl + 1, len - (size_t)(nl + 1 - frame), node, 1 };
	deliver(b, &m);
}

void bus_get_stats(bus *b, bus_stats *out)
{
	out->published = atomic_load(&b->published);
	out->delivered = atomic_load(&b->delivered);
	out->received_remote = atomic_load(&b->received_remote);
	out->dropped_remote = atomic_load(&b->dropped_remote);
	out->reconnects = b->redis ? bus__redis_reconnects(b->redis) : 0;
}

/* --- the cache -------------------------------------------------------------------------------------------- */

static unsigned hash_key(const char *key)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % CACHE_BUCKETS;
}

static int check_key(const char *key, mien_error *err)
{
	if (!key || !*key || strlen(key) >= BUS_CACHE_KEY_MAX)
		return mien_error_set(err, MIEN_EINVAL, "bus cache: key must be 1..%d bytes", BUS_CACHE_KEY_MAX - 1);
	return MIEN_OK;
}

/* Unlinks and frees the entry for `key` in its bucket, if any (cache lock held). */
static void cache_remove(bus *b, const char *key)
{
	for (cache_entry **p = &b->cache[hash_key(key)]; *p; p = &(*p)->next) {
		if (strcmp((*p)->key, key) == 0) {
			cache_entry *e = *p;
			*p = e->next;
			free(e->value);
			free(e);
			b->cache_count--;
			return;
		}
	}
}

/* Drops expired entries everywhere (cache lock held); the cache is small and this runs only when full. */
static void cache_sweep(bus *b, int64_t now)
{
	for (int i = 0; i < CACHE_BUCKETS; i++) {
		for (cache_entry **p = &b->cache[i]; *p;) {
			if ((*p)->expires <= now) {
				cache_entry *e = *p;
				*p = e->next;
				free(e->value);
				free(e);
				b->cache_count--;
			} else {
				p = &(*p)->next;
			}
		}
	}
}

int bus_cache_set(bus *b, const char *key, const char *value, int64_t ttl_ms, mien_error *err)
{
	int rc = check_key(key, err);
	if (rc)
		return rc;
	if (!value || strlen(value) >= BUS_CACHE_VALUE_MAX || ttl_ms <= 0)
		return mien_error_set(err, MIEN_EINVAL, "bus cache: value must be under %d bytes with a positive TTL",
		                      BUS_CACHE_VALUE_MAX);
	if (b->redis)
		return bus__redis_set(b->redis, key, value, ttl_ms, err);
	cache_entry *e = calloc(1, sizeof(*e));
	char *copy = strdup(value);
	if (!e || !copy) {
		free(e);
		free(copy);
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	}
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->value = copy;
	int64_t now = mien_mono_ms();
	e->expires = now + ttl_ms;
	pthread_mutex_lock(&b->cache_lock);
	cache_remove(b, key);
	if (b->cache_count >= CACHE_MAX)
		cache_sweep(b, now);
	if (b->cache_count >= CACHE_MAX) {
		pthread_mutex_unlock(&b->cache_lock);
		free(e->value);
		free(e);
		return mien_error_set(err, MIEN_ETOOBIG, "bus cache: %d live entries", CACHE_MAX);
	}
	unsigned h = hash_key(key);
	e->next = b->cache[h];
	b->cache[h] = e;
	b->cache_count++;
	pthread_mutex_unlock(&b->cache_lock);
	return MIEN_OK;
}

int bus_cache_get(bus *b, const char *key, char *value, size_t cap, mien_error *err)
{
	int rc = check_key(key, err);
	if (rc)
		return rc;
	if (b->redis)
		return bus__redis_get(b->redis, key, value, cap, err);
	int64_t now = mien_mono_ms();
	pthread_mutex_lock(&b->cache_lock);
	rc = MIEN_ENOENT;
	for (cache_entry *e = b->cache[hash_key(key)]; e; e = e->next) {
		if (strcmp(e->key, key) != 0)
			continue;
		if (e->expires <= now)
			break;
		size_t n = strlen(e->value);
		rc = n < cap ? MIEN_OK : MIEN_ERANGE;
		if (rc == MIEN_OK)
			memcpy(value, e->value, n + 1);
		break;
	}
	pthread_mutex_unlock(&b->cache_lock);
	if (rc == MIEN_ENOENT)
		return mien_error_set(err, rc, "bus cache: %s not cached", key);
	if (rc == MIEN_ERANGE)
		return mien_error_set(err, rc, "bus cache: value of %s longer than %zu bytes", key, cap);
	return rc;
}

int bus_cache_del(bus *b, const char *key, mien_error *err)
{
	int rc = check_key(key, err);
	if (rc)
		return rc;
	if (b->redis)
		return bus__redis_del(b->redis, key, err);
	pthread_mutex_lock(&b->cache_lock);
	cache_remove(b, key);
	pthread_mutex_unlock(&b->cache_lock);
	return MIEN_OK;
}
