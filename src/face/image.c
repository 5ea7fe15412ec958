/*
 * image.c — JPEG (TurboJPEG), PNG (libspng) and WebP (libwebp) decoding into 8-bit RGB, JPEG encoding, EXIF orientation
 * and the bilinear affine sampler the face models feed on.
 *
 * Everything that reads file bytes treats them as hostile: sizes come from headers only after the pixel count
 * has been checked against the caller's cap, every read of our own marker/EXIF walk is bounds-checked, and
 * every size product is computed in a type that cannot overflow or is checked first.
 */
#include "face/image.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <spng.h>
#include <turbojpeg.h>
#include <webp/decode.h>

#include "core/log.h"

/* face_image_load reads at most this many bytes. */
#define IMAGE_FILE_MAX ((int64_t)256 * 1024 * 1024)

/* Ancillary PNG chunks (text, ICC, EXIF) are kept by libspng; bound what one and all of them may take. */
#define PNG_CHUNK_MAX ((size_t)8 * 1024 * 1024)
#define PNG_CACHE_MAX ((size_t)32 * 1024 * 1024)

static const uint8_t png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

/* --- creation ------------------------------------------------------------------------------------ */

/* The cap a caller asked for: 0 means the default; negative is rejected by the callers. */
static int64_t pixel_cap(int64_t max_pixels)
{
	return max_pixels == 0 ? FACE_IMAGE_DEFAULT_MAX_PIXELS : max_pixels;
}

/* Allocates the struct and width x height x 3 bytes (zeroed when `zero`). Sides are >= 1 and the caller has
 * checked the pixel count against its cap; what is checked here is only what the types can hold. */
static int image_new(int width, int height, int zero, face_image **out, mien_error *err)
{
	*out = NULL;
	if (width < 1 || height < 1 || width > INT_MAX / 3)
		return mien_error_set(err, MIEN_ERANGE, "image: %dx%d is not a valid size", width, height);
	size_t stride = (size_t)width * 3;
	if ((size_t)height > SIZE_MAX / stride)
		return mien_error_set(err, MIEN_ERANGE, "image: %dx%d is too large for memory", width, height);
	size_t bytes = stride * (size_t)height;

	face_image *image = calloc(1, sizeof(*image));
	if (image == NULL)
		return mien_error_set(err, MIEN_ENOMEM, "image: out of memory");
	image->pixels = zero ? calloc(bytes, 1) : malloc(bytes);
	if (image->pixels == NULL) {
		free(image);
		return mien_error_set(err, MIEN_ENOMEM, "image: out of memory for %dx%d pixels", width, height);
	}
	image->width = width;
	image->height = height;
	image->stride = (int)stride;
	image->source_channels = 3;
	image->source_bits = 8;
	image->orientation = 1;
	*out = image;
	return MIEN_OK;
}

int face_image_create(int width, int height, int64_t max_pixels, face_image **out, mien_error *err)
{
	if (out == NULL)
		return mien_error_set(err, MIEN_EINVAL, "image: no output pointer");
	*out = NULL;
	if (max_pixels < 0)
		return mien_error_set(err, MIEN_EINVAL, "image: negative pixel cap %lld", (long long)max_pixels);
	int64_t cap = pixel_cap(max_pixels);
	if (width < 1 || height < 1 || (int64_t)width * height > cap)
		return mien_error_set(err, MIEN_ERANGE, "image: %dx%d is outside 1 .. %lld pixels", width, height,
		                      (long long)cap);
	return image_new(width, height, 1, out, err);
}

void face_image_free(face_image **image)
{
	if (image == NULL || *image == NULL)
		return;
	free((*image)->pixels);
	free(*image);
	*image = NULL;
}

static int check_cap(int width, int height, int64_t cap, const char *format, mien_error *err)
{
	int64_t pixels = (int64_t)width * height;
	if (pixels > cap)
		return mien_error_set(err, MIEN_ETOOBIG, "image: %s is %dx%d = %lld pixels, over the cap of %lld",
		                      format, width, height, (long long)pixels, (long long)cap);
	return MIEN_OK;
}

/* --- JPEG: our own walk over the marker segments -------------------------------------------------- */

/* What the decoder library does not tell us: the EXIF orientation, the coding process, and whether the
 * data runs to an end-of-image marker. */
typedef struct jpeg_layout {
	int orientation; /* 1..8 from the first APP1 Exif IFD0; 1 when absent or unreadable */
	int sof;         /* the SOFn marker byte, 0 when none was seen before the first scan */
	int precision;   /* sample precision from the SOF segment */
	int complete;    /* an EOI marker follows the first scan */
} jpeg_layout;

