/*
 * auth.c — passwords, sessions and the login routes.
 *
 * Passwords are argon2id hashes (crypto_pwhash_str, interactive limits). A session token is 32 random bytes
 * sent as base64url; the store keeps only its SHA-256, so a leaked database holds no usable session. A token
 * travels as `Authorization: Bearer` or as the HttpOnly, SameSite=Strict cookie set at login; a state-changing
 * request authenticated by the cookie must carry this server's own Origin (CSRF). Failed logins are counted
 * per user and per address in a fixed table (http_limiter) and answered 429 past the limit for a minute.
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

#define LIMITER_SLOTS  1024
#define LIMITER_WINDOW 60000

typedef struct limit_slot {
	char key[96];
	int64_t window_start;
	int failures;
} limit_slot;

struct http_limiter {
	pthread_mutex_t lock;
	limit_slot slots[LIMITER_SLOTS];
};

int http__limiter_create(http_limiter **out)
{
	http_limiter *l = calloc(1, sizeof(*l));
	if (!l)
		return MIEN_ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return MIEN_OK;
}

void http__limiter_free(http_limiter **l)
{
	if (!l || !*l)
		return;
	pthread_mutex_destroy(&(*l)->lock);
	free(*l);
	*l = NULL;
}

/* The slot of `key` (a fresh one, evicting the oldest window among the probed, when absent). Locked. */
static limit_slot *limiter_slot(http_limiter *l, const char *key, int64_t now)
{
	uint32_t h = 2166136261u;
	for (const char *c = key; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	limit_slot *pick = NULL;
	for (int i = 0; i < 8; i++) {
		limit_slot *s = &l->slots[(h + (uint32_t)i) % LIMITER_SLOTS];
		if (strcmp(s->key, key) == 0) {
			pick = s;
			break;
		}
		if (!pick || s->window_start < pick->window_start)
			pick = s;
	}
	if (strcmp(pick->key, key) != 0) {
		snprintf(pick->key, sizeof(pick->key), "%s", key);
		pick->window_start = now;
		pick->failures = 0;
	}
	if (now - pick->window_start >= LIMITER_WINDOW) {
		pick->window_start = now;
		pick->failures = 0;
	}
	return pick;
}

/* Seconds until `key` may try again, 0 when it may now. */
static int limiter_wait(http_limiter *l, const char *key, int limit, int64_t now)
{
	pthread_mutex_lock(&l->lock);
	limit_slot *s = limiter_slot(l, key, now);
	int wait = s->failures >= limit ? (int)((s->window_start + LIMITER_WINDOW - now + 999) / 1000) : 0;
	pthread_mutex_unlock(&l->lock);
	return wait;
}

static void limiter_fail(http_limiter *l, const char *key, int64_t now)
{
	pthread_mutex_lock(&l->lock);
	limiter_slot(l, key, now)->failures++;
	pthread_mutex_unlock(&l->lock);
}

static void limiter_reset(http_limiter *l, const char *key, int64_t now)
{
	pthread_mutex_lock(&l->lock);
	limiter_slot(l, key, now)->failures = 0;
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
		{ "username", HTTP_FIELD_STRING, 1, 256 },
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
	int wait = limiter_wait(s->limiter, user_key, s->options.login_user_limit, now);
	int wait_addr = limiter_wait(s->limiter, addr_key, s->options.login_addr_limit, now);
	if (wait_addr > wait)
		wait = wait_addr;
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
		limiter_fail(s->limiter, user_key, now);
		limiter_fail(s->limiter, addr_key, now);
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
	limiter_reset(s->limiter, user_key, now);
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
