/*
 * cli_eval_set.c — reading the labelled folders `mien eval` scores: folder listings, the halves of a set's
 * people (--split), and one embedding per picture of DIR/<person>/ (see cli_eval_int.h).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli_eval_int.h"

#define MAX_ENTRIES 100000

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of `dir` that are directories (want_dirs) or picture files. */
int cli__list_dir(const char *dir, int want_dirs, name_list *out)
{
	out->names = NULL;
	out->n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(d)) != NULL && out->n < MAX_ENTRIES) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) != 0)
			continue;
		if (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
			continue;
		if (!want_dirs) {
			const char *dot = strrchr(e->d_name, '.');
			if (!dot || (strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg") && strcasecmp(dot, ".png")))
				continue;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			char **grown = realloc(out->names, cap * sizeof(char *));
			if (!grown)
				break;
			out->names = grown;
		}
		out->names[out->n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(out->names, out->n, sizeof(char *), by_name);
	return 0;
}

void cli__free_list(name_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->names[i]);
	free(list->names);
	list->names = NULL;
	list->n = 0;
}

void cli__progress(const char *what, size_t done, size_t total)
{
	if (!isatty(STDERR_FILENO) || total == 0)
		return;
	int width = 40, filled = (int)(width * done / total);
	fprintf(stderr, "\r%-10s [", what);
	for (int i = 0; i < width; i++)
		fputc(i < filled ? '#' : ' ', stderr);
	fprintf(stderr, "] %zu/%zu", done, total);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

void cli__print_json(json_t *o)
{
	char *text = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
	if (text)
		puts(text);
	free(text);
}
float cli__dot(const float *a, const float *b, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return (float)s;
}
/* Every pixel as its luma (BT.601) in all three channels: a colour picture as a grey camera gives it. */
static void make_grey(face_image *img)
{
	for (int y = 0; y < img->height; y++) {
		uint8_t *p = img->pixels + (size_t)y * (size_t)img->stride;
		for (int x = 0; x < img->width; x++, p += 3) {
			uint8_t l = (uint8_t)lroundf(0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]);
			p[0] = p[1] = p[2] = l;
		}
	}
}

/* The side of the largest face found in `img` (the picture's shorter side when none is): what --face-px scales. */
static float face_side(eval_ctx *c, const face_image *img)
{
	size_t found = 0;
	mien_error err = { 0 };
	float side = 0;
	if (face_analyze(c->analyzer, img, c->faces, EVAL_FACES, &found, &err) == MIEN_OK)
		for (size_t i = 0; i < found && i < EVAL_FACES; i++)
			if (c->faces[i].box[3] > side)
				side = c->faces[i].box[3];
	return side > 0 ? side : (float)(img->width < img->height ? img->width : img->height);
}

static int embed_file(eval_ctx *c, const char *path, sample *s, int dim_max)
{
	face_image *img = NULL;
	mien_error err = { 0 };
	size_t found = 0;
	if (face_image_load(path, 0, &img, &err)) {
		cli_error("%s", err.message); /* the message names the file */
		return -1;
	}
	if (c->grey)
		make_grey(img);
	if (c->face_px > 0) {
		/* halving steps (each sample between four pixels averages them) and a last bilinear step, so that a big
		 * reduction blurs as a camera's optics would instead of aliasing */
		float k = (float)c->face_px / face_side(c, img);
		while (k < 1 && img->width > 1 && img->height > 1) {
			float step = k < 0.5f ? 0.5f : k;
			face_image *small = NULL;
			int w = (int)lroundf((float)img->width * step), h = (int)lroundf((float)img->height * step);
			if (face_image_crop(img, 0, 0, (float)img->width, (float)img->height, w > 0 ? w : 1,
			                    h > 0 ? h : 1, &small, &err) != MIEN_OK)
				break;
			face_image_free(&img);
			img = small;
			k /= step;
		}
	}
	int rc = c->face_crop ? MIEN_OK : face_analyze(c->analyzer, img, c->faces, EVAL_FACES, &found, &err);
	int best = -1;
	for (size_t i = 0; rc == MIEN_OK && i < found && i < EVAL_FACES; i++)
		if (c->faces[i].embedding_model && (best < 0 || c->faces[i].box[2] * c->faces[i].box[3] >
		                                                        c->faces[best].box[2] * c->faces[best].box[3]))
			best = (int)i;
	if (rc == MIEN_OK && best < 0) {
		/* tight crops (LFW chips) may not be detected: use the whole picture as the face, as the peer does */
		rc = face_analyze_crop(c->analyzer, img, &c->faces[0], &err);
		best = rc == MIEN_OK && c->faces[0].embedding_model ? 0 : -1;
	} else {
		s->detected = 1;
	}
	face_image_free(&img);
	if (rc) {
		cli_error("%s: %s", path, err.message);
		return -1;
	}
	if (best < 0 || c->faces[best].embedding_dim > dim_max)
		return 0;
	memcpy(s->embedding, c->faces[best].embedding, (size_t)c->faces[best].embedding_dim * sizeof(float));
	s->quality = c->faces[best].quality;
	s->ok = 1;
	return c->faces[best].embedding_dim;
}
const char *cli__split_name(int split)
{
	return split == EVAL_SPLIT_TUNE ? "tune" : split == EVAL_SPLIT_HELD ? "held" : "all";
}

uint32_t cli__fnv1a(const char *text)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

typedef struct hashed_name {
	uint32_t hash;
	const char *name;
	size_t index;
} hashed_name;

static int by_hash(const void *a, const void *b)
{
	const hashed_name *x = a, *y = b;
	return x->hash < y->hash ? -1 : x->hash > y->hash ? 1 : strcmp(x->name, y->name);
}

/* Puts each person in a half (EVAL_SPLIT_TUNE or EVAL_SPLIT_HELD: see cli_eval_int.h). 0, or -1 out of memory. */
static int mark_halves(const name_list *people, char *half)
{
	hashed_name *order = malloc((people->n ? people->n : 1) * sizeof(*order));
	if (!order)
		return -1;
	for (size_t i = 0; i < people->n; i++)
		order[i] = (hashed_name){ cli__fnv1a(people->names[i]), people->names[i], i };
	qsort(order, people->n, sizeof(*order), by_hash);
	for (size_t k = 0; k < people->n; k++)
		half[order[k].index] = k < (people->n + 1) / 2 ? EVAL_SPLIT_TUNE : EVAL_SPLIT_HELD;
	free(order);
	return 0;
}

void cli__identity_set_free(identity_set *set)
{
	cli__free_list(&set->people);
	free(set->half);
	free(set->samples);
	free(set->store);
	memset(set, 0, sizeof(*set));
}

int cli__identity_set_load(eval_ctx *c, const char *dir, const char *what, identity_set *set)
{
	memset(set, 0, sizeof(*set));
	if (cli__list_dir(dir, 1, &set->people) != 0 || set->people.n == 0) {
		cli_error("%s: no <person>/ folders", dir);
		return CLI_EXIT_FAIL;
	}
	set->half = calloc(set->people.n, 1);
	if (!set->half || mark_halves(&set->people, set->half))
		goto nomem;
	size_t cap = 0;
	for (size_t p = 0; p < set->people.n; p++) {
		if (c->split != EVAL_SPLIT_ALL && set->half[p] != c->split)
			continue;
		set->people_used++;
		char pdir[4096];
		snprintf(pdir, sizeof(pdir), "%s/%s", dir, set->people.names[p]);
		name_list files;
		cli__list_dir(pdir, 0, &files);
		for (size_t k = 0; k < files.n && (c->limit <= 0 || (long)k < c->limit); k++) {
			if (set->total == cap) {
				cap = cap ? cap * 2 : 256;
				sample *grown = realloc(set->samples, cap * sizeof(sample));
				if (!grown) {
					cli__free_list(&files);
					goto nomem;
				}
				set->samples = grown;
			}
			sample *s = &set->samples[set->total++];
			memset(s, 0, sizeof(*s));
			s->person = (int)p;
			snprintf(s->file, sizeof(s->file), "%s", files.names[k]);
		}
		cli__free_list(&files);
	}
	set->store = calloc(set->total ? set->total : 1, FACE_EMBEDDING_MAX * sizeof(float));
	if (!set->store)
		goto nomem;
	for (size_t i = 0; i < set->total; i++) {
		sample *s = &set->samples[i];
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s/%s", dir, set->people.names[s->person], s->file);
		s->embedding = set->store + i * FACE_EMBEDDING_MAX;
		int d = embed_file(c, path, s, FACE_EMBEDDING_MAX);
		if (d > 0)
			set->dim = d;
		set->failed += !s->ok;
		set->crops += s->ok && !s->detected;
		cli__progress(what, i + 1, set->total);
	}
	return CLI_EXIT_OK;
nomem:
	cli_error("out of memory");
	cli__identity_set_free(set);
	return CLI_EXIT_FAIL;
}
