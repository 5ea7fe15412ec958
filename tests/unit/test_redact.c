/*
 * test_redact.c — the one redaction of URLs (core/redact.h) and the character-boundary cut (core/utf8.h).
 *
 * The wanted outputs are written by hand from the rules in redact.h (what an attacker or a camera vendor
 * writes: raw '/', '?', '#', '@' in passwords, percent-encoded separators and names, fragments, ';' and '&'
 * parameters, URLs without "scheme://", URLs nested in a parameter), never read back from the code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/redact.h"
#include "core/result.h"
#include "core/utf8.h"

typedef struct redact_case {
	const char *in, *want;
} redact_case;

static const redact_case URL_CASES[] = {
	/* userinfo */
	{ "rtsp://admin:hunter2@10.0.0.5:554/Streaming/101", "rtsp://admin:***@10.0.0.5:554/Streaming/101" },
	{ "rtsp://admin@10.0.0.5/live", "rtsp://admin@10.0.0.5/live" },
	{ "rtsp://10.0.0.5/live", "rtsp://10.0.0.5/live" },
	{ "rtsp://:pw@host/", "rtsp://:***@host/" },
	{ "rtsp://u:@host/", "rtsp://u:***@host/" },
	{ "rtsp://a:b:c@cam/", "rtsp://a:***@cam/" },
	{ "http://u:p@ss/w0rd@host/", "http://u:***@host/" },
	{ "http://u:pa/ss@cam/x", "http://u:***@cam/x" },
	{ "rtsp://u:p@ss:w@rd@host/x", "rtsp://u:***@host/x" },
	{ "rtsp://u:p?ss@host/live?channel=1", "rtsp://u:***@host/live?channel=1" },
	{ "rtsp://u:p#ss@host/live", "rtsp://u:***@host/live" },
	{ "rtsp://u:p/s?s@host/live", "rtsp://u:***@host/live" },
	{ "http://u:p%40ss@cam/mjpg?resolution=640x480", "http://u:***@cam/mjpg?resolution=640x480" },
	{ "rtsp://user%40corp.com:pw@cam/", "rtsp://user%40corp.com:***@cam/" },
	{ "rtsp://admin%3ASecret@cam/live", "rtsp://admin%3A***@cam/live" },
	{ "rtsp://admin%3aSecret@cam/live", "rtsp://admin%3a***@cam/live" },
	{ "rtsp://admin%3ASec:ret@cam/live", "rtsp://admin%3A***@cam/live" },
	{ "admin:secret@10.0.0.1/live", "admin:***@10.0.0.1/live" },
	{ "//admin:secret@10.0.0.1/live", "//admin:***@10.0.0.1/live" },
	{ "rtsp:admin:secret@10.0.0.1/live", "rtsp:***@10.0.0.1/live" },
	{ "rtsp:/admin:secret@10.0.0.1/live", "rtsp:***@10.0.0.1/live" },
	{ "RTSP://Admin:S3cret@CAM/live", "RTSP://Admin:***@CAM/live" },
	/* query, fragment and ';' parameters */
	{ "http://cam/cgi?user=admin&password=hunter2&channel=1", "http://cam/cgi?user=admin&password=***&channel=1" },
	{ "http://cam/video.cgi?user=admin&pwd=abc", "http://cam/video.cgi?user=admin&pwd=***" },
	{ "https://cam/live.m3u8?token=abc.def&x=1#frag", "https://cam/live.m3u8?token=***&x=1#frag" },
	{ "http://cam/a?api_key=k1;pwd=k2", "http://cam/a?api_key=***;pwd=***" },
	{ "http://cam/a?key=k1&auth=a1&passwd=p1&pass=p2", "http://cam/a?key=***&auth=***&passwd=***&pass=***" },
	{ "http://cam/a?access_token=t&client_secret=s&X-Amz-Signature=g&sig=h",
	  "http://cam/a?access_token=***&client_secret=***&X-Amz-Signature=***&sig=***" },
	{ "http://cam/a?PASSWORD=X&Authorization=Basic%20x", "http://cam/a?PASSWORD=***&Authorization=***" },
	{ "http://cam/a?sessionid=s1&pin=1234&sid=9", "http://cam/a?sessionid=***&pin=***&sid=***" },
	{ "http://cam/snap?pass%77ord=abc&x=1", "http://cam/snap?pass%77ord=***&x=1" },
	{ "http://cam/snap?pass%2577ord=abc", "http://cam/snap?pass%2577ord=***" },
	{ "http://cam/snap?%70%61%73%73=abc", "http://cam/snap?%70%61%73%73=***" },
	{ "http://cam/snap?password%3Dabc&x=1", "http://cam/snap?password%3D***&x=1" },
	{ "rtsp://cam/live#token=abc", "rtsp://cam/live#token=***" },
	{ "rtsp://cam/live;password=abc;transport=tcp", "rtsp://cam/live;password=***;transport=tcp" },
	{ "rtsp://cam/live&password=abc", "rtsp://cam/live&password=***" },
	{ "http://cam/x?password=a&b&c=1", "http://cam/x?password=***&c=1" },
	{ "http://cam/x?password=a#b?c", "http://cam/x?password=***" },
	{ "http://cam/x?password=a=b&c=1", "http://cam/x?password=***&c=1" },
	{ "http://cam/x?password=", "http://cam/x?password=***" },
	{ "rtsp://cam/live?&amp;password=x", "rtsp://cam/live?&amp;password=***" },
	{ "http://u:p@cam/x?token=t", "http://u:***@cam/x?token=***" },
	/* a URL with credentials nested in a parameter, raw or encoded */
	{ "http://proxy/api?src=rtsp://u:p@cam/live&x=1", "http://proxy/api?src=***&x=1" },
	{ "http://proxy/api?src=rtsp%3A%2F%2Fu%3Ap%40cam%2Flive", "http://proxy/api?src=***" },
	{ "http://proxy/api?src=rtsp%3A%2F%2Fcam%2Flive%3Ftoken%3Dabc", "http://proxy/api?src=***" },
	{ "http://host/?q=a:b@c", "http://host/?q=***" },
	/* nothing to hide */
	{ "rtsp://cam/live?channel=1&subtype=0", "rtsp://cam/live?channel=1&subtype=0" },
	{ "rtsp://host:554/live?email=a@b.c", "rtsp://host:554/live?email=a@b.c" },
	{ "http://cam/x?user=bob%40corp.com", "http://cam/x?user=bob%40corp.com" },
	{ "/dev/video0", "/dev/video0" },
	{ "file:/var/clips/door.mp4", "file:/var/clips/door.mp4" },
	{ "", "" },
};

