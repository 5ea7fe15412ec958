/*
 * notify_mqtt.c — the MQTT client: one thread drives libmosquitto's network loop itself (mosquitto_loop), so that
 * reconnection, its backoff and stopping are ours; other threads publish (libmosquitto in threaded mode).
 *
 * The first connection is made without blocking (connect_async, driven by the loop), so that a broker that does
 * not answer holds up nothing but this thread; one that has not accepted the connection within CONNECT_WAIT_MS
 * counts as a failure. Failures wait 1 s, doubling to 30 s, and the wait starts over after a connection is
 * accepted. Messages are QoS 1; the number handed to libmosquitto and not yet acknowledged is kept under
 * NOTIFY_MQTT_PENDING, and nothing is handed over while disconnected (libmosquitto would queue QoS 1 messages
 * without bound), so memory stays bounded however long the broker is away.
 */
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bus/notify_int.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/redact.h"

#define KEEPALIVE_S      30
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   30000
#define CONNECT_WAIT_MS  10000
#define LOOP_MS          100
#define STOP_FLUSH_MS    1000

struct notify_mqtt {
	struct mosquitto *mosq;
	notify_mqtt_url url;
	char shown[2 * STORE_URL_MAX]; /* the URL redacted, for log lines */
	char will_topic[NOTIFY_PREFIX_MAX + 16];
	notify_connected_fn connected_fn;
	void *ctx;
	pthread_t thread;
	int started;
	pthread_mutex_t lock; /* guards stop and the wake-up of the backoff wait */
	pthread_cond_t wake;
	int stop;
	atomic_int connected;
	atomic_int pending; /* handed over, not yet acknowledged */
	int failures;       /* since the last accepted connection */
	_Atomic uint64_t published, dropped, reconnects;
	int ever_connected;
};

/* --- pure helpers ------------------------------------------------------------------------------------------- */

/* Percent-decodes [s, s+n) into out (cap bytes); -1 when it does not fit or holds "%00". */
static int decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && mien_hex_digit(s[i + 1]) >= 0 && mien_hex_digit(s[i + 2]) >= 0) {
			c = (char)(mien_hex_digit(s[i + 1]) * 16 + mien_hex_digit(s[i + 2]));
			i += 2;
			if (c == '\0')
				return -1;
		}
		if (k + 1 >= cap)
			return -1;
		out[k++] = c;
	}
	out[k] = '\0';
	return 0;
}

