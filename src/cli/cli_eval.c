/*
 * cli_eval.c — `mien eval identity|expression|detect DIR`: accuracy on labelled folders, a progress bar on a
 * terminal (stderr), and one JSON summary on stdout at the end; the command line of every `mien eval` mode
 * (cluster and negatives are in cli_eval_cluster.c, the reading of labelled folders in cli_eval_set.c).
 *
 * The metrics are defined the same way as bench/peer/faceapi_eval.mjs computes them for face-api, so the two
 * can stand side by side in docs/accuracy.md.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli_eval_int.h"

/* ---- detect */

/* Splits one CSV line (RFC 4180 quotes) into at most max fields, in place. */
static int csv_fields(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;
	while (*p && n < max) {
		if (*p == '"') {
			char *w = ++p;
			fields[n++] = w;
			while (*p) {
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*w++ = *p++;
				}
			}
			*w = '\0';
			while (*p && *p != ',')
				p++;
		} else {
			fields[n++] = p;
			while (*p && *p != ',' && *p != '\n' && *p != '\r')
				p++;
		}
		if (*p == ',') {
			*p++ = '\0';
		} else {
			*p = '\0';
			break;
		}
	}
	return n;
}

static int eval_detect(eval_ctx *c, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/face_counts.csv", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		cli_error("%s: no face_counts.csv (file,faces)", dir);
		return CLI_EXIT_FAIL;
	}
	json_t *images = json_array();
	char line[8192];
	long counted_total = 0, found_matched = 0, false_total = 0, missed_total = 0;
	size_t n_images = 0, rows = 0;
	double ms_total = 0;
	double *times = calloc(4096, sizeof(double));
	int first = 1, rc = CLI_EXIT_OK;
	/* count rows for the progress bar */
	while (fgets(line, sizeof(line), f))
		rows++;
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		char *fields[8];
		int nf = csv_fields(line, fields, 8);
		if (first) {
			first = 0;
			if (nf >= 2 && strcmp(fields[1], "faces") == 0)
				continue;
		}
		if (nf < 2 || !*fields[0])
			continue;
		long counted;
		if (cli_parse_int(fields[1], 0, 100000, &counted)) {
			cli_error("%s: bad face count '%s' for %s", path, fields[1], fields[0]);
			continue;
		}
		char img_path[4096];
		snprintf(img_path, sizeof(img_path), "%s/%s", dir, fields[0]);
		face_image *img = NULL;
		mien_error err = { 0 };
		size_t found = 0;
		double t0 = cli_now_ms();
		if (face_image_load(img_path, 0, &img, &err) ||
		    face_analyze(c->analyzer, img, c->faces, EVAL_FACES, &found, &err)) {
			cli_error("%s: %s", img_path, err.message);
			face_image_free(&img);
			rc = CLI_EXIT_FAIL;
			continue;
		}
		double ms = cli_now_ms() - t0;
		if (n_images < 4096)
			times[n_images] = ms;
		ms_total += ms;
		long matched = (long)found < counted ? (long)found : counted;
		long extra = (long)found > counted ? (long)found - counted : 0;
		counted_total += counted;
		found_matched += matched;
		false_total += extra;
		missed_total += counted - matched;
		json_array_append_new(images, json_pack("{s:s,s:i,s:i,s:f,s:i,s:i}", "file", fields[0], "counted",
		                                        (int)counted, "found", (int)found, "ms", ms, "width",
		                                        img->width, "height", img->height));
		face_image_free(&img);
		n_images++;
		cli__progress("detect", n_images, rows > 0 ? rows - 1 : 0);
	}
	fclose(f);
	size_t nt = n_images < 4096 ? n_images : 4096;
	/* median: insertion sort (a few hundred images at most here) */
	for (size_t i = 1; i < nt; i++) {
		double v = times[i];
		size_t j = i;
		while (j > 0 && times[j - 1] > v) {
			times[j] = times[j - 1];
			j--;
		}
		times[j] = v;
	}
	double median = nt ? (nt % 2 ? times[nt / 2] : (times[nt / 2 - 1] + times[nt / 2]) / 2) : 0;
	free(times);
	json_t *o =
	        json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:f,s:f,s:f,s:o}", "mode", "detect", "dataset", dir, "detector",
	                  face_analyzer_detector(c->analyzer), "images", (int)n_images, "counted", (int)counted_total,
	                  "found_matched", (int)found_matched, "false_detections", (int)false_total, "recall",
	                  counted_total ? (double)found_matched / (double)counted_total : 0.0, "false_per_10",
	                  n_images ? 10.0 * (double)false_total / (double)n_images : 0.0, "median_ms", median,
	                  "images_detail", images);
	(void)missed_total;
	(void)ms_total;
	cli__print_json(o);
	json_decref(o);
	return rc;
}

