/*
 * unknowns.c — /unknowns (unknown visitors grouped into identities), /events/{id}/corrections and /corrections
 * ("this is P", "not P", undo), and /alert-rules (alerts on unknown faces).
 *
 * Every signed-in user may list the identities seen by their cameras (an identity seen by none of them answers
 * 404, never 403); naming, merging, dismissing, erasing, correcting and the rules are the admin's. Naming an
 * identity enrols a few of its best faces (quality first, no two near copies) and gives its past events the person;
 * a "not P" correction keeps the event's face as a negative for P (gallery_identify).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "bus/rules.h"
#include "http/http_int.h"
#include "store/gallery.h"
#include "watch/watch.h"

#define EVENT_IDS_MAX   50    /* event_ids per identity in a reply */
#define BEST_FACES      5     /* best_event_ids per identity */
#define ASSIGN_FACES    3     /* faces enrolled when an identity is named */
#define ASSIGN_LOOK     24    /* best events looked at for them */
#define ASSIGN_QUALITY  0.3f  /* faces below this quality are enrolled only when there is nothing better */
#define ASSIGN_DISTINCT 0.97f /* a face this similar to one already chosen adds nothing */
#define DIM_MAX         4096

/* --- identities -------------------------------------------------------------------------------------------------- */

static const int64_t *viewer_cameras(const http_req *r, int *n)
{
	if (r->user.all_cameras) {
		*n = 0;
		return NULL;
	}
	*n = r->user.n_cameras;
	return r->user.cameras;
}

static json_t *ids_json(const int64_t *ids, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	return a;
}

static json_t *time_json(int64_t ms)
{
	char t[32];
	http__iso_time(ms, t);
	return json_string(t);
}

/* The identity as the API shows it, with what the viewer's cameras saw of it; NULL when they saw nothing. */
static json_t *unknown_json(http_req *r, const store_unknown *u, mien_error *err)
{
	int n_cams = 0;
	const int64_t *cams = viewer_cameras(r, &n_cams);
	int64_t events[EVENT_IDS_MAX], best[BEST_FACES], cameras[STORE_USER_CAMERAS_MAX];
	size_t n_events = 0, n_best = 0, n_cameras = 0;
	if (store_unknown_events(r->srv->db, u->id, 0, cams, n_cams, events, EVENT_IDS_MAX, &n_events, err) !=
	            MIEN_OK ||
	    store_unknown_events(r->srv->db, u->id, 1, cams, n_cams, best, BEST_FACES, &n_best, err) != MIEN_OK ||
	    store_unknown_cameras(r->srv->db, u->id, cameras, STORE_USER_CAMERAS_MAX, &n_cameras, err) != MIEN_OK)
		return NULL;
	size_t kept = 0;
	for (size_t i = 0; i < n_cameras; i++)
		if (http__camera_allowed(r, cameras[i]))
			cameras[kept++] = cameras[i];
	if (kept == 0)
		return NULL;
	return json_pack("{s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:b}", "id", (json_int_t)u->id, "visits",
	                 (json_int_t)u->visits, "faces", (json_int_t)u->members, "first_seen", time_json(u->first_seen),
	                 "last_seen", time_json(u->last_seen), "camera_ids", ids_json(cameras, kept), "event_ids",
	                 ids_json(events, n_events), "best_event_ids", ids_json(best, n_best), "dismissed",
	                 u->dismissed);
}

/* The identity of the path, seen by the viewer's cameras; 404 otherwise (answered). *json may be NULL. */
static int unknown_of_path(http_req *r, int64_t id, store_unknown *u, json_t **json)
{
	mien_error err = { 0 };
	int rc = store_unknown_get(r->srv->db, id, u, &err);
	json_t *j = NULL;
	if (rc == MIEN_OK && !(j = unknown_json(r, u, &err)) && err.code == MIEN_OK)
		rc = mien_error_set(&err, MIEN_ENOENT, "unknown identity %lld not found", (long long)id);
	else if (rc == MIEN_OK && !j)
		rc = err.code;
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "unknown identity");
		return -1;
	}
	if (json)
		*json = j;
	else
		json_decref(j);
	return 0;
}