static void test_redact_url_table(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(URL_CASES); i++) {
		char got[512];
		size_t n = mien_redact_url(URL_CASES[i].in, got, sizeof(got));
		int ok = strcmp(got, URL_CASES[i].want) == 0 && n == strlen(got);
		if (!ok) {
			print_message("redact_url(\"%s\"):\n  got  \"%s\" (%zu)\n  want \"%s\"\n", URL_CASES[i].in, got,
			              n, URL_CASES[i].want);
			failed++;
		}
		/* The redacted form is a fixed point, and it carries the mark exactly when something was hidden. */
		char again[512];
		mien_redact_url(got, again, sizeof(again));
		if (strcmp(again, got) != 0) {
			print_message("redact_url(redact_url(\"%s\")):\n  got  \"%s\"\n  want \"%s\"\n",
			              URL_CASES[i].in, again, got);
			failed++;
		}
		int hid = strcmp(URL_CASES[i].in, URL_CASES[i].want) != 0;
		if (mien_redact_marked(got) != hid) {
			print_message("marked(\"%s\"): got %d, want %d\n", got, mien_redact_marked(got), hid);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_redact_url_bounded(void **state)
{
	(void)state;
	char small[12];
	size_t n = mien_redact_url("rtsp://admin:hunter2@10.0.0.5/", small, sizeof(small));
	assert_string_equal(small, "rtsp://admi");
	assert_int_equal(n, 11);
	char tiny[8];
	mien_redact_url("rtsp://a:b@c/d", tiny, sizeof(tiny));
	assert_string_equal(tiny, "rtsp://");
	/* A cut never ends inside a character: "é" is two bytes. */
	char cut[13];
	mien_redact_url("rtsp://cam/\xc3\xa9t\xc3\xa9", cut, sizeof(cut));
	print_message("cut: got \"%s\", want \"rtsp://cam/\"\n", cut);
	assert_string_equal(cut, "rtsp://cam/");
	assert_int_equal(mien_redact_url("rtsp://x", NULL, 0), 0);
	char none[4] = "abc";
	mien_redact_url(NULL, none, sizeof(none));
	assert_string_equal(none, "");
}

static void test_redact_text(void **state)
{
	(void)state;
	static const redact_case CASES[] = {
		{ "[tcp @ 0x55] Connection to tcp://127.0.0.1:9 failed; Opening 'http://a:b1@h/x' for reading; "
		  "rtsp://root:pass@cam/ and Authorization: Basic YWRtaW46aHVudGVyMg==\r\nnext",
		  "[tcp @ 0x55] Connection to tcp://127.0.0.1:9 failed; Opening 'http://a:***@h/x' for reading; "
		  "rtsp://root:***@cam/ and Authorization: ***\r\nnext" },
		{ "camera: (rtsp://u:p@ss/w0rd@host/x) refused", "camera: (rtsp://u:***@host/x) refused" },
		{ "GET /live?token=abc HTTP/1.1", "GET /live?token=*** HTTP/1.1" },
		{ "login admin:secret@10.0.0.1 failed", "login admin:***@10.0.0.1 failed" },
		{ "Proxy-Authorization: Digest x=1\nrest", "Proxy-Authorization: ***\nrest" },
		{ "Stream #0:0: Video: h264 (High), yuv420p(progressive), 1280x720, 25 fps",
		  "Stream #0:0: Video: h264 (High), yuv420p(progressive), 1280x720, 25 fps" },
		{ "camera 3: online -> reconnecting: end of stream",
		  "camera 3: online -> reconnecting: end of stream" },
	};
	int failed = 0;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(CASES); i++) {
		char got[512];
		mien_redact_text(CASES[i].in, got, sizeof(got));
		if (strcmp(got, CASES[i].want) != 0) {
			print_message("redact_text(\"%s\"):\n  got  \"%s\"\n  want \"%s\"\n", CASES[i].in, got,
			              CASES[i].want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_redact_marked(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		int want;
	} CASES[] = {
		{ "rtsp://admin:***@10.0.0.1/s", 1 }, { "rtsp://admin:s3cret@10.0.0.1/s", 0 },
		{ "rtsp://10.0.0.1/***", 0 },         { "rtsp://cam/live?token=***", 1 },
		{ "rtsp://cam/live?name=***", 1 },    { "rtsp://admin%3A***@cam/", 1 },
		{ "rtsp://cam/live?token=****", 0 },  { "rtsp://cam/live?name=x***", 0 },
	};
	int failed = 0;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(CASES); i++) {
		int got = mien_redact_marked(CASES[i].url);
		if (got != CASES[i].want) {
			print_message("marked(\"%s\"): got %d, want %d\n", CASES[i].url, got, CASES[i].want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_redact_restore(void **state)
{
	(void)state;
	static const char STORED[] = "rtsp://viewer:s3cret@10.0.0.1/live?token=t0k&channel=1#key=k3y";
	char shown[256], kept[256];
	mien_redact_url(STORED, shown, sizeof(shown));
	print_message("shown: \"%s\"\n", shown);
	assert_string_equal(shown, "rtsp://viewer:***@10.0.0.1/live?token=***&channel=1#key=***");
	/* the echo keeps every stored secret */
	assert_int_equal(mien_redact_restore(shown, STORED, kept, sizeof(kept)), 0);
	assert_string_equal(kept, STORED);
	static const char *const REFUSED[] = {
		"rtsp://viewer:***@10.9.9.9/live?token=***&channel=1#key=***", /* another host borrows nothing */
		"rtsp://viewer:***@10.0.0.1/live?token=***&channel=2#key=***", /* anything else changed */
		"rtsp://viewer:***@10.0.0.1/live?token=new&channel=1#key=***", /* one secret new, others marked */
		"rtsp://viewer:***@10.0.0.1/live?token=***&channel=1",
		"rtsp://viewer:s3cret@10.0.0.1/live?token=t0k&channel=1#key=k3y", /* no mark: not an echo */
	};
	for (size_t i = 0; i < MIEN_ARRAY_LEN(REFUSED); i++) {
		int got = mien_redact_restore(REFUSED[i], STORED, kept, sizeof(kept));
		if (got != -1)
			print_message("restore(\"%s\"): got %d, want -1\n", REFUSED[i], got);
		assert_int_equal(got, -1);
	}
	char small[8];
	assert_int_equal(mien_redact_restore(shown, STORED, small, sizeof(small)), -1);
}

static void test_utf8_truncate(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t max;
		const char *want;
	} CASES[] = {
		{ "abc", 10, "abc" },
		{ "abc", 2, "ab" },
		{ "\xc3\xa9\xc3\xa9", 3, "\xc3\xa9" },           /* é é: the second cut after its lead byte */
		{ "\xc3\xa9\xc3\xa9", 4, "\xc3\xa9\xc3\xa9" },   /* fits */
		{ "a\xe2\x82\xac", 3, "a" },                     /* € cut after two of three bytes */
		{ "a\xf0\x9f\x98\x80", 4, "a" },                 /* 😀 cut after three of four bytes */
		{ "a\xf0\x9f\x98\x80", 5, "a\xf0\x9f\x98\x80" }, /* fits */
		{ "ab\xc3", 10, "ab" },                          /* an incomplete character at the end */
		{ "\x80\x80\x80\x80\x80", 3, "\x80\x80\x80" },   /* not UTF-8: left alone */
		{ "", 0, "" },
	};
	int failed = 0;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(CASES); i++) {
		char got[32];
		snprintf(got, sizeof(got), "%s", CASES[i].in);
		size_t n = mien_utf8_truncate(got, CASES[i].max);
		if (strcmp(got, CASES[i].want) != 0 || n != strlen(got)) {
			print_message("utf8_truncate(\"%s\", %zu): got \"%s\" (%zu), want \"%s\"\n", CASES[i].in,
			              CASES[i].max, got, n, CASES[i].want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
	char field[8];
	assert_int_equal(mien_utf8_copy(field, sizeof(field), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), 6);
	assert_string_equal(field, "\xc3\xa9\xc3\xa9\xc3\xa9");
	assert_int_equal(mien_utf8_copy(field, sizeof(field), NULL), 0);
	assert_string_equal(field, "");

	/* Error messages (they go out in JSON replies and SSE messages) are cut the same way. */
	char long_name[3 * MIEN_ERROR_MESSAGE_MAX];
	for (size_t i = 0; i + 2 < sizeof(long_name); i += 2)
		memcpy(long_name + i, "\xc3\xa9", 2);
	long_name[sizeof(long_name) - 1] = '\0';
	mien_error err;
	mien_error_set(&err, MIEN_EINVAL, "%s", long_name); /* byte 511 would be the middle of an "é" */
	size_t n = strlen(err.message);
	print_message("error message: %zu bytes, want %d\n", n, MIEN_ERROR_MESSAGE_MAX - 2);
	assert_int_equal(n, MIEN_ERROR_MESSAGE_MAX - 2);
	mien_error_set(&err, MIEN_EINVAL, "%s", long_name + 1000);
	mien_error_prefix(&err, "camera x");
	n = strlen(err.message);
	print_message("prefixed message: %zu bytes, want %d\n", n, MIEN_ERROR_MESSAGE_MAX - 2);
	assert_int_equal(n, MIEN_ERROR_MESSAGE_MAX - 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_url_table), cmocka_unit_test(test_redact_url_bounded),
		cmocka_unit_test(test_redact_text),      cmocka_unit_test(test_redact_marked),
		cmocka_unit_test(test_redact_restore),   cmocka_unit_test(test_utf8_truncate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
