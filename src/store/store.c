/*
 * store.c — the connection pool, the migrations and every record function, written once for both backends.
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

#define POOL_MAX         64
#define POOL_DEFAULT     4
#define POOL_WAIT_MS     10000
#define URL_MAX          2048
#define CAMERA_PARAMS    STORE_USER_CAMERAS_MAX
#define MIGRATION_LOCKID 0x6d69656e /* "mien": the advisory lock that serialises migrations on PostgreSQL */

struct store {
	const store_driver *be;
	char url[URL_MAX];
	int size;
	store_conn *conns[POOL_MAX];
	int busy[POOL_MAX];
	pthread_mutex_t lock;
	pthread_cond_t freed;
};

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
static int run(store *s, const char *sql, const store_value *params, int n, store_row_fn fn, void *ctx, mien_error *err)
{
	int slot;
	int rc = borrow(s, &slot, err);
	if (rc)
		return rc;
	rc = s->be->exec(s->conns[slot], sql, params, n, fn, ctx, err);
	give_back(s, slot);
	return rc;
}

/* A transaction holds one connection from begin to finish. */
typedef struct txn {
	store *s;
	store_conn *conn;
	int slot;
} txn;

static int txn_begin(store *s, txn *t, mien_error *err)
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

static int txn_exec(txn *t, const char *sql, const store_value *params, int n, store_row_fn fn, void *ctx,
                    mien_error *err)
{
	return t->s->be->exec(t->conn, sql, params, n, fn, ctx, err);
}

/* Commits when rc is MIEN_OK, rolls back otherwise; returns rc or the commit's failure. */
static int txn_end(txn *t, int rc, mien_error *err)
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

#define RUN(s, sql, params, fn, ctx) run(s, sql, params, (int)MIEN_ARRAY_LEN(params), fn, ctx, err)
#define TX(t, sql, params, fn, ctx)  txn_exec(t, sql, params, (int)MIEN_ARRAY_LEN(params), fn, ctx, err)

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

/* --- small helpers ------------------------------------------------------------------------------------- */

static int check_text(const char *text, size_t cap, const char *what, int required, mien_error *err)
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

static void copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static int count_row(void *ctx, const store_row *row)
{
	(void)row;
	(*(int64_t *)ctx)++;
	return MIEN_OK;
}

static int int_row(void *ctx, const store_row *row)
{
	*(int64_t *)ctx = store__col_int(row, 0);
	return MIEN_OK;
}

/* For a statement ending in RETURNING id: MIEN_ENOENT when it touched nothing. */
static int found_or(int rc, int64_t found, const char *what, int64_t id, mien_error *err)
{
	if (rc == MIEN_OK && found == 0)
		return mien_error_set(err, MIEN_ENOENT, "%s %lld not found", what, (long long)id);
	return rc;
}

static int check_max(size_t max, mien_error *err)
{
	if (max == 0 || max > STORE_LIST_MAX)
		return mien_error_set(err, MIEN_ERANGE, "list of %zu rows (1..%d)", max, STORE_LIST_MAX);
	return MIEN_OK;
}

/* Fills a list of records: the row callback writes out[count] through `fill`. */
typedef struct list_ctx {
	void *out;
	size_t size, max, count;
	void (*fill)(void *item, const store_row *row);
} list_ctx;

static int list_row(void *ctx, const store_row *row)
{
	list_ctx *l = ctx;
	if (l->count >= l->max)
		return MIEN_OK;
	l->fill((char *)l->out + l->count * l->size, row);
	l->count++;
	return MIEN_OK;
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

static const char *const *const migrations[] = { migration_1, migration_2, migration_3, migration_4 };

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

static int read_version(txn *t, int *version, mien_error *err)
{
	*version = 0;
	return txn_exec(t, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, version_row, version,
	                err);
}

int store_migrate(store *s, int *applied, mien_error *err)
{
	if (applied)
		*applied = 0;
	int rc = run(s,
	             "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
	             " applied_at BIGINT NOT NULL)",
	             NULL, 0, NULL, NULL, err);
	if (rc == MIEN_ECONFLICT) /* another process created it at the same moment (PostgreSQL) */
		rc = MIEN_OK;
	if (rc)
		return mien_error_prefix(err, "migrate");
	for (;;) {
		txn t;
		if ((rc = txn_begin(s, &t, err)))
			return mien_error_prefix(err, "migrate");
		if (s->be == &store__pg) {
			store_value lock[] = { SV_INT(MIGRATION_LOCKID) };
			rc = txn_exec(&t, "SELECT pg_advisory_xact_lock($1)", lock, 1, NULL, NULL, err);
		}
		int version = 0;
		if (rc == MIEN_OK)
			rc = read_version(&t, &version, err);
		if (rc == MIEN_OK && version > STORE_SCHEMA_VERSION)
			rc = mien_error_set(err, MIEN_ERANGE,
			                    "database schema is version %d, newer than this mien (%d): upgrade mien",
			                    version, STORE_SCHEMA_VERSION);
		if (rc || version == STORE_SCHEMA_VERSION) {
			rc = txn_end(&t, rc, err);
			return rc ? mien_error_prefix(err, "migrate") : MIEN_OK;
		}
		for (const char *const *stmt = migrations[version]; rc == MIEN_OK && *stmt; stmt++) {
			char *sql = dialect(s->be, *stmt);
			rc = sql ? txn_exec(&t, sql, NULL, 0, NULL, NULL, err)
			         : mien_error_set(err, MIEN_ENOMEM, "out of memory");
			free(sql);
		}
		store_value row[] = { SV_INT(version + 1), SV_INT(mien_wall_ms()) };
		if (rc == MIEN_OK)
			rc = txn_exec(&t, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", row, 2,
			              NULL, NULL, err);
		if ((rc = txn_end(&t, rc, err)))
			return mien_error_prefix(err, "migration %d", version + 1);
		MIEN_LOG_INFO_("store", "%s: applied migration %d", s->be->name, version + 1);
		if (applied)
			(*applied)++;
	}
}

int store_schema_version(store *s, int *version, mien_error *err)
{
	*version = 0;
	txn t;
	int rc = txn_begin(s, &t, err);
	if (rc)
		return rc;
	int64_t exists = 0;
	rc = txn_exec(&t,
	              s->be == &store__pg ? "SELECT 1 FROM pg_tables WHERE tablename = 'schema_migrations'"
	                                  : "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'",
	              NULL, 0, count_row, &exists, err);
	if (rc == MIEN_OK && exists)
		rc = read_version(&t, version, err);
	return txn_end(&t, rc, err);
}

int store_ping(store *s, mien_error *err)
{
	int64_t n = 0;
	return run(s, "SELECT 1", NULL, 0, count_row, &n, err);
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
	copy_text(u->username, sizeof(u->username), store__col_text(row, 1));
	copy_text(u->password_hash, sizeof(u->password_hash), store__col_text(row, 2));
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
	    (rc = check_text(u->password_hash, sizeof(u->password_hash), "password hash", 1, err)))
		return rc;
	if ((fields & STORE_USER_CAMERAS) && (u->n_cameras < 0 || u->n_cameras > STORE_USER_CAMERAS_MAX))
		return mien_error_set(err, MIEN_ERANGE, "user: %d cameras (at most %d)", u->n_cameras,
		                      STORE_USER_CAMERAS_MAX);
	return MIEN_OK;
}

