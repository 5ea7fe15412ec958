/*
 * records.c — the JSON of events and alerts, one shape for the REST API (http/events.c) and for the live stream
 * (the watch publishes the same objects on the bus), so that the dashboard reads both alike.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "face/face.h"
#include "store/gallery.h"
#include "watch/watch.h"

void watch_iso_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char text[96]; /* wider than any value can need, so the compiler sees no truncation */
	int n = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	if (n < 0 || n > 31)
		n = 0;
	memcpy(out, text, (size_t)n);
	out[n] = '\0';
}

static json_t *time_or_null(int64_t ms)
{
	char t[32];
	if (!ms)
		return json_null();
	watch_iso_time(ms, t);
	return json_string(t);
}

static json_t *person_ref(int64_t id, const char *name)
{
	return id ? json_pack("{s:I,s:s}", "id", (json_int_t)id, "name", name) : json_null();
}

json_t *watch_event_json(const store_event *e, int with_expression)
{
	json_t *o =
	        json_pack("{s:I,s:I,s:I,s:o,s:f,s:o,s:o,s:[f,f,f,f],s:f,s:b}", "id", (json_int_t)e->id, "camera_id",
	                  (json_int_t)e->camera_id, "track_id", (json_int_t)e->track_id, "person",
	                  person_ref(e->person_id, e->person_name), "similarity", (double)e->similarity, "started_at",
	                  time_or_null(e->started_at), "ended_at", time_or_null(e->ended_at), "box", e->box[0],
	                  e->box[1], e->box[2], e->box[3], "quality", (double)e->quality, "alert", e->alert);
	if (o)
		json_object_set_new(o, "frame",
		                    e->frame[0] > 0 && e->frame[1] > 0 ? json_pack("[i,i]", e->frame[0], e->frame[1])
		                                                       : json_null());
	if (o)
		json_object_set_new(o, "unknown_id", e->unknown_id ? json_integer(e->unknown_id) : json_null());
	if (o && with_expression) {
		json_t *x = json_object();
		for (int i = 0; i < STORE_EXPRESSIONS; i++)
			json_object_set_new(x, store_expression_names[i], json_real(e->expression[i]));
		json_object_set_new(o, "expression", x);
		json_object_set_new(o, "dominant_expression",
		                    e->dominant_expression[0] ? json_string(e->dominant_expression) : json_null());
	}
	return o;
}

json_t *watch_alert_json(const store_alert *a)
{
	json_t *o = json_pack("{s:I,s:I,s:I,s:o,s:s,s:o,s:o,s:o,s:I,s:o}", "id", (json_int_t)a->id, "event_id",
	                      (json_int_t)a->event_id, "camera_id", (json_int_t)a->camera_id, "person",
	                      person_ref(a->person_id, a->person_name), "kind", a->kind, "created_at",
	                      time_or_null(a->created_at), "acked_at", time_or_null(a->acked_at), "acked_by",
	                      a->acked_by ? json_integer(a->acked_by) : json_null(), "count",
	                      (json_int_t)(a->count > 0 ? a->count : 1), "last_at",
	                      time_or_null(a->last_at ? a->last_at : a->created_at));
	if (o)
		json_object_set_new(o, "rule_id", a->rule_id ? json_integer(a->rule_id) : json_null());
	return o;
}

/* --- the same event written straight into text, for long lists ---------------------------------------------------
 * bench/api showed three quarters of an events-list request in building jansson's tree and printf'ing its numbers;
 * this writer produces the same fields with digits written by hand. */

void watch_text_put(watch_text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (t->len + n + 1 > cap)
			cap *= 2;
		char *grown = cap <= WATCH_TEXT_MAX ? realloc(t->data, cap) : NULL;
		if (!grown) {
			t->failed = 1;
			return;
		}
		t->data = grown;
		t->cap = cap;
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

static void put_str(watch_text *t, const char *s)
{
	watch_text_put(t, s, strlen(s));
}

static void put_uint(watch_text *t, uint64_t v, int min_digits)
{
	char digits[24];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v || n < min_digits);
	char out[24];
	for (int i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	watch_text_put(t, out, (size_t)n);
}

static void put_int(watch_text *t, int64_t v)
{
	if (v < 0) {
		watch_text_put(t, "-", 1);
		put_uint(t, (uint64_t)(-(v + 1)) + 1, 1);
	} else {
		put_uint(t, (uint64_t)v, 1);
	}
}

/* A number with at most `decimals` digits after the point, trailing zeros dropped; null when not finite. */
static void put_real(watch_text *t, double v, int decimals)
{
	if (!isfinite(v)) {
		put_str(t, "null");
		return;
	}
	static const int64_t scale[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };
	if (fabs(v) >= 1e12) { /* far beyond anything mien stores; keep it exact rather than fast */
		char text[40];
		int n = snprintf(text, sizeof(text), "%.17g", v);
		watch_text_put(t, text, (size_t)n);
		return;
	}
	int64_t x = llround(fabs(v) * (double)scale[decimals]);
	if (v < 0 && x)
		watch_text_put(t, "-", 1);
	put_uint(t, (uint64_t)(x / scale[decimals]), 1);
	int64_t frac = x % scale[decimals];
	int keep = decimals;
	while (keep > 0 && frac % 10 == 0 && frac) {
		frac /= 10;
		keep--;
	}
	if (frac) {
		watch_text_put(t, ".", 1);
		put_uint(t, (uint64_t)frac, keep);
	}
}

/* A JSON string: quotes, backslashes and control characters escaped; other bytes (UTF-8) as they are. */
static void put_json_string(watch_text *t, const char *s)
{
	watch_text_put(t, "\"", 1);
	const char *run = s;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		watch_text_put(t, run, (size_t)(p - run));
		char esc[8];
		int n = c == '"'    ? snprintf(esc, sizeof(esc), "\\\"")
		        : c == '\\' ? snprintf(esc, sizeof(esc), "\\\\")
		                    : snprintf(esc, sizeof(esc), "\\u%04x", c);
		watch_text_put(t, esc, (size_t)n);
		run = p + 1;
	}
	put_str(t, run);
	watch_text_put(t, "\"", 1);
}

