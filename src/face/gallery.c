/*
 * gallery.c — a flat array of normalised embeddings with a person id each; exact search by dot product.
 */
#include <errno.h>
#include <math.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "face/gallery.h"

typedef struct person {
	int id;
	char name[FACE_NAME_MAX];
} person;

struct face_gallery {
	char model[64];
	int dim;
	person *people;
	size_t n_people, cap_people;
	float *embeddings; /* n_faces * dim */
	int *owner;        /* index into people, per face */
	size_t n_faces, cap_faces;
	int next_id;
};

int face_gallery_create(const char *model, int dim, face_gallery **out, mien_error *err)
{
	*out = NULL;
	if (!model || strlen(model) >= 64 || dim < 1 || dim > 4096)
		return mien_error_set(err, MIEN_EINVAL, "gallery: bad model name or embedding size %d", dim);
	face_gallery *g = calloc(1, sizeof(*g));
	if (!g)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	snprintf(g->model, sizeof(g->model), "%s", model);
	g->dim = dim;
	g->next_id = 1;
	*out = g;
	return MIEN_OK;
}

void face_gallery_free(face_gallery **gallery)
{
	if (!gallery || !*gallery)
		return;
	free((*gallery)->people);
	free((*gallery)->embeddings);
	free((*gallery)->owner);
	free(*gallery);
	*gallery = NULL;
}

const char *face_gallery_model(const face_gallery *g)
{
	return g->model;
}

size_t face_gallery_people(const face_gallery *g)
{
	return g->n_people;
}

size_t face_gallery_faces(const face_gallery *g)
{
	return g->n_faces;
}

