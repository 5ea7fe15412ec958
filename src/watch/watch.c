/*
 * watch.c — camera readers, a pool of analysis workers, a tracker per camera, and visits turned into events.
 *
 * Cameras live in a list guarded by the watch's lock. A worker takes a camera that no other worker holds and
 * that has a new frame (video_camera_next with no wait, which also applies the camera's analysis rate), so one
 * camera is never analysed by two workers at once and its tracker needs no lock of its own. What the live view
 * needs (the newest frame and the faces of the newest analysis) is kept under the camera's own lock.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "face/face.h"
#include "face/image.h"
#include "face/track.h"
#include "store/gallery.h"
#include "video/video.h"
#include "watch/visitors.h"
#include "watch/watch.h"

#define MAX_FACES        32
#define THUMB_SIDE       160
#define THRESHOLD_TTL_MS 10000
#define IDLE_SLEEP_MS    5
/* Between full scans, how often a tracked face gets a new embedding and new expressions at the least (it also
 * gets an embedding whenever its quality earns a place among its track's best faces). */
#define REEMBED_MS      5000
#define REEXPRESS_MS    1000
#define VOTERS_MIN      2
#define QUALITY_STEP    0.1f
#define DEFAULT_SCAN_MS 2000
/* A scan of the whole picture is spread over this many consecutive frames (face_detect_regions' strips), so that
 * no frame carries all of it. */
#define SCAN_PARTS 2
/* The analysed rate is counted when it is read, over the analyses of the last FPS_WINDOW_MS (FPS_RING of them at
 * most: 51 fps over the window). Counting over a fixed span of time, it is exact on average, and it falls to 0
 * when a camera stops being analysed. */
#define FPS_WINDOW_MS 5000
#define FPS_RING      256
/* Names of people on screen, per worker: entries are re-read after NAME_TTL_MS (a rename shows within it; an
 * erased person's faces no longer match the gallery at once). */
#define NAME_CACHE  64
#define NAME_TTL_MS 5000
/* Jobs the recorder may have waiting; a worker that finds the queue full waits (the store is that slow). */
#define REC_QUEUE 1024

/* An open visit: a confirmed track and its event (the recorder's). */
typedef struct visit {
	int64_t camera_id, track_id, event_id, person_id;
	int alerted;
	int ignored; /* the face of a dismissed unknown identity: no event, no alert */
} visit;

/* One tracker change for the recorder, with what it needs from the camera and, for a new visit, the frame. */
typedef struct rec_job {
	face_track_change ch; /* .best and .mean_embedding are not carried (NULL) */
	float *face;          /* STARTED and ENDED: a copy of .mean_embedding (malloc'd; NULL when none) */
	int face_dim;
	int64_t camera_id;
	int alert_unknown;
	video_frame *frame; /* STARTED: a reference to the frame the track was confirmed on; NULL otherwise */
} rec_job;

typedef struct cam {
	struct cam *next;
	struct watch *owner;
	store_camera conf;
	video_camera *reader;
	face_tracker *tracker;
	int busy;    /* a worker holds it (watch lock) */
	int removed; /* stopped by watch_sync; freed once no worker holds it */
	int64_t last_ts;
	int64_t next_scan_ms;   /* frame time of the next full scan */
	int scan_part;          /* the part of the scan in progress that the next frame searches; -1 = none */
	uint64_t gallery_epoch; /* the gallery change its tracker's matches were last made against */
	int64_t lease_until;    /* mien_wall_ms until which this node's lease is known to run */

	pthread_mutex_t view_lock; /* what the live view and the cameras API read */
	uint64_t analysed;
	int64_t analysed_at[FPS_RING]; /* mien_mono_ms of the latest analyses, a ring (0 = unused) */
	size_t analysed_next;
	int64_t analysed_first; /* the first analysis, so that a young camera's rate is not diluted */
	video_frame *view_frame;
	face_result view_faces[MAX_FACES];
	int64_t view_tracks[MAX_FACES];
	char view_names[MAX_FACES][STORE_NAME_MAX];
	int n_view;
	int live_tracks;
} cam;

typedef struct worker {
	struct watch *w;
	pthread_t thread;
	int thread_started;
	float threshold; /* this worker's copy of the recognition threshold */
	int64_t threshold_at;
	nn_pool *pool;
	face_analyzer *analyzer;
	face_result *faces;
	face_track_peek peeks[MAX_FACES];
	float regions[MAX_FACES][4];
	struct {
		int64_t person_id, at_ms;
		char name[STORE_NAME_MAX];
	} names[NAME_CACHE]; /* recently shown people, so that a frame does not wait on the store for each face */
} worker;

struct watch {
	store *db;
	bus *bus;
	watch_options options;
	char models[1024];
	pthread_mutex_t lock;
	cam *cams;
	worker *workers;
	int n_workers;
	atomic_int stop;
	int sub_id;
	pthread_mutex_t gallery_lock; /* guards creating the index; the index itself is thread-safe */
	gallery *index;
	store_gallery_syncer *syncer; /* the index follows enrolments and erasures by other processes (NULL: off) */
	char model[STORE_MODEL_MAX];
	int dim;
	pthread_mutex_t sync_lock; /* one watch_sync at a time (lease ticks and camera changes) */
	int64_t lease_ms;
	pthread_t leaser;
	int leaser_started;
	_Atomic uint64_t frames, events, alerts;
	_Atomic uint64_t gallery_epoch; /* counts gallery changes applied */
	/* the recorder: stores and publishes events and alerts off the analysis workers (a write may wait for the
	 * disk; analysis should not) */
	pthread_mutex_t rec_lock;
	pthread_cond_t rec_ready, rec_space;
	rec_job *rec; /* ring of REC_QUEUE jobs */
	size_t rec_head, rec_n;
	int rec_stop; /* set once every producer has stopped: drain, then end */
	pthread_t recorder;
	int recorder_started;
	visit *visits; /* open visits of every camera (the recorder's alone) */
	size_t n_visits, visits_cap;
	watch_visitors *visitors;   /* unknown visitors grouped into identities (the recorder's alone) */
	_Atomic uint64_t ignored;   /* visits of dismissed identities that made no event */
	_Atomic int64_t analyse_us; /* exponential mean, microseconds */
};

/* --- publishing ------------------------------------------------------------------------------------------ */

static void publish(watch *w, int kind, int64_t camera_id, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	mien_error err = { 0 };
	if (text && bus_publish(w->bus, kind, camera_id, text, &err) != MIEN_OK && err.code != MIEN_EUNAVAILABLE)
		mien_log(MIEN_LOG_WARN, "watch", "publish: %s", err.message);
	free(text);
}

/* Called on the camera's reader thread: the new status goes to the dashboards. */
static void on_status(void *ctx, video_camera *reader, int old_status, int new_status, const char *error)
{
	(void)reader;
	cam *c = ctx;
	mien_log(new_status == VIDEO_STATUS_ONLINE ? MIEN_LOG_INFO : MIEN_LOG_WARN, "watch",
	         "camera %lld: %s -> %s%s%s", (long long)c->conf.id, video_status_name(old_status),
	         video_status_name(new_status), error && *error ? ": " : "", error ? error : "");
	publish(c->owner, BUS_CAMERA, c->conf.id,
	        json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)c->conf.id, "name", c->conf.name, "status",
	                  video_status_name(new_status), "error", error ? error : ""));
}

/* --- the gallery ----------------------------------------------------------------------------------------- */

float watch_recognition_threshold(store *db, const char *model)
{
	char value[64];
	float t = face_default_threshold(model);
	if (store_setting_get(db, "recognition_threshold", value, sizeof(value), NULL) == MIEN_OK) {
		char *end;
		float v = strtof(value, &end);
		if (!*end && v > 0 && v < 1)
			t = v;
	}
	return t;
}

/* The threshold, re-read every THRESHOLD_TTL_MS. Each worker keeps its own copy, so workers never write shared
 * memory for it. */
static float threshold(worker *wk)
{
	int64_t now = mien_mono_ms();
	if (!wk->threshold_at || now - wk->threshold_at >= THRESHOLD_TTL_MS) {
		wk->threshold = watch_recognition_threshold(wk->w->db, wk->w->model);
		wk->threshold_at = now;
	}
	return wk->threshold;
}

