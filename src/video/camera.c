/*
 * camera.c — one reader thread per camera: FFmpeg demux + decode + RGB conversion, reconnect with backoff,
 * and the single-slot mailbox the consumer reads.
 *
 * Threads: the reader thread owns every FFmpeg object; the mailbox, the status and the counters are shared
 * with the consumer and the API under `lock`. Blocking FFmpeg calls are bounded by the interrupt callback,
 * which polls the stop flag and a deadline (open timeout while connecting, stall timeout while reading), so a
 * blocked read returns within FFmpeg's polling interval (~100 ms) of a stop.
 */
#include "video/video.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/utf8.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

#define CAMERA_URL_SHOWN 512
#define CAMERA_NAME_MAX  160 /* a camera name (STORE_NAME_MAX) and its id */
#define FPS_WINDOW_MS    1000
/* Stream probing: enough for a key frame of a 1080p H.264 stream, short enough to connect quickly. */
#define PROBE_BYTES    (5 * 1000 * 1000)
#define PROBE_DURATION (2 * 1000 * 1000) /* µs */
#define FRAME_ALIGN    64

struct video_camera {
	video_options opt; /* url and name point at the copies below */
	char *url;         /* the real URL: never logged */
	char shown[CAMERA_URL_SHOWN];
	char name[CAMERA_NAME_MAX];
	int kind;

	pthread_t thread;
	int thread_started;
	atomic_int stopping;
	int64_t deadline_ms; /* reader thread only: when the current FFmpeg call must give up */
	int deadline_hit;    /* reader thread only: the interrupt callback fired for the deadline */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t changed;
	video_frame *slot;    /* the mailbox */
	uint64_t taken_seq;   /* the last seq video_camera_next handed out */
	int64_t next_take_ms; /* the rate limit: no take before this */
	uint64_t next_seq;    /* reader: the seq of the next frame */
	video_stats stats;
	int64_t fps_window_start;
	uint64_t fps_window_frames;
	int64_t last_frame_mono;
};

/* --- frames ------------------------------------------------------------------------------------------- */

video_frame *video_frame_ref(video_frame *frame)
{
	if (frame != NULL)
		atomic_fetch_add(&frame->refs, 1);
	return frame;
}

static void frame_destroy(video_frame *frame)
{
	free(frame->pixels);
	free(frame);
}

void video_frame_unref(video_frame **frame)
{
	if (frame == NULL || *frame == NULL)
		return;
	if (atomic_fetch_sub(&(*frame)->refs, 1) == 1)
		frame_destroy(*frame);
	*frame = NULL;
}

/* A frame with room for width x height RGB, reusing `spare` (consumed) when it is big enough. */
static video_frame *frame_get(video_frame **spare, int width, int height)
{
	int stride = (3 * width + FRAME_ALIGN - 1) / FRAME_ALIGN * FRAME_ALIGN;
	size_t need = (size_t)stride * (size_t)height;
	video_frame *frame = *spare;
	*spare = NULL;
	if (frame != NULL && frame->capacity < need) {
		frame_destroy(frame);
		frame = NULL;
	}
	if (frame == NULL) {
		frame = calloc(1, sizeof(*frame));
		if (frame == NULL)
			return NULL;
		void *pixels = NULL;
		if (posix_memalign(&pixels, FRAME_ALIGN, need) != 0) {
			free(frame);
			return NULL;
		}
		frame->pixels = pixels;
		frame->capacity = need;
	}
	frame->width = width;
	frame->height = height;
	frame->stride = stride;
	atomic_store(&frame->refs, 1);
	return frame;
}

/* --- status, time, waiting ---------------------------------------------------------------------------- */

const char *video_status_name(int status)
{
	switch (status) {
	case VIDEO_STATUS_OFFLINE:
		return "offline";
	case VIDEO_STATUS_ONLINE:
		return "online";
	case VIDEO_STATUS_RECONNECTING:
		return "reconnecting";
	default:
		return "unknown";
	}
}

static void set_status(video_camera *cam, int status, const char *error)
{
	pthread_mutex_lock(&cam->lock);
	int old = cam->stats.status;
	cam->stats.status = status;
	if (error != NULL && error[0] != '\0')
		mien_utf8_copy(cam->stats.last_error, sizeof(cam->stats.last_error), error);
	pthread_cond_broadcast(&cam->changed);
	pthread_mutex_unlock(&cam->lock);
	if (old == status)
		return;
	MIEN_LOG_INFO_("video", "camera %s: %s -> %s%s%s", cam->name, video_status_name(old), video_status_name(status),
	               error != NULL && error[0] != '\0' ? ": " : "", error != NULL ? error : "");
	if (cam->opt.on_status != NULL)
		cam->opt.on_status(cam->opt.on_status_ctx, cam, old, status, error != NULL ? error : "");
}

