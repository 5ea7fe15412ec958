/*
 * store_sqlite.c — the embedded backend: one SQLite file in WAL mode.
 *
 * Each pooled connection opens the same file. WAL lets readers run beside the one writer; writers queue on
 * the database lock for up to busy_timeout. synchronous=FULL syncs the log at every commit, so an
 * acknowledged write survives a power cut; secure_delete zeroes erased content.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store/store_int.h"

#define BUSY_TIMEOUT_MS 10000

struct store_conn {
	sqlite3 *db;
	int broken;
};

/* Creates the parent directories of `path` (like mkdir -p on its dirname). */
static int make_parent_dirs(const char *path, mien_error *err)
{
	char dir[4096];
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return mien_error_set(err, MIEN_ERANGE, "sqlite: path too long");
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return MIEN_OK;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) && errno != EEXIST)
			return mien_error_set(err, MIEN_EIO, "sqlite: cannot create %s: %s", dir, strerror(errno));
		*p = '/';
	}
	if (mkdir(dir, 0750) && errno != EEXIST)
		return mien_error_set(err, MIEN_EIO, "sqlite: cannot create %s: %s", dir, strerror(errno));
	return MIEN_OK;
}

/* The one place SQLite's result codes become mien's. */
static int translate(sqlite3 *db, int rc, const char *what, mien_error *err)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return mien_error_set(err, MIEN_ENOENT, "%s: a referenced record does not exist (%s)", what,
			                      msg);
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return mien_error_set(err, MIEN_ECONFLICT, "%s: already exists (%s)", what, msg);
		return mien_error_set(err, MIEN_EINVAL, "%s: %s", what, msg);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return mien_error_set(err, MIEN_EUNAVAILABLE, "%s: database busy (%s)", what, msg);
	case SQLITE_FULL:
		return mien_error_set(err, MIEN_EIO, "%s: disk full (%s)", what, msg);
	case SQLITE_READONLY:
		return mien_error_set(err, MIEN_EIO, "%s: database is read-only (%s)", what, msg);
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		return mien_error_set(err, MIEN_EIO, "%s: %s", what, msg);
	case SQLITE_NOMEM:
		return mien_error_set(err, MIEN_ENOMEM, "%s: out of memory", what);
	case SQLITE_TOOBIG:
		return mien_error_set(err, MIEN_ETOOBIG, "%s: %s", what, msg);
	default:
		return mien_error_set(err, MIEN_EBACKEND, "%s: %s", what, msg);
	}
}

static int run_plain(sqlite3 *db, const char *sql, mien_error *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	sqlite3_free(msg);
	return rc == SQLITE_OK ? MIEN_OK : translate(db, rc, sql, err);
}

static void sqlite_disconnect(store_conn **conn)
{
	if (!conn || !*conn)
		return;
	sqlite3_close_v2((*conn)->db);
	free(*conn);
	*conn = NULL;
}

static int sqlite_connect(const char *url, store_conn **out, mien_error *err)
{
	*out = NULL;
	const char *path = url + strlen("sqlite:");
	if (!*path)
		return mien_error_set(err, MIEN_EINVAL, "sqlite: no file in the URL (sqlite:PATH)");
	int rc = make_parent_dirs(path, err);
	if (rc)
		return rc;
	store_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	int src = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		rc = translate(c->db, src, "sqlite: open", err);
		mien_error_prefix(err, "%s", path);
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* journal_mode=WAL is persistent in the file; setting it needs a write lock, which a busy database
	 * grants within the timeout. */
	if ((rc = run_plain(c->db, "PRAGMA journal_mode=WAL", err)) ||
	    (rc = run_plain(c->db, "PRAGMA synchronous=FULL", err)) ||
	    (rc = run_plain(c->db, "PRAGMA foreign_keys=ON", err)) ||
	    (rc = run_plain(c->db, "PRAGMA secure_delete=ON", err))) {
		struct statvfs fs;
		if (rc == MIEN_EIO && statvfs(path, &fs) == 0 && (fs.f_flag & ST_RDONLY))
			mien_error_prefix(err, "the file system is read-only");
		else if (rc == MIEN_EIO && access(path, W_OK) != 0)
			mien_error_prefix(err, "the file is not writable");
		mien_error_prefix(err, "sqlite %s", path);
		goto fail;
	}
	*out = c;
	return MIEN_OK;
fail:
	sqlite_disconnect(&c);
	return rc;
}

/* Rewrites $N parameters as SQLite's ?N (same numbering). The caller frees the copy. */
static char *to_sqlite_params(const char *sql)
{
	char *copy = strdup(sql);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if (*p == '$' && p[1] >= '0' && p[1] <= '9')
			*p = '?';
	return copy;
}

static int row_is_null(const store_row *r, int col)
{
	return sqlite3_column_type(r->impl, col) == SQLITE_NULL;
}

static int64_t row_int(const store_row *r, int col)
{
	return sqlite3_column_int64(r->impl, col);
}

static double row_real(const store_row *r, int col)
{
	return sqlite3_column_double(r->impl, col);
}

static const char *row_text(const store_row *r, int col)
{
	const unsigned char *t = sqlite3_column_text(r->impl, col);
	return t ? (const char *)t : "";
}

