/*
 * parse.c — the pure pieces of request handling: route matching, ids, JSON shape checks and times (camera URL
 * redaction is core/redact.h's). Nothing here touches the network or the store, so the unit tests drive it directly.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"
#include "watch/watch.h"

static const struct {
	const char *name;
	int method;
} METHODS[] = {
	{ "GET", HTTP_GET }, { "POST", HTTP_POST }, { "PATCH", HTTP_PATCH },     { "DELETE", HTTP_DELETE },
	{ "PUT", HTTP_PUT }, { "HEAD", HTTP_HEAD }, { "OPTIONS", HTTP_OPTIONS },
};

int http__method_parse(const char *name)
{
	for (size_t i = 0; name && i < MIEN_ARRAY_LEN(METHODS); i++)
		if (strcmp(METHODS[i].name, name) == 0)
			return METHODS[i].method;
	return 0;
}

const char *http__method_name(int method)
{
	for (size_t i = 0; i < MIEN_ARRAY_LEN(METHODS); i++)
		if (METHODS[i].method == method)
			return METHODS[i].name;
	return "?";
}

int http__id_parse(const char *text, int64_t *id)
{
	size_t n = text ? strlen(text) : 0;
	if (n == 0 || n > HTTP_ROUTE_ID_MAX_DIGITS)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		v = v * 10 + (text[i] - '0');
	}
	if (v <= 0)
		return -1;
	*id = v;
	return 0;
}

/* Compares one path segment [seg, seg+len) with one pattern segment; an {id} takes a positive integer. */
static int segment_match(const char *pat, size_t pat_len, const char *seg, size_t len, int64_t *id, int *is_id,
                         int *bad_id)
{
	*is_id = pat_len > 2 && pat[0] == '{' && pat[pat_len - 1] == '}';
	if (!*is_id)
		return pat_len == len && memcmp(pat, seg, len) == 0;
	char text[HTTP_ROUTE_ID_MAX_DIGITS + 2];
	if (len >= sizeof(text)) {
		*bad_id = 1;
		return 0;
	}
	memcpy(text, seg, len);
	text[len] = '\0';
	if (http__id_parse(text, id) != 0) {
		*bad_id = 1;
		return 0;
	}
	return 1;
}

/* Matches `path` against `pattern`, segment by segment. 1 = match; 0 = no; sets *bad_id when only an id was
 * malformed (the shape matched otherwise). */
static int pattern_match(const char *pattern, const char *path, int64_t ids[HTTP_PATH_IDS], int *bad_id)
{
	int n_ids = 0, bad = 0;
	const char *p = pattern, *q = path;
	while (*p && *q) {
		if (*p != '/' || *q != '/')
			return 0;
		p++, q++;
		size_t pl = strcspn(p, "/"), ql = strcspn(q, "/");
		int64_t id = 0;
		int is_id = 0;
		if (!segment_match(p, pl, q, ql, &id, &is_id, &bad)) {
			if (!(is_id && bad))
				return 0;
		} else if (is_id) {
			if (n_ids < HTTP_PATH_IDS)
				ids[n_ids++] = id;
		}
		p += pl, q += ql;
	}
	if (*p || *q)
		return 0;
	if (bad) {
		*bad_id = 1;
		return 0;
	}
	return 1;
}

/* Refuses what a router should never have to interpret: empty, "." or ".." segments, backslashes, controls. */
static int path_clean(const char *path)
{
	if (path[0] != '/')
		return 0;
	for (const char *s = path; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '\\' || *s == 0x7f)
			return 0;
	for (const char *s = path; *s;) {
		s++; /* past '/' */
		size_t n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (n == 0 && s[0] == '/')
			return 0; /* "//" */
		s += n;
	}
	return 1;
}

int http__route_match(const http_route *table, size_t n, int method, const char *path, int64_t ids[HTTP_PATH_IDS],
                      int *allowed)
{
	*allowed = 0;
	if (!path || !path_clean(path))
		return HTTP_ROUTE_BAD_PATH;
	int bad_id = 0, found = HTTP_ROUTE_NOT_FOUND;
	for (size_t i = 0; i < n; i++) {
		int64_t got[HTTP_PATH_IDS] = { 0 };
		int bad = 0;
		if (!pattern_match(table[i].pattern, path, got, &bad)) {
			bad_id |= bad;
			continue;
		}
		*allowed |= table[i].method;
		if (table[i].method == method || (method == HTTP_HEAD && table[i].method == HTTP_GET)) {
			if (found < 0) {
				found = (int)i;
				memcpy(ids, got, sizeof(got));
			}
		}
	}
	if (found >= 0)
		return found;
	if (*allowed)
		return HTTP_ROUTE_BAD_METHOD;
	return bad_id ? HTTP_ROUTE_BAD_PATH : HTTP_ROUTE_NOT_FOUND;
}

