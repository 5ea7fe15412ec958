/*
 * track.c — IoU + constant-velocity association with embedding help, re-linking by embedding, top-K faces
 * per track, identity vote, expression means.
 *
 * Association is greedy on a combined score (IoU with the predicted box, plus a weighted embedding
 * similarity) rather than an optimal assignment: with a few faces per camera the two agree but for contrived
 * ties, and greedy needs no scratch matrix. Slots for tracks and their kept faces are allocated once; a track
 * that ended stays in its slot until the next call so that the changes pointing at it remain readable.
 */
#include "face/track.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum slot_state {
	SLOT_FREE = 0,
	SLOT_TENTATIVE = 1,
	SLOT_CONFIRMED = 2,
	SLOT_ENDED = 3, /* reported ended this call; freed at the next */
};

typedef struct kept_face {
	face_result face;
	face_track_match match;
	int64_t at_ms;
} kept_face;

typedef struct track {
	int state;
	int64_t id;
	int64_t first_ms, last_ms;
	int hits;
	int seen_now; /* associated in the current update */
	float box[4];
	float vx, vy; /* centre velocity, pixels per ms */
	int has_velocity;
	int kept_count;
	kept_face *kept; /* best_k entries, best first */
	int expression_frames;
	double expression_sum[FACE_EXPRESSIONS];
	int64_t embedded_ms;    /* when a face with an embedding was last observed; 0 = never */
	int64_t expression_ms;  /* when a face with expressions was last observed; 0 = never */
	int64_t person_id;      /* last reported identity */
	face_track_change vote; /* the latest vote's outcome (person, similarity, votes) */
} track;

struct face_tracker {
	face_track_options opt;
	int64_t next_id;
	int64_t last_ms;
	int have_last;
	uint64_t dropped;
	track *tracks;              /* max_tracks */
	kept_face *kept_storage;    /* max_tracks * best_k */
	face_track_change *changes; /* 2 * max_tracks */
	float *change_faces;        /* 2 * max_tracks rows of FACE_EMBEDDING_MAX: each change's mean_embedding */
	size_t n_changes;
	/* association scratch, sized at creation */
	int *face_track; /* per face: the slot it went to, -1 */
	size_t face_cap;
};

#define FACES_PER_UPDATE_MAX 256
/* face_tracker_peek: how far from a lost track, in face heights, a new face may plausibly be that track back */
#define RELINK_REACH 4.0f

void face_track_options_default(face_track_options *options)
{
	if (options != NULL)
		memset(options, 0, sizeof(*options));
}

int face_tracker_create(const face_track_options *options, face_tracker **out, mien_error *err)
{
	face_tracker *t = NULL;
	int rc;
	if (out == NULL)
		return mien_error_set(err, MIEN_EINVAL, "tracker: no output pointer");
	*out = NULL;
	face_track_options o;
	face_track_options_default(&o);
	if (options != NULL)
		o = *options;
	if (o.iou_min == 0)
		o.iou_min = 0.2f;
	if (o.relink_similarity == 0)
		o.relink_similarity = 0.5f;
	if (o.embedding_weight == 0)
		o.embedding_weight = 0.5f;
	else if (o.embedding_weight < 0)
		o.embedding_weight = 0;
	if (o.confirm_hits == 0)
		o.confirm_hits = 2;
	if (o.lost_ms == 0)
		o.lost_ms = 1500;
	if (o.best_k == 0)
		o.best_k = 5;
	if (o.max_tracks == 0)
		o.max_tracks = 32;
	if (o.first_track_id == 0)
		o.first_track_id = 1;
	if (!(o.iou_min > 0 && o.iou_min <= 1) || o.confirm_hits < 1 || o.lost_ms < 0 || o.best_k < 1 ||
	    o.best_k > FACE_TRACK_BEST_MAX || o.max_tracks < 1 || o.max_tracks > FACE_TRACK_TRACKS_MAX ||
	    o.first_track_id < 1 || !isfinite(o.relink_similarity) || !isfinite(o.vote_threshold))
		return mien_error_set(err, MIEN_EINVAL, "tracker: an option is out of range");

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto nomem;
	t->opt = o;
	t->next_id = o.first_track_id;
	t->tracks = calloc((size_t)o.max_tracks, sizeof(*t->tracks));
	t->kept_storage = calloc((size_t)o.max_tracks * (size_t)o.best_k, sizeof(*t->kept_storage));
	t->changes = calloc(2 * (size_t)o.max_tracks, sizeof(*t->changes));
	t->change_faces = calloc(2 * (size_t)o.max_tracks * FACE_EMBEDDING_MAX, sizeof(*t->change_faces));
	t->face_cap = FACES_PER_UPDATE_MAX;
	t->face_track = calloc(t->face_cap, sizeof(*t->face_track));
	if (t->tracks == NULL || t->kept_storage == NULL || t->changes == NULL || t->change_faces == NULL ||
	    t->face_track == NULL)
		goto nomem;
	for (int i = 0; i < o.max_tracks; i++)
		t->tracks[i].kept = t->kept_storage + (size_t)i * (size_t)o.best_k;
	*out = t;
	return MIEN_OK;

nomem:
	rc = mien_error_set(err, MIEN_ENOMEM, "tracker: out of memory for %d tracks", o.max_tracks);
	face_tracker_free(&t);
	return rc;
}

