/*
 * test_config.c — defaults, the MIEN_CONFIG file, environment overrides and validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"

static const char *const all_keys[] = {
	"MIEN_CONFIG", "MIEN_LISTEN",  "MIEN_DB",        "MIEN_REDIS", "MIEN_MODELS",  "MIEN_MEDIA",
	"MIEN_ROLE",   "MIEN_THREADS", "MIEN_LOG_LEVEL", "MIEN_MQTT",  "MIEN_MQTT_CA", "MIEN_MQTT_PREFIX",
};

static char config_path[64];

static int clean_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(all_keys); i++)
		unsetenv(all_keys[i]);
	config_path[0] = '\0';
	return 0;
}

static int remove_file(void **state)
{
	if (config_path[0] != '\0')
		unlink(config_path);
	return clean_env(state);
}

/* Writes `text` to a fresh temporary file and points MIEN_CONFIG at it. */
static void write_config(const char *text)
{
	snprintf(config_path, sizeof(config_path), "/tmp/mien-test-config-XXXXXX");
	int fd = mkstemp(config_path);
	assert_true(fd >= 0);
	FILE *file = fdopen(fd, "w");
	assert_non_null(file);
	assert_int_equal(fputs(text, file) >= 0, 1);
	assert_int_equal(fclose(file), 0);
	assert_int_equal(setenv("MIEN_CONFIG", config_path, 1), 0);
}

static void assert_defaults(const mien_config *cfg)
{
	assert_string_equal(cfg->listen, "127.0.0.1:8080");
	assert_string_equal(cfg->db, "sqlite:var/mien.db");
	assert_string_equal(cfg->redis, "");
	assert_string_equal(cfg->models, "models");
	assert_string_equal(cfg->media, "var/media");
	assert_string_equal(cfg->role, "all");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(cfg->threads, cpus < 1 ? 1 : (cpus > 256 ? 256 : cpus));
	assert_int_equal(cfg->log_level, MIEN_LOG_INFO);
	assert_string_equal(cfg->mqtt, "");
	assert_string_equal(cfg->mqtt_ca, "");
	assert_string_equal(cfg->mqtt_prefix, "mien");
}

static void test_defaults(void **state)
{
	(void)state;
	mien_config cfg;
	mien_config_defaults(&cfg);
	assert_defaults(&cfg);

	mien_error err;
	mien_error_clear(&err);
	assert_int_equal(mien_config_load(&cfg, &err), MIEN_OK);
	assert_defaults(&cfg);
}

static void test_environment(void **state)
{
	(void)state;
	setenv("MIEN_LISTEN", "0.0.0.0:9000", 1);
	setenv("MIEN_DB", "postgresql://mien@db/mien", 1);
	setenv("MIEN_REDIS", "redis://cache:6379", 1);
	setenv("MIEN_ROLE", "worker", 1);
	setenv("MIEN_THREADS", "3", 1);
	setenv("MIEN_LOG_LEVEL", "DEBUG", 1);
	setenv("MIEN_MODELS", "", 1); /* empty counts as unset */
	setenv("MIEN_MQTT", "mqtts://ha:secret@broker:8883", 1);
	setenv("MIEN_MQTT_CA", "/etc/ssl/broker.pem", 1);
	setenv("MIEN_MQTT_PREFIX", "", 1); /* unset: the default stays */
	mien_config cfg;
	mien_error err;
	assert_int_equal(mien_config_load(&cfg, &err), MIEN_OK);
	assert_string_equal(cfg.listen, "0.0.0.0:9000");
	assert_string_equal(cfg.db, "postgresql://mien@db/mien");
	assert_string_equal(cfg.redis, "redis://cache:6379");
	assert_string_equal(cfg.role, "worker");
	assert_int_equal(cfg.threads, 3);
	assert_int_equal(cfg.log_level, MIEN_LOG_DEBUG);
	assert_string_equal(cfg.models, "models");
	assert_string_equal(cfg.media, "var/media");
	assert_string_equal(cfg.mqtt, "mqtts://ha:secret@broker:8883");
	assert_string_equal(cfg.mqtt_ca, "/etc/ssl/broker.pem");
	assert_string_equal(cfg.mqtt_prefix, "mien");
}

