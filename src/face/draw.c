/*
 * draw.c — what the live view draws on a camera picture: box outlines and text labels (a name, an expression)
 * in a 5x7 bitmap font made for mien, so that the binary needs no font file or font library.
 */
#include "face/face.h"
#include "face/image.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The printable ASCII characters, each seven rows of five columns, '#' inked, top row first. */
static const char *const font[95] = {
	[' ' - ' '] = "..... ..... ..... ..... ..... ..... .....",
	['!' - ' '] = "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
	['"' - ' '] = ".#.#. .#.#. ..... ..... ..... ..... .....",
	['#' - ' '] = ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
	['$' - ' '] = "..#.. .#### #.#.. .###. ..#.# ####. ..#..",
	['%' - ' '] = "##... ##..# ...#. ..#.. .#... #..## ...##",
	['&' - ' '] = ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",
	['\'' - ' '] = "..#.. ..#.. ..... ..... ..... ..... .....",
	['(' - ' '] = "...#. ..#.. .#... .#... .#... ..#.. ...#.",
	[')' - ' '] = ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
	['*' - ' '] = "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
	['+' - ' '] = "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
	[',' - ' '] = "..... ..... ..... ..... .##.. ..#.. .#...",
	['-' - ' '] = "..... ..... ..... ##### ..... ..... .....",
	['.' - ' '] = "..... ..... ..... ..... ..... .##.. .##..",
	['/' - ' '] = "..... ....# ...#. ..#.. .#... #.... .....",
	['0' - ' '] = ".###. #...# #..## #.#.# ##..# #...# .###.",
	['1' - ' '] = "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
	['2' - ' '] = ".###. #...# ....# ...#. ..#.. .#... #####",
	['3' - ' '] = "##### ...#. ..#.. ...#. ....# #...# .###.",
	['4' - ' '] = "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
	['5' - ' '] = "##### #.... ####. ....# ....# #...# .###.",
	['6' - ' '] = "..##. .#... #.... ####. #...# #...# .###.",
	['7' - ' '] = "##### ....# ...#. ..#.. .#... .#... .#...",
	['8' - ' '] = ".###. #...# #...# .###. #...# #...# .###.",
	['9' - ' '] = ".###. #...# #...# .#### ....# ...#. .##..",
	[':' - ' '] = "..... .##.. .##.. ..... .##.. .##.. .....",
	[';' - ' '] = "..... .##.. .##.. ..... .##.. ..#.. .#...",
	['<' - ' '] = "...#. ..#.. .#... #.... .#... ..#.. ...#.",
	['=' - ' '] = "..... ..... ##### ..... ##### ..... .....",
	['>' - ' '] = ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
	['?' - ' '] = ".###. #...# ....# ...#. ..#.. ..... ..#..",
	['@' - ' '] = ".###. #...# ....# .##.# #.#.# #.#.# .###.",
	['A' - ' '] = ".###. #...# #...# ##### #...# #...# #...#",
	['B' - ' '] = "####. #...# #...# ####. #...# #...# ####.",
	['C' - ' '] = ".###. #...# #.... #.... #.... #...# .###.",
	['D' - ' '] = "###.. #..#. #...# #...# #...# #..#. ###..",
	['E' - ' '] = "##### #.... #.... ####. #.... #.... #####",
	['F' - ' '] = "##### #.... #.... ####. #.... #.... #....",
	['G' - ' '] = ".###. #...# #.... #.### #...# #...# .####",
	['H' - ' '] = "#...# #...# #...# ##### #...# #...# #...#",
	['I' - ' '] = ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
	['J' - ' '] = "..### ...#. ...#. ...#. ...#. #..#. .##..",
	['K' - ' '] = "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
	['L' - ' '] = "#.... #.... #.... #.... #.... #.... #####",
	['M' - ' '] = "#...# ##.## #.#.# #.#.# #...# #...# #...#",
	['N' - ' '] = "#...# #...# ##..# #.#.# #..## #...# #...#",
	['O' - ' '] = ".###. #...# #...# #...# #...# #...# .###.",
	['P' - ' '] = "####. #...# #...# ####. #.... #.... #....",
	['Q' - ' '] = ".###. #...# #...# #...# #.#.# #..#. .##.#",
	['R' - ' '] = "####. #...# #...# ####. #.#.. #..#. #...#",
	['S' - ' '] = ".#### #.... #.... .###. ....# ....# ####.",
	['T' - ' '] = "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
	['U' - ' '] = "#...# #...# #...# #...# #...# #...# .###.",
	['V' - ' '] = "#...# #...# #...# #...# #...# .#.#. ..#..",
	['W' - ' '] = "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
	['X' - ' '] = "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
	['Y' - ' '] = "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
	['Z' - ' '] = "##### ....# ...#. ..#.. .#... #.... #####",
	['[' - ' '] = ".###. .#... .#... .#... .#... .#... .###.",
	['\\' - ' '] = "..... #.... .#... ..#.. ...#. ....# .....",
	[']' - ' '] = ".###. ...#. ...#. ...#. ...#. ...#. .###.",
	['^' - ' '] = "..#.. .#.#. #...# ..... ..... ..... .....",
	['_' - ' '] = "..... ..... ..... ..... ..... ..... #####",
	['`' - ' '] = ".#... ..#.. ..... ..... ..... ..... .....",
	['a' - ' '] = "..... ..... .###. ....# .#### #...# .####",
	['b' - ' '] = "#.... #.... #.##. ##..# #...# #...# ####.",
	['c' - ' '] = "..... ..... .###. #.... #.... #...# .###.",
	['d' - ' '] = "....# ....# .##.# #..## #...# #...# .####",
	['e' - ' '] = "..... ..... .###. #...# ##### #.... .###.",
	['f' - ' '] = "..##. .#..# .#... ###.. .#... .#... .#...",
	['g' - ' '] = "..... .#### #...# #...# .#### ....# .###.",
	['h' - ' '] = "#.... #.... #.##. ##..# #...# #...# #...#",
	['i' - ' '] = "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",
	['j' - ' '] = "...#. ..... ..##. ...#. ...#. #..#. .##..",
	['k' - ' '] = "#.... #.... #..#. #.#.. ##... #.#.. #..#.",
	['l' - ' '] = ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
	['m' - ' '] = "..... ..... ##.#. #.#.# #.#.# #...# #...#",
	['n' - ' '] = "..... ..... #.##. ##..# #...# #...# #...#",
	['o' - ' '] = "..... ..... .###. #...# #...# #...# .###.",
	['p' - ' '] = "..... ..... ####. #...# ####. #.... #....",
	['q' - ' '] = "..... ..... .##.# #..## .#### ....# ....#",
	['r' - ' '] = "..... ..... #.##. ##..# #.... #.... #....",
	['s' - ' '] = "..... ..... .###. #.... .###. ....# ####.",
	['t' - ' '] = ".#... .#... ###.. .#... .#... .#..# ..##.",
	['u' - ' '] = "..... ..... #...# #...# #...# #..## .##.#",
	['v' - ' '] = "..... ..... #...# #...# #...# .#.#. ..#..",
	['w' - ' '] = "..... ..... #...# #...# #.#.# #.#.# .#.#.",
	['x' - ' '] = "..... ..... #...# .#.#. ..#.. .#.#. #...#",
	['y' - ' '] = "..... ..... #...# #...# .#### ....# .###.",
	['z' - ' '] = "..... ..... ##### ...#. ..#.. .#... #####",
	['{' - ' '] = "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.",
	['|' - ' '] = "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
	['}' - ' '] = ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...",
	['~' - ' '] = "..... ..... .#... #.#.# ...#. ..... .....",
};

