/*
 * result.c — result-code descriptions and the error object.
 */
#include "core/result.h"

#include "core/utf8.h"

#include <stdarg.h>
#include <string.h>

const char *mien_strerror(int code)
{
	switch (code) {
	case MIEN_OK:
		return "ok";
	case MIEN_EINVAL:
		return "invalid argument";
	case MIEN_ENOMEM:
		return "out of memory";
	case MIEN_EIO:
		return "input/output error";
	case MIEN_ENOENT:
		return "not found";
	case MIEN_EFORMAT:
		return "malformed input";
	case MIEN_EUNSUPPORTED:
		return "unsupported";
	case MIEN_ERANGE:
		return "out of range";
	case MIEN_EBACKEND:
		return "backend library failed";
	case MIEN_ETOOBIG:
		return "too big";
	case MIEN_ESTATE:
		return "invalid state";
	case MIEN_ECONFLICT:
		return "conflict";
	case MIEN_EUNAVAILABLE:
		return "service unavailable";
	case MIEN_EDENIED:
		return "permission denied";
	default:
		return "unknown error";
	}
}

int mien_error_set(mien_error *err, int code, const char *fmt, ...)
{
	if (err == NULL)
		return code;
	err->code = code;
	err->message[0] = '\0';
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		/* vsnprintf truncates and always terminates; a negative return (encoding error) leaves "". A cut
		 * message ends on a character boundary: it goes out in JSON (replies, SSE), where a broken character
		 * would make the whole string, and with it the message, vanish. */
		int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
		if (n < 0)
			err->message[0] = '\0';
		else if ((size_t)n >= sizeof(err->message))
			mien_utf8_truncate(err->message, sizeof(err->message) - 1);
		va_end(ap);
	}
	return code;
}

int mien_error_prefix(mien_error *err, const char *fmt, ...)
{
	if (err == NULL)
		return MIEN_OK;
	char prefix[MIEN_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (n < 0)
		return err->code;

	/* Build "prefix: message" by hand, truncated to the message size like any other message. */
	char joined[MIEN_ERROR_MESSAGE_MAX];
	size_t cap = sizeof(joined) - 1;
	size_t len = (size_t)n < cap ? (size_t)n : cap;
	memcpy(joined, prefix, len);
	if (err->message[0] != '\0') {
		static const char sep[] = ": ";
		for (size_t i = 0; sep[i] != '\0' && len < cap; i++)
			joined[len++] = sep[i];
		size_t rest = strnlen(err->message, sizeof(err->message));
		if (rest > cap - len)
			rest = cap - len;
		memcpy(joined + len, err->message, rest);
		len += rest;
	}
	joined[len] = '\0';
	if (len == cap)
		len = mien_utf8_truncate(joined, len);
	memcpy(err->message, joined, len + 1);
	return err->code;
}

void mien_error_clear(mien_error *err)
{
	if (err == NULL)
		return;
	err->code = MIEN_OK;
	err->message[0] = '\0';
}
