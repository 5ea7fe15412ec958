/*
 * notify_webhook.c — webhook deliveries: the envelope, its signature, the POST (libcurl), retries with backoff on
 * a few worker threads, and the delivery log. Also the pure checks the API shares (URLs, kinds).
 *
 * Jobs wait in a fixed table of NOTIFY_WEBHOOK_QUEUE slots; a worker takes the job that is due first. Each attempt
 * reads the webhook again, so that a changed URL or secret applies to retries and a deleted webhook gets nothing
 * more. libcurl is held to http and https, follows no redirect (a 3xx is a final answer), and its error messages
 * pass through core/redact.h before they are logged or stored.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bus/notify_int.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/redact.h"

#define BACKOFF_CAP_MS 600000
#define CONNECT_MAX_MS 5000
#define USER_AGENT     "mien-webhook/1"

static const char *const KIND_NAMES[] = { "event", "alert", "camera" };

/* --- pure helpers ------------------------------------------------------------------------------------------- */

int notify_webhook_url_check(const char *url, mien_error *err)
{
	if (!url || !*url)
		return mien_error_set(err, MIEN_EINVAL, "webhook: no URL");
	size_t n = strnlen(url, STORE_URL_MAX);
	if (n >= STORE_URL_MAX)
		return mien_error_set(err, MIEN_EINVAL, "webhook: URL longer than %d bytes", STORE_URL_MAX - 1);
	char shown[2 * STORE_URL_MAX];
	mien_redact_url(url, shown, sizeof(shown));
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c == 0x7f)
			return mien_error_set(err, MIEN_EINVAL, "webhook: space or control character in URL %s", shown);
	}
	size_t scheme = 0;
	if (strncasecmp(url, "http://", 7) == 0)
		scheme = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		scheme = 8;
	else
		return mien_error_set(err, MIEN_EINVAL, "webhook: only http:// and https:// URLs are allowed, not %s",
		                      shown);
	const char *authority = url + scheme;
	size_t len = strcspn(authority, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < len; i++)
		if (authority[i] == '@')
			at = authority + i;
	const char *host = at ? at + 1 : authority;
	size_t host_len = len - (size_t)(host - authority);
	if (host_len == 0 || host[0] == ':')
		return mien_error_set(err, MIEN_EINVAL, "webhook: %s has no host", shown);
	return MIEN_OK;
}

unsigned notify_kinds_parse(const char *text)
{
	unsigned mask = 0;
	while (text && *text) {
		size_t len = strcspn(text, ",");
		for (size_t k = 0; k < MIEN_ARRAY_LEN(KIND_NAMES); k++)
			if (len == strlen(KIND_NAMES[k]) && strncmp(text, KIND_NAMES[k], len) == 0)
				mask |= 1u << k;
		text += len + (text[len] == ',');
	}
	return mask;
}

int notify_kinds_from_json(const json_t *array, char *kinds, size_t cap, char *why, size_t why_size)
{
	if (!json_is_array(array) || json_array_size(array) == 0) {
		snprintf(why, why_size, "'events' must be a non-empty array of \"event\", \"alert\", \"camera\"");
		return -1;
	}
	unsigned mask = 0;
	size_t i;
	json_t *e;
	json_array_foreach(array, i, e)
	{
		int found = -1;
		for (size_t k = 0; k < MIEN_ARRAY_LEN(KIND_NAMES) && json_is_string(e); k++)
			if (strcmp(json_string_value(e), KIND_NAMES[k]) == 0)
				found = (int)k;
		if (found < 0) {
			snprintf(why, why_size, "'events' takes \"event\", \"alert\" and \"camera\", not %.40s",
			         json_is_string(e) ? json_string_value(e) : "a non-string");
			return -1;
		}
		mask |= 1u << found;
	}
	size_t used = 0;
	kinds[0] = '\0';
	for (size_t k = 0; k < MIEN_ARRAY_LEN(KIND_NAMES); k++) {
		if (!(mask & (1u << k)))
			continue;
		int w = snprintf(kinds + used, cap - used, "%s%s", used ? "," : "", KIND_NAMES[k]);
		if (w < 0 || (size_t)w >= cap - used) {
			snprintf(why, why_size, "'events' too long");
			return -1;
		}
		used += (size_t)w;
	}
	return 0;
}

