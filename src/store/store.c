/*
 * store.c — the connection pool, the helpers every record file shares, and the migrations. Each kind of record has
 * its own file (store_users.c, store_people.c, store_cameras.c, store_events.c, store_alerts.c, store_settings.c),
 * every statement written once for both backends.
 *
 * Statements use $N parameters and only SQL that SQLite (3.35+) and PostgreSQL (11+) read alike; the few
 * words of DDL that differ come from the backend (store_int.h).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/utf8.h"
#include "store/store.h"
#include "store/store_int.h"

const char *const store_expression_names[STORE_EXPRESSIONS] = { "neutral", "happy",     "sad",      "angry",
	                                                        "fearful", "disgusted", "surprised" };

/* --- the pool ------------------------------------------------------------------------------------------ */

/* Borrows a connection, opening or replacing it when needed. Waits up to POOL_WAIT_MS for a free one. */
static int borrow(store *s, int *slot, mien_error *err)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += POOL_WAIT_MS / 1000;
	pthread_mutex_lock(&s->lock);
	int i = -1;
	for (;;) {
		for (int k = 0; k < s->size; k++)
			if (!s->busy[k]) {
				i = k;
				break;
			}
		if (i >= 0)
			break;
		if (pthread_cond_timedwait(&s->freed, &s->lock, &deadline)) {
			pthread_mutex_unlock(&s->lock);
			return mien_error_set(err, MIEN_EUNAVAILABLE, "%s: every connection busy for %d s", s->be->name,
			                      POOL_WAIT_MS / 1000);
		}
	}
	s->busy[i] = 1;
	pthread_mutex_unlock(&s->lock);
	/* The slot is ours now: (re)connect outside the lock, since a dead server makes that slow. */
	if (s->conns[i] && !s->be->usable(s->conns[i])) {
		MIEN_LOG_INFO_("store", "%s: replacing a broken connection", s->be->name);
		s->be->disconnect(&s->conns[i]);
	}
	if (!s->conns[i]) {
		int rc = s->be->connect(s->url, &s->conns[i], err);
		if (rc) {
			pthread_mutex_lock(&s->lock);
			s->busy[i] = 0;
			pthread_cond_signal(&s->freed);
			pthread_mutex_unlock(&s->lock);
			return rc;
		}
	}
	*slot = i;
	return MIEN_OK;
}