static struct timespec mono_deadline(int64_t at_ms)
{
	struct timespec ts = { .tv_sec = (time_t)(at_ms / 1000), .tv_nsec = (long)(at_ms % 1000) * 1000000L };
	return ts;
}

/* Waits on `changed` until mono time `until_ms`; the caller holds the lock. */
static void wait_until_locked(video_camera *cam, int64_t until_ms)
{
	struct timespec ts = mono_deadline(until_ms);
	pthread_cond_timedwait(&cam->changed, &cam->lock, &ts);
}

/* Sleeps until `until_ms` or a stop, whichever first; returns nonzero when stopping. */
static int sleep_until(video_camera *cam, int64_t until_ms)
{
	pthread_mutex_lock(&cam->lock);
	while (!atomic_load(&cam->stopping) && mien_mono_ms() < until_ms)
		wait_until_locked(cam, until_ms);
	pthread_mutex_unlock(&cam->lock);
	return atomic_load(&cam->stopping);
}

static int interrupt_cb(void *opaque)
{
	video_camera *cam = opaque;
	if (atomic_load(&cam->stopping))
		return 1;
	if (mien_mono_ms() > cam->deadline_ms) {
		cam->deadline_hit = 1;
		return 1;
	}
	return 0;
}

/* --- FFmpeg's log, redacted --------------------------------------------------------------------------- */

static void ffmpeg_log(void *avcl, int level, const char *fmt, va_list vl)
{
	if (level > av_log_get_level())
		return;
	char line[1024];
	int print_prefix = 1;
	av_log_format_line2(avcl, level, fmt, vl, line, (int)sizeof(line), &print_prefix);
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0)
		return;
	char shown[1200];
	mien_redact_text(line, shown, sizeof(shown));
	int mien_level = level <= AV_LOG_FATAL     ? MIEN_LOG_ERROR
	                 : level <= AV_LOG_ERROR   ? MIEN_LOG_WARN
	                 : level <= AV_LOG_WARNING ? MIEN_LOG_INFO
	                                           : MIEN_LOG_DEBUG;
	mien_log(mien_level, "ffmpeg", "%s", shown);
}

static pthread_once_t ffmpeg_once = PTHREAD_ONCE_INIT;

static void ffmpeg_init(void)
{
	avdevice_register_all();
	avformat_network_init();
	/* FFmpeg's debug level prints request headers and per-packet noise; verbose is the most we pass on. */
	av_log_set_level(mien_log_get_level() <= MIEN_LOG_DEBUG ? AV_LOG_VERBOSE : AV_LOG_WARNING);
	av_log_set_callback(ffmpeg_log);
}

static int av_error(video_camera *cam, mien_error *err, int code, int averr, const char *what)
{
	char reason[AV_ERROR_MAX_STRING_SIZE] = "";
	av_strerror(averr, reason, sizeof(reason));
	if (averr == AVERROR_EXIT && !atomic_load(&cam->stopping))
		snprintf(reason, sizeof(reason), "timed out");
	return mien_error_set(err, code, "%s %s: %s", what, cam->shown, reason);
}

/* --- one connection ----------------------------------------------------------------------------------- */

typedef struct session {
	AVFormatContext *format;
	AVCodecContext *decoder;
	struct SwsContext *scaler;
	AVPacket *packet;
	AVFrame *picture;
	int stream;
	int64_t online_since; /* mono ms of the first frame; 0 before */
	/* real-time pacing of files */
	int pace;
	int64_t pace_base_pts_ms, pace_base_mono;
	video_frame *spare;
	int64_t last_arrival; /* mono ms of the previous decoded frame; 0 before */
	int64_t interval_ms;  /* smoothed time between decoded frames; 0 until known */
} session;

static void session_close(video_camera *cam, session *s)
{
	/* Closing an RTSP input sends TEARDOWN: allow it a moment, no more. */
	cam->deadline_ms = mien_mono_ms() + 500;
	sws_freeContext(s->scaler);
	avcodec_free_context(&s->decoder);
	avformat_close_input(&s->format);
	av_packet_free(&s->packet);
	av_frame_free(&s->picture);
	if (s->spare != NULL)
		frame_destroy(s->spare);
	memset(s, 0, sizeof(*s));
}

