/*
 * store.h — everything mien keeps: users and their tokens, people with their face embeddings and thumbnails,
 * cameras, events with snapshots, alerts, settings, an audit log, and webhooks with their delivery logs.
 *
 * One interface, two backends chosen by the URL given to store_open: SQLite (`sqlite:PATH`, the embedded
 * default; store_sqlite.c) and PostgreSQL (`postgresql://...` or `postgres://...`, via libpq; store_pg.c).
 * Both reach the same schema through the numbered migrations of store_migrate, and every function below
 * behaves the same on both: the SQL of the record functions is written once (store.c) and each backend only
 * runs statements.
 *
 * Durability: a function that returns MIEN_OK has committed. SQLite runs in WAL mode with synchronous=FULL,
 * so an acknowledged write survives a crash or a power cut; PostgreSQL commits with its own settings
 * (synchronous_commit on by default). Every change that touches several rows is one transaction.
 *
 * Images (face thumbnails, event snapshots) live in the database beside the rows they belong to, so that
 * erasing a person or an event removes its pictures in the same transaction (the right to erasure). On
 * SQLite, secure_delete overwrites erased content and the write-ahead log is truncated after an erasure, so no
 * copy remains in the files.
 *
 * Threads: a store is safe to use from any number of threads. It holds a small pool of connections; each
 * call borrows one for its duration. When the PostgreSQL server goes away, calls fail with
 * MIEN_EUNAVAILABLE and the pool reconnects on later calls once it is back.
 *
 * Errors (beyond the MIEN_E* codes named per function): MIEN_EUNAVAILABLE when the database cannot be reached
 * or is busy past the timeout; MIEN_EIO when it cannot write (a read-only file, a full disk); MIEN_EBACKEND for
 * any other database failure; the message in `err` says which. Strings longer than their field are
 * MIEN_ERANGE, never truncated silently. Times are milliseconds since the Unix epoch.
 */
#ifndef MIEN_STORE_STORE_H
#define MIEN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

typedef struct store store;

/* The schema version store_migrate brings a database to. */
#define STORE_SCHEMA_VERSION 7

#define STORE_NAME_MAX         128 /* person, camera and user names, in bytes with the terminator */
#define STORE_USERNAME_MAX     64
#define STORE_NOTE_MAX         1024
#define STORE_URL_MAX          1024
#define STORE_HASH_MAX         160 /* an encoded password hash (argon2id: about 100 bytes) */
#define STORE_MODEL_MAX        64
#define STORE_EXPRESSIONS      7
#define STORE_USER_CAMERAS_MAX 512
#define STORE_TOKEN_HASH_BYTES 32
#define STORE_LIST_MAX         1000 /* the most rows one list call returns */
#define STORE_IMAGE_MAX        (16u << 20)
#define STORE_SETTING_MAX      8448 /* room for a notification rule's JSON (bus/rules.h) */

/* --- opening and schema ------------------------------------------------------------------------------ */

/*
 * Opens a store at `url` with up to `connections` pooled connections (1..64; 0 picks 4). Does not migrate.
 * For SQLite the file and its directory are created when missing. Caller frees with store_close.
 * MIEN_EINVAL for a URL of neither kind; MIEN_EUNAVAILABLE when PostgreSQL cannot be reached.
 */
int store_open(const char *url, int connections, store **out, mien_error *err);
void store_close(store **s);

/* "sqlite" or "postgresql". */
const char *store_backend(const store *s);

/*
 * Applies every migration above the database's version, each in its own transaction, and reports how many
 * ran in *applied (may be NULL). Safe to run from several processes at once (PostgreSQL serialises them with
 * an advisory lock; SQLite with its write lock). MIEN_ERANGE if the database is newer than this program.
 */
int store_migrate(store *s, int *applied, mien_error *err);
int store_schema_version(store *s, int *version, mien_error *err);

/* A cheap round trip to the database, for readiness checks. */
int store_ping(store *s, mien_error *err);

/* The database's own consistency check (SQLite integrity_check; PostgreSQL: every table readable and every
 * foreign key satisfied). MIEN_EBACKEND with the first problem in `err` when damaged. */
int store_check(store *s, mien_error *err);

/* --- users and tokens ---------------------------------------------------------------------------------- */

/* Wire values: stored as text ("recognition", "analyst", "admin"); the enum only grows. */
enum store_role {
	STORE_ROLE_NONE = 0,
	STORE_ROLE_RECOGNITION = 1,
	STORE_ROLE_ANALYST = 2,
	STORE_ROLE_ADMIN = 3,
};
const char *store_role_name(int role);
int store_role_parse(const char *name); /* STORE_ROLE_NONE when unknown */

typedef struct store_user {
	int64_t id;
	char username[STORE_USERNAME_MAX];
	char password_hash[STORE_HASH_MAX]; /* an encoded hash (argon2id); never a password */
	int role;                           /* enum store_role */
	int disabled;
	int all_cameras; /* 1: every camera; 0: only those in cameras[] */
	int n_cameras;
	int64_t cameras[STORE_USER_CAMERAS_MAX];
	int64_t created_at;
	int64_t updated_at;
} store_user;

