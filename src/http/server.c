/*
 * server.c — libmicrohttpd underneath the router: binding, reading bodies under their caps, authentication and
 * role checks before a handler runs, the response helpers, and the request metrics.
 *
 * Threads: a pool of epoll threads (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL with
 * MHD_OPTION_THREAD_POOL_SIZE), not a thread per connection: under `wrk -c100` keep-alive load on 2 cores a
 * thread per connection served 25-30 % fewer requests on cheap routes (100 threads switching for requests that
 * take microseconds; docs/api.md has the numbers). Handlers may block (a database round trip, a picture
 * analysed for ~100 ms), which stalls the other connections of that thread, so the pool is larger than the
 * core count (8 by default; 2 and 8 measured the same): a slow analysis holds one thread of eight.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/utf8.h"
#include "bus/bus.h"
#include "http/http_int.h"
#include "watch/watch.h"

extern const char mien_openapi_json[];
extern const char mien_openapi_json_end[];

/* --- responses --------------------------------------------------------------------------------------------- */

void http__set_response(http_req *r, int status, struct MHD_Response *resp)
{
	if (r->response) { /* a handler answered twice: keep the first */
		MHD_destroy_response(resp);
		return;
	}
	r->status = status;
	r->response = resp;
}

void http__reply_bytes(http_req *r, int status, const char *content_type, void *data, size_t len, int copy)
{
	struct MHD_Response *resp =
	        MHD_create_response_from_buffer(len, data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		if (!copy)
			free(data);
		return;
	}
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	http__set_response(r, status, resp);
}

void http__reply_empty(http_req *r, int status)
{
	http__reply_bytes(r, status, NULL, "", 0, 1);
}