/* --- JSON -------------------------------------------------------------------------------------------------- */

int http__json_depth_ok(const char *text, size_t len, int max_depth)
{
	int depth = 0, in_string = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
			continue;
		}
		if (c == '"') {
			in_string = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return 0;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 1;
}

static const char *kind_name(int kind)
{
	switch (kind) {
	case HTTP_FIELD_STRING:
		return "a string";
	case HTTP_FIELD_INT:
		return "an integer";
	case HTTP_FIELD_NUMBER:
		return "a number";
	case HTTP_FIELD_NUMBER_OR_NULL:
		return "a number or null";
	case HTTP_FIELD_BOOL:
		return "a boolean";
	case HTTP_FIELD_STRING_OR_NULL:
		return "a string or null";
	case HTTP_FIELD_ID_OR_NULL:
		return "a positive integer or null";
	case HTTP_FIELD_ARRAY:
		return "an array";
	case HTTP_FIELD_OBJECT_OR_NULL:
		return "an object or null";
	default:
		return "an array of ids";
	}
}

static int kind_ok(const json_t *v, const http_field *f)
{
	switch (f->kind) {
	case HTTP_FIELD_STRING_OR_NULL:
		if (json_is_null(v))
			return 1;
		/* fall through */
	case HTTP_FIELD_STRING:
		return json_is_string(v) && (f->max_len == 0 || json_string_length(v) <= f->max_len) &&
		       strlen(json_string_value(v)) == json_string_length(v); /* no NUL inside */
	case HTTP_FIELD_ARRAY:
		return json_is_array(v) && (f->max_len == 0 || json_array_size(v) <= f->max_len);
	case HTTP_FIELD_OBJECT_OR_NULL:
		return json_is_object(v) || json_is_null(v);
	case HTTP_FIELD_INT:
		return json_is_integer(v);
	case HTTP_FIELD_NUMBER:
		return json_is_number(v);
	case HTTP_FIELD_NUMBER_OR_NULL:
		return json_is_number(v) || json_is_null(v);
	case HTTP_FIELD_BOOL:
		return json_is_boolean(v);
	case HTTP_FIELD_ID_OR_NULL:
		return json_is_null(v) || (json_is_integer(v) && json_integer_value(v) > 0);
	case HTTP_FIELD_ID_ARRAY: {
		if (!json_is_array(v) || (f->max_len && json_array_size(v) > f->max_len))
			return 0;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) if (!json_is_integer(e) || json_integer_value(e) <= 0) return 0;
		return 1;
	}
	}
	return 0;
}

int http__json_check(const json_t *body, const http_field *fields, char *why, size_t why_size)
{
	if (!json_is_object(body)) {
		snprintf(why, why_size, "the body must be a JSON object");
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		const http_field *f = fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			snprintf(why, why_size, "unknown field '%.64s'", key);
			return -1;
		}
		if (!kind_ok(v, f)) {
			if ((f->kind == HTTP_FIELD_STRING || f->kind == HTTP_FIELD_STRING_OR_NULL) && json_is_string(v))
				snprintf(why, why_size, "'%s' is longer than %zu bytes", f->name, f->max_len);
			else if (f->kind == HTTP_FIELD_ARRAY && json_is_array(v))
				snprintf(why, why_size, "'%s' holds more than %zu elements", f->name, f->max_len);
			else
				snprintf(why, why_size, "'%s' must be %s", f->name, kind_name(f->kind));
			return -1;
		}
	}
	for (const http_field *f = fields; f->name; f++) {
		if (f->required && !json_object_get(body, f->name)) {
			snprintf(why, why_size, "'%s' is required", f->name);
			return -1;
		}
	}
	return 0;
}

/* --- times ------------------------------------------------------------------------------------------------- */

void http__iso_time(int64_t ms, char out[32])
{
	watch_iso_time(ms, out);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int http__time_parse(const char *text, int64_t *ms)
{
	size_t n = text ? strlen(text) : 0;
	if (n == 0)
		return -1;
	if (strspn(text, "0123456789") == n) {
		if (n > 15)
			return -1;
		*ms = strtoll(text, NULL, 10);
		return 0;
	}
	/* YYYY-MM-DDTHH:MM:SS[.mmm]Z */
	int y, mo, d, h, mi, s, frac = 0;
	if (n != 20 && n != 24)
		return -1;
	if (digits(text, 4, &y) || text[4] != '-' || digits(text + 5, 2, &mo) || text[7] != '-' ||
	    digits(text + 8, 2, &d) || text[10] != 'T' || digits(text + 11, 2, &h) || text[13] != ':' ||
	    digits(text + 14, 2, &mi) || text[16] != ':' || digits(text + 17, 2, &s))
		return -1;
	if (n == 24 && (text[19] != '.' || digits(text + 20, 3, &frac)))
		return -1;
	if (text[n - 1] != 'Z')
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s };
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}
