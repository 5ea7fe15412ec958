/*
 * metrics.c — Prometheus counters kept with atomic adds (no lock on the request path): requests by route and
 * status, request latency per route, and the face pipeline's latency on /analyze and enrollment. Also the
 * health, readiness, metrics and OpenAPI routes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "bus/notify.h"
#include "http/http_int.h"
#include "video/video.h"
#include "watch/watch.h"

static const int STATUSES[] = { 200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503 };
#define N_STATUS  (MIEN_ARRAY_LEN(STATUSES) + 1) /* + "other" */
#define N_BUCKETS 12
static const double BUCKETS_S[N_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10 };
#define MAX_ROUTES 96

typedef struct histogram {
	uint64_t buckets[N_BUCKETS + 1]; /* the last is +Inf */
	uint64_t count;
	uint64_t sum_us;
} histogram;

struct http_metrics {
	uint64_t requests[MAX_ROUTES + 1][N_STATUS]; /* the last route row: unrouted (static files, 404s) */
	histogram latency[MAX_ROUTES + 1];
	histogram analyze;
};

int http__metrics_create(http_metrics **out)
{
	MIEN_ASSERT(http__n_routes <= MAX_ROUTES);
	*out = calloc(1, sizeof(http_metrics));
	return *out ? MIEN_OK : MIEN_ENOMEM;
}

void http__metrics_free(http_metrics **m)
{
	if (!m)
		return;
	free(*m);
	*m = NULL;
}

static void observe(histogram *h, int64_t ms)
{
	double s = (double)ms / 1000.0;
	int b = 0;
	while (b < N_BUCKETS && s > BUCKETS_S[b])
		b++;
	__atomic_fetch_add(&h->buckets[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_us, (uint64_t)(ms > 0 ? ms : 0) * 1000, __ATOMIC_RELAXED);
}

void http__metrics_request(http_metrics *m, int route, int status, int64_t ms)
{
	size_t row = route >= 0 && (size_t)route < http__n_routes ? (size_t)route : MAX_ROUTES;
	size_t col = N_STATUS - 1;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(STATUSES); i++)
		if (STATUSES[i] == status)
			col = i;
	__atomic_fetch_add(&m->requests[row][col], 1, __ATOMIC_RELAXED);
	observe(&m->latency[row], ms);
}

void http__metrics_analyze(http_metrics *m, int64_t ms)
{
	observe(&m->analyze, ms);
}

/* A growable text buffer for the exposition; capped (the output is bounded by the table sizes anyway). */
typedef struct text {
	char *data;
	size_t len, cap;
	int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
	for (;;) {
		if (t->failed)
			return;
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2;
		char *grown = cap <= (8u << 20) ? realloc(t->data, cap) : NULL;
		if (!grown) {
			t->failed = 1;
			return;
		}
		t->data = grown;
		t->cap = cap;
	}
}

static void put_histogram(text *t, const char *name, const char *labels, const histogram *h)
{
	uint64_t cumulative = 0;
	for (int b = 0; b <= N_BUCKETS; b++) {
		cumulative += __atomic_load_n(&h->buckets[b], __ATOMIC_RELAXED);
		char le[32];
		if (b < N_BUCKETS)
			snprintf(le, sizeof(le), "%g", BUCKETS_S[b]);
		else
			snprintf(le, sizeof(le), "+Inf");
		put(t, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, *labels ? "," : "", le,
		    (unsigned long long)cumulative);
	}
	put(t, "%s_sum{%s} %.6f\n", name, labels, (double)__atomic_load_n(&h->sum_us, __ATOMIC_RELAXED) / 1e6);
	put(t, "%s_count{%s} %llu\n", name, labels, (unsigned long long)__atomic_load_n(&h->count, __ATOMIC_RELAXED));
}

