/*
 * result.h — mien's one result code and the error object that carries its message.
 *
 * Every fallible function returns an int: 0 (MIEN_OK) on success or a negative MIEN_E* code. Where the
 * caller needs to know more than the code, the function also takes a `mien_error *` out-parameter that
 * it fills with the code and a human-readable message naming what failed (the model, node, file, ...).
 * The error object may be NULL: the code is still returned. There is no global error state.
 *
 * Codes are wire-visible (they map onto API error codes later): they keep their values and only grow.
 */
#ifndef MIEN_CORE_RESULT_H
#define MIEN_CORE_RESULT_H

#include <stdio.h>
#include <stdlib.h>

enum mien_result {
	MIEN_OK = 0,
	MIEN_EINVAL = -1,        /* an argument or input value is invalid */
	MIEN_ENOMEM = -2,        /* an allocation failed */
	MIEN_EIO = -3,           /* reading or writing a file or socket failed */
	MIEN_ENOENT = -4,        /* a file, model, record or name does not exist */
	MIEN_EFORMAT = -5,       /* input is malformed: bad JSON, truncated file, wrong magic */
	MIEN_EUNSUPPORTED = -6,  /* well-formed but not supported: an unknown op, dtype or layout */
	MIEN_ERANGE = -7,        /* a size, count or value is out of the allowed range */
	MIEN_EBACKEND = -8,      /* a library we call (XNNPACK, SQLite, ...) failed */
	MIEN_ETOOBIG = -9,       /* input exceeds a hard cap */
	MIEN_ESTATE = -10,       /* the call is not valid in the object's current state */
	MIEN_ECONFLICT = -11,    /* the change collides with what exists: a taken name, a stale update */
	MIEN_EUNAVAILABLE = -12, /* a service we need (database, Redis, camera) is unreachable; retry later */
	MIEN_EDENIED = -13,      /* not allowed: bad credentials, a missing role, a camera outside the user's list */
};

/* The short, constant description of a result code ("invalid argument"); never NULL. */
const char *mien_strerror(int code);

#define MIEN_ERROR_MESSAGE_MAX 512

/* What went wrong, for the caller to read or log. Embed it or put it on the stack; no cleanup needed. */
typedef struct mien_error {
	int code;
	char message[MIEN_ERROR_MESSAGE_MAX];
} mien_error;

/*
 * Records `code` and a printf-style message in `err` (which may be NULL) and returns `code`, so that
 * `return mien_error_set(err, MIEN_EFORMAT, "model %s: ...", name);` reads naturally. A message longer
 * than MIEN_ERROR_MESSAGE_MAX - 1 bytes is truncated, on a UTF-8 character boundary.
 */
int mien_error_set(mien_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes err->message with "prefix: " (used to add context on the way up); returns err->code. */
int mien_error_prefix(mien_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets `err` to MIEN_OK with an empty message. NULL is a no-op. */
void mien_error_clear(mien_error *err);

/*
 * Always-on assertion for invariants whose breach would corrupt memory. Recoverable failures (bad input,
 * a missing file, a library error) return codes instead; never assert on them.
 */
#define MIEN_ASSERT(cond)                                                                            \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                     \
		}                                                                                    \
	} while (0)

#define MIEN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