int notify_mqtt_url_parse(const char *url, notify_mqtt_url *out, mien_error *err)
{
	memset(out, 0, sizeof(*out));
	char shown[2 * STORE_URL_MAX];
	mien_redact_url(url ? url : "", shown, sizeof(shown));
	size_t scheme;
	if (url && strncasecmp(url, "mqtt://", 7) == 0) {
		scheme = 7;
		out->port = 1883;
	} else if (url && strncasecmp(url, "mqtts://", 8) == 0) {
		scheme = 8;
		out->tls = 1;
		out->port = 8883;
	} else {
		return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: %s is not an mqtt:// or mqtts:// URL", shown);
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: space or control character in %s", shown);
	const char *authority = url + scheme;
	size_t len = strcspn(authority, "/?#");
	if (authority[len] && strcmp(authority + len, "/") != 0)
		return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: %s has a path, query or fragment", shown);
	const char *at = NULL;
	for (size_t i = 0; i < len; i++)
		if (authority[i] == '@')
			at = authority + i;
	const char *host = authority;
	if (at) {
		size_t user_len = (size_t)(at - authority);
		const char *colon = memchr(authority, ':', user_len);
		size_t name_len = colon ? (size_t)(colon - authority) : user_len;
		if (decode(authority, name_len, out->username, sizeof(out->username)) != 0 ||
		    (colon && decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof(out->password)) != 0))
			return mien_error_set(err, MIEN_EINVAL,
			                      "MIEN_MQTT: the user name or password of %s is too long", shown);
		host = at + 1;
	}
	size_t host_len = len - (size_t)(host - authority);
	const char *port = NULL;
	if (host_len && host[0] == '[') {
		const char *close = memchr(host, ']', host_len);
		if (!close)
			return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: unclosed '[' in %s", shown);
		if ((size_t)(close - host - 1) >= sizeof(out->host))
			return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: host too long in %s", shown);
		memcpy(out->host, host + 1, (size_t)(close - host - 1));
		out->host[close - host - 1] = '\0';
		if (close + 1 < host + host_len) {
			if (close[1] != ':')
				return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: malformed host in %s", shown);
			port = close + 2;
		}
	} else {
		const char *colon = memchr(host, ':', host_len);
		size_t name_len = colon ? (size_t)(colon - host) : host_len;
		if (name_len >= sizeof(out->host))
			return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: host too long in %s", shown);
		memcpy(out->host, host, name_len);
		out->host[name_len] = '\0';
		if (colon)
			port = colon + 1;
	}
	if (!out->host[0])
		return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: %s has no host", shown);
	if (port) {
		size_t digits = (size_t)(host + host_len - port);
		long v = 0;
		for (size_t i = 0; i < digits; i++) {
			if (port[i] < '0' || port[i] > '9' || v > 65535)
				return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: bad port in %s", shown);
			v = v * 10 + (port[i] - '0');
		}
		if (digits == 0 || v < 1 || v > 65535)
			return mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: the port of %s must be 1..65535", shown);
		out->port = (int)v;
	}
	return MIEN_OK;
}

int notify_prefix_ok(const char *prefix)
{
	size_t n = prefix ? strlen(prefix) : 0;
	if (n == 0 || n > NOTIFY_PREFIX_MAX || prefix[0] == '/' || prefix[n - 1] == '/' || strstr(prefix, "//"))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)prefix[i];
		if (c < 0x20 || c == 0x7f || c == '+' || c == '#')
			return 0;
	}
	return 1;
}

/* --- the client ------------------------------------------------------------------------------------------------ */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	notify_mqtt *m = obj;
	if (rc != 0) {
		mien_log(MIEN_LOG_WARN, "mqtt", "%s refused the connection: %s", m->shown,
		         mosquitto_connack_string(rc));
		return; /* the loop sees the connection end and backs off */
	}
	if (m->ever_connected)
		atomic_fetch_add(&m->reconnects, 1);
	m->ever_connected = 1;
	m->failures = 0;
	atomic_store(&m->pending, 0);
	atomic_store(&m->connected, 1);
	mien_log(MIEN_LOG_INFO, "mqtt", "connected to %s", m->shown);
	int mid;
	if (mosquitto_publish(mosq, &mid, m->will_topic, 6, "online", 1, true) == MOSQ_ERR_SUCCESS) {
		atomic_fetch_add(&m->pending, 1);
		atomic_fetch_add(&m->published, 1);
	}
	if (m->connected_fn)
		m->connected_fn(m->ctx);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	(void)mosq;
	notify_mqtt *m = obj;
	if (atomic_exchange(&m->connected, 0))
		mien_log(rc == 0 ? MIEN_LOG_INFO : MIEN_LOG_WARN, "mqtt", "disconnected from %s%s", m->shown,
		         rc == 0 ? "" : ": the connection was lost");
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	(void)mosq;
	(void)mid;
	notify_mqtt *m = obj;
	int v = atomic_load(&m->pending);
	while (v > 0 && !atomic_compare_exchange_weak(&m->pending, &v, v - 1))
		;
}

/* Waits up to ms unless stopping; returns 1 when stopping. */
static int pause_ms(notify_mqtt *m, int64_t ms)
{
	pthread_mutex_lock(&m->lock);
	if (!m->stop && ms > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
		ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&m->wake, &m->lock, &ts);
	}
	int stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

