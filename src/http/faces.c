/*
 * faces.c — the face pipeline behind the API: POST /analyze and enrollment (POST /people/{id}/faces).
 *
 * face.h says an analyzer is for one thread at a time, so the server keeps a small pool of them (options
 * .analyzers, each with its own nn_pool of inference threads) and a request borrows one for the duration of
 * face_analyze. Analyzers are created on first use, so a server that never analyses never loads the models.
 *
 * Identification searches the store's gallery index (src/store/gallery.h), loaded from the database on first
 * use and then kept current: every enrollment adds its face and every erasure removes faces, through
 * http__gallery_add / http__gallery_remove_* below, by the bus messages of other servers, and by a gallery
 * syncer (store.h, "Gallery sync") that picks up what other processes (`mien enroll`) write to the database.
 * The index is safe for concurrent searches; the lock here only guards creating it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "face/face.h"
#include "store/gallery.h"
#include "watch/watch.h"
#include "http/http_int.h"

#define MAX_ANALYZERS 8
#define MAX_FACES     HTTP_FACES_MAX
#define THUMB_SIDE    160

typedef struct analyzer_slot {
	face_analyzer *analyzer;
	nn_pool *pool;
	int busy;
} analyzer_slot;

struct http_faces {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	int n;
	analyzer_slot slots[MAX_ANALYZERS];
	int threads;
	char models[1024];

	pthread_mutex_t gallery_lock;
	gallery *index;               /* NULL until first needed */
	store_gallery_syncer *syncer; /* started with the index (NULL: MIEN_GALLERY_SYNC_MS=0) */
};

int http__faces_create(http_server *s, http_faces **out)
{
	http_faces *f = calloc(1, sizeof(*f));
	if (!f)
		return MIEN_ENOMEM;
	f->n = s->options.analyzers > 0 ? s->options.analyzers : 1;
	if (f->n > MAX_ANALYZERS)
		f->n = MAX_ANALYZERS;
	f->threads = s->options.threads > 0 ? s->options.threads / f->n : 1;
	if (f->threads < 1)
		f->threads = 1;
	snprintf(f->models, sizeof(f->models), "%s", s->models);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->freed, NULL);
	pthread_mutex_init(&f->gallery_lock, NULL);
	*out = f;
	return MIEN_OK;
}

void http__faces_free(http_faces **faces)
{
	if (!faces || !*faces)
		return;
	http_faces *f = *faces;
	for (int i = 0; i < f->n; i++) {
		face_analyzer_free(&f->slots[i].analyzer);
		nn_pool_destroy(&f->slots[i].pool);
	}
	store_gallery_sync_stop(&f->syncer);
	gallery_free(&f->index);
	pthread_mutex_destroy(&f->gallery_lock);
	pthread_cond_destroy(&f->freed);
	pthread_mutex_destroy(&f->lock);
	free(f);
	*faces = NULL;
}

/* Borrows an analyzer (waiting for one to be free), creating it on first use. */
static int acquire(http_faces *f, analyzer_slot **out, mien_error *err)
{
	pthread_mutex_lock(&f->lock);
	analyzer_slot *slot = NULL;
	while (!slot) {
		for (int i = 0; i < f->n && !slot; i++)
			if (!f->slots[i].busy)
				slot = &f->slots[i];
		if (!slot)
			pthread_cond_wait(&f->freed, &f->lock);
	}
	slot->busy = 1;
	pthread_mutex_unlock(&f->lock);
	if (!slot->analyzer) {
		face_options o;
		face_options_default(&o);
		int rc = nn_pool_create((size_t)f->threads, &slot->pool, err);
		if (rc == MIEN_OK)
			rc = face_analyzer_create(&o, f->models, slot->pool, &slot->analyzer, err);
		if (rc != MIEN_OK) {
			nn_pool_destroy(&slot->pool);
			pthread_mutex_lock(&f->lock);
			slot->busy = 0;
			pthread_cond_signal(&f->freed);
			pthread_mutex_unlock(&f->lock);
			return rc;
		}
	}
	*out = slot;
	return MIEN_OK;
}

