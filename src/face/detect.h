/*
 * detect.h — face detection on whole pictures, small faces included.
 *
 * A detector wraps one of the engine's detection models (blazeface-back, ssd_mobilenetv1, tiny_face_detector)
 * with its pre-processing, its output decoding (anchors, grids) and merging. CCTV faces are small, so a
 * large picture is not simply shrunk to the model's input. The fully convolutional blazeface-back runs once
 * on a large input grid holding the whole picture at a scale where a face of `min_face` pixels is still
 * large enough for the model (the "grid pass"); the other detectors cover the picture with overlapping
 * tiles at such a scale. Both add one whole-picture pass at the model's own input size for large faces;
 * detections from all passes are merged with weighted NMS (overlapping boxes are averaged, weighted by
 * score, as BlazeFace's reference post-processing does).
 *
 * The grid pass's input is capped (grid_max_side, default 1280 on the long side): a picture larger than
 * 1280 * min_face / 16 pixels is scaled to the cap, and the smallest face found reliably becomes
 * long side / 80 pixels (48 px on a 3840x2160 frame).
 *
 * A detector holds runtimes and scratch buffers: use one per thread. Grid runtimes are created on first
 * use of a grid size and kept (at most two, about 120-160 MB each at the cap): a stream of pictures of one
 * size creates its runtime once and never allocates afterwards.
 */
#ifndef MIEN_FACE_DETECT_H
#define MIEN_FACE_DETECT_H

#include <stddef.h>

#include "core/result.h"
#include "face/image.h"
#include "nn/nn.h"

#define FACE_MAX_KEYPOINTS 6

typedef struct face_detection {
	float x, y, w, h; /* box in picture pixels */
	float score;      /* 0..1 */
	int n_keypoints;  /* blazeface: 6 (right eye, left eye, nose tip, mouth centre, right ear, left ear, from
	                     the subject's view as BlazeFace orders them); 0 for detectors without keypoints */
	float keypoints[FACE_MAX_KEYPOINTS][2]; /* picture pixels */
} face_detection;

typedef struct face_detector_options {
	float score_threshold;      /* default per model (0 = default) */
	float iou_threshold;        /* merging; 0 = 0.3 */
	int min_face;               /* smallest face height to find, pixels; 0 = 24 */
	int max_tiles;              /* cap on tiles per picture; 0 = 64; < 0 = one whole-picture pass only (no
	                               tiles, no grid pass) */
	float tile_score_threshold; /* candidates from tiles need this score (they see many more windows, so
	                               chance responses pass more often); 0 = default per model, never below
	                               score_threshold */
	/* Extensions (zero = default). */
	int grid;          /* resizable detectors (blazeface-back): 0 = one grid pass over the whole picture;
	                      < 0 = tiles, as for the other detectors */
	int grid_max_side; /* cap on the grid's long side, input pixels; 0 = 1280; rounded down to a multiple
	                      of 32, at least 256 */
} face_detector_options;

typedef struct face_detector face_detector;

/* `model` is "blazeface-back", "ssd_mobilenetv1" or "tiny_face_detector" (NULL = the measured default);
 * `models_dir` as for nn_model_load; `pool` is borrowed (may be NULL). Caller frees with face_detector_free. */
int face_detector_create(const char *model, const char *models_dir, nn_pool *pool, const face_detector_options *options,
                         face_detector **out, mien_error *err);
void face_detector_free(face_detector **detector);
const char *face_detector_model(const face_detector *detector);

/* Detects faces; writes up to `max` detections, best first, and the total found (which may exceed max)
 * into *count. */
int face_detect(face_detector *detector, const face_image *image, face_detection *out, size_t max, size_t *count,
                mien_error *err);

/*
 * Detection for video, where most faces were seen a moment ago and a search of the whole picture can be spread over
 * several frames. For each of the n_regions boxes (x, y, w, h in picture pixels, where a tracker predicts a face):
 * one pass over a square window centred on it, at least 2.5 times the box's larger side (the face may have moved
 * by a box width) and scaled so that the face lands at a size the model finds reliably whatever its size; these
 * run on a small 128² runtime (a quarter of a whole-picture pass each). With part >= 0, also part `part` of a
 * search of the whole picture in `parts` (1..16) pieces: the grid pass split along the picture's long axis into
 * `parts` overlapping strips of one size (one runtime serves them all; together about 1.2 times the work of the
 * undivided grid for 3 parts), part 0 adding the whole-picture pass; parts 1 of 1 is face_detect plus the regions.
 * part < 0 searches the regions only. Results are merged as face_detect's; same contract.
 * The fixed-size detectors (ssd_mobilenetv1, tiny_face_detector) miss faces in such windows that they find in the
 * whole picture, so for them (and whenever the detector was made without a grid pass) this is face_detect.
 */
int face_detect_regions(face_detector *detector, const face_image *image, const float (*regions)[4], size_t n_regions,
                        int part, int parts, face_detection *out, size_t max, size_t *count, mien_error *err);
/* The measured default detector's name. */
const char *face_detector_default(void);

/*
 * Weighted NMS, in place (what face_detect merges its passes with): boxes scoring below score_threshold
 * are dropped; then, best score first, each kept box absorbs every remaining box that overlaps it by
 * IoU > iou_threshold, and its box and keypoints become the score-weighted mean of the group (its score
 * stays the best one). Writes the kept boxes, best first, to dets[0..return value). Never allocates.
 */
size_t face_detections_merge(face_detection *dets, size_t n, float iou_threshold, float score_threshold);

#endif
