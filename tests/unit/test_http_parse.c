/*
 * test_http_parse.c — the pure pieces of the HTTP layer: route matching on the real route table and on a
 * small one, ids, JSON depth and shape checks, times, and the auth cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/auth_cache.h"
#include "http/http_int.h"

static void h_a(http_req *r)
{
	(void)r;
}

static const http_route TABLE[] = {
	{ HTTP_GET, "/api/v1/people", 1, 0, h_a },
	{ HTTP_POST, "/api/v1/people", 3, 0, h_a },
	{ HTTP_GET, "/api/v1/people/{id}", 1, 0, h_a },
	{ HTTP_DELETE, "/api/v1/people/{id}", 3, 0, h_a },
	{ HTTP_GET, "/api/v1/people/{id}/faces/{face_id}/thumbnail.jpg", 3, 0, h_a },
};
#define N_TABLE MIEN_ARRAY_LEN(TABLE)

static int match(int method, const char *path, int64_t ids[2], int *allowed)
{
	return http__route_match(TABLE, N_TABLE, method, path, ids, allowed);
}

static void test_route_match(void **state)
{
	(void)state;
	int64_t ids[2] = { 0 };
	int allowed;
	assert_int_equal(match(HTTP_GET, "/api/v1/people", ids, &allowed), 0);
	assert_int_equal(match(HTTP_POST, "/api/v1/people", ids, &allowed), 1);
	assert_int_equal(match(HTTP_GET, "/api/v1/people/42", ids, &allowed), 2);
	assert_int_equal(ids[0], 42);
	assert_int_equal(match(HTTP_HEAD, "/api/v1/people/42", ids, &allowed), 2);
	assert_int_equal(match(HTTP_GET, "/api/v1/people/7/faces/9/thumbnail.jpg", ids, &allowed), 4);
	assert_int_equal(ids[0], 7);
	assert_int_equal(ids[1], 9);
	/* the path exists, the method does not */
	assert_int_equal(match(HTTP_PATCH, "/api/v1/people/42", ids, &allowed), HTTP_ROUTE_BAD_METHOD);
	assert_int_equal(allowed, HTTP_GET | HTTP_DELETE);
	assert_int_equal(match(HTTP_PUT, "/api/v1/people", ids, &allowed), HTTP_ROUTE_BAD_METHOD);
	assert_int_equal(allowed, HTTP_GET | HTTP_POST);
	/* unknown paths */
	assert_int_equal(match(HTTP_GET, "/api/v1/peoples", ids, &allowed), HTTP_ROUTE_NOT_FOUND);
	assert_int_equal(match(HTTP_GET, "/api/v1/people/1/x", ids, &allowed), HTTP_ROUTE_NOT_FOUND);
	assert_int_equal(match(HTTP_GET, "/", ids, &allowed), HTTP_ROUTE_NOT_FOUND);
}

static void test_route_rejects_tricks(void **state)
{
	(void)state;
	int64_t ids[2];
	int allowed;
	static const char *const BAD[] = {
		"/api/v1/people/1/../../users",
		"/api/v1/people/..",
		"/api/v1/./people",
		"/api/v1/people/.",
		"/api//v1/people",
		"/api/v1/people/", /* an empty segment */
		"/api/v1/people/-1",
		"/api/v1/people/0",
		"/api/v1/people/1e9",
		"/api/v1/people/abc",
		"/api/v1/people/+5",
		"/api/v1/people/ 5",
		"/api/v1/people/1234567890123456",
		"/api/v1/people/12345678901234567890123",
		"/api/v1/people/1\\2",
		"/api/v1/people/1\x01",
		"api/v1/people",
		"",
		"/api/v1/people/7/faces/x/thumbnail.jpg",
	};
	for (size_t i = 0; i < MIEN_ARRAY_LEN(BAD); i++) {
		int got = match(HTTP_GET, BAD[i], ids, &allowed);
		if (got != HTTP_ROUTE_BAD_PATH)
			fail_msg("'%s' -> %d, expected HTTP_ROUTE_BAD_PATH (%d)", BAD[i], got, HTTP_ROUTE_BAD_PATH);
	}
	assert_int_equal(http__route_match(TABLE, N_TABLE, HTTP_GET, NULL, ids, &allowed), HTTP_ROUTE_BAD_PATH);
}

/* The real table: every pattern is well formed, unique per method, and matches a concrete path. */
static void test_real_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < http__n_routes; i++) {
		const http_route *r = &http__routes[i];
		char path[256];
		size_t n = 0;
		for (const char *p = r->pattern; *p && n < sizeof(path) - 8;) {
			if (*p == '{') {
				n += (size_t)snprintf(path + n, sizeof(path) - n, "%d", 5);
				p = strchr(p, '}') + 1;
			} else {
				path[n++] = *p++;
			}
		}
		path[n] = '\0';
		int64_t ids[2];
		int allowed;
		int got = http__route_match(http__routes, http__n_routes, r->method, path, ids, &allowed);
		if (got != (int)i)
			fail_msg("%s %s (as %s) -> %d, expected %zu", http__method_name(r->method), r->pattern, path,
			         got, i);
		assert_non_null(r->handler);
		assert_true(r->min_role >= STORE_ROLE_NONE && r->min_role <= STORE_ROLE_ADMIN);
	}
}