void face_tracker_free(face_tracker **tracker)
{
	if (tracker == NULL || *tracker == NULL)
		return;
	face_tracker *t = *tracker;
	free(t->tracks);
	free(t->kept_storage);
	free(t->changes);
	free(t->change_faces);
	free(t->face_track);
	free(t);
	*tracker = NULL;
}

size_t face_tracker_live(const face_tracker *tracker)
{
	size_t n = 0;
	if (tracker == NULL)
		return 0;
	for (int i = 0; i < tracker->opt.max_tracks; i++)
		n += tracker->tracks[i].state == SLOT_TENTATIVE || tracker->tracks[i].state == SLOT_CONFIRMED;
	return n;
}

uint64_t face_tracker_dropped(const face_tracker *tracker)
{
	return tracker != NULL ? tracker->dropped : 0;
}

/* --- geometry and similarity --------------------------------------------------------------------------- */

static float iou(const float a[4], const float b[4])
{
	float x0 = fmaxf(a[0], b[0]), y0 = fmaxf(a[1], b[1]);
	float x1 = fminf(a[0] + a[2], b[0] + b[2]), y1 = fminf(a[1] + a[3], b[1] + b[3]);
	float inter = fmaxf(0, x1 - x0) * fmaxf(0, y1 - y0);
	float uni = a[2] * a[3] + b[2] * b[3] - inter;
	return uni > 0 ? inter / uni : 0;
}

static void predict(const track *tr, int64_t at_ms, float out[4])
{
	memcpy(out, tr->box, sizeof(tr->box));
	if (tr->has_velocity) {
		float dt = (float)(at_ms - tr->last_ms);
		out[0] += tr->vx * dt;
		out[1] += tr->vy * dt;
	}
}

static int has_embedding(const face_result *face)
{
	return face->embedding_dim > 0 && face->embedding_dim <= FACE_EMBEDDING_MAX;
}

static float cosine(const face_result *a, const face_result *b)
{
	double dot = 0, na = 0, nb = 0;
	for (int i = 0; i < a->embedding_dim; i++) {
		dot += (double)a->embedding[i] * b->embedding[i];
		na += (double)a->embedding[i] * a->embedding[i];
		nb += (double)b->embedding[i] * b->embedding[i];
	}
	return na > 0 && nb > 0 ? (float)(dot / sqrt(na * nb)) : 0;
}

/* The best similarity between `face` and the track's kept faces; 0 with *valid = 0 when there is nothing to
 * compare (no embeddings, different models). */
