/*
 * store_settings.c — settings stored in the database and the audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/utf8.h"
#include "store/store.h"
#include "store/store_int.h"

/* --- settings and audit ------------------------------------------------------------------------------------ */

int store_setting_get(store *s, const char *key, char *value, size_t cap, mien_error *err)
{
	int rc = store__check_text(key, 64, "setting name", 1, err);
	if (rc)
		return rc;
	store__text t = { value, cap, 0, err };
	store_value p[] = { SV_TEXT(key) };
	rc = RUN(s, "SELECT value FROM settings WHERE key = $1", p, store__text_row, &t);
	if (rc == MIEN_OK && !t.found)
		return mien_error_set(err, MIEN_ENOENT, "setting %s not set", key);
	return rc;
}

int store_setting_set(store *s, const char *key, const char *value, mien_error *err)
{
	int rc = store__check_text(key, 64, "setting name", 1, err);
	if (rc || (rc = store__check_text(value, STORE_SETTING_MAX, "setting value", 0, err)))
		return rc;
	store_value p[] = { SV_TEXT(key), SV_TEXT(value ? value : ""), SV_INT(mien_wall_ms()) };
	return RUN(s,
	           "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)"
	           " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
	           p, NULL, NULL);
}

static void fill_audit(void *item, const store_row *row)
{
	store_audit *a = item;
	memset(a, 0, sizeof(*a));
	a->id = store__col_int(row, 0);
	a->at = store__col_int(row, 1);
	a->user_id = store__col_int(row, 2);
	store__copy_text(a->username, sizeof(a->username), store__col_text(row, 3));
	store__copy_text(a->action, sizeof(a->action), store__col_text(row, 4));
	store__copy_text(a->target, sizeof(a->target), store__col_text(row, 5));
	store__copy_text(a->detail, sizeof(a->detail), store__col_text(row, 6));
	store__copy_text(a->address, sizeof(a->address), store__col_text(row, 7));
}

int store_audit_add(store *s, store_audit *a, mien_error *err)
{
	int rc = store__check_text(a->action, sizeof(a->action), "audit action", 1, err);
	if (rc)
		return rc;
	if (!a->at)
		a->at = mien_wall_ms();
	/* Every text field is bounded by its array; make sure each is terminated before it goes out, and not in the
	 * middle of a UTF-8 character (PostgreSQL would refuse the row, jansson the item on the way out). */
	mien_utf8_truncate(a->username, sizeof(a->username) - 1);
	mien_utf8_truncate(a->target, sizeof(a->target) - 1);
	mien_utf8_truncate(a->detail, sizeof(a->detail) - 1);
	mien_utf8_truncate(a->address, sizeof(a->address) - 1);
	store_value p[] = { SV_INT(a->at),      SV_ID_OR_NULL(a->user_id), SV_TEXT(a->username), SV_TEXT(a->action),
		            SV_TEXT(a->target), SV_TEXT(a->detail),        SV_TEXT(a->address) };
	return RUN(s,
	           "INSERT INTO audit (at, user_id, username, action, target, detail, address)"
	           " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
	           p, store__int_row, &a->id);
}

int store_audit_list(store *s, int64_t before_id, store_audit *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_audit };
	store_value p[] = { SV_INT(before_id ? before_id : INT64_MAX), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT id, at, user_id, username, action, target, detail, address FROM audit WHERE id < $1"
	         " ORDER BY id DESC LIMIT $2",
	         p, store__list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}
