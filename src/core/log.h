/*
 * log.h — the one logging module: leveled records, one line each, to stderr.
 *
 * A record reads `2026-11-26T09:46:28.123Z INFO  nn: loaded model blazeface-back (257 nodes)`.
 * The level threshold is process-wide (set once at start from MIEN_LOG_LEVEL); writing a record is
 * thread-safe and never allocates. Messages must not contain secrets (camera passwords, tokens):
 * callers redact before logging.
 */
#ifndef MIEN_CORE_LOG_H
#define MIEN_CORE_LOG_H

#include <stdio.h>

enum mien_log_level {
	MIEN_LOG_DEBUG = 0,
	MIEN_LOG_INFO = 1,
	MIEN_LOG_WARN = 2,
	MIEN_LOG_ERROR = 3,
	MIEN_LOG_OFF = 4,
};

/* Sets the threshold: records below `level` are dropped. */
void mien_log_set_level(int level);
int mien_log_get_level(void);

/* Parses "debug", "info", "warn", "error" or "off" (case-insensitive) into *level; MIEN_EINVAL otherwise. */
int mien_log_level_parse(const char *text, int *level);

/*
 * Sends records to `stream` (borrowed; it must outlive its use) instead of stderr; NULL restores stderr.
 * Meant for start-up and tests: set it before other threads log.
 */
void mien_log_set_stream(FILE *stream);

/* The longest record written, newline included; a longer message is cut and ends in "...". */
#define MIEN_LOG_RECORD_MAX 4096

/* Writes one record. `module` is a short tag ("nn", "http"); newlines in the message are replaced. */
void mien_log(int level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define MIEN_LOG_DEBUG_(mod, ...) mien_log(MIEN_LOG_DEBUG, mod, __VA_ARGS__)
#define MIEN_LOG_INFO_(mod, ...)  mien_log(MIEN_LOG_INFO, mod, __VA_ARGS__)
#define MIEN_LOG_WARN_(mod, ...)  mien_log(MIEN_LOG_WARN, mod, __VA_ARGS__)
#define MIEN_LOG_ERROR_(mod, ...) mien_log(MIEN_LOG_ERROR, mod, __VA_ARGS__)

#endif
