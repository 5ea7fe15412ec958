/*
 * test_detect.c — face detection on real photos (face-api's demo photos, shipped in its npm package as
 * models/samples/sample1..6.jpg), the small-face case in a 1080p frame, agreement between the three
 * detectors, weighted NMS on synthetic boxes, and degenerate pictures.
 *
 * The grid pass of blazeface-back is checked on landscape and portrait frames and across grid re-creation;
 * faces cut by the picture's side on crops of the demo photos.
 *
 * Golden counts come from /work/shared/data/detection/face_counts.csv (rows vladmandic_face-api_npm/sampleN.jpg,
 * counted by eye), never from the detector.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/result.h"
#include "face/detect.h"
#include "face/image.h"

#define MODELS   "models"
#define MAX_DETS 64

/* face_counts.csv: vladmandic_face-api_npm/sample1.jpg .. sample6.jpg */
static const int SAMPLE_FACES[6] = { 3, 3, 3, 4, 5, 4 };

static face_image *load_sample(int n)
{
	char path[256];
	snprintf(path, sizeof(path), "models/samples/sample%d.jpg", n);
	face_image *im = NULL;
	mien_error err = { 0 };
	int rc = face_image_load(path, 0, &im, &err);
	if (rc)
		fail_msg("%s: %s", path, err.message);
	return im;
}

static face_detector *make(const char *name, const face_detector_options *o)
{
	face_detector *d = NULL;
	mien_error err = { 0 };
	int rc = face_detector_create(name, MODELS, NULL, o, &d, &err);
	if (rc)
		fail_msg("%s: %s", name ? name : "(default)", err.message);
	return d;
}

static float box_iou(const face_detection *a, const face_detection *b)
{
	float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
	float x1 = fminf(a->x + a->w, b->x + b->w), y1 = fminf(a->y + a->h, b->y + b->h);
	if (x1 <= x0 || y1 <= y0)
		return 0.0f;
	float i = (x1 - x0) * (y1 - y0);
	return i / (a->w * a->h + b->w * b->h - i);
}

static void check_inside(const face_detection *d, size_t n, float w, float h)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(d[i].x >= 0 && d[i].y >= 0 && d[i].w > 0 && d[i].h > 0);
		assert_true(d[i].x + d[i].w <= w + 0.01f && d[i].y + d[i].h <= h + 0.01f);
		assert_true(d[i].score > 0 && d[i].score <= 1);
		if (i > 0)
			assert_true(d[i].score <= d[i - 1].score);
	}
}

/* The default detector counts the labelled faces of each demo photo. */
static void test_sample_counts(void **state)
{
	(void)state;
	face_detector *d = make(NULL, NULL);
	assert_string_equal(face_detector_model(d), face_detector_default());
	face_detection dets[MAX_DETS];
	int wrong = 0;
	for (int s = 1; s <= 6; s++) {
		face_image *im = load_sample(s);
		size_t n = 0;
		mien_error err = { 0 };
		assert_int_equal(face_detect(d, im, dets, MAX_DETS, &n, &err), MIEN_OK);
		check_inside(dets, n < MAX_DETS ? n : MAX_DETS, (float)im->width, (float)im->height);
		/* blazeface's keypoints in the order face_analyze's quality aligns on: the subject's right eye on the
		 * picture's left (the demo faces are upright and unmirrored), eyes above the nose tip above the mouth
		 */
		for (size_t i = 0; i < n && i < MAX_DETS; i++) {
			const float(*k)[2] = (const float(*)[2])dets[i].keypoints;
			assert_int_equal(dets[i].n_keypoints, 6);
			assert_true(k[0][0] < k[1][0]);
			assert_true(fmaxf(k[0][1], k[1][1]) < k[2][1] && k[2][1] < k[3][1]);
		}
		if ((int)n != SAMPLE_FACES[s - 1]) {
			print_error("sample%d.jpg: %s found %zu faces, labelled %d\n", s, face_detector_model(d), n,
			            SAMPLE_FACES[s - 1]);
			wrong++;
		}
		face_image_free(&im);
	}
	face_detector_free(&d);
	assert_null(d);
	assert_int_equal(wrong, 0);
}

