/*
 * measure.c — throwaway measurements behind src/face/detect.c's settings and the default detector.
 * Not part of the build; compile from the repository root:
 *
 *   cc -Isrc -D_GNU_SOURCE -std=c11 -O2 -o build/measure bench/detect/measure.c build/libmien.a \
 *      -ljansson -lXNNPACK -lpthreadpool -lpthread -lm   (plus -lturbojpeg -lspng for the image module)
 *
 *   build/measure eval DATA_DIR [threshold]   every image in DATA_DIR/face_counts.csv with the three detectors:
 *                                             found vs counted, recall, false detections per 10 images, median ms
 *   build/measure sweep IMG...                per detector, the share of faces found by one pass when the face
 *                                             is H model-input pixels tall (faces located by ssd_mobilenetv1 on
 *                                             the original photo, pasted on grey at each H)
 *   build/measure small IMG [face_px]         IMG shrunk into the corner of a 1920x1080 grey canvas so that its
 *                                             faces are ~face_px tall (default 26); what each detector finds
 *
 * MIEN_MODELS (default "models") names the models folder; MIN_FACE, MAX_TILES, THRESHOLD, TILE_THRESHOLD, IOU,
 * GRID (-1 = tiles for blazeface-back too) and GRID_SIDE override the detector options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "face/detect.h"
#include "face/image.h"

static const char *DETECTORS[] = { "blazeface-back", "ssd_mobilenetv1", "tiny_face_detector" };
static int N_DETECTORS = 3;
#define MAX_DETS 512

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static const char *models_dir(void)
{
	const char *m = getenv("MIEN_MODELS");
	return m && *m ? m : "models";
}

static face_detector_options env_options(void)
{
	face_detector_options o = { 0 };
	if (getenv("MIN_FACE"))
		o.min_face = atoi(getenv("MIN_FACE"));
	if (getenv("MAX_TILES"))
		o.max_tiles = atoi(getenv("MAX_TILES"));
	if (getenv("THRESHOLD"))
		o.score_threshold = (float)atof(getenv("THRESHOLD"));
	if (getenv("TILE_THRESHOLD"))
		o.tile_score_threshold = (float)atof(getenv("TILE_THRESHOLD"));
	if (getenv("IOU"))
		o.iou_threshold = (float)atof(getenv("IOU"));
	if (getenv("GRID"))
		o.grid = atoi(getenv("GRID"));
	if (getenv("GRID_SIDE"))
		o.grid_max_side = atoi(getenv("GRID_SIDE"));
	return o;
}

static face_detector *make_detector(const char *name, const face_detector_options *o)
{
	face_detector *d = NULL;
	mien_error err = { 0 };
	if (face_detector_create(name, models_dir(), NULL, o, &d, &err)) {
		fprintf(stderr, "%s: %s\n", name, err.message);
		exit(1);
	}
	return d;
}

/* Resamples src's rectangle (x, y, w, h) into dst at (dx, dy, dw, dh). */
static void paste(const face_image *src, float x, float y, float w, float h, face_image *dst, int dx, int dy, int dw,
                  int dh)
{
	float *buf = malloc(sizeof(float) * 3 * (size_t)dw * dh);
	float m[6];
	face_image_rect_map(x, y, w, h, dw, dh, m);
	face_image_sample(src, m, dw, dh, 3, 1.0f, 0.0f, 128.0f, buf);
	for (int r = 0; r < dh; r++) {
		for (int c = 0; c < dw; c++) {
			int X = dx + c, Y = dy + r;
			if (X < 0 || Y < 0 || X >= dst->width || Y >= dst->height)
				continue;
			for (int k = 0; k < 3; k++) {
				float v = buf[((size_t)r * dw + c) * 3 + k] + 0.5f;
				dst->pixels[(size_t)Y * dst->stride + 3 * X + k] = (uint8_t)(v < 0     ? 0
				                                                             : v > 255 ? 255
				                                                                       : v);
			}
		}
	}
	free(buf);
}

static face_image *grey_canvas(int w, int h)
{
	face_image *im = NULL;
	mien_error err;
	if (face_image_create(w, h, 0, &im, &err))
		exit(1);
	for (int y = 0; y < h; y++)
		memset(im->pixels + (size_t)y * im->stride, 128, (size_t)3 * w);
	return im;
}

static float box_iou(const float *a, const float *b)
{
	float x0 = a[0] > b[0] ? a[0] : b[0], y0 = a[1] > b[1] ? a[1] : b[1];
	float x1 = a[0] + a[2] < b[0] + b[2] ? a[0] + a[2] : b[0] + b[2];
	float y1 = a[1] + a[3] < b[1] + b[3] ? a[1] + a[3] : b[1] + b[3];
	if (x1 <= x0 || y1 <= y0)
		return 0;
	float i = (x1 - x0) * (y1 - y0);
	return i / (a[2] * a[3] + b[2] * b[3] - i);
}