static float track_similarity(const track *tr, const face_result *face, int *valid)
{
	float best = -1;
	*valid = 0;
	if (!has_embedding(face))
		return 0;
	for (int k = 0; k < tr->kept_count; k++) {
		const face_result *kf = &tr->kept[k].face;
		if (!has_embedding(kf) || kf->embedding_dim != face->embedding_dim ||
		    (kf->embedding_model != NULL && face->embedding_model != NULL &&
		     strcmp(kf->embedding_model, face->embedding_model) != 0))
			continue;
		float s = cosine(kf, face);
		if (s > best)
			best = s;
		*valid = 1;
	}
	return *valid ? best : 0;
}

/* --- per-track bookkeeping ----------------------------------------------------------------------------- */

static void keep_face(face_tracker *t, track *tr, const face_result *face, const face_track_match *match, int64_t at_ms)
{
	int k = t->opt.best_k;
	/* A face that could have been recognised but was not described (face_tracker_peek's caller skipped it) would
	 * only abstain: it does not displace a face that votes. */
	if (face->recognisable && !has_embedding(face) && (match == NULL || match->person_id == 0))
		return;
	int pos = tr->kept_count;
	if (pos == k) {
		/* Full: the new face replaces the worst only when it is better. */
		if (!(face->quality > tr->kept[k - 1].face.quality))
			return;
		pos = k - 1;
	} else {
		tr->kept_count++;
	}
	while (pos > 0 && face->quality > tr->kept[pos - 1].face.quality) {
		tr->kept[pos] = tr->kept[pos - 1];
		pos--;
	}
	kept_face *slot = &tr->kept[pos];
	slot->face = *face;
	slot->at_ms = at_ms;
	if (match != NULL)
		slot->match = *match;
	else
		memset(&slot->match, 0, sizeof(slot->match));
}

/* The vote over the kept faces: a person with more than half of the votes of faces that have an embedding. */
static void vote(const face_tracker *t, track *tr)
{
	int64_t persons[FACE_TRACK_BEST_MAX];
	int counts[FACE_TRACK_BEST_MAX];
	float sims[FACE_TRACK_BEST_MAX];
	int distinct = 0, voters = 0;
	for (int k = 0; k < tr->kept_count; k++) {
		const kept_face *kf = &tr->kept[k];
		if (!has_embedding(&kf->face) && kf->match.person_id == 0)
			continue; /* could not be recognised: abstains */
		voters++;
		if (kf->match.person_id <= 0 || kf->match.similarity < t->opt.vote_threshold)
			continue; /* votes "unknown" */
		int i = 0;
		while (i < distinct && persons[i] != kf->match.person_id)
			i++;
		if (i == distinct) {
			persons[i] = kf->match.person_id;
			counts[i] = 0;
			sims[i] = 0;
			distinct++;
		}
		counts[i]++;
		sims[i] += kf->match.similarity;
	}
	tr->vote.person_id = 0;
	tr->vote.similarity = 0;
	tr->vote.votes = 0;
	tr->vote.voters = voters;
	for (int i = 0; i < distinct; i++) {
		if (2 * counts[i] > voters) {
			tr->vote.person_id = persons[i];
			tr->vote.similarity = sims[i] / (float)counts[i];
			tr->vote.votes = counts[i];
		}
	}
}

static void observe(face_tracker *t, track *tr, const face_result *face, const face_track_match *match, int64_t at_ms)
{
	if (tr->hits > 0) {
		float dt = (float)(at_ms - tr->last_ms);
		if (dt > 0) {
			float cx0 = tr->box[0] + tr->box[2] / 2, cy0 = tr->box[1] + tr->box[3] / 2;
			float cx1 = face->box[0] + face->box[2] / 2, cy1 = face->box[1] + face->box[3] / 2;
			float vx = (cx1 - cx0) / dt, vy = (cy1 - cy0) / dt;
			if (tr->has_velocity) {
				/* Smooth out detector jitter; a real turn still shows within two frames. */
				vx = 0.5f * vx + 0.5f * tr->vx;
				vy = 0.5f * vy + 0.5f * tr->vy;
			}
			tr->vx = vx;
			tr->vy = vy;
			tr->has_velocity = 1;
		}
	}
	memcpy(tr->box, face->box, sizeof(tr->box));
	tr->last_ms = at_ms;
	tr->hits++;
	tr->seen_now = 1;
	if (has_embedding(face))
		tr->embedded_ms = at_ms;
	if (face->has_expression) {
		tr->expression_ms = at_ms;
		tr->expression_frames++;
		for (int e = 0; e < FACE_EXPRESSIONS; e++)
			tr->expression_sum[e] += face->expression[e];
	}
	keep_face(t, tr, face, match, at_ms);
	vote(t, tr);
}

