/*
 * rules.c — reading, writing and matching notification rules (rules.h).
 */
#include <stdio.h>
#include <string.h>

#include "bus/rules.h"

#define EVERY_DAY    0x7fu
#define MINUTES_DAY  1440
#define ID_MAX_VALUE 1000000000000000LL /* ids are 1..10^15, as in the API's paths */

static const char *const DAY_NAMES[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

void rule_init(rule *r)
{
	memset(r, 0, sizeof(*r));
}

static int fail(char *why, size_t size, const char *fmt, const char *field)
{
	snprintf(why, size, fmt, field);
	return -1;
}

/* An array of positive ids, at most `max`, duplicates dropped. */
static int parse_ids(const json_t *v, const char *field, int64_t *ids, int max, int *n, char *why, size_t size)
{
	if (!json_is_array(v))
		return fail(why, size, "'%s' must be an array of ids", field);
	if (json_array_size(v) > (size_t)max) {
		snprintf(why, size, "'%s' holds more than %d ids", field, max);
		return -1;
	}
	size_t i;
	json_t *e;
	*n = 0;
	json_array_foreach(v, i, e)
	{
		if (!json_is_integer(e) || json_integer_value(e) <= 0 || json_integer_value(e) > ID_MAX_VALUE)
			return fail(why, size, "'%s' must be an array of positive integer ids", field);
		int64_t id = json_integer_value(e);
		int seen = 0;
		for (int k = 0; k < *n; k++)
			seen |= ids[k] == id;
		if (!seen)
			ids[(*n)++] = id;
	}
	return 0;
}

int rule_clock_parse(const char *s)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	return h > 23 || m > 59 ? -1 : h * 60 + m;
}

int rule_minute_in(int from, int to, int m)
{
	if (from < 0 || to < 0 || from == to)
		return 1;
	if (from < to)
		return m >= from && m < to;
	return m >= from || m < to; /* crosses midnight */
}

/* A JSON "HH:MM" into minutes of the day. */
static int parse_clock(const json_t *v, int *minutes)
{
	*minutes = rule_clock_parse(json_string_value(v));
	return *minutes < 0 ? -1 : 0;
}

static int parse_window(const json_t *v, rule_window *w, char *why, size_t size)
{
	if (!json_is_object(v))
		return fail(why, size, "%s", "each of 'hours' must be an object {\"from\",\"to\"[,\"days\"]}");
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)v, key, val)
	{
		if (strcmp(key, "from") != 0 && strcmp(key, "to") != 0 && strcmp(key, "days") != 0) {
			snprintf(why, size, "unknown field 'hours[].%.32s'", key);
			return -1;
		}
	}
	const json_t *from = json_object_get(v, "from"), *to = json_object_get(v, "to");
	if (!from || !to)
		return fail(why, size, "%s", "each of 'hours' needs 'from' and 'to'");
	if (parse_clock(from, &w->from) || parse_clock(to, &w->to))
		return fail(why, size, "%s", "'hours' times must be \"HH:MM\" from 00:00 to 23:59");
	if (w->from == w->to)
		return fail(why, size, "%s", "an 'hours' window must not start and end at the same time");
	w->days = EVERY_DAY;
	const json_t *days = json_object_get(v, "days");
	if (days) {
		if (!json_is_array(days) || json_array_size(days) == 0 || json_array_size(days) > 7)
			return fail(why, size, "%s", "'hours[].days' must be a non-empty array of day names");
		w->days = 0;
		size_t i;
		json_t *d;
		json_array_foreach(days, i, d)
		{
			int found = -1;
			for (int k = 0; k < 7 && json_is_string(d); k++)
				if (strcmp(json_string_value(d), DAY_NAMES[k]) == 0)
					found = k;
			if (found < 0)
				return fail(why, size, "%s",
				            "'hours[].days' takes \"sun\", \"mon\", \"tue\", \"wed\", \"thu\", "
				            "\"fri\", \"sat\"");
			w->days |= 1u << found;
		}
	}
	return 0;
}