static const void *row_blob(const store_row *r, int col, size_t *len)
{
	const void *b = sqlite3_column_blob(r->impl, col);
	*len = (size_t)sqlite3_column_bytes(r->impl, col);
	return b;
}

static const store_row_ops row_ops = { row_is_null, row_int, row_real, row_text, row_blob };

static int sqlite_exec(store_conn *c, const char *sql, const store_value *params, int n_params, store_row_fn fn,
                       void *ctx, mien_error *err)
{
	sqlite3_stmt *stmt = NULL;
	char *text = to_sqlite_params(sql);
	int rc = MIEN_OK;
	if (!text)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	int src = sqlite3_prepare_v2(c->db, text, -1, &stmt, NULL);
	if (src != SQLITE_OK) {
		rc = translate(c->db, src, "sqlite: prepare", err);
		goto done;
	}
	for (int i = 0; i < n_params && src == SQLITE_OK; i++) {
		const store_value *v = &params[i];
		switch (v->type) {
		case STORE_V_INT:
		case STORE_V_BOOL:
			src = sqlite3_bind_int64(stmt, i + 1, v->i);
			break;
		case STORE_V_REAL:
			src = sqlite3_bind_double(stmt, i + 1, v->d);
			break;
		case STORE_V_TEXT:
			src = sqlite3_bind_text(stmt, i + 1, v->s, -1, SQLITE_STATIC);
			break;
		case STORE_V_BLOB:
			src = sqlite3_bind_blob64(stmt, i + 1, v->b, v->len, SQLITE_STATIC);
			break;
		default:
			src = sqlite3_bind_null(stmt, i + 1);
			break;
		}
	}
	if (src != SQLITE_OK) {
		rc = translate(c->db, src, "sqlite: bind", err);
		goto done;
	}
	store_row row = { &row_ops, stmt, 0 };
	while ((src = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (fn && (rc = fn(ctx, &row)) != 0)
			goto done;
		row.index++;
	}
	if (src != SQLITE_DONE)
		rc = translate(c->db, src, "sqlite", err);
done:
	sqlite3_finalize(stmt);
	free(text);
	return rc;
}

static int sqlite_usable(store_conn *c)
{
	return !c->broken;
}

static int check_row(void *ctx, const store_row *row)
{
	const char *verdict = store__col_text(row, 0);
	if (strcmp(verdict, "ok") != 0)
		return mien_error_set(ctx, MIEN_EBACKEND, "sqlite integrity_check: %s", verdict);
	return MIEN_OK;
}

static int foreign_key_row(void *ctx, const store_row *row)
{
	return mien_error_set(ctx, MIEN_EBACKEND, "sqlite foreign_key_check: row %lld of %s points nowhere",
	                      (long long)store__col_int(row, 1), store__col_text(row, 0));
}

static int sqlite_check(store_conn *c, mien_error *err)
{
	int rc = sqlite_exec(c, "PRAGMA integrity_check", NULL, 0, check_row, err, err);
	if (rc)
		return rc;
	return sqlite_exec(c, "PRAGMA foreign_key_check", NULL, 0, foreign_key_row, err, err);
}

static void sqlite_after_erase(store_conn *c)
{
	/* Copy every committed page back into the database and empty the log, so the erased rows' old pages do
	 * not linger in the -wal file. It fails harmlessly while a reader holds an old snapshot; the next
	 * checkpoint then does it. */
	sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

static int int64_row(void *ctx, const store_row *row)
{
	*(int64_t *)ctx = store__col_int(row, 0);
	return MIEN_OK;
}

/* The pages in use or free inside the file, plus the write-ahead log beside it; the free space is that of the
 * file system holding the file. */
static int sqlite_size(store_conn *c, int64_t *bytes, int64_t *free_bytes, mien_error *err)
{
	int64_t pages = 0, page_size = 0;
	int rc = sqlite_exec(c, "PRAGMA page_count", NULL, 0, int64_row, &pages, err);
	if (rc || (rc = sqlite_exec(c, "PRAGMA page_size", NULL, 0, int64_row, &page_size, err)))
		return rc;
	*bytes = pages * page_size;
	*free_bytes = -1;
	const char *path = sqlite3_db_filename(c->db, "main");
	if (!path || !*path)
		return MIEN_OK;
	char wal[4096];
	struct stat st;
	if (snprintf(wal, sizeof(wal), "%s-wal", path) < (int)sizeof(wal) && stat(wal, &st) == 0)
		*bytes += (int64_t)st.st_size;
	struct statvfs fs;
	if (statvfs(path, &fs) == 0)
		*free_bytes = (int64_t)fs.f_bavail * (int64_t)fs.f_frsize;
	return MIEN_OK;
}

const store_driver store__sqlite = {
	.name = "sqlite",
	.ddl_id = "INTEGER PRIMARY KEY AUTOINCREMENT",
	.ddl_blob = "BLOB",
	.begin = "BEGIN IMMEDIATE",
	.connect = sqlite_connect,
	.disconnect = sqlite_disconnect,
	.exec = sqlite_exec,
	.usable = sqlite_usable,
	.check = sqlite_check,
	.after_erase = sqlite_after_erase,
	.size = sqlite_size,
};
