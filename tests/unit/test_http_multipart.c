/*
 * test_http_multipart.c — taking the uploaded picture out of a multipart/form-data body (RFC 7578): the part
 * named "image", the first file part otherwise, quoted boundaries, preamble, and malformed bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

static int find(const char *type, const char *body, const char **part, size_t *len)
{
	const uint8_t *p = NULL;
	int rc = http__multipart_image(type, (const uint8_t *)body, strlen(body), &p, len);
	*part = (const char *)p;
	return rc;
}

static void expect_part(const char *type, const char *body, const char *want)
{
	const char *part;
	size_t len;
	if (find(type, body, &part, &len) != 0)
		fail_msg("no part found in:\n%s", body);
	if (len != strlen(want) || memcmp(part, want, len) != 0)
		fail_msg("got '%.*s', expected '%s'", (int)len, part, want);
}

static void test_named_image(void **state)
{
	(void)state;
	expect_part("multipart/form-data; boundary=XX",
	            "--XX\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
	            "--XX\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
	            "Content-Type: image/jpeg\r\n\r\n\xff\xd8JPEGDATA\r\n--XX--\r\n",
	            "\xff\xd8JPEGDATA");
	/* the part named image wins over an earlier file part */
	expect_part("multipart/form-data; boundary=XX",
	            "--XX\r\nContent-Disposition: form-data; name=\"other\"; filename=\"b.png\"\r\n\r\nOTHER\r\n"
	            "--XX\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nIMG\r\n--XX--",
	            "IMG");
}

static void test_first_file_part(void **state)
{
	(void)state;
	expect_part("multipart/form-data; boundary=\"quoted b\"",
	            "preamble\r\n--quoted b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"image\"\r\n"
	            "\r\nPHOTO\r\n--quoted b--\r\n",
	            "PHOTO");
	expect_part("Multipart/Form-Data;charset=utf-8; BOUNDARY=b",
	            "--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b--", "PNG");
	/* the body may contain the boundary text without the leading CRLF-- */
	expect_part("multipart/form-data; boundary=b",
	            "--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nx--b y\r\n-b\r\n--b--",
	            "x--b y\r\n-b");
	/* an empty picture part is found (the handler refuses it as empty) */
	const char *part;
	size_t len;
	assert_int_equal(find("multipart/form-data; boundary=b",
	                      "--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n\r\n--b--", &part, &len),
	                 0);
	assert_int_equal(len, 0);
}

static void test_malformed(void **state)
{
	(void)state;
	const char *part;
	size_t len;
	static const struct {
		const char *type, *body;
	} BAD[] = {
		{ "multipart/form-data", "--b\r\n\r\nx\r\n--b--" },                               /* no boundary */
		{ "multipart/form-data; boundary=", "--b\r\n\r\nx\r\n--b--" },                    /* empty */
		{ "multipart/form-data; boundary=\"b", "--b\r\n\r\nx\r\n--b--" },                 /* unclosed quote */
		{ "image/jpeg; boundary=b", "--b\r\nContent-Type: image/png\r\n\r\nx\r\n--b--" }, /* not multipart */
		{ NULL, "--b\r\n" },
		{ "multipart/form-data; boundary=b", "" },
		{ "multipart/form-data; boundary=b", "no delimiter at all" },
		{ "multipart/form-data; boundary=b", "--b\r\nContent-Type: image/png\r\n\r\nunterminated" },
		{ "multipart/form-data; boundary=b", "--b\r\nContent-Type: image/png" }, /* headers cut */
		{ "multipart/form-data; boundary=b", "--bjunk\r\n\r\nx\r\n--b--" },      /* no CRLF after */
		{ "multipart/form-data; boundary=b",
		  "--b\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\nx\r\n--b--" },
		{ "multipart/form-data; boundary=b", "--b--\r\n" },
	};
	for (size_t i = 0; i < MIEN_ARRAY_LEN(BAD); i++)
		if (find(BAD[i].type, BAD[i].body, &part, &len) == 0)
			fail_msg("case %zu accepted: '%.*s'", i, (int)len, part);
	char longb[200] = "multipart/form-data; boundary=";
	memset(longb + strlen(longb), 'a', 100);
	assert_int_equal(find(longb, "--a\r\n\r\n", &part, &len), -1); /* boundary over 70 characters */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_image),
		cmocka_unit_test(test_first_file_part),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests_name("http/multipart", tests, NULL, NULL);
}