/* A grey w x h frame with sample1.jpg shrunk to pw x ph at (ox, oy). */
static face_image *small_frame(int w, int h, int pw, int ph, int ox, int oy)
{
	face_image *src = load_sample(1);
	face_image *frame = NULL;
	mien_error err = { 0 };
	assert_int_equal(face_image_create(w, h, 0, &frame, &err), MIEN_OK);
	for (int y = 0; y < frame->height; y++)
		memset(frame->pixels + (size_t)y * frame->stride, 128, (size_t)3 * frame->width);
	float *buf = malloc(sizeof(float) * 3 * pw * ph);
	assert_non_null(buf);
	float m[6];
	face_image_rect_map(0, 0, (float)src->width, (float)src->height, pw, ph, m);
	face_image_sample(src, m, pw, ph, 3, 1.0f, 0.0f, 128.0f, buf);
	for (int y = 0; y < ph; y++) {
		for (int x = 0; x < pw * 3; x++)
			frame->pixels[(size_t)(oy + y) * frame->stride + 3 * ox + x] =
			        (uint8_t)fminf(255.0f, buf[(size_t)y * pw * 3 + x] + 0.5f);
	}
	free(buf);
	face_image_free(&src);
	return frame;
}

/* Detects in the frame of small_frame: every box inside the pasted region and 12..48 px tall; returns the
 * count and copies the detections to dets. */
static size_t detect_small(face_detector *d, const face_image *frame, int pw, int ph, int ox, int oy,
                           face_detection *dets)
{
	size_t n = 0;
	mien_error err = { 0 };
	assert_int_equal(face_detect(d, frame, dets, MAX_DETS, &n, &err), MIEN_OK);
	for (size_t i = 0; i < n && i < MAX_DETS; i++) {
		print_message("small face %zu: %.0f,%.0f %.0fx%.0f score %.3f\n", i, dets[i].x, dets[i].y, dets[i].w,
		              dets[i].h, dets[i].score);
		assert_true(dets[i].x >= ox - 2 && dets[i].y >= oy - 2);
		assert_true(dets[i].x + dets[i].w <= ox + pw + 2 && dets[i].y + dets[i].h <= oy + ph + 2);
		assert_true(dets[i].h >= 12 && dets[i].h <= 48);
	}
	return n;
}

/* sample1.jpg shrunk into the bottom-right corner of a grey 1920x1080 frame, faces about 26 px tall: found
 * by the default grid pass and by tiles (options.grid < 0). */
static void test_small_faces_1080p(void **state)
{
	(void)state;
	/* sample1's faces are ~235 px tall in its 1920x1280 picture (as the detectors find them); scale 1/9 */
	const int pw = 213, ph = 142, ox = 1920 - 213 - 40, oy = 1080 - 142 - 40;
	face_image *frame = small_frame(1920, 1080, pw, ph, ox, oy);
	face_detection dets[MAX_DETS];
	face_detector *d = make(NULL, NULL);
	assert_int_equal(detect_small(d, frame, pw, ph, ox, oy, dets), SAMPLE_FACES[0]);
	face_detector_free(&d);
	face_detector_options tiles = { 0 };
	tiles.grid = -1;
	d = make(NULL, &tiles);
	assert_int_equal(detect_small(d, frame, pw, ph, ox, oy, dets), SAMPLE_FACES[0]);
	face_detector_free(&d);
	face_image_free(&frame);
}

/* The grid pass on pictures of several shapes with one detector: a portrait frame (its grid is taller than
 * wide), landscape and oversized pictures that take the other grid slot and evict it, then the portrait
 * frame again on a re-created grid: the same faces, boxes in place. */