static unsigned read16(const uint8_t *p, int big_endian)
{
	return big_endian ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t read32(const uint8_t *p, int big_endian)
{
	return big_endian ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
	                  : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Orientation (tag 0x0112) from IFD0 of the TIFF structure `tiff` (the APP1 payload after "Exif\0\0").
 * A malformed EXIF block is not an error: the picture is still decodable, we just don't rotate it. */
static int exif_orientation(const uint8_t *tiff, size_t size)
{
	if (size < 8)
		return 1;
	int big;
	if (tiff[0] == 'I' && tiff[1] == 'I')
		big = 0;
	else if (tiff[0] == 'M' && tiff[1] == 'M')
		big = 1;
	else
		return 1;
	if (read16(tiff + 2, big) != 42)
		return 1;
	uint32_t ifd = read32(tiff + 4, big);
	if (ifd < 8 || ifd > size || size - ifd < 2)
		return 1;
	unsigned count = read16(tiff + ifd, big);
	size_t at = (size_t)ifd + 2;
	for (unsigned i = 0; i < count; i++, at += 12) {
		if (size - at < 12)
			return 1;
		const uint8_t *entry = tiff + at;
		if (read16(entry, big) != 0x0112)
			continue;
		unsigned type = read16(entry + 2, big);
		uint32_t n = read32(entry + 4, big);
		uint32_t value;
		if (type == 3 && n >= 1) /* SHORT, the type the standard gives; the value sits left-justified */
			value = read16(entry + 8, big);
		else if (type == 4 && n == 1) /* LONG, written by a few tools */
			value = read32(entry + 8, big);
		else
			return 1;
		return value >= 1 && value <= 8 ? (int)value : 1;
	}
	return 1;
}

/* After the first SOS header at `at`: skips entropy-coded data (where 0xFF is followed by a stuffed 0x00 or
 * an RSTn) and the marker segments between progressive scans, looking for EOI. */
static void jpeg_find_end(const uint8_t *data, size_t size, size_t at, jpeg_layout *layout)
{
	while (at < size) {
		const uint8_t *ff = memchr(data + at, 0xFF, size - at);
		if (ff == NULL)
			return;
		at = (size_t)(ff - data);
		if (size - at < 2)
			return;
		uint8_t marker = data[at + 1];
		if (marker == 0xFF) { /* fill byte */
			at += 1;
			continue;
		}
		if (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7)) {
			at += 2;
			continue;
		}
		if (marker == 0xD9) {
			layout->complete = 1;
			return;
		}
		if (size - at < 4)
			return;
		size_t length = read16(data + at + 2, 1);
		if (length < 2 || length > size - at - 2)
			return;
		at += 2 + length;
	}
}

/* Walks SOI, the marker segments up to the first SOS, then the scans. Never fails: whatever it cannot make
 * sense of is left for the decoder library to report. */
static void jpeg_read_layout(const uint8_t *data, size_t size, jpeg_layout *layout)
{
	memset(layout, 0, sizeof(*layout));
	layout->orientation = 1;
	int exif_seen = 0;
	size_t at = 2; /* after SOI, which the sniffing checked */
	while (at < size) {
		if (data[at] != 0xFF)
			return;
		while (at < size && data[at] == 0xFF)
			at++;
		if (at >= size)
			return;
		uint8_t marker = data[at++];
		if (marker == 0xD9)
			return; /* EOI before any scan */
		if (marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7))
			continue; /* markers without a length */
		if (size - at < 2)
			return;
		size_t length = read16(data + at, 1);
		if (length < 2 || length > size - at)
			return;
		const uint8_t *payload = data + at + 2;
		size_t payload_size = length - 2;
		if (marker == 0xE1 && !exif_seen && payload_size >= 6 && memcmp(payload, "Exif\0\0", 6) == 0) {
			exif_seen = 1;
			layout->orientation = exif_orientation(payload + 6, payload_size - 6);
		} else if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
			layout->sof = marker;
			layout->precision = payload_size >= 1 ? payload[0] : 0;
		}
		at += length;
		if (marker == 0xDA) {
			jpeg_find_end(data, size, at, layout);
			return;
		}
	}
}

/* --- orientation ------------------------------------------------------------------------------------ */

/* Returns a new upright image for EXIF orientation 2..8 (in *image, the old one freed). Destination pixel
 * (x, y) reads source pixel origin + x * step_x + y * step_y, in bytes. */
