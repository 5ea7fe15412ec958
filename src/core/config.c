/*
 * config.c — defaults, then the KEY=VALUE file named by MIEN_CONFIG, then the environment.
 */
#include "core/config.h"

#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config file is a handful of lines; anything bigger is a mistake (a wrong path), not a config. */
#define CONFIG_FILE_MAX (64 * 1024)
#define CONFIG_LINE_MAX (MIEN_CONFIG_STR_MAX + 128)
#define THREADS_MIN     1
#define THREADS_MAX     256

enum key_kind { KEY_STRING, KEY_NONEMPTY, KEY_ROLE, KEY_THREADS, KEY_LOG_LEVEL };

struct key_spec {
	const char *name;
	enum key_kind kind;
	size_t offset;
	size_t size;
};

#define STR_KEY(name, kind, field)                                                          \
	{                                                                                   \
		name, kind, offsetof(mien_config, field), sizeof(((mien_config *)0)->field) \
	}

static const struct key_spec keys[] = {
	STR_KEY("MIEN_LISTEN", KEY_NONEMPTY, listen),
	STR_KEY("MIEN_DB", KEY_NONEMPTY, db),
	STR_KEY("MIEN_REDIS", KEY_STRING, redis),
	STR_KEY("MIEN_MODELS", KEY_NONEMPTY, models),
	STR_KEY("MIEN_MEDIA", KEY_NONEMPTY, media),
	STR_KEY("MIEN_ROLE", KEY_ROLE, role),
	STR_KEY("MIEN_MQTT", KEY_STRING, mqtt),
	STR_KEY("MIEN_MQTT_CA", KEY_STRING, mqtt_ca),
	STR_KEY("MIEN_MQTT_PREFIX", KEY_NONEMPTY, mqtt_prefix),
	{ "MIEN_THREADS", KEY_THREADS, offsetof(mien_config, threads), sizeof(int) },
	{ "MIEN_LOG_LEVEL", KEY_LOG_LEVEL, offsetof(mien_config, log_level), sizeof(int) },
};

static int default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < THREADS_MIN)
		return THREADS_MIN;
	if (n > THREADS_MAX)
		return THREADS_MAX;
	return (int)n;
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dst = prefix + path + suffix when it fits in cap; 0 (dst unchanged) when it does not. */
static int join_path(char *dst, size_t cap, const char *prefix, const char *path, const char *suffix)
{
	size_t a = strlen(prefix), b = strlen(path), c = strlen(suffix);
	if (a + b + c >= cap)
		return 0;
	memcpy(dst, prefix, a);
	memcpy(dst + a, path, b);
	memcpy(dst + a + b, suffix, c + 1);
	return 1;
}

void mien_config_paths(const char *exe_dir, mien_config *cfg)
{
	snprintf(cfg->models, sizeof(cfg->models), "%s", "models");
	snprintf(cfg->db, sizeof(cfg->db), "%s", "sqlite:var/mien.db");
	if (!exe_dir || !*exe_dir || strlen(exe_dir) > PATH_MAX - 64)
		return;
	char path[PATH_MAX], real[PATH_MAX];
	/* A build tree: build/mien beside the repository's models/ and var/ (what `make run` uses). */
	snprintf(path, sizeof(path), "%s/../models", exe_dir);
	if (is_dir(path) && realpath(path, real) && join_path(cfg->models, sizeof(cfg->models), "", real, "")) {
		snprintf(path, sizeof(path), "%s/..", exe_dir);
		if (realpath(path, real))
			join_path(cfg->db, sizeof(cfg->db), "sqlite:", real, "/var/mien.db");
		return;
	}
	/* Installed: PREFIX/bin/mien with PREFIX/share/mien/models, or the image's and the unit's
	 * /usr/local/bin/mien with /usr/share/mien/models; the data lives in /var/lib/mien (the image's volume,
	 * the unit's StateDirectory). */
	snprintf(path, sizeof(path), "%s/../share/mien/models", exe_dir);
	const char *installed = is_dir(path)                       ? path
	                        : is_dir("/usr/share/mien/models") ? "/usr/share/mien/models"
	                                                           : NULL;
	if (installed && realpath(installed, real) && join_path(cfg->models, sizeof(cfg->models), "", real, ""))
		snprintf(cfg->db, sizeof(cfg->db), "%s", "sqlite:/var/lib/mien/mien.db");
}