/* ---- identity */

typedef struct pair_score {
	float s;
	int same;
} pair_score;

static int by_score_desc(const void *a, const void *b)
{
	float x = ((const pair_score *)a)->s, y = ((const pair_score *)b)->s;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Best-threshold accuracy over scored pairs (sorted by score, descending), and the threshold. */
static double best_accuracy(const pair_score *p, size_t n, float *threshold)
{
	size_t same = 0;
	for (size_t i = 0; i < n; i++)
		same += (size_t)p[i].same;
	/* accept the top k: correct = same among top k + different below */
	size_t same_above = 0, best_correct = n - same;
	*threshold = n ? p[0].s + 1e-6f : 1;
	for (size_t k = 1; k <= n; k++) {
		same_above += (size_t)p[k - 1].same;
		size_t correct = same_above + ((n - k) - (same - same_above));
		if (correct > best_correct && (k == n || p[k].s < p[k - 1].s)) {
			best_correct = correct;
			*threshold = k < n ? (p[k - 1].s + p[k].s) / 2 : p[k - 1].s - 1e-6f;
		}
	}
	return n ? (double)best_correct / (double)n : 0;
}

/* Best-threshold balanced accuracy, (TAR + TRR) / 2: what a 50/50 pair protocol such as LFW's measures, and
 * not dominated by the many more different-person pairs of an all-pairs evaluation. */
static double best_balanced_accuracy(const pair_score *p, size_t n)
{
	size_t same = 0;
	for (size_t i = 0; i < n; i++)
		same += (size_t)p[i].same;
	size_t diff = n - same, same_above = 0, diff_above = 0;
	double best = 0.5;
	for (size_t k = 1; k <= n; k++) {
		same_above += (size_t)p[k - 1].same;
		diff_above += (size_t)!p[k - 1].same;
		if (k < n && p[k].s == p[k - 1].s)
			continue;
		double tar = same ? (double)same_above / (double)same : 0;
		double trr = diff ? (double)(diff - diff_above) / (double)diff : 0;
		if ((tar + trr) / 2 > best)
			best = (tar + trr) / 2;
	}
	return best;
}

static double accuracy_at(const pair_score *p, size_t n, float t)
{
	size_t correct = 0;
	for (size_t i = 0; i < n; i++)
		correct += (size_t)((p[i].s >= t) == p[i].same);
	return n ? (double)correct / (double)n : 0;
}

/* The lowest threshold at which at most far·different pairs are accepted (pairs sorted by score, descending). */
static float threshold_at_far(const pair_score *p, size_t n, double far)
{
	size_t diff = 0;
	for (size_t i = 0; i < n; i++)
		diff += (size_t)!p[i].same;
	size_t allowed = (size_t)floor(far * (double)diff), seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (!p[i].same && ++seen > allowed)
			return p[i].s + 1e-6f; /* just above the first different pair that must be refused */
	}
	return n ? p[n - 1].s : 1;
}

/* False-accept and false-reject rates at threshold t. */
static void rates_at(const pair_score *p, size_t n, float t, double *far, double *frr)
{
	size_t same = 0, diff = 0, fa = 0, fr = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i].same) {
			same++;
			fr += (size_t)(p[i].s < t);
		} else {
			diff++;
			fa += (size_t)(p[i].s >= t);
		}
	}
	*far = diff ? (double)fa / (double)diff : 0;
	*frr = same ? (double)fr / (double)same : 0;
}