/* The gallery syncer changed the index (another process enrolled or erased): trackers match again, as after a
 * bus message. */
static void on_synced(void *ctx, size_t added, size_t removed)
{
	(void)added;
	(void)removed;
	watch *w = ctx;
	atomic_fetch_add(&w->gallery_epoch, 1);
}

/* Applies an enrollment or erasure announced on the bus (by this node's API or another node). */
static void on_gallery(void *ctx, const bus_message *m)
{
	watch *w = ctx;
	if (m->kind == BUS_CAMERA && strstr(m->json, "\"changed\"")) {
		/* A camera was created, changed or deleted (here or on another node): run what the store says. */
		mien_error err = { 0 };
		if (watch_sync(w, &err) != MIEN_OK)
			mien_log(MIEN_LOG_WARN, "watch", "camera sync: %s", err.message);
		return;
	}
	if (m->kind != BUS_GALLERY)
		return;
	json_t *change = json_loads(m->json, 0, NULL);
	mien_error err = { 0 };
	pthread_mutex_lock(&w->gallery_lock);
	if (change && w->index && watch_gallery_apply(w->index, change, &err) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "watch", "gallery: %s", err.message);
	pthread_mutex_unlock(&w->gallery_lock);
	atomic_fetch_add(&w->gallery_epoch, 1);
	json_decref(change);
}

/* --- visits and events ------------------------------------------------------------------------------------ */

static visit *find_visit(watch *w, int64_t camera_id, int64_t track_id)
{
	for (size_t i = 0; i < w->n_visits; i++)
		if (w->visits[i].camera_id == camera_id && w->visits[i].track_id == track_id)
			return &w->visits[i];
	return NULL;
}

static void end_visit(watch *w, visit *v)
{
	*v = w->visits[--w->n_visits];
}

static void event_from_change(int64_t camera_id, const face_track_change *ch, store_event *e)
{
	e->camera_id = camera_id;
	e->track_id = ch->track_id;
	e->person_id = ch->person_id;
	e->similarity = ch->similarity;
	e->started_at = ch->first_ms;
	memcpy(e->box, ch->box, sizeof(e->box));
	e->quality = ch->best_quality;
	e->dominant_expression[0] = '\0';
	if (ch->has_expression && ch->dominant_expression >= 0) {
		memcpy(e->expression, ch->expression, sizeof(e->expression));
		snprintf(e->dominant_expression, sizeof(e->dominant_expression), "%s",
		         store_expression_names[ch->dominant_expression]);
	}
}

static void publish_event(watch *w, const store_event *e)
{
	store_event full;
	mien_error err = { 0 };
	/* Read it back so the message carries exactly what the API would answer (the person's name included). */
	if (store_event_get(w->db, e->id, &full, &err) == MIEN_OK)
		publish(w, BUS_EVENT, e->camera_id, watch_event_json(&full, 1));
}

/* A whole-number setting, or `fallback` when it is unset or unreadable (the API validated it on the way in). */
static int int_setting(store *db, const char *key, int fallback)
{
	char value[32];
	if (store_setting_get(db, key, value, sizeof(value), NULL) != MIEN_OK)
		return fallback;
	char *end;
	long v = strtol(value, &end, 10);
	return *end || v < 0 || v > 65535 ? fallback : (int)v;
}

/* The alert cooldown in ms: the `alert_cooldown_minutes` setting (default 10; 0 = an alert for every visit). */
static int64_t alert_cooldown_ms(store *db)
{
	return (int64_t)int_setting(db, "alert_cooldown_minutes", WATCH_ALERT_COOLDOWN_MIN) * 60000;
}

/* Raises an alert of `kind` for event `event_id`. Within the cooldown of the last alert of that kind for the same
 * person (or unknown faces) at the same camera, the visit is counted on that alert instead, so someone standing in
 * view is one alert, not one per visit; the alert is published again with its new count. Returns 1 when raised or
 * counted. */
static int raise_alert(watch *w, int64_t camera_id, int64_t event_id, const char *kind, int64_t rule_id)
{
	store_alert a = { .event_id = event_id, .rule_id = rule_id };
	snprintf(a.kind, sizeof(a.kind), "%s", kind);
	mien_error err = { 0 };
	int64_t now = mien_wall_ms(), cooldown = alert_cooldown_ms(w->db);
	int rc = cooldown > 0 ? store_alert_repeat(w->db, event_id, kind, now - cooldown, now, &a, &err) : MIEN_ENOENT;
	int repeated = rc == MIEN_OK;
	if (rc == MIEN_ENOENT)
		rc = store_alert_create(w->db, &a, &err);
	if (rc != MIEN_OK) {
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld: alert: %s", (long long)camera_id, err.message);
		return 0;
	}
	if (!repeated)
		atomic_fetch_add(&w->alerts, 1);
	store_event e;
	if (store_event_get(w->db, event_id, &e, &err) == MIEN_OK && !e.alert) {
		e.alert = 1;
		store_event_update(w->db, &e, NULL, 0, NULL, 0, &err);
	}
	publish(w, BUS_ALERT, camera_id, watch_alert_json(&a));
	return 1;
}

/* Raises an alert for the visit when its person is on the watchlist, or when it is an unknown face on a camera
 * that asks for those (alert_unknown) or that an enabled "unknown" alert rule covers at this time of day. */
static void maybe_alert(watch *w, const rec_job *job, visit *v)
{
	if (v->alerted)
		return;
	const char *kind = NULL;
	int64_t rule_id = 0;
	store_person p;
	store_alert_rule rule;
	mien_error err = { 0 };
	if (v->person_id && store_person_get(w->db, v->person_id, &p, &err) == MIEN_OK && p.watchlist)
		kind = "watchlist";
	else if (!v->person_id && job->alert_unknown)
		kind = "unknown";
	else if (!v->person_id && watch_rule_match(w->db, STORE_RULE_UNKNOWN, job->camera_id, 0, mien_wall_ms(), &rule,
	                                           &err) == MIEN_OK) {
		kind = "unknown";
		rule_id = rule.id;
	}
	if (kind && raise_alert(w, job->camera_id, v->event_id, kind, rule_id))
		v->alerted = 1;
}

/* A decoded frame seen as a picture (no copy). */
static face_image frame_view(const video_frame *f)
{
	return (face_image){ .width = f->width,
		             .height = f->height,
		             .stride = f->stride,
		             .pixels = f->pixels,
		             .source_channels = 3,
		             .source_bits = 8,
		             .orientation = 1 };
}

/* The frame as a JPEG no wider than the `snapshot_width` setting, at `snapshot_quality`; read for each event, so
 * a change applies to the next one. *jpeg stays NULL when the setting is 0 (no snapshot). */
static int snapshot_jpeg(store *db, const face_image *frame, uint8_t **jpeg, size_t *len, mien_error *err)
{
	int width = int_setting(db, "snapshot_width", WATCH_SNAPSHOT_WIDTH);
	int quality = int_setting(db, "snapshot_quality", WATCH_SNAPSHOT_QUALITY);
	if (quality < 1 || quality > 100)
		quality = WATCH_SNAPSHOT_QUALITY;
	if (width == 0)
		return MIEN_OK;
	if (frame->width <= width)
		return face_image_encode_jpeg(frame, quality, jpeg, len, err);
	face_image *small = NULL;
	int h = (int)lroundf((float)frame->height * (float)width / (float)frame->width);
	int rc = face_image_crop(frame, 0, 0, (float)frame->width, (float)frame->height, width, h > 0 ? h : 1, &small,
	                         err);
	if (rc == MIEN_OK)
		rc = face_image_encode_jpeg(small, quality, jpeg, len, err);
	face_image_free(&small);
	return rc;
}

/* The event's pictures from the frame of a change: the snapshot (snapshot_width, snapshot_quality) and the face
 * crop at the change's box, which becomes the event's box with the frame's size. Pictures that fail are logged and
 * left NULL. */