static int eval_main(const char *dir)
{
	char path[2048], line[2048];
	snprintf(path, sizeof(path), "%s/face_counts.csv", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	char files[256][512];
	int counts[256], n = 0;
	while (fgets(line, sizeof(line), f) && n < 256) {
		char *comma = strchr(line, ',');
		if (!comma || strncmp(line, "file,", 5) == 0)
			continue;
		*comma = 0;
		snprintf(files[n], sizeof(files[n]), "%s", line);
		counts[n++] = atoi(comma + 1);
	}
	fclose(f);
	face_detector_options o = env_options();
	static face_detection dets[MAX_DETS];
	printf("%-44s %5s", "image", "label");
	for (int k = 0; k < N_DETECTORS; k++)
		printf(" %18s", DETECTORS[k]);
	printf("\n");
	face_detector *det[3];
	for (int k = 0; k < N_DETECTORS; k++)
		det[k] = make_detector(DETECTORS[k], &o);
	int hit[3] = { 0 }, extra[3] = { 0 }, total = 0;
	double *ms[3];
	for (int k = 0; k < N_DETECTORS; k++)
		ms[k] = calloc((size_t)n, sizeof(double));
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		face_image *im = NULL;
		mien_error err = { 0 };
		if (face_image_load(path, 0, &im, &err)) {
			fprintf(stderr, "%s: %s\n", path, err.message);
			return 1;
		}
		total += counts[i];
		printf("%-44s %5d", files[i], counts[i]);
		for (int k = 0; k < N_DETECTORS; k++) {
			size_t found = 0;
			face_detect(det[k], im, dets, MAX_DETS, &found, &err); /* warm-up */
			double t0 = now_ms();
			if (face_detect(det[k], im, dets, MAX_DETS, &found, &err)) {
				fprintf(stderr, "%s: %s\n", path, err.message);
				return 1;
			}
			ms[k][i] = now_ms() - t0;
			hit[k] += (int)found < counts[i] ? (int)found : counts[i];
			extra[k] += (int)found > counts[i] ? (int)found - counts[i] : 0;
			printf(" %6zu %8.1fms%s", found, ms[k][i], (int)found == counts[i] ? "  " : " *");
		}
		printf("  (%dx%d)\n", im->width, im->height);
		if (getenv("VERBOSE")) {
			for (int k = 0; k < N_DETECTORS; k++) {
				size_t found = 0;
				face_detect(det[k], im, dets, MAX_DETS, &found, &err);
				for (size_t j = 0; j < found && j < MAX_DETS; j++)
					printf("    %s %.0f,%.0f %.0fx%.0f %.3f\n", DETECTORS[k], dets[j].x, dets[j].y,
					       dets[j].w, dets[j].h, dets[j].score);
			}
		}
		face_image_free(&im);
	}
	printf("\n%-20s %8s %14s %10s\n", "detector", "recall", "false/10 img", "median ms");
	for (int k = 0; k < N_DETECTORS; k++) {
		qsort(ms[k], (size_t)n, sizeof(double), cmp_double);
		printf("%-20s %8.3f %14.2f %10.1f\n", DETECTORS[k], (double)hit[k] / total, 10.0 * extra[k] / n,
		       ms[k][n / 2]);
		face_detector_free(&det[k]);
		free(ms[k]);
	}
	return 0;
}

