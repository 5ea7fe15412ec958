/*
 * seed.c — a helper for tests/integration/api.test.mjs: what the API cannot make by itself.
 *
 *   seed events DB_URL CAMERA_ID PERSON_ID N   N events (PERSON_ID 0 = unknown face) of that camera, each with a
 *                                              snapshot and an alert, through store.h; prints
 *                                              {"events":[ids],"alerts":[ids]}
 *   seed crop IN X Y W H SIDE OUT              the rectangle of picture IN scaled to SIDE x SIDE, as JPEG
 *   seed camera-url DB_URL CAMERA_ID           prints the camera's stored URL (to check a kept password)
 *
 * Events come from camera workers (a later issue); writing them straight into the store the server uses is
 * how the test gets rows to read back through the API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "face/image.h"
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

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "events") == 0)
		return seed_events(argv[2], atoll(argv[3]), atoll(argv[4]), atoi(argv[5]));
	if (argc == 4 && strcmp(argv[1], "camera-url") == 0)
		return camera_url(argv[2], atoll(argv[3]));
	if (argc == 9 && strcmp(argv[1], "crop") == 0)
		return crop(argv + 1);
	fprintf(stderr, "usage: seed events DB_URL CAMERA_ID PERSON_ID N | seed crop IN X Y W H SIDE OUT\n"
	                "       seed camera-url DB_URL CAMERA_ID\n");
	return 2;
}
