/*
 * store_pg.c — the PostgreSQL backend, over libpq.
 *
 * Parameters travel as text (numbers, booleans, strings) or binary (bytea); results come back in binary, one
 * row at a time (single-row mode), so walking a million embeddings never holds them all in memory. A
 * connection that breaks is marked unusable and the pool opens a fresh one on a later call.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* Type OIDs from PostgreSQL's pg_type.dat (stable across releases). */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_NAME = 19,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_VARCHAR = 1043,
};

#define MAX_PARAMS 600

struct store_conn {
	PGconn *pg;
	int broken;
};

static void pg_disconnect(store_conn **conn)
{
	if (!conn || !*conn)
		return;
	PQfinish((*conn)->pg);
	free(*conn);
	*conn = NULL;
}

/* libpq's messages end in a newline; keep them on one line. */
static const char *one_line(char *buf, size_t cap, const char *msg)
{
	snprintf(buf, cap, "%s", msg ? msg : "");
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = (p[1] ? ' ' : '\0');
	return buf;
}

static int pg_connect(const char *url, store_conn **out, mien_error *err)
{
	*out = NULL;
	store_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	/* The URL goes in as dbname with expand_dbname, so its own parameters apply; ours only fill gaps. Keepalives
	 * notice a server that vanished without closing the socket. */
	const char *keys[] = { "dbname",
		               "connect_timeout",
		               "application_name",
		               "keepalives_idle",
		               "keepalives_interval",
		               "keepalives_count",
		               NULL };
	const char *values[] = { url, "5", "mien", "30", "10", "3", NULL };
	c->pg = PQconnectdbParams(keys, values, 1);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		char line[400];
		/* libpq's message names host and port, never the password. */
		int rc = mien_error_set(err, MIEN_EUNAVAILABLE, "postgresql: cannot connect: %s",
		                        one_line(line, sizeof(line), c->pg ? PQerrorMessage(c->pg) : "out of memory"));
		pg_disconnect(&c);
		return rc;
	}
	/* Quiet NOTICEs (e.g. "relation already exists, skipping") instead of libpq printing them on stderr. */
	PQsetNoticeProcessor(c->pg, NULL, NULL);
	PGresult *res = PQexec(c->pg, "SET client_min_messages = warning");
	PQclear(res);
	*out = c;
	return MIEN_OK;
}

/* The one place PostgreSQL's errors become mien's, by SQLSTATE. */
static int translate(store_conn *c, const PGresult *res, mien_error *err)
{
	char line[400];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = one_line(line, sizeof(line), res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
	if (PQstatus(c->pg) != CONNECTION_OK || !state) {
		c->broken = 1;
		return mien_error_set(err, MIEN_EUNAVAILABLE, "postgresql: connection lost: %s", msg);
	}
	if (strcmp(state, "23505") == 0)
		return mien_error_set(err, MIEN_ECONFLICT, "postgresql: already exists: %s", msg);
	if (strcmp(state, "23503") == 0)
		return mien_error_set(err, MIEN_ENOENT, "postgresql: a referenced record does not exist: %s", msg);
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
		c->broken = 1;
		return mien_error_set(err, MIEN_EUNAVAILABLE, "postgresql: server unavailable: %s", msg);
	}
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
		return mien_error_set(err, MIEN_EUNAVAILABLE, "postgresql: busy, retry: %s", msg);
	if (strcmp(state, "53100") == 0)
		return mien_error_set(err, MIEN_EIO, "postgresql: disk full: %s", msg);
	if (strcmp(state, "25006") == 0)
		return mien_error_set(err, MIEN_EIO, "postgresql: read-only: %s", msg);
	if (strcmp(state, "53200") == 0)
		return mien_error_set(err, MIEN_ENOMEM, "postgresql: out of memory: %s", msg);
	if (strncmp(state, "22", 2) == 0)
		return mien_error_set(err, MIEN_EINVAL, "postgresql: %s", msg);
	return mien_error_set(err, MIEN_EBACKEND, "postgresql: %s", msg);
}

static uint64_t be64(const char *p)
{
	uint32_t hi, lo;
	memcpy(&hi, p, 4);
	memcpy(&lo, p + 4, 4);
	return ((uint64_t)ntohl(hi) << 32) | ntohl(lo);
}

static int row_is_null(const store_row *r, int col)
{
	return PQgetisnull(r->impl, 0, col);
}

static int64_t row_int(const store_row *r, int col)
{
	const char *v = PQgetvalue(r->impl, 0, col);
	uint32_t u32;
	uint16_t u16;
	switch (PQftype(r->impl, col)) {
	case OID_INT8:
		return (int64_t)be64(v);
	case OID_INT4:
		memcpy(&u32, v, 4);
		return (int32_t)ntohl(u32);
	case OID_INT2:
		memcpy(&u16, v, 2);
		return (int16_t)ntohs(u16);
	case OID_BOOL:
		return v[0] != 0;
	default:
		return 0;
	}
}

static double row_real(const store_row *r, int col)
{
	const char *v = PQgetvalue(r->impl, 0, col);
	switch (PQftype(r->impl, col)) {
	case OID_FLOAT8: {
		uint64_t bits = be64(v);
		double d;
		memcpy(&d, &bits, 8);
		return d;
	}
	case OID_FLOAT4: {
		uint32_t bits;
		float f;
		memcpy(&bits, v, 4);
		bits = ntohl(bits);
		memcpy(&f, &bits, 4);
		return f;
	}
	default:
		return (double)row_int(r, col);
	}
}

