/*
 * detect.c — face detection: pre-processing, per-model output decoding, grid and tile passes, weighted NMS.
 *
 * Every pass samples one rectangle of the picture (the whole picture, or a tile) into the input of one of
 * the detector's runtimes through face_image_sample, decodes the model's outputs into candidate boxes in
 * picture pixels and appends them to one candidate buffer sized at creation. After the last pass the
 * candidates are merged with weighted NMS.
 *
 * Passes. Every picture gets a whole-picture pass at the model's own square input (large faces); for
 * blazeface-back it is zoomed out, and the margins beside the picture mirror it, which completes faces cut
 * by the picture's left or right side (mirror_margins). Small faces need the picture at a scale where
 * min_face is still large enough for the model:
 *  - blazeface-back is fully convolutional, so it runs once more on a large grid (input W x H, multiples
 *    of 32) holding the whole picture at the scale where min_face lands at GRID_FACE_MIN input pixels,
 *    letterboxed, capped at grid_max_side. One grid pass costs what its input area costs (3.7 ms per 256²
 *    at one thread, bench/detect/grid.c), against tiles that overlap by 30 % and come in several levels:
 *    on 1920x1080 with min_face 24, 1280x736 (14 units of 256²) instead of ~52 tiles.
 *    Grid sides are rounded up coarsely (grid_side_for). Grid runtimes are created on the first picture
 *    that needs that size and cached (MAX_GRIDS - 1 of them, 120-160 MB each at the 1280 cap); a cached
 *    grid within GRID_SHRINK / GRID_REUSE of the need is reused, otherwise the least recently used one
 *    gives way. A stream of one picture size thus allocates once; photos of similar sizes share a grid.
 *    Faces taller than GRID_FACE_MAX input pixels in the grid are left to the whole-picture pass (which
 *    sees them at >= 25 input pixels): at the grid's scale the model answers parts of large faces.
 *  - the other detectors take fixed inputs: overlapping square tiles at that scale, in levels (plan_tiles).
 * Nothing allocates per picture except the creation of a grid runtime for a size not seen before.
 *
 * Decoding facts and where they come from:
 *  - blazeface-back: MediaPipe's face_detection_back anchors (SsdAnchorsCalculator: 256², strides 16, 32,
 *    32, 32, fixed-size anchors, offset 0.5): 16² cells × 2 anchors at stride 16, then 8² cells × 6 anchors
 *    at stride 32, anchors of one cell adjacent. @vladmandic/human's blazeface.ts concatenates the two
 *    TF.js outputs in that order (the 512 set first) and decodes centre = anchor + regressor[0..1],
 *    size = regressor[2..3], all in input pixels; keypoint k = anchor + regressor[4 + 2k .. 5 + 2k]
 *    (MediaPipe's TensorsToDetections, keypoint_coord_offset 4). Score = sigmoid(logit).
 *  - ssd_mobilenetv1: the engine's outputs are already decoded (face-api outputLayer.ts): boxes
 *    [y0, x0, y1, x1] relative to the input, scores after the sigmoid; face-api then runs NMS with IoU 0.5
 *    (SsdMobilenetv1.ts), as we do per pass with nn_nms.
 *  - tiny_face_detector: face-api TinyYolov2Base.extractBoxes: grid [G, G, 5 anchors × (x, y, w, h, score)],
 *    centre = (cell + sigmoid(x, y)) / G, size = exp(w, h) × anchor / G (relative to the padded square input),
 *    score = sigmoid; anchors from tinyFaceDetector/const.ts. face-api pads the picture to a square at the
 *    right or bottom with zeros before resizing (padToSquare, isCenterImage false), for both face-api models.
 */
#include "face/detect.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

enum detector_kind {
	KIND_BLAZEFACE = 0,
	KIND_SSD = 1,
	KIND_TINY = 2,
};

typedef struct detector_spec {
	const char *name;
	enum detector_kind kind;
	int input_size;  /* the square input the runtime is created at */
	float scale;     /* input value = pixel * scale + offset */
	float offset;    /* */
	int centre;      /* a picture narrower than the input square is centred (1) or at the top-left (0) */
	float threshold; /* default score threshold of the whole-picture pass */
	/* Tiles look at many more windows of the picture, so chance responses pass a threshold more often: tile
	 * candidates need at least this score (when above `threshold`). Tuned on the shared labelled set. */
	float tile_threshold;
	/* Face heights, in model-input pixels, that one pass finds reliably (bench/detect/measure.c, sweep):
	 * tiles are scaled so that min_face lands at face_min, and a tile level is responsible for faces
	 * up to face_max. */
	float face_min;
	float face_max;
	/* Resizable models: candidates from the grid pass need this score (0 = no grid pass). */
	float grid_threshold;
} detector_spec;

static const detector_spec SPECS[] = {
	{ "blazeface-back", KIND_BLAZEFACE, 256, 1.0f / 127.5f, -1.0f, 1, 0.5f, 0.7f, 20.0f, 160.0f, 0.7f },
	{ "ssd_mobilenetv1", KIND_SSD, 512, 1.0f, 0.0f, 0, 0.5f, 0.7f, 64.0f, 224.0f, 0.0f },
	{ "tiny_face_detector", KIND_TINY, 416, 1.0f, 0.0f, 0, 0.5f, 0.7f, 48.0f, 128.0f, 0.0f },
};

/* face-api tinyFaceDetector/const.ts BOX_ANCHORS, in grid cells (width, height). */
static const float TINY_ANCHORS[5][2] = {
	{ 1.603231f, 2.094468f }, { 6.041143f, 7.080126f }, { 2.882459f, 3.518061f },
	{ 4.266906f, 5.178857f }, { 9.041765f, 10.66308f },
};

#define DEFAULT_IOU       0.3f
#define DEFAULT_MIN_FACE  24
#define DEFAULT_MAX_TILES 64
/* Hard cap on candidate boxes kept between passes; when full, the buffer is merged in place. */
#define MAX_CANDIDATES 4096
/* Hard NMS inside one SSD pass, as face-api does (SsdMobilenetv1.ts iouThreshold). */
#define SSD_PASS_IOU 0.5f
/* A tile drops boxes that come within TILE_MARGIN of its side of an edge shared with another tile: a face
 * cut by the tile edge is whole in a neighbouring tile, since neighbours share TILE_OVERLAP of their side.
 * A tile level is thus responsible for faces up to (TILE_OVERLAP - 2 TILE_MARGIN) of its side. */
