/*
 * face.h — from a picture to faces: detection, landmarks, alignment, identity embedding, expression,
 * quality and (optionally) liveness. This is the per-picture pipeline behind `mien analyze` and, later,
 * the camera workers.
 *
 * An analyzer owns one runtime per model it uses, sized at creation: use one analyzer per thread (models
 * are loaded once per analyzer; share-by-thread is the next step once several analyzers run in one process).
 */
#ifndef MIEN_FACE_FACE_H
#define MIEN_FACE_FACE_H

#include <stddef.h>

#include "core/result.h"
#include "face/detect.h"
#include "face/image.h"
#include "nn/nn.h"

#define FACE_EMBEDDING_MAX 1280 /* the widest embedder, faceres (1024), fused with a 256-wide one */
#define FACE_EXPRESSIONS   7
#define FACE_LANDMARKS     68

/* Expression classes, in this order everywhere (API, database, dashboard). */
extern const char *const face_expression_names[FACE_EXPRESSIONS];
enum face_expression {
	FACE_NEUTRAL = 0,
	FACE_HAPPY = 1,
	FACE_SAD = 2,
	FACE_ANGRY = 3,
	FACE_FEARFUL = 4,
	FACE_DISGUSTED = 5,
	FACE_SURPRISED = 6,
};

typedef struct face_options {
	const char *detector;   /* NULL = MIEN_DETECTOR or the measured default */
	const char *embedder;   /* "mobilefacenet", "faceres", "face_recognition"; NULL = MIEN_EMBEDDER or default */
	const char *expression; /* "mien", "emotion", "face_expression", "average" or several joined by +; NULL =
	                         * MIEN_EXPRESSION or the default (mien) */
	int embeddings;         /* compute identity embeddings */
	int expressions;        /* compute expression probabilities */
	int liveness;           /* compute a liveness score (antispoof + liveness models) */
	int min_face;           /* faces shorter than this (pixels) are reported but not recognised; 0 = 40 */
	face_detector_options detect;
} face_options;

/* Sensible defaults: embeddings and expressions on, liveness off. */
void face_options_default(face_options *options);

typedef struct face_result {
	float box[4];          /* x, y, w, h in picture pixels */
	float score;           /* detection confidence */
	int has_landmarks;     /* the landmark model ran: landmarks and align_box are set */
	float landmarks[5][2]; /* right eye, left eye, nose tip, right and left mouth corner (picture pixels, the
	                          subject's right first, as the ArcFace template orders them) */
	float quality;         /* 0..1: size, sharpness and pose together; picks the best face of a track */
	float sharpness;       /* 0..1 */
	float frontal;         /* 0..1, 1 = looking at the camera */
	int recognisable;      /* tall enough (min_face) for identity; no embedding otherwise */
	int embedding_dim;
	float embedding[FACE_EMBEDDING_MAX]; /* L2-normalised */
	const char *embedding_model;         /* static string; NULL when no embedding */
	int has_expression;
	float expression[FACE_EXPRESSIONS]; /* sums to 1 */
	int has_liveness;
	float liveness;     /* 0..1, 1 = a live face */
	float align_box[4]; /* the square crop face-api's dlib alignment takes (x, y, side, side), from the landmarks */
} face_result;

typedef struct face_analyzer face_analyzer;

int face_analyzer_create(const face_options *options, const char *models_dir, nn_pool *pool, face_analyzer **out,
                         mien_error *err);
void face_analyzer_free(face_analyzer **analyzer);
const char *face_analyzer_embedder(const face_analyzer *analyzer);
const char *face_analyzer_detector(const face_analyzer *analyzer);
/* How many values the embedder's embeddings have (what face_result.embedding_dim will be). */
int face_analyzer_embedding_dim(const face_analyzer *analyzer);

/* Finds and analyses every face; writes up to `max` results, best detection first, and the number found
 * (which may exceed max) into *count. */
int face_analyze(face_analyzer *analyzer, const face_image *image, face_result *out, size_t max, size_t *count,
                 mien_error *err);

