/*
 * url.c — the camera URL allow-list and credential redaction.
 *
 * Redaction errs on the side of hiding too much: the userinfo ends at the last '@' before the query, not
 * at the first '/', so that a password with an unescaped '/' is hidden too.
 */
#include "video/video.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX_LENGTH 4096

/* A bounded writer: keeps appending until the buffer is full, then drops the rest. */
typedef struct text_out {
	char *buf;
	size_t cap, len;
} text_out;

static void out_put(text_out *out, const char *s, size_t n)
{
	if (out->cap == 0)
		return;
	size_t room = out->cap - 1 - out->len;
	if (n > room)
		n = room;
	memcpy(out->buf + out->len, s, n);
	out->len += n;
	out->buf[out->len] = '\0';
}

static int is_scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
	       c == '.';
}

/* Query keys whose values are secrets: exact short names, or names containing pass/token/secret
 * (user_password, access_token, client_secret). */
static int is_secret_key(const char *key, size_t n)
{
	static const char *const exact[] = { "pwd", "key", "auth", "apikey", "api_key", "sig", "signature" };
	for (size_t i = 0; i < MIEN_ARRAY_LEN(exact); i++) {
		if (strlen(exact[i]) == n && strncasecmp(key, exact[i], n) == 0)
			return 1;
	}
	static const char *const parts[] = { "pass", "token", "secret" };
	for (size_t j = 0; j < MIEN_ARRAY_LEN(parts); j++) {
		size_t m = strlen(parts[j]);
		for (size_t i = 0; i + m <= n; i++) {
			if (strncasecmp(key + i, parts[j], m) == 0)
				return 1;
		}
	}
	return 0;
}

/* Redacts one URL of `n` bytes at `url` into `out`. */
static void redact_span(const char *url, size_t n, text_out *out)
{
	const char *end = url + n;
	const char *sep = NULL;
	for (const char *p = url; p + 2 < end; p++) {
		if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
			sep = p;
			break;
		}
		if (!is_scheme_char(*p))
			break;
	}
	const char *rest = url;
	if (sep != NULL) {
		const char *auth = sep + 3;
		const char *query = auth;
		while (query < end && *query != '?' && *query != '#')
			query++;
		const char *at = NULL;
		for (const char *p = auth; p < query; p++) {
			if (*p == '@')
				at = p;
		}
		out_put(out, url, (size_t)(auth - url));
		rest = auth;
		if (at != NULL) {
			const char *colon = memchr(auth, ':', (size_t)(at - auth));
			if (colon != NULL) {
				out_put(out, auth, (size_t)(colon - auth));
				out_put(out, ":***", 4);
				rest = at;
			}
		}
	}
	/* Copy up to the query, then the query with secret values hidden. */
	const char *q = rest;
	while (q < end && *q != '?')
		q++;
	out_put(out, rest, (size_t)(q - rest));
	if (q >= end)
		return;
	out_put(out, "?", 1);
	const char *p = q + 1;
	while (p < end) {
		const char *pe = p;
		while (pe < end && *pe != '&' && *pe != ';' && *pe != '#')
			pe++;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		if (eq != NULL && is_secret_key(p, (size_t)(eq - p))) {
			out_put(out, p, (size_t)(eq - p) + 1);
			out_put(out, "***", 3);
		} else {
			out_put(out, p, (size_t)(pe - p));
		}
		if (pe < end && *pe == '#') {
			out_put(out, pe, (size_t)(end - pe));
			return;
		}
		if (pe < end)
			out_put(out, pe, 1);
		p = pe + 1;
	}
}

size_t video_redact_url(const char *url, char *out, size_t cap)
{
	text_out o = { out, cap, 0 };
	if (cap > 0)
		out[0] = '\0';
	if (url != NULL)
		redact_span(url, strlen(url), &o);
	return o.len;
}

static int url_stop_char(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\'' || c == '"' || c == '<' ||
	       c == '>' || c == '`';
}