void http__h_metrics(http_req *r)
{
	http_metrics *m = r->srv->metrics;
	text t = { malloc(16384), 0, 16384, 0 };
	if (!t.data) {
		http__reply_error(r, 500, "internal", "out of memory");
		return;
	}
	put(&t, "# HELP mien_http_requests_total HTTP requests by route and status.\n"
	        "# TYPE mien_http_requests_total counter\n");
	for (size_t row = 0; row <= MAX_ROUTES; row++) {
		if (row >= http__n_routes && row != MAX_ROUTES)
			continue;
		char route[160];
		snprintf(route, sizeof(route), "%s %s",
		         row == MAX_ROUTES ? "-" : http__method_name(http__routes[row].method),
		         row == MAX_ROUTES ? "other" : http__routes[row].pattern);
		for (size_t col = 0; col < N_STATUS; col++) {
			uint64_t n = __atomic_load_n(&m->requests[row][col], __ATOMIC_RELAXED);
			if (!n)
				continue;
			char status[8];
			snprintf(status, sizeof(status), col < N_STATUS - 1 ? "%d" : "other",
			         col < N_STATUS - 1 ? STATUSES[col] : 0);
			put(&t, "mien_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n", route, status,
			    (unsigned long long)n);
		}
	}
	put(&t, "# HELP mien_http_request_duration_seconds Time from the request's first byte to its answer.\n"
	        "# TYPE mien_http_request_duration_seconds histogram\n");
	for (size_t row = 0; row <= MAX_ROUTES; row++) {
		if ((row >= http__n_routes && row != MAX_ROUTES) || !m->latency[row].count)
			continue;
		char labels[192];
		snprintf(labels, sizeof(labels), "route=\"%s %s\"",
		         row == MAX_ROUTES ? "-" : http__method_name(http__routes[row].method),
		         row == MAX_ROUTES ? "other" : http__routes[row].pattern);
		put_histogram(&t, "mien_http_request_duration_seconds", labels, &m->latency[row]);
	}
	put(&t, "# HELP mien_analyze_duration_seconds Face pipeline time per uploaded picture (decode excluded).\n"
	        "# TYPE mien_analyze_duration_seconds histogram\n");
	put_histogram(&t, "mien_analyze_duration_seconds", "", &m->analyze);
	int connections = 0;
	uint64_t head_timeouts = 0;
	http__heads_stats(r->srv->heads, &connections, &head_timeouts);
	put(&t,
	    "# HELP mien_http_connections Open HTTP connections.\n# TYPE mien_http_connections gauge\n"
	    "mien_http_connections %d\n"
	    "# HELP mien_http_head_timeouts_total Connections closed for not sending a request head in time.\n"
	    "# TYPE mien_http_head_timeouts_total counter\nmien_http_head_timeouts_total %llu\n",
	    connections, (unsigned long long)head_timeouts);
	if (r->srv->stream) {
		int clients = 0;
		uint64_t dropped = 0;
		http__stream_stats(r->srv->stream, &clients, &dropped);
		put(&t,
		    "# HELP mien_stream_clients Open live-stream (SSE) connections.\n# TYPE mien_stream_clients gauge\n"
		    "mien_stream_clients %d\n"
		    "# HELP mien_stream_dropped_total Live-stream clients dropped for falling behind.\n"
		    "# TYPE mien_stream_dropped_total counter\nmien_stream_dropped_total %llu\n",
		    clients, (unsigned long long)dropped);
	}
	if (r->srv->options.bus) {
		bus_stats b;
		bus_get_stats(r->srv->options.bus, &b);
		put(&t,
		    "# HELP mien_bus_ready 1 when messages reach the other nodes (always 1 without Redis).\n"
		    "# TYPE mien_bus_ready gauge\nmien_bus_ready %d\n"
		    "# HELP mien_bus_messages_total Bus messages published here and received from other nodes.\n"
		    "# TYPE mien_bus_messages_total counter\n"
		    "mien_bus_messages_total{direction=\"published\"} %llu\n"
		    "mien_bus_messages_total{direction=\"received\"} %llu\n",
		    bus_ready(r->srv->options.bus), (unsigned long long)b.published,
		    (unsigned long long)b.received_remote);
	}
	if (r->srv->options.notify) {
		notify_stats ns;
		notify_get_stats(r->srv->options.notify, &ns);
		put(&t,
		    "# HELP mien_notify_dropped_total Messages for MQTT and webhooks dropped because the notifier's "
		    "queue was "
		    "full.\n# TYPE mien_notify_dropped_total counter\nmien_notify_dropped_total %llu\n"
		    "# HELP mien_webhook_deliveries_total Webhook attempts by outcome: delivered, failed (final), "
		    "retried, "
		    "dropped (queue full or node stopped).\n# TYPE mien_webhook_deliveries_total counter\n"
		    "mien_webhook_deliveries_total{result=\"delivered\"} %llu\n"
		    "mien_webhook_deliveries_total{result=\"failed\"} %llu\n"
		    "mien_webhook_deliveries_total{result=\"retried\"} %llu\n"
		    "mien_webhook_deliveries_total{result=\"dropped\"} %llu\n"
		    "# HELP mien_webhook_queue Webhook deliveries waiting (first attempts and retries).\n"
		    "# TYPE mien_webhook_queue gauge\nmien_webhook_queue %d\n",
		    (unsigned long long)ns.queue_dropped, (unsigned long long)ns.webhook_delivered,
		    (unsigned long long)ns.webhook_failed, (unsigned long long)ns.webhook_retries,
		    (unsigned long long)ns.webhook_dropped, ns.webhook_queued);
		if (ns.mqtt_configured)
			put(&t,
			    "# HELP mien_mqtt_connected 1 while the MQTT broker has accepted this node's connection.\n"
			    "# TYPE mien_mqtt_connected gauge\nmien_mqtt_connected %d\n"
			    "# HELP mien_mqtt_published_total MQTT messages handed to the broker.\n"
			    "# TYPE mien_mqtt_published_total counter\nmien_mqtt_published_total %llu\n"
			    "# HELP mien_mqtt_dropped_total MQTT messages dropped: broker away or too many "
			    "unacknowledged.\n"
			    "# TYPE mien_mqtt_dropped_total counter\nmien_mqtt_dropped_total %llu\n"
			    "# HELP mien_mqtt_reconnects_total Connections to the broker after the first.\n"
			    "# TYPE mien_mqtt_reconnects_total counter\nmien_mqtt_reconnects_total %llu\n",
			    ns.mqtt_connected, (unsigned long long)ns.mqtt_published,
			    (unsigned long long)ns.mqtt_dropped, (unsigned long long)ns.mqtt_reconnects);
	}
	if (r->srv->options.watch) {
		watch *w = r->srv->options.watch;
		watch_stats ws;
		watch_get_stats(w, &ws);
		put(&t,
		    "# HELP mien_cameras_running Cameras running on this node.\n# TYPE mien_cameras_running gauge\n"
		    "mien_cameras_running %d\n"
		    "# HELP mien_frames_analysed_total Camera frames analysed on this node.\n"
		    "# TYPE mien_frames_analysed_total counter\nmien_frames_analysed_total %llu\n"
		    "# HELP mien_events_total Visits stored as events by this node.\n"
		    "# TYPE mien_events_total counter\nmien_events_total %llu\n"
		    "# HELP mien_alerts_total Alerts raised by this node.\n# TYPE mien_alerts_total counter\n"
		    "mien_alerts_total %llu\n"
		    "# HELP mien_frame_analysis_seconds Recent mean time to analyse one camera frame.\n"
		    "# TYPE mien_frame_analysis_seconds gauge\nmien_frame_analysis_seconds %.6f\n"
		    "# HELP mien_unknown_visits_ignored_total Visits of dismissed unknown identities (no event made).\n"
		    "# TYPE mien_unknown_visits_ignored_total counter\nmien_unknown_visits_ignored_total %llu\n"
		    "# HELP mien_unknown_merges_total Unknown identities merged by this node's merge pass.\n"
		    "# TYPE mien_unknown_merges_total counter\nmien_unknown_merges_total %llu\n",
		    ws.cameras, (unsigned long long)ws.frames_analysed, (unsigned long long)ws.events,
		    (unsigned long long)ws.alerts, ws.analyse_ms / 1000.0, (unsigned long long)ws.ignored,
		    (unsigned long long)ws.unknown_merges);
		int64_t ids[256];
		watch_camera_info infos[256];
		size_t n = watch_cameras(w, ids, 256), live = 0;
		for (size_t i = 0; i < n; i++)
			if (watch_camera_get(w, ids[i], &infos[live]) == MIEN_OK)
				ids[live++] = ids[i]; /* a camera retired meanwhile drops out */
		put(&t, "# HELP mien_camera_fps Frames per second per camera: decoded, and analysed.\n"
		        "# TYPE mien_camera_fps gauge\n");
		for (size_t i = 0; i < live; i++) {
			put(&t, "mien_camera_fps{camera=\"%lld\",stage=\"decoded\"} %.2f\n", (long long)ids[i],
			    infos[i].fps);
			put(&t, "mien_camera_fps{camera=\"%lld\",stage=\"analysed\"} %.2f\n", (long long)ids[i],
			    infos[i].analysed_fps);
		}
		put(&t,
		    "# HELP mien_camera_online 1 when the camera delivers frames.\n# TYPE mien_camera_online gauge\n");
		for (size_t i = 0; i < live; i++)
			put(&t, "mien_camera_online{camera=\"%lld\"} %d\n", (long long)ids[i],
			    infos[i].status == VIDEO_STATUS_ONLINE);
	}
	if (t.failed) {
		free(t.data);
		http__reply_error(r, 500, "internal", "out of memory");
		return;
	}
	http__reply_bytes(r, 200, "text/plain; version=0.0.4", t.data, t.len, 0);
}

void http__h_healthz(http_req *r)
{
	http__reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void http__h_readyz(http_req *r)
{
	mien_error err = { 0 };
	if (store_ping(r->srv->db, &err) != MIEN_OK) {
		http__reply_error(r, 503, "unavailable", "the database is unavailable");
		return;
	}
	if (r->srv->options.bus && !bus_ready(r->srv->options.bus)) {
		http__reply_error(r, 503, "unavailable", "Redis is unavailable: other nodes do not hear this one");
		return;
	}
	http__reply_json(r, 200, json_pack("{s:s,s:s}", "status", "ready", "database", store_backend(r->srv->db)));
}

void http__h_openapi(http_req *r)
{
	http__reply_bytes(r, 200, "application/json", (void *)r->srv->openapi, r->srv->openapi_len, 1);
}
