/*
 * cli_reembed.c — `mien reembed`: moves the enrolled faces to the embedder in force (MIEN_EMBEDDER, or --embedder)
 * after it changed. Each face stored under another embedder is embedded again from its stored thumbnail (a 160 px
 * square, twice the face's size, kept with every enrolment) and its embedding replaced in place: the enrolment, its
 * person and its thumbnail stay, so nothing enrolled is lost, and a face that cannot be embedded again keeps its old
 * embedding (it is reported, and is simply not searched under the new embedder). `mien serve` runs the same pass
 * at start (reembed_all) unless MIEN_REEMBED=off.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "face/face.h"
#include "store/store.h"

#define REEMBED_BATCH 64

/* The face of a thumbnail: the largest face detected in it, else the whole thumbnail as the face (a tight crop). */
static int embed_thumbnail(face_analyzer *a, const uint8_t *jpeg, size_t len, face_result *faces, size_t max,
                           face_result **out, mien_error *err)
{
	face_image *img = NULL;
	size_t found = 0;
	*out = NULL;
	int rc = face_image_decode(jpeg, len, 0, &img, err);
	if (rc == MIEN_OK)
		rc = face_analyze(a, img, faces, max, &found, err);
	int best = -1;
	for (size_t i = 0; rc == MIEN_OK && i < found && i < max; i++)
		if (faces[i].embedding_model && (best < 0 || faces[i].box[3] > faces[best].box[3]))
			best = (int)i;
	if (rc == MIEN_OK && best < 0) {
		rc = face_analyze_crop(a, img, &faces[0], err);
		best = rc == MIEN_OK && faces[0].embedding_model ? 0 : -1;
	}
	face_image_free(&img);
	if (rc == MIEN_OK && best >= 0)
		*out = &faces[best];
	return rc;
}

int reembed_all(store *db, face_analyzer *a, int progress, const atomic_int *cancel, reembed_report *report,
                mien_error *err)
{
	memset(report, 0, sizeof(*report));
	const char *model = face_analyzer_embedder(a);
	int64_t same = 0, other = 0;
	int rc = store_face_count_models(db, model, &same, &other, err);
	if (rc)
		return rc;
	report->already = same;
	report->to_do = other;
	if (other == 0)
		return MIEN_OK;
	store_face *batch = calloc(REEMBED_BATCH, sizeof(*batch));
	face_result *faces = calloc(16, sizeof(*faces));
	if (!batch || !faces) {
		free(batch);
		free(faces);
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	}
	int64_t after = 0, t0 = mien_mono_ms(), last_note = t0;
	for (;;) {
		size_t n = 0;
		if (cancel && atomic_load(cancel))
			break;
		if ((rc = store_face_list_other_model(db, model, after, batch, REEMBED_BATCH, &n, err)) || n == 0)
			break;
		for (size_t i = 0; i < n && !(cancel && atomic_load(cancel)); i++) {
			after = batch[i].id;
			uint8_t *jpeg = NULL;
			size_t len = 0;
			face_result *f = NULL;
			mien_error why = { 0 };
			int frc = store_face_thumbnail(db, batch[i].id, &jpeg, &len, &why);
			if (frc == MIEN_OK)
				frc = embed_thumbnail(a, jpeg, len, faces, 16, &f, &why);
			free(jpeg);
			if (frc == MIEN_OK && f)
				frc = store_face_set_embedding(db, batch[i].id, model, f->embedding, f->embedding_dim,
				                               f->quality, &why);
			if (frc == MIEN_OK && f) {
				report->done++;
			} else {
				report->failed++;
				mien_log(MIEN_LOG_WARN, "reembed", "face %lld (person %lld, %s): kept as it was: %s",
				         (long long)batch[i].id, (long long)batch[i].person_id, batch[i].model,
				         frc == MIEN_OK ? "no face found in its thumbnail" : why.message);
			}
			int64_t now = mien_mono_ms();
			if (progress && (now - last_note >= 2000 || report->done + report->failed == report->to_do)) {
				int64_t seen = report->done + report->failed;
				double rate = (double)seen / ((double)(now - t0 + 1) / 1000.0);
				mien_log(MIEN_LOG_INFO, "reembed",
				         "%lld of %lld faces for %s (%lld failed), %.0f s left", (long long)seen,
				         (long long)report->to_do, model, (long long)report->failed,
				         rate > 0 ? (double)(report->to_do - seen) / rate : 0.0);
				last_note = now;
			}
		}
	}
	free(batch);
	free(faces);
	return rc;
}

static const char REEMBED_USAGE[] =
        "usage: mien reembed [--embedder E] [--json]\n"
        "  Embeds every enrolled face stored under another embedder again, for E (default MIEN_EMBEDDER, else\n"
        "  face_recognition-v2), from the face's stored thumbnail, replacing its embedding in place (MIEN_DB).\n"
        "  Progress goes to the log; the summary to stdout. A face that cannot be embedded again keeps its old\n"
        "  embedding and is listed in the log. Exit status 1 when any face failed.\n";

int cli_reembed_main(int argc, char **argv, const mien_config *cfg)
{
	face_options options;
	face_options_default(&options);
	options.expressions = 0;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		const char *value;
		int m;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(REEMBED_USAGE, stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if ((m = cli_option(argc, argv, &i, "--embedder", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			options.embedder = value;
		} else {
			cli_error("unknown argument %s", argv[i]);
			fputs(REEMBED_USAGE, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	/* A thumbnail's face is about 80 px: recognisable by the size policy; keep every face the models can take. */
	options.min_face = 1;
	store *db = NULL;
	nn_pool *pool = NULL;
	face_analyzer *a = NULL;
	mien_error err = { 0 };
	reembed_report r = { 0 };
	int rc = store_open(cfg->db, 1, &db, &err);
	if (rc == MIEN_OK)
		rc = store_migrate(db, NULL, &err);
	if (rc == MIEN_OK)
		rc = nn_pool_create((size_t)cfg->threads, &pool, &err);
	if (rc == MIEN_OK)
		rc = face_analyzer_create(&options, cfg->models, pool, &a, &err);
	if (rc == MIEN_OK)
		rc = reembed_all(db, a, 1, NULL, &r, &err);
	const char *model = a ? face_analyzer_embedder(a) : face_embedder_name(&options);
	if (rc == MIEN_OK && json)
		printf("{\"embedder\":\"%s\",\"already\":%lld,\"reembedded\":%lld,\"failed\":%lld}\n", model,
		       (long long)r.already, (long long)r.done, (long long)r.failed);
	else if (rc == MIEN_OK)
		printf("%s: %lld faces already, %lld embedded again, %lld failed (kept as they were)\n", model,
		       (long long)r.already, (long long)r.done, (long long)r.failed);
	face_analyzer_free(&a);
	nn_pool_destroy(&pool);
	store_close(&db);
	if (rc) {
		cli_error("%s", err.message);
		return CLI_EXIT_FAIL;
	}
	return r.failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
