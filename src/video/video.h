/*
 * video.h — camera ingest: one reader thread per camera over FFmpeg's libraries (libavformat, libavcodec,
 * libswscale), reconnecting with capped exponential backoff, publishing decoded RGB frames into a
 * single-slot "latest frame" mailbox.
 *
 * A camera is started with video_camera_start() and from then on runs by itself: it opens the URL, decodes
 * the video stream, converts every frame to 8-bit interleaved RGB and replaces the mailbox's frame with it.
 * A consumer (the face pipeline) calls video_camera_next(), which hands out the newest frame it has not seen,
 * at most `max_fps` times a second; frames the consumer did not take in time are dropped (and counted), so
 * a slow consumer never builds a queue or a lag. Snapshots and the live view peek with video_camera_latest().
 *
 * Frames are reference-counted because they cross threads: every frame handed out is the caller's reference
 * and must be released with video_frame_unref().
 *
 * Every failure — server gone, open or read error, no frame for `stall_timeout_ms`, a corrupt stream, a frame
 * over the pixel cap — closes the input and reconnects after a delay that doubles from `backoff_initial_ms` up
 * to `backoff_max_ms`, and resets once a connection has been online for `healthy_reset_ms`. Status changes
 * are reported through a callback. Stopping returns promptly even while the reader is blocked in a network
 * read (FFmpeg's interrupt callback is polled).
 *
 * URLs: rtsp://, rtsps://, http://, https:// (MJPEG, HLS, any stream FFmpeg can demux), V4L2 device paths
 * (/dev/videoN), and video files (file:/path or an absolute path) only when allowed. Anything else —
 * exec:, pipe:, concat:, subfile:, data:, relative paths — is refused with MIEN_EINVAL before FFmpeg sees it,
 * and FFmpeg's protocol_whitelist keeps it from following into other protocols. Credentials never reach a
 * log line or an error message: every URL is shown redacted (mien_redact_url, core/redact.h) and FFmpeg's own
 * messages pass through a redacting log callback (mien_redact_text).
 */
#ifndef MIEN_VIDEO_VIDEO_H
#define MIEN_VIDEO_VIDEO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

/* --- frames ------------------------------------------------------------------------------------------- */

/*
 * One decoded picture: 8-bit RGB, interleaved, rows `stride` bytes apart — the layout of face/image.h's
 * face_image, so a pipeline wraps it without copying:
 *     face_image view = { .width = f->width, .height = f->height, .stride = f->stride, .pixels = f->pixels,
 *                         .source_channels = 3, .source_bits = 8, .orientation = 1 };
 * (the view is borrowed: never face_image_free it). A frame is immutable once published.
 */
typedef struct video_frame {
	int width, height;
	int stride;      /* bytes per row, >= 3 * width */
	uint8_t *pixels; /* RGB; owned by the frame */
	uint64_t seq;    /* 1, 2, 3 ... per camera, over reconnects */
	int64_t pts_ms;  /* the stream's presentation time in ms, or -1 when it has none */
	int64_t wall_ms; /* mien_wall_ms() when the frame was decoded */
	int64_t mono_ms; /* mien_mono_ms() when the frame was decoded */
	atomic_int refs; /* private: use video_frame_ref / video_frame_unref */
	size_t capacity; /* private: bytes allocated at `pixels` */
} video_frame;

/* Takes another reference (for another thread); returns `frame`. NULL is passed through. */
video_frame *video_frame_ref(video_frame *frame);

/* Drops the caller's reference, frees the frame when it was the last, and sets *frame to NULL. NULL and
 * *frame == NULL are no-ops. */
void video_frame_unref(video_frame **frame);

/* --- cameras ------------------------------------------------------------------------------------------ */

/* Camera status (wire values: /api/v1/cameras and SSE `camera` events carry them; they only grow). */
enum video_status {
	VIDEO_STATUS_OFFLINE = 0,      /* not running: not started yet, or stopped */
	VIDEO_STATUS_ONLINE = 1,       /* frames are arriving */
	VIDEO_STATUS_RECONNECTING = 2, /* connecting, or waiting to retry after a failure */
};

/* "offline", "online", "reconnecting"; "unknown" for other values. */
const char *video_status_name(int status);

typedef struct video_camera video_camera;

/* Called on the camera's own thread (and, for the final change to OFFLINE, in video_camera_stop), with no
 * lock held, whenever the status changes. `error` is the
 * redacted reason for a change to RECONNECTING ("" otherwise); borrowed for the call. The callback must not
 * call video_camera_stop or video_camera_free on the same camera. */
typedef void (*video_status_fn)(void *ctx, video_camera *camera, int old_status, int new_status, const char *error);