static void release(http_faces *f, analyzer_slot *slot)
{
	pthread_mutex_lock(&f->lock);
	slot->busy = 0;
	pthread_cond_signal(&f->freed);
	pthread_mutex_unlock(&f->lock);
}

/* --- the gallery ------------------------------------------------------------------------------------------- */

/* The index for the embedder's model, loaded from the store the first time; NULL (err set) when it cannot be. */
static gallery *index_for(http_server *s, const char *model, int dim, mien_error *err)
{
	http_faces *f = s->faces;
	pthread_mutex_lock(&f->gallery_lock);
	if (!f->index &&
	    store_gallery_load(s->db, STORE_GALLERY_FACES, model, dim, GALLERY_FLOAT32, &f->index, err) == MIEN_OK) {
		MIEN_LOG_INFO_("http", "gallery: %zu faces of %zu people (%s)", gallery_size(f->index),
		               gallery_people(f->index), gallery_isa(f->index));
		int every = store_gallery_sync_interval();
		mien_error sync_err = { 0 };
		if (every > 0 && store_gallery_sync_start(s->db, STORE_GALLERY_FACES, f->index, every, "http", NULL,
		                                          NULL, &f->syncer, &sync_err) != MIEN_OK)
			mien_log(MIEN_LOG_WARN, "http",
			         "gallery: %s; faces enrolled by other processes show after a restart",
			         sync_err.message);
	}
	gallery *g = f->index;
	pthread_mutex_unlock(&f->gallery_lock);
	return g;
}

/* Adds a face to this node's index (no message to others). */
static void index_add(http_server *s, int64_t person_id, int64_t face_id, const float *embedding, int dim,
                      const char *model)
{
	mien_error err = { 0 };
	gallery *g = index_for(s, model, dim, &err);
	if (!g || gallery_add(g, face_id, person_id, embedding, dim, model, &err) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "http", "gallery: face %lld not indexed: %s", (long long)face_id, err.message);
}

static void index_remove(http_server *s, int64_t face_id, int64_t person_id)
{
	http_faces *f = s->faces;
	pthread_mutex_lock(&f->gallery_lock);
	if (f->index && face_id)
		gallery_remove_face(f->index, face_id);
	if (f->index && person_id) {
		gallery_remove_person(f->index, person_id);
		gallery_remove_person(f->index, -person_id); /* the person's negatives */
	}
	pthread_mutex_unlock(&f->gallery_lock);
}

/* A newly enrolled face (or a negative: negative ids, see gallery_identify) goes into the index at once, here and on
 * the other nodes. */
void http__gallery_add_embedding(http_server *s, int64_t person_id, int64_t face_id, const float *embedding, int dim,
                                 const char *model)
{
	index_add(s, person_id, face_id, embedding, dim, model);
	json_t *values = json_array();
	for (int i = 0; i < dim; i++)
		json_array_append_new(values, json_real(embedding[i]));
	http__tell_gallery(s, json_pack("{s:s,s:I,s:I,s:s,s:o}", "op", "add", "face_id", (json_int_t)face_id,
	                                "person_id", (json_int_t)person_id, "model", model, "embedding", values));
}

void http__gallery_remove_face(http_server *s, int64_t face_id)
{
	index_remove(s, face_id, 0);
	http__tell_gallery(s, json_pack("{s:s,s:I}", "op", "remove_face", "face_id", (json_int_t)face_id));
}

void http__gallery_remove_person(http_server *s, int64_t person_id)
{
	index_remove(s, 0, person_id);
	http__tell_gallery(s, json_pack("{s:s,s:I}", "op", "remove_person", "person_id", (json_int_t)person_id));
}

void http__gallery_apply(http_server *s, const json_t *change)
{
	http_faces *f = s->faces;
	mien_error err = { 0 };
	/* No index yet: it will be loaded from the store, change included, when first needed. */
	pthread_mutex_lock(&f->gallery_lock);
	if (f->index && watch_gallery_apply(f->index, change, &err) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "http", "gallery change from another node: %s", err.message);
	pthread_mutex_unlock(&f->gallery_lock);
}