static int find_person(const face_gallery *g, const char *name)
{
	for (size_t i = 0; i < g->n_people; i++)
		if (strcmp(g->people[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int add_with_id(face_gallery *g, const char *name, int id, const float *embedding, int *person_index,
                       mien_error *err)
{
	if (!name || !*name || strlen(name) >= FACE_NAME_MAX)
		return mien_error_set(err, MIEN_EINVAL, "a name must have 1 to %d bytes", FACE_NAME_MAX - 1);
	if (g->n_faces >= FACE_GALLERY_MAX_FACES)
		return mien_error_set(err, MIEN_ETOOBIG, "the gallery holds its maximum of %d faces",
		                      FACE_GALLERY_MAX_FACES);
	int p = find_person(g, name);
	if (p < 0) {
		if (g->n_people == g->cap_people) {
			size_t cap = g->cap_people ? g->cap_people * 2 : 16;
			person *np = realloc(g->people, cap * sizeof(person));
			if (!np)
				return mien_error_set(err, MIEN_ENOMEM, "out of memory");
			g->people = np;
			g->cap_people = cap;
		}
		p = (int)g->n_people++;
		g->people[p].id = id > 0 ? id : g->next_id;
		snprintf(g->people[p].name, FACE_NAME_MAX, "%s", name);
		if (g->people[p].id >= g->next_id)
			g->next_id = g->people[p].id + 1;
	}
	if (g->n_faces == g->cap_faces) {
		size_t cap = g->cap_faces ? g->cap_faces * 2 : 64;
		float *ne = realloc(g->embeddings, cap * (size_t)g->dim * sizeof(float));
		if (!ne)
			return mien_error_set(err, MIEN_ENOMEM, "out of memory");
		g->embeddings = ne;
		int *no = realloc(g->owner, cap * sizeof(int));
		if (!no)
			return mien_error_set(err, MIEN_ENOMEM, "out of memory");
		g->owner = no;
		g->cap_faces = cap;
	}
	float *dst = g->embeddings + g->n_faces * (size_t)g->dim;
	double s = 0;
	for (int i = 0; i < g->dim; i++)
		s += (double)embedding[i] * embedding[i];
	float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0;
	for (int i = 0; i < g->dim; i++)
		dst[i] = embedding[i] * inv;
	g->owner[g->n_faces++] = p;
	*person_index = p;
	return MIEN_OK;
}

int face_gallery_add(face_gallery *g, const char *name, const float *embedding, int dim, const char *model,
                     int *person_id, mien_error *err)
{
	if (!model || strcmp(model, g->model) != 0 || dim != g->dim)
		return mien_error_set(err, MIEN_EINVAL, "the gallery holds %s embeddings (%d values), not %s (%d)",
		                      g->model, g->dim, model ? model : "(none)", dim);
	int p;
	int rc = add_with_id(g, name, 0, embedding, &p, err);
	if (rc == MIEN_OK)
		*person_id = g->people[p].id;
	return rc;
}

int face_gallery_search(const face_gallery *g, const float *embedding, int dim, const char *model, face_match *out,
                        size_t k, size_t *count, mien_error *err)
{
	*count = 0;
	if (!model || strcmp(model, g->model) != 0 || dim != g->dim)
		return mien_error_set(err, MIEN_EINVAL, "cannot search %s embeddings in a gallery of %s embeddings",
		                      model ? model : "(none)", g->model);
	/* best similarity per person, then the top k people (galleries here are small; the storage issue
	 * brings the indexed search) */
	double qn = 0;
	for (int i = 0; i < dim; i++)
		qn += (double)embedding[i] * embedding[i];
	qn = qn > 0 ? 1.0 / sqrt(qn) : 0; /* cosine: the query need not be normalised */
	for (size_t f = 0; f < g->n_faces; f++) {
		const float *e = g->embeddings + f * (size_t)dim;
		double dot = 0;
		for (int i = 0; i < dim; i++)
			dot += (double)e[i] * embedding[i];
		dot *= qn;
		const person *p = &g->people[g->owner[f]];
		size_t j = 0;
		while (j < *count && out[j].person_id != p->id)
			j++;
		if (j < *count) {
			if (dot <= out[j].similarity)
				continue;
			/* improve in place, then bubble up */
			out[j].similarity = (float)dot;
		} else {
			if (*count < k) {
				j = (*count)++;
			} else if (k > 0 && dot > out[k - 1].similarity) {
				j = k - 1;
			} else {
				continue;
			}
			out[j].person_id = p->id;
			out[j].name = p->name;
			out[j].similarity = (float)dot;
		}
		while (j > 0 && out[j].similarity > out[j - 1].similarity) {
			face_match t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
			j--;
		}
	}
	return MIEN_OK;
}

float face_default_threshold(const char *model)
{
	/* cosine similarity at which 0.1 % of the 277,500 different-person pairs of ../shared/data/identity/lfw are
	 * accepted (`mien eval identity …/lfw --face-crop`, docs/accuracy.md); mobilefacenet's embeddings are nearly
	 * constant (cosine 0.9988 between noise and a face, in TF.js too), so it has no useful threshold */
	if (model && strcmp(model, "face_recognition") == 0)
		return 0.93f;
	if (model && strcmp(model, "faceres") == 0)
		return 0.67f;
	return 0.99999f;
}

int face_gallery_save(const face_gallery *g, const char *path, mien_error *err)
{
	json_t *root = json_object(), *people = json_array();
	int rc = MIEN_OK;
	if (!root || !people) {
		json_decref(root);
		json_decref(people);
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	}
	json_object_set_new(root, "model", json_string(g->model));
	json_object_set_new(root, "dim", json_integer(g->dim));
	json_object_set_new(root, "people", people);
	for (size_t p = 0; p < g->n_people; p++) {
		json_t *faces = json_array();
		for (size_t f = 0; f < g->n_faces; f++) {
			if (g->owner[f] != (int)p)
				continue;
			json_t *v = json_array();
			for (int i = 0; i < g->dim; i++)
				json_array_append_new(v, json_real(g->embeddings[f * (size_t)g->dim + i]));
			json_array_append_new(faces, v);
		}
		json_array_append_new(people, json_pack("{s:i,s:s,s:o}", "id", g->people[p].id, "name",
		                                        g->people[p].name, "faces", faces));
	}
	char dir[1024], tmp[1100];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		/* one level is enough for var/gallery.json; deeper trees are the caller's */
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			rc = mien_error_set(err, MIEN_EIO, "cannot create %s", dir);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (rc == MIEN_OK && json_dump_file(root, tmp, JSON_COMPACT) != 0)
		rc = mien_error_set(err, MIEN_EIO, "cannot write %s", tmp);
	if (rc == MIEN_OK && rename(tmp, path) != 0)
		rc = mien_error_set(err, MIEN_EIO, "cannot replace %s", path);
	if (rc)
		unlink(tmp);
	json_decref(root);
	return rc;
}

int face_gallery_load(const char *path, face_gallery **out, mien_error *err)
{
	*out = NULL;
	json_error_t jerr;
	FILE *f = fopen(path, "rb");
	if (!f)
		return mien_error_set(err, MIEN_ENOENT, "no gallery at %s", path);
	json_t *root = json_loadf(f, 0, &jerr);
	fclose(f);
	if (!root)
		return mien_error_set(err, MIEN_EFORMAT, "gallery %s is damaged: %s", path, jerr.text);
	face_gallery *g = NULL;
	const char *model = json_string_value(json_object_get(root, "model"));
	json_int_t dim = json_integer_value(json_object_get(root, "dim"));
	json_t *people = json_object_get(root, "people");
	int rc = face_gallery_create(model, (int)dim, &g, err);
	if (rc == MIEN_OK && !json_is_array(people))
		rc = mien_error_set(err, MIEN_EFORMAT, "gallery %s has no people", path);
	float *v = rc == MIEN_OK ? malloc((size_t)dim * sizeof(float)) : NULL;
	if (rc == MIEN_OK && !v)
		rc = mien_error_set(err, MIEN_ENOMEM, "out of memory");
	for (size_t p = 0; rc == MIEN_OK && p < json_array_size(people); p++) {
		json_t *pj = json_array_get(people, p);
		const char *name = json_string_value(json_object_get(pj, "name"));
		int id = (int)json_integer_value(json_object_get(pj, "id"));
		json_t *faces = json_object_get(pj, "faces");
		for (size_t k = 0; rc == MIEN_OK && k < json_array_size(faces); k++) {
			json_t *e = json_array_get(faces, k);
			if (json_array_size(e) != (size_t)dim) {
				rc = mien_error_set(err, MIEN_EFORMAT, "gallery %s: an embedding has the wrong size",
				                    path);
				break;
			}
			for (json_int_t i = 0; i < dim; i++)
				v[i] = (float)json_number_value(json_array_get(e, (size_t)i));
			int idx;
			rc = add_with_id(g, name, id, v, &idx, err);
		}
	}
	free(v);
	json_decref(root);
	if (rc) {
		face_gallery_free(&g);
		return rc;
	}
	*out = g;
	return MIEN_OK;
}
