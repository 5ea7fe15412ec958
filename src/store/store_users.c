/*
 * store_users.c — users (with the cameras they may see), their roles, and session tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/store.h"
#include "store/store_int.h"

/* --- users and tokens ------------------------------------------------------------------------------------ */

const char *store_role_name(int role)
{
	switch (role) {
	case STORE_ROLE_RECOGNITION:
		return "recognition";
	case STORE_ROLE_ANALYST:
		return "analyst";
	case STORE_ROLE_ADMIN:
		return "admin";
	default:
		return "none";
	}
}

int store_role_parse(const char *name)
{
	for (int r = STORE_ROLE_RECOGNITION; r <= STORE_ROLE_ADMIN; r++)
		if (name && strcmp(name, store_role_name(r)) == 0)
			return r;
	return STORE_ROLE_NONE;
}

#define USER_COLUMNS "id, username, password_hash, role, disabled, all_cameras, created_at, updated_at"

static void fill_user(void *item, const store_row *row)
{
	store_user *u = item;
	memset(u, 0, sizeof(*u));
	u->id = store__col_int(row, 0);
	store__copy_text(u->username, sizeof(u->username), store__col_text(row, 1));
	store__copy_text(u->password_hash, sizeof(u->password_hash), store__col_text(row, 2));
	u->role = store_role_parse(store__col_text(row, 3));
	u->disabled = (int)store__col_int(row, 4);
	u->all_cameras = (int)store__col_int(row, 5);
	u->created_at = store__col_int(row, 6);
	u->updated_at = store__col_int(row, 7);
}

static int camera_id_row(void *ctx, const store_row *row)
{
	store_user *u = ctx;
	if (u->n_cameras < STORE_USER_CAMERAS_MAX)
		u->cameras[u->n_cameras++] = store__col_int(row, 0);
	return MIEN_OK;
}

static int load_user_cameras(store *s, store_user *u, mien_error *err)
{
	u->n_cameras = 0;
	store_value p[] = { SV_INT(u->id) };
	return RUN(s, "SELECT camera_id FROM user_cameras WHERE user_id = $1 ORDER BY camera_id", p, camera_id_row, u);
}

static int check_user(const store_user *u, unsigned fields, mien_error *err)
{
	int rc;
	if ((fields & STORE_USER_ROLE) && (u->role < STORE_ROLE_RECOGNITION || u->role > STORE_ROLE_ADMIN))
		return mien_error_set(err, MIEN_EINVAL, "user: unknown role %d", u->role);
	if ((fields & STORE_USER_PASSWORD) &&
	    (rc = store__check_text(u->password_hash, sizeof(u->password_hash), "password hash", 1, err)))
		return rc;
	if ((fields & STORE_USER_CAMERAS) && (u->n_cameras < 0 || u->n_cameras > STORE_USER_CAMERAS_MAX))
		return mien_error_set(err, MIEN_ERANGE, "user: %d cameras (at most %d)", u->n_cameras,
		                      STORE_USER_CAMERAS_MAX);
	return MIEN_OK;
}

static int write_user_cameras(store__txn *t, const store_user *u, mien_error *err)
{
	store_value p[] = { SV_INT(u->id) };
	int rc = TX(t, "DELETE FROM user_cameras WHERE user_id = $1", p, NULL, NULL);
	for (int i = 0; rc == MIEN_OK && i < u->n_cameras; i++) {
		store_value q[] = { SV_INT(u->id), SV_INT(u->cameras[i]) };
		rc = TX(t, "INSERT INTO user_cameras (user_id, camera_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", q,
		        NULL, NULL);
	}
	return rc;
}

int store_user_create(store *s, store_user *u, mien_error *err)
{
	int rc = store__check_text(u->username, sizeof(u->username), "username", 1, err);
	if (rc || (rc = check_user(u, STORE_USER_ROLE | STORE_USER_PASSWORD | STORE_USER_CAMERAS, err)))
		return rc;
	int64_t now = mien_wall_ms();
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	store_value p[] = { SV_TEXT(u->username), SV_TEXT(u->password_hash), SV_TEXT(store_role_name(u->role)),
		            SV_BOOL(u->disabled), SV_BOOL(u->all_cameras),   SV_INT(now),
		            SV_INT(now) };
	rc = TX(&t,
	        "INSERT INTO users (username, password_hash, role, disabled, all_cameras, created_at, updated_at)"
	        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
	        p, store__int_row, &u->id);
	if (rc == MIEN_OK)
		rc = write_user_cameras(&t, u, err);
	if ((rc = store__txn_end(&t, rc, err)))
		return mien_error_prefix(err, "user %s", u->username);
	u->created_at = u->updated_at = now;
	return MIEN_OK;
}

static int user_get(store *s, const char *sql, store_value key, store_user *out, const char *what, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_user };
	int rc = store__run(s, sql, &key, 1, store__list_row, &l, err);
	if (rc)
		return rc;
	if (l.count == 0)
		return mien_error_set(err, MIEN_ENOENT, "user %s not found", what);
	return load_user_cameras(s, out, err);
}

int store_user_get(store *s, int64_t id, store_user *out, mien_error *err)
{
	char what[32];
	snprintf(what, sizeof(what), "%lld", (long long)id);
	return user_get(s, "SELECT " USER_COLUMNS " FROM users WHERE id = $1", SV_INT(id), out, what, err);
}

int store_user_get_by_name(store *s, const char *username, store_user *out, mien_error *err)
{
	int rc = store__check_text(username, STORE_USERNAME_MAX, "username", 1, err);
	if (rc)
		return rc;
	return user_get(s, "SELECT " USER_COLUMNS " FROM users WHERE username = $1", SV_TEXT(username), out, username,
	                err);
}