static void test_grid_shapes(void **state)
{
	(void)state;
	const int pw = 213, ph = 142, ox = 30, oy = 50;
	face_image *portrait = small_frame(1080, 1920, pw, ph, ox, oy);
	face_detector *d = make(NULL, NULL);
	face_detection first[MAX_DETS], again[MAX_DETS], dets[MAX_DETS];
	size_t n = detect_small(d, portrait, pw, ph, ox, oy, first);
	assert_int_equal(n, SAMPLE_FACES[0]);

	static const int SIZES[][2] = { { 1920, 1080 }, { 4000, 3000 }, { 640, 480 }, { 300, 200 }, { 1280, 720 } };
	for (size_t i = 0; i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
		face_image *im = NULL;
		mien_error err = { 0 };
		size_t k = 99;
		assert_int_equal(face_image_create(SIZES[i][0], SIZES[i][1], 0, &im, &err), MIEN_OK);
		assert_int_equal(face_detect(d, im, dets, MAX_DETS, &k, &err), MIEN_OK);
		assert_int_equal(k, 0);
		face_image_free(&im);
	}
	assert_int_equal(detect_small(d, portrait, pw, ph, ox, oy, again), n);
	for (size_t i = 0; i < n; i++) {
		assert_float_equal(again[i].x, first[i].x, 1e-3);
		assert_float_equal(again[i].y, first[i].y, 1e-3);
		assert_float_equal(again[i].h, first[i].h, 1e-3);
		assert_float_equal(again[i].score, first[i].score, 1e-5);
	}
	face_detector_free(&d);

	/* a grid capped below what min_face needs still runs (faces found are then larger) */
	face_detector_options small = { 0 };
	small.grid_max_side = 100; /* raised to the model's 256 */
	d = make(NULL, &small);
	mien_error err = { 0 };
	assert_int_equal(face_detect(d, portrait, dets, MAX_DETS, &n, &err), MIEN_OK);
	face_detector_free(&d);
	face_image_free(&portrait);
}

/* All three detectors find a face in sample1.jpg, each overlapping a face another found. */
static void test_detectors_agree(void **state)
{
	(void)state;
	static const char *const names[3] = { "blazeface-back", "ssd_mobilenetv1", "tiny_face_detector" };
	face_image *im = load_sample(1);
	face_detection dets[3][MAX_DETS];
	size_t n[3];
	face_detector_options whole = { 0 };
	whole.max_tiles = -1; /* sample1's faces are large: one pass each keeps the test quick */
	for (int k = 0; k < 3; k++) {
		face_detector *d = make(names[k], &whole);
		assert_string_equal(face_detector_model(d), names[k]);
		mien_error err = { 0 };
		assert_int_equal(face_detect(d, im, dets[k], MAX_DETS, &n[k], &err), MIEN_OK);
		assert_true(n[k] >= 1);
		check_inside(dets[k], n[k], (float)im->width, (float)im->height);
		assert_int_equal(dets[k][0].n_keypoints, k == 0 ? 6 : 0);
		face_detector_free(&d);
	}
	for (int k = 0; k < 3; k++) {
		float best = 0;
		for (int o = 0; o < 3; o++) {
			if (o == k)
				continue;
			for (size_t i = 0; i < n[k]; i++)
				for (size_t j = 0; j < n[o]; j++)
					best = fmaxf(best, box_iou(&dets[k][i], &dets[o][j]));
		}
		print_message("%s: %zu faces, best IoU with another detector %.2f\n", names[k], n[k], best);
		assert_true(best > 0.3f);
	}
	/* blazeface's eye keypoints lie inside its box */
	face_detection *b = &dets[0][0];
	for (int k = 0; k < 2; k++) {
		assert_true(b->keypoints[k][0] >= b->x && b->keypoints[k][0] <= b->x + b->w);
		assert_true(b->keypoints[k][1] >= b->y && b->keypoints[k][1] <= b->y + b->h);
	}
	face_image_free(&im);
}

static face_detection box(float x, float y, float w, float h, float score)
{
	face_detection d;
	memset(&d, 0, sizeof(d));
	d.x = x;
	d.y = y;
	d.w = w;
	d.h = h;
	d.score = score;
	d.n_keypoints = 1;
	d.keypoints[0][0] = x + w / 2;
	d.keypoints[0][1] = y + h / 2;
	return d;
}

/* From a tight 32-px face crop to a 4000-px group photo: the largest face of sample1 cut out with a small
 * margin and shrunk to 32..160 px is one face; sample1 scaled up to 4000x2667 still has its 3 labelled faces. */
