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
#define MAX_FACES     64
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
	if (!f->index && store_gallery_load(s->db, model, dim, GALLERY_FLOAT32, &f->index, err) == MIEN_OK) {
		MIEN_LOG_INFO_("http", "gallery: %zu faces of %zu people (%s)", gallery_size(f->index),
		               gallery_people(f->index), gallery_isa(f->index));
		int every = store_gallery_sync_interval();
		mien_error sync_err = { 0 };
		if (every > 0 && store_gallery_sync_start(s->db, f->index, every, "http", NULL, NULL, &f->syncer,
		                                          &sync_err) != MIEN_OK)
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
	if (f->index && person_id)
		gallery_remove_person(f->index, person_id);
	pthread_mutex_unlock(&f->gallery_lock);
}

/* A newly enrolled face goes into the index at once, here and on the other nodes. */
static void http__gallery_add(http_server *s, int64_t person_id, int64_t face_id, const face_result *face)
{
	index_add(s, person_id, face_id, face->embedding, face->embedding_dim, face->embedding_model);
	json_t *values = json_array();
	for (int i = 0; i < face->embedding_dim; i++)
		json_array_append_new(values, json_real(face->embedding[i]));
	http__tell_gallery(s,
	                   json_pack("{s:s,s:I,s:I,s:s,s:o}", "op", "add", "face_id", (json_int_t)face_id, "person_id",
	                             (json_int_t)person_id, "model", face->embedding_model, "embedding", values));
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
	size_t n = 0;
	gallery *g = index_for(s, face->embedding_model, face->embedding_dim, &err);
	if (!g || gallery_search(g, face->embedding, face->embedding_dim, face->embedding_model, 1, &best, &n, &err)) {
		mien_log(MIEN_LOG_WARN, "http", "identify: %s", err.message);
		return json_null();
	}
	store_person p;
	if (n != 1 || best.similarity < threshold || store_person_get(s->db, best.person_id, &p, &err) != MIEN_OK)
		return json_null();
	return json_pack("{s:I,s:s,s:f}", "person_id", (json_int_t)p.id, "name", p.name, "similarity",
	                 (double)best.similarity);
}

/* --- handlers ------------------------------------------------------------------------------------------------ */

/* Decodes the request's picture and runs the pipeline on it. Answers errors itself; 0 on success. */
static int analyze_body(http_req *r, face_image **image, face_result *faces, size_t *count)
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
	if (analyze_body(r, &image, faces, &count) == 0) {
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

static void reply_verdict(http_req *r, const char *verdict, size_t faces, const char *message)
{
	http__reply_json(r, 422,
	                 json_pack("{s:{s:s,s:s},s:s,s:I}", "error", "code", verdict, "message", message, "verdict",
	                           verdict, "faces", (json_int_t)faces));
}

void http__h_faces_add(http_req *r)
{
	store_person person;
	mien_error err = { 0 };
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
	if (analyze_body(r, &image, faces, &count) != 0)
		goto done;
	if (count == 0) {
		reply_verdict(r, "no_face", count, "no face found in the picture");
		goto done;
	}
	if (count > 1) {
		reply_verdict(r, "several_faces", count, "the picture must show exactly one face");
		goto done;
	}
	const face_result *f = &faces[0];
	if (!f->embedding_model) {
		reply_verdict(r, "too_small", count, "the face is too small to recognise");
		goto done;
	}
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
	http__gallery_add(r->srv, person.id, face_id, f);
	http__audit(r, "enroll", "person %lld face %lld", (long long)person.id, (long long)face_id);
	http__reply_json(r, 201,
	                 json_pack("{s:I,s:I,s:s,s:s,s:f,s:[f,f,f,f]}", "id", (json_int_t)face_id, "person_id",
	                           (json_int_t)person.id, "verdict", "enrolled", "model", f->embedding_model, "quality",
	                           (double)f->quality, "box", f->box[0], f->box[1], f->box[2], f->box[3]));
done:
	free(jpeg);
	face_image_free(&image);
	free(faces);
}
