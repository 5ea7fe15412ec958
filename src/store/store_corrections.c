/*
 * store_corrections.c — corrections of recognition ("this is P", "not P"), the negatives they leave, and the alert
 * rules for unknown faces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/store.h"
#include "store/store_int.h"

/* --- negatives -------------------------------------------------------------------------------------------------- */

int store_negative_add(store *s, int64_t person_id, int64_t event_id, const char *model, const float *embedding,
                       int dim, int64_t *negative_id, mien_error *err)
{
	int rc = store__check_text(model, STORE_MODEL_MAX, "model name", 1, err);
	if (rc)
		return rc;
	if (!embedding || dim < 1 || dim > 4096)
		return mien_error_set(err, MIEN_EINVAL, "negative: embedding of %d values", dim);
	store_value p[] = { SV_INT(person_id),
		            SV_ID_OR_NULL(event_id),
		            SV_TEXT(model),
		            SV_INT(dim),
		            SV_BLOB(embedding, (size_t)dim * sizeof(float)),
		            SV_INT(mien_wall_ms()) };
	return RUN(s,
	           "INSERT INTO negatives (person_id, event_id, model, dim, embedding, created_at)"
	           " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
	           p, store__int_row, negative_id);
}

int store_negative_delete(store *s, int64_t negative_id, mien_error *err)
{
	return store__erase_id(s, "DELETE FROM negatives WHERE id = $1 RETURNING id", negative_id, "negative", err);
}

int store_negatives_each(store *s, const char *model, store_embedding_fn fn, void *ctx, mien_error *err)
{
	store_value p[] = { SV_TEXT(model) };
	/* a damaged row can veto nothing: left out */
	return store__embeddings_run(s,
	                             "SELECT id, person_id, dim, embedding FROM negatives WHERE model = $1 ORDER BY id",
	                             p, 1, 1, fn, ctx, err);
}

int store_negative_signature(store *s, const char *model, store_face_signature *out, mien_error *err)
{
	memset(out, 0, sizeof(*out));
	store_value p[] = { SV_TEXT(model) };
	return RUN(s,
	           "SELECT COUNT(*), COALESCE(MAX(id), 0), CAST(COALESCE(SUM(id), 0) AS BIGINT) FROM negatives"
	           " WHERE model = $1",
	           p, store__signature_row, out);
}

/* --- corrections ------------------------------------------------------------------------------------------------ */

#define CORRECTION_COLUMNS                                                                                         \
	"id, event_id, person_id, verdict, previous_person_id, previous_unknown_id, previous_similarity, face_id," \
	" negative_id, user_id, username, created_at, undone_at"

static void fill_correction(void *item, const store_row *row)
{
	store_correction *c = item;
	memset(c, 0, sizeof(*c));
	c->id = store__col_int(row, 0);
	c->event_id = store__col_int(row, 1);
	c->person_id = store__col_int(row, 2);
	store__copy_text(c->verdict, sizeof(c->verdict), store__col_text(row, 3));
	c->previous_person_id = store__col_int(row, 4);
	c->previous_unknown_id = store__col_int(row, 5);
	c->previous_similarity = (float)store__col_real(row, 6);
	c->face_id = store__col_int(row, 7);
	c->negative_id = store__col_int(row, 8);
	c->user_id = store__col_int(row, 9);
	store__copy_text(c->username, sizeof(c->username), store__col_text(row, 10));
	c->created_at = store__col_int(row, 11);
	c->undone_at = store__col_int(row, 12);
}

int store_correction_create(store *s, store_correction *c, mien_error *err)
{
	if (strcmp(c->verdict, "is") != 0 && strcmp(c->verdict, "not") != 0)
		return mien_error_set(err, MIEN_EINVAL, "correction: verdict must be is or not");
	int rc = store__check_text(c->username, sizeof(c->username), "user name", 0, err);
	if (rc)
		return rc;
	c->created_at = mien_wall_ms();
	store_value p[] = { SV_ID_OR_NULL(c->event_id),
		            SV_INT(c->person_id),
		            SV_TEXT(c->verdict),
		            SV_ID_OR_NULL(c->previous_person_id),
		            SV_ID_OR_NULL(c->previous_unknown_id),
		            SV_REAL(c->previous_similarity),
		            SV_ID_OR_NULL(c->face_id),
		            SV_ID_OR_NULL(c->negative_id),
		            SV_ID_OR_NULL(c->user_id),
		            SV_TEXT(c->username),
		            SV_INT(c->created_at) };
	return RUN(s,
	           "INSERT INTO corrections (event_id, person_id, verdict, previous_person_id, previous_unknown_id,"
	           " previous_similarity, face_id, negative_id, user_id, username, created_at)"
	           " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
	           p, store__int_row, &c->id);
}

int store_correction_get(store *s, int64_t id, store_correction *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_correction };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " CORRECTION_COLUMNS " FROM corrections WHERE id = $1", p, store__list_row, &l);
	return store__found_or(rc, (int64_t)l.count, "correction", id, err);
}

int store_correction_undo(store *s, int64_t id, int64_t now, mien_error *err)
{
	store_correction c;
	int rc = store_correction_get(s, id, &c, err);
	if (rc)
		return rc;
	int64_t found = 0;
	store_value p[] = { SV_INT(id), SV_INT(now) };
	rc = RUN(s, "UPDATE corrections SET undone_at = $2 WHERE id = $1 AND undone_at IS NULL RETURNING id", p,
	         store__count_row, &found);
	if (rc == MIEN_OK && !found)
		return mien_error_set(err, MIEN_ECONFLICT, "correction %lld was already undone", (long long)id);
	return rc;
}