static void take_pictures(watch *w, const rec_job *job, store_event *e, uint8_t **snap, size_t *snap_len,
                          uint8_t **thumb, size_t *thumb_len)
{
	mien_error err = { 0 };
	face_image frame = frame_view(job->frame);
	face_result here = { 0 };
	memcpy(here.box, job->ch.box, sizeof(here.box)); /* where the face is in this frame */
	memcpy(e->box, job->ch.box, sizeof(e->box));
	e->frame[0] = frame.width;
	e->frame[1] = frame.height;
	if (snapshot_jpeg(w->db, &frame, snap, snap_len, &err) != MIEN_OK ||
	    face_thumbnail(&frame, &here, THUMB_SIDE, thumb, thumb_len, &err) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld: pictures: %s", (long long)job->camera_id, err.message);
}

/* At a visit's end: the event keeps its face (for face search), and an unknown face is grouped into an identity
 * (e->unknown_id). Returns 1 when the face is a dismissed identity's: the event is deleted then. */
static int keep_face(watch *w, const rec_job *job, store_event *e)
{
	if (!job->face)
		return 0;
	mien_error err = { 0 };
	if (store_event_set_embedding(w->db, e->id, w->model, job->face, job->face_dim, &err) != MIEN_OK) {
		mien_log(MIEN_LOG_WARN, "watch", "event %lld: face: %s", (long long)e->id, err.message);
		return 0;
	}
	if (e->person_id || !w->visitors)
		return 0;
	int dismissed = 0;
	int64_t unknown_id = 0;
	if (watch_visitors_group(w->visitors, e->id, job->face, job->face_dim, e->started_at, &unknown_id, &dismissed,
	                         &err) != MIEN_OK) {
		mien_log(MIEN_LOG_WARN, "watch", "event %lld: unknown identity: %s", (long long)e->id, err.message);
		return 0;
	}
	if (dismissed) {
		atomic_fetch_add(&w->ignored, 1);
		if (store_event_delete(w->db, e->id, &err) != MIEN_OK)
			mien_log(MIEN_LOG_WARN, "watch", "event %lld: %s", (long long)e->id, err.message);
		return 1;
	}
	e->unknown_id = unknown_id;
	return 0;
}

/* A repeat visitor: an alert rule asks for an unknown identity seen at least N times in D days. Raised when the
 * visit has been grouped (at its end), with the cooldown of the other alerts. */
static void maybe_alert_repeat(watch *w, const rec_job *job, const store_event *e)
{
	store_alert_rule rule;
	mien_error err = { 0 };
	if (watch_rule_match(w->db, STORE_RULE_REPEAT_UNKNOWN, job->camera_id, e->unknown_id, mien_wall_ms(), &rule,
	                     &err) != MIEN_OK)
		return;
	raise_alert(w, job->camera_id, e->id, "repeat_unknown", rule.id);
}

/* The recorder's work for one change: a new visit's event (with its snapshot and thumbnail), an identity settled
 * (new pictures, from the frame the person was recognised in), a visit closed. */
static void record(watch *w, const rec_job *job)
{
	mien_error err = { 0 };
	store_event e = { 0 };
	const face_track_change *ch = &job->ch;
	long long camera = (long long)job->camera_id;
	visit *v = find_visit(w, job->camera_id, ch->track_id);
	if (ch->kind == FACE_TRACK_STARTED && v) {
		/* cannot happen with unique track ids; were it to, the new track's changes belong to the new event */
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld: track %lld started again; its old visit is closed",
		         camera, (long long)ch->track_id);
		end_visit(w, v);
		v = NULL;
	}
	if (ch->kind == FACE_TRACK_STARTED) {
		if (w->n_visits == w->visits_cap) {
			size_t cap = w->visits_cap ? 2 * w->visits_cap : 64;
			visit *grown = realloc(w->visits, cap * sizeof(*grown));
			if (!grown) {
				mien_log(MIEN_LOG_WARN, "watch", "camera %lld: event: out of memory", camera);
				return;
			}
			w->visits = grown;
			w->visits_cap = cap;
		}
		if (!ch->person_id && job->face && w->visitors &&
		    watch_visitors_dismissed(w->visitors, job->face, job->face_dim)) {
			/* a face the operator dismissed (a poster, a television): no event, no alert */
			w->visits[w->n_visits++] = (visit){ job->camera_id, ch->track_id, 0, 0, 0, 1 };
			atomic_fetch_add(&w->ignored, 1);
			return;
		}
		event_from_change(job->camera_id, ch, &e);
		uint8_t *snap = NULL, *thumb = NULL;
		size_t snap_len = 0, thumb_len = 0;
		if (job->frame)
			take_pictures(w, job, &e, &snap, &snap_len, &thumb, &thumb_len);
		int rc = store_event_create(w->db, &e, snap, snap_len, thumb, thumb_len, &err);
		free(snap);
		free(thumb);
		if (rc != MIEN_OK) {
			mien_log(MIEN_LOG_WARN, "watch", "camera %lld: event: %s", camera, err.message);
			return;
		}
		/* The face the visit starts with (then its mean so far at each identity change), so that a face search
		 * can start from a visit still going on; the whole visit's mean replaces it when the visit ends
		 * (keep_face), and only then does the face search's index take the event (store.h, "Event faces"). */
		if (job->face &&
		    store_event_set_embedding(w->db, e.id, w->model, job->face, job->face_dim, &err) != MIEN_OK)
			mien_log(MIEN_LOG_WARN, "watch", "event %lld: face: %s", (long long)e.id, err.message);
		v = &w->visits[w->n_visits++];
		*v = (visit){ job->camera_id, ch->track_id, e.id, ch->person_id, 0, 0 };
		atomic_fetch_add(&w->events, 1);
		publish_event(w, &e);
		maybe_alert(w, job, v);
		return;
	}
	if (!v)
		return; /* a visit whose event could not be stored */
	if (v->ignored) {
		if (ch->kind == FACE_TRACK_ENDED)
			end_visit(w, v);
		return;
	}
	if (store_event_get(w->db, v->event_id, &e, &err) != MIEN_OK) {
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld: event %lld: %s", camera, (long long)v->event_id,
		         err.message);
		if (ch->kind == FACE_TRACK_ENDED)
			end_visit(w, v);
		return;
	}
	int alert = e.alert;
	int64_t started = e.started_at;
	float snapshot_box[4]; /* the box stays where the snapshot shows the face */
	int snapshot_frame[2];
	memcpy(snapshot_box, e.box, sizeof(snapshot_box));
	memcpy(snapshot_frame, e.frame, sizeof(snapshot_frame));
	event_from_change(job->camera_id, ch, &e);
	e.started_at = started;
	e.alert = alert;
	memcpy(e.box, snapshot_box, sizeof(e.box));
	memcpy(e.frame, snapshot_frame, sizeof(e.frame));
	if (ch->kind == FACE_TRACK_ENDED) {
		e.ended_at = ch->last_ms > started ? ch->last_ms : started + 1;
		if (keep_face(w, job, &e) == 1) {
			end_visit(w, v);
			return; /* a dismissed identity's face: its event is gone */
		}
	} else if (job->face &&
	           store_event_set_embedding(w->db, e.id, w->model, job->face, job->face_dim, &err) != MIEN_OK) {
		mien_log(MIEN_LOG_WARN, "watch", "event %lld: face: %s", (long long)e.id, err.message);
	}
	/* A person recognised: the pictures show the face they were recognised by, in the frame it happened, rather
	 * than whatever the track started on (a track can carry over a scene cut before its face is embedded again). */
	uint8_t *snap = NULL, *thumb = NULL;
	size_t snap_len = 0, thumb_len = 0;
	if (job->frame)
		take_pictures(w, job, &e, &snap, &snap_len, &thumb, &thumb_len);
	int rc = store_event_update(w->db, &e, snap, snap_len, thumb, thumb_len, &err);
	free(snap);
	free(thumb);
	if (rc != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld: event %lld: %s", camera, (long long)e.id, err.message);
	else
		publish_event(w, &e);
	/* any change that gives the visit a person may raise its alert (the tracker reports identity changes as
	 * FACE_TRACK_IDENTITY, also just before an end) */
	int new_person = ch->person_id != v->person_id;
	v->person_id = ch->person_id;
	if (ch->kind == FACE_TRACK_IDENTITY || new_person)
		maybe_alert(w, job, v);
	if (ch->kind == FACE_TRACK_ENDED) {
		if (!e.person_id && e.unknown_id)
			maybe_alert_repeat(w, job, &e);
		end_visit(w, v);
	}
}

/* Hands a change to the recorder (on a worker, or wherever a camera stops); `frame` may be NULL. Waits while the
 * queue is full: events are not dropped. */
