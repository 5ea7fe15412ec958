/*
 * gallery.h — enrolled people and their face embeddings, searched by cosine similarity.
 *
 * Until the storage layer lands this is an in-memory index that `mien enroll` persists to a JSON file
 * (MIEN_GALLERY, default var/gallery.json) written atomically (temporary file + rename). Every embedding
 * carries its model's name; a gallery holds one model's embeddings, and searching with another model's
 * embedding is an error.
 */
#ifndef MIEN_FACE_GALLERY_H
#define MIEN_FACE_GALLERY_H

#include <stddef.h>

#include "core/result.h"

#define FACE_GALLERY_MAX_FACES 1000000
#define FACE_NAME_MAX          128

typedef struct face_gallery face_gallery;

typedef struct face_match {
	int person_id;
	const char *name; /* borrowed from the gallery */
	float similarity; /* best over the person's faces */
} face_match;

/* An empty gallery for embeddings of `model` with `dim` values. Caller frees with face_gallery_free. */
int face_gallery_create(const char *model, int dim, face_gallery **out, mien_error *err);
void face_gallery_free(face_gallery **gallery);

/* Loads a gallery file; MIEN_ENOENT when it does not exist, MIEN_EFORMAT when it is damaged. */
int face_gallery_load(const char *path, face_gallery **out, mien_error *err);
/* Writes the gallery atomically, creating the parent directory if needed. */
int face_gallery_save(const face_gallery *gallery, const char *path, mien_error *err);

const char *face_gallery_model(const face_gallery *gallery);
size_t face_gallery_people(const face_gallery *gallery);
size_t face_gallery_faces(const face_gallery *gallery);

/* Adds one embedding (L2-normalised) for the person called `name` (created when new; names are unique and at
 * most FACE_NAME_MAX-1 bytes); returns the person's id in *person_id. MIEN_EINVAL on a model or size mismatch. */
int face_gallery_add(face_gallery *gallery, const char *name, const float *embedding, int dim, const char *model,
                     int *person_id, mien_error *err);

/* The k people most similar to `embedding`, best first; *count = how many were written. */
int face_gallery_search(const face_gallery *gallery, const float *embedding, int dim, const char *model,
                        face_match *out, size_t k, size_t *count, mien_error *err);

/* The default similarity threshold above which a match counts as the same person, for an embedder
 * (calibrated on ../shared/data: docs/accuracy.md). */
float face_default_threshold(const char *model);

#endif