#define TILE_MARGIN  0.03f
#define TILE_OVERLAP 0.3f
/* The grid pass: the face height, in input pixels, that min_face is scaled to (blazeface-back finds all
 * faces 16-64 px tall at its input, 86 % at 12 px: bench/detect/measure.c sweep). */
#define GRID_FACE_MIN     16.0f
#define GRID_FACE_MAX     128.0f
#define DEFAULT_GRID_SIDE 1280
#define GRID_ALIGN        32 /* the coarsest stride: grid sides are multiples */
#define MAX_GRIDS         3  /* [0] the model's square input, [1..] grid runtimes created on demand */
/* face_detect_regions: a window REGION_SCALE times a predicted face, at REGION_INPUT² for resizable models (the
 * face then lands at ~51 input pixels, inside the 16-128 px blazeface-back finds reliably) */
#define REGION_GRID MAX_GRIDS
/* Strips of a scan in parts overlap by this many grid pixels: GRID_FACE_MAX and the margins of both strips. */
#define STRIP_OVERLAP (GRID_FACE_MAX * 1.25f)
#define REGION_SCALE  2.5f
#define REGION_INPUT  128
/* A cached grid serves a picture needing up to 1/GRID_SHRINK more on a side (min_face then lands at
 * >= GRID_SHRINK * GRID_FACE_MIN input pixels) and up to GRID_REUSE times less area. */
#define GRID_SHRINK 0.92f
#define GRID_REUSE  1.35f

/* One runtime of the model at one input size, with its outputs bound. */
typedef struct grid_rt {
	nn_runtime *runtime;
	float *input;
	int w, h;
	int out_reg[2], out_logit[2]; /* blazeface: [0] stride-16 set, [1] stride-32 set */
	int n_anchor[2];
	unsigned long used; /* last use, for eviction */
} grid_rt;

typedef struct tile {
	float x, y, w, h; /* rectangle of the picture mapped onto a runtime's whole input; may reach past the
	                     picture; w/h is the input's aspect ratio */
	int interior;     /* bit 0..3: left, top, right, bottom edge is shared with another tile */
	int grid;         /* the runtime: index into face_detector.grids */
	float threshold;  /* candidates need this score */
	float max_h;      /* and at most this height in input pixels (0 = any) */
	int mirror;       /* the input's margins left and right of the picture hold the picture mirrored at its
	                     sides (mirror_margins); candidates centred outside the picture are dropped */
} tile;

struct face_detector {
	const detector_spec *spec;
	nn_model *model;
	grid_rt grids[MAX_GRIDS + 1]; /* [REGION_GRID]: face_detect_regions' runtime, created on first use */
	unsigned long clock;
	nn_pool *pool;
	int input_size;
	int use_grid;  /* blazeface-back's grid pass instead of tiles */
	int grid_side; /* cap on the grid's long side */
	float score_threshold;
	float tile_threshold;
	float grid_threshold;
	float iou_threshold;
	int min_face;
	int max_tiles;
	/* ssd */
	int out_boxes, out_scores;
	int n_ssd;
	int *nms_keep, *nms_scratch;
	/* tiny */
	int out_grid;
	int grid;
	/* per picture */
	float picture_w;
	tile *tiles;
	size_t tiles_cap;
	face_detection *candidates;
	size_t n_candidates;
};

const char *face_detector_default(void)
{
	return "blazeface-back";
}

const char *face_detector_model(const face_detector *detector)
{
	return detector ? detector->spec->name : NULL;
}

static float sigmoid(float x)
{
	if (x > 80.0f)
		x = 80.0f;
	else if (x < -80.0f)
		x = -80.0f;
	return 1.0f / (1.0f + expf(-x));
}

static float logit(float p)
{
	if (p <= 0.0f)
		return -INFINITY;
	if (p >= 1.0f)
		return INFINITY;
	return logf(p / (1.0f - p));
}

/* --- weighted NMS --------------------------------------------------------------------------------- */

static float iou(const face_detection *a, const face_detection *b)
{
	float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
	float x1 = fminf(a->x + a->w, b->x + b->w), y1 = fminf(a->y + a->h, b->y + b->h);
	if (x1 <= x0 || y1 <= y0)
		return 0.0f;
	float inter = (x1 - x0) * (y1 - y0);
	float uni = a->w * a->h + b->w * b->h - inter;
	return uni > 0.0f ? inter / uni : 0.0f;
}

static void swap_det(face_detection *a, face_detection *b)
{
	face_detection t = *a;
	*a = *b;
	*b = t;
}

/* Heap sort, best score first (qsort may allocate; this never does). Ties keep no particular order. */
static void sift_down(face_detection *d, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		/* a min-heap on score, so that popping to the end leaves the array in descending order */
		if (child + 1 < n && d[child + 1].score < d[child].score)
			child++;
		if (d[root].score <= d[child].score)
			return;
		swap_det(&d[root], &d[child]);
		root = child;
	}
}

static void sort_by_score(face_detection *d, size_t n)
{
	if (n < 2)
		return;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(d, i, n);
	for (size_t end = n - 1; end > 0; end--) {
		swap_det(&d[0], &d[end]);
		sift_down(d, 0, end);
	}
}

size_t face_detections_merge(face_detection *dets, size_t n, float iou_threshold, float score_threshold)
{
	if (!dets)
		return 0;
	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		if (dets[i].score >= score_threshold && dets[i].w > 0.0f && dets[i].h > 0.0f)
			dets[live++] = dets[i];
	}
	sort_by_score(dets, live);
	/* dets[i].score < 0 marks a box absorbed by a better one. Results go to dets[kept] with kept <= i, so
	 * boxes not yet visited are never overwritten. */
	size_t kept = 0;
	for (size_t i = 0; i < live; i++) {
		if (dets[i].score < 0.0f)
			continue;
		const face_detection top = dets[i];
		double wsum = top.score, x0 = top.score * top.x, y0 = top.score * top.y;
		double x1 = top.score * (top.x + top.w), y1 = top.score * (top.y + top.h);
		double kp[FACE_MAX_KEYPOINTS][2];
		int nk = top.n_keypoints;
		for (int k = 0; k < nk; k++) {
			kp[k][0] = top.score * top.keypoints[k][0];
			kp[k][1] = top.score * top.keypoints[k][1];
		}
		for (size_t j = i + 1; j < live; j++) {
			face_detection *o = &dets[j];
			if (o->score < 0.0f || iou(&top, o) <= iou_threshold)
				continue;
			double s = o->score;
			wsum += s;
			x0 += s * o->x;
			y0 += s * o->y;
			x1 += s * (o->x + o->w);
			y1 += s * (o->y + o->h);
			if (o->n_keypoints < nk)
				nk = o->n_keypoints;
			for (int k = 0; k < nk; k++) {
				kp[k][0] += s * o->keypoints[k][0];
				kp[k][1] += s * o->keypoints[k][1];
			}
			o->score = -1.0f;
		}
		face_detection merged = top; /* the score stays the best one's, as in MediaPipe's weighted NMS */
		merged.x = (float)(x0 / wsum);
		merged.y = (float)(y0 / wsum);
		merged.w = (float)((x1 - x0) / wsum);
		merged.h = (float)((y1 - y0) / wsum);
		merged.n_keypoints = nk;
		for (int k = 0; k < nk; k++) {
			merged.keypoints[k][0] = (float)(kp[k][0] / wsum);
			merged.keypoints[k][1] = (float)(kp[k][1] / wsum);
		}
		dets[kept++] = merged;
	}
	return kept;
}