static void give_back(store *s, int slot)
{
	pthread_mutex_lock(&s->lock);
	s->busy[slot] = 0;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

/* One statement on a borrowed connection. */
int store__run(store *s, const char *sql, const store_value *params, int n, store_row_fn fn, void *ctx, mien_error *err)
{
	int slot;
	int rc = borrow(s, &slot, err);
	if (rc)
		return rc;
	rc = s->be->exec(s->conns[slot], sql, params, n, fn, ctx, err);
	give_back(s, slot);
	return rc;
}

int store__txn_begin(store *s, store__txn *t, mien_error *err)
{
	t->s = s;
	int rc = borrow(s, &t->slot, err);
	if (rc)
		return rc;
	t->conn = s->conns[t->slot];
	rc = s->be->exec(t->conn, s->be->begin, NULL, 0, NULL, NULL, err);
	if (rc)
		give_back(s, t->slot);
	return rc;
}

int store__txn_exec(store__txn *t, const char *sql, const store_value *params, int n, store_row_fn fn, void *ctx,
                    mien_error *err)
{
	return t->s->be->exec(t->conn, sql, params, n, fn, ctx, err);
}

/* Commits when rc is MIEN_OK, rolls back otherwise; returns rc or the commit's failure. */
int store__txn_end(store__txn *t, int rc, mien_error *err)
{
	if (rc == MIEN_OK) {
		rc = t->s->be->exec(t->conn, "COMMIT", NULL, 0, NULL, NULL, err);
	} else {
		mien_error ignored;
		t->s->be->exec(t->conn, "ROLLBACK", NULL, 0, NULL, NULL, &ignored);
	}
	give_back(t->s, t->slot);
	return rc;
}

int store_open(const char *url, int connections, store **out, mien_error *err)
{
	*out = NULL;
	const store_driver *be = NULL;
	if (!url)
		return mien_error_set(err, MIEN_EINVAL, "store: no database URL");
	if (strncmp(url, "sqlite:", 7) == 0)
		be = &store__sqlite;
	else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		be = &store__pg;
	else
		return mien_error_set(
		        err, MIEN_EINVAL,
		        "store: MIEN_DB must start with sqlite: or postgresql:// (got a URL of another kind)");
	if (strlen(url) >= URL_MAX)
		return mien_error_set(err, MIEN_ERANGE, "store: database URL too long");
	if (connections == 0)
		connections = POOL_DEFAULT;
	if (connections < 1 || connections > POOL_MAX)
		return mien_error_set(err, MIEN_ERANGE, "store: %d connections (1..%d)", connections, POOL_MAX);
	store *s = calloc(1, sizeof(*s));
	if (!s)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	s->be = be;
	s->size = connections;
	snprintf(s->url, sizeof(s->url), "%s", url);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	/* Open one connection now so that a wrong URL or a dead server shows at once. */
	int rc = be->connect(url, &s->conns[0], err);
	if (rc) {
		store_close(&s);
		return rc;
	}
	*out = s;
	return MIEN_OK;
}

void store_close(store **s)
{
	if (!s || !*s)
		return;
	for (int i = 0; i < (*s)->size; i++)
		(*s)->be->disconnect(&(*s)->conns[i]);
	pthread_mutex_destroy(&(*s)->lock);
	pthread_cond_destroy(&(*s)->freed);
	free(*s);
	*s = NULL;
}

const char *store_backend(const store *s)
{
	return s->be->name;
}

int store__disk_size(store *s, int64_t *bytes, int64_t *free_bytes, mien_error *err)
{
	int slot;
	int rc = borrow(s, &slot, err);
	if (rc)
		return rc;
	rc = s->be->size(s->conns[slot], bytes, free_bytes, err);
	give_back(s, slot);
	return rc;
}

/* --- small helpers ------------------------------------------------------------------------------------- */

int store__check_text(const char *text, size_t cap, const char *what, int required, mien_error *err)
{
	if (!text)
		return required ? mien_error_set(err, MIEN_EINVAL, "%s is missing", what) : MIEN_OK;
	size_t n = strlen(text);
	if (required && n == 0)
		return mien_error_set(err, MIEN_EINVAL, "%s is empty", what);
	if (n >= cap)
		return mien_error_set(err, MIEN_ERANGE, "%s is %zu bytes (at most %zu)", what, n, cap - 1);
	return MIEN_OK;
}

void store__copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

int store__count_row(void *ctx, const store_row *row)
{
	(void)row;
	(*(int64_t *)ctx)++;
	return MIEN_OK;
}

int store__int_row(void *ctx, const store_row *row)
{
	*(int64_t *)ctx = store__col_int(row, 0);
	return MIEN_OK;
}

/* For a statement ending in RETURNING id: MIEN_ENOENT when it touched nothing. */
int store__found_or(int rc, int64_t found, const char *what, int64_t id, mien_error *err)
{
	if (rc == MIEN_OK && found == 0)
		return mien_error_set(err, MIEN_ENOENT, "%s %lld not found", what, (long long)id);
	return rc;
}

int store__check_max(size_t max, mien_error *err)
{
	if (max == 0 || max > STORE_LIST_MAX)
		return mien_error_set(err, MIEN_ERANGE, "list of %zu rows (1..%d)", max, STORE_LIST_MAX);
	return MIEN_OK;
}

int store__signature_row(void *ctx, const store_row *row)
{
	store_face_signature *sig = ctx;
	sig->count = store__col_int(row, 0);
	sig->max_id = store__col_int(row, 1);
	sig->id_sum = store__col_int(row, 2);
	return MIEN_OK;
}

int store__list_row(void *ctx, const store_row *row)
{
	store__list *l = ctx;
	if (l->count >= l->max)
		return MIEN_OK;
	l->fill((char *)l->out + l->count * l->size, row);
	l->count++;
	return MIEN_OK;
}

/*
 * An erasure: one DELETE ... RETURNING in its own transaction (the cascades take the dependent rows — faces,
 * face_images, events, event_images, alerts — in it), the rows it removed counted in *erased; then, when it
 * removed any, the backend scrubs its side files (SQLite's WAL) so no copy of them remains.
 */
int store__erase(store *s, const char *sql, const store_value *params, int n, int64_t *erased, mien_error *err)
{
	*erased = 0;
	store__txn t;
	int rc = store__txn_begin(s, &t, err);
	if (rc)
		return rc;
	rc = store__txn_exec(&t, sql, params, n, store__count_row, erased, err);
	if ((rc = store__txn_end(&t, rc, err))) {
		*erased = 0;
		return rc;
	}
	int slot;
	mien_error ignored;
	if (*erased > 0 && borrow(s, &slot, &ignored) == MIEN_OK) {
		s->be->after_erase(s->conns[slot]);
		give_back(s, slot);
	}
	return MIEN_OK;
}

/* Erases the one row with id `id`; MIEN_ENOENT when there is none. */
int store__erase_id(store *s, const char *sql, int64_t id, const char *what, mien_error *err)
{
	int64_t erased = 0;
	store_value p[] = { SV_INT(id) };
	int rc = store__erase(s, sql, p, 1, &erased, err);
	return store__found_or(rc, erased, what, id, err);
}

/* "%text%" for LIKE, with the pattern characters of `text` escaped by '\'. */
int store__like_pattern(const char *text, char *out, size_t cap, mien_error *err)
{
	size_t n = 0;
	out[n++] = '%';
	for (const char *p = text; *p; p++) {
		if (n + 4 >= cap)
			return mien_error_set(err, MIEN_ERANGE, "search text too long");
		if (*p == '%' || *p == '_' || *p == '\\')
			out[n++] = '\\';
		out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n++] = '%';
	out[n] = '\0';
	return MIEN_OK;
}

typedef struct blob_ctx {
	uint8_t *bytes;
	size_t len;
	int found;
	mien_error *err;
} blob_ctx;

static int blob_row(void *ctx, const store_row *row)
{
	blob_ctx *b = ctx;
	size_t len;
	const void *p = store__col_blob(row, 0, &len);
	if (!p)
		return MIEN_OK;
	b->bytes = malloc(len ? len : 1);
	if (!b->bytes)
		return mien_error_set(b->err, MIEN_ENOMEM, "out of memory");
	memcpy(b->bytes, p, len);
	b->len = len;
	b->found = 1;
	return MIEN_OK;
}

int store__read_blob(store *s, const char *sql, int64_t id, uint8_t **bytes, size_t *len, const char *what,
                     mien_error *err)
{
	*bytes = NULL;
	*len = 0;
	blob_ctx b = { NULL, 0, 0, err };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, sql, p, blob_row, &b);
	if (rc) {
		free(b.bytes);
		return rc;
	}
	if (!b.found)
		return mien_error_set(err, MIEN_ENOENT, "%s %lld has no picture", what, (long long)id);
	*bytes = b.bytes;
	*len = b.len;
	return MIEN_OK;
}

