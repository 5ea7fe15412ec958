/*
 * cli_serve.c — `mien serve`: opens and migrates the store, creates the first admin when there are no users
 * (its random password is printed once on stdout and never logged), serves the API until SIGINT or SIGTERM,
 * then stops cleanly (requests in flight finish, the store is closed).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/redact.h"
#include "face/face.h"
#include "bus/bus.h"
#include "bus/notify.h"
#include "http/http.h"
#include "store/store.h"
#include "watch/watch.h"

static const char USAGE[] =
        "usage: mien serve [--routes]\n"
        "  Serves the HTTP API and the dashboard on MIEN_LISTEN (default 127.0.0.1:8080) with the database\n"
        "  MIEN_DB, and runs the cameras (MIEN_ROLE=all, the default; api: no cameras; worker: cameras only behind\n"
        "  the health and metrics routes). The dashboard's files come from MIEN_WEB (default web/dist).\n"
        "  MIEN_DEMO_CAMERA=FILE adds a looping demo camera playing FILE when there is no camera yet.\n"
        "  --routes prints the API's routes (METHOD PATH) and exits.\n";

/* The demo camera of `make run`: a looping clip, added only to a database without cameras. */
static void demo_camera(store *db, const char *clip)
{
	if (!clip || !*clip)
		return;
	store_camera c = { 0 };
	size_t n = 0;
	mien_error err = { 0 };
	if (store_camera_list(db, 0, &c, 1, &n, &err) != MIEN_OK || n > 0)
		return;
	char path[4096];
	if (!realpath(clip, path)) {
		mien_log(MIEN_LOG_WARN, "serve", "demo camera: %s not found (make demo builds it)", clip);
		return;
	}
	snprintf(c.name, sizeof(c.name), "demo");
	if (strlen(path) + 6 > sizeof(c.url)) {
		mien_log(MIEN_LOG_WARN, "serve", "demo camera: path too long");
		return;
	}
	memcpy(c.url, "file:", 5);
	memcpy(c.url + 5, path, strlen(path) + 1);
	c.enabled = 1;
	c.analysis_fps = 5;
	if (store_camera_create(db, &c, &err) != MIEN_OK)
		mien_log(MIEN_LOG_WARN, "serve", "demo camera: %s", err.message);
	else
		mien_log(MIEN_LOG_INFO, "serve", "added the demo camera (%s)", path);
}

/* Creates `admin` with a random password when the user table is empty; prints the password once. */
static int first_admin(store *db, mien_error *err)
{
	int64_t users = 0;
	int rc = store_user_count(db, &users, err);
	if (rc != MIEN_OK || users > 0)
		return rc;
	store_user *u = calloc(1, sizeof(*u));
	if (!u)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	char password[32];
	http_random_password(password, sizeof(password));
	snprintf(u->username, sizeof(u->username), "admin");
	u->role = STORE_ROLE_ADMIN;
	u->all_cameras = 1;
	rc = http_password_hash(password, u->password_hash, err);
	if (rc == MIEN_OK)
		rc = store_user_create(db, u, err);
	if (rc == MIEN_OK) {
		printf("mien: created the first user 'admin' with password %s\n"
		       "mien: it is shown only this once; change it with `mien user passwd admin`\n",
		       password);
		fflush(stdout);
	} else if (rc == MIEN_ECONFLICT) {
		rc = MIEN_OK; /* another node created it first */
	}
	memset(password, 0, sizeof(password));
	free(u);
	return rc;
}

/* The re-embedding pass of a server that starts under another embedder than some enrolled faces (MIEN_REEMBED=off
 * leaves them): in the background, so that the server serves meanwhile; the gallery sync brings each face back into
 * the indexes as it is done. */
typedef struct reembedder {
	pthread_t thread;
	int started;
	atomic_int cancel;
	store *db;
	const mien_config *cfg;
} reembedder;

static void *reembed_main(void *arg)
{
	reembedder *r = arg;
	face_options options;
	face_options_default(&options);
	options.expressions = 0;
	options.min_face = 1;
	nn_pool *pool = NULL;
	face_analyzer *a = NULL;
	mien_error err = { 0 };
	reembed_report report = { 0 };
	int rc = nn_pool_create(1, &pool, &err);
	if (rc == MIEN_OK)
		rc = face_analyzer_create(&options, r->cfg->models, pool, &a, &err);
	if (rc == MIEN_OK)
		rc = reembed_all(r->db, a, 1, &r->cancel, &report, &err);
	if (rc)
		mien_log(MIEN_LOG_WARN, "reembed", "%s", err.message);
	else if (report.to_do)
		mien_log(MIEN_LOG_INFO, "reembed", "%s: %lld faces embedded again, %lld kept as they were%s",
		         a ? face_analyzer_embedder(a) : "", (long long)report.done, (long long)report.failed,
		         atomic_load(&r->cancel) ? " (stopped)" : "");
	face_analyzer_free(&a);
	nn_pool_destroy(&pool);
	return NULL;
}

