/*
 * fuzz_multipart.c — libFuzzer target for http__multipart_image: the first line of the input is the
 * Content-Type header, the rest the body. The found part must lie inside the body; any read outside it is a
 * sanitizer report. Seeds (tests/fuzz/corpus/fuzz_multipart/) are small hand-written bodies.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/result.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl)
		return 0;
	size_t type_len = (size_t)(nl - data);
	char *type = malloc(type_len + 1);
	if (!type)
		return 0;
	memcpy(type, data, type_len);
	type[type_len] = '\0';
	/* The body in its own allocation, so that ASan sees reads past its end. */
	size_t len = size - type_len - 1;
	uint8_t *body = malloc(len ? len : 1);
	if (!body) {
		free(type);
		return 0;
	}
	memcpy(body, nl + 1, len);
	const uint8_t *part = NULL;
	size_t part_len = 0;
	if (http__multipart_image(type, body, len, &part, &part_len) == 0)
		MIEN_ASSERT(part >= body && part + part_len <= body + len);
	free(body);
	free(type);
	return 0;
}