static void on_change(watch *w, cam *c, video_frame *frame, const face_track_change *ch)
{
	rec_job job = { .ch = *ch, .camera_id = c->conf.id, .alert_unknown = c->conf.alert_unknown };
	job.ch.best = NULL;
	job.ch.mean_embedding = NULL;
	if (ch->mean_embedding) { /* at every change: the visit's face so far, which record() keeps on its event */
		job.face = malloc((size_t)ch->mean_embedding_dim * sizeof(float));
		if (job.face) {
			memcpy(job.face, ch->mean_embedding, (size_t)ch->mean_embedding_dim * sizeof(float));
			job.face_dim = ch->mean_embedding_dim;
		}
	}
	/* the frame travels with a start, and with an identity gained by a face in this very frame (its pictures are
	 * taken again; a track unseen now is not in the frame) */
	int pictures = ch->kind == FACE_TRACK_STARTED ||
	               (ch->kind == FACE_TRACK_IDENTITY && ch->person_id && ch->last_ms == c->last_ts);
	job.frame = pictures && frame ? video_frame_ref(frame) : NULL;
	pthread_mutex_lock(&w->rec_lock);
	while (w->rec_n == REC_QUEUE && !w->rec_stop)
		pthread_cond_wait(&w->rec_space, &w->rec_lock);
	if (w->rec_stop) { /* never after watch_stop has stopped every producer; kept safe all the same */
		pthread_mutex_unlock(&w->rec_lock);
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld: a change after the recorder stopped is dropped",
		         (long long)job.camera_id);
		video_frame_unref(&job.frame);
		free(job.face);
		return;
	}
	w->rec[(w->rec_head + w->rec_n++) % REC_QUEUE] = job;
	pthread_cond_signal(&w->rec_ready);
	pthread_mutex_unlock(&w->rec_lock);
}

static void *recorder_main(void *arg)
{
	watch *w = arg;
	pthread_mutex_lock(&w->rec_lock);
	for (;;) {
		while (w->rec_n == 0 && !w->rec_stop) {
			/* wake each second for the unknown identities' upkeep (re-reading them, the merge pass) */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			if (pthread_cond_timedwait(&w->rec_ready, &w->rec_lock, &until) != 0 && w->visitors) {
				pthread_mutex_unlock(&w->rec_lock);
				watch_visitors_tick(w->visitors, mien_mono_ms());
				pthread_mutex_lock(&w->rec_lock);
			}
		}
		if (w->rec_n == 0)
			break; /* stopping, and drained */
		rec_job job = w->rec[w->rec_head];
		w->rec_head = (w->rec_head + 1) % REC_QUEUE;
		w->rec_n--;
		pthread_cond_signal(&w->rec_space);
		pthread_mutex_unlock(&w->rec_lock);
		record(w, &job);
		video_frame_unref(&job.frame);
		free(job.face);
		pthread_mutex_lock(&w->rec_lock);
	}
	pthread_mutex_unlock(&w->rec_lock);
	return NULL;
}

/* --- analysis ---------------------------------------------------------------------------------------------- */

static json_t *face_message(watch *w, const cam *c, const video_frame *f, const face_result *faces,
                            const int64_t *tracks, const face_track_match *matches, char (*names)[STORE_NAME_MAX],
                            size_t n)
{
	(void)w;
	char ts[32];
	watch_iso_time(f->wall_ms, ts);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		const face_result *r = &faces[i];
		json_t *o =
		        json_pack("{s:[f,f,f,f],s:I,s:o,s:f,s:f}", "box", r->box[0], r->box[1], r->box[2], r->box[3],
		                  "track_id", (json_int_t)tracks[i], "person",
		                  matches[i].person_id ? json_pack("{s:I,s:s}", "id", (json_int_t)matches[i].person_id,
		                                                   "name", names[i])
		                                       : json_null(),
		                  "similarity", (double)matches[i].similarity, "quality", (double)r->quality);
		if (o && r->has_expression) {
			json_t *x = json_object();
			for (int k = 0; k < FACE_EXPRESSIONS; k++)
				json_object_set_new(x, face_expression_names[k], json_real(r->expression[k]));
			json_object_set_new(o, "expression", x);
			json_object_set_new(o, "dominant_expression",
			                    json_string(face_expression_names[face_dominant_expression(r)]));
		}
		json_array_append_new(list, o);
	}
	return json_pack("{s:I,s:s,s:i,s:i,s:o}", "camera_id", (json_int_t)c->conf.id, "ts", ts, "width", f->width,
	                 "height", f->height, "faces", list);
}

/* A face's best gallery match at the recognition threshold; {0, 0} when none. `ctx` is the worker (the signature
 * is face_tracker_rematch's matcher). */
static face_track_match match_face(void *ctx, const face_result *r)
{
	worker *wk = ctx;
	watch *w = wk->w;
	gallery_hit hit;
	mien_error err = { 0 };
	if (r->embedding_model && w->index &&
	    gallery_identify(w->index, r->embedding, r->embedding_dim, r->embedding_model, threshold(wk), &hit, &err) ==
	            MIEN_OK &&
	    hit.person_id)
		return (face_track_match){ hit.person_id, hit.similarity };
	return (face_track_match){ 0, 0 };
}

/* The name of a person to show; 0 when the person is gone. */
static int person_name(worker *wk, int64_t person_id, char *name, size_t size)
{
	int64_t now = mien_mono_ms();
	int slot = 0;
	for (int i = 0; i < NAME_CACHE; i++) {
		if (wk->names[i].person_id == person_id && now - wk->names[i].at_ms < NAME_TTL_MS) {
			snprintf(name, size, "%s", wk->names[i].name);
			return 1;
		}
		if (wk->names[i].at_ms < wk->names[slot].at_ms)
			slot = i; /* the oldest entry gives way */
	}
	store_person p;
	mien_error err = { 0 };
	if (store_person_get(wk->w->db, person_id, &p, &err) != MIEN_OK)
		return 0;
	wk->names[slot].person_id = person_id;
	wk->names[slot].at_ms = now;
	snprintf(wk->names[slot].name, sizeof(wk->names[slot].name), "%s", p.name);
	snprintf(name, size, "%s", p.name);
	return 1;
}

/* Which of the costly stages a located face needs. A face the tracker cannot place starts a tentative track that
 * may never be confirmed (a false detection, a face that turns away), so it gets nothing yet, unless its embedding
 * could re-link it to a track lost a moment ago. A tracked face gets an embedding while its track has fewer than
 * VOTERS_MIN votes, when it beats the track's worst kept face by QUALITY_STEP (a person walking towards a camera
 * improves a little every frame), or when the last one is REEMBED_MS old; expressions every REEXPRESS_MS. */
static unsigned wanted(const face_track_peek *p, const face_result *f, int64_t ts)
{
	if (!p->track_id)
		return p->could_relink ? FACE_WANT_EMBEDDING : 0;
	unsigned want = FACE_WANT_ONE_LOOK;
	if (p->kept < VOTERS_MIN || (p->would_keep && f->quality >= p->worst_kept_quality + QUALITY_STEP) ||
	    !p->embedded_ms || ts - p->embedded_ms >= REEMBED_MS)
		want |= FACE_WANT_EMBEDDING;
	if (!p->expression_ms || ts - p->expression_ms >= REEXPRESS_MS)
		want |= FACE_WANT_EXPRESSION;
	return want;
}

/*
 * Finds and describes the faces of one frame. With scanning on (scan_ms > 0) every frame is searched around the
 * camera's live tracks, and every scan_ms a search of the whole picture starts, spread over SCAN_PARTS frames; a
 * face the tracker can place gets its embedding and expressions only when they can change something (wanted).
 * With scanning off every frame gets the whole photo pipeline.
 */
