/*
 * test_notify.c — the pure parts of the notifier (bus/notify.h, bus/rules.h): who a rule lets through (cameras,
 * people, watchlist, unknowns, time windows across midnight and by weekday), the webhook signature against RFC 4231's
 * HMAC-SHA256 vectors, the retry schedule and which answers are retried, webhook URL and kind checks, MQTT broker
 * URLs, topic prefixes and topic words. Wanted values are written by hand or taken from the RFC, never from the code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bus/notify.h"
#include "bus/rules.h"

static rule parse_ok(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!v)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	rule r;
	char why[200] = "";
	if (rule_parse(v, &r, why, sizeof(why)) != 0)
		fail_msg("rule %s refused: %s", text, why);
	json_decref(v);
	return r;
}

static void parse_fails(const char *text, const char *why_contains)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!v)
		fail_msg("bad test JSON %s", text);
	rule r;
	char why[200] = "";
	if (rule_parse(v, &r, why, sizeof(why)) == 0)
		fail_msg("rule %s was accepted", text);
	if (!strstr(why, why_contains))
		fail_msg("rule %s: message \"%s\" does not say \"%s\"", text, why, why_contains);
	json_decref(v);
}

#define AT(h, m) ((h)*60 + (m))
enum { SUN, MON, TUE, WED, THU, FRI, SAT };

static const rule_subject ADA_AT_1 = { .camera_id = 1, .face = 1, .person_id = 7, .watchlist = 0 };
static const rule_subject EVE_AT_1 = { .camera_id = 1, .face = 1, .person_id = 9, .watchlist = 1 };
static const rule_subject UNKNOWN_AT_1 = { .camera_id = 1, .face = 1, .person_id = 0 };
static const rule_subject UNKNOWN_AT_2 = { .camera_id = 2, .face = 1, .person_id = 0 };
static const rule_subject STATUS_OF_2 = { .camera_id = 2, .face = 0 };

static void test_rule_everything(void **state)
{
	(void)state;
	rule r = parse_ok("null");
	assert_true(rule_match(&r, &ADA_AT_1, AT(3, 0), MON));
	assert_true(rule_match(&r, &UNKNOWN_AT_2, AT(23, 59), SUN));
	assert_true(rule_match(&r, &STATUS_OF_2, 0, SAT));
	r = parse_ok("{}");
	assert_true(rule_match(&r, &EVE_AT_1, AT(12, 0), WED));
}

static void test_rule_cameras_and_people(void **state)
{
	(void)state;
	rule r = parse_ok("{\"cameras\":[2,5]}");
	assert_false(rule_match(&r, &ADA_AT_1, AT(12, 0), MON));
	assert_true(rule_match(&r, &UNKNOWN_AT_2, AT(12, 0), MON));
	assert_true(rule_match(&r, &STATUS_OF_2, AT(12, 0), MON));
	r = parse_ok("{\"people\":[7]}");
	assert_true(rule_match(&r, &ADA_AT_1, AT(12, 0), MON));
	assert_false(rule_match(&r, &EVE_AT_1, AT(12, 0), MON));
	assert_false(rule_match(&r, &UNKNOWN_AT_1, AT(12, 0), MON));
	assert_true(rule_match(&r, &STATUS_OF_2, AT(12, 0), MON)); /* who-fields leave camera messages alone */
	r = parse_ok("{\"watchlist\":true}");
	assert_false(rule_match(&r, &ADA_AT_1, AT(12, 0), MON));
	assert_true(rule_match(&r, &EVE_AT_1, AT(12, 0), MON));
	assert_false(rule_match(&r, &UNKNOWN_AT_1, AT(12, 0), MON));
	r = parse_ok("{\"unknown\":true}");
	assert_false(rule_match(&r, &ADA_AT_1, AT(12, 0), MON));
	assert_true(rule_match(&r, &UNKNOWN_AT_1, AT(12, 0), MON));
	r = parse_ok("{\"known\":true}");
	assert_true(rule_match(&r, &ADA_AT_1, AT(12, 0), MON));
	assert_true(rule_match(&r, &EVE_AT_1, AT(12, 0), MON));
	assert_false(rule_match(&r, &UNKNOWN_AT_1, AT(12, 0), MON));
	/* any of the who-fields, and the cameras as well */
	r = parse_ok("{\"people\":[7],\"unknown\":true,\"cameras\":[1]}");
	assert_true(rule_match(&r, &ADA_AT_1, AT(12, 0), MON));
	assert_true(rule_match(&r, &UNKNOWN_AT_1, AT(12, 0), MON));
	assert_false(rule_match(&r, &EVE_AT_1, AT(12, 0), MON));
	assert_false(rule_match(&r, &UNKNOWN_AT_2, AT(12, 0), MON));
	/* false flags are the same as absent ones */
	r = parse_ok("{\"watchlist\":false,\"unknown\":false,\"known\":false,\"people\":[]}");
	assert_true(rule_match(&r, &ADA_AT_1, AT(12, 0), MON));
}

