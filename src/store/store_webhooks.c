/*
 * store_webhooks.c — webhooks and their delivery logs (the notifier of bus/notify.h sends, this keeps).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/utf8.h"
#include "store/store.h"
#include "store/store_int.h"

/* --- webhooks --------------------------------------------------------------------------------------------- */

#define WEBHOOK_COLUMNS "id, name, url, secret, kinds, rules, enabled, expression, created_at, updated_at"

static void fill_webhook(void *item, const store_row *row)
{
	store_webhook *w = item;
	memset(w, 0, sizeof(*w));
	w->id = store__col_int(row, 0);
	store__copy_text(w->name, sizeof(w->name), store__col_text(row, 1));
	store__copy_text(w->url, sizeof(w->url), store__col_text(row, 2));
	store__copy_text(w->secret, sizeof(w->secret), store__col_text(row, 3));
	store__copy_text(w->kinds, sizeof(w->kinds), store__col_text(row, 4));
	store__copy_text(w->rules, sizeof(w->rules), store__col_text(row, 5));
	w->enabled = (int)store__col_int(row, 6);
	w->expression = (int)store__col_int(row, 7);
	w->created_at = store__col_int(row, 8);
	w->updated_at = store__col_int(row, 9);
}

static int check_webhook(const store_webhook *w, unsigned fields, mien_error *err)
{
	int rc = MIEN_OK;
	if (fields & STORE_WEBHOOK_NAME)
		rc = store__check_text(w->name, sizeof(w->name), "webhook name", 0, err);
	if (rc == MIEN_OK && (fields & STORE_WEBHOOK_URL))
		rc = store__check_text(w->url, sizeof(w->url), "webhook URL", 1, err);
	if (rc == MIEN_OK && (fields & STORE_WEBHOOK_SECRET))
		rc = store__check_text(w->secret, sizeof(w->secret), "webhook secret", 0, err);
	if (rc == MIEN_OK && (fields & STORE_WEBHOOK_KINDS))
		rc = store__check_text(w->kinds, sizeof(w->kinds), "webhook kinds", 1, err);
	if (rc == MIEN_OK && (fields & STORE_WEBHOOK_RULES))
		rc = store__check_text(w->rules, sizeof(w->rules), "webhook filter", 0, err);
	return rc;
}

int store_webhook_create(store *s, store_webhook *w, mien_error *err)
{
	int rc = check_webhook(w, ~0u, err);
	if (rc)
		return rc;
	int64_t now = mien_wall_ms(), count = 0;
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	rc = store__txn_exec(&t, "SELECT id FROM webhooks", NULL, 0, store__count_row, &count, err);
	if (rc == MIEN_OK && count >= STORE_WEBHOOKS_MAX)
		rc = mien_error_set(err, MIEN_ETOOBIG, "there are %d webhooks already, the most there may be",
		                    STORE_WEBHOOKS_MAX);
	store_value v[] = { SV_TEXT(w->name),       SV_TEXT(w->url),   SV_TEXT(w->secret),
		            SV_TEXT(w->kinds),      SV_TEXT(w->rules), SV_BOOL(w->enabled),
		            SV_BOOL(w->expression), SV_INT(now),       SV_INT(now) };
	if (rc == MIEN_OK)
		rc = TX(&t,
		        "INSERT INTO webhooks (name, url, secret, kinds, rules, enabled, expression, created_at,"
		        " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
		        v, store__int_row, &w->id);
	if ((rc = store__txn_end(&t, rc, err)))
		return rc;
	w->created_at = w->updated_at = now;
	return MIEN_OK;
}

int store_webhook_get(store *s, int64_t id, store_webhook *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_webhook };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE id = $1", p, store__list_row, &l);
	return store__found_or(rc, (int64_t)l.count, "webhook", id, err);
}

int store_webhook_update(store *s, const store_webhook *w, unsigned fields, mien_error *err)
{
	int rc = check_webhook(w, fields, err);
	if (rc)
		return rc;
	int64_t found = 0;
	store_value v[] = { SV_INT(w->id),
		            SV_INT(mien_wall_ms()),
		            SV_BOOL(fields & STORE_WEBHOOK_NAME),
		            SV_TEXT(w->name),
		            SV_BOOL(fields & STORE_WEBHOOK_URL),
		            SV_TEXT(w->url),
		            SV_BOOL(fields & STORE_WEBHOOK_SECRET),
		            SV_TEXT(w->secret),
		            SV_BOOL(fields & STORE_WEBHOOK_KINDS),
		            SV_TEXT(w->kinds),
		            SV_BOOL(fields & STORE_WEBHOOK_RULES),
		            SV_TEXT(w->rules),
		            SV_BOOL(fields & STORE_WEBHOOK_ENABLED),
		            SV_BOOL(w->enabled),
		            SV_BOOL(fields & STORE_WEBHOOK_EXPRESSION),
		            SV_BOOL(w->expression) };
	rc = RUN(s,
	         "UPDATE webhooks SET updated_at = $2,"
	         " name = CASE WHEN $3 THEN $4 ELSE name END,"
	         " url = CASE WHEN $5 THEN $6 ELSE url END,"
	         " secret = CASE WHEN $7 THEN $8 ELSE secret END,"
	         " kinds = CASE WHEN $9 THEN $10 ELSE kinds END,"
	         " rules = CASE WHEN $11 THEN $12 ELSE rules END,"
	         " enabled = CASE WHEN $13 THEN $14 ELSE enabled END,"
	         " expression = CASE WHEN $15 THEN $16 ELSE expression END"
	         " WHERE id = $1 RETURNING id",
	         v, store__count_row, &found);
	return store__found_or(rc, found, "webhook", w->id, err);
}