/* Fields for store_user_update. */
enum {
	STORE_USER_ROLE = 1 << 0,
	STORE_USER_PASSWORD = 1 << 1,
	STORE_USER_DISABLED = 1 << 2,
	STORE_USER_CAMERAS = 1 << 3, /* all_cameras and the list */
};

/* Creates a user from `u` (id and times ignored; set in *u on success). MIEN_ECONFLICT if the name is taken;
 * MIEN_ENOENT if a listed camera does not exist. */
int store_user_create(store *s, store_user *u, mien_error *err);
int store_user_get(store *s, int64_t id, store_user *out, mien_error *err);                   /* MIEN_ENOENT */
int store_user_get_by_name(store *s, const char *username, store_user *out, mien_error *err); /* MIEN_ENOENT */
/* Changes the `fields` of user u->id to u's values. MIEN_ENOENT when there is no such user. */
int store_user_update(store *s, const store_user *u, unsigned fields, mien_error *err);
/* Deletes the user and their tokens; their audit entries stay, with the name. MIEN_ENOENT. */
int store_user_delete(store *s, int64_t id, mien_error *err);
/* Users ordered by id after `after_id` (0 = from the start), at most `max` (≤ STORE_LIST_MAX). */
int store_user_list(store *s, int64_t after_id, store_user *out, size_t max, size_t *count, mien_error *err);
int store_user_count(store *s, int64_t *count, mien_error *err);

/* Records a session token by its hash (the token itself is never stored). */
int store_token_put(store *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES], int64_t user_id, int64_t expires_at,
                    mien_error *err);
/* The user of an unexpired token at time `now`; MIEN_ENOENT when unknown or expired (*expires_at may be NULL). */
int store_token_lookup(store *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES], int64_t now, store_user *out,
                       int64_t *expires_at, mien_error *err);
int store_token_delete(store *s, const uint8_t hash[STORE_TOKEN_HASH_BYTES], mien_error *err);
/* Deletes every token of a user (password or role change, disabling); *deleted may be NULL. */
int store_token_delete_user(store *s, int64_t user_id, int64_t *deleted, mien_error *err);
int store_token_purge(store *s, int64_t now, int64_t *deleted, mien_error *err);

/* --- people and their faces ------------------------------------------------------------------------------ */

typedef struct store_person {
	int64_t id;
	char name[STORE_NAME_MAX];
	char note[STORE_NOTE_MAX];
	int watchlist;
	int64_t faces; /* how many faces are enrolled (filled by get and list) */
	int64_t created_at;
	int64_t updated_at;
} store_person;

enum {
	STORE_PERSON_NAME = 1 << 0,
	STORE_PERSON_NOTE = 1 << 1,
	STORE_PERSON_WATCHLIST = 1 << 2,
};

/* Creates a person (names are unique: MIEN_ECONFLICT). Sets p->id and the times. */
int store_person_create(store *s, store_person *p, mien_error *err);
int store_person_get(store *s, int64_t id, store_person *out, mien_error *err);
int store_person_get_by_name(store *s, const char *name, store_person *out, mien_error *err);
int store_person_update(store *s, const store_person *p, unsigned fields, mien_error *err);
/*
 * Erases a person: their faces with embeddings and thumbnails, every event that identified them with its
 * snapshot and thumbnail, and those events' alerts, in one transaction. MIEN_ENOENT when unknown.
 */
int store_person_delete(store *s, int64_t id, mien_error *err);
/* People ordered by id after `after_id`, whose name contains `search` (case-insensitive ASCII; NULL = all). */
int store_person_list(store *s, const char *search, int64_t after_id, store_person *out, size_t max, size_t *count,
                      mien_error *err);

typedef struct store_face {
	int64_t id;
	int64_t person_id;
	char model[STORE_MODEL_MAX];
	int dim;
	float quality;
	int64_t created_at;
} store_face;

/*
 * Enrolls one face of a person: its embedding (`dim` floats from `model`) and a JPEG thumbnail (may be NULL),
 * in one transaction. Sets *face_id. MIEN_ENOENT when the person does not exist.
 */
int store_face_add(store *s, int64_t person_id, const char *model, const float *embedding, int dim, float quality,
                   const uint8_t *thumbnail, size_t thumbnail_len, int64_t *face_id, mien_error *err);
/* Erases one face with its embedding and thumbnail; MIEN_ENOENT unless it belongs to person_id. */
int store_face_delete(store *s, int64_t person_id, int64_t face_id, mien_error *err);
int store_face_list(store *s, int64_t person_id, store_face *out, size_t max, size_t *count, mien_error *err);
/* The face's thumbnail; caller frees *jpeg with free(). MIEN_ENOENT when the face or its thumbnail is absent. */
int store_face_thumbnail(store *s, int64_t face_id, uint8_t **jpeg, size_t *len, mien_error *err);

