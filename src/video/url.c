/*
 * url.c — the camera URL allow-list. Every message that names the URL shows it through core/redact.h.
 */
#include "video/video.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/redact.h"

#define URL_MAX_LENGTH 4096

static int file_cameras_allowed(int allow_file)
{
	if (allow_file)
		return 1;
	const char *env = getenv("MIEN_ALLOW_FILE_CAMERAS");
	return env != NULL && strcmp(env, "1") == 0;
}

/* "/dev/video" followed by 1..3 digits and nothing else. */
static int is_v4l2_path(const char *url)
{
	if (strncmp(url, "/dev/video", 10) != 0)
		return 0;
	size_t digits = strspn(url + 10, "0123456789");
	return digits >= 1 && digits <= 3 && url[10 + digits] == '\0';
}

int video_url_check(const char *url, int allow_file, int *kind, mien_error *err)
{
	if (kind != NULL)
		*kind = 0;
	if (url == NULL || url[0] == '\0')
		return mien_error_set(err, MIEN_EINVAL, "camera: no URL");
	char shown[512];
	mien_redact_url(url, shown, sizeof(shown));
	size_t n = strnlen(url, URL_MAX_LENGTH + 1);
	if (n > URL_MAX_LENGTH)
		return mien_error_set(err, MIEN_EINVAL, "camera: URL longer than %d bytes", URL_MAX_LENGTH);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c < 0x20 || c == 0x7f)
			return mien_error_set(err, MIEN_EINVAL, "camera: control character in URL %s", shown);
	}

	int found = 0;
	if (is_v4l2_path(url)) {
		found = VIDEO_SOURCE_V4L2;
	} else if (url[0] == '/') {
		found = VIDEO_SOURCE_FILE;
	} else {
		size_t len = 0;
		while (mien_url_scheme_char(url[len]))
			len++;
		if (len == 0 || url[len] != ':')
			return mien_error_set(err, MIEN_EINVAL, "camera: %s is not a URL with a scheme", shown);
		int needs_host = 1;
		if ((len == 4 && strncasecmp(url, "rtsp", 4) == 0) || (len == 5 && strncasecmp(url, "rtsps", 5) == 0)) {
			found = VIDEO_SOURCE_RTSP;
		} else if ((len == 4 && strncasecmp(url, "http", 4) == 0) ||
		           (len == 5 && strncasecmp(url, "https", 5) == 0)) {
			found = VIDEO_SOURCE_HTTP;
		} else if (len == 4 && strncasecmp(url, "file", 4) == 0) {
			found = VIDEO_SOURCE_FILE;
			needs_host = 0;
			if (url[5] == '\0')
				return mien_error_set(err, MIEN_EINVAL, "camera: file URL without a path");
		} else {
			return mien_error_set(err, MIEN_EINVAL,
			                      "camera: scheme \"%.*s\" is not allowed (rtsp, rtsps, http, https, file, "
			                      "/dev/videoN)",
			                      (int)(len > 16 ? 16 : len), url);
		}
		if (needs_host && (strncmp(url + len, "://", 3) != 0 || url[len + 3] == '\0' || url[len + 3] == '/'))
			return mien_error_set(err, MIEN_EINVAL, "camera: %s has no host", shown);
	}
	if (found == VIDEO_SOURCE_FILE && !file_cameras_allowed(allow_file))
		return mien_error_set(err, MIEN_EINVAL,
		                      "camera: file sources are disabled (set MIEN_ALLOW_FILE_CAMERAS=1): %s", shown);
	if (kind != NULL)
		*kind = found;
	return MIEN_OK;
}
