/*
 * log.c — leveled one-line records with a UTC millisecond timestamp.
 *
 * Each record is formatted into a stack buffer and written with one fwrite under the stream's lock, so
 * records from different threads never interleave and logging never allocates.
 */
#include "core/log.h"

#include "core/result.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static atomic_int log_threshold = MIEN_LOG_INFO;
static FILE *_Atomic log_stream = NULL;

static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR", "OFF" };

void mien_log_set_level(int level)
{
	if (level < MIEN_LOG_DEBUG)
		level = MIEN_LOG_DEBUG;
	if (level > MIEN_LOG_OFF)
		level = MIEN_LOG_OFF;
	atomic_store(&log_threshold, level);
}

int mien_log_get_level(void)
{
	return atomic_load(&log_threshold);
}

int mien_log_level_parse(const char *text, int *level)
{
	if (text == NULL || level == NULL)
		return MIEN_EINVAL;
	for (int i = MIEN_LOG_DEBUG; i <= MIEN_LOG_OFF; i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			*level = i;
			return MIEN_OK;
		}
	}
	/* "warning" is what people type as often as "warn". */
	if (strcasecmp(text, "warning") == 0) {
		*level = MIEN_LOG_WARN;
		return MIEN_OK;
	}
	return MIEN_EINVAL;
}

void mien_log_set_stream(FILE *stream)
{
	atomic_store(&log_stream, stream);
}

void mien_log(int level, const char *module, const char *fmt, ...)
{
	if (level < MIEN_LOG_DEBUG || level >= MIEN_LOG_OFF || level < atomic_load(&log_threshold))
		return;

	char record[MIEN_LOG_RECORD_MAX];
	size_t cap = sizeof(record) - 1; /* room for the final newline */
	size_t len = 0;

	struct timespec now;
	struct tm utc;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0 || gmtime_r(&now.tv_sec, &utc) == NULL) {
		memset(&utc, 0, sizeof(utc));
		now.tv_nsec = 0;
	}
	int n = snprintf(record, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", utc.tm_year + 1900,
	                 utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, now.tv_nsec / 1000000L,
	                 level_names[level], module != NULL ? module : "-");
	if (n < 0)
		return;
	len = (size_t)n < cap ? (size_t)n : cap - 1;
	size_t prefix = len;

	va_list ap;
	va_start(ap, fmt);
	n = vsnprintf(record + len, cap - len, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= cap - len) {
		len = cap - 1;
		if (len >= prefix + 3)
			memcpy(record + len - 3, "...", 3);
	} else {
		len += (size_t)n;
	}

	/* One record is one line, whatever the caller passed: log parsers split on newlines. */
	for (size_t i = 0; i < len; i++) {
		if (record[i] == '\n' || record[i] == '\r')
			record[i] = ' ';
	}
	record[len++] = '\n';

	FILE *out = atomic_load(&log_stream);
	if (out == NULL)
		out = stderr;
	flockfile(out);
	fwrite(record, 1, len, out);
	fflush(out);
	funlockfile(out);
}
