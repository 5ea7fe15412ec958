/*
 * http_int.h — what the files of src/http share: the per-request context, the route table, the response
 * helpers, and the pure parsing helpers (unit-tested in tests/unit/test_http_*.c).
 *
 * A handler reads the request from its http_req (the matched route, the ids in the path, the body, the
 * authenticated user with role and camera list) and answers with exactly one http__reply_* call. Handlers run
 * on libmicrohttpd's threads: they may block on the store or the face pipeline.
 */
#ifndef MIEN_HTTP_HTTP_INT_H
#define MIEN_HTTP_HTTP_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "http/auth_cache.h"
#include "http/http.h"
#include "store/store.h"

struct MHD_Connection;
struct MHD_Response;

/* Hard caps (STYLE: every growable buffer has one). */
#define HTTP_IMAGE_BODY_MAX ((size_t)16 << 20)
#define HTTP_JSON_BODY_MAX  ((size_t)64 << 10)
#define HTTP_JSON_DEPTH_MAX 16
#define HTTP_DRAIN_MAX      ((size_t)32 << 20) /* an oversized body up to this much is read and dropped */
#define HTTP_HEADER_MAX     ((size_t)32 << 10) /* all headers of one request together */
#define HTTP_IDLE_TIMEOUT_S 60                 /* libmicrohttpd closes a connection idle this long */
#define HTTP_MAX_PIXELS     ((int64_t)40 * 1000 * 1000)
#define HTTP_LIST_DEFAULT   50
#define HTTP_PATH_IDS       2
#define HTTP_TOKEN_BYTES    32
#define HTTP_COOKIE         "mien_session"
/* The dashboard's Content-Security-Policy (sent on every answer): its own scripts, styles, pictures and API,
 * nothing inline, no plugins, never framed. blob: pictures are the user's own photo, shown from the file chosen
 * (the Person page draws the faces of a group photo on it before anything is uploaded twice). */
#define HTTP_CSP                                                                                              \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; " \
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_PATCH = 1 << 2,
	HTTP_DELETE = 1 << 3,
	HTTP_PUT = 1 << 4,
	HTTP_HEAD = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
};
int http__method_parse(const char *name); /* 0 when unknown */
const char *http__method_name(int method);

typedef struct http_req http_req;
typedef void (*http_handler)(http_req *r);

/* Route flags. */
enum {
	HTTP_ROUTE_IMAGE = 1 << 0, /* the body may be a picture (HTTP_IMAGE_BODY_MAX) rather than JSON */
	HTTP_ROUTE_HIDDEN = 1 << 1 /* not an API route (health, metrics): kept out of the OpenAPI comparison */
};

typedef struct http_route {
	int method;          /* one enum http_method */
	const char *pattern; /* "/api/v1/people/{id}/faces/{face_id}": each {...} is a positive integer id */
	int min_role;        /* STORE_ROLE_NONE = anonymous allowed; else the least role (they are ordered) */
	unsigned flags;
	http_handler handler;
} http_route;

extern const http_route http__routes[];
extern const size_t http__n_routes;

/* Route matching results besides an index >= 0. */
#define HTTP_ROUTE_NOT_FOUND     (-1)
#define HTTP_ROUTE_BAD_METHOD    (-2) /* the path exists with other methods: *allowed says which */
#define HTTP_ROUTE_BAD_PATH      (-3) /* "." or ".." segments, empty segments, a malformed id */
#define HTTP_ROUTE_ID_MAX_DIGITS 15

/*
 * Finds the route of `method` and `path` (already percent-decoded) in `table`; writes the path's ids into
 * ids[] (up to HTTP_PATH_IDS). Returns the index, or one of HTTP_ROUTE_*. Pure: unit-tested.
 */
int http__route_match(const http_route *table, size_t n, int method, const char *path, int64_t ids[HTTP_PATH_IDS],
                      int *allowed);

/* Parses a positive decimal id (1..10^15, digits only): 0 and sets *id, or -1. */
int http__id_parse(const char *text, int64_t *id);

