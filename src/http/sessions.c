/*
 * sessions.c — live streams and live views answer to the session that opened them.
 *
 * Each long-lived reply holds a copy of its session (http_holder): the token's hash and the role and cameras the
 * user had when it began. Authorisation happens once, when the reply starts, so without this a stream would go on
 * sending names, faces and pictures after a logout, a password change, a demotion or the loss of a camera.
 *
 * Two ways close them:
 * - at once, when this node's API changes a user or ends a session (http__auth_forget_user / _token in server.c
 *   call http__sessions_revoke, here and, over the bus, on every other node);
 * - by a sweep thread that re-reads every open session from the store each HTTP_SESSION_CHECK_MS, which catches
 *   what no message announces: expiry, `mien user passwd` from the command line, a node that missed a message.
 *   The sweep costs one token look-up per distinct open session a second (1,000 streams of one session: one).
 *   While the store is unreachable, open replies are left as they are (the sessions could not be checked, and the
 *   browser could not re-authorise anyway); they are checked again when it answers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/http_int.h"

/* Upper bounds of the two hubs (stream.c, live.c) together: the sweep's buffer. */
#define SESSIONS_MAX 4400

struct http_sessions {
	http_server *srv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int closing;
	uint8_t (*hashes)[STORE_TOKEN_HASH_BYTES]; /* SESSIONS_MAX of them */
	store_user *user;                          /* scratch for look-ups */
};

int http__holder_init(http_holder *h, const http_req *r)
{
	memset(h, 0, sizeof(*h));
	if (r->user.n_cameras > 0) {
		h->cameras = malloc((size_t)r->user.n_cameras * sizeof(int64_t));
		if (!h->cameras)
			return MIEN_ENOMEM;
		memcpy(h->cameras, r->user.cameras, (size_t)r->user.n_cameras * sizeof(int64_t));
	}
	memcpy(h->token_hash, r->token_hash, STORE_TOKEN_HASH_BYTES);
	h->user_id = r->user.user_id;
	h->role = r->user.role;
	h->all_cameras = r->user.all_cameras;
	h->n_cameras = r->user.n_cameras;
	return MIEN_OK;
}

void http__holder_clear(http_holder *h)
{
	free(h->cameras);
	h->cameras = NULL;
	h->n_cameras = 0;
}

/* 1 when `fresh` allows exactly what the holder began with (same role, same cameras in any order). */
static int same_rights(const http_holder *h, const auth_entry *fresh)
{
	if (fresh->user_id != h->user_id || fresh->role != h->role || fresh->all_cameras != h->all_cameras)
		return 0;
	if (h->all_cameras)
		return 1;
	if (fresh->n_cameras != h->n_cameras)
		return 0;
	for (int i = 0; i < h->n_cameras; i++) {
		int found = 0;
		for (int j = 0; j < fresh->n_cameras && !found; j++)
			found = fresh->cameras[j] == h->cameras[i];
		if (!found)
			return 0;
	}
	return 1;
}

int http__holder_revoked(const http_holder *h, const http_revoke *rv)
{
	if (rv->user_id)
		return h->user_id == rv->user_id;
	if (!rv->token_hash || memcmp(h->token_hash, rv->token_hash, STORE_TOKEN_HASH_BYTES) != 0)
		return 0;
	return !rv->fresh || !same_rights(h, rv->fresh);
}

void http__sessions_revoke(http_server *s, const http_revoke *rv)
{
	int closed = http__stream_revoke(s->stream, rv) + http__live_revoke(s->live, rv);
	if (closed > 0)
		mien_log(MIEN_LOG_INFO, "http", "closed %d live stream(s) and view(s): %s", closed,
		         rv->user_id ? "the user changed"
		         : rv->fresh ? "the user's rights changed"
		                     : "the session ended");
}

static int hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, STORE_TOKEN_HASH_BYTES);
}

/* One pass: every distinct open session, looked up in the store. */
static void sweep(http_sessions *p)
{
	http_server *s = p->srv;
	size_t n = http__stream_sessions(s->stream, p->hashes, SESSIONS_MAX);
	n += http__live_sessions(s->live, p->hashes + n, SESSIONS_MAX - n);
	qsort(p->hashes, n, STORE_TOKEN_HASH_BYTES, hash_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && hash_cmp(p->hashes[i], p->hashes[i - 1]) == 0)
			continue;
		mien_error err = { 0 };
		int rc = store_token_lookup(s->db, p->hashes[i], mien_wall_ms(), p->user, NULL, &err);
		http_revoke rv = { 0, p->hashes[i], NULL };
		auth_entry fresh;
		if (rc == MIEN_OK && !p->user->disabled) {
			memset(&fresh, 0, sizeof(fresh));
			fresh.user_id = p->user->id;
			fresh.role = p->user->role;
			fresh.all_cameras = p->user->all_cameras;
			fresh.n_cameras = p->user->n_cameras;
			memcpy(fresh.cameras, p->user->cameras, (size_t)p->user->n_cameras * sizeof(int64_t));
			rv.fresh = &fresh;
		} else if (rc != MIEN_OK && rc != MIEN_ENOENT) {
			continue; /* the store is away: check again next time */
		}
		http__sessions_revoke(s, &rv);
	}
}

static void *sweep_main(void *arg)
{
	http_sessions *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->closing) {
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += (long)HTTP_SESSION_CHECK_MS * 1000000L;
		while (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &deadline);
		if (p->closing)
			break;
		pthread_mutex_unlock(&p->lock);
		sweep(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int http__sessions_start(http_server *s, http_sessions **out)
{
	*out = NULL;
	http_sessions *p = calloc(1, sizeof(*p));
	if (!p)
		return MIEN_ENOMEM;
	p->srv = s;
	p->hashes = malloc((size_t)SESSIONS_MAX * STORE_TOKEN_HASH_BYTES);
	p->user = malloc(sizeof(*p->user));
	if (!p->hashes || !p->user)
		goto fail;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, sweep_main, p) != 0) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->wake);
		goto fail;
	}
	*out = p;
	return MIEN_OK;
fail:
	free(p->hashes);
	free(p->user);
	free(p);
	return MIEN_ENOMEM;
}

void http__sessions_stop(http_sessions **pp)
{
	if (!pp || !*pp)
		return;
	http_sessions *p = *pp;
	pthread_mutex_lock(&p->lock);
	p->closing = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p->hashes);
	free(p->user);
	free(p);
	*pp = NULL;
}
