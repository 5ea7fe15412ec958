/*
 * stream.c — GET /api/v1/stream: Server-Sent Events of what the bus carries (`face`, `event`, `alert`, `camera`),
 * filtered per user.
 *
 * The hub subscribes to the bus once. Each message is numbered (the SSE id), formatted once in two variants —
 * as published, and without expression fields for `recognition` users — and kept in a ring of the last
 * STREAM_RING messages so that a client that reconnects with Last-Event-ID gets what it missed. Every client
 * has a bounded queue of references to those messages: a client that falls STREAM_QUEUE_MAX messages or
 * STREAM_BYTES_MAX bytes behind is dropped (its stream ends and the browser reconnects), so a slow reader can
 * never make the server grow.
 *
 * libmicrohttpd pulls the response through a content-reader callback on its own threads. When a client's
 * queue is empty the callback suspends the connection (no busy loop); the hub resumes it when a message for
 * it arrives, and a ticker thread resumes it every STREAM_HEARTBEAT_MS so that a comment line keeps proxies and
 * the browser from timing out. One mutex guards the hub, the ring and every client.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/http_int.h"

#define STREAM_RING         1024
#define STREAM_QUEUE_MAX    512
#define STREAM_BYTES_MAX    ((size_t)2 << 20)
#define STREAM_CLIENTS_MAX  4000
#define STREAM_RETRY_MS     2000
#define STREAM_HEARTBEAT_MS 15000
#define STREAM_TICK_MS      250

typedef struct stream_msg {
	atomic_int refs;
	uint64_t seq;
	int kind;
	int64_t camera_id;
	char *full; /* "id: ...\nevent: ...\ndata: ...\n\n" as published */
	size_t full_len;
	char *lite; /* the same without expression fields; NULL when identical */
	size_t lite_len;
} stream_msg;

typedef struct stream_client {
	struct stream_client *prev, *next;
	http_stream *hub;
	http_parked parked;
	http_holder holder; /* the session, role and cameras the stream answers to */
	stream_msg *queue[STREAM_QUEUE_MAX];
	int head, count;
	size_t queued_bytes;
	size_t offset; /* bytes of queue[head] already sent */
	char prefix[64];
	size_t prefix_len, prefix_off;
	int dropped;
	int64_t last_write;
} stream_client;

struct http_stream {
	http_server *srv;
	bus *bus;
	int sub_id;
	http_park park; /* its lock guards the ring and the clients */
	stream_msg *ring[STREAM_RING];
	uint64_t next_seq;
	stream_client *clients;
	int n_clients;
	int heartbeat_ms;
	int per_user; /* streams one user may hold */
	uint64_t dropped_clients, sent_messages;
};

static void msg_unref(stream_msg *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1) {
		free(m->full);
		free(m->lite);
		free(m);
	}
}

/* Removes "expression" and "dominant_expression" wherever they occur; returns how many were removed. */
static int strip_expressions(json_t *v)
{
	int removed = 0;
	if (json_is_object(v)) {
		removed += json_object_del(v, "expression") == 0;
		removed += json_object_del(v, "dominant_expression") == 0;
		const char *key;
		json_t *child;
		json_object_foreach(v, key, child) removed += strip_expressions(child);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *child;
		json_array_foreach(v, i, child) removed += strip_expressions(child);
	}
	return removed;
}

