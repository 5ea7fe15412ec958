/*
 * gallery.h — the in-memory index over every enrolled face embedding, searched to identify a face.
 *
 * A gallery holds the embeddings of one embedder (`model`, e.g. "facenet-192") with `dim` values each.
 * Each face has a unique face id and belongs to one person id (ids are the store's; any int64 value).
 * Embeddings are L2-normalised on the way in, so similarity is cosine. A search returns the k most
 * similar DISTINCT people, each with the similarity and face id of its best face.
 *
 * Storage: vectors lie contiguously in one 64-byte-aligned block (rows padded to 64 bytes) that grows
 * geometrically up to GALLERY_MAX_FACES. The format is fixed at creation:
 *   GALLERY_FLOAT32  exact;                                   4 bytes per value
 *   GALLERY_INT8     symmetric int8 with one float scale per vector; 1 byte per value (recommended:
 *                    recall@1 vs exact >= 99.9 % on noisy queries, 4x less memory and scan traffic)
 *   GALLERY_FLOAT16  IEEE half;                               2 bytes per value
 * Removing a face is O(1) (the last row moves into the hole; a hash map finds a face id's row), and
 * removing a person is O(faces of that person) (a per-person list of rows).
 *
 * Kernels: the scan uses AVX-512 (VNNI for int8), AVX2+FMA+F16C or portable C, picked once per gallery at
 * creation from what the CPU supports. The environment variable MIEN_GALLERY_ISA=portable|avx2|avx512
 * caps the choice (tests compare kernels with it); a level the CPU lacks falls back to the best it has.
 * int8 kernels give bit-identical results; float kernels agree to rounding (summation order).
 *
 * Thread safety: one pthread rwlock per gallery. Any number of threads may search and read sizes at once;
 * gallery_add / gallery_remove_* take it exclusively (writers are preferred, so a steady stream of
 * searches cannot starve enrolment). gallery_free must not race with any other call.
 *
 * Stack: gallery_add uses ~16 KB and gallery_search ~30 KB of the calling thread's stack (the query's
 * forms live there, so that a search never allocates unless it starts threads).
 *
 * Ownership: a gallery is created by gallery_create and freed with gallery_free. Every pointer argument
 * is borrowed for the duration of the call; nothing is kept.
 */
#ifndef MIEN_STORE_GALLERY_H
#define MIEN_STORE_GALLERY_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

#define GALLERY_MODEL_MAX   64                 /* model name, terminator included */
#define GALLERY_MAX_DIM     4096               /* values per embedding */
#define GALLERY_MAX_FACES   (16 * 1024 * 1024) /* hard cap on stored faces */
#define GALLERY_MAX_K       100                /* most people one search returns */
#define GALLERY_MAX_THREADS 64                 /* gallery_set_threads upper bound */
/* A search splits its scan across threads only from this many faces up (below, one thread is faster). */
#define GALLERY_PARALLEL_MIN 65536

/* Stored values; they keep their numbers. */
enum gallery_format {
	GALLERY_FLOAT32 = 0,
	GALLERY_INT8 = 1,
	GALLERY_FLOAT16 = 2,
};

typedef struct gallery gallery;

typedef struct gallery_hit {
	int64_t person_id;
	int64_t face_id;  /* the person's most similar face */
	float similarity; /* cosine, in [-1, 1] (int8/float16: approximate to ~1e-3) */
} gallery_hit;

/*
 * An empty gallery for `model`'s embeddings of `dim` values (1..GALLERY_MAX_DIM), stored as `format`.
 * Caller frees *out with gallery_free. MIEN_EINVAL for a NULL/empty/too long (> GALLERY_MODEL_MAX - 1
 * bytes) model name, a bad dim or format, or an unknown MIEN_GALLERY_ISA value; MIEN_ENOMEM.
 */
int gallery_create(const char *model, int dim, int format, gallery **out, mien_error *err);

/* Frees the gallery and sets *g to NULL; NULL or *g == NULL is a no-op. */
void gallery_free(gallery **g);