int store__text_row(void *ctx, const store_row *row)
{
	store__text *t = ctx;
	const char *v = store__col_text(row, 0);
	if (strlen(v) >= t->cap)
		return mien_error_set(t->err, MIEN_ERANGE, "setting value longer than %zu bytes", t->cap - 1);
	memcpy(t->out, v, strlen(v) + 1);
	t->found = 1;
	return MIEN_OK;
}

/* --- embedding walks, signatures and id lists (the gallery's sources) ---------------------------------------- */

#define EMBEDDING_DIM_MAX 4096
#define IDS_MAX           (16 * 1024 * 1024)

typedef struct embedding_ctx {
	store_embedding_fn fn;
	void *ctx;
	int skip_damaged;
	float *buffer;
	mien_error *err;
} embedding_ctx;

static int embedding_row(void *ctx, const store_row *row)
{
	embedding_ctx *e = ctx;
	int64_t dim = store__col_int(row, 2);
	size_t len;
	const void *blob = store__col_blob(row, 3, &len);
	if (dim < 1 || dim > EMBEDDING_DIM_MAX || !blob || len != (size_t)dim * sizeof(float)) {
		if (e->skip_damaged)
			return MIEN_OK;
		return mien_error_set(e->err, MIEN_EFORMAT, "row %lld: stored embedding of %zu bytes for %lld values",
		                      (long long)store__col_int(row, 0), len, (long long)dim);
	}
	/* Copy: the blob may not be aligned for floats. */
	memcpy(e->buffer, blob, len);
	return e->fn(e->ctx, store__col_int(row, 0), store__col_int(row, 1), e->buffer, (int)dim);
}