int store_webhook_delete(store *s, int64_t id, mien_error *err)
{
	return store__erase_id(s, "DELETE FROM webhooks WHERE id = $1 RETURNING id", id, "webhook", err);
}

int store_webhook_list(store *s, int64_t after_id, store_webhook *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	if (max == 0 || max > STORE_WEBHOOKS_MAX)
		return mien_error_set(err, MIEN_ERANGE, "list of %zu webhooks (1..%d)", max, STORE_WEBHOOKS_MAX);
	store__list l = { out, sizeof(*out), max, 0, fill_webhook };
	store_value p[] = { SV_INT(after_id), SV_INT((int64_t)max) };
	int rc = RUN(s, "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2", p,
	             store__list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}

/* --- deliveries ------------------------------------------------------------------------------------------- */

#define DELIVERY_COLUMNS                                                                                          \
	"id, webhook_id, delivery, kind, subject, status, attempts, http_status, error, duration_ms, created_at," \
	" updated_at, next_at"

static void fill_delivery(void *item, const store_row *row)
{
	store_delivery *d = item;
	memset(d, 0, sizeof(*d));
	d->id = store__col_int(row, 0);
	d->webhook_id = store__col_int(row, 1);
	store__copy_text(d->delivery, sizeof(d->delivery), store__col_text(row, 2));
	store__copy_text(d->kind, sizeof(d->kind), store__col_text(row, 3));
	store__copy_text(d->subject, sizeof(d->subject), store__col_text(row, 4));
	store__copy_text(d->status, sizeof(d->status), store__col_text(row, 5));
	d->attempts = (int)store__col_int(row, 6);
	d->http_status = (int)store__col_int(row, 7);
	store__copy_text(d->error, sizeof(d->error), store__col_text(row, 8));
	d->duration_ms = store__col_int(row, 9);
	d->created_at = store__col_int(row, 10);
	d->updated_at = store__col_int(row, 11);
	d->next_at = store__col_int(row, 12);
}

int store_delivery_add(store *s, store_delivery *d, int keep, mien_error *err)
{
	int rc = store__check_text(d->delivery, sizeof(d->delivery), "delivery id", 1, err);
	if (rc || (rc = store__check_text(d->kind, sizeof(d->kind), "delivery kind", 1, err)) ||
	    (rc = store__check_text(d->status, sizeof(d->status), "delivery status", 1, err)))
		return rc;
	if (keep < 1)
		return mien_error_set(err, MIEN_ERANGE, "a delivery log keeps at least one row");
	mien_utf8_truncate(d->subject, sizeof(d->subject) - 1);
	mien_utf8_truncate(d->error, sizeof(d->error) - 1);
	int64_t now = mien_wall_ms();
	d->created_at = d->updated_at = now;
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	d->id = 0;
	store_value v[] = { SV_INT(d->webhook_id),  SV_TEXT(d->delivery), SV_TEXT(d->kind),         SV_TEXT(d->subject),
		            SV_TEXT(d->status),     SV_INT(d->attempts),  SV_INT(d->http_status),   SV_TEXT(d->error),
		            SV_INT(d->duration_ms), SV_INT(now),          SV_ID_OR_NULL(d->next_at) };
	/* Through the webhook row, so that a webhook deleted meanwhile inserts nothing (and says so). */
	rc = TX(&t,
	        "INSERT INTO webhook_deliveries (webhook_id, delivery, kind, subject, status, attempts, http_status,"
	        " error, duration_ms, created_at, updated_at, next_at)"
	        " SELECT id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11 FROM webhooks WHERE id = $1 RETURNING id",
	        v, store__int_row, &d->id);
	if (rc == MIEN_OK && !d->id)
		rc = mien_error_set(err, MIEN_ENOENT, "webhook %lld not found", (long long)d->webhook_id);
	/* Keep the newest `keep` rows: everything at or below the id of the (keep+1)-th newest goes. */
	store_value prune[] = { SV_INT(d->webhook_id), SV_INT(keep) };
	if (rc == MIEN_OK)
		rc = TX(&t,
		        "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND id <= (SELECT id FROM"
		        " webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
		        prune, NULL, NULL);
	return store__txn_end(&t, rc, err);
}

int store_delivery_update(store *s, const store_delivery *d, mien_error *err)
{
	char error[sizeof(d->error)];
	snprintf(error, sizeof(error), "%s", d->error);
	mien_utf8_truncate(error, sizeof(error) - 1);
	int rc = store__check_text(d->status, sizeof(d->status), "delivery status", 1, err);
	if (rc)
		return rc;
	int64_t found = 0;
	store_value v[] = { SV_INT(d->id),  SV_TEXT(d->status),     SV_INT(d->attempts),    SV_INT(d->http_status),
		            SV_TEXT(error), SV_INT(d->duration_ms), SV_INT(mien_wall_ms()), SV_ID_OR_NULL(d->next_at) };
	rc = RUN(s,
	         "UPDATE webhook_deliveries SET status = $2, attempts = $3, http_status = $4, error = $5,"
	         " duration_ms = $6, updated_at = $7, next_at = $8 WHERE id = $1 RETURNING id",
	         v, store__count_row, &found);
	return store__found_or(rc, found, "delivery", d->id, err);
}

int store_delivery_list(store *s, int64_t webhook_id, int64_t before_id, store_delivery *out, size_t max, size_t *count,
                        mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_delivery };
	store_value p[] = { SV_INT(webhook_id), SV_INT(before_id ? before_id : INT64_MAX), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries WHERE webhook_id = $1 AND id < $2"
	         " ORDER BY id DESC LIMIT $3",
	         p, store__list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}