static void test_file_then_environment(void **state)
{
	(void)state;
	write_config("# mien settings\n"
	             "\n"
	             "MIEN_LISTEN=10.0.0.1:80\n"
	             "  MIEN_DB = sqlite:/data/m.db  \n"
	             "MIEN_MEDIA=\"/srv/media dir\"\n"
	             "MIEN_THREADS=4\n"
	             "MIEN_ROLE=api\n"
	             "MIEN_LOG_LEVEL=warn"); /* no final newline */
	setenv("MIEN_THREADS", "16", 1);
	mien_config cfg;
	mien_error err;
	mien_error_clear(&err);
	int rc = mien_config_load(&cfg, &err);
	if (rc != MIEN_OK)
		fail_msg("load failed: %s", err.message);
	assert_string_equal(cfg.listen, "10.0.0.1:80");
	assert_string_equal(cfg.db, "sqlite:/data/m.db");
	assert_string_equal(cfg.media, "/srv/media dir");
	assert_string_equal(cfg.role, "api");
	assert_int_equal(cfg.log_level, MIEN_LOG_WARN);
	assert_int_equal(cfg.threads, 16); /* the environment wins */
}

/* Loads `file` (or nothing when NULL) with one environment override, expecting EINVAL naming `needle`. */
static void expect_invalid(const char *file, const char *env_key, const char *env_value, const char *needle)
{
	clean_env(NULL);
	if (file != NULL)
		write_config(file);
	if (env_key != NULL)
		setenv(env_key, env_value, 1);
	mien_config cfg;
	mien_error err;
	mien_error_clear(&err);
	int rc = mien_config_load(&cfg, &err);
	if (config_path[0] != '\0')
		unlink(config_path);
	assert_int_equal(rc, MIEN_EINVAL);
	assert_int_equal(err.code, MIEN_EINVAL);
	if (strstr(err.message, needle) == NULL)
		fail_msg("error \"%s\" does not name \"%s\"", err.message, needle);
	assert_defaults(&cfg); /* a failed load leaves the defaults */
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_invalid(NULL, "MIEN_THREADS", "abc", "MIEN_THREADS");
	expect_invalid(NULL, "MIEN_THREADS", "0", "MIEN_THREADS");
	expect_invalid(NULL, "MIEN_THREADS", "257", "MIEN_THREADS");
	expect_invalid(NULL, "MIEN_THREADS", "4x", "MIEN_THREADS");
	expect_invalid(NULL, "MIEN_THREADS", " 4", "MIEN_THREADS");
	expect_invalid(NULL, "MIEN_THREADS", "99999999999999999999", "MIEN_THREADS");
	expect_invalid(NULL, "MIEN_ROLE", "boss", "MIEN_ROLE");
	expect_invalid(NULL, "MIEN_LOG_LEVEL", "loud", "MIEN_LOG_LEVEL");

	char longer[MIEN_CONFIG_STR_MAX + 1];
	memset(longer, 'd', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	expect_invalid(NULL, "MIEN_DB", longer, "MIEN_DB");
}

static void test_bad_files(void **state)
{
	(void)state;
	expect_invalid("MIEN_LISTEN=a:1\nMIEN_LISTN=b:2\n", NULL, NULL, "MIEN_LISTN");
	expect_invalid("MIEN_LISTEN=a:1\nMIEN_LISTN=b:2\n", NULL, NULL, ":2");
	expect_invalid("MIEN_LISTEN\n", NULL, NULL, "KEY=VALUE");
	expect_invalid("MIEN_THREADS=many\n", NULL, NULL, "MIEN_THREADS");
	expect_invalid("MIEN_DB=\n", NULL, NULL, "MIEN_DB");
	/* A good file with a bad environment value still fails. */
	expect_invalid("MIEN_THREADS=2\n", "MIEN_ROLE", "ALL", "MIEN_ROLE");
}

static void test_missing_file(void **state)
{
	(void)state;
	setenv("MIEN_CONFIG", "/nonexistent/mien.conf", 1);
	mien_config cfg;
	mien_error err;
	assert_int_equal(mien_config_load(&cfg, &err), MIEN_ENOENT);
	assert_non_null(strstr(err.message, "/nonexistent/mien.conf"));
	assert_defaults(&cfg);
}

static void test_set(void **state)
{
	(void)state;
	mien_config cfg;
	mien_config_defaults(&cfg);
	mien_error err;
	assert_int_equal(mien_config_set(&cfg, "MIEN_REDIS", "", &err), MIEN_OK);
	assert_int_equal(mien_config_set(&cfg, "MIEN_THREADS", "256", &err), MIEN_OK);
	assert_int_equal(cfg.threads, 256);
	assert_int_equal(mien_config_set(&cfg, "MIEN_THREADS", "1", &err), MIEN_OK);
	assert_int_equal(cfg.threads, 1);
	assert_int_equal(mien_config_set(&cfg, "MIEN_LOG_LEVEL", "off", &err), MIEN_OK);
	assert_int_equal(cfg.log_level, MIEN_LOG_OFF);

	/* The longest string that fits, and one byte more. */
	char text[MIEN_CONFIG_STR_MAX + 1];
	memset(text, 'm', MIEN_CONFIG_STR_MAX - 1);
	text[MIEN_CONFIG_STR_MAX - 1] = '\0';
	assert_int_equal(mien_config_set(&cfg, "MIEN_MODELS", text, &err), MIEN_OK);
	assert_string_equal(cfg.models, text);
	text[MIEN_CONFIG_STR_MAX - 1] = 'm';
	text[MIEN_CONFIG_STR_MAX] = '\0';
	assert_int_equal(mien_config_set(&cfg, "MIEN_MODELS", text, &err), MIEN_EINVAL);
	assert_int_equal(strlen(cfg.models), MIEN_CONFIG_STR_MAX - 1); /* unchanged */

	assert_int_equal(mien_config_set(&cfg, "MIEN_ROLE", "worker", &err), MIEN_OK);
	assert_int_equal(mien_config_set(&cfg, "MIEN_ROLE", "workers", &err), MIEN_EINVAL);
	assert_string_equal(cfg.role, "worker");
	assert_int_equal(mien_config_set(&cfg, "MIEN_CONFIG", "x", &err), MIEN_EINVAL);
	assert_int_equal(mien_config_set(&cfg, "NOPE", "x", NULL), MIEN_EINVAL);
	assert_int_equal(mien_config_set(&cfg, NULL, "x", NULL), MIEN_EINVAL);
}

/* Makes `root`/`rel` (and its parents). */
static void make_dirs(const char *root, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	}
	mkdir(path, 0700);
}

