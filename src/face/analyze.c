/*
 * analyze.c — the per-picture face pipeline: detect → 68 landmarks → five points → similarity transform →
 * aligned crop → embedding; square face crop → expression (and liveness); quality from size, sharpness and pose.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "face/face.h"

const char *const face_expression_names[FACE_EXPRESSIONS] = {
	"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised",
};

/* ArcFace's 112×112 five-point template (right eye, left eye, nose, right mouth corner, left mouth corner), in
 * pixel-index coordinates as insightface publishes it; +0.5 turns them into pixel-centre coordinates. */
static const float arcface_template[5][2] = {
	{ 38.2946f, 51.6963f }, { 73.5318f, 51.5014f }, { 56.0252f, 71.7366f },
	{ 41.5493f, 92.3655f }, { 70.7299f, 92.2041f },
};

/* human's emotion model orders its classes angry, disgust, fear, happy, sad, surprise, neutral */
static const int emotion_to_ours[FACE_EXPRESSIONS] = {
	FACE_ANGRY, FACE_DISGUSTED, FACE_FEARFUL, FACE_HAPPY, FACE_SAD, FACE_SURPRISED, FACE_NEUTRAL,
};

typedef struct stage {
	nn_model *model;
	nn_runtime *runtime;
	float *input;
	int size; /* square input side */
	int channels;
} stage;

/* The identity embedders mien runs: MIEN_EMBEDDER names one, or two or three joined by '+' (a fusion), each
 * optionally weighted ("face_recognition-v2*10+faceres"). docs/accuracy.md measures them. */
enum align { ALIGN_ARCFACE, ALIGN_DLIB, ALIGN_DLIB_LEVEL };

typedef struct embedder_spec {
	const char *name;   /* MIEN_EMBEDDER's word, and the model name stored with each embedding */
	const char *model;  /* the network (nn_model_load's short name) */
	const char *output; /* the embedding's output node */
	int dim;            /* its width */
	float scale;        /* pixel scale of the input: the model's own normalisation does the rest */
	enum align align;   /* the crop: ArcFace's five-point template, or face-api's dlib square (levelled or not) */
	int mirror;         /* the mean of the face's and its mirror image's embeddings */
} embedder_spec;

static const embedder_spec EMBEDDERS[] = {
	/* face-api's dlib ResNet normalises pixels itself; on the crop face-api computes its descriptors from (99.8 %
	 * against 96.3 % with the ArcFace crop on deepface) */
	{ "face_recognition", "face_recognition", "descriptor", 128, 1.0f, ALIGN_DLIB, 0 },
	/* the same network on the crop turned to level the eyes, averaged with its mirror image: TAR at FAR 0.1 % on
	 * LFW 92.2 % against 88.8 % (docs/accuracy.md), for twice the network's time */
	{ "face_recognition-v2", "face_recognition", "descriptor", 128, 1.0f, ALIGN_DLIB_LEVEL, 1 },
	/* human's faceres [0,255]: 1024 values of global pooling; faceres-deep is a second, float32 release */
	{ "faceres", "faceres", "global_pooling/Mean", 1024, 1.0f, ALIGN_ARCFACE, 0 },
	{ "faceres-deep", "faceres-deep", "global_pooling/Mean", 1024, 1.0f, ALIGN_ARCFACE, 0 },
	/* insightface's MobileFaceNet: its first ops are (x - 127.5) / 128, so [0,255] */
	{ "mobileface", "mobileface", "batchnorm0/add_1", 256, 1.0f, ALIGN_ARCFACE, 0 },
	/* human's mobilefacenet takes [0,1] */
	{ "mobilefacenet", "mobilefacenet", "embeddings", 192, 1.0f / 255.0f, ALIGN_ARCFACE, 0 },
};
/* The default: the best on LFW within twice face_recognition's cost (docs/accuracy.md "Embedders compared"). */
#define EMBEDDER_DEFAULT "face_recognition-v2"
#define EMBEDDERS_N      ((int)(sizeof(EMBEDDERS) / sizeof(EMBEDDERS[0])))
#define FUSION_MAX       3
#define EMBEDDER_LEN     96
/* expression models, combinable: MIEN_EXPRESSION names one or several joined by '+' ("mien+emotion") */
enum expr_kind { EXPR_EMOTION = 1, EXPR_FACEAPI = 2, EXPR_AVERAGE = 3, EXPR_MIEN = 4 };

/* The default: mien's own network (trained on FER2013 by train/expression, models/mien/expression/PROVENANCE.md)
 * averaged with the two npm models. mien alone is a little better on FER2013's tight crops (63.6 % against 63.3 % on
 * the validation split) but worse on whole colour photos (3 of face-api.js's 9 against 6); together they beat the
 * npm models alone on both (62.8 % against 60.4 % on the test half; docs/accuracy.md). */
#define EXPR_DEFAULT "mien+average"