/* The folder of the running binary (/proc/self/exe), or "" when it cannot be read. */
static void exe_dir(char *out, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	out[0] = '\0';
	if (n <= 0)
		return;
	path[n] = '\0';
	char *slash = strrchr(path, '/');
	if (!slash || (size_t)(slash - path) >= cap)
		return;
	*slash = '\0';
	snprintf(out, cap, "%s", path);
}

void mien_config_defaults(mien_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen, sizeof(cfg->listen), "%s", "127.0.0.1:8080");
	char dir[PATH_MAX];
	exe_dir(dir, sizeof(dir));
	mien_config_paths(dir, cfg);
	cfg->redis[0] = '\0';
	snprintf(cfg->media, sizeof(cfg->media), "%s", "var/media");
	snprintf(cfg->role, sizeof(cfg->role), "%s", "all");
	snprintf(cfg->mqtt_prefix, sizeof(cfg->mqtt_prefix), "%s", "mien");
	cfg->threads = default_threads();
	cfg->log_level = MIEN_LOG_INFO;
}

static const struct key_spec *find_key(const char *name)
{
	for (size_t i = 0; i < MIEN_ARRAY_LEN(keys); i++) {
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

static int parse_threads(const char *value, int *out)
{
	if (value[0] == '\0' || isspace((unsigned char)value[0]))
		return MIEN_EINVAL;
	errno = 0;
	char *end = NULL;
	long n = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || n < THREADS_MIN || n > THREADS_MAX)
		return MIEN_EINVAL;
	*out = (int)n;
	return MIEN_OK;
}

int mien_config_set(mien_config *cfg, const char *key, const char *value, mien_error *err)
{
	if (cfg == NULL || key == NULL || value == NULL)
		return mien_error_set(err, MIEN_EINVAL, "config: missing key or value");
	const struct key_spec *spec = find_key(key);
	if (spec == NULL)
		return mien_error_set(err, MIEN_EINVAL, "config: unknown key %s", key);

	char *field = (char *)cfg + spec->offset;
	switch (spec->kind) {
	case KEY_STRING:
	case KEY_NONEMPTY:
	case KEY_ROLE: {
		size_t len = strlen(value);
		if (len >= spec->size)
			return mien_error_set(err, MIEN_EINVAL, "config: %s is %zu bytes long; the limit is %zu", key,
			                      len, spec->size - 1);
		if (spec->kind == KEY_NONEMPTY && len == 0)
			return mien_error_set(err, MIEN_EINVAL, "config: %s must not be empty", key);
		if (spec->kind == KEY_ROLE && strcmp(value, "all") != 0 && strcmp(value, "api") != 0 &&
		    strcmp(value, "worker") != 0)
			return mien_error_set(err, MIEN_EINVAL, "config: %s must be all, api or worker, not \"%s\"",
			                      key, value);
		memcpy(field, value, len + 1);
		return MIEN_OK;
	}
	case KEY_THREADS: {
		int threads = 0;
		if (parse_threads(value, &threads) != MIEN_OK)
			return mien_error_set(err, MIEN_EINVAL,
			                      "config: %s must be a whole number from %d to %d, not \"%.64s\"", key,
			                      THREADS_MIN, THREADS_MAX, value);
		cfg->threads = threads;
		return MIEN_OK;
	}
	case KEY_LOG_LEVEL: {
		int level = 0;
		if (mien_log_level_parse(value, &level) != MIEN_OK)
			return mien_error_set(err, MIEN_EINVAL,
			                      "config: %s must be debug, info, warn, error or off, not \"%.64s\"", key,
			                      value);
		cfg->log_level = level;
		return MIEN_OK;
	}
	}
	return mien_error_set(err, MIEN_EINVAL, "config: unknown key %s", key);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

/* Applies one `KEY=VALUE` line (already trimmed, not blank, not a comment). */
static int apply_line(mien_config *cfg, char *line, const char *path, int lineno, mien_error *err)
{
	char *eq = strchr(line, '=');
	if (eq == NULL)
		return mien_error_set(err, MIEN_EINVAL, "config %s:%d: expected KEY=VALUE", path, lineno);
	*eq = '\0';
	char *key = trim(line);
	char *value = trim(eq + 1);
	/* One pair of matching quotes around the value is dropped, as in shell env files. */
	size_t len = strlen(value);
	if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
		value[len - 1] = '\0';
		value++;
	}
	int rc = mien_config_set(cfg, key, value, err);
	if (rc != MIEN_OK)
		mien_error_prefix(err, "config %s:%d", path, lineno);
	return rc;
}

static int load_file(mien_config *cfg, const char *path, mien_error *err)
{
	FILE *file = fopen(path, "r");
	if (file == NULL)
		return mien_error_set(err, errno == ENOENT ? MIEN_ENOENT : MIEN_EIO, "config %s (MIEN_CONFIG): %s",
		                      path, strerror(errno));

	int rc = MIEN_OK;
	char line[CONFIG_LINE_MAX];
	int lineno = 0;
	size_t total = 0;
	while (fgets(line, sizeof(line), file) != NULL) {
		lineno++;
		size_t len = strlen(line);
		total += len;
		if (total > CONFIG_FILE_MAX) {
			rc = mien_error_set(err, MIEN_ETOOBIG, "config %s: longer than %d bytes", path,
			                    CONFIG_FILE_MAX);
			goto done;
		}
		if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(file)) {
			rc = mien_error_set(err, MIEN_EINVAL, "config %s:%d: line longer than %d bytes", path, lineno,
			                    CONFIG_LINE_MAX - 2);
			goto done;
		}
		char *text = trim(line);
		if (text[0] == '\0' || text[0] == '#')
			continue;
		rc = apply_line(cfg, text, path, lineno, err);
		if (rc != MIEN_OK)
			goto done;
	}
	if (ferror(file))
		rc = mien_error_set(err, MIEN_EIO, "config %s: read failed", path);
done:
	fclose(file);
	return rc;
}