/* Faces whose embedding is not of `model` (enrolled under another embedder), with ids above `after_id`, in id
 * order, at most `max`: what `mien reembed` works through. */
int store_face_list_other_model(store *s, const char *model, int64_t after_id, store_face *out, size_t max,
                                size_t *count, mien_error *err);
/* How many faces have an embedding of `model`, and how many of any other. */
int store_face_count_models(store *s, const char *model, int64_t *same, int64_t *other, mien_error *err);
/* Replaces a face's embedding (model, width, values) and quality in place: the enrolment, its person and thumbnail
 * stay. MIEN_ENOENT when the face is gone. */
int store_face_set_embedding(store *s, int64_t face_id, const char *model, const float *embedding, int dim,
                             float quality, mien_error *err);

/* Called once per stored embedding of a model; a non-zero return stops the walk and is returned. */
typedef int (*store_embedding_fn)(void *ctx, int64_t face_id, int64_t person_id, const float *embedding, int dim);
/* Walks every embedding of `model` (NULL = all models: faces only) in face id order, to fill the gallery. The
 * negatives of `model` come with them as faces of negative id and person (-negative id, -person id): see
 * gallery_identify. The range walk, the signature and store_face_ids count them the same way. */
int store_embeddings_each(store *s, const char *model, store_embedding_fn fn, void *ctx, mien_error *err);

/* Walks the embeddings of `model` whose face id lies in [from_id, to_id], in face id order (the gallery sync
 * loads the faces another process enrolled with it). */
int store_embeddings_range(store *s, const char *model, int64_t from_id, int64_t to_id, store_embedding_fn fn,
                           void *ctx, mien_error *err);

/* A cheap fingerprint of the stored faces of `model` (one aggregate over the faces_model index): how many,
 * the highest id and the sum of the ids. Any enrolment or erasure changes it (ids are never reused). */
typedef struct store_face_signature {
	int64_t count, max_id, id_sum;
} store_face_signature;
int store_face_signature_get(store *s, const char *model, store_face_signature *out, mien_error *err);

/* Every stored face id of `model`, ascending. Caller frees *ids with free() (NULL when *count is 0);
 * MIEN_ENOMEM, MIEN_ETOOBIG past GALLERY_MAX_FACES-sized lists (16 M). */
int store_face_ids(store *s, const char *model, int64_t **ids, size_t *count, mien_error *err);

/*
 * Event faces: the face each finished visit keeps (store_event_set_embedding), as the face search's index sees
 * them. Only events that have ended and hold an embedding of `model` count: the watch replaces a visit's face
 * with the mean of all its faces when the visit ends, so an event enters the index once, with its final face. Each
 * is a "face" whose face id and person id are both the event id (a gallery search then returns distinct events).
 * The four calls mirror the faces' four above (walk, range walk, signature, ids) and read one partial index,
 * events_face (embedding_model, id) WHERE ended_at IS NOT NULL (schema 7).
 */
int store_event_faces_each(store *s, const char *model, store_embedding_fn fn, void *ctx, mien_error *err);
int store_event_faces_range(store *s, const char *model, int64_t from_id, int64_t to_id, store_embedding_fn fn,
                            void *ctx, mien_error *err);
int store_event_face_signature(store *s, const char *model, store_face_signature *out, mien_error *err);
int store_event_face_ids(store *s, const char *model, int64_t **ids, size_t *count, mien_error *err);

/* What a gallery index holds; the values are only used in this process. */
enum store_gallery_source {
	STORE_GALLERY_FACES = 0,       /* enrolled faces and negatives (store_embeddings_each): identification */
	STORE_GALLERY_EVENT_FACES = 1, /* the faces events kept (store_event_faces_each): face search */
};

/* Creates a gallery index (store/gallery.h) for `model`'s embeddings of `dim` values in `format`
 * (GALLERY_FLOAT32, GALLERY_INT8, ...) and fills it with every stored row of `source` (enum
 * store_gallery_source) of that model. Caller frees with gallery_free. MIEN_EINVAL for an unknown source. */
struct gallery;
int store_gallery_load(store *s, int source, const char *model, int dim, int format, struct gallery **out,
                       mien_error *err);

/*
 * Gallery sync: a server keeps its in-memory index current with its own enrolments and erasures and with the bus
 * messages of other servers, but another process writing to the same database (`mien enroll`, a second server
 * without Redis, an operator's SQL) tells no one. A syncer polls for such changes: every interval it compares a
 * signature of the stored rows of the index's source and model (store_face_signature_get: one aggregate over the
 * faces_model index; store_event_face_signature for event faces) with the same signature of the index, and only
 * when they differ lists the stored ids,
 * loads and adds the missing faces and removes the extra ones, in place (searches go on meanwhile under the
 * index's own lock; the index is never swapped or freed under them). Rows the index refuses (an embedding of
 * another width, a zero vector) are remembered as the pair of signatures they leave, so that they do not cost a
 * listing on every poll.
 *
 * A pass reads the index's ids before the store's, so that a face this process enrolls during the pass (stored,
 * then indexed) is at worst added twice (harmless: gallery_add of a present face id replaces it with the same
 * vector) and never taken out; any other interleaving (a face erased between the listing and the add) leaves the
 * two signatures apart and the next pass puts it right.
 */
