/*
 * people.c — /people and their faces. Everyone logged in may read names (to show who was recognised); notes,
 * the watchlist flag, faces and every change are the admin's. Erasing a person or a face removes embeddings
 * and pictures in one store transaction and makes the identity index forget them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

static json_t *person_json(const http_req *r, const store_person *p)
{
	if (!http__role_at_least(r, STORE_ROLE_ADMIN))
		return json_pack("{s:I,s:s}", "id", (json_int_t)p->id, "name", p->name);
	char created[32], updated[32];
	http__iso_time(p->created_at, created);
	http__iso_time(p->updated_at, updated);
	return json_pack("{s:I,s:s,s:s,s:b,s:I,s:s,s:s}", "id", (json_int_t)p->id, "name", p->name, "note", p->note,
	                 "watchlist", p->watchlist, "faces", (json_int_t)p->faces, "created_at", created, "updated_at",
	                 updated);
}

void http__h_people_list(http_req *r)
{
	size_t limit, count = 0;
	int64_t after = 0;
	if (http__query_limit(r, &limit) || http__query_id(r, "cursor", &after))
		return;
	const char *search = http__query(r, "search");
	if (search && strlen(search) >= STORE_NAME_MAX) {
		http__reply_error(r, 400, "bad_request", "'search' is too long");
		return;
	}
	store_person *people = malloc(limit * sizeof(*people));
	mien_error err = { 0 };
	int rc = people ? store_person_list(r->srv->db, search && *search ? search : NULL, after, people, limit, &count,
	                                    &err)
	                : MIEN_ENOMEM;
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "people");
		free(people);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(items, person_json(r, &people[i]));
	http__reply_list(r, items, count == limit ? people[count - 1].id : 0);
	free(people);
}

static const http_field PERSON_FIELDS[] = {
	{ "name", HTTP_FIELD_STRING, 0, STORE_NAME_MAX - 1 },
	{ "note", HTTP_FIELD_STRING, 0, STORE_NOTE_MAX - 1 },
	{ "watchlist", HTTP_FIELD_BOOL, 0, 0 },
	{ 0 },
};

/* Copies the body's fields into *p; returns the STORE_PERSON_* set, or -1 after answering 400. */
static int person_from_json(http_req *r, const json_t *body, store_person *p)
{
	int fields = 0;
	json_t *v;
	if ((v = json_object_get(body, "name"))) {
		if (json_string_length(v) == 0) {
			http__reply_error(r, 400, "bad_request", "'name' must not be empty");
			return -1;
		}
		snprintf(p->name, sizeof(p->name), "%s", json_string_value(v));
		fields |= STORE_PERSON_NAME;
	}
	if ((v = json_object_get(body, "note"))) {
		snprintf(p->note, sizeof(p->note), "%s", json_string_value(v));
		fields |= STORE_PERSON_NOTE;
	}
	if ((v = json_object_get(body, "watchlist"))) {
		p->watchlist = json_is_true(v);
		fields |= STORE_PERSON_WATCHLIST;
	}
	return fields;
}

void http__h_people_create(http_req *r)
{
	json_t *body = http__body_json(r, PERSON_FIELDS);
	if (!body)
		return;
	store_person p = { 0 };
	mien_error err = { 0 };
	int fields = person_from_json(r, body, &p);
	if (fields >= 0 && !(fields & STORE_PERSON_NAME)) {
		http__reply_error(r, 400, "bad_request", "'name' is required");
	} else if (fields >= 0) {
		int rc = store_person_create(r->srv->db, &p, &err);
		if (rc != MIEN_OK) {
			http__reply_store_error(r, rc, &err, "person");
		} else {
			http__audit(r, "create", "person %lld", (long long)p.id);
			http__reply_json(r, 201, person_json(r, &p));
		}
	}
	json_decref(body);
}

