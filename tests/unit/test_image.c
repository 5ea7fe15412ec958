/*
 * test_image.c — face/image: decoding face-api's sample photos, EXIF orientation, PNG colour types, hostile
 * and truncated input, the bilinear sampler, crops and the JPEG round trip.
 *
 * Expected values come from outside image.c: photo sizes from the JPEG SOF marker read by a separate script
 * (see test_samples_decode), orientation placements from the EXIF 2.32 definition of tag 0x0112, PNG
 * pixels from what the test wrote with libspng's encoder, sampler values from the bilinear formula worked
 * by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spng.h>
#include <turbojpeg.h>
#include <webp/encode.h>

#include "core/result.h"
#include "face/image.h"

/* --- helpers -------------------------------------------------------------------------------------- */

static face_image *new_image(int w, int h)
{
	face_image *image = NULL;
	mien_error err;
	int rc = face_image_create(w, h, 0, &image, &err);
	if (rc)
		fail_msg("face_image_create(%d, %d): %s", w, h, err.message);
	return image;
}

static uint8_t *pixel(const face_image *image, int x, int y)
{
	return image->pixels + (size_t)y * (size_t)image->stride + (size_t)x * 3;
}

static void set_pixel(face_image *image, int x, int y, int r, int g, int b)
{
	uint8_t *p = pixel(image, x, y);
	p[0] = (uint8_t)r;
	p[1] = (uint8_t)g;
	p[2] = (uint8_t)b;
}

static uint8_t *encode_jpeg(const face_image *image, int quality, size_t *size)
{
	uint8_t *jpeg = NULL;
	mien_error err;
	int rc = face_image_encode_jpeg(image, quality, &jpeg, size, &err);
	if (rc)
		fail_msg("face_image_encode_jpeg: %s", err.message);
	return jpeg;
}

static int decode(const void *data, size_t size, int64_t cap, face_image **out, mien_error *err)
{
	mien_error_clear(err);
	int rc = face_image_decode(data, size, cap, out, err);
	if (rc)
		assert_null(*out); /* contract: nothing is returned on failure */
	return rc;
}

/* Offset of the first marker `code` (0xFF code) in a JPEG, walking segments from SOI. */
static size_t find_marker(const uint8_t *jpeg, size_t size, uint8_t code)
{
	size_t at = 2;
	while (at + 4 <= size) {
		assert_int_equal(jpeg[at], 0xFF);
		if (jpeg[at + 1] == code)
			return at;
		at += 2 + ((size_t)jpeg[at + 2] << 8 | jpeg[at + 3]);
	}
	fail_msg("marker 0x%02x not found", code);
	return 0;
}

static uint8_t *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("%s is missing: run `make models` first", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *bytes = malloc((size_t)n);
	assert_non_null(bytes);
	assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*size = (size_t)n;
	return bytes;
}

/* --- creation --------------------------------------------------------------------------------------- */