void http__reply_json(http_req *r, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(body);
	if (!text) {
		static const char OOM[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		http__reply_bytes(r, 500, "application/json", (void *)OOM, sizeof(OOM) - 1, 1);
		return;
	}
	http__reply_bytes(r, status, "application/json", text, strlen(text), 0);
}

void http__reply_list(http_req *r, json_t *items, int64_t next_cursor)
{
	http__reply_json(r, 200,
	                 json_pack("{s:o,s:o}", "items", items ? items : json_array(), "next_cursor",
	                           next_cursor ? json_sprintf("%lld", (long long)next_cursor) : json_null()));
}

void http__reply_error(http_req *r, int status, const char *code, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	http__reply_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

void http__reply_store_error(http_req *r, int rc, const mien_error *err, const char *what)
{
	switch (rc) {
	case MIEN_ENOENT:
		http__reply_error(r, 404, "not_found", "%s not found", what);
		return;
	case MIEN_ECONFLICT:
		http__reply_error(r, 409, "conflict", "%s: %s", what, err->message);
		return;
	case MIEN_EUNAVAILABLE:
		http__reply_error(r, 503, "unavailable", "the database is unavailable; retry later");
		break;
	case MIEN_ERANGE:
	case MIEN_EINVAL:
		http__reply_error(r, 400, "bad_request", "%s: %s", what, err->message);
		return;
	default:
		http__reply_error(r, 500, "internal", "%s: the database failed", what);
		break;
	}
	mien_log(MIEN_LOG_ERROR, "http", "%s: %s", what, err->message);
}

void http__add_header(http_req *r, const char *name, const char *value)
{
	if (r->response)
		MHD_add_response_header(r->response, name, value);
}

const char *http__header(http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http__query(http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* --- request helpers ------------------------------------------------------------------------------------ */

static int media_type_is(const char *header, const char *type)
{
	size_t n = strlen(type);
	return header && strncasecmp(header, type, n) == 0 &&
	       (header[n] == '\0' || header[n] == ';' || header[n] == ' ');
}

json_t *http__body_json(http_req *r, const http_field *fields)
{
	if (!media_type_is(http__header(r, MHD_HTTP_HEADER_CONTENT_TYPE), "application/json")) {
		http__reply_error(r, 415, "unsupported_media_type", "the body must be application/json");
		return NULL;
	}
	if (!http__json_depth_ok((const char *)r->body, r->body_len, HTTP_JSON_DEPTH_MAX)) {
		http__reply_error(r, 400, "bad_json", "JSON nested deeper than %d levels", HTTP_JSON_DEPTH_MAX);
		return NULL;
	}
	json_error_t jerr;
	json_t *body = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!body) {
		http__reply_error(r, 400, "bad_json", "malformed JSON at line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	char why[160];
	if (http__json_check(body, fields, why, sizeof(why)) != 0) {
		json_decref(body);
		http__reply_error(r, 400, "bad_request", "%s", why);
		return NULL;
	}
	return body;
}

int http__body_image(http_req *r, const uint8_t **data, size_t *len)
{
	const char *type = http__header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (media_type_is(type, "image/jpeg") || media_type_is(type, "image/png") ||
	    media_type_is(type, "image/webp")) {
		*data = r->body;
		*len = r->body_len;
	} else if (media_type_is(type, "multipart/form-data")) {
		if (http__multipart_image(type, r->body, r->body_len, data, len) != 0) {
			http__reply_error(r, 400, "bad_request",
			                  "no picture in the multipart body (a part named 'image')");
			return -1;
		}
	} else {
		http__reply_error(r, 415, "unsupported_media_type",
		                  "send the picture as image/jpeg, image/png, image/webp or multipart/form-data");
		return -1;
	}
	if (*len == 0) {
		http__reply_error(r, 400, "bad_image", "the picture is empty");
		return -1;
	}
	return 0;
}

int http__query_id(http_req *r, const char *name, int64_t *out)
{
	const char *v = http__query(r, name);
	if (!v)
		return 0;
	if (http__id_parse(v, out) != 0) {
		http__reply_error(r, 400, "bad_request", "'%s' must be a positive integer id", name);
		return -1;
	}
	return 0;
}

int http__query_bool(http_req *r, const char *name, int *out)
{
	const char *v = http__query(r, name);
	if (!v)
		return 0;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*out = 1;
	} else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
		*out = 0;
	} else {
		http__reply_error(r, 400, "bad_request", "'%s' must be true or false", name);
		return -1;
	}
	return 0;
}

int http__query_time(http_req *r, const char *name, int64_t *out)
{
	const char *v = http__query(r, name);
	if (v && http__time_parse(v, out) != 0) {
		http__reply_error(r, 400, "bad_request", "'%s' must be an ISO-8601 UTC time or milliseconds", name);
		return -1;
	}
	return 0;
}

int http__query_limit(http_req *r, size_t *limit)
{
	const char *v = http__query(r, "limit");
	int64_t n;
	*limit = HTTP_LIST_DEFAULT;
	if (!v)
		return 0;
	if (http__id_parse(v, &n) != 0 || n > STORE_LIST_MAX) {
		http__reply_error(r, 400, "bad_request", "'limit' must be between 1 and %d", STORE_LIST_MAX);
		return -1;
	}
	*limit = (size_t)n;
	return 0;
}

int http__camera_allowed(const http_req *r, int64_t camera_id)
{
	if (r->user.all_cameras)
		return 1;
	for (int i = 0; i < r->user.n_cameras; i++)
		if (r->user.cameras[i] == camera_id)
			return 1;
	return 0;
}

int http__role_at_least(const http_req *r, int role)
{
	return r->user.user_id != 0 && r->user.role >= role;
}

/* Writes one audit row. Every field is cut on a character boundary (a cut inside a UTF-8 character would make
 * PostgreSQL refuse the row and jansson drop it from GET /audit); a row that cannot be written is an error in
 * the log, since the audit is what an administrator relies on after the fact. */
__attribute__((format(printf, 4, 0))) static void audit_write(http_req *r, const char *action, const char *detail,
                                                              const char *target_fmt, va_list ap)
{
	store_audit a = { 0 };
	a.user_id = r->user.user_id;
	mien_utf8_copy(a.username, sizeof(a.username), r->user.username);
	mien_utf8_copy(a.action, sizeof(a.action), action);
	mien_utf8_copy(a.address, sizeof(a.address), r->address);
	mien_utf8_copy(a.detail, sizeof(a.detail), detail);
	vsnprintf(a.target, sizeof(a.target), target_fmt, ap);
	mien_utf8_truncate(a.target, sizeof(a.target) - 1);
	mien_error err = { 0 };
	if (store_audit_add(r->srv->db, &a, &err) != MIEN_OK)
		mien_log(MIEN_LOG_ERROR, "http", "audit %s %s not written: %s", action, a.target, err.message);
}

void http__audit(http_req *r, const char *action, const char *target_fmt, ...)
{
	va_list ap;
	va_start(ap, target_fmt);
	audit_write(r, action, "", target_fmt, ap);
	va_end(ap);
}

void http__audit_detail(http_req *r, const char *action, const char *detail, const char *target_fmt, ...)
{
	va_list ap;
	va_start(ap, target_fmt);
	audit_write(r, action, detail, target_fmt, ap);
	va_end(ap);
}

/* Tells the other nodes (over the bus) what this one just forgot or learned; failures only delay them until
 * their own cache entries expire (30 s), so they are logged, not returned. */
static void tell_nodes(http_server *s, int kind, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	mien_error err = { 0 };
	if (text && s->options.bus && bus_publish(s->options.bus, kind, 0, text, &err) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "http", "could not tell the other nodes: %s", err.message);
	free(text);
}

/* Forgets what this node holds of a user or a session: the cached login, and the live streams and views it
 * opened (sessions.c). */
static void forget_user_here(http_server *s, int64_t user_id)
{
	auth_cache_forget_user(s->auth, user_id);
	http_revoke rv = { user_id, NULL, NULL };
	http__sessions_revoke(s, &rv);
}

static void forget_token_here(http_server *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES])
{
	auth_cache_forget_token(s->auth, hash);
	http_revoke rv = { 0, hash, NULL };
	http__sessions_revoke(s, &rv);
}

void http__auth_forget_user(http_server *s, int64_t user_id)
{
	forget_user_here(s, user_id);
	tell_nodes(s, BUS_TOKEN, json_pack("{s:I}", "user_id", (json_int_t)user_id));
}

void http__auth_forget_token(http_server *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES])
{
	forget_token_here(s, hash);
	char hex[2 * STORE_TOKEN_HASH_BYTES + 1];
	for (int i = 0; i < STORE_TOKEN_HASH_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	tell_nodes(s, BUS_TOKEN, json_pack("{s:s}", "token", hex));
}

void http__cameras_changed(http_server *s, int64_t id)
{
	tell_nodes(s, BUS_CAMERA, json_pack("{s:I,s:b}", "id", (json_int_t)id, "changed", 1));
}

void http__tell_gallery(http_server *s, json_t *change)
{
	tell_nodes(s, BUS_GALLERY, change);
}

void http__tell_event(http_server *s, const store_event *e)
{
	json_t *msg = watch_event_json(e, 1);
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	mien_error err = { 0 };
	if (text && s->options.bus && bus_publish(s->options.bus, BUS_EVENT, e->camera_id, text, &err) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "http", "event %lld: could not tell the dashboards: %s", (long long)e->id,
		         err.message);
	free(text);
}

/* What other nodes tell this one: sessions to forget, gallery changes to apply. */
static void on_node_message(void *ctx, const bus_message *m)
{
	http_server *s = ctx;
	if (!m->remote || (m->kind != BUS_TOKEN && m->kind != BUS_GALLERY))
		return;
	json_t *msg = json_loads(m->json, 0, NULL);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return;
	}
	if (m->kind == BUS_TOKEN) {
		json_int_t user = json_integer_value(json_object_get(msg, "user_id"));
		const char *hex = json_string_value(json_object_get(msg, "token"));
		if (user > 0)
			forget_user_here(s, user);
		if (hex && strlen(hex) == 2 * STORE_TOKEN_HASH_BYTES) {
			uint8_t hash[STORE_TOKEN_HASH_BYTES];
			for (int i = 0; i < STORE_TOKEN_HASH_BYTES; i++)
				hash[i] = (uint8_t)(mien_hex_digit(hex[2 * i]) * 16 + mien_hex_digit(hex[2 * i + 1]));
			forget_token_here(s, hash);
		}
	} else {
		http__gallery_apply(s, msg);
	}
	json_decref(msg);
}

/* --- the request life cycle ------------------------------------------------------------------------------ */

static void client_address(http_req *r)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	r->address[0] = '\0';
	if (!info || !info->client_addr)
		return;
	const struct sockaddr *sa = info->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->address, sizeof(r->address));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->address, sizeof(r->address));
}

