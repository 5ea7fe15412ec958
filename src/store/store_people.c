/*
 * store_people.c — people, their enrolled faces, face pictures and the embeddings the gallery loads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/store.h"
#include "store/store_int.h"

/* --- people and faces ------------------------------------------------------------------------------------- */

#define PERSON_COLUMNS                                                   \
	"p.id, p.name, p.note, p.watchlist, p.created_at, p.updated_at," \
	" (SELECT count(*) FROM faces f WHERE f.person_id = p.id)"

static void fill_person(void *item, const store_row *row)
{
	store_person *p = item;
	memset(p, 0, sizeof(*p));
	p->id = store__col_int(row, 0);
	store__copy_text(p->name, sizeof(p->name), store__col_text(row, 1));
	store__copy_text(p->note, sizeof(p->note), store__col_text(row, 2));
	p->watchlist = (int)store__col_int(row, 3);
	p->created_at = store__col_int(row, 4);
	p->updated_at = store__col_int(row, 5);
	p->faces = store__col_int(row, 6);
}

static int check_person(const store_person *p, unsigned fields, mien_error *err)
{
	int rc = MIEN_OK;
	if (fields & STORE_PERSON_NAME)
		rc = store__check_text(p->name, sizeof(p->name), "person name", 1, err);
	if (rc == MIEN_OK && (fields & STORE_PERSON_NOTE))
		rc = store__check_text(p->note, sizeof(p->note), "note", 0, err);
	return rc;
}

int store_person_create(store *s, store_person *p, mien_error *err)
{
	int rc = check_person(p, STORE_PERSON_NAME | STORE_PERSON_NOTE, err);
	if (rc)
		return rc;
	int64_t now = mien_wall_ms();
	store_value v[] = { SV_TEXT(p->name), SV_TEXT(p->note), SV_BOOL(p->watchlist), SV_INT(now), SV_INT(now) };
	rc = RUN(s,
	         "INSERT INTO people (name, note, watchlist, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)"
	         " RETURNING id",
	         v, store__int_row, &p->id);
	if (rc)
		return mien_error_prefix(err, "person %s", p->name);
	p->created_at = p->updated_at = now;
	p->faces = 0;
	return MIEN_OK;
}

static int person_get(store *s, const char *sql, store_value key, store_person *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_person };
	int rc = store__run(s, sql, &key, 1, store__list_row, &l, err);
	if (rc == MIEN_OK && l.count == 0)
		return mien_error_set(err, MIEN_ENOENT, "person not found");
	return rc;
}

int store_person_get(store *s, int64_t id, store_person *out, mien_error *err)
{
	return person_get(s, "SELECT " PERSON_COLUMNS " FROM people p WHERE p.id = $1", SV_INT(id), out, err);
}

int store_person_get_by_name(store *s, const char *name, store_person *out, mien_error *err)
{
	int rc = store__check_text(name, STORE_NAME_MAX, "person name", 1, err);
	if (rc)
		return rc;
	return person_get(s, "SELECT " PERSON_COLUMNS " FROM people p WHERE p.name = $1", SV_TEXT(name), out, err);
}

int store_person_update(store *s, const store_person *p, unsigned fields, mien_error *err)
{
	int rc = check_person(p, fields, err);
	if (rc)
		return rc;
	/* One statement: each field keeps its value unless its flag is set. */
	int64_t found = 0;
	store_value v[] = { SV_INT(p->id),
		            SV_INT(mien_wall_ms()),
		            SV_BOOL(fields & STORE_PERSON_NAME),
		            SV_TEXT(p->name),
		            SV_BOOL(fields & STORE_PERSON_NOTE),
		            SV_TEXT(p->note),
		            SV_BOOL(fields & STORE_PERSON_WATCHLIST),
		            SV_BOOL(p->watchlist) };
	rc = RUN(s,
	         "UPDATE people SET updated_at = $2,"
	         " name = CASE WHEN $3 THEN $4 ELSE name END,"
	         " note = CASE WHEN $5 THEN $6 ELSE note END,"
	         " watchlist = CASE WHEN $7 THEN $8 ELSE watchlist END"
	         " WHERE id = $1 RETURNING id",
	         v, store__count_row, &found);
	return store__found_or(rc, found, "person", p->id, err);
}

int store_person_delete(store *s, int64_t id, mien_error *err)
{
	return store__erase_id(s, "DELETE FROM people WHERE id = $1 RETURNING id", id, "person", err);
}