static void test_create_and_free(void **state)
{
	(void)state;
	face_image *image = NULL;
	mien_error err;
	assert_int_equal(face_image_create(5, 3, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->width, 5);
	assert_int_equal(image->height, 3);
	assert_true(image->stride >= 15);
	for (int y = 0; y < 3; y++)
		for (int i = 0; i < 15; i++)
			assert_int_equal(image->pixels[y * image->stride + i], 0);
	face_image_free(&image);
	assert_null(image);
	face_image_free(&image); /* NULL is a no-op */
	face_image_free(NULL);

	assert_int_equal(face_image_create(0, 3, 0, &image, &err), MIEN_ERANGE);
	assert_int_equal(face_image_create(3, -1, 0, &image, &err), MIEN_ERANGE);
	assert_int_equal(face_image_create(100, 100, 9999, &image, &err), MIEN_ERANGE);
	assert_int_equal(face_image_create(100, 100, 10000, &image, &err), MIEN_OK);
	face_image_free(&image);
	/* Over the default cap of 50 MP, and a product that overflows int. */
	assert_int_equal(face_image_create(10000, 5001, 0, &image, &err), MIEN_ERANGE);
	assert_int_equal(face_image_create(65536, 65536, 0, &image, &err), MIEN_ERANGE);
	assert_null(image);
}

/* --- face-api's sample photos ----------------------------------------------------------------------- */

static void test_samples_decode(void **state)
{
	(void)state;
	/* Sizes read from each file's SOF0 marker by a stand-alone Python script (walking the segments from SOI to
	 * the first 0xFFC0 and unpacking '>BHHB'), and matching what `file` prints for each. None of the six
	 * carries an EXIF orientation tag (the same script found no tag 0x0112 in IFD0), so no sides swap. */
	static const struct {
		const char *path;
		int width, height;
	} samples[] = {
		{ "models/samples/sample1.jpg", 1920, 1280 }, { "models/samples/sample2.jpg", 1920, 1367 },
		{ "models/samples/sample3.jpg", 1920, 1350 }, { "models/samples/sample4.jpg", 1920, 1448 },
		{ "models/samples/sample5.jpg", 1920, 1398 }, { "models/samples/sample6.jpg", 1920, 1537 },
	};
	for (size_t i = 0; i < MIEN_ARRAY_LEN(samples); i++) {
		if (access(samples[i].path, R_OK) != 0)
			fail_msg("%s is missing: run `make models` first", samples[i].path);
		face_image *image = NULL;
		mien_error err;
		int rc = face_image_load(samples[i].path, 0, &image, &err);
		if (rc)
			fail_msg("%s: %s", samples[i].path, err.message);
		assert_int_equal(image->width, samples[i].width);
		assert_int_equal(image->height, samples[i].height);
		assert_int_equal(image->source_channels, 3);
		assert_int_equal(image->source_bits, 8);
		assert_int_equal(image->orientation, 1);
		/* A photo, not a blank: the pixels vary. */
		uint8_t lo = 255, hi = 0;
		for (int y = 0; y < image->height; y += 7)
			for (int x = 0; x < image->width; x += 7) {
				uint8_t g = pixel(image, x, y)[1];
				lo = g < lo ? g : lo;
				hi = g > hi ? g : hi;
			}
		assert_in_range(hi - lo, 100, 255);
		face_image_free(&image);
	}
}

static void test_sample_photo_truncated(void **state)
{
	(void)state;
	size_t size;
	uint8_t *bytes = read_file("models/samples/sample1.jpg", &size);
	face_image *image = NULL;
	mien_error err;
	assert_int_equal(decode(bytes, size / 2, 0, &image, &err), MIEN_EFORMAT);
	assert_non_null(strstr(err.message, "truncated"));
	/* The same photo under a 2 MP cap: refused from the header. */
	assert_int_equal(decode(bytes, size, 2000000, &image, &err), MIEN_ETOOBIG);
	free(bytes);

	assert_int_equal(face_image_load("models/samples/no-such.jpg", 0, &image, &err), MIEN_ENOENT);
	assert_null(image);
}

/* --- EXIF orientation ----------------------------------------------------------------------------------- */

/* A JPEG with an APP1 Exif segment (IFD0 holding only tag 0x0112 = orientation) spliced in after SOI. */
static uint8_t *splice_exif(const uint8_t *jpeg, size_t size, int orientation, int big_endian, size_t *out_size)
{
	uint8_t tiff[26];
	if (big_endian) {
		const uint8_t be[26] = { 'M',  'M',
			                 0,    42,
			                 0,    0,
			                 0,    8, /* header, IFD0 at 8 */
			                 0,    1, /* one entry */
			                 0x01, 0x12,
			                 0,    3,
			                 0,    0,
			                 0,    1, /* tag, SHORT, count 1 */
			                 0,    (uint8_t)orientation,
			                 0,    0, /* value, left-justified */
			                 0,    0,
			                 0,    0 }; /* no next IFD */
		memcpy(tiff, be, sizeof(tiff));
	} else {
		const uint8_t le[26] = {
			'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (uint8_t)orientation,
			0,   0,   0,  0, 0, 0, 0
		};
		memcpy(tiff, le, sizeof(tiff));
	}
	size_t segment = 2 + 6 + sizeof(tiff);
	size_t total = size + 2 + segment;
	uint8_t *out = malloc(total);
	assert_non_null(out);
	memcpy(out, jpeg, 2); /* SOI */
	uint8_t *p = out + 2;
	*p++ = 0xFF;
	*p++ = 0xE1;
	*p++ = (uint8_t)(segment >> 8);
	*p++ = (uint8_t)segment;
	memcpy(p, "Exif\0\0", 6);
	p += 6;
	memcpy(p, tiff, sizeof(tiff));
	p += sizeof(tiff);
	memcpy(p, jpeg + 2, size - 2);
	*out_size = total;
	return out;
}

enum { WHITE, RED, GREEN };

static int classify(const uint8_t *p)
{
	if (p[0] > 180 && p[1] < 90 && p[2] < 90)
		return RED;
	if (p[1] > 180 && p[0] < 90 && p[2] < 90)
		return GREEN;
	if (p[0] > 180 && p[1] > 180 && p[2] > 180)
		return WHITE;
	return -1;
}

static void test_exif_orientation(void **state)
{
	(void)state;
	/* 32x16, white, with an 8x8 red block at the top-left and a green one at the top-right. */
	enum { W = 32, H = 16, B = 8 };
	face_image *source = new_image(W, H);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			set_pixel(source, x, y, 255, 255, 255);
	for (int y = 0; y < B; y++)
		for (int x = 0; x < B; x++) {
			set_pixel(source, x, y, 255, 0, 0);
			set_pixel(source, W - 1 - x, y, 0, 255, 0);
		}
	size_t size;
	uint8_t *jpeg = encode_jpeg(source, 95, &size);

	/* Where the source's top-left (red) and top-right (green) corners must appear, from the meaning of each
	 * orientation value in EXIF: the position of the stored 0th row and 0th column in the visual picture. */
	enum { TL, TR, BL, BR };
	static const struct {
		int orientation, transposed, red, green;
	} cases[] = {
		{ 1, 0, TL, TR }, /* as stored */
		{ 2, 0, TR, TL }, /* mirrored left-right */
		{ 3, 0, BR, BL }, /* rotated 180 */
		{ 4, 0, BL, BR }, /* mirrored top-bottom */
		{ 5, 1, TL, BL }, /* 0th row = left side, 0th column = top: transpose */
		{ 6, 1, TR, BR }, /* 0th row = right side, 0th column = top: rotate 90 clockwise */
		{ 7, 1, BR, TR }, /* 0th row = right side, 0th column = bottom: transverse */
		{ 8, 1, BL, TL }, /* 0th row = left side, 0th column = bottom: rotate 90 counter-clockwise */
	};
	for (int big = 0; big <= 1; big++) {
		for (size_t i = 0; i < MIEN_ARRAY_LEN(cases); i++) {
			size_t spliced_size;
			uint8_t *spliced = splice_exif(jpeg, size, cases[i].orientation, big, &spliced_size);
			face_image *image = NULL;
			mien_error err;
			int rc = decode(spliced, spliced_size, 0, &image, &err);
			if (rc)
				fail_msg("orientation %d: %s", cases[i].orientation, err.message);
			assert_int_equal(image->orientation, cases[i].orientation);
			assert_int_equal(image->width, cases[i].transposed ? H : W);
			assert_int_equal(image->height, cases[i].transposed ? W : H);
			/* Sample each corner 2 pixels in from the edges (inside the 8x8 blocks). */
			int w = image->width, h = image->height;
			const uint8_t *corner[4] = { pixel(image, 2, 2), pixel(image, w - 3, 2), pixel(image, 2, h - 3),
				                     pixel(image, w - 3, h - 3) };
			for (int c = 0; c < 4; c++) {
				int expect = c == cases[i].red ? RED : c == cases[i].green ? GREEN : WHITE;
				if (classify(corner[c]) != expect)
					fail_msg("orientation %d (%s): corner %d is (%d,%d,%d), expected class %d",
					         cases[i].orientation, big ? "MM" : "II", c, corner[c][0], corner[c][1],
					         corner[c][2], expect);
			}
			face_image_free(&image);
			free(spliced);
		}
	}

	/* Unknown values and broken EXIF blocks are ignored, never an error. */
	size_t spliced_size;
	uint8_t *spliced = splice_exif(jpeg, size, 9, 1, &spliced_size);
	face_image *image = NULL;
	mien_error err;
	assert_int_equal(decode(spliced, spliced_size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->orientation, 1);
	face_image_free(&image);
	/* IFD0 offset pointing past the segment. */
	spliced[2 + 4 + 6 + 7] = 200;
	assert_int_equal(decode(spliced, spliced_size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->orientation, 1);
	assert_int_equal(image->width, W);
	face_image_free(&image);
	/* Entry count far beyond the segment. */
	spliced[2 + 4 + 6 + 7] = 8;
	spliced[2 + 4 + 6 + 8] = 0xFF;
	assert_int_equal(decode(spliced, spliced_size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->orientation, 1);
	face_image_free(&image);
	free(spliced);

	free(jpeg);
	face_image_free(&source);
}

/* --- JPEG variants and the round trip ------------------------------------------------------------------- */

static void smooth_fill(face_image *image)
{
	for (int y = 0; y < image->height; y++)
		for (int x = 0; x < image->width; x++)
			set_pixel(image, x, y, 128 + (int)(100 * sin(x * 0.05)), 128 + (int)(100 * cos(y * 0.07)),
			          (x + y) * 255 / (image->width + image->height));
}

static void test_jpeg_round_trip(void **state)
{
	(void)state;
	face_image *source = new_image(160, 120);
	smooth_fill(source);
	size_t size;
	uint8_t *jpeg = encode_jpeg(source, 90, &size);
	assert_int_equal(jpeg[0], 0xFF);
	assert_int_equal(jpeg[1], 0xD8);
	assert_int_equal(jpeg[size - 2], 0xFF);
	assert_int_equal(jpeg[size - 1], 0xD9);
	/* Baseline 4:2:0: SOF0 with luma sampling factors 2x2. */
	size_t sof = find_marker(jpeg, size, 0xC0);
	assert_int_equal(jpeg[sof + 9], 3);
	assert_int_equal(jpeg[sof + 11], 0x22);

	face_image *decoded = NULL;
	mien_error err;
	assert_int_equal(decode(jpeg, size, 0, &decoded, &err), MIEN_OK);
	assert_int_equal(decoded->width, 160);
	assert_int_equal(decoded->height, 120);
	double sum = 0;
	for (int y = 0; y < 120; y++)
		for (int x = 0; x < 160; x++)
			for (int c = 0; c < 3; c++) {
				double d = (double)pixel(source, x, y)[c] - pixel(decoded, x, y)[c];
				sum += d * d;
			}
	double mse = sum / (160.0 * 120 * 3);
	double psnr = 10 * log10(255.0 * 255.0 / (mse > 1e-12 ? mse : 1e-12));
	if (!(psnr > 35))
		fail_msg("round trip PSNR %.2f dB, expected > 35", psnr);

	/* Junk after EOI (some cameras append data) is fine. */
	uint8_t *padded = malloc(size + 100);
	assert_non_null(padded);
	memcpy(padded, jpeg, size);
	memset(padded + size, 0xAB, 100);
	face_image *again = NULL;
	assert_int_equal(decode(padded, size + 100, 0, &again, &err), MIEN_OK);
	assert_memory_equal(again->pixels, decoded->pixels, (size_t)decoded->stride * 120);
	face_image_free(&again);
	free(padded);

	/* Bad arguments. */
	uint8_t *out = NULL;
	assert_int_equal(face_image_encode_jpeg(source, 0, &out, &size, &err), MIEN_EINVAL);
	assert_int_equal(face_image_encode_jpeg(source, 101, &out, &size, &err), MIEN_EINVAL);
	assert_int_equal(face_image_encode_jpeg(NULL, 90, &out, &size, &err), MIEN_EINVAL);
	assert_null(out);

	face_image_free(&decoded);
	free(jpeg);
	face_image_free(&source);
}

static void test_jpeg_grey_and_cmyk(void **state)
{
	(void)state;
	enum { W = 16, H = 8 };
	tjhandle tj = tjInitCompress();
	assert_non_null(tj);

	/* Greyscale: decoded as R = G = B. */
	uint8_t grey[W * H];
	for (int i = 0; i < W * H; i++)
		grey[i] = (uint8_t)(i % W * 16);
	unsigned char *jpeg = NULL;
	unsigned long size = 0;
	assert_int_equal(tjCompress2(tj, grey, W, W, H, TJPF_GRAY, &jpeg, &size, TJSAMP_GRAY, 100, 0), 0);
	face_image *image = NULL;
	mien_error err;
	assert_int_equal(decode(jpeg, size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->source_channels, 1);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			const uint8_t *p = pixel(image, x, y);
			assert_int_equal(p[0], p[1]);
			assert_int_equal(p[1], p[2]);
			assert_in_range(p[0], grey[y * W + x] > 3 ? grey[y * W + x] - 3 : 0, grey[y * W + x] + 3);
		}
	face_image_free(&image);
	tjFree(jpeg);

	/* CMYK (TurboJPEG writes it as YCCK): refused with a message that says why. */
	uint8_t cmyk[W * H * 4];
	memset(cmyk, 40, sizeof(cmyk));
	jpeg = NULL;
	assert_int_equal(tjCompress2(tj, cmyk, W, W * 4, H, TJPF_CMYK, &jpeg, &size, TJSAMP_444, 90, 0), 0);
	assert_int_equal(decode(jpeg, size, 0, &image, &err), MIEN_EUNSUPPORTED);
	assert_non_null(strstr(err.message, "CMYK"));
	tjFree(jpeg);
	tjDestroy(tj);

	/* 12-bit precision (patched into a valid file's SOF): unsupported, said so. */
	face_image *source = new_image(W, H);
	size_t jsize;
	uint8_t *own = encode_jpeg(source, 80, &jsize);
	size_t sof = find_marker(own, jsize, 0xC0);
	own[sof + 4] = 12;
	assert_int_equal(decode(own, jsize, 0, &image, &err), MIEN_EUNSUPPORTED);
	assert_non_null(strstr(err.message, "12-bit"));
	free(own);
	face_image_free(&source);
}

/* --- PNG ------------------------------------------------------------------------------------------------ */

static uint8_t *encode_png(uint32_t w, uint32_t h, uint8_t color_type, uint8_t bit_depth, const void *rows,
                           size_t rows_size, const struct spng_plte *plte, size_t *size)
{
	spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
	assert_non_null(ctx);
	assert_int_equal(spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1), 0);
	struct spng_ihdr ihdr = { .width = w, .height = h, .bit_depth = bit_depth, .color_type = color_type };
	assert_int_equal(spng_set_ihdr(ctx, &ihdr), 0);
	if (plte)
		assert_int_equal(spng_set_plte(ctx, (struct spng_plte *)plte), 0);
	int ret = spng_encode_image(ctx, rows, rows_size, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
	if (ret)
		fail_msg("spng_encode_image: %s", spng_strerror(ret));
	int error = 0;
	uint8_t *png = spng_get_png_buffer(ctx, size, &error);
	assert_int_equal(error, 0);
	assert_non_null(png);
	spng_ctx_free(ctx);
	return png;
}

static void test_png_colour_types(void **state)
{
	(void)state;
	enum { W = 3, H = 2 };
	face_image *image = NULL;
	mien_error err;
	size_t size;

	/* 8-bit RGB. */
	uint8_t rgb[W * H * 3];
	for (size_t i = 0; i < sizeof(rgb); i++)
		rgb[i] = (uint8_t)(i * 13 + 7);
	uint8_t *png = encode_png(W, H, SPNG_COLOR_TYPE_TRUECOLOR, 8, rgb, sizeof(rgb), NULL, &size);
	assert_int_equal(decode(png, size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->width, W);
	assert_int_equal(image->height, H);
	assert_int_equal(image->source_channels, 3);
	assert_int_equal(image->source_bits, 8);
	for (int y = 0; y < H; y++)
		assert_memory_equal(pixel(image, 0, y), rgb + y * W * 3, W * 3);
	face_image_free(&image);
	free(png);

	/* 8-bit grey. */
	uint8_t grey[W * H] = { 0, 50, 100, 150, 200, 255 };
	png = encode_png(W, H, SPNG_COLOR_TYPE_GRAYSCALE, 8, grey, sizeof(grey), NULL, &size);
	assert_int_equal(decode(png, size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->source_channels, 1);
	for (int i = 0; i < W * H; i++) {
		const uint8_t *p = pixel(image, i % W, i / W);
		assert_int_equal(p[0], grey[i]);
		assert_int_equal(p[1], grey[i]);
		assert_int_equal(p[2], grey[i]);
	}
	face_image_free(&image);
	free(png);

	/* 16-bit RGB (host-endian samples for SPNG_FMT_PNG): v * 257 is exactly 8-bit v on any down-scaling. */
	uint16_t rgb16[W * H * 3];
	for (size_t i = 0; i < MIEN_ARRAY_LEN(rgb16); i++)
		rgb16[i] = (uint16_t)((i * 13 + 7) % 256 * 257);
	png = encode_png(W, H, SPNG_COLOR_TYPE_TRUECOLOR, 16, rgb16, sizeof(rgb16), NULL, &size);
	assert_int_equal(decode(png, size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->source_channels, 3);
	assert_int_equal(image->source_bits, 16);
	for (int i = 0; i < W * H * 3; i++)
		assert_int_equal(pixel(image, i / 3 % W, i / 3 / W)[i % 3], rgb16[i] / 257);
	face_image_free(&image);
	free(png);

	/* RGBA: composited over black, so colour * alpha / 255. */
	uint8_t rgba[W * H * 4] = {
		200, 100, 50, 255,                    /* opaque: unchanged */
		200, 100, 50, 0,                      /* transparent: black */
		200, 100, 50, 128,                    /* half: 100.4, 50.2, 25.1 -> 100, 50, 25 */
		10,  20,  30, 255, 255, 255, 255, 51, /* 255 * 51 / 255 = 51 */
		0,   0,   0,  0,
	};
	static const uint8_t expect_rgba[W * H * 3] = { 200, 100, 50, 0,  0,  0,  100, 50, 25,
		                                        10,  20,  30, 51, 51, 51, 0,   0,  0 };
	png = encode_png(W, H, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8, rgba, sizeof(rgba), NULL, &size);
	assert_int_equal(decode(png, size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->source_channels, 4);
	for (int i = 0; i < W * H * 3; i++)
		assert_int_equal(pixel(image, i / 3 % W, i / 3 / W)[i % 3], expect_rgba[i]);
	face_image_free(&image);
	free(png);

	/* Palette, 8-bit indices. */
	struct spng_plte plte = { .n_entries = 3 };
	plte.entries[0] = (struct spng_plte_entry){ .red = 255, .green = 0, .blue = 0 };
	plte.entries[1] = (struct spng_plte_entry){ .red = 0, .green = 128, .blue = 255 };
	plte.entries[2] = (struct spng_plte_entry){ .red = 17, .green = 34, .blue = 51 };
	uint8_t indices[W * H] = { 0, 1, 2, 2, 1, 0 };
	png = encode_png(W, H, SPNG_COLOR_TYPE_INDEXED, 8, indices, sizeof(indices), &plte, &size);
	assert_int_equal(decode(png, size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->source_channels, 3);
	for (int i = 0; i < W * H; i++) {
		const uint8_t *p = pixel(image, i % W, i / W);
		assert_int_equal(p[0], plte.entries[indices[i]].red);
		assert_int_equal(p[1], plte.entries[indices[i]].green);
		assert_int_equal(p[2], plte.entries[indices[i]].blue);
	}
	face_image_free(&image);
	free(png);
}

/* CRC-32 (ISO 3309, the PNG chunk checksum), bitwise: for patching IHDR in the test. */
static uint32_t crc32_png(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
	}
	return crc ^ 0xFFFFFFFFu;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void test_png_hostile(void **state)
{
	(void)state;
	enum { W = 64, H = 64 };
	uint8_t rgb[W * H * 3];
	uint32_t seed = 12345;
	for (size_t i = 0; i < sizeof(rgb); i++) {
		seed = seed * 1103515245u + 12345u;
		rgb[i] = (uint8_t)(seed >> 16);
	}
	size_t size;
	uint8_t *png = encode_png(W, H, SPNG_COLOR_TYPE_TRUECOLOR, 8, rgb, sizeof(rgb), NULL, &size);
	face_image *image = NULL;
	mien_error err;

	/* Truncated at half, and just inside the image data. */
	assert_int_equal(decode(png, size / 2, 0, &image, &err), MIEN_EFORMAT);
	assert_int_equal(decode(png, size - 20, 0, &image, &err), MIEN_EFORMAT);
	assert_int_equal(decode(png, 30, 0, &image, &err), MIEN_EFORMAT);

	/* A flipped bit in the image data fails its CRC. */
	uint8_t *copy = malloc(size);
	assert_non_null(copy);
	memcpy(copy, png, size);
	copy[size / 2] ^= 0x10;
	assert_int_equal(decode(copy, size, 0, &image, &err), MIEN_EFORMAT);

	/* IHDR claiming 100000 x 100000 (CRC fixed up): too big, refused before any pixel buffer exists. */
	memcpy(copy, png, size);
	assert_memory_equal(copy + 12, "IHDR", 4);
	put32(copy + 16, 100000);
	put32(copy + 20, 100000);
	put32(copy + 29, crc32_png(copy + 12, 17));
	assert_int_equal(decode(copy, size, 0, &image, &err), MIEN_ETOOBIG);
	assert_non_null(strstr(err.message, "100000x100000"));
	/* One side alone over a small cap is caught by libspng's per-side limit. */
	put32(copy + 16, 5000);
	put32(copy + 20, 1);
	put32(copy + 29, crc32_png(copy + 12, 17));
	assert_int_equal(decode(copy, size, 1000, &image, &err), MIEN_ETOOBIG);
	free(copy);

	/* Exactly at the cap is allowed. */
	assert_int_equal(decode(png, size, W * H, &image, &err), MIEN_OK);
	face_image_free(&image);
	assert_int_equal(decode(png, size, W * H - 1, &image, &err), MIEN_ETOOBIG);
	free(png);
}

/* --- hostile input in general ------------------------------------------------------------------------ */

static void test_garbage_and_truncation(void **state)
{
	(void)state;
	face_image *image = NULL;
	mien_error err;
	assert_int_equal(decode("", 0, 0, &image, &err), MIEN_EFORMAT);
	assert_int_equal(decode(NULL, 0, 0, &image, &err), MIEN_EFORMAT);
	assert_int_equal(decode(NULL, 10, 0, &image, &err), MIEN_EINVAL);
	assert_int_equal(decode("\xFF\xD8", 2, 0, &image, &err), MIEN_EFORMAT);
	assert_int_equal(decode("GIF89a", 6, 0, &image, &err), MIEN_EFORMAT);
	assert_non_null(strstr(err.message, "not a JPEG, PNG or WebP"));
	assert_int_equal(decode("\xFF\xD8\xFF", 3, -1, &image, &err), MIEN_EINVAL);

	/* Random bytes, alone and behind a JPEG or PNG signature. */
	uint8_t noise[4096];
	uint32_t seed = 99;
	for (size_t i = 0; i < sizeof(noise); i++) {
		seed = seed * 1664525u + 1013904223u;
		noise[i] = (uint8_t)(seed >> 24);
	}
	assert_int_equal(decode(noise, sizeof(noise), 0, &image, &err), MIEN_EFORMAT);
	noise[0] = 0xFF, noise[1] = 0xD8, noise[2] = 0xFF;
	assert_int_equal(decode(noise, sizeof(noise), 0, &image, &err), MIEN_EFORMAT);
	memcpy(noise, "\x89PNG\r\n\x1a\n", 8);
	assert_int_equal(decode(noise, sizeof(noise), 0, &image, &err), MIEN_EFORMAT);

	/* A JPEG cut at half, or missing only its EOI marker. */
	face_image *source = new_image(64, 48);
	smooth_fill(source);
	size_t size;
	uint8_t *jpeg = encode_jpeg(source, 90, &size);
	assert_int_equal(decode(jpeg, size / 2, 0, &image, &err), MIEN_EFORMAT);
	assert_int_equal(decode(jpeg, size - 2, 0, &image, &err), MIEN_EFORMAT);
	assert_int_equal(decode(jpeg, 200, 0, &image, &err), MIEN_EFORMAT);

	/* SOF claiming 65500 x 65500 (JPEG's 16-bit sides cannot say 100000): over the 50 MP default cap. */
	size_t sof = find_marker(jpeg, size, 0xC0);
	jpeg[sof + 5] = 0xFF, jpeg[sof + 6] = 0xDC;
	jpeg[sof + 7] = 0xFF, jpeg[sof + 8] = 0xDC;
	assert_int_equal(decode(jpeg, size, 0, &image, &err), MIEN_ETOOBIG);
	assert_non_null(strstr(err.message, "65500x65500"));
	/* Zero height (DNL-style), which libjpeg refuses. */
	jpeg[sof + 5] = 0, jpeg[sof + 6] = 0;
	assert_int_equal(decode(jpeg, size, 0, &image, &err), MIEN_EFORMAT);
	free(jpeg);
	face_image_free(&source);
}

/* --- WebP ------------------------------------------------------------------------------------------ */

/* A face photo as WebP: lossless files (written by libwebp's own encoder) must decode to exactly the pixels that
 * went in; lossy ones close to them; alpha is composited over black; truncated, corrupt, animated-looking and
 * oversized files are refused before any large allocation. */
static void test_webp(void **state)
{
	(void)state;
	face_image *photo = NULL, *image = NULL;
	mien_error err;
	assert_int_equal(face_image_load("models/samples/sample1.jpg", 0, &photo, &err), MIEN_OK);
	uint8_t *webp = NULL;
	size_t size = WebPEncodeLosslessRGB(photo->pixels, photo->width, photo->height, photo->stride, &webp);
	assert_true(size > 0);
	assert_int_equal(decode(webp, size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->width, photo->width);
	assert_int_equal(image->height, photo->height);
	assert_int_equal(image->source_channels, 3);
	for (int y = 0; y < photo->height; y++)
		if (memcmp(pixel(image, 0, y), pixel(photo, 0, y), (size_t)photo->width * 3) != 0)
			fail_msg("lossless WebP row %d differs from the source", y);
	face_image_free(&image);

	/* Cut short, or its payload overwritten: errors, never a crash. */
	assert_int_equal(decode(webp, size / 2, 0, &image, &err), MIEN_EFORMAT);
	assert_int_equal(decode(webp, 20, 0, &image, &err), MIEN_EFORMAT);
	uint8_t *broken = malloc(size);
	assert_non_null(broken);
	memcpy(broken, webp, size);
	memset(broken + 30, 0x5a, size - 30);
	assert_int_equal(decode(broken, size, 0, &image, &err), MIEN_EFORMAT);
	free(broken);
	/* 1920x1280 over a cap of one megapixel: refused from the header. */
	assert_int_equal(decode(webp, size, 1000 * 1000, &image, &err), MIEN_ETOOBIG);
	assert_non_null(strstr(err.message, "1920x1280"));
	WebPFree(webp);

	/* Lossy: close to the source on average. */
	size = WebPEncodeRGB(photo->pixels, photo->width, photo->height, photo->stride, 90, &webp);
	assert_true(size > 0);
	assert_int_equal(decode(webp, size, 0, &image, &err), MIEN_OK);
	double diff = 0;
	for (int y = 0; y < photo->height; y++)
		for (int x = 0; x < photo->width * 3; x++)
			diff += abs((int)pixel(image, 0, y)[x] - (int)pixel(photo, 0, y)[x]);
	diff /= (double)photo->width * photo->height * 3;
	if (diff > 4.0)
		fail_msg("lossy WebP differs from the source by %.2f per channel on average", diff);
	face_image_free(&image);
	WebPFree(webp);

	/* Half-transparent white over a 4x2 picture: (255 * 128 + 127) / 255 = 128; fully transparent is black. */
	uint8_t rgba[4 * 2 * 4];
	for (int i = 0; i < 8; i++) {
		rgba[i * 4 + 0] = rgba[i * 4 + 1] = rgba[i * 4 + 2] = 255;
		rgba[i * 4 + 3] = i < 4 ? 128 : 0;
	}
	size = WebPEncodeLosslessRGBA(rgba, 4, 2, 16, &webp);
	assert_true(size > 0);
	assert_int_equal(decode(webp, size, 0, &image, &err), MIEN_OK);
	assert_int_equal(image->source_channels, 4);
	assert_int_equal(pixel(image, 0, 0)[0], 128);
	assert_int_equal(pixel(image, 3, 1)[2], 0);
	face_image_free(&image);
	WebPFree(webp);
	face_image_free(&photo);
}

/* --- the sampler ------------------------------------------------------------------------------------- */

static face_image *random_image(int w, int h, uint32_t seed)
{
	face_image *image = new_image(w, h);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w * 3; x++) {
			seed = seed * 1664525u + 1013904223u;
			image->pixels[y * image->stride + x] = (uint8_t)(seed >> 24);
		}
	return image;
}

static void test_sample_identity(void **state)
{
	(void)state;
	face_image *image = random_image(7, 5, 1);
	float out[7 * 5 * 3], grey[7 * 5];
	const float identity[6] = { 1, 0, 0, 0, 1, 0 };
	face_image_sample(image, identity, 7, 5, 3, 1.0f, 0.0f, 0.0f, out);
	face_image_sample(image, identity, 7, 5, 1, 1.0f, 0.0f, 0.0f, grey);
	for (int y = 0; y < 5; y++)
		for (int x = 0; x < 7; x++) {
			const uint8_t *p = pixel(image, x, y);
			for (int c = 0; c < 3; c++)
				assert_float_equal(out[(y * 7 + x) * 3 + c], p[c], 1e-4);
			assert_float_equal(grey[y * 7 + x], 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2], 1e-3);
		}
	/* Scale and offset: [-1, 1]. */
	face_image_sample(image, identity, 7, 5, 3, 1.0f / 127.5f, -1.0f, 0.0f, out);
	for (int i = 0; i < 7 * 5 * 3; i++)
		assert_float_equal(out[i], pixel(image, i / 3 % 7, i / 3 / 7)[i % 3] / 127.5f - 1.0f, 1e-5);

	/* Swapping x and y (the general affine path) reproduces the transpose exactly. */
	const float swap[6] = { 0, 1, 0, 1, 0, 0 };
	float t[5 * 7 * 3];
	face_image_sample(image, swap, 5, 7, 3, 1.0f, 0.0f, 0.0f, t);
	for (int y = 0; y < 7; y++)
		for (int x = 0; x < 5; x++)
			for (int c = 0; c < 3; c++)
				assert_float_equal(t[(y * 5 + x) * 3 + c], pixel(image, y, x)[c], 1e-4);
	face_image_free(&image);
}

static void test_sample_downscale_gradient(void **state)
{
	(void)state;
	/* R = 10 x, G = 20 y, B = 7. Output pixel (x, y) of a 2x reduction is centred on source point
	 * (2x + 1, 2y + 1), midway between pixel centres 2x + 0.5 and 2x + 1.5: R = (20x + 10(2x+1)) / 2 = 20x + 5,
	 * G = 40y + 10. */
	face_image *image = new_image(8, 4);
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 8; x++)
			set_pixel(image, x, y, 10 * x, 20 * y, 7);
	const float half[6] = { 2, 0, 0, 0, 2, 0 };
	float out[4 * 2 * 3];
	face_image_sample(image, half, 4, 2, 3, 1.0f, 0.0f, 0.0f, out);
	for (int y = 0; y < 2; y++)
		for (int x = 0; x < 4; x++) {
			assert_float_equal(out[(y * 4 + x) * 3 + 0], 20 * x + 5, 1e-4);
			assert_float_equal(out[(y * 4 + x) * 3 + 1], 40 * y + 10, 1e-4);
			assert_float_equal(out[(y * 4 + x) * 3 + 2], 7, 1e-4);
		}
	/* The same through face_image_rect_map of the whole picture. */
	float m[6];
	face_image_rect_map(0, 0, 8, 4, 4, 2, m);
	assert_float_equal(m[0], 2, 1e-6);
	assert_float_equal(m[4], 2, 1e-6);
	float again[4 * 2 * 3];
	face_image_sample(image, m, 4, 2, 3, 1.0f, 0.0f, 0.0f, again);
	assert_memory_equal(again, out, sizeof(out));

	/* A quarter-pixel shift: R at output x = 10 * (x + 0.25). The general path (tiny rotation term zero
	 * on x: m[1] = 1e-9 selects it) agrees. */
	const float shift[6] = { 1, 1e-9f, 0.25f, 0, 1, 0 };
	float shifted[7 * 4 * 3];
	face_image_sample(image, shift, 7, 4, 3, 1.0f, 0.0f, 0.0f, shifted);
	for (int x = 0; x < 7; x++)
		assert_float_equal(shifted[x * 3], 10 * (x + 0.25f), 1e-3);
	face_image_free(&image);
}

static void test_sample_wide_rows(void **state)
{
	(void)state;
	/* Wider than the fast path's column tables (more than one chunk): each output is the mean of two
	 * neighbouring source pixels. */
	enum { W = 1202, OW = 601 };
	face_image *image = random_image(W, 2, 7);
	const float half[6] = { 2, 0, 0, 0, 2, 0 };
	float out[OW * 3];
	face_image_sample(image, half, OW, 1, 3, 1.0f, 0.0f, 0.0f, out);
	for (int x = 0; x < OW; x++)
		for (int c = 0; c < 3; c++) {
			float expect = 0.25f * (pixel(image, 2 * x, 0)[c] + pixel(image, 2 * x + 1, 0)[c] +
			                        pixel(image, 2 * x, 1)[c] + pixel(image, 2 * x + 1, 1)[c]);
			assert_float_equal(out[x * 3 + c], expect, 1e-3);
		}
	face_image_free(&image);
}

static void test_sample_border(void **state)
{
	(void)state;
	face_image *image = random_image(4, 4, 3);
	/* Shifted left by 2: output columns 0 and 1 sample x = -1.5 and -0.5 (outside), 2 and 3 pixels 0 and 1. */
	const float left[6] = { 1, 0, -2, 0, 1, 0 };
	float out[4 * 4 * 3];
	face_image_sample(image, left, 4, 4, 3, 0.5f, -1.0f, 100.0f, out);
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 4; x++)
			for (int c = 0; c < 3; c++) {
				float expect = x < 2 ? 100 * 0.5f - 1 : pixel(image, x - 2, y)[c] * 0.5f - 1;
				assert_float_equal(out[(y * 4 + x) * 3 + c], expect, 1e-4);
			}
	/* Grey output of the border is the border itself. */
	float grey[4 * 4];
	const float below[6] = { 1, 0, 0, 0, 1, 3 };
	face_image_sample(image, below, 4, 4, 1, 1.0f, 0.0f, 42.0f, grey);
	for (int x = 0; x < 4; x++) {
		const uint8_t *p = pixel(image, x, 3);
		assert_float_equal(grey[x], 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2], 1e-3);
		for (int y = 1; y < 4; y++)
			assert_float_equal(grey[y * 4 + x], 42.0f, 1e-5);
	}
	/* A rotated map whose points all land far away, and a NaN map: all border, no crash. */
	const float far[6] = { 0.7f, -0.7f, 1e6f, 0.7f, 0.7f, -1e6f };
	face_image_sample(image, far, 4, 4, 3, 1.0f, 0.0f, 9.0f, out);
	for (int i = 0; i < 4 * 4 * 3; i++)
		assert_float_equal(out[i], 9.0f, 1e-5);
	const float nan_map[6] = { NAN, 0, 0, 0, 1, 0 };
	face_image_sample(image, nan_map, 4, 4, 3, 1.0f, 0.0f, 5.0f, out);
	for (int i = 0; i < 4 * 4 * 3; i++)
		assert_float_equal(out[i], 5.0f, 1e-5);
	face_image_free(&image);
}

/* --- crop ---------------------------------------------------------------------------------------------- */

static void test_crop(void **state)
{
	(void)state;
	face_image *image = random_image(8, 8, 5);
	face_image *crop = NULL;
	mien_error err;
	/* A pixel-aligned 4x4 window copied at 1:1. */
	assert_int_equal(face_image_crop(image, 2, 3, 4, 4, 4, 4, &crop, &err), MIEN_OK);
	assert_int_equal(crop->width, 4);
	assert_int_equal(crop->height, 4);
	for (int y = 0; y < 4; y++)
		assert_memory_equal(pixel(crop, 0, y), pixel(image, 2, 3 + y), 12);
	face_image_free(&crop);

	/* Partly outside: clipped to (6, 6, 2, 2), so the 2x2 output is the bottom-right corner. */
	assert_int_equal(face_image_crop(image, 6, 6, 10, 10, 2, 2, &crop, &err), MIEN_OK);
	for (int y = 0; y < 2; y++)
		assert_memory_equal(pixel(crop, 0, y), pixel(image, 6, 6 + y), 6);
	face_image_free(&crop);

	/* Entirely outside, NaN, or an empty output. */
	assert_int_equal(face_image_crop(image, 20, 20, 4, 4, 4, 4, &crop, &err), MIEN_ERANGE);
	assert_int_equal(face_image_crop(image, NAN, 0, 4, 4, 4, 4, &crop, &err), MIEN_ERANGE);
	assert_int_equal(face_image_crop(image, 0, 0, 4, 4, 0, 4, &crop, &err), MIEN_ERANGE);
	assert_null(crop);
	face_image_free(&image);
}

/* --- drawing (the live view) ------------------------------------------------------------------------ */

static size_t count_colour(const face_image *img, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
	size_t n = 0;
	for (int y = y0 < 0 ? 0 : y0; y < y1 && y < img->height; y++)
		for (int x = x0 < 0 ? 0 : x0; x < x1 && x < img->width; x++)
			n += memcmp(img->pixels + (size_t)y * img->stride + (size_t)x * 3, rgb, 3) == 0;
	return n;
}

/* The font: every printable character has a glyph of seven rows of five, every one but the space is inked, and no
 * two look alike (a typo in the table would make two letters the same or leave one blank). */
static void test_font(void **state)
{
	(void)state;
	assert_null(face_font_glyph(' ' - 1));
	assert_null(face_font_glyph('~' + 1));
	assert_null(face_font_glyph(0xe9));
	for (int c = ' '; c <= '~'; c++) {
		const char *g = face_font_glyph(c);
		assert_non_null(g);
		assert_int_equal(strlen(g), FACE_FONT_H * (FACE_FONT_W + 1) - 1);
		int ink = 0;
		for (int r = 0; r < FACE_FONT_H; r++) {
			for (int k = 0; k < FACE_FONT_W; k++) {
				char p = g[r * (FACE_FONT_W + 1) + k];
				assert_true(p == '.' || p == '#');
				ink += p == '#';
			}
			if (r < FACE_FONT_H - 1)
				assert_int_equal(g[r * (FACE_FONT_W + 1) + FACE_FONT_W], ' ');
		}
		if (c == ' ')
			assert_int_equal(ink, 0);
		else
			assert_true(ink > 0);
		for (int d = ' '; d < c; d++)
			if (strcmp(face_font_glyph(d), g) == 0)
				fail_msg("'%c' and '%c' share a glyph", d, c);
	}
	/* 'H' as drawn by hand: two posts and a bar in the middle row */
	assert_string_equal(face_font_glyph('H'), "#...# #...# #...# ##### #...# #...# #...#");
}

/* The labels' scale follows the picture's height (sent at about the size it is shown at): a glyph at least 14 px tall
 * at any size (a 240 px wide 16:9 tile is 135 lines), growing with the picture but under a tenth of its height
 * from 240 lines up, and never shrinking as the picture grows. */
static void test_label_scale(void **state)
{
	(void)state;
	assert_int_equal(face_label_scale(135), 2);
	assert_int_equal(face_label_scale(479), 2);
	assert_int_equal(face_label_scale(720), 3);
	assert_int_equal(face_label_scale(1080), 4);
	assert_int_equal(face_label_scale(2160), 9);
	assert_int_equal(face_label_scale(0), 2);
	assert_int_equal(face_label_scale(-7), 2);
	assert_int_equal(face_label_scale(1 << 30), 64); /* the font's largest scale */
	int last = 0;
	for (int h = 1; h <= 20000; h++) {
		int s = face_label_scale(h);
		assert_true(s * FACE_FONT_H >= 14);
		assert_true(s >= last);
		if (h >= 240)
			assert_true(s * FACE_FONT_H * 10 <= h);
		assert_true(face_image_text_height(s) > 0);
		last = s;
	}
}

/* A label: a rectangle of the background colour, 6 x 9 font pixels a character plus one, with exactly the glyphs'
 * ink in the text colour, each font pixel scale x scale; clipped at the picture's edges; other bytes than
 * printable ASCII shown as one '?' per code point. */
static void test_draw_label(void **state)
{
	(void)state;
	static const uint8_t ink[3] = { 10, 20, 30 }, bg[3] = { 200, 100, 50 }, grey[3] = { 128, 128, 128 };
	face_image *img = new_image(200, 100);
	memset(img->pixels, 128, (size_t)img->stride * (size_t)img->height);
	assert_int_equal(face_image_text_width("Ada", 2), 3 * 6 * 2 + 2);
	assert_int_equal(face_image_text_height(2), 18);
	assert_int_equal(face_image_text_width("", 2), 0);
	assert_int_equal(face_image_text_width("Ada", 0), 0);
	assert_int_equal(face_image_text_width("Ada", 65), 0);
	assert_int_equal(face_image_text_height(65), 0);
	face_image_draw_label(img, 10, 20, 2, "Ada", ink, bg);
	int w = 38, h = 18;
	size_t inked = 0;
	for (const char *p = "Ada"; *p; p++)
		for (const char *g = face_font_glyph(*p); *g; g++)
			inked += *g == '#';
	assert_int_equal(count_colour(img, 10, 20, 10 + w, 20 + h, ink), inked * 4);
	assert_int_equal(count_colour(img, 10, 20, 10 + w, 20 + h, bg), (size_t)(w * h) - inked * 4);
	/* nothing outside the label changed */
	assert_int_equal(count_colour(img, 0, 0, 200, 100, grey), (size_t)(200 * 100 - w * h));
	/* the top-left font pixel of 'A' is blank, the one right of it inked (".###."), each 2 x 2 */
	assert_int_equal(count_colour(img, 12, 22, 14, 24, bg), 4);
	assert_int_equal(count_colour(img, 14, 22, 16, 24, ink), 4);

	/* UTF-8: "Zoë" is three characters, the last a '?' */
	assert_int_equal(face_image_text_width("Zo\xc3\xab", 1), face_image_text_width("Zo?", 1));
	assert_int_equal(face_image_text_width("\xe4\xb8\xad\xe6\x96\x87", 1), face_image_text_width("??", 1));
	/* a stray continuation byte or a control character is one '?' as well */
	assert_int_equal(face_image_text_width("\x80\t", 1), face_image_text_width("??", 1));
	/* at most FACE_LABEL_CHARS characters */
	char longest[200];
	memset(longest, 'x', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(face_image_text_width(longest, 1), FACE_LABEL_CHARS * 6 + 1);

	/* clipped on every side: only the part inside is drawn (AddressSanitizer checks the rest) */
	memset(img->pixels, 128, (size_t)img->stride * (size_t)img->height);
	face_image_draw_label(img, -20, -5, 3, "clipped", ink, bg);
	face_image_draw_label(img, 190, 95, 3, longest, ink, bg);
	face_image_draw_label(img, -100000, 50, 1, "gone", ink, bg);
	size_t changed = (size_t)(200 * 100) - count_colour(img, 0, 0, 200, 100, grey);
	int w1 = face_image_text_width("clipped", 3) - 20, h1 = face_image_text_height(3) - 5;
	assert_int_equal(changed, (size_t)(w1 * h1 + 10 * 5));
	face_image_free(&img);
}

/* Box outlines: `t` pixels on each side of the edges, clipped, and nothing drawn for degenerate boxes. */
static void test_draw_box(void **state)
{
	(void)state;
	static const uint8_t red[3] = { 255, 0, 0 };
	face_image *img = new_image(100, 80);
	float box[4] = { 20, 10, 40, 30 };
	face_image_draw_box(img, box, red, 2);
	/* the outer rectangle 18..62 x 8..42 (inclusive) less the inner 22..58 x 12..38 */
	size_t outer = (size_t)(62 - 18 + 1) * (42 - 8 + 1), inner = (size_t)(58 - 22 + 1) * (38 - 12 + 1);
	assert_int_equal(count_colour(img, 0, 0, 100, 80, red), outer - inner);
	assert_int_equal(count_colour(img, 18, 8, 19, 9, red), 1);
	assert_int_equal(count_colour(img, 22, 12, 59, 39, red), 0);
	memset(img->pixels, 0, (size_t)img->stride * (size_t)img->height);
	float edge[4] = { -10, -10, 50, 50 }, empty[4] = { 10, 10, 0, 5 }, nan[4] = { NAN, 0, 5, 5 };
	float huge[4] = { -1e30f, -1e30f, 2e30f, 2e30f };
	face_image_draw_box(img, edge, red, 1);
	/* what is left inside: the bottom edge's rows 40-41 over columns 0..41, the right edge's columns 40-41 over
	 * rows 0..39 */
	assert_int_equal(count_colour(img, 0, 0, 100, 80, red), 2 * 42 + 2 * 40);
	memset(img->pixels, 0, (size_t)img->stride * (size_t)img->height);
	face_image_draw_box(img, empty, red, 1);
	face_image_draw_box(img, nan, red, 1);
	face_image_draw_box(img, huge, red, 1);
	assert_int_equal(count_colour(img, 0, 0, 100, 80, red), 0);
	face_image_free(&img);
}

/* Label placement: above the box, below it when the picture's top edge is in the way or a label placed earlier
 * is, inside the box's top edge when neither fits, and never outside the picture sideways. */
static void test_labels_place(void **state)
{
	(void)state;
	const int gap = 2;
	int at[4][2];
	/* one face with room above: the label sits gap pixels above the box, at its left edge less the gap */
	const float one[1][4] = { { 100, 100, 50, 50 } };
	const int size[4][2] = { { 80, 18 }, { 80, 18 }, { 80, 18 }, { 80, 18 } };
	face_labels_place(one, size, 1, 640, 480, gap, at);
	assert_int_equal(at[0][0], 98);
	assert_int_equal(at[0][1], 100 - gap - 18);
	/* at the top edge: below the box */
	const float top[1][4] = { { 100, 5, 50, 50 } };
	face_labels_place(top, size, 1, 640, 480, gap, at);
	assert_int_equal(at[0][1], 5 + 50 + gap + 1);
	/* at the right edge: moved left to stay inside */
	const float right[1][4] = { { 600, 100, 40, 40 } };
	face_labels_place(right, size, 1, 640, 480, gap, at);
	assert_int_equal(at[0][0], 640 - 80);
	/* two faces side by side: the second label would cover the first, so it goes below its box */
	const float pair[2][4] = { { 100, 100, 50, 50 }, { 140, 100, 50, 50 } };
	face_labels_place(pair, size, 2, 640, 480, gap, at);
	assert_int_equal(at[0][1], 100 - gap - 18);
	assert_int_equal(at[1][1], 100 + 50 + gap + 1);
	/* a face that fills the picture: inside the top edge */
	const float full[1][4] = { { 0, 10, 640, 460 } };
	face_labels_place(full, size, 1, 640, 480, gap, at);
	assert_int_equal(at[0][1], 10 + gap);
	/* nowhere free: the four labels of one spot stack where they can, the last above its box */
	const float same[4][4] = {
		{ 100, 100, 50, 50 }, { 100, 100, 50, 50 }, { 100, 100, 50, 50 }, { 100, 100, 50, 50 }
	};
	face_labels_place(same, size, 4, 640, 480, gap, at);
	assert_int_equal(at[0][1], 100 - gap - 18);
	assert_int_equal(at[1][1], 100 + 50 + gap + 1);
	assert_int_equal(at[2][1], 100 + gap);
	assert_int_equal(at[3][1], 100 - gap - 18);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_free),
		cmocka_unit_test(test_samples_decode),
		cmocka_unit_test(test_sample_photo_truncated),
		cmocka_unit_test(test_exif_orientation),
		cmocka_unit_test(test_jpeg_round_trip),
		cmocka_unit_test(test_jpeg_grey_and_cmyk),
		cmocka_unit_test(test_webp),
		cmocka_unit_test(test_png_colour_types),
		cmocka_unit_test(test_png_hostile),
		cmocka_unit_test(test_garbage_and_truncation),
		cmocka_unit_test(test_sample_identity),
		cmocka_unit_test(test_sample_downscale_gradient),
		cmocka_unit_test(test_sample_wide_rows),
		cmocka_unit_test(test_sample_border),
		cmocka_unit_test(test_crop),
		cmocka_unit_test(test_font),
		cmocka_unit_test(test_label_scale),
		cmocka_unit_test(test_draw_label),
		cmocka_unit_test(test_draw_box),
		cmocka_unit_test(test_labels_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