static void test_crop_to_huge(void **state)
{
	(void)state;
	mien_error err = { 0 };
	face_detector *d = make(NULL, NULL);
	face_image *img = load_sample(1), *c = NULL;
	face_detection dets[MAX_DETS];
	size_t n = 0;
	assert_int_equal(face_detect(d, img, dets, MAX_DETS, &n, &err), MIEN_OK);
	assert_int_equal(n, SAMPLE_FACES[0]);
	face_detection big = dets[0];
	for (size_t i = 1; i < n; i++)
		if (dets[i].h > big.h)
			big = dets[i];
	for (int side = 32; side <= 160; side += 16) {
		float m = big.w * 0.15f;
		assert_int_equal(
		        face_image_crop(img, big.x - m, big.y - m, big.w + 2 * m, big.h + 2 * m, side, side, &c, &err),
		        MIEN_OK);
		size_t k = 0;
		assert_int_equal(face_detect(d, c, dets, MAX_DETS, &k, &err), MIEN_OK);
		printf("face crop %d px: %zu face(s)\n", side, k);
		assert_int_equal(k, 1);
		face_image_free(&c);
	}
	assert_int_equal(face_image_crop(img, 0, 0, (float)img->width, (float)img->height, 4000, 2667, &c, &err),
	                 MIEN_OK);
	assert_int_equal(face_detect(d, c, dets, MAX_DETS, &n, &err), MIEN_OK);
	assert_int_equal(n, SAMPLE_FACES[0]);
	face_image_free(&c);
	face_image_free(&img);
	face_detector_free(&d);
}

