/*
 * seed.c — a helper for tests/integration/api.test.mjs: what the API cannot make by itself.
 *
 *   seed events DB_URL CAMERA_ID PERSON_ID N   N events (PERSON_ID 0 = unknown face) of that camera, each with a
 *                                              snapshot and an alert, through store.h; prints
 *                                              {"events":[ids],"alerts":[ids]}
 *   seed crop IN X Y W H SIDE OUT              the rectangle of picture IN scaled to SIDE x SIDE, as JPEG
 *   seed camera-url DB_URL CAMERA_ID           prints the camera's stored URL (to check a kept password)
 *   seed event-faces DB_URL EVENT_ID DAYS N    N finished events of EVENT_ID's camera that started DAYS days ago,
 *                                              each keeping EVENT_ID's face (what another node or an old visit
 *                                              leaves for the face search); prints {"events":[ids]}
 *   seed faces DB_URL MODEL DIM N              N faces of MODEL (DIM random values each), 10 per person
 *   seed sync-cost DB_URL MODEL DIM [events]   what the gallery sync (store.h) costs over the faces stored: loads the
 *                                              index, times polls that find nothing and passes that pick up a
 *                                              face another handle enrolled or erased; prints JSON (ms). With
 *                                              `events`, the face search's index over event faces instead (a
 *                                              finished event stored and one deleted)
 *   seed event-faces-bulk DB_URL MODEL DIM N   N finished events of a camera "bulk", each keeping a random face of
 *                                              MODEL (for sync-cost ... events)
 *
 * Events come from camera workers (a later issue); writing them straight into the store the server uses is
 * how the test gets rows to read back through the API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "face/image.h"
#include "store/gallery.h"
#include "store/store.h"

static int fail(const char *what, const mien_error *err)
{
	fprintf(stderr, "seed: %s: %s\n", what, err ? err->message : "");
	return 1;
}

static int seed_events(const char *url, int64_t camera, int64_t person, int n)
{
	store *s = NULL;
	mien_error err = { 0 };
	face_image *img = NULL;
	uint8_t *jpeg = NULL;
	size_t len = 0;
	if (store_open(url, 1, &s, &err) || store_migrate(s, NULL, &err))
		return fail("open", &err);
	if (face_image_create(64, 48, 0, &img, &err) || face_image_encode_jpeg(img, 80, &jpeg, &len, &err))
		return fail("snapshot", &err);
	printf("{\"events\":[");
	int64_t alerts[256];
	int n_alerts = 0;
	for (int i = 0; i < n; i++) {
		store_event e = { 0 };
		e.camera_id = camera;
		e.person_id = person;
		e.track_id = 1000 + i;
		e.similarity = person ? 0.8f : 0;
		e.started_at = mien_wall_ms() - 60000 + i;
		e.ended_at = e.started_at + 5000;
		snprintf(e.dominant_expression, sizeof(e.dominant_expression), "happy");
		for (int k = 0; k < STORE_EXPRESSIONS; k++)
			e.expression[k] = k == 1 ? 0.7f : 0.05f;
		e.box[0] = 10, e.box[1] = 20, e.box[2] = 30, e.box[3] = 40;
		e.quality = 0.5f;
		e.alert = 1;
		if (store_event_create(s, &e, jpeg, len, jpeg, len, &err))
			return fail("event", &err);
		store_alert a = { 0 };
		a.event_id = e.id;
		a.person_id = person;
		snprintf(a.kind, sizeof(a.kind), "%s", person ? "watchlist" : "unknown");
		a.created_at = mien_wall_ms();
		if (store_alert_create(s, &a, &err))
			return fail("alert", &err);
		if (n_alerts < 256)
			alerts[n_alerts++] = a.id;
		printf("%s%lld", i ? "," : "", (long long)e.id);
	}
	printf("],\"alerts\":[");
	for (int i = 0; i < n_alerts; i++)
		printf("%s%lld", i ? "," : "", (long long)alerts[i]);
	printf("]}\n");
	free(jpeg);
	face_image_free(&img);
	store_close(&s);
	return 0;
}

static int camera_url(const char *url, int64_t id)
{
	store *s = NULL;
	store_camera c;
	mien_error err = { 0 };
	if (store_open(url, 1, &s, &err) || store_camera_get(s, id, &c, &err))
		return fail("camera", &err);
	printf("%s\n", c.url);
	store_close(&s);
	return 0;
}

static int event_faces(const char *url, int64_t source, int days, int n)
{
	store *s = NULL;
	mien_error err = { 0 };
	float *face = malloc(4096 * sizeof(float));
	char model[STORE_MODEL_MAX];
	int dim = 0;
	store_event from;
	if (!face)
		return fail("event-faces", NULL);
	if (store_open(url, 1, &s, &err) || store_event_get(s, source, &from, &err) ||
	    store_event_embedding(s, source, model, face, &dim, &err))
		return fail("event-faces", &err);
	printf("{\"events\":[");
	for (int i = 0; i < n; i++) {
		store_event e = { 0 };
		e.camera_id = from.camera_id;
		e.track_id = 900000 + i;
		e.started_at = mien_wall_ms() - (int64_t)days * 86400000 + i * 1000;
		e.ended_at = e.started_at + 500;
		e.quality = 0.5f;
		if (store_event_create(s, &e, NULL, 0, NULL, 0, &err) ||
		    store_event_set_embedding(s, e.id, model, face, dim, &err))
			return fail("event", &err);
		printf("%s%lld", i ? "," : "", (long long)e.id);
	}
	printf("]}\n");
	free(face);
	store_close(&s);
	return 0;
}

static int crop(char **argv)
{
	face_image *img = NULL, *out = NULL;
	uint8_t *jpeg = NULL;
	size_t len = 0;
	mien_error err = { 0 };
	int side = atoi(argv[6]);
	if (face_image_load(argv[1], 0, &img, &err) ||
	    face_image_crop(img, strtof(argv[2], NULL), strtof(argv[3], NULL), strtof(argv[4], NULL),
	                    strtof(argv[5], NULL), side, side, &out, &err) ||
	    face_image_encode_jpeg(out, 90, &jpeg, &len, &err))
		return fail("crop", &err);
	FILE *f = fopen(argv[7], "wb");
	if (!f || fwrite(jpeg, 1, len, f) != len || fclose(f) != 0)
		return fail("write", NULL);
	free(jpeg);
	face_image_free(&out);
	face_image_free(&img);
	return 0;
}

/* Deterministic values in [-1, 1) (xorshift), so that runs are comparable. */
static void random_embedding(float *v, int dim, uint64_t *state)
{
	for (int i = 0; i < dim; i++) {
		*state ^= *state << 13;
		*state ^= *state >> 7;
		*state ^= *state << 17;
		v[i] = (float)(*state >> 40) / (float)(1u << 23) - 1.0f;
	}
}

