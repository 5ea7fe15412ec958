/*
 * config.h — mien's configuration: defaults, then an optional config file, then environment variables.
 *
 * Keys are the environment variable names (MIEN_LISTEN, MIEN_DB, ...). A config file, named by
 * MIEN_CONFIG, holds `KEY=VALUE` lines (blank lines and `#` comments allowed; unknown keys are an error,
 * so typos are caught); the environment overrides the file. The struct is plain data: copy it freely.
 */
#ifndef MIEN_CORE_CONFIG_H
#define MIEN_CORE_CONFIG_H

#include "result.h"

#define MIEN_CONFIG_STR_MAX 1024

typedef struct mien_config {
	char listen[MIEN_CONFIG_STR_MAX];  /* MIEN_LISTEN, default "127.0.0.1:8080" */
	char db[MIEN_CONFIG_STR_MAX];      /* MIEN_DB, default: see mien_config_paths */
	char redis[MIEN_CONFIG_STR_MAX];   /* MIEN_REDIS, default "" (in-process) */
	char models[MIEN_CONFIG_STR_MAX];  /* MIEN_MODELS, default: see mien_config_paths */
	char media[MIEN_CONFIG_STR_MAX];   /* MIEN_MEDIA, default "var/media" */
	char role[16];                     /* MIEN_ROLE: "all" (default), "api" or "worker" */
	char mqtt[MIEN_CONFIG_STR_MAX];    /* MIEN_MQTT: mqtt://[user:pass@]host[:port] or mqtts://; "" = no MQTT */
	char mqtt_ca[MIEN_CONFIG_STR_MAX]; /* MIEN_MQTT_CA: CA file for mqtts://; "" = the system's CAs */
	char mqtt_prefix[128];             /* MIEN_MQTT_PREFIX: topic prefix, default "mien" */
	int threads;                       /* MIEN_THREADS: inference thread-pool size, 1..256; default = online CPUs */
	int log_level;                     /* MIEN_LOG_LEVEL: debug|info|warn|error|off, default info */
} mien_config;

/*
 * The defaults of MIEN_MODELS and MIEN_DB for a binary in `exe_dir` (the folder of /proc/self/exe), so that
 * they do not depend on the working directory:
 *   build tree  (EXE/../models exists):             models = EXE/../models, db = sqlite:EXE/../var/mien.db
 *   installed   (EXE/../share/mien/models exists, else /usr/share/mien/models):
 *                                                   models = that folder,   db = sqlite:/var/lib/mien/mien.db
 *   otherwise (or exe_dir NULL/empty):              models = "models",      db = "sqlite:var/mien.db" (cwd)
 * Found folders are written as absolute paths. Sets only cfg->models and cfg->db.
 */
void mien_config_paths(const char *exe_dir, mien_config *cfg);

/* Fills `cfg` with the defaults only (the paths from mien_config_paths for the running binary). */
void mien_config_defaults(mien_config *cfg);

/*
 * Fills `cfg` from defaults, the file named by MIEN_CONFIG (if set) and the environment. A malformed value
 * (threads "abc", unknown role or level, a string longer than the field, an unknown key in the file) gives
 * MIEN_EINVAL and names the key in `err`; `cfg` then holds the defaults.
 */
int mien_config_load(mien_config *cfg, mien_error *err);

/* A whole number from the environment variable `name` within [min, max]: `fallback` when unset or empty, and (with
 * a warning naming the variable) when malformed or out of range. For the settings that are environment variables
 * only (connection limits, webhook timings). */
long mien_env_number(const char *name, long min, long max, long fallback);

/* Sets one key from text, validating it as mien_config_load does. */
int mien_config_set(mien_config *cfg, const char *key, const char *value, mien_error *err);

#endif