/* --- candidates ----------------------------------------------------------------------------------- */

/* Adds one candidate (picture pixels). When the buffer is full it is merged in place first; if it is still
 * full the weakest candidate gives way (or the new one is dropped if it is the weakest). */
static void candidate_add(face_detector *d, const face_detection *c)
{
	if (d->n_candidates == MAX_CANDIDATES) {
		d->n_candidates = face_detections_merge(d->candidates, d->n_candidates, d->iou_threshold, 0.0f);
		if (d->n_candidates == MAX_CANDIDATES) {
			/* merged output is sorted: the last is the weakest */
			if (d->candidates[MAX_CANDIDATES - 1].score >= c->score)
				return;
			d->n_candidates--;
		}
	}
	d->candidates[d->n_candidates++] = *c;
}

/* Whether a box (picture pixels) comes too close to an edge the tile shares with another tile. */
static int touches_interior_edge(const tile *t, const face_detection *c)
{
	float mx = TILE_MARGIN * t->w, my = TILE_MARGIN * t->h;
	if ((t->interior & 1) && c->x < t->x + mx)
		return 1;
	if ((t->interior & 2) && c->y < t->y + my)
		return 1;
	if ((t->interior & 4) && c->x + c->w > t->x + t->w - mx)
		return 1;
	if ((t->interior & 8) && c->y + c->h > t->y + t->h - my)
		return 1;
	return 0;
}

/* A box in model-input pixels → picture pixels through the tile's scale, then filtered and added. */
static void candidate_from_input(face_detector *d, const tile *t, const grid_rt *g, float x0, float y0, float x1,
                                 float y1, float score, const float *keypoints, int n_keypoints)
{
	float kx = t->w / (float)g->w, ky = t->h / (float)g->h;
	if (t->max_h > 0.0f && y1 - y0 > t->max_h)
		return;
	face_detection c;
	memset(&c, 0, sizeof(c));
	c.x = t->x + x0 * kx;
	c.y = t->y + y0 * ky;
	c.w = (x1 - x0) * kx;
	c.h = (y1 - y0) * ky;
	c.score = score;
	if (!(c.w > 0.0f && c.h > 0.0f) || !isfinite(c.x) || !isfinite(c.y) || !isfinite(c.w) || !isfinite(c.h))
		return;
	if (touches_interior_edge(t, &c))
		return;
	/* a face inside the picture near its side is seen twice, once mirrored in the margin; a face cut by the
	 * side and completed by its mirror image is centred within the picture, or on its side */
	if (t->mirror && (c.x + c.w / 2 < 0.0f || c.x + c.w / 2 > d->picture_w))
		return;
	c.n_keypoints = n_keypoints;
	for (int i = 0; i < n_keypoints; i++) {
		c.keypoints[i][0] = t->x + keypoints[2 * i] * kx;
		c.keypoints[i][1] = t->y + keypoints[2 * i + 1] * ky;
	}
	candidate_add(d, &c);
}

/* --- decoding, one pass --------------------------------------------------------------------------- */

/* Anchors of any W x H input: per set, cells row-major (W / stride columns), the anchors of one cell
 * adjacent, centres at (cell + 0.5) * stride (the TF.js Reshape keeps NHWC order at every size). */
static void decode_blazeface(face_detector *d, const tile *t, const grid_rt *g)
{
	static const int STRIDE[2] = { 16, 32 };
	static const int PER_CELL[2] = { 2, 6 };
	float min_logit = logit(t->threshold);
	for (int set = 0; set < 2; set++) {
		const float *reg = nn_runtime_output(g->runtime, (size_t)g->out_reg[set], NULL);
		const float *lg = nn_runtime_output(g->runtime, (size_t)g->out_logit[set], NULL);
		int cols = g->w / STRIDE[set];
		for (int a = 0; a < g->n_anchor[set]; a++) {
			if (!(lg[a] >= min_logit))
				continue;
			int cell = a / PER_CELL[set];
			float ax = ((float)(cell % cols) + 0.5f) * (float)STRIDE[set];
			float ay = ((float)(cell / cols) + 0.5f) * (float)STRIDE[set];
			const float *r = reg + (size_t)a * 16;
			float cx = ax + r[0], cy = ay + r[1];
			float kp[2 * FACE_MAX_KEYPOINTS];
			for (int k = 0; k < FACE_MAX_KEYPOINTS; k++) {
				kp[2 * k] = ax + r[4 + 2 * k];
				kp[2 * k + 1] = ay + r[5 + 2 * k];
			}
			candidate_from_input(d, t, g, cx - r[2] / 2, cy - r[3] / 2, cx + r[2] / 2, cy + r[3] / 2,
			                     sigmoid(lg[a]), kp, FACE_MAX_KEYPOINTS);
		}
	}
}

static void decode_ssd(face_detector *d, const tile *t, const grid_rt *g)
{
	const float *boxes = nn_runtime_output(g->runtime, (size_t)d->out_boxes, NULL);
	const float *scores = nn_runtime_output(g->runtime, (size_t)d->out_scores, NULL);
	size_t n = nn_nms(boxes, scores, (size_t)d->n_ssd, SSD_PASS_IOU, t->threshold, (size_t)d->n_ssd, d->nms_keep,
	                  d->nms_scratch);
	float sw = (float)g->w, sh = (float)g->h;
	for (size_t i = 0; i < n; i++) {
		const float *b = boxes + (size_t)d->nms_keep[i] * 4;
		/* face-api clamps to the input (SsdMobilenetv1.ts locateFaces) */
		float y0 = fmaxf(0.0f, b[0]), x0 = fmaxf(0.0f, b[1]);
		float y1 = fminf(1.0f, b[2]), x1 = fminf(1.0f, b[3]);
		candidate_from_input(d, t, g, x0 * sw, y0 * sh, x1 * sw, y1 * sh, scores[d->nms_keep[i]], NULL, 0);
	}
}

