/*
 * store_int.h — what store.c needs from a database backend (store_sqlite.c, store_pg.c), and nothing more.
 *
 * store.c writes every statement once, with PostgreSQL-style numbered parameters ($1, $2, ...), and hands
 * it to the backend's exec together with typed values; rows come back one at a time through a callback that
 * reads columns with the store__col_* helpers. Statements that change rows and must know whether they found
 * one use RETURNING, which both backends support.
 */
#ifndef MIEN_STORE_STORE_INT_H
#define MIEN_STORE_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

typedef struct store_conn store_conn; /* one database connection, defined by each backend */

enum store_value_type { STORE_V_NULL, STORE_V_INT, STORE_V_REAL, STORE_V_TEXT, STORE_V_BLOB, STORE_V_BOOL };

/* A statement parameter. Text and blobs are borrowed for the duration of the exec call. */
typedef struct store_value {
	int type;
	int64_t i; /* INT and BOOL */
	double d;
	const char *s;
	const void *b;
	size_t len;
} store_value;

#define SV_INT(x)     ((store_value){ .type = STORE_V_INT, .i = (x) })
#define SV_BOOL(x)    ((store_value){ .type = STORE_V_BOOL, .i = (x) ? 1 : 0 })
#define SV_REAL(x)    ((store_value){ .type = STORE_V_REAL, .d = (x) })
#define SV_TEXT(x)    ((store_value){ .type = STORE_V_TEXT, .s = (x) })
#define SV_BLOB(p, n) ((store_value){ .type = (p) ? STORE_V_BLOB : STORE_V_NULL, .b = (p), .len = (n) })
#define SV_NULL       ((store_value){ .type = STORE_V_NULL })
/* 0 stands for "none" in mien's structs (ids, end times); the database holds NULL. */
#define SV_ID_OR_NULL(x) ((x) ? SV_INT(x) : SV_NULL)

/* A result row as the backend exposes it; read it only inside the row callback. */
typedef struct store_row store_row;
typedef struct store_row_ops {
	int (*is_null)(const store_row *r, int col);
	int64_t (*int64)(const store_row *r, int col);
	double (*real)(const store_row *r, int col);
	const char *(*text)(const store_row *r, int col); /* never NULL */
	const void *(*blob)(const store_row *r, int col, size_t *len);
} store_row_ops;
struct store_row {
	const store_row_ops *ops;
	void *impl;
	int index;
};

static inline int store__col_null(const store_row *r, int col)
{
	return r->ops->is_null(r, col);
}
static inline int64_t store__col_int(const store_row *r, int col)
{
	return r->ops->is_null(r, col) ? 0 : r->ops->int64(r, col);
}
static inline double store__col_real(const store_row *r, int col)
{
	return r->ops->is_null(r, col) ? 0 : r->ops->real(r, col);
}
static inline const char *store__col_text(const store_row *r, int col)
{
	return r->ops->text(r, col);
}
static inline const void *store__col_blob(const store_row *r, int col, size_t *len)
{
	*len = 0;
	return r->ops->is_null(r, col) ? NULL : r->ops->blob(r, col, len);
}

/* Called per row; a non-zero return stops the statement and becomes exec's return value. */
typedef int (*store_row_fn)(void *ctx, const store_row *row);

typedef struct store_driver {
	const char *name;
	/* Words that differ between the two SQL dialects, substituted into the migrations. */
	const char *ddl_id;   /* an auto-incrementing integer primary key that never reuses ids */
	const char *ddl_blob; /* binary column type */
	const char *begin;    /* the statement that opens a write transaction */
	int (*connect)(const char *url, store_conn **out, mien_error *err);
	void (*disconnect)(store_conn **conn);
	/* Runs one statement; rows go to fn (may be NULL). Translates the library's errors into MIEN_E* codes:
	 * unique violations → MIEN_ECONFLICT, foreign key violations → MIEN_ENOENT, lost or unreachable server and
	 * lock timeouts → MIEN_EUNAVAILABLE, read-only or full storage → MIEN_EIO. */
	int (*exec)(store_conn *conn, const char *sql, const store_value *params, int n_params, store_row_fn fn,
	            void *ctx, mien_error *err);
	/* 0 once the connection is known to be broken, so that the pool replaces it. */
	int (*usable)(store_conn *conn);
	/* The database's own integrity check. */
	int (*check)(store_conn *conn, mien_error *err);
	/* After an erasure: make sure no copy of the erased rows stays in side files (SQLite's WAL). */
	void (*after_erase)(store_conn *conn);
	/* The database's size on disk in *bytes and the free space where it lives in *free_bytes (-1 when the
	 * backend cannot know it, as with a server elsewhere). */
	int (*size)(store_conn *conn, int64_t *bytes, int64_t *free_bytes, mien_error *err);
} store_driver;

extern const store_driver store__sqlite;
extern const store_driver store__pg;

#endif