static int apply_orientation(face_image **image, int orientation, mien_error *err)
{
	const face_image *src = *image;
	int w = src->width, h = src->height;
	int transposed = orientation >= 5;
	face_image *dst = NULL;
	int rc = image_new(transposed ? h : w, transposed ? w : h, 0, &dst, err);
	if (rc)
		return rc;

	ptrdiff_t px = 3, row = src->stride;
	ptrdiff_t last_x = (ptrdiff_t)(w - 1) * px, last_y = (ptrdiff_t)(h - 1) * row;
	ptrdiff_t origin, step_x, step_y;
	switch (orientation) {
	case 2: /* mirrored left-right */
		origin = last_x, step_x = -px, step_y = row;
		break;
	case 3: /* rotated 180 */
		origin = last_x + last_y, step_x = -px, step_y = -row;
		break;
	case 4: /* mirrored top-bottom */
		origin = last_y, step_x = px, step_y = -row;
		break;
	case 5: /* transposed */
		origin = 0, step_x = row, step_y = px;
		break;
	case 6: /* stored rotated 90 counter-clockwise: turn it 90 clockwise */
		origin = last_y, step_x = -row, step_y = px;
		break;
	case 7: /* transversed */
		origin = last_x + last_y, step_x = -row, step_y = -px;
		break;
	case 8: /* stored rotated 90 clockwise: turn it 90 counter-clockwise */
		origin = last_x, step_x = row, step_y = -px;
		break;
	default:
		origin = 0, step_x = px, step_y = row;
		break;
	}
	for (int y = 0; y < dst->height; y++) {
		const uint8_t *s = src->pixels + origin + (ptrdiff_t)y * step_y;
		uint8_t *d = dst->pixels + (size_t)y * (size_t)dst->stride;
		for (int x = 0; x < dst->width; x++, s += step_x, d += 3) {
			d[0] = s[0];
			d[1] = s[1];
			d[2] = s[2];
		}
	}
	dst->source_channels = src->source_channels;
	dst->source_bits = src->source_bits;
	dst->orientation = orientation;
	face_image_free(image);
	*image = dst;
	return MIEN_OK;
}

/* --- JPEG decoding ------------------------------------------------------------------------------------ */

static int decode_jpeg(const uint8_t *data, size_t size, int64_t cap, face_image **out, mien_error *err)
{
	tjhandle tj = NULL;
	face_image *image = NULL;
	int rc;

	jpeg_layout layout;
	jpeg_read_layout(data, size, &layout);
	if (layout.sof != 0 && layout.precision != 8) {
		rc = mien_error_set(err, MIEN_EUNSUPPORTED, "image: %d-bit JPEG is not supported (8-bit only)",
		                    layout.precision);
		goto fail;
	}
	/* Lossless (SOF3, 7, 11, 15) and hierarchical (SOF5..7, 13..15) JPEG: libjpeg-turbo 2.1 decodes neither. */
	if (layout.sof == 0xC3 || (layout.sof >= 0xC5 && layout.sof <= 0xC7) || layout.sof == 0xCB ||
	    layout.sof >= 0xCD) {
		rc = mien_error_set(err, MIEN_EUNSUPPORTED,
		                    "image: lossless or hierarchical JPEG (SOF%d) is not supported", layout.sof - 0xC0);
		goto fail;
	}

	tj = tjInitDecompress();
	if (tj == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "image: cannot start the JPEG decoder: %s", tjGetErrorStr2(NULL));
		goto fail;
	}
	int width = 0, height = 0, subsamp = 0, colorspace = 0;
	if (tjDecompressHeader3(tj, data, (unsigned long)size, &width, &height, &subsamp, &colorspace) != 0) {
		rc = mien_error_set(err, MIEN_EFORMAT, "image: bad JPEG header: %s", tjGetErrorStr2(tj));
		goto fail;
	}
	if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
		rc = mien_error_set(err, MIEN_EUNSUPPORTED,
		                    "image: CMYK JPEG is not supported (RGB or greyscale only)");
		goto fail;
	}
	if (width < 1 || height < 1) {
		rc = mien_error_set(err, MIEN_EFORMAT, "image: JPEG header gives an empty %dx%d picture", width,
		                    height);
		goto fail;
	}
	rc = check_cap(width, height, cap, "JPEG", err);
	if (rc)
		goto fail;
	/* libjpeg pads a short stream with a fake EOI and only warns; a truncated upload would come out as a
	 * picture with a grey lower part. A complete file ends its scans with EOI; check before decoding. */
	if (!layout.complete) {
		rc = mien_error_set(err, MIEN_EFORMAT,
		                    "image: JPEG is truncated (no end-of-image marker after the scans)");
		goto fail;
	}

	rc = image_new(width, height, 0, &image, err);
	if (rc)
		goto fail;
	/* LIMITSCANS: a progressive file with thousands of tiny scans costs minutes of CPU (libjpeg-turbo's
	 * advisory); the flag makes more than 500 an error. */
	if (tjDecompress2(tj, data, (unsigned long)size, image->pixels, width, image->stride, height, TJPF_RGB,
	                  TJFLAG_LIMITSCANS) != 0) {
		const char *message = tjGetErrorStr2(tj);
		/* A warning leaves a full picture, except "premature end of data segment" / "premature end of JPEG
		 * file", which mean the rest was filled in by the library. Other warnings (extraneous bytes
		 * before a marker, a bad Huffman code in one block) keep the picture, as browsers do. */
		if (tjGetErrorCode(tj) == TJERR_FATAL || strcasestr(message, "premature end") != NULL) {
			rc = mien_error_set(err, MIEN_EFORMAT, "image: corrupt JPEG: %s", message);
			goto fail;
		}
		MIEN_LOG_DEBUG_("image", "JPEG decoded with a warning: %s", message);
	}
	image->source_channels = colorspace == TJCS_GRAY ? 1 : 3;
	image->source_bits = 8;
	tjDestroy(tj);
	tj = NULL;

	if (layout.orientation != 1) {
		rc = apply_orientation(&image, layout.orientation, err);
		if (rc)
			goto fail;
	}
	*out = image;
	return MIEN_OK;

