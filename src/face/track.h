/*
 * track.h — following faces from frame to frame on one camera, and turning them into visits.
 *
 * The caller runs detection (and, per face, a gallery match) on each analysed frame and feeds the results to
 * face_tracker_update with the frame's timestamp. The tracker associates faces with its live tracks by box
 * overlap (IoU) against a constant-velocity prediction of where each track should be now, helped by embedding
 * similarity; a face that matches no track by position but whose embedding is close to a track unseen for a
 * moment (an occlusion, a missed detection) re-links to it. A new face starts a tentative track, confirmed once
 * seen in `confirm_hits` consecutive updates; a track unseen for `lost_ms` ends.
 *
 * Per track it keeps the `best_k` faces of highest face_result.quality with their gallery matches, decides the
 * identity by a vote over them (a person wins with more than half of the votes of the kept faces that have an
 * embedding; a face with no match, or a match under `vote_threshold`, votes "unknown"), and averages the
 * expression probabilities of every frame.
 *
 * What comes back is a list of changes — a track confirmed (STARTED), its identity changed, a track ENDED —
 * so that the caller emits one event per person per visit, not per frame. Pure computation: no I/O, no
 * allocation after face_tracker_create, one tracker per camera, not thread-safe (one caller thread).
 */
#ifndef MIEN_FACE_TRACK_H
#define MIEN_FACE_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "face/face.h"

#define FACE_TRACK_BEST_MAX   16
#define FACE_TRACK_TRACKS_MAX 1024

typedef struct face_track_options {
	float iou_min;           /* least IoU with a track's predicted box to associate; 0 = 0.2 */
	float relink_similarity; /* least embedding cosine similarity to re-link a face to an unseen track; 0 = 0.5 */
	float embedding_weight;  /* weight of similarity beside IoU when associating; 0 = 0.5, < 0 = none */
	float veto_similarity;   /* a face less similar than this to a track never joins it by IoU; 0 = no veto
	                            (per embedder: different people score about 0.8 with face_recognition) */
	int confirm_hits;        /* consecutive updates a new track must be seen in to be confirmed; 0 = 2 */
	int64_t lost_ms;         /* a track unseen this long ends; 0 = 1500 */
	int best_k;              /* faces kept per track for the vote and the snapshot; 0 = 5; <= FACE_TRACK_BEST_MAX */
	float vote_threshold;    /* matches below this similarity vote "unknown"; 0 = take the caller's matches */
	int max_tracks;          /* live tracks at most (tentative included); 0 = 32; <= FACE_TRACK_TRACKS_MAX */
	int64_t first_track_id;  /* the first track id handed out (ids then count up); 0 = 1 */
} face_track_options;

/* Every field 0: the defaults named above. */
void face_track_options_default(face_track_options *options);

/* A face's gallery match, from the caller (store/gallery). person_id 0 = no match above the gallery's
 * threshold; the face then votes "unknown". */
typedef struct face_track_match {
	int64_t person_id;
	float similarity;
} face_track_match;

/* Change kinds (wire values: events carry them; they only grow). */
enum face_track_change_kind {
	FACE_TRACK_STARTED = 1,  /* a track was confirmed: a visit begins */
	FACE_TRACK_IDENTITY = 2, /* a confirmed track's voted identity changed (reported before ENDED when it changed
	                            while the track was unseen) */
	FACE_TRACK_ENDED = 3,    /* a confirmed track was unseen for lost_ms (or flushed): the visit is over */
};

typedef struct face_track_change {
	int kind;                           /* enum face_track_change_kind */
	int64_t track_id;                   /* > 0, increasing in the order tracks were created */
	int64_t person_id;                  /* the voted identity now; 0 = unknown */
	float similarity;                   /* mean similarity of the winning votes; 0 when unknown */
	int votes, voters;                  /* the winner's votes of the kept faces that could vote */
	int64_t first_ms, last_ms;          /* first and last time the track was seen */
	int hits;                           /* frames the track was seen in */
	float box[4];                       /* the last box seen */
	int has_expression;                 /* some frame had expression probabilities */
	float expression[FACE_EXPRESSIONS]; /* mean over those frames */
	int dominant_expression;            /* index of the largest mean; -1 without expressions */
	const face_result *best;            /* the best-quality face so far (borrowed; see face_tracker_update) */
	float best_quality;
	int64_t best_ms; /* when the best face was seen */
	/* The quality-weighted mean of the kept faces' embeddings, normalised (borrowed like `best`; NULL when no
	 * kept face has an embedding): what an event keeps for grouping unknown visits and face search. */
	const float *mean_embedding;
	int mean_embedding_dim;
	const char *mean_embedding_model; /* static string */
} face_track_change;