typedef struct store_gallery_sync_state {
	store_face_signature stored, indexed; /* after the last pass that left a difference */
	int settled;                          /* 1 once such a pair is recorded */
} store_gallery_sync_state;

/* One pass over `g` (borrowed; filled from `source`, its model names the stored rows): *added and *removed (either
 * may be NULL) say what changed. `state` starts zeroed and is kept between passes. MIEN_E* from the store or
 * MIEN_ENOMEM (the index is then unchanged or partly synced; a later pass finishes); MIEN_EINVAL for an unknown
 * source. */
int store_gallery_sync_once(store *s, int source, struct gallery *g, store_gallery_sync_state *state, size_t *added,
                            size_t *removed, mien_error *err);

/* The poll interval from MIEN_GALLERY_SYNC_MS: 2000 by default, 0 = off; 1..99 become 100 and values past one
 * hour one hour; anything else is warned about and gives the default. */
int store_gallery_sync_interval(void);

typedef struct store_gallery_syncer store_gallery_syncer;

/* Told on the syncer's thread after a pass that changed the index (e.g. to let trackers match again). */
typedef void (*store_gallery_changed_fn)(void *ctx, size_t added, size_t removed);

/*
 * Starts a thread that runs store_gallery_sync_once on `g` (filled from `source`) every `interval_ms` (> 0), logging
 * one line under `who` per pass that changed something ("gallery: 1 face added by another process" at info level
 * for faces; event faces come and go all day, so theirs is a debug line) and calling
 * changed(ctx, ...) (may be NULL). `s`, `g` and `ctx` are borrowed and must outlive the syncer (stop it before
 * freeing them). Caller stops it with store_gallery_sync_stop. MIEN_EINVAL, MIEN_ENOMEM, MIEN_EBACKEND when no
 * thread can be started.
 */
int store_gallery_sync_start(store *s, int source, struct gallery *g, int interval_ms, const char *who,
                             store_gallery_changed_fn changed, void *ctx, store_gallery_syncer **out, mien_error *err);
/* Stops the thread (waiting for a pass under way) and frees it; sets *sy to NULL; NULL is a no-op. */
void store_gallery_sync_stop(store_gallery_syncer **sy);

/* --- cameras ---------------------------------------------------------------------------------------------- */

typedef struct store_camera {
	int64_t id;
	char name[STORE_NAME_MAX];
	char url[STORE_URL_MAX]; /* may carry credentials: never log it or send it out unredacted */
	int enabled;
	float analysis_fps;
	int alert_unknown;
	int64_t created_at;
	int64_t updated_at;
} store_camera;

enum {
	STORE_CAMERA_NAME = 1 << 0,
	STORE_CAMERA_URL = 1 << 1,
	STORE_CAMERA_ENABLED = 1 << 2,
	STORE_CAMERA_FPS = 1 << 3,
	STORE_CAMERA_ALERT_UNKNOWN = 1 << 4,
};

int store_camera_create(store *s, store_camera *c, mien_error *err); /* names unique: MIEN_ECONFLICT */
int store_camera_get(store *s, int64_t id, store_camera *out, mien_error *err);
int store_camera_update(store *s, const store_camera *c, unsigned fields, mien_error *err);
/* Deletes a camera with its events (and their snapshots and alerts); disable it instead to keep history. */
int store_camera_delete(store *s, int64_t id, mien_error *err);
int store_camera_list(store *s, int64_t after_id, store_camera *out, size_t max, size_t *count, mien_error *err);

/* --- events and alerts ------------------------------------------------------------------------------------ */

/* Expression classes in the order of store_event.expression (the same order as face.h). */
extern const char *const store_expression_names[STORE_EXPRESSIONS];

typedef struct store_event {
	int64_t id;
	int64_t camera_id;
	int64_t track_id;
	int64_t person_id;                /* 0: an unknown face */
	char person_name[STORE_NAME_MAX]; /* filled on reads */
	float similarity;
	int64_t started_at;
	int64_t ended_at; /* 0 while the visit goes on */
	char dominant_expression[16];
	float expression[STORE_EXPRESSIONS]; /* per-class means */
	float box[4];                        /* x, y, w, h in frame pixels: where the snapshot shows the face */
	int frame[2];                        /* the frame's width and height; 0 when unknown (before schema 4) */
	float quality;
	int alert;
	int64_t unknown_id; /* the unknown identity the visit was grouped into; 0 = none. Set by the store_unknown_*
	                       functions, not by store_event_create/update */
} store_event;

enum { STORE_IMAGE_SNAPSHOT = 0, STORE_IMAGE_THUMBNAIL = 1 };