void http__h_person_get(http_req *r)
{
	store_person p;
	mien_error err = { 0 };
	int rc = store_person_get(r->srv->db, r->ids[0], &p, &err);
	if (rc != MIEN_OK)
		http__reply_store_error(r, rc, &err, "person");
	else
		http__reply_json(r, 200, person_json(r, &p));
}

void http__h_person_patch(http_req *r)
{
	json_t *body = http__body_json(r, PERSON_FIELDS);
	if (!body)
		return;
	store_person p = { 0 };
	mien_error err = { 0 };
	p.id = r->ids[0];
	int fields = person_from_json(r, body, &p);
	json_decref(body);
	if (fields < 0)
		return;
	int rc = fields ? store_person_update(r->srv->db, &p, (unsigned)fields, &err) : MIEN_OK;
	if (rc == MIEN_OK)
		rc = store_person_get(r->srv->db, p.id, &p, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "person");
		return;
	}
	http__audit(r, "update", "person %lld", (long long)p.id);
	http__reply_json(r, 200, person_json(r, &p));
}

void http__h_person_delete(http_req *r)
{
	mien_error err = { 0 };
	int rc = store_person_delete(r->srv->db, r->ids[0], &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "person");
		return;
	}
	http__gallery_remove_person(r->srv, r->ids[0]);
	http__audit(r, "erase", "person %lld", (long long)r->ids[0]);
	http__reply_empty(r, 204);
}

/* The person's faces; NULL after answering (404 for an unknown person). Caller frees. */
static store_face *faces_of(http_req *r, size_t *count)
{
	store_person p;
	mien_error err = { 0 };
	int rc = store_person_get(r->srv->db, r->ids[0], &p, &err);
	store_face *faces = NULL;
	if (rc == MIEN_OK) {
		faces = malloc(STORE_LIST_MAX * sizeof(*faces));
		rc = faces ? store_face_list(r->srv->db, p.id, faces, STORE_LIST_MAX, count, &err) : MIEN_ENOMEM;
	}
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "person");
		free(faces);
		return NULL;
	}
	return faces;
}

void http__h_faces_list(http_req *r)
{
	size_t count = 0;
	store_face *faces = faces_of(r, &count);
	if (!faces)
		return;
	json_t *items = json_array();
	for (size_t i = 0; i < count; i++) {
		char created[32];
		http__iso_time(faces[i].created_at, created);
		json_array_append_new(items, json_pack("{s:I,s:I,s:s,s:i,s:f,s:s}", "id", (json_int_t)faces[i].id,
		                                       "person_id", (json_int_t)faces[i].person_id, "model",
		                                       faces[i].model, "dim", faces[i].dim, "quality",
		                                       (double)faces[i].quality, "created_at", created));
	}
	http__reply_list(r, items, 0);
	free(faces);
}

void http__h_face_delete(http_req *r)
{
	mien_error err = { 0 };
	int rc = store_face_delete(r->srv->db, r->ids[0], r->ids[1], &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "face");
		return;
	}
	http__gallery_remove_face(r->srv, r->ids[1]);
	http__audit(r, "erase", "person %lld face %lld", (long long)r->ids[0], (long long)r->ids[1]);
	http__reply_empty(r, 204);
}

void http__h_face_thumbnail(http_req *r)
{
	size_t count = 0;
	store_face *faces = faces_of(r, &count);
	if (!faces)
		return;
	int found = 0;
	for (size_t i = 0; i < count; i++)
		found |= faces[i].id == r->ids[1];
	free(faces);
	if (!found) {
		http__reply_error(r, 404, "not_found", "face not found");
		return;
	}
	uint8_t *jpeg = NULL;
	size_t len = 0;
	mien_error err = { 0 };
	int rc = store_face_thumbnail(r->srv->db, r->ids[1], &jpeg, &len, &err);
	if (rc != MIEN_OK) {
		http__reply_store_error(r, rc, &err, "thumbnail");
		return;
	}
	http__reply_bytes(r, 200, "image/jpeg", jpeg, len, 0);
}