static void reembed_start(reembedder *r, store *db, const mien_config *cfg)
{
	const char *env = getenv("MIEN_REEMBED");
	if (env && strcmp(env, "off") == 0)
		return;
	int64_t same = 0, other = 0;
	mien_error err = { 0 };
	const char *model = face_embedder_name(NULL);
	if (store_face_count_models(db, model, &same, &other, &err) != MIEN_OK || other == 0)
		return;
	mien_log(MIEN_LOG_INFO, "reembed", "%lld enrolled faces are of another embedder than %s: embedding them again",
	         (long long)other, model);
	r->db = db;
	r->cfg = cfg;
	atomic_init(&r->cancel, 0);
	r->started = pthread_create(&r->thread, NULL, reembed_main, r) == 0;
}

static void reembed_stop(reembedder *r)
{
	if (!r->started)
		return;
	atomic_store(&r->cancel, 1);
	pthread_join(r->thread, NULL);
	r->started = 0;
}

int cli_serve_main(int argc, char **argv, const mien_config *cfg)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--routes") == 0) {
			http_routes_print(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(USAGE, stdout);
			return CLI_EXIT_OK;
		}
		cli_error("unknown argument %s", argv[i]);
		fputs(USAGE, stderr);
		return CLI_EXIT_USAGE;
	}
	mien_error err = { 0 };
	store *db = NULL;
	bus *events = NULL;
	notify *notifier = NULL;
	watch *cameras = NULL;
	http_server *server = NULL;
	reembedder reembed = { 0 };
	int rc = CLI_EXIT_FAIL;
	/* Block the stop signals before any thread starts, so that only sigwait below receives them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	char db_shown[MIEN_CONFIG_STR_MAX];
	mien_redact_url(cfg->db, db_shown, sizeof(db_shown));
	mien_log(MIEN_LOG_INFO, "serve", "MIEN_DB=%s MIEN_MODELS=%s", db_shown, cfg->models);
	if (store_open(cfg->db, 0, &db, &err) != MIEN_OK || store_migrate(db, NULL, &err) != MIEN_OK ||
	    first_admin(db, &err) != MIEN_OK) {
		cli_error("database: %s", err.message);
		goto done;
	}
	/* The bus: in-process, or Redis between nodes (MIEN_REDIS); a Redis that is down is retried, not fatal. */
	if (bus_open(cfg->redis, NULL, &events, &err) != MIEN_OK) {
		cli_error("MIEN_REDIS: %s", err.message);
		goto done;
	}
	/* MQTT and webhooks: subscribed before the cameras start, so that their first status is told; a broker that
	 * is down is retried, not fatal. */
	notify_options no = { .mqtt_url = cfg->mqtt, .mqtt_ca = cfg->mqtt_ca, .mqtt_prefix = cfg->mqtt_prefix };
	if (notify_start(db, events, &no, &notifier, &err) != MIEN_OK) {
		cli_error("notifications: %s", err.message);
		goto done;
	}
	const char *demo = getenv("MIEN_DEMO_CAMERA");
	demo_camera(db, demo);
	if (strcmp(cfg->role, "worker") != 0)
		reembed_start(&reembed, db, cfg);
	if (strcmp(cfg->role, "api") != 0) {
		/* Analysis workers: one per core by default, each single-threaded (bench/cameras: two one-thread
		 * analyses at once beat one two-thread analysis by a third on two cores). MIEN_WORKERS overrides. */
		int workers = cfg->threads > 0 ? cfg->threads : 1;
		const char *wenv = getenv("MIEN_WORKERS");
		if (wenv && *wenv) {
			char *end;
			long v = strtol(wenv, &end, 10);
			if (*end || v < 1 || v > 64) {
				cli_error("MIEN_WORKERS must be 1..64");
				goto done;
			}
			workers = (int)v;
		}
		int per = cfg->threads / workers > 0 ? cfg->threads / workers : 1;
		watch_options wo = {
			.models = cfg->models, .workers = workers, .threads = per, .allow_file = demo && *demo
		};
		if (watch_start(db, events, &wo, &cameras, &err) != MIEN_OK) {
			cli_error("cameras: %s", err.message);
			goto done;
		}
	}
	const char *web = getenv("MIEN_WEB");
	http_options o = {
		.listen = cfg->listen,
		.models = cfg->models,
		.web_dir = web && *web ? web : "web/dist",
		.threads = cfg->threads,
		.bus = events,
		.watch = cameras,
		.notify = notifier,
	};
	if (http_server_start(&o, db, &server, &err) != MIEN_OK) {
		cli_error("%s", err.message);
		goto done;
	}
	mien_log(MIEN_LOG_INFO, "http", "serving on port %d (%s database)", http_server_port(server),
	         store_backend(db));
	int sig = 0;
	sigwait(&stop, &sig);
	mien_log(MIEN_LOG_INFO, "http", "signal %d: stopping", sig);
	rc = CLI_EXIT_OK;
done:
	reembed_stop(&reembed);
	http_server_stop(&server);
	watch_stop(&cameras); /* closes the open visits: their events are still told */
	notify_stop(&notifier);
	bus_close(&events);
	store_close(&db);
	return rc;
}