/* A character cell: the glyph with a one-pixel margin to its right, above and below; a label adds one more column
 * on the left. Font pixels are drawn scale x scale, scale 1 .. SCALE_MAX. */
#define CELL_W    (FACE_FONT_W + 1)
#define CELL_H    (FACE_FONT_H + 2)
#define SCALE_MAX 64

const char *face_font_glyph(int c)
{
	return c >= ' ' && c <= '~' ? font[c - ' '] : NULL;
}

/* The next character to draw from UTF-8 text: printable ASCII as itself, anything else (a control byte, one
 * whole multi-byte sequence, a stray byte) as '?'. Advances *s; 0 at the end. */
static int next_char(const char **s)
{
	const unsigned char *p = (const unsigned char *)*s;
	if (*p == 0)
		return 0;
	if (*p < 0x80) {
		*s += 1;
		return *p >= ' ' && *p <= '~' ? *p : '?';
	}
	p++;
	while ((*p & 0xC0) == 0x80) /* continuation bytes belong to the same code point */
		p++;
	*s = (const char *)p;
	return '?';
}

int face_image_text_width(const char *text, int scale)
{
	int n = 0;
	if (scale < 1 || scale > SCALE_MAX)
		return 0;
	while (text && n < FACE_LABEL_CHARS && next_char(&text))
		n++;
	return n ? n * CELL_W * scale + scale : 0;
}

int face_image_text_height(int scale)
{
	return scale < 1 || scale > SCALE_MAX ? 0 : CELL_H * scale;
}

