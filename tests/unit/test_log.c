/*
 * test_log.c — record format, level threshold, newline replacement, truncation and thread safety.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/result.h"

/* `2026-11-26T09:46:28.123Z INFO  nn: message` */
#define RECORD_RE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z (DEBUG|INFO |WARN |ERROR) [^ ]+: "

static FILE *sink;

static int setup(void **state)
{
	(void)state;
	sink = tmpfile();
	if (sink == NULL)
		return -1;
	mien_log_set_stream(sink);
	mien_log_set_level(MIEN_LOG_DEBUG);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mien_log_set_stream(NULL);
	mien_log_set_level(MIEN_LOG_INFO);
	fclose(sink);
	sink = NULL;
	return 0;
}

/* Everything written to the sink so far; caller frees. */
static char *captured(void)
{
	fflush(sink);
	long size = ftell(sink);
	assert_true(size >= 0);
	char *text = malloc((size_t)size + 1);
	assert_non_null(text);
	rewind(sink);
	size_t got = fread(text, 1, (size_t)size, sink);
	assert_int_equal(got, (size_t)size);
	text[size] = '\0';
	return text;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	int rc = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		fail_msg("\"%s\" does not match /%s/", text, pattern);
}

static void test_record_format(void **state)
{
	(void)state;
	time_t before = time(NULL);
	mien_log(MIEN_LOG_INFO, "nn", "loaded model %s (%d nodes)", "blazeface-back", 257);
	char *text = captured();
	assert_matches(text, RECORD_RE "loaded model blazeface-back \\(257 nodes\\)\n$");
	assert_memory_equal(text + 25, "INFO  nn: ", 10);

	/* The timestamp is now, in UTC. */
	struct tm utc;
	memset(&utc, 0, sizeof(utc));
	assert_non_null(strptime(text, "%Y-%m-%dT%H:%M:%S", &utc));
	time_t stamp = timegm(&utc);
	/* time() reads the kernel's coarse clock, which may lag the precise one the log uses by a tick, so the
	 * stamp may be a second ahead of it at a second boundary. */
	assert_true(stamp >= before - 1 && stamp <= time(NULL) + 1);
	free(text);
}

static void test_level_names(void **state)
{
	(void)state;
	mien_log(MIEN_LOG_DEBUG, "a", "d");
	mien_log(MIEN_LOG_WARN, "b", "w");
	mien_log(MIEN_LOG_ERROR, "c", "e");
	char *text = captured();
	assert_matches(text, "^.{25}DEBUG a: d\n.{25}WARN  b: w\n.{25}ERROR c: e\n$");
	free(text);
}

static void test_threshold(void **state)
{
	(void)state;
	mien_log_set_level(MIEN_LOG_WARN);
	assert_int_equal(mien_log_get_level(), MIEN_LOG_WARN);
	mien_log(MIEN_LOG_DEBUG, "t", "dropped");
	mien_log(MIEN_LOG_INFO, "t", "dropped");
	mien_log(MIEN_LOG_WARN, "t", "kept1");
	mien_log(MIEN_LOG_ERROR, "t", "kept2");
	mien_log_set_level(MIEN_LOG_OFF);
	mien_log(MIEN_LOG_ERROR, "t", "dropped");
	/* OFF is not a level to write at. */
	mien_log_set_level(MIEN_LOG_DEBUG);
	mien_log(MIEN_LOG_OFF, "t", "dropped");
	mien_log(99, "t", "dropped");
	mien_log(-1, "t", "dropped");
	char *text = captured();
	assert_null(strstr(text, "dropped"));
	assert_matches(text, "^.{25}WARN  t: kept1\n.{25}ERROR t: kept2\n$");
	free(text);
}

static void test_newlines_replaced(void **state)
{
	(void)state;
	mien_log(MIEN_LOG_INFO, "http", "line one\nline two\r\nthree\n");
	char *text = captured();
	assert_matches(text, RECORD_RE "line one line two  three \n$");
	free(text);
}

static void test_long_message_truncated(void **state)
{
	(void)state;
	size_t n = MIEN_LOG_RECORD_MAX * 2;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	mien_log(MIEN_LOG_ERROR, "store", "%s", big);
	free(big);
	char *text = captured();
	size_t len = strlen(text);
	assert_true(len <= MIEN_LOG_RECORD_MAX);
	assert_true(len > MIEN_LOG_RECORD_MAX - 8);
	assert_int_equal(text[len - 1], '\n');
	assert_memory_equal(text + len - 4, "...", 3);
	assert_matches(text, RECORD_RE "x+\\.\\.\\.\n$");
	free(text);
}

static void test_level_parse(void **state)
{
	(void)state;
	int level = -1;
	assert_int_equal(mien_log_level_parse("debug", &level), MIEN_OK);
	assert_int_equal(level, MIEN_LOG_DEBUG);
	assert_int_equal(mien_log_level_parse("INFO", &level), MIEN_OK);
	assert_int_equal(level, MIEN_LOG_INFO);
	assert_int_equal(mien_log_level_parse("Warn", &level), MIEN_OK);
	assert_int_equal(level, MIEN_LOG_WARN);
	assert_int_equal(mien_log_level_parse("error", &level), MIEN_OK);
	assert_int_equal(level, MIEN_LOG_ERROR);
	assert_int_equal(mien_log_level_parse("off", &level), MIEN_OK);
	assert_int_equal(level, MIEN_LOG_OFF);
	level = 7;
	assert_int_equal(mien_log_level_parse("verbose", &level), MIEN_EINVAL);
	assert_int_equal(mien_log_level_parse("", &level), MIEN_EINVAL);
	assert_int_equal(mien_log_level_parse("info ", &level), MIEN_EINVAL);
	assert_int_equal(mien_log_level_parse(NULL, &level), MIEN_EINVAL);
	assert_int_equal(level, 7);
}

#define THREADS 8
#define RECORDS 300

static void *log_many(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < RECORDS; i++)
		mien_log(MIEN_LOG_INFO, "worker", "thread %d record %d %s", id, i,
		         "padding-padding-padding-padding-padding-padding-padding-padding");
	return NULL;
}

static void test_threads_never_interleave(void **state)
{
	(void)state;
	pthread_t threads[THREADS];
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, log_many, (void *)(intptr_t)t), 0);
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_join(threads[t], NULL), 0);

	char *text = captured();
	int seen[THREADS] = { 0 };
	int lines = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		int id = -1, i = -1;
		char pad[128];
		assert_int_equal(sscanf(line + 25, "INFO  worker: thread %d record %d %127s", &id, &i, pad), 3);
		assert_true(id >= 0 && id < THREADS);
		assert_int_equal(i, seen[id]); /* each thread's records arrive whole and in order */
		assert_string_equal(pad, "padding-padding-padding-padding-padding-padding-padding-padding");
		seen[id]++;
		lines++;
	}
	assert_int_equal(lines, THREADS * RECORDS);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newlines_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message_truncated, setup, teardown),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test_setup_teardown(test_threads_never_interleave, setup, teardown),
	};
	return cmocka_run_group_tests_name("core/log", tests, NULL, NULL);
}