fail:
	face_image_free(&image);
	if (tj != NULL)
		tjDestroy(tj);
	return rc;
}

/* --- PNG decoding ----------------------------------------------------------------------------------- */

static int png_error(int ret, mien_error *err)
{
	if (ret == SPNG_EUSER_WIDTH || ret == SPNG_EUSER_HEIGHT)
		return mien_error_set(err, MIEN_ETOOBIG, "image: PNG side over the cap: %s", spng_strerror(ret));
	if (ret == SPNG_EMEM)
		return mien_error_set(err, MIEN_ENOMEM, "image: PNG: %s", spng_strerror(ret));
	return mien_error_set(err, MIEN_EFORMAT, "image: corrupt PNG: %s", spng_strerror(ret));
}

static int decode_png(const uint8_t *data, size_t size, int64_t cap, face_image **out, mien_error *err)
{
	spng_ctx *ctx = NULL;
	uint8_t *rgba = NULL;
	face_image *image = NULL;
	int rc, ret;

	ctx = spng_ctx_new(0);
	if (ctx == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "image: cannot start the PNG decoder");
		goto fail;
	}
	/* A side may not exceed the pixel cap, nor what 4 bytes per pixel in an int stride can hold; both per-side
	 * limits are checked by libspng while it reads IHDR, the product just below. */
	int64_t side = cap < INT_MAX / 4 ? cap : INT_MAX / 4;
	if ((ret = spng_set_image_limits(ctx, (uint32_t)side, (uint32_t)side)) != 0 ||
	    (ret = spng_set_chunk_limits(ctx, PNG_CHUNK_MAX, PNG_CACHE_MAX)) != 0 ||
	    (ret = spng_set_png_buffer(ctx, data, size)) != 0) {
		rc = png_error(ret, err);
		goto fail;
	}
	struct spng_ihdr ihdr;
	if ((ret = spng_get_ihdr(ctx, &ihdr)) != 0) {
		rc = png_error(ret, err);
		goto fail;
	}
	/* The limits above bound each side by INT_MAX / 4. */
	int width = (int)ihdr.width, height = (int)ihdr.height;
	rc = check_cap(width, height, cap, "PNG", err);
	if (rc)
		goto fail;

	struct spng_trns trns;
	ret = spng_get_trns(ctx, &trns);
	if (ret != 0 && ret != SPNG_ECHUNKAVAIL) {
		rc = png_error(ret, err);
		goto fail;
	}
	int has_trns = ret == 0;
	int has_alpha = has_trns || ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
	                ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;

	rc = image_new(width, height, 0, &image, err);
	if (rc)
		goto fail;
	switch (ihdr.color_type) {
	case SPNG_COLOR_TYPE_GRAYSCALE:
		image->source_channels = 1;
		break;
	case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
		image->source_channels = 2;
		break;
	case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA:
		image->source_channels = 4;
		break;
	case SPNG_COLOR_TYPE_INDEXED: /* an RGB palette, RGBA with tRNS */
		image->source_channels = has_trns ? 4 : 3;
		break;
	default:
		image->source_channels = 3;
		break;
	}
	image->source_bits = ihdr.bit_depth == 16 ? 16 : 8;

	size_t rgb_bytes = (size_t)image->stride * (size_t)height;
	if (!has_alpha) {
		size_t need = 0;
		if ((ret = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &need)) != 0) {
			rc = png_error(ret, err);
			goto fail;
		}
		if (need != rgb_bytes) {
			rc = mien_error_set(err, MIEN_EBACKEND, "image: libspng wants %zu bytes for %dx%d RGB", need,
			                    width, height);
			goto fail;
		}
		if ((ret = spng_decode_image(ctx, image->pixels, rgb_bytes, SPNG_FMT_RGB8, 0)) != 0) {
			rc = png_error(ret, err);
			goto fail;
		}
	} else {
		/* Transparency is composited over black: fully transparent areas (whose stored colour is often
		 * garbage) become black, as the models see a letterbox border. */
		size_t need = 0;
		if ((ret = spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &need)) != 0) {
			rc = png_error(ret, err);
			goto fail;
		}
		if (need / 4 != rgb_bytes / 3 || need % 4 != 0) {
			rc = mien_error_set(err, MIEN_EBACKEND, "image: libspng wants %zu bytes for %dx%d RGBA", need,
			                    width, height);
			goto fail;
		}
		rgba = malloc(need);
		if (rgba == NULL) {
			rc = mien_error_set(err, MIEN_ENOMEM, "image: out of memory for %dx%d RGBA", width, height);
			goto fail;
		}
		if ((ret = spng_decode_image(ctx, rgba, need, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS)) != 0) {
			rc = png_error(ret, err);
			goto fail;
		}
		size_t count = need / 4;
		const uint8_t *s = rgba;
		uint8_t *d = image->pixels;
		for (size_t i = 0; i < count; i++, s += 4, d += 3) {
			unsigned a = s[3];
			d[0] = (uint8_t)((s[0] * a + 127) / 255);
			d[1] = (uint8_t)((s[1] * a + 127) / 255);
			d[2] = (uint8_t)((s[2] * a + 127) / 255);
		}
		free(rgba);
		rgba = NULL;
	}
	spng_ctx_free(ctx);
	*out = image;
	return MIEN_OK;