typedef struct video_options {
	const char *url;            /* required; copied */
	const char *name;           /* a label for log lines (the camera name and id); NULL = "camera"; copied */
	const char *rtsp_transport; /* "tcp" (default) or "udp"; RTSP and RTSPS only */
	double max_fps;             /* the consumer's analysis rate through video_camera_next; 0 = 5; < 0 = unlimited */
	int skip_nonref;            /* decode only reference frames (AVDISCARD_NONREF): less CPU, fewer frames */
	int loop;                   /* files only: start again at the end instead of reconnecting */
	int allow_file;             /* accept file: URLs and absolute paths (also when MIEN_ALLOW_FILE_CAMERAS=1) */
	int realtime;           /* files only: 0 = deliver at the file's own frame rate, -1 = as fast as it decodes */
	int decode_threads;     /* 1 or 2; 0 = 1 */
	int open_timeout_ms;    /* connecting and reading the stream's header; 0 = 10000 */
	int stall_timeout_ms;   /* no decoded frame for this long = a failure; 0 = 10000 */
	int backoff_initial_ms; /* first retry delay; 0 = 500 */
	int backoff_max_ms;     /* cap of the doubling delay; 0 = 30000 */
	int healthy_reset_ms;   /* online this long resets the delay to the initial one; 0 = 5000 */
	int64_t max_pixels;     /* frames larger than this are an error; 0 = 4096 x 2160 */
	video_status_fn on_status; /* may be NULL */
	void *on_status_ctx;
} video_options;

/* Every field 0 / NULL: the defaults named above. */
void video_options_default(video_options *options);

/* What /metrics and the cameras API show. */
typedef struct video_stats {
	int status;                 /* enum video_status */
	uint64_t frames_decoded;    /* frames decoded and published into the mailbox */
	uint64_t frames_dropped;    /* published frames replaced before the consumer took them */
	uint64_t frames_taken;      /* frames handed out by video_camera_next */
	uint64_t reconnects;        /* failures followed by a new connection attempt */
	uint64_t connects;          /* connections that delivered a first frame */
	double fps;                 /* decoded frames per second over the last second or so; 0 when stalled */
	int width, height;          /* the last frame's size; 0 before the first */
	int backoff_ms;             /* the delay before the next retry (while reconnecting) */
	int64_t last_frame_wall_ms; /* 0 before the first frame */
	char last_error[256];       /* redacted; "" when none yet */
} video_stats;

/*
 * Validates the URL, creates the camera and starts its reader thread; the status is RECONNECTING until the
 * first frame arrives. Errors: MIEN_EINVAL (no URL, a scheme outside the allow-list, a file source not
 * allowed, control characters in the URL, bad options), MIEN_ENOMEM, MIEN_EBACKEND (no thread).
 * Caller frees with video_camera_free.
 */
int video_camera_start(const video_options *options, video_camera **out, mien_error *err);

/* Stops the reader thread (interrupting a blocked read) and waits for it; returns in well under a second.
 * The status becomes OFFLINE. Idempotent; the mailbox's last frame stays readable. */
void video_camera_stop(video_camera *camera);

/* Stops the camera if needed, releases its frames, frees it and sets *camera to NULL. NULL is a no-op. */
void video_camera_free(video_camera **camera);

/*
 * The consumer's call: waits up to `timeout_ms` (0 = do not wait, < 0 = forever) for a frame newer than the
 * last one this function handed out, no sooner than 1/max_fps after that one, and hands it out as a new
 * reference in *frame (release with video_frame_unref). Returns MIEN_OK, MIEN_EUNAVAILABLE when the time ran
 * out with no new frame, MIEN_ESTATE when the camera was stopped. Meant for one consumer per camera.
 */
int video_camera_next(video_camera *camera, int timeout_ms, video_frame **frame);

/* When video_camera_next would next hand out a frame (mien_mono_ms time; at or before now = a frame is ready
 * now), or INT64_MAX when the mailbox holds no frame the consumer has not seen. Lets a consumer of many cameras
 * serve the one that has waited longest first. */
int64_t video_camera_due_ms(video_camera *camera);

/* The mailbox's current frame as a new reference (no rate limit, not counted as taken), or NULL when there
 * is none yet. For snapshots and the live view. */
video_frame *video_camera_latest(video_camera *camera);

int video_camera_status(video_camera *camera);
void video_camera_stats(video_camera *camera, video_stats *stats);

/* The URL with credentials redacted, as every log line shows it; borrowed, valid until the camera is freed. */
const char *video_camera_url(const video_camera *camera);

/* --- URLs --------------------------------------------------------------------------------------------- */

/* What kind of source a URL names (after the allow-list); video_url_check's *kind. */
enum video_source {
	VIDEO_SOURCE_RTSP = 1, /* rtsp:// and rtsps:// */
	VIDEO_SOURCE_HTTP = 2, /* http:// and https:// (MJPEG, HLS, progressive) */
	VIDEO_SOURCE_FILE = 3, /* file:/path or /absolute/path */
	VIDEO_SOURCE_V4L2 = 4, /* /dev/videoN */
};

/*
 * Checks `url` against the allow-list: MIEN_OK with *kind set (kind may be NULL), or MIEN_EINVAL with a message
 * that shows the URL redacted. File sources pass only with `allow_file` or MIEN_ALLOW_FILE_CAMERAS=1.
 */
int video_url_check(const char *url, int allow_file, int *kind, mien_error *err);

#endif