static int session_open(video_camera *cam, session *s, mien_error *err)
{
	AVDictionary *options = NULL;
	const AVInputFormat *input = NULL;
	const AVCodec *codec = NULL;
	int rc;

	int64_t started = mien_mono_ms();
	s->stream = -1;
	s->packet = av_packet_alloc();
	s->picture = av_frame_alloc();
	s->format = avformat_alloc_context();
	if (s->packet == NULL || s->picture == NULL || s->format == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "out of memory");
		goto fail;
	}
	s->format->interrupt_callback.callback = interrupt_cb;
	s->format->interrupt_callback.opaque = cam;

	/* FFmpeg's own socket time-outs are only a backstop (twice the stall time-out): the interrupt callback
	 * decides, so that every source stalls the same way. */
	char micros[32];
	snprintf(micros, sizeof(micros), "%lld", (long long)cam->opt.stall_timeout_ms * 2000);
	switch (cam->kind) {
	case VIDEO_SOURCE_RTSP:
		av_dict_set(&options, "protocol_whitelist", "rtsp,rtsps,rtp,srtp,udp,tcp,tls", 0);
		av_dict_set(&options, "rtsp_transport", cam->opt.rtsp_transport, 0);
		av_dict_set(&options, "allowed_media_types", "video", 0);
		av_dict_set(&options, "timeout", micros, 0);
		break;
	case VIDEO_SOURCE_HTTP:
		av_dict_set(&options, "protocol_whitelist", "http,https,tls,tcp,crypto", 0);
		av_dict_set(&options, "rw_timeout", micros, 0);
		break;
	case VIDEO_SOURCE_FILE:
		av_dict_set(&options, "protocol_whitelist", "file,crypto", 0);
		break;
	case VIDEO_SOURCE_V4L2:
		input = av_find_input_format("video4linux2");
		if (input == NULL) {
			rc = mien_error_set(err, MIEN_EUNSUPPORTED, "FFmpeg was built without V4L2");
			goto fail;
		}
		break;
	default:
		rc = mien_error_set(err, MIEN_EINVAL, "unknown source kind %d", cam->kind);
		goto fail;
	}
	av_dict_set_int(&options, "probesize", PROBE_BYTES, 0);
	av_dict_set_int(&options, "analyzeduration", PROBE_DURATION, 0);
	/* Live streams: stop probing once the codec is known instead of watching frames to guess a frame rate
	 * (RTP carries none); that guess alone kept every RTSP connect waiting the whole analyzeduration. */
	if (cam->kind == VIDEO_SOURCE_RTSP || cam->kind == VIDEO_SOURCE_HTTP)
		av_dict_set_int(&options, "fpsprobesize", 0, 0);

	cam->deadline_ms = mien_mono_ms() + cam->opt.open_timeout_ms;
	rc = avformat_open_input(&s->format, cam->url, input, &options);
	if (rc < 0) {
		/* avformat_open_input frees the context on failure. */
		rc = av_error(cam, err, MIEN_EUNAVAILABLE, rc, "open");
		goto fail;
	}
	rc = avformat_find_stream_info(s->format, NULL);
	if (rc < 0) {
		rc = av_error(cam, err, MIEN_EUNAVAILABLE, rc, "probe");
		goto fail;
	}
	rc = av_find_best_stream(s->format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (rc < 0) {
		rc = av_error(cam, err, MIEN_EFORMAT, rc, "no decodable video stream in");
		goto fail;
	}
	s->stream = rc;
	for (unsigned i = 0; i < s->format->nb_streams; i++)
		s->format->streams[i]->discard = (int)i == s->stream ? AVDISCARD_DEFAULT : AVDISCARD_ALL;

	s->decoder = avcodec_alloc_context3(codec);
	if (s->decoder == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "out of memory");
		goto fail;
	}
	rc = avcodec_parameters_to_context(s->decoder, s->format->streams[s->stream]->codecpar);
	if (rc < 0) {
		rc = av_error(cam, err, MIEN_EBACKEND, rc, "decoder parameters for");
		goto fail;
	}
	s->decoder->thread_count = cam->opt.decode_threads;
	/* Slice threads add no latency; frame threads would add a frame per thread. */
	s->decoder->thread_type = FF_THREAD_SLICE;
	if (cam->opt.skip_nonref)
		s->decoder->skip_frame = AVDISCARD_NONREF;
	rc = avcodec_open2(s->decoder, codec, NULL);
	if (rc < 0) {
		rc = av_error(cam, err, MIEN_EUNSUPPORTED, rc, "decoder for");
		goto fail;
	}
	s->pace = cam->kind == VIDEO_SOURCE_FILE && cam->opt.realtime >= 0;
	av_dict_free(&options);
	MIEN_LOG_INFO_("video", "camera %s: opened %s (%s, %s) in %lld ms", cam->name, cam->shown,
	               s->format->iformat->name, codec->name, (long long)(mien_mono_ms() - started));
	return MIEN_OK;