static void decode_tiny(face_detector *d, const tile *t, const grid_rt *rt)
{
	const float *grid = nn_runtime_output(rt->runtime, (size_t)d->out_grid, NULL);
	int g = d->grid;
	float cell = (float)rt->w / (float)g;
	float min_logit = logit(t->threshold);
	for (int row = 0; row < g; row++) {
		for (int col = 0; col < g; col++) {
			const float *v = grid + ((size_t)row * g + col) * 25;
			for (int a = 0; a < 5; a++, v += 5) {
				if (!(v[4] >= min_logit))
					continue;
				float cx = ((float)col + sigmoid(v[0])) * cell;
				float cy = ((float)row + sigmoid(v[1])) * cell;
				float w = expf(fminf(v[2], 20.0f)) * TINY_ANCHORS[a][0] * cell;
				float h = expf(fminf(v[3], 20.0f)) * TINY_ANCHORS[a][1] * cell;
				candidate_from_input(d, t, rt, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2,
				                     sigmoid(v[4]), NULL, 0);
			}
		}
	}
}

/*
 * Fills the margins left and right of the picture in g's input (sampled from tile t of a width x height
 * picture) with the picture mirrored at its sides, up to one picture width; rows above and below the
 * picture stay as sampled. Faces are nearly left-right symmetric, so a face cut by the picture's side —
 * someone at the edge of a group photo, a selfie taker close to the camera — becomes a whole face that
 * the model finds, where against a black margin it sees half a face and answers weakly.
 */
static void mirror_margins(const grid_rt *g, const tile *t, int width, int height)
{
	float kx = (float)g->w / t->w, ky = (float)g->h / t->h;
	/* the input columns and rows whose pixel centres lie inside the picture: [c0, c1], [r0, r1] (the
	 * outermost partial columns blend the picture with the black border and are overwritten) */
	int c0 = (int)ceilf(-t->x * kx), c1 = (int)floorf(((float)width - t->x) * kx) - 1;
	int r0 = (int)ceilf(-t->y * ky), r1 = (int)floorf(((float)height - t->y) * ky) - 1;
	if (c0 < 0)
		c0 = 0;
	if (c1 > g->w - 1)
		c1 = g->w - 1;
	if (r0 < 0)
		r0 = 0;
	if (r1 > g->h - 1)
		r1 = g->h - 1;
	if (c1 < c0 || (c0 == 0 && c1 == g->w - 1))
		return;
	for (int y = r0; y <= r1; y++) {
		float *row = g->input + (size_t)y * (size_t)g->w * 3;
		for (int x = 0; x < c0; x++) {
			int src = 2 * c0 - 1 - x;
			if (src <= c1)
				memcpy(row + 3 * x, row + 3 * src, 3 * sizeof(float));
		}
		for (int x = c1 + 1; x < g->w; x++) {
			int src = 2 * c1 + 1 - x;
			if (src >= c0)
				memcpy(row + 3 * x, row + 3 * src, 3 * sizeof(float));
		}
	}
}

static int run_pass(face_detector *d, const face_image *image, const tile *t, mien_error *err)
{
	grid_rt *g = &d->grids[t->grid];
	float m[6];
	face_image_rect_map(t->x, t->y, t->w, t->h, g->w, g->h, m);
	face_image_sample(image, m, g->w, g->h, 3, d->spec->scale, d->spec->offset, 0.0f, g->input);
	if (t->mirror)
		mirror_margins(g, t, image->width, image->height);
	int rc = nn_runtime_run(g->runtime, err);
	if (rc)
		return rc;
	switch (d->spec->kind) {
	case KIND_BLAZEFACE:
		decode_blazeface(d, t, g);
		break;
	case KIND_SSD:
		decode_ssd(d, t, g);
		break;
	case KIND_TINY:
		decode_tiny(d, t, g);
		break;
	}
	return MIEN_OK;
}

/* --- the tile plan -------------------------------------------------------------------------------- */

/* Start positions of tiles of `side` covering [0, length) with at least `overlap` shared between
 * neighbours, evenly spread; returns how many (written to pos when non-NULL). */
static int axis_tiles(float length, float side, float overlap, float *pos, int max)
{
	if (length <= side) {
		if (pos && max > 0)
			pos[0] = 0.0f;
		return 1;
	}
	int n = (int)ceilf((length - overlap) / (side - overlap));
	if (n < 2)
		n = 2;
	if (pos) {
		for (int i = 0; i < n && i < max; i++)
			pos[i] = (length - side) * (float)i / (float)(n - 1);
	}
	return n;
}

/* The largest face, in input pixels, one tile level is responsible for. */
static float level_face_max(const face_detector *d)
{
	float by_overlap = (TILE_OVERLAP - 2.0f * TILE_MARGIN) * (float)d->input_size;
	return fminf(d->spec->face_max, by_overlap);
}

/* The tile side of each level below the whole picture, smallest first, starting at `first`; returns the
 * number of levels and the total tile count in *tiles. */
#define MAX_LEVELS 8
static int plan_levels(const face_detector *d, float w, float h, float first, float *sides, int *tiles)
{
	const detector_spec *s = d->spec;
	float longest = fmaxf(w, h);
	float ratio = level_face_max(d) / s->face_min;
	int levels = 0, total = 0;
	/* each level finds faces from face_min to level_face_max input pixels; the next level starts where
	 * this one stops, and once a tile would be as large as the picture the whole-picture pass takes over */
	for (float side = first; side < longest && levels < MAX_LEVELS; side *= ratio) {
		float overlap = TILE_OVERLAP * side;
		sides[levels++] = side;
		total += axis_tiles(w, side, overlap, NULL, 0) * axis_tiles(h, side, overlap, NULL, 0);
	}
	*tiles = total;
	return levels;
}

#define WHOLE_ZOOM_OUT       1.6f
#define WHOLE_ZOOM_THRESHOLD 0.65f