int rule_parse(const json_t *v, rule *out, char *why, size_t why_size)
{
	rule_init(out);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(why, why_size, "%s", "a filter must be a JSON object");
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)v, key, val)
	{
		if (strcmp(key, "cameras") == 0) {
			if (parse_ids(val, key, out->cameras, RULE_CAMERAS_MAX, &out->n_cameras, why, why_size))
				return -1;
		} else if (strcmp(key, "people") == 0) {
			if (parse_ids(val, key, out->people, RULE_PEOPLE_MAX, &out->n_people, why, why_size))
				return -1;
		} else if (strcmp(key, "watchlist") == 0 || strcmp(key, "known") == 0 || strcmp(key, "unknown") == 0) {
			if (!json_is_boolean(val))
				return fail(why, why_size, "'%s' must be a boolean", key);
			int *flag = key[0] == 'w' ? &out->watchlist : key[0] == 'k' ? &out->known : &out->unknown;
			*flag = json_is_true(val);
		} else if (strcmp(key, "hours") == 0) {
			if (!json_is_array(val) || json_array_size(val) > RULE_WINDOWS_MAX) {
				snprintf(why, why_size, "'hours' must be an array of at most %d windows",
				         RULE_WINDOWS_MAX);
				return -1;
			}
			size_t i;
			json_t *w;
			json_array_foreach(val, i, w)
			{
				if (parse_window(w, &out->windows[i], why, why_size))
					return -1;
			}
			out->n_windows = (int)json_array_size(val);
		} else {
			snprintf(why, why_size, "unknown field 'filter.%.32s'", key);
			return -1;
		}
	}
	return 0;
}

static json_t *ids_json(const int64_t *ids, int n)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)ids[i]));
	return a;
}

static json_t *window_json(const rule_window *w)
{
	char from[8], to[8];
	snprintf(from, sizeof(from), "%02d:%02d", (w->from / 60) % 24, w->from % 60);
	snprintf(to, sizeof(to), "%02d:%02d", (w->to / 60) % 24, w->to % 60);
	json_t *o = json_pack("{s:s,s:s}", "from", from, "to", to);
	if (o && (w->days & EVERY_DAY) != EVERY_DAY) {
		json_t *days = json_array();
		for (int d = 0; d < 7; d++)
			if (w->days & (1u << d))
				json_array_append_new(days, json_string(DAY_NAMES[d]));
		json_object_set_new(o, "days", days);
	}
	return o;
}

json_t *rule_json(const rule *r)
{
	json_t *hours = json_array();
	for (int i = 0; hours && i < r->n_windows; i++)
		json_array_append_new(hours, window_json(&r->windows[i]));
	return json_pack("{s:o,s:o,s:b,s:b,s:b,s:o}", "cameras", ids_json(r->cameras, r->n_cameras), "people",
	                 ids_json(r->people, r->n_people), "watchlist", r->watchlist, "known", r->known, "unknown",
	                 r->unknown, "hours", hours);
}

static int has_id(const int64_t *ids, int n, int64_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

static int in_window(const rule_window *w, int minute, int wday)
{
	if (!rule_minute_in(w->from, w->to, minute))
		return 0;
	/* the days are those a window starts on: past midnight in a window that crosses it, that was yesterday */
	int day = w->from > w->to && minute < w->to ? (wday + 6) % 7 : wday;
	return (w->days >> day) & 1u;
}

int rule_match(const rule *r, const rule_subject *s, int minute, int wday)
{
	if (r->n_cameras && !has_id(r->cameras, r->n_cameras, s->camera_id))
		return 0;
	if (s->face && (r->n_people || r->watchlist || r->known || r->unknown)) {
		int who = (s->person_id && has_id(r->people, r->n_people, s->person_id)) ||
		          (s->person_id && r->watchlist && s->watchlist) || (s->person_id && r->known) ||
		          (!s->person_id && r->unknown);
		if (!who)
			return 0;
	}
	if (r->n_windows == 0)
		return 1;
	minute = ((minute % MINUTES_DAY) + MINUTES_DAY) % MINUTES_DAY;
	wday = ((wday % 7) + 7) % 7;
	for (int i = 0; i < r->n_windows; i++)
		if (in_window(&r->windows[i], minute, wday))
			return 1;
	return 0;
}

int rule_match_now(const rule *r, const rule_subject *s, time_t now)
{
	struct tm tm;
	if (!localtime_r(&now, &tm))
		return rule_match(r, s, 0, 0);
	return rule_match(r, s, tm.tm_hour * 60 + tm.tm_min, tm.tm_wday);
}
