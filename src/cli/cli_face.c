/*
 * cli_face.c — `mien analyze`, `compare`, `enroll`, `identify`, `cluster`: the face pipeline on picture files.
 *
 * Each picture is decoded, analysed and printed on its own; a bad picture is reported on stderr and the
 * others still go through (the exit code is then 1). Identities come from the database (MIEN_DB): `enroll`
 * writes people and faces there, and `analyze`/`identify` search an in-memory gallery filled from it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "face/cluster.h"
#include "face/face.h"
#include "http/http.h"
#include "store/gallery.h"
#include "store/store.h"

#define MAX_FACES 256

typedef struct face_cli {
	face_options options;
	int json, embeddings, face_crop;
	long face;           /* enroll --face N: the #N of the face to enrol, from 1 (0: the picture's only face) */
	int takes_threshold; /* cluster: --threshold T is an option */
	float threshold;     /* cluster --threshold, NAN = the embedder's unknown-visitor threshold */
	face_analyzer *analyzer;
	nn_pool *pool;
	face_result *faces;
} face_cli;

/* Who is enrolled: the database and a gallery over its embeddings of the analyzer's embedder. */
typedef struct identities {
	store *db;
	gallery *index;
} identities;

/*
 * Opens the database of `cfg` (migrating it) and loads the gallery for `model`/`dim`. With `create` unset, an
 * SQLite file that does not exist yet is not created: there is simply nobody enrolled (returns MIEN_ENOENT).
 */
static int open_identities(const mien_config *cfg, int create, const char *model, int dim, identities *id,
                           mien_error *err)
{
	memset(id, 0, sizeof(*id));
	if (!create && strncmp(cfg->db, "sqlite:", 7) == 0 && access(cfg->db + 7, F_OK) != 0)
		return mien_error_set(err, MIEN_ENOENT, "no database at %s: enroll people first", cfg->db + 7);
	int rc = store_open(cfg->db, 1, &id->db, err);
	if (rc == MIEN_OK)
		rc = store_migrate(id->db, NULL, err);
	if (rc == MIEN_OK && model)
		rc = store_gallery_load(id->db, STORE_GALLERY_FACES, model, dim, GALLERY_FLOAT32, &id->index, err);
	if (rc) {
		store_close(&id->db);
		gallery_free(&id->index);
	}
	return rc;
}

static void close_identities(identities *id)
{
	gallery_free(&id->index);
	store_close(&id->db);
}