struct face_analyzer {
	face_options options;
	face_detector *detector;
	stage landmarks, emotion, expression, mien_expression, antispoof, liveness;
	stage embed[FUSION_MAX]; /* one per part of the embedder */
	const embedder_spec *parts[FUSION_MAX];
	float weights[FUSION_MAX]; /* each part's share of the fused cosine ("face_recognition*3+faceres") */
	int n_parts;
	int embedding_dim;    /* the parts' widths added */
	const char *embedder; /* the embedder's name, interned (face_result.embedding_model points at it) */
	int expr;
	face_detection *detections;
	size_t max_detections;
	float grey[112 * 112]; /* aligned grey crop for the sharpness measure */
};

void face_options_default(face_options *o)
{
	memset(o, 0, sizeof(*o));
	o->embeddings = 1;
	o->expressions = 1;
	o->min_face = 40;
}

static int stage_open(stage *s, const char *name, const char *models_dir, nn_pool *pool, mien_error *err)
{
	int rc = nn_model_load(name, models_dir, &s->model, err);
	if (rc == MIEN_OK)
		rc = nn_runtime_create(s->model, NULL, pool, &s->runtime, err);
	if (rc)
		return rc;
	nn_shape shape;
	s->input = nn_runtime_input(s->runtime, 0, &shape);
	if (shape.rank != 4 || shape.dims[1] != shape.dims[2])
		return mien_error_set(err, MIEN_EUNSUPPORTED, "%s: expected a square NHWC input", name);
	s->size = (int)shape.dims[1];
	s->channels = (int)shape.dims[3];
	return MIEN_OK;
}

static void stage_close(stage *s)
{
	nn_runtime_free(&s->runtime);
	nn_model_free(&s->model);
}

static const float *stage_run(stage *s, const char *output, int64_t *count, mien_error *err)
{
	if (nn_runtime_run(s->runtime, err))
		return NULL;
	int i = output ? nn_model_output_index(s->model, output) : 0;
	if (i < 0) {
		mien_error_set(err, MIEN_ENOENT, "%s has no output %s", nn_model_name(s->model), output);
		return NULL;
	}
	nn_shape shape;
	const float *out = nn_runtime_output(s->runtime, (size_t)i, &shape);
	*count = nn_shape_count(&shape);
	return out;
}

static const char *pick(const char *given, const char *env, const char *fallback)
{
	if (given && *given)
		return given;
	const char *e = getenv(env);
	return e && *e ? e : fallback;
}

/* A copy of `name` that lives as long as the process: an embedding's model name outlives its analyzer (results
 * are stored and compared later). At most a few distinct names ever exist (one per MIEN_EMBEDDER value). */
static const char *intern(const char *name)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char names[16][EMBEDDER_LEN];
	static int n;
	const char *found = NULL;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < n && !found; i++)
		if (strcmp(names[i], name) == 0)
			found = names[i];
	if (!found && n < 16 && strlen(name) < EMBEDDER_LEN) {
		memcpy(names[n], name, strlen(name) + 1);
		found = names[n++];
	}
	pthread_mutex_unlock(&lock);
	return found;
}

/* The next part of an embedder name at *p ("faceres*2+mobileface"): its name (not terminated, `len` bytes) and
 * weight (1 without "*W"); moves *p past it and its '+', to NULL after the last part. -1 for a weight that is not a
 * number in (0, 100]. */
static int next_part(const char **p, const char **name, size_t *len, float *weight)
{
	const char *end = strchr(*p, '+');
	*name = *p;
	*len = end ? (size_t)(end - *p) : strlen(*p);
	*p = end ? end + 1 : NULL;
	*weight = 1;
	const char *star = memchr(*name, '*', *len);
	if (!star)
		return 0;
	char *stop = NULL;
	*weight = strtof(star + 1, &stop);
	if (stop != *name + *len || !(*weight > 0) || *weight > 100)
		return -1;
	*len = (size_t)(star - *name);
	return 0;
}

/* Fills a->parts from an embedder name ("faceres", "face_recognition+faceres"); MIEN_EINVAL for an unknown part,
 * a repeated one, more than FUSION_MAX, or a fusion wider than FACE_EMBEDDING_MAX. */