/* 1 when the JSON text nests arrays and objects at most `max_depth` deep (strings are skipped), else 0. */
int http__json_depth_ok(const char *text, size_t len, int max_depth);

/* Field kinds for http__json_check. */
enum {
	HTTP_FIELD_STRING = 1,
	HTTP_FIELD_INT = 2,
	HTTP_FIELD_NUMBER = 3,
	HTTP_FIELD_BOOL = 4,
	HTTP_FIELD_ID_ARRAY = 5, /* an array of positive integers */
	HTTP_FIELD_NUMBER_OR_NULL = 6,
	HTTP_FIELD_STRING_OR_NULL = 7,
	HTTP_FIELD_ID_OR_NULL = 8,      /* a positive integer or null */
	HTTP_FIELD_ARRAY = 9,           /* any array of at most max_len elements; the handler checks them */
	HTTP_FIELD_OBJECT_OR_NULL = 10, /* an object (the handler checks it) or null */
};
typedef struct http_field {
	const char *name;
	int kind;
	int required;
	size_t max_len; /* strings: bytes without the terminator (0 = no limit); arrays: elements */
} http_field;
/*
 * Checks that `body` is an object whose keys are all in `fields` (NULL-name terminated), of the right kinds,
 * with every required one present. 0 when valid; -1 with a message naming the field in `why`.
 */
int http__json_check(const json_t *body, const http_field *fields, char *why, size_t why_size);

/* Writes ms-since-epoch as "2026-11-26T12:00:00.123Z". */
void http__iso_time(int64_t ms, char out[32]);
/* Parses ms since the epoch (digits) or an ISO-8601 UTC time ("...Z", optional .mmm): 0 and *ms, or -1. */
int http__time_parse(const char *text, int64_t *ms);

/*
 * Finds the picture in a multipart/form-data body: the part named "image", else the first part that has a
 * filename or a Content-Type. *part points into `body` (borrowed). `content_type` is the request's header (the
 * boundary is read from it). 0 when found; -1 when the body or the header is malformed or has no such part.
 */
int http__multipart_image(const char *content_type, const uint8_t *body, size_t len, const uint8_t **part,
                          size_t *part_len);

/* --- the server and the request --------------------------------------------------------------------------- */

typedef struct http_metrics http_metrics;
typedef struct http_faces http_faces;
typedef struct http_search http_search;
typedef struct http_limiter http_limiter;
typedef struct http_stream http_stream;
typedef struct http_live http_live;
typedef struct http_sessions http_sessions;
typedef struct http_heads http_heads;
struct bus;

struct http_server {
	struct MHD_Daemon *daemon;
	store *db;
	http_options options;
	char listen[256];
	char models[1024];
	char web_dir[1024];
	int web_present;
	int port;
	auth_cache *auth;
	http_metrics *metrics;
	http_faces *faces;
	http_search *search; /* the face search's index over event faces (search.c) */
	http_limiter *limiter;
	http_stream *stream;             /* NULL when no bus was given */
	int node_sub;                    /* the bus subscription for other nodes' messages (0 = none) */
	http_live *live;                 /* live pictures of the watch's cameras (NULL without a watch) */
	http_sessions *sessions;         /* re-checks the sessions of open streams and live views */
	http_heads *heads;               /* the request-head deadline of every connection */
	char dummy_hash[STORE_HASH_MAX]; /* verified for unknown users, so that login takes as long either way */
	const char *openapi;             /* the embedded document */
	size_t openapi_len;
};

struct http_req {
	struct MHD_Connection *conn;
	http_server *srv;
	int route;  /* index into http__routes, or < 0 */
	int method; /* enum http_method */
	const char *path;
	int64_t ids[HTTP_PATH_IDS];
	int64_t started_ms;
	char address[64];

	/* the request line as received (URI log callback), before libmicrohttpd splits and decodes it in place */
	const char *target;
	size_t target_len; /* strlen at that time: shorter than the target when it held a NUL byte */