/*
 * Stores a new event (e->id ignored; set on success) with its snapshot and thumbnail JPEGs (either may be NULL),
 * in one transaction. MIEN_ENOENT when the camera or a non-zero person does not exist.
 */
int store_event_create(store *s, store_event *e, const uint8_t *snapshot, size_t snapshot_len, const uint8_t *thumbnail,
                       size_t thumbnail_len, mien_error *err);
/* Rewrites event e->id from `e` (person, similarity, end, expression, box, frame, quality, alert); images are
 * replaced when given (non-NULL) and kept otherwise. MIEN_ENOENT. */
int store_event_update(store *s, const store_event *e, const uint8_t *snapshot, size_t snapshot_len,
                       const uint8_t *thumbnail, size_t thumbnail_len, mien_error *err);
int store_event_get(store *s, int64_t id, store_event *out, mien_error *err);
int store_event_delete(store *s, int64_t id, mien_error *err);
/* One of the event's images (STORE_IMAGE_*); caller frees *jpeg. MIEN_ENOENT when absent. */
int store_event_image(store *s, int64_t id, int which, uint8_t **jpeg, size_t *len, mien_error *err);

enum { STORE_PEOPLE_ANY = 0, STORE_PEOPLE_KNOWN = 1, STORE_PEOPLE_UNKNOWN = 2 };

typedef struct store_event_filter {
	const int64_t *cameras; /* only these cameras (the viewer's list); NULL = every camera */
	int n_cameras;
	int64_t camera_id;      /* 0 = any */
	int64_t person_id;      /* 0 = any */
	int people;             /* STORE_PEOPLE_* */
	const char *expression; /* dominant expression, NULL = any */
	int64_t from, to;       /* started_at in [from, to); 0 = open */
	int64_t before_id;      /* the cursor: only ids below it; 0 = newest first from the top */
	int64_t unknown_id;     /* 0 = any */
	const int64_t *ids;     /* only these events; NULL = any. With `cameras`, 512 ids and cameras in all at most
	                           (MIEN_ERANGE past that) */
	int n_ids;
} store_event_filter;

/* Events matching `f`, newest (highest id) first, at most `max`. */
int store_event_list(store *s, const store_event_filter *f, store_event *out, size_t max, size_t *count,
                     mien_error *err);
/* Deletes events that started before `before` with their images and alerts; *deleted may be NULL. */
int store_event_purge(store *s, int64_t before, int64_t *deleted, mien_error *err);

/*
 * What the database holds and how fast it grows, for the Settings page. The rate comes from the events that
 * started in the last 24 h before `now` (ms) when there are any, else from the last 7 days; window_ms says which
 * (0 when neither has an event, so there is no rate).
 */
typedef struct store_storage {
	int64_t database_bytes; /* on disk: SQLite's pages plus its write-ahead log; PostgreSQL's database size */
	int64_t free_bytes;     /* free where the database file lives; -1 when unknown (PostgreSQL) */
	int64_t events;         /* events stored */
	int64_t picture_bytes;  /* their snapshots and face crops */
	int64_t window_ms;      /* 86400000, 604800000 or 0 */
	int64_t window_events;  /* events started in the window */
	int64_t window_bytes;   /* their snapshots and face crops */
} store_storage;
int store_storage_get(store *s, int64_t now, store_storage *out, mien_error *err);

typedef struct store_alert {
	int64_t id;
	int64_t event_id;
	int64_t camera_id;
	int64_t person_id; /* 0 for an unknown face */
	char person_name[STORE_NAME_MAX];
	char kind[16]; /* "watchlist", "unknown" or "repeat_unknown" */
	int64_t created_at;
	int64_t acked_at; /* 0 until acknowledged */
	int64_t acked_by; /* user id */
	int64_t count;    /* visits it covers: 1, and one more for each visit during the cooldown */
	int64_t last_at;  /* when the last of them started */
	int64_t rule_id;  /* the alert rule that raised it; 0 = none (watchlist, or the camera's alert_unknown) */
} store_alert;

int store_alert_create(store *s, store_alert *a, mien_error *err); /* sets a->id, a->camera_id from the event */
/* A visit during the alert cooldown: counts one more visit on the newest alert of `kind` for the camera and person
 * of event `event_id` (person 0: unknown faces) whose last visit came at or after `since`, and sets its last_at to
 * `now`; *out is the alert after that. MIEN_ENOENT when there is none (raise a new alert then). */
int store_alert_repeat(store *s, int64_t event_id, const char *kind, int64_t since, int64_t now, store_alert *out,
                       mien_error *err);
int store_alert_get(store *s, int64_t id, store_alert *out, mien_error *err);
/* Acknowledges an alert; MIEN_ECONFLICT when it already was, MIEN_ENOENT when unknown. */
int store_alert_ack(store *s, int64_t id, int64_t user_id, int64_t now, mien_error *err);
/* Alerts newest first, limited to `cameras` (NULL = all), only unacknowledged ones when `open_only`. */
int store_alert_list(store *s, const int64_t *cameras, int n_cameras, int open_only, int64_t before_id,
                     store_alert *out, size_t max, size_t *count, mien_error *err);