static int parse_embedder(face_analyzer *a, const char *spec, mien_error *err)
{
	const char *p = spec, *name;
	size_t len;
	float weight;
	a->n_parts = 0;
	a->embedding_dim = 0;
	while (p) {
		if (next_part(&p, &name, &len, &weight) < 0)
			break;
		const embedder_spec *found = NULL;
		for (int i = 0; i < EMBEDDERS_N; i++)
			if (strlen(EMBEDDERS[i].name) == len && strncmp(name, EMBEDDERS[i].name, len) == 0)
				found = &EMBEDDERS[i];
		for (int i = 0; found && i < a->n_parts; i++)
			if (a->parts[i] == found)
				found = NULL;
		if (!found || a->n_parts == FUSION_MAX)
			break;
		a->weights[a->n_parts] = weight;
		a->parts[a->n_parts++] = found;
		a->embedding_dim += found->dim;
		if (!p) {
			if (a->embedding_dim > FACE_EMBEDDING_MAX)
				return mien_error_set(err, MIEN_EINVAL, "embedder %s: %d values, more than %d", spec,
				                      a->embedding_dim, FACE_EMBEDDING_MAX);
			a->embedder = intern(spec);
			return a->embedder ? MIEN_OK
			                   : mien_error_set(err, MIEN_EINVAL, "embedder %s: name too long", spec);
		}
	}
	return mien_error_set(
	        err, MIEN_EINVAL,
	        "unknown embedder %s (face_recognition, face_recognition-v2, faceres, faceres-deep, mobileface, "
	        "mobilefacenet, or up to %d different ones joined by '+', each optionally *WEIGHT)",
	        spec, FUSION_MAX);
}

/* The EXPR_* bits for a MIEN_EXPRESSION value ("mien", "average", "mien+emotion", ...), or -1 for a name that is
 * none of them. */
static int expression_models(const char *spec)
{
	static const struct {
		const char *name;
		int bits;
	} names[] = {
		{ "mien", EXPR_MIEN },
		{ "emotion", EXPR_EMOTION },
		{ "face_expression", EXPR_FACEAPI },
		{ "average", EXPR_AVERAGE },
	};
	int bits = 0;
	const char *p = spec;
	for (;;) {
		const char *end = strchr(p, '+');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int found = -1;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && strncmp(p, names[i].name, len) == 0)
				found = names[i].bits;
		if (found < 0)
			return -1;
		bits |= found;
		if (!end)
			return bits;
		p = end + 1;
	}
}

int face_analyzer_create(const face_options *options, const char *models_dir, nn_pool *pool, face_analyzer **out,
                         mien_error *err)
{
	*out = NULL;
	face_analyzer *a = calloc(1, sizeof(*a));
	if (!a)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	int rc = MIEN_OK;
	if (options)
		a->options = *options;
	else
		face_options_default(&a->options);
	if (a->options.min_face <= 0)
		a->options.min_face = 40;
	const char *emb = face_embedder_name(&a->options);
	const char *expr = pick(a->options.expression, "MIEN_EXPRESSION", EXPR_DEFAULT);
	if ((rc = parse_embedder(a, emb, err)))
		goto fail;
	a->expr = expression_models(expr);
	if (a->expr <= 0) {
		rc = mien_error_set(err, MIEN_EINVAL,
		                    "unknown expression model %s (mien, emotion, face_expression, average, or several "
		                    "joined by '+')",
		                    expr);
		goto fail;
	}
	rc = face_detector_create(a->options.detector, models_dir, pool, &a->options.detect, &a->detector, err);
	if (rc)
		goto fail;
	if ((rc = stage_open(&a->landmarks, "face_landmark_68", models_dir, pool, err)))
		goto fail;
	for (int i = 0; a->options.embeddings && i < a->n_parts; i++)
		if ((rc = stage_open(&a->embed[i], a->parts[i]->model, models_dir, pool, err)))
			goto fail;
	if (a->options.expressions) {
		if ((a->expr & EXPR_EMOTION) && (rc = stage_open(&a->emotion, "emotion", models_dir, pool, err)))
			goto fail;
		if ((a->expr & EXPR_FACEAPI) &&
		    (rc = stage_open(&a->expression, "face_expression", models_dir, pool, err)))
			goto fail;
		if ((a->expr & EXPR_MIEN) &&
		    (rc = stage_open(&a->mien_expression, "expression", models_dir, pool, err)))
			goto fail;
	}
	if (a->options.liveness) {
		if ((rc = stage_open(&a->antispoof, "antispoof", models_dir, pool, err)) ||
		    (rc = stage_open(&a->liveness, "liveness", models_dir, pool, err)))
			goto fail;
	}
	a->max_detections = 256;
	a->detections = calloc(a->max_detections, sizeof(face_detection));
	if (!a->detections) {
		rc = mien_error_set(err, MIEN_ENOMEM, "out of memory");
		goto fail;
	}
	*out = a;
	return MIEN_OK;
fail:
	face_analyzer_free(&a);
	return rc;
}

void face_analyzer_free(face_analyzer **analyzer)
{
	if (!analyzer || !*analyzer)
		return;
	face_analyzer *a = *analyzer;
	face_detector_free(&a->detector);
	stage_close(&a->landmarks);
	for (int i = 0; i < FUSION_MAX; i++)
		stage_close(&a->embed[i]);
	stage_close(&a->emotion);
	stage_close(&a->expression);
	stage_close(&a->mien_expression);
	stage_close(&a->antispoof);
	stage_close(&a->liveness);
	free(a->detections);
	free(a);
	*analyzer = NULL;
}