fail:
	free(rgba);
	face_image_free(&image);
	spng_ctx_free(ctx);
	return rc;
}

/* --- WebP (libwebp): what phones and web pages save photos as ------------------------------------------ */

/* "RIFF" size "WEBP": the container every WebP file starts with. */
static int is_webp(const uint8_t *data, size_t size)
{
	return size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0;
}

static int decode_webp(const uint8_t *data, size_t size, int64_t cap, face_image **out, mien_error *err)
{
	face_image *image = NULL;
	uint8_t *rgba = NULL;
	int rc;
	WebPBitstreamFeatures features;
	VP8StatusCode status = WebPGetFeatures(data, size, &features);
	if (status == VP8_STATUS_NOT_ENOUGH_DATA)
		return mien_error_set(err, MIEN_EFORMAT, "image: truncated WebP");
	if (status != VP8_STATUS_OK)
		return mien_error_set(err, MIEN_EFORMAT, "image: corrupt WebP (libwebp status %d)", (int)status);
	if (features.has_animation)
		return mien_error_set(err, MIEN_EUNSUPPORTED, "image: animated WebP is not supported (send one frame)");
	/* The header's size is checked against the cap before libwebp allocates anything for the pixels. */
	if ((rc = check_cap(features.width, features.height, cap, "WebP", err)) != MIEN_OK)
		return rc;
	if ((rc = face_image_create(features.width, features.height, cap, &image, err)) != MIEN_OK)
		return rc;
	image->source_channels = features.has_alpha ? 4 : 3;
	image->source_bits = 8;
	size_t rgb_bytes = (size_t)image->stride * (size_t)image->height;
	if (!features.has_alpha) {
		if (!WebPDecodeRGBInto(data, size, image->pixels, rgb_bytes, image->stride)) {
			rc = mien_error_set(err, MIEN_EFORMAT, "image: corrupt or truncated WebP data");
			goto fail;
		}
	} else {
		/* Transparency is composited over black, as for PNG. */
		size_t count = (size_t)image->width * (size_t)image->height;
		rgba = malloc(count * 4);
		if (rgba == NULL) {
			rc = mien_error_set(err, MIEN_ENOMEM, "image: out of memory for %dx%d RGBA", image->width,
			                    image->height);
			goto fail;
		}
		if (!WebPDecodeRGBAInto(data, size, rgba, count * 4, image->width * 4)) {
			rc = mien_error_set(err, MIEN_EFORMAT, "image: corrupt or truncated WebP data");
			goto fail;
		}
		for (int y = 0; y < image->height; y++) {
			const uint8_t *src = rgba + (size_t)y * (size_t)image->width * 4;
			uint8_t *dst = image->pixels + (size_t)y * (size_t)image->stride;
			for (int x = 0; x < image->width; x++, src += 4, dst += 3) {
				unsigned a = src[3];
				dst[0] = (uint8_t)((src[0] * a + 127) / 255);
				dst[1] = (uint8_t)((src[1] * a + 127) / 255);
				dst[2] = (uint8_t)((src[2] * a + 127) / 255);
			}
		}
		free(rgba);
	}
	*out = image;
	return MIEN_OK;
fail:
	free(rgba);
	face_image_free(&image);
	return rc;
}

/* --- entry points ------------------------------------------------------------------------------------- */

int face_image_decode(const void *data, size_t size, int64_t max_pixels, face_image **out, mien_error *err)
{
	if (out == NULL)
		return mien_error_set(err, MIEN_EINVAL, "image: no output pointer");
	*out = NULL;
	if (max_pixels < 0)
		return mien_error_set(err, MIEN_EINVAL, "image: negative pixel cap %lld", (long long)max_pixels);
	if (data == NULL && size != 0)
		return mien_error_set(err, MIEN_EINVAL, "image: no data");
	if (size == 0)
		return mien_error_set(err, MIEN_EFORMAT, "image: empty input");
	const uint8_t *bytes = data;
	int64_t cap = pixel_cap(max_pixels);
	if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
		return decode_jpeg(bytes, size, cap, out, err);
	if (size >= sizeof(png_signature) && memcmp(bytes, png_signature, sizeof(png_signature)) == 0)
		return decode_png(bytes, size, cap, out, err);
	if (is_webp(bytes, size))
		return decode_webp(bytes, size, cap, out, err);
	return mien_error_set(err, MIEN_EFORMAT, "image: not a JPEG, PNG or WebP file");
}