/* The identity of an embedded face: JSON {person_id,name,similarity} or null. */
static json_t *identify(http_server *s, const face_result *face, float threshold)
{
	if (!face->embedding_model)
		return json_null();
	mien_error err = { 0 };
	gallery_hit best;
	gallery *g = index_for(s, face->embedding_model, face->embedding_dim, &err);
	if (!g ||
	    gallery_identify(g, face->embedding, face->embedding_dim, face->embedding_model, threshold, &best, &err)) {
		mien_log(MIEN_LOG_WARN, "http", "identify: %s", err.message);
		return json_null();
	}
	store_person p;
	if (!best.person_id || store_person_get(s->db, best.person_id, &p, &err) != MIEN_OK)
		return json_null();
	return json_pack("{s:I,s:s,s:f}", "person_id", (json_int_t)p.id, "name", p.name, "similarity",
	                 (double)best.similarity);
}

/* --- handlers ------------------------------------------------------------------------------------------------ */

int http__analyze_picture(http_req *r, face_image **image, face_result *faces, size_t *count)
{
	const uint8_t *data;
	size_t len;
	mien_error err = { 0 };
	if (http__body_image(r, &data, &len) != 0)
		return -1;
	int rc = face_image_decode(data, len, HTTP_MAX_PIXELS, image, &err);
	if (rc == MIEN_ETOOBIG || rc == MIEN_ERANGE) {
		http__reply_error(r, 413, "too_large", "the picture has more than %lld pixels",
		                  (long long)HTTP_MAX_PIXELS);
		return -1;
	}
	if (rc == MIEN_EUNSUPPORTED) {
		http__reply_error(r, 415, "unsupported_media_type", "unsupported picture: %s", err.message);
		return -1;
	}
	if (rc == MIEN_ENOMEM) {
		http__reply_error(r, 503, "unavailable", "out of memory decoding the picture");
		return -1;
	}
	if (rc != MIEN_OK) {
		http__reply_error(r, 400, "bad_image", "not a readable JPEG, PNG or WebP picture (%s)", err.message);
		return -1;
	}
	analyzer_slot *slot;
	if ((rc = acquire(r->srv->faces, &slot, &err)) != MIEN_OK) {
		mien_log(MIEN_LOG_ERROR, "http", "face pipeline: %s", err.message);
		http__reply_error(r, 503, "unavailable", "the face models could not be loaded");
		return -1;
	}
	int64_t t0 = mien_mono_ms();
	rc = face_analyze(slot->analyzer, *image, faces, MAX_FACES, count, &err);
	http__metrics_analyze(r->srv->metrics, mien_mono_ms() - t0);
	release(r->srv->faces, slot);
	if (rc != MIEN_OK) {
		mien_log(MIEN_LOG_WARN, "http", "analyze: %s", err.message);
		http__reply_error(r, 400, "bad_image", "the picture could not be analysed");
		return -1;
	}
	if (*count > MAX_FACES)
		*count = MAX_FACES;
	return 0;
}

json_t *http_face_json(const face_result *f, int with_expression)
{
	json_t *o = json_object();
	json_object_set_new(o, "box", json_pack("[f,f,f,f]", f->box[0], f->box[1], f->box[2], f->box[3]));
	json_object_set_new(o, "score", json_real(f->score));
	json_t *lm = json_array();
	for (int i = 0; i < 5; i++)
		json_array_append_new(lm, json_pack("[f,f]", f->landmarks[i][0], f->landmarks[i][1]));
	json_object_set_new(o, "landmarks", lm);
	json_object_set_new(o, "quality", json_real(f->quality));
	json_object_set_new(o, "recognisable", json_boolean(f->recognisable));
	if (with_expression && f->has_expression) {
		json_t *e = json_object();
		for (int i = 0; i < FACE_EXPRESSIONS; i++)
			json_object_set_new(e, face_expression_names[i], json_real(f->expression[i]));
		json_object_set_new(o, "expression", e);
		json_object_set_new(o, "dominant_expression",
		                    json_string(face_expression_names[face_dominant_expression(f)]));
	}
	return o;
}