fail:
	av_dict_free(&options);
	session_close(cam, s);
	return rc;
}

/* yuvj* are the same layouts as yuv* with full-range values; swscale wants the range said separately. */
static enum AVPixelFormat plain_format(enum AVPixelFormat format, int *full_range)
{
	*full_range = 1;
	switch (format) {
	case AV_PIX_FMT_YUVJ420P:
		return AV_PIX_FMT_YUV420P;
	case AV_PIX_FMT_YUVJ422P:
		return AV_PIX_FMT_YUV422P;
	case AV_PIX_FMT_YUVJ444P:
		return AV_PIX_FMT_YUV444P;
	case AV_PIX_FMT_YUVJ440P:
		return AV_PIX_FMT_YUV440P;
	case AV_PIX_FMT_YUVJ411P:
		return AV_PIX_FMT_YUV411P;
	default:
		*full_range = 0;
		return format;
	}
}

/* Counts a decoded frame in the decoded-fps window (camera lock held). */
static void count_fps_locked(video_camera *cam, int64_t now)
{
	cam->fps_window_frames++;
	int64_t window = now - cam->fps_window_start;
	if (window >= FPS_WINDOW_MS) {
		cam->stats.fps = (double)cam->fps_window_frames * 1000.0 / (double)window;
		cam->fps_window_start = now;
		cam->fps_window_frames = 0;
	}
}

/* Waits until a file's frame is due at the file's own pace; returns nonzero when stopping. */
static int pace_frame(video_camera *cam, session *s, int64_t pts_ms)
{
	if (!s->pace || pts_ms < 0)
		return 0;
	int64_t now = mien_mono_ms();
	int64_t due = s->pace_base_mono + (pts_ms - s->pace_base_pts_ms);
	if (s->pace_base_mono == 0 || due < now - 1000 || due > now + 5000) {
		/* First frame, a loop back to the start, or a jump: start counting from here. */
		s->pace_base_mono = now;
		s->pace_base_pts_ms = pts_ms;
		return 0;
	}
	return due > now ? sleep_until(cam, due) : 0;
}

