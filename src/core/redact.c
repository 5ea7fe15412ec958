/*
 * redact.c — hiding the secrets of URLs (redact.h has the rules and why).
 *
 * One scanner serves three uses: writing the redacted form, telling whether a URL already carries the mark in
 * a hidden place, and telling whether a parameter value would itself need hiding (a nested URL). It never
 * allocates, except mien_redact_restore's copy of the redacted stored URL.
 */
#include "core/redact.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/result.h"
#include "core/utf8.h"

#define MARK_LEN 3

/* The longest parameter name or nested value decoded for a check; a longer one is treated as a secret. */
#define DECODED_MAX 1024

/* How deep a value inside a value inside a value ... is looked into; deeper ones are hidden. */
#define NESTING_MAX 3

/* A bounded writer: keeps appending until the buffer is full, then drops the rest (and remembers it did). */
typedef struct text_out {
	char *buf;
	size_t cap, len;
	int cut;
} text_out;

/* One pass of the scanner: where the shown text goes (out may be NULL), and what it found. */
typedef struct scan {
	text_out *out;
	int depth;  /* nesting of values being checked */
	int hidden; /* parts hidden so far */
	int marked; /* a hidden part was exactly the mark */
} scan;

static void out_put(text_out *out, const char *s, size_t n)
{
	if (out == NULL || out->cap == 0)
		return;
	size_t room = out->cap - 1 - out->len;
	if (n > room) {
		n = room;
		out->cut = 1;
	}
	memcpy(out->buf + out->len, s, n);
	out->len += n;
	out->buf[out->len] = '\0';
}

static void put(scan *sc, const char *s, size_t n)
{
	out_put(sc->out, s, n);
}

static void put_hidden(scan *sc, const char *s, size_t n)
{
	sc->hidden++;
	if (n == MARK_LEN && memcmp(s, MIEN_REDACT_MARK, MARK_LEN) == 0)
		sc->marked = 1;
	out_put(sc->out, MIEN_REDACT_MARK, MARK_LEN);
}

int mien_url_scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
	       c == '.';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int mien_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 1 when [s, end) starts with the percent-encoding of `byte` ("%3A" or "%3a"). */
static int is_encoded(const char *s, const char *end, unsigned char byte)
{
	return end - s >= 3 && s[0] == '%' && mien_hex_digit(s[1]) == (byte >> 4) &&
	       mien_hex_digit(s[2]) == (byte & 15);
}

/*
 * Percent-decodes [s, s+n) into dst (cap bytes), again and again while that changes anything ("%2577" is
 * "%77" is "w"), because a server or a proxy in front of the camera may decode more than once. Returns the
 * length, or (size_t)-1 when it does not fit.
 */
static size_t decode(const char *s, size_t n, char *dst, size_t cap)
{
	if (n >= cap)
		return (size_t)-1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	for (int round = 0; round < 4; round++) {
		size_t w = 0;
		int changed = 0;
		for (size_t i = 0; i < n; i++) {
			int hi, lo;
			if (dst[i] == '%' && i + 2 < n && (hi = mien_hex_digit(dst[i + 1])) >= 0 &&
			    (lo = mien_hex_digit(dst[i + 2])) >= 0) {
				dst[w++] = (char)(hi << 4 | lo);
				i += 2;
				changed = 1;
			} else {
				dst[w++] = dst[i];
			}
		}
		n = w;
		dst[n] = '\0';
		if (!changed)
			break;
	}
	return n;
}

/* Parameter names whose values are secrets: these exactly, or any name containing one of the parts. */
static int is_secret_key(const char *key, size_t n)
{
	char name[DECODED_MAX];
	size_t len = decode(key, n, name, sizeof(name));
	if (len == (size_t)-1)
		return 1;
	static const char *const exact[] = { "pw", "pin", "sid", "jwt", "otp", "code", "hash", "sig", "nonce" };
	for (size_t i = 0; i < MIEN_ARRAY_LEN(exact); i++) {
		if (strlen(exact[i]) == len && strncasecmp(name, exact[i], len) == 0)
			return 1;
	}
	static const char *const parts[] = { "pass", "pwd",  "token",     "secret",  "key",   "auth",
		                             "cred", "sess", "signature", "private", "bearer" };
	for (size_t j = 0; j < MIEN_ARRAY_LEN(parts); j++) {
		size_t m = strlen(parts[j]);
		for (size_t i = 0; i + m <= len; i++) {
			if (strncasecmp(name + i, parts[j], m) == 0)
				return 1;
		}
	}
	return 0;
}