void http__h_unknowns_list(http_req *r)
{
	size_t limit, count = 0;
	store_unknown_filter f = { .dismissed = 0 };
	if (http__query_limit(r, &limit))
		return;
	const char *cursor = http__query(r, "cursor");
	if (cursor) {
		long long visits, id;
		char extra;
		if (sscanf(cursor, "%lld.%lld%c", &visits, &id, &extra) != 2 || visits < 0 || id <= 0) {
			http__reply_error(r, 400, "bad_request", "'cursor' is not one this API gave");
			return;
		}
		f.after_visits = visits;
		f.after_id = id;
	}
	const char *dismissed = http__query(r, "dismissed");
	if (dismissed) {
		if (strcmp(dismissed, "false") == 0)
			f.dismissed = 0;
		else if (strcmp(dismissed, "true") == 0)
			f.dismissed = 1;
		else if (strcmp(dismissed, "any") == 0)
			f.dismissed = -1;
		else {
			http__reply_error(r, 400, "bad_request", "'dismissed' must be false, true or any");
			return;
		}
	}
	f.cameras = viewer_cameras(r, &f.n_cameras);
	store_unknown *list = malloc(limit * sizeof(*list));
	mien_error err = { 0 };
	int rc = list ? store_unknown_list(r->srv->db, &f, list, limit, &count, &err) : MIEN_ENOMEM;
	json_t *items = json_array();
	for (size_t i = 0; rc == MIEN_OK && i < count; i++) {
		json_t *item = unknown_json(r, &list[i], &err);
		if (item)
			json_array_append_new(items, item);
		else if (err.code != MIEN_OK)
			rc = err.code;
	}
	if (rc != MIEN_OK) {
		json_decref(items);
		free(list);
		http__reply_store_error(r, rc, &err, "unknown identities");
		return;
	}
	char next[48];
	if (count == limit)
		snprintf(next, sizeof(next), "%lld.%lld", (long long)list[count - 1].visits,
		         (long long)list[count - 1].id);
	http__reply_json(r, 200,
	                 json_pack("{s:o,s:o}", "items", items, "next_cursor",
	                           count == limit ? json_string(next) : json_null()));
	free(list);
}

void http__h_unknown_get(http_req *r)
{
	store_unknown u;
	json_t *j;
	if (unknown_of_path(r, r->ids[0], &u, &j) == 0)
		http__reply_json(r, 200, j);
}

/* The identity's face: its normalised mean, as a face_result for the enrolment checks. */
static int mean_face(http_req *r, int64_t id, face_result *f)
{
	memset(f, 0, sizeof(*f));
	int dim = 0, members = 0;
	mien_error err = { 0 };
	float *s = malloc(DIM_MAX * sizeof(float));
	int rc = s ? store_unknown_sum(r->srv->db, id, s, &dim, &members, &err) : MIEN_ENOMEM;
	if (rc == MIEN_OK && (dim < 1 || dim > FACE_EMBEDDING_MAX))
		rc = mien_error_set(&err, MIEN_EFORMAT, "unknown identity %lld: a face of %d values", (long long)id,
		                    dim);
	if (rc != MIEN_OK) {
		free(s);
		http__reply_store_error(r, rc, &err, "unknown identity");
		return -1;
	}
	double n2 = 0;
	for (int i = 0; i < dim; i++)
		n2 += (double)s[i] * s[i];
	float k = n2 > 0 ? (float)(1.0 / sqrt(n2)) : 0;
	for (int i = 0; i < dim; i++)
		f->embedding[i] = s[i] * k;
	f->embedding_dim = dim;
	free(s);
	return 0;
}

