/*
 * store_int.h — what store.c needs from a database backend (store_sqlite.c, store_pg.c), and what the record files
 * (store_users.c, store_people.c, ...) share with store.c.
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

#define SV_INT(x)  ((store_value){ .type = STORE_V_INT, .i = (x) })
#define SV_BOOL(x) ((store_value){ .type = STORE_V_BOOL, .i = (x) ? 1 : 0 })
#define SV_REAL(x) ((store_value){ .type = STORE_V_REAL, .d = (x) })
#define SV_TEXT(x) ((store_value){ .type = STORE_V_TEXT, .s = (x) })
/* A function rather than a macro so that an array argument (never NULL) does not trip -Waddress. */
static inline store_value store__sv_blob(const void *p, size_t n)
{
	return (store_value){ .type = p ? STORE_V_BLOB : STORE_V_NULL, .b = p, .len = n };
}
#define SV_BLOB(p, n) store__sv_blob((p), (n))
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

/* --- what the record files (store_*.c) share with store.c --------------------------------------------- */

#include <pthread.h>

#include "store/store.h"

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

/* A transaction holds one connection from begin to finish. */
typedef struct store__txn {
	store *s;
	store_conn *conn;
	int slot;
} store__txn;

#define RUN(s, sql, params, fn, ctx) store__run(s, sql, params, (int)MIEN_ARRAY_LEN(params), fn, ctx, err)
#define TX(t, sql, params, fn, ctx)  store__txn_exec(t, sql, params, (int)MIEN_ARRAY_LEN(params), fn, ctx, err)

/* Fills a list of records: the row callback writes out[count] through `fill`. */
typedef struct store__list {
	void *out;
	size_t size, max, count;
	void (*fill)(void *item, const store_row *row);
} store__list;

typedef struct store__text {
	char *out;
	size_t cap;
	int found;
	mien_error *err;
} store__text;

int store__run(store *s, const char *sql, const store_value *params, int n, store_row_fn fn, void *ctx,
               mien_error *err);
/* The database's size on disk and the free space beside it (store_driver.size). */
int store__disk_size(store *s, int64_t *bytes, int64_t *free_bytes, mien_error *err);
int store__txn_begin(store *s, store__txn *t, mien_error *err);
int store__txn_exec(store__txn *t, const char *sql, const store_value *params, int n, store_row_fn fn, void *ctx,
                    mien_error *err);
/* Commits when rc is MIEN_OK, rolls back otherwise; returns rc or the commit's failure. */
int store__txn_end(store__txn *t, int rc, mien_error *err);

/* MIEN_EINVAL when a required text is missing or empty, MIEN_ERANGE when it does not fit in cap bytes. */
int store__check_text(const char *text, size_t cap, const char *what, int required, mien_error *err);
void store__copy_text(char *dst, size_t cap, const char *src);
int store__check_max(size_t max, mien_error *err);
/* Row callbacks: count rows into an int64_t; read column 0 into an int64_t; fill a store__list; copy column 0
 * into a store__text. */
int store__count_row(void *ctx, const store_row *row);
int store__int_row(void *ctx, const store_row *row);
int store__list_row(void *ctx, const store_row *row);
int store__text_row(void *ctx, const store_row *row);
/* Columns 0..2 (count, max id, id sum) into a store_face_signature. */
int store__signature_row(void *ctx, const store_row *row);
/* For a statement ending in RETURNING id: MIEN_ENOENT when it touched nothing. */
int store__found_or(int rc, int64_t found, const char *what, int64_t id, mien_error *err);
/* A DELETE ... RETURNING in its own transaction, then the backend scrubs its side files (see store.c). */
int store__erase(store *s, const char *sql, const store_value *params, int n, int64_t *erased, mien_error *err);
int store__erase_id(store *s, const char *sql, int64_t id, const char *what, mien_error *err);
/* "%text%" for LIKE, with the pattern characters of `text` escaped by '\'. */
int store__like_pattern(const char *text, char *out, size_t cap, mien_error *err);
/* Column 0 of the row the statement (one $1 = id) finds, as a malloc'd copy; MIEN_ENOENT when none. */
int store__read_blob(store *s, const char *sql, int64_t id, uint8_t **bytes, size_t *len, const char *what,
                     mien_error *err);

/* Embedding walks (the gallery's sources): runs `sql`, whose rows are (id, person id, dim, little-endian float32
 * blob), and hands each embedding to fn, copied into an aligned buffer. A row whose blob does not hold `dim` floats
 * stops the walk with MIEN_EFORMAT, or is passed over when `skip_damaged`. */
int store__embeddings_run(store *s, const char *sql, const store_value *params, int n, int skip_damaged,
                          store_embedding_fn fn, void *ctx, mien_error *err);
/* Column 0 of every row of `sql` into *ids (caller frees with free(); NULL when *count is 0); MIEN_ETOOBIG past
 * 16 M rows. */
int store__ids_run(store *s, const char *sql, const store_value *params, int n, int64_t **ids, size_t *count,
                   mien_error *err);

/* A WHERE clause built from optional filters, with its parameters. */
typedef struct store__where {
	char sql[12288];
	size_t len;
	store_value params[CAMERA_PARAMS + 16];
	int n;
	int overflow;
} store__where;

/* One filter buffer and one statement buffer per thread, reused: a list request then allocates nothing for its
 * SQL (bench/api showed these 50 KB per request among the top costs). Freed when the thread ends. */
typedef struct store__where_buffers {
	store__where w;
	char sql[sizeof(((store__where *)0)->sql) + 1024];
} store__where_buffers;
/* This thread's buffers, reset; NULL when out of memory. */
store__where_buffers *store__where_begin(void);
/* Adds "AND fragment"; a fragment with %d gets the next parameter number and takes *value. */
void store__where_add(store__where *w, const char *fragment, const store_value *value);
/* "column IN ($k, $k+1, ...)" for a camera list; an empty list matches nothing. */
void store__where_in(store__where *w, const char *column, const int64_t *ids, int n);

#endif