static int locate_and_describe(worker *wk, cam *c, const face_image *view, int64_t ts, size_t *n_out, mien_error *err)
{
	watch *w = wk->w;
	size_t count = 0;
	*n_out = 0;
	if (w->options.scan_ms < 0) {
		int rc = face_analyze(wk->analyzer, view, wk->faces, MAX_FACES, &count, err);
		if (rc == MIEN_OK)
			*n_out = count < MAX_FACES ? count : MAX_FACES;
		for (size_t i = 0; i < *n_out; i++)
			wk->peeks[i] = (face_track_peek){ 0 };
		return rc;
	}
	if (c->scan_part < 0 && ts >= c->next_scan_ms) {
		/* cameras start at different offsets, so that their scans do not all land on the same frame */
		int64_t offset = c->next_scan_ms ? 0 : (c->conf.id * 211) % w->options.scan_ms;
		c->next_scan_ms = ts + w->options.scan_ms - offset;
		c->scan_part = 0;
	}
	int part = c->scan_part;
	if (part >= 0)
		c->scan_part = part + 1 < SCAN_PARTS ? part + 1 : -1;
	size_t n_regions = face_tracker_predicted(c->tracker, ts, wk->regions, MAX_FACES);
	if (n_regions == 0 && part < 0)
		return MIEN_OK;
	int rc = face_analyze_locate(wk->analyzer, view, (const float(*)[4])wk->regions, n_regions, part, SCAN_PARTS,
	                             wk->faces, MAX_FACES, &count, err);
	if (rc != MIEN_OK)
		return rc;
	size_t n = count < MAX_FACES ? count : MAX_FACES;
	if ((rc = face_tracker_peek(c->tracker, ts, wk->faces, n, wk->peeks)) != MIEN_OK)
		return mien_error_set(err, rc, "tracker: peek");
	for (size_t i = 0; i < n; i++) {
		if ((rc = face_analyze_describe(wk->analyzer, view, &wk->faces[i],
		                                wanted(&wk->peeks[i], &wk->faces[i], ts), err)))
			return rc;
	}
	*n_out = n;
	return MIEN_OK;
}

static void analyse(worker *wk, cam *c, video_frame *f)
{
	watch *w = wk->w;
	face_image view = frame_view(f);
	mien_error err = { 0 };
	size_t n = 0;
	int64_t t0 = mien_mono_ms();
	/* The tracker wants time that never goes back; the wall clock can. */
	int64_t ts = f->wall_ms > c->last_ts ? f->wall_ms : c->last_ts;
	/* Someone was enrolled or erased since this camera's tracks were matched: match their kept faces again. */
	uint64_t epoch = atomic_load(&w->gallery_epoch);
	if (c->gallery_epoch != epoch) {
		face_tracker_rematch(c->tracker, match_face, wk);
		c->gallery_epoch = epoch;
	}
	if (locate_and_describe(wk, c, &view, ts, &n, &err) != MIEN_OK) {
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld: %s", (long long)c->conf.id, err.message);
		return;
	}
	face_track_match matches[MAX_FACES], shown[MAX_FACES];
	int64_t tracks[MAX_FACES];
	char names[MAX_FACES][STORE_NAME_MAX];
	for (size_t i = 0; i < n; i++) {
		names[i][0] = '\0';
		const face_result *r = &wk->faces[i];
		matches[i] = match_face(wk, r);
		/* a face that was not embedded now shows its track's identity */
		shown[i] = r->embedding_model ? matches[i]
		                              : (face_track_match){ wk->peeks[i].person_id, wk->peeks[i].similarity };
		if (!shown[i].person_id || !person_name(wk, shown[i].person_id, names[i], sizeof(names[i])))
			shown[i] = (face_track_match){ 0, 0 };
	}
	c->last_ts = ts;
	const face_track_change *changes = NULL;
	size_t n_changes = 0;
	if (face_tracker_update(c->tracker, ts, wk->faces, matches, n, tracks, &changes, &n_changes, &err) != MIEN_OK) {
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld: tracker: %s", (long long)c->conf.id, err.message);
		return;
	}
	mien_log(MIEN_LOG_DEBUG, "watch", "camera %lld: frame %llu at %lld: %zu faces, %zu changes, %zu live",
	         (long long)c->conf.id, (unsigned long long)f->seq, (long long)ts, n, n_changes,
	         face_tracker_live(c->tracker));
	for (size_t i = 0; i < n_changes; i++)
		on_change(w, c, f, &changes[i]);
	/* a face whose expressions were not read now shows its track's mean (after the tracker has counted the
	 * frame, so the mean is not fed back into itself) */
	for (size_t i = 0; i < n; i++) {
		face_result *r = &wk->faces[i];
		if (!r->has_expression && wk->peeks[i].has_expression && wk->peeks[i].track_id == tracks[i]) {
			memcpy(r->expression, wk->peeks[i].expression, sizeof(r->expression));
			r->has_expression = 1;
		}
	}
	publish(w, BUS_FACE, c->conf.id, face_message(w, c, f, wk->faces, tracks, shown, names, n));

	pthread_mutex_lock(&c->view_lock);
	video_frame_unref(&c->view_frame);
	c->view_frame = video_frame_ref(f);
	memcpy(c->view_faces, wk->faces, n * sizeof(face_result));
	memcpy(c->view_tracks, tracks, n * sizeof(int64_t));
	memcpy(c->view_names, names, n * sizeof(names[0]));
	c->n_view = (int)n;
	c->live_tracks = (int)face_tracker_live(c->tracker);
	int64_t now = mien_mono_ms();
	c->analysed++;
	c->analysed_at[c->analysed_next] = now;
	c->analysed_next = (c->analysed_next + 1) % FPS_RING;
	if (!c->analysed_first)
		c->analysed_first = now;
	pthread_mutex_unlock(&c->view_lock);

	atomic_fetch_add(&w->frames, 1);
	int64_t us = (now - t0) * 1000, mean = atomic_load(&w->analyse_us);
	atomic_store(&w->analyse_us, mean ? mean + (us - mean) / 16 : us);
}

/* Closes every open visit of a camera (it stops, or the watch does). */
static void flush_camera(watch *w, cam *c)
{
	const face_track_change *changes = NULL;
	size_t n = 0;
	mien_error err = { 0 };
	if (!c->tracker ||
	    face_tracker_flush(c->tracker, c->last_ts ? c->last_ts : mien_wall_ms(), &changes, &n, &err) != MIEN_OK)
		return;
	for (size_t i = 0; i < n; i++)
		on_change(w, c, NULL, &changes[i]);
}

/* Takes the camera whose frame has been due longest among those no worker holds, so that under load every
 * camera falls behind alike instead of some keeping their rate while others lose theirs. NULL when none is due;
 * *next_due then says when the first one will be (INT64_MAX: none has a new frame). */
static cam *take_camera(watch *w, int64_t *next_due)
{
	int64_t now = mien_mono_ms(), best_due = INT64_MAX;
	cam *found = NULL;
	pthread_mutex_lock(&w->lock);
	for (cam *c = w->cams; c; c = c->next) {
		if (c->busy || c->removed || !c->reader)
			continue;
		int64_t due = video_camera_due_ms(c->reader);
		if (due < best_due) {
			best_due = due;
			found = c;
		}
	}
	if (found && best_due <= now)
		found->busy = 1;
	else
		found = NULL;
	pthread_mutex_unlock(&w->lock);
	*next_due = best_due;
	return found;
}

static void release_camera(watch *w, cam *c)
{
	pthread_mutex_lock(&w->lock);
	c->busy = 0;
	pthread_mutex_unlock(&w->lock);
}

