/*
 * auth.c — passwords, sessions and the login routes.
 *
 * Passwords are argon2id hashes (crypto_pwhash_str, interactive limits). A session token is 32 random bytes
 * sent as base64url; the store keeps only its SHA-256, so a leaked database holds no usable session. A token
 * travels as `Authorization: Bearer` or as the HttpOnly, SameSite=Strict cookie set at login; a state-changing
 * request authenticated by the cookie must carry this server's own Origin (CSRF). Failed logins are counted
 * per user and per address in fixed tables (http_limiter, below: an attacker can neither target nor evict a
 * count) and answered 429 with Retry-After past the limit; a name's lock-out grows with each one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/utf8.h"
#include "http/http_int.h"

/* --- passwords ------------------------------------------------------------------------------------------- */

int http_password_hash(const char *password, char hash[STORE_HASH_MAX], mien_error *err)
{
	char out[crypto_pwhash_STRBYTES];
	if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return mien_error_set(err, MIEN_ENOMEM, "password hashing ran out of memory");
	if (strlen(out) >= STORE_HASH_MAX)
		return mien_error_set(err, MIEN_ERANGE, "password hash too long");
	snprintf(hash, STORE_HASH_MAX, "%s", out);
	sodium_memzero(out, sizeof(out));
	return MIEN_OK;
}

