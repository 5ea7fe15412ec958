/*
 * store_cameras.c — cameras, the leases that give each one to one node, and the nodes' heartbeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/store.h"
#include "store/store_int.h"

/* --- cameras ---------------------------------------------------------------------------------------------- */

#define CAMERA_COLUMNS "id, name, url, enabled, analysis_fps, alert_unknown, created_at, updated_at"

static void fill_camera(void *item, const store_row *row)
{
	store_camera *c = item;
	memset(c, 0, sizeof(*c));
	c->id = store__col_int(row, 0);
	store__copy_text(c->name, sizeof(c->name), store__col_text(row, 1));
	store__copy_text(c->url, sizeof(c->url), store__col_text(row, 2));
	c->enabled = (int)store__col_int(row, 3);
	c->analysis_fps = (float)store__col_real(row, 4);
	c->alert_unknown = (int)store__col_int(row, 5);
	c->created_at = store__col_int(row, 6);
	c->updated_at = store__col_int(row, 7);
}

static int check_camera(const store_camera *c, unsigned fields, mien_error *err)
{
	int rc = MIEN_OK;
	if (fields & STORE_CAMERA_NAME)
		rc = store__check_text(c->name, sizeof(c->name), "camera name", 1, err);
	if (rc == MIEN_OK && (fields & STORE_CAMERA_URL))
		rc = store__check_text(c->url, sizeof(c->url), "camera URL", 1, err);
	if (rc == MIEN_OK && (fields & STORE_CAMERA_FPS) && !(c->analysis_fps > 0 && c->analysis_fps <= 60))
		rc = mien_error_set(err, MIEN_ERANGE, "camera analysis rate must be in (0, 60] frames per second");
	return rc;
}

int store_camera_create(store *s, store_camera *c, mien_error *err)
{
	int rc = check_camera(c, STORE_CAMERA_NAME | STORE_CAMERA_URL | STORE_CAMERA_FPS, err);
	if (rc)
		return rc;
	int64_t now = mien_wall_ms();
	store_value v[] = { SV_TEXT(c->name),          SV_TEXT(c->url), SV_BOOL(c->enabled), SV_REAL(c->analysis_fps),
		            SV_BOOL(c->alert_unknown), SV_INT(now),     SV_INT(now) };
	rc = RUN(s,
	         "INSERT INTO cameras (name, url, enabled, analysis_fps, alert_unknown, created_at, updated_at)"
	         " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
	         v, store__int_row, &c->id);
	if (rc)
		return mien_error_prefix(err, "camera %s", c->name);
	c->created_at = c->updated_at = now;
	return MIEN_OK;
}

int store_camera_get(store *s, int64_t id, store_camera *out, mien_error *err)
{
	store__list l = { out, sizeof(*out), 1, 0, fill_camera };
	store_value p[] = { SV_INT(id) };
	int rc = RUN(s, "SELECT " CAMERA_COLUMNS " FROM cameras WHERE id = $1", p, store__list_row, &l);
	return store__found_or(rc, (int64_t)l.count, "camera", id, err);
}

int store_camera_update(store *s, const store_camera *c, unsigned fields, mien_error *err)
{
	int rc = check_camera(c, fields, err);
	if (rc)
		return rc;
	int64_t found = 0;
	store_value v[] = { SV_INT(c->id),
		            SV_INT(mien_wall_ms()),
		            SV_BOOL(fields & STORE_CAMERA_NAME),
		            SV_TEXT(c->name),
		            SV_BOOL(fields & STORE_CAMERA_URL),
		            SV_TEXT(c->url),
		            SV_BOOL(fields & STORE_CAMERA_ENABLED),
		            SV_BOOL(c->enabled),
		            SV_BOOL(fields & STORE_CAMERA_FPS),
		            SV_REAL(c->analysis_fps),
		            SV_BOOL(fields & STORE_CAMERA_ALERT_UNKNOWN),
		            SV_BOOL(c->alert_unknown) };
	rc = RUN(s,
	         "UPDATE cameras SET updated_at = $2,"
	         " name = CASE WHEN $3 THEN $4 ELSE name END,"
	         " url = CASE WHEN $5 THEN $6 ELSE url END,"
	         " enabled = CASE WHEN $7 THEN $8 ELSE enabled END,"
	         " analysis_fps = CASE WHEN $9 THEN $10 ELSE analysis_fps END,"
	         " alert_unknown = CASE WHEN $11 THEN $12 ELSE alert_unknown END"
	         " WHERE id = $1 RETURNING id",
	         v, store__count_row, &found);
	return store__found_or(rc, found, "camera", c->id, err);
}