typedef struct face_tracker face_tracker;

/* Allocates a tracker with room for max_tracks live tracks (all memory it will use). MIEN_EINVAL for options
 * out of range. Caller frees with face_tracker_free. */
int face_tracker_create(const face_track_options *options, face_tracker **out, mien_error *err);
void face_tracker_free(face_tracker **tracker);

/*
 * Feeds one analysed frame: `count` faces (borrowed; copied where kept) at `timestamp_ms` (not earlier than the
 * previous call's), with `matches` (NULL = none; else one per face). `track_ids` (NULL = not wanted; else room
 * for `count`) receives each face's track id, 0 for a face left untracked because max_tracks are live.
 * *changes (borrowed) and the faces they point at stay valid until the next update or flush on this tracker;
 * *n_changes is at most 2 * max_tracks. Errors: MIEN_EINVAL (NULL arguments, a timestamp going back).
 */
int face_tracker_update(face_tracker *tracker, int64_t timestamp_ms, const face_result *faces,
                        const face_track_match *matches, size_t count, int64_t *track_ids,
                        const face_track_change **changes, size_t *n_changes, mien_error *err);

/* Ends every track now (the camera stopped): ENDED for each confirmed one, same contract as an update. */
int face_tracker_flush(face_tracker *tracker, int64_t timestamp_ms, const face_track_change **changes,
                       size_t *n_changes, mien_error *err);

/*
 * Looking ahead, for a caller that computes embeddings and expressions only where they can change something
 * (video: a face seen in the previous frame usually adds nothing). For each of `count` faces (box and quality
 * filled; no embedding needed) it says which live track the face would join by position alone — the first step
 * of face_tracker_update as it goes for faces without embeddings: pairs of highest IoU with the tracks'
 * predictions at timestamp_ms, at least iou_min, first — and what that track knows. The tracker is not changed.
 * A face passed to face_tracker_update without an embedding joins its track that way; it abstains from the vote
 * and, when it was recognisable (it could have had one), is not kept among the track's best faces either.
 * would_keep says whether its quality would earn it such a place with an embedding. (Faces that do get an
 * embedding may pair differently in the update, whose score adds embedding similarity.)
 */
typedef struct face_track_peek {
	int64_t track_id;         /* 0 = no track within reach: treat the face as new */
	int could_relink;         /* track_id 0, and a confirmed track left unseen is predicted within 4 face heights:
	                             with an embedding the face may re-link to it (face_tracker_update's second step) */
	int confirmed;            /* the track is confirmed (not tentative) */
	int would_keep;           /* with an embedding, the face would enter the track's best_k */
	int kept;                 /* faces the track keeps now (at most best_k) */
	float worst_kept_quality; /* the quality of the worst of them; 0 when none */
	int64_t person_id;        /* the track's voted identity now; 0 = unknown */
	float similarity;         /* mean similarity of its winning votes */
	int64_t embedded_ms;      /* when the track last got a face with an embedding; 0 = never */
	int64_t expression_ms;    /* when it last got expression probabilities; 0 = never */
	int has_expression;
	float expression[FACE_EXPRESSIONS]; /* the track's mean so far */
} face_track_peek;
/* MIEN_EINVAL for NULL arguments, MIEN_ETOOBIG for more faces than an update takes. */
int face_tracker_peek(const face_tracker *tracker, int64_t timestamp_ms, const face_result *faces, size_t count,
                      face_track_peek *out);
/* The gallery changed (someone was enrolled or erased): `matcher` gives each kept face that has an embedding its
 * new match, and every live track votes again. A changed identity is reported by the next update that sees the
 * track (FACE_TRACK_IDENTITY), so a visit in progress learns a name enrolled during it. */
typedef face_track_match (*face_track_matcher)(void *ctx, const face_result *face);
void face_tracker_rematch(face_tracker *tracker, face_track_matcher matcher, void *ctx);
/* The boxes (x, y, w, h) where the live tracks are predicted at timestamp_ms; returns how many (at most max). */
size_t face_tracker_predicted(const face_tracker *tracker, int64_t timestamp_ms, float (*boxes)[4], size_t max);
/* Live tracks (tentative and confirmed). */
size_t face_tracker_live(const face_tracker *tracker);

/* Faces left untracked because the cap was reached, since creation. */
uint64_t face_tracker_dropped(const face_tracker *tracker);

#endif