/* --- unknown identities, event faces, negatives, corrections, alert rules ------------------------------------ */

/* The face an event keeps (the quality-weighted mean of its track's best faces' embeddings): for grouping unknown
 * visits and for face search. Replaces an earlier one. MIEN_ENOENT when the event is gone. */
int store_event_set_embedding(store *s, int64_t event_id, const char *model, const float *embedding, int dim,
                              mien_error *err);
/* The event's face embedding: *dim values into `embedding` (room for 4096), its model into model[STORE_MODEL_MAX].
 * MIEN_ENOENT when the event is gone or has none. */
int store_event_embedding(store *s, int64_t event_id, char *model, float *embedding, int *dim, mien_error *err);
/* Gives event `id` a new person (0 = unknown), similarity and unknown identity (0 = none): corrections and
 * naming an unknown identity. MIEN_ENOENT. */
int store_event_relabel(store *s, int64_t id, int64_t person_id, float similarity, int64_t unknown_id, mien_error *err);

typedef struct store_unknown {
	int64_t id;
	char model[STORE_MODEL_MAX];
	int dim;
	int members; /* faces summed (visits grouped into it and still in it) */
	int64_t visits;
	int64_t first_seen, last_seen;
	int dismissed;
	int64_t created_at, updated_at;
} store_unknown;

/* A new unknown identity whose first visit is event `event_id` (its face `embedding`, normalised here, seen at
 * `seen_at`); *out is the stored identity. MIEN_ENOENT when the event is gone. */
int store_unknown_create(store *s, int64_t event_id, const char *model, const float *embedding, int dim,
                         int64_t seen_at, store_unknown *out, mien_error *err);
/* Event `event_id` joins identity `id`: its face is added to the identity's sum (in one transaction that holds the
 * identity's row, so that two nodes adding at once lose nothing). MIEN_ENOENT, MIEN_EINVAL on a model mismatch. */
int store_unknown_join(store *s, int64_t id, int64_t event_id, const float *embedding, int dim, int64_t seen_at,
                       store_unknown *out, mien_error *err);
/* Takes event `event_id`'s face out of identity `id` (the event stays, with no identity); an identity left with
 * no member is deleted. MIEN_ENOENT when the event is not in the identity. */
int store_unknown_remove_event(store *s, int64_t id, int64_t event_id, mien_error *err);
/* Folds identity `from` into `into` (sums, counts, times; its events move); `from` is deleted. MIEN_ENOENT,
 * MIEN_EINVAL when they are the same or of different models. */
int store_unknown_merge(store *s, int64_t into, int64_t from, store_unknown *out, mien_error *err);
int store_unknown_dismiss(store *s, int64_t id, int dismissed, mien_error *err);
/* Erases the identity with its events (and their pictures and alerts). MIEN_ENOENT. */
int store_unknown_erase(store *s, int64_t id, mien_error *err);
/* Names the identity: its events get `person_id` (similarity 0: named by hand) and the identity is deleted. */
int store_unknown_assign(store *s, int64_t id, int64_t person_id, int64_t *events, mien_error *err);
int store_unknown_get(store *s, int64_t id, store_unknown *out, mien_error *err);
/* The sum of the identity's normalised faces (room for 4096 values) and its member count. */
int store_unknown_sum(store *s, int64_t id, float *sum, int *dim, int *members, mien_error *err);

typedef struct store_unknown_filter {
	const int64_t *cameras; /* only identities seen by these cameras; NULL = every camera */
	int n_cameras;
	int dismissed;                  /* 0: not dismissed, 1: dismissed only, -1: both */
	int64_t after_visits, after_id; /* the cursor: after (visits, id) in the order; after_id 0 = from the top */
} store_unknown_filter;
/* Identities, most visits first (then highest id), at most `max`. */
int store_unknown_list(store *s, const store_unknown_filter *f, store_unknown *out, size_t max, size_t *count,
                       mien_error *err);
/* Ids of the identity's events: `which` 0 = newest first, 1 = best face quality first (those with a face
 * picture); limited to `cameras` (NULL = all). */
int store_unknown_events(store *s, int64_t id, int which, const int64_t *cameras, int n_cameras, int64_t *out,
                         size_t max, size_t *count, mien_error *err);
/* The distinct cameras of the identity's events, ascending. */
int store_unknown_cameras(store *s, int64_t id, int64_t *out, size_t max, size_t *count, mien_error *err);
/* Visits of the identity that started at or after `since`. */
int store_unknown_visits_since(store *s, int64_t id, int64_t since, int64_t *visits, mien_error *err);

/* A cheap fingerprint of the identities of `model`: how many, the latest update time (max_id) and a sum over ids,
 * members and dismissals (id_sum). Any create, join, merge, dismissal or erasure changes it. */
int store_unknown_signature(store *s, const char *model, store_face_signature *out, mien_error *err);