const char *face_analyzer_embedder(const face_analyzer *a)
{
	return a->embedder;
}

int face_analyzer_embedding_dim(const face_analyzer *a)
{
	return a->embedding_dim;
}

const char *face_analyzer_detector(const face_analyzer *a)
{
	return face_detector_model(a->detector);
}

/* Least-squares similarity transform taking template points t to picture points p: p = [a -b; b a] t + [tx ty].
 * Fills the sampling map m (output pixel -> picture point). */
static void similarity(const float t[][2], const float p[][2], int n, float m[6])
{
	double mtx = 0, mty = 0, mpx = 0, mpy = 0;
	for (int i = 0; i < n; i++) {
		mtx += t[i][0];
		mty += t[i][1];
		mpx += p[i][0];
		mpy += p[i][1];
	}
	mtx /= n, mty /= n, mpx /= n, mpy /= n;
	double num_a = 0, num_b = 0, den = 0;
	for (int i = 0; i < n; i++) {
		double tx = t[i][0] - mtx, ty = t[i][1] - mty, px = p[i][0] - mpx, py = p[i][1] - mpy;
		num_a += tx * px + ty * py;
		num_b += tx * py - ty * px;
		den += tx * tx + ty * ty;
	}
	double a = den > 0 ? num_a / den : 1, b = den > 0 ? num_b / den : 0;
	m[0] = (float)a;
	m[1] = (float)-b;
	m[2] = (float)(mpx - a * mtx + b * mty);
	m[3] = (float)b;
	m[4] = (float)a;
	m[5] = (float)(mpy - b * mtx - a * mty);
}

/* The square (side = the larger box side) centred on the box, as face-api pads a face to a square. */
static void square_of(const float box[4], float scale, float *x, float *y, float *side)
{
	float s = (box[2] > box[3] ? box[2] : box[3]) * scale;
	*x = box[0] + box[2] / 2 - s / 2;
	*y = box[1] + box[3] / 2 - s / 2;
	*side = s;
}

static int find_landmarks(face_analyzer *a, const face_image *img, face_result *f, mien_error *err)
{
	stage *s = &a->landmarks;
	float x, y, side, m[6];
	square_of(f->box, 1.0f, &x, &y, &side);
	face_image_rect_map(x, y, side, side, s->size, s->size, m);
	face_image_sample(img, m, s->size, s->size, 3, 1.0f, 0.0f, 0.0f, s->input);
	int64_t n;
	const float *lm = stage_run(s, "landmarks", &n, err);
	if (!lm)
		return err ? err->code : MIEN_EBACKEND;
	if (n != 2 * FACE_LANDMARKS)
		return mien_error_set(err, MIEN_EFORMAT, "face_landmark_68 gave %lld values", (long long)n);
	float pts[FACE_LANDMARKS][2];
	for (int i = 0; i < FACE_LANDMARKS; i++) {
		pts[i][0] = x + lm[2 * i] * side;
		pts[i][1] = y + lm[2 * i + 1] * side;
	}
	/* five points: eye centres (36-41 is the subject's right eye in the 68-point scheme), nose tip, mouth corners
	 */
	memset(f->landmarks, 0, sizeof(f->landmarks));
	for (int i = 36; i < 42; i++) {
		f->landmarks[0][0] += pts[i][0] / 6, f->landmarks[0][1] += pts[i][1] / 6;
		f->landmarks[1][0] += pts[i + 6][0] / 6, f->landmarks[1][1] += pts[i + 6][1] / 6;
	}
	/* face-api's dlib alignment: a square of side eye-to-mouth / 0.45 around the centroid of the eye and mouth
	 * centres, 0.5 of it left of and 0.43 above that point (FaceLandmarks.alignDlib) */
	float mouth[2] = { 0, 0 };
	for (int i = 48; i < 68; i++)
		mouth[0] += pts[i][0] / 20, mouth[1] += pts[i][1] / 20;
	float ref_x = (f->landmarks[0][0] + f->landmarks[1][0] + mouth[0]) / 3;
	float ref_y = (f->landmarks[0][1] + f->landmarks[1][1] + mouth[1]) / 3;
	float eye_mouth = (hypotf(mouth[0] - f->landmarks[0][0], mouth[1] - f->landmarks[0][1]) +
	                   hypotf(mouth[0] - f->landmarks[1][0], mouth[1] - f->landmarks[1][1])) /
	                  2;
	float dside = eye_mouth / 0.45f;
	f->align_box[0] = ref_x - 0.5f * dside;
	f->align_box[1] = ref_y - 0.43f * dside;
	f->align_box[2] = f->align_box[3] = dside;
	f->landmarks[2][0] = pts[30][0], f->landmarks[2][1] = pts[30][1];
	f->landmarks[3][0] = pts[48][0], f->landmarks[3][1] = pts[48][1];
	f->landmarks[4][0] = pts[54][0], f->landmarks[4][1] = pts[54][1];
	f->has_landmarks = 1;
	return MIEN_OK;
}

