/*
 * multipart.c — just enough of multipart/form-data (RFC 7578) to take one uploaded picture out of a body that
 * is already in memory: no copies, every length checked against the end of the buffer (fuzzed by
 * tests/fuzz/fuzz_multipart.c).
 */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

#define BOUNDARY_MAX 70 /* RFC 2046 */

/* The boundary parameter of a Content-Type header, quoted or not. 0 on success. */
static int boundary_of(const char *content_type, char *out, size_t size)
{
	if (!content_type || strncasecmp(content_type, "multipart/form-data", 19) != 0)
		return -1;
	const char *p = content_type + 19;
	while (*p) {
		p += strspn(p, "; \t");
		if (strncasecmp(p, "boundary=", 9) == 0) {
			p += 9;
			size_t n;
			if (*p == '"') {
				p++;
				n = strcspn(p, "\"");
				if (p[n] != '"')
					return -1;
			} else {
				n = strcspn(p, "; \t");
			}
			if (n == 0 || n > BOUNDARY_MAX || n >= size)
				return -1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p += strcspn(p, ";");
	}
	return -1;
}

static const uint8_t *find(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	return n == 0 || len < n ? NULL : memmem(hay, len, needle, n);
}

/* Looks at one header line [line, end) for what decides whether the part is the picture. */
static void header_line(const uint8_t *line, size_t len, int *named_image, int *is_file)
{
	static const char CD[] = "content-disposition:", CT[] = "content-type:";
	if (len >= sizeof(CT) - 1 && strncasecmp((const char *)line, CT, sizeof(CT) - 1) == 0)
		*is_file = 1;
	if (len >= sizeof(CD) - 1 && strncasecmp((const char *)line, CD, sizeof(CD) - 1) == 0) {
		if (find(line, len, "filename=", 9))
			*is_file = 1;
		const uint8_t *name = find(line, len, "name=\"image\"", 12);
		if (name && (name == line || name[-1] != 'e')) /* not "filename=\"image\"" */
			*named_image = 1;
	}
}

int http__multipart_image(const char *content_type, const uint8_t *body, size_t len, const uint8_t **part,
                          size_t *part_len)
{
	char boundary[BOUNDARY_MAX + 1];
	char delim[BOUNDARY_MAX + 8];
	if (boundary_of(content_type, boundary, sizeof(boundary)) != 0)
		return -1;
	/* The first delimiter may start the body; every later one follows a CRLF. */
	size_t dn = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	const uint8_t *end = body + len, *p;
	if (len >= dn - 2 && memcmp(body, delim + 2, dn - 2) == 0)
		p = body + dn - 2;
	else if ((p = find(body, len, delim, dn)) != NULL)
		p += dn;
	else
		return -1;
	const uint8_t *fallback = NULL;
	size_t fallback_len = 0;
	for (;;) {
		/* After a delimiter: "--" ends the body; otherwise optional whitespace then CRLF. */
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return -1;
		p += 2;
		int named_image = 0, is_file = 0;
		for (;;) { /* headers up to an empty line */
			const uint8_t *eol = find(p, (size_t)(end - p), "\r\n", 2);
			if (!eol)
				return -1;
			if (eol == p) {
				p += 2;
				break;
			}
			header_line(p, (size_t)(eol - p), &named_image, &is_file);
			p = eol + 2;
		}
		const uint8_t *next = find(p, (size_t)(end - p), delim, dn);
		if (!next)
			return -1;
		if (named_image) {
			*part = p;
			*part_len = (size_t)(next - p);
			return 0;
		}
		if (is_file && !fallback) {
			fallback = p;
			fallback_len = (size_t)(next - p);
		}
		p = next + dn;
	}
	if (!fallback)
		return -1;
	*part = fallback;
	*part_len = fallback_len;
	return 0;
}