static void test_rule_hours(void **state)
{
	(void)state;
	/* the back door at night: 22:00 to 06:00 crosses midnight */
	rule r = parse_ok("{\"cameras\":[1],\"unknown\":true,\"hours\":[{\"from\":\"22:00\",\"to\":\"06:00\"}]}");
	assert_true(rule_match(&r, &UNKNOWN_AT_1, AT(22, 0), MON));
	assert_true(rule_match(&r, &UNKNOWN_AT_1, AT(23, 59), MON));
	assert_true(rule_match(&r, &UNKNOWN_AT_1, AT(0, 0), TUE));
	assert_true(rule_match(&r, &UNKNOWN_AT_1, AT(5, 59), TUE));
	assert_false(rule_match(&r, &UNKNOWN_AT_1, AT(6, 0), TUE));
	assert_false(rule_match(&r, &UNKNOWN_AT_1, AT(21, 59), TUE));
	assert_false(rule_match(&r, &UNKNOWN_AT_1, AT(12, 0), TUE));
	assert_false(rule_match(&r, &ADA_AT_1, AT(23, 0), TUE));
	/* a daytime window: the end is not part of it */
	r = parse_ok("{\"hours\":[{\"from\":\"09:30\",\"to\":\"17:00\"}]}");
	assert_false(rule_match(&r, &ADA_AT_1, AT(9, 29), WED));
	assert_true(rule_match(&r, &ADA_AT_1, AT(9, 30), WED));
	assert_true(rule_match(&r, &ADA_AT_1, AT(16, 59), WED));
	assert_false(rule_match(&r, &ADA_AT_1, AT(17, 0), WED));
	/* days are the days a window starts on: Friday night covers Saturday morning, not Friday morning */
	r = parse_ok("{\"hours\":[{\"from\":\"22:00\",\"to\":\"06:00\",\"days\":[\"fri\",\"sat\"]}]}");
	assert_true(rule_match(&r, &ADA_AT_1, AT(23, 0), FRI));
	assert_true(rule_match(&r, &ADA_AT_1, AT(3, 0), SAT));
	assert_true(rule_match(&r, &ADA_AT_1, AT(3, 0), SUN));
	assert_false(rule_match(&r, &ADA_AT_1, AT(3, 0), FRI));
	assert_false(rule_match(&r, &ADA_AT_1, AT(23, 0), SUN));
	assert_false(rule_match(&r, &ADA_AT_1, AT(3, 0), MON));
	/* several windows: any of them */
	r = parse_ok("{\"hours\":[{\"from\":\"07:00\",\"to\":\"08:00\"},{\"from\":\"18:00\",\"to\":\"19:00\"}]}");
	assert_true(rule_match(&r, &ADA_AT_1, AT(7, 15), MON));
	assert_true(rule_match(&r, &ADA_AT_1, AT(18, 45), MON));
	assert_false(rule_match(&r, &ADA_AT_1, AT(12, 0), MON));
	/* camera messages honour the hours too */
	assert_false(rule_match(&r, &STATUS_OF_2, AT(12, 0), MON));
}