static void normalise(float *v, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += (double)v[i] * v[i];
	float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0;
	for (int i = 0; i < n; i++)
		v[i] *= inv;
}

/* The aligned-crop map for a model with a `size`-pixel square input: ArcFace's template scaled to the size, fitted
 * to five points as the template orders them, or to four (eyes, nose tip, mouth centre: a detector's keypoints),
 * where the template's mouth corners count as their mean. */
static void fit_template(const float (*points)[2], int n, int size, float m[6])
{
	float t[5][2];
	float k = (float)size / 112.0f;
	for (int i = 0; i < 5; i++) {
		t[i][0] = (arcface_template[i][0] + 0.5f) * k;
		t[i][1] = (arcface_template[i][1] + 0.5f) * k;
	}
	if (n == 4) {
		t[3][0] = (t[3][0] + t[4][0]) / 2;
		t[3][1] = (t[3][1] + t[4][1]) / 2;
	}
	similarity(t, points, n, m);
}

static void aligned_map(const face_result *f, int size, float m[6])
{
	fit_template((const float(*)[2])f->landmarks, 5, size, m);
}

/* Turns a sampling map into the map of the mirrored crop: output column x reads what column size-x read. */
static void mirror(float m[6], int size)
{
	m[2] += m[0] * (float)size;
	m[0] = -m[0];
	m[5] += m[3] * (float)size;
	m[3] = -m[3];
}

/* The dlib chip face-api cuts for its descriptor (face_result.align_box), turned about the box's reference point
 * so that the eyes are level: dlib's own chips are rotation-normalised, face-api's square is not. */
static void levelled_dlib_map(const face_result *f, int size, float m[6])
{
	float side = f->align_box[2], k = side / (float)size;
	float ref_x = f->align_box[0] + 0.5f * side, ref_y = f->align_box[1] + 0.43f * side;
	float angle = atan2f(f->landmarks[1][1] - f->landmarks[0][1], f->landmarks[1][0] - f->landmarks[0][0]);
	float c = cosf(angle) * k, s = sinf(angle) * k;
	/* picture point = R(angle) · (u·k − 0.5·side, v·k − 0.43·side) + reference */
	m[0] = c, m[1] = -s, m[3] = s, m[4] = c;
	m[2] = ref_x - (c * 0.5f - s * 0.43f) * (float)size;
	m[5] = ref_y - (s * 0.5f + c * 0.43f) * (float)size;
}

/* One part's embedding of the face into out[0 .. spec->dim), normalised: of the crop, or (spec->mirror) the mean of
 * the crop's and its mirror image's, each normalised first. */
static int embed_part(face_analyzer *a, int k, const face_image *img, const face_result *f, float *out, mien_error *err)
{
	const embedder_spec *spec = a->parts[k];
	stage *s = &a->embed[k];
	float m[6];
	if (spec->align == ALIGN_DLIB)
		face_image_rect_map(f->align_box[0], f->align_box[1], f->align_box[2], f->align_box[3], s->size,
		                    s->size, m);
	else if (spec->align == ALIGN_DLIB_LEVEL)
		levelled_dlib_map(f, s->size, m);
	else
		aligned_map(f, s->size, m);
	memset(out, 0, (size_t)spec->dim * sizeof(float));
	for (int pass = 0; pass < (spec->mirror ? 2 : 1); pass++) {
		if (pass)
			mirror(m, s->size);
		face_image_sample(img, m, s->size, s->size, 3, spec->scale, 0.0f, 0.0f, s->input);
		int64_t n;
		const float *e = stage_run(s, spec->output, &n, err);
		if (!e)
			return err ? err->code : MIEN_EBACKEND;
		if (n != spec->dim)
			return mien_error_set(err, MIEN_ERANGE, "%s: an embedding of %lld values, expected %d",
			                      spec->model, (long long)n, spec->dim);
		double sq = 0;
		for (int64_t i = 0; i < n; i++)
			sq += (double)e[i] * e[i];
		float inv = sq > 0 ? (float)(1.0 / sqrt(sq)) : 0;
		for (int64_t i = 0; i < n; i++)
			out[i] += e[i] * inv;
	}
	normalise(out, spec->dim);
	return MIEN_OK;
}

/*
 * The face's embedding: each part's (embed_part) scaled by the square root of its weight, the parts side by side, and
 * the whole normalised again. The cosine of two fused embeddings is then the weighted mean of the parts' cosines:
 * score-level fusion kept in one vector, so that the gallery searches it like any other.
 */