size_t video_redact_text(const char *text, char *out, size_t cap)
{
	text_out o = { out, cap, 0 };
	if (cap > 0)
		out[0] = '\0';
	if (text == NULL)
		return 0;
	const char *p = text;
	const char *copied = text; /* text before this is already in out */
	while (*p != '\0') {
		if (strncasecmp(p, "authorization:", 14) == 0) {
			out_put(&o, copied, (size_t)(p - copied) + 14);
			out_put(&o, " ***", 4);
			p += 14;
			while (*p != '\0' && *p != '\r' && *p != '\n')
				p++;
			copied = p;
			continue;
		}
		if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
			const char *start = p;
			while (start > copied && is_scheme_char(start[-1]))
				start--;
			const char *end = p + 3;
			while (!url_stop_char(*end))
				end++;
			out_put(&o, copied, (size_t)(start - copied));
			redact_span(start, (size_t)(end - start), &o);
			p = copied = end;
			continue;
		}
		p++;
	}
	out_put(&o, copied, (size_t)(p - copied));
	return o.len;
}

static int file_cameras_allowed(int allow_file)
{
	if (allow_file)
		return 1;
	const char *env = getenv("MIEN_ALLOW_FILE_CAMERAS");
	return env != NULL && strcmp(env, "1") == 0;
}

/* "/dev/video" followed by 1..3 digits and nothing else. */
static int is_v4l2_path(const char *url)
{
	if (strncmp(url, "/dev/video", 10) != 0)
		return 0;
	size_t digits = strspn(url + 10, "0123456789");
	return digits >= 1 && digits <= 3 && url[10 + digits] == '\0';
}

int video_url_check(const char *url, int allow_file, int *kind, mien_error *err)
{
	if (kind != NULL)
		*kind = 0;
	if (url == NULL || url[0] == '\0')
		return mien_error_set(err, MIEN_EINVAL, "camera: no URL");
	char shown[512];
	video_redact_url(url, shown, sizeof(shown));
	size_t n = strnlen(url, URL_MAX_LENGTH + 1);
	if (n > URL_MAX_LENGTH)
		return mien_error_set(err, MIEN_EINVAL, "camera: URL longer than %d bytes", URL_MAX_LENGTH);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c < 0x20 || c == 0x7f)
			return mien_error_set(err, MIEN_EINVAL, "camera: control character in URL %s", shown);
	}

	int found = 0;
	if (is_v4l2_path(url)) {
		found = VIDEO_SOURCE_V4L2;
	} else if (url[0] == '/') {
		found = VIDEO_SOURCE_FILE;
	} else {
		size_t len = 0;
		while (is_scheme_char(url[len]))
			len++;
		if (len == 0 || url[len] != ':')
			return mien_error_set(err, MIEN_EINVAL, "camera: %s is not a URL with a scheme", shown);
		int needs_host = 1;
		if ((len == 4 && strncasecmp(url, "rtsp", 4) == 0) || (len == 5 && strncasecmp(url, "rtsps", 5) == 0)) {
			found = VIDEO_SOURCE_RTSP;
		} else if ((len == 4 && strncasecmp(url, "http", 4) == 0) ||
		           (len == 5 && strncasecmp(url, "https", 5) == 0)) {
			found = VIDEO_SOURCE_HTTP;
		} else if (len == 4 && strncasecmp(url, "file", 4) == 0) {
			found = VIDEO_SOURCE_FILE;
			needs_host = 0;
			if (url[5] == '\0')
				return mien_error_set(err, MIEN_EINVAL, "camera: file URL without a path");
		} else {
			return mien_error_set(err, MIEN_EINVAL,
			                      "camera: scheme \"%.*s\" is not allowed (rtsp, rtsps, http, https, file, "
			                      "/dev/videoN)",
			                      (int)(len > 16 ? 16 : len), url);
		}
		if (needs_host && (strncmp(url + len, "://", 3) != 0 || url[len + 3] == '\0' || url[len + 3] == '/'))
			return mien_error_set(err, MIEN_EINVAL, "camera: %s has no host", shown);
	}
	if (found == VIDEO_SOURCE_FILE && !file_cameras_allowed(allow_file))
		return mien_error_set(err, MIEN_EINVAL,
		                      "camera: file sources are disabled (set MIEN_ALLOW_FILE_CAMERAS=1): %s", shown);
	if (kind != NULL)
		*kind = found;
	return MIEN_OK;
}
