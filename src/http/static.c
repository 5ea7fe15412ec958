/*
 * static.c — the dashboard's built files (MIEN_WEB, default web/dist). The router has already refused paths
 * with "." or ".." segments; here the resolved file must also lie inside the folder (realpath), so a symbolic
 * link cannot lead out of it. A path without an extension that names no file gets index.html (client-side
 * routes). When the folder is absent, / answers a plain placeholder page.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http_int.h"

static const char PLACEHOLDER[] = "<!doctype html><html><head><meta charset=\"utf-8\"><title>mien</title></head>"
                                  "<body><h1>mien</h1><p>The dashboard is not built. The API is at "
                                  "<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p></body></html>\n";

static const char *content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} TYPES[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".jpg", "image/jpeg" },
		{ ".ico", "image/x-icon" },
		{ ".woff2", "font/woff2" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".map", "application/json" },
		{ ".webmanifest", "application/manifest+json" },
	};
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < MIEN_ARRAY_LEN(TYPES); i++)
			if (strcmp(dot, TYPES[i].ext) == 0)
				return TYPES[i].type;
	return "application/octet-stream";
}

/* Opens `rel` under `root` (a real path) when it resolves to a regular file inside root; -1 otherwise. */
static int open_inside(const char *root, const char *rel, struct stat *st, char *resolved)
{
	char path[PATH_MAX * 2];
	if (snprintf(path, sizeof(path), "%s%s", root, rel) >= (int)sizeof(path))
		return -1;
	if (!realpath(path, resolved))
		return -1;
	size_t n = strlen(root);
	if (strncmp(resolved, root, n) != 0 || (resolved[n] != '/' && resolved[n] != '\0'))
		return -1;
	int fd = open(resolved, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

void http__serve_static(http_req *r)
{
	char root[PATH_MAX], resolved[PATH_MAX];
	if (!realpath(r->srv->web_dir, root)) {
		if (strcmp(r->path, "/") == 0 || strcmp(r->path, "/index.html") == 0)
			http__reply_bytes(r, 200, "text/html; charset=utf-8", (void *)PLACEHOLDER,
			                  sizeof(PLACEHOLDER) - 1, 1);
		else
			http__reply_error(r, 404, "not_found", "no such file");
		return;
	}
	const char *rel = strcmp(r->path, "/") == 0 ? "/index.html" : r->path;
	struct stat st;
	int fd = open_inside(root, rel, &st, resolved);
	const char *slash = strrchr(rel, '/');
	if (fd < 0 && !strchr(slash ? slash : rel, '.')) {
		rel = "/index.html";
		fd = open_inside(root, rel, &st, resolved);
	}
	if (fd < 0) {
		http__reply_error(r, 404, "not_found", "no such file");
		return;
	}
	struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		http__reply_error(r, 500, "internal", "cannot send the file");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(resolved));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	                        strncmp(rel, "/assets/", 8) == 0 ? "public, max-age=31536000, immutable" : "no-cache");
	r->status = 200;
	r->response = resp;
}