json_t *notify_kinds_json(unsigned mask)
{
	json_t *a = json_array();
	for (size_t k = 0; a && k < MIEN_ARRAY_LEN(KIND_NAMES); k++)
		if (mask & (1u << k))
			json_array_append_new(a, json_string(KIND_NAMES[k]));
	return a;
}

void notify_sign(const char *secret, const char *body, size_t len, char hex[65])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, 65, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

int64_t notify_backoff_ms(int retry, int64_t first_ms, int64_t cap_ms)
{
	if (retry < 1)
		retry = 1;
	int64_t wait = first_ms > 0 ? first_ms : 1;
	for (int i = 1; i < retry && wait < cap_ms; i++)
		wait *= 2;
	return wait < cap_ms ? wait : cap_ms;
}

int notify_retryable(int http_status)
{
	return http_status == 0 || http_status == 408 || http_status == 429 ||
	       (http_status >= 500 && http_status <= 599);
}

/* --- one attempt ------------------------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_setup(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* A random version-4 UUID, the delivery id. */
static void new_delivery_id(char out[40])
{
	unsigned char b[16];
	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
	         b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * n;
}

/* libcurl's progress callback: a non-zero answer ends the transfer, so that a stopping node does not wait out a
 * slow receiver's timeout. */
static int abort_when_stopping(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load((atomic_int *)ctx);
}

/* POSTs the envelope of one attempt to w->url and fills *out; `stopping` (non-zero) cuts it short. Never logs the
 * URL unredacted or the secret. */
static void post(const store_webhook *w, const char *kind, const char *delivery, int attempt, const char *camera,
                 const char *data, int64_t timeout_ms, atomic_int *stopping, notify_attempt *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->delivery, sizeof(out->delivery), "%s", delivery);
	int64_t t0 = mien_mono_ms();
	long long ts = (long long)(mien_wall_ms() / 1000);
	char head[256];
	int h = snprintf(head, sizeof(head), "{\"type\":\"%s\",\"delivery\":\"%s\",\"timestamp\":%lld,\"attempt\":%d,",
	                 kind, delivery, ts, attempt);
	size_t len = (size_t)h + strlen(camera) + strlen(data) + 32;
	char *body = malloc(len);
	CURL *curl = curl_ready ? curl_easy_init() : NULL;
	struct curl_slist *headers = NULL;
	if (!body || !curl) {
		snprintf(out->error, sizeof(out->error), "%s", body ? "libcurl could not start" : "out of memory");
		goto done;
	}
	int n = snprintf(body, len, "%s\"camera\":%s,\"data\":%s}", head, camera, data);
	char line[160];
	headers = curl_slist_append(headers, "Content-Type: application/json");
	snprintf(line, sizeof(line), "X-Mien-Event: %s", kind);
	headers = curl_slist_append(headers, line);
	snprintf(line, sizeof(line), "X-Mien-Delivery: %s", delivery);
	headers = curl_slist_append(headers, line);
	snprintf(line, sizeof(line), "X-Mien-Timestamp: %lld", ts);
	headers = curl_slist_append(headers, line);
	if (w->secret[0]) {
		char hex[65];
		notify_sign(w->secret, body, (size_t)n, hex);
		snprintf(line, sizeof(line), "X-Mien-Signature: sha256=%s", hex);
		headers = curl_slist_append(headers, line);
	}
	headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
	char curl_error[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(curl, CURLOPT_URL, w->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)n);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(timeout_ms < CONNECT_MAX_MS ? timeout_ms : CONNECT_MAX_MS));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, abort_when_stopping);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, stopping);
	CURLcode rc = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	out->http_status = rc == CURLE_OK ? (int)status : 0;
	if (rc != CURLE_OK) {
		char raw[CURL_ERROR_SIZE + 64];
		snprintf(raw, sizeof(raw), "%s", curl_error[0] ? curl_error : curl_easy_strerror(rc));
		mien_redact_text(raw, out->error, sizeof(out->error));
	} else if (status >= 200 && status <= 299) {
		out->delivered = 1;
	} else {
		snprintf(out->error, sizeof(out->error), "the receiver answered HTTP %ld", status);
	}