int store__embeddings_run(store *s, const char *sql, const store_value *params, int n, int skip_damaged,
                          store_embedding_fn fn, void *ctx, mien_error *err)
{
	embedding_ctx e = { fn, ctx, skip_damaged, malloc(EMBEDDING_DIM_MAX * sizeof(float)), err };
	if (!e.buffer)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	int rc = store__run(s, sql, params, n, embedding_row, &e, err);
	free(e.buffer);
	return rc;
}

typedef struct ids_ctx {
	int64_t *ids;
	size_t count, cap;
	mien_error *err;
} ids_ctx;

static int id_row(void *ctx, const store_row *row)
{
	ids_ctx *l = ctx;
	if (l->count == l->cap) {
		if (l->cap >= IDS_MAX)
			return mien_error_set(l->err, MIEN_ETOOBIG, "more than %d stored rows", IDS_MAX);
		size_t cap = l->cap ? l->cap * 2 : 1024;
		int64_t *grown = realloc(l->ids, cap * sizeof(*grown));
		if (!grown)
			return mien_error_set(l->err, MIEN_ENOMEM, "out of memory");
		l->ids = grown;
		l->cap = cap;
	}
	l->ids[l->count++] = store__col_int(row, 0);
	return MIEN_OK;
}

int store__ids_run(store *s, const char *sql, const store_value *params, int n, int64_t **ids, size_t *count,
                   mien_error *err)
{
	*ids = NULL;
	*count = 0;
	ids_ctx l = { NULL, 0, 0, err };
	int rc = store__run(s, sql, params, n, id_row, &l, err);
	if (rc) {
		free(l.ids);
		return rc;
	}
	*ids = l.ids;
	*count = l.count;
	return MIEN_OK;
}

/* --- filters -------------------------------------------------------------------------------------------- */

static pthread_key_t where_key;
static pthread_once_t where_once = PTHREAD_ONCE_INIT;

static void where_key_create(void)
{
	pthread_key_create(&where_key, free);
}