static int publish(video_camera *cam, session *s, mien_error *err)
{
	AVFrame *picture = s->picture;
	int width = picture->width, height = picture->height;
	if (width < 1 || height < 1 || (int64_t)width * height > cam->opt.max_pixels)
		return mien_error_set(err, MIEN_ETOOBIG, "frame %dx%d from %s is outside 1 .. %lld pixels", width,
		                      height, cam->shown, (long long)cam->opt.max_pixels);
	int full_range = 0;
	enum AVPixelFormat format = plain_format((enum AVPixelFormat)picture->format, &full_range);
	if (picture->color_range == AVCOL_RANGE_JPEG)
		full_range = 1;
	/* sws_getCachedContext rebuilds the scaler when the size or pixel format changes mid-stream. */
	s->scaler = sws_getCachedContext(s->scaler, width, height, format, width, height, AV_PIX_FMT_RGB24,
	                                 SWS_BILINEAR, NULL, NULL, NULL);
	if (s->scaler == NULL)
		return mien_error_set(err, MIEN_EUNSUPPORTED, "cannot convert %s %dx%d to RGB",
		                      av_get_pix_fmt_name(format) != NULL ? av_get_pix_fmt_name(format) : "?", width,
		                      height);
	if (full_range) {
		int *inv_table, *table, src_range, dst_range, brightness, contrast, saturation;
		if (sws_getColorspaceDetails(s->scaler, &inv_table, &src_range, &table, &dst_range, &brightness,
		                             &contrast, &saturation) >= 0)
			sws_setColorspaceDetails(s->scaler, inv_table, 1, table, dst_range, brightness, contrast,
			                         saturation);
	}

	AVRational base = s->format->streams[s->stream]->time_base;
	int64_t pts = picture->best_effort_timestamp;
	int64_t pts_ms = pts == AV_NOPTS_VALUE ? -1 : av_rescale_q(pts, base, (AVRational){ 1, 1000 });
	if (pace_frame(cam, s, pts_ms))
		return MIEN_OK;

	/* A frame the consumer will not take is not converted to RGB: when the next take is due later than the next
	 * frame is expected (with half an interval to spare), this one would only be replaced unseen. At 15 fps
	 * decoded and 5 analysed that is two frames in three, and the conversion is a tenth of the reader's work. */
	int64_t arrival = mien_mono_ms();
	if (s->last_arrival) {
		int64_t gap = arrival - s->last_arrival;
		if (gap > 0 && gap < 1000)
			s->interval_ms = s->interval_ms ? (3 * s->interval_ms + gap) / 4 : gap;
	}
	s->last_arrival = arrival;
	if (cam->opt.max_fps > 0 && s->interval_ms > 0 && s->online_since != 0) {
		pthread_mutex_lock(&cam->lock);
		int superseded = arrival + s->interval_ms + s->interval_ms / 2 < cam->next_take_ms;
		if (superseded) {
			cam->stats.frames_decoded++;
			cam->stats.frames_dropped++;
			cam->last_frame_mono = arrival;
			count_fps_locked(cam, arrival);
		}
		pthread_mutex_unlock(&cam->lock);
		if (superseded)
			return MIEN_OK;
	}

	video_frame *frame = frame_get(&s->spare, width, height);
	if (frame == NULL)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory for a %dx%d frame", width, height);
	uint8_t *dst[4] = { frame->pixels, NULL, NULL, NULL };
	int dst_stride[4] = { frame->stride, 0, 0, 0 };
	sws_scale(s->scaler, (const uint8_t *const *)picture->data, picture->linesize, 0, height, dst, dst_stride);
	frame->pts_ms = pts_ms;
	frame->wall_ms = mien_wall_ms();
	frame->mono_ms = mien_mono_ms();

	pthread_mutex_lock(&cam->lock);
	frame->seq = ++cam->next_seq;
	video_frame *old = cam->slot;
	cam->slot = frame;
	if (old != NULL && old->seq > cam->taken_seq)
		cam->stats.frames_dropped++;
	cam->stats.frames_decoded++;
	cam->stats.width = width;
	cam->stats.height = height;
	cam->stats.last_frame_wall_ms = frame->wall_ms;
	cam->last_frame_mono = frame->mono_ms;
	count_fps_locked(cam, frame->mono_ms);
	int first = s->online_since == 0;
	if (first)
		cam->stats.connects++;
	pthread_cond_broadcast(&cam->changed);
	pthread_mutex_unlock(&cam->lock);

	/* The mailbox's reference to the old frame: when it was the last one, keep the buffer for the next frame
	 * instead of freeing it (no allocation per frame in the steady state). */
	if (old != NULL && atomic_fetch_sub(&old->refs, 1) == 1) {
		if (s->spare == NULL)
			s->spare = old;
		else
			frame_destroy(old);
	}
	if (first) {
		s->online_since = frame->mono_ms;
		set_status(cam, VIDEO_STATUS_ONLINE, NULL);
	}
	return MIEN_OK;
}

/* Decodes what is buffered in the decoder; returns MIEN_OK, or an error for a failed conversion. */
static int drain_frames(video_camera *cam, session *s, mien_error *err)
{
	for (;;) {
		int rc = avcodec_receive_frame(s->decoder, s->picture);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
			return MIEN_OK;
		if (rc < 0)
			return MIEN_OK; /* a corrupt frame: the stall deadline catches a stream that never recovers */
		rc = publish(cam, s, err);
		av_frame_unref(s->picture);
		if (rc != MIEN_OK || atomic_load(&cam->stopping))
			return rc;
	}
}

