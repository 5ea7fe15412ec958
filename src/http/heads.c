/*
 * heads.c — a deadline for the request head (slowloris).
 *
 * libmicrohttpd's connection timeout is an idle timeout that every byte resets, so a client that sends one
 * header line every 20 s holds its connection, and a few thousand such clients hold the server. Here every
 * connection (MHD_OPTION_NOTIFY_CONNECTION) carries the time by which the head of its current request must
 * have arrived: counted from the accept, or on a kept-alive connection from the end of the previous request
 * (plus the idle allowance: a browser may leave it unused for a while before its next request). The access
 * handler's first call for a request means the whole head is in (libmicrohttpd calls it only then), and clears
 * the deadline; a long-lived stream therefore never has one. A ticker (park.c's) shuts down the socket of any
 * connection past its deadline: libmicrohttpd then reads the end of the stream and closes the connection
 * itself, on its own thread.
 *
 * Descriptor reuse: the socket is shut down only under the hub's lock, and the entry leaves the list under the
 * same lock in the CLOSED notification, which libmicrohttpd 0.9.75 sends before it closes the descriptor
 * (MHD_cleanup_connections, and the failure path of new_connection_process_): a descriptor in the list is
 * always still this connection's. (Checked once with fcntl and getsockname in the notification, through the
 * whole of tests/integration/protocol.test.mjs: every descriptor was still an open socket.) The sweep walks
 * every connection under the lock; at the 4096-connection default that is microseconds every 200 ms.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "http/http_int.h"

#define SWEEP_MS 200

typedef struct head_watch head_watch;
struct head_watch {
	head_watch *prev, *next;
	int fd;
	int64_t deadline_ms; /* 0: no head is awaited (a request is in progress) */
};

struct http_heads {
	http_park park; /* its lock guards everything below */
	head_watch *list;
	int64_t timeout_ms;
	int64_t keepalive_ms;
	int open;
	uint64_t cut;
};

static void sweep(void *ctx, int64_t now_ms)
{
	http_heads *h = ctx;
	for (head_watch *w = h->list; w; w = w->next) {
		if (!w->deadline_ms || now_ms < w->deadline_ms)
			continue;
		w->deadline_ms = 0; /* once: the CLOSED notification follows */
		shutdown(w->fd, SHUT_RDWR);
		h->cut++;
	}
}

int http__heads_create(int64_t timeout_ms, int64_t keepalive_ms, http_heads **out)
{
	http_heads *h = calloc(1, sizeof(*h));
	if (!h)
		return MIEN_ENOMEM;
	h->timeout_ms = timeout_ms;
	h->keepalive_ms = keepalive_ms;
	if (http__park_init(&h->park, SWEEP_MS, sweep, h) != MIEN_OK) {
		free(h);
		return MIEN_ENOMEM;
	}
	*out = h;
	return MIEN_OK;
}

void http__heads_free(http_heads **heads)
{
	if (!heads || !*heads)
		return;
	http_heads *h = *heads;
	http__park_destroy(&h->park);
	/* The daemon has stopped, so every connection was notified closed; anything left is freed regardless. */
	while (h->list) {
		head_watch *w = h->list;
		h->list = w->next;
		free(w);
	}
	free(h);
	*heads = NULL;
}

int http__heads_started(http_heads *h, int fd, void **socket_context)
{
	head_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return MIEN_ENOMEM;
	w->fd = fd;
	pthread_mutex_lock(&h->park.lock);
	w->deadline_ms = mien_mono_ms() + h->timeout_ms;
	w->next = h->list;
	if (h->list)
		h->list->prev = w;
	h->list = w;
	h->open++;
	pthread_mutex_unlock(&h->park.lock);
	*socket_context = w;
	return MIEN_OK;
}

void http__heads_closed(http_heads *h, void **socket_context)
{
	head_watch *w = *socket_context;
	if (!w)
		return;
	pthread_mutex_lock(&h->park.lock);
	if (w->prev)
		w->prev->next = w->next;
	else
		h->list = w->next;
	if (w->next)
		w->next->prev = w->prev;
	h->open--;
	pthread_mutex_unlock(&h->park.lock);
	free(w);
	*socket_context = NULL;
}

void http__heads_arrived(http_heads *h, void *socket_context)
{
	head_watch *w = socket_context;
	if (!w)
		return;
	pthread_mutex_lock(&h->park.lock);
	w->deadline_ms = 0;
	pthread_mutex_unlock(&h->park.lock);
}

void http__heads_await_next(http_heads *h, void *socket_context)
{
	head_watch *w = socket_context;
	if (!w)
		return;
	pthread_mutex_lock(&h->park.lock);
	w->deadline_ms = mien_mono_ms() + h->keepalive_ms + h->timeout_ms;
	pthread_mutex_unlock(&h->park.lock);
}

void http__heads_stats(http_heads *h, int *open, uint64_t *cut)
{
	pthread_mutex_lock(&h->park.lock);
	*open = h->open;
	*cut = h->cut;
	pthread_mutex_unlock(&h->park.lock);
}
