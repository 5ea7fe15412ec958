/*
 * live.c — GET /api/v1/cameras/{id}/live.mjpg (the annotated live picture as multipart/x-mixed-replace, at most
 * LIVE_FPS pictures a second) and GET /api/v1/cameras/{id}/snapshot.jpg (one such picture).
 *
 * Like the SSE stream, a viewer's connection is parked (suspended) between pictures rather than polled: a
 * ticker thread resumes each viewer when its next picture is due. A picture is encoded per viewer from the
 * camera's newest frame (watch_live_jpeg), only when the frame is new, at the width the viewer asked for
 * (`?width=`, so that a small tile costs a small picture and its labels are drawn to be read at that size).
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/http_int.h"
#include "video/video.h"
#include "watch/watch.h"

#define LIVE_FPS         5
#define LIVE_MAX_WIDTH   1280
#define LIVE_MIN_WIDTH   160 /* the smallest `width` a viewer may ask for */
#define LIVE_WIDTH_STEP  16  /* a requested width is rounded down to a multiple of this */
#define LIVE_QUALITY     75
#define LIVE_VIEWERS_MAX 256
#define LIVE_BOUNDARY    "mienframe"
#define LIVE_TICK_MS     40

typedef struct live_viewer {
	struct live_viewer *prev, *next;
	http_live *hub;
	http_parked parked;
	http_holder holder; /* the session, role and cameras the view answers to */
	int64_t camera_id;
	int show_expression;
	int width; /* the widest picture to send: LIVE_MIN_WIDTH .. LIVE_MAX_WIDTH */
	uint64_t last_seq;
	int64_t next_due;
	uint8_t *part; /* the multipart piece being sent */
	size_t len, off;
	int closed;
} live_viewer;

struct http_live {
	http_server *srv;
	http_park park; /* its lock guards the viewers */
	live_viewer *viewers;
	int n_viewers;
	int per_user; /* views one user may hold */
};

/* The ticker (park lock held): resumes each parked viewer whose next picture is due. */
static void tick(void *ctx, int64_t now)
{
	http_live *h = ctx;
	for (live_viewer *v = h->viewers; v; v = v->next)
		if (v->parked.suspended && now >= v->next_due)
			http__parked_resume(&v->parked);
}

int http__live_create(http_server *s, http_live **out)
{
	*out = NULL;
	http_live *h = calloc(1, sizeof(*h));
	if (!h)
		return MIEN_ENOMEM;
	h->srv = s;
	h->per_user = (int)http__env_setting("MIEN_LIVE_VIEWS_PER_USER", 1, LIVE_VIEWERS_MAX, HTTP_LIVE_VIEWS_PER_USER);
	if (http__park_init(&h->park, LIVE_TICK_MS, tick, h) != MIEN_OK) {
		free(h);
		return MIEN_ENOMEM;
	}
	*out = h;
	return MIEN_OK;
}

void http__live_close_viewers(http_live *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->park.lock);
	http__park_closing(&h->park);
	for (live_viewer *v = h->viewers; v; v = v->next) {
		v->closed = 1;
		http__parked_resume(&v->parked);
	}
	pthread_mutex_unlock(&h->park.lock);
}

int http__live_revoke(http_live *h, const http_revoke *rv)
{
	int closed = 0;
	if (!h)
		return 0;
	pthread_mutex_lock(&h->park.lock);
	for (live_viewer *v = h->viewers; v; v = v->next) {
		if (!v->closed && http__holder_revoked(&v->holder, rv)) {
			v->closed = 1;
			http__parked_resume(&v->parked);
			closed++;
		}
	}
	pthread_mutex_unlock(&h->park.lock);
	return closed;
}

size_t http__live_sessions(http_live *h, uint8_t (*out)[STORE_TOKEN_HASH_BYTES], size_t max)
{
	size_t n = 0;
	if (!h)
		return 0;
	pthread_mutex_lock(&h->park.lock);
	for (live_viewer *v = h->viewers; v && n < max; v = v->next)
		if (!v->closed)
			memcpy(out[n++], v->holder.token_hash, STORE_TOKEN_HASH_BYTES);
	pthread_mutex_unlock(&h->park.lock);
	return n;
}