/* Whether two boxes overlap at all. */
static int boxes_touch(const face_detection *a, const face_detection *b)
{
	return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

/* Faces cut by the picture's left or right side through their middle (someone at the edge of a group photo,
 * a selfie taker): each face of the demo photos (as found whole) cut at its centre line, with three face
 * widths of the photo beside it. The whole-picture pass mirrors the picture into its margins, which
 * completes the half face; against a black margin blazeface-back found 3 of these 44 half faces. Nothing
 * may be found away from the photo's faces. */
static void test_faces_cut_by_side(void **state)
{
	(void)state;
	mien_error err = { 0 };
	face_detector *d = make(NULL, NULL);
	face_detection whole[MAX_DETS], dets[MAX_DETS];
	int found = 0, total = 0, stray = 0;
	for (int s = 1; s <= 6; s++) {
		face_image *img = load_sample(s);
		size_t n = 0;
		assert_int_equal(face_detect(d, img, whole, MAX_DETS, &n, &err), MIEN_OK);
		assert_int_equal(n, SAMPLE_FACES[s - 1]);
		for (size_t i = 0; i < n; i++) {
			for (int side = 0; side < 2; side++) {
				const face_detection *f = &whole[i];
				float cx = f->x + f->w / 2;
				float x0 = side == 0 ? fmaxf(0.0f, cx - 4 * f->w) : cx;
				float x1 = side == 0 ? cx : fminf((float)img->width, cx + 4 * f->w);
				float y0 = fmaxf(0.0f, f->y - 1.5f * f->h);
				float y1 = fminf((float)img->height, f->y + 2.5f * f->h);
				int cw = (int)(x1 - x0), ch = (int)(y1 - y0);
				face_image *c = NULL;
				assert_int_equal(face_image_crop(img, x0, y0, x1 - x0, y1 - y0, cw, ch, &c, &err),
				                 MIEN_OK);
				size_t k = 0;
				assert_int_equal(face_detect(d, c, dets, MAX_DETS, &k, &err), MIEN_OK);
				check_inside(dets, k < MAX_DETS ? k : MAX_DETS, (float)cw, (float)ch);
				/* the half face, in crop pixels */
				face_detection half = *f;
				half.x = side == 0 ? f->x - x0 : 0.0f;
				half.w = f->w / 2;
				half.y -= y0;
				int hit = 0;
				for (size_t j = 0; j < k && j < MAX_DETS; j++) {
					if (box_iou(&dets[j], &half) > 0.3f)
						hit = 1;
					int known = 0;
					for (size_t q = 0; q < n; q++) {
						face_detection o = whole[q];
						o.x -= x0;
						o.y -= y0;
						known |= boxes_touch(&dets[j], &o);
					}
					if (!known) {
						print_error("sample%d.jpg face %zu side %d: stray box %.0f,%.0f "
						            "%.0fx%.0f\n",
						            s, i, side, dets[j].x, dets[j].y, dets[j].w, dets[j].h);
						stray++;
					}
				}
				found += hit;
				total++;
				face_image_free(&c);
			}
		}
		face_image_free(&img);
	}
	print_message("half faces found: %d of %d\n", found, total);
	assert_int_equal(total, 44);
	assert_in_range(found, 30, total);
	assert_int_equal(stray, 0);
	face_detector_free(&d);
}

static void test_weighted_nms(void **state)
{
	(void)state;
	face_detection d[6] = {
		box(1, 1, 10, 10, 0.6f), /* overlaps the 0.9 box: IoU 81/119 */
		box(100, 100, 20, 20, 0.8f), box(0, 0, 10, 10, 0.9f),
		box(200, 200, 5, 5, 0.2f),  /* below the threshold */
		box(101, 99, 20, 20, 0.4f), /* merges into the 0.8 box */
		box(300, 300, 10, 10, 0.5f),
	};
	size_t n = face_detections_merge(d, 6, 0.3f, 0.3f);
	assert_int_equal(n, 3);
	/* best first; the score of a merged group is its best member's */
	assert_true(d[0].score == 0.9f && d[1].score == 0.8f && d[2].score == 0.5f);
	/* (0.9 * 0 + 0.6 * 1) / 1.5 = 0.4 */
	assert_float_equal(d[0].x, 0.4f, 1e-5);
	assert_float_equal(d[0].y, 0.4f, 1e-5);
	assert_float_equal(d[0].w, 10.0f, 1e-5);
	assert_float_equal(d[0].keypoints[0][0], 5.4f, 1e-5);
	/* (0.8 * 100 + 0.4 * 101) / 1.2 and (0.8 * 100 + 0.4 * 99) / 1.2 */
	assert_float_equal(d[1].x, 100.0f + 0.4f / 1.2f, 1e-4);
	assert_float_equal(d[1].y, 100.0f - 0.4f / 1.2f, 1e-4);
	assert_float_equal(d[2].x, 300.0f, 1e-6);
	/* a stricter IoU keeps the overlapping pair apart */
	face_detection e[2] = { box(0, 0, 10, 10, 0.9f), box(1, 1, 10, 10, 0.6f) };
	assert_int_equal(face_detections_merge(e, 2, 0.7f, 0.0f), 2);
	assert_int_equal(face_detections_merge(NULL, 0, 0.3f, 0.0f), 0);
}

static void test_degenerate_pictures(void **state)
{
	(void)state;
	face_detector *d = make(NULL, NULL);
	face_detection dets[MAX_DETS];
	size_t n = 99;
	mien_error err = { 0 };
	face_image *im = NULL;

	assert_int_equal(face_image_create(1, 1, 0, &im, &err), MIEN_OK);
	assert_int_equal(face_detect(d, im, dets, MAX_DETS, &n, &err), MIEN_OK);
	assert_int_equal(n, 0);
	face_image_free(&im);

	/* smaller than min_face (24) both ways */
	assert_int_equal(face_image_create(20, 16, 0, &im, &err), MIEN_OK);
	memset(im->pixels, 200, (size_t)im->stride * im->height);
	assert_int_equal(face_detect(d, im, dets, MAX_DETS, &n, &err), MIEN_OK);
	assert_int_equal(n, 0);
	face_image_free(&im);

	/* all black, 4000x3000: the grid pass at its cap, no face */
	assert_int_equal(face_image_create(4000, 3000, 0, &im, &err), MIEN_OK);
	assert_int_equal(face_detect(d, im, dets, MAX_DETS, &n, &err), MIEN_OK);
	assert_int_equal(n, 0);
	/* max = 0 still counts */
	assert_int_equal(face_detect(d, im, NULL, 0, &n, &err), MIEN_OK);
	assert_int_equal(n, 0);
	face_image_free(&im);

	assert_int_equal(face_detect(d, NULL, dets, MAX_DETS, &n, &err), MIEN_EINVAL);
	face_detector_free(&d);
	face_detector_free(&d); /* NULL is a no-op */

	face_detector *bad = NULL;
	assert_int_equal(face_detector_create("no-such-detector", MODELS, NULL, NULL, &bad, &err), MIEN_EINVAL);
	assert_null(bad);
	face_detector_options o = { 0 };
	o.score_threshold = 1.5f;
	assert_int_equal(face_detector_create("blazeface-back", MODELS, NULL, &o, &bad, &err), MIEN_EINVAL);
	assert_null(bad);
	o.score_threshold = 0.0f;
	o.grid_max_side = -1;
	assert_int_equal(face_detector_create("blazeface-back", MODELS, NULL, &o, &bad, &err), MIEN_EINVAL);
	assert_null(bad);
}

/* MIEN_DETECTOR picks the detector when the caller names none. */
static void test_env_selects(void **state)
{
	(void)state;
	setenv("MIEN_DETECTOR", "tiny_face_detector", 1);
	face_detector *d = make(NULL, NULL);
	unsetenv("MIEN_DETECTOR");
	assert_string_equal(face_detector_model(d), "tiny_face_detector");
	face_detector_free(&d);
}

/* face_detect_regions, as the camera workers use it between whole-picture searches: windows around where the
 * faces were (moved by a fifth of their width) find the labelled number of faces of each demo photo, at the
 * places the whole-picture search finds them (ssd_mobilenetv1 searches the whole picture instead); the 26 px
 * faces of a 1080p frame are found from their regions; a region over plain grey finds nothing. */
static void test_regions(void **state)
{
	(void)state;
	const char *names[] = { NULL, "ssd_mobilenetv1" };
	for (int k = 0; k < 2; k++) {
		face_detector *d = make(names[k], NULL);
		face_detection full[MAX_DETS], near[MAX_DETS];
		float regions[MAX_DETS][4];
		mien_error err = { 0 };
		for (int s = 1; s <= (k == 0 ? 6 : 2); s++) {
			face_image *im = load_sample(s);
			size_t n = 0, m = 0;
			assert_int_equal(face_detect(d, im, full, MAX_DETS, &n, &err), MIEN_OK);
			assert_int_equal(n, SAMPLE_FACES[s - 1]);
			for (size_t i = 0; i < n; i++) {
				regions[i][0] = full[i].x + 0.2f * full[i].w;
				regions[i][1] = full[i].y;
				regions[i][2] = full[i].w;
				regions[i][3] = full[i].h;
			}
			assert_int_equal(face_detect_regions(d, im, (const float(*)[4])regions, n, -1, 0, near,
			                                     MAX_DETS, &m, &err),
			                 MIEN_OK);
			check_inside(near, m, (float)im->width, (float)im->height);
			if ((int)m != SAMPLE_FACES[s - 1])
				fail_msg("sample%d.jpg: %zu faces from regions, labelled %d", s, m,
				         SAMPLE_FACES[s - 1]);
			for (size_t i = 0; i < n; i++) {
				float best = 0;
				for (size_t j = 0; j < m; j++)
					best = fmaxf(best, box_iou(&full[i], &near[j]));
				assert_true(best >= 0.6f);
			}
			face_image_free(&im);
		}
		face_detector_free(&d);
	}

	const int pw = 213, ph = 142, ox = 1920 - 213 - 40, oy = 1080 - 142 - 40;
	face_image *frame = small_frame(1920, 1080, pw, ph, ox, oy);
	face_detector *d = make(NULL, NULL);
	face_detection dets[MAX_DETS];
	size_t n = detect_small(d, frame, pw, ph, ox, oy, dets);
	assert_int_equal(n, SAMPLE_FACES[0]);
	float regions[MAX_DETS + 1][4];
	for (size_t i = 0; i < n; i++) {
		regions[i][0] = dets[i].x - 3, regions[i][1] = dets[i].y + 2;
		regions[i][2] = dets[i].w, regions[i][3] = dets[i].h;
	}
	face_detection near[MAX_DETS];
	size_t m = 0;
	mien_error err = { 0 };
	assert_int_equal(face_detect_regions(d, frame, (const float(*)[4])regions, n, -1, 0, near, MAX_DETS, &m, &err),
	                 MIEN_OK);
	assert_int_equal(m, SAMPLE_FACES[0]);
	for (size_t i = 0; i < m; i++)
		assert_true(near[i].x >= ox - 2 && near[i].x + near[i].w <= ox + pw + 2 && near[i].h <= 48);
	/* grey, and wholly outside the picture */
	float grey[2][4] = { { 200, 200, 40, 40 }, { -500, -500, 40, 40 } };
	assert_int_equal(face_detect_regions(d, frame, (const float(*)[4])grey, 2, -1, 0, near, MAX_DETS, &m, &err),
	                 MIEN_OK);
	assert_int_equal(m, 0);
	assert_int_equal(face_detect_regions(d, frame, NULL, 0, -1, 0, near, MAX_DETS, &m, &err), MIEN_OK);
	assert_int_equal(m, 0);
	assert_int_equal(face_detect_regions(d, frame, NULL, 1, -1, 0, near, MAX_DETS, &m, &err), MIEN_EINVAL);
	face_detector_free(&d);
	face_image_free(&frame);
}

/* A whole-picture search in parts (face_detect_regions' strips), as the camera workers spread it over frames: on
 * the 1080p frame with 26 px faces pasted at the right (in the last strip), at the left (the first) and in the
 * middle (where strips overlap), the parts together find the labelled faces, each once, and a part that does not
 * hold them finds nothing; 1 part is the undivided search; parts out of range are refused. */
static void test_scan_parts(void **state)
{
	(void)state;
	const int pw = 213, ph = 142;
	const int xs[3] = { 1920 - 213 - 40, 40, (1920 - 213) / 2 };
	face_detector *d = make(NULL, NULL);
	face_detection dets[MAX_DETS];
	mien_error err = { 0 };
	for (int k = 0; k < 3; k++) {
		face_image *frame = small_frame(1920, 1080, pw, ph, xs[k], 500);
		for (int parts = 1; parts <= 3; parts += 2) {
			size_t total = 0;
			for (int part = 0; part < parts; part++) {
				size_t m = 0;
				assert_int_equal(
				        face_detect_regions(d, frame, NULL, 0, part, parts, dets, MAX_DETS, &m, &err),
				        MIEN_OK);
				for (size_t i = 0; i < m; i++)
					assert_true(dets[i].x >= xs[k] - 2 && dets[i].x + dets[i].w <= xs[k] + pw + 2 &&
					            dets[i].h <= 48);
				if (parts == 3 && k == 0 && part < 2)
					assert_int_equal(m, 0); /* the faces are in the last strip only */
				if (parts == 3 && k == 1 && part > 0)
					assert_int_equal(m, 0);
				total += m;
			}
			print_message("faces at x %d, %d part(s): %zu found\n", xs[k], parts, total);
			if (k < 2 || parts == 1)
				assert_int_equal(total, SAMPLE_FACES[0]);
			else /* in the overlap two strips may both see a face: at least once each */
				assert_true(total >= (size_t)SAMPLE_FACES[0] && total <= 2 * (size_t)SAMPLE_FACES[0]);
		}
		face_image_free(&frame);
	}
	face_image *frame = small_frame(1920, 1080, pw, ph, 40, 500);
	size_t m = 0;
	assert_int_equal(face_detect_regions(d, frame, NULL, 0, 3, 3, dets, MAX_DETS, &m, &err), MIEN_EINVAL);
	assert_int_equal(face_detect_regions(d, frame, NULL, 0, 0, 17, dets, MAX_DETS, &m, &err), MIEN_EINVAL);
	face_image_free(&frame);
	face_detector_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weighted_nms),      cmocka_unit_test(test_degenerate_pictures),
		cmocka_unit_test(test_env_selects),       cmocka_unit_test(test_detectors_agree),
		cmocka_unit_test(test_sample_counts),     cmocka_unit_test(test_small_faces_1080p),
		cmocka_unit_test(test_grid_shapes),       cmocka_unit_test(test_crop_to_huge),
		cmocka_unit_test(test_faces_cut_by_side), cmocka_unit_test(test_regions),
		cmocka_unit_test(test_scan_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