/* The track's face for grouping and search: the mean of its kept faces' embeddings (those of the best face's
 * embedder), each weighted by its quality so that small or blurry faces have less say, normalised. Written to
 * `out` (FACE_EMBEDDING_MAX) and pointed at by c->mean_embedding; none when no kept face has an embedding. */
static void mean_embedding(const track *tr, float *out, face_track_change *c)
{
	const face_result *first = NULL;
	for (int k = 0; k < tr->kept_count && !first; k++)
		if (has_embedding(&tr->kept[k].face))
			first = &tr->kept[k].face;
	if (!first)
		return;
	int dim = first->embedding_dim;
	memset(out, 0, (size_t)dim * sizeof(*out));
	for (int k = 0; k < tr->kept_count; k++) {
		const face_result *f = &tr->kept[k].face;
		if (!has_embedding(f) || f->embedding_dim != dim || f->embedding_model != first->embedding_model)
			continue;
		float w = f->quality > 0.05f ? f->quality : 0.05f;
		for (int i = 0; i < dim; i++)
			out[i] += w * f->embedding[i];
	}
	double n2 = 0;
	for (int i = 0; i < dim; i++)
		n2 += (double)out[i] * out[i];
	if (!(n2 > 0))
		return;
	float inv = (float)(1.0 / sqrt(n2));
	for (int i = 0; i < dim; i++)
		out[i] *= inv;
	c->mean_embedding = out;
	c->mean_embedding_dim = dim;
	c->mean_embedding_model = first->embedding_model;
}