typedef int (*store_unknown_fn)(void *ctx, const store_unknown *u, const float *sum);
/* Walks every identity of `model`, to fill a face_cluster_set. */
int store_unknowns_each(store *s, const char *model, store_unknown_fn fn, void *ctx, mien_error *err);

/* Negatives: faces that are NOT a person (left by "not P" corrections). A face more similar to one of P's
 * negatives than to P's own faces is not named P. */
int store_negative_add(store *s, int64_t person_id, int64_t event_id, const char *model, const float *embedding,
                       int dim, int64_t *negative_id, mien_error *err);
int store_negative_delete(store *s, int64_t negative_id, mien_error *err);
/* Walks every negative of `model` (negative id, person id, embedding). */
int store_negatives_each(store *s, const char *model, store_embedding_fn fn, void *ctx, mien_error *err);
/* How many negatives of `model`, the highest id and the sum of ids (like store_face_signature_get). */
int store_negative_signature(store *s, const char *model, store_face_signature *out, mien_error *err);

typedef struct store_correction {
	int64_t id;
	int64_t event_id; /* 0 once the event is gone */
	int64_t person_id;
	char verdict[4]; /* "is" or "not" */
	int64_t previous_person_id, previous_unknown_id;
	float previous_similarity;
	int64_t face_id;     /* "is": the face enrolled from the event (0 once removed) */
	int64_t negative_id; /* "not": the negative kept */
	int64_t user_id;
	char username[STORE_USERNAME_MAX];
	int64_t created_at;
	int64_t undone_at; /* 0 while it stands */
} store_correction;

int store_correction_create(store *s, store_correction *c, mien_error *err); /* sets id and created_at */
int store_correction_get(store *s, int64_t id, store_correction *out, mien_error *err);
/* Marks it undone at `now`; MIEN_ECONFLICT when it already was. */
int store_correction_undo(store *s, int64_t id, int64_t now, mien_error *err);
/* Corrections newest first; person_id 0 = everyone's. */
int store_correction_list(store *s, int64_t person_id, int64_t before_id, store_correction *out, size_t max,
                          size_t *count, mien_error *err);

enum { STORE_RULE_UNKNOWN = 0, STORE_RULE_REPEAT_UNKNOWN = 1 };

typedef struct store_alert_rule {
	int64_t id;
	char name[STORE_NAME_MAX];
	int64_t camera_id;    /* 0 = every camera */
	int kind;             /* STORE_RULE_* */
	int from_min, to_min; /* local time window in minutes after midnight; -1 = all day. May cross midnight */
	int min_visits, days; /* repeat_unknown: at least min_visits visits of the same identity in `days` days */
	int enabled;
	int64_t created_at, updated_at;
} store_alert_rule;

int store_alert_rule_create(store *s, store_alert_rule *r, mien_error *err);
int store_alert_rule_get(store *s, int64_t id, store_alert_rule *out, mien_error *err);
int store_alert_rule_update(store *s, const store_alert_rule *r, mien_error *err); /* every field */
int store_alert_rule_delete(store *s, int64_t id, mien_error *err);
int store_alert_rule_list(store *s, store_alert_rule *out, size_t max, size_t *count, mien_error *err);

/* --- settings and audit ------------------------------------------------------------------------------------- */

/* A setting's text value; MIEN_ENOENT when never set. */
int store_setting_get(store *s, const char *key, char *value, size_t cap, mien_error *err);
int store_setting_set(store *s, const char *key, const char *value, mien_error *err);

typedef struct store_audit {
	int64_t id;
	int64_t at;
	int64_t user_id; /* 0 when anonymous or the user is gone */
	char username[STORE_USERNAME_MAX];
	char action[32]; /* "login", "login_failed", "enroll", "erase", "update", ... */
	char target[128];
	char detail[256];
	char address[64];
} store_audit;

/* Appends to the audit log (a->id and a->at are set; a->at is taken as given when non-zero). */
int store_audit_add(store *s, store_audit *a, mien_error *err);
int store_audit_list(store *s, int64_t before_id, store_audit *out, size_t max, size_t *count, mien_error *err);

/* --- webhooks and their deliveries ------------------------------------------------------------------------ */

#define STORE_WEBHOOK_SECRET_MAX 257  /* 256 bytes and the terminator */
#define STORE_WEBHOOK_KINDS_MAX  64   /* "event,alert,camera" */
#define STORE_WEBHOOK_RULES_MAX  8448 /* a rule's JSON (bus/rules.h RULE_TEXT_MAX) and the terminator */
#define STORE_WEBHOOKS_MAX       100  /* webhooks one installation may have */

