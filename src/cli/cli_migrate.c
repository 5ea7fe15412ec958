/*
 * cli_migrate.c — `mien migrate`: brings the database named by MIEN_DB to this build's schema.
 *
 * `mien serve` migrates at start too; this command is for operators who upgrade the schema on its own (before
 * rolling out new nodes) or want to see where a database stands.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char MIGRATE_USAGE[] = "usage: mien migrate [--status]\n"
                                    "  Applies the schema migrations the database (MIEN_DB) lacks; --status only\n"
                                    "  prints its version and this build's.\n";

int cli_migrate_main(int argc, char **argv, const mien_config *cfg)
{
	int status_only = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--status") == 0) {
			status_only = 1;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(MIGRATE_USAGE, stdout);
			return CLI_EXIT_OK;
		} else {
			fputs(MIGRATE_USAGE, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	store *s = NULL;
	mien_error err = { 0 };
	int version = 0, applied = 0;
	int rc = store_open(cfg->db, 1, &s, &err);
	if (rc == MIEN_OK && !status_only)
		rc = store_migrate(s, &applied, &err);
	if (rc == MIEN_OK)
		rc = store_schema_version(s, &version, &err);
	const char *backend = s ? store_backend(s) : "";
	store_close(&s);
	if (rc) {
		cli_error("%s", err.message);
		return CLI_EXIT_FAIL;
	}
	printf("{\"backend\":\"%s\",\"schema_version\":%d,\"latest\":%d,\"applied\":%d}\n", backend, version,
	       STORE_SCHEMA_VERSION, applied);
	return CLI_EXIT_OK;
}
