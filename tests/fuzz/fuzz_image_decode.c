/*
 * fuzz_image_decode.c — libFuzzer target for face_image_decode: the input is the file's bytes.
 *
 * The cap is 4 MP, so mutated headers that claim large pictures are refused (MIEN_ETOOBIG) before the
 * decoder allocates, and the ones under the cap still decode fully (EXIF orientation included). A decoded
 * picture is also resampled once through a rotated map and encoded back to JPEG, so that whatever sizes
 * decoding produces are exercised by the rest of the module. Any crash, sanitizer report, leak or abort is
 * a bug: every malformed file must come back as an error code.
 *
 * Seeds (tests/fuzz/corpus/fuzz_image_decode/) are tiny synthetic pictures (gradients, no photos) written
 * once by a throw-away C program with TurboJPEG's and libspng's encoders: JPEGs baseline 4:2:0, 4:4:4 at an
 * odd size, greyscale, progressive 4:2:2, CMYK, and one with an APP1 Exif orientation 6; PNGs 8-bit RGB,
 * 1- and 8-bit grey, 16-bit RGB, RGBA, 16-bit grey+alpha, 2-bit palette with tRNS, and Adam7-interlaced.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/result.h"
#include "face/image.h"

#define FUZZ_MAX_PIXELS ((int64_t)4 * 1000 * 1000)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mien_log_set_level(MIEN_LOG_OFF);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	face_image *image = NULL;
	mien_error err;
	if (face_image_decode(data, size, FUZZ_MAX_PIXELS, &image, &err) != 0) {
		if (image != NULL)
			abort(); /* contract: *out stays NULL on failure */
		return 0;
	}
	if (image->width < 1 || image->height < 1 || (int64_t)image->width * image->height > FUZZ_MAX_PIXELS ||
	    image->stride < 3 * image->width || image->orientation < 1 || image->orientation > 8)
		abort();

	/* A 30-degree rotation about the centre onto 32x32, grey, and a small JPEG of the whole picture. */
	const float m[6] = { 0.866f * image->width / 32, -0.5f * image->height / 32,  0.25f * image->width,
		             0.5f * image->width / 32,   0.866f * image->height / 32, -0.1f * image->height };
	float out[32 * 32];
	face_image_sample(image, m, 32, 32, 1, 1.0f / 255, 0.0f, 0.0f, out);
	if ((int64_t)image->width * image->height <= 256 * 256) {
		uint8_t *jpeg = NULL;
		size_t jpeg_size = 0;
		if (face_image_encode_jpeg(image, 75, &jpeg, &jpeg_size, &err) != 0)
			abort();
		free(jpeg);
	}
	face_image_free(&image);
	return 0;
}