done:
	out->duration_ms = mien_mono_ms() - t0;
	curl_slist_free_all(headers);
	if (curl)
		curl_easy_cleanup(curl);
	free(body);
}

/* --- the workers -------------------------------------------------------------------------------------------- */

typedef struct hook_job {
	int64_t webhook_id, log_id;
	char delivery[40];
	char kind[16];
	char subject[64];
	char *camera, *data; /* owned JSON texts */
	int attempts;        /* made so far */
	int64_t due_ms;      /* mien_mono_ms of the next attempt */
	int busy;            /* a worker holds it */
} hook_job;

struct notify_hooks {
	store *db;
	notify_hooks_options options;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	hook_job *jobs[NOTIFY_WEBHOOK_QUEUE];
	int queued;
	int stop;
	atomic_int stopping; /* the same, read by attempts in flight without the lock */
	pthread_t workers[NOTIFY_WEBHOOK_WORKERS];
	int n_workers;
	_Atomic uint64_t delivered, failed, retries, dropped;
};

static void job_free(hook_job *j)
{
	if (!j)
		return;
	free(j->camera);
	free(j->data);
	free(j);
}

static void log_update(notify_hooks *h, const hook_job *j, const char *status, const notify_attempt *a,
                       int64_t next_wall)
{
	store_delivery d = { 0 };
	d.id = j->log_id;
	snprintf(d.status, sizeof(d.status), "%s", status);
	d.attempts = j->attempts;
	if (a) {
		d.http_status = a->http_status;
		snprintf(d.error, sizeof(d.error), "%s", a->error);
		d.duration_ms = a->duration_ms;
	} else {
		snprintf(d.error, sizeof(d.error), "the node stopped before the delivery was made");
	}
	d.next_at = next_wall;
	mien_error err = { 0 };
	if (j->log_id && store_delivery_update(h->db, &d, &err) != MIEN_OK && err.code != MIEN_ENOENT)
		mien_log(MIEN_LOG_WARN, "notify", "webhook %lld: delivery log: %s", (long long)j->webhook_id,
		         err.message);
}

/* The due job a worker should take (lock held): the earliest due one not held; *wait_ms says how long until the
 * next one is due when none is (-1: none queued). */
static int next_job(notify_hooks *h, int64_t now, int64_t *wait_ms)
{
	int best = -1;
	*wait_ms = -1;
	for (int i = 0; i < NOTIFY_WEBHOOK_QUEUE; i++) {
		hook_job *j = h->jobs[i];
		if (!j || j->busy)
			continue;
		if (j->due_ms <= now) {
			if (best < 0 || j->due_ms < h->jobs[best]->due_ms)
				best = i;
		} else if (*wait_ms < 0 || j->due_ms - now < *wait_ms) {
			*wait_ms = j->due_ms - now;
		}
	}
	return best;
}

static void run_job(notify_hooks *h, int slot, hook_job *j)
{
	store_webhook *w = malloc(sizeof(*w));
	mien_error err = { 0 };
	notify_attempt a = { 0 };
	int rc = w ? store_webhook_get(h->db, j->webhook_id, w, &err) : MIEN_ENOMEM;
	int done = 1;
	const char *status = STORE_DELIVERY_FAILED;
	int64_t next_wall = 0;
	if (rc == MIEN_ENOENT) {
		/* deleted meanwhile: its log went with it */
		j->log_id = 0;
	} else if (rc != MIEN_OK) {
		/* the database is away: try again later without spending an attempt */
		done = 0;
		j->due_ms = mien_mono_ms() + notify_backoff_ms(1, h->options.retry_ms, BACKOFF_CAP_MS);
	} else if (!w->enabled) {
		snprintf(a.error, sizeof(a.error), "the webhook was disabled");
	} else {
		j->attempts++;
		post(w, j->kind, j->delivery, j->attempts, j->camera, j->data, h->options.timeout_ms, &h->stopping, &a);
		if (a.delivered) {
			status = STORE_DELIVERY_DELIVERED;
			atomic_fetch_add(&h->delivered, 1);
		} else if (notify_retryable(a.http_status) && j->attempts < h->options.attempts) {
			int64_t wait = notify_backoff_ms(j->attempts, h->options.retry_ms, BACKOFF_CAP_MS);
			j->due_ms = mien_mono_ms() + wait;
			next_wall = mien_wall_ms() + wait;
			status = STORE_DELIVERY_RETRYING;
			done = 0;
			atomic_fetch_add(&h->retries, 1);
		} else {
			atomic_fetch_add(&h->failed, 1);
		}
		if (!a.delivered)
			mien_log(MIEN_LOG_INFO, "notify", "webhook %lld: %s delivery %s attempt %d: %s%s",
			         (long long)j->webhook_id, j->kind, j->delivery, j->attempts, a.error,
			         done ? "" : "; will retry");
	}
	if (rc == MIEN_OK || rc == MIEN_ENOENT)
		log_update(h, j, status, &a, next_wall);
	free(w);
	pthread_mutex_lock(&h->lock);
	j->busy = 0;
	if (done) {
		h->jobs[slot] = NULL;
		h->queued--;
	}
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
	if (done)
		job_free(j);
}