int store_user_update(store *s, const store_user *u, unsigned fields, mien_error *err)
{
	int rc = check_user(u, fields, err);
	if (rc)
		return rc;
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	int64_t found = 0;
	store_value p[] = { SV_INT(u->id), SV_INT(mien_wall_ms()) };
	rc = TX(&t, "UPDATE users SET updated_at = $2 WHERE id = $1 RETURNING id", p, store__count_row, &found);
	rc = store__found_or(rc, found, "user", u->id, err);
	if (rc == MIEN_OK && (fields & STORE_USER_ROLE)) {
		store_value q[] = { SV_INT(u->id), SV_TEXT(store_role_name(u->role)) };
		rc = TX(&t, "UPDATE users SET role = $2 WHERE id = $1", q, NULL, NULL);
	}
	if (rc == MIEN_OK && (fields & STORE_USER_PASSWORD)) {
		store_value q[] = { SV_INT(u->id), SV_TEXT(u->password_hash) };
		rc = TX(&t, "UPDATE users SET password_hash = $2 WHERE id = $1", q, NULL, NULL);
	}
	if (rc == MIEN_OK && (fields & STORE_USER_DISABLED)) {
		store_value q[] = { SV_INT(u->id), SV_BOOL(u->disabled) };
		rc = TX(&t, "UPDATE users SET disabled = $2 WHERE id = $1", q, NULL, NULL);
	}
	if (rc == MIEN_OK && (fields & STORE_USER_CAMERAS)) {
		store_value q[] = { SV_INT(u->id), SV_BOOL(u->all_cameras) };
		rc = TX(&t, "UPDATE users SET all_cameras = $2 WHERE id = $1", q, NULL, NULL);
		if (rc == MIEN_OK)
			rc = write_user_cameras(&t, u, err);
	}
	return store__txn_end(&t, rc, err);
}

int store_user_delete(store *s, int64_t id, mien_error *err)
{
	int64_t found = 0;
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "DELETE FROM users WHERE id = $1 RETURNING id", p, store__count_row, &found);
	return store__found_or(rc, found, "user", id, err);
}

int store_user_list(store *s, int64_t after_id, store_user *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_user };
	store_value p[] = { SV_INT(after_id), SV_INT((int64_t)max) };
	rc = RUN(s, "SELECT " USER_COLUMNS " FROM users WHERE id > $1 ORDER BY id LIMIT $2", p, store__list_row, &l);
	for (size_t i = 0; rc == MIEN_OK && i < l.count; i++)
		rc = load_user_cameras(s, &out[i], err);
	*count = rc ? 0 : l.count;
	return rc;
}

int store_user_count(store *s, int64_t *count, mien_error *err)
{
	*count = 0;
	return store__run(s, "SELECT count(*) FROM users", NULL, 0, store__int_row, count, err);
}

int store_token_put(store *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES], int64_t user_id, int64_t expires_at,
                    mien_error *err)
{
	store_value p[] = { SV_BLOB(hash, STORE_TOKEN_HASH_BYTES), SV_INT(user_id), SV_INT(mien_wall_ms()),
		            SV_INT(expires_at) };
	return RUN(s, "INSERT INTO tokens (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)", p, NULL,
	           NULL);
}

typedef struct token_ctx {
	int64_t user_id, expires_at, found;
} token_ctx;

static int token_row(void *ctx, const store_row *row)
{
	token_ctx *t = ctx;
	t->user_id = store__col_int(row, 0);
	t->expires_at = store__col_int(row, 1);
	t->found = 1;
	return MIEN_OK;
}

int store_token_lookup(store *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES], int64_t now, store_user *out,
                       int64_t *expires_at, mien_error *err)
{
	token_ctx t = { 0, 0, 0 };
	store_value p[] = { SV_BLOB(hash, STORE_TOKEN_HASH_BYTES), SV_INT(now) };
	int rc = RUN(s, "SELECT user_id, expires_at FROM tokens WHERE hash = $1 AND expires_at > $2", p, token_row, &t);
	if (rc)
		return rc;
	if (!t.found)
		return mien_error_set(err, MIEN_ENOENT, "token unknown or expired");
	if (expires_at)
		*expires_at = t.expires_at;
	return store_user_get(s, t.user_id, out, err);
}

int store_token_delete(store *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES], mien_error *err)
{
	int64_t found = 0;
	store_value p[] = { SV_BLOB(hash, STORE_TOKEN_HASH_BYTES) };
	int rc = RUN(s, "DELETE FROM tokens WHERE hash = $1 RETURNING user_id", p, store__count_row, &found);
	if (rc == MIEN_OK && !found)
		return mien_error_set(err, MIEN_ENOENT, "token unknown");
	return rc;
}

int store_token_delete_user(store *s, int64_t user_id, int64_t *deleted, mien_error *err)
{
	int64_t n = 0;
	store_value p[] = { SV_INT(user_id) };
	int rc = RUN(s, "DELETE FROM tokens WHERE user_id = $1 RETURNING user_id", p, store__count_row, &n);
	if (deleted)
		*deleted = n;
	return rc;
}

int store_token_purge(store *s, int64_t now, int64_t *deleted, mien_error *err)
{
	int64_t n = 0;
	store_value p[] = { SV_INT(now) };
	int rc = RUN(s, "DELETE FROM tokens WHERE expires_at <= $1 RETURNING user_id", p, store__count_row, &n);
	if (deleted)
		*deleted = n;
	return rc;
}
