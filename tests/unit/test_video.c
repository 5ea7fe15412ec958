/*
 * test_video.c — camera readers against real peers on loopback: FFmpeg serving HTTP MJPEG, GStreamer's RTSP
 * server (tests/integration/rtsp_server.py, killed and restarted to force reconnects), a dead port, a socket
 * that never answers, and looped files. The clip is made at test time from models/samples/sample1..6.jpg.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/result.h"
#include "video/video.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define RESTARTS 10

static char workdir[256];
static char clip[300];      /* 6 s, 10 fps, 640x480 H.264 */
static char long_clip[300]; /* the same, five times: what the RTSP server serves */
static char python[256];    /* Debian's python3 with gi; "" when missing */

/* --- helpers: processes, ports, /proc --------------------------------------------------------------- */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int run_shell(const char *command)
{
	int rc = system(command);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Starts argv in its own process group, output appended to workdir/peers.log. */
static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		char path[300];
		snprintf(path, sizeof(path), "%s/peers.log", workdir);
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void kill_peer(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(-*pid, SIGKILL);
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	close(fd);
	return ntohs(addr.sin_port);
}

/* Whether something listens on 127.0.0.1:port, read from /proc/net/tcp: connecting to find out would use up
 * the one client that `ffmpeg -listen 1` serves. */
static int port_listening(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	if (f == NULL)
		return 0;
	char line[512];
	int found = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned local_addr = 0, local_port = 0, state = 0;
		if (sscanf(line, " %*d: %x:%x %*x:%*x %x", &local_addr, &local_port, &state) == 3 &&
		    (int)local_port == port && state == 0x0A) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

static int wait_port(int port, int timeout_ms)
{
	int64_t until = mien_mono_ms() + timeout_ms;
	while (mien_mono_ms() < until) {
		if (port_listening(port))
			return 1;
		sleep_ms(20);
	}
	return 0;
}

/* A number from /proc/self/status ("Threads", "VmRSS"). */
static long proc_status(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	assert_non_null(f);
	char line[256];
	long value = -1;
	size_t n = strlen(key);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			value = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

static pid_t start_rtsp(int port)
{
	char port_text[16];
	snprintf(port_text, sizeof(port_text), "%d", port);
	char *argv[] = { python, "tests/integration/rtsp_server.py", port_text, long_clip, "cam", NULL };
	pid_t pid = spawn(argv);
	assert_true(pid > 0);
	if (!wait_port(port, 10000))
		fail_msg("the RTSP server did not listen on %d within 10 s", port);
	return pid;
}

static pid_t start_mjpeg(int port)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/cam.mjpg", port);
	char *argv[] = { "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",    "-stream_loop",
		         "-1",     "-i",           clip,        "-f",    "mpjpeg", "-q:v",
		         "5",      "-listen",      "1",         url,     NULL };
	pid_t pid = spawn(argv);
	assert_true(pid > 0);
	if (!wait_port(port, 10000))
		fail_msg("ffmpeg did not listen on %d within 10 s", port);
	return pid;
}

/* Starts a camera that must start (the URL is valid); caller frees. */
static video_camera *start_camera(const video_options *options)
{
	video_camera *camera = NULL;
	mien_error err;
	int rc = video_camera_start(options, &camera, &err);
	if (rc != MIEN_OK)
		fail_msg("video_camera_start(%s): %d %s", options->url, rc, err.message);
	return camera;
}

/* Starts an RTSP server on a free port and writes its camera URL into url. */
static pid_t start_rtsp_camera(char *url, size_t cap)
{
	int port = free_port();
	pid_t server = start_rtsp(port);
	snprintf(url, cap, "rtsp://127.0.0.1:%d/cam", port);
	return server;
}

/* --- status recorder ---------------------------------------------------------------------------------- */

typedef struct recorder {
	pthread_mutex_t lock;
	int count;
	int status[256];
	int64_t at_ms[256];
} recorder;

static void record_status(void *ctx, video_camera *camera, int old_status, int new_status, const char *error)
{
	(void)camera;
	(void)old_status;
	(void)error;
	recorder *r = ctx;
	pthread_mutex_lock(&r->lock);
	if (r->count < 256) {
		r->status[r->count] = new_status;
		r->at_ms[r->count] = mien_mono_ms();
		r->count++;
	}
	pthread_mutex_unlock(&r->lock);
}

/* Waits until the camera has status `status`; returns the mono time it was seen, or -1 on timeout. */
static int64_t wait_status(video_camera *camera, int status, int timeout_ms)
{
	int64_t until = mien_mono_ms() + timeout_ms;
	while (mien_mono_ms() < until) {
		if (video_camera_status(camera) == status)
			return mien_mono_ms();
		sleep_ms(20);
	}
	return -1;
}

static void assert_picture(const video_frame *frame, int width, int height)
{
	assert_non_null(frame);
	assert_int_equal(frame->width, width);
	assert_int_equal(frame->height, height);
	assert_true(frame->stride >= 3 * width);
	/* A real picture: not one flat colour. */
	long sum = 0, sum2 = 0, n = 0;
	for (int y = 0; y < frame->height; y += 7) {
		for (int x = 0; x < 3 * frame->width; x += 5) {
			int v = frame->pixels[(size_t)y * frame->stride + x];
			sum += v;
			sum2 += (long)v * v;
			n++;
		}
	}
	double mean = (double)sum / n, var = (double)sum2 / n - mean * mean;
	if (var < 100)
		fail_msg("the frame looks flat: mean %.1f variance %.1f", mean, var);
}

/* --- set-up ------------------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(workdir, sizeof(workdir), "/tmp/mien_test_video_%d", (int)getpid());
	mkdir(workdir, 0700);
	snprintf(clip, sizeof(clip), "%s/clip.mp4", workdir);
	snprintf(long_clip, sizeof(long_clip), "%s/long.mp4", workdir);

	char command[4096];
	int len = snprintf(command, sizeof(command), "ffmpeg -hide_banner -loglevel error -y");
	for (int i = 1; i <= 6; i++)
		len += snprintf(command + len, sizeof(command) - len,
		                " -loop 1 -framerate 10 -t 1 -i models/samples/sample%d.jpg", i);
	len += snprintf(command + len, sizeof(command) - len, " -filter_complex '");
	for (int i = 1; i <= 6; i++)
		len += snprintf(
		        command + len, sizeof(command) - len,
		        "[%d:v]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/"
		        "2,setsar=1,format=yuv420p[v%d];",
		        i - 1, i);
	snprintf(
	        command + len, sizeof(command) - len,
	        "[v1][v2][v3][v4][v5][v6]concat=n=6:v=1:a=0[out]' -map '[out]' -c:v libx264 -preset ultrafast -g 10 "
	        "-r 10 %s && ffmpeg -hide_banner -loglevel error -y -stream_loop 4 -i %s -c copy %s && mkdir -p %s/hls "
	        "&& ffmpeg -hide_banner -loglevel error -y -i %s -c copy -f hls -hls_time 1 -hls_list_size 0 "
	        "-hls_playlist_type vod %s/hls/index.m3u8",
	        clip, clip, long_clip, workdir, clip, workdir);
	if (run_shell(command) != 0) {
		fprintf(stderr, "test_video: cannot make the clip (ffmpeg, models/samples?)\n");
		return -1;
	}

	/* Debian's python3, the one that imports gi (MACHINE-NOTES.md). */
	FILE *p = popen("for p in $(type -ap python3) /usr/bin/python3; do \"$p\" -c \"import gi; "
	                "gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer\" "
	                ">/dev/null 2>&1 && { echo \"$p\"; break; }; done",
	                "r");
	python[0] = '\0';
	if (p != NULL) {
		if (fgets(python, sizeof(python), p) != NULL)
			python[strcspn(python, "\n")] = '\0';
		pclose(p);
	}
	if (python[0] == '\0') {
		fprintf(stderr, "test_video: no python3 with GStreamer's RTSP server (scripts/deps.sh)\n");
		return -1;
	}
	int level = MIEN_LOG_WARN;
	if (getenv("MIEN_LOG_LEVEL") != NULL)
		mien_log_level_parse(getenv("MIEN_LOG_LEVEL"), &level);
	mien_log_set_level(level);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char command[300];
	snprintf(command, sizeof(command), "rm -rf %s", workdir);
	run_shell(command);
	return 0;
}

/* --- URLs --------------------------------------------------------------------------------------------- */

static void test_allow_list(void **state)
{
	(void)state;
	unsetenv("MIEN_ALLOW_FILE_CAMERAS");
	static const char *const refused[] = {
		"exec:ls",
		"pipe:0",
		"concat:/etc/passwd|/etc/passwd",
		"subfile:,start,0,end,10,:/etc/passwd",
		"data:video/mp4;base64,AAAA",
		"gopher://127.0.0.1/",
		"tcp://127.0.0.1:1234",
		"udp://127.0.0.1:1234",
		"rtmp://127.0.0.1/live",
		"async:http://127.0.0.1/",
		"cache:http://127.0.0.1/",
		"crypto:http://127.0.0.1/",
		"hls+http://127.0.0.1/x.m3u8",
		"video.mp4",
		"./video.mp4",
		"rtsp:/cam",
		"rtsp://",
		"http:///x",
		"http://127.0.0.1/a\nb",
		"",
		"/tmp/clip.mp4",           /* files are off unless allowed */
		"file:/tmp/clip.mp4",      /* same */
		"FILE:///tmp/clip.mp4",    /* same */
		"/dev/video0/../../etc/x", /* not a V4L2 device path: a file path, so refused too */
	};
	for (size_t i = 0; i < MIEN_ARRAY_LEN(refused); i++) {
		mien_error err;
		int kind = -1;
		int rc = video_url_check(refused[i], 0, &kind, &err);
		if (rc != MIEN_EINVAL)
			fail_msg("\"%s\": expected MIEN_EINVAL (%d), got %d", refused[i], MIEN_EINVAL, rc);
		assert_int_equal(kind, 0);
		assert_true(err.message[0] != '\0');
	}

	static const struct {
		const char *url;
		int allow_file;
		int kind;
	} accepted[] = {
		{ "rtsp://127.0.0.1:554/stream1", 0, VIDEO_SOURCE_RTSP },
		{ "RTSP://cam.local/h264", 0, VIDEO_SOURCE_RTSP },
		{ "rtsps://user:pw@cam.local/h264", 0, VIDEO_SOURCE_RTSP },
		{ "http://10.0.0.5/mjpg/video.mjpg", 0, VIDEO_SOURCE_HTTP },
		{ "https://cdn.example/live/index.m3u8", 0, VIDEO_SOURCE_HTTP },
		{ "/dev/video0", 0, VIDEO_SOURCE_V4L2 },
		{ "/dev/video12", 0, VIDEO_SOURCE_V4L2 },
		{ "/tmp/clip.mp4", 1, VIDEO_SOURCE_FILE },
		{ "file:/tmp/clip.mp4", 1, VIDEO_SOURCE_FILE },
	};
	for (size_t i = 0; i < MIEN_ARRAY_LEN(accepted); i++) {
		int kind = 0;
		mien_error err;
		int rc = video_url_check(accepted[i].url, accepted[i].allow_file, &kind, &err);
		if (rc != MIEN_OK)
			fail_msg("\"%s\": expected MIEN_OK, got %d (%s)", accepted[i].url, rc, err.message);
		assert_int_equal(kind, accepted[i].kind);
	}

	/* The environment switch allows files too. */
	setenv("MIEN_ALLOW_FILE_CAMERAS", "1", 1);
	assert_int_equal(video_url_check("/tmp/clip.mp4", 0, NULL, NULL), MIEN_OK);
	unsetenv("MIEN_ALLOW_FILE_CAMERAS");

	/* And the camera refuses before any thread or FFmpeg call. */
	video_options options;
	video_options_default(&options);
	options.url = "concat:/etc/passwd|/etc/hostname";
	video_camera *camera = (video_camera *)1;
	mien_error err;
	assert_int_equal(video_camera_start(&options, &camera, &err), MIEN_EINVAL);
	assert_null(camera);
	options.url = "rtsp://127.0.0.1/x";
	options.rtsp_transport = "http";
	assert_int_equal(video_camera_start(&options, &camera, &err), MIEN_EINVAL);
	assert_null(camera);
}

/* --- files -------------------------------------------------------------------------------------------- */

static void test_file_loop(void **state)
{
	(void)state;
	/* As fast as it decodes: 60 frames a pass, so 200 frames means three passes past the end. */
	video_options options;
	video_options_default(&options);
	options.url = clip;
	options.allow_file = 1;
	options.loop = 1;
	options.realtime = -1;
	options.max_fps = -1;
	video_camera *camera = start_camera(&options);
	video_stats stats;
	int64_t until = mien_mono_ms() + 20000;
	int64_t last_pts = -1;
	int loops_seen = 0;
	do {
		video_frame *frame = NULL;
		if (video_camera_next(camera, 1000, &frame) == MIEN_OK) {
			assert_picture(frame, 640, 480);
			if (frame->pts_ms < last_pts)
				loops_seen++;
			last_pts = frame->pts_ms;
			video_frame_unref(&frame);
			assert_null(frame);
		}
		video_camera_stats(camera, &stats);
	} while (stats.frames_decoded < 200 && mien_mono_ms() < until);
	if (stats.frames_decoded < 200)
		fail_msg("a looped 60-frame file gave only %llu frames", (unsigned long long)stats.frames_decoded);
	assert_int_equal(stats.reconnects, 0);
	assert_int_equal(stats.status, VIDEO_STATUS_ONLINE);
	assert_true(loops_seen >= 1);
	video_camera_free(&camera);
	assert_null(camera);

	/* At the file's own pace (10 fps) and without looping: ~10 frames a second, then the end of the file is a
	 * failure like any other and the camera reconnects (starting the file again). */
	video_options_default(&options);
	options.url = clip;
	options.allow_file = 1;
	options.max_fps = -1;
	camera = start_camera(&options);
	assert_true(wait_status(camera, VIDEO_STATUS_ONLINE, 5000) > 0);
	video_camera_stats(camera, &stats);
	uint64_t before = stats.frames_decoded;
	sleep_ms(2000);
	video_camera_stats(camera, &stats);
	uint64_t in_two_seconds = stats.frames_decoded - before;
	if (in_two_seconds < 14 || in_two_seconds > 26)
		fail_msg("a 10 fps file delivered %llu frames in 2 s (expected about 20)",
		         (unsigned long long)in_two_seconds);
	video_camera_free(&camera);
}

/* A raw MJPEG stream whose picture size changes mid-stream (1 s at 320x240, then 1 s at 640x480, looped): the
 * scaler follows without a reconnect, and frames of both sizes come out. */
static void test_size_change(void **state)
{
	(void)state;
	char mixed[300], command[2400];
	snprintf(mixed, sizeof(mixed), "%s/mixed.mjpeg", workdir);
	snprintf(command, sizeof(command),
	         "ffmpeg -hide_banner -loglevel error -y -i %s -t 1 -vf scale=320:240 -q:v 5 -f mjpeg %s.a && "
	         "ffmpeg -hide_banner -loglevel error -y -i %s -t 1 -q:v 5 -f mjpeg %s.b && cat %s.a %s.b > %s",
	         clip, mixed, clip, mixed, mixed, mixed, mixed);
	assert_int_equal(run_shell(command), 0);
	video_options options;
	video_options_default(&options);
	options.url = mixed;
	options.allow_file = 1;
	options.loop = 1;
	options.realtime = -1;
	options.max_fps = -1;
	video_camera *camera = start_camera(&options);
	int small = 0, large = 0;
	int64_t until = mien_mono_ms() + 10000;
	while ((small < 3 || large < 3) && mien_mono_ms() < until) {
		video_frame *frame = NULL;
		if (video_camera_next(camera, 1000, &frame) != MIEN_OK)
			continue;
		if (frame->width == 320) {
			assert_picture(frame, 320, 240);
			small++;
		} else {
			assert_picture(frame, 640, 480);
			large++;
		}
		video_frame_unref(&frame);
	}
	video_stats stats;
	video_camera_stats(camera, &stats);
	if (small < 3 || large < 3)
		fail_msg("saw %d frames at 320x240 and %d at 640x480", small, large);
	assert_int_equal(stats.reconnects, 0);
	video_camera_free(&camera);
}

/* --- HTTP MJPEG and the mailbox ----------------------------------------------------------------------- */

static void test_mjpeg_mailbox(void **state)
{
	(void)state;
	int port = free_port();
	pid_t peer = start_mjpeg(port);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/cam.mjpg", port);

	video_options options;
	video_options_default(&options);
	options.url = url;
	options.max_fps = 2;
	video_camera *camera = start_camera(&options);
	assert_true(wait_status(camera, VIDEO_STATUS_ONLINE, 10000) > 0);

	/* A consumer slower than the 10 fps source: it works 300 ms on each frame, and asks for at most 2 fps. */
	int64_t start = mien_mono_ms();
	int taken = 0;
	while (mien_mono_ms() - start < 3000) {
		video_frame *frame = NULL;
		int rc = video_camera_next(camera, 2000, &frame);
		assert_int_equal(rc, MIEN_OK);
		assert_picture(frame, 640, 480);
		/* The frame handed out is the latest, not one from a queue. */
		int64_t age = mien_mono_ms() - frame->mono_ms;
		if (age > 250)
			fail_msg("the frame handed out is %lld ms old", (long long)age);
		taken++;
		video_frame_unref(&frame);
		sleep_ms(300);
	}
	/* Due: not right after a take (the next is 500 ms away, or no new frame yet), but once the interval has
	 * passed and the 10 fps source has sent a new frame. */
	video_frame *frame = NULL;
	assert_int_equal(video_camera_next(camera, 2000, &frame), MIEN_OK);
	video_frame_unref(&frame);
	taken++;
	assert_true(video_camera_due_ms(camera) > mien_mono_ms() + 300);
	sleep_ms(600);
	assert_true(video_camera_due_ms(camera) <= mien_mono_ms());
	assert_true(video_camera_due_ms(NULL) == INT64_MAX);
	video_stats stats;
	video_camera_stats(camera, &stats);
	/* 2 fps for 3 s: at most 7 frames (one at the start of each 500 ms), about 25 decoded; one more after. */
	assert_in_range(taken, 5, 8);
	assert_int_equal(stats.frames_taken, (uint64_t)taken);
	if (stats.frames_dropped < 10)
		fail_msg("frames_dropped %llu, decoded %llu: a slow consumer must make the mailbox drop",
		         (unsigned long long)stats.frames_dropped, (unsigned long long)stats.frames_decoded);
	assert_true(stats.frames_dropped + stats.frames_taken <= stats.frames_decoded);
	assert_true(stats.fps > 5 && stats.fps < 15);
	assert_int_equal(stats.width, 640);
	assert_int_equal(stats.height, 480);

	/* latest() peeks without taking. */
	video_frame *peek = video_camera_latest(camera);
	assert_picture(peek, 640, 480);
	video_frame *again = video_frame_ref(peek);
	video_frame_unref(&peek);
	assert_int_equal(again->width, 640); /* still alive: the second reference holds it */
	video_frame_unref(&again);

	video_camera_free(&camera);
	kill_peer(&peer);
}

/* HLS over HTTP (Python's http.server serving a VOD playlist of 1 s segments): the playlist and the segments
 * come through the http protocol the whitelist allows. */
static void test_hls_http(void **state)
{
	(void)state;
	int port = free_port();
	char port_text[16], dir[300];
	snprintf(port_text, sizeof(port_text), "%d", port);
	snprintf(dir, sizeof(dir), "%s/hls", workdir);
	char *argv[] = { python, "-m", "http.server", port_text, "--bind", "127.0.0.1", "--directory", dir, NULL };
	pid_t server = spawn(argv);
	assert_true(server > 0);
	if (!wait_port(port, 10000))
		fail_msg("http.server did not listen on %d", port);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/index.m3u8", port);
	video_options options;
	video_options_default(&options);
	options.url = url;
	video_camera *camera = start_camera(&options);
	video_frame *frame = NULL;
	assert_int_equal(video_camera_next(camera, 10000, &frame), MIEN_OK);
	assert_picture(frame, 640, 480);
	video_frame_unref(&frame);
	video_camera_free(&camera);
	kill_peer(&server);
}

/* --- RTSP: reconnects --------------------------------------------------------------------------------- */

static void test_rtsp_reconnect(void **state)
{
	(void)state;
	int port = free_port();
	pid_t server = start_rtsp(port);
	char url[128];
	snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/cam", port);

	recorder rec = { .count = 0 };
	pthread_mutex_init(&rec.lock, NULL);
	video_options options;
	video_options_default(&options);
	options.url = url;
	options.stall_timeout_ms = 3000;
	options.open_timeout_ms = 3000;
	options.backoff_max_ms = 2000;
	options.on_status = record_status;
	options.on_status_ctx = &rec;
	video_camera *camera = start_camera(&options);
	assert_true(wait_status(camera, VIDEO_STATUS_ONLINE, 10000) > 0);
	video_frame *frame = video_camera_latest(camera);
	assert_picture(frame, 640, 480);
	video_frame_unref(&frame);

	long threads0 = 0, rss0 = 0;
	int64_t worst = 0, total = 0;
	for (int i = 0; i < RESTARTS; i++) {
		kill_peer(&server);
		int64_t killed = mien_mono_ms();
		int64_t lost = wait_status(camera, VIDEO_STATUS_RECONNECTING, 5000);
		if (lost < 0)
			fail_msg("restart %d: still online 5 s after the server was killed", i);
		assert_true(lost - killed < 5000);
		sleep_ms(300);
		server = start_rtsp(port);
		int64_t back = mien_mono_ms();
		int64_t online = wait_status(camera, VIDEO_STATUS_ONLINE, 5000);
		if (online < 0)
			fail_msg("restart %d: not online within 5 s of the server's return", i);
		int64_t took = online - back;
		total += took;
		if (took > worst)
			worst = took;
		if (i == 0) {
			/* The baseline is taken after one full reconnect, when FFmpeg's lazy set-up is done. */
			threads0 = proc_status("Threads");
			rss0 = proc_status("VmRSS");
		}
	}
	video_stats stats;
	video_camera_stats(camera, &stats);
	fprintf(stderr,
	        "rtsp: %d restarts, back online after the server's return in %lld ms on average, %lld ms worst\n",
	        RESTARTS, (long long)(total / RESTARTS), (long long)worst);
	assert_true(stats.reconnects >= RESTARTS);
	assert_int_equal(stats.connects, RESTARTS + 1);

	long threads1 = proc_status("Threads"), rss1 = proc_status("VmRSS");
	fprintf(stderr, "rtsp: threads %ld -> %ld, RSS %ld -> %ld KiB\n", threads0, threads1, rss0, rss1);
	assert_int_equal(threads1, threads0);
	/* ASan's quarantine holds freed memory back, so RSS is only meaningful without it. */
	if (!UNDER_ASAN && rss1 - rss0 > 8 * 1024)
		fail_msg("RSS grew from %ld to %ld KiB over %d reconnects", rss0, rss1, RESTARTS - 1);

	/* Every loss was reported, then every return: offline never appears while running. */
	pthread_mutex_lock(&rec.lock);
	int ups = 0, downs = 0;
	for (int i = 0; i < rec.count; i++) {
		ups += rec.status[i] == VIDEO_STATUS_ONLINE;
		downs += rec.status[i] == VIDEO_STATUS_RECONNECTING;
		assert_int_not_equal(rec.status[i], VIDEO_STATUS_OFFLINE);
	}
	pthread_mutex_unlock(&rec.lock);
	assert_int_equal(ups, RESTARTS + 1);
	assert_int_equal(downs, RESTARTS);

	int64_t t0 = mien_mono_ms();
	video_camera_free(&camera);
	assert_true(mien_mono_ms() - t0 < 1000);
	kill_peer(&server);
	pthread_mutex_destroy(&rec.lock);
}

/* The server freezes (SIGSTOP) with the connection open: no error, no data. The stall time-out must notice,
 * and the camera must come back once the server thaws. */
static void test_rtsp_stall(void **state)
{
	(void)state;
	char url[128];
	pid_t server = start_rtsp_camera(url, sizeof(url));
	video_options options;
	video_options_default(&options);
	options.url = url;
	options.stall_timeout_ms = 1500;
	options.open_timeout_ms = 1500;
	options.backoff_max_ms = 1000;
	video_camera *camera = start_camera(&options);
	assert_true(wait_status(camera, VIDEO_STATUS_ONLINE, 10000) > 0);
	kill(-server, SIGSTOP);
	int64_t frozen = mien_mono_ms();
	int64_t noticed = wait_status(camera, VIDEO_STATUS_RECONNECTING, 5000);
	assert_true(noticed > 0);
	/* The stall time-out plus FFmpeg's ~100 ms interrupt polling and a frame interval. */
	if (noticed - frozen < 1400 || noticed - frozen > 2200)
		fail_msg("the stall was noticed %lld ms after the freeze (stall time-out 1500 ms)",
		         (long long)(noticed - frozen));
	/* No stale frame was published as new after the freeze. */
	video_frame *last = video_camera_latest(camera);
	assert_non_null(last);
	if (last->mono_ms - frozen > 300)
		fail_msg("a frame was published %lld ms after the server froze", (long long)(last->mono_ms - frozen));
	video_frame_unref(&last);
	video_stats stats;
	video_camera_stats(camera, &stats);
	if (strstr(stats.last_error, "no frame for 1500 ms") == NULL)
		fail_msg("last error \"%s\" is not a stall", stats.last_error);
	sleep_ms(1000);
	kill(-server, SIGCONT);
	int64_t thawed = mien_mono_ms();
	int64_t online = wait_status(camera, VIDEO_STATUS_ONLINE, 8000);
	if (online < 0)
		fail_msg("not online again within 8 s of the server thawing");
	fprintf(stderr, "rtsp stall: noticed after %lld ms, online %lld ms after the thaw\n",
	        (long long)(noticed - frozen), (long long)(online - thawed));
	video_camera_free(&camera);
	kill_peer(&server);
}

static void test_rtsp_udp(void **state)
{
	(void)state;
	char url[128];
	pid_t server = start_rtsp_camera(url, sizeof(url));
	video_options options;
	video_options_default(&options);
	options.url = url;
	options.rtsp_transport = "udp";
	options.skip_nonref = 1;
	video_camera *camera = start_camera(&options);
	assert_true(wait_status(camera, VIDEO_STATUS_ONLINE, 10000) > 0);
	video_frame *frame = NULL;
	assert_int_equal(video_camera_next(camera, 3000, &frame), MIEN_OK);
	assert_picture(frame, 640, 480);
	video_frame_unref(&frame);
	video_camera_free(&camera);
	kill_peer(&server);
}

/* --- credentials never reach the log ------------------------------------------------------------------ */

static void test_password_not_logged(void **state)
{
	(void)state;
	const char *password = "Zq7SecretPw";
	FILE *sink = tmpfile();
	assert_non_null(sink);
	int level = mien_log_get_level();
	mien_log_set_stream(sink);
	mien_log_set_level(MIEN_LOG_DEBUG);
	av_log_set_level(AV_LOG_DEBUG); /* the most FFmpeg says */

	int port = free_port();
	pid_t server = start_rtsp(port);
	char good[160], dead[160];
	snprintf(good, sizeof(good), "rtsp://admin:%s@127.0.0.1:%d/cam", password, port);
	snprintf(dead, sizeof(dead), "http://admin:%s@127.0.0.1:%d/cam.mjpg?password=%s", password, free_port(),
	         password);

	video_options options;
	video_options_default(&options);
	options.url = good;
	options.name = "door";
	video_camera *a = NULL, *b = NULL;
	mien_error err;
	assert_int_equal(video_camera_start(&options, &a, &err), MIEN_OK);
	options.url = dead;
	options.name = "yard";
	options.backoff_initial_ms = 100;
	assert_int_equal(video_camera_start(&options, &b, &err), MIEN_OK);
	assert_true(wait_status(a, VIDEO_STATUS_ONLINE, 10000) > 0);
	sleep_ms(500);
	kill_peer(&server); /* a loss, with its error message, on the good camera too */
	assert_true(wait_status(a, VIDEO_STATUS_RECONNECTING, 5000) > 0);
	sleep_ms(300);

	video_stats stats;
	video_camera_stats(b, &stats);
	assert_true(stats.reconnects >= 1);
	assert_null(strstr(stats.last_error, password));
	assert_non_null(strstr(stats.last_error, "admin:***@"));
	assert_null(strstr(video_camera_url(a), password));
	video_camera_free(&a);
	video_camera_free(&b);

	av_log_set_level(AV_LOG_WARNING);
	mien_log_set_level(level);
	mien_log_set_stream(NULL);
	fflush(sink);
	long size = ftell(sink);
	char *text = calloc(1, (size_t)size + 1);
	rewind(sink);
	assert_int_equal(fread(text, 1, (size_t)size, sink), (size_t)size);
	fclose(sink);
	/* The log did name the cameras' URLs (redacted), and FFmpeg did talk, but never the password. */
	assert_non_null(strstr(text, "admin:***@127.0.0.1"));
	assert_non_null(strstr(text, "password=***"));
	assert_non_null(strstr(text, " ffmpeg: "));
	if (strstr(text, password) != NULL)
		fail_msg("the password appears in the log:\n%s", strstr(text, password) - 80);
	free(text);
}

/* --- dead and silent peers ---------------------------------------------------------------------------- */

static void test_dead_url_backoff(void **state)
{
	(void)state;
	char url[128];
	snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/cam", free_port());
	video_options options;
	video_options_default(&options);
	options.url = url;
	options.backoff_initial_ms = 100;
	options.backoff_max_ms = 400;
	video_camera *camera = start_camera(&options);
	sleep_ms(2000);
	video_stats stats;
	video_camera_stats(camera, &stats);
	/* Retries after 100, 200, 400, 400, 400 ... ms: 6 or 7 in 2 s; without a backoff it would be hundreds. */
	assert_in_range(stats.reconnects, 4, 9);
	assert_int_equal(stats.backoff_ms, 400);
	assert_int_equal(stats.status, VIDEO_STATUS_RECONNECTING);
	assert_int_equal(stats.connects, 0);
	assert_int_equal(stats.frames_decoded, 0);
	assert_non_null(strstr(stats.last_error, "127.0.0.1"));
	video_frame *frame = NULL;
	assert_int_equal(video_camera_next(camera, 0, &frame), MIEN_EUNAVAILABLE);
	assert_null(video_camera_latest(camera));
	int64_t t0 = mien_mono_ms();
	video_camera_stop(camera);
	assert_true(mien_mono_ms() - t0 < 1000);
	assert_int_equal(video_camera_status(camera), VIDEO_STATUS_OFFLINE);
	assert_int_equal(video_camera_next(camera, 100, &frame), MIEN_ESTATE);
	video_camera_free(&camera);
	video_camera_free(&camera); /* NULL: a no-op */
}

/* A listening socket that accepts connections (through the backlog) and never says a word. */
static int silent_listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	*port = ntohs(addr.sin_port);
	return fd;
}