int store_correction_list(store *s, int64_t person_id, int64_t before_id, store_correction *out, size_t max,
                          size_t *count, mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_correction };
	store_value p[] = { SV_INT(person_id), SV_INT(before_id), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT " CORRECTION_COLUMNS " FROM corrections WHERE ($1 = 0 OR person_id = $1)"
	         " AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3",
	         p, store__list_row, &l);
	*count = l.count;
	return rc;
}

/* --- alert rules ------------------------------------------------------------------------------------------------ */

#define RULE_COLUMNS "id, name, camera_id, kind, from_min, to_min, min_visits, days, enabled, created_at, updated_at"

static void fill_rule(void *item, const store_row *row)
{
	store_alert_rule *r = item;
	memset(r, 0, sizeof(*r));
	r->id = store__col_int(row, 0);
	store__copy_text(r->name, sizeof(r->name), store__col_text(row, 1));
	r->camera_id = store__col_int(row, 2);
	r->kind =
	        strcmp(store__col_text(row, 3), "repeat_unknown") == 0 ? STORE_RULE_REPEAT_UNKNOWN : STORE_RULE_UNKNOWN;
	r->from_min = store__col_null(row, 4) ? -1 : (int)store__col_int(row, 4);
	r->to_min = store__col_null(row, 5) ? -1 : (int)store__col_int(row, 5);
	r->min_visits = (int)store__col_int(row, 6);
	r->days = (int)store__col_int(row, 7);
	r->enabled = (int)store__col_int(row, 8);
	r->created_at = store__col_int(row, 9);
	r->updated_at = store__col_int(row, 10);
}

static int check_rule(const store_alert_rule *r, mien_error *err)
{
	int rc = store__check_text(r->name, sizeof(r->name), "rule name", 0, err);
	if (rc)
		return rc;
	if (r->kind != STORE_RULE_UNKNOWN && r->kind != STORE_RULE_REPEAT_UNKNOWN)
		return mien_error_set(err, MIEN_EINVAL, "rule: unknown kind");
	if ((r->from_min < 0) != (r->to_min < 0) || r->from_min >= 1440 || r->to_min >= 1440)
		return mien_error_set(err, MIEN_EINVAL, "rule: a time window needs both ends, each within the day");
	if (r->min_visits < 1 || r->min_visits > 1000 || r->days < 1 || r->days > 365)
		return mien_error_set(err, MIEN_ERANGE, "rule: min_visits 1..1000 and days 1..365");
	return MIEN_OK;
}

static store_value minute_or_null(int m)
{
	return m < 0 ? SV_NULL : SV_INT(m);
}

/* The rule's stored fields in column order (name, camera_id, kind, from_min, to_min, min_visits, days, enabled),
 * the same for an insert and an update. */
#define RULE_FIELDS 8
static void rule_fields(const store_alert_rule *r, store_value *p)
{
	p[0] = SV_TEXT(r->name);
	p[1] = SV_ID_OR_NULL(r->camera_id);
	p[2] = SV_TEXT(r->kind == STORE_RULE_REPEAT_UNKNOWN ? "repeat_unknown" : "unknown");
	p[3] = minute_or_null(r->from_min);
	p[4] = minute_or_null(r->to_min);
	p[5] = SV_INT(r->min_visits);
	p[6] = SV_INT(r->days);
	p[7] = SV_BOOL(r->enabled);
}

int store_alert_rule_create(store *s, store_alert_rule *r, mien_error *err)
{
	int rc = check_rule(r, err);
	if (rc)
		return rc;
	r->created_at = r->updated_at = mien_wall_ms();
	store_value p[RULE_FIELDS + 1];
	rule_fields(r, p);
	p[RULE_FIELDS] = SV_INT(r->created_at);
	return RUN(s,
	           "INSERT INTO alert_rules (name, camera_id, kind, from_min, to_min, min_visits, days, enabled,"
	           " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
	           p, store__int_row, &r->id);
}

int store_alert_rule_get(store *s, int64_t id, store_alert_rule *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_rule };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " RULE_COLUMNS " FROM alert_rules WHERE id = $1", p, store__list_row, &l);
	return store__found_or(rc, (int64_t)l.count, "alert rule", id, err);
}

int store_alert_rule_update(store *s, const store_alert_rule *r, mien_error *err)
{
	int rc = check_rule(r, err);
	if (rc)
		return rc;
	int64_t found = 0;
	store_value p[RULE_FIELDS + 2];
	p[0] = SV_INT(r->id);
	rule_fields(r, p + 1);
	p[RULE_FIELDS + 1] = SV_INT(mien_wall_ms());
	rc = RUN(s,
	         "UPDATE alert_rules SET name = $2, camera_id = $3, kind = $4, from_min = $5, to_min = $6,"
	         " min_visits = $7, days = $8, enabled = $9, updated_at = $10 WHERE id = $1 RETURNING id",
	         p, store__count_row, &found);
	return store__found_or(rc, found, "alert rule", r->id, err);
}

int store_alert_rule_delete(store *s, int64_t id, mien_error *err)
{
	return store__erase_id(s, "DELETE FROM alert_rules WHERE id = $1 RETURNING id", id, "alert rule", err);
}

int store_alert_rule_list(store *s, store_alert_rule *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_rule };
	store_value p[] = { SV_INT((int64_t)max) };
	rc = RUN(s, "SELECT " RULE_COLUMNS " FROM alert_rules ORDER BY id LIMIT $1", p, store__list_row, &l);
	*count = l.count;
	return rc;
}