static int seed_faces(const char *url, const char *model, int dim, int n)
{
	store *s = NULL;
	mien_error err = { 0 };
	if (dim < 1 || dim > GALLERY_MAX_DIM || n < 1)
		return fail("faces", NULL);
	if (store_open(url, 1, &s, &err) || store_migrate(s, NULL, &err))
		return fail("open", &err);
	float v[GALLERY_MAX_DIM];
	uint64_t state = 0x9e3779b97f4a7c15ull;
	store_person p = { 0 };
	for (int i = 0; i < n; i++) {
		if (i % 10 == 0) {
			memset(&p, 0, sizeof(p));
			snprintf(p.name, sizeof(p.name), "seeded %d %lld", i / 10, (long long)mien_wall_ms());
			if (store_person_create(s, &p, &err))
				return fail("person", &err);
		}
		random_embedding(v, dim, &state);
		int64_t id;
		if (store_face_add(s, p.id, model, v, dim, 1, NULL, 0, &id, &err))
			return fail("face", &err);
	}
	store_close(&s);
	return 0;
}

static int seed_event_faces_bulk(const char *url, const char *model, int dim, int n)
{
	store *s = NULL;
	mien_error err = { 0 };
	if (dim < 1 || dim > GALLERY_MAX_DIM || n < 1)
		return fail("event-faces-bulk", NULL);
	if (store_open(url, 1, &s, &err) || store_migrate(s, NULL, &err))
		return fail("open", &err);
	store_camera c = { 0 };
	snprintf(c.name, sizeof(c.name), "bulk %lld", (long long)mien_wall_ms());
	snprintf(c.url, sizeof(c.url), "rtsp://127.0.0.1:9/bulk");
	c.analysis_fps = 5;
	if (store_camera_create(s, &c, &err))
		return fail("camera", &err);
	float v[GALLERY_MAX_DIM];
	uint64_t state = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < n; i++) {
		store_event e = { 0 };
		e.camera_id = c.id;
		e.track_id = i;
		e.started_at = mien_wall_ms() - 1000;
		e.ended_at = e.started_at + 500;
		random_embedding(v, dim, &state);
		if (store_event_create(s, &e, NULL, 0, NULL, 0, &err) ||
		    store_event_set_embedding(s, e.id, model, v, dim, &err))
			return fail("event", &err);
	}
	store_close(&s);
	return 0;
}

static int64_t mono_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static double since_ms(int64_t t0_us)
{
	return (double)(mono_us() - t0_us) / 1000.0;
}

/* One change by another handle for sync_cost: a face enrolled (or an event finished with a face), and taken out. */
typedef struct change {
	int events;
	int64_t owner; /* the person, or the camera */
} change;

static int change_add(store *other, const change *c, const char *model, const float *v, int dim, int64_t *id,
                      mien_error *err)
{
	if (!c->events)
		return store_face_add(other, c->owner, model, v, dim, 1, NULL, 0, id, err);
	store_event e = { 0 };
	e.camera_id = c->owner;
	e.started_at = mien_wall_ms();
	e.ended_at = e.started_at + 500;
	int rc = store_event_create(other, &e, NULL, 0, NULL, 0, err);
	*id = e.id;
	return rc ? rc : store_event_set_embedding(other, e.id, model, v, dim, err);
}