int store_person_list(store *s, const char *search, int64_t after_id, store_person *out, size_t max, size_t *count,
                      mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	char pattern[2 * STORE_NAME_MAX + 8];
	if ((rc = store__like_pattern(search ? search : "", pattern, sizeof(pattern), err)))
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_person };
	store_value p[] = { SV_INT(after_id), SV_TEXT(pattern), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT " PERSON_COLUMNS " FROM people p WHERE p.id > $1 AND lower(p.name) LIKE $2 ESCAPE '\\'"
	         " ORDER BY p.id LIMIT $3",
	         p, store__list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}

int store_face_add(store *s, int64_t person_id, const char *model, const float *embedding, int dim, float quality,
                   const uint8_t *thumbnail, size_t thumbnail_len, int64_t *face_id, mien_error *err)
{
	int rc = store__check_text(model, STORE_MODEL_MAX, "model name", 1, err);
	if (rc)
		return rc;
	if (!embedding || dim < 1 || dim > 4096)
		return mien_error_set(err, MIEN_EINVAL, "face: embedding of %d values", dim);
	if (thumbnail && thumbnail_len > STORE_IMAGE_MAX)
		return mien_error_set(err, MIEN_ETOOBIG, "face: thumbnail of %zu bytes", thumbnail_len);
	store__txn t;
	if ((rc = store__txn_begin(s, &t, err)))
		return rc;
	/* Embeddings are stored as little-endian float32, the layout of every machine mien runs on. */
	store_value p[] = { SV_INT(person_id), SV_TEXT(model),
		            SV_INT(dim),       SV_BLOB(embedding, (size_t)dim * sizeof(float)),
		            SV_REAL(quality),  SV_INT(mien_wall_ms()) };
	rc = TX(&t,
	        "INSERT INTO faces (person_id, model, dim, embedding, quality, created_at) VALUES ($1, $2, $3, $4, $5, "
	        "$6)"
	        " RETURNING id",
	        p, store__int_row, face_id);
	if (rc == MIEN_OK && thumbnail) {
		store_value q[] = { SV_INT(*face_id), SV_BLOB(thumbnail, thumbnail_len) };
		rc = TX(&t, "INSERT INTO face_images (face_id, jpeg) VALUES ($1, $2)", q, NULL, NULL);
	}
	if (rc == MIEN_OK) {
		store_value q[] = { SV_INT(person_id), SV_INT(mien_wall_ms()) };
		rc = TX(&t, "UPDATE people SET updated_at = $2 WHERE id = $1", q, NULL, NULL);
	}
	return store__txn_end(&t, rc, err);
}

int store_face_delete(store *s, int64_t person_id, int64_t face_id, mien_error *err)
{
	int64_t erased = 0;
	store_value p[] = { SV_INT(face_id), SV_INT(person_id) };
	int rc = store__erase(s, "DELETE FROM faces WHERE id = $1 AND person_id = $2 RETURNING id", p, 2, &erased, err);
	return store__found_or(rc, erased, "face", face_id, err);
}

static void fill_face(void *item, const store_row *row)
{
	store_face *f = item;
	memset(f, 0, sizeof(*f));
	f->id = store__col_int(row, 0);
	f->person_id = store__col_int(row, 1);
	store__copy_text(f->model, sizeof(f->model), store__col_text(row, 2));
	f->dim = (int)store__col_int(row, 3);
	f->quality = (float)store__col_real(row, 4);
	f->created_at = store__col_int(row, 5);
}

int store_face_list(store *s, int64_t person_id, store_face *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_face };
	store_value p[] = { SV_INT(person_id), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT id, person_id, model, dim, quality, created_at FROM faces WHERE person_id = $1 ORDER BY id"
	         " LIMIT $2",
	         p, store__list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}

int store_face_list_other_model(store *s, const char *model, int64_t after_id, store_face *out, size_t max,
                                size_t *count, mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_face };
	store_value p[] = { SV_TEXT(model), SV_INT(after_id), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT id, person_id, model, dim, quality, created_at FROM faces WHERE model <> $1 AND id > $2"
	         " ORDER BY id LIMIT $3",
	         p, store__list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}

typedef struct model_counts {
	int64_t same, other;
} model_counts;

static int model_counts_row(void *ctx, const store_row *row)
{
	model_counts *c = ctx;
	c->same = store__col_int(row, 0);
	c->other = store__col_int(row, 1);
	return 0;
}