static void add_change(face_tracker *t, const track *tr, int kind)
{
	MIEN_ASSERT(t->n_changes < 2 * (size_t)t->opt.max_tracks);
	face_track_change *c = &t->changes[t->n_changes++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->track_id = tr->id;
	c->person_id = tr->vote.person_id;
	c->similarity = tr->vote.similarity;
	c->votes = tr->vote.votes;
	c->voters = tr->vote.voters;
	c->first_ms = tr->first_ms;
	c->last_ms = tr->last_ms;
	c->hits = tr->hits;
	memcpy(c->box, tr->box, sizeof(c->box));
	c->dominant_expression = -1;
	if (tr->expression_frames > 0) {
		c->has_expression = 1;
		for (int e = 0; e < FACE_EXPRESSIONS; e++) {
			c->expression[e] = (float)(tr->expression_sum[e] / tr->expression_frames);
			if (c->dominant_expression < 0 || c->expression[e] > c->expression[c->dominant_expression])
				c->dominant_expression = e;
		}
	}
	if (tr->kept_count > 0) {
		c->best = &tr->kept[0].face;
		c->best_quality = tr->kept[0].face.quality;
		c->best_ms = tr->kept[0].at_ms;
	}
	mean_embedding(tr, t->change_faces + (size_t)(c - t->changes) * FACE_EMBEDDING_MAX, c);
}

static void end_track(face_tracker *t, track *tr)
{
	if (tr->state == SLOT_CONFIRMED) {
		/* An identity the track gained while unseen (face_tracker_rematch after an enrollment) is reported
		 * before its end, like any other identity change: callers raise alerts on those. */
		if (tr->vote.person_id != tr->person_id) {
			tr->person_id = tr->vote.person_id;
			add_change(t, tr, FACE_TRACK_IDENTITY);
		}
		add_change(t, tr, FACE_TRACK_ENDED);
		tr->state = SLOT_ENDED;
	} else {
		tr->state = SLOT_FREE; /* a tentative track was never announced */
	}
}

static track *new_track(face_tracker *t, int64_t at_ms)
{
	for (int i = 0; i < t->opt.max_tracks; i++) {
		track *tr = &t->tracks[i];
		if (tr->state != SLOT_FREE)
			continue;
		kept_face *kept = tr->kept;
		memset(tr, 0, sizeof(*tr));
		tr->kept = kept;
		tr->state = SLOT_TENTATIVE;
		tr->id = t->next_id++;
		tr->first_ms = at_ms;
		tr->last_ms = at_ms;
		return tr;
	}
	return NULL;
}

/* --- the update ---------------------------------------------------------------------------------------- */

static int begin(face_tracker *t, int64_t at_ms, mien_error *err)
{
	if (t->have_last && at_ms < t->last_ms)
		return mien_error_set(err, MIEN_EINVAL, "tracker: timestamp %lld is before the previous %lld",
		                      (long long)at_ms, (long long)t->last_ms);
	t->have_last = 1;
	t->last_ms = at_ms;
	t->n_changes = 0;
	for (int i = 0; i < t->opt.max_tracks; i++) {
		if (t->tracks[i].state == SLOT_ENDED)
			t->tracks[i].state = SLOT_FREE;
		t->tracks[i].seen_now = 0;
	}
	return MIEN_OK;
}

static int live(const track *tr)
{
	return tr->state == SLOT_TENTATIVE || tr->state == SLOT_CONFIRMED;
}

int face_tracker_update(face_tracker *t, int64_t timestamp_ms, const face_result *faces,
                        const face_track_match *matches, size_t count, int64_t *track_ids,
                        const face_track_change **changes, size_t *n_changes, mien_error *err)
{
	if (t == NULL || changes == NULL || n_changes == NULL || (faces == NULL && count > 0))
		return mien_error_set(err, MIEN_EINVAL, "tracker: NULL argument");
	*changes = NULL;
	*n_changes = 0;
	if (count > t->face_cap)
		return mien_error_set(err, MIEN_ETOOBIG, "tracker: %zu faces in one frame, at most %zu", count,
		                      t->face_cap);
	int rc = begin(t, timestamp_ms, err);
	if (rc != MIEN_OK)
		return rc;
	int n_tracks = t->opt.max_tracks;
	int *assigned = t->face_track;
	for (size_t f = 0; f < count; f++)
		assigned[f] = -1;

	/* 1. By position: repeatedly take the best-scoring (track, face) pair whose IoU with the track's predicted
	 * box passes iou_min. O(tracks * faces) per pick; both are small. */
	for (;;) {
		int best_tr = -1, best_face = -1;
		float best_score = -INFINITY;
		for (int i = 0; i < n_tracks; i++) {
			track *tr = &t->tracks[i];
			if (!live(tr) || tr->seen_now)
				continue;
			float predicted[4];
			predict(tr, timestamp_ms, predicted);
			for (size_t f = 0; f < count; f++) {
				if (assigned[f] >= 0)
					continue;
				float overlap = iou(predicted, faces[f].box);
				if (overlap < t->opt.iou_min)
					continue;
				int valid = 0;
				float sim = track_similarity(tr, &faces[f], &valid);
				/* Another person in the same place (a scene cut, people passing each other) is a new
				 * track, however well the boxes overlap. */
				if (valid && t->opt.veto_similarity > 0 && sim < t->opt.veto_similarity)
					continue;
				float score = overlap + (valid ? t->opt.embedding_weight * sim : 0);
				if (score > best_score) {
					best_score = score;
					best_tr = i;
					best_face = (int)f;
				}
			}
		}
		if (best_tr < 0)
			break;
		assigned[best_face] = best_tr;
		observe(t, &t->tracks[best_tr], &faces[best_face], matches != NULL ? &matches[best_face] : NULL,
		        timestamp_ms);
	}

	/* 2. By embedding: a face nowhere near a prediction re-links to a confirmed track unseen since an earlier
	 * frame (occlusion, missed detections) when their embeddings agree. */
	for (;;) {
		int best_tr = -1, best_face = -1;
		float best_sim = -INFINITY;
		for (int i = 0; i < n_tracks; i++) {
			track *tr = &t->tracks[i];
			if (tr->state != SLOT_CONFIRMED || tr->seen_now)
				continue;
			for (size_t f = 0; f < count; f++) {
				if (assigned[f] >= 0)
					continue;
				int valid = 0;
				float sim = track_similarity(tr, &faces[f], &valid);
				if (valid && sim >= t->opt.relink_similarity && sim > best_sim) {
					best_sim = sim;
					best_tr = i;
					best_face = (int)f;
				}
			}
		}
		if (best_tr < 0)
			break;
		assigned[best_face] = best_tr;
		track *tr = &t->tracks[best_tr];
		tr->has_velocity = 0; /* the old motion says nothing about where it went */
		observe(t, tr, &faces[best_face], matches != NULL ? &matches[best_face] : NULL, timestamp_ms);
	}

	/* 3. Unseen tracks: a tentative one missed before confirmation was a false start; a confirmed one ends
	 * after lost_ms. */
	for (int i = 0; i < n_tracks; i++) {
		track *tr = &t->tracks[i];
		if (!live(tr) || tr->seen_now)
			continue;
		if (tr->state == SLOT_TENTATIVE || timestamp_ms - tr->last_ms > t->opt.lost_ms)
			end_track(t, tr);
	}

	/* 4. Confirmations and identity changes of the tracks seen now. */
	for (int i = 0; i < n_tracks; i++) {
		track *tr = &t->tracks[i];
		if (!tr->seen_now)
			continue;
		if (tr->state == SLOT_TENTATIVE && tr->hits >= t->opt.confirm_hits) {
			tr->state = SLOT_CONFIRMED;
			tr->person_id = tr->vote.person_id;
			add_change(t, tr, FACE_TRACK_STARTED);
		} else if (tr->state == SLOT_CONFIRMED && tr->vote.person_id != tr->person_id) {
			tr->person_id = tr->vote.person_id;
			add_change(t, tr, FACE_TRACK_IDENTITY);
		}
	}

	/* 5. New tracks for faces left over, while there is room. */
	for (size_t f = 0; f < count; f++) {
		if (assigned[f] >= 0)
			continue;
		track *tr = new_track(t, timestamp_ms);
		if (tr == NULL) {
			t->dropped++;
			continue;
		}
		assigned[f] = (int)(tr - t->tracks);
		observe(t, tr, &faces[f], matches != NULL ? &matches[f] : NULL, timestamp_ms);
		if (t->opt.confirm_hits <= 1) {
			tr->state = SLOT_CONFIRMED;
			tr->person_id = tr->vote.person_id;
			add_change(t, tr, FACE_TRACK_STARTED);
		}
	}

	if (track_ids != NULL) {
		for (size_t f = 0; f < count; f++)
			track_ids[f] = assigned[f] >= 0 ? t->tracks[assigned[f]].id : 0;
	}
	*changes = t->changes;
	*n_changes = t->n_changes;
	return MIEN_OK;
}

int face_tracker_flush(face_tracker *t, int64_t timestamp_ms, const face_track_change **changes, size_t *n_changes,
                       mien_error *err)
{
	if (t == NULL || changes == NULL || n_changes == NULL)
		return mien_error_set(err, MIEN_EINVAL, "tracker: NULL argument");
	*changes = NULL;
	*n_changes = 0;
	int rc = begin(t, timestamp_ms, err);
	if (rc != MIEN_OK)
		return rc;
	for (int i = 0; i < t->opt.max_tracks; i++) {
		if (live(&t->tracks[i]))
			end_track(t, &t->tracks[i]);
	}
	*changes = t->changes;
	*n_changes = t->n_changes;
	return MIEN_OK;
}

/* --- looking ahead ------------------------------------------------------------------------------------- */

/* Whether keep_face would keep a face of this quality. */

int face_tracker_peek(const face_tracker *t, int64_t timestamp_ms, const face_result *faces, size_t count,
                      face_track_peek *out)
{
	if (t == NULL || (count > 0 && (faces == NULL || out == NULL)))
		return MIEN_EINVAL;
	if (count > t->face_cap)
		return MIEN_ETOOBIG;
	/* The update's first step as it goes for faces without embeddings: repeatedly the pair (track, face) of
	 * highest IoU with the track's prediction, at least iou_min. */
	unsigned char taken[FACE_TRACK_TRACKS_MAX] = { 0 };
	for (size_t f = 0; f < count; f++)
		memset(&out[f], 0, sizeof(out[f]));
	for (;;) {
		int best_tr = -1, best_face = -1;
		float best_overlap = -1;
		for (int i = 0; i < t->opt.max_tracks; i++) {
			const track *tr = &t->tracks[i];
			if (!live(tr) || taken[i])
				continue;
			float predicted[4];
			predict(tr, timestamp_ms, predicted);
			for (size_t f = 0; f < count; f++) {
				if (out[f].track_id)
					continue;
				float overlap = iou(predicted, faces[f].box);
				if (overlap >= t->opt.iou_min && overlap > best_overlap) {
					best_overlap = overlap;
					best_tr = i;
					best_face = (int)f;
				}
			}
		}
		if (best_tr < 0)
			break;
		taken[best_tr] = 1;
		const track *tr = &t->tracks[best_tr];
		face_track_peek *p = &out[best_face];
		p->track_id = tr->id;
		p->confirmed = tr->state == SLOT_CONFIRMED;
		p->kept = tr->kept_count;
		p->worst_kept_quality = tr->kept_count > 0 ? tr->kept[tr->kept_count - 1].face.quality : 0;
		p->would_keep = tr->kept_count < t->opt.best_k || faces[best_face].quality > p->worst_kept_quality;
		p->person_id = tr->vote.person_id;
		p->similarity = tr->vote.similarity;
		p->embedded_ms = tr->embedded_ms;
		p->expression_ms = tr->expression_ms;
		if (tr->expression_frames > 0) {
			p->has_expression = 1;
			for (int e = 0; e < FACE_EXPRESSIONS; e++)
				p->expression[e] = (float)(tr->expression_sum[e] / tr->expression_frames);
		}
	}
	/* A face left without a track may still re-link by its embedding to a confirmed track left unseen: worth an
	 * embedding when such a track is predicted near it (within RELINK_REACH of the face's height). */
	for (size_t f = 0; f < count; f++) {
		if (out[f].track_id)
			continue;
		const float *b = faces[f].box;
		float cx = b[0] + b[2] / 2, cy = b[1] + b[3] / 2, reach = RELINK_REACH * b[3];
		for (int i = 0; i < t->opt.max_tracks && !out[f].could_relink; i++) {
			if (t->tracks[i].state != SLOT_CONFIRMED || taken[i])
				continue;
			float p[4];
			predict(&t->tracks[i], timestamp_ms, p);
			out[f].could_relink =
			        fabsf(p[0] + p[2] / 2 - cx) <= reach && fabsf(p[1] + p[3] / 2 - cy) <= reach;
		}
	}
	return MIEN_OK;
}

void face_tracker_rematch(face_tracker *t, face_track_matcher matcher, void *ctx)
{
	if (t == NULL || matcher == NULL)
		return;
	for (int i = 0; i < t->opt.max_tracks; i++) {
		track *tr = &t->tracks[i];
		if (!live(tr))
			continue;
		for (int k = 0; k < tr->kept_count; k++)
			if (has_embedding(&tr->kept[k].face))
				tr->kept[k].match = matcher(ctx, &tr->kept[k].face);
		vote(t, tr);
	}
}

size_t face_tracker_predicted(const face_tracker *t, int64_t timestamp_ms, float (*boxes)[4], size_t max)
{
	size_t n = 0;
	if (t == NULL || boxes == NULL)
		return 0;
	for (int i = 0; i < t->opt.max_tracks && n < max; i++) {
		if (live(&t->tracks[i]))
			predict(&t->tracks[i], timestamp_ms, boxes[n++]);
	}
	return n;
}