static const char *row_text(const store_row *r, int col)
{
	Oid type = PQftype(r->impl, col);
	if (PQgetisnull(r->impl, 0, col) || (type != OID_TEXT && type != OID_VARCHAR && type != OID_NAME))
		return "";
	return PQgetvalue(r->impl, 0, col); /* libpq ends every value with a zero byte */
}

static const void *row_blob(const store_row *r, int col, size_t *len)
{
	*len = (size_t)PQgetlength(r->impl, 0, col);
	return PQgetvalue(r->impl, 0, col);
}

static const store_row_ops row_ops = { row_is_null, row_int, row_real, row_text, row_blob };

static int pg_exec(store_conn *c, const char *sql, const store_value *params, int n_params, store_row_fn fn, void *ctx,
                   mien_error *err)
{
	if (n_params > MAX_PARAMS)
		return mien_error_set(err, MIEN_ERANGE, "postgresql: %d parameters (at most %d)", n_params, MAX_PARAMS);
	if (c->broken || PQstatus(c->pg) != CONNECTION_OK) {
		c->broken = 1;
		return mien_error_set(err, MIEN_EUNAVAILABLE, "postgresql: connection lost");
	}
	Oid types[MAX_PARAMS];
	const char *values[MAX_PARAMS];
	int lengths[MAX_PARAMS], formats[MAX_PARAMS];
	char numbers[MAX_PARAMS][32];
	for (int i = 0; i < n_params; i++) {
		const store_value *v = &params[i];
		lengths[i] = 0;
		formats[i] = 0;
		switch (v->type) {
		case STORE_V_INT:
			types[i] = OID_INT8;
			snprintf(numbers[i], sizeof(numbers[i]), "%lld", (long long)v->i);
			values[i] = numbers[i];
			break;
		case STORE_V_BOOL:
			types[i] = OID_BOOL;
			values[i] = v->i ? "true" : "false";
			break;
		case STORE_V_REAL:
			types[i] = OID_FLOAT8;
			snprintf(numbers[i], sizeof(numbers[i]), "%.17g", v->d);
			values[i] = numbers[i];
			break;
		case STORE_V_TEXT:
			types[i] = OID_TEXT;
			values[i] = v->s;
			break;
		case STORE_V_BLOB:
			if (v->len > 0x7fffffff)
				return mien_error_set(err, MIEN_ETOOBIG, "postgresql: value of %zu bytes", v->len);
			types[i] = OID_BYTEA;
			values[i] = v->b;
			lengths[i] = (int)v->len;
			formats[i] = 1;
			break;
		default:
			types[i] = 0;
			values[i] = NULL;
			break;
		}
	}
	if (!PQsendQueryParams(c->pg, sql, n_params, types, values, lengths, formats, 1))
		return translate(c, NULL, err);
	PQsetSingleRowMode(c->pg);
	int rc = MIEN_OK;
	PGresult *res;
	/* Every result must be read before the connection takes the next statement, even after a stop. */
	while ((res = PQgetResult(c->pg)) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE) {
			if (rc == MIEN_OK && fn) {
				store_row row = { &row_ops, res, 0 };
				rc = fn(ctx, &row);
			}
		} else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			if (rc == MIEN_OK)
				rc = translate(c, res, err);
		}
		PQclear(res);
	}
	if (rc == MIEN_OK && PQstatus(c->pg) != CONNECTION_OK)
		rc = translate(c, NULL, err);
	return rc;
}

static int pg_usable(store_conn *c)
{
	return !c->broken && PQstatus(c->pg) == CONNECTION_OK;
}

static int count_row(void *ctx, const store_row *row)
{
	(void)ctx;
	(void)row;
	return MIEN_OK;
}

static int pg_check(store_conn *c, mien_error *err)
{
	/* Reading every table end to end touches every heap page, which is where damage shows; constraints are
	 * enforced by the server as rows are written. */
	static const char *const tables[] = { "users",        "user_cameras", "tokens",   "people",
		                              "faces",        "face_images",  "cameras",  "events",
		                              "event_images", "alerts",       "settings", "audit" };
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
		int rc = pg_exec(c, sql, NULL, 0, count_row, NULL, err);
		if (rc)
			return rc;
	}
	return MIEN_OK;
}

static void pg_after_erase(store_conn *c)
{
	(void)c; /* dead tuples are reclaimed by autovacuum; see docs/storage.md */
}

static int int64_row(void *ctx, const store_row *row)
{
	*(int64_t *)ctx = store__col_int(row, 0);
	return MIEN_OK;
}

/* The server's own figure for this database; its free disk space is the server's business (not visible here). */
static int pg_size(store_conn *c, int64_t *bytes, int64_t *free_bytes, mien_error *err)
{
	*free_bytes = -1;
	return pg_exec(c, "SELECT pg_database_size(current_database())", NULL, 0, int64_row, bytes, err);
}

const store_driver store__pg = {
	.name = "postgresql",
	.ddl_id = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
	.ddl_blob = "BYTEA",
	.begin = "BEGIN",
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.exec = pg_exec,
	.usable = pg_usable,
	.check = pg_check,
	.after_erase = pg_after_erase,
	.size = pg_size,
};