static void remove_tree(const char *root)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* MIEN_MODELS and MIEN_DB defaults follow the binary's folder, not the working directory. */
static void test_install_paths(void **state)
{
	(void)state;
	char root[] = "/tmp/mien-test-paths-XXXXXX";
	assert_non_null(mkdtemp(root));
	char real[PATH_MAX], exe[600], want[PATH_MAX + 64];
	assert_non_null(realpath(root, real));
	mien_config cfg;

	/* A build tree: ROOT/build/mien beside ROOT/models. */
	make_dirs(root, "build");
	make_dirs(root, "models");
	snprintf(exe, sizeof(exe), "%s/build", root);
	mien_config_paths(exe, &cfg);
	snprintf(want, sizeof(want), "%s/models", real);
	assert_string_equal(cfg.models, want);
	snprintf(want, sizeof(want), "sqlite:%s/var/mien.db", real);
	assert_string_equal(cfg.db, want);

	/* Installed: ROOT/usr/local/bin/mien with ROOT/usr/local/share/mien/models. */
	make_dirs(root, "usr/local/bin");
	make_dirs(root, "usr/local/share/mien/models");
	snprintf(exe, sizeof(exe), "%s/usr/local/bin", root);
	mien_config_paths(exe, &cfg);
	snprintf(want, sizeof(want), "%s/usr/local/share/mien/models", real);
	assert_string_equal(cfg.models, want);
	assert_string_equal(cfg.db, "sqlite:/var/lib/mien/mien.db");

	/* Neither (and no /usr/share/mien/models on this machine): the old cwd-relative defaults. */
	make_dirs(root, "elsewhere/bin");
	snprintf(exe, sizeof(exe), "%s/elsewhere/bin", root);
	mien_config_paths(exe, &cfg);
	if (access("/usr/share/mien/models", F_OK) != 0) {
		assert_string_equal(cfg.models, "models");
		assert_string_equal(cfg.db, "sqlite:var/mien.db");
	}
	mien_config_paths(NULL, &cfg);
	assert_string_equal(cfg.models, "models");
	assert_string_equal(cfg.db, "sqlite:var/mien.db");
	remove_tree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, clean_env, remove_file),
		cmocka_unit_test_setup_teardown(test_environment, clean_env, remove_file),
		cmocka_unit_test_setup_teardown(test_file_then_environment, clean_env, remove_file),
		cmocka_unit_test_setup_teardown(test_bad_values, clean_env, remove_file),
		cmocka_unit_test_setup_teardown(test_bad_files, clean_env, remove_file),
		cmocka_unit_test_setup_teardown(test_missing_file, clean_env, remove_file),
		cmocka_unit_test_setup_teardown(test_set, clean_env, remove_file),
		cmocka_unit_test_setup_teardown(test_install_paths, clean_env, remove_file),
	};
	return cmocka_run_group_tests_name("core/config", tests, NULL, NULL);
}
