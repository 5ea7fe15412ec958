/*
 * test_bus.c — the bus in-process, and between two nodes over a real Redis (MIEN_TEST_REDIS, started by
 * scripts/testdb.sh under `make check-unit`), including Redis going away and coming back.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/bus.h"
#include "core/clock.h"

typedef struct inbox {
	pthread_mutex_t lock;
	int count, remote;
	int last_kind;
	int64_t last_camera;
	char last_json[256];
	char last_node[64];
} inbox;

static void collect(void *ctx, const bus_message *m)
{
	inbox *in = ctx;
	pthread_mutex_lock(&in->lock);
	in->count++;
	in->remote += m->remote;
	in->last_kind = m->kind;
	in->last_camera = m->camera_id;
	snprintf(in->last_json, sizeof(in->last_json), "%s", m->json);
	snprintf(in->last_node, sizeof(in->last_node), "%s", m->node);
	pthread_mutex_unlock(&in->lock);
}

static int count_of(inbox *in)
{
	pthread_mutex_lock(&in->lock);
	int n = in->count;
	pthread_mutex_unlock(&in->lock);
	return n;
}

/* Waits up to ms for the inbox to hold `want` messages. */
static int wait_for(inbox *in, int want, int ms)
{
	int64_t until = mien_mono_ms() + ms;
	while (count_of(in) < want && mien_mono_ms() < until)
		poll(NULL, 0, 10);
	return count_of(in);
}

static void test_local_bus(void **state)
{
	(void)state;
	mien_error err = { 0 };
	bus *b = NULL;
	assert_int_equal(bus_open(NULL, "node-a", &b, &err), MIEN_OK);
	assert_string_equal(bus_backend(b), "local");
	assert_true(bus_ready(b));
	inbox one = { .lock = PTHREAD_MUTEX_INITIALIZER }, two = { .lock = PTHREAD_MUTEX_INITIALIZER };
	int id1, id2;
	assert_int_equal(bus_subscribe(b, collect, &one, &id1, &err), MIEN_OK);
	assert_int_equal(bus_subscribe(b, collect, &two, &id2, &err), MIEN_OK);
	assert_int_equal(bus_publish(b, BUS_EVENT, 7, "{\"id\":1}", &err), MIEN_OK);
	assert_int_equal(one.count, 1);
	assert_int_equal(two.count, 1);
	assert_int_equal(one.last_kind, BUS_EVENT);
	assert_int_equal(one.last_camera, 7);
	assert_string_equal(one.last_json, "{\"id\":1}");
	assert_string_equal(one.last_node, "node-a");
	assert_int_equal(one.remote, 0);
	bus_unsubscribe(b, id1);
	assert_int_equal(bus_publish(b, BUS_ALERT, 0, "{}", &err), MIEN_OK);
	assert_int_equal(one.count, 1);
	assert_int_equal(two.count, 2);
	assert_int_equal(bus_publish(b, 99, 0, "{}", &err), MIEN_EINVAL);
	assert_int_equal(bus_publish(b, BUS_FACE, 0, NULL, &err), MIEN_EINVAL);
	char *big = malloc(BUS_MESSAGE_MAX + 2);
	memset(big, 'x', BUS_MESSAGE_MAX + 1);
	big[BUS_MESSAGE_MAX + 1] = '\0';
	assert_int_equal(bus_publish(b, BUS_FACE, 0, big, &err), MIEN_ETOOBIG);
	free(big);
	assert_string_equal(bus_kind_name(BUS_CAMERA), "camera");
	assert_null(bus_kind_name(0));
	bus_stats st;
	bus_get_stats(b, &st);
	assert_int_equal(st.published, 2);
	assert_int_equal(st.delivered, 3);
	bus_close(&b);
	assert_null(b);
	assert_int_equal(bus_open(NULL, "has space", &b, &err), MIEN_EINVAL);
	assert_int_equal(bus_open("http://x", NULL, &b, &err), MIEN_EINVAL);
	assert_int_equal(bus_open("redis://:pw@", NULL, &b, &err), MIEN_EINVAL);
}

static void test_local_cache(void **state)
{
	(void)state;
	mien_error err = { 0 };
	bus *b = NULL;
	assert_int_equal(bus_open("", NULL, &b, &err), MIEN_OK);
	char value[64];
	assert_int_equal(bus_cache_get(b, "token:abc", value, sizeof(value), &err), MIEN_ENOENT);
	assert_int_equal(bus_cache_set(b, "token:abc", "user 1 admin", 60000, &err), MIEN_OK);
	assert_int_equal(bus_cache_set(b, "token:short", "x", 30, &err), MIEN_OK);
	assert_int_equal(bus_cache_get(b, "token:abc", value, sizeof(value), &err), MIEN_OK);
	assert_string_equal(value, "user 1 admin");
	assert_int_equal(bus_cache_get(b, "token:abc", value, 4, &err), MIEN_ERANGE);
	assert_int_equal(bus_cache_set(b, "token:abc", "user 1 analyst", 60000, &err), MIEN_OK);
	assert_int_equal(bus_cache_get(b, "token:abc", value, sizeof(value), &err), MIEN_OK);
	assert_string_equal(value, "user 1 analyst");
	poll(NULL, 0, 60);
	assert_int_equal(bus_cache_get(b, "token:short", value, sizeof(value), &err), MIEN_ENOENT);
	assert_int_equal(bus_cache_del(b, "token:abc", &err), MIEN_OK);
	assert_int_equal(bus_cache_get(b, "token:abc", value, sizeof(value), &err), MIEN_ENOENT);
	assert_int_equal(bus_cache_set(b, "", "x", 10, &err), MIEN_EINVAL);
	assert_int_equal(bus_cache_set(b, "k", "x", 0, &err), MIEN_EINVAL);
	bus_close(&b);
}