int face_label_scale(int height)
{
	int scale = height / 240;
	return scale < 2 ? 2 : scale > SCALE_MAX ? SCALE_MAX : scale;
}

static void fill_rect(face_image *img, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
	x0 = x0 < 0 ? 0 : x0;
	y0 = y0 < 0 ? 0 : y0;
	x1 = x1 > img->width ? img->width : x1;
	y1 = y1 > img->height ? img->height : y1;
	for (int y = y0; y < y1; y++) {
		uint8_t *row = img->pixels + (size_t)y * (size_t)img->stride;
		for (int x = x0; x < x1; x++)
			memcpy(row + (size_t)x * 3, rgb, 3);
	}
}

void face_image_draw_box(face_image *img, const float box[4], const uint8_t rgb[3], int thickness)
{
	if (!(box[2] > 0 && box[3] > 0) || !isfinite(box[0] + box[1] + box[2] + box[3]) || thickness < 1)
		return;
	/* far outside is as good as just outside, and keeps the int conversions defined */
	const float lim = 1e6f;
	int x0 = (int)fmaxf(-lim, fminf(lim, box[0])), y0 = (int)fmaxf(-lim, fminf(lim, box[1]));
	int x1 = (int)fmaxf(-lim, fminf(lim, box[0] + box[2])), y1 = (int)fmaxf(-lim, fminf(lim, box[1] + box[3]));
	int t = thickness;
	fill_rect(img, x0 - t, y0 - t, x1 + t + 1, y0 + t, rgb);         /* top */
	fill_rect(img, x0 - t, y1 - t + 1, x1 + t + 1, y1 + t + 1, rgb); /* bottom */
	fill_rect(img, x0 - t, y0 + t, x0 + t, y1 - t + 1, rgb);         /* left */
	fill_rect(img, x1 - t + 1, y0 + t, x1 + t + 1, y1 - t + 1, rgb); /* right */
}

void face_image_draw_label(face_image *img, int x, int y, int scale, const char *text, const uint8_t fg[3],
                           const uint8_t bg[3])
{
	int w = face_image_text_width(text, scale), h = face_image_text_height(scale);
	if (w == 0)
		return;
	fill_rect(img, x, y, x + w, y + h, bg);
	const char *s = text;
	int c;
	for (int i = 0; i < FACE_LABEL_CHARS && (c = next_char(&s)) != 0; i++) {
		const char *g = face_font_glyph(c);
		int left = x + scale + i * CELL_W * scale, top = y + scale;
		for (int row = 0; row < FACE_FONT_H; row++) {
			for (int col = 0; col < FACE_FONT_W; col++) {
				if (g[row * (FACE_FONT_W + 1) + col] != '#')
					continue;
				fill_rect(img, left + col * scale, top + row * scale, left + (col + 1) * scale,
				          top + (row + 1) * scale, fg);
			}
		}
	}
}

void face_live_label(char *out, size_t size, const char *name, const face_result *face, int show_expression)
{
	if (!out || size == 0)
		return;
	int n = snprintf(out, size, "%s", name && *name ? name : "unknown");
	if (!show_expression || !face || !face->has_expression || n < 0 || (size_t)n >= size)
		return;
	snprintf(out + n, size - (size_t)n, " %s", face_expression_names[face_dominant_expression(face)]);
}

/* Whether two rectangles (x, y, w, h) share any pixel. */
static int overlap(const int a[4], const int b[4])
{
	return a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
}

void face_labels_place(const float (*boxes)[4], const int (*sizes)[2], int n, int width, int height, int gap,
                       int (*out)[2])
{
	for (int i = 0; i < n; i++) {
		const float *b = boxes[i];
		int w = sizes[i][0], h = sizes[i][1];
		int x = (int)fmaxf(0.0f, fminf(b[0] - (float)gap, (float)(width - w)));
		/* the candidates: above the box, below it, inside its top edge */
		int ys[3] = { (int)(b[1] - (float)gap) - h, (int)(b[1] + b[3]) + gap + 1, (int)b[1] + gap };
		int chosen = -1;
		for (int k = 0; k < 3 && chosen < 0; k++) {
			int r[4] = { x, ys[k], w, h };
			if (ys[k] < 0 || ys[k] + h > height)
				continue;
			int free = 1;
			for (int j = 0; j < i && free; j++) {
				int q[4] = { out[j][0], out[j][1], sizes[j][0], sizes[j][1] };
				free = !overlap(r, q);
			}
			if (free)
				chosen = k;
		}
		/* nowhere free: above the box when it fits in the picture, else below */
		if (chosen < 0)
			chosen = ys[0] >= 0 ? 0 : 1;
		out[i][0] = x;
		out[i][1] = ys[chosen];
	}
}