int store_camera_delete(store *s, int64_t id, mien_error *err)
{
	return store__erase_id(s, "DELETE FROM cameras WHERE id = $1 RETURNING id", id, "camera", err);
}

int store_camera_list(store *s, int64_t after_id, store_camera *out, size_t max, size_t *count, mien_error *err)
{
	*count = 0;
	int rc = store__check_max(max, err);
	if (rc)
		return rc;
	store__list l = { out, sizeof(*out), max, 0, fill_camera };
	store_value p[] = { SV_INT(after_id), SV_INT((int64_t)max) };
	rc = RUN(s, "SELECT " CAMERA_COLUMNS " FROM cameras WHERE id > $1 ORDER BY id LIMIT $2", p, store__list_row,
	         &l);
	*count = rc ? 0 : l.count;
	return rc;
}

/* --- camera leases and nodes ------------------------------------------------------------------------------ */

int store_lease_claim(store *s, int64_t camera_id, const char *node, int64_t now, int64_t ttl_ms, int *won,
                      mien_error *err)
{
	*won = 0;
	int rc = store__check_text(node, 128, "node id", 1, err);
	if (rc)
		return rc;
	/* One statement: take a free or expired lease, or renew our own; someone else's live lease is left alone. */
	int64_t got = 0;
	store_value p[] = { SV_INT(camera_id), SV_TEXT(node), SV_INT(now + ttl_ms), SV_INT(now) };
	rc = RUN(s,
	         "INSERT INTO camera_leases (camera_id, node, expires_at) VALUES ($1, $2, $3)"
	         " ON CONFLICT (camera_id) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at"
	         " WHERE camera_leases.node = excluded.node OR camera_leases.expires_at < $4 RETURNING camera_id",
	         p, store__count_row, &got);
	*won = rc == MIEN_OK && got > 0;
	return rc;
}

int store_lease_release(store *s, int64_t camera_id, const char *node, mien_error *err)
{
	store_value p[] = { SV_INT(camera_id), SV_TEXT(node) };
	if (camera_id)
		return RUN(s, "DELETE FROM camera_leases WHERE camera_id = $1 AND node = $2", p, NULL, NULL);
	return store__run(s, "DELETE FROM camera_leases WHERE node = $1", &p[1], 1, NULL, NULL, err);
}

int store_lease_holder(store *s, int64_t camera_id, int64_t now, char *node, size_t cap, mien_error *err)
{
	store__text t = { node, cap, 0, err };
	store_value p[] = { SV_INT(camera_id), SV_INT(now) };
	int rc = RUN(s, "SELECT node FROM camera_leases WHERE camera_id = $1 AND expires_at >= $2", p, store__text_row,
	             &t);
	if (rc == MIEN_OK && !t.found)
		return mien_error_set(err, MIEN_ENOENT, "camera %lld runs nowhere", (long long)camera_id);
	return rc;
}

int store_node_heartbeat(store *s, const char *node, const char *role, int64_t now, mien_error *err)
{
	int rc = store__check_text(node, 128, "node id", 1, err);
	if (rc)
		return rc;
	store_value p[] = { SV_TEXT(node), SV_TEXT(role), SV_INT(now) };
	return RUN(s,
	           "INSERT INTO nodes (node, role, seen_at) VALUES ($1, $2, $3)"
	           " ON CONFLICT (node) DO UPDATE SET role = excluded.role, seen_at = excluded.seen_at",
	           p, NULL, NULL);
}

int store_nodes_alive(store *s, const char *role, int64_t since, int64_t *count, mien_error *err)
{
	*count = 0;
	store_value p[] = { SV_TEXT(role), SV_INT(since) };
	return RUN(s, "SELECT count(*) FROM nodes WHERE role = $1 AND seen_at >= $2", p, store__int_row, count);
}
