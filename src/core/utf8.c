/*
 * utf8.c — cutting text on a character boundary.
 */
#include "core/utf8.h"

#include <string.h>

/* The length a lead byte announces: 1 for ASCII, 2..4 for a lead byte, 0 for a continuation or invalid byte. */
static size_t sequence_length(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

size_t mien_utf8_truncate(char *text, size_t max_bytes)
{
	if (text == NULL)
		return 0;
	size_t n = strnlen(text, max_bytes);
	text[n] = '\0';
	/* Walk back over at most three continuation bytes to the lead byte of the last character; when that
	 * character does not end at n, it was cut: drop it whole. */
	size_t lead = n;
	while (lead > 0 && n - lead < 4 && ((unsigned char)text[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead > 0) {
		size_t want = sequence_length((unsigned char)text[lead - 1]);
		if (want > 1 && (lead - 1) + want > n) {
			n = lead - 1;
			text[n] = '\0';
		}
	}
	return n;
}

size_t mien_utf8_copy(char *dst, size_t cap, const char *src)
{
	if (cap == 0)
		return 0;
	if (src == NULL)
		src = "";
	size_t n = strnlen(src, cap - 1);
	memmove(dst, src, n);
	dst[n] = '\0';
	return src[n] == '\0' ? n : mien_utf8_truncate(dst, n);
}