static int embed(face_analyzer *a, const face_image *img, face_result *f, mien_error *err)
{
	int at = 0;
	for (int k = 0; k < a->n_parts; k++) {
		int dim = a->parts[k]->dim;
		int rc = embed_part(a, k, img, f, f->embedding + at, err);
		if (rc)
			return rc;
		if (a->n_parts > 1) /* sqrt(w) on each side of a dot product: w times the part's cosine */
			for (int i = 0; i < dim; i++)
				f->embedding[at + i] *= sqrtf(a->weights[k]);
		at += dim;
	}
	f->embedding_dim = at;
	normalise(f->embedding, f->embedding_dim);
	f->embedding_model = a->embedder;
	return MIEN_OK;
}

/* The expression models on the face and (flips 2) on its mirror image, averaged. */
static int expressions(face_analyzer *a, const face_image *img, face_result *f, int flips, mien_error *err)
{
	float x, y, side, m[6], sum[FACE_EXPRESSIONS] = { 0 };
	int models = 0;
	int64_t n;
	square_of(f->box, 1.0f, &x, &y, &side);
	if (a->expr & EXPR_EMOTION) {
		stage *s = &a->emotion;
		for (int flip = 0; flip < flips; flip++) {
			face_image_rect_map(x, y, side, side, s->size, s->size, m);
			if (flip)
				mirror(m, s->size);
			/* grey in [-1,1], as human prepares it */
			face_image_sample(img, m, s->size, s->size, 1, 2.0f / 255.0f, -1.0f, 0.0f, s->input);
			const float *p = stage_run(s, NULL, &n, err);
			if (!p)
				return err ? err->code : MIEN_EBACKEND;
			for (int i = 0; i < FACE_EXPRESSIONS && i < n; i++)
				sum[emotion_to_ours[i]] += p[i];
		}
		models++;
	}
	if (a->expr & EXPR_FACEAPI) {
		stage *s = &a->expression;
		for (int flip = 0; flip < flips; flip++) {
			face_image_rect_map(x, y, side, side, s->size, s->size, m);
			if (flip)
				mirror(m, s->size);
			face_image_sample(img, m, s->size, s->size, 3, 1.0f, 0.0f, 0.0f, s->input);
			const float *p = stage_run(s, "expressions", &n, err);
			if (!p)
				return err ? err->code : MIEN_EBACKEND;
			for (int i = 0; i < FACE_EXPRESSIONS && i < n; i++)
				sum[i] += p[i];
		}
		models++;
	}
	if (a->expr & EXPR_MIEN) {
		stage *s = &a->mien_expression;
		for (int flip = 0; flip < flips; flip++) {
			face_image_rect_map(x, y, side, side, s->size, s->size, m);
			if (flip)
				mirror(m, s->size);
			/* grey in [0,1], as train/expression trains it; classes already in our order */
			face_image_sample(img, m, s->size, s->size, 1, 1.0f / 255.0f, 0.0f, 0.0f, s->input);
			const float *p = stage_run(s, NULL, &n, err);
			if (!p)
				return err ? err->code : MIEN_EBACKEND;
			for (int i = 0; i < FACE_EXPRESSIONS && i < n; i++)
				sum[i] += p[i];
		}
		models++;
	}
	double total = 0;
	for (int i = 0; i < FACE_EXPRESSIONS; i++)
		total += sum[i];
	for (int i = 0; i < FACE_EXPRESSIONS; i++)
		f->expression[i] = total > 0 ? (float)(sum[i] / total) : 1.0f / FACE_EXPRESSIONS;
	f->has_expression = models > 0;
	return MIEN_OK;
}

static int liveness(face_analyzer *a, const face_image *img, face_result *f, mien_error *err)
{
	float x, y, side, m[6];
	int64_t n;
	square_of(f->box, 1.0f, &x, &y, &side);
	stage *st[2] = { &a->antispoof, &a->liveness };
	float score = 0;
	for (int k = 0; k < 2; k++) {
		face_image_rect_map(x, y, side, side, st[k]->size, st[k]->size, m);
		face_image_sample(img, m, st[k]->size, st[k]->size, 3, 1.0f / 255.0f, 0.0f, 0.0f, st[k]->input);
		const float *p = stage_run(st[k], NULL, &n, err);
		if (!p)
			return err ? err->code : MIEN_EBACKEND;
		score += p[0] / 2; /* both models' first output is the "real"/"live" probability in human */
	}
	f->liveness = score;
	f->has_liveness = 1;
	return MIEN_OK;
}

static float dist(const float *p, const float *q)
{
	return hypotf(p[0] - q[0], p[1] - q[1]);
}

/* Quality: size (a 112-px face scores 1), sharpness (variance of the Laplacian of the aligned grey crop,
 * mapped to 0..1), and frontality (nose centred between the eyes), from `n` points (5 or 4, as fit_template takes
 * them). */