/*
 * face_analyze in two halves, for video: most faces of a camera frame were described a moment ago, so a caller
 * that tracks them asks for the costly stages only where they can change something.
 *
 * face_analyze_locate finds the faces with their quality and `recognisable` (no embedding, expression or liveness;
 * landmarks only where the detector gives no keypoints to measure quality on: has_landmarks says). With regions
 * NULL and part < 0 it searches the whole picture as face_analyze does; otherwise it searches the n_regions boxes
 * (x, y, w, h in picture pixels: where the caller's tracks predict faces) and, with part >= 0, part `part` of
 * `parts` of a whole-picture search (face_detect_regions). face_analyze_describe then adds what `want` asks for
 * (FACE_WANT_* bits) and the analyzer's options allow to one located face, finding its landmarks first where an
 * embedding or FACE_WANT_LANDMARKS needs them; an embedding needs a recognisable face.
 */
#define FACE_WANT_EMBEDDING  1u
#define FACE_WANT_EXPRESSION 2u
#define FACE_WANT_LIVENESS   4u
/* expressions from the face as seen only, without the mirrored second look: half the cost, for video, where a
 * track averages many frames anyway */
#define FACE_WANT_ONE_LOOK 8u
/* the landmarks (and align_box) without an embedding; an embedding finds them first anyway */
#define FACE_WANT_LANDMARKS 16u
/* every stage, expressions with the mirrored look (what face_analyze gives a photo) */
#define FACE_WANT_ALL (FACE_WANT_EMBEDDING | FACE_WANT_EXPRESSION | FACE_WANT_LIVENESS | FACE_WANT_LANDMARKS)
int face_analyze_locate(face_analyzer *analyzer, const face_image *image, const float (*regions)[4], size_t n_regions,
                        int part, int parts, face_result *out, size_t max, size_t *count, mien_error *err);
int face_analyze_describe(face_analyzer *analyzer, const face_image *image, face_result *face, unsigned want,
                          mien_error *err);
/* The live view's label of a face: the person's name ("unknown" for NULL or empty), then, with show_expression
 * and when the face has expressions, its dominant expression ("Ada happy"). Truncated to `size` - 1 bytes. */
void face_live_label(char *out, size_t size, const char *name, const face_result *face, int show_expression);
/* Treats the whole picture as one face crop (no detection), as for FER-style 48 px crops and tight
 * identity crops; fills exactly one result. */
int face_analyze_crop(face_analyzer *analyzer, const face_image *image, face_result *out, mien_error *err);

/* Cosine similarity of two embeddings of the same model; MIEN_EINVAL when the models or sizes differ. */
int face_similarity(const face_result *a, const face_result *b, float *similarity, mien_error *err);

/* The index of the largest probability. */
int face_dominant_expression(const face_result *face);

/* The similarity above which two faces count as the same person, for an embedder (calibrated on
 * ../shared/data: docs/accuracy.md). */
float face_default_threshold(const char *model);
/* The embedder an analyzer made from `options` uses (options->embedder, else MIEN_EMBEDDER, else the default),
 * without loading any model; `options` may be NULL. A static string or options->embedder (borrowed). */
const char *face_embedder_name(const face_options *options);

/* What a photo offered for enrollment gets (wire values; they keep their numbers). */
enum face_enroll_verdict {
	FACE_ENROLL_OK = 0,        /* exactly one face, large enough: enrolled */
	FACE_ENROLL_NO_FACE = 1,   /* no face found */
	FACE_ENROLL_SEVERAL = 2,   /* more than one face: ambiguous */
	FACE_ENROLL_TOO_SMALL = 3, /* one face, too small to recognise */
};
/* The verdict for the `count` faces face_analyze found (faces[0] is read when count == 1). */
int face_enroll_verdict(const face_result *faces, size_t count);
/* "enrolled", "no_face", "several_faces", "too_small". */
const char *face_enroll_verdict_name(int verdict);

/* A square JPEG thumbnail of `face` (its box widened by half on each side, clipped to the picture), `size`
 * pixels wide (32..512). Caller frees *jpeg with free(). */
int face_thumbnail(const face_image *image, const face_result *face, int size, uint8_t **jpeg, size_t *len,
                   mien_error *err);

#endif
