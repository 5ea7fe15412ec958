/*
 * watch.h — from cameras to events: the camera workers of `mien serve`.
 *
 * A watch runs every enabled camera of the store: a reader per camera (video.h) fills a latest-frame mailbox;
 * a small pool of analysis workers, each with its own face pipeline, takes frames from the cameras in turn (at
 * each camera's analysis rate) and runs detection, embedding, gallery matching and expressions; a tracker per
 * camera (face/track.h) turns the faces into visits. Each visit becomes one event — stored with a snapshot and
 * a face thumbnail when the track is confirmed, updated when its identity becomes certain, closed when it
 * leaves — and is published on the bus, together with `face` messages carrying the live boxes of every
 * analysed frame and `camera` messages when a camera's status changes. A person on the watchlist raises an
 * alert; an unknown face does too on cameras with alert_unknown set.
 *
 * Cameras are shared out between the worker nodes on one database by expiring leases (store_lease_claim): each
 * worker takes free or expired cameras up to its share (cameras / live workers), renews its leases every third
 * of the lease time, stops a camera at once if it lost the lease, and never takes one whose lease runs elsewhere.
 * A worker that dies leaves its leases to expire; one that stops releases them.
 *
 * The watch keeps its own gallery index, loaded from the store at start and kept current by the bus's `gallery`
 * messages (from this node's API and from every other node).
 *
 * Sits between http (which shows its live pictures and camera status) and bus, store, face, video.
 */
#ifndef MIEN_WATCH_WATCH_H
#define MIEN_WATCH_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "core/result.h"
#include "store/store.h"

typedef struct watch watch;

typedef struct watch_options {
	const char *models; /* the models folder; NULL = "models" */
	int workers;        /* analysis workers (each a face pipeline); 0 = 1 */
	int threads;        /* inference threads per worker; 0 = 1 */
	int allow_file;     /* accept file cameras (video.h also honours MIEN_ALLOW_FILE_CAMERAS=1); for the demo */
	int64_t lost_ms;    /* a face unseen this long ends its visit; 0 = the tracker's default */
	int64_t lease_ms;   /* camera lease time: a dead worker's cameras move within it; 0 = MIEN_LEASE_MS or 10 s */
	int64_t scan_ms;    /* search each camera's whole picture this often, and in between only around the faces
	                       being tracked, describing (embedding, expressions) a tracked face only when that can
	                       change something; 0 = MIEN_SCAN_MS or 2000; < 0 = the whole photo pipeline on every
	                       analysed frame */
} watch_options;

/*
 * Loads the gallery, starts the workers and every enabled camera of the store. `db` and `b` are borrowed and
 * must outlive the watch. Caller stops it with watch_stop. A camera that cannot start (a refused URL) is
 * logged and reported as offline, not an error.
 */
int watch_start(store *db, bus *b, const watch_options *options, watch **out, mien_error *err);

/* Ends every open visit (their events are closed), stops cameras and workers, frees. NULL is a no-op. */
void watch_stop(watch **w);

/* Re-reads the cameras from the store: starts new and re-enabled ones, stops deleted and disabled ones,
 * restarts those whose URL or rate changed. Call after any camera change. */
int watch_sync(watch *w, mien_error *err);

typedef struct watch_camera_info {
	int status; /* enum video_status: offline, online, reconnecting */
	double fps; /* decoded frames per second */
	double analysed_fps;
	uint64_t frames_decoded, frames_dropped, frames_analysed, reconnects;
	int width, height;
	int live_tracks;
	char last_error[256]; /* redacted */
} watch_camera_info;

/* What a running camera is doing; MIEN_ENOENT when the camera does not run here. */
int watch_camera_get(watch *w, int64_t camera_id, watch_camera_info *out);

/*
 * The camera's newest picture as a JPEG (caller frees with free()), with the faces of the newest analysis drawn:
 * boxes, and names and expressions as the viewer may see them (`show_expression` 0 for recognition users).
 * *seq (may be NULL) receives the frame's number, so that a live view sends only new pictures.
 * MIEN_ENOENT when the camera does not run here, MIEN_EUNAVAILABLE when it has no picture yet.
 */
int watch_live_jpeg(watch *w, int64_t camera_id, int show_expression, int quality, int max_width, uint8_t **jpeg,
                    size_t *len, uint64_t *seq, mien_error *err);

/* The ids of the cameras running here (at most `max`); returns how many were written. */
size_t watch_cameras(watch *w, int64_t *ids, size_t max);

/* The similarity above which a face counts as an enrolled person: the `recognition_threshold` setting when set
 * (0..1), else the embedder's calibrated default (face_default_threshold). One database read. */
float watch_recognition_threshold(store *db, const char *model);

/* Counters for /metrics: cameras running, frames analysed, events created, mean analysis ms. */
typedef struct watch_stats {
	int cameras;
	uint64_t frames_analysed, events, alerts;
	uint64_t ignored;        /* visits of dismissed unknown identities (no event) */
	uint64_t unknown_merges; /* unknown identities merged by the merge pass */
	double analyse_ms;       /* exponential mean per frame */
} watch_stats;
void watch_get_stats(watch *w, watch_stats *out);

/* --- the shape of events and alerts (records.c): the REST API and the live stream share it ------------------ */

/* An event as JSON; expression fields only when `with_expression` (analysts and admins). Caller decrefs. */
json_t *watch_event_json(const store_event *e, int with_expression);
json_t *watch_alert_json(const store_alert *a);
/* Growing text for watch_event_write; hard cap WATCH_TEXT_MAX. Start zeroed; caller frees `data`. */
#define WATCH_TEXT_MAX ((size_t)64 << 20)
/* Minutes during which further visits of a person (or of unknown faces) at a camera add to its last alert instead
 * of raising another: the default of the `alert_cooldown_minutes` setting. */
#define WATCH_ALERT_COOLDOWN_MIN 10
/* An event's snapshot: the frame scaled down to at most this many pixels wide (the `snapshot_width` setting;
 * 0 = no snapshot, only the face crop) and encoded at this JPEG quality (`snapshot_quality`). Defaults. */
#define WATCH_SNAPSHOT_WIDTH   640
#define WATCH_SNAPSHOT_QUALITY 70
typedef struct watch_text {
	char *data;
	size_t len, cap;
	int failed; /* out of memory or over the cap: the text is incomplete */
} watch_text;
void watch_text_put(watch_text *t, const char *s, size_t n);
/* Appends the same object as watch_event_json, written directly (numbers to 6 decimals, box to 3). */
void watch_event_write(watch_text *t, const store_event *e, int with_expression);

/*
 * Applies a gallery change as the bus's `gallery` messages carry it: {"op":"add","face_id","person_id","model",
 * "embedding":[...]}, {"op":"remove_face","face_id"} or {"op":"remove_person","person_id"}. Removing what is not
 * there is not an error. MIEN_EFORMAT for a message of another shape; gallery_add's errors for an add.
 */
struct gallery;
int watch_gallery_apply(struct gallery *g, const json_t *change, mien_error *err);

/* ms since the epoch as "2026-11-26T12:00:00.123Z". */
void watch_iso_time(int64_t ms, char out[32]);

#endif