/* True-accept rate at a false-accept rate: the threshold admits at most far·different pairs. */
static double tar_at_far(const pair_score *p, size_t n, double far)
{
	size_t diff = 0, same = 0;
	for (size_t i = 0; i < n; i++) {
		diff += (size_t)!p[i].same;
		same += (size_t)p[i].same;
	}
	size_t allowed = (size_t)floor(far * (double)diff), false_acc = 0, true_acc = 0, best = 0;
	for (size_t i = 0; i < n; i++) {
		if (!p[i].same) {
			false_acc++;
			if (false_acc > allowed)
				break;
		} else {
			true_acc++;
		}
		if (i + 1 == n || p[i + 1].s < p[i].s)
			best = true_acc; /* only cut between distinct scores */
	}
	return same ? (double)best / (double)same : 0;
}

static json_t *pair_metrics(pair_score *p, size_t n, float default_t)
{
	qsort(p, n, sizeof(*p), by_score_desc);
	size_t same = 0;
	for (size_t i = 0; i < n; i++)
		same += (size_t)p[i].same;
	float best_t;
	double best = best_accuracy(p, n, &best_t);
	double far, frr;
	rates_at(p, n, default_t, &far, &frr);
	json_t *o = json_pack("{s:i,s:i,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "pairs", (int)n, "same", (int)same,
	                      "different", (int)(n - same), "accuracy_best", best, "best_threshold", (double)best_t,
	                      "balanced_accuracy_best", best_balanced_accuracy(p, n), "accuracy_at_default",
	                      accuracy_at(p, n, default_t), "default_threshold", (double)default_t, "tar_at_far_0.1%",
	                      tar_at_far(p, n, 0.001), "tar_at_far_1%", tar_at_far(p, n, 0.01));
	json_object_set_new(o, "tar_at_far_0.01%", json_real(tar_at_far(p, n, 0.0001)));
	json_object_set_new(o, "far_at_default", json_real(far));
	json_object_set_new(o, "frr_at_default", json_real(frr));
	json_object_set_new(o, "threshold_at_far_0.1%", json_real(threshold_at_far(p, n, 0.001)));
	json_object_set_new(o, "threshold_at_far_0.01%", json_real(threshold_at_far(p, n, 0.0001)));
	return o;
}

/*
 * Templates: each person enrolled with their first `k` pictures, every later picture a query, scored against a
 * person by the best of their faces (max, what the gallery does), by the normalised mean of their embeddings, or by
 * the mean weighted by each face's quality (small or blurred faces count less). For each: rank-1 over the people,
 * and verification metrics over (query, person) pairs.
 */
enum { TEMPLATE_MAX, TEMPLATE_MEAN, TEMPLATE_QUALITY, TEMPLATES };