static char *format_frame(uint64_t seq, int kind, const char *json, size_t *len)
{
	/* SSE data lines cannot hold newlines; JSON from jansson's compact dump has none, and a text that does is
	 * split into several data lines as the format allows. */
	size_t lines = 1;
	for (const char *p = json; *p; p++)
		lines += *p == '\n';
	size_t cap = strlen(json) + lines * 6 + 64;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t n =
	        (size_t)snprintf(out, cap, "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq, bus_kind_name(kind));
	for (const char *p = json; *p; p++) {
		if (*p == '\n') {
			memcpy(out + n, "\ndata: ", 7);
			n += 7;
		} else if (*p != '\r') {
			out[n++] = *p;
		}
	}
	memcpy(out + n, "\n\n", 3);
	*len = n + 2;
	return out;
}

static int may_see(const stream_client *c, const stream_msg *m)
{
	const http_holder *u = &c->holder;
	if (m->kind == BUS_ALERT && u->role < STORE_ROLE_ADMIN)
		return 0; /* alerts are for admins (DESIGN.md: recognition users get no alerts) */
	if (m->kind != BUS_FACE && m->kind != BUS_EVENT && m->kind != BUS_ALERT && m->kind != BUS_CAMERA)
		return 0; /* gallery and token messages are for the nodes, not for people */
	if (m->camera_id == 0)
		return u->role >= STORE_ROLE_ADMIN; /* about no camera in particular */
	if (u->all_cameras)
		return 1;
	for (int i = 0; i < u->n_cameras; i++)
		if (u->cameras[i] == m->camera_id)
			return 1;
	return 0;
}

static size_t msg_len(const stream_client *c, const stream_msg *m)
{
	return c->holder.role < STORE_ROLE_ANALYST && m->lite ? m->lite_len : m->full_len;
}

/* Queues a message for a client (hub lock held); drops the client when it is too far behind. */
static void push(http_stream *h, stream_client *c, stream_msg *m)
{
	if (c->dropped)
		return;
	size_t len = msg_len(c, m);
	if (c->count == STREAM_QUEUE_MAX || c->queued_bytes + len > STREAM_BYTES_MAX) {
		c->dropped = 1;
		h->dropped_clients++;
		mien_log(MIEN_LOG_INFO, "http", "stream: dropped a client %d messages behind", c->count);
		http__parked_resume(&c->parked);
		return;
	}
	atomic_fetch_add(&m->refs, 1);
	c->queue[(c->head + c->count) % STREAM_QUEUE_MAX] = m;
	c->count++;
	c->queued_bytes += len;
	http__parked_resume(&c->parked);
}

static void on_bus(void *ctx, const bus_message *bm)
{
	http_stream *h = ctx;
	if (bm->kind != BUS_FACE && bm->kind != BUS_EVENT && bm->kind != BUS_ALERT && bm->kind != BUS_CAMERA)
		return;
	stream_msg *m = calloc(1, sizeof(*m));
	if (!m)
		return;
	atomic_init(&m->refs, 1);
	m->kind = bm->kind;
	m->camera_id = bm->camera_id;
	json_t *lite = json_loads(bm->json, 0, NULL);
	char *lite_text = NULL;
	if (lite && strip_expressions(lite) > 0)
		lite_text = json_dumps(lite, JSON_COMPACT);
	json_decref(lite);
	pthread_mutex_lock(&h->park.lock);
	m->seq = ++h->next_seq;
	m->full = format_frame(m->seq, m->kind, bm->json, &m->full_len);
	if (lite_text)
		m->lite = format_frame(m->seq, m->kind, lite_text, &m->lite_len);
	if (!m->full || (lite_text && !m->lite)) {
		pthread_mutex_unlock(&h->park.lock);
		free(lite_text);
		msg_unref(m);
		return;
	}
	stream_msg **slot = &h->ring[m->seq % STREAM_RING];
	msg_unref(*slot);
	*slot = m; /* the ring's reference */
	for (stream_client *c = h->clients; c; c = c->next)
		if (may_see(c, m))
			push(h, c, m);
	pthread_mutex_unlock(&h->park.lock);
	free(lite_text);
}

/* The ticker (park lock held): resumes each parked client due a heartbeat. */
static void tick(void *ctx, int64_t now)
{
	http_stream *h = ctx;
	for (stream_client *c = h->clients; c; c = c->next)
		if (c->parked.suspended && now - c->last_write >= h->heartbeat_ms)
			http__parked_resume(&c->parked);
}

int http__stream_create(http_server *s, bus *b, http_stream **out, mien_error *err)
{
	*out = NULL;
	http_stream *h = calloc(1, sizeof(*h));
	if (!h)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	h->srv = s;
	h->bus = b;
	const char *hb = getenv("MIEN_SSE_HEARTBEAT_MS"); /* tests shorten it */
	h->heartbeat_ms = hb && atoi(hb) >= 100 ? atoi(hb) : STREAM_HEARTBEAT_MS;
	h->per_user = (int)http__env_setting("MIEN_STREAMS_PER_USER", 1, STREAM_CLIENTS_MAX, HTTP_STREAMS_PER_USER);
	if (http__park_init(&h->park, STREAM_TICK_MS, tick, h) != MIEN_OK) {
		free(h);
		return mien_error_set(err, MIEN_ENOMEM, "cannot start the stream ticker");
	}
	int rc = b ? bus_subscribe(b, on_bus, h, &h->sub_id, err) : MIEN_OK;
	if (rc) {
		http__stream_free(&h);
		return rc;
	}
	*out = h;
	return MIEN_OK;
}

void http__stream_close_clients(http_stream *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->park.lock);
	http__park_closing(&h->park);
	for (stream_client *c = h->clients; c; c = c->next) {
		c->dropped = 1;
		http__parked_resume(&c->parked);
	}
	pthread_mutex_unlock(&h->park.lock);
}