/* d->tiles[0]: the whole picture in the model's square input (centred or at the top-left). */
static size_t plan_whole(face_detector *d, int width, int height)
{
	float w = (float)width, h = (float)height, longest = fmaxf(w, h);
	tile *whole = &d->tiles[0];
	/* blazeface misses faces taller than ~200 of its 256 input pixels (bench/detect/measure.c sweep), so a
	 * face that fills the picture — a portrait, an ID photo, a tight crop — is seen zoomed out, with a
	 * black margin: WHOLE_ZOOM_OUT puts a picture-filling face at 160 input pixels */
	int zoom = d->spec->kind == KIND_BLAZEFACE;
	if (zoom)
		longest *= WHOLE_ZOOM_OUT;
	whole->w = whole->h = longest;
	whole->x = d->spec->centre ? (w - longest) / 2 : 0.0f;
	whole->y = d->spec->centre ? (h - longest) / 2 : 0.0f;
	whole->interior = 0;
	whole->grid = 0;
	/* zoomed out, a whole group of small faces can pass for one face: ask for more confidence */
	whole->threshold = zoom ? fmaxf(d->score_threshold, WHOLE_ZOOM_THRESHOLD) : d->score_threshold;
	whole->max_h = 0.0f;
	/* the margin beside the picture is at least (WHOLE_ZOOM_OUT - 1) / 2 of its long side: room to complete
	 * faces cut by the picture's left or right side (measured on the shared labelled set: two faces of
	 * deepface's selfie-many-people.jpg, no new false detection) */
	whole->mirror = zoom;
	return 1;
}

/* Fills d->tiles for a w x h picture: the whole picture first, then the tile levels. */
static size_t plan_tiles(face_detector *d, int width, int height)
{
	const detector_spec *s = d->spec;
	float w = (float)width, h = (float)height, n = (float)d->input_size;
	size_t count = plan_whole(d, width, height);

	/* the tile side at which a min_face face lands at face_min input pixels; coarser when over max_tiles */
	float first = (float)d->min_face * n / s->face_min;
	float sides[MAX_LEVELS];
	int total = 0, levels = 0;
	if (d->max_tiles == 0)
		return count;
	for (int tries = 0; tries < 64; tries++, first *= 1.15f) {
		levels = plan_levels(d, w, h, first, sides, &total);
		if (total <= d->max_tiles)
			break;
	}
	if (total > d->max_tiles)
		levels = 0;
	else if (first > (float)d->min_face * n / s->face_min * 1.01f)
		MIEN_LOG_DEBUG_("detect", "%dx%d: max_tiles %d coarsens the smallest face found to %.0f px", width,
		                height, d->max_tiles, first * s->face_min / n);
	for (int l = 0; l < levels; l++) {
		float side = sides[l];
		float overlap = TILE_OVERLAP * side;
		float xs[256], ys[256];
		int nx = axis_tiles(w, side, overlap, xs, 256), ny = axis_tiles(h, side, overlap, ys, 256);
		if (nx > 256 || ny > 256)
			continue;
		for (int iy = 0; iy < ny; iy++) {
			for (int ix = 0; ix < nx && count < d->tiles_cap; ix++) {
				tile *t = &d->tiles[count++];
				t->w = t->h = side;
				t->grid = 0;
				/* an axis shorter than the tile is placed like the whole picture */
				t->x = w <= side ? (s->centre ? (w - side) / 2 : 0.0f) : xs[ix];
				t->y = h <= side ? (s->centre ? (h - side) / 2 : 0.0f) : ys[iy];
				t->interior = (t->x > 0.5f ? 1 : 0) | (t->y > 0.5f ? 2 : 0) |
				              (t->x + side < w - 0.5f ? 4 : 0) | (t->y + side < h - 0.5f ? 8 : 0);
				t->threshold = d->tile_threshold;
				t->max_h = 0.0f;
				t->mirror = 0;
			}
		}
	}
	return count;
}

/* --- create / detect ------------------------------------------------------------------------------ */

static const detector_spec *find_spec(const char *name)
{
	for (size_t i = 0; i < MIEN_ARRAY_LEN(SPECS); i++) {
		if (strcmp(SPECS[i].name, name) == 0)
			return &SPECS[i];
	}
	return NULL;
}

/* Binds blazeface's outputs of one runtime: two regressor outputs [1,A,16] and two logit outputs [1,A,1];
 * the larger A is the stride-16 set, and both must match the runtime's W x H. */
/* Orders a pair of outputs so that the one with more anchors (the stride-16 set) comes first. */
static void larger_first(int index[2], int64_t count[2])
{
	if (count[0] >= count[1])
		return;
	int t = index[0];
	index[0] = index[1];
	index[1] = t;
	int64_t c = count[0];
	count[0] = count[1];
	count[1] = c;
}

static int bind_blazeface(const face_detector *d, grid_rt *g, mien_error *err)
{
	size_t n_out = nn_model_output_count(d->model);
	const char *name = d->spec->name;
	int reg[2] = { -1, -1 }, lg[2] = { -1, -1 };
	int64_t reg_n[2] = { 0, 0 }, lg_n[2] = { 0, 0 };
	for (size_t i = 0; i < n_out; i++) {
		nn_shape s;
		nn_runtime_output(g->runtime, i, &s);
		if (s.rank != 3)
			continue;
		int *slot = s.dims[2] == 16 ? reg : s.dims[2] == 1 ? lg : NULL;
		int64_t *count = s.dims[2] == 16 ? reg_n : lg_n;
		if (!slot)
			continue;
		int k = slot[0] < 0 ? 0 : 1;
		if (k == 1 && slot[1] >= 0)
			return mien_error_set(err, MIEN_EFORMAT, "%s: more than two outputs of width %lld", name,
			                      (long long)s.dims[2]);
		slot[k] = (int)i;
		count[k] = s.dims[1];
	}
	if (reg[1] < 0 || lg[1] < 0)
		return mien_error_set(err, MIEN_EFORMAT, "%s: expected two [1,A,16] and two [1,A,1] outputs", name);
	larger_first(reg, reg_n);
	larger_first(lg, lg_n);
	int64_t a16 = (int64_t)(g->w / 16) * (g->h / 16) * 2, a32 = (int64_t)(g->w / 32) * (g->h / 32) * 6;
	if (reg_n[0] != a16 || reg_n[1] != a32 || lg_n[0] != reg_n[0] || lg_n[1] != reg_n[1])
		return mien_error_set(err, MIEN_EFORMAT,
		                      "%s: outputs of %lld and %lld anchors do not match a %dx%d input (%lld, %lld)",
		                      name, (long long)reg_n[0], (long long)reg_n[1], g->w, g->h, (long long)a16,
		                      (long long)a32);
	for (int k = 0; k < 2; k++) {
		g->out_reg[k] = reg[k];
		g->out_logit[k] = lg[k];
		g->n_anchor[k] = (int)reg_n[k];
	}
	return MIEN_OK;
}