static void test_id_parse(void **state)
{
	(void)state;
	int64_t id = 0;
	assert_int_equal(http__id_parse("1", &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(http__id_parse("999999999999999", &id), 0);
	assert_int_equal(id, 999999999999999LL);
	assert_int_equal(http__id_parse("0", &id), -1);
	assert_int_equal(http__id_parse("-1", &id), -1);
	assert_int_equal(http__id_parse("", &id), -1);
	assert_int_equal(http__id_parse(NULL, &id), -1);
	assert_int_equal(http__id_parse("1e3", &id), -1);
	assert_int_equal(http__id_parse("0x10", &id), -1);
	assert_int_equal(http__id_parse("1000000000000000", &id), -1);
}

static void test_json_depth(void **state)
{
	(void)state;
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(http__json_depth_ok(deep, 200, 16), 0);
	assert_int_equal(http__json_depth_ok(deep + 84, 32, 16), 1); /* 16 open, 16 close */
	assert_int_equal(http__json_depth_ok(deep + 83, 34, 16), 0);
	const char *strings = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[\"}";
	assert_int_equal(http__json_depth_ok(strings, strlen(strings), 2), 1);
	assert_int_equal(http__json_depth_ok("", 0, 1), 1);
}

static void test_json_check(void **state)
{
	(void)state;
	static const http_field FIELDS[] = {
		{ "name", HTTP_FIELD_STRING, 1, 5 },
		{ "age", HTTP_FIELD_INT, 0, 0 },
		{ "fps", HTTP_FIELD_NUMBER, 0, 0 },
		{ "on", HTTP_FIELD_BOOL, 0, 0 },
		{ "cams", HTTP_FIELD_ID_ARRAY, 0, 3 },
		{ "limit", HTTP_FIELD_NUMBER_OR_NULL, 0, 0 },
		{ "kinds", HTTP_FIELD_ARRAY, 0, 2 },
		{ "filter", HTTP_FIELD_OBJECT_OR_NULL, 0, 0 },
		{ "secret", HTTP_FIELD_STRING_OR_NULL, 0, 4 },
		{ 0 },
	};
	static const struct {
		const char *json;
		int ok;
		const char *why;
	} CASES[] = {
		{ "{\"name\":\"ada\"}", 0, "" },
		{ "{\"name\":\"ada\",\"age\":3,\"fps\":2.5,\"on\":true,\"cams\":[1,2]}", 0, "" },
		{ "{\"name\":\"ada\",\"fps\":2}", 0, "" },
		{ "{}", -1, "'name' is required" },
		{ "{\"name\":1}", -1, "'name' must be a string" },
		{ "{\"name\":\"toolong\"}", -1, "'name' is longer than 5 bytes" },
		{ "{\"name\":\"a\",\"x\":1}", -1, "unknown field 'x'" },
		{ "{\"name\":\"a\",\"age\":1.5}", -1, "'age' must be an integer" },
		{ "{\"name\":\"a\",\"on\":1}", -1, "'on' must be a boolean" },
		{ "{\"name\":\"a\",\"cams\":[1,0]}", -1, "'cams' must be an array of ids" },
		{ "{\"name\":\"a\",\"cams\":[1,2,3,4]}", -1, "'cams' must be an array of ids" },
		{ "{\"name\":\"a\",\"cams\":[\"1\"]}", -1, "'cams' must be an array of ids" },
		{ "{\"name\":\"a\\u0000b\"}", -1, "'name' is longer than 5 bytes" },
		{ "[1]", -1, "the body must be a JSON object" },
		{ "{\"name\":\"a\",\"limit\":0.5}", 0, "" },
		{ "{\"name\":\"a\",\"limit\":null}", 0, "" },
		{ "{\"name\":\"a\",\"limit\":\"0.5\"}", -1, "'limit' must be a number or null" },
		{ "{\"name\":\"a\",\"fps\":null}", -1, "'fps' must be a number" },
		{ "{\"name\":\"a\",\"kinds\":[\"x\",1],\"filter\":{\"y\":2},\"secret\":\"abcd\"}", 0, "" },
		{ "{\"name\":\"a\",\"filter\":null,\"secret\":null,\"kinds\":[]}", 0, "" },
		{ "{\"name\":\"a\",\"kinds\":[1,2,3]}", -1, "'kinds' holds more than 2 elements" },
		{ "{\"name\":\"a\",\"kinds\":\"x\"}", -1, "'kinds' must be an array" },
		{ "{\"name\":\"a\",\"filter\":[]}", -1, "'filter' must be an object or null" },
		{ "{\"name\":\"a\",\"secret\":\"abcde\"}", -1, "'secret' is longer than 4 bytes" },
		{ "{\"name\":\"a\",\"secret\":5}", -1, "'secret' must be a string or null" },
	};
	for (size_t i = 0; i < MIEN_ARRAY_LEN(CASES); i++) {
		json_error_t jerr;
		json_t *v = json_loads(CASES[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		if (!v)
			fail_msg("%s: %s", CASES[i].json, jerr.text);
		char why[160] = "";
		int got = http__json_check(v, FIELDS, why, sizeof(why));
		json_decref(v);
		if (got != CASES[i].ok || strcmp(why, CASES[i].why) != 0)
			fail_msg("%s -> %d '%s', expected %d '%s'", CASES[i].json, got, why, CASES[i].ok, CASES[i].why);
	}
}

static void test_times(void **state)
{
	(void)state;
	char t[32];
	http__iso_time(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	http__iso_time(1795694400123LL, t); /* 2026-11-26T12:00:00.123Z, by `date -u -d @1795694400` */
	assert_string_equal(t, "2026-11-26T12:00:00.123Z");
	int64_t ms = 0;
	assert_int_equal(http__time_parse("2026-11-26T12:00:00.123Z", &ms), 0);
	assert_int_equal(ms, 1795694400123LL);
	assert_int_equal(http__time_parse("2026-11-26T12:00:00Z", &ms), 0);
	assert_int_equal(ms, 1795694400000LL);
	assert_int_equal(http__time_parse("1795694400123", &ms), 0);
	assert_int_equal(ms, 1795694400123LL);
	static const char *const BAD[] = { "",
		                           "yesterday",
		                           "2026-11-26",
		                           "2026-11-26T12:00:00",
		                           "2026-13-26T12:00:00Z",
		                           "2026-11-26T25:00:00Z",
		                           "2026-11-26T12:00:00+01:00",
		                           "-5",
		                           "1e9",
		                           "12345678901234567890" };
	for (size_t i = 0; i < MIEN_ARRAY_LEN(BAD); i++)
		if (http__time_parse(BAD[i], &ms) == 0)
			fail_msg("'%s' parsed as %lld", BAD[i], (long long)ms);
}

static void test_auth_cache(void **state)
{
	(void)state;
	auth_cache *c = NULL;
	assert_int_equal(auth_cache_create(16, 1000, &c, NULL), MIEN_OK);
	uint8_t k1[STORE_TOKEN_HASH_BYTES] = { 1 }, k2[STORE_TOKEN_HASH_BYTES] = { 2 },
	        k3[STORE_TOKEN_HASH_BYTES] = { 3 };
	auth_entry e = {
		.user_id = 7, .role = STORE_ROLE_ANALYST, .n_cameras = 1, .cameras = { 4 }, .expires_at = 5000
	};
	auth_entry got;
	auth_cache_put(c, k1, &e, 100);
	e.user_id = 8;
	auth_cache_put(c, k2, &e, 100);
	e.user_id = 7;
	auth_cache_put(c, k3, &e, 100);
	assert_int_equal(auth_cache_get(c, k1, 200, &got), 1);
	assert_int_equal(got.user_id, 7);
	assert_int_equal(got.cameras[0], 4);
	assert_int_equal(auth_cache_get(c, k1, 1100, &got), 0); /* past the TTL */
	auth_cache_put(c, k1, &e, 100);
	auth_cache_forget_token(c, k1);
	assert_int_equal(auth_cache_get(c, k1, 200, &got), 0);
	auth_cache_forget_user(c, 7);
	assert_int_equal(auth_cache_get(c, k3, 200, &got), 0);
	assert_int_equal(auth_cache_get(c, k2, 200, &got), 1);
	e.expires_at = 150; /* the token's own expiry comes before the TTL */
	auth_cache_put(c, k1, &e, 100);
	assert_int_equal(auth_cache_get(c, k1, 160, &got), 0);
	/* many keys in a small table: evictions, never a wrong hit */
	for (int i = 0; i < 200; i++) {
		uint8_t k[STORE_TOKEN_HASH_BYTES] = { 0 };
		memcpy(k, &i, sizeof(i));
		k[31] = 0xaa;
		e.user_id = 1000 + i;
		e.expires_at = 5000;
		auth_cache_put(c, k, &e, 100);
	}
	for (int i = 0; i < 200; i++) {
		uint8_t k[STORE_TOKEN_HASH_BYTES] = { 0 };
		memcpy(k, &i, sizeof(i));
		k[31] = 0xaa;
		if (auth_cache_get(c, k, 200, &got))
			assert_int_equal(got.user_id, 1000 + i);
	}
	auth_cache_free(&c);
	assert_null(c);
	auth_cache_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_match), cmocka_unit_test(test_route_rejects_tricks),
		cmocka_unit_test(test_real_table),  cmocka_unit_test(test_id_parse),
		cmocka_unit_test(test_json_depth),  cmocka_unit_test(test_json_check),
		cmocka_unit_test(test_times),       cmocka_unit_test(test_auth_cache),
	};
	return cmocka_run_group_tests_name("http/parse", tests, NULL, NULL);
}