static float cosine(const float *a, const float *b, int dim)
{
	double ab = 0, aa = 0, bb = 0;
	for (int i = 0; i < dim; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0;
}

/* Enrols event `event_id`'s face (its embedding and face picture) to `person_id`: *face_id. */
static int enrol_event_face(http_server *s, int64_t person_id, const store_event *e, const char *model,
                            const float *embedding, int dim, int64_t *face_id, mien_error *err)
{
	uint8_t *thumb = NULL;
	size_t thumb_len = 0;
	mien_error none;
	store_event_image(s->db, e->id, STORE_IMAGE_THUMBNAIL, &thumb, &thumb_len, &none);
	int rc = store_face_add(s->db, person_id, model, embedding, dim, e->quality, thumb, thumb_len, face_id, err);
	free(thumb);
	if (rc == MIEN_OK)
		http__gallery_add_embedding(s, person_id, *face_id, embedding, dim, model);
	return rc;
}

static const http_field ASSIGN_FIELDS[] = {
	{ "person_id", HTTP_FIELD_INT, 1, 0 },
	{ "confirm", HTTP_FIELD_BOOL, 0, 0 },
	{ 0 },
};

void http__h_unknown_assign(http_req *r)
{
	json_t *body = http__body_json(r, ASSIGN_FIELDS);
	if (!body)
		return;
	int64_t person_id = json_integer_value(json_object_get(body, "person_id"));
	int confirm = json_is_true(json_object_get(body, "confirm"));
	json_decref(body);
	store_unknown u;
	store_person person;
	mien_error err = { 0 };
	if (unknown_of_path(r, r->ids[0], &u, NULL) != 0)
		return;
	int rc = store_person_get(r->srv->db, person_id, &person, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc == MIEN_ENOENT ? MIEN_EINVAL : rc, &err, "person");
		return;
	}
	face_result *mean = malloc(sizeof(*mean));
	if (!mean || mean_face(r, u.id, mean) != 0) {
		if (!mean)
			http__reply_error(r, 500, "internal", "out of memory");
		free(mean);
		return;
	}
	mean->embedding_model = u.model;
	const char *warning = NULL;
	rc = http__check_match(r, &person, mean, 0, 1, confirm, &warning);
	free(mean);
	if (rc != 0)
		return;

	/* Its best faces: the sharpest first, none a near copy of another, and low-quality ones only when there is
	 * nothing better. */
	int64_t best[ASSIGN_LOOK], enrolled[ASSIGN_FACES];
	size_t n_best = 0, n_enrolled = 0;
	float *chosen = malloc((size_t)ASSIGN_FACES * DIM_MAX * sizeof(float));
	float *face = malloc(DIM_MAX * sizeof(float));
	rc = chosen && face ? store_unknown_events(r->srv->db, u.id, 1, NULL, 0, best, ASSIGN_LOOK, &n_best, &err)
	                    : mien_error_set(&err, MIEN_ENOMEM, "out of memory");
	for (int pass = 0; pass < 2 && rc == MIEN_OK && n_enrolled == 0; pass++) {
		for (size_t i = 0; i < n_best && n_enrolled < ASSIGN_FACES && rc == MIEN_OK; i++) {
			store_event e;
			char model[STORE_MODEL_MAX];
			int dim = 0;
			mien_error skip;
			if (store_event_get(r->srv->db, best[i], &e, &skip) != MIEN_OK ||
			    store_event_embedding(r->srv->db, e.id, model, face, &dim, &skip) != MIEN_OK ||
			    strcmp(model, u.model) != 0 || (pass == 0 && e.quality < ASSIGN_QUALITY))
				continue;
			int distinct = 1;
			for (size_t k = 0; k < n_enrolled && distinct; k++)
				distinct = cosine(face, chosen + k * DIM_MAX, dim) < ASSIGN_DISTINCT;
			if (!distinct)
				continue;
			rc = enrol_event_face(r->srv, person.id, &e, model, face, dim, &enrolled[n_enrolled], &err);
			if (rc == MIEN_OK)
				memcpy(chosen + n_enrolled++ * DIM_MAX, face, (size_t)dim * sizeof(float));
		}
	}
	free(chosen);
	free(face);
	int64_t events = 0;
	if (rc == MIEN_OK)
		rc = store_unknown_assign(r->srv->db, u.id, person.id, &events, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "unknown identity");
		return;
	}
	char detail[96];
	snprintf(detail, sizeof(detail), "%zu faces enrolled, %lld events%s%s", n_enrolled, (long long)events,
	         warning ? ", confirmed over " : "", warning ? warning : "");
	http__audit_detail(r, "assign", detail, "unknown %lld to person %lld", (long long)u.id, (long long)person.id);
	json_t *reply = json_pack("{s:I,s:o,s:I}", "person_id", (json_int_t)person.id, "enrolled_face_ids",
	                          ids_json(enrolled, n_enrolled), "events", (json_int_t)events);
	if (reply && warning)
		json_object_set_new(reply, "warning", json_string(warning));
	http__reply_json(r, 200, reply);
}