static void *worker_main(void *arg)
{
	notify_hooks *h = arg;
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		int64_t wait = -1;
		int slot = next_job(h, mien_mono_ms(), &wait);
		if (slot < 0) {
			if (wait < 0) {
				pthread_cond_wait(&h->wake, &h->lock);
			} else {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				int64_t ns = ts.tv_nsec + (wait % 1000) * 1000000;
				ts.tv_sec += (time_t)(wait / 1000 + ns / 1000000000);
				ts.tv_nsec = (long)(ns % 1000000000);
				pthread_cond_timedwait(&h->wake, &h->lock, &ts);
			}
			continue;
		}
		hook_job *j = h->jobs[slot];
		j->busy = 1;
		pthread_mutex_unlock(&h->lock);
		run_job(h, slot, j);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int notify__hooks_start(store *db, const notify_hooks_options *options, notify_hooks **out, mien_error *err)
{
	*out = NULL;
	if (sodium_init() < 0)
		return mien_error_set(err, MIEN_EBACKEND, "libsodium failed to initialise");
	pthread_once(&curl_once, curl_setup);
	if (!curl_ready)
		return mien_error_set(err, MIEN_EBACKEND, "libcurl failed to initialise");
	notify_hooks *h = calloc(1, sizeof(*h));
	if (!h)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	h->db = db;
	h->options = *options;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	for (int i = 0; i < NOTIFY_WEBHOOK_WORKERS; i++) {
		if (pthread_create(&h->workers[i], NULL, worker_main, h) != 0) {
			notify__hooks_stop(&h);
			return mien_error_set(err, MIEN_EBACKEND, "webhooks: cannot start a thread");
		}
		h->n_workers++;
	}
	*out = h;
	return MIEN_OK;
}

void notify__hooks_stop(notify_hooks **hp)
{
	if (!hp || !*hp)
		return;
	notify_hooks *h = *hp;
	pthread_mutex_lock(&h->lock);
	h->stop = 1;
	atomic_store(&h->stopping, 1);
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
	for (int i = 0; i < h->n_workers; i++)
		pthread_join(h->workers[i], NULL);
	for (int i = 0; i < NOTIFY_WEBHOOK_QUEUE; i++) {
		if (!h->jobs[i])
			continue;
		atomic_fetch_add(&h->dropped, 1);
		log_update(h, h->jobs[i], STORE_DELIVERY_DROPPED, NULL, 0);
		job_free(h->jobs[i]);
	}
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
	*hp = NULL;
}

/* Logs a new delivery; 0 and the row's id in *log_id, or -1 when the webhook is gone or the database away. */
static int log_new(notify_hooks *h, int64_t webhook_id, const char *delivery, const char *kind, const char *subject,
                   const char *status, int64_t *log_id)
{
	store_delivery d = { 0 };
	d.webhook_id = webhook_id;
	snprintf(d.delivery, sizeof(d.delivery), "%s", delivery);
	snprintf(d.kind, sizeof(d.kind), "%s", kind);
	snprintf(d.subject, sizeof(d.subject), "%s", subject);
	snprintf(d.status, sizeof(d.status), "%s", status);
	if (strcmp(status, STORE_DELIVERY_DROPPED) == 0)
		snprintf(d.error, sizeof(d.error), "the delivery queue was full");
	mien_error err = { 0 };
	int rc = store_delivery_add(h->db, &d, NOTIFY_WEBHOOK_LOG, &err);
	if (rc != MIEN_OK) {
		if (rc != MIEN_ENOENT)
			mien_log(MIEN_LOG_WARN, "notify", "webhook %lld: delivery log: %s", (long long)webhook_id,
			         err.message);
		return -1;
	}
	*log_id = d.id;
	return 0;
}

void notify__hooks_send(notify_hooks *h, const store_webhook *w, const char *kind, const char *subject,
                        const char *camera, const char *data)
{
	hook_job *j = calloc(1, sizeof(*j));
	if (j) {
		j->camera = strdup(camera);
		j->data = strdup(data);
	}
	if (!j || !j->camera || !j->data) {
		job_free(j);
		atomic_fetch_add(&h->dropped, 1);
		return;
	}
	j->webhook_id = w->id;
	new_delivery_id(j->delivery);
	snprintf(j->kind, sizeof(j->kind), "%s", kind);
	snprintf(j->subject, sizeof(j->subject), "%s", subject);
	j->due_ms = mien_mono_ms();
	pthread_mutex_lock(&h->lock);
	int slot = -1;
	for (int i = 0; i < NOTIFY_WEBHOOK_QUEUE && slot < 0 && !h->stop; i++)
		if (!h->jobs[i])
			slot = i;
	if (slot >= 0) {
		j->busy = 1; /* held until its log row exists, so that no worker updates a row not yet there */
		h->jobs[slot] = j;
		h->queued++;
	}
	pthread_mutex_unlock(&h->lock);
	int64_t log_id = 0;
	if (slot < 0) {
		atomic_fetch_add(&h->dropped, 1);
		mien_log(MIEN_LOG_WARN, "notify", "webhook %lld: the delivery queue is full: a %s delivery is dropped",
		         (long long)w->id, kind);
		log_new(h, w->id, j->delivery, kind, subject, STORE_DELIVERY_DROPPED, &log_id);
		job_free(j);
		return;
	}
	int logged = log_new(h, w->id, j->delivery, kind, subject, STORE_DELIVERY_PENDING, &log_id) == 0;
	pthread_mutex_lock(&h->lock);
	j->log_id = logged ? log_id : 0;
	j->busy = 0;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
}

int notify__hooks_test(notify_hooks *h, const store_webhook *w, notify_attempt *out, mien_error *err)
{
	hook_job j = { .webhook_id = w->id, .attempts = 1 };
	new_delivery_id(j.delivery);
	snprintf(j.kind, sizeof(j.kind), "test");
	if (log_new(h, w->id, j.delivery, "test", "test", STORE_DELIVERY_PENDING, &j.log_id) != 0)
		return mien_error_set(err, MIEN_ENOENT, "webhook %lld not found", (long long)w->id);
	char data[128];
	snprintf(data, sizeof(data), "{\"message\":\"a test delivery from mien\",\"webhook_id\":%lld}",
	         (long long)w->id);
	post(w, "test", j.delivery, 1, "null", data, h->options.timeout_ms, &h->stopping, out);
	atomic_fetch_add(out->delivered ? &h->delivered : &h->failed, 1);
	log_update(h, &j, out->delivered ? STORE_DELIVERY_DELIVERED : STORE_DELIVERY_FAILED, out, 0);
	return MIEN_OK;
}

void notify__hooks_stats(notify_hooks *h, uint64_t *delivered, uint64_t *failed, uint64_t *retries, uint64_t *dropped,
                         int *queued)
{
	*delivered = atomic_load(&h->delivered);
	*failed = atomic_load(&h->failed);
	*retries = atomic_load(&h->retries);
	*dropped = atomic_load(&h->dropped);
	pthread_mutex_lock(&h->lock);
	*queued = h->queued;
	pthread_mutex_unlock(&h->lock);
}