	/* body */
	uint8_t *body;
	size_t body_len, body_cap, body_max;
	uint64_t body_seen; /* bytes received, kept or not: a chunked body has no length to check up front */
	int body_too_big;

	/* the authenticated user (user.user_id == 0: anonymous) */
	auth_entry user;
	int via_cookie;
	uint8_t token_hash[STORE_TOKEN_HASH_BYTES];

	/* the answer */
	int status;
	struct MHD_Response *response;
};

/* Responses: each takes ownership of what it is given. */
void http__reply_json(http_req *r, int status, json_t *body); /* consumes body */
void http__reply_error(http_req *r, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void http__reply_bytes(http_req *r, int status, const char *content_type, void *data, size_t len, int copy);
void http__reply_empty(http_req *r, int status);
/* A list page: {"items":[...],"next_cursor":"ID"|null}; consumes items (NULL = empty); next_cursor 0 = last page. */
void http__reply_list(http_req *r, json_t *items, int64_t next_cursor);
/* Answers a store failure: ENOENT 404, ECONFLICT 409, EUNAVAILABLE 503, ERANGE/EINVAL 400, else 500. */
void http__reply_store_error(http_req *r, int rc, const mien_error *err, const char *what);
void http__add_header(http_req *r, const char *name, const char *value);
/* Hands a response built by the handler itself (a stream) to the request; takes ownership. */
void http__set_response(http_req *r, int status, struct MHD_Response *response);

/* The request's header or query argument (borrowed from libmicrohttpd), NULL when absent. */
const char *http__header(http_req *r, const char *name);
const char *http__query(http_req *r, const char *name);

/* Parses the body as a JSON object checked against `fields`; answers 400/415 itself and returns NULL when it
 * is not acceptable. Caller decrefs. */
json_t *http__body_json(http_req *r, const http_field *fields);
/* The picture of the request (image/jpeg, image/png or multipart): answers 400/415 and returns -1 when none. */
int http__body_image(http_req *r, const uint8_t **data, size_t *len);

/* Query-string helpers: answer 400 themselves and return -1 on a malformed value; 0 otherwise (absent keeps
 * *out unchanged). */
int http__query_id(http_req *r, const char *name, int64_t *out);
int http__query_limit(http_req *r, size_t *limit);
/* "true"/"1" or "false"/"0" into *out. */
int http__query_bool(http_req *r, const char *name, int *out);
/* An ISO-8601 UTC time or milliseconds since the epoch (http__time_parse) into *out. */
int http__query_time(http_req *r, const char *name, int64_t *out);

/* A number from the environment variable `name` within [min, max]; `fallback` when unset, and (with a warning
 * naming the variable) when malformed or out of range. */
long http__env_setting(const char *name, long min, long max, long fallback);

/* 1 when the user may see camera `camera_id` (their list or all cameras). */
int http__camera_allowed(const http_req *r, int64_t camera_id);
int http__role_at_least(const http_req *r, int role);

/* Appends to the audit log as the request's user, every field cut on a character boundary; a failure is logged as
 * an error naming the action, not returned. */
void http__audit(http_req *r, const char *action, const char *target_fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with a detail (borrowed; "" for none), e.g. a camera's redacted URL. */
void http__audit_detail(http_req *r, const char *action, const char *detail, const char *target_fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Forgets cached logins of a user after a change to their role, password, cameras or their deletion, or one
 * session at logout — here and, over the bus, on every other node. */
void http__auth_forget_user(http_server *s, int64_t user_id);
void http__auth_forget_token(http_server *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES]);
/* Tells the other nodes of a gallery change (consumes `change`), and applies one that another node sent:
 * {"op":"add","face_id","person_id","model","embedding":[...]}, {"op":"remove_face","face_id"},
 * {"op":"remove_person","person_id"}. */
void http__tell_gallery(http_server *s, json_t *change);
void http__gallery_apply(http_server *s, const json_t *change);
/* Tells the dashboards (SSE, every node) that an event changed: corrections, naming an unknown identity. */
void http__tell_event(http_server *s, const store_event *e);
void http__gallery_add_embedding(http_server *s, int64_t person_id, int64_t face_id, const float *embedding, int dim,
                                 const char *model);
/* Before enrolling face f (face `index` of `count` in its picture) to `person`: 0 to go on, or -1 after answering
 * 409 with the verdict "mismatch" (not like the person's faces) or "matches_other" (more like someone else), unless
 * `confirm`, which goes on with *warning set to the verdict overridden. */
int http__check_match(http_req *r, const store_person *person, const face_result *f, long index, size_t count,
                      int confirm, const char **warning);

/* The picture of a request (faces.c): decoded and analysed by the server's pool of analyzers into `faces` (room for
 * HTTP_FACES_MAX; best detection first, as POST /analyze lists them); *image is the decoded picture (caller frees
 * with face_image_free). 0, or -1 after answering 400/413/415/503. */
#define HTTP_FACES_MAX 64
int http__analyze_picture(http_req *r, face_image **image, face_result *faces, size_t *count);

/* Which face of a picture a request means: ?face=N (an index in /analyze's order) or ?box=x,y,w,h (picture pixels:
 * the detected face that overlaps it most). */
typedef struct http_face_selector {
	int by_index;
	long index;
	int by_box;
	float box[4];
} http_face_selector;
/* Parses ?face= and ?box=; answers 400 itself and returns -1 when malformed. */
int http__face_selector_parse(http_req *r, http_face_selector *sel);
/* What a picture of several faces and no selector means. */
enum { HTTP_PICK_ONE = 0 /* 422 several_faces, with the faces found */, HTTP_PICK_LARGEST = 1 };
/* The index of the face `sel` names among `count`, or -1 after answering: 422 no_face (none found), 400 (?face= past
 * the last), 422 no_face_at_box, or per `several`. */
long http__face_pick(http_req *r, const http_face_selector *sel, const face_result *faces, size_t count, int several);

/* Authentication (auth.c): reads the Bearer token or the cookie into r->user; 0 = anonymous or
 * authenticated, -1 = answered (503 when the store is down). */
int http__authenticate(http_req *r);
/* 0 when the request may change state: Bearer auth, or cookie auth with the server's own Origin. */
int http__csrf_ok(http_req *r);

int http__limiter_create(http_limiter **out);
void http__limiter_free(http_limiter **l);

/* Parked connections (park.c): a hub's lock and a ticker thread that calls tick(ctx, now) with the lock held every
 * tick_ms; a content reader with nothing to send parks its connection (http__parked_suspend, lock held: it
 * unlocks and returns 0 for the reader to return) until someone resumes it (http__parked_resume, lock held). */
struct MHD_Connection;
typedef struct http_park {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t ticker;
	int closing; /* under lock: set by http__park_closing, ends the ticker */
	int tick_ms;
	void (*tick)(void *ctx, int64_t now_ms);
	void *ctx;
} http_park;
typedef struct http_parked {
	struct MHD_Connection *conn;
	int suspended;
} http_parked;
int http__park_init(http_park *p, int tick_ms, void (*tick)(void *ctx, int64_t now_ms), void *ctx);
/* Lock held: marks the hub closing and wakes the ticker (which then ends). */
void http__park_closing(http_park *p);
/* Stops the ticker and releases the lock; every parked connection must have been resumed. */
void http__park_destroy(http_park *p);
void http__parked_resume(http_parked *c);
ssize_t http__parked_suspend(http_park *p, http_parked *c);

/*
 * Long-lived replies answer to the session that opened them (sessions.c). A live stream or live view keeps a copy
 * of its session (the token's hash) and of what the user was allowed when it began; it is closed when the session
 * ends (logout, expiry, password change, the user disabled or deleted) or the user's role or cameras change. The
 * browser then reconnects and is authorised afresh. Changes made through this node's API close them at once;
 * a sweep re-reads every open session from the store each HTTP_SESSION_CHECK_MS, for changes made elsewhere
 * (another node, `mien user passwd`) and for expiry.
 */
#define HTTP_SESSION_CHECK_MS 1000

typedef struct http_holder {
	uint8_t token_hash[STORE_TOKEN_HASH_BYTES];
	int64_t user_id;
	int role, all_cameras, n_cameras;
	int64_t *cameras; /* owned; n_cameras of them */
} http_holder;
/* Copies the request's session into *h: MIEN_OK, or MIEN_ENOMEM. Release with http__holder_clear. */
int http__holder_init(http_holder *h, const http_req *r);
void http__holder_clear(http_holder *h);

/* What to close: every reply of `user_id` (when nonzero); else those of the session `token_hash` that `fresh` (the
 * session's user as the store has it now; NULL = the session is gone) no longer allows as they began. */
typedef struct http_revoke {
	int64_t user_id;
	const uint8_t *token_hash;
	const auth_entry *fresh;
} http_revoke;
/* 1 when `rv` names the holder. Pure. */
int http__holder_revoked(const http_holder *h, const http_revoke *rv);

/* The sweep thread; NULL-safe stop. */
int http__sessions_start(http_server *s, http_sessions **out);
void http__sessions_stop(http_sessions **p);
/* Closes, on this node, every live stream and live view that `rv` names. */
void http__sessions_revoke(http_server *s, const http_revoke *rv);

/* How many long-lived replies one user may hold at once: a share of each hub (MIEN_STREAMS_PER_USER,
 * MIEN_LIVE_VIEWS_PER_USER), so that one account cannot take every slot. */
#define HTTP_STREAMS_PER_USER    1000
#define HTTP_LIVE_VIEWS_PER_USER 64

/* The live stream (stream.c): a hub subscribed to `bus`, and GET /api/v1/stream. */
int http__stream_create(http_server *s, struct bus *bus, http_stream **out, mien_error *err);
/* Ends every open stream (before the daemon stops: suspended connections must be resumed first). */
void http__stream_close_clients(http_stream *h);
void http__stream_free(http_stream **h);
void http__stream_stats(http_stream *h, int *clients, uint64_t *dropped);
/* Closes the streams `rv` names; returns how many. */
int http__stream_revoke(http_stream *h, const http_revoke *rv);
/* Writes the token hashes of up to `max` open streams (one per stream, repeats possible); returns how many. */
size_t http__stream_sessions(http_stream *h, uint8_t (*out)[STORE_TOKEN_HASH_BYTES], size_t max);
void http__h_stream(http_req *r);

/* Live pictures (live.c). */
int http__live_create(http_server *s, http_live **out);
void http__live_close_viewers(http_live *h);
void http__live_free(http_live **h);
int http__live_revoke(http_live *h, const http_revoke *rv);
size_t http__live_sessions(http_live *h, uint8_t (*out)[STORE_TOKEN_HASH_BYTES], size_t max);
void http__h_camera_live(http_req *r);
void http__h_camera_snapshot(http_req *r);
/* Tells every node's camera workers that camera `id` was created, changed or deleted. */
void http__cameras_changed(http_server *s, int64_t id);

/* Request-head deadlines (heads.c): a connection whose request head is not complete `timeout_ms` after its
 * accept (or `keepalive_ms` + `timeout_ms` after the previous answer on a kept-alive connection) has its
 * socket shut down by a ticker. Called from libmicrohttpd's connection notifications and access handler. */
int http__heads_create(int64_t timeout_ms, int64_t keepalive_ms, http_heads **out);
/* The daemon must have stopped (every connection notified closed). NULL is a no-op. */
void http__heads_free(http_heads **h);
/* A new connection on `fd`: its watch goes into *socket_context. MIEN_ENOMEM: refuse the connection. */
int http__heads_started(http_heads *h, int fd, void **socket_context);
/* Before libmicrohttpd closes the descriptor; clears *socket_context. */
void http__heads_closed(http_heads *h, void **socket_context);
/* The head of the current request is complete: no deadline until the request ends. */
void http__heads_arrived(http_heads *h, void *socket_context);
/* A request ended on a connection that may carry another: the next head has its deadline. */
void http__heads_await_next(http_heads *h, void *socket_context);
/* Connections open, and connections cut for a late head since the start. */
void http__heads_stats(http_heads *h, int *open, uint64_t *cut);

/* Metrics (metrics.c). */
int http__metrics_create(http_metrics **out);
void http__metrics_free(http_metrics **m);
void http__metrics_request(http_metrics *m, int route, int status, int64_t ms);
void http__metrics_analyze(http_metrics *m, int64_t ms);

/* The face pipeline (faces.c): a small pool of analyzers, and the gallery used to identify faces. */
int http__faces_create(http_server *s, http_faces **out);
void http__faces_free(http_faces **f);
/* The face search (search.c): its index is loaded at the first search. */
int http__search_create(http_server *s, http_search **out);
void http__search_free(http_search **x);

/* Keep the identity index current after an erasure (the store has already deleted the rows). */
void http__gallery_remove_face(http_server *s, int64_t face_id);
void http__gallery_remove_person(http_server *s, int64_t person_id);

/* --- handlers ----------------------------------------------------------------------------------------------- */

void http__h_healthz(http_req *r);
void http__h_readyz(http_req *r);
void http__h_metrics(http_req *r);
void http__h_openapi(http_req *r);
void http__h_login(http_req *r);
void http__h_logout(http_req *r);
void http__h_me(http_req *r);
void http__h_analyze(http_req *r);
void http__h_people_list(http_req *r);
void http__h_people_create(http_req *r);
void http__h_person_get(http_req *r);
void http__h_person_patch(http_req *r);
void http__h_person_delete(http_req *r);
void http__h_faces_add(http_req *r);
void http__h_faces_list(http_req *r);
void http__h_face_delete(http_req *r);
void http__h_face_thumbnail(http_req *r);
void http__h_cameras_list(http_req *r);
void http__h_cameras_create(http_req *r);
void http__h_camera_get(http_req *r);
void http__h_camera_patch(http_req *r);
void http__h_camera_delete(http_req *r);
void http__h_events_list(http_req *r);
void http__h_event_get(http_req *r);
void http__h_event_snapshot(http_req *r);
void http__h_event_face(http_req *r);
void http__h_alerts_list(http_req *r);
void http__h_alert_ack(http_req *r);
void http__h_users_list(http_req *r);
void http__h_users_create(http_req *r);
void http__h_user_patch(http_req *r);
void http__h_user_delete(http_req *r);
void http__h_settings_get(http_req *r);
void http__h_settings_patch(http_req *r);
void http__h_storage_get(http_req *r);
void http__h_audit_list(http_req *r);
void http__h_unknowns_list(http_req *r);
void http__h_unknown_get(http_req *r);
void http__h_unknown_assign(http_req *r);
void http__h_unknown_merge(http_req *r);
void http__h_unknown_event_remove(http_req *r);
void http__h_unknown_dismiss(http_req *r);
void http__h_unknown_delete(http_req *r);
void http__h_event_correct(http_req *r);
void http__h_corrections_list(http_req *r);
void http__h_correction_undo(http_req *r);
void http__h_alert_rules_list(http_req *r);
void http__h_alert_rules_create(http_req *r);
void http__h_alert_rule_patch(http_req *r);
void http__h_alert_rule_delete(http_req *r);
void http__h_search_faces(http_req *r);
void http__h_webhooks_list(http_req *r);
void http__h_webhooks_create(http_req *r);
void http__h_webhook_get(http_req *r);
void http__h_webhook_patch(http_req *r);
void http__h_webhook_delete(http_req *r);
void http__h_webhook_test(http_req *r);
void http__h_webhook_deliveries(http_req *r);
void http__h_mqtt_get(http_req *r);
void http__h_mqtt_patch(http_req *r);

/* The static files of the dashboard (static.c): answers GET/HEAD outside /api. */
void http__serve_static(http_req *r);

#endif