/* Reads and decodes until a failure or a stop. */
static int session_run(video_camera *cam, session *s, mien_error *err)
{
	int64_t last_progress = mien_mono_ms();
	for (;;) {
		if (atomic_load(&cam->stopping))
			return MIEN_OK;
		int64_t last = s->online_since == 0 ? last_progress : cam->last_frame_mono;
		if (last < last_progress)
			last = last_progress;
		cam->deadline_ms = last + cam->opt.stall_timeout_ms;
		if (mien_mono_ms() > cam->deadline_ms)
			return mien_error_set(err, MIEN_EUNAVAILABLE, "no frame for %d ms from %s",
			                      cam->opt.stall_timeout_ms, cam->shown);
		cam->deadline_hit = 0;
		int rc = av_read_frame(s->format, s->packet);
		if (cam->deadline_hit && !atomic_load(&cam->stopping)) {
			/* libavformat answers an interrupted read by flushing its parsers, which hands out the last,
			 * stale frame as if it were new: a stall is a stall whatever came back. */
			av_packet_unref(s->packet);
			return mien_error_set(err, MIEN_EUNAVAILABLE, "no frame for %d ms from %s",
			                      cam->opt.stall_timeout_ms, cam->shown);
		}
		if (rc == AVERROR_EOF && cam->kind == VIDEO_SOURCE_FILE && cam->opt.loop) {
			/* Flush the frames still in the decoder, then start again at the beginning. */
			avcodec_send_packet(s->decoder, NULL);
			rc = drain_frames(cam, s, err);
			if (rc != MIEN_OK)
				return rc;
			avcodec_flush_buffers(s->decoder);
			rc = avformat_seek_file(s->format, -1, INT64_MIN, 0, 0, 0);
			if (rc < 0)
				return av_error(cam, err, MIEN_EIO, rc, "rewind");
			s->pace_base_mono = 0;
			last_progress = mien_mono_ms();
			continue;
		}
		if (rc == AVERROR_EOF)
			return mien_error_set(err, MIEN_EUNAVAILABLE, "end of stream from %s", cam->shown);
		if (rc < 0) {
			if (atomic_load(&cam->stopping))
				return MIEN_OK;
			return av_error(cam, err, MIEN_EUNAVAILABLE, rc, "read");
		}
		if (s->packet->stream_index != s->stream) {
			av_packet_unref(s->packet);
			continue;
		}
		rc = avcodec_send_packet(s->decoder, s->packet);
		av_packet_unref(s->packet);
		if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_INVALIDDATA)
			return av_error(cam, err, MIEN_EFORMAT, rc, "decode");
		rc = drain_frames(cam, s, err);
		if (rc != MIEN_OK)
			return rc;
	}
}

static void *reader_main(void *arg)
{
	video_camera *cam = arg;
	int delay = cam->opt.backoff_initial_ms;
	while (!atomic_load(&cam->stopping)) {
		session s;
		memset(&s, 0, sizeof(s));
		mien_error err;
		mien_error_clear(&err);
		int rc = session_open(cam, &s, &err);
		if (rc == MIEN_OK) {
			rc = session_run(cam, &s, &err);
			int64_t online_for = s.online_since != 0 ? mien_mono_ms() - s.online_since : 0;
			session_close(cam, &s);
			if (online_for >= cam->opt.healthy_reset_ms)
				delay = cam->opt.backoff_initial_ms;
		}
		if (atomic_load(&cam->stopping))
			break;
		if (err.message[0] == '\0')
			mien_error_set(&err, MIEN_EUNAVAILABLE, "connection to %s ended", cam->shown);
		MIEN_LOG_WARN_("video", "camera %s: %s; retrying in %d ms", cam->name, err.message, delay);
		pthread_mutex_lock(&cam->lock);
		cam->stats.reconnects++;
		cam->stats.backoff_ms = delay;
		cam->stats.fps = 0;
		cam->fps_window_frames = 0;
		pthread_mutex_unlock(&cam->lock);
		set_status(cam, VIDEO_STATUS_RECONNECTING, err.message);
		if (sleep_until(cam, mien_mono_ms() + delay))
			break;
		delay = delay >= cam->opt.backoff_max_ms / 2 ? cam->opt.backoff_max_ms : delay * 2;
	}
	return NULL;
}

/* --- the public calls --------------------------------------------------------------------------------- */

void video_options_default(video_options *options)
{
	if (options != NULL)
		memset(options, 0, sizeof(*options));
}