static json_t *template_metrics(const sample *samples, size_t total, int people, int dim, int k, float default_t)
{
	static const char *const names[TEMPLATES] = { "max", "mean", "quality_mean" };
	float *means = calloc((size_t)people * 2, (size_t)dim * sizeof(float));
	int *count = calloc((size_t)people, sizeof(int));
	char *gallery = calloc(total ? total : 1, 1);
	if (!means || !count || !gallery) {
		free(means);
		free(count);
		free(gallery);
		return json_null();
	}
	for (size_t i = 0; i < total; i++) {
		const sample *s = &samples[i];
		if (!s->ok || count[s->person] >= k)
			continue;
		gallery[i] = 1;
		count[s->person]++;
		float *m = means + (size_t)s->person * 2 * (size_t)dim, *q = m + dim;
		for (int d = 0; d < dim; d++) {
			m[d] += s->embedding[d];
			q[d] += s->embedding[d] * (s->quality > 0.01f ? s->quality : 0.01f);
		}
	}
	for (int p = 0; p < 2 * people; p++) {
		float *v = means + (size_t)p * (size_t)dim;
		double n = 0;
		for (int d = 0; d < dim; d++)
			n += (double)v[d] * v[d];
		for (int d = 0; d < dim && n > 0; d++)
			v[d] = (float)(v[d] / sqrt(n));
	}
	json_t *o = json_pack("{s:i}", "k", k);
	size_t cap = total * (size_t)people + 1;
	pair_score *pairs = malloc(cap * sizeof(pair_score));
	for (int t = 0; t < TEMPLATES && pairs; t++) {
		size_t n = 0, queries = 0, hits = 0;
		for (size_t i = 0; i < total; i++) {
			const sample *q = &samples[i];
			if (!q->ok || gallery[i] || count[q->person] < k)
				continue;
			float best = -2;
			int best_person = -1;
			for (int p = 0; p < people; p++) {
				if (count[p] < k)
					continue;
				float score = -2;
				if (t == TEMPLATE_MAX) {
					for (size_t g = 0; g < total; g++)
						if (gallery[g] && samples[g].person == p) {
							float s = cli__dot(q->embedding, samples[g].embedding, dim);
							score = s > score ? s : score;
						}
				} else {
					const float *m =
					        means + (size_t)p * 2 * (size_t)dim + (t == TEMPLATE_QUALITY ? dim : 0);
					score = cli__dot(q->embedding, m, dim);
				}
				pairs[n++] = (pair_score){ score, p == q->person };
				if (score > best) {
					best = score;
					best_person = p;
				}
			}
			queries++;
			hits += (size_t)(best_person == q->person);
		}
		json_t *m = pair_metrics(pairs, n, default_t);
		json_object_set_new(m, "rank1", json_real(queries ? (double)hits / (double)queries : 0));
		json_object_set_new(m, "queries", json_integer((json_int_t)queries));
		json_object_set_new(o, names[t], m);
	}
	free(pairs);
	free(means);
	free(count);
	free(gallery);
	return o;
}

static int eval_identity(eval_ctx *c, const char *dir)
{
	identity_set set;
	if (cli__identity_set_load(c, dir, "identity", &set))
		return CLI_EXIT_FAIL;
	name_list people = set.people;
	sample *samples = set.samples;
	size_t total = set.total;
	int dim = set.dim, failed = set.failed, crops = set.crops;
	const char *model = face_analyzer_embedder(c->analyzer);
	float t = face_default_threshold(model);
	/* all pairs */
	size_t n_pairs = 0;
	pair_score *pairs = malloc((total * (total - 1) / 2 + 1) * sizeof(pair_score));
	for (size_t i = 0; pairs && i < total; i++)
		for (size_t j = i + 1; j < total; j++)
			if (samples[i].ok && samples[j].ok)
				pairs[n_pairs++] =
				        (pair_score){ cli__dot(samples[i].embedding, samples[j].embedding, dim),
					              samples[i].person == samples[j].person };
	json_t *all = pair_metrics(pairs, n_pairs, t);
	/* rank-1: the first picture of each person enrolled, every other picture queried */
	size_t queries = 0, hits = 0;
	for (size_t q = 0; q < total; q++) {
		if (!samples[q].ok)
			continue;
		int first = 1;
		for (size_t k = 0; k < q; k++)
			if (samples[k].person == samples[q].person && samples[k].ok)
				first = 0;
		if (first)
			continue;
		float best = -2;
		int best_person = -1;
		for (size_t g = 0; g < total; g++) {
			if (!samples[g].ok || g == q)
				continue;
			int enrolled = 1;
			for (size_t k = 0; k < g; k++)
				if (samples[k].person == samples[g].person && samples[k].ok)
					enrolled = 0;
			if (!enrolled)
				continue;
			float s = cli__dot(samples[q].embedding, samples[g].embedding, dim);
			if (s > best) {
				best = s;
				best_person = samples[g].person;
			}
		}
		queries++;
		hits += (size_t)(best_person == samples[q].person);
	}
	json_t *templates = template_metrics(samples, total, (int)people.n, dim, 3, t);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:o,s:{s:i,s:i,s:f}}", "mode", "identity", "dataset",
	                      dir, "embedder", model, "detector", face_analyzer_detector(c->analyzer), "people",
	                      set.people_used, "images", (int)total, "no_embedding", failed, "whole_picture_as_face",
	                      crops, "all_pairs", all, "rank1", "queries", (int)queries, "hits", (int)hits, "accuracy",
	                      queries ? (double)hits / (double)queries : 0.0);
	json_object_set_new(o, "templates", templates);
	json_object_set_new(o, "split", json_string(cli__split_name(c->split)));
	/* the repository pair lists (deepface): file_x,file_y,Decision */
	name_list files;
	cli__list_dir(dir, 0, &files);
	DIR *d = opendir(dir);
	struct dirent *e;
	json_t *lists = json_object();
	while (d && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "repo_pairs_", 11) != 0 || !strstr(e->d_name, ".csv"))
			continue;
		char path[4096], line[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "r");
		size_t n = 0, missing = 0;
		pair_score *lp = malloc(65536 * sizeof(pair_score));
		while (f && lp && fgets(line, sizeof(line), f) && n < 65536) {
			char *fields[4];
			if (csv_fields(line, fields, 4) < 3 || strcmp(fields[0], "file_x") == 0)
				continue;
			/* lists name files by their path in the publisher's repository: match the base name */
			const char *fx = strrchr(fields[0], '/') ? strrchr(fields[0], '/') + 1 : fields[0];
			const char *fy = strrchr(fields[1], '/') ? strrchr(fields[1], '/') + 1 : fields[1];
			int a = -1, b = -1;
			for (size_t i = 0; i < total; i++) {
				if (strcmp(samples[i].file, fx) == 0)
					a = (int)i;
				if (strcmp(samples[i].file, fy) == 0)
					b = (int)i;
			}
			if (a < 0 || b < 0 || !samples[a].ok || !samples[b].ok) {
				missing++;
				continue;
			}
			lp[n++] = (pair_score){ cli__dot(samples[a].embedding, samples[b].embedding, dim),
				                strncasecmp(fields[2], "yes", 3) == 0 };
		}
		if (f)
			fclose(f);
		json_t *m = pair_metrics(lp, n, t);
		json_object_set_new(m, "unusable_pairs", json_integer((json_int_t)missing));
		json_object_set_new(lists, e->d_name, m);
		free(lp);
	}
	if (d)
		closedir(d);
	if (json_object_size(lists))
		json_object_set_new(o, "pair_lists", lists);
	else
		json_decref(lists);
	cli__free_list(&files);
	cli__print_json(o);
	json_decref(o);
	free(pairs);
	cli__identity_set_free(&set);
	return CLI_EXIT_OK;
}