static void test_rule_refused(void **state)
{
	(void)state;
	parse_fails("[1]", "object");
	parse_fails("{\"camera\":[1]}", "unknown field");
	parse_fails("{\"cameras\":\"1\"}", "array");
	parse_fails("{\"cameras\":[0]}", "positive");
	parse_fails("{\"people\":[1.5]}", "positive");
	parse_fails("{\"watchlist\":1}", "boolean");
	parse_fails("{\"hours\":[{\"from\":\"22:00\"}]}", "'from' and 'to'");
	parse_fails("{\"hours\":[{\"from\":\"24:00\",\"to\":\"06:00\"}]}", "HH:MM");
	parse_fails("{\"hours\":[{\"from\":\"7:00\",\"to\":\"08:00\"}]}", "HH:MM");
	parse_fails("{\"hours\":[{\"from\":\"08:00\",\"to\":\"08:00\"}]}", "same time");
	parse_fails("{\"hours\":[{\"from\":\"08:00\",\"to\":\"09:00\",\"days\":[\"monday\"]}]}", "\"mon\"");
	parse_fails("{\"hours\":[{\"from\":\"08:00\",\"to\":\"09:00\",\"at\":1}]}", "unknown field");
	/* caps */
	char big[4096];
	size_t n = (size_t)snprintf(big, sizeof(big), "{\"cameras\":[");
	for (int i = 1; i <= RULE_CAMERAS_MAX + 1; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s%d", i > 1 ? "," : "", i);
	snprintf(big + n, sizeof(big) - n, "]}");
	parse_fails(big, "more than");
}

static void test_rule_json_round_trip(void **state)
{
	(void)state;
	rule r = parse_ok("{\"people\":[7,7,9],\"unknown\":true,"
	                  "\"hours\":[{\"from\":\"22:05\",\"to\":\"06:00\",\"days\":[\"sat\",\"fri\"]}]}");
	json_t *j = rule_json(&r);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(
	        text, "{\"cameras\":[],\"hours\":[{\"days\":[\"fri\",\"sat\"],\"from\":\"22:05\",\"to\":\"06:00\"}],"
	              "\"known\":false,\"people\":[7,9],\"unknown\":true,\"watchlist\":false}");
	rule again;
	char why[100];
	assert_int_equal(rule_parse(j, &again, why, sizeof(why)), 0);
	assert_memory_equal(&again, &r, sizeof(r));
	free(text);
	json_decref(j);
}

/* RFC 4231, test cases 1, 2 and 6 (a key longer than the block). */
static void test_signature(void **state)
{
	(void)state;
	char hex[65];
	char key1[21];
	memset(key1, 0x0b, 20);
	key1[20] = '\0';
	notify_sign(key1, "Hi There", 8, hex);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	notify_sign("Jefe", "what do ya want for nothing?", 28, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	char key6[132];
	memset(key6, 0xaa, 131);
	key6[131] = '\0';
	const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
	notify_sign(key6, data, strlen(data), hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_backoff_and_retry(void **state)
{
	(void)state;
	assert_int_equal(notify_backoff_ms(1, 5000, 600000), 5000);
	assert_int_equal(notify_backoff_ms(2, 5000, 600000), 10000);
	assert_int_equal(notify_backoff_ms(3, 5000, 600000), 20000);
	assert_int_equal(notify_backoff_ms(8, 5000, 600000), 600000); /* 640 s capped at 10 min */
	assert_int_equal(notify_backoff_ms(60, 5000, 600000), 600000);
	assert_int_equal(notify_backoff_ms(0, 200, 1000), 200);
	assert_true(notify_retryable(0));
	assert_true(notify_retryable(500));
	assert_true(notify_retryable(503));
	assert_true(notify_retryable(408));
	assert_true(notify_retryable(429));
	assert_false(notify_retryable(200));
	assert_false(notify_retryable(302));
	assert_false(notify_retryable(400));
	assert_false(notify_retryable(401));
	assert_false(notify_retryable(404));
}

static void test_webhook_urls(void **state)
{
	(void)state;
	mien_error err = { 0 };
	assert_int_equal(notify_webhook_url_check("https://ha.local:8123/api/webhook/mien", &err), MIEN_OK);
	assert_int_equal(notify_webhook_url_check("http://10.0.0.2/hook?token=x", &err), MIEN_OK);
	assert_int_equal(notify_webhook_url_check("HTTP://user:pw@host/x", &err), MIEN_OK);
	const char *refused[] = { "ftp://host/x",
		                  "file:///etc/passwd",
		                  "gopher://host:70/",
		                  "javascript:alert(1)",
		                  "http://",
		                  "http:///x",
		                  "https://u:p@/x",
		                  "http://ho st/",
		                  "http://host/\nx",
		                  "//host/x",
		                  "host/x",
		                  "",
		                  "https://:8080/x",
		                  "rtsp://cam/live" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		mien_error e = { 0 };
		if (notify_webhook_url_check(refused[i], &e) != MIEN_EINVAL)
			fail_msg("URL \"%s\" was accepted", refused[i]);
	}
	/* the message never shows the password */
	mien_error e = { 0 };
	assert_int_equal(notify_webhook_url_check("ftp://admin:hunter2@host/", &e), MIEN_EINVAL);
	assert_null(strstr(e.message, "hunter2"));
	assert_non_null(strstr(e.message, "***"));
	char long_url[STORE_URL_MAX + 16];
	memcpy(long_url, "http://h/", 9);
	memset(long_url + 9, 'a', sizeof(long_url) - 10);
	long_url[sizeof(long_url) - 1] = '\0';
	assert_int_equal(notify_webhook_url_check(long_url, &e), MIEN_EINVAL);
}

static void test_kinds(void **state)
{
	(void)state;
	char kinds[64], why[160];
	json_t *a = json_loads("[\"alert\",\"event\",\"alert\"]", 0, NULL);
	assert_int_equal(notify_kinds_from_json(a, kinds, sizeof(kinds), why, sizeof(why)), 0);
	assert_string_equal(kinds, "event,alert");
	json_decref(a);
	assert_int_equal(notify_kinds_parse("event,alert"), NOTIFY_KIND_EVENT | NOTIFY_KIND_ALERT);
	assert_int_equal(notify_kinds_parse("camera"), NOTIFY_KIND_CAMERA);
	assert_int_equal(notify_kinds_parse(""), 0);
	const char *bad[] = { "[]", "[\"events\"]", "[1]", "\"event\"", "[\"event\",\"face\"]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		if (notify_kinds_from_json(a, kinds, sizeof(kinds), why, sizeof(why)) == 0)
			fail_msg("kinds %s accepted", bad[i]);
		json_decref(a);
	}
	json_t *back = notify_kinds_json(NOTIFY_KIND_ALERT | NOTIFY_KIND_CAMERA);
	char *text = json_dumps(back, JSON_COMPACT);
	assert_string_equal(text, "[\"alert\",\"camera\"]");
	free(text);
	json_decref(back);
}

static void test_mqtt_urls(void **state)
{
	(void)state;
	notify_mqtt_url u;
	mien_error err = { 0 };
	assert_int_equal(notify_mqtt_url_parse("mqtt://broker.lan", &u, &err), MIEN_OK);
	assert_string_equal(u.host, "broker.lan");
	assert_int_equal(u.port, 1883);
	assert_int_equal(u.tls, 0);
	assert_string_equal(u.username, "");
	assert_int_equal(notify_mqtt_url_parse("mqtts://ha:p%40ss:w@10.0.0.3:8884/", &u, &err), MIEN_OK);
	assert_int_equal(u.tls, 1);
	assert_int_equal(u.port, 8884);
	assert_string_equal(u.username, "ha");
	assert_string_equal(u.password, "p@ss:w");
	assert_string_equal(u.host, "10.0.0.3");
	assert_int_equal(notify_mqtt_url_parse("mqtts://[::1]", &u, &err), MIEN_OK);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8883);
	assert_int_equal(notify_mqtt_url_parse("MQTT://u@[fe80::1]:1884", &u, &err), MIEN_OK);
	assert_string_equal(u.host, "fe80::1");
	assert_int_equal(u.port, 1884);
	assert_string_equal(u.username, "u");
	const char *bad[] = { "tcp://broker:1883", "mqtt://",          "mqtt://:1883",      "mqtt://host:0",
		              "mqtt://host:65536", "mqtt://host:12ab", "mqtt://host/topic", "mqtt://ho st",
		              "mqtt://[::1",       "broker:1883" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mien_error e = { 0 };
		if (notify_mqtt_url_parse(bad[i], &u, &e) != MIEN_EINVAL)
			fail_msg("broker URL \"%s\" accepted", bad[i]);
	}
	mien_error e = { 0 };
	assert_int_equal(notify_mqtt_url_parse("mqtt://ha:hunter2@host/x", &u, &e), MIEN_EINVAL);
	assert_null(strstr(e.message, "hunter2"));
}

static void test_prefix_and_words(void **state)
{
	(void)state;
	assert_true(notify_prefix_ok("mien"));
	assert_true(notify_prefix_ok("home/mien"));
	assert_true(notify_prefix_ok("homeassistant"));
	assert_false(notify_prefix_ok(""));
	assert_false(notify_prefix_ok("mien/#"));
	assert_false(notify_prefix_ok("mien/+/x"));
	assert_false(notify_prefix_ok("/mien"));
	assert_false(notify_prefix_ok("mien/"));
	assert_false(notify_prefix_ok("a//b"));
	char word[64];
	notify_topic_word("Front Door", 3, word, sizeof(word));
	assert_string_equal(word, "front_door");
	notify_topic_word("  Garage -- cam #2 ", 4, word, sizeof(word));
	assert_string_equal(word, "garage_cam_2");
	notify_topic_word("Küche", 5, word, sizeof(word));
	assert_string_equal(word, "k_che");
	notify_topic_word("###", 6, word, sizeof(word));
	assert_string_equal(word, "camera_6");
	notify_topic_word("a/b+c#d", 7, word, sizeof(word));
	assert_string_equal(word, "a_b_c_d");
	char longname[200];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	notify_topic_word(longname, 8, word, sizeof(word));
	assert_int_equal(strlen(word), 48);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_everything),
		cmocka_unit_test(test_rule_cameras_and_people),
		cmocka_unit_test(test_rule_hours),
		cmocka_unit_test(test_rule_refused),
		cmocka_unit_test(test_rule_json_round_trip),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_backoff_and_retry),
		cmocka_unit_test(test_webhook_urls),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_mqtt_urls),
		cmocka_unit_test(test_prefix_and_words),
	};
	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