void http__live_free(http_live **hp)
{
	if (!hp || !*hp)
		return;
	http__park_destroy(&(*hp)->park);
	free(*hp);
	*hp = NULL;
}

static ssize_t read_live(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	live_viewer *v = cls;
	http_live *h = v->hub;
	pthread_mutex_lock(&h->park.lock);
	if (v->closed) {
		pthread_mutex_unlock(&h->park.lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (v->off < v->len) {
		size_t n = v->len - v->off < max ? v->len - v->off : max;
		memcpy(buf, v->part + v->off, n);
		v->off += n;
		pthread_mutex_unlock(&h->park.lock);
		return (ssize_t)n;
	}
	int64_t now = mien_mono_ms();
	if (now < v->next_due)
		return http__parked_suspend(&h->park, &v->parked);
	pthread_mutex_unlock(&h->park.lock);

	/* Encode outside the lock: it takes milliseconds. */
	uint8_t *jpeg = NULL;
	size_t jpeg_len = 0;
	uint64_t seq = 0;
	mien_error err = { 0 };
	int rc = watch_live_jpeg(h->srv->options.watch, v->camera_id, v->show_expression, LIVE_QUALITY, v->width, &jpeg,
	                         &jpeg_len, &seq, &err);
	pthread_mutex_lock(&h->park.lock);
	if (rc == MIEN_ENOENT || v->closed) {
		pthread_mutex_unlock(&h->park.lock);
		free(jpeg);
		return MHD_CONTENT_READER_END_OF_STREAM; /* the camera stopped or was deleted */
	}
	if (rc != MIEN_OK || seq == v->last_seq) {
		free(jpeg);
		v->next_due = now + 1000 / LIVE_FPS / 2; /* no picture, or nothing new yet: look again soon */
		return http__parked_suspend(&h->park, &v->parked);
	}
	char head[160];
	int hn = snprintf(head, sizeof(head),
	                  "--" LIVE_BOUNDARY "\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n", jpeg_len);
	uint8_t *part = malloc((size_t)hn + jpeg_len + 2);
	if (!part) {
		pthread_mutex_unlock(&h->park.lock);
		free(jpeg);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	memcpy(part, head, (size_t)hn);
	memcpy(part + hn, jpeg, jpeg_len);
	memcpy(part + (size_t)hn + jpeg_len, "\r\n", 2);
	free(jpeg);
	free(v->part);
	v->part = part;
	v->len = (size_t)hn + jpeg_len + 2;
	v->off = 0;
	v->last_seq = seq;
	v->next_due = now + 1000 / LIVE_FPS;
	size_t n = v->len < max ? v->len : max;
	memcpy(buf, v->part, n);
	v->off = n;
	pthread_mutex_unlock(&h->park.lock);
	return (ssize_t)n;
}

static void free_viewer(void *cls)
{
	live_viewer *v = cls;
	http_live *h = v->hub;
	pthread_mutex_lock(&h->park.lock);
	if (v->prev)
		v->prev->next = v->next;
	else
		h->viewers = v->next;
	if (v->next)
		v->next->prev = v->prev;
	h->n_viewers--;
	pthread_mutex_unlock(&h->park.lock);
	http__holder_clear(&v->holder);
	free(v->part);
	free(v);
}

/* The camera of the path, if the user may see it and it runs here; answers itself otherwise. */
static int live_camera(http_req *r)
{
	if (!http__camera_allowed(r, r->ids[0])) {
		http__reply_error(r, 404, "not_found", "camera not found");
		return -1;
	}
	if (!r->srv->options.watch || !r->srv->live) {
		http__reply_error(r, 503, "unavailable", "no camera runs on this node");
		return -1;
	}
	return 0;
}

/* The picture width a viewer asks for with `?width=N` (digits only): rounded down to a multiple of LIVE_WIDTH_STEP
 * and clamped to LIVE_MIN_WIDTH .. LIVE_MAX_WIDTH; LIVE_MAX_WIDTH without one. Rounded down, not up: the labels are
 * drawn for the picture's size (face_label_scale), so a picture never larger than it is shown keeps them at least
 * as tall on screen as drawn; and small steps keep the browser's upscaling under a few percent. Encodes are per
 * viewer, so coarser buckets would save no work. A frame narrower than the width is sent at its own size.
 * Answers 400 itself and returns -1 for anything else. */
static int live_width(http_req *r, int *out)
{
	const char *arg = http__query(r, "width");
	*out = LIVE_MAX_WIDTH;
	if (!arg)
		return 0;
	long n = 0;
	size_t i = 0;
	for (; i < 9 && arg[i] >= '0' && arg[i] <= '9'; i++)
		n = n * 10 + (arg[i] - '0');
	if (i == 0 || arg[i] != '\0' || n < 1) {
		http__reply_error(r, 400, "bad_request", "'width' must be a whole number of pixels (%d .. %d)",
		                  LIVE_MIN_WIDTH, LIVE_MAX_WIDTH);
		return -1;
	}
	n = n / LIVE_WIDTH_STEP * LIVE_WIDTH_STEP;
	*out = n < LIVE_MIN_WIDTH ? LIVE_MIN_WIDTH : n > LIVE_MAX_WIDTH ? LIVE_MAX_WIDTH : (int)n;
	return 0;
}

void http__h_camera_live(http_req *r)
{
	int width;
	if (live_camera(r) || live_width(r, &width))
		return;
	watch_camera_info info;
	if (watch_camera_get(r->srv->options.watch, r->ids[0], &info) != MIEN_OK) {
		http__reply_error(r, 404, "not_found", "camera not running (disabled, or not on this node)");
		return;
	}
	if (info.frames_decoded == 0) {
		/* Answer at once, so a viewer shows the camera's state instead of waiting on an empty stream. */
		http__reply_error(r, 503, "unavailable", "the camera has sent no picture yet (%s)",
		                  video_status_name(info.status));
		http__add_header(r, "Retry-After", "5");
		return;
	}
	http_live *h = r->srv->live;
	live_viewer *v = calloc(1, sizeof(*v));
	if (!v || http__holder_init(&v->holder, r) != MIEN_OK) {
		free(v);
		http__reply_error(r, 500, "internal", "out of memory");
		return;
	}
	v->hub = h;
	v->parked.conn = r->conn;
	v->camera_id = r->ids[0];
	v->width = width;
	v->show_expression = http__role_at_least(r, STORE_ROLE_ANALYST);
	pthread_mutex_lock(&h->park.lock);
	int mine = 0;
	for (live_viewer *o = h->viewers; o; o = o->next)
		mine += o->holder.user_id == v->holder.user_id && !o->closed;
	if (h->park.closing || h->n_viewers >= LIVE_VIEWERS_MAX || mine >= h->per_user) {
		pthread_mutex_unlock(&h->park.lock);
		http__holder_clear(&v->holder);
		free(v);
		if (mine >= h->per_user)
			http__reply_error(r, 429, "too_many_streams",
			                  "this user already holds %d live views on this node (close one first)", mine);
		else
			http__reply_error(r, 503, "unavailable", "too many live viewers on this node");
		return;
	}
	v->next = h->viewers;
	if (h->viewers)
		h->viewers->prev = v;
	h->viewers = v;
	h->n_viewers++;
	pthread_mutex_unlock(&h->park.lock);
	struct MHD_Response *resp =
	        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, read_live, v, free_viewer);
	if (!resp) {
		free_viewer(v);
		http__reply_error(r, 500, "internal", "out of memory");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "multipart/x-mixed-replace; boundary=" LIVE_BOUNDARY);
	http__set_response(r, 200, resp);
}

void http__h_camera_snapshot(http_req *r)
{
	if (live_camera(r))
		return;
	uint8_t *jpeg = NULL;
	size_t len = 0;
	mien_error err = { 0 };
	int rc = watch_live_jpeg(r->srv->options.watch, r->ids[0], http__role_at_least(r, STORE_ROLE_ANALYST), 85, 0,
	                         &jpeg, &len, NULL, &err);
	if (rc == MIEN_ENOENT) {
		http__reply_error(r, 404, "not_found", "camera not running (disabled, or not on this node)");
		return;
	}
	if (rc != MIEN_OK) {
		http__reply_error(r, 503, "unavailable", "%s", err.message);
		return;
	}
	http__reply_bytes(r, 200, "image/jpeg", jpeg, len, 0);
}