static int write_user_cameras(txn *t, const store_user *u, mien_error *err)
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
	int rc = check_text(u->username, sizeof(u->username), "username", 1, err);
	if (rc || (rc = check_user(u, STORE_USER_ROLE | STORE_USER_PASSWORD | STORE_USER_CAMERAS, err)))
		return rc;
	int64_t now = mien_wall_ms();
	txn t;
	if ((rc = txn_begin(s, &t, err)))
		return rc;
	store_value p[] = { SV_TEXT(u->username), SV_TEXT(u->password_hash), SV_TEXT(store_role_name(u->role)),
		            SV_BOOL(u->disabled), SV_BOOL(u->all_cameras),   SV_INT(now),
		            SV_INT(now) };
	rc = TX(&t,
	        "INSERT INTO users (username, password_hash, role, disabled, all_cameras, created_at, updated_at)"
	        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
	        p, int_row, &u->id);
	if (rc == MIEN_OK)
		rc = write_user_cameras(&t, u, err);
	if ((rc = txn_end(&t, rc, err)))
		return mien_error_prefix(err, "user %s", u->username);
	u->created_at = u->updated_at = now;
	return MIEN_OK;
}

static int user_get(store *s, const char *sql, store_value key, store_user *out, const char *what, mien_error *err)
{
	list_ctx l = { out, sizeof(*out), 1, 0, fill_user };
	int rc = run(s, sql, &key, 1, list_row, &l, err);
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
	int rc = check_text(username, STORE_USERNAME_MAX, "username", 1, err);
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
	txn t;
	if ((rc = txn_begin(s, &t, err)))
		return rc;
	int64_t found = 0;
	store_value p[] = { SV_INT(u->id), SV_INT(mien_wall_ms()) };
	rc = TX(&t, "UPDATE users SET updated_at = $2 WHERE id = $1 RETURNING id", p, count_row, &found);
	rc = found_or(rc, found, "user", u->id, err);
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
	return txn_end(&t, rc, err);
}

int store_user_delete(store *s, int64_t id, mien_error *err)
{
	int64_t found = 0;
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "DELETE FROM users WHERE id = $1 RETURNING id", p, count_row, &found);
	return found_or(rc, found, "user", id, err);
}

int store_user_list(store *s, int64_t after_id, store_user *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = check_max(max, err);
	if (rc)
		return rc;
	list_ctx l = { out, sizeof(*out), max, 0, fill_user };
	store_value p[] = { SV_INT(after_id), SV_INT((int64_t)max) };
	rc = RUN(s, "SELECT " USER_COLUMNS " FROM users WHERE id > $1 ORDER BY id LIMIT $2", p, list_row, &l);
	for (size_t i = 0; rc == MIEN_OK && i < l.count; i++)
		rc = load_user_cameras(s, &out[i], err);
	*count = rc ? 0 : l.count;
	return rc;
}

int store_user_count(store *s, int64_t *count, mien_error *err)
{
	*count = 0;
	return run(s, "SELECT count(*) FROM users", NULL, 0, int_row, count, err);
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
	int rc = RUN(s, "DELETE FROM tokens WHERE hash = $1 RETURNING user_id", p, count_row, &found);
	if (rc == MIEN_OK && !found)
		return mien_error_set(err, MIEN_ENOENT, "token unknown");
	return rc;
}

int store_token_delete_user(store *s, int64_t user_id, int64_t *deleted, mien_error *err)
{
	int64_t n = 0;
	store_value p[] = { SV_INT(user_id) };
	int rc = RUN(s, "DELETE FROM tokens WHERE user_id = $1 RETURNING user_id", p, count_row, &n);
	if (deleted)
		*deleted = n;
	return rc;
}

int store_token_purge(store *s, int64_t now, int64_t *deleted, mien_error *err)
{
	int64_t n = 0;
	store_value p[] = { SV_INT(now) };
	int rc = RUN(s, "DELETE FROM tokens WHERE expires_at <= $1 RETURNING user_id", p, count_row, &n);
	if (deleted)
		*deleted = n;
	return rc;
}

/* --- people and faces ------------------------------------------------------------------------------------- */

#define PERSON_COLUMNS                                                   \
	"p.id, p.name, p.note, p.watchlist, p.created_at, p.updated_at," \
	" (SELECT count(*) FROM faces f WHERE f.person_id = p.id)"

static void fill_person(void *item, const store_row *row)
{
	store_person *p = item;
	memset(p, 0, sizeof(*p));
	p->id = store__col_int(row, 0);
	copy_text(p->name, sizeof(p->name), store__col_text(row, 1));
	copy_text(p->note, sizeof(p->note), store__col_text(row, 2));
	p->watchlist = (int)store__col_int(row, 3);
	p->created_at = store__col_int(row, 4);
	p->updated_at = store__col_int(row, 5);
	p->faces = store__col_int(row, 6);
}

static int check_person(const store_person *p, unsigned fields, mien_error *err)
{
	int rc = MIEN_OK;
	if (fields & STORE_PERSON_NAME)
		rc = check_text(p->name, sizeof(p->name), "person name", 1, err);
	if (rc == MIEN_OK && (fields & STORE_PERSON_NOTE))
		rc = check_text(p->note, sizeof(p->note), "note", 0, err);
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
	         v, int_row, &p->id);
	if (rc)
		return mien_error_prefix(err, "person %s", p->name);
	p->created_at = p->updated_at = now;
	p->faces = 0;
	return MIEN_OK;
}

static int person_get(store *s, const char *sql, store_value key, store_person *out, mien_error *err)
{
	list_ctx l = { out, sizeof(*out), 1, 0, fill_person };
	int rc = run(s, sql, &key, 1, list_row, &l, err);
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
	int rc = check_text(name, STORE_NAME_MAX, "person name", 1, err);
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
	         v, count_row, &found);
	return found_or(rc, found, "person", p->id, err);
}

/*
 * An erasure: one DELETE ... RETURNING in its own transaction (the cascades take the dependent rows — faces,
 * face_images, events, event_images, alerts — in it), the rows it removed counted in *erased; then, when it
 * removed any, the backend scrubs its side files (SQLite's WAL) so no copy of them remains.
 */
