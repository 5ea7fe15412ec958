/*
 * test_track.c — the tracker on synthetic detections whose right answers follow from how the scenes are built:
 * linear motion faster than plain IoU can follow, two faces crossing, a face lost for a moment and re-linked by
 * its embedding, identity votes with a minority of wrong matches, expression means, the cap on tracks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "face/track.h"

#define DIM 128

/* A person is a fixed random unit vector; each sighting adds a little noise. */
static uint32_t rng_state;
static float rnd(void)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return (float)(rng_state >> 8) / (float)(1u << 24) - 0.5f;
}

static void person_vector(int person, float *v)
{
	rng_state = 0x9e3779b9u * (uint32_t)(person + 1);
	double n = 0;
	for (int i = 0; i < DIM; i++) {
		v[i] = rnd();
		n += (double)v[i] * v[i];
	}
	for (int i = 0; i < DIM; i++)
		v[i] = (float)(v[i] / sqrt(n));
}

static uint32_t noise_seed = 1;

/* A face at (x, y, w, h); person < 0 = no embedding. */
static void make_face(face_result *f, float x, float y, float w, float h, int person, float quality)
{
	memset(f, 0, sizeof(*f));
	f->box[0] = x;
	f->box[1] = y;
	f->box[2] = w;
	f->box[3] = h;
	f->score = 0.9f;
	f->quality = quality;
	f->recognisable = person >= 0;
	if (person < 0)
		return;
	float v[DIM];
	person_vector(person, v);
	rng_state = noise_seed++ * 2654435761u;
	double n = 0;
	for (int i = 0; i < DIM; i++) {
		f->embedding[i] = v[i] + 0.03f * rnd(); /* similarity to the person's other sightings ~0.99 */
		n += (double)f->embedding[i] * f->embedding[i];
	}
	for (int i = 0; i < DIM; i++)
		f->embedding[i] = (float)(f->embedding[i] / sqrt(n));
	f->embedding_dim = DIM;
	f->embedding_model = "test";
}

static size_t count_kind(const face_track_change *c, size_t n, int kind)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += c[i].kind == kind;
	return k;
}

static face_tracker *tracker_with(const face_track_options *o)
{
	face_tracker *t = NULL;
	mien_error err;
	assert_int_equal(face_tracker_create(o, &t, &err), MIEN_OK);
	return t;
}

/* One face moving right at 0.2 px/ms (40 px per 200 ms frame), 80 px wide. With iou_min 0.5, plain IoU between
 * consecutive boxes (40 px apart: 0.33) would lose it every frame; the velocity prediction keeps it. The first
 * step comes after 100 ms (20 px, IoU 0.6) because the first association has no velocity yet. */