int http_password_verify(const char *hash, const char *password)
{
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void http_random_password(char *out, size_t size)
{
	static const char ALPHABET[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
	size_t n = size - 1 < 20 ? size - 1 : 20;
	for (size_t i = 0; i < n; i++)
		out[i] = ALPHABET[randombytes_uniform(sizeof(ALPHABET) - 1)];
	out[n] = '\0';
}

/* --- the login limiter ----------------------------------------------------------------------------------- */

/*
 * Failed logins are counted per user name and per address, each in its own fixed table of `n_slots` entries.
 * An entry lives in one of LIMITER_PROBES slots chosen by a keyed hash (crypto_shorthash, a random key drawn at
 * start), so nobody outside can compute which names share a victim's slots. Three rules keep an attacker from
 * resetting a count by filling the table:
 *   - only a failure takes a slot; checking a name does not;
 *   - an entry that still matters (locked, failures inside the window, or lock-outs not yet forgotten) is never
 *     evicted;
 *   - when all the probed slots of a new name are taken by such entries, the name is refused (429) until one of
 *     them expires, instead of evicting one. Addresses are not refused that way: a fresh address has nothing to
 *     count, and refusing would let an attacker with many addresses shut everyone out.
 * `limit` failures inside a minute lock the key: an address for `lock_ms`, a user name for `lock_ms` doubled for
 * each lock-out before (1, 2, 4, 8 minutes ...) up to `lock_max_ms`; a quiet `lock_max_ms` after the last
 * lock-out forgets them. So that a locked name cannot keep its owner out, a successful sign-in remembers its
 * (name, address) pair, and a later login of that pair skips the per-user limit (the per-address one still
 * applies; the name's lock stays for everyone else).
 */
#define HTTP_LOGIN_NAME_MAX 256 /* bytes of a user name a login may send */
#define LIMITER_PROBES      8
#define LIMITER_WINDOW      60000
#define LIMITER_SLOTS       1024 /* default per table; MIEN_LOGIN_SLOTS */
#define LIMITER_SLOTS_MIN   LIMITER_PROBES
#define LIMITER_SLOTS_MAX   (1 << 20)
#define LIMITER_LOCK_S      60  /* MIEN_LOGIN_LOCK_S */
#define LIMITER_LOCK_MAX_S  900 /* MIEN_LOGIN_LOCK_MAX_S */
#define LIMITER_KNOWN       4096
#define LIMITER_KNOWN_MS    (30LL * 24 * 3600 * 1000)

typedef struct limit_slot {
	char key[96];         /* "" = free */
	int64_t window_start; /* the first failure counted in `failures` */
	int failures;         /* inside the window, since the last lock-out */
	int strikes;          /* lock-outs so far: each doubles the next */
	int64_t locked_until; /* 0 = not locked */
} limit_slot;

typedef struct limit_table {
	limit_slot *slots;
	size_t n_slots;
} limit_table;

/* A (name, address) pair that signed in: its keyed hash and when. */
typedef struct known_pair {
	uint64_t hash;
	int64_t at;
} known_pair;

struct http_limiter {
	pthread_mutex_t lock;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
	int64_t lock_ms, lock_max_ms;
	limit_table users, addresses;
	known_pair known[LIMITER_KNOWN];
};

/* A positive integer setting from the environment, `fallback` when unset or outside [min, max]. */
static long env_setting(const char *name, long fallback, long min, long max)
{
	const char *env = getenv(name);
	char *end = NULL;
	long v = env ? strtol(env, &end, 10) : 0;
	if (!env || end == env || *end || v < min || v > max)
		return fallback;
	return v;
}

int http__limiter_create(http_limiter **out)
{
	http_limiter *l = calloc(1, sizeof(*l));
	if (!l)
		goto fail;
	size_t n = (size_t)env_setting("MIEN_LOGIN_SLOTS", LIMITER_SLOTS, LIMITER_SLOTS_MIN, LIMITER_SLOTS_MAX);
	long lock_s = env_setting("MIEN_LOGIN_LOCK_S", LIMITER_LOCK_S, 1, 24 * 3600);
	long lock_max_s = env_setting("MIEN_LOGIN_LOCK_MAX_S", LIMITER_LOCK_MAX_S, 1, 7 * 24 * 3600);
	l->lock_ms = lock_s * 1000;
	l->lock_max_ms = (lock_max_s > lock_s ? lock_max_s : lock_s) * 1000;
	l->users.n_slots = l->addresses.n_slots = n;
	l->users.slots = calloc(n, sizeof(limit_slot));
	l->addresses.slots = calloc(n, sizeof(limit_slot));
	if (!l->users.slots || !l->addresses.slots)
		goto fail;
	crypto_shorthash_keygen(l->hash_key);
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return MIEN_OK;
fail:
	if (l) {
		free(l->addresses.slots);
		free(l->users.slots);
	}
	free(l);
	return MIEN_ENOMEM;
}

void http__limiter_free(http_limiter **l)
{
	if (!l || !*l)
		return;
	pthread_mutex_destroy(&(*l)->lock);
	free((*l)->users.slots);
	free((*l)->addresses.slots);
	sodium_memzero((*l)->hash_key, sizeof((*l)->hash_key));
	free(*l);
	*l = NULL;
}

static uint64_t keyed_hash(const http_limiter *l, const void *bytes, size_t n)
{
	unsigned char h[crypto_shorthash_BYTES];
	crypto_shorthash(h, bytes, n, l->hash_key);
	uint64_t v;
	memcpy(&v, h, sizeof(v));
	return v;
}

/* Until when the entry still matters (a lock, a count inside its window, lock-outs not yet forgotten); an entry
 * at or past that time may be reused. 0 for a free slot. */
static int64_t slot_live_until(const http_limiter *l, const limit_slot *s)
{
	if (!s->key[0])
		return 0;
	int64_t until = s->locked_until;
	if (s->failures > 0 && s->window_start + LIMITER_WINDOW > until)
		until = s->window_start + LIMITER_WINDOW;
	if (s->strikes > 0 && s->locked_until + l->lock_max_ms > until)
		until = s->locked_until + l->lock_max_ms;
	return until;
}

/*
 * Finds `key` in `t`. When absent and `take` is set, takes a free or expired slot among the probed ones (reset).
 * NULL when absent (or no slot could be taken); then *free_at, if given, says when the first probed slot frees:
 * now or earlier when one is free already. Locked.
 */
static limit_slot *table_find(http_limiter *l, limit_table *t, const char *key, int64_t now, int take, int64_t *free_at)
{
	uint64_t h = keyed_hash(l, key, strlen(key));
	limit_slot *spare = NULL;
	int64_t first_free = INT64_MAX;
	for (size_t i = 0; i < LIMITER_PROBES; i++) {
		limit_slot *s = &t->slots[(h + i) % t->n_slots];
		if (s->key[0] && strcmp(s->key, key) == 0)
			return s;
		int64_t until = slot_live_until(l, s);
		if (until < first_free)
			first_free = until;
		if (until <= now && !spare)
			spare = s;
	}
	if (free_at)
		*free_at = first_free;
	if (!take || !spare)
		return NULL;
	memset(spare, 0, sizeof(*spare));
	snprintf(spare->key, sizeof(spare->key), "%s", key);
	return spare;
}

/* Forgets what has expired in `s`: a count whose window passed, a lock that ended, lock-outs long enough ago. */
static void slot_age(const http_limiter *l, limit_slot *s, int64_t now)
{
	if (s->failures > 0 && now - s->window_start >= LIMITER_WINDOW)
		s->failures = 0;
	if (s->strikes > 0 && now - s->locked_until >= l->lock_max_ms)
		s->strikes = 0;
}

static int seconds_until(int64_t when, int64_t now)
{
	int64_t s = (when - now + 999) / 1000;
	return s < 1 ? 1 : (int)s;
}

/*
 * Seconds until `key` may try again, 0 when it may now; never takes a slot. With `refuse_when_full`, a key that
 * has no entry and whose probed slots all still matter is refused until the first of them frees. *locked says
 * whether the key itself is locked (may be NULL).
 */
static int limiter_wait(http_limiter *l, limit_table *t, const char *key, int refuse_when_full, int64_t now,
                        int *locked)
{
	int wait = 0;
	int64_t free_at = 0;
	pthread_mutex_lock(&l->lock);
	limit_slot *s = table_find(l, t, key, now, 0, &free_at);
	if (s && s->locked_until > now)
		wait = seconds_until(s->locked_until, now);
	else if (!s && refuse_when_full && free_at > now)
		wait = seconds_until(free_at, now);
	pthread_mutex_unlock(&l->lock);
	if (locked)
		*locked = s && wait > 0;
	return wait;
}

/* Counts a failure of `key`; at `limit` failures inside the window, locks it (growing with `grow`). */
static void limiter_fail(http_limiter *l, limit_table *t, const char *key, int limit, int grow, int64_t now)
{
	pthread_mutex_lock(&l->lock);
	limit_slot *s = table_find(l, t, key, now, 1, NULL);
	if (s) { /* NULL only when another request filled the slots meanwhile: that name is refused from now on */
		slot_age(l, s, now);
		if (s->failures == 0)
			s->window_start = now;
		if (++s->failures >= limit) {
			int64_t lock = l->lock_ms;
			for (int i = 0; grow && i < s->strikes && lock < l->lock_max_ms; i++)
				lock *= 2;
			if (lock > l->lock_max_ms)
				lock = l->lock_max_ms;
			s->locked_until = now + lock;
			s->strikes++;
			s->failures = 0;
		}
	}
	pthread_mutex_unlock(&l->lock);
}

static uint64_t pair_hash(const http_limiter *l, const char *username, const char *address)
{
	char pair[HTTP_LOGIN_NAME_MAX + 1 + 64];
	int n = snprintf(pair, sizeof(pair), "%s%c%s", username, 0, address);
	return keyed_hash(l, pair, n < 0 ? 0 : (size_t)n < sizeof(pair) ? (size_t)n : sizeof(pair) - 1);
}

/* 1 when `username` signed in from `address` before (within LIMITER_KNOWN_MS). */
static int limiter_known(http_limiter *l, const char *username, const char *address, int64_t now)
{
	uint64_t h = pair_hash(l, username, address);
	int found = 0;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < LIMITER_PROBES && !found; i++) {
		const known_pair *k = &l->known[(h + i) % LIMITER_KNOWN];
		found = k->at && k->hash == h && now - k->at < LIMITER_KNOWN_MS;
	}
	pthread_mutex_unlock(&l->lock);
	return found;
}

/* A successful sign-in: remembers the pair (replacing the oldest probed one) and, unless the name was locked
 * (its owner came in through the pair), forgets the name's failures and lock-outs. */
static void limiter_succeed(http_limiter *l, const char *key, const char *username, const char *address, int was_locked,
                            int64_t now)
{
	uint64_t h = pair_hash(l, username, address);
	pthread_mutex_lock(&l->lock);
	known_pair *pick = NULL;
	for (size_t i = 0; i < LIMITER_PROBES; i++) {
		known_pair *k = &l->known[(h + i) % LIMITER_KNOWN];
		if (k->hash == h && k->at) {
			pick = k;
			break;
		}
		if (!pick || k->at < pick->at)
			pick = k;
	}
	pick->hash = h;
	pick->at = now;
	limit_slot *s = was_locked ? NULL : table_find(l, &l->users, key, now, 0, NULL);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&l->lock);
}