/* Creates the runtime of g (w, h set) and binds its outputs; on failure g is left empty. */
static int grid_open(const face_detector *d, grid_rt *g, mien_error *err)
{
	nn_shape in_shape = nn_model_input_shape(d->model, 0);
	in_shape.dims[0] = 1;
	in_shape.dims[1] = g->h;
	in_shape.dims[2] = g->w;
	in_shape.dims[3] = 3;
	int rc = nn_runtime_create(d->model, &in_shape, d->pool, &g->runtime, err);
	if (rc == MIEN_OK) {
		g->input = nn_runtime_input(g->runtime, 0, NULL);
		if (d->spec->kind == KIND_BLAZEFACE)
			rc = bind_blazeface(d, g, err);
	}
	if (rc) {
		nn_runtime_free(&g->runtime);
		memset(g, 0, sizeof(*g));
	}
	return rc;
}

/* The detector-wide output bindings of the face-api models (their runtime is grids[0]). */
static int bind_outputs(face_detector *d, mien_error *err)
{
	const char *name = d->spec->name;
	nn_runtime *runtime = d->grids[0].runtime;
	switch (d->spec->kind) {
	case KIND_BLAZEFACE:
		return MIEN_OK; /* per runtime, bind_blazeface */
	case KIND_SSD: {
		d->out_boxes = nn_model_output_index(d->model, "boxes");
		d->out_scores = nn_model_output_index(d->model, "scores");
		if (d->out_boxes < 0 || d->out_scores < 0)
			return mien_error_set(err, MIEN_EFORMAT, "%s: outputs boxes and scores expected", name);
		nn_shape b, s;
		nn_runtime_output(runtime, (size_t)d->out_boxes, &b);
		nn_runtime_output(runtime, (size_t)d->out_scores, &s);
		if (b.rank != 3 || b.dims[2] != 4 || s.rank != 2 || s.dims[1] != b.dims[1] || b.dims[1] < 1 ||
		    b.dims[1] > 1000000)
			return mien_error_set(err, MIEN_EFORMAT, "%s: boxes [1,N,4] and scores [1,N] expected", name);
		d->n_ssd = (int)b.dims[1];
		d->nms_keep = malloc(sizeof(int) * (size_t)d->n_ssd);
		d->nms_scratch = malloc(sizeof(int) * (size_t)d->n_ssd);
		if (!d->nms_keep || !d->nms_scratch)
			return mien_error_set(err, MIEN_ENOMEM, "%s: out of memory", name);
		return MIEN_OK;
	}
	case KIND_TINY: {
		d->out_grid = nn_model_output_index(d->model, "grid");
		if (d->out_grid < 0)
			return mien_error_set(err, MIEN_EFORMAT, "%s: output grid expected", name);
		nn_shape g;
		nn_runtime_output(runtime, (size_t)d->out_grid, &g);
		if (g.rank != 4 || g.dims[1] != g.dims[2] || g.dims[3] != 25 || g.dims[1] < 1)
			return mien_error_set(err, MIEN_EFORMAT, "%s: grid [1,G,G,25] expected", name);
		d->grid = (int)g.dims[1];
		return MIEN_OK;
	}
	}
	return mien_error_set(err, MIEN_EINVAL, "%s: unknown detector kind", name);
}

int face_detector_create(const char *model, const char *models_dir, nn_pool *pool, const face_detector_options *options,
                         face_detector **out, mien_error *err)
{
	face_detector *d = NULL;
	int rc = MIEN_OK;
	if (!out)
		return mien_error_set(err, MIEN_EINVAL, "face_detector_create: out is NULL");
	*out = NULL;
	if (!model) {
		const char *env = getenv("MIEN_DETECTOR");
		model = env && *env ? env : face_detector_default();
	}
	const detector_spec *spec = find_spec(model);
	if (!spec)
		return mien_error_set(err, MIEN_EINVAL,
		                      "unknown detector '%s' (blazeface-back, ssd_mobilenetv1, tiny_face_detector)",
		                      model);
	face_detector_options opt = { 0 };
	if (options)
		opt = *options;
	if (opt.score_threshold < 0.0f || opt.score_threshold >= 1.0f || opt.iou_threshold < 0.0f ||
	    opt.iou_threshold >= 1.0f || opt.tile_score_threshold < 0.0f || opt.tile_score_threshold >= 1.0f ||
	    opt.min_face < 0 || opt.max_tiles > 4096 || opt.grid_max_side < 0 || opt.grid_max_side > 8192)
		return mien_error_set(err, MIEN_EINVAL,
		                      "detector options out of range (thresholds in [0,1), min_face >= 0, max_tiles <= "
		                      "4096, grid_max_side in [0, 8192])");

	d = calloc(1, sizeof(*d));
	if (!d)
		return mien_error_set(err, MIEN_ENOMEM, "detector: out of memory");
	d->spec = spec;
	d->input_size = spec->input_size;
	d->score_threshold = opt.score_threshold > 0.0f ? opt.score_threshold : spec->threshold;
	d->tile_threshold = fmaxf(d->score_threshold,
	                          opt.tile_score_threshold > 0.0f ? opt.tile_score_threshold : spec->tile_threshold);
	d->iou_threshold = opt.iou_threshold > 0.0f ? opt.iou_threshold : DEFAULT_IOU;
	d->min_face = opt.min_face > 0 ? opt.min_face : DEFAULT_MIN_FACE;
	d->max_tiles = opt.max_tiles > 0 ? opt.max_tiles : opt.max_tiles < 0 ? 0 : DEFAULT_MAX_TILES;
	d->pool = pool;
	d->grid_threshold = fmaxf(d->score_threshold, spec->grid_threshold);
	d->grid_side = opt.grid_max_side > 0 ? opt.grid_max_side / GRID_ALIGN * GRID_ALIGN : DEFAULT_GRID_SIDE;
	if (d->grid_side < spec->input_size)
		d->grid_side = spec->input_size;

	rc = nn_model_load(spec->name, models_dir, &d->model, err);
	if (rc)
		goto fail;
	nn_shape in_shape = nn_model_input_shape(d->model, 0);
	if (nn_model_input_count(d->model) != 1 || in_shape.rank != 4) {
		rc = mien_error_set(err, MIEN_EFORMAT, "%s: one NHWC input expected", spec->name);
		goto fail;
	}
	d->grids[0].w = d->grids[0].h = spec->input_size;
	rc = grid_open(d, &d->grids[0], err);
	if (rc)
		goto fail;
	rc = bind_outputs(d, err);
	if (rc)
		goto fail;
	/* the grid pass: resizable models with a grid threshold, unless tiles or a single pass are asked for */
	d->use_grid =
	        spec->grid_threshold > 0.0f && opt.grid >= 0 && opt.max_tiles >= 0 && nn_model_resizable(d->model);

	d->tiles_cap = (size_t)d->max_tiles + 1;
	if (d->tiles_cap < 2)
		d->tiles_cap = 2; /* the whole picture and the grid pass */
	d->tiles = calloc(d->tiles_cap, sizeof(tile));
	d->candidates = calloc(MAX_CANDIDATES, sizeof(face_detection));
	if (!d->tiles || !d->candidates) {
		rc = mien_error_set(err, MIEN_ENOMEM, "%s: out of memory", spec->name);
		goto fail;
	}
	*out = d;
	return MIEN_OK;
fail:
	face_detector_free(&d);
	return rc;
}