static void redact_span(scan *sc, const char *url, size_t n);

/* 1 when the value [s, s+n), percent-decoded, would itself have something hidden (a URL with credentials). */
static int value_needs_hiding(const scan *outer, const char *s, size_t n)
{
	if (outer->depth >= NESTING_MAX)
		return n > 0;
	char value[DECODED_MAX];
	size_t len = decode(s, n, value, sizeof(value));
	if (len == (size_t)-1)
		return 1;
	scan inner = { NULL, outer->depth + 1, 0, 0 };
	redact_span(&inner, value, len);
	return inner.hidden > 0;
}

static int is_piece_end(char c)
{
	return c == '?' || c == '&' || c == ';' || c == '#';
}

/* The name/value separator of the piece [p, pe): '=' or "%3D"; *len is its length. NULL when none. */
static const char *find_equals(const char *p, const char *pe, size_t *len)
{
	for (const char *q = p; q < pe; q++) {
		if (*q == '=') {
			*len = 1;
			return q;
		}
		if (is_encoded(q, pe, '=')) {
			*len = 3;
			return q;
		}
	}
	return NULL;
}

/* Where a secret value starting at v ends: the next '&' or ';' that starts another "name=", or the end. */
static const char *secret_value_end(const char *v, const char *end)
{
	for (const char *q = v; q < end; q++) {
		if (*q != '&' && *q != ';')
			continue;
		const char *pe = q + 1;
		while (pe < end && !is_piece_end(*pe))
			pe++;
		size_t eq_len;
		if (find_equals(q + 1, pe, &eq_len) != NULL)
			return q;
	}
	return end;
}

/* The parameters after the authority: pieces between '?', '&', ';' and '#', the first one at `p` itself. */
static void redact_parameters(scan *sc, const char *p, const char *end)
{
	while (p < end) {
		const char *pe = p;
		while (pe < end && !is_piece_end(*pe))
			pe++;
		size_t eq_len = 0;
		const char *eq = find_equals(p, pe, &eq_len);
		if (eq != NULL && is_secret_key(p, (size_t)(eq - p))) {
			const char *value = eq + eq_len;
			pe = secret_value_end(value, end);
			put(sc, p, (size_t)(value - p));
			put_hidden(sc, value, (size_t)(pe - value));
		} else if (eq != NULL && value_needs_hiding(sc, eq + eq_len, (size_t)(pe - eq - eq_len))) {
			const char *value = eq + eq_len;
			put(sc, p, (size_t)(value - p));
			put_hidden(sc, value, (size_t)(pe - value));
		} else if (eq != NULL && (size_t)(pe - eq - eq_len) == MARK_LEN &&
		           memcmp(eq + eq_len, MIEN_REDACT_MARK, MARK_LEN) == 0) {
			/* A value hidden whole because it held a nested secret comes back as the mark: an echo. */
			put(sc, p, (size_t)(pe - p));
			sc->marked = 1;
		} else {
			put(sc, p, (size_t)(pe - p));
		}
		if (pe >= end)
			return;
		put(sc, pe, 1);
		p = pe + 1;
	}
}

/* Redacts one URL of `n` bytes at `url`. */
static void redact_span(scan *sc, const char *url, size_t n)
{
	const char *end = url + n;
	/* The authority starts after "scheme://" or "//"; without them (user:pass@host, rtsp:user:pass@host) the
	 * userinfo is looked for from the very start, so that a scheme-less or slash-less URL hides it too. */
	const char *auth = url;
	const char *s = url;
	if (s < end && is_alpha(*s)) {
		while (s < end && mien_url_scheme_char(*s))
			s++;
		if (end - s >= 3 && s[0] == ':' && s[1] == '/' && s[2] == '/')
			auth = s + 3;
	} else if (n >= 2 && url[0] == '/' && url[1] == '/') {
		auth = url + 2;
	}
	/* The userinfo ends at the last '@' before the first real parameter (a '?' or '#' followed by "name="):
	 * a password with a raw '/', '?', '#' or '@' ("u:p@ss/w0rd@host", "u:p?ss@host") is still hidden whole,
	 * while "?email=a@b" is left to the parameters. */
	const char *limit = auth;
	while (limit < end) {
		if (*limit == '?' || *limit == '#') {
			const char *pe = limit + 1;
			while (pe < end && !is_piece_end(*pe))
				pe++;
			size_t eq_len;
			if (find_equals(limit + 1, pe, &eq_len) != NULL)
				break;
		}
		limit++;
	}
	const char *at = NULL;
	for (const char *p = auth; p < limit; p++) {
		if (*p == '@')
			at = p;
	}
	const char *rest = auth;
	put(sc, url, (size_t)(auth - url));
	if (at != NULL) {
		const char *sep = NULL;
		size_t sep_len = 0;
		for (const char *p = auth; p < at && sep == NULL; p++) {
			if (*p == ':')
				sep = p, sep_len = 1;
			else if (is_encoded(p, at, ':'))
				sep = p, sep_len = 3;
		}
		if (sep != NULL) {
			put(sc, auth, (size_t)(sep - auth) + sep_len);
			put_hidden(sc, sep + sep_len, (size_t)(at - sep - sep_len));
			rest = at;
		}
	}
	redact_parameters(sc, rest, end);
}