/* --- sessions ------------------------------------------------------------------------------------------------ */

static void token_hash(const char *token, uint8_t out[STORE_TOKEN_HASH_BYTES])
{
	crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

static void entry_from_user(const store_user *u, int64_t expires_at, auth_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->user_id = u->id;
	snprintf(e->username, sizeof(e->username), "%s", u->username);
	e->role = u->role;
	e->all_cameras = u->all_cameras;
	e->n_cameras = u->n_cameras;
	memcpy(e->cameras, u->cameras, (size_t)u->n_cameras * sizeof(int64_t));
	e->expires_at = expires_at;
}

/* The token of the request: Bearer first, then the cookie. NULL when neither. */
static const char *request_token(http_req *r, int *via_cookie)
{
	const char *auth = http__header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	*via_cookie = 0;
	if (auth) {
		if (strncasecmp(auth, "Bearer ", 7) != 0)
			return "";
		return auth + 7;
	}
	const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, HTTP_COOKIE);
	if (cookie)
		*via_cookie = 1;
	return cookie;
}

int http__authenticate(http_req *r)
{
	int via_cookie;
	const char *token = request_token(r, &via_cookie);
	memset(&r->user, 0, sizeof(r->user));
	if (!token || !*token || strlen(token) > 128)
		return 0;
	token_hash(token, r->token_hash);
	int64_t now = mien_wall_ms();
	if (auth_cache_get(r->srv->auth, r->token_hash, now, &r->user)) {
		r->via_cookie = via_cookie;
		return 0;
	}
	store_user *u = malloc(sizeof(*u));
	if (!u) {
		http__reply_error(r, 500, "internal", "out of memory");
		return -1;
	}
	int64_t expires_at = 0;
	mien_error err = { 0 };
	int rc = store_token_lookup(r->srv->db, r->token_hash, now, u, &expires_at, &err);
	if (rc == MIEN_OK && !u->disabled) {
		entry_from_user(u, expires_at, &r->user);
		auth_cache_put(r->srv->auth, r->token_hash, &r->user, now);
		r->via_cookie = via_cookie;
	} else if (rc != MIEN_OK && rc != MIEN_ENOENT) {
		free(u);
		http__reply_store_error(r, rc, &err, "session");
		return -1;
	}
	free(u);
	return 0;
}

