/*
 * auth_cache.c — the in-process variant: a fixed open-addressed table under one mutex. Lookups probe a few
 * slots from the hash's first bytes (the key is already a cryptographic hash, so it is evenly spread).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http/auth_cache.h"

#define PROBES 8

typedef struct slot {
	int used;
	uint8_t key[STORE_TOKEN_HASH_BYTES];
	int64_t cached_at;
	auth_entry entry;
} slot;

struct auth_cache {
	pthread_mutex_t lock;
	size_t capacity;
	int64_t ttl_ms;
	slot *slots;
};

int auth_cache_create(size_t capacity, int64_t ttl_ms, auth_cache **out, mien_error *err)
{
	auth_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return mien_error_set(err, MIEN_ENOMEM, "auth cache: out of memory");
	c->capacity = capacity ? capacity : 1024;
	c->ttl_ms = ttl_ms > 0 ? ttl_ms : 30000;
	c->slots = calloc(c->capacity, sizeof(slot));
	if (!c->slots) {
		free(c);
		return mien_error_set(err, MIEN_ENOMEM, "auth cache: out of memory");
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return MIEN_OK;
}

void auth_cache_free(auth_cache **cache)
{
	if (!cache || !*cache)
		return;
	pthread_mutex_destroy(&(*cache)->lock);
	free((*cache)->slots);
	free(*cache);
	*cache = NULL;
}

static size_t home(const auth_cache *c, const uint8_t *key)
{
	uint32_t h;
	memcpy(&h, key, sizeof(h));
	return h % c->capacity;
}

int auth_cache_get(auth_cache *c, const uint8_t key[STORE_TOKEN_HASH_BYTES], int64_t now, auth_entry *out)
{
	int hit = 0;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0, at = home(c, key); i < PROBES; i++, at = (at + 1) % c->capacity) {
		slot *s = &c->slots[at];
		if (!s->used || memcmp(s->key, key, STORE_TOKEN_HASH_BYTES) != 0)
			continue;
		if (now - s->cached_at >= c->ttl_ms || now >= s->entry.expires_at) {
			s->used = 0;
			break;
		}
		*out = s->entry;
		hit = 1;
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void auth_cache_put(auth_cache *c, const uint8_t key[STORE_TOKEN_HASH_BYTES], const auth_entry *entry, int64_t now)
{
	pthread_mutex_lock(&c->lock);
	size_t at = home(c, key), pick = at;
	int64_t oldest = INT64_MAX;
	for (size_t i = 0; i < PROBES; i++, at = (at + 1) % c->capacity) {
		slot *s = &c->slots[at];
		if (!s->used || memcmp(s->key, key, STORE_TOKEN_HASH_BYTES) == 0) {
			pick = at;
			break;
		}
		if (s->cached_at < oldest) {
			oldest = s->cached_at;
			pick = at;
		}
	}
	slot *s = &c->slots[pick];
	s->used = 1;
	memcpy(s->key, key, STORE_TOKEN_HASH_BYTES);
	s->cached_at = now;
	s->entry = *entry;
	pthread_mutex_unlock(&c->lock);
}

void auth_cache_forget_token(auth_cache *c, const uint8_t key[STORE_TOKEN_HASH_BYTES])
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0, at = home(c, key); i < PROBES; i++, at = (at + 1) % c->capacity)
		if (c->slots[at].used && memcmp(c->slots[at].key, key, STORE_TOKEN_HASH_BYTES) == 0)
			c->slots[at].used = 0;
	pthread_mutex_unlock(&c->lock);
}

void auth_cache_forget_user(auth_cache *c, int64_t user_id)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->capacity; i++)
		if (c->slots[i].used && c->slots[i].entry.user_id == user_id)
			c->slots[i].used = 0;
	pthread_mutex_unlock(&c->lock);
}
