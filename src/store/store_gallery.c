/*
 * store_gallery.c — fills a gallery index from the stored embeddings: what a process does at start.
 */
#include "core/log.h"
#include "store/gallery.h"
#include "store/store.h"

typedef struct fill_ctx {
	gallery *index;
	const char *model;
	mien_error *err;
	int64_t skipped;
} fill_ctx;

static int fill(void *ctx, int64_t face_id, int64_t person_id, const float *embedding, int dim)
{
	fill_ctx *f = ctx;
	mien_error local;
	int rc = gallery_add(f->index, face_id, person_id, embedding, dim, f->model, &local);
	if (rc == MIEN_EINVAL) {
		/* A stored row the index refuses (another width, a zero vector) cannot match anything; it is counted
		 * and left out rather than keeping everyone else from being recognised. */
		f->skipped++;
		return MIEN_OK;
	}
	if (rc)
		*f->err = local;
	return rc;
}

int store_gallery_load(store *s, const char *model, int dim, int format, gallery **out, mien_error *err)
{
	*out = NULL;
	gallery *g = NULL;
	int rc = gallery_create(model, dim, format, &g, err);
	if (rc)
		return rc;
	fill_ctx f = { g, model, err, 0 };
	rc = store_embeddings_each(s, model, fill, &f, err);
	if (rc) {
		gallery_free(&g);
		return rc;
	}
	if (f.skipped)
		MIEN_LOG_WARN_("store", "gallery %s: %lld stored embeddings left out (wrong size or empty)", model,
		               (long long)f.skipped);
	*out = g;
	return MIEN_OK;
}