static void *worker_main(void *arg)
{
	worker *wk = arg;
	watch *w = wk->w;
	while (!atomic_load(&w->stop)) {
		int64_t next_due = INT64_MAX;
		cam *c = take_camera(w, &next_due);
		video_frame *f = NULL;
		if (c && video_camera_next(c->reader, 0, &f) == MIEN_OK) {
			analyse(wk, c, f);
			video_frame_unref(&f);
		}
		if (c) {
			release_camera(w, c);
			continue;
		}
		/* Nothing due: rest until the first camera is (at most IDLE_SLEEP_MS, so new frames and new cameras
		 * are noticed). */
		int64_t wait = next_due == INT64_MAX ? IDLE_SLEEP_MS : next_due - mien_mono_ms();
		wait = wait < 1 ? 1 : wait > IDLE_SLEEP_MS ? IDLE_SLEEP_MS : wait;
		struct timespec ts = { 0, wait * 1000000L };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* --- cameras ------------------------------------------------------------------------------------------------ */

static void free_camera(cam **cp)
{
	cam *c = *cp;
	if (!c)
		return;
	video_camera_free(&c->reader);
	face_tracker_free(&c->tracker);
	video_frame_unref(&c->view_frame);
	pthread_mutex_destroy(&c->view_lock);
	free(c);
	*cp = NULL;
}

/* A camera record turned into a running reader and tracker; NULL when it cannot start (logged). */
static cam *start_camera(watch *w, const store_camera *conf)
{
	cam *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->scan_part = -1;
	c->owner = w;
	c->conf = *conf;
	pthread_mutex_init(&c->view_lock, NULL);
	mien_error err = { 0 };
	face_track_options to;
	face_track_options_default(&to);
	to.lost_ms = w->options.lost_ms;
	/* Similarities are on the embedder's own scale: keep them a little under its same-person threshold. */
	to.veto_similarity = face_default_threshold(w->model) - 0.05f;
	to.relink_similarity = face_default_threshold(w->model);
	/* Track ids stay unique when a camera restarts (an edit, a lease moving to another worker): a visit still
	 * open under an old tracker's id must never receive a new tracker's changes. */
	to.first_track_id = mien_wall_ms() * 1000;
	/* Log lines name the camera as people know it, with its id for the API: "video: camera Front door (3): ...". */
	char name[STORE_NAME_MAX + 32];
	snprintf(name, sizeof(name), "%s (%lld)", conf->name, (long long)conf->id);
	video_options vo;
	video_options_default(&vo);
	vo.url = conf->url;
	vo.name = name;
	vo.max_fps = conf->analysis_fps > 0 ? conf->analysis_fps : 5;
	vo.loop = 1; /* file sources (the demo camera) play in a loop */
	vo.allow_file = w->options.allow_file;
	vo.on_status = on_status;
	vo.on_status_ctx = c;
	int tracker = face_tracker_create(&to, &c->tracker, &err);
	/* A reader starts connecting and reports only changes from there (a camera that never answers would never be
	 * heard of): say so first, before its thread can report anything newer. */
	if (tracker == MIEN_OK)
		publish(w, BUS_CAMERA, conf->id,
		        json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)conf->id, "name", conf->name, "status",
		                  video_status_name(VIDEO_STATUS_RECONNECTING), "error", ""));
	if (tracker != MIEN_OK || video_camera_start(&vo, &c->reader, &err) != MIEN_OK) {
		/* The message shows the URL redacted (video.h). */
		mien_log(MIEN_LOG_WARN, "watch", "camera %lld (%s) not started: %s", (long long)conf->id, conf->name,
		         err.message);
		publish(w, BUS_CAMERA, conf->id,
		        json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)conf->id, "name", conf->name, "status",
		                  "offline", "error", err.message));
		free_camera(&c);
		return NULL;
	}
	return c;
}

/* Unlinks a camera (watch lock held by the caller's caller) and stops it once no worker holds it. */
static void retire_camera(watch *w, cam *c)
{
	pthread_mutex_lock(&w->lock);
	c->removed = 1;
	while (c->busy) {
		pthread_mutex_unlock(&w->lock);
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&w->lock);
	}
	for (cam **p = &w->cams; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	video_camera_stop(c->reader);
	flush_camera(w, c);
	free_camera(&c);
}

static int same_setup(const store_camera *a, const store_camera *b)
{
	return strcmp(a->url, b->url) == 0 && a->analysis_fps == b->analysis_fps;
}

static int sync_locked(watch *w, mien_error *err)
{
	store_camera *list = malloc(STORE_LIST_MAX * sizeof(*list));
	if (!list)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	size_t n = 0, total = 0;
	int64_t after = 0;
	int rc = MIEN_OK;
	/* Every camera record, page by page (kept compact at the front of `list` only for the enabled ones). */
	store_camera *enabled = NULL;
	size_t n_enabled = 0;
	do {
		rc = store_camera_list(w->db, after, list, STORE_LIST_MAX, &n, err);
		if (rc)
			break;
		store_camera *grown = realloc(enabled, (n_enabled + n + 1) * sizeof(*grown));
		if (!grown) {
			rc = mien_error_set(err, MIEN_ENOMEM, "out of memory");
			break;
		}
		enabled = grown;
		for (size_t i = 0; i < n; i++)
			if (list[i].enabled)
				enabled[n_enabled++] = list[i];
		total += n;
		if (n)
			after = list[n - 1].id;
	} while (n == STORE_LIST_MAX);
	free(list);
	if (rc) {
		free(enabled);
		return rc;
	}
	/* Leases: renew ours; a camera whose lease another node now holds, or that we could not renew in time, stops
	 * here, so a camera never runs on two nodes at once. */
	const char *node = bus_node(w->bus);
	int64_t now = mien_wall_ms();
	int64_t workers = 1;
	mien_error lerr = { 0 };
	if (store_node_heartbeat(w->db, node, "worker", now, &lerr) != MIEN_OK ||
	    store_nodes_alive(w->db, "worker", now - w->lease_ms, &workers, &lerr) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "watch", "leases: %s", lerr.message);
	if (workers < 1)
		workers = 1;
	size_t quota = (n_enabled + (size_t)workers - 1) / (size_t)workers;
	size_t running = 0;
	pthread_mutex_lock(&w->lock);
	cam *mine[STORE_LIST_MAX];
	size_t n_mine = 0;
	for (cam *c = w->cams; c && n_mine < STORE_LIST_MAX; c = c->next)
		if (!c->removed)
			mine[n_mine++] = c;
	pthread_mutex_unlock(&w->lock);
	for (size_t k = 0; k < n_mine; k++) {
		cam *c = mine[k];
		int won = 0;
		if (store_lease_claim(w->db, c->conf.id, node, now, w->lease_ms, &won, &lerr) == MIEN_OK) {
			if (won)
				c->lease_until = now + w->lease_ms;
			else
				c->lease_until = 0; /* taken over: stop */
		}
		/* A failed renewal keeps the camera only while the last lease still runs. */
	}
	/* Stop what is gone, disabled, changed, or no longer leased to us. */
	for (;;) {
		cam *stale = NULL;
		pthread_mutex_lock(&w->lock);
		for (cam *c = w->cams; c && !stale; c = c->next) {
			int keep = 0;
			for (size_t i = 0; i < n_enabled; i++)
				if (enabled[i].id == c->conf.id && same_setup(&enabled[i], &c->conf))
					keep = 1;
			if (c->lease_until <= mien_wall_ms())
				keep = 0;
			if (!keep && !c->removed)
				stale = c;
		}
		pthread_mutex_unlock(&w->lock);
		if (!stale)
			break;
		int64_t id = stale->conf.id;
		retire_camera(w, stale);
		store_lease_release(w->db, id, node, &lerr);
	}
	pthread_mutex_lock(&w->lock);
	cam *spare = NULL;
	for (cam *c = w->cams; c; c = c->next) {
		running += !c->removed;
		if (!c->removed)
			spare = c; /* the oldest camera here (new ones are pushed at the front) */
	}
	pthread_mutex_unlock(&w->lock);
	/* More than our share (another worker joined): hand one camera back per round, so the load evens out
	 * without cameras bouncing; the others pick it up on their next round. */
	if (spare && running > quota) {
		int64_t id = spare->conf.id;
		mien_log(MIEN_LOG_INFO, "watch", "camera %lld: handed back (%zu cameras here, share %zu)",
		         (long long)id, running, quota);
		retire_camera(w, spare);
		store_lease_release(w->db, id, node, &lerr);
		running--;
		quota = running; /* do not take another one back in the same round */
	}
	/* Start what is new, up to this node's share; refresh the settings of the others (name, alert_unknown). */
	for (size_t i = 0; i < n_enabled; i++) {
		cam *have = NULL;
		pthread_mutex_lock(&w->lock);
		for (cam *c = w->cams; c; c = c->next)
			if (c->conf.id == enabled[i].id && !c->removed)
				have = c;
		if (have) {
			have->conf.alert_unknown = enabled[i].alert_unknown;
			snprintf(have->conf.name, sizeof(have->conf.name), "%s", enabled[i].name);
		}
		pthread_mutex_unlock(&w->lock);
		if (have || running >= quota)
			continue;
		int won = 0;
		if (store_lease_claim(w->db, enabled[i].id, node, now, w->lease_ms, &won, &lerr) != MIEN_OK || !won)
			continue; /* running elsewhere (or the database is away): never taken from a live lease */
		cam *c = start_camera(w, &enabled[i]);
		if (!c) {
			store_lease_release(w->db, enabled[i].id, node, &lerr);
			continue;
		}
		c->lease_until = now + w->lease_ms;
		pthread_mutex_lock(&w->lock);
		c->next = w->cams;
		w->cams = c;
		pthread_mutex_unlock(&w->lock);
		running++;
		mien_log(MIEN_LOG_INFO, "watch", "camera %lld: leased to %s", (long long)c->conf.id, node);
	}
	mien_log(MIEN_LOG_DEBUG, "watch", "%zu cameras, %zu enabled", total, n_enabled);
	free(enabled);
	return MIEN_OK;
}