void face_detector_free(face_detector **detector)
{
	if (!detector || !*detector)
		return;
	face_detector *d = *detector;
	free(d->candidates);
	free(d->tiles);
	free(d->nms_keep);
	free(d->nms_scratch);
	for (int i = 0; i <= MAX_GRIDS; i++)
		nn_runtime_free(&d->grids[i].runtime);
	nn_model_free(&d->model);
	free(d);
	*detector = NULL;
}

/* --- the grid pass -------------------------------------------------------------------------------- */

/* A grid side for v input pixels: up to the next multiple of 32 up to 512, of 64 up to 1024, of 128 above
 * (coarser steps on large grids, so that pictures of similar sizes share a runtime), at most cap. */
static int grid_side_for(float v, int cap)
{
	int step = 32;
	int n = (int)ceilf(v / (float)step - 1e-4f);
	int side = (n < 1 ? 1 : n) * step;
	return side < cap ? side : cap;
}

/* The grid runtime for a picture needing gw x gh input pixels: a cached grid that holds at least
 * GRID_SHRINK of each side and costs at most GRID_REUSE times the area, or a new one (evicting the least
 * recently used when all slots are taken). Returns its index, or -1 with err set. */
static int grid_get(face_detector *d, float gw, float gh, mien_error *err)
{
	int best = -1, free_slot = -1, oldest = -1;
	for (int i = 1; i < MAX_GRIDS; i++) {
		grid_rt *g = &d->grids[i];
		if (!g->runtime) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (oldest < 0 || g->used < d->grids[oldest].used)
			oldest = i;
		if ((float)g->w >= GRID_SHRINK * gw && (float)g->h >= GRID_SHRINK * gh &&
		    (float)g->w * (float)g->h <= GRID_REUSE * gw * gh &&
		    (best < 0 || g->w * g->h < d->grids[best].w * d->grids[best].h))
			best = i;
	}
	if (best < 0) {
		best = free_slot >= 0 ? free_slot : oldest;
		grid_rt *g = &d->grids[best];
		int w = grid_side_for(gw, d->grid_side), h = grid_side_for(gh, d->grid_side);
		if (g->runtime)
			MIEN_LOG_DEBUG_("detect", "grid %dx%d gives way to %dx%d", g->w, g->h, w, h);
		nn_runtime_free(&g->runtime);
		memset(g, 0, sizeof(*g));
		g->w = w;
		g->h = h;
		if (grid_open(d, g, err))
			return -1;
		MIEN_LOG_DEBUG_("detect", "created a %dx%d grid runtime", w, h);
	}
	d->grids[best].used = ++d->clock;
	return best;
}

/* Strip `part` of `parts` of the grid pass (face_detect_regions): the grid split along the picture's long axis into
 * strips of one size (one runtime serves them all) that overlap by STRIP_OVERLAP grid pixels, so that a face the
 * grid pass is responsible for (up to GRID_FACE_MAX) lies whole in one strip away from its shared edges. One part is
 * the whole grid: the picture fills it along one axis, centred along the other (the letterbox is black). Fills *t;
 * returns 1, 0 when the picture needs no grid pass, -1 with err set. */
static int plan_strip(face_detector *d, int width, int height, int part, int parts, tile *t, mien_error *err)
{
	float w = (float)width, h = (float)height, longest = fmaxf(w, h);
	float scale = GRID_FACE_MIN / (float)d->min_face;
	if (scale * longest <= (float)d->input_size)
		return 0;
	if (scale * longest > (float)d->grid_side) {
		MIEN_LOG_DEBUG_("detect", "%dx%d: the grid cap %d coarsens the smallest face found to %.0f px", width,
		                height, d->grid_side, GRID_FACE_MIN * longest / (float)d->grid_side);
		scale = (float)d->grid_side / longest;
	}
	int along_x = w >= h;
	float length = along_x ? w : h, across = along_x ? h : w;
	/* the strip's length along the split axis, in picture pixels */
	float overlap = STRIP_OVERLAP / scale;
	float piece = parts > 1 ? (length - overlap) / (float)parts + overlap : length;
	int i = along_x ? grid_get(d, piece * scale, across * scale, err)
	                : grid_get(d, across * scale, piece * scale, err);
	if (i < 0)
		return -1;
	const grid_rt *g = &d->grids[i];
	/* the runtime may be a little larger than asked: the strip fills it along the split axis and is centred across
	 */
	float k = along_x ? fminf((float)g->w / piece, (float)g->h / across)
	                  : fminf((float)g->w / across, (float)g->h / piece);
	memset(t, 0, sizeof(*t));
	t->w = (float)g->w / k;
	t->h = (float)g->h / k;
	float span = along_x ? t->w : t->h;
	float start = parts > 1 ? (float)part * (length - span) / (float)(parts - 1) : (length - span) / 2;
	if (along_x) {
		t->x = start;
		t->y = (h - t->h) / 2;
		t->interior = (part > 0 ? 1 : 0) | (part < parts - 1 ? 4 : 0);
	} else {
		t->y = start;
		t->x = (w - t->w) / 2;
		t->interior = (part > 0 ? 2 : 0) | (part < parts - 1 ? 8 : 0);
	}
	t->grid = i;
	t->threshold = d->grid_threshold;
	t->max_h = GRID_FACE_MAX;
	return 1;
}

/* Adds the grid pass for a w x h picture after the whole-picture pass, unless that pass already sees a
 * min_face face at GRID_FACE_MIN input pixels: the one-part strip. Returns the pass count, or 0 with err set. */
static size_t plan_grid(face_detector *d, int width, int height, mien_error *err)
{
	int planned = plan_strip(d, width, height, 0, 1, &d->tiles[1], err);
	return planned < 0 ? 0 : (size_t)planned + 1;
}