static int erase(store *s, const char *sql, const store_value *params, int n, int64_t *erased, mien_error *err)
{
	*erased = 0;
	txn t;
	int rc = txn_begin(s, &t, err);
	if (rc)
		return rc;
	rc = txn_exec(&t, sql, params, n, count_row, erased, err);
	if ((rc = txn_end(&t, rc, err))) {
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
static int erase_id(store *s, const char *sql, int64_t id, const char *what, mien_error *err)
{
	int64_t erased = 0;
	store_value p[] = { SV_INT(id) };
	int rc = erase(s, sql, p, 1, &erased, err);
	return found_or(rc, erased, what, id, err);
}

int store_person_delete(store *s, int64_t id, mien_error *err)
{
	return erase_id(s, "DELETE FROM people WHERE id = $1 RETURNING id", id, "person", err);
}

/* "%text%" for LIKE, with the pattern characters of `text` escaped by '\'. */
static int like_pattern(const char *text, char *out, size_t cap, mien_error *err)
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

int store_person_list(store *s, const char *search, int64_t after_id, store_person *out, size_t max, size_t *count,
                      mien_error *err)
{
	*count = 0;
	int rc = check_max(max, err);
	if (rc)
		return rc;
	char pattern[2 * STORE_NAME_MAX + 8];
	if ((rc = like_pattern(search ? search : "", pattern, sizeof(pattern), err)))
		return rc;
	list_ctx l = { out, sizeof(*out), max, 0, fill_person };
	store_value p[] = { SV_INT(after_id), SV_TEXT(pattern), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT " PERSON_COLUMNS " FROM people p WHERE p.id > $1 AND lower(p.name) LIKE $2 ESCAPE '\\'"
	         " ORDER BY p.id LIMIT $3",
	         p, list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}

int store_face_add(store *s, int64_t person_id, const char *model, const float *embedding, int dim, float quality,
                   const uint8_t *thumbnail, size_t thumbnail_len, int64_t *face_id, mien_error *err)
{
	int rc = check_text(model, STORE_MODEL_MAX, "model name", 1, err);
	if (rc)
		return rc;
	if (!embedding || dim < 1 || dim > 4096)
		return mien_error_set(err, MIEN_EINVAL, "face: embedding of %d values", dim);
	if (thumbnail && thumbnail_len > STORE_IMAGE_MAX)
		return mien_error_set(err, MIEN_ETOOBIG, "face: thumbnail of %zu bytes", thumbnail_len);
	txn t;
	if ((rc = txn_begin(s, &t, err)))
		return rc;
	/* Embeddings are stored as little-endian float32, the layout of every machine mien runs on. */
	store_value p[] = { SV_INT(person_id), SV_TEXT(model),
		            SV_INT(dim),       SV_BLOB(embedding, (size_t)dim * sizeof(float)),
		            SV_REAL(quality),  SV_INT(mien_wall_ms()) };
	rc = TX(&t,
	        "INSERT INTO faces (person_id, model, dim, embedding, quality, created_at) VALUES ($1, $2, $3, $4, $5, "
	        "$6)"
	        " RETURNING id",
	        p, int_row, face_id);
	if (rc == MIEN_OK && thumbnail) {
		store_value q[] = { SV_INT(*face_id), SV_BLOB(thumbnail, thumbnail_len) };
		rc = TX(&t, "INSERT INTO face_images (face_id, jpeg) VALUES ($1, $2)", q, NULL, NULL);
	}
	if (rc == MIEN_OK) {
		store_value q[] = { SV_INT(person_id), SV_INT(mien_wall_ms()) };
		rc = TX(&t, "UPDATE people SET updated_at = $2 WHERE id = $1", q, NULL, NULL);
	}
	return txn_end(&t, rc, err);
}

int store_face_delete(store *s, int64_t person_id, int64_t face_id, mien_error *err)
{
	int64_t erased = 0;
	store_value p[] = { SV_INT(face_id), SV_INT(person_id) };
	int rc = erase(s, "DELETE FROM faces WHERE id = $1 AND person_id = $2 RETURNING id", p, 2, &erased, err);
	return found_or(rc, erased, "face", face_id, err);
}

static void fill_face(void *item, const store_row *row)
{
	store_face *f = item;
	memset(f, 0, sizeof(*f));
	f->id = store__col_int(row, 0);
	f->person_id = store__col_int(row, 1);
	copy_text(f->model, sizeof(f->model), store__col_text(row, 2));
	f->dim = (int)store__col_int(row, 3);
	f->quality = (float)store__col_real(row, 4);
	f->created_at = store__col_int(row, 5);
}

int store_face_list(store *s, int64_t person_id, store_face *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = check_max(max, err);
	if (rc)
		return rc;
	list_ctx l = { out, sizeof(*out), max, 0, fill_face };
	store_value p[] = { SV_INT(person_id), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT id, person_id, model, dim, quality, created_at FROM faces WHERE person_id = $1 ORDER BY id"
	         " LIMIT $2",
	         p, list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}

int store_face_list_other_model(store *s, const char *model, int64_t after_id, store_face *out, size_t max,
                                size_t *count, mien_error *err)
{
	*count = 0;
	int rc = check_max(max, err);
	if (rc)
		return rc;
	list_ctx l = { out, sizeof(*out), max, 0, fill_face };
	store_value p[] = { SV_TEXT(model), SV_INT(after_id), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT id, person_id, model, dim, quality, created_at FROM faces WHERE model <> $1 AND id > $2"
	         " ORDER BY id LIMIT $3",
	         p, list_row, &l);
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
	int rc = check_text(model, STORE_MODEL_MAX, "model name", 1, err);
	if (rc)
		return rc;
	if (!embedding || dim < 1 || dim > 4096)
		return mien_error_set(err, MIEN_EINVAL, "face: embedding of %d values", dim);
	int64_t found = 0;
	store_value p[] = { SV_INT(face_id), SV_TEXT(model), SV_INT(dim),
		            SV_BLOB(embedding, (size_t)dim * sizeof(float)), SV_REAL(quality) };
	rc = RUN(s, "UPDATE faces SET model = $2, dim = $3, embedding = $4, quality = $5 WHERE id = $1 RETURNING id", p,
	         count_row, &found);
	return found_or(rc, found, "face", face_id, err);
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

static int read_blob(store *s, const char *sql, int64_t id, uint8_t **bytes, size_t *len, const char *what,
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

int store_face_thumbnail(store *s, int64_t face_id, uint8_t **jpeg, size_t *len, mien_error *err)
{
	return read_blob(s, "SELECT jpeg FROM face_images WHERE face_id = $1", face_id, jpeg, len, "face", err);
}

typedef struct embedding_ctx {
	store_embedding_fn fn;
	void *ctx;
	float *buffer;
	mien_error *err;
} embedding_ctx;

static int embedding_row(void *ctx, const store_row *row)
{
	embedding_ctx *e = ctx;
	int dim = (int)store__col_int(row, 2);
	size_t len;
	const void *blob = store__col_blob(row, 3, &len);
	if (dim < 1 || dim > 4096 || !blob || len != (size_t)dim * sizeof(float))
		return mien_error_set(e->err, MIEN_EFORMAT, "face %lld: stored embedding of %zu bytes for %d values",
		                      (long long)store__col_int(row, 0), len, dim);
	/* Copy: the blob may not be aligned for floats. */
	memcpy(e->buffer, blob, len);
	return e->fn(e->ctx, store__col_int(row, 0), store__col_int(row, 1), e->buffer, dim);
}

int store_embeddings_each(store *s, const char *model, store_embedding_fn fn, void *ctx, mien_error *err)
{
	embedding_ctx e = { fn, ctx, malloc(4096 * sizeof(float)), err };
	if (!e.buffer)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	int rc;
	if (model) {
		store_value p[] = { SV_TEXT(model) };
		rc = RUN(s, "SELECT id, person_id, dim, embedding FROM faces WHERE model = $1 ORDER BY id", p,
		         embedding_row, &e);
	} else {
		rc = run(s, "SELECT id, person_id, dim, embedding FROM faces ORDER BY id", NULL, 0, embedding_row, &e,
		         err);
	}
	free(e.buffer);
	return rc;
}

int store_embeddings_range(store *s, const char *model, int64_t from_id, int64_t to_id, store_embedding_fn fn,
                           void *ctx, mien_error *err)
{
	embedding_ctx e = { fn, ctx, malloc(4096 * sizeof(float)), err };
	if (!e.buffer)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	store_value p[] = { SV_TEXT(model), SV_INT(from_id), SV_INT(to_id) };
	int rc = RUN(s,
	             "SELECT id, person_id, dim, embedding FROM faces WHERE model = $1 AND id >= $2 AND id <= $3"
	             " ORDER BY id",
	             p, embedding_row, &e);
	free(e.buffer);
	return rc;
}

static int signature_row(void *ctx, const store_row *row)
{
	store_face_signature *sig = ctx;
	sig->count = store__col_int(row, 0);
	sig->max_id = store__col_int(row, 1);
	sig->id_sum = store__col_int(row, 2);
	return MIEN_OK;
}

int store_face_signature_get(store *s, const char *model, store_face_signature *out, mien_error *err)
{
	memset(out, 0, sizeof(*out));
	store_value p[] = { SV_TEXT(model) };
	/* PostgreSQL's SUM(bigint) is numeric: cast back (the sum of up to 16 M ids fits easily). */
	return RUN(s,
	           "SELECT COUNT(*), COALESCE(MAX(id), 0), CAST(COALESCE(SUM(id), 0) AS BIGINT) FROM faces"
	           " WHERE model = $1",
	           p, signature_row, out);
}

#define FACE_IDS_MAX (16 * 1024 * 1024)

typedef struct ids_ctx {
	int64_t *ids;
	size_t count, cap;
	mien_error *err;
} ids_ctx;

static int id_row(void *ctx, const store_row *row)
{
	ids_ctx *l = ctx;
	if (l->count == l->cap) {
		if (l->cap >= FACE_IDS_MAX)
			return mien_error_set(l->err, MIEN_ETOOBIG, "more than %d stored faces", FACE_IDS_MAX);
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

int store_face_ids(store *s, const char *model, int64_t **ids, size_t *count, mien_error *err)
{
	*ids = NULL;
	*count = 0;
	ids_ctx l = { NULL, 0, 0, err };
	store_value p[] = { SV_TEXT(model) };
	int rc = RUN(s, "SELECT id FROM faces WHERE model = $1 ORDER BY id", p, id_row, &l);
	if (rc) {
		free(l.ids);
		return rc;
	}
	*ids = l.ids;
	*count = l.count;
	return MIEN_OK;
}

/* --- cameras ---------------------------------------------------------------------------------------------- */

#define CAMERA_COLUMNS "id, name, url, enabled, analysis_fps, alert_unknown, created_at, updated_at"

static void fill_camera(void *item, const store_row *row)
{
	store_camera *c = item;
	memset(c, 0, sizeof(*c));
	c->id = store__col_int(row, 0);
	copy_text(c->name, sizeof(c->name), store__col_text(row, 1));
	copy_text(c->url, sizeof(c->url), store__col_text(row, 2));
	c->enabled = (int)store__col_int(row, 3);
	c->analysis_fps = (float)store__col_real(row, 4);
	c->alert_unknown = (int)store__col_int(row, 5);
	c->created_at = store__col_int(row, 6);
	c->updated_at = store__col_int(row, 7);
}

static int check_camera(const store_camera *c, unsigned fields, mien_error *err)
{
	int rc = MIEN_OK;
	if (fields & STORE_CAMERA_NAME)
		rc = check_text(c->name, sizeof(c->name), "camera name", 1, err);
	if (rc == MIEN_OK && (fields & STORE_CAMERA_URL))
		rc = check_text(c->url, sizeof(c->url), "camera URL", 1, err);
	if (rc == MIEN_OK && (fields & STORE_CAMERA_FPS) && !(c->analysis_fps > 0 && c->analysis_fps <= 60))
		rc = mien_error_set(err, MIEN_ERANGE, "camera analysis rate must be in (0, 60] frames per second");
	return rc;
}

int store_camera_create(store *s, store_camera *c, mien_error *err)
{
	int rc = check_camera(c, STORE_CAMERA_NAME | STORE_CAMERA_URL | STORE_CAMERA_FPS, err);
	if (rc)
		return rc;
	int64_t now = mien_wall_ms();
	store_value v[] = { SV_TEXT(c->name),          SV_TEXT(c->url), SV_BOOL(c->enabled), SV_REAL(c->analysis_fps),
		            SV_BOOL(c->alert_unknown), SV_INT(now),     SV_INT(now) };
	rc = RUN(s,
	         "INSERT INTO cameras (name, url, enabled, analysis_fps, alert_unknown, created_at, updated_at)"
	         " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
	         v, int_row, &c->id);
	if (rc)
		return mien_error_prefix(err, "camera %s", c->name);
	c->created_at = c->updated_at = now;
	return MIEN_OK;
}

int store_camera_get(store *s, int64_t id, store_camera *out, mien_error *err)
{
	list_ctx l = { out, sizeof(*out), 1, 0, fill_camera };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " CAMERA_COLUMNS " FROM cameras WHERE id = $1", p, list_row, &l);
	return found_or(rc, (int64_t)l.count, "camera", id, err);
}

int store_camera_update(store *s, const store_camera *c, unsigned fields, mien_error *err)
{
	int rc = check_camera(c, fields, err);
	if (rc)
		return rc;
	int64_t found = 0;
	store_value v[] = { SV_INT(c->id),
		            SV_INT(mien_wall_ms()),
		            SV_BOOL(fields & STORE_CAMERA_NAME),
		            SV_TEXT(c->name),
		            SV_BOOL(fields & STORE_CAMERA_URL),
		            SV_TEXT(c->url),
		            SV_BOOL(fields & STORE_CAMERA_ENABLED),
		            SV_BOOL(c->enabled),
		            SV_BOOL(fields & STORE_CAMERA_FPS),
		            SV_REAL(c->analysis_fps),
		            SV_BOOL(fields & STORE_CAMERA_ALERT_UNKNOWN),
		            SV_BOOL(c->alert_unknown) };
	rc = RUN(s,
	         "UPDATE cameras SET updated_at = $2,"
	         " name = CASE WHEN $3 THEN $4 ELSE name END,"
	         " url = CASE WHEN $5 THEN $6 ELSE url END,"
	         " enabled = CASE WHEN $7 THEN $8 ELSE enabled END,"
	         " analysis_fps = CASE WHEN $9 THEN $10 ELSE analysis_fps END,"
	         " alert_unknown = CASE WHEN $11 THEN $12 ELSE alert_unknown END"
	         " WHERE id = $1 RETURNING id",
	         v, count_row, &found);
	return found_or(rc, found, "camera", c->id, err);
}

int store_camera_delete(store *s, int64_t id, mien_error *err)
{
	return erase_id(s, "DELETE FROM cameras WHERE id = $1 RETURNING id", id, "camera", err);
}

int store_camera_list(store *s, int64_t after_id, store_camera *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = check_max(max, err);
	if (rc)
		return rc;
	list_ctx l = { out, sizeof(*out), max, 0, fill_camera };
	store_value p[] = { SV_INT(after_id), SV_INT((int64_t)max) };
	rc = RUN(s, "SELECT " CAMERA_COLUMNS " FROM cameras WHERE id > $1 ORDER BY id LIMIT $2", p, list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}

/* --- events ---------------------------------------------------------------------------------------------- */

#define EVENT_COLUMNS                                                                                         \
	"e.id, e.camera_id, e.track_id, e.person_id, COALESCE(p.name, ''), e.similarity, e.started_at,"       \
	" e.ended_at, e.dominant_expression, e.expr_neutral, e.expr_happy, e.expr_sad, e.expr_angry,"         \
	" e.expr_fearful, e.expr_disgusted, e.expr_surprised, e.box_x, e.box_y, e.box_w, e.box_h, e.quality," \
	" e.alert, e.frame_w, e.frame_h"
#define EVENT_FROM " FROM events e LEFT JOIN people p ON p.id = e.person_id"

static void fill_event(void *item, const store_row *row)
{
	store_event *e = item;
	memset(e, 0, sizeof(*e));
	e->id = store__col_int(row, 0);
	e->camera_id = store__col_int(row, 1);
	e->track_id = store__col_int(row, 2);
	e->person_id = store__col_int(row, 3);
	copy_text(e->person_name, sizeof(e->person_name), store__col_text(row, 4));
	e->similarity = (float)store__col_real(row, 5);
	e->started_at = store__col_int(row, 6);
	e->ended_at = store__col_int(row, 7);
	copy_text(e->dominant_expression, sizeof(e->dominant_expression), store__col_text(row, 8));
	for (int k = 0; k < STORE_EXPRESSIONS; k++)
		e->expression[k] = (float)store__col_real(row, 9 + k);
	for (int k = 0; k < 4; k++)
		e->box[k] = (float)store__col_real(row, 16 + k);
	e->quality = (float)store__col_real(row, 20);
	e->alert = (int)store__col_int(row, 21);
	e->frame[0] = (int)store__col_int(row, 22);
	e->frame[1] = (int)store__col_int(row, 23);
}

static int check_event(const store_event *e, mien_error *err)
{
	if (strlen(e->dominant_expression) >= sizeof(e->dominant_expression))
		return mien_error_set(err, MIEN_ERANGE, "event: dominant expression too long");
	if (e->dominant_expression[0]) {
		int known = 0;
		for (int k = 0; k < STORE_EXPRESSIONS; k++)
			known |= strcmp(e->dominant_expression, store_expression_names[k]) == 0;
		if (!known)
			return mien_error_set(err, MIEN_EINVAL, "event: unknown expression %s", e->dominant_expression);
	}
	return MIEN_OK;
}

static int write_event_images(txn *t, int64_t id, const uint8_t *snapshot, size_t snapshot_len,
                              const uint8_t *thumbnail, size_t thumbnail_len, mien_error *err)
{
	if (!snapshot && !thumbnail)
		return MIEN_OK;
	if (snapshot_len > STORE_IMAGE_MAX || thumbnail_len > STORE_IMAGE_MAX)
		return mien_error_set(err, MIEN_ETOOBIG, "event picture over %u bytes", STORE_IMAGE_MAX);
	/* Insert the row when missing, then replace only the pictures that were given. */
	store_value p[] = { SV_INT(id) };
	int rc = TX(t, "INSERT INTO event_images (event_id) VALUES ($1) ON CONFLICT DO NOTHING", p, NULL, NULL);
	if (rc == MIEN_OK && snapshot) {
		store_value q[] = { SV_INT(id), SV_BLOB(snapshot, snapshot_len) };
		rc = TX(t, "UPDATE event_images SET snapshot = $2 WHERE event_id = $1", q, NULL, NULL);
	}
	if (rc == MIEN_OK && thumbnail) {
		store_value q[] = { SV_INT(id), SV_BLOB(thumbnail, thumbnail_len) };
		rc = TX(t, "UPDATE event_images SET thumbnail = $2 WHERE event_id = $1", q, NULL, NULL);
	}
	return rc;
}

int store_event_create(store *s, store_event *e, const uint8_t *snapshot, size_t snapshot_len, const uint8_t *thumbnail,
                       size_t thumbnail_len, mien_error *err)
{
	int rc = check_event(e, err);
	if (rc)
		return rc;
	txn t;
	if ((rc = txn_begin(s, &t, err)))
		return rc;
	store_value v[] = { SV_INT(e->camera_id),
		            SV_INT(e->track_id),
		            SV_ID_OR_NULL(e->person_id),
		            SV_REAL(e->similarity),
		            SV_INT(e->started_at),
		            SV_ID_OR_NULL(e->ended_at),
		            SV_TEXT(e->dominant_expression),
		            SV_REAL(e->expression[0]),
		            SV_REAL(e->expression[1]),
		            SV_REAL(e->expression[2]),
		            SV_REAL(e->expression[3]),
		            SV_REAL(e->expression[4]),
		            SV_REAL(e->expression[5]),
		            SV_REAL(e->expression[6]),
		            SV_REAL(e->box[0]),
		            SV_REAL(e->box[1]),
		            SV_REAL(e->box[2]),
		            SV_REAL(e->box[3]),
		            SV_REAL(e->quality),
		            SV_BOOL(e->alert),
		            SV_INT(e->frame[0]),
		            SV_INT(e->frame[1]) };
	rc = TX(&t,
	        "INSERT INTO events (camera_id, track_id, person_id, similarity, started_at, ended_at,"
	        " dominant_expression, expr_neutral, expr_happy, expr_sad, expr_angry, expr_fearful, expr_disgusted,"
	        " expr_surprised, box_x, box_y, box_w, box_h, quality, alert, frame_w, frame_h)"
	        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,"
	        " $21, $22) RETURNING id",
	        v, int_row, &e->id);
	if (rc == MIEN_OK)
		rc = write_event_images(&t, e->id, snapshot, snapshot_len, thumbnail, thumbnail_len, err);
	return txn_end(&t, rc, err);
}

int store_event_update(store *s, const store_event *e, const uint8_t *snapshot, size_t snapshot_len,
                       const uint8_t *thumbnail, size_t thumbnail_len, mien_error *err)
{
	int rc = check_event(e, err);
	if (rc)
		return rc;
	txn t;
	if ((rc = txn_begin(s, &t, err)))
		return rc;
	int64_t found = 0;
	store_value v[] = { SV_INT(e->id),
		            SV_ID_OR_NULL(e->person_id),
		            SV_REAL(e->similarity),
		            SV_ID_OR_NULL(e->ended_at),
		            SV_TEXT(e->dominant_expression),
		            SV_REAL(e->expression[0]),
		            SV_REAL(e->expression[1]),
		            SV_REAL(e->expression[2]),
		            SV_REAL(e->expression[3]),
		            SV_REAL(e->expression[4]),
		            SV_REAL(e->expression[5]),
		            SV_REAL(e->expression[6]),
		            SV_REAL(e->box[0]),
		            SV_REAL(e->box[1]),
		            SV_REAL(e->box[2]),
		            SV_REAL(e->box[3]),
		            SV_REAL(e->quality),
		            SV_BOOL(e->alert),
		            SV_INT(e->frame[0]),
		            SV_INT(e->frame[1]) };
	rc = TX(&t,
	        "UPDATE events SET person_id = $2, similarity = $3, ended_at = $4, dominant_expression = $5,"
	        " expr_neutral = $6, expr_happy = $7, expr_sad = $8, expr_angry = $9, expr_fearful = $10,"
	        " expr_disgusted = $11, expr_surprised = $12, box_x = $13, box_y = $14, box_w = $15, box_h = $16,"
	        " quality = $17, alert = $18, frame_w = $19, frame_h = $20 WHERE id = $1 RETURNING id",
	        v, count_row, &found);
	rc = found_or(rc, found, "event", e->id, err);
	if (rc == MIEN_OK)
		rc = write_event_images(&t, e->id, snapshot, snapshot_len, thumbnail, thumbnail_len, err);
	return txn_end(&t, rc, err);
}

int store_event_get(store *s, int64_t id, store_event *out, mien_error *err)
{
	list_ctx l = { out, sizeof(*out), 1, 0, fill_event };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " EVENT_COLUMNS EVENT_FROM " WHERE e.id = $1", p, list_row, &l);
	return found_or(rc, (int64_t)l.count, "event", id, err);
}

int store_event_delete(store *s, int64_t id, mien_error *err)
{
	return erase_id(s, "DELETE FROM events WHERE id = $1 RETURNING id", id, "event", err);
}

int store_event_image(store *s, int64_t id, int which, uint8_t **jpeg, size_t *len, mien_error *err)
{
	if (which != STORE_IMAGE_SNAPSHOT && which != STORE_IMAGE_THUMBNAIL)
		return mien_error_set(err, MIEN_EINVAL, "event picture kind %d", which);
	return read_blob(s,
	                 which == STORE_IMAGE_SNAPSHOT ? "SELECT snapshot FROM event_images WHERE event_id = $1"
	                                               : "SELECT thumbnail FROM event_images WHERE event_id = $1",
	                 id, jpeg, len, "event", err);
}

/*
 * A WHERE clause assembled from fixed fragments with numbered parameters; only numbers generated here go into
 * the text, never a caller's string.
 */
typedef struct where {
	char sql[12288];
	size_t len;
	store_value params[CAMERA_PARAMS + 16];
	int n;
	int overflow;
} where;

/* One filter buffer and one statement buffer per thread, reused: a list request then allocates nothing for its
 * SQL (bench/api showed these 50 KB per request among the top costs). Freed when the thread ends. */
typedef struct where_buffers {
	where w;
	char sql[sizeof(((where *)0)->sql) + 1024];
} where_buffers;

static pthread_key_t where_key;
static pthread_once_t where_once = PTHREAD_ONCE_INIT;

static void where_key_create(void)
{
	pthread_key_create(&where_key, free);
}

/* This thread's buffers, reset; NULL when out of memory. */
static where_buffers *where_begin(void)
{
	pthread_once(&where_once, where_key_create);
	where_buffers *b = pthread_getspecific(where_key);
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

static void where_add(where *w, const char *fragment, const store_value *value)
{
	char piece[256];
	int n = value ? snprintf(piece, sizeof(piece), fragment, w->n + 1)
	              : snprintf(piece, sizeof(piece), "%s", fragment);
	if (n < 0 || w->len + (size_t)n + 8 >= sizeof(w->sql) || w->n >= (int)MIEN_ARRAY_LEN(w->params)) {
		w->overflow = 1;
		return;
	}
	memcpy(w->sql + w->len, w->len ? " AND " : " WHERE ", w->len ? 5 : 7);
	w->len += w->len ? 5 : 7;
	memcpy(w->sql + w->len, piece, (size_t)n + 1);
	w->len += (size_t)n;
	if (value)
		w->params[w->n++] = *value;
}

/* "col IN ($k, $k+1, ...)" for a camera list; an empty list matches nothing. */
static void where_in(where *w, const char *column, const int64_t *ids, int n)
{
	char piece[CAMERA_PARAMS * 8 + 64];
	size_t len = (size_t)snprintf(piece, sizeof(piece), "%s IN (", column);
	if (n == 0) {
		where_add(w, "1 = 0", NULL);
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
	where_add(w, piece, NULL);
}

int store_event_list(store *s, const store_event_filter *f, store_event *out, size_t max, size_t *count,
                     mien_error *err)
{
	*count = 0;
	int rc = check_max(max, err);
	if (rc)
		return rc;
	where_buffers *buffers = where_begin();
	if (!buffers)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	where *w = &buffers->w;
	char *sql = buffers->sql;
	if (f->cameras)
		where_in(w, "e.camera_id", f->cameras, f->n_cameras);
	if (f->camera_id) {
		store_value v = SV_INT(f->camera_id);
		where_add(w, "e.camera_id = $%d", &v);
	}
	if (f->person_id) {
		store_value v = SV_INT(f->person_id);
		where_add(w, "e.person_id = $%d", &v);
	}
	if (f->people == STORE_PEOPLE_KNOWN)
		where_add(w, "e.person_id IS NOT NULL", NULL);
	else if (f->people == STORE_PEOPLE_UNKNOWN)
		where_add(w, "e.person_id IS NULL", NULL);
	if (f->expression) {
		store_value v = SV_TEXT(f->expression);
		where_add(w, "e.dominant_expression = $%d", &v);
	}
	if (f->from) {
		store_value v = SV_INT(f->from);
		where_add(w, "e.started_at >= $%d", &v);
	}
	if (f->to) {
		store_value v = SV_INT(f->to);
		where_add(w, "e.started_at < $%d", &v);
	}
	if (f->before_id) {
		store_value v = SV_INT(f->before_id);
		where_add(w, "e.id < $%d", &v);
	}
	if (w->overflow) {
		rc = mien_error_set(err, MIEN_ERANGE, "event filter too large");
		goto done;
	}
	w->params[w->n++] = SV_INT((int64_t)max);
	snprintf(sql, sizeof(buffers->sql), "SELECT " EVENT_COLUMNS EVENT_FROM "%s ORDER BY e.id DESC LIMIT $%d",
	         w->sql, w->n);
	list_ctx l = { out, sizeof(*out), max, 0, fill_event };
	rc = run(s, sql, w->params, w->n, list_row, &l, err);
	*count = rc ? 0 : l.count;
done:
	return rc;
}

int store_event_purge(store *s, int64_t before, int64_t *deleted, mien_error *err)
{
	int64_t n = 0;
	store_value p[] = { SV_INT(before) };
	int rc = erase(s, "DELETE FROM events WHERE started_at < $1 RETURNING id", p, 1, &n, err);
	if (deleted)
		*deleted = n;
	return rc;
}

/* --- storage ------------------------------------------------------------------------------------------------ */

static int pictures_row(void *ctx, const store_row *row)
{
	int64_t *out = ctx;
	out[0] = store__col_int(row, 0);
	out[1] = store__col_int(row, 1);
	return MIEN_OK;
}

/* Events started at or after `since` (0 = all) and the bytes of their pictures. */
static int count_pictures(store *s, int64_t since, int64_t *events, int64_t *bytes, mien_error *err)
{
	int64_t out[2] = { 0, 0 };
	store_value p[] = { SV_INT(since) };
	int rc =
	        RUN(s,
	            "SELECT COUNT(*), COALESCE(SUM(COALESCE(length(i.snapshot), 0) + COALESCE(length(i.thumbnail), 0)),"
	            " 0) FROM events e LEFT JOIN event_images i ON i.event_id = e.id WHERE e.started_at >= $1",
	            p, pictures_row, out);
	*events = out[0];
	*bytes = out[1];
	return rc;
}

int store_storage_get(store *s, int64_t now, store_storage *out, mien_error *err)
{
	static const int64_t windows[] = { 86400000, 7 * 86400000LL };
	memset(out, 0, sizeof(*out));
	int slot;
	int rc = borrow(s, &slot, err);
	if (rc)
		return rc;
	rc = s->be->size(s->conns[slot], &out->database_bytes, &out->free_bytes, err);
	give_back(s, slot);
	if (rc || (rc = count_pictures(s, 0, &out->events, &out->picture_bytes, err)))
		return rc;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(windows) && !out->window_ms; i++) {
		rc = count_pictures(s, now - windows[i], &out->window_events, &out->window_bytes, err);
		if (rc)
			return rc;
		if (out->window_events)
			out->window_ms = windows[i];
	}
	return MIEN_OK;
}

/* --- alerts ------------------------------------------------------------------------------------------------- */

#define ALERT_COLUMNS                                                                                         \
	"a.id, a.event_id, a.camera_id, a.person_id, COALESCE(p.name, ''), a.kind, a.created_at, a.acked_at," \
	" a.acked_by, a.visit_count, a.last_at"
#define ALERT_FROM " FROM alerts a LEFT JOIN people p ON p.id = a.person_id"

static void fill_alert(void *item, const store_row *row)
{
	store_alert *a = item;
	memset(a, 0, sizeof(*a));
	a->id = store__col_int(row, 0);
	a->event_id = store__col_int(row, 1);
	a->camera_id = store__col_int(row, 2);
	a->person_id = store__col_int(row, 3);
	copy_text(a->person_name, sizeof(a->person_name), store__col_text(row, 4));
	copy_text(a->kind, sizeof(a->kind), store__col_text(row, 5));
	a->created_at = store__col_int(row, 6);
	a->acked_at = store__col_int(row, 7);
	a->acked_by = store__col_int(row, 8);
	a->count = store__col_int(row, 9);
	a->last_at = store__col_int(row, 10);
}

int store_alert_create(store *s, store_alert *a, mien_error *err)
{
	if (strcmp(a->kind, "watchlist") != 0 && strcmp(a->kind, "unknown") != 0)
		return mien_error_set(err, MIEN_EINVAL, "alert: kind must be watchlist or unknown");
	if (!a->created_at)
		a->created_at = mien_wall_ms();
	a->id = 0;
	/* The camera and person come from the event, so an alert can never point at another camera's event. */
	store_value p[] = { SV_INT(a->event_id), SV_TEXT(a->kind), SV_INT(a->created_at) };
	int rc = RUN(s,
	             "INSERT INTO alerts (event_id, camera_id, person_id, kind, created_at, last_at)"
	             " SELECT id, camera_id, person_id, $2, $3, $3 FROM events WHERE id = $1 RETURNING id",
	             p, int_row, &a->id);
	if (rc == MIEN_OK && !a->id)
		return mien_error_set(err, MIEN_ENOENT, "alert: event %lld not found", (long long)a->event_id);
	if (rc)
		return rc;
	store_alert full;
	rc = store_alert_get(s, a->id, &full, err);
	if (rc == MIEN_OK)
		*a = full;
	return rc;
}

int store_alert_repeat(store *s, int64_t event_id, const char *kind, int64_t since, int64_t now, store_alert *out,
                       mien_error *err)
{
	int64_t id = 0;
	/* The camera and person come from the event, as for a new alert; person 0 stands for unknown faces. */
	store_value p[] = { SV_INT(event_id), SV_TEXT(kind), SV_INT(since), SV_INT(now) };
	int rc = RUN(s,
	             "UPDATE alerts SET visit_count = visit_count + 1, last_at = $4 WHERE id = ("
	             "SELECT a.id FROM alerts a JOIN events e ON e.id = $1"
	             " WHERE a.camera_id = e.camera_id AND COALESCE(a.person_id, 0) = COALESCE(e.person_id, 0)"
	             " AND a.kind = $2 AND a.last_at >= $3 ORDER BY a.id DESC LIMIT 1) RETURNING id",
	             p, int_row, &id);
	if (rc)
		return rc;
	if (!id)
		return mien_error_set(err, MIEN_ENOENT, "no alert within the cooldown");
	return store_alert_get(s, id, out, err);
}

int store_alert_get(store *s, int64_t id, store_alert *out, mien_error *err)
{
	list_ctx l = { out, sizeof(*out), 1, 0, fill_alert };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " ALERT_COLUMNS ALERT_FROM " WHERE a.id = $1", p, list_row, &l);
	return found_or(rc, (int64_t)l.count, "alert", id, err);
}

int store_alert_ack(store *s, int64_t id, int64_t user_id, int64_t now, mien_error *err)
{
	int64_t found = 0;
	store_value p[] = { SV_INT(id), SV_ID_OR_NULL(user_id), SV_INT(now) };
	int rc =
	        RUN(s, "UPDATE alerts SET acked_at = $3, acked_by = $2 WHERE id = $1 AND acked_at IS NULL RETURNING id",
	            p, count_row, &found);
	if (rc || found)
		return rc;
	store_alert a;
	rc = store_alert_get(s, id, &a, err);
	if (rc)
		return rc;
	return mien_error_set(err, MIEN_ECONFLICT, "alert %lld was already acknowledged", (long long)id);
}

int store_alert_list(store *s, const int64_t *cameras, int n_cameras, int open_only, int64_t before_id,
                     store_alert *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = check_max(max, err);
	if (rc)
		return rc;
	where_buffers *buffers = where_begin();
	if (!buffers)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	where *w = &buffers->w;
	char *sql = buffers->sql;
	if (cameras)
		where_in(w, "a.camera_id", cameras, n_cameras);
	if (open_only)
		where_add(w, "a.acked_at IS NULL", NULL);
	if (before_id) {
		store_value v = SV_INT(before_id);
		where_add(w, "a.id < $%d", &v);
	}
	if (w->overflow) {
		rc = mien_error_set(err, MIEN_ERANGE, "alert filter too large");
		goto done;
	}
	w->params[w->n++] = SV_INT((int64_t)max);
	snprintf(sql, sizeof(buffers->sql), "SELECT " ALERT_COLUMNS ALERT_FROM "%s ORDER BY a.id DESC LIMIT $%d",
	         w->sql, w->n);
	list_ctx l = { out, sizeof(*out), max, 0, fill_alert };
	rc = run(s, sql, w->params, w->n, list_row, &l, err);
	*count = rc ? 0 : l.count;
done:
	return rc;
}

/* --- settings and audit ------------------------------------------------------------------------------------ */

typedef struct text_ctx {
	char *out;
	size_t cap;
	int found;
	mien_error *err;
} text_ctx;

static int text_row(void *ctx, const store_row *row)
{
	text_ctx *t = ctx;
	const char *v = store__col_text(row, 0);
	if (strlen(v) >= t->cap)
		return mien_error_set(t->err, MIEN_ERANGE, "setting value longer than %zu bytes", t->cap - 1);
	memcpy(t->out, v, strlen(v) + 1);
	t->found = 1;
	return MIEN_OK;
}

int store_setting_get(store *s, const char *key, char *value, size_t cap, mien_error *err)
{
	int rc = check_text(key, 64, "setting name", 1, err);
	if (rc)
		return rc;
	text_ctx t = { value, cap, 0, err };
	store_value p[] = { SV_TEXT(key) };
	rc = RUN(s, "SELECT value FROM settings WHERE key = $1", p, text_row, &t);
	if (rc == MIEN_OK && !t.found)
		return mien_error_set(err, MIEN_ENOENT, "setting %s not set", key);
	return rc;
}

int store_setting_set(store *s, const char *key, const char *value, mien_error *err)
{
	int rc = check_text(key, 64, "setting name", 1, err);
	if (rc || (rc = check_text(value, STORE_SETTING_MAX, "setting value", 0, err)))
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
	copy_text(a->username, sizeof(a->username), store__col_text(row, 3));
	copy_text(a->action, sizeof(a->action), store__col_text(row, 4));
	copy_text(a->target, sizeof(a->target), store__col_text(row, 5));
	copy_text(a->detail, sizeof(a->detail), store__col_text(row, 6));
	copy_text(a->address, sizeof(a->address), store__col_text(row, 7));
}

int store_audit_add(store *s, store_audit *a, mien_error *err)
{
	int rc = check_text(a->action, sizeof(a->action), "audit action", 1, err);
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
	           p, int_row, &a->id);
}

int store_audit_list(store *s, int64_t before_id, store_audit *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = check_max(max, err);
	if (rc)
		return rc;
	list_ctx l = { out, sizeof(*out), max, 0, fill_audit };
	store_value p[] = { SV_INT(before_id ? before_id : INT64_MAX), SV_INT((int64_t)max) };
	rc = RUN(s,
	         "SELECT id, at, user_id, username, action, target, detail, address FROM audit WHERE id < $1"
	         " ORDER BY id DESC LIMIT $2",
	         p, list_row, &l);
	*count = rc ? 0 : l.count;
	return rc;
}

/* --- camera leases and nodes ------------------------------------------------------------------------------ */

int store_lease_claim(store *s, int64_t camera_id, const char *node, int64_t now, int64_t ttl_ms, int *won,
                      mien_error *err)
{
	*won = 0;
	int rc = check_text(node, 128, "node id", 1, err);
	if (rc)
		return rc;
	/* One statement: take a free or expired lease, or renew our own; someone else's live lease is left alone. */
	int64_t got = 0;
	store_value p[] = { SV_INT(camera_id), SV_TEXT(node), SV_INT(now + ttl_ms), SV_INT(now) };
	rc = RUN(s,
	         "INSERT INTO camera_leases (camera_id, node, expires_at) VALUES ($1, $2, $3)"
	         " ON CONFLICT (camera_id) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at"
	         " WHERE camera_leases.node = excluded.node OR camera_leases.expires_at < $4 RETURNING camera_id",
	         p, count_row, &got);
	*won = rc == MIEN_OK && got > 0;
	return rc;
}

int store_lease_release(store *s, int64_t camera_id, const char *node, mien_error *err)
{
	store_value p[] = { SV_INT(camera_id), SV_TEXT(node) };
	if (camera_id)
		return RUN(s, "DELETE FROM camera_leases WHERE camera_id = $1 AND node = $2", p, NULL, NULL);
	return run(s, "DELETE FROM camera_leases WHERE node = $1", &p[1], 1, NULL, NULL, err);
}

int store_lease_holder(store *s, int64_t camera_id, int64_t now, char *node, size_t cap, mien_error *err)
{
	text_ctx t = { node, cap, 0, err };
	store_value p[] = { SV_INT(camera_id), SV_INT(now) };
	int rc = RUN(s, "SELECT node FROM camera_leases WHERE camera_id = $1 AND expires_at >= $2", p, text_row, &t);
	if (rc == MIEN_OK && !t.found)
		return mien_error_set(err, MIEN_ENOENT, "camera %lld runs nowhere", (long long)camera_id);
	return rc;
}

int store_node_heartbeat(store *s, const char *node, const char *role, int64_t now, mien_error *err)
{
	int rc = check_text(node, 128, "node id", 1, err);
	if (rc)
		return rc;
	store_value p[] = { SV_TEXT(node), SV_TEXT(role), SV_INT(now) };
	return RUN(s,
	           "INSERT INTO nodes (node, role, seen_at) VALUES ($1, $2, $3)"
	           " ON CONFLICT (node) DO UPDATE SET role = excluded.role, seen_at = excluded.seen_at",
	           p, NULL, NULL);
}

int store_nodes_alive(store *s, const char *role, int64_t since, int64_t *count, mien_error *err)
{
	*count = 0;
	store_value p[] = { SV_TEXT(role), SV_INT(since) };
	return RUN(s, "SELECT count(*) FROM nodes WHERE role = $1 AND seen_at >= $2", p, int_row, count);
}