int mien_config_load(mien_config *cfg, mien_error *err)
{
	if (cfg == NULL)
		return mien_error_set(err, MIEN_EINVAL, "config: no config to fill");
	mien_config_defaults(cfg);

	int rc = MIEN_OK;
	const char *path = getenv("MIEN_CONFIG");
	if (path != NULL && path[0] != '\0') {
		rc = load_file(cfg, path, err);
		if (rc != MIEN_OK)
			goto fail;
	}
	for (size_t i = 0; i < MIEN_ARRAY_LEN(keys); i++) {
		const char *value = getenv(keys[i].name);
		/* A variable set to "" counts as unset, so `MIEN_X=${MIEN_X:-}` in compose files is harmless. */
		if (value == NULL || value[0] == '\0')
			continue;
		rc = mien_config_set(cfg, keys[i].name, value, err);
		if (rc != MIEN_OK) {
			mien_error_prefix(err, "environment");
			goto fail;
		}
	}
	return MIEN_OK;
fail:
	mien_config_defaults(cfg);
	return rc;
}

long mien_env_number(const char *name, long min, long max, long fallback)
{
	const char *env = getenv(name);
	if (!env || !*env)
		return fallback;
	char *end;
	errno = 0;
	long v = strtol(env, &end, 10);
	if (errno || *end || v < min || v > max) {
		mien_log(MIEN_LOG_WARN, "config", "%s=%s is not a number from %ld to %ld: %ld is used", name, env, min,
		         max, fallback);
		return fallback;
	}
	return v;
}