static const http_field MERGE_FIELDS[] = {
	{ "from", HTTP_FIELD_INT, 1, 0 },
	{ 0 },
};

void http__h_unknown_merge(http_req *r)
{
	json_t *body = http__body_json(r, MERGE_FIELDS);
	if (!body)
		return;
	int64_t from = json_integer_value(json_object_get(body, "from"));
	json_decref(body);
	store_unknown into, other, merged;
	if (from == r->ids[0]) {
		http__reply_error(r, 400, "bad_request", "an identity cannot be merged into itself");
		return;
	}
	if (unknown_of_path(r, r->ids[0], &into, NULL) != 0 || unknown_of_path(r, from, &other, NULL) != 0)
		return;
	mien_error err = { 0 };
	int rc = store_unknown_merge(r->srv->db, into.id, other.id, &merged, &err);
	json_t *j = rc == MIEN_OK ? unknown_json(r, &merged, &err) : NULL;
	if (!j) {
		http__reply_store_error(r,
		                        rc != MIEN_OK ? rc
		                        : err.code    ? err.code
		                                      : MIEN_ENOENT,
		                        &err, "unknown identity");
		return;
	}
	http__audit(r, "merge", "unknown %lld into %lld", (long long)other.id, (long long)into.id);
	http__reply_json(r, 200, j);
}

void http__h_unknown_event_remove(http_req *r)
{
	store_unknown u;
	store_event e;
	mien_error err = { 0 };
	if (unknown_of_path(r, r->ids[0], &u, NULL) != 0)
		return;
	int rc = store_event_get(r->srv->db, r->ids[1], &e, &err);
	if (rc == MIEN_OK && (!http__camera_allowed(r, e.camera_id) || e.unknown_id != u.id))
		rc = mien_error_set(&err, MIEN_ENOENT, "event %lld is not in this identity", (long long)r->ids[1]);
	if (rc == MIEN_OK)
		rc = store_unknown_remove_event(r->srv->db, u.id, e.id, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "event");
		return;
	}
	http__audit(r, "update", "unknown %lld: event %lld taken out", (long long)u.id, (long long)e.id);
	if (store_event_get(r->srv->db, e.id, &e, &err) == MIEN_OK)
		http__tell_event(r->srv, &e);
	http__reply_empty(r, 204);
}

static const http_field DISMISS_FIELDS[] = {
	{ "dismissed", HTTP_FIELD_BOOL, 1, 0 },
	{ 0 },
};

void http__h_unknown_dismiss(http_req *r)
{
	json_t *body = http__body_json(r, DISMISS_FIELDS);
	if (!body)
		return;
	int on = json_is_true(json_object_get(body, "dismissed"));
	json_decref(body);
	store_unknown u;
	json_t *j;
	if (unknown_of_path(r, r->ids[0], &u, NULL) != 0)
		return;
	mien_error err = { 0 };
	int rc = store_unknown_dismiss(r->srv->db, u.id, on, &err);
	if (rc == MIEN_OK)
		rc = store_unknown_get(r->srv->db, u.id, &u, &err);
	if (rc != MIEN_OK || !(j = unknown_json(r, &u, &err))) {
		http__reply_store_error(r, rc != MIEN_OK ? rc : MIEN_ENOENT, &err, "unknown identity");
		return;
	}
	http__audit(r, on ? "dismiss" : "undismiss", "unknown %lld", (long long)u.id);
	http__reply_json(r, 200, j);
}