/* ---- expression */

static int label_index(const char *label)
{
	static const char *const folders[][2] = {
		{ "neutral", "neutral" },    { "happy", "happy" },  { "sad", "sad" },
		{ "angry", "angry" },        { "fear", "fearful" }, { "disgust", "disgusted" },
		{ "surprise", "surprised" },
	};
	for (int i = 0; i < FACE_EXPRESSIONS; i++)
		if (strcmp(label, folders[i][0]) == 0 || strcmp(label, folders[i][1]) == 0)
			return i;
	return -1;
}

static int eval_expression(eval_ctx *c, const char *dir)
{
	name_list labels;
	if (cli__list_dir(dir, 1, &labels) != 0 || labels.n == 0) {
		cli_error("%s: no <label>/ folders", dir);
		return CLI_EXIT_FAIL;
	}
	long confusion[FACE_EXPRESSIONS][FACE_EXPRESSIONS] = { { 0 } };
	size_t total = 0, correct = 0, todo = 0;
	for (size_t l = 0; l < labels.n; l++) {
		char ldir[4096];
		snprintf(ldir, sizeof(ldir), "%s/%s", dir, labels.names[l]);
		name_list files;
		cli__list_dir(ldir, 0, &files);
		todo += c->limit > 0 && (long)files.n > c->limit ? (size_t)c->limit : files.n;
		cli__free_list(&files);
	}
	int rc = CLI_EXIT_OK;
	for (size_t l = 0; l < labels.n; l++) {
		int truth = label_index(labels.names[l]);
		if (truth < 0) {
			cli_error("%s: unknown expression label '%s' (skipped)", dir, labels.names[l]);
			continue;
		}
		char ldir[4096];
		snprintf(ldir, sizeof(ldir), "%s/%s", dir, labels.names[l]);
		name_list files;
		cli__list_dir(ldir, 0, &files);
		for (size_t k = 0; k < files.n && (c->limit <= 0 || (long)k < c->limit); k++) {
			char path[8192];
			snprintf(path, sizeof(path), "%s/%s", ldir, files.names[k]);
			face_image *img = NULL;
			mien_error err = { 0 };
			if (face_image_load(path, 0, &img, &err) ||
			    face_analyze_crop(c->analyzer, img, &c->faces[0], &err)) {
				cli_error("%s: %s", path, err.message);
				face_image_free(&img);
				rc = CLI_EXIT_FAIL;
				continue;
			}
			face_image_free(&img);
			int guess = face_dominant_expression(&c->faces[0]);
			confusion[truth][guess]++;
			total++;
			correct += (size_t)(guess == truth);
			cli__progress("expression", total, todo);
		}
		cli__free_list(&files);
	}
	json_t *recall = json_object(), *matrix = json_array();
	for (int i = 0; i < FACE_EXPRESSIONS; i++) {
		long row = 0;
		json_t *r = json_array();
		for (int j = 0; j < FACE_EXPRESSIONS; j++) {
			row += confusion[i][j];
			json_array_append_new(r, json_integer(confusion[i][j]));
		}
		json_array_append_new(matrix, r);
		if (row)
			json_object_set_new(recall, face_expression_names[i],
			                    json_real((double)confusion[i][i] / (double)row));
	}
	json_t *order = json_array();
	for (int i = 0; i < FACE_EXPRESSIONS; i++)
		json_array_append_new(order, json_string(face_expression_names[i]));
	json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:f,s:o,s:o,s:o}", "mode", "expression", "dataset", dir, "images",
	                      (int)total, "correct", (int)correct, "accuracy",
	                      total ? (double)correct / (double)total : 0.0, "per_class_recall", recall,
	                      "confusion_rows_truth_cols_predicted", matrix, "classes", order);
	cli__print_json(o);
	json_decref(o);
	cli__free_list(&labels);
	return rc;
}

