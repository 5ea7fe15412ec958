/*
 * bus_redis.c — the link between nodes: one Redis pub/sub channel, and Redis keys for the shared cache.
 *
 * Two connections: a reader thread that SUBSCRIBEs and polls its socket (so that closing the bus never waits on
 * a blocked read), and a command connection for PUBLISH and the cache, shared under a mutex. Both reconnect on
 * their own; the reader with capped exponential backoff, the command side at most once a second.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus_int.h"
#include "core/clock.h"
#include "core/log.h"

#define CHANNEL          "mien:bus"
#define CACHE_PREFIX     "mien:cache:"
#define CONNECT_TIMEOUT  2000
#define COMMAND_TIMEOUT  2000
#define BACKOFF_MIN_MS   100
#define BACKOFF_MAX_MS   5000
#define COMMAND_RETRY_MS 1000

struct bus_redis {
	bus *owner;
	char host[256];
	int port;
	char password[256];
	int db;
	pthread_t reader;
	_Atomic int stop, ready;
	_Atomic uint64_t reconnects;
	pthread_mutex_t command_lock;
	redisContext *command;
	int64_t command_retry_at;
};

/* redis://[[user]:password@]host[:port][/db] — user names (Redis 6 ACL) are accepted and ignored. */
static int parse_url(bus_redis *r, const char *url, mien_error *err)
{
	if (strncmp(url, "redis://", 8) != 0)
		return mien_error_set(err, MIEN_EINVAL, "MIEN_REDIS must look like redis://host:port");
	const char *p = url + 8;
	const char *at = strrchr(p, '@');
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon) {
			size_t n = (size_t)(at - colon - 1);
			if (n >= sizeof(r->password))
				return mien_error_set(err, MIEN_EINVAL, "MIEN_REDIS: password too long");
			memcpy(r->password, colon + 1, n);
			r->password[n] = '\0';
		}
		p = at + 1;
	}
	size_t host_len = strcspn(p, ":/");
	if (host_len == 0 || host_len >= sizeof(r->host))
		return mien_error_set(err, MIEN_EINVAL, "MIEN_REDIS: no host");
	memcpy(r->host, p, host_len);
	r->host[host_len] = '\0';
	p += host_len;
	r->port = 6379;
	if (*p == ':') {
		char *end;
		long port = strtol(p + 1, &end, 10);
		if (end == p + 1 || port < 1 || port > 65535)
			return mien_error_set(err, MIEN_EINVAL, "MIEN_REDIS: bad port");
		r->port = (int)port;
		p = end;
	}
	if (*p == '/' && p[1]) {
		char *end;
		long db = strtol(p + 1, &end, 10);
		if (*end || db < 0 || db > 1000)
			return mien_error_set(err, MIEN_EINVAL, "MIEN_REDIS: bad database number");
		r->db = (int)db;
	} else if (*p && strcmp(p, "/") != 0) {
		return mien_error_set(err, MIEN_EINVAL, "MIEN_REDIS: unexpected text after the host");
	}
	return MIEN_OK;
}