int face_image_load(const char *path, int64_t max_pixels, face_image **out, mien_error *err)
{
	if (out == NULL || path == NULL)
		return mien_error_set(err, MIEN_EINVAL, "image: no path or output pointer");
	*out = NULL;
	FILE *file = NULL;
	uint8_t *bytes = NULL;
	int rc;

	file = fopen(path, "rb");
	if (file == NULL) {
		rc = mien_error_set(err, errno == ENOENT ? MIEN_ENOENT : MIEN_EIO, "image %s: %s", path,
		                    strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(fileno(file), &st) != 0) {
		rc = mien_error_set(err, MIEN_EIO, "image %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = mien_error_set(err, MIEN_EIO, "image %s: not a regular file", path);
		goto fail;
	}
	if ((int64_t)st.st_size > IMAGE_FILE_MAX) {
		rc = mien_error_set(err, MIEN_ETOOBIG, "image %s: %lld bytes, over the %lld-byte limit", path,
		                    (long long)st.st_size, (long long)IMAGE_FILE_MAX);
		goto fail;
	}
	size_t size = (size_t)st.st_size;
	bytes = malloc(size ? size : 1);
	if (bytes == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "image %s: out of memory for %zu bytes", path, size);
		goto fail;
	}
	if (size && fread(bytes, 1, size, file) != size) {
		rc = mien_error_set(err, MIEN_EIO, "image %s: short read", path);
		goto fail;
	}
	fclose(file);
	file = NULL;
	rc = face_image_decode(bytes, size, max_pixels, out, err);
	if (rc)
		mien_error_prefix(err, "%s", path);
	free(bytes);
	return rc;

fail:
	free(bytes);
	if (file != NULL)
		fclose(file);
	return rc;
}

/* --- JPEG encoding ------------------------------------------------------------------------------------ */

int face_image_encode_jpeg(const face_image *image, int quality, uint8_t **out, size_t *size, mien_error *err)
{
	if (out == NULL || size == NULL)
		return mien_error_set(err, MIEN_EINVAL, "image: no output pointer");
	*out = NULL;
	*size = 0;
	if (image == NULL || image->pixels == NULL || image->width < 1 || image->height < 1 ||
	    image->width > INT_MAX / 3 || image->stride < 3 * image->width)
		return mien_error_set(err, MIEN_EINVAL, "image: nothing valid to encode");
	if (quality < 1 || quality > 100)
		return mien_error_set(err, MIEN_EINVAL, "image: JPEG quality %d is outside 1..100", quality);

	tjhandle tj = NULL;
	uint8_t *jpeg = NULL;
	int rc;

	/* The worst-case size, so that TurboJPEG never reallocates: the buffer stays ours (malloc), as the
	 * contract says the caller frees it with free(). */
	unsigned long bound = tjBufSize(image->width, image->height, TJSAMP_420);
	if (bound == (unsigned long)-1 || bound > SIZE_MAX) {
		rc = mien_error_set(err, MIEN_ERANGE, "image: %dx%d is too large to encode", image->width,
		                    image->height);
		goto fail;
	}
	jpeg = malloc(bound);
	if (jpeg == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "image: out of memory for a %lu-byte JPEG", bound);
		goto fail;
	}
	tj = tjInitCompress();
	if (tj == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "image: cannot start the JPEG encoder: %s", tjGetErrorStr2(NULL));
		goto fail;
	}
	unsigned long length = bound;
	unsigned char *dest = jpeg;
	if (tjCompress2(tj, image->pixels, image->width, image->stride, image->height, TJPF_RGB, &dest, &length,
	                TJSAMP_420, quality, TJFLAG_NOREALLOC) != 0) {
		rc = mien_error_set(err, MIEN_EBACKEND, "image: JPEG encoding failed: %s", tjGetErrorStr2(tj));
		goto fail;
	}
	MIEN_ASSERT(dest == jpeg && length <= bound);
	tjDestroy(tj);
	uint8_t *shrunk = realloc(jpeg, length);
	*out = shrunk ? shrunk : jpeg;
	*size = length;
	return MIEN_OK;

fail:
	if (tj != NULL)
		tjDestroy(tj);
	free(jpeg);
	return rc;
}

/* --- sampling ------------------------------------------------------------------------------------------ */

/*
 * Conventions (see image.h): source pixel i covers [i, i+1) and its value sits at i + 0.5. A sample point
 * (sx, sy) inside the picture, 0 <= sx <= width and 0 <= sy <= height, is interpolated from the four nearest
 * pixel centres, with taps beyond the outermost centres clamped to the edge pixels; a point outside takes
 * `border`. So resizing never darkens the edge rows, and only the area a map sends outside the picture (a
 * letterbox, an aligned face near the frame edge) shows the border value.
 */

/* Output columns whose horizontal taps are prepared at once by the pure-scale path (stack tables). */
#define SAMPLE_COLUMNS 256

/* One output pixel from four taps (top-left, top-right, bottom-left, bottom-right) with weights that already
 * include `scale`. The branch on `channels` is loop-invariant in the callers, which the compiler unswitches. */