static const char *redis_url(void)
{
	const char *url = getenv("MIEN_TEST_REDIS");
	if (!url || !*url)
		fail_msg("MIEN_TEST_REDIS is not set: run through `make check-unit` (scripts/testdb.sh starts Redis)");
	return url;
}

static void redis_ctl(const char *what)
{
	const char *ctl = getenv("MIEN_TEST_REDIS_CTL");
	if (!ctl)
		fail_msg("MIEN_TEST_REDIS_CTL is not set");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "%s %s", ctl, what);
	assert_int_equal(system(cmd), 0);
}

static void test_two_nodes_over_redis(void **state)
{
	(void)state;
	const char *url = redis_url();
	mien_error err = { 0 };
	bus *a = NULL, *b = NULL;
	assert_int_equal(bus_open(url, "node-a", &a, &err), MIEN_OK);
	assert_int_equal(bus_open(url, "node-b", &b, &err), MIEN_OK);
	assert_string_equal(bus_backend(a), "redis");
	assert_true(bus_ready(a));
	assert_true(bus_ready(b));
	inbox in_a = { .lock = PTHREAD_MUTEX_INITIALIZER }, in_b = { .lock = PTHREAD_MUTEX_INITIALIZER };
	int ida, idb;
	assert_int_equal(bus_subscribe(a, collect, &in_a, &ida, &err), MIEN_OK);
	assert_int_equal(bus_subscribe(b, collect, &in_b, &idb, &err), MIEN_OK);
	assert_int_equal(bus_publish(a, BUS_EVENT, 42, "{\"person\":\"Ada \\u00e9\"}", &err), MIEN_OK);
	assert_int_equal(wait_for(&in_b, 1, 3000), 1);
	assert_int_equal(in_b.remote, 1);
	assert_int_equal(in_b.last_camera, 42);
	assert_string_equal(in_b.last_node, "node-a");
	assert_string_equal(in_b.last_json, "{\"person\":\"Ada \\u00e9\"}");
	/* A got its own message once, at publish time, not again from Redis. */
	poll(NULL, 0, 200);
	assert_int_equal(count_of(&in_a), 1);
	assert_int_equal(in_a.remote, 0);

	/* The cache is shared: a logout on one node is seen on the other. */
	char value[64];
	assert_int_equal(bus_cache_set(a, "session:x", "user 5", 60000, &err), MIEN_OK);
	assert_int_equal(bus_cache_get(b, "session:x", value, sizeof(value), &err), MIEN_OK);
	assert_string_equal(value, "user 5");
	assert_int_equal(bus_cache_del(b, "session:x", &err), MIEN_OK);
	assert_int_equal(bus_cache_get(a, "session:x", value, sizeof(value), &err), MIEN_ENOENT);

	/* Redis goes away: local delivery goes on, the remote part fails clearly, readiness drops. */
	redis_ctl("stop");
	int rc = bus_publish(a, BUS_CAMERA, 1, "{\"status\":\"offline\"}", &err);
	assert_int_equal(rc, MIEN_EUNAVAILABLE);
	assert_int_equal(count_of(&in_a), 2);
	int64_t until = mien_mono_ms() + 3000;
	while (bus_ready(b) && mien_mono_ms() < until)
		poll(NULL, 0, 20);
	assert_false(bus_ready(b));
	assert_int_equal(bus_cache_get(a, "session:x", value, sizeof(value), &err), MIEN_EUNAVAILABLE);

	/* Redis returns: both nodes reconnect by themselves and messages flow again. */
	redis_ctl("start");
	until = mien_mono_ms() + 8000;
	while ((!bus_ready(a) || !bus_ready(b)) && mien_mono_ms() < until)
		poll(NULL, 0, 20);
	assert_true(bus_ready(a));
	assert_true(bus_ready(b));
	int before = count_of(&in_b);
	assert_int_equal(bus_publish(a, BUS_ALERT, 3, "{\"after\":true}", &err), MIEN_OK);
	assert_int_equal(wait_for(&in_b, before + 1, 3000), before + 1);
	assert_string_equal(in_b.last_json, "{\"after\":true}");
	bus_stats st;
	bus_get_stats(b, &st);
	assert_true(st.reconnects >= 1);
	bus_unsubscribe(a, ida);
	bus_unsubscribe(b, idb);
	bus_close(&a);
	bus_close(&b);
}

static void test_redis_down_at_start(void **state)
{
	(void)state;
	mien_error err = { 0 };
	bus *b = NULL;
	/* Nothing listens on port 1: the bus opens unready and keeps trying; closing is prompt. */
	assert_int_equal(bus_open("redis://127.0.0.1:1", NULL, &b, &err), MIEN_OK);
	assert_false(bus_ready(b));
	inbox in = { .lock = PTHREAD_MUTEX_INITIALIZER };
	int id;
	assert_int_equal(bus_subscribe(b, collect, &in, &id, &err), MIEN_OK);
	assert_int_equal(bus_publish(b, BUS_FACE, 1, "{}", &err), MIEN_EUNAVAILABLE);
	assert_int_equal(count_of(&in), 1);
	int64_t t0 = mien_mono_ms();
	bus_close(&b);
	assert_true(mien_mono_ms() - t0 < 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_bus),
		cmocka_unit_test(test_local_cache),
		cmocka_unit_test(test_two_nodes_over_redis),
		cmocka_unit_test(test_redis_down_at_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