/* Clips a box and its keypoints to the picture; returns 0 when nothing is left. */
static int clip_detection(face_detection *c, float w, float h)
{
	float x0 = fmaxf(0.0f, c->x), y0 = fmaxf(0.0f, c->y);
	float x1 = fminf(w, c->x + c->w), y1 = fminf(h, c->y + c->h);
	if (!(x1 > x0 && y1 > y0))
		return 0;
	c->x = x0;
	c->y = y0;
	c->w = x1 - x0;
	c->h = y1 - y0;
	for (int k = 0; k < c->n_keypoints; k++) {
		c->keypoints[k][0] = fminf(fmaxf(c->keypoints[k][0], 0.0f), w);
		c->keypoints[k][1] = fminf(fmaxf(c->keypoints[k][1], 0.0f), h);
	}
	return 1;
}

/* The arguments face_detect and face_detect_regions share: *count zeroed, then MIEN_EINVAL for NULLs or a picture
 * that is not one. */
static int check_call(const char *name, const face_detector *detector, const face_image *image,
                      const face_detection *out, size_t max, size_t *count, mien_error *err)
{
	if (count)
		*count = 0;
	if (!detector || !image || !count || (max > 0 && !out))
		return mien_error_set(err, MIEN_EINVAL, "%s: NULL argument", name);
	if (image->width < 1 || image->height < 1 || !image->pixels || image->stride < 3 * image->width)
		return mien_error_set(err, MIEN_EINVAL, "%s: invalid image %dx%d", name, image->width, image->height);
	return MIEN_OK;
}

/* Merges the candidates of every pass and writes the clipped boxes, best first; returns how many were found. */
static size_t finish(face_detector *d, const face_image *image, face_detection *out, size_t max)
{
	size_t n = face_detections_merge(d->candidates, d->n_candidates, d->iou_threshold, d->score_threshold);
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		face_detection c = d->candidates[i];
		if (!clip_detection(&c, (float)image->width, (float)image->height))
			continue;
		if (found < max)
			out[found] = c;
		found++;
	}
	return found;
}

int face_detect(face_detector *detector, const face_image *image, face_detection *out, size_t max, size_t *count,
                mien_error *err)
{
	int rc = check_call("face_detect", detector, image, out, max, count, err);
	if (rc)
		return rc;
	face_detector *d = detector;
	/* no face of min_face height fits in a picture smaller than that both ways */
	if (image->width < d->min_face && image->height < d->min_face)
		return MIEN_OK;

	d->n_candidates = 0;
	d->picture_w = (float)image->width;
	size_t n_tiles;
	if (d->use_grid) {
		plan_whole(d, image->width, image->height);
		n_tiles = plan_grid(d, image->width, image->height, err);
		if (!n_tiles)
			return mien_error_prefix(err, "%s", d->spec->name);
	} else {
		n_tiles = plan_tiles(d, image->width, image->height);
	}
	for (size_t i = 0; i < n_tiles; i++) {
		rc = run_pass(d, image, &d->tiles[i], err);
		if (rc)
			return mien_error_prefix(err, "%s", d->spec->name);
	}
	*count = finish(d, image, out, max);
	return MIEN_OK;
}

/* --- regions (video) ------------------------------------------------------------------------------ */

/* The runtime of region passes (REGION_INPUT², created on first use); -1 with err set. */
static int region_runtime(face_detector *d, mien_error *err)
{
	grid_rt *g = &d->grids[REGION_GRID];
	if (!g->runtime) {
		g->w = g->h = REGION_INPUT;
		if (grid_open(d, g, err))
			return -1;
	}
	return REGION_GRID;
}

int face_detect_regions(face_detector *detector, const face_image *image, const float (*regions)[4], size_t n_regions,
                        int part, int parts, face_detection *out, size_t max, size_t *count, mien_error *err)
{
	int rc = check_call("face_detect_regions", detector, image, out, max, count, err);
	if (rc)
		return rc;
	if (n_regions > 0 && !regions)
		return mien_error_set(err, MIEN_EINVAL, "face_detect_regions: NULL argument");
	if (part >= 0 && (parts < 1 || parts > 16 || part >= parts))
		return mien_error_set(err, MIEN_EINVAL, "face_detect_regions: part %d of %d", part, parts);
	face_detector *d = detector;
	/* Fixed-size models in a window their input's size miss faces they find in the whole picture (ssd, measured
	 * on the demo photos): they search the whole picture. */
	if (!d->use_grid)
		return face_detect(d, image, out, max, count, err);
	d->n_candidates = 0;
	d->picture_w = (float)image->width;
	if (part >= 0) {
		/* the scan: the whole-picture pass with the first part, one strip of the grid pass with each */
		tile strip;
		int planned = plan_strip(d, image->width, image->height, part, parts, &strip, err);
		if (planned < 0)
			return mien_error_prefix(err, "%s", d->spec->name);
		if (part == 0) {
			plan_whole(d, image->width, image->height);
			rc = run_pass(d, image, &d->tiles[0], err);
			if (rc)
				return mien_error_prefix(err, "%s", d->spec->name);
		}
		rc = planned ? run_pass(d, image, &strip, err) : MIEN_OK;
		if (rc)
			return mien_error_prefix(err, "%s", d->spec->name);
	}
	int g = n_regions > 0 ? region_runtime(d, err) : 0;
	if (g < 0)
		return mien_error_prefix(err, "%s", d->spec->name);
	/* at least REGION_SCALE (room to move); more when the runtime's input is larger than the face sizes the
	 * model finds best (the middle of face_min .. face_max) */
	float scale = fmaxf(REGION_SCALE, (float)d->grids[g].w / sqrtf(d->spec->face_min * d->spec->face_max));
	for (size_t i = 0; i < n_regions; i++) {
		const float *r = regions[i];
		float side = scale * fmaxf(r[2], r[3]);
		if (!(side >= 1.0f) || !isfinite(side) || !isfinite(r[0]) || !isfinite(r[1]))
			continue;
		/* a region that misses the picture has nothing to find */
		if (r[0] + r[2] < 0 || r[1] + r[3] < 0 || r[0] > (float)image->width || r[1] > (float)image->height)
			continue;
		tile t;
		memset(&t, 0, sizeof(t));
		t.x = r[0] + r[2] / 2 - side / 2;
		t.y = r[1] + r[3] / 2 - side / 2;
		t.w = t.h = side;
		t.grid = g;
		t.threshold = d->score_threshold;
		rc = run_pass(d, image, &t, err);
		if (rc)
			return mien_error_prefix(err, "%s", d->spec->name);
	}
	*count = finish(d, image, out, max);
	return MIEN_OK;
}