static void quality(face_analyzer *a, const face_image *img, const float (*points)[2], int n, face_result *f)
{
	float m[6];
	fit_template(points, n, 112, m);
	face_image_sample(img, m, 112, 112, 1, 1.0f, 0.0f, 0.0f, a->grey);
	double s = 0, s2 = 0;
	int count = 0;
	for (int y = 1; y < 111; y++) {
		for (int x = 1; x < 111; x++) {
			const float *g = a->grey + y * 112 + x;
			double lap = g[-1] + g[1] + g[-112] + g[112] - 4 * g[0];
			s += lap;
			s2 += lap * lap;
			count++;
		}
	}
	double var = s2 / count - (s / count) * (s / count);
	f->sharpness = (float)(var / (var + 200.0));
	float dl = dist(points[2], points[0]), dr = dist(points[2], points[1]);
	float yaw = dl + dr > 0 ? fabsf(dl - dr) / (dl + dr) : 1;
	f->frontal = yaw >= 0.5f ? 0 : 1 - 2 * yaw;
	float size = f->box[3] / 112.0f;
	size = size > 1 ? 1 : size;
	f->quality = 0.4f * size + 0.3f * f->sharpness + 0.3f * f->frontal;
}

/* The cheap half: quality and `recognisable`. Quality comes from the detector's keypoints where it gives eyes,
 * nose tip and mouth centre (blazeface), so that the landmark model runs only for faces that get an embedding
 * (face_analyze_describe); other detectors' faces get their landmarks here. */
static int locate_face(face_analyzer *a, const face_image *img, const face_detection *d, face_result *f,
                       mien_error *err)
{
	if (d && d->n_keypoints >= 4) {
		quality(a, img, (const float(*)[2])d->keypoints, 4, f);
	} else {
		int rc = find_landmarks(a, img, f, err);
		if (rc)
			return rc;
		quality(a, img, (const float(*)[2])f->landmarks, 5, f);
	}
	f->recognisable = f->box[3] >= (float)a->options.min_face;
	return MIEN_OK;
}

int face_analyze_describe(face_analyzer *a, const face_image *img, face_result *f, unsigned want, mien_error *err)
{
	int rc = MIEN_OK;
	if (a == NULL || img == NULL || f == NULL)
		return mien_error_set(err, MIEN_EINVAL, "analyze: NULL argument");
	int embedding = (want & FACE_WANT_EMBEDDING) && a->options.embeddings && f->recognisable;
	if ((embedding || (want & FACE_WANT_LANDMARKS)) && !f->has_landmarks && (rc = find_landmarks(a, img, f, err)))
		return rc;
	if (embedding && (rc = embed(a, img, f, err)))
		return rc;
	if ((want & FACE_WANT_EXPRESSION) && a->options.expressions &&
	    (rc = expressions(a, img, f, (want & FACE_WANT_ONE_LOOK) ? 1 : 2, err)))
		return rc;
	if ((want & FACE_WANT_LIVENESS) && a->options.liveness && (rc = liveness(a, img, f, err)))
		return rc;
	return MIEN_OK;
}

static int analyze_face(face_analyzer *a, const face_image *img, face_result *f, mien_error *err)
{
	int rc = locate_face(a, img, NULL, f, err);
	return rc ? rc : face_analyze_describe(a, img, f, FACE_WANT_ALL, err);
}

int face_analyze_locate(face_analyzer *a, const face_image *img, const float (*regions)[4], size_t n_regions, int part,
                        int parts, face_result *out, size_t max, size_t *count, mien_error *err)
{
	size_t found = 0;
	*count = 0;
	int rc = regions || part >= 0 ? face_detect_regions(a->detector, img, regions, n_regions, part, parts,
	                                                    a->detections, a->max_detections, &found, err)
	                              : face_detect(a->detector, img, a->detections, a->max_detections, &found, err);
	if (rc)
		return rc;
	size_t n = found < a->max_detections ? found : a->max_detections;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		face_result *f = &out[i];
		memset(f, 0, sizeof(*f));
		const face_detection *d = &a->detections[i];
		f->box[0] = d->x, f->box[1] = d->y, f->box[2] = d->w, f->box[3] = d->h;
		f->score = d->score;
		if ((rc = locate_face(a, img, d, f, err)))
			return rc;
	}
	*count = found;
	return MIEN_OK;
}

int face_analyze(face_analyzer *a, const face_image *img, face_result *out, size_t max, size_t *count, mien_error *err)
{
	int rc = face_analyze_locate(a, img, NULL, 0, -1, 0, out, max, count, err);
	size_t n = *count < max ? *count : max;
	for (size_t i = 0; i < n && rc == MIEN_OK; i++)
		rc = face_analyze_describe(a, img, &out[i], FACE_WANT_ALL, err);
	if (rc)
		*count = 0;
	return rc;
}

int face_analyze_crop(face_analyzer *a, const face_image *img, face_result *out, mien_error *err)
{
	memset(out, 0, sizeof(*out));
	out->box[0] = 0, out->box[1] = 0, out->box[2] = (float)img->width, out->box[3] = (float)img->height;
	out->score = 1;
	return analyze_face(a, img, out, err);
}