/* This thread's buffers, reset; NULL when out of memory. */
store__where_buffers *store__where_begin(void)
{
	pthread_once(&where_once, where_key_create);
	store__where_buffers *b = pthread_getspecific(where_key);
	if (!b) {
		b = malloc(sizeof(*b));
		if (!b || pthread_setspecific(where_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	b->w.len = 0;
	b->w.n = 0;
	b->w.overflow = 0;
	b->w.sql[0] = '\0';
	return b;
}

void store__where_add(store__where *w, const char *fragment, const store_value *value)
{
	/* A fragment with a parameter is short ("e.camera_id = $%d"); one without (a camera list) is copied as it is,
	 * however long, as long as it fits the statement. */
	char piece[256];
	const char *text = fragment;
	int n;
	if (value) {
		n = snprintf(piece, sizeof(piece), fragment, w->n + 1);
		text = piece;
		if (n >= (int)sizeof(piece))
			n = -1;
	} else {
		n = (int)strlen(fragment);
	}
	if (n < 0 || w->len + (size_t)n + 8 >= sizeof(w->sql) || w->n >= (int)MIEN_ARRAY_LEN(w->params)) {
		w->overflow = 1;
		return;
	}
	memcpy(w->sql + w->len, w->len ? " AND " : " WHERE ", w->len ? 5 : 7);
	w->len += w->len ? 5 : 7;
	memcpy(w->sql + w->len, text, (size_t)n + 1);
	w->len += (size_t)n;
	if (value)
		w->params[w->n++] = *value;
}

/* "col IN ($k, $k+1, ...)" for a camera list; an empty list matches nothing. */
void store__where_in(store__where *w, const char *column, const int64_t *ids, int n)
{
	char piece[CAMERA_PARAMS * 8 + 64];
	size_t len = (size_t)snprintf(piece, sizeof(piece), "%s IN (", column);
	if (n == 0) {
		store__where_add(w, "1 = 0", NULL);
		return;
	}
	if (n > CAMERA_PARAMS || w->n + n > (int)MIEN_ARRAY_LEN(w->params)) {
		w->overflow = 1;
		return;
	}
	for (int i = 0; i < n; i++) {
		w->params[w->n] = SV_INT(ids[i]);
		w->n++;
		len += (size_t)snprintf(piece + len, sizeof(piece) - len, i ? ", $%d" : "$%d", w->n);
	}
	snprintf(piece + len, sizeof(piece) - len, ")");
	store__where_add(w, piece, NULL);
}

/* --- migrations ------------------------------------------------------------------------------------------ */

/* Each migration is a list of statements; @ID@ and @BLOB@ become the backend's words. Migrations only ever
 * grow at the end; a released one is never edited. */
static const char *const migration_1[] = {
	"CREATE TABLE cameras (id @ID@, name TEXT NOT NULL UNIQUE, url TEXT NOT NULL,"
	" enabled BOOLEAN NOT NULL DEFAULT TRUE, analysis_fps DOUBLE PRECISION NOT NULL DEFAULT 5,"
	" alert_unknown BOOLEAN NOT NULL DEFAULT FALSE, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
	"CREATE TABLE users (id @ID@, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
	" role TEXT NOT NULL CHECK (role IN ('recognition', 'analyst', 'admin')),"
	" disabled BOOLEAN NOT NULL DEFAULT FALSE, all_cameras BOOLEAN NOT NULL DEFAULT TRUE,"
	" created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
	"CREATE TABLE user_cameras (user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" camera_id BIGINT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE, PRIMARY KEY (user_id, camera_id))",
	"CREATE TABLE tokens (hash @BLOB@ PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
	"CREATE INDEX tokens_user ON tokens (user_id)",
	"CREATE TABLE people (id @ID@, name TEXT NOT NULL UNIQUE, note TEXT NOT NULL DEFAULT '',"
	" watchlist BOOLEAN NOT NULL DEFAULT FALSE, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
	"CREATE TABLE faces (id @ID@, person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
	" model TEXT NOT NULL, dim BIGINT NOT NULL, embedding @BLOB@ NOT NULL,"
	" quality DOUBLE PRECISION NOT NULL DEFAULT 0, created_at BIGINT NOT NULL)",
	"CREATE INDEX faces_person ON faces (person_id)",
	"CREATE INDEX faces_model ON faces (model, id)",
	"CREATE TABLE face_images (face_id BIGINT PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,"
	" jpeg @BLOB@ NOT NULL)",
	"CREATE TABLE events (id @ID@, camera_id BIGINT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,"
	" track_id BIGINT NOT NULL, person_id BIGINT REFERENCES people(id) ON DELETE CASCADE,"
	" similarity DOUBLE PRECISION NOT NULL DEFAULT 0, started_at BIGINT NOT NULL, ended_at BIGINT,"
	" dominant_expression TEXT NOT NULL DEFAULT '',"
	" expr_neutral DOUBLE PRECISION NOT NULL DEFAULT 0, expr_happy DOUBLE PRECISION NOT NULL DEFAULT 0,"
	" expr_sad DOUBLE PRECISION NOT NULL DEFAULT 0, expr_angry DOUBLE PRECISION NOT NULL DEFAULT 0,"
	" expr_fearful DOUBLE PRECISION NOT NULL DEFAULT 0, expr_disgusted DOUBLE PRECISION NOT NULL DEFAULT 0,"
	" expr_surprised DOUBLE PRECISION NOT NULL DEFAULT 0,"
	" box_x DOUBLE PRECISION NOT NULL DEFAULT 0, box_y DOUBLE PRECISION NOT NULL DEFAULT 0,"
	" box_w DOUBLE PRECISION NOT NULL DEFAULT 0, box_h DOUBLE PRECISION NOT NULL DEFAULT 0,"
	" quality DOUBLE PRECISION NOT NULL DEFAULT 0, alert BOOLEAN NOT NULL DEFAULT FALSE)",
	"CREATE INDEX events_camera ON events (camera_id, id)",
	"CREATE INDEX events_person ON events (person_id, id)",
	"CREATE INDEX events_started ON events (started_at)",
	"CREATE TABLE event_images (event_id BIGINT PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,"
	" snapshot @BLOB@, thumbnail @BLOB@)",
	"CREATE TABLE alerts (id @ID@, event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
	" camera_id BIGINT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,"
	" person_id BIGINT REFERENCES people(id) ON DELETE CASCADE, kind TEXT NOT NULL,"
	" created_at BIGINT NOT NULL, acked_at BIGINT, acked_by BIGINT REFERENCES users(id) ON DELETE SET NULL)",
	"CREATE INDEX alerts_event ON alerts (event_id)",
	"CREATE INDEX alerts_camera ON alerts (camera_id, id)",
	"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL)",
	"CREATE TABLE audit (id @ID@, at BIGINT NOT NULL, user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,"
	" username TEXT NOT NULL DEFAULT '', action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '',"
	" detail TEXT NOT NULL DEFAULT '', address TEXT NOT NULL DEFAULT '')",
	NULL,
};

/* Version 2: which worker runs which camera (expiring leases), and which nodes are alive. */
static const char *const migration_2[] = {
	"CREATE TABLE camera_leases (camera_id BIGINT PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,"
	" node TEXT NOT NULL, expires_at BIGINT NOT NULL)",
	"CREATE TABLE nodes (node TEXT PRIMARY KEY, role TEXT NOT NULL, seen_at BIGINT NOT NULL)",
	NULL,
};

/* Version 3: an alert covers every visit of its person (or of unknown faces) at its camera during the alert
 * cooldown: how many, and when the last one came. */
static const char *const migration_3[] = {
	"ALTER TABLE alerts ADD COLUMN visit_count BIGINT NOT NULL DEFAULT 1",
	"ALTER TABLE alerts ADD COLUMN last_at BIGINT NOT NULL DEFAULT 0",
	"UPDATE alerts SET last_at = created_at",
	"CREATE INDEX alerts_camera_person ON alerts (camera_id, person_id, id)",
	NULL,
};

/* Version 4: the size of the frame an event's box is in (the snapshot may be stored smaller), so that the
 * dashboard can draw the box on it; 0 for older events. */
static const char *const migration_4[] = {
	"ALTER TABLE events ADD COLUMN frame_w BIGINT NOT NULL DEFAULT 0",
	"ALTER TABLE events ADD COLUMN frame_h BIGINT NOT NULL DEFAULT 0",
	NULL,
};

/* Version 5: unknown visitors grouped into identities (the sum of their faces' normalised embeddings and how many,
 * for average linkage: face/cluster.h), each event's face embedding (for grouping and face search), corrections
 * of recognition ("this is P", "not P") with the negatives they leave, and alert rules for unknown faces. */
static const char *const migration_5[] = {
	"CREATE TABLE unknowns (id @ID@, model TEXT NOT NULL, dim BIGINT NOT NULL, sum @BLOB@ NOT NULL,"
	" members BIGINT NOT NULL, visits BIGINT NOT NULL DEFAULT 0, first_seen BIGINT NOT NULL,"
	" last_seen BIGINT NOT NULL, dismissed BOOLEAN NOT NULL DEFAULT FALSE, created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL)",
	"CREATE INDEX unknowns_visits ON unknowns (visits, id)",
	"ALTER TABLE events ADD COLUMN unknown_id BIGINT REFERENCES unknowns(id) ON DELETE SET NULL",
	"ALTER TABLE events ADD COLUMN embedding_model TEXT NOT NULL DEFAULT ''",
	"ALTER TABLE events ADD COLUMN embedding @BLOB@",
	"CREATE INDEX events_unknown ON events (unknown_id, id)",
	"CREATE TABLE negatives (id @ID@, person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
	" event_id BIGINT REFERENCES events(id) ON DELETE SET NULL, model TEXT NOT NULL, dim BIGINT NOT NULL,"
	" embedding @BLOB@ NOT NULL, created_at BIGINT NOT NULL)",
	"CREATE INDEX negatives_person ON negatives (person_id)",
	"CREATE TABLE corrections (id @ID@, event_id BIGINT REFERENCES events(id) ON DELETE SET NULL,"
	" person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
	" verdict TEXT NOT NULL CHECK (verdict IN ('is', 'not')), previous_person_id BIGINT,"
	" previous_unknown_id BIGINT, previous_similarity DOUBLE PRECISION NOT NULL DEFAULT 0,"
	" face_id BIGINT REFERENCES faces(id) ON DELETE SET NULL,"
	" negative_id BIGINT REFERENCES negatives(id) ON DELETE SET NULL,"
	" user_id BIGINT REFERENCES users(id) ON DELETE SET NULL, username TEXT NOT NULL DEFAULT '',"
	" created_at BIGINT NOT NULL, undone_at BIGINT)",
	"CREATE INDEX corrections_person ON corrections (person_id, id)",
	"CREATE TABLE alert_rules (id @ID@, name TEXT NOT NULL DEFAULT '',"
	" camera_id BIGINT REFERENCES cameras(id) ON DELETE CASCADE,"
	" kind TEXT NOT NULL CHECK (kind IN ('unknown', 'repeat_unknown')), from_min BIGINT, to_min BIGINT,"
	" min_visits BIGINT NOT NULL DEFAULT 1, days BIGINT NOT NULL DEFAULT 1,"
	" enabled BOOLEAN NOT NULL DEFAULT TRUE, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
	"ALTER TABLE alerts ADD COLUMN rule_id BIGINT REFERENCES alert_rules(id) ON DELETE SET NULL",
	NULL,
};

/* Version 6: webhooks (bus/notify.h) and their delivery logs, bounded per webhook. */
static const char *const migration_6[] = {
	"CREATE TABLE webhooks (id @ID@, name TEXT NOT NULL DEFAULT '', url TEXT NOT NULL,"
	" secret TEXT NOT NULL DEFAULT '', kinds TEXT NOT NULL, rules TEXT NOT NULL DEFAULT '',"
	" enabled BOOLEAN NOT NULL DEFAULT TRUE, expression BOOLEAN NOT NULL DEFAULT FALSE,"
	" created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
	"CREATE TABLE webhook_deliveries (id @ID@,"
	" webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE, delivery TEXT NOT NULL,"
	" kind TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '', status TEXT NOT NULL,"
	" attempts BIGINT NOT NULL DEFAULT 0, http_status BIGINT NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',"
	" duration_ms BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
	" next_at BIGINT)",
	"CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id)",
	NULL,
};

/* Version 7: the face search's index over event faces (store_event_face_signature, store_event_face_ids) reads
 * the finished events that kept a face of one embedder, by id: without this index every poll of its sync would
 * scan the events table. Partial, so open visits (no final face yet) cost it nothing. */
static const char *const migration_7[] = {
	"CREATE INDEX events_face ON events (embedding_model, id) WHERE ended_at IS NOT NULL",
	NULL,
};

static const char *const *const migrations[] = { migration_1, migration_2, migration_3, migration_4,
	                                         migration_5, migration_6, migration_7 };

_Static_assert(MIEN_ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION, "one migration per schema version");

/* Copies `sql` with the backend's words in place of @ID@ and @BLOB@. Caller frees. */
static char *dialect(const store_driver *be, const char *sql)
{
	size_t cap = strlen(sql) * 2 + 256;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t n = 0;
	while (*sql) {
		const char *word = NULL;
		if (strncmp(sql, "@ID@", 4) == 0)
			word = be->ddl_id;
		else if (strncmp(sql, "@BLOB@", 6) == 0)
			word = be->ddl_blob;
		if (word) {
			size_t w = strlen(word);
			if (n + w + 1 >= cap) {
				free(out);
				return NULL;
			}
			memcpy(out + n, word, w);
			n += w;
			sql += (*sql == '@' && sql[1] == 'I') ? 4 : 6;
		} else {
			if (n + 2 >= cap) {
				free(out);
				return NULL;
			}
			out[n++] = *sql++;
		}
	}
	out[n] = '\0';
	return out;
}

static int version_row(void *ctx, const store_row *row)
{
	*(int *)ctx = (int)store__col_int(row, 0);
	return MIEN_OK;
}

static int read_version(store__txn *t, int *version, mien_error *err)
{
	*version = 0;
	return store__txn_exec(t, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, version_row,
	                       version, err);
}

int store_migrate(store *s, int *applied, mien_error *err)
{
	if (applied)
		*applied = 0;
	int rc = store__run(s,
	                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
	                    " applied_at BIGINT NOT NULL)",
	                    NULL, 0, NULL, NULL, err);
	if (rc == MIEN_ECONFLICT) /* another process created it at the same moment (PostgreSQL) */
		rc = MIEN_OK;
	if (rc)
		return mien_error_prefix(err, "migrate");
	for (;;) {
		store__txn t;
		if ((rc = store__txn_begin(s, &t, err)))
			return mien_error_prefix(err, "migrate");
		if (s->be == &store__pg) {
			store_value lock[] = { SV_INT(MIGRATION_LOCKID) };
			rc = store__txn_exec(&t, "SELECT pg_advisory_xact_lock($1)", lock, 1, NULL, NULL, err);
		}
		int version = 0;
		if (rc == MIEN_OK)
			rc = read_version(&t, &version, err);
		if (rc == MIEN_OK && version > STORE_SCHEMA_VERSION)
			rc = mien_error_set(err, MIEN_ERANGE,
			                    "database schema is version %d, newer than this mien (%d): upgrade mien",
			                    version, STORE_SCHEMA_VERSION);
		if (rc || version == STORE_SCHEMA_VERSION) {
			rc = store__txn_end(&t, rc, err);
			return rc ? mien_error_prefix(err, "migrate") : MIEN_OK;
		}
		for (const char *const *stmt = migrations[version]; rc == MIEN_OK && *stmt; stmt++) {
			char *sql = dialect(s->be, *stmt);
			rc = sql ? store__txn_exec(&t, sql, NULL, 0, NULL, NULL, err)
			         : mien_error_set(err, MIEN_ENOMEM, "out of memory");
			free(sql);
		}
		store_value row[] = { SV_INT(version + 1), SV_INT(mien_wall_ms()) };
		if (rc == MIEN_OK)
			rc = store__txn_exec(&t, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
			                     row, 2, NULL, NULL, err);
		if ((rc = store__txn_end(&t, rc, err)))
			return mien_error_prefix(err, "migration %d", version + 1);
		MIEN_LOG_INFO_("store", "%s: applied migration %d", s->be->name, version + 1);
		if (applied)
			(*applied)++;
	}
}

int store_schema_version(store *s, int *version, mien_error *err)
{
	*version = 0;
	store__txn t;
	int rc = store__txn_begin(s, &t, err);
	if (rc)
		return rc;
	int64_t exists = 0;
	rc = store__txn_exec(&t,
	                     s->be == &store__pg ? "SELECT 1 FROM pg_tables WHERE tablename = 'schema_migrations'"
	                                         : "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'",
	                     NULL, 0, store__count_row, &exists, err);
	if (rc == MIEN_OK && exists)
		rc = read_version(&t, version, err);
	return store__txn_end(&t, rc, err);
}

int store_ping(store *s, mien_error *err)
{
	int64_t n = 0;
	return store__run(s, "SELECT 1", NULL, 0, store__count_row, &n, err);
}

int store_check(store *s, mien_error *err)
{
	int slot;
	int rc = borrow(s, &slot, err);
	if (rc)
		return rc;
	rc = s->be->check(s->conns[slot], err);
	give_back(s, slot);
	return rc;
}