/* Faces of each photo located by ssd_mobilenetv1 (whole picture), then pasted at each height. */
static int sweep_main(int argc, char **argv)
{
	static const int HEIGHTS[] = { 8, 12, 16, 20, 24, 28, 32, 40, 48, 64, 80, 96, 128, 160, 192, 224 };
	enum { NH = sizeof(HEIGHTS) / sizeof(HEIGHTS[0]) };
	face_detector_options big = { 0 };
	big.max_tiles = -1; /* one whole-picture pass, no tiles */
	face_detector *locator = make_detector("ssd_mobilenetv1", &big);
	face_detector *det[3];
	int size[3] = { 256, 512, 416 };
	face_detector_options o = env_options();
	o.max_tiles = -1;
	for (int k = 0; k < N_DETECTORS; k++)
		det[k] = make_detector(DETECTORS[k], &o);
	int found[3][NH] = { { 0 } }, tried = 0, spurious[3][NH] = { { 0 } };
	static face_detection faces[MAX_DETS], dets[MAX_DETS];
	for (int a = 0; a < argc; a++) {
		face_image *im = NULL;
		mien_error err = { 0 };
		if (face_image_load(argv[a], 0, &im, &err))
			return 1;
		size_t nf = 0;
		face_detect(locator, im, faces, MAX_DETS, &nf, &err);
		for (size_t fi = 0; fi < nf && fi < MAX_DETS; fi++) {
			tried++;
			const face_detection *fc = &faces[fi];
			for (int hi = 0; hi < NH; hi++) {
				for (int k = 0; k < N_DETECTORS; k++) {
					int n = size[k];
					float h = (float)HEIGHTS[hi];
					float s = h / fc->h; /* picture → canvas scale */
					/* paste a context region 2.2 face heights around the face */
					float cw = 2.2f * fc->h, cx = fc->x + fc->w / 2 - cw / 2,
					      cy = fc->y + fc->h / 2 - cw / 2;
					int dw = (int)(cw * s + 0.5f);
					if (dw > n)
						dw = n;
					face_image *canvas = grey_canvas(n, n);
					int dx = n / 2 - dw / 2, dy = n / 2 - dw / 2;
					paste(im, cx, cy, (float)dw / s, (float)dw / s, canvas, dx, dy, dw, dw);
					float truth[4] = { dx + (fc->x - cx) * s, dy + (fc->y - cy) * s, fc->w * s, h };
					size_t nd = 0;
					face_detect(det[k], canvas, dets, MAX_DETS, &nd, &err);
					int ok = 0;
					for (size_t j = 0; j < nd && j < MAX_DETS; j++) {
						float b[4] = { dets[j].x, dets[j].y, dets[j].w, dets[j].h };
						if (box_iou(b, truth) > 0.3f)
							ok = 1;
						else
							spurious[k][hi]++;
					}
					found[k][hi] += ok;
					face_image_free(&canvas);
				}
			}
		}
		face_image_free(&im);
	}
	printf("faces tried: %d; share found (IoU > 0.3 with the pasted face) by face height in input pixels\n", tried);
	printf("%-20s", "height");
	for (int hi = 0; hi < NH; hi++)
		printf(" %5d", HEIGHTS[hi]);
	printf("\n");
	for (int k = 0; k < N_DETECTORS; k++) {
		printf("%-20s", DETECTORS[k]);
		for (int hi = 0; hi < NH; hi++)
			printf(" %5.2f", (double)found[k][hi] / tried);
		printf("\n%-20s", "  other boxes");
		for (int hi = 0; hi < NH; hi++)
			printf(" %5d", spurious[k][hi]);
		printf("\n");
		face_detector_free(&det[k]);
	}
	face_detector_free(&locator);
	return 0;
}

static int small_main(const char *file, float face_px)
{
	face_detector_options big = { 0 };
	big.max_tiles = -1;
	face_detector *locator = make_detector("ssd_mobilenetv1", &big);
	face_image *im = NULL;
	mien_error err = { 0 };
	if (face_image_load(file, 0, &im, &err))
		return 1;
	static face_detection faces[MAX_DETS], dets[MAX_DETS];
	size_t nf = 0;
	face_detect(locator, im, faces, MAX_DETS, &nf, &err);
	float mean_h = 0;
	for (size_t i = 0; i < nf; i++)
		mean_h += faces[i].h / (float)nf;
	float s = face_px / mean_h;
	int pw = (int)(im->width * s + 0.5f), ph = (int)(im->height * s + 0.5f);
	face_image *canvas = grey_canvas(1920, 1080);
	int ox = 1920 - pw - 40, oy = 1080 - ph - 40; /* bottom-right corner */
	paste(im, 0, 0, (float)im->width, (float)im->height, canvas, ox, oy, pw, ph);
	printf("%s: %zu faces located (mean height %.0f px) → pasted at %d,%d size %dx%d, faces ~%.0f px\n", file, nf,
	       mean_h, ox, oy, pw, ph, face_px);
	face_detector_options o = env_options();
	for (int k = 0; k < N_DETECTORS; k++) {
		face_detector *d = make_detector(DETECTORS[k], &o);
		size_t nd = 0;
		face_detect(d, canvas, dets, MAX_DETS, &nd, &err);
		double t0 = now_ms();
		face_detect(d, canvas, dets, MAX_DETS, &nd, &err);
		double t = now_ms() - t0;
		int inside = 0;
		for (size_t j = 0; j < nd && j < MAX_DETS; j++)
			inside += dets[j].x >= ox - 4 && dets[j].y >= oy - 4 && dets[j].x + dets[j].w <= ox + pw + 4 &&
			          dets[j].y + dets[j].h <= oy + ph + 4;
		printf("%-20s found %zu (inside the pasted region %d) in %.1f ms\n", DETECTORS[k], nd, inside, t);
		for (size_t j = 0; j < nd && j < MAX_DETS && getenv("VERBOSE"); j++)
			printf("    %.0f,%.0f %.0fx%.0f %.3f\n", dets[j].x, dets[j].y, dets[j].w, dets[j].h,
			       dets[j].score);
		face_detector_free(&d);
	}
	face_image_free(&canvas);
	face_image_free(&im);
	face_detector_free(&locator);
	return 0;
}

int main(int argc, char **argv)
{
	if (getenv("ONLY")) { /* one detector */
		DETECTORS[0] = getenv("ONLY");
		N_DETECTORS = 1;
	}
	if (argc >= 3 && strcmp(argv[1], "eval") == 0)
		return eval_main(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "sweep") == 0)
		return sweep_main(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "small") == 0)
		return small_main(argv[2], argc > 3 ? (float)atof(argv[3]) : 26.0f);
	fprintf(stderr, "usage: measure eval DATA_DIR | sweep IMG... | small IMG [face_px]\n");
	return 2;
}