static void test_stop_while_blocked(void **state)
{
	(void)state;
	int port = 0;
	int fd = silent_listener(&port);
	static const char *const forms[] = { "http://127.0.0.1:%d/cam.mjpg", "rtsp://127.0.0.1:%d/cam" };
	for (size_t i = 0; i < MIEN_ARRAY_LEN(forms); i++) {
		char url[128];
		snprintf(url, sizeof(url), forms[i], port);
		video_options options;
		video_options_default(&options);
		options.url = url;
		options.open_timeout_ms = 60000;
		options.stall_timeout_ms = 60000;
		video_camera *camera = NULL;
		mien_error err;
		assert_int_equal(video_camera_start(&options, &camera, &err), MIEN_OK);
		sleep_ms(500); /* now blocked waiting for the peer's answer */
		assert_int_equal(video_camera_status(camera), VIDEO_STATUS_RECONNECTING);
		int64_t t0 = mien_mono_ms();
		video_camera_free(&camera);
		int64_t took = mien_mono_ms() - t0;
		if (took >= 1000)
			fail_msg("%s: stop took %lld ms while blocked in a read", forms[i], (long long)took);
	}

	/* The same silence with a short open timeout is a failure, reported as a time-out, and retried. */
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/cam.mjpg", port);
	video_options options;
	video_options_default(&options);
	options.url = url;
	options.open_timeout_ms = 500;
	options.stall_timeout_ms = 500;
	options.backoff_initial_ms = 100;
	video_camera *camera = start_camera(&options);
	sleep_ms(1800);
	video_stats stats;
	video_camera_stats(camera, &stats);
	assert_true(stats.reconnects >= 1);
	if (strstr(stats.last_error, "timed out") == NULL)
		fail_msg("last error \"%s\" does not say it timed out", stats.last_error);
	video_camera_free(&camera);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_file_loop),
		cmocka_unit_test(test_size_change),
		cmocka_unit_test(test_mjpeg_mailbox),
		cmocka_unit_test(test_hls_http),
		cmocka_unit_test(test_rtsp_reconnect),
		cmocka_unit_test(test_rtsp_stall),
		cmocka_unit_test(test_rtsp_udp),
		cmocka_unit_test(test_password_not_logged),
		cmocka_unit_test(test_dead_url_backoff),
		cmocka_unit_test(test_stop_while_blocked),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
