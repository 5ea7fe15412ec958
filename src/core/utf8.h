/*
 * utf8.h — cutting text on a character boundary.
 *
 * Fixed-size text fields (audit rows, error messages, log lines) are filled by truncating copies. A cut inside
 * a multi-byte UTF-8 character leaves bytes that are not UTF-8: jansson then refuses the string (the item
 * vanishes from a JSON reply) and PostgreSQL refuses the row. Every truncating copy of text that may be
 * UTF-8 ends with mien_utf8_truncate or goes through mien_utf8_copy.
 */
#ifndef MIEN_CORE_UTF8_H
#define MIEN_CORE_UTF8_H

#include <stddef.h>

/*
 * Shortens the terminated string `text` in place to at most `max_bytes` bytes (terminator not counted), cutting
 * before the character that would cross the limit, and also drops an incomplete character already at the end.
 * Bytes that are not UTF-8 elsewhere are left alone. Returns the new length. NULL is a no-op (returns 0).
 */
size_t mien_utf8_truncate(char *text, size_t max_bytes);

/*
 * Copies `src` (NULL = "") into `dst` of `cap` bytes (cap > 0), always terminated, cut on a character
 * boundary when it does not fit. Returns the length written.
 */
size_t mien_utf8_copy(char *dst, size_t cap, const char *src);

#endif