void http__h_unknown_delete(http_req *r)
{
	store_unknown u;
	if (unknown_of_path(r, r->ids[0], &u, NULL) != 0)
		return;
	mien_error err = { 0 };
	int rc = store_unknown_erase(r->srv->db, u.id, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "unknown identity");
		return;
	}
	http__audit(r, "erase", "unknown %lld", (long long)u.id);
	http__reply_empty(r, 204);
}

/* --- corrections -------------------------------------------------------------------------------------------------- */

static json_t *correction_json(const store_correction *c)
{
	return json_pack("{s:I,s:o,s:I,s:s,s:o,s:o,s:o,s:s,s:o,s:b}", "id", (json_int_t)c->id, "event_id",
	                 c->event_id ? json_integer(c->event_id) : json_null(), "person_id", (json_int_t)c->person_id,
	                 "verdict", c->verdict, "face_id", c->face_id ? json_integer(c->face_id) : json_null(),
	                 "previous_person_id",
	                 c->previous_person_id ? json_integer(c->previous_person_id) : json_null(), "created_at",
	                 time_json(c->created_at), "user", c->username, "undone_at",
	                 c->undone_at ? time_json(c->undone_at) : json_null(), "undone", c->undone_at != 0);
}

static const http_field CORRECTION_FIELDS[] = {
	{ "person_id", HTTP_FIELD_INT, 1, 0 },
	{ "verdict", HTTP_FIELD_STRING, 1, 8 },
	{ 0 },
};

void http__h_event_correct(http_req *r)
{
	json_t *body = http__body_json(r, CORRECTION_FIELDS);
	if (!body)
		return;
	store_correction c = { .person_id = json_integer_value(json_object_get(body, "person_id")) };
	snprintf(c.verdict, sizeof(c.verdict), "%s", json_string_value(json_object_get(body, "verdict")));
	int is = strcmp(json_string_value(json_object_get(body, "verdict")), "is") == 0;
	int not = strcmp(json_string_value(json_object_get(body, "verdict")), "not") == 0;
	json_decref(body);
	if (!is && !not ) {
		http__reply_error(r, 400, "bad_request", "'verdict' must be \"is\" or \"not\"");
		return;
	}
	store_event e;
	store_person person;
	mien_error err = { 0 };
	int rc = store_event_get(r->srv->db, r->ids[0], &e, &err);
	if (rc == MIEN_OK && !http__camera_allowed(r, e.camera_id))
		rc = mien_error_set(&err, MIEN_ENOENT, "event %lld not found", (long long)r->ids[0]);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "event");
		return;
	}
	if ((rc = store_person_get(r->srv->db, c.person_id, &person, &err)) != MIEN_OK) {
		http__reply_store_error(r, rc == MIEN_ENOENT ? MIEN_EINVAL : rc, &err, "person");
		return;
	}
	if (is && e.person_id == person.id) {
		http__reply_error(r, 409, "conflict", "the event is already %s's", person.name);
		return;
	}
	if (not &&e.person_id != person.id) {
		http__reply_error(r, 409, "conflict", "the event is not named %s", person.name);
		return;
	}
	char model[STORE_MODEL_MAX];
	float *face = malloc(DIM_MAX * sizeof(float));
	int dim = 0;
	rc = face ? store_event_embedding(r->srv->db, e.id, model, face, &dim, &err) : MIEN_ENOMEM;
	if (rc == MIEN_ENOENT) {
		free(face);
		http__reply_error(r, 422, "no_face",
		                  "the event kept no face to learn from (it ended before one was embedded)");
		return;
	}
	c.event_id = e.id;
	c.previous_person_id = e.person_id;
	c.previous_unknown_id = e.unknown_id;
	c.previous_similarity = e.similarity;
	c.user_id = r->user.user_id;
	snprintf(c.username, sizeof(c.username), "%s", r->user.username);
	if (rc == MIEN_OK && is) {
		/* the face leaves its unknown identity, is enrolled to the person, and the visit is theirs */
		mien_error ignored;
		if (e.unknown_id)
			store_unknown_remove_event(r->srv->db, e.unknown_id, e.id, &ignored);
		rc = enrol_event_face(r->srv, person.id, &e, model, face, dim, &c.face_id, &err);
		if (rc == MIEN_OK)
			rc = store_event_relabel(r->srv->db, e.id, person.id, 0, 0, &err);
	} else if (rc == MIEN_OK) {
		/* the face is kept as one the person is not, and the visit becomes an unknown face's */
		rc = store_negative_add(r->srv->db, person.id, e.id, model, face, dim, &c.negative_id, &err);
		if (rc == MIEN_OK) {
			http__gallery_add_embedding(r->srv, -person.id, -c.negative_id, face, dim, model);
			rc = store_event_relabel(r->srv->db, e.id, 0, 0, 0, &err);
		}
	}
	free(face);
	if (rc == MIEN_OK)
		rc = store_correction_create(r->srv->db, &c, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "correction");
		return;
	}
	http__audit(r, "correct", "event %lld: %s %s (person %lld)", (long long)e.id, is ? "is" : "not", person.name,
	            (long long)person.id);
	if (store_event_get(r->srv->db, e.id, &e, &err) == MIEN_OK)
		http__tell_event(r->srv, &e);
	http__reply_json(r, 201, correction_json(&c));
}