static inline void blend(float *out, int channels, const uint8_t *p00, const uint8_t *p01, const uint8_t *p10,
                         const uint8_t *p11, float w00, float w01, float w10, float w11, float offset)
{
	float r = w00 * p00[0] + w01 * p01[0] + w10 * p10[0] + w11 * p11[0];
	float g = w00 * p00[1] + w01 * p01[1] + w10 * p10[1] + w11 * p11[1];
	float b = w00 * p00[2] + w01 * p01[2] + w10 * p10[2] + w11 * p11[2];
	if (channels == 3) {
		out[0] = r + offset;
		out[1] = g + offset;
		out[2] = b + offset;
	} else {
		out[0] = 0.299f * r + 0.587f * g + 0.114f * b + offset;
	}
}

static inline void fill(float *out, size_t count, float value)
{
	for (size_t i = 0; i < count; i++)
		out[i] = value;
}

/* floor() for values >= -1, without a libm call: truncation rounds toward zero. */
static inline int floor_from_minus_one(float v)
{
	return (int)(v + 1.0f) - 1;
}

/* Pure scale plus translation (m[1] == m[3] == 0): the horizontal taps depend only on the output column, the
 * vertical ones only on the row, so both are computed once per column / row. */
static inline void sample_scaled(const face_image *image, const float m[6], int out_w, int out_h, int channels,
                                 float scale, float offset, float border, float *out)
{
	const float width = (float)image->width, height = (float)image->height;
	const float border_value = border * scale + offset;
	const int last_x = image->width - 1, last_y = image->height - 1;
	int col_a[SAMPLE_COLUMNS], col_b[SAMPLE_COLUMNS];
	float col_w0[SAMPLE_COLUMNS], col_w1[SAMPLE_COLUMNS];

	for (int x_start = 0; x_start < out_w; x_start += SAMPLE_COLUMNS) {
		int columns = out_w - x_start < SAMPLE_COLUMNS ? out_w - x_start : SAMPLE_COLUMNS;
		/* sx is monotonic in the column (rounding preserves order), so the inside columns form one run
		 * [first, end), every table entry in it is set, and the outside ones are border on either side. */
		int first = columns, end = 0;
		for (int i = 0; i < columns; i++) {
			float sx = m[0] * ((float)(x_start + i) + 0.5f) + m[2];
			if (!(sx >= 0.0f && sx <= width)) /* also false for NaN */
				continue;
			first = i < first ? i : first;
			end = i + 1;
			float u = sx - 0.5f;
			int x0 = floor_from_minus_one(u);
			float fx = u - (float)x0;
			col_w0[i] = 1.0f - fx;
			col_w1[i] = fx;
			col_a[i] = (x0 < 0 ? 0 : x0) * 3;
			col_b[i] = (x0 + 1 > last_x ? last_x : x0 + 1) * 3;
		}
		for (int y = 0; y < out_h; y++) {
			float *o = out + ((size_t)y * (size_t)out_w + (size_t)x_start) * (size_t)channels;
			float sy = m[4] * ((float)y + 0.5f) + m[5];
			if (!(sy >= 0.0f && sy <= height) || first >= end) {
				fill(o, (size_t)columns * (size_t)channels, border_value);
				continue;
			}
			float v = sy - 0.5f;
			int y0 = floor_from_minus_one(v);
			float fy = v - (float)y0;
			float wy0 = (1.0f - fy) * scale, wy1 = fy * scale;
			int ya = y0 < 0 ? 0 : y0, yb = y0 + 1 > last_y ? last_y : y0 + 1;
			const uint8_t *ra = image->pixels + (size_t)ya * (size_t)image->stride;
			const uint8_t *rb = image->pixels + (size_t)yb * (size_t)image->stride;
			fill(o, (size_t)first * (size_t)channels, border_value);
			for (int i = first; i < end; i++) {
				blend(o + (size_t)i * (size_t)channels, channels, ra + col_a[i], ra + col_b[i],
				      rb + col_a[i], rb + col_b[i], col_w0[i] * wy0, col_w1[i] * wy0, col_w0[i] * wy1,
				      col_w1[i] * wy1, offset);
			}
			fill(o + (size_t)end * (size_t)channels, (size_t)(columns - end) * (size_t)channels,
			     border_value);
		}
	}
}

