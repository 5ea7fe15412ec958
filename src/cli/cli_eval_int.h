/*
 * cli_eval_int.h — what the `mien eval` files share: cli_eval.c (identity, expression, detect, and the
 * command line) and cli_eval_cluster.c (cluster, negatives).
 *
 * A labelled identity set is DIR/<person>/<picture>; cli__identity_set_load embeds one face per picture (the
 * largest found, else the whole picture as the face) for the people of the split asked for.
 */
#ifndef MIEN_CLI_CLI_EVAL_INT_H
#define MIEN_CLI_CLI_EVAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli.h"
#include "face/face.h"

#define EVAL_FACES 256

/* Which people of a set an evaluation reads (--split): all of them, or one of two fixed halves. The halves:
 * the people (folder names) sorted by the FNV-1a 32-bit hash of their name (ties by name); the first
 * ceil(n / 2) are the tuning half, the others the held-out half. The same folder always lands in the same half
 * of the same set, and neither half depends on the pictures. */
enum { EVAL_SPLIT_ALL, EVAL_SPLIT_TUNE, EVAL_SPLIT_HELD };

typedef struct eval_ctx {
	const mien_config *cfg;
	face_options options;
	face_analyzer *analyzer;
	nn_pool *pool;
	face_result *faces; /* EVAL_FACES */
	long limit;         /* pictures per folder, 0 = all */
	int face_crop;      /* identity: every picture is one face crop, no detection */
	long face_px;       /* identity: pictures scaled down so that their face is about this tall (0: as they are) */
	int grey;           /* identity: pictures turned grey first */
	int split;          /* EVAL_SPLIT_* */
	float threshold;    /* cluster, negatives: --threshold, or NAN for the embedder's default */
	int sweep;          /* cluster: --sweep */
} eval_ctx;

typedef struct name_list {
	char **names;
	size_t n;
} name_list;

/* Sorted entries of `dir` that are directories (want_dirs) or picture files (.jpg, .jpeg, .png). 0 or -1. */
int cli__list_dir(const char *dir, int want_dirs, name_list *out);
void cli__free_list(name_list *list);

/* A progress bar on stderr when it is a terminal. */
void cli__progress(const char *what, size_t done, size_t total);
/* Prints `o` indented to stdout (o is borrowed). */
void cli__print_json(json_t *o);

typedef struct sample {
	int person; /* index into the set's people */
	char file[256];
	int ok;       /* has an embedding */
	int detected; /* found by detection (else the whole picture was used as the face) */
	float quality;
	float *embedding; /* L2-normalised; the set's dim values */
} sample;

typedef struct identity_set {
	name_list people; /* every <person> folder, sorted by name */
	char *half;       /* people.n: EVAL_SPLIT_TUNE or EVAL_SPLIT_HELD, the half each person is in */
	int people_used;  /* people in the split asked for */
	sample *samples;  /* the pictures of the people in the split, by person then by file name */
	size_t total;
	float *store; /* the embeddings (FACE_EMBEDDING_MAX each) */
	int dim;
	int failed; /* pictures without an embedding */
	int crops;  /* pictures embedded whole (no face found) */
} identity_set;

/* Lists DIR's people and pictures (c->split, c->limit) and embeds one face per picture: `what` names the
 * progress bar. CLI_EXIT_OK, or CLI_EXIT_FAIL with the message printed. Free with cli__identity_set_free. */
int cli__identity_set_load(eval_ctx *c, const char *dir, const char *what, identity_set *set);
void cli__identity_set_free(identity_set *set);

/* The split's name ("all", "tune", "held"). */
const char *cli__split_name(int split);

/* The FNV-1a 32-bit hash of a text: the splits' fixed, portable shuffle. */
uint32_t cli__fnv1a(const char *text);

/* Cosine of two L2-normalised embeddings (accumulated in double). */
float cli__dot(const float *a, const float *b, int n);

/* `mien eval cluster DIR` and `mien eval negatives DIR` (cli_eval_cluster.c). */
int cli__eval_cluster(eval_ctx *c, const char *dir);
int cli__eval_negatives(eval_ctx *c, const char *dir);

#endif
