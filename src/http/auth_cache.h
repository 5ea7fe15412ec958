/*
 * auth_cache.h — a small in-process TTL cache from a session token's hash to its user's role and camera list,
 * so that an authenticated request costs no database round trip.
 *
 * The cache is behind this tiny interface so that a Redis-backed variant (shared by several API nodes) can
 * take its place. Entries expire after `ttl_ms` or at the token's own expiry, whichever comes first;
 * logout, password, role and camera changes and user deletion remove them at once (forget_token,
 * forget_user). Thread-safe.
 */
#ifndef MIEN_HTTP_AUTH_CACHE_H
#define MIEN_HTTP_AUTH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "store/store.h"

/* What a request needs to know about its user. */
typedef struct auth_entry {
	int64_t user_id; /* 0: nobody */
	char username[STORE_USERNAME_MAX];
	int role; /* enum store_role */
	int all_cameras;
	int n_cameras;
	int64_t cameras[STORE_USER_CAMERAS_MAX];
	int64_t expires_at; /* the token's expiry (ms since the epoch) */
} auth_entry;

typedef struct auth_cache auth_cache;

/* A cache of up to `capacity` entries (0 = 1024) living `ttl_ms` each (0 = 30 s). Caller frees. */
int auth_cache_create(size_t capacity, int64_t ttl_ms, auth_cache **out, mien_error *err);
void auth_cache_free(auth_cache **cache);

/* 1 and *out when `token_hash` is cached, fresh at `now` (wall ms) and unexpired; 0 otherwise. */
int auth_cache_get(auth_cache *cache, const uint8_t token_hash[STORE_TOKEN_HASH_BYTES], int64_t now, auth_entry *out);
/* Stores or replaces an entry (copied); may evict another. */
void auth_cache_put(auth_cache *cache, const uint8_t token_hash[STORE_TOKEN_HASH_BYTES], const auth_entry *entry,
                    int64_t now);
void auth_cache_forget_token(auth_cache *cache, const uint8_t token_hash[STORE_TOKEN_HASH_BYTES]);
void auth_cache_forget_user(auth_cache *cache, int64_t user_id);

#endif