/* The scheme://host[:port] this request was sent to, from its Host header. */
static int same_origin(http_req *r, const char *origin)
{
	const char *host = http__header(r, MHD_HTTP_HEADER_HOST);
	if (!host || !origin)
		return 0;
	const char *rest = NULL;
	if (strncmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	return rest && strcasecmp(rest, host) == 0;
}

int http__csrf_ok(http_req *r)
{
	const char *origin = http__header(r, "Origin");
	if (r->user.user_id == 0) /* no session to ride on; login itself still refuses a foreign Origin */
		return origin && !same_origin(r, origin) ? -1 : 0;
	if (!r->via_cookie)
		return 0;
	return same_origin(r, origin) ? 0 : -1;
}

/* --- routes --------------------------------------------------------------------------------------------------- */

static void set_cookie(http_req *r, const char *token, long max_age_s)
{
	char cookie[256];
	snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict", HTTP_COOKIE, token,
	         max_age_s);
	http__add_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
}

static json_t *cameras_json(const auth_entry *u)
{
	json_t *a = json_array();
	for (int i = 0; i < u->n_cameras; i++)
		json_array_append_new(a, json_integer(u->cameras[i]));
	return a;
}

void http__h_login(http_req *r)
{
	static const http_field FIELDS[] = {
		{ "username", HTTP_FIELD_STRING, 1, HTTP_LOGIN_NAME_MAX },
		{ "password", HTTP_FIELD_STRING, 1, 1024 },
		{ 0 },
	};
	json_t *body = http__body_json(r, FIELDS);
	if (!body)
		return;
	const char *username = json_string_value(json_object_get(body, "username"));
	const char *password = json_string_value(json_object_get(body, "password"));
	http_server *s = r->srv;
	int64_t now = mien_wall_ms();
	char user_key[96], addr_key[96];
	snprintf(user_key, sizeof(user_key), "u:%.63s", username);
	snprintf(addr_key, sizeof(addr_key), "a:%s", r->address);
	http_limiter *l = s->limiter;
	/* A name locked by someone else's guesses still lets in its owner from an address it signed in from. */
	int user_locked = 0;
	int known_address = limiter_known(l, username, r->address, now);
	int wait = known_address ? 0 : limiter_wait(l, &l->users, user_key, 1, now, &user_locked);
	int wait_addr = limiter_wait(l, &l->addresses, addr_key, 0, now, NULL);
	if (wait_addr > wait)
		wait = wait_addr;
	if (known_address)
		limiter_wait(l, &l->users, user_key, 0, now, &user_locked);
	store_user *u = NULL;
	if (wait > 0) {
		char retry[16];
		snprintf(retry, sizeof(retry), "%d", wait);
		http__reply_error(r, 429, "too_many_requests", "too many failed logins; retry in %d s", wait);
		http__add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
		goto done;
	}
	u = calloc(1, sizeof(*u));
	mien_error err = { 0 };
	int rc = u ? store_user_get_by_name(s->db, username, u, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK && rc != MIEN_ENOENT && rc != MIEN_ERANGE) {
		http__reply_store_error(r, rc, &err, "login");
		goto done;
	}
	int known = rc == MIEN_OK;
	/* Verify against a dummy hash for unknown names, so that timing does not tell which names exist. */
	int good = http_password_verify(known ? u->password_hash : s->dummy_hash, password) && known && !u->disabled;
	if (!good) {
		limiter_fail(l, &l->users, user_key, s->options.login_user_limit, 1, now);
		limiter_fail(l, &l->addresses, addr_key, s->options.login_addr_limit, 0, now);
		store_audit a = { 0 };
		a.user_id = known ? u->id : 0;
		mien_utf8_copy(a.username, sizeof(a.username), username); /* a long name is cut, not dropped */
		snprintf(a.action, sizeof(a.action), "login_failed");
		mien_utf8_copy(a.address, sizeof(a.address), r->address);
		mien_error audit_err = { 0 };
		if (store_audit_add(s->db, &a, &audit_err) != MIEN_OK)
			mien_log(MIEN_LOG_ERROR, "http", "audit login_failed not written: %s", audit_err.message);
		http__reply_error(r, 401, "unauthorized", "wrong user name or password");
		goto done;
	}
	uint8_t raw[HTTP_TOKEN_BYTES];
	char token[sodium_base64_ENCODED_LEN(HTTP_TOKEN_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, sizeof(token), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	token_hash(token, r->token_hash);
	int64_t expires_at = now + s->options.token_ttl_ms;
	if ((rc = store_token_put(s->db, r->token_hash, u->id, expires_at, &err)) != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "login");
		goto done;
	}
	limiter_succeed(l, user_key, username, r->address, user_locked, now);
	entry_from_user(u, expires_at, &r->user);
	http__audit(r, "login", "user %lld", (long long)u->id);
	char when[32];
	http__iso_time(expires_at, when);
	http__reply_json(r, 200,
	                 json_pack("{s:s,s:s,s:s,s:s}", "token", token, "role", store_role_name(u->role), "expires_at",
	                           when, "username", u->username));
	set_cookie(r, token, (long)(s->options.token_ttl_ms / 1000));
	sodium_memzero(token, sizeof(token));
done:
	free(u);
	json_decref(body);
}

void http__h_logout(http_req *r)
{
	mien_error err = { 0 };
	int rc = store_token_delete(r->srv->db, r->token_hash, &err);
	http__auth_forget_token(r->srv, r->token_hash);
	if (rc != MIEN_OK && rc != MIEN_ENOENT) {
		http__reply_store_error(r, rc, &err, "logout");
		return;
	}
	http__audit(r, "logout", "user %lld", (long long)r->user.user_id);
	http__reply_empty(r, 204);
	set_cookie(r, "", 0);
}

void http__h_me(http_req *r)
{
	char when[32];
	http__iso_time(r->user.expires_at, when);
	http__reply_json(r, 200,
	                 json_pack("{s:I,s:s,s:s,s:b,s:o,s:s}", "id", (json_int_t)r->user.user_id, "username",
	                           r->user.username, "role", store_role_name(r->user.role), "all_cameras",
	                           r->user.all_cameras, "cameras", cameras_json(&r->user), "expires_at", when));
}