static int is_api_path(const char *path)
{
	return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

/* Runs the route (or the static files) for a request whose body is complete, or whose body is refused on its
 * length alone: a request for no route gets the 404/405/400 it would get without a body (not a 413). */
static void dispatch(http_req *r)
{
	int allowed = 0;
	r->route = http__route_match(http__routes, http__n_routes, r->method, r->path, r->ids, &allowed);
	if (r->route == HTTP_ROUTE_BAD_PATH) {
		http__reply_error(r, 400, "bad_path", "malformed path or id");
		return;
	}
	if (r->route == HTTP_ROUTE_BAD_METHOD) {
		char allow[96] = "";
		for (int m = 1; m <= HTTP_OPTIONS; m <<= 1)
			if (allowed & m)
				snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
				         allow[0] ? ", " : "", http__method_name(m));
		http__reply_error(r, 405, "method_not_allowed", "%s is not allowed here", http__method_name(r->method));
		http__add_header(r, MHD_HTTP_HEADER_ALLOW, allow);
		return;
	}
	if (r->route < 0) {
		if (!is_api_path(r->path) && (r->method == HTTP_GET || r->method == HTTP_HEAD))
			http__serve_static(r);
		else if (!is_api_path(r->path))
			http__reply_error(r, 405, "method_not_allowed", "only GET is served outside /api");
		else
			http__reply_error(r, 404, "not_found", "no such route");
		return;
	}
	if (r->body_too_big) {
		http__reply_error(r, 413, "too_large", "the body exceeds %zu bytes", r->body_max);
		return;
	}
	const http_route *route = &http__routes[r->route];
	if (http__authenticate(r) != 0)
		return;
	if (route->min_role != STORE_ROLE_NONE) {
		if (r->user.user_id == 0) {
			http__reply_error(r, 401, "unauthorized",
			                  "log in first (a Bearer token or the session cookie)");
			return;
		}
		if (r->user.role < route->min_role) {
			http__reply_error(r, 403, "forbidden", "the %s role may not do this",
			                  store_role_name(r->user.role));
			return;
		}
	}
	if (r->method != HTTP_GET && r->method != HTTP_HEAD && http__csrf_ok(r) != 0) {
		http__reply_error(r, 403, "csrf", "a cookie-authenticated change must come from this server's origin");
		return;
	}
	route->handler(r);
	if (!r->response)
		http__reply_error(r, 500, "internal", "the handler did not answer");
}