static size_t finish(text_out *o)
{
	if (o->cut && o->cap > 0)
		o->len = mien_utf8_truncate(o->buf, o->len);
	return o->len;
}

size_t mien_redact_url(const char *url, char *out, size_t cap)
{
	text_out o = { out, cap, 0, 0 };
	if (cap > 0)
		out[0] = '\0';
	scan sc = { &o, 0, 0, 0 };
	if (url != NULL)
		redact_span(&sc, url, strlen(url));
	return finish(&o);
}

static int is_word_end(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\'' || c == '"' || c == '<' ||
	       c == '>' || c == '`';
}

size_t mien_redact_text(const char *text, char *out, size_t cap)
{
	text_out o = { out, cap, 0, 0 };
	if (cap > 0)
		out[0] = '\0';
	if (text == NULL)
		return 0;
	scan sc = { &o, 0, 0, 0 };
	const char *p = text;
	while (*p != '\0') {
		if (is_word_end(*p)) {
			put(&sc, p, 1);
			p++;
			continue;
		}
		const char *word_end = p;
		while (!is_word_end(*word_end))
			word_end++;
		/* An "Authorization:" (or "Proxy-Authorization:") header: its value runs to the end of the line. */
		const char *header = NULL;
		for (const char *q = p; q + 14 <= word_end && header == NULL; q++) {
			if (strncasecmp(q, "authorization:", 14) == 0)
				header = q + 14;
		}
		if (header != NULL) {
			put(&sc, p, (size_t)(header - p));
			put(&sc, " " MIEN_REDACT_MARK, 1 + MARK_LEN);
			p = header;
			while (*p != '\0' && *p != '\r' && *p != '\n')
				p++;
			continue;
		}
		/* A word holding "scheme://" is a URL from its scheme on ("(tcp://a:b@h)"); any other word is taken as
		 * a bare URL, so that "user:pass@host" or "password=x" in a message is hidden too. */
		const char *start = p;
		const char *sep = NULL;
		for (const char *q = p; q + 2 < word_end; q++) {
			if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
				sep = q;
				break;
			}
		}
		if (sep != NULL) {
			start = sep;
			while (start > p && mien_url_scheme_char(start[-1]))
				start--;
			put(&sc, p, (size_t)(start - p));
		}
		redact_span(&sc, start, (size_t)(word_end - start));
		p = word_end;
	}
	return finish(&o);
}

int mien_redact_marked(const char *url)
{
	scan sc = { NULL, 0, 0, 0 };
	if (url != NULL)
		redact_span(&sc, url, strlen(url));
	return sc.marked;
}

int mien_redact_restore(const char *sent, const char *stored, char *out, size_t cap)
{
	int rc = -1;
	char *shown = NULL;
	if (sent == NULL || stored == NULL || !mien_redact_marked(sent))
		goto fail;
	size_t len = strlen(stored);
	if (len >= cap)
		goto fail;
	/* Each hidden part is at least one separator long and becomes the 3-byte mark: 4 x len is room enough. */
	size_t shown_cap = 4 * len + 16;
	shown = malloc(shown_cap);
	if (shown == NULL)
		goto fail;
	text_out o = { shown, shown_cap, 0, 0 };
	shown[0] = '\0';
	scan sc = { &o, 0, 0, 0 };
	redact_span(&sc, stored, len);
	if (o.cut || strcmp(shown, sent) != 0)
		goto fail;
	memcpy(out, stored, len + 1);
	rc = 0;
fail:
	free(shown);
	return rc;
}