int watch_sync(watch *w, mien_error *err)
{
	if (atomic_load(&w->stop))
		return MIEN_OK; /* stopping: start nothing */
	pthread_mutex_lock(&w->sync_lock);
	int rc = sync_locked(w, err);
	pthread_mutex_unlock(&w->sync_lock);
	return rc;
}

/* Deletes events older than the `retention_days` setting (with their pictures and alerts), at most once a
 * minute. Every worker may do it; deleting what is already gone costs nothing. */
static void apply_retention(watch *w, int64_t *last)
{
	int64_t now = mien_mono_ms();
	if (*last && now - *last < 60000)
		return;
	*last = now;
	/* 30 days unless set (the API shows the same default); 0 keeps events for ever. */
	char value[32] = "30";
	mien_error err = { 0 };
	int rc = store_setting_get(w->db, "retention_days", value, sizeof(value), &err);
	if (rc != MIEN_OK && rc != MIEN_ENOENT)
		return;
	char *end;
	long days = strtol(value, &end, 10);
	if (*end || days <= 0)
		return;
	int64_t purged = 0;
	if (store_event_purge(w->db, mien_wall_ms() - (int64_t)days * 86400000, &purged, &err) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "watch", "retention: %s", err.message);
	else if (purged)
		mien_log(MIEN_LOG_INFO, "watch", "retention: deleted %lld events older than %ld days",
		         (long long)purged, days);
}

/* Renews leases, takes over cameras of nodes that went away, and picks up camera changes, every third of the
 * lease time; applies the retention setting. */
static void *leaser_main(void *arg)
{
	watch *w = arg;
	int64_t period = w->lease_ms / 3 > 100 ? w->lease_ms / 3 : 100, retention_at = 0;
	while (!atomic_load(&w->stop)) {
		for (int64_t slept = 0; slept < period && !atomic_load(&w->stop); slept += 50) {
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
		if (atomic_load(&w->stop))
			break;
		mien_error err = { 0 };
		if (watch_sync(w, &err) != MIEN_OK)
			mien_log(MIEN_LOG_WARN, "watch", "sync: %s", err.message);
		apply_retention(w, &retention_at);
	}
	return NULL;
}

/* --- life cycle ----------------------------------------------------------------------------------------------- */

int watch_start(store *db, bus *b, const watch_options *options, watch **out, mien_error *err)
{
	*out = NULL;
	watch *w = calloc(1, sizeof(*w));
	if (!w)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	w->db = db;
	w->bus = b;
	w->options = *options;
	snprintf(w->models, sizeof(w->models), "%s", options->models ? options->models : "models");
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->gallery_lock, NULL);
	pthread_mutex_init(&w->sync_lock, NULL);
	pthread_mutex_init(&w->rec_lock, NULL);
	pthread_cond_init(&w->rec_ready, NULL);
	pthread_cond_init(&w->rec_space, NULL);
	const char *lease = getenv("MIEN_LEASE_MS");
	w->lease_ms = options->lease_ms > 0 ? options->lease_ms : (lease && atoll(lease) >= 300 ? atoll(lease) : 10000);
	if (w->options.scan_ms == 0) {
		const char *scan = getenv("MIEN_SCAN_MS");
		w->options.scan_ms = scan && *scan ? atoll(scan) : DEFAULT_SCAN_MS;
		if (w->options.scan_ms == 0)
			w->options.scan_ms = DEFAULT_SCAN_MS;
	}
	w->n_workers = options->workers > 0 ? options->workers : 1;
	w->workers = calloc((size_t)w->n_workers, sizeof(worker));
	w->rec = calloc(REC_QUEUE, sizeof(rec_job));
	int rc = w->workers && w->rec ? MIEN_OK : mien_error_set(err, MIEN_ENOMEM, "out of memory");
	if (rc == MIEN_OK) {
		if (pthread_create(&w->recorder, NULL, recorder_main, w) != 0)
			rc = mien_error_set(err, MIEN_EBACKEND, "cannot start the event recorder");
		else
			w->recorder_started = 1;
	}
	face_options fo;
	face_options_default(&fo);
	for (int i = 0; rc == MIEN_OK && i < w->n_workers; i++) {
		worker *wk = &w->workers[i];
		wk->w = w;
		wk->faces = calloc(MAX_FACES, sizeof(face_result));
		if (!wk->faces)
			rc = mien_error_set(err, MIEN_ENOMEM, "out of memory");
		if (rc == MIEN_OK)
			rc = nn_pool_create((size_t)(options->threads > 0 ? options->threads : 1), &wk->pool, err);
		if (rc == MIEN_OK)
			rc = face_analyzer_create(&fo, w->models, wk->pool, &wk->analyzer, err);
	}
	if (rc == MIEN_OK) {
		snprintf(w->model, sizeof(w->model), "%s", face_analyzer_embedder(w->workers[0].analyzer));
		w->dim = face_analyzer_embedding_dim(w->workers[0].analyzer);
		rc = store_gallery_load(db, STORE_GALLERY_FACES, w->model, w->dim, GALLERY_FLOAT32, &w->index, err);
	}
	if (rc == MIEN_OK)
		rc = watch_visitors_create(db, w->model, &w->visitors, err);
	if (rc == MIEN_OK)
		rc = bus_subscribe(b, on_gallery, w, &w->sub_id, err);
	int sync_ms = store_gallery_sync_interval();
	if (rc == MIEN_OK && sync_ms > 0)
		rc = store_gallery_sync_start(db, STORE_GALLERY_FACES, w->index, sync_ms, "watch", on_synced, w,
		                              &w->syncer, err);
	if (rc == MIEN_OK)
		rc = watch_sync(w, err);
	for (int i = 0; rc == MIEN_OK && i < w->n_workers; i++)
		if (pthread_create(&w->workers[i].thread, NULL, worker_main, &w->workers[i]) != 0)
			rc = mien_error_set(err, MIEN_EBACKEND, "cannot start an analysis worker");
		else
			w->workers[i].thread_started = 1;
	if (rc == MIEN_OK) {
		if (pthread_create(&w->leaser, NULL, leaser_main, w) != 0)
			rc = mien_error_set(err, MIEN_EBACKEND, "cannot start the lease keeper");
		else
			w->leaser_started = 1;
	}
	if (rc) {
		watch_stop(&w);
		return rc;
	}
	mien_log(MIEN_LOG_INFO, "watch", "%d analysis worker%s, gallery of %zu faces (%s)", w->n_workers,
	         w->n_workers == 1 ? "" : "s", gallery_size(w->index), w->model);
	*out = w;
	return MIEN_OK;
}