static enum MHD_Result queue(http_req *r)
{
	if (!r->response)
		http__reply_error(r, 500, "internal", "no response");
	if (!r->response)
		return MHD_NO;
	MHD_add_response_header(r->response, "X-Content-Type-Options", "nosniff");
	/* The dashboard runs no inline script or style and is never framed (clickjacking); API answers carry the
	 * same headers, harmlessly. img-src is 'self' and blob: every picture it shows comes from the API, or is a
	 * photo the user just chose. */
	MHD_add_response_header(r->response, "Content-Security-Policy", HTTP_CSP);
	MHD_add_response_header(r->response, "X-Frame-Options", "DENY");
	MHD_add_response_header(r->response, "Referrer-Policy", "same-origin");
	if (is_api_path(r->path))
		MHD_add_response_header(r->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, r->response);
	int64_t ms = mien_mono_ms() - r->started_ms;
	http__metrics_request(r->srv->metrics, r->route, r->status, ms);
	mien_log(MIEN_LOG_DEBUG, "http", "%s %s %d %lld ms", http__method_name(r->method),
	         r->route >= 0 ? http__routes[r->route].pattern : "-", r->status, (long long)ms);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return ok;
}

static void *socket_context(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info ? info->socket_context : NULL;
}

typedef struct body_lengths {
	const char *content_length; /* the first Content-Length */
	int differ;                 /* another Content-Length with another value */
	int chunked;                /* a Transfer-Encoding as well */
} body_lengths;

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	body_lengths *b = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (!b->content_length)
			b->content_length = value;
		else if (strcmp(b->content_length, value) != 0)
			b->differ = 1;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		b->chunked = 1;
	}
	return MHD_YES;
}