void http__h_corrections_list(http_req *r)
{
	size_t limit, count = 0;
	int64_t person = 0, before = 0;
	if (http__query_limit(r, &limit) || http__query_id(r, "person_id", &person) ||
	    http__query_id(r, "cursor", &before))
		return;
	store_correction *list = malloc(limit * sizeof(*list));
	mien_error err = { 0 };
	int rc = list ? store_correction_list(r->srv->db, person, before, list, limit, &count, &err) : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		free(list);
		http__reply_store_error(r, rc, &err, "corrections");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(items, correction_json(&list[i]));
	http__reply_list(r, items, count == limit ? list[count - 1].id : 0);
	free(list);
}

void http__h_correction_undo(http_req *r)
{
	store_correction c;
	mien_error err = { 0 };
	int rc = store_correction_get(r->srv->db, r->ids[0], &c, &err);
	if (rc == MIEN_OK && c.undone_at)
		rc = mien_error_set(&err, MIEN_ECONFLICT, "correction %lld was already undone", (long long)c.id);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "correction");
		return;
	}
	mien_error ignored;
	if (c.face_id && store_face_delete(r->srv->db, c.person_id, c.face_id, &ignored) == MIEN_OK)
		http__gallery_remove_face(r->srv, c.face_id);
	if (c.negative_id && store_negative_delete(r->srv->db, c.negative_id, &ignored) == MIEN_OK)
		http__gallery_remove_face(r->srv, -c.negative_id);
	store_event e;
	if (c.event_id && store_event_get(r->srv->db, c.event_id, &e, &ignored) == MIEN_OK) {
		/* the visit gets back what it had; a person or identity erased since is not brought back */
		store_person p;
		store_unknown u;
		int64_t person = c.previous_person_id && store_person_get(r->srv->db, c.previous_person_id, &p,
		                                                          &ignored) == MIEN_OK
		                         ? c.previous_person_id
		                         : 0;
		int64_t unknown = c.previous_unknown_id && store_unknown_get(r->srv->db, c.previous_unknown_id, &u,
		                                                             &ignored) == MIEN_OK
		                          ? c.previous_unknown_id
		                          : 0;
		char model[STORE_MODEL_MAX];
		float *face = malloc(DIM_MAX * sizeof(float));
		int dim = 0;
		if (unknown && face &&
		    store_event_embedding(r->srv->db, e.id, model, face, &dim, &ignored) == MIEN_OK &&
		    store_unknown_join(r->srv->db, unknown, e.id, face, dim, e.started_at, &u, &ignored) == MIEN_OK)
			unknown = 0; /* joined: the join set it */
		free(face);
		if (store_event_relabel(r->srv->db, e.id, person, person ? c.previous_similarity : 0,
		                        unknown ? 0 : e.unknown_id, &ignored) == MIEN_OK &&
		    store_event_get(r->srv->db, e.id, &e, &ignored) == MIEN_OK)
			http__tell_event(r->srv, &e);
	}
	rc = store_correction_undo(r->srv->db, c.id, mien_wall_ms(), &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "correction");
		return;
	}
	http__audit(r, "undo", "correction %lld", (long long)c.id);
	http__reply_empty(r, 204);
}

