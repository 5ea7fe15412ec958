/*
 * rules.h — who is told: the filter of a webhook and of MQTT alerts (and, later, of other alert rules).
 *
 * A rule narrows the messages a notifier sends by camera, by who was seen and by the time of day. Its JSON form
 * (what the API takes and answers, and what the store keeps as text) is one object, every field optional:
 *
 *   {"cameras":[1,2],                  only these cameras (absent or [] = every camera)
 *    "people":[7],                     these enrolled people ...
 *    "watchlist":true,                 ... or anyone on the watchlist ...
 *    "known":false,                    ... or any enrolled person ...
 *    "unknown":true,                   ... or unknown faces (none of the four set = everybody)
 *    "hours":[{"from":"22:00","to":"06:00","days":["fri","sat"]}]}
 *                                      local time windows (absent or [] = always); a window whose `to` is
 *                                      earlier than its `from` crosses midnight; `days` (default every day) are
 *                                      the days the window starts on, so 22:00-06:00 on "fri" also covers
 *                                      Saturday 03:00
 *
 * Who-fields apply to messages about a face (events, alerts); a message about no face (a camera's status) is
 * filtered by camera and time only. Pure: no I/O, unit-tested.
 */
#ifndef MIEN_BUS_RULES_H
#define MIEN_BUS_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#define RULE_CAMERAS_MAX 64
#define RULE_PEOPLE_MAX  256
#define RULE_WINDOWS_MAX 8
/* The longest JSON text rule_json can write (every list full): what a stored rule is given room for. */
#define RULE_TEXT_MAX 8192

typedef struct rule_window {
	int from, to;  /* minutes of the day, 0..1439; from != to */
	unsigned days; /* bit d = weekday d (0 = Sunday) the window starts on; 0x7f = every day */
} rule_window;

typedef struct rule {
	int n_cameras, n_people, n_windows;
	int64_t cameras[RULE_CAMERAS_MAX];
	int64_t people[RULE_PEOPLE_MAX];
	int watchlist, known, unknown;
	rule_window windows[RULE_WINDOWS_MAX];
} rule;

/* What a message is about, as far as a rule cares. */
typedef struct rule_subject {
	int64_t camera_id; /* 0: about no camera (matches only a rule without cameras) */
	int face;          /* 1 for events and alerts; 0 for messages about no face (who-fields then do not apply) */
	int64_t person_id; /* 0: an unknown face */
	int watchlist;     /* the person is on the watchlist */
} rule_subject;

/* A rule that lets everything through. */
void rule_init(rule *r);

/*
 * Reads a rule from JSON `v` (borrowed; NULL or JSON null = everything). 0 when valid; -1 with a message naming the
 * field in `why` for anything else: an unknown field, a wrong type, ids that are not positive integers, lists past
 * their caps, a time that is not HH:MM, a window from == to, an unknown day.
 */
int rule_parse(const json_t *v, rule *out, char *why, size_t why_size);

/* The canonical JSON of a rule (every field present). A new reference; NULL when out of memory. */
json_t *rule_json(const rule *r);

/* 1 when the rule lets a message about `s` through at local time `minute` (0..1439) of weekday `wday` (0 =
 * Sunday). */
int rule_match(const rule *r, const rule_subject *s, int minute, int wday);

/* The same at `now`, read in the local time zone (TZ). */
int rule_match_now(const rule *r, const rule_subject *s, time_t now);

/* --- time of day, shared with the alert rules of unknown faces (watch/visitors.h, http/unknowns.c) ---------- */

/* The minute of the day (0..1439) of "HH:MM" (00:00 .. 23:59, two digits each); -1 for anything else. */
int rule_clock_parse(const char *text);

/* 1 when minute `m` of the day lies in [from, to): a window whose `to` is earlier than its `from` crosses midnight;
 * from == to, or either < 0, is the whole day. */
int rule_minute_in(int from, int to, int m);

#endif