/* What libmicrohttpd 0.9.75 lets through that a proxy in front may read otherwise (request smuggling): NULL
 * when the head is well-formed, else why not. `version` points into the read buffer just after the request
 * target, which the URI log callback measured before any splitting or decoding. */
static const char *malformed_head(http_req *r, const char *version)
{
	uintptr_t target = (uintptr_t)r->target, v = (uintptr_t)version;
	if (r->target && v > target && v - target <= 2 * HTTP_HEADER_MAX && r->target_len != v - 1 - target)
		return "a NUL byte in the request target";
	if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && !http__header(r, MHD_HTTP_HEADER_HOST))
		return "an HTTP/1.1 request without Host";
	body_lengths b = { 0 };
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, on_header, &b);
	if (b.differ)
		return "two different Content-Length headers";
	if (b.content_length && b.chunked)
		return "both Content-Length and Transfer-Encoding";
	return NULL;
}

/* The first call of a request: its whole head has arrived. Answers at once when the head is malformed or the
 * body is far over its cap; otherwise the body follows. */
static enum MHD_Result on_head(http_server *s, http_req *r, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version)
{
	r->conn = conn;
	r->srv = s;
	r->path = url;
	r->route = HTTP_ROUTE_NOT_FOUND;
	r->started_ms = mien_mono_ms();
	r->method = http__method_parse(method);
	http__heads_arrived(s->heads, socket_context(conn));
	client_address(r);
	int allowed;
	int64_t ids[HTTP_PATH_IDS];
	int route = http__route_match(http__routes, http__n_routes, r->method, url, ids, &allowed);
	r->body_max =
	        route >= 0 ? (http__routes[route].flags & HTTP_ROUTE_IMAGE ? HTTP_IMAGE_BODY_MAX : HTTP_JSON_BODY_MAX)
	                   : 0;
	if (!r->method) {
		http__reply_error(r, 405, "method_not_allowed", "unknown method");
		return queue(r);
	}
	const char *why = malformed_head(r, version);
	if (why) {
		/* Where the body ends is in doubt, so nothing after it can be read as a next request. */
		http__reply_error(r, 400, "bad_request", "%s", why);
		http__add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
		return queue(r);
	}
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long length = cl ? strtoull(cl, NULL, 10) : 0;
	/* A little too big: read and drop it, so that the client sees the 413 rather than a reset. */
	r->body_too_big = length > r->body_max;
	if (length > r->body_max + HTTP_DRAIN_MAX) {
		/* Far too big to read: answer at once (the connection closes under the client's upload). */
		dispatch(r);
		return queue(r);
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **state)
{
	http_req *r = *state; /* made by on_target, unless it ran out of memory */
	if (!r || !r->conn) {
		if (!r && !(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		*state = r;
		return on_head(cls, r, conn, url, method, version);
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		r->body_seen += n;
		if (r->body_seen > r->body_max + HTTP_DRAIN_MAX) {
			/* Only a chunked body gets here (a Content-Length this long was answered on the first call):
			 * stop reading it. libmicrohttpd takes no answer in the middle of an upload, so the connection
			 * is closed without one. */
			mien_log(MIEN_LOG_DEBUG, "http", "a chunked body over %zu bytes: connection closed",
			         r->body_max + HTTP_DRAIN_MAX);
			return MHD_NO;
		}
		if (r->status || r->body_too_big || r->body_len + n > r->body_max) {
			r->body_too_big = 1;
			return MHD_YES;
		}
		if (r->body_len + n + 1 > r->body_cap) {
			size_t cap = r->body_cap ? r->body_cap : 4096;
			while (cap < r->body_len + n + 1)
				cap *= 2;
			uint8_t *grown = realloc(r->body, cap);
			if (!grown)
				return MHD_NO;
			r->body = grown;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload_data, n);
		r->body_len += n;
		r->body[r->body_len] = 0;
		return MHD_YES;
	}
	if (r->status) /* answered on the first call */
		return MHD_YES;
	dispatch(r);
	return queue(r);
}

/* Called once the request line is parsed, before libmicrohttpd cuts the query off and decodes the path in
 * place: the request's context starts here, with the target as it came (see malformed_head). */
static void *on_target(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls, (void)conn;
	http_req *r = calloc(1, sizeof(*r));
	if (r && uri) {
		r->target = uri;
		r->target_len = strlen(uri);
	}
	return r;
}

/* Connections come and go: each has a head deadline (heads.c). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **context,
                          enum MHD_ConnectionNotificationCode code)
{
	http_server *s = cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		http__heads_closed(s->heads, context);
		return;
	}
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (info && http__heads_started(s->heads, info->connect_fd, context) == MIEN_OK)
		return;
	/* Without a deadline the connection could be held for ever: refuse it. */
	if (info)
		shutdown(info->connect_fd, SHUT_RDWR);
	mien_log(MIEN_LOG_WARN, "http", "out of memory: a new connection is refused");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode why)
{
	(void)why;
	http_server *s = cls;
	http__heads_await_next(s->heads, socket_context(conn));
	http_req *r = *state;
	if (!r)
		return;
	if (r->response)
		MHD_destroy_response(r->response);
	free(r->body);
	free(r);
	*state = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	mien_log(MIEN_LOG_DEBUG, "http", "microhttpd: %s", line);
}

/* Percent-decoding of the path and query values: as libmicrohttpd's own, except that %00 stays encoded, so
 * that a NUL can never cut a path short ("/people/1%00" is a malformed id, not person 1). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls, (void)conn;
	char *w = s;
	for (const char *p = s; *p; p++) {
		int hi, lo;
		if (*p == '%' && (hi = mien_hex_digit(p[1])) >= 0 && (lo = mien_hex_digit(p[2])) >= 0 && (hi | lo)) {
			*w++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* --- start and stop --------------------------------------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, mien_error *err)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host))
		return mien_error_set(err, MIEN_EINVAL, "MIEN_LISTEN '%s': expected HOST:PORT", listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return mien_error_set(err, MIEN_EINVAL, "MIEN_LISTEN '%s': bad port", listen);
	memset(ss, 0, sizeof(*ss));
	size_t hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return mien_error_set(err, MIEN_EINVAL, "MIEN_LISTEN '%s': bad IPv6 address", listen);
		return MIEN_OK;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return mien_error_set(err, MIEN_EINVAL, "MIEN_LISTEN '%s': bad IPv4 address", listen);
	return MIEN_OK;
}

/* Each connection is a descriptor: lift the soft limit towards what the connection cap needs (up to the hard
 * limit), or the kernel refuses connections long before libmicrohttpd would. */
static void raise_fd_limit(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		mien_log(MIEN_LOG_WARN, "http", "cannot raise the open-file limit to %llu", (unsigned long long)want);
}

long http__env_setting(const char *name, long min, long max, long fallback)
{
	return mien_env_number(name, min, max, fallback);
}

int http_server_start(const http_options *options, store *db, http_server **out, mien_error *err)
{
	int rc;
	http_server *s = NULL;
	struct sockaddr_storage ss;
	if (sodium_init() < 0)
		return mien_error_set(err, MIEN_EBACKEND, "libsodium failed to initialise");
	if ((rc = parse_listen(options->listen, &ss, err)) != MIEN_OK)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	s->db = db;
	s->options = *options;
	snprintf(s->listen, sizeof(s->listen), "%s", options->listen);
	snprintf(s->models, sizeof(s->models), "%s", options->models ? options->models : "models");
	snprintf(s->web_dir, sizeof(s->web_dir), "%s", options->web_dir ? options->web_dir : "web/dist");
	s->options.listen = s->listen;
	s->options.models = s->models;
	s->options.web_dir = s->web_dir;
	if (!s->options.http_threads)
		s->options.http_threads = 8;
	/* Live streams and live views hold their connection open: room for a security desk's worth of screens
	 * (bench/api: 1,000 SSE clients) beside the API's own traffic. MIEN_MAX_CONNECTIONS overrides. */
	if (!s->options.max_connections)
		s->options.max_connections = (int)http__env_setting("MIEN_MAX_CONNECTIONS", 16, 65536, 4096);
	/* One address may not take every connection (slowloris): 128 is many browser tabs and screens, yet a
	 * small part of 4096. Behind a reverse proxy every client has the proxy's address: raise it there (0 = no
	 * per-address limit) and let the proxy limit each client. */
	if (!s->options.max_connections_per_ip) {
		long v = http__env_setting("MIEN_MAX_CONNECTIONS_PER_IP", 0, 65536, 128);
		s->options.max_connections_per_ip = v ? (int)v : -1;
	}
	if (!s->options.header_timeout_ms)
		s->options.header_timeout_ms = http__env_setting("MIEN_HEADER_TIMEOUT_MS", 100, 3600000, 10000);
	raise_fd_limit((rlim_t)s->options.max_connections + 256);
	if (!s->options.token_ttl_ms)
		s->options.token_ttl_ms =
		        http__env_setting("MIEN_SESSION_TTL_S", 1, 30L * 24 * 3600, 12L * 3600) * 1000L;
	if (!s->options.login_user_limit)
		s->options.login_user_limit = 5;
	if (!s->options.login_addr_limit)
		s->options.login_addr_limit = 20;
	s->openapi = mien_openapi_json;
	s->openapi_len = (size_t)(mien_openapi_json_end - mien_openapi_json);
	if ((rc = auth_cache_create(0, 30000, &s->auth, err)) != MIEN_OK)
		goto fail;
	if (http__heads_create(s->options.header_timeout_ms, (int64_t)HTTP_IDLE_TIMEOUT_S * 1000, &s->heads) !=
	    MIEN_OK) {
		rc = mien_error_set(err, MIEN_ENOMEM, "cannot start the request-head watch");
		goto fail;
	}
	if (http__metrics_create(&s->metrics) || http__limiter_create(&s->limiter) ||
	    http__faces_create(s, &s->faces) || http__search_create(s, &s->search)) {
		rc = mien_error_set(err, MIEN_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = http_password_hash("not a password of anyone", s->dummy_hash, err)) != MIEN_OK)
		goto fail;
	if (options->bus && (rc = http__stream_create(s, options->bus, &s->stream, err)) != MIEN_OK)
		goto fail;
	if (options->bus && (rc = bus_subscribe(options->bus, on_node_message, s, &s->node_sub, err)) != MIEN_OK)
		goto fail;
	if (options->watch && http__live_create(s, &s->live) != MIEN_OK) {
		rc = mien_error_set(err, MIEN_ENOMEM, "cannot start the live view");
		goto fail;
	}
	if (http__sessions_start(s, &s->sessions) != MIEN_OK) {
		rc = mien_error_set(err, MIEN_ENOMEM, "cannot start the session sweep");
		goto fail;
	}
	/* Suspend/resume parks idle live-stream connections instead of polling them. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->daemon = MHD_start_daemon(
	        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->options.http_threads, MHD_OPTION_CONNECTION_LIMIT,
	        (unsigned)s->options.max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_HEADER_MAX * 2,
	        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	        (unsigned)(s->options.max_connections_per_ip > 0 ? s->options.max_connections_per_ip : 0),
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	        s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_URI_LOG_CALLBACK, on_target, s,
	        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
	        MHD_OPTION_UNESCAPE_CALLBACK, unescape, s, MHD_OPTION_END);
	if (!s->daemon) {
		rc = mien_error_set(err, MIEN_EIO, "cannot listen on %s (in use or not permitted)", s->listen);
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*out = s;
	return MIEN_OK;
fail:
	http_server_stop(&s);
	return rc;
}

int http_server_port(const http_server *server)
{
	return server->port;
}

void http_server_stop(http_server **server)
{
	if (!server || !*server)
		return;
	http_server *s = *server;
	if (s->node_sub)
		bus_unsubscribe(s->options.bus, s->node_sub);
	http__sessions_stop(&s->sessions);
	http__stream_close_clients(s->stream);
	http__live_close_viewers(s->live);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	http__heads_free(&s->heads); /* after the daemon: its last connections are notified closed */
	http__stream_free(&s->stream);
	http__live_free(&s->live);
	http__search_free(&s->search);
	http__faces_free(&s->faces);
	http__limiter_free(&s->limiter);
	http__metrics_free(&s->metrics);
	auth_cache_free(&s->auth);
	free(s);
	*server = NULL;
}
