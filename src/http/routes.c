/*
 * routes.c — the router: one line per route. The least role is checked before the handler runs; handlers
 * check what depends on the data (the user's cameras, fields by role). Adding a route is one line here plus
 * its path in docs/openapi.json (a test compares the two).
 */
#include <stdio.h>

#include "http/http_int.h"

#define NONE  STORE_ROLE_NONE
#define RECOG STORE_ROLE_RECOGNITION
#define ADMIN STORE_ROLE_ADMIN
#define IMAGE HTTP_ROUTE_IMAGE

const http_route http__routes[] = {
	{ HTTP_GET, "/healthz", NONE, HTTP_ROUTE_HIDDEN, http__h_healthz },
	{ HTTP_GET, "/readyz", NONE, HTTP_ROUTE_HIDDEN, http__h_readyz },
	{ HTTP_GET, "/metrics", NONE, HTTP_ROUTE_HIDDEN, http__h_metrics },
	{ HTTP_GET, "/api/v1/openapi.json", NONE, 0, http__h_openapi },
	{ HTTP_POST, "/api/v1/auth/login", NONE, 0, http__h_login },
	{ HTTP_POST, "/api/v1/auth/logout", RECOG, 0, http__h_logout },
	{ HTTP_GET, "/api/v1/me", RECOG, 0, http__h_me },
	{ HTTP_POST, "/api/v1/analyze", RECOG, IMAGE, http__h_analyze },
	{ HTTP_GET, "/api/v1/people", RECOG, 0, http__h_people_list },
	{ HTTP_POST, "/api/v1/people", ADMIN, 0, http__h_people_create },
	{ HTTP_GET, "/api/v1/people/{id}", RECOG, 0, http__h_person_get },
	{ HTTP_PATCH, "/api/v1/people/{id}", ADMIN, 0, http__h_person_patch },
	{ HTTP_DELETE, "/api/v1/people/{id}", ADMIN, 0, http__h_person_delete },
	{ HTTP_POST, "/api/v1/people/{id}/faces", ADMIN, IMAGE, http__h_faces_add },
	{ HTTP_GET, "/api/v1/people/{id}/faces", ADMIN, 0, http__h_faces_list },
	{ HTTP_DELETE, "/api/v1/people/{id}/faces/{face_id}", ADMIN, 0, http__h_face_delete },
	{ HTTP_GET, "/api/v1/people/{id}/faces/{face_id}/thumbnail.jpg", ADMIN, 0, http__h_face_thumbnail },
	{ HTTP_GET, "/api/v1/cameras", RECOG, 0, http__h_cameras_list },
	{ HTTP_POST, "/api/v1/cameras", ADMIN, 0, http__h_cameras_create },
	{ HTTP_GET, "/api/v1/cameras/{id}", RECOG, 0, http__h_camera_get },
	{ HTTP_PATCH, "/api/v1/cameras/{id}", ADMIN, 0, http__h_camera_patch },
	{ HTTP_DELETE, "/api/v1/cameras/{id}", ADMIN, 0, http__h_camera_delete },
	{ HTTP_GET, "/api/v1/cameras/{id}/live.mjpg", RECOG, 0, http__h_camera_live },
	{ HTTP_GET, "/api/v1/cameras/{id}/snapshot.jpg", RECOG, 0, http__h_camera_snapshot },
	{ HTTP_GET, "/api/v1/events", RECOG, 0, http__h_events_list },
	{ HTTP_GET, "/api/v1/events/{id}", RECOG, 0, http__h_event_get },
	{ HTTP_GET, "/api/v1/events/{id}/snapshot.jpg", RECOG, 0, http__h_event_snapshot },
	{ HTTP_GET, "/api/v1/events/{id}/face.jpg", RECOG, 0, http__h_event_face },
	{ HTTP_POST, "/api/v1/events/{id}/corrections", ADMIN, 0, http__h_event_correct },
	{ HTTP_GET, "/api/v1/corrections", ADMIN, 0, http__h_corrections_list },
	{ HTTP_DELETE, "/api/v1/corrections/{id}", ADMIN, 0, http__h_correction_undo },
	{ HTTP_GET, "/api/v1/unknowns", RECOG, 0, http__h_unknowns_list },
	{ HTTP_GET, "/api/v1/unknowns/{id}", RECOG, 0, http__h_unknown_get },
	{ HTTP_DELETE, "/api/v1/unknowns/{id}", ADMIN, 0, http__h_unknown_delete },
	{ HTTP_POST, "/api/v1/unknowns/{id}/assign", ADMIN, 0, http__h_unknown_assign },
	{ HTTP_POST, "/api/v1/unknowns/{id}/merge", ADMIN, 0, http__h_unknown_merge },
	{ HTTP_POST, "/api/v1/unknowns/{id}/dismiss", ADMIN, 0, http__h_unknown_dismiss },
	{ HTTP_DELETE, "/api/v1/unknowns/{id}/events/{event_id}", ADMIN, 0, http__h_unknown_event_remove },
	{ HTTP_POST, "/api/v1/search/faces", RECOG, IMAGE, http__h_search_faces },
	{ HTTP_GET, "/api/v1/alerts", ADMIN, 0, http__h_alerts_list },
	{ HTTP_POST, "/api/v1/alerts/{id}/ack", ADMIN, 0, http__h_alert_ack },
	{ HTTP_GET, "/api/v1/alert-rules", ADMIN, 0, http__h_alert_rules_list },
	{ HTTP_POST, "/api/v1/alert-rules", ADMIN, 0, http__h_alert_rules_create },
	{ HTTP_PATCH, "/api/v1/alert-rules/{id}", ADMIN, 0, http__h_alert_rule_patch },
	{ HTTP_DELETE, "/api/v1/alert-rules/{id}", ADMIN, 0, http__h_alert_rule_delete },
	{ HTTP_GET, "/api/v1/users", ADMIN, 0, http__h_users_list },
	{ HTTP_POST, "/api/v1/users", ADMIN, 0, http__h_users_create },
	{ HTTP_PATCH, "/api/v1/users/{id}", ADMIN, 0, http__h_user_patch },
	{ HTTP_DELETE, "/api/v1/users/{id}", ADMIN, 0, http__h_user_delete },
	{ HTTP_GET, "/api/v1/settings", ADMIN, 0, http__h_settings_get },
	{ HTTP_PATCH, "/api/v1/settings", ADMIN, 0, http__h_settings_patch },
	{ HTTP_GET, "/api/v1/storage", ADMIN, 0, http__h_storage_get },
	{ HTTP_GET, "/api/v1/audit", ADMIN, 0, http__h_audit_list },
	{ HTTP_GET, "/api/v1/webhooks", ADMIN, 0, http__h_webhooks_list },
	{ HTTP_POST, "/api/v1/webhooks", ADMIN, 0, http__h_webhooks_create },
	{ HTTP_GET, "/api/v1/webhooks/{id}", ADMIN, 0, http__h_webhook_get },
	{ HTTP_PATCH, "/api/v1/webhooks/{id}", ADMIN, 0, http__h_webhook_patch },
	{ HTTP_DELETE, "/api/v1/webhooks/{id}", ADMIN, 0, http__h_webhook_delete },
	{ HTTP_POST, "/api/v1/webhooks/{id}/test", ADMIN, 0, http__h_webhook_test },
	{ HTTP_GET, "/api/v1/webhooks/{id}/deliveries", ADMIN, 0, http__h_webhook_deliveries },
	{ HTTP_GET, "/api/v1/mqtt", ADMIN, 0, http__h_mqtt_get },
	{ HTTP_PATCH, "/api/v1/mqtt", ADMIN, 0, http__h_mqtt_patch },
	{ HTTP_GET, "/api/v1/stream", RECOG, 0, http__h_stream },
};

const size_t http__n_routes = MIEN_ARRAY_LEN(http__routes);

void http_routes_print(FILE *out)
{
	for (size_t i = 0; i < http__n_routes; i++)
		if (!(http__routes[i].flags & HTTP_ROUTE_HIDDEN))
			fprintf(out, "%s %s\n", http__method_name(http__routes[i].method), http__routes[i].pattern);
}