static int open_cli(face_cli *c, const mien_config *cfg)
{
	mien_error err = { 0 };
	c->faces = calloc(MAX_FACES, sizeof(face_result));
	if (!c->faces) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	if (nn_pool_create((size_t)cfg->threads, &c->pool, &err) ||
	    face_analyzer_create(&c->options, cfg->models, c->pool, &c->analyzer, &err)) {
		cli_error("%s", err.message);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static void close_cli(face_cli *c)
{
	face_analyzer_free(&c->analyzer);
	nn_pool_destroy(&c->pool);
	free(c->faces);
	c->faces = NULL;
}

/* Parses the options the face commands share; leaves positional arguments in place (argv[*first..]). */
static int parse_common(face_cli *c, int argc, char **argv, const char *usage, const char **name, int *positional,
                        int max_positional)
{
	const char *value;
	int n = 0;
	face_options_default(&c->options);
	for (int i = 1; i < argc; i++) {
		int m;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return -1;
		} else if (strcmp(argv[i], "--json") == 0) {
			c->json = 1;
		} else if (strcmp(argv[i], "--embeddings") == 0) {
			c->embeddings = 1;
		} else if (strcmp(argv[i], "--face-crop") == 0) {
			c->face_crop = 1;
		} else if (strcmp(argv[i], "--liveness") == 0) {
			c->options.liveness = 1;
		} else if ((m = cli_option(argc, argv, &i, "--detector", &value)) != 0) {
			if (m < 0)
				return -2;
			c->options.detector = value;
		} else if ((m = cli_option(argc, argv, &i, "--embedder", &value)) != 0) {
			if (m < 0)
				return -2;
			c->options.embedder = value;
		} else if ((m = cli_option(argc, argv, &i, "--expression", &value)) != 0) {
			if (m < 0)
				return -2;
			c->options.expression = value;
		} else if (name && (m = cli_option(argc, argv, &i, "--name", &value)) != 0) {
			if (m < 0)
				return -2;
			*name = value;
		} else if (c->takes_threshold && (m = cli_option(argc, argv, &i, "--threshold", &value)) != 0) {
			char *end = NULL;
			c->threshold = m < 0 ? NAN : strtof(value, &end);
			if (m < 0 || end == value || *end || !(c->threshold >= -1 && c->threshold <= 1)) {
				cli_error("--threshold takes a cosine similarity between -1 and 1");
				return -2;
			}
		} else if (name && (m = cli_option(argc, argv, &i, "--face", &value)) != 0) {
			if (m < 0 || cli_parse_int(value, 1, 64, &c->face) != 0) {
				cli_error("--face takes the number (1 to 64) of a face, the #N `mien analyze` prints");
				return -2;
			}
		} else if (argv[i][0] == '-' && argv[i][1]) {
			cli_error("unknown option %s", argv[i]);
			fputs(usage, stderr);
			return -2;
		} else {
			if (n == max_positional) {
				cli_error("too many arguments");
				return -2;
			}
			positional[n++] = i;
		}
	}
	return n;
}

/* parse_common for a command that takes one or more pictures: -1 to go on (*n pictures at pos), else the exit
 * code to return at once (after --help, or a usage error). */
static int parse_pictures(face_cli *c, int argc, char **argv, const char *usage, int *pos, int max, int *n)
{
	*n = parse_common(c, argc, argv, usage, NULL, pos, max);
	if (*n == -1)
		return CLI_EXIT_OK;
	if (*n < 0)
		return CLI_EXIT_USAGE;
	if (*n == 0) {
		fputs(usage, stderr);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* Analyses one picture file into c->faces; returns the number of faces or -1 (message printed). */
static int analyze_file(face_cli *c, const char *path, face_image **image)
{
	mien_error err = { 0 };
	size_t count = 0;
	*image = NULL;
	if (face_image_load(path, 0, image, &err)) {
		cli_error("%s", err.message); /* the message names the file */
		return -1;
	}
	if (c->face_crop) {
		if (face_analyze_crop(c->analyzer, *image, &c->faces[0], &err)) {
			cli_error("%s: %s", path, err.message);
			return -1;
		}
		return 1;
	}
	if (face_analyze(c->analyzer, *image, c->faces, MAX_FACES, &count, &err)) {
		cli_error("%s: %s", path, err.message);
		return -1;
	}
	return (int)(count < MAX_FACES ? count : MAX_FACES);
}

/* The enrolled person the face is, by the gallery's best match over the default threshold: 1 and *person,
 * *similarity; 0 when nobody (or no gallery). */
static int face_identity(const identities *id, const face_result *f, store_person *person, float *similarity)
{
	if (!id || !id->index || !f->embedding_model)
		return 0;
	gallery_hit best;
	mien_error err = { 0 };
	if (gallery_identify(id->index, f->embedding, f->embedding_dim, f->embedding_model,
	                     face_default_threshold(f->embedding_model), &best, &err) != MIEN_OK ||
	    !best.person_id || store_person_get(id->db, best.person_id, person, &err) != MIEN_OK)
		return 0;
	*similarity = best.similarity;
	return 1;
}

static json_t *face_json(const face_cli *c, const face_result *f, const identities *id)
{
	json_t *o = http_face_json(f, 1);
	if (f->has_liveness)
		json_object_set_new(o, "liveness", json_real(f->liveness));
	store_person person;
	float similarity;
	json_object_set_new(o, "identity",
	                    face_identity(id, f, &person, &similarity)
	                            ? json_pack("{s:I,s:s,s:f}", "person_id", (json_int_t)person.id, "name",
	                                        person.name, "similarity", (double)similarity)
	                            : json_null());
	if (c->embeddings && f->embedding_model) {
		json_t *v = json_array();
		for (int i = 0; i < f->embedding_dim; i++)
			json_array_append_new(v, json_real(f->embedding[i]));
		json_object_set_new(o, "embedding", v);
		json_object_set_new(o, "embedding_model", json_string(f->embedding_model));
	}
	return o;
}

static void print_text(const char *path, const face_image *img, const face_result *faces, int n, const identities *id)
{
	printf("%s: %dx%d, %d face%s\n", path, img->width, img->height, n, n == 1 ? "" : "s");
	for (int i = 0; i < n; i++) {
		const face_result *f = &faces[i];
		printf("  #%d box %.0f,%.0f %.0fx%.0f score %.2f quality %.2f", i + 1, f->box[0], f->box[1], f->box[2],
		       f->box[3], f->score, f->quality);
		if (f->has_expression)
			printf(" %s %.2f", face_expression_names[face_dominant_expression(f)],
			       f->expression[face_dominant_expression(f)]);
		if (f->has_liveness)
			printf(" liveness %.2f", f->liveness);
		if (!f->recognisable)
			printf(" (too small to recognise)");
		store_person person;
		float similarity;
		if (face_identity(id, f, &person, &similarity))
			printf(" -> %s (person %lld, similarity %.3f)", person.name, (long long)person.id, similarity);
		else if (id && id->index && f->embedding_model)
			printf(" -> unknown");
		printf("\n");
	}
}

static const char ANALYZE_USAGE[] =
        "usage: mien analyze [--json] [--embeddings] [--face-crop] [--liveness] [--detector D] [--embedder E]\n"
        "                    [--expression X] IMG...\n"
        "  One result per picture: faces with box, landmarks, quality, expression, and identity when people are\n"
        "  enrolled in the database (MIEN_DB). --face-crop treats each picture as one face crop.\n";

static const char IDENTIFY_USAGE[] =
        "usage: mien identify [--json] [--embeddings] [--detector D] [--embedder E] [--expression X] IMG...\n"
        "  Who is in each picture: every face found, with the enrolled person it matches best over the\n"
        "  threshold (or unknown), from the people enrolled in the database (MIEN_DB; `mien enroll`).\n"
        "  Text by default, one JSON object per picture with --json.\n";

static int analyze_or_identify(int argc, char **argv, const mien_config *cfg, int identify)
{
	face_cli c = { 0 };
	int pos[4096];
	int n, done = parse_pictures(&c, argc, argv, identify ? IDENTIFY_USAGE : ANALYZE_USAGE, pos, 4096, &n);
	if (done >= 0)
		return done;
	int rc = open_cli(&c, cfg);
	identities id = { 0 };
	mien_error err = { 0 };
	if (rc == CLI_EXIT_OK && c.options.embeddings &&
	    open_identities(cfg, 0, face_analyzer_embedder(c.analyzer), face_analyzer_embedding_dim(c.analyzer), &id,
	                    &err)) {
		if (identify || err.code != MIEN_ENOENT) {
			cli_error("%s", err.message);
			rc = CLI_EXIT_FAIL;
		}
	}
	for (int k = 0; rc != CLI_EXIT_USAGE && k < n && c.analyzer; k++) {
		const char *path = argv[pos[k]];
		face_image *img = NULL;
		int faces = analyze_file(&c, path, &img);
		if (faces < 0) {
			rc = CLI_EXIT_FAIL;
			face_image_free(&img);
			continue;
		}
		if (c.json) {
			json_t *o =
			        json_pack("{s:s,s:i,s:i}", "image", path, "width", img->width, "height", img->height);
			json_t *arr = json_array();
			for (int i = 0; i < faces; i++)
				json_array_append_new(arr, face_json(&c, &c.faces[i], &id));
			json_object_set_new(o, "faces", arr);
			char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
			if (text)
				puts(text);
			free(text);
			json_decref(o);
		} else {
			print_text(path, img, c.faces, faces, &id);
		}
		face_image_free(&img);
	}
	close_identities(&id);
	close_cli(&c);
	return rc;
}

int cli_analyze_main(int argc, char **argv, const mien_config *cfg)
{
	return analyze_or_identify(argc, argv, cfg, 0);
}

int cli_identify_main(int argc, char **argv, const mien_config *cfg)
{
	return analyze_or_identify(argc, argv, cfg, 1);
}

/* The face with the largest box, or -1. */
static int largest(const face_result *faces, int n)
{
	int best = -1;
	for (int i = 0; i < n; i++)
		if (best < 0 || faces[i].box[2] * faces[i].box[3] > faces[best].box[2] * faces[best].box[3])
			best = i;
	return best;
}

static const char COMPARE_USAGE[] =
        "usage: mien compare [--face-crop] [--embedder E] IMG_A IMG_B\n"
        "  Compares the largest face of each picture: {\"similarity\":s,\"same_person\":bool,\"threshold\":t}\n";

int cli_compare_main(int argc, char **argv, const mien_config *cfg)
{
	face_cli c = { 0 };
	int pos[2];
	int n = parse_common(&c, argc, argv, COMPARE_USAGE, NULL, pos, 2);
	if (n == -1)
		return CLI_EXIT_OK;
	if (n != 2) {
		fputs(COMPARE_USAGE, stderr);
		return CLI_EXIT_USAGE;
	}
	c.options.expressions = 0;
	int rc = open_cli(&c, cfg);
	face_result *pair = calloc(2, sizeof(face_result));
	for (int k = 0; rc == CLI_EXIT_OK && k < 2; k++) {
		face_image *img = NULL;
		int faces = analyze_file(&c, argv[pos[k]], &img);
		face_image_free(&img);
		int best = faces > 0 ? largest(c.faces, faces) : -1;
		if (faces < 0) {
			rc = CLI_EXIT_FAIL;
		} else if (best < 0) {
			cli_error("%s: no face found", argv[pos[k]]);
			rc = CLI_EXIT_FAIL;
		} else if (!c.faces[best].embedding_model) {
			cli_error("%s: the face is too small to recognise (%.0f px tall, at least %d needed)",
			          argv[pos[k]], c.faces[best].box[3], c.options.min_face);
			rc = CLI_EXIT_FAIL;
		} else {
			pair[k] = c.faces[best];
		}
	}
	if (rc == CLI_EXIT_OK) {
		float s;
		mien_error err = { 0 };
		if (face_similarity(&pair[0], &pair[1], &s, &err)) {
			cli_error("%s", err.message);
			rc = CLI_EXIT_FAIL;
		} else {
			float t = face_default_threshold(pair[0].embedding_model);
			printf("{\"similarity\":%.6f,\"same_person\":%s,\"threshold\":%.4f,\"model\":\"%s\"}\n", s,
			       s >= t ? "true" : "false", t, pair[0].embedding_model);
		}
	}
	free(pair);
	close_cli(&c);
	return rc;
}

static const char ENROLL_USAGE[] =
        "usage: mien enroll --name NAME [--face N] [--face-crop] IMG...\n"
        "  Enrolls the one face of each picture for the person NAME (created when new) in the database (MIEN_DB)\n"
        "  and prints a verdict per picture: enrolled, no_face, several_faces, no_such_face, too_small or\n"
        "  unreadable. --face N enrolls face #N of a group photo, numbered as `mien analyze` prints them (from 1).\n";

/*
 * Enrolls the face of one analysed picture for the person called `name`, creating the person at their first
 * accepted picture (a refused picture creates nobody); returns the verdict name, with *failed set when the
 * database failed.
 */
static const char *enroll_one(face_cli *c, const identities *id, const char *name, store_person *person,
                              const face_image *img, int faces, int *failed)
{
	if (faces < 0)
		return "unreadable";
	const face_result *f = &c->faces[0];
	if (c->face && faces > 0) {
		if (c->face > faces)
			return "no_such_face";
		f = &c->faces[c->face - 1];
		faces = 1; /* the one chosen */
	}
	int verdict = face_enroll_verdict(f, (size_t)faces);
	if (verdict != FACE_ENROLL_OK)
		return face_enroll_verdict_name(verdict);
	mien_error err = { 0 };
	uint8_t *thumb = NULL;
	size_t thumb_len = 0;
	int64_t face_id = 0;
	int rc = MIEN_OK;
	if (!person->id && (rc = store_person_get_by_name(id->db, name, person, &err)) == MIEN_ENOENT) {
		memset(person, 0, sizeof(*person));
		snprintf(person->name, sizeof(person->name), "%s", name);
		rc = strlen(name) < sizeof(person->name) ? store_person_create(id->db, person, &err)
		                                         : mien_error_set(&err, MIEN_ERANGE, "the name is too long");
	}
	if (rc == MIEN_OK)
		rc = face_thumbnail(img, f, 160, &thumb, &thumb_len, &err);
	if (rc == MIEN_OK)
		rc = store_face_add(id->db, person->id, f->embedding_model, f->embedding, f->embedding_dim, f->quality,
		                    thumb, thumb_len, &face_id, &err);
	free(thumb);
	if (rc) {
		cli_error("%s", err.message);
		*failed = 1;
		return "failed";
	}
	return face_enroll_verdict_name(FACE_ENROLL_OK);
}

int cli_enroll_main(int argc, char **argv, const mien_config *cfg)
{
	face_cli c = { 0 };
	const char *name = NULL;
	int pos[1024];
	int n = parse_common(&c, argc, argv, ENROLL_USAGE, &name, pos, 1024);
	if (n == -1)
		return CLI_EXIT_OK;
	if (n <= 0 || !name) {
		fputs(ENROLL_USAGE, stderr);
		return CLI_EXIT_USAGE;
	}
	c.options.expressions = 0;
	int rc = open_cli(&c, cfg);
	identities id = { 0 };
	mien_error err = { 0 };
	store_person person = { 0 };
	if (rc == CLI_EXIT_OK && open_identities(cfg, 1, NULL, 0, &id, &err)) {
		cli_error("%s", err.message);
		rc = CLI_EXIT_FAIL;
	}
	int refused = 0;
	for (int k = 0; rc == CLI_EXIT_OK && k < n; k++) {
		const char *path = argv[pos[k]];
		face_image *img = NULL;
		int faces = analyze_file(&c, path, &img);
		int failed = 0;
		const char *verdict = enroll_one(&c, &id, name, &person, img, faces, &failed);
		face_image_free(&img);
		json_t *line = json_pack("{s:s,s:s,s:i,s:o,s:s}", "image", path, "verdict", verdict, "faces",
		                         faces < 0 ? 0 : faces, "person_id",
		                         person.id ? json_integer(person.id) : json_null(), "name", name);
		char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
		if (text)
			puts(text);
		free(text);
		json_decref(line);
		if (failed)
			rc = CLI_EXIT_FAIL; /* the database failed: stop */
		else if (strcmp(verdict, "enrolled") != 0)
			refused = 1; /* this picture only: go on with the others */
	}
	if (rc == CLI_EXIT_OK && refused)
		rc = CLI_EXIT_FAIL;
	close_identities(&id);
	close_cli(&c);
	return rc;
}

/* --- mien cluster ------------------------------------------------------------------------------------- */

#define CLUSTER_FACES_MAX 100000 /* the offline grouping is O(faces²): beyond this, hours */

static const char CLUSTER_USAGE[] =
        "usage: mien cluster [--json] [--threshold T] [--detector D] [--embedder E] IMG...\n"
        "  Groups every face of the pictures by identity (average linkage at the embedder's unknown-visitor\n"
        "  threshold, or T) and prints one line per face, pictures in the order given and faces as `mien analyze`\n"
        "  numbers them: `IMG  #N  x,y,w,h  cluster K`, or with --json {\"image\",\"box\",\"cluster\"}. Clusters are\n"
        "  numbered 1, 2, ... in order of their first face; a face too small to recognise has none (-, null).\n";

/* One face found: where it is, and its row in the embeddings (-1: too small to recognise). */
typedef struct found_face {
	int image;  /* index into the positional arguments */
	int number; /* #N, from 1 */
	float box[4];
	long row;
} found_face;

static int grow_faces(found_face **faces, float **embeddings, size_t *cap, size_t need, int dim)
{
	if (need <= *cap)
		return 0;
	size_t cap2 = *cap ? *cap * 2 : 256;
	while (cap2 < need)
		cap2 *= 2;
	found_face *f = realloc(*faces, cap2 * sizeof(*f));
	if (!f)
		return -1;
	*faces = f;
	float *e = realloc(*embeddings, cap2 * (size_t)dim * sizeof(*e));
	if (!e)
		return -1;
	*embeddings = e;
	*cap = cap2;
	return 0;
}

int cli_cluster_main(int argc, char **argv, const mien_config *cfg)
{
	face_cli c = { .takes_threshold = 1, .threshold = NAN };
	int pos[4096];
	int n, done = parse_pictures(&c, argc, argv, CLUSTER_USAGE, pos, 4096, &n);
	if (done >= 0)
		return done;
	c.options.expressions = 0;
	int rc = open_cli(&c, cfg);
	found_face *faces = NULL;
	float *embeddings = NULL;
	int *labels = NULL;
	size_t count = 0, cap = 0, rows = 0;
	int dim = c.analyzer ? face_analyzer_embedding_dim(c.analyzer) : 0;
	for (int k = 0; rc != CLI_EXIT_USAGE && k < n && c.analyzer; k++) {
		face_image *img = NULL;
		int found = analyze_file(&c, argv[pos[k]], &img);
		face_image_free(&img);
		if (found < 0) {
			rc = CLI_EXIT_FAIL; /* said on stderr; the other pictures are still grouped */
			continue;
		}
		if (count + (size_t)found > CLUSTER_FACES_MAX) {
			cli_error("more than %d faces: group fewer pictures at a time", CLUSTER_FACES_MAX);
			rc = CLI_EXIT_FAIL;
			goto done;
		}
		if (grow_faces(&faces, &embeddings, &cap, count + (size_t)found, dim)) {
			cli_error("out of memory");
			rc = CLI_EXIT_FAIL;
			goto done;
		}
		for (int i = 0; i < found; i++) {
			const face_result *f = &c.faces[i];
			found_face *ff = &faces[count++];
			*ff = (found_face){ .image = k, .number = i + 1, .row = -1 };
			memcpy(ff->box, f->box, sizeof(ff->box));
			if (f->embedding_model && f->embedding_dim == dim) {
				memcpy(embeddings + rows * (size_t)dim, f->embedding, (size_t)dim * sizeof(float));
				ff->row = (long)rows++;
			}
		}
	}
	if (!c.analyzer)
		goto done;
	const char *model = face_analyzer_embedder(c.analyzer);
	float threshold = isnan(c.threshold) ? face_cluster_default_threshold(model) : c.threshold;
	mien_error err = { 0 };
	labels = malloc((rows ? rows : 1) * sizeof(*labels));
	if (!labels || face_cluster_run(embeddings, rows, dim, threshold, labels, &err)) {
		cli_error("%s", labels ? err.message : "out of memory");
		rc = CLI_EXIT_FAIL;
		goto done;
	}
	for (size_t i = 0; i < count; i++) {
		const found_face *f = &faces[i];
		const char *image = argv[pos[f->image]];
		if (c.json) {
			json_t *o = json_pack("{s:s,s:[f,f,f,f],s:o}", "image", image, "box", (double)f->box[0],
			                      (double)f->box[1], (double)f->box[2], (double)f->box[3], "cluster",
			                      f->row >= 0 ? json_integer(labels[f->row]) : json_null());
			char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
			if (text)
				puts(text);
			free(text);
			json_decref(o);
		} else if (f->row >= 0) {
			printf("%s  #%d  %.0f,%.0f,%.0f,%.0f  cluster %d\n", image, f->number, f->box[0], f->box[1],
			       f->box[2], f->box[3], labels[f->row]);
		} else {
			printf("%s  #%d  %.0f,%.0f,%.0f,%.0f  cluster -  (too small to recognise)\n", image, f->number,
			       f->box[0], f->box[1], f->box[2], f->box[3]);
		}
	}
done:
	free(labels);
	free(embeddings);
	free(faces);
	close_cli(&c);
	return rc;
}