static int stopping(notify_mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	int stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

static int64_t backoff(notify_mqtt *m)
{
	int64_t wait = BACKOFF_FIRST_MS;
	for (int i = 0; i < m->failures && wait < BACKOFF_MAX_MS; i++)
		wait *= 2;
	m->failures++;
	return wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS;
}

static void failed(notify_mqtt *m, const char *why)
{
	int64_t wait = backoff(m);
	/* the first failure after a connection (or at start) is worth a warning; the retries that follow are not */
	mien_log(m->failures == 1 ? MIEN_LOG_WARN : MIEN_LOG_DEBUG, "mqtt", "%s: %s; trying again in %lld ms", m->shown,
	         why, (long long)wait);
	pause_ms(m, wait);
}

static void *client_main(void *arg)
{
	notify_mqtt *m = arg;
	int open = 0, first = 1;
	int64_t opened_at = 0;
	while (!stopping(m)) {
		if (!open) {
			int rc = first ? mosquitto_connect_async(m->mosq, m->url.host, m->url.port, KEEPALIVE_S)
			               : mosquitto_reconnect_async(m->mosq);
			if (rc != MOSQ_ERR_SUCCESS) {
				/* connect_async keeps its settings even when the first try fails: reconnect from now on
				 */
				first = rc == MOSQ_ERR_INVAL;
				failed(m, rc == MOSQ_ERR_ERRNO ? "cannot connect" : mosquitto_strerror(rc));
				continue;
			}
			first = 0;
			open = 1;
			opened_at = mien_mono_ms();
		}
		int rc = mosquitto_loop(m->mosq, LOOP_MS, 1);
		if (rc == MOSQ_ERR_SUCCESS && !atomic_load(&m->connected) &&
		    mien_mono_ms() - opened_at > CONNECT_WAIT_MS) {
			mosquitto_disconnect(m->mosq);
			rc = MOSQ_ERR_CONN_LOST;
		}
		if (rc != MOSQ_ERR_SUCCESS) {
			open = 0;
			atomic_store(&m->connected, 0);
			failed(m, rc == MOSQ_ERR_ERRNO ? "the connection failed" : mosquitto_strerror(rc));
		}
	}
	if (open && atomic_load(&m->connected)) {
		/* a clean stop: say so (the broker sends the will only for connections that break) */
		int mid;
		if (mosquitto_publish(m->mosq, &mid, m->will_topic, 7, "offline", 1, true) == MOSQ_ERR_SUCCESS)
			atomic_fetch_add(&m->pending, 1);
		int64_t until = mien_mono_ms() + STOP_FLUSH_MS;
		while (atomic_load(&m->pending) > 0 && mien_mono_ms() < until &&
		       mosquitto_loop(m->mosq, LOOP_MS, 1) == MOSQ_ERR_SUCCESS)
			;
		mosquitto_disconnect(m->mosq);
		mosquitto_loop(m->mosq, LOOP_MS, 1);
	}
	return NULL;
}

int notify__mqtt_start(const char *url, const char *ca, const char *prefix, const char *client_id,
                       notify_connected_fn connected, void *ctx, notify_mqtt **out, mien_error *err)
{
	*out = NULL;
	notify_mqtt *m = calloc(1, sizeof(*m));
	if (!m)
		return mien_error_set(err, MIEN_ENOMEM, "out of memory");
	int rc = notify_mqtt_url_parse(url, &m->url, err);
	if (rc) {
		free(m);
		return rc;
	}
	if (!notify_prefix_ok(prefix)) {
		free(m);
		return mien_error_set(err, MIEN_EINVAL,
		                      "MIEN_MQTT_PREFIX must be 1..%d bytes without '+', '#' or empty levels",
		                      NOTIFY_PREFIX_MAX);
	}
	if (ca && *ca && access(ca, R_OK) != 0) {
		free(m);
		return mien_error_set(err, MIEN_ENOENT, "MIEN_MQTT_CA: cannot read %s", ca);
	}
	mien_redact_url(url, m->shown, sizeof(m->shown));
	snprintf(m->will_topic, sizeof(m->will_topic), "%s/available", prefix);
	m->connected_fn = connected;
	m->ctx = ctx;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	mosquitto_lib_init();
	m->mosq = mosquitto_new(client_id, true, m);
	if (!m->mosq) {
		rc = mien_error_set(err, MIEN_EBACKEND, "mqtt: cannot create a client");
		goto fail;
	}
	mosquitto_threaded_set(m->mosq, true);
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_publish_callback_set(m->mosq, on_publish);
	if (m->url.username[0] &&
	    mosquitto_username_pw_set(m->mosq, m->url.username, m->url.password[0] ? m->url.password : NULL) !=
	            MOSQ_ERR_SUCCESS) {
		rc = mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT: the user name of %s is refused", m->shown);
		goto fail;
	}
	if (mosquitto_will_set(m->mosq, m->will_topic, 7, "offline", 1, true) != MOSQ_ERR_SUCCESS) {
		rc = mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT_PREFIX: %s is not a valid topic", m->will_topic);
		goto fail;
	}
	if (m->url.tls) {
		int tls = ca && *ca ? mosquitto_tls_set(m->mosq, ca, NULL, NULL, NULL, NULL)
		                    : mosquitto_int_option(m->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		if (tls != MOSQ_ERR_SUCCESS) {
			rc = mien_error_set(err, MIEN_EINVAL, "MIEN_MQTT_CA: %s", mosquitto_strerror(tls));
			goto fail;
		}
	}
	mien_log(MIEN_LOG_INFO, "mqtt", "connecting to %s as %s, topics under %s/", m->shown, client_id, prefix);
	if (pthread_create(&m->thread, NULL, client_main, m) != 0) {
		rc = mien_error_set(err, MIEN_EBACKEND, "mqtt: cannot start a thread");
		goto fail;
	}
	m->started = 1;
	*out = m;
	return MIEN_OK;
fail:
	notify__mqtt_stop(&m);
	return rc;
}

void notify__mqtt_stop(notify_mqtt **mp)
{
	if (!mp || !*mp)
		return;
	notify_mqtt *m = *mp;
	if (m->started) {
		pthread_mutex_lock(&m->lock);
		m->stop = 1;
		pthread_cond_broadcast(&m->wake);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->thread, NULL);
	}
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	mosquitto_lib_cleanup();
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	memset(&m->url, 0, sizeof(m->url)); /* the password */
	free(m);
	*mp = NULL;
}

int notify__mqtt_publish(notify_mqtt *m, const char *topic, const char *payload, size_t len, int retain)
{
	if (!atomic_load(&m->connected) || atomic_load(&m->pending) >= NOTIFY_MQTT_PENDING || len > 256u * 1024) {
		atomic_fetch_add(&m->dropped, 1);
		return MIEN_EUNAVAILABLE;
	}
	int mid;
	atomic_fetch_add(&m->pending, 1);
	int rc = mosquitto_publish(m->mosq, &mid, topic, (int)len, payload, 1, retain != 0);
	if (rc != MOSQ_ERR_SUCCESS) {
		on_publish(m->mosq, m, 0);
		atomic_fetch_add(&m->dropped, 1);
		return MIEN_EUNAVAILABLE;
	}
	atomic_fetch_add(&m->published, 1);
	return MIEN_OK;
}

int notify__mqtt_connected(notify_mqtt *m)
{
	return atomic_load(&m->connected);
}

void notify__mqtt_stats(notify_mqtt *m, uint64_t *published, uint64_t *dropped, uint64_t *reconnects)
{
	*published = atomic_load(&m->published);
	*dropped = atomic_load(&m->dropped);
	*reconnects = atomic_load(&m->reconnects);
}
