/*
 * bus_int.h — what bus.c (subscribers, local delivery, the in-process cache) and bus_redis.c (the link to other
 * nodes) share.
 */
#ifndef MIEN_BUS_BUS_INT_H
#define MIEN_BUS_BUS_INT_H

#include "bus/bus.h"

typedef struct bus_redis bus_redis;

/* Connects (or starts trying to) and starts the reader thread, which hands every message of another node to
 * bus__deliver. */
int bus__redis_open(bus *b, const char *url, bus_redis **out, mien_error *err);
void bus__redis_close(bus_redis **r);
int bus__redis_ready(const bus_redis *r);
int bus__redis_publish(bus_redis *r, const char *frame, size_t len, mien_error *err);
int bus__redis_set(bus_redis *r, const char *key, const char *value, int64_t ttl_ms, mien_error *err);
int bus__redis_get(bus_redis *r, const char *key, char *value, size_t cap, mien_error *err);
int bus__redis_del(bus_redis *r, const char *key, mien_error *err);
uint64_t bus__redis_reconnects(const bus_redis *r);

/* Parses a frame that came from Redis and calls the subscribers unless this node sent it. */
void bus__deliver_frame(bus *b, const char *frame, size_t len);

#endif
