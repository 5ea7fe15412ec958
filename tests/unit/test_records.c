/*
 * test_records.c — the two ways mien writes an event (a jansson object for single replies and the stream, and
 * direct text for long lists) must say the same thing: the direct text is parsed back by jansson (an
 * independent JSON parser) and compared field by field with the tree, for awkward names and numbers.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "watch/visitors.h"
#include "watch/watch.h"

/* Compares two JSON values; numbers within 1e-6 relative or 1e-3 for pixel boxes. */
static void same(const json_t *a, const json_t *b, const char *where)
{
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		if (fabs(x - y) > 1e-3 + 1e-6 * fabs(y))
			fail_msg("%s: %.9g vs %.9g", where, x, y);
		return;
	}
	if (json_typeof(a) != json_typeof(b))
		fail_msg("%s: types differ", where);
	if (json_is_object(a)) {
		assert_int_equal(json_object_size(a), json_object_size(b));
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)a, key, v)
		{
			const json_t *w = json_object_get(b, key);
			if (!w)
				fail_msg("%s: %s missing", where, key);
			same(v, w, key);
		}
	} else if (json_is_array(a)) {
		assert_int_equal(json_array_size(a), json_array_size(b));
		for (size_t i = 0; i < json_array_size(a); i++)
			same(json_array_get(a, i), json_array_get(b, i), where);
	} else if (!json_equal(a, b)) {
		fail_msg("%s: values differ", where);
	}
}

static void check(const store_event *e, int with_expression)
{
	watch_text t = { 0 };
	watch_event_write(&t, e, with_expression);
	assert_false(t.failed);
	json_error_t jerr;
	json_t *parsed = json_loads(t.data, 0, &jerr);
	if (!parsed)
		fail_msg("not JSON: %s in %s", jerr.text, t.data);
	json_t *tree = watch_event_json(e, with_expression);
	assert_non_null(tree);
	same(parsed, tree, "event");
	json_decref(parsed);
	json_decref(tree);
	free(t.data);
}

static void test_direct_text_matches_the_tree(void **state)
{
	(void)state;
	store_event e = { 0 };
	e.id = 9007199254740000LL;
	e.camera_id = 3;
	e.track_id = 123456;
	e.person_id = 42;
	snprintf(e.person_name, sizeof(e.person_name), "Ada \"Countess\" \\ Lovelace\n\tÉlodie <b>");
	e.similarity = 0.9312345f;
	e.started_at = 1795696862577;
	e.ended_at = 0;
	e.box[0] = 1919.75f, e.box[1] = 0.001f, e.box[2] = 33.3333f, e.box[3] = 1e-7f;
	e.frame[0] = 1920, e.frame[1] = 1080;
	e.quality = 0.000393595f;
	float x[STORE_EXPRESSIONS] = { 0.1f, 0.000001f, 0.5f, 0, 1, 0.333333f, 0.0625f };
	memcpy(e.expression, x, sizeof(x));
	snprintf(e.dominant_expression, sizeof(e.dominant_expression), "fearful");
	e.alert = 1;
	check(&e, 1);
	check(&e, 0);
	/* unknown person, ended visit, negative and zero numbers */
	e.person_id = 0;
	e.ended_at = 1795696869999;
	e.similarity = -0.25f;
	e.dominant_expression[0] = '\0';
	e.alert = 0;
	e.frame[0] = e.frame[1] = 0; /* an event from before the frame size was stored: null */
	check(&e, 1);
	/* a control character in a name becomes \u00XX and parses back to the same byte */
	e.person_id = 7;
	snprintf(e.person_name, sizeof(e.person_name), "a\x01z");
	check(&e, 0);
}

/* Alert-rule time windows: [from, to), crossing midnight when to <= from, all day without ends. */
static void test_rule_windows(void **state)
{
	(void)state;
	assert_true(watch_rule_window(-1, -1, 0));
	assert_true(watch_rule_window(-1, -1, 1439));
	/* 09:00-17:00 */
	assert_true(watch_rule_window(540, 1020, 540));
	assert_true(watch_rule_window(540, 1020, 1019));
	assert_false(watch_rule_window(540, 1020, 1020));
	assert_false(watch_rule_window(540, 1020, 100));
	/* 22:00-06:00 crosses midnight */
	assert_true(watch_rule_window(1320, 360, 1320));
	assert_true(watch_rule_window(1320, 360, 1439));
	assert_true(watch_rule_window(1320, 360, 0));
	assert_true(watch_rule_window(1320, 360, 359));
	assert_false(watch_rule_window(1320, 360, 360));
	assert_false(watch_rule_window(1320, 360, 720));
	/* from == to: the whole day */
	assert_true(watch_rule_window(600, 600, 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_direct_text_matches_the_tree),
		                            cmocka_unit_test(test_rule_windows) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