void http__stream_free(http_stream **hp)
{
	if (!hp || !*hp)
		return;
	http_stream *h = *hp;
	if (h->bus && h->sub_id)
		bus_unsubscribe(h->bus, h->sub_id);
	http__park_destroy(&h->park);
	for (int i = 0; i < STREAM_RING; i++)
		msg_unref(h->ring[i]);
	free(h);
	*hp = NULL;
}

int http__stream_revoke(http_stream *h, const http_revoke *rv)
{
	int closed = 0;
	if (!h)
		return 0;
	pthread_mutex_lock(&h->park.lock);
	for (stream_client *c = h->clients; c; c = c->next) {
		if (!c->dropped && http__holder_revoked(&c->holder, rv)) {
			c->dropped =
			        1; /* read_stream ends the reply; the browser reconnects and is authorised afresh */
			http__parked_resume(&c->parked);
			closed++;
		}
	}
	pthread_mutex_unlock(&h->park.lock);
	return closed;
}

size_t http__stream_sessions(http_stream *h, uint8_t (*out)[STORE_TOKEN_HASH_BYTES], size_t max)
{
	size_t n = 0;
	if (!h)
		return 0;
	pthread_mutex_lock(&h->park.lock);
	for (stream_client *c = h->clients; c && n < max; c = c->next)
		if (!c->dropped)
			memcpy(out[n++], c->holder.token_hash, STORE_TOKEN_HASH_BYTES);
	pthread_mutex_unlock(&h->park.lock);
	return n;
}

void http__stream_stats(http_stream *h, int *clients, uint64_t *dropped)
{
	pthread_mutex_lock(&h->park.lock);
	*clients = h->n_clients;
	*dropped = h->dropped_clients;
	pthread_mutex_unlock(&h->park.lock);
}

