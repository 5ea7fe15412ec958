/*
 * redact.h — the one way a secret in a URL is hidden, wherever the URL leaves the process: API replies, error
 * messages, log lines (FFmpeg's too), audit rows and SSE messages all show a camera URL through
 * mien_redact_url, and free text that may quote one (an FFmpeg log line) through mien_redact_text.
 *
 * It errs on the side of hiding too much, because the URLs come from people and camera vendors, not from a
 * parser: every hidden part is replaced by the mark "***".
 *   - The userinfo's password: the userinfo ends at the last '@' before the query or the path, whichever comes
 *     later, so an unescaped '/', '?', '#', ':' or '@' inside the password is hidden too. '%40' is never taken
 *     for the '@'. The user:password separator is the first ':' or an encoded "%3A"/"%3a" ("admin%3ASecret@").
 *     A URL without "scheme://" ("user:pass@host", "//user:pass@host", "rtsp:user:pass@host", which FFmpeg
 *     accepts) has its userinfo hidden from the start of the text, scheme included when there is no "//".
 *   - Every parameter whose name looks like a secret (password, passwd, pwd, pw, pin, token, secret, key,
 *     apikey, auth, authorization, signature, sig, session, sid, jwt, otp, code, hash, credential, ...),
 *     after percent-decoding the name ("pass%77ord"), in the query, the fragment or ';' path parameters: the
 *     value is hidden up to the next '&' or ';' that starts another "name=" (so a raw '&', '#' or '?' in the
 *     value stays hidden), with '=' or an encoded "%3D" as the separator.
 *   - Any other parameter value that, percent-decoded, would itself be redacted (a URL with credentials passed
 *     to a proxy: "?src=rtsp%3A%2F%2Fu%3Ap%40cam") is hidden whole.
 *
 * The redacted form is stable: a client that sends it back (a PATCH echoing the URL it was shown) is
 * recognised by mien_redact_restore, which then keeps every stored secret.
 */
#ifndef MIEN_CORE_REDACT_H
#define MIEN_CORE_REDACT_H

#include <stddef.h>

/* What replaces every hidden part. */
#define MIEN_REDACT_MARK "***"

/*
 * Writes `url` (NULL = "") into out (cap bytes, always terminated when cap > 0) with its secrets replaced by
 * the mark. When the result does not fit it is cut on a UTF-8 character boundary; a cut never shows a secret.
 * Returns the length written.
 */
size_t mien_redact_url(const char *url, char *out, size_t cap);

/*
 * Redacts free text (an FFmpeg log line, an error message): every word (between spaces, quotes, '<', '>' or
 * '`') is redacted as mien_redact_url does, a word holding "scheme://" from its scheme on, and the value of an
 * "Authorization:" header to the end of its line. Same contract as mien_redact_url.
 */
size_t mien_redact_text(const char *text, char *out, size_t cap);

/* 1 when a part of `url` that redaction hides is exactly the mark (a client echoing a redacted URL), else 0. */
int mien_redact_marked(const char *url);

/*
 * The PATCH rule: when `sent` carries the mark and is exactly what mien_redact_url shows for `stored`, copies
 * `stored` (every secret kept) into out (cap bytes) and returns 0. Returns -1 when `sent` differs from the
 * redacted stored URL anywhere, carries no mark, or `stored` does not fit.
 */
int mien_redact_restore(const char *sent, const char *stored, char *out, size_t cap);

/* URL characters, shared with the URL checks: the value of a hex digit (0..15, -1 for another character), and
 * whether `c` may stand in a scheme name (RFC 3986: letters, digits, '+', '-', '.'). */
int mien_hex_digit(char c);
int mien_url_scheme_char(char c);

#endif