static const char EVAL_USAGE[] =
        "usage: mien eval identity|cluster|negatives|expression|detect DIR [--limit N] [--face-crop] [--detector D]\n"
        "                 [--embedder E] [--expression X] [--face-px N] [--grey] [--split all|tune|held]\n"
        "                 [--threshold T] [--sweep]\n"
        "  identity   DIR/<person>/<image>: all-pairs verification (best-threshold accuracy, accuracy at the default\n"
        "             threshold, TAR at FAR 0.01 %, 0.1 % and 1 %), rank-1 with each person's first picture enrolled,\n"
        "             and DIR/repo_pairs_*.csv pair lists (file_x,file_y,Decision) when present. --face-px N scales\n"
        "             each picture down so that its face is N px tall (as a camera far away sees it); --grey turns\n"
        "             pictures grey first. --embedder A+B fuses embedders (the mean of their cosines)\n"
        "  cluster    DIR/<person>/<image>: the largest face of every picture grouped as `mien cluster` groups faces\n"
        "             (at --threshold T, default the embedder's unknown-visitor threshold): pairwise and BCubed\n"
        "             precision, recall and F, clusters against people; --sweep over a range of thresholds\n"
        "  negatives  DIR/<person>/<image>: people enrolled with 3 pictures; the impostor faces falsely accepted in\n"
        "             one half of the other pictures kept as negatives of the person they were named as; false and\n"
        "             true accepts on the other half without and with them\n"
        "  expression DIR/<label>/<image> face crops: accuracy, per-class recall, confusion matrix\n"
        "  detect     DIR/face_counts.csv (file,faces): recall of counted faces, false detections per 10 pictures\n"
        "  --split tune|held reads one half of the people (identity, cluster, negatives): sorted by the FNV-1a hash\n"
        "  of their folder's name, the first half (rounded up) is `tune`, the rest `held`.\n"
        "  A progress bar goes to stderr on a terminal; the JSON summary to stdout. --limit N caps pictures per "
        "folder.\n";

