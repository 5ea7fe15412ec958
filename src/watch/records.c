/*
 * records.c — the JSON of events and alerts, one shape for the REST API (http/events.c) and for the live stream
 * (the watch publishes the same objects on the bus), so that the dashboard reads both alike.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

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
	return json_pack("{s:I,s:I,s:I,s:o,s:s,s:o,s:o,s:o}", "id", (json_int_t)a->id, "event_id",
	                 (json_int_t)a->event_id, "camera_id", (json_int_t)a->camera_id, "person",
	                 person_ref(a->person_id, a->person_name), "kind", a->kind, "created_at",
	                 time_or_null(a->created_at), "acked_at", time_or_null(a->acked_at), "acked_by",
	                 a->acked_by ? json_integer(a->acked_by) : json_null());
}
