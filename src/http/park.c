/*
 * park.c — parked connections, shared by the live stream (stream.c) and the live pictures (live.c).
 *
 * A long-lived reply whose content reader has nothing to send suspends its connection instead of being polled;
 * whoever has something for it (a bus message, a due picture, a heartbeat) resumes it. A hub keeps the lock that
 * its connections' state lives under and a ticker thread that calls the hub's `tick` every tick_ms.
 */
#include <microhttpd.h>
#include <time.h>

#include "core/clock.h"
#include "http/http_int.h"

static void *ticker_main(void *arg)
{
	http_park *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->closing) {
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += (long)p->tick_ms * 1000000L;
		while (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &deadline);
		if (!p->closing)
			p->tick(p->ctx, mien_mono_ms());
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int http__park_init(http_park *p, int tick_ms, void (*tick)(void *ctx, int64_t now_ms), void *ctx)
{
	p->closing = 0;
	p->tick_ms = tick_ms;
	p->tick = tick;
	p->ctx = ctx;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->ticker, NULL, ticker_main, p) != 0) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->wake);
		return MIEN_ENOMEM;
	}
	return MIEN_OK;
}

void http__park_closing(http_park *p)
{
	p->closing = 1;
	pthread_cond_broadcast(&p->wake);
}

void http__park_destroy(http_park *p)
{
	pthread_mutex_lock(&p->lock);
	http__park_closing(p);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->ticker, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
}

void http__parked_resume(http_parked *c)
{
	if (c->suspended) {
		c->suspended = 0;
		MHD_resume_connection(c->conn);
	}
}

ssize_t http__parked_suspend(http_park *p, http_parked *c)
{
	c->suspended = 1;
	MHD_suspend_connection(c->conn);
	pthread_mutex_unlock(&p->lock);
	return 0;
}