int cli_eval_main(int argc, char **argv, const mien_config *cfg)
{
	eval_ctx c = { .cfg = cfg, .threshold = NAN };
	face_options_default(&c.options);
	const char *mode = NULL, *dir = NULL, *value;
	for (int i = 1; i < argc; i++) {
		int m;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(EVAL_USAGE, stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--face-crop") == 0) {
			c.face_crop = 1;
		} else if (strcmp(argv[i], "--grey") == 0) {
			c.grey = 1;
		} else if ((m = cli_option(argc, argv, &i, "--face-px", &value)) != 0) {
			if (m < 0 || cli_parse_int(value, 8, 4096, &c.face_px))
				return CLI_EXIT_USAGE;
		} else if ((m = cli_option(argc, argv, &i, "--limit", &value)) != 0) {
			if (m < 0 || cli_parse_int(value, 1, 1000000, &c.limit))
				return CLI_EXIT_USAGE;
		} else if ((m = cli_option(argc, argv, &i, "--detector", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			c.options.detector = value;
		} else if ((m = cli_option(argc, argv, &i, "--embedder", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			c.options.embedder = value;
		} else if ((m = cli_option(argc, argv, &i, "--expression", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			c.options.expression = value;
		} else if (strcmp(argv[i], "--sweep") == 0) {
			c.sweep = 1;
		} else if ((m = cli_option(argc, argv, &i, "--split", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			if (strcmp(value, "all") == 0) {
				c.split = EVAL_SPLIT_ALL;
			} else if (strcmp(value, "tune") == 0) {
				c.split = EVAL_SPLIT_TUNE;
			} else if (strcmp(value, "held") == 0) {
				c.split = EVAL_SPLIT_HELD;
			} else {
				cli_error("--split takes all, tune or held");
				return CLI_EXIT_USAGE;
			}
		} else if ((m = cli_option(argc, argv, &i, "--threshold", &value)) != 0) {
			char *end = NULL;
			if (m < 0)
				return CLI_EXIT_USAGE;
			c.threshold = strtof(value, &end);
			if (end == value || *end || !(c.threshold >= -1 && c.threshold <= 1)) {
				cli_error("--threshold takes a cosine similarity between -1 and 1");
				return CLI_EXIT_USAGE;
			}
		} else if (argv[i][0] == '-' && argv[i][1]) {
			cli_error("unknown option %s", argv[i]);
			fputs(EVAL_USAGE, stderr);
			return CLI_EXIT_USAGE;
		} else if (!mode) {
			mode = argv[i];
		} else if (!dir) {
			dir = argv[i];
		} else {
			fputs(EVAL_USAGE, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	static const char *const modes[] = { "identity", "cluster", "negatives", "expression", "detect" };
	int known = 0;
	for (size_t k = 0; mode && k < sizeof(modes) / sizeof(modes[0]); k++)
		known |= strcmp(mode, modes[k]) == 0;
	if (!mode || !dir || !known) {
		fputs(EVAL_USAGE, stderr);
		return CLI_EXIT_USAGE;
	}
	int identities = strcmp(mode, "expression") != 0 && strcmp(mode, "detect") != 0;
	c.options.embeddings = identities;
	c.options.expressions = strcmp(mode, "expression") == 0;
	c.options.min_face = 1; /* evaluation measures the models, not the size policy */
	mien_error err = { 0 };
	c.faces = calloc(EVAL_FACES, sizeof(face_result));
	int rc;
	if (!c.faces || nn_pool_create((size_t)cfg->threads, &c.pool, &err) ||
	    face_analyzer_create(&c.options, cfg->models, c.pool, &c.analyzer, &err)) {
		cli_error("%s", c.faces ? err.message : "out of memory");
		rc = CLI_EXIT_FAIL;
	} else if (strcmp(mode, "identity") == 0) {
		rc = eval_identity(&c, dir);
	} else if (strcmp(mode, "cluster") == 0) {
		rc = cli__eval_cluster(&c, dir);
	} else if (strcmp(mode, "negatives") == 0) {
		rc = cli__eval_negatives(&c, dir);
	} else if (strcmp(mode, "expression") == 0) {
		rc = eval_expression(&c, dir);
	} else {
		rc = eval_detect(&c, dir);
	}
	face_analyzer_free(&c.analyzer);
	nn_pool_destroy(&c.pool);
	free(c.faces);
	return rc;
}