int store_face_count_models(store *s, const char *model, int64_t *same, int64_t *other, mien_error *err)
{
	model_counts c = { 0, 0 };
	store_value p[] = { SV_TEXT(model) };
	int rc = RUN(s,
	             "SELECT COALESCE(SUM(CASE WHEN model = $1 THEN 1 ELSE 0 END), 0),"
	             " COALESCE(SUM(CASE WHEN model <> $1 THEN 1 ELSE 0 END), 0) FROM faces",
	             p, model_counts_row, &c);
	*same = c.same;
	*other = c.other;
	return rc;
}

int store_face_set_embedding(store *s, int64_t face_id, const char *model, const float *embedding, int dim,
                             float quality, mien_error *err)
{
	int rc = store__check_text(model, STORE_MODEL_MAX, "model name", 1, err);
	if (rc)
		return rc;
	if (!embedding || dim < 1 || dim > 4096)
		return mien_error_set(err, MIEN_EINVAL, "face: embedding of %d values", dim);
	int64_t found = 0;
	store_value p[] = { SV_INT(face_id), SV_TEXT(model), SV_INT(dim),
		            SV_BLOB(embedding, (size_t)dim * sizeof(float)), SV_REAL(quality) };
	rc = RUN(s, "UPDATE faces SET model = $2, dim = $3, embedding = $4, quality = $5 WHERE id = $1 RETURNING id", p,
	         store__count_row, &found);
	return store__found_or(rc, found, "face", face_id, err);
}

int store_face_thumbnail(store *s, int64_t face_id, uint8_t **jpeg, size_t *len, mien_error *err)
{
	return store__read_blob(s, "SELECT jpeg FROM face_images WHERE face_id = $1", face_id, jpeg, len, "face", err);
}

/* Negatives ride in the gallery as faces of negative ids: face -n of person -p is negative n of person p
 * (gallery_identify reads them so), and the gallery's loading and sync see them like any other face. */
#define UNION_NEGATIVES " UNION ALL SELECT -id, -person_id, dim, embedding FROM negatives WHERE model = $1"

int store_embeddings_each(store *s, const char *model, store_embedding_fn fn, void *ctx, mien_error *err)
{
	if (!model)
		return store__embeddings_run(s, "SELECT id, person_id, dim, embedding FROM faces ORDER BY id", NULL, 0,
		                             0, fn, ctx, err);
	store_value p[] = { SV_TEXT(model) };
	return store__embeddings_run(
	        s, "SELECT id, person_id, dim, embedding FROM faces WHERE model = $1" UNION_NEGATIVES " ORDER BY 1", p,
	        1, 0, fn, ctx, err);
}

int store_embeddings_range(store *s, const char *model, int64_t from_id, int64_t to_id, store_embedding_fn fn,
                           void *ctx, mien_error *err)
{
	store_value p[] = { SV_TEXT(model), SV_INT(from_id), SV_INT(to_id) };
	return store__embeddings_run(s,
	                             "SELECT id, person_id, dim, embedding FROM faces WHERE model = $1 AND id >= $2"
	                             " AND id <= $3 UNION ALL SELECT -id, -person_id, dim, embedding FROM negatives"
	                             " WHERE model = $1 AND -id >= $2 AND -id <= $3 ORDER BY 1",
	                             p, 3, 0, fn, ctx, err);
}

int store_face_signature_get(store *s, const char *model, store_face_signature *out, mien_error *err)
{
	memset(out, 0, sizeof(*out));
	store_value p[] = { SV_TEXT(model) };
	/* PostgreSQL's SUM(bigint) is numeric: cast back (the sum of up to 16 M ids fits easily). */
	return RUN(s,
	           "SELECT COUNT(*), COALESCE(MAX(CASE WHEN id > 0 THEN id ELSE 0 END), 0),"
	           " CAST(COALESCE(SUM(id), 0) AS BIGINT) FROM (SELECT id FROM faces WHERE model = $1"
	           " UNION ALL SELECT -id FROM negatives WHERE model = $1) x",
	           p, store__signature_row, out);
}

int store_face_ids(store *s, const char *model, int64_t **ids, size_t *count, mien_error *err)
{
	store_value p[] = { SV_TEXT(model) };
	return store__ids_run(
	        s,
	        "SELECT id FROM faces WHERE model = $1 UNION ALL SELECT -id FROM negatives WHERE model = $1"
	        " ORDER BY 1",
	        p, 1, ids, count, err);
}
