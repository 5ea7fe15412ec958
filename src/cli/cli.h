/*
 * cli.h — the `mien` command line: one entry function per subcommand, and the small helpers they share.
 *
 * main.c loads the configuration, sets the log level and dispatches on argv[1]; each subcommand file
 * (cli_model.c, cli_bench.c, ...) parses its own options. Every entry function takes the arguments after
 * the command word (argv[0] is the command word itself, e.g. "model") and returns the process exit code:
 * CLI_EXIT_OK, CLI_EXIT_FAIL (the work failed: a one-line message went to stderr) or CLI_EXIT_USAGE (bad
 * command line).
 */
#ifndef MIEN_CLI_CLI_H
#define MIEN_CLI_CLI_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "nn/nn.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

/* `mien model info|run ...` (cli_model.c). */
int cli_model_main(int argc, char **argv, const mien_config *cfg);

/* `mien bench [models] ...` (cli_bench.c). */
int cli_bench_main(int argc, char **argv, const mien_config *cfg);

/* `mien analyze`, `identify`, `compare`, `enroll`, `cluster` (cli_face.c). */
int cli_analyze_main(int argc, char **argv, const mien_config *cfg);
int cli_cluster_main(int argc, char **argv, const mien_config *cfg);
int cli_identify_main(int argc, char **argv, const mien_config *cfg);
int cli_compare_main(int argc, char **argv, const mien_config *cfg);
int cli_enroll_main(int argc, char **argv, const mien_config *cfg);

/* `mien serve` (cli_serve.c) and `mien user add|passwd|list` (cli_user.c). */
int cli_serve_main(int argc, char **argv, const mien_config *cfg);
int cli_user_main(int argc, char **argv, const mien_config *cfg);

/* `mien bench pipeline IMG` (cli_pipeline.c). */
int cli_bench_pipeline(int argc, char **argv, const mien_config *cfg);

/* `mien eval identity|expression|detect DIR` (cli_eval.c). */
int cli_eval_main(int argc, char **argv, const mien_config *cfg);

/* `mien migrate` (cli_migrate.c). */
int cli_migrate_main(int argc, char **argv, const mien_config *cfg);

/* `mien reembed` (cli_reembed.c): the enrolled faces of other embedders embedded again from their thumbnails. */
typedef struct reembed_report {
	int64_t already; /* faces already of the analyzer's embedder */
	int64_t to_do;   /* faces of other embedders at the start */
	int64_t done;    /* embedded again */
	int64_t failed;  /* kept as they were (no face in the thumbnail, no thumbnail, or a database error) */
} reembed_report;
struct store;
struct face_analyzer;
/* One pass over the faces not of `a`'s embedder; progress (every 2 s) to the log when `progress`; stops between two
 * faces once *cancel is set (may be NULL). */
int reembed_all(struct store *db, struct face_analyzer *a, int progress, const atomic_int *cancel,
                reembed_report *report, mien_error *err);
int cli_reembed_main(int argc, char **argv, const mien_config *cfg);

/* --- shared helpers (cli_util.c) ----------------------------------------------------------------- */

/* Prints "mien: <message>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Matches argv[*i] against option `name` ("--out"), taking its value from "--out=V" or the next argument.
 * Returns 1 and sets *value (borrowed from argv) when it matched, advancing *i past a separate value;
 * 0 when argv[*i] is another option; -1 (after printing a usage message) when the value is missing.
 */
int cli_option(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses a whole decimal integer in [min, max]; 0 on success, -1 otherwise. */
int cli_parse_int(const char *text, long min, long max, long *out);

/* Creates `path` and any missing parents (mkdir -p). 0 on success, else a MIEN_E* code with `err` set. */
int cli_mkdir_p(const char *path, mien_error *err);

/* Copies `name` into buf with every character outside [A-Za-z0-9_.-] replaced by '_'. */
void cli_safe_file_name(const char *name, char *buf, size_t size);

/* Monotonic clock, milliseconds. */
double cli_now_ms(void);

#endif