static inline void sample_affine(const face_image *image, const float m[6], int out_w, int out_h, int channels,
                                 float scale, float offset, float border, float *out)
{
	const float width = (float)image->width, height = (float)image->height;
	const float border_value = border * scale + offset;
	const int last_x = image->width - 1, last_y = image->height - 1;
	float *o = out;
	for (int y = 0; y < out_h; y++) {
		float cy = (float)y + 0.5f;
		float row_x = m[1] * cy + m[2], row_y = m[4] * cy + m[5];
		for (int x = 0; x < out_w; x++, o += channels) {
			float cx = (float)x + 0.5f;
			float sx = m[0] * cx + row_x, sy = m[3] * cx + row_y;
			if (!(sx >= 0.0f && sx <= width && sy >= 0.0f && sy <= height)) {
				fill(o, (size_t)channels, border_value);
				continue;
			}
			float u = sx - 0.5f, v = sy - 0.5f;
			int x0 = floor_from_minus_one(u), y0 = floor_from_minus_one(v);
			float fx = u - (float)x0, fy = v - (float)y0;
			int xa = x0 < 0 ? 0 : x0, xb = x0 + 1 > last_x ? last_x : x0 + 1;
			int ya = y0 < 0 ? 0 : y0, yb = y0 + 1 > last_y ? last_y : y0 + 1;
			const uint8_t *ra = image->pixels + (size_t)ya * (size_t)image->stride;
			const uint8_t *rb = image->pixels + (size_t)yb * (size_t)image->stride;
			float wy0 = (1.0f - fy) * scale, wy1 = fy * scale;
			blend(o, channels, ra + xa * 3, ra + xb * 3, rb + xa * 3, rb + xb * 3, (1.0f - fx) * wy0,
			      fx * wy0, (1.0f - fx) * wy1, fx * wy1, offset);
		}
	}
}

void face_image_sample(const face_image *image, const float m[6], int out_w, int out_h, int channels, float scale,
                       float offset, float border, float *out)
{
	/* Breaking these would write out of bounds or read a missing picture: programmer errors. */
	MIEN_ASSERT(image != NULL && image->pixels != NULL && image->width >= 1 && image->height >= 1);
	MIEN_ASSERT(image->stride >= 3 * image->width);
	MIEN_ASSERT(m != NULL && (channels == 1 || channels == 3));
	if (out_w <= 0 || out_h <= 0)
		return;
	MIEN_ASSERT(out != NULL);
	/* Literal channel counts, so that each inlined loop is compiled for one layout. */
	int scaled = m[1] == 0.0f && m[3] == 0.0f;
	if (scaled && channels == 3)
		sample_scaled(image, m, out_w, out_h, 3, scale, offset, border, out);
	else if (scaled)
		sample_scaled(image, m, out_w, out_h, 1, scale, offset, border, out);
	else if (channels == 3)
		sample_affine(image, m, out_w, out_h, 3, scale, offset, border, out);
	else
		sample_affine(image, m, out_w, out_h, 1, scale, offset, border, out);
}

void face_image_rect_map(float x, float y, float w, float h, int out_w, int out_h, float m[6])
{
	/* Output pixel edges 0 and out_w land on x and x + w. */
	m[0] = out_w > 0 ? w / (float)out_w : 0.0f;
	m[1] = 0.0f;
	m[2] = x;
	m[3] = 0.0f;
	m[4] = out_h > 0 ? h / (float)out_h : 0.0f;
	m[5] = y;
}

int face_image_crop(const face_image *image, float x, float y, float w, float h, int out_w, int out_h, face_image **out,
                    mien_error *err)
{
	if (out == NULL)
		return mien_error_set(err, MIEN_EINVAL, "image: no output pointer");
	*out = NULL;
	if (image == NULL || image->pixels == NULL || image->width < 1 || image->height < 1)
		return mien_error_set(err, MIEN_EINVAL, "image: nothing to crop");
	if (!isfinite(x) || !isfinite(y) || !isfinite(w) || !isfinite(h))
		return mien_error_set(err, MIEN_ERANGE, "image: crop rectangle is not finite");
	float x0 = x > 0.0f ? x : 0.0f, y0 = y > 0.0f ? y : 0.0f;
	float x1 = x + w < (float)image->width ? x + w : (float)image->width;
	float y1 = y + h < (float)image->height ? y + h : (float)image->height;
	if (!(x1 > x0 && y1 > y0))
		return mien_error_set(err, MIEN_ERANGE, "image: crop (%g, %g, %g, %g) misses the %dx%d picture",
		                      (double)x, (double)y, (double)w, (double)h, image->width, image->height);

	face_image *crop = NULL;
	float *row = NULL;
	int rc = face_image_create(out_w, out_h, 0, &crop, err);
	if (rc)
		goto fail;
	row = malloc((size_t)out_w * 3 * sizeof(*row));
	if (row == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "image: out of memory for a %d-pixel row", out_w);
		goto fail;
	}
	float m[6];
	face_image_rect_map(x0, y0, x1 - x0, y1 - y0, out_w, out_h, m);
	float row_m[6] = { m[0], m[1], m[2], m[3], m[4], m[5] };
	for (int r = 0; r < out_h; r++) {
		row_m[5] = m[5] + m[4] * (float)r; /* one output row at a time: row r of the full map */
		face_image_sample(image, row_m, out_w, 1, 3, 1.0f, 0.0f, 0.0f, row);
		uint8_t *d = crop->pixels + (size_t)r * (size_t)crop->stride;
		for (int i = 0; i < out_w * 3; i++) {
			float v = row[i] + 0.5f;
			d[i] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
		}
	}
	free(row);
	*out = crop;
	return MIEN_OK;

fail:
	free(row);
	face_image_free(&crop);
	return rc;
}