/* --- alert rules ---------------------------------------------------------------------------------------------------
 */

static json_t *minute_json(int m)
{
	if (m < 0)
		return json_null();
	char t[24];
	snprintf(t, sizeof(t), "%02d:%02d", m / 60, m % 60);
	return json_string(t);
}

static json_t *alert_rule_json(const store_alert_rule *a)
{
	return json_pack("{s:I,s:s,s:o,s:s,s:o,s:o,s:i,s:i,s:b}", "id", (json_int_t)a->id, "name", a->name, "camera_id",
	                 a->camera_id ? json_integer(a->camera_id) : json_null(), "kind",
	                 a->kind == STORE_RULE_REPEAT_UNKNOWN ? "repeat_unknown" : "unknown", "from",
	                 minute_json(a->from_min), "to", minute_json(a->to_min), "min_visits", a->min_visits, "days",
	                 a->days, "enabled", a->enabled);
}

static const http_field RULE_FIELDS[] = {
	{ "name", HTTP_FIELD_STRING, 0, STORE_NAME_MAX - 1 },
	{ "camera_id", HTTP_FIELD_ID_OR_NULL, 0, 0 },
	{ "kind", HTTP_FIELD_STRING, 0, 16 },
	{ "from", HTTP_FIELD_STRING_OR_NULL, 0, 5 },
	{ "to", HTTP_FIELD_STRING_OR_NULL, 0, 5 },
	{ "min_visits", HTTP_FIELD_INT, 0, 0 },
	{ "days", HTTP_FIELD_INT, 0, 0 },
	{ "enabled", HTTP_FIELD_BOOL, 0, 0 },
	{ 0 },
};

/* "HH:MM" → minutes after midnight (bus/rules.h, as the notifier's filters read it); -1 for null; -2 when
 * malformed. */
static int parse_minute(const json_t *v)
{
	if (!v || json_is_null(v))
		return -1;
	int m = rule_clock_parse(json_string_value(v));
	return m < 0 ? -2 : m;
}