/* Copies what fits of `text` from *off into buf; returns the bytes copied. */
static size_t take(char *buf, size_t max, const char *text, size_t len, size_t *off)
{
	size_t n = len - *off < max ? len - *off : max;
	memcpy(buf, text + *off, n);
	*off += n;
	return n;
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	stream_client *c = cls;
	http_stream *h = c->hub;
	pthread_mutex_lock(&h->park.lock);
	if (c->dropped) {
		pthread_mutex_unlock(&h->park.lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	size_t n = 0;
	if (c->prefix_off < c->prefix_len)
		n += take(buf, max, c->prefix, c->prefix_len, &c->prefix_off);
	while (c->count > 0 && n < max) {
		stream_msg *m = c->queue[c->head];
		int lite = c->holder.role < STORE_ROLE_ANALYST && m->lite;
		size_t len = lite ? m->lite_len : m->full_len;
		n += take(buf + n, max - n, lite ? m->lite : m->full, len, &c->offset);
		if (c->offset == len) {
			c->offset = 0;
			c->head = (c->head + 1) % STREAM_QUEUE_MAX;
			c->count--;
			c->queued_bytes -= len;
			h->sent_messages++;
			msg_unref(m);
		}
	}
	int64_t now = mien_mono_ms();
	if (n == 0 && now - c->last_write >= h->heartbeat_ms) {
		static const char beat[] = ": keep-alive\n\n";
		size_t off = 0;
		n = take(buf, max, beat, sizeof(beat) - 1, &off);
	}
	if (n == 0) {
		/* Nothing to send: park the connection until push() or the ticker resumes it. */
		return http__parked_suspend(&h->park, &c->parked);
	}
	c->last_write = now;
	pthread_mutex_unlock(&h->park.lock);
	return (ssize_t)n;
}

static void free_client(void *cls)
{
	stream_client *c = cls;
	http_stream *h = c->hub;
	pthread_mutex_lock(&h->park.lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->n_clients--;
	while (c->count > 0) {
		msg_unref(c->queue[c->head]);
		c->head = (c->head + 1) % STREAM_QUEUE_MAX;
		c->count--;
	}
	pthread_mutex_unlock(&h->park.lock);
	http__holder_clear(&c->holder);
	free(c);
}

void http__h_stream(http_req *r)
{
	http_stream *h = r->srv->stream;
	if (!h) {
		http__reply_error(r, 503, "unavailable", "the live stream is not running on this node");
		return;
	}
	uint64_t last = 0;
	const char *last_id = http__header(r, "Last-Event-ID");
	if (last_id) {
		char *end;
		unsigned long long v = strtoull(last_id, &end, 10);
		if (*last_id < '0' || *last_id > '9' || *end) {
			http__reply_error(r, 400, "bad_request", "Last-Event-ID must be a message number");
			return;
		}
		last = v;
	}
	stream_client *c = calloc(1, sizeof(*c));
	if (!c || http__holder_init(&c->holder, r) != MIEN_OK) {
		free(c);
		http__reply_error(r, 500, "internal", "out of memory");
		return;
	}
	c->hub = h;
	c->parked.conn = r->conn;
	c->prefix_len =
	        (size_t)snprintf(c->prefix, sizeof(c->prefix), "retry: %d\n: mien live stream\n\n", STREAM_RETRY_MS);
	c->last_write = mien_mono_ms();

	pthread_mutex_lock(&h->park.lock);
	int mine = 0;
	for (stream_client *o = h->clients; o; o = o->next)
		mine += o->holder.user_id == c->holder.user_id && !o->dropped;
	if (h->park.closing || h->n_clients >= STREAM_CLIENTS_MAX || mine >= h->per_user) {
		pthread_mutex_unlock(&h->park.lock);
		http__holder_clear(&c->holder);
		free(c);
		if (mine >= h->per_user)
			http__reply_error(r, 429, "too_many_streams",
			                  "this user already holds %d live streams on this node (close one first)",
			                  mine);
		else
			http__reply_error(r, 503, "unavailable", "too many live streams on this node");
		return;
	}
	/* Replay what the client missed, as far as the ring still holds it. */
	if (last_id && last < h->next_seq) {
		uint64_t from = last + 1;
		if (h->next_seq >= STREAM_RING && from <= h->next_seq - STREAM_RING)
			from = h->next_seq - STREAM_RING + 1;
		for (uint64_t seq = from; seq <= h->next_seq; seq++) {
			stream_msg *m = h->ring[seq % STREAM_RING];
			if (m && m->seq == seq && may_see(c, m))
				push(h, c, m);
		}
	}
	c->next = h->clients;
	if (h->clients)
		h->clients->prev = c;
	h->clients = c;
	h->n_clients++;
	pthread_mutex_unlock(&h->park.lock);

	struct MHD_Response *resp =
	        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, read_stream, c, free_client);
	if (!resp) {
		free_client(c);
		http__reply_error(r, 500, "internal", "out of memory");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	http__set_response(r, 200, resp);
}