int video_camera_start(const video_options *options, video_camera **out, mien_error *err)
{
	video_camera *cam = NULL;
	pthread_condattr_t cond_attr;
	int attr_ready = 0, lock_ready = 0, cond_ready = 0;
	int rc;

	if (out == NULL || options == NULL)
		return mien_error_set(err, MIEN_EINVAL, "camera: no options or output pointer");
	*out = NULL;
	int kind = 0;
	rc = video_url_check(options->url, options->allow_file, &kind, err);
	if (rc != MIEN_OK)
		return rc;

	cam = calloc(1, sizeof(*cam));
	if (cam == NULL)
		return mien_error_set(err, MIEN_ENOMEM, "camera: out of memory");
	cam->opt = *options;
	cam->kind = kind;
	mien_redact_url(options->url, cam->shown, sizeof(cam->shown));
	snprintf(cam->name, sizeof(cam->name), "%s", options->name != NULL ? options->name : "camera");
	cam->opt.name = cam->name;
	cam->url = strdup(options->url);
	if (cam->url == NULL) {
		rc = mien_error_set(err, MIEN_ENOMEM, "camera: out of memory");
		goto fail;
	}
	cam->opt.url = NULL; /* only cam->url holds it */

	video_options *o = &cam->opt;
	if (o->rtsp_transport == NULL)
		o->rtsp_transport = "tcp";
	else if (strcmp(o->rtsp_transport, "tcp") == 0)
		o->rtsp_transport = "tcp";
	else if (strcmp(o->rtsp_transport, "udp") == 0)
		o->rtsp_transport = "udp";
	else {
		rc = mien_error_set(err, MIEN_EINVAL, "camera %s: rtsp_transport must be tcp or udp", cam->name);
		goto fail;
	}
	if (o->max_fps == 0)
		o->max_fps = 5;
	if (o->decode_threads == 0)
		o->decode_threads = 1;
	if (o->open_timeout_ms == 0)
		o->open_timeout_ms = 10000;
	if (o->stall_timeout_ms == 0)
		o->stall_timeout_ms = 10000;
	if (o->backoff_initial_ms == 0)
		o->backoff_initial_ms = 500;
	if (o->backoff_max_ms == 0)
		o->backoff_max_ms = 30000;
	if (o->healthy_reset_ms == 0)
		o->healthy_reset_ms = 5000;
	if (o->max_pixels == 0)
		o->max_pixels = (int64_t)4096 * 2160;
	if (o->decode_threads < 1 || o->decode_threads > 16 || o->open_timeout_ms < 0 || o->stall_timeout_ms < 0 ||
	    o->backoff_initial_ms < 0 || o->backoff_max_ms < o->backoff_initial_ms || o->healthy_reset_ms < 0 ||
	    o->max_pixels < 0) {
		rc = mien_error_set(err, MIEN_EINVAL, "camera %s: an option is out of range", cam->name);
		goto fail;
	}

	if (pthread_condattr_init(&cond_attr) != 0) {
		rc = mien_error_set(err, MIEN_EBACKEND, "camera %s: pthread_condattr_init failed", cam->name);
		goto fail;
	}
	attr_ready = 1;
	if (pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&cam->changed, &cond_attr) != 0) {
		rc = mien_error_set(err, MIEN_EBACKEND, "camera %s: pthread_cond_init failed", cam->name);
		goto fail;
	}
	cond_ready = 1;
	if (pthread_mutex_init(&cam->lock, NULL) != 0) {
		rc = mien_error_set(err, MIEN_EBACKEND, "camera %s: pthread_mutex_init failed", cam->name);
		goto fail;
	}
	lock_ready = 1;
	pthread_condattr_destroy(&cond_attr);
	attr_ready = 0;

	pthread_once(&ffmpeg_once, ffmpeg_init);
	cam->stats.status = VIDEO_STATUS_RECONNECTING;
	cam->fps_window_start = mien_mono_ms();
	if (pthread_create(&cam->thread, NULL, reader_main, cam) != 0) {
		rc = mien_error_set(err, MIEN_EBACKEND, "camera %s: cannot start its thread", cam->name);
		goto fail;
	}
	cam->thread_started = 1;
	MIEN_LOG_INFO_("video", "camera %s: starting %s", cam->name, cam->shown);
	*out = cam;
	return MIEN_OK;

fail:
	if (attr_ready)
		pthread_condattr_destroy(&cond_attr);
	if (lock_ready)
		pthread_mutex_destroy(&cam->lock);
	if (cond_ready)
		pthread_cond_destroy(&cam->changed);
	free(cam->url);
	free(cam);
	return rc;
}