static int change_remove(store *other, const change *c, int64_t id, mien_error *err)
{
	return c->events ? store_event_delete(other, id, err) : store_face_delete(other, c->owner, id, err);
}

static int sync_cost(const char *url, const char *model, int dim, int events)
{
	int source = events ? STORE_GALLERY_EVENT_FACES : STORE_GALLERY_FACES;
	store *s = NULL, *other = NULL;
	gallery *g = NULL;
	mien_error err = { 0 };
	if (store_open(url, 2, &s, &err) || store_open(url, 1, &other, &err))
		return fail("open", &err);
	int64_t t0 = mono_us();
	if (store_gallery_load(s, source, model, dim, events ? GALLERY_INT8 : GALLERY_FLOAT32, &g, &err))
		return fail("load", &err);
	double load = since_ms(t0);
	store_gallery_sync_state st = { 0 };
	size_t added = 0, removed = 0;
	enum { ROUNDS = 20 };
	double idle = 0, idle_max = 0, add = 0, erase = 0;
	float v[GALLERY_MAX_DIM];
	uint64_t state = 42;
	store_person p = { 0 };
	store_camera cam = { 0 };
	snprintf(p.name, sizeof(p.name), "sync-cost %lld", (long long)mien_wall_ms());
	snprintf(cam.name, sizeof(cam.name), "sync-cost %lld", (long long)mien_wall_ms());
	snprintf(cam.url, sizeof(cam.url), "rtsp://127.0.0.1:9/sync-cost");
	cam.analysis_fps = 5;
	if (events ? store_camera_create(other, &cam, &err) : store_person_create(other, &p, &err))
		return fail("owner", &err);
	change c = { events, events ? cam.id : p.id };
	for (int r = 0; r < ROUNDS; r++) {
		t0 = mono_us();
		if (store_gallery_sync_once(s, source, g, &st, &added, &removed, &err) || added || removed)
			return fail("idle poll", &err);
		double ms = since_ms(t0);
		idle += ms;
		idle_max = ms > idle_max ? ms : idle_max;
		random_embedding(v, dim, &state);
		int64_t id;
		if (change_add(other, &c, model, v, dim, &id, &err))
			return fail("add", &err);
		t0 = mono_us();
		if (store_gallery_sync_once(s, source, g, &st, &added, &removed, &err) || added != 1)
			return fail("add pass", &err);
		add += since_ms(t0);
		if (change_remove(other, &c, id, &err))
			return fail("delete", &err);
		t0 = mono_us();
		if (store_gallery_sync_once(s, source, g, &st, &added, &removed, &err) || removed != 1)
			return fail("erase pass", &err);
		erase += since_ms(t0);
	}
	if (events)
		store_camera_delete(other, cam.id, &err);
	else
		store_person_delete(other, p.id, &err);
	printf("{\"backend\":\"%s\",\"source\":\"%s\",\"faces\":%zu,\"load_ms\":%.1f,"
	       "\"idle_poll_ms\":%.2f,\"idle_poll_max_ms\":%.2f,\"pass_add_one_ms\":%.2f,\"pass_erase_one_ms\":%.2f}\n",
	       store_backend(s), events ? "event faces" : "faces", gallery_size(g), load, idle / ROUNDS, idle_max,
	       add / ROUNDS, erase / ROUNDS);
	gallery_free(&g);
	store_close(&other);
	store_close(&s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "faces") == 0)
		return seed_faces(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if ((argc == 5 || (argc == 6 && strcmp(argv[5], "events") == 0)) && strcmp(argv[1], "sync-cost") == 0)
		return sync_cost(argv[2], argv[3], atoi(argv[4]), argc == 6);
	if (argc == 6 && strcmp(argv[1], "event-faces-bulk") == 0)
		return seed_event_faces_bulk(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if (argc == 6 && strcmp(argv[1], "events") == 0)
		return seed_events(argv[2], atoll(argv[3]), atoll(argv[4]), atoi(argv[5]));
	if (argc == 6 && strcmp(argv[1], "event-faces") == 0)
		return event_faces(argv[2], atoll(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc == 4 && strcmp(argv[1], "camera-url") == 0)
		return camera_url(argv[2], atoll(argv[3]));
	if (argc == 9 && strcmp(argv[1], "crop") == 0)
		return crop(argv + 1);
	fprintf(stderr, "usage: seed events DB_URL CAMERA_ID PERSON_ID N | seed crop IN X Y W H SIDE OUT\n"
	                "       seed camera-url DB_URL CAMERA_ID | seed faces DB_URL MODEL DIM N\n"
	                "       seed event-faces DB_URL EVENT_ID DAYS N\n"
	                "       seed sync-cost DB_URL MODEL DIM [events] | seed event-faces-bulk DB_URL MODEL DIM N\n");
	return 2;
}
