/*
 * main.c — the `mien` binary: loads the configuration, sets the log level, dispatches on the command word.
 *
 * Exit codes: 0 success, 1 the command failed (one line on stderr says why), 2 usage error or a command
 * that this build does not have yet.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/redact.h"

#ifndef MIEN_VERSION
#define MIEN_VERSION "0.1.0-dev"
#endif

typedef int (*command_fn)(int argc, char **argv, const mien_config *cfg);

typedef struct command {
	const char *name;
	command_fn run; /* NULL: not in this build yet */
	const char *summary;
} command;

static const command COMMANDS[] = {
	{ "serve", cli_serve_main, "HTTP API + dashboard + camera workers (MIEN_ROLE=all|api|worker)" },
	{ "analyze", cli_analyze_main,
	  "detect, recognise and read expressions in images (--json, --embeddings, --face-crop)" },
	{ "compare", cli_compare_main, "similarity of the faces in two images" },
	{ "enroll", cli_enroll_main, "enroll a person's face photos into the database (--name NAME IMG...)" },
	{ "identify", cli_identify_main, "analyze an image and match its faces against the enrolled people" },
	{ "cluster", cli_cluster_main, "group the faces of pictures by identity (--json, --threshold T)" },
	{ "eval", cli_eval_main,
	  "accuracy on a labelled folder (identity | cluster | negatives | expression | detect)" },
	{ "bench", cli_bench_main, "model latency: mien bench models [--runs N] [--threads 1,2] [--json]" },
	{ "user", cli_user_main, "manage users (add --role ROLE NAME, passwd, list)" },
	{ "migrate", cli_migrate_main, "create or upgrade the database schema (MIEN_DB)" },
	{ "reembed", cli_reembed_main, "embed the enrolled faces again after the embedder changed (MIEN_EMBEDDER)" },
	{ "model", cli_model_main, "inspect or run one model: mien model info|run MODEL ..." },
};

static void print_usage(FILE *out)
{
	fprintf(out, "usage: mien COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < MIEN_ARRAY_LEN(COMMANDS); i++)
		fprintf(out, "  %-10s %s%s\n", COMMANDS[i].name, COMMANDS[i].summary,
		        COMMANDS[i].run ? "" : " (not yet in this build)");
	/* The settings as this invocation resolves them (defaults found beside the binary, then MIEN_CONFIG and
	 * the environment), so that "which database, which models" is answered without reading the code. */
	mien_config cfg;
	mien_error err;
	if (mien_config_load(&cfg, &err) != MIEN_OK)
		mien_config_defaults(&cfg);
	char db_shown[MIEN_CONFIG_STR_MAX];
	mien_redact_url(cfg.db, db_shown, sizeof(db_shown));
	fprintf(out,
	        "\n  help       this text        --version  print the version\n"
	        "\nconfiguration: MIEN_DB, MIEN_MODELS, MIEN_THREADS, MIEN_LOG_LEVEL, MIEN_CONFIG (file); now:\n"
	        "  MIEN_DB=%s\n  MIEN_MODELS=%s\n",
	        db_shown, cfg.models);
}

static const command *find_command(const char *name)
{
	for (size_t i = 0; i < MIEN_ARRAY_LEN(COMMANDS); i++)
		if (strcmp(COMMANDS[i].name, name) == 0)
			return &COMMANDS[i];
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *word = argv[1];
	if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0) {
		/* `mien help model` shows the subcommand's own usage. */
		if (argc > 2 && strcmp(word, "help") == 0) {
			const command *c = find_command(argv[2]);
			if (c && c->run) {
				mien_config cfg;
				mien_config_defaults(&cfg);
				char *sub_argv[] = { argv[2], "--help", NULL };
				return c->run(2, sub_argv, &cfg);
			}
		}
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(word, "--version") == 0 || strcmp(word, "version") == 0) {
		printf("mien %s\n", MIEN_VERSION);
		return CLI_EXIT_OK;
	}

	const command *c = find_command(word);
	if (!c) {
		fprintf(stderr, "mien: unknown command '%s'\n", word);
		print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!c->run) {
		fprintf(stderr, "mien: '%s' is not available yet in this build\n", c->name);
		return CLI_EXIT_USAGE;
	}

	mien_config cfg;
	mien_error err;
	if (mien_config_load(&cfg, &err)) {
		fprintf(stderr, "mien: configuration: %s\n", err.message);
		return CLI_EXIT_FAIL;
	}
	mien_log_set_level(cfg.log_level);
	return c->run(argc - 1, argv + 1, &cfg);
}