void watch_stop(watch **wp)
{
	if (!wp || !*wp)
		return;
	watch *w = *wp;
	atomic_store(&w->stop, 1);
	/* no more camera or gallery changes from the bus while the cameras stop */
	if (w->sub_id)
		bus_unsubscribe(w->bus, w->sub_id);
	w->sub_id = 0;
	store_gallery_sync_stop(&w->syncer);
	/* a watch_sync that began before the stop finishes first */
	pthread_mutex_lock(&w->sync_lock);
	pthread_mutex_unlock(&w->sync_lock);
	if (w->leaser_started)
		pthread_join(w->leaser, NULL);
	for (int i = 0; w->workers && i < w->n_workers; i++)
		if (w->workers[i].thread_started)
			pthread_join(w->workers[i].thread, NULL);
	while (w->cams)
		retire_camera(w, w->cams);
	/* every producer has stopped: the recorder stores what is queued (the visits just closed), then ends */
	pthread_mutex_lock(&w->rec_lock);
	w->rec_stop = 1;
	pthread_cond_signal(&w->rec_ready);
	pthread_cond_broadcast(&w->rec_space);
	pthread_mutex_unlock(&w->rec_lock);
	if (w->recorder_started)
		pthread_join(w->recorder, NULL);
	for (; w->rec && w->rec_n > 0; w->rec_n--, w->rec_head = (w->rec_head + 1) % REC_QUEUE) {
		video_frame_unref(&w->rec[w->rec_head].frame); /* left only if the recorder never ran */
		free(w->rec[w->rec_head].face);
	}
	watch_visitors_free(&w->visitors);
	free(w->rec);
	free(w->visits);
	/* Hand the cameras to the other workers now rather than after the lease runs out. */
	mien_error ignored;
	store_lease_release(w->db, 0, bus_node(w->bus), &ignored);
	if (w->sub_id)
		bus_unsubscribe(w->bus, w->sub_id);
	for (int i = 0; w->workers && i < w->n_workers; i++) {
		face_analyzer_free(&w->workers[i].analyzer);
		nn_pool_destroy(&w->workers[i].pool);
		free(w->workers[i].faces);
	}
	free(w->workers);
	gallery_free(&w->index);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->gallery_lock);
	pthread_mutex_destroy(&w->sync_lock);
	pthread_mutex_destroy(&w->rec_lock);
	pthread_cond_destroy(&w->rec_ready);
	pthread_cond_destroy(&w->rec_space);
	free(w);
	*wp = NULL;
}

/* Analyses a second over the last FPS_WINDOW_MS (over the camera's life while it is younger); view_lock held. */
static double analysed_rate(const cam *c, int64_t now)
{
	if (!c->analysed_first)
		return 0;
	int64_t span = now - c->analysed_first;
	span = span < 1000 ? 1000 : span > FPS_WINDOW_MS ? FPS_WINDOW_MS : span;
	int64_t oldest = INT64_MAX, newest = 0;
	size_t n = 0;
	for (size_t i = 0; i < FPS_RING; i++) {
		int64_t t = c->analysed_at[i];
		if (t == 0 || t <= now - span)
			continue;
		n++;
		oldest = t < oldest ? t : oldest;
		newest = t > newest ? t : newest;
	}
	/* the ring holds less than the window: its own span says the rate */
	if (n == FPS_RING && newest > oldest)
		return 1000.0 * (double)(n - 1) / (double)(newest - oldest);
	return 1000.0 * (double)n / (double)span;
}

int watch_camera_get(watch *w, int64_t camera_id, watch_camera_info *out)
{
	memset(out, 0, sizeof(*out));
	int rc = MIEN_ENOENT;
	pthread_mutex_lock(&w->lock);
	for (cam *c = w->cams; c; c = c->next) {
		if (c->conf.id != camera_id || c->removed)
			continue;
		video_stats st;
		video_camera_stats(c->reader, &st);
		out->status = st.status;
		out->fps = st.fps;
		out->frames_decoded = st.frames_decoded;
		out->frames_dropped = st.frames_dropped;
		out->reconnects = st.reconnects;
		out->width = st.width;
		out->height = st.height;
		pthread_mutex_lock(&c->view_lock);
		out->frames_analysed = c->analysed;
		out->analysed_fps = analysed_rate(c, mien_mono_ms());
		out->live_tracks = c->live_tracks;
		pthread_mutex_unlock(&c->view_lock);
		snprintf(out->last_error, sizeof(out->last_error), "%s", st.last_error);
		rc = MIEN_OK;
		break;
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

size_t watch_cameras(watch *w, int64_t *ids, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&w->lock);
	for (cam *c = w->cams; c && n < max; c = c->next)
		if (!c->removed)
			ids[n++] = c->conf.id;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void watch_get_stats(watch *w, watch_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&w->lock);
	for (cam *c = w->cams; c; c = c->next)
		out->cameras += !c->removed;
	pthread_mutex_unlock(&w->lock);
	out->frames_analysed = atomic_load(&w->frames);
	out->events = atomic_load(&w->events);
	out->alerts = atomic_load(&w->alerts);
	out->ignored = atomic_load(&w->ignored);
	out->unknown_merges = watch_visitors_merges(w->visitors);
	out->analyse_ms = (double)atomic_load(&w->analyse_us) / 1000.0;
}

/* --- the live picture --------------------------------------------------------------------------------------- */

/* Draws the faces of an analysis on a picture `scale` times the analysed frame's size: a box each, green for a
 * known person and amber for an unknown face, and above it (below when there is no room) a label with the name
 * and, for viewers who may see them, the dominant expression. The names are those the viewer may see. */
static void draw_faces(face_image *img, const face_result *faces, const char (*names)[STORE_NAME_MAX], int n,
                       float scale, int show_expression)
{
	static const uint8_t green[3] = { 40, 220, 90 }, amber[3] = { 250, 170, 20 }, ink[3] = { 16, 16, 16 };
	int thick = img->width >= 1000 ? 3 : 2;
	/* the picture is sent at about the size it is shown at, so the labels scale with it and stay legible */
	int text = face_label_scale(img->height);
	float boxes[MAX_FACES][4];
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 4; k++)
			boxes[i][k] = faces[i].box[k] * scale;
		face_image_draw_box(img, boxes[i], names[i][0] ? green : amber, thick);
	}
	/* labels over every box, so that a neighbour's box never hides one, and clear of each other where there is
	 * room */
	char labels[MAX_FACES][STORE_NAME_MAX + 16];
	int sizes[MAX_FACES][2], at[MAX_FACES][2];
	for (int i = 0; i < n; i++) {
		face_live_label(labels[i], sizeof(labels[i]), names[i], &faces[i], show_expression);
		sizes[i][0] = face_image_text_width(labels[i], text);
		sizes[i][1] = face_image_text_height(text);
	}
	face_labels_place((const float(*)[4])boxes, (const int(*)[2])sizes, n, img->width, img->height, thick, at);
	for (int i = 0; i < n; i++)
		face_image_draw_label(img, at[i][0], at[i][1], text, labels[i], ink, names[i][0] ? green : amber);
}

int watch_live_jpeg(watch *w, int64_t camera_id, int show_expression, int quality, int max_width, uint8_t **jpeg,
                    size_t *len, uint64_t *seq, mien_error *err)
{
	*jpeg = NULL;
	*len = 0;
	cam *c = NULL;
	video_frame *f = NULL;
	face_result faces[MAX_FACES];
	char names[MAX_FACES][STORE_NAME_MAX];
	int n = 0;
	pthread_mutex_lock(&w->lock);
	for (cam *k = w->cams; k; k = k->next)
		if (k->conf.id == camera_id && !k->removed)
			c = k;
	if (c) {
		pthread_mutex_lock(&c->view_lock);
		/* The newest decoded picture; the faces of the newest analysis (at most one analysis period old). */
		f = video_camera_latest(c->reader);
		if (!f)
			f = video_frame_ref(c->view_frame);
		n = c->n_view;
		memcpy(faces, c->view_faces, (size_t)n * sizeof(face_result));
		memcpy(names, c->view_names, (size_t)n * sizeof(names[0]));
		pthread_mutex_unlock(&c->view_lock);
	}
	pthread_mutex_unlock(&w->lock);
	if (!c)
		return mien_error_set(err, MIEN_ENOENT, "camera %lld does not run on this node", (long long)camera_id);
	if (!f)
		return mien_error_set(err, MIEN_EUNAVAILABLE, "camera %lld has no picture yet", (long long)camera_id);
	if (seq)
		*seq = f->seq;
	face_image src = frame_view(f);
	int out_w = max_width > 0 && f->width > max_width ? max_width : f->width;
	int out_h = (int)lroundf((float)f->height * (float)out_w / (float)f->width);
	float scale = (float)out_w / (float)f->width;
	face_image *copy = NULL;
	int rc = face_image_crop(&src, 0, 0, (float)f->width, (float)f->height, out_w, out_h, &copy, err);
	video_frame_unref(&f);
	if (rc)
		return rc;
	draw_faces(copy, faces, names, n, scale, show_expression);
	rc = face_image_encode_jpeg(copy, quality > 0 && quality <= 100 ? quality : 75, jpeg, len, err);
	face_image_free(&copy);
	return rc;
}
