/*
 * http.h — mien's HTTP server: the JSON API of DESIGN.md under /api/v1, health and metrics endpoints, and the
 * dashboard's built files.
 *
 * The server runs on libmicrohttpd's own threads (a pool of epoll threads, see server.c for why) and borrows
 * the store; it loads the face models itself, lazily, on the first request that analyses a picture. Start it
 * with http_server_start, stop it with http_server_stop (which waits for requests in flight).
 */
#ifndef MIEN_HTTP_HTTP_H
#define MIEN_HTTP_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "core/result.h"
#include "face/face.h"
#include "store/store.h"

struct json_t;

typedef struct http_options {
	const char *listen;         /* "HOST:PORT" (IPv4 or [IPv6]); PORT 0 picks a free port */
	const char *models;         /* the models folder (MIEN_MODELS) */
	const char *web_dir;        /* the dashboard's built files; NULL or missing = a placeholder page at / */
	int threads;                /* inference threads per analyzer (MIEN_THREADS) */
	int analyzers;              /* face pipelines that may run at once; 0 = 1 */
	int http_threads;           /* libmicrohttpd pool threads; 0 = 8 */
	int max_connections;        /* 0 = MIEN_MAX_CONNECTIONS or 4096 (streams hold theirs open) */
	int max_connections_per_ip; /* 0 = MIEN_MAX_CONNECTIONS_PER_IP or 128; < 0 = no per-address limit */
	long header_timeout_ms;     /* time to send a request's head; 0 = MIEN_HEADER_TIMEOUT_MS or 10000 */
	long token_ttl_ms;          /* session lifetime; 0 = MIEN_SESSION_TTL_S seconds, or 12 hours */
	int login_user_limit;       /* failed logins per user per minute before 429; 0 = 5 */
	int login_addr_limit;       /* failed logins per address per minute before 429; 0 = 20 */
	struct bus *bus;            /* borrowed; the live stream's source (NULL: GET /stream answers 503) */
	struct watch *watch;        /* borrowed; this node's camera workers (NULL: no live pictures here) */
	struct notify *notify;      /* borrowed; MQTT and webhooks (NULL: the webhook test answers 503) */
} http_options;

typedef struct http_server http_server;

/*
 * Binds and starts serving. `db` is borrowed and must outlive the server. Caller stops it with
 * http_server_stop. MIEN_EINVAL for a malformed listen address, MIEN_EIO when it cannot bind.
 */
int http_server_start(const http_options *options, store *db, http_server **out, mien_error *err);

/* The port actually bound (useful with port 0). */
int http_server_port(const http_server *server);

/* Stops accepting, waits for requests in flight, frees everything. NULL is a no-op. */
void http_server_stop(http_server **server);

/*
 * Password hashing for users (argon2id through libsodium's crypto_pwhash_str). `hash` receives the encoded
 * string (at most STORE_HASH_MAX bytes with the terminator). MIEN_ENOMEM when the hash memory cannot be had.
 */
int http_password_hash(const char *password, char hash[STORE_HASH_MAX], mien_error *err);
/* 1 when `password` matches `hash`, 0 otherwise (also for a malformed hash). */
int http_password_verify(const char *hash, const char *password);

/* 20 random characters from [A-Za-z0-9] for a first password; `out` holds at least 21 bytes. */
void http_random_password(char *out, size_t size);

/* One face of an analysis as the API shows it (POST /analyze, `mien analyze --json`): box, score, landmarks,
 * quality, recognisable, and with `with_expression` its expressions and dominant one. A new jansson object. */
struct json_t *http_face_json(const face_result *face, int with_expression);

/* The paths and methods of the router, one "METHOD PATH" per line (OpenAPI's {id} notation), for
 * `mien serve --routes` and the test that compares them with the OpenAPI document. */
void http_routes_print(FILE *out);

#endif
