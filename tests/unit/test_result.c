/*
 * test_result.c — result codes and the error object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "core/result.h"

static void test_strerror_known_and_unknown(void **state)
{
	(void)state;
	assert_string_equal(mien_strerror(MIEN_OK), "ok");
	assert_string_equal(mien_strerror(MIEN_EINVAL), "invalid argument");
	assert_string_equal(mien_strerror(MIEN_ESTATE), "invalid state");
	assert_string_equal(mien_strerror(-999), "unknown error");
	assert_string_equal(mien_strerror(1), "unknown error");
	/* Every defined code has its own text. */
	for (int a = MIEN_EDENIED; a <= MIEN_OK; a++) {
		assert_string_not_equal(mien_strerror(a), "unknown error");
		for (int b = a + 1; b <= MIEN_OK; b++)
			assert_string_not_equal(mien_strerror(a), mien_strerror(b));
	}
}

static void test_error_set_formats_and_returns_code(void **state)
{
	(void)state;
	mien_error err;
	int rc = mien_error_set(&err, MIEN_EFORMAT, "model %s: node %d", "faceres", 42);
	assert_int_equal(rc, MIEN_EFORMAT);
	assert_int_equal(err.code, MIEN_EFORMAT);
	assert_string_equal(err.message, "model faceres: node 42");
}

static void test_error_set_null_is_allowed(void **state)
{
	(void)state;
	assert_int_equal(mien_error_set(NULL, MIEN_ENOMEM, "x %d", 1), MIEN_ENOMEM);
	mien_error_clear(NULL);
	assert_int_equal(mien_error_prefix(NULL, "ctx"), MIEN_OK);
}

static void test_error_set_truncates(void **state)
{
	(void)state;
	char longer[MIEN_ERROR_MESSAGE_MAX * 2];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	mien_error err;
	assert_int_equal(mien_error_set(&err, MIEN_ETOOBIG, "%s", longer), MIEN_ETOOBIG);
	assert_int_equal(strlen(err.message), MIEN_ERROR_MESSAGE_MAX - 1);
	assert_int_equal(err.message[MIEN_ERROR_MESSAGE_MAX - 2], 'a');

	/* Exactly the limit fits without loss. */
	longer[MIEN_ERROR_MESSAGE_MAX - 1] = '\0';
	mien_error_set(&err, MIEN_EIO, "%s", longer);
	assert_string_equal(err.message, longer);
}

static void test_error_prefix(void **state)
{
	(void)state;
	mien_error err;
	mien_error_set(&err, MIEN_ENOENT, "file %s", "a.bin");
	assert_int_equal(mien_error_prefix(&err, "model %s", "emotion"), MIEN_ENOENT);
	assert_string_equal(err.message, "model emotion: file a.bin");
	assert_int_equal(err.code, MIEN_ENOENT);

	/* An empty message takes the prefix alone. */
	mien_error_set(&err, MIEN_EIO, "%s", "");
	mien_error_prefix(&err, "disk");
	assert_string_equal(err.message, "disk");
}

static void test_error_prefix_truncates(void **state)
{
	(void)state;
	char longer[MIEN_ERROR_MESSAGE_MAX];
	memset(longer, 'b', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	mien_error err;
	mien_error_set(&err, MIEN_EINVAL, "%s", longer);
	mien_error_prefix(&err, "ctx");
	assert_int_equal(strlen(err.message), MIEN_ERROR_MESSAGE_MAX - 1);
	assert_memory_equal(err.message, "ctx: bbb", 8);

	/* A prefix longer than the whole message is cut too. */
	mien_error_set(&err, MIEN_EINVAL, "tail");
	mien_error_prefix(&err, "%s", longer);
	assert_int_equal(strlen(err.message), MIEN_ERROR_MESSAGE_MAX - 1);
	assert_null(strstr(err.message, "tail"));
}

static void test_error_clear(void **state)
{
	(void)state;
	mien_error err;
	mien_error_set(&err, MIEN_EIO, "boom");
	mien_error_clear(&err);
	assert_int_equal(err.code, MIEN_OK);
	assert_string_equal(err.message, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_known_and_unknown),
		cmocka_unit_test(test_error_set_formats_and_returns_code),
		cmocka_unit_test(test_error_set_null_is_allowed),
		cmocka_unit_test(test_error_set_truncates),
		cmocka_unit_test(test_error_prefix),
		cmocka_unit_test(test_error_prefix_truncates),
		cmocka_unit_test(test_error_clear),
	};
	return cmocka_run_group_tests_name("core/result", tests, NULL, NULL);
}