/* A connected, authenticated context, or NULL (the reason in err; never the password). */
static redisContext *connect_redis(bus_redis *r, mien_error *err)
{
	struct timeval tv = { CONNECT_TIMEOUT / 1000, (CONNECT_TIMEOUT % 1000) * 1000 };
	redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
	if (!c || c->err) {
		mien_error_set(err, MIEN_EUNAVAILABLE, "redis %s:%d: %s", r->host, r->port,
		               c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	struct timeval ctv = { COMMAND_TIMEOUT / 1000, (COMMAND_TIMEOUT % 1000) * 1000 };
	redisSetTimeout(c, ctv);
	redisReply *reply = NULL;
	if (r->password[0]) {
		reply = redisCommand(c, "AUTH %s", r->password);
		if (!reply || reply->type == REDIS_REPLY_ERROR) {
			mien_error_set(err, MIEN_EDENIED, "redis %s:%d: authentication failed", r->host, r->port);
			goto fail;
		}
		freeReplyObject(reply);
	}
	if (r->db) {
		reply = redisCommand(c, "SELECT %d", r->db);
		if (!reply || reply->type == REDIS_REPLY_ERROR) {
			mien_error_set(err, MIEN_EUNAVAILABLE, "redis %s:%d: cannot select database %d", r->host,
			               r->port, r->db);
			goto fail;
		}
		freeReplyObject(reply);
	}
	return c;
fail:
	if (reply)
		freeReplyObject(reply);
	redisFree(c);
	return NULL;
}

/* Sleeps up to ms, waking early when the bus closes. */
static void nap(bus_redis *r, int ms)
{
	for (int waited = 0; waited < ms && !atomic_load(&r->stop); waited += 50)
		poll(NULL, 0, 50);
}

static void handle_reply(bus_redis *r, redisReply *reply)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || reply->element[0]->type != REDIS_REPLY_STRING)
		return;
	const char *what = reply->element[0]->str;
	if (strcmp(what, "subscribe") == 0) {
		atomic_store(&r->ready, 1);
	} else if (strcmp(what, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING) {
		bus__deliver_frame(r->owner, reply->element[2]->str, reply->element[2]->len);
	}
}

static void *reader_main(void *arg)
{
	bus_redis *r = arg;
	int backoff = BACKOFF_MIN_MS, first = 1;
	while (!atomic_load(&r->stop)) {
		mien_error err = { 0 };
		redisContext *c = connect_redis(r, &err);
		if (!c) {
			MIEN_LOG_WARN_("bus", "%s; retrying in %d ms", err.message, backoff);
			nap(r, backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		if (!first)
			atomic_fetch_add(&r->reconnects, 1);
		first = 0;
		int done = 0;
		if (redisAppendCommand(c, "SUBSCRIBE %s", CHANNEL) != REDIS_OK)
			goto lost;
		while (!done)
			if (redisBufferWrite(c, &done) != REDIS_OK)
				goto lost;
		MIEN_LOG_INFO_("bus", "subscribed to redis %s:%d", r->host, r->port);
		while (!atomic_load(&r->stop)) {
			void *reply = NULL;
			if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
				goto lost;
			if (reply) {
				backoff = BACKOFF_MIN_MS;
				handle_reply(r, reply);
				freeReplyObject(reply);
				continue;
			}
			struct pollfd p = { c->fd, POLLIN, 0 };
			int n = poll(&p, 1, 200);
			if (n < 0 && errno != EINTR)
				goto lost;
			if (n > 0 && redisBufferRead(c) != REDIS_OK)
				goto lost;
		}
		redisFree(c);
		break;
	lost:
		atomic_store(&r->ready, 0);
		MIEN_LOG_WARN_("bus", "lost redis %s:%d (%s); reconnecting", r->host, r->port,
		               c->errstr[0] ? c->errstr : "closed");
		redisFree(c);
		nap(r, backoff);
	}
	atomic_store(&r->ready, 0);
	return NULL;
}

int bus__redis_open(bus *b, const char *url, bus_redis **out, mien_error *err)
{
	*out = NULL;
	bus_redis *r = calloc(1, sizeof(*r));
	if (!r)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	r->owner = b;
	int rc = parse_url(r, url, err);
	if (rc) {
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->command_lock, NULL);
	if (pthread_create(&r->reader, NULL, reader_main, r) != 0) {
		pthread_mutex_destroy(&r->command_lock);
		free(r);
		return mien_error_set(err, MIEN_ENOMEM, "bus: cannot start the redis reader");
	}
	/* Give a reachable Redis a moment, so that a bus that can be ready is ready when open returns. */
	for (int i = 0; i < 40 && !atomic_load(&r->ready); i++)
		poll(NULL, 0, 25);
	*out = r;
	return MIEN_OK;
}

void bus__redis_close(bus_redis **rp)
{
	if (!rp || !*rp)
		return;
	bus_redis *r = *rp;
	atomic_store(&r->stop, 1);
	pthread_join(r->reader, NULL);
	redisFree(r->command);
	pthread_mutex_destroy(&r->command_lock);
	free(r);
	*rp = NULL;
}

int bus__redis_ready(const bus_redis *r)
{
	return atomic_load(&((bus_redis *)r)->ready);
}

uint64_t bus__redis_reconnects(const bus_redis *r)
{
	return atomic_load(&((bus_redis *)r)->reconnects);
}

/*
 * Runs one command on the shared command connection (lock held by the caller's caller): connects when needed
 * (not more than once a second while Redis is down), drops the connection after a failure. Returns the reply
 * (caller frees) or NULL with err set.
 */
static redisReply *command(bus_redis *r, mien_error *err, const char *fmt, ...)
{
	int64_t now = mien_mono_ms();
	if (!r->command) {
		/* While the reader thread is connected, Redis is up: try at once rather than waiting out the pause. */
		if (now < r->command_retry_at && !atomic_load(&r->ready)) {
			mien_error_set(err, MIEN_EUNAVAILABLE, "redis %s:%d unreachable", r->host, r->port);
			return NULL;
		}
		r->command = connect_redis(r, err);
		if (!r->command) {
			r->command_retry_at = now + COMMAND_RETRY_MS;
			return NULL;
		}
	}
	va_list ap;
	va_start(ap, fmt);
	redisReply *reply = redisvCommand(r->command, fmt, ap);
	va_end(ap);
	if (!reply) {
		mien_error_set(err, MIEN_EUNAVAILABLE, "redis %s:%d: %s", r->host, r->port, r->command->errstr);
		redisFree(r->command);
		r->command = NULL;
		r->command_retry_at = 0; /* one immediate retry on the next call: the server may have restarted */
		return NULL;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		mien_error_set(err, MIEN_EBACKEND, "redis: %s", reply->str);
		freeReplyObject(reply);
		return NULL;
	}
	return reply;
}

int bus__redis_publish(bus_redis *r, const char *frame, size_t len, mien_error *err)
{
	pthread_mutex_lock(&r->command_lock);
	redisReply *reply = command(r, err, "PUBLISH %s %b", CHANNEL, frame, len);
	pthread_mutex_unlock(&r->command_lock);
	if (!reply)
		return err ? err->code : MIEN_EUNAVAILABLE;
	freeReplyObject(reply);
	return MIEN_OK;
}

int bus__redis_set(bus_redis *r, const char *key, const char *value, int64_t ttl_ms, mien_error *err)
{
	pthread_mutex_lock(&r->command_lock);
	redisReply *reply = command(r, err, "SET " CACHE_PREFIX "%s %s PX %lld", key, value, (long long)ttl_ms);
	pthread_mutex_unlock(&r->command_lock);
	if (!reply)
		return err ? err->code : MIEN_EUNAVAILABLE;
	freeReplyObject(reply);
	return MIEN_OK;
}

int bus__redis_get(bus_redis *r, const char *key, char *value, size_t cap, mien_error *err)
{
	pthread_mutex_lock(&r->command_lock);
	redisReply *reply = command(r, err, "GET " CACHE_PREFIX "%s", key);
	pthread_mutex_unlock(&r->command_lock);
	if (!reply)
		return err ? err->code : MIEN_EUNAVAILABLE;
	int rc = MIEN_OK;
	if (reply->type != REDIS_REPLY_STRING)
		rc = mien_error_set(err, MIEN_ENOENT, "bus cache: %s not cached", key);
	else if (reply->len >= cap)
		rc = mien_error_set(err, MIEN_ERANGE, "bus cache: value of %s longer than %zu bytes", key, cap);
	else
		memcpy(value, reply->str, reply->len + 1);
	freeReplyObject(reply);
	return rc;
}

int bus__redis_del(bus_redis *r, const char *key, mien_error *err)
{
	pthread_mutex_lock(&r->command_lock);
	redisReply *reply = command(r, err, "DEL " CACHE_PREFIX "%s", key);
	pthread_mutex_unlock(&r->command_lock);
	if (!reply)
		return err ? err->code : MIEN_EUNAVAILABLE;
	freeReplyObject(reply);
	return MIEN_OK;
}