void video_camera_stop(video_camera *camera)
{
	if (camera == NULL || !camera->thread_started)
		return;
	atomic_store(&camera->stopping, 1);
	pthread_mutex_lock(&camera->lock);
	pthread_cond_broadcast(&camera->changed);
	pthread_mutex_unlock(&camera->lock);
	pthread_join(camera->thread, NULL);
	camera->thread_started = 0;
	set_status(camera, VIDEO_STATUS_OFFLINE, NULL);
}

void video_camera_free(video_camera **camera)
{
	if (camera == NULL || *camera == NULL)
		return;
	video_camera *cam = *camera;
	video_camera_stop(cam);
	video_frame_unref(&cam->slot);
	pthread_mutex_destroy(&cam->lock);
	pthread_cond_destroy(&cam->changed);
	/* The URL may hold a password: do not leave it in freed memory. */
	memset(cam->url, 0, strlen(cam->url));
	free(cam->url);
	free(cam);
	*camera = NULL;
}

int video_camera_next(video_camera *camera, int timeout_ms, video_frame **frame)
{
	if (camera == NULL || frame == NULL)
		return MIEN_EINVAL;
	*frame = NULL;
	int64_t interval = camera->opt.max_fps > 0 ? (int64_t)(1000.0 / camera->opt.max_fps) : 0;
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : mien_mono_ms() + timeout_ms;
	int rc = MIEN_EUNAVAILABLE;
	pthread_mutex_lock(&camera->lock);
	for (;;) {
		if (atomic_load(&camera->stopping)) {
			rc = MIEN_ESTATE;
			break;
		}
		int64_t now = mien_mono_ms();
		int fresh = camera->slot != NULL && camera->slot->seq > camera->taken_seq;
		if (fresh && now >= camera->next_take_ms) {
			*frame = video_frame_ref(camera->slot);
			camera->taken_seq = camera->slot->seq;
			/* Keep to the schedule: a frame taken late (the consumer was busy elsewhere) does not push
			 * every later one back, or the rate would be 1 / (interval + the usual delay); the next one may
			 * come sooner to make up. A consumer two intervals behind starts a new schedule instead of
			 * catching up in a burst. */
			int64_t due = camera->next_take_ms;
			camera->next_take_ms = due > 0 && now - due < 2 * interval ? due + interval : now + interval;
			camera->stats.frames_taken++;
			rc = MIEN_OK;
			break;
		}
		if (now >= deadline)
			break;
		int64_t until = deadline;
		if (fresh && camera->next_take_ms < until)
			until = camera->next_take_ms;
		if (until == INT64_MAX)
			pthread_cond_wait(&camera->changed, &camera->lock);
		else
			wait_until_locked(camera, until);
	}
	pthread_mutex_unlock(&camera->lock);
	return rc;
}

int64_t video_camera_due_ms(video_camera *camera)
{
	if (camera == NULL)
		return INT64_MAX;
	pthread_mutex_lock(&camera->lock);
	int fresh = camera->slot != NULL && camera->slot->seq > camera->taken_seq && !atomic_load(&camera->stopping);
	int64_t due = fresh ? camera->next_take_ms : INT64_MAX;
	pthread_mutex_unlock(&camera->lock);
	return due;
}

video_frame *video_camera_latest(video_camera *camera)
{
	if (camera == NULL)
		return NULL;
	pthread_mutex_lock(&camera->lock);
	video_frame *frame = video_frame_ref(camera->slot);
	pthread_mutex_unlock(&camera->lock);
	return frame;
}

int video_camera_status(video_camera *camera)
{
	if (camera == NULL)
		return VIDEO_STATUS_OFFLINE;
	pthread_mutex_lock(&camera->lock);
	int status = camera->stats.status;
	pthread_mutex_unlock(&camera->lock);
	return status;
}

void video_camera_stats(video_camera *camera, video_stats *stats)
{
	if (stats == NULL)
		return;
	memset(stats, 0, sizeof(*stats));
	if (camera == NULL)
		return;
	pthread_mutex_lock(&camera->lock);
	*stats = camera->stats;
	/* A stalled stream has no rate, whatever the last window said. */
	if (camera->last_frame_mono == 0 || mien_mono_ms() - camera->last_frame_mono > 2 * FPS_WINDOW_MS)
		stats->fps = 0;
	pthread_mutex_unlock(&camera->lock);
}

const char *video_camera_url(const video_camera *camera)
{
	return camera != NULL ? camera->shown : "";
}