/*
 * Stores `embedding` (`dim` values from `model`; normalised here) as face `face_id` of `person_id`.
 * An existing face id is replaced (its person may change). MIEN_EINVAL on a model or dim mismatch, or a
 * zero, NaN or infinite vector; MIEN_ETOOBIG when GALLERY_MAX_FACES faces are stored; MIEN_ENOMEM.
 * On failure the gallery is unchanged.
 */
int gallery_add(gallery *g, int64_t face_id, int64_t person_id, const float *embedding, int dim, const char *model,
                mien_error *err);

/* Removes one face: returns 1, or MIEN_ENOENT when no face has that id (MIEN_EINVAL for g == NULL). */
int gallery_remove_face(gallery *g, int64_t face_id);

/* Removes every face of a person: returns how many (>= 1), or MIEN_ENOENT when the person has none. */
int gallery_remove_person(gallery *g, int64_t person_id);

/*
 * The up to `k` (0..GALLERY_MAX_K) people most similar to `query` (`dim` values from `model`), best first,
 * one hit per person (its best face). Writes *count (<= k, fewer when the gallery holds fewer people)
 * hits to `out`, which has room for k. MIEN_EINVAL on a model or dim mismatch, a zero/NaN/Inf query or a
 * NULL pointer; MIEN_ERANGE when k > GALLERY_MAX_K.
 */
int gallery_search(const gallery *g, const float *query, int dim, const char *model, size_t k, gallery_hit *out,
                   size_t *count, mien_error *err);

/*
 * Decides whether a row may be among a search's hits: 1 keeps it, 0 passes it over. Called under the gallery's
 * read lock, only for rows that score above the search's floor and its current k-th best (so rarely: the top list
 * changes O(k log n) times over a scan), and from the search's own threads when it has several (gallery_set_threads):
 * it must be thread-safe and must not call into the gallery.
 */
typedef int (*gallery_keep_fn)(void *ctx, int64_t person_id, int64_t face_id);

/*
 * gallery_search restricted: only rows whose similarity is above `min_similarity` (-INFINITY: all) and that `keep`
 * accepts (NULL: all) compete. The scan is as fast as gallery_search's (both tests run only on the few rows that
 * would enter the top list). Errors as gallery_search.
 */
int gallery_search_where(const gallery *g, const float *query, int dim, const char *model, size_t k,
                         float min_similarity, gallery_keep_fn keep, void *keep_ctx, gallery_hit *out, size_t *count,
                         mien_error *err);

/*
 * Who the face is: the most similar person whose best face reaches `threshold` and is more similar than every one
 * of that person's negatives. Negatives are faces known NOT to be a person (a "not P" correction), stored as faces
 * of negative id under person -P. *out->person_id is 0 when nobody qualifies. Looks at the GALLERY_IDENTIFY_K most
 * similar people and negatives. Errors as gallery_search.
 */
#define GALLERY_IDENTIFY_K 8
int gallery_identify(const gallery *g, const float *query_embedding, int dim, const char *model, float threshold,
                     gallery_hit *out, mien_error *err);

/*
 * How many threads one search may use (1..GALLERY_MAX_THREADS; default 1). With more than one, a search
 * over at least GALLERY_PARALLEL_MIN faces starts threads that scan slices of the gallery. Returns
 * MIEN_OK, MIEN_ERANGE for a count outside the range, MIEN_EINVAL for g == NULL.
 */
int gallery_set_threads(gallery *g, int threads);

/* The ids of every stored face, in no particular order, copied under the read lock. Caller frees *ids with free()
 * (NULL when *count is 0). MIEN_EINVAL for NULL pointers, MIEN_ENOMEM. */
int gallery_face_ids(const gallery *g, int64_t **ids, size_t *count);

/* Faces stored, distinct people, and bytes held (vectors, ids, maps; capacity, not just use). 0 for NULL. */
size_t gallery_size(const gallery *g);
size_t gallery_people(const gallery *g);
size_t gallery_memory_bytes(const gallery *g);

/* The embedder the gallery holds: its own string, valid until gallery_free ("" for NULL). */
const char *gallery_model(const gallery *g);

/* The scan kernel in use: "avx512", "avx2" or "portable" (a static string). */
const char *gallery_isa(const gallery *g);

#endif