int face_similarity(const face_result *x, const face_result *y, float *similarity_out, mien_error *err)
{
	if (!x->embedding_model || !y->embedding_model)
		return mien_error_set(err, MIEN_EINVAL, "a face has no embedding (too small or embeddings off)");
	if (strcmp(x->embedding_model, y->embedding_model) != 0 || x->embedding_dim != y->embedding_dim)
		return mien_error_set(err, MIEN_EINVAL, "embeddings of different models (%s, %s) cannot be compared",
		                      x->embedding_model, y->embedding_model);
	double dot = 0;
	for (int i = 0; i < x->embedding_dim; i++)
		dot += (double)x->embedding[i] * y->embedding[i];
	*similarity_out = (float)dot;
	return MIEN_OK;
}

int face_dominant_expression(const face_result *f)
{
	int best = 0;
	for (int i = 1; i < FACE_EXPRESSIONS; i++)
		if (f->expression[i] > f->expression[best])
			best = i;
	return best;
}

const char *face_embedder_name(const face_options *options)
{
	return pick(options ? options->embedder : NULL, "MIEN_EMBEDDER", EMBEDDER_DEFAULT);
}

/* The cosine similarity at which 0.1 % of the 277,500 different-person pairs of ../shared/data/identity/lfw are
 * accepted (`mien eval identity …/lfw --embedder E`: threshold_at_far_0.1%, docs/accuracy.md "Embedders compared").
 * mobilefacenet's embeddings are nearly constant (cosine 0.9988 between noise and a face, in TF.js too), so it has
 * no useful threshold. */
static const struct {
	const char *embedder;
	float threshold;
} CALIBRATED[] = {
	{ "face_recognition", 0.930f },
	{ "face_recognition-v2", 0.933f },
	{ "faceres", 0.665f },
	{ "faceres-deep", 0.775f },
	{ "mobileface", 0.510f },
	{ "face_recognition+faceres", 0.788f },
	{ "face_recognition-v2*10+faceres", 0.903f },
};

static float calibrated(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(CALIBRATED) / sizeof(CALIBRATED[0]); i++)
		if (strlen(CALIBRATED[i].embedder) == len && strncmp(CALIBRATED[i].embedder, name, len) == 0)
			return CALIBRATED[i].threshold;
	return 0.99999f;
}

float face_default_threshold(const char *model)
{
	if (!model)
		return 0.99999f;
	float t = calibrated(model, strlen(model));
	if (t < 0.99999f || !strchr(model, '+'))
		return t;
	/* A fusion not calibrated on its own: the weighted mean of its parts' thresholds, as its cosine is the
	 * weighted mean of theirs (an estimate: run `mien eval identity` on it to calibrate it). */
	double sum = 0, weights = 0;
	for (const char *p = model, *name; p;) {
		size_t len;
		float w;
		float part = next_part(&p, &name, &len, &w) < 0 ? 0.99999f : calibrated(name, len);
		if (part >= 0.99999f)
			return 0.99999f;
		sum += w * part;
		weights += w;
	}
	return (float)(sum / weights);
}

int face_enroll_verdict(const face_result *faces, size_t count)
{
	if (count == 0)
		return FACE_ENROLL_NO_FACE;
	if (count > 1)
		return FACE_ENROLL_SEVERAL;
	return faces[0].recognisable && faces[0].embedding_model ? FACE_ENROLL_OK : FACE_ENROLL_TOO_SMALL;
}

const char *face_enroll_verdict_name(int verdict)
{
	switch (verdict) {
	case FACE_ENROLL_OK:
		return "enrolled";
	case FACE_ENROLL_NO_FACE:
		return "no_face";
	case FACE_ENROLL_SEVERAL:
		return "several_faces";
	case FACE_ENROLL_TOO_SMALL:
		return "too_small";
	default:
		return "unknown";
	}
}

int face_thumbnail(const face_image *image, const face_result *face, int size, uint8_t **jpeg, size_t *len,
                   mien_error *err)
{
	*jpeg = NULL;
	*len = 0;
	if (size < 32 || size > 512)
		return mien_error_set(err, MIEN_ERANGE, "thumbnail size %d (32..512)", size);
	float side = fmaxf(face->box[2], face->box[3]) * 2.0f;
	float cx = face->box[0] + face->box[2] / 2, cy = face->box[1] + face->box[3] / 2;
	/* Keep the square inside the picture where it fits, so the face is not squeezed at an edge. */
	side = fminf(side, (float)(image->width < image->height ? image->width : image->height));
	float x = fminf(fmaxf(cx - side / 2, 0), (float)image->width - side);
	float y = fminf(fmaxf(cy - side / 2, 0), (float)image->height - side);
	face_image *crop = NULL;
	int rc = face_image_crop(image, x, y, side, side, size, size, &crop, err);
	if (rc == MIEN_OK)
		rc = face_image_encode_jpeg(crop, 85, jpeg, len, err);
	face_image_free(&crop);
	return rc;
}