static void put_time(watch_text *t, int64_t ms)
{
	if (!ms) {
		put_str(t, "null");
		return;
	}
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	watch_text_put(t, "\"", 1);
	put_uint(t, (uint64_t)(tm.tm_year + 1900), 4);
	watch_text_put(t, "-", 1);
	put_uint(t, (uint64_t)(tm.tm_mon + 1), 2);
	watch_text_put(t, "-", 1);
	put_uint(t, (uint64_t)tm.tm_mday, 2);
	watch_text_put(t, "T", 1);
	put_uint(t, (uint64_t)tm.tm_hour, 2);
	watch_text_put(t, ":", 1);
	put_uint(t, (uint64_t)tm.tm_min, 2);
	watch_text_put(t, ":", 1);
	put_uint(t, (uint64_t)tm.tm_sec, 2);
	watch_text_put(t, ".", 1);
	put_uint(t, (uint64_t)(ms % 1000), 3);
	put_str(t, "Z\"");
}

void watch_event_write(watch_text *t, const store_event *e, int with_expression)
{
	put_str(t, "{\"id\":");
	put_int(t, e->id);
	put_str(t, ",\"camera_id\":");
	put_int(t, e->camera_id);
	put_str(t, ",\"track_id\":");
	put_int(t, e->track_id);
	put_str(t, ",\"person\":");
	if (e->person_id) {
		put_str(t, "{\"id\":");
		put_int(t, e->person_id);
		put_str(t, ",\"name\":");
		put_json_string(t, e->person_name);
		put_str(t, "}");
	} else {
		put_str(t, "null");
	}
	put_str(t, ",\"similarity\":");
	put_real(t, e->similarity, 6);
	put_str(t, ",\"started_at\":");
	put_time(t, e->started_at);
	put_str(t, ",\"ended_at\":");
	put_time(t, e->ended_at);
	put_str(t, ",\"box\":[");
	for (int i = 0; i < 4; i++) {
		if (i)
			watch_text_put(t, ",", 1);
		put_real(t, e->box[i], 3);
	}
	put_str(t, "],\"quality\":");
	put_real(t, e->quality, 6);
	put_str(t, e->alert ? ",\"alert\":true" : ",\"alert\":false");
	if (e->frame[0] > 0 && e->frame[1] > 0) {
		char frame[48];
		int n = snprintf(frame, sizeof(frame), ",\"frame\":[%d,%d]", e->frame[0], e->frame[1]);
		watch_text_put(t, frame, (size_t)n);
	} else {
		put_str(t, ",\"frame\":null");
	}
	put_str(t, ",\"unknown_id\":");
	if (e->unknown_id)
		put_int(t, e->unknown_id);
	else
		put_str(t, "null");
	if (with_expression) {
		put_str(t, ",\"expression\":{");
		for (int i = 0; i < STORE_EXPRESSIONS; i++) {
			if (i)
				watch_text_put(t, ",", 1);
			put_json_string(t, store_expression_names[i]);
			watch_text_put(t, ":", 1);
			put_real(t, e->expression[i], 6);
		}
		put_str(t, "},\"dominant_expression\":");
		if (e->dominant_expression[0])
			put_json_string(t, e->dominant_expression);
		else
			put_str(t, "null");
	}
	put_str(t, "}");
}

/* --- gallery changes between nodes ------------------------------------------------------------------------------- */

int watch_gallery_apply(gallery *g, const json_t *change, mien_error *err)
{
	const char *op = json_string_value(json_object_get(change, "op"));
	json_int_t face_id = json_integer_value(json_object_get(change, "face_id"));
	json_int_t person_id = json_integer_value(json_object_get(change, "person_id"));
	if (!op)
		return mien_error_set(err, MIEN_EFORMAT, "gallery change without an op");
	/* negatives travel as faces of negative id and person (gallery_identify) */
	if (strcmp(op, "remove_face") == 0 && face_id != 0) {
		gallery_remove_face(g, face_id); /* already gone is fine */
		return MIEN_OK;
	}
	if (strcmp(op, "remove_person") == 0 && person_id > 0) {
		gallery_remove_person(g, person_id);
		gallery_remove_person(g, -person_id); /* and the person's negatives */
		return MIEN_OK;
	}
	if (strcmp(op, "add") == 0 && face_id != 0 && person_id != 0 && (face_id > 0) == (person_id > 0)) {
		const char *model = json_string_value(json_object_get(change, "model"));
		const json_t *values = json_object_get(change, "embedding");
		size_t n = json_array_size(values);
		if (!model || n == 0 || n > FACE_EMBEDDING_MAX)
			return mien_error_set(err, MIEN_EFORMAT, "gallery change: bad embedding");
		float embedding[FACE_EMBEDDING_MAX];
		for (size_t i = 0; i < n; i++)
			embedding[i] = (float)json_number_value(json_array_get(values, i));
		return gallery_add(g, face_id, person_id, embedding, (int)n, model, err);
	}
	return mien_error_set(err, MIEN_EFORMAT, "gallery change: unknown op %s", op);
}
