/*
 * image.h — decoded pictures: JPEG, PNG and WebP in, JPEG out, and the resampling the face models need.
 *
 * A face_image is always 8-bit RGB, interleaved, rows `stride` bytes apart: grey and 16-bit sources are
 * converted on decode, EXIF orientation (JPEG APP1) is applied, so callers see the picture upright.
 * Decoding is defensive: the pixel count is checked from the header against a cap before any large
 * allocation, and corrupt or truncated input is an error, never a crash.
 */
#ifndef MIEN_FACE_IMAGE_H
#define MIEN_FACE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

#define FACE_IMAGE_DEFAULT_MAX_PIXELS ((int64_t)50 * 1000 * 1000)

typedef struct face_image {
	int width, height;
	int stride;          /* bytes per row, >= 3 * width */
	uint8_t *pixels;     /* owned; RGB */
	int source_channels; /* 1 (grey), 2 (grey+alpha), 3 (RGB), 4 (RGBA) as stored in the file */
	int source_bits;     /* 8 or 16 */
	int orientation;     /* the EXIF orientation that was applied (1 = none) */
} face_image;

/* Allocates a zeroed width x height RGB image. MIEN_ERANGE when a side is < 1 or the pixel count exceeds
 * max_pixels (0 = FACE_IMAGE_DEFAULT_MAX_PIXELS). Caller frees with face_image_free. */
int face_image_create(int width, int height, int64_t max_pixels, face_image **out, mien_error *err);
void face_image_free(face_image **image);

/* Decodes JPEG, PNG or WebP (sniffed from the bytes, not the name: a WebP named .jpg works). `max_pixels` 0 = the
 * default cap. Errors: MIEN_EFORMAT (not an image, corrupt, truncated), MIEN_ETOOBIG (over the cap), MIEN_EUNSUPPORTED
 * (e.g. CMYK JPEG, animated WebP), MIEN_ENOMEM. */
int face_image_decode(const void *data, size_t size, int64_t max_pixels, face_image **out, mien_error *err);

/* Reads and decodes a file (at most 256 MiB of bytes). */
int face_image_load(const char *path, int64_t max_pixels, face_image **out, mien_error *err);

/* Encodes as baseline JPEG (quality 1..100). *out is malloc'd; caller frees with free. */
int face_image_encode_jpeg(const face_image *image, int quality, uint8_t **out, size_t *size, mien_error *err);

/*
 * Samples the image into a float tensor [out_h, out_w, channels] (channels 3 = RGB, 1 = grey as
 * 0.299R+0.587G+0.114B) through an affine map: output pixel centre (x+0.5, y+0.5) comes from source point
 * (m[0]*(x+0.5) + m[1]*(y+0.5) + m[2], m[3]*(x+0.5) + m[4]*(y+0.5) + m[5]) in pixel-centre coordinates
 * (the source pixel i covers [i, i+1)), bilinear, with samples outside the image taking `border` (0..255).
 * Each value is v * scale + offset (e.g. scale 1/127.5, offset -1 for [-1,1]). `out` holds out_w*out_h*channels
 * floats. Used both for plain resizing (m = a scale) and for face alignment (m = a similarity transform).
 */
void face_image_sample(const face_image *image, const float m[6], int out_w, int out_h, int channels, float scale,
                       float offset, float border, float *out);

/* The affine map for face_image_sample that resizes the rectangle (x, y, w, h) of the source onto an
 * out_w x out_h output (no rotation). */
void face_image_rect_map(float x, float y, float w, float h, int out_w, int out_h, float m[6]);

/* Copies the rectangle (clipped to the image) into a new image, scaled to out_w x out_h (bilinear); for
 * thumbnails. Caller frees with face_image_free. */
int face_image_crop(const face_image *image, float x, float y, float w, float h, int out_w, int out_h, face_image **out,
                    mien_error *err);

/* --- drawing (the live view) --------------------------------------------------------------------------- */

/* mien's bitmap font: 5x7 glyphs for printable ASCII; a label shows at most FACE_LABEL_CHARS characters. */
#define FACE_FONT_W      5
#define FACE_FONT_H      7
#define FACE_LABEL_CHARS 48
/* The glyph of printable ASCII character c: seven rows of five '.' or '#' (inked), separated by one space, top row
 * first; NULL outside ' '..'~'. */
const char *face_font_glyph(int c);
/* A rectangle outline `thickness` pixels on each side of the box's edges, clipped to the picture. */
void face_image_draw_box(face_image *image, const float box[4], const uint8_t rgb[3], int thickness);
/* The size of a label of UTF-8 `text` at `scale` (each font pixel scale x scale, 1 .. 64): 6 x 9 font pixels a
 * character plus one column, 0 for empty text or a scale out of range. Characters outside printable ASCII show as one
 * '?' per code point. */
int face_image_text_width(const char *text, int scale);
int face_image_text_height(int scale);
/* The font pixel scale for the labels of a picture `height` lines tall that is shown at about its own size (the live
 * view sends pictures sized for the viewer's tile): max(2, height / 240), so that a glyph is at least 14 px tall
 * on a tile of 240 px and grows with the picture (3 at 720 lines, 4 at 1080), at most 64. 2 for a height <= 0. */
int face_label_scale(int height);
/* Draws `text` in `fg` on a `bg` rectangle of that size with its top-left corner at (x, y), clipped to the
 * picture. */
void face_image_draw_label(face_image *image, int x, int y, int scale, const char *text, const uint8_t fg[3],
                           const uint8_t bg[3]);
/* Where n labels of sizes[i] (w, h) go, one per box (x, y, w, h) of a width x height picture, `gap` pixels from
 * it: above the box, else below it, else inside its top edge, whichever first stays in the picture and clear of
 * the labels placed before it (earlier labels win); above (or below at the top edge) when none is. Writes the
 * top-left corners to out. */
void face_labels_place(const float (*boxes)[4], const int (*sizes)[2], int n, int width, int height, int gap,
                       int (*out)[2]);

#endif