typedef struct store_webhook {
	int64_t id;
	char name[STORE_NAME_MAX];
	char url[STORE_URL_MAX];               /* may carry credentials: never log it or send it out unredacted */
	char secret[STORE_WEBHOOK_SECRET_MAX]; /* the signing key; "" = unsigned deliveries; never sent out */
	char kinds[STORE_WEBHOOK_KINDS_MAX];   /* what it is sent, comma-separated: "event,alert,camera" */
	char rules[STORE_WEBHOOK_RULES_MAX];   /* the filter as JSON text (bus/rules.h); "" = everything */
	int enabled;
	int expression; /* the payloads carry expression fields */
	int64_t created_at;
	int64_t updated_at;
} store_webhook;

enum {
	STORE_WEBHOOK_NAME = 1 << 0,
	STORE_WEBHOOK_URL = 1 << 1,
	STORE_WEBHOOK_SECRET = 1 << 2,
	STORE_WEBHOOK_KINDS = 1 << 3,
	STORE_WEBHOOK_RULES = 1 << 4,
	STORE_WEBHOOK_ENABLED = 1 << 5,
	STORE_WEBHOOK_EXPRESSION = 1 << 6,
};

/* Creates a webhook (w->id and the times set on success). MIEN_ETOOBIG past STORE_WEBHOOKS_MAX webhooks. The caller
 * has checked the URL and the kinds (bus/notify.h). */
int store_webhook_create(store *s, store_webhook *w, mien_error *err);
int store_webhook_get(store *s, int64_t id, store_webhook *out, mien_error *err); /* MIEN_ENOENT */
int store_webhook_update(store *s, const store_webhook *w, unsigned fields, mien_error *err);
/* Deletes a webhook with its delivery log. MIEN_ENOENT. */
int store_webhook_delete(store *s, int64_t id, mien_error *err);
/* Webhooks ordered by id after `after_id`, at most `max` (≤ STORE_WEBHOOKS_MAX). */
int store_webhook_list(store *s, int64_t after_id, store_webhook *out, size_t max, size_t *count, mien_error *err);

/* Delivery states, stored as text. */
#define STORE_DELIVERY_PENDING   "pending"   /* queued, first attempt not made yet */
#define STORE_DELIVERY_RETRYING  "retrying"  /* an attempt failed; another is due at next_at */
#define STORE_DELIVERY_DELIVERED "delivered" /* the receiver answered 2xx */
#define STORE_DELIVERY_FAILED    "failed"    /* no attempt left, or an answer not worth retrying */
#define STORE_DELIVERY_DROPPED   "dropped"   /* the delivery queue was full or the node stopped */

typedef struct store_delivery {
	int64_t id;
	int64_t webhook_id;
	char delivery[40]; /* the X-Mien-Delivery id, the same for every attempt */
	char kind[16];     /* "event", "alert", "camera" or "test" */
	char subject[64];  /* what it was about: "event 17", "alert 3", "camera 2" */
	char status[16];   /* STORE_DELIVERY_* */
	int attempts;
	int http_status; /* of the last attempt; 0 when no answer came */
	char error[256]; /* of the last attempt; "" when it succeeded */
	int64_t duration_ms;
	int64_t created_at;
	int64_t updated_at;
	int64_t next_at; /* when retrying: the next attempt; else 0 */
} store_delivery;

/* Logs a new delivery of d->webhook_id (d->id and the times set) and prunes the webhook's log to its newest `keep`
 * rows, in one transaction. MIEN_ENOENT when the webhook is gone. */
int store_delivery_add(store *s, store_delivery *d, int keep, mien_error *err);
/* Records an attempt: status, attempts, http_status, error, duration_ms and next_at of d->id. MIEN_ENOENT when the
 * row was pruned or its webhook deleted meanwhile. */
int store_delivery_update(store *s, const store_delivery *d, mien_error *err);
/* A webhook's deliveries, newest first, ids below `before_id` (0 = from the newest), at most `max`. */
int store_delivery_list(store *s, int64_t webhook_id, int64_t before_id, store_delivery *out, size_t max, size_t *count,
                        mien_error *err);

/* --- several nodes: camera leases and liveness --------------------------------------------------------------- */

/*
 * Claims or renews the lease on a camera for `node` until now + ttl_ms: *won = 1 when `node` holds it now (it was
 * free, expired, or already ours), 0 when another node's lease is still running. One atomic statement, so two
 * workers can never both win the same camera.
 */
int store_lease_claim(store *s, int64_t camera_id, const char *node, int64_t now, int64_t ttl_ms, int *won,
                      mien_error *err);
/* Gives up one lease of `node` (camera_id 0: all of them), so others may take the cameras at once. */
int store_lease_release(store *s, int64_t camera_id, const char *node, mien_error *err);
/* The node holding a live lease on the camera; MIEN_ENOENT when none. */
int store_lease_holder(store *s, int64_t camera_id, int64_t now, char *node, size_t cap, mien_error *err);
/* Records that `node` (with its role, "worker" or "api") is alive at `now`. */
int store_node_heartbeat(store *s, const char *node, const char *role, int64_t now, mien_error *err);
/* How many nodes of `role` were seen at or after `since`. */
int store_nodes_alive(store *s, const char *role, int64_t since, int64_t *count, mien_error *err);

#endif