/* Applies the body's fields to *a (a new rule or the stored one); 0, or -1 after answering 400. */
static int rule_from_json(http_req *r, const json_t *body, store_alert_rule *a)
{
	json_t *v;
	if ((v = json_object_get(body, "name")))
		snprintf(a->name, sizeof(a->name), "%s", json_string_value(v));
	if ((v = json_object_get(body, "camera_id"))) {
		a->camera_id = json_is_null(v) ? 0 : json_integer_value(v);
		store_camera cam;
		mien_error err = { 0 };
		if (a->camera_id && store_camera_get(r->srv->db, a->camera_id, &cam, &err) != MIEN_OK) {
			http__reply_error(r, 400, "bad_request", "camera %lld does not exist", (long long)a->camera_id);
			return -1;
		}
	}
	if ((v = json_object_get(body, "kind"))) {
		const char *k = json_string_value(v);
		if (strcmp(k, "unknown") == 0)
			a->kind = STORE_RULE_UNKNOWN;
		else if (strcmp(k, "repeat_unknown") == 0)
			a->kind = STORE_RULE_REPEAT_UNKNOWN;
		else {
			http__reply_error(r, 400, "bad_request", "'kind' must be \"unknown\" or \"repeat_unknown\"");
			return -1;
		}
	}
	json_t *from = json_object_get(body, "from"), *to = json_object_get(body, "to");
	if (from || to) {
		int f = parse_minute(from ? from : json_null()), t = parse_minute(to ? to : json_null());
		if (f == -2 || t == -2 || (f < 0) != (t < 0)) {
			http__reply_error(r, 400, "bad_request",
			                  "'from' and 'to' must both be \"HH:MM\" (24-hour local time), or both null");
			return -1;
		}
		a->from_min = f;
		a->to_min = t;
	}
	if ((v = json_object_get(body, "min_visits")))
		a->min_visits =
		        json_integer_value(v) > 1000 || json_integer_value(v) < 1 ? 0 : (int)json_integer_value(v);
	if ((v = json_object_get(body, "days")))
		a->days = json_integer_value(v) > 365 || json_integer_value(v) < 1 ? 0 : (int)json_integer_value(v);
	if ((v = json_object_get(body, "enabled")))
		a->enabled = json_is_true(v);
	if (a->min_visits < 1 || a->days < 1) {
		http__reply_error(r, 400, "bad_request", "'min_visits' must be 1..1000 and 'days' 1..365");
		return -1;
	}
	return 0;
}

void http__h_alert_rules_list(http_req *r)
{
	store_alert_rule rules[STORE_LIST_MAX];
	size_t n = 0;
	mien_error err = { 0 };
	int rc = store_alert_rule_list(r->srv->db, rules, STORE_LIST_MAX, &n, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "alert rules");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, alert_rule_json(&rules[i]));
	http__reply_list(r, items, 0);
}

void http__h_alert_rules_create(http_req *r)
{
	json_t *body = http__body_json(r, RULE_FIELDS);
	if (!body)
		return;
	store_alert_rule a = {
		.kind = STORE_RULE_UNKNOWN, .from_min = -1, .to_min = -1, .min_visits = 1, .days = 1, .enabled = 1
	};
	if (!json_object_get(body, "kind")) {
		http__reply_error(r, 400, "bad_request", "'kind' is required");
	} else if (rule_from_json(r, body, &a) == 0) {
		mien_error err = { 0 };
		int rc = store_alert_rule_create(r->srv->db, &a, &err);
		if (rc != MIEN_OK) {
			http__reply_store_error(r, rc, &err, "alert rule");
		} else {
			http__audit(r, "create", "alert rule %lld", (long long)a.id);
			http__reply_json(r, 201, alert_rule_json(&a));
		}
	}
	json_decref(body);
}

void http__h_alert_rule_patch(http_req *r)
{
	json_t *body = http__body_json(r, RULE_FIELDS);
	if (!body)
		return;
	store_alert_rule a;
	mien_error err = { 0 };
	int rc = store_alert_rule_get(r->srv->db, r->ids[0], &a, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "alert rule");
	} else if (rule_from_json(r, body, &a) == 0) {
		rc = store_alert_rule_update(r->srv->db, &a, &err);
		if (rc != MIEN_OK) {
			http__reply_store_error(r, rc, &err, "alert rule");
		} else {
			http__audit(r, "update", "alert rule %lld", (long long)a.id);
			http__reply_json(r, 200, alert_rule_json(&a));
		}
	}
	json_decref(body);
}

void http__h_alert_rule_delete(http_req *r)
{
	mien_error err = { 0 };
	int rc = store_alert_rule_delete(r->srv->db, r->ids[0], &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "alert rule");
		return;
	}
	http__audit(r, "delete", "alert rule %lld", (long long)r->ids[0]);
	http__reply_empty(r, 204);
}