void http__h_analyze(http_req *r)
{
	face_image *image = NULL;
	face_result *faces = calloc(MAX_FACES, sizeof(face_result));
	size_t count = 0;
	if (!faces) {
		http__reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	if (http__analyze_picture(r, &image, faces, &count) == 0) {
		int with_expression = http__role_at_least(r, STORE_ROLE_ANALYST);
		json_t *list = json_array();
		const char *model = NULL; /* the embedder's, from the first face tall enough to have an embedding */
		for (size_t i = 0; i < count && !model; i++)
			model = faces[i].embedding_model;
		float threshold = model ? watch_recognition_threshold(r->srv->db, model) : 0;
		for (size_t i = 0; i < count; i++) {
			json_t *o = http_face_json(&faces[i], with_expression);
			json_object_set_new(o, "identity", identify(r->srv, &faces[i], threshold));
			json_array_append_new(list, o);
		}
		http__reply_json(r, 200,
		                 json_pack("{s:s,s:i,s:i,s:o}", "image", "upload", "width", image->width, "height",
		                           image->height, "faces", list));
	}
	face_image_free(&image);
	free(faces);
}

/* --- enrollment ---------------------------------------------------------------------------------------------- */

#define MIN_BOX_IOU  0.3f /* a ?box= must overlap a detected face at least this much (intersection over union) */
#define MISMATCH_K   16   /* people compared with a new face before it is enrolled */
#define SELECTOR_MAX 128

int http__face_selector_parse(http_req *r, http_face_selector *sel)
{
	memset(sel, 0, sizeof(*sel));
	const char *face = http__query(r, "face");
	const char *box = http__query(r, "box");
	if (face && box) {
		http__reply_error(r, 400, "bad_request", "give either 'face' or 'box', not both");
		return -1;
	}
	if (face) {
		char *end = NULL;
		long n = strtol(face, &end, 10);
		if (!*face || *end || n < 0 || n >= MAX_FACES || strlen(face) > 3) {
			http__reply_error(r, 400, "bad_request",
			                  "'face' must be the index (0 to %d) of a face in the picture", MAX_FACES - 1);
			return -1;
		}
		sel->by_index = 1, sel->index = n;
	}
	if (box) {
		const char *p = box;
		int ok = strlen(box) < SELECTOR_MAX;
		for (int i = 0; i < 4 && ok; i++) {
			char *end = NULL;
			double v = strtod(p, &end);
			ok = end != p && isfinite(v) && v >= 0 && v <= 1e6 && (i < 2 || v > 0) &&
			     *end == (i < 3 ? ',' : '\0');
			sel->box[i] = (float)v;
			p = end + 1;
		}
		if (!ok) {
			http__reply_error(
			        r, 400, "bad_request",
			        "'box' must be x,y,width,height in picture pixels (width and height above 0)");
			return -1;
		}
		sel->by_box = 1;
	}
	return 0;
}

/* Intersection over union of two x, y, w, h boxes. */
static float box_iou(const float *a, const float *b)
{
	float x0 = fmaxf(a[0], b[0]), y0 = fmaxf(a[1], b[1]);
	float x1 = fminf(a[0] + a[2], b[0] + b[2]), y1 = fminf(a[1] + a[3], b[1] + b[3]);
	float inter = fmaxf(0, x1 - x0) * fmaxf(0, y1 - y0);
	float uni = a[2] * a[3] + b[2] * b[3] - inter;
	return uni > 0 ? inter / uni : 0;
}

/* The faces found, for a client to offer a pick: [{index, box, score}], boxes shaped as /analyze shapes them. */
static json_t *found_json(const face_result *faces, size_t count)
{
	json_t *list = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(list, json_pack("{s:I,s:[f,f,f,f],s:f}", "index", (json_int_t)i, "box",
		                                      faces[i].box[0], faces[i].box[1], faces[i].box[2],
		                                      faces[i].box[3], "score", (double)faces[i].score));
	return list;
}

/* A 422 verdict; `extra` (consumed, may be NULL) adds its fields to the reply. */
static void reply_verdict_with(http_req *r, const char *verdict, size_t faces, json_t *extra, const char *message)
{
	json_t *o = json_pack("{s:{s:s,s:s},s:s,s:I}", "error", "code", verdict, "message", message, "verdict", verdict,
	                      "faces", (json_int_t)faces);
	if (extra) {
		json_object_update(o, extra);
		json_decref(extra);
	}
	http__reply_json(r, 422, o);
}

static void reply_verdict(http_req *r, const char *verdict, size_t faces, const char *message)
{
	reply_verdict_with(r, verdict, faces, NULL, message);
}

long http__face_pick(http_req *r, const http_face_selector *sel, const face_result *faces, size_t count, int several)
{
	if (count == 0) {
		reply_verdict(r, "no_face", count, "no face found in the picture");
		return -1;
	}
	if (sel->by_index) {
		if ((size_t)sel->index >= count) {
			http__reply_error(r, 400, "bad_request",
			                  "'face' is %ld but the picture shows %zu face%s (0 to %zu)", sel->index,
			                  count, count == 1 ? "" : "s", count - 1);
			return -1;
		}
		return sel->index;
	}
	if (sel->by_box) {
		long best = -1;
		float best_iou = 0;
		for (size_t i = 0; i < count; i++) {
			float iou = box_iou(sel->box, faces[i].box);
			if (iou > best_iou)
				best = (long)i, best_iou = iou;
		}
		if (best < 0 || best_iou < MIN_BOX_IOU) {
			char message[160];
			snprintf(message, sizeof(message), "no face found at that box (best overlap %.2f, needs %.2f)",
			         (double)best_iou, (double)MIN_BOX_IOU);
			reply_verdict_with(r, "no_face_at_box", count,
			                   json_pack("{s:o}", "found", found_json(faces, count)), message);
			return -1;
		}
		return best;
	}
	if (count > 1 && several == HTTP_PICK_LARGEST) {
		size_t best = 0;
		for (size_t i = 1; i < count; i++)
			if (faces[i].box[2] * faces[i].box[3] > faces[best].box[2] * faces[best].box[3])
				best = i;
		return (long)best;
	}
	if (count > 1) {
		reply_verdict_with(r, "several_faces", count, json_pack("{s:o}", "found", found_json(faces, count)),
		                   "the picture must show exactly one face, or name one with ?face=N or ?box=x,y,w,h");
		return -1;
	}
	return 0;
}

/*
 * Before a face is stored: does it look like the person it is enrolled for, and not more like someone else?
 * 0 to go on; -1 after answering a 422 `mismatch` or `matches_other` verdict (the client may repeat with
 * ?confirm=true) or an error. *warning names the verdict that `confirm` overrode (NULL when none).
 * Only admins enrol, and every signed-in user may read every person's name, so naming the other person tells
 * the caller nothing it could not otherwise see.
 */
int http__check_match(http_req *r, const store_person *person, const face_result *f, long index, size_t count,
                      int confirm, const char **warning)
{
	*warning = NULL;
	mien_error err = { 0 };
	gallery_hit hits[MISMATCH_K];
	size_t n = 0;
	gallery *g = index_for(r->srv, f->embedding_model, f->embedding_dim, &err);
	if (!g || gallery_search(g, f->embedding, f->embedding_dim, f->embedding_model, MISMATCH_K, hits, &n, &err)) {
		mien_log(MIEN_LOG_WARN, "http", "enroll: gallery: %s", err.message);
		http__reply_error(r, 503, "unavailable", "the face gallery could not be searched");
		return -1;
	}
	float threshold = watch_recognition_threshold(r->srv->db, f->embedding_model);
	const gallery_hit *own = NULL, *other = NULL;
	for (size_t i = 0; i < n; i++) {
		if (hits[i].person_id < 0)
			continue; /* a negative (a face known not to be someone) */
		if (hits[i].person_id == person->id && !own)
			own = &hits[i];
		else if (hits[i].person_id != person->id && !other)
			other = &hits[i];
	}
	/* A person whose faces are all beyond the MISMATCH_K nearest people is below every one of them. */
	int has_faces = person->faces > 0;
	float own_sim = own ? own->similarity : -1.0f;
	char message[2 * STORE_NAME_MAX + 200];
	if (has_faces && own_sim < threshold) {
		if (confirm) {
			*warning = "mismatch";
			return 0;
		}
		snprintf(message, sizeof(message),
		         "this face does not look like %s's other faces (similarity %.2f, below the threshold %.2f): "
		         "repeat with confirm=true to enrol it anyway",
		         person->name, (double)own_sim, (double)threshold);
		reply_verdict_with(r, "mismatch", count,
		                   json_pack("{s:I,s:{s:I,s:s},s:f,s:f}", "face", (json_int_t)index, "person", "id",
		                             (json_int_t)person->id, "name", person->name, "similarity",
		                             (double)own_sim, "threshold", (double)threshold),
		                   message);
		return -1;
	}
	if (other && other->similarity >= threshold && other->similarity > own_sim) {
		store_person p;
		if (store_person_get(r->srv->db, other->person_id, &p, &err) != MIEN_OK)
			return 0; /* erased meanwhile: nobody else to warn about */
		if (confirm) {
			*warning = "matches_other";
			return 0;
		}
		snprintf(message, sizeof(message),
		         "this face looks more like %s (similarity %.2f) than like %s: repeat with confirm=true to "
		         "enrol it "
		         "anyway",
		         p.name, (double)other->similarity, person->name);
		reply_verdict_with(r, "matches_other", count,
		                   json_pack("{s:I,s:{s:I,s:s},s:f,s:f}", "face", (json_int_t)index, "person", "id",
		                             (json_int_t)p.id, "name", p.name, "similarity", (double)other->similarity,
		                             "threshold", (double)threshold),
		                   message);
		return -1;
	}
	return 0;
}

void http__h_faces_add(http_req *r)
{
	store_person person;
	mien_error err = { 0 };
	http_face_selector sel;
	int confirm = 0;
	if (http__face_selector_parse(r, &sel) || http__query_bool(r, "confirm", &confirm))
		return;
	int rc = store_person_get(r->srv->db, r->ids[0], &person, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "person");
		return;
	}
	face_image *image = NULL;
	uint8_t *jpeg = NULL;
	size_t jpeg_len = 0, count = 0;
	face_result *faces = calloc(MAX_FACES, sizeof(face_result));
	if (!faces) {
		http__reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	if (http__analyze_picture(r, &image, faces, &count) != 0)
		goto done;
	long index = http__face_pick(r, &sel, faces, count, HTTP_PICK_ONE);
	if (index < 0)
		goto done;
	const face_result *f = &faces[index];
	if (!f->embedding_model) {
		reply_verdict(r, "too_small", count, "the face is too small to recognise");
		goto done;
	}
	const char *warning = NULL;
	if (http__check_match(r, &person, f, index, count, confirm, &warning) != 0)
		goto done;
	if (face_thumbnail(image, f, THUMB_SIDE, &jpeg, &jpeg_len, &err)) {
		mien_log(MIEN_LOG_WARN, "http", "thumbnail: %s", err.message);
		jpeg = NULL, jpeg_len = 0;
	}
	int64_t face_id = 0;
	rc = store_face_add(r->srv->db, person.id, f->embedding_model, f->embedding, f->embedding_dim, f->quality, jpeg,
	                    jpeg_len, &face_id, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "person");
		goto done;
	}
	http__gallery_add_embedding(r->srv, person.id, face_id, f->embedding, f->embedding_dim, f->embedding_model);
	if (warning)
		http__audit(r, "enroll", "person %lld face %lld (confirmed despite %s)", (long long)person.id,
		            (long long)face_id, warning);
	else
		http__audit(r, "enroll", "person %lld face %lld", (long long)person.id, (long long)face_id);
	json_t *reply = json_pack("{s:I,s:I,s:s,s:s,s:f,s:[f,f,f,f],s:I,s:b}", "id", (json_int_t)face_id, "person_id",
	                          (json_int_t)person.id, "verdict", "enrolled", "model", f->embedding_model, "quality",
	                          (double)f->quality, "box", f->box[0], f->box[1], f->box[2], f->box[3], "face",
	                          (json_int_t)index, "confirmed", warning != NULL);
	if (warning)
		json_object_set_new(reply, "warning", json_string(warning));
	http__reply_json(r, 201, reply);
done:
	free(jpeg);
	face_image_free(&image);
	free(faces);
}