static void test_linear_motion(void **state)
{
	(void)state;
	face_track_options o;
	face_track_options_default(&o);
	o.iou_min = 0.5f;
	face_tracker *t = tracker_with(&o);
	face_result *face = calloc(1, sizeof(*face));
	const face_track_change *c;
	size_t n;
	int64_t id = 0;
	int64_t times[16];
	times[0] = 0;
	times[1] = 100;
	for (int i = 2; i < 16; i++)
		times[i] = times[i - 1] + 200;
	for (int i = 0; i < 16; i++) {
		make_face(face, 0.2f * (float)times[i], 100, 80, 80, -1, 0.5f);
		int64_t tid = -1;
		assert_int_equal(face_tracker_update(t, times[i], face, NULL, 1, &tid, &c, &n, NULL), MIEN_OK);
		if (i == 0) {
			id = tid;
			assert_true(id > 0);
			assert_int_equal(n, 0); /* tentative: not announced */
		} else {
			assert_int_equal(tid, id);
		}
		if (i == 1) {
			assert_int_equal(n, 1);
			assert_int_equal(c[0].kind, FACE_TRACK_STARTED);
			assert_int_equal(c[0].track_id, id);
			assert_int_equal(c[0].person_id, 0);
			assert_int_equal(c[0].first_ms, 0);
		} else if (i > 1) {
			assert_int_equal(n, 0);
		}
	}
	assert_int_equal(face_tracker_live(t), 1);
	/* Unseen for 1500 ms: still live; past it: ended, once. */
	assert_int_equal(face_tracker_update(t, times[15] + 1500, NULL, NULL, 0, NULL, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 0);
	assert_int_equal(face_tracker_update(t, times[15] + 1600, NULL, NULL, 0, NULL, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].kind, FACE_TRACK_ENDED);
	assert_int_equal(c[0].track_id, id);
	assert_int_equal(c[0].first_ms, 0);
	assert_int_equal(c[0].last_ms, times[15]);
	assert_int_equal(c[0].hits, 16);
	assert_float_equal(c[0].box[0], 0.2f * (float)times[15], 1e-3);
	assert_int_equal(c[0].has_expression, 0);
	assert_int_equal(c[0].dominant_expression, -1);
	assert_non_null(c[0].best);
	assert_int_equal(face_tracker_live(t), 0);
	assert_int_equal(face_tracker_update(t, times[15] + 1800, NULL, NULL, 0, NULL, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 0);

	/* Time going back is refused. */
	mien_error err;
	assert_int_equal(face_tracker_update(t, 5, NULL, NULL, 0, NULL, &c, &n, &err), MIEN_EINVAL);
	free(face);
	face_tracker_free(&t);
	assert_null(t);
	face_tracker_free(&t);
}

/* A walks right from x=0, B walks left from x=600, both 40 px per 200 ms frame, so they cross at x=300 between
 * frames 7 and 8. Each must keep its own track the whole way. Three runs: on the same line with embeddings; with
 * B 30 px lower without embeddings (motion alone must carry it); and with A stopping at x=280 while B (from
 * x=640) walks on — at frame 8 B stands exactly where A was predicted to be, and at frame 9 both boxes are the
 * same, so only the embeddings can tell them apart. The order of detections alternates. */
enum crossing_mode { CROSS_EMBEDDINGS, CROSS_MOTION_ONLY, CROSS_A_STOPS };

static void crossing(int mode)
{
	int with_embeddings = mode != CROSS_MOTION_ONLY;
	face_tracker *t = tracker_with(NULL);
	face_result *faces = calloc(2, sizeof(*faces));
	const face_track_change *c;
	size_t n, started = 0;
	int64_t id_a = 0, id_b = 0;
	float b_y = mode == CROSS_MOTION_ONLY ? 130 : 100;
	for (int i = 0; i < 16; i++) {
		int64_t now = 200 * i;
		float xa = 40.0f * i, xb = 600 - 40.0f * i;
		if (mode == CROSS_A_STOPS) {
			xa = xa > 280 ? 280 : xa;
			xb = 640 - 40.0f * i;
		}
		int a = i % 2, b = 1 - a;
		make_face(&faces[a], xa, 100, 80, 80, with_embeddings ? 1 : -1, 0.5f);
		make_face(&faces[b], xb, b_y, 80, 80, with_embeddings ? 2 : -1, 0.5f);
		int64_t ids[2];
		assert_int_equal(face_tracker_update(t, now, faces, NULL, 2, ids, &c, &n, NULL), MIEN_OK);
		started += count_kind(c, n, FACE_TRACK_STARTED);
		assert_int_equal(count_kind(c, n, FACE_TRACK_ENDED), 0);
		if (i == 0) {
			id_a = ids[a];
			id_b = ids[b];
			assert_int_not_equal(id_a, id_b);
		}
		if (ids[a] != id_a || ids[b] != id_b)
			fail_msg("frame %d (A at %.0f, B at %.0f): tracks A=%lld B=%lld, expected A=%lld B=%lld", i,
			         (double)xa, (double)xb, (long long)ids[a], (long long)ids[b], (long long)id_a,
			         (long long)id_b);
	}
	assert_int_equal(started, 2);
	assert_int_equal(face_tracker_live(t), 2);
	assert_int_equal(face_tracker_flush(t, 4000, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 2);
	assert_int_equal(count_kind(c, n, FACE_TRACK_ENDED), 2);
	free(faces);
	face_tracker_free(&t);
}

static void test_crossing_faces(void **state)
{
	(void)state;
	crossing(CROSS_EMBEDDINGS);
	crossing(CROSS_MOTION_ONLY);
	crossing(CROSS_A_STOPS);
}

/* Person 1 is seen for 5 frames, missed for 3 (800 ms, under lost_ms), and comes back 300 px away: its embedding
 * re-links it to the same track with no new start and no end. Person 2 then appears where person 1 was: a new
 * track. Finally person 1 leaves for longer than lost_ms: its track ends and its return is a new track. */
static void test_gap_relinked_by_embedding(void **state)
{
	(void)state;
	face_tracker *t = tracker_with(NULL);
	face_result *face = calloc(1, sizeof(*face));
	const face_track_change *c;
	size_t n;
	int64_t id = 0, tid = 0;
	int64_t now = 0;
	for (int i = 0; i < 5; i++, now += 200) {
		make_face(face, 100 + 4.0f * i, 100, 80, 80, 1, 0.5f);
		assert_int_equal(face_tracker_update(t, now, face, NULL, 1, &tid, &c, &n, NULL), MIEN_OK);
		if (i == 0)
			id = tid;
		assert_int_equal(tid, id);
	}
	for (int i = 0; i < 3; i++, now += 200) {
		assert_int_equal(face_tracker_update(t, now, NULL, NULL, 0, NULL, &c, &n, NULL), MIEN_OK);
		assert_int_equal(n, 0);
	}
	make_face(face, 420, 120, 80, 80, 1, 0.5f);
	assert_int_equal(face_tracker_update(t, now, face, NULL, 1, &tid, &c, &n, NULL), MIEN_OK);
	assert_int_equal(tid, id);
	assert_int_equal(n, 0);
	now += 200;

	/* Someone else where person 1 stood a moment ago, beside person 1. */
	face_result *two = calloc(2, sizeof(*two));
	make_face(&two[0], 424, 120, 80, 80, 1, 0.5f);
	make_face(&two[1], 110, 100, 80, 80, 2, 0.5f);
	int64_t ids[2];
	assert_int_equal(face_tracker_update(t, now, two, NULL, 2, ids, &c, &n, NULL), MIEN_OK);
	assert_int_equal(ids[0], id);
	assert_true(ids[1] > id);
	now += 200;

	/* Both gone for longer than lost_ms. */
	int64_t gone_since = now - 200;
	size_t ended = 0;
	while (now - gone_since <= 1700) {
		assert_int_equal(face_tracker_update(t, now, NULL, NULL, 0, NULL, &c, &n, NULL), MIEN_OK);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(c[i].kind, FACE_TRACK_ENDED);
			assert_int_equal(c[i].track_id, id); /* person 2 was tentative: never announced, never ended */
			assert_int_equal(c[i].hits, 7);
			ended++;
		}
		now += 200;
	}
	assert_int_equal(ended, 1);
	make_face(face, 420, 120, 80, 80, 1, 0.5f);
	assert_int_equal(face_tracker_update(t, now, face, NULL, 1, &tid, &c, &n, NULL), MIEN_OK);
	assert_true(tid > ids[1]);
	free(two);
	free(face);
	face_tracker_free(&t);
}

/* Seven sightings of one standing face with qualities and matches chosen so that the five best (K = 5) are three
 * of Ada (id 12) and two wrong ones of Bob (id 7); a high-similarity Bob match on a poor face is not kept.
 * Identity trace, worked out by hand: f0 Ada 1/1; f1 Ada 1/2 -> unknown (confirmed: STARTED unknown);
 * f2 Ada 2/3 -> IDENTITY Ada; then Ada 3/4, 3/5, 3/5, 3/5. Winning similarity: mean of .71, .75, .72. */
static void test_identity_vote(void **state)
{
	(void)state;
	static const struct {
		float quality;
		int64_t person;
		float similarity;
	} seen[] = {
		{ 0.50f, 12, 0.70f }, { 0.60f, 7, 0.66f }, { 0.70f, 12, 0.72f }, { 0.80f, 12, 0.75f },
		{ 0.55f, 7, 0.62f },  { 0.30f, 7, 0.80f }, { 0.90f, 12, 0.71f },
	};
	face_track_options o;
	face_track_options_default(&o);
	o.vote_threshold = 0.5f;
	face_tracker *t = tracker_with(&o);
	face_result *face = calloc(1, sizeof(*face));
	const face_track_change *c;
	size_t n;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(seen); i++) {
		make_face(face, 200, 200, 100, 100, 3, seen[i].quality);
		face_track_match match = { seen[i].person, seen[i].similarity };
		assert_int_equal(face_tracker_update(t, 200 * (int64_t)i, face, &match, 1, NULL, &c, &n, NULL),
		                 MIEN_OK);
		if (i == 1) {
			assert_int_equal(n, 1);
			assert_int_equal(c[0].kind, FACE_TRACK_STARTED);
			assert_int_equal(c[0].person_id, 0);
			assert_int_equal(c[0].votes, 0);
			assert_int_equal(c[0].voters, 2);
		} else if (i == 2) {
			assert_int_equal(n, 1);
			assert_int_equal(c[0].kind, FACE_TRACK_IDENTITY);
			assert_int_equal(c[0].person_id, 12);
			assert_int_equal(c[0].votes, 2);
		} else {
			assert_int_equal(n, 0);
		}
	}
	assert_int_equal(face_tracker_flush(t, 2000, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].kind, FACE_TRACK_ENDED);
	assert_int_equal(c[0].person_id, 12);
	assert_int_equal(c[0].votes, 3);
	assert_int_equal(c[0].voters, 5);
	assert_float_equal(c[0].similarity, (0.71f + 0.75f + 0.72f) / 3, 1e-5);
	assert_float_equal(c[0].best_quality, 0.90f, 1e-6);
	assert_int_equal(c[0].best_ms, 1200);
	assert_float_equal(c[0].best->quality, 0.90f, 1e-6);
	face_tracker_free(&t);

	/* Matches under the threshold vote "unknown": Ada .45, .40, .70, .72 and one face with no match. Only two of
	 * five votes are for Ada at any point: never a majority, so the track stays unknown. */
	static const float sims[] = { 0.45f, 0.40f, 0.70f, 0.72f, 0 };
	t = tracker_with(&o);
	for (size_t i = 0; i < MIEN_ARRAY_LEN(sims); i++) {
		make_face(face, 200, 200, 100, 100, 3, 0.5f);
		face_track_match match = { sims[i] > 0 ? 12 : 0, sims[i] };
		assert_int_equal(face_tracker_update(t, 200 * (int64_t)i, face, &match, 1, NULL, &c, &n, NULL),
		                 MIEN_OK);
		assert_int_equal(count_kind(c, n, FACE_TRACK_IDENTITY), 0);
	}
	assert_int_equal(face_tracker_flush(t, 2000, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].person_id, 0);
	assert_int_equal(c[0].votes, 0);
	assert_int_equal(c[0].voters, 5);
	assert_float_equal(c[0].similarity, 0, 0);
	free(face);
	face_tracker_free(&t);
}

/* Happy .9 .6 .3 and neutral .1 .4 .7 over three frames: means .6 and .4, dominant happy. A face seen once
 * (tentative) and gone is never announced. */
static void test_expression_mean(void **state)
{
	(void)state;
	face_tracker *t = tracker_with(NULL);
	face_result *faces = calloc(2, sizeof(*faces));
	const face_track_change *c;
	size_t n;
	static const float happy[] = { 0.9f, 0.6f, 0.3f };
	for (int i = 0; i < 3; i++) {
		make_face(&faces[0], 50, 50, 100, 100, -1, 0.5f);
		faces[0].has_expression = 1;
		faces[0].expression[FACE_HAPPY] = happy[i];
		faces[0].expression[FACE_NEUTRAL] = 1 - happy[i];
		size_t count = 1;
		if (i == 0) {
			make_face(&faces[1], 400, 50, 100, 100, -1, 0.5f); /* the one-frame false start */
			count = 2;
		}
		assert_int_equal(face_tracker_update(t, 200 * i, faces, NULL, count, NULL, &c, &n, NULL), MIEN_OK);
		assert_int_equal(count_kind(c, n, FACE_TRACK_ENDED), 0);
		assert_int_equal(face_tracker_live(t), i == 0 ? 2 : 1);
	}
	assert_int_equal(face_tracker_flush(t, 1000, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].has_expression, 1);
	assert_float_equal(c[0].expression[FACE_HAPPY], 0.6f, 1e-5);
	assert_float_equal(c[0].expression[FACE_NEUTRAL], 0.4f, 1e-5);
	assert_float_equal(c[0].expression[FACE_SAD], 0.0f, 1e-6);
	assert_int_equal(c[0].dominant_expression, FACE_HAPPY);
	free(faces);
	face_tracker_free(&t);
}

/* Ten faces far apart with room for four tracks: four get tracks, six are counted as dropped. */
static void test_track_cap(void **state)
{
	(void)state;
	face_track_options o;
	face_track_options_default(&o);
	o.max_tracks = 4;
	face_tracker *t = tracker_with(&o);
	face_result *faces = calloc(10, sizeof(*faces));
	for (int i = 0; i < 10; i++)
		make_face(&faces[i], 100.0f * i, 0, 50, 50, -1, 0.5f);
	int64_t ids[10];
	const face_track_change *c;
	size_t n;
	for (int frame = 0; frame < 3; frame++) {
		assert_int_equal(face_tracker_update(t, 200 * frame, faces, NULL, 10, ids, &c, &n, NULL), MIEN_OK);
		int tracked = 0;
		for (int i = 0; i < 10; i++) {
			tracked += ids[i] != 0;
			for (int j = 0; j < i; j++)
				assert_true(ids[i] == 0 || ids[i] != ids[j]);
		}
		assert_int_equal(tracked, 4);
		assert_int_equal(face_tracker_live(t), 4);
		assert_true(n <= 2 * 4);
		assert_int_equal(count_kind(c, n, FACE_TRACK_STARTED), frame == 1 ? 4 : 0);
	}
	assert_int_equal(face_tracker_dropped(t), 18);
	free(faces);
	face_tracker_free(&t);

	/* Options out of range are refused. */
	o.max_tracks = FACE_TRACK_TRACKS_MAX + 1;
	mien_error err;
	assert_int_equal(face_tracker_create(&o, &t, &err), MIEN_EINVAL);
	assert_null(t);
	face_track_options_default(&o);
	o.best_k = FACE_TRACK_BEST_MAX + 1;
	assert_int_equal(face_tracker_create(&o, &t, &err), MIEN_EINVAL);
}

/* face_tracker_peek and face_tracker_predicted: what a caller that skips embeddings for tracked faces relies on.
 * A face walks right at 0.1 px/ms with rising quality; once its track holds best_k faces, only a better face
 * would be kept; a face without an embedding joins by IoU and abstains; two faces at one track, or a face far
 * from every track, get no track. */
static void test_peek(void **state)
{
	(void)state;
	face_track_options o;
	face_track_options_default(&o);
	o.best_k = 3;
	face_tracker *t = tracker_with(&o);
	face_result *faces = calloc(2, sizeof(*faces));
	face_track_peek p[2];
	const face_track_change *c;
	size_t n;
	int64_t id = 0;

	make_face(&faces[0], 100, 100, 80, 80, 3, 0.5f);
	assert_int_equal(face_tracker_peek(t, 1000, faces, 1, p), MIEN_OK);
	assert_int_equal(p[0].track_id, 0); /* nothing to join yet */
	assert_int_equal(face_tracker_peek(NULL, 1000, faces, 1, p), MIEN_EINVAL);

	/* frames at 1000, 1200, 1400 with quality .5 .6 .7 and matches to person 9; x moves 20 px a frame */
	for (int i = 0; i < 3; i++) {
		make_face(&faces[0], 100 + 20 * (float)i, 100, 80, 80, 3, 0.5f + 0.1f * (float)i);
		faces[0].has_expression = 1;
		faces[0].expression[FACE_HAPPY] = i == 0 ? 1.0f : 0.5f;
		faces[0].expression[FACE_NEUTRAL] = i == 0 ? 0.0f : 0.5f;
		if (i > 0) {
			assert_int_equal(face_tracker_peek(t, 1000 + 200 * i, faces, 1, p), MIEN_OK);
			assert_int_equal(p[0].track_id, id);
			assert_int_equal(p[0].would_keep, 1); /* fewer than best_k kept */
			assert_int_equal(p[0].confirmed, i >= 2);
		}
		face_track_match m = { 9, 0.8f };
		int64_t tid = 0;
		assert_int_equal(face_tracker_update(t, 1000 + 200 * i, faces, &m, 1, &tid, &c, &n, NULL), MIEN_OK);
		if (i == 0)
			id = tid;
		assert_int_equal(tid, id);
	}

	/* The prediction has moved on with the face: 20 px per 200 ms. */
	float boxes[4][4];
	assert_int_equal(face_tracker_predicted(t, 1600, boxes, 4), 1);
	assert_float_equal(boxes[0][0], 140 + 20, 1.0);
	assert_float_equal(boxes[0][1], 100, 1e-3);
	assert_float_equal(boxes[0][3], 80, 1e-3);
	assert_int_equal(face_tracker_predicted(t, 1600, boxes, 0), 0);

	/* Full (3 kept, worst .5): a .45 face would not be kept, a .75 one would. */
	make_face(&faces[0], 160, 100, 80, 80, -1, 0.45f);
	assert_int_equal(face_tracker_peek(t, 1600, faces, 1, p), MIEN_OK);
	assert_int_equal(p[0].track_id, id);
	assert_int_equal(p[0].confirmed, 1);
	assert_int_equal(p[0].would_keep, 0);
	assert_int_equal(p[0].person_id, 9);
	assert_float_equal(p[0].similarity, 0.8f, 1e-6);
	assert_int_equal(p[0].embedded_ms, 1400);
	assert_int_equal(p[0].expression_ms, 1400);
	assert_int_equal(p[0].has_expression, 1);
	assert_float_equal(p[0].expression[FACE_HAPPY], 2.0f / 3.0f, 1e-5);
	faces[0].quality = 0.75f;
	assert_int_equal(face_tracker_peek(t, 1600, faces, 1, p), MIEN_OK);
	assert_int_equal(p[0].would_keep, 1);

	/* Fed without an embedding (and not better than the kept faces), the face joins by IoU and abstains: the
	 * identity and its votes stay, and the track's last embedding is still the one from 1400. */
	faces[0].quality = 0.45f;
	int64_t tid = 0;
	assert_int_equal(face_tracker_update(t, 1600, faces, NULL, 1, &tid, &c, &n, NULL), MIEN_OK);
	assert_int_equal(tid, id);
	assert_int_equal(n, 0);
	make_face(&faces[0], 180, 100, 80, 80, -1, 0.45f);
	assert_int_equal(face_tracker_peek(t, 1800, faces, 1, p), MIEN_OK);
	assert_int_equal(p[0].track_id, id);
	assert_int_equal(p[0].embedded_ms, 1400);
	assert_int_equal(p[0].person_id, 9);

	/* Two faces at the track (predicted at 180,100): the closer one takes it, as the update would; the other is
	 * new, in either order. A face far away: no track. */
	for (int order = 0; order < 2; order++) {
		make_face(&faces[order], 175, 100, 80, 80, -1, 0.45f);     /* IoU 0.88 */
		make_face(&faces[1 - order], 190, 105, 80, 80, -1, 0.45f); /* IoU 0.70 */
		assert_int_equal(face_tracker_peek(t, 1800, faces, 2, p), MIEN_OK);
		assert_int_equal(p[order].track_id, id);
		assert_int_equal(p[1 - order].track_id, 0);
	}
	make_face(&faces[0], 900, 500, 80, 80, -1, 0.45f);
	assert_int_equal(face_tracker_peek(t, 1800, faces, 1, p), MIEN_OK);
	assert_int_equal(p[0].track_id, 0);

	assert_int_equal(face_tracker_flush(t, 2000, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].person_id, 9);
	assert_int_equal(c[0].votes, 3);
	assert_int_equal(c[0].voters, 3);
	assert_int_equal(c[0].hits, 4);
	free(faces);
	face_tracker_free(&t);
}

static face_track_match match_person_5(void *ctx, const face_result *face)
{
	int *calls = ctx;
	(*calls)++;
	return face->recognisable ? (face_track_match){ 5, 0.95f } : (face_track_match){ 0, 0 };
}

/* Someone is enrolled while their visit goes on: face_tracker_rematch gives the kept faces their new matches, and
 * the next update reports the identity; faces without an embedding are not asked about. */
static void test_rematch(void **state)
{
	(void)state;
	face_tracker *t = tracker_with(NULL);
	face_result *face = calloc(1, sizeof(*face));
	const face_track_change *c;
	size_t n;
	for (int i = 0; i < 3; i++) {
		make_face(face, 100, 100, 80, 80, 3, 0.5f + 0.1f * (float)i);
		face_track_match unknown = { 0, 0 };
		assert_int_equal(face_tracker_update(t, 200 * i, face, &unknown, 1, NULL, &c, &n, NULL), MIEN_OK);
	}
	make_face(face, 100, 100, 80, 80, -1, 0.1f); /* a small face: no embedding, kept (not better) */
	assert_int_equal(face_tracker_update(t, 600, face, NULL, 1, NULL, &c, &n, NULL), MIEN_OK);
	int calls = 0;
	face_tracker_rematch(t, match_person_5, &calls);
	assert_int_equal(calls, 3);
	make_face(face, 100, 100, 80, 80, -1, 0.1f);
	assert_int_equal(face_tracker_update(t, 800, face, NULL, 1, NULL, &c, &n, NULL), MIEN_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].kind, FACE_TRACK_IDENTITY);
	assert_int_equal(c[0].person_id, 5);
	assert_int_equal(c[0].votes, 3);
	face_tracker_rematch(NULL, match_person_5, &calls);
	face_tracker_rematch(t, NULL, &calls);
	face_tracker_free(&t);

	/* A track that learns its identity by a rematch and is never seen again reports the identity change before
	 * its end (as the end, flushed or timed out, carries the new identity). */
	for (int flush = 0; flush < 2; flush++) {
		t = tracker_with(NULL);
		for (int i = 0; i < 3; i++) {
			make_face(face, 100, 100, 80, 80, 3, 0.5f);
			face_track_match unknown = { 0, 0 };
			assert_int_equal(face_tracker_update(t, 200 * i, face, &unknown, 1, NULL, &c, &n, NULL),
			                 MIEN_OK);
		}
		face_tracker_rematch(t, match_person_5, &calls);
		if (flush)
			assert_int_equal(face_tracker_flush(t, 600, &c, &n, NULL), MIEN_OK);
		else
			assert_int_equal(face_tracker_update(t, 400 + 1500 + 1, NULL, NULL, 0, NULL, &c, &n, NULL),
			                 MIEN_OK);
		assert_int_equal(n, 2);
		assert_int_equal(c[0].kind, FACE_TRACK_IDENTITY);
		assert_int_equal(c[0].person_id, 5);
		assert_int_equal(c[1].kind, FACE_TRACK_ENDED);
		assert_int_equal(c[1].person_id, 5);
		face_tracker_free(&t);
	}
	free(face);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_motion),
		cmocka_unit_test(test_crossing_faces),
		cmocka_unit_test(test_gap_relinked_by_embedding),
		cmocka_unit_test(test_identity_vote),
		cmocka_unit_test(test_expression_mean),
		cmocka_unit_test(test_track_cap),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_rematch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
