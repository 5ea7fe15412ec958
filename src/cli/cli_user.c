/*
 * cli_user.c — `mien user add --role ROLE NAME`, `mien user passwd NAME`, `mien user list`.
 *
 * Passwords are read from stdin (one line; without echo when stdin is a terminal), never from the command
 * line, where every user of the machine could read them in the process list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "http/http.h"
#include "store/store.h"

#define PASSWORD_MIN 8

static const char USAGE[] = "usage: mien user add --role recognition|analyst|admin NAME   (password on stdin)\n"
                            "       mien user passwd NAME                                  (password on stdin)\n"
                            "       mien user list\n";

/* Reads one line from stdin into buf (the newline removed); 0 on success. */
static int read_password(char *buf, size_t size)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	char *got = fgets(buf, (int)size, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	if (!got)
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static int get_password(char hash[STORE_HASH_MAX])
{
	char password[1024];
	mien_error err = { 0 };
	if (read_password(password, sizeof(password)) != 0 || strlen(password) < PASSWORD_MIN) {
		cli_error("the password (read from stdin) needs at least %d characters", PASSWORD_MIN);
		return -1;
	}
	int rc = http_password_hash(password, hash, &err);
	memset(password, 0, sizeof(password));
	if (rc != MIEN_OK) {
		cli_error("%s", err.message);
		return -1;
	}
	return 0;
}

static int user_add(store *db, int argc, char **argv)
{
	const char *role = NULL, *name = NULL;
	for (int i = 2; i < argc; i++) {
		int m = cli_option(argc, argv, &i, "--role", &role);
		if (m < 0)
			return CLI_EXIT_USAGE;
		if (m == 0) {
			if (name || argv[i][0] == '-') {
				fputs(USAGE, stderr);
				return CLI_EXIT_USAGE;
			}
			name = argv[i];
		}
	}
	if (!role || !name || store_role_parse(role) == STORE_ROLE_NONE) {
		fputs(USAGE, stderr);
		return CLI_EXIT_USAGE;
	}
	store_user *u = calloc(1, sizeof(*u));
	int rc = CLI_EXIT_FAIL;
	mien_error err = { 0 };
	if (!u)
		return CLI_EXIT_FAIL;
	if (strlen(name) >= sizeof(u->username)) {
		cli_error("user name too long");
		goto done;
	}
	snprintf(u->username, sizeof(u->username), "%s", name);
	u->role = store_role_parse(role);
	u->all_cameras = 1;
	if (get_password(u->password_hash) != 0)
		goto done;
	if (store_user_create(db, u, &err) != MIEN_OK) {
		cli_error("%s", err.code == MIEN_ECONFLICT ? "that user name is taken" : err.message);
		goto done;
	}
	printf("created user %s (id %lld, role %s)\n", u->username, (long long)u->id, store_role_name(u->role));
	rc = CLI_EXIT_OK;
done:
	free(u);
	return rc;
}

static int user_passwd(store *db, const char *name)
{
	store_user *u = calloc(1, sizeof(*u));
	int rc = CLI_EXIT_FAIL;
	mien_error err = { 0 };
	if (!u)
		return CLI_EXIT_FAIL;
	if (store_user_get_by_name(db, name, u, &err) != MIEN_OK) {
		cli_error("%s", err.code == MIEN_ENOENT ? "no such user" : err.message);
		goto done;
	}
	if (get_password(u->password_hash) != 0)
		goto done;
	if (store_user_update(db, u, STORE_USER_PASSWORD, &err) != MIEN_OK ||
	    store_token_delete_user(db, u->id, NULL, &err) != MIEN_OK) {
		cli_error("%s", err.message);
		goto done;
	}
	printf("password of %s changed; their sessions ended\n", u->username);
	rc = CLI_EXIT_OK;
done:
	free(u);
	return rc;
}

static int user_list(store *db)
{
	store_user *users = calloc(100, sizeof(*users));
	size_t count = 0;
	int64_t after = 0;
	mien_error err = { 0 };
	if (!users)
		return CLI_EXIT_FAIL;
	printf("%-6s %-24s %-12s %-8s %s\n", "id", "name", "role", "state", "cameras");
	do {
		if (store_user_list(db, after, users, 100, &count, &err) != MIEN_OK) {
			cli_error("%s", err.message);
			free(users);
			return CLI_EXIT_FAIL;
		}
		for (size_t i = 0; i < count; i++) {
			const store_user *u = &users[i];
			printf("%-6lld %-24s %-12s %-8s ", (long long)u->id, u->username, store_role_name(u->role),
			       u->disabled ? "disabled" : "active");
			if (u->all_cameras)
				printf("all");
			for (int c = 0; !u->all_cameras && c < u->n_cameras; c++)
				printf("%s%lld", c ? "," : "", (long long)u->cameras[c]);
			printf("\n");
			after = u->id;
		}
	} while (count == 100);
	free(users);
	return CLI_EXIT_OK;
}

int cli_user_main(int argc, char **argv, const mien_config *cfg)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *what = argv[1];
	if (strcmp(what, "add") != 0 && !(strcmp(what, "passwd") == 0 && argc == 3) &&
	    !(strcmp(what, "list") == 0 && argc == 2)) {
		fputs(USAGE, stderr);
		return CLI_EXIT_USAGE;
	}
	store *db = NULL;
	mien_error err = { 0 };
	if (store_open(cfg->db, 1, &db, &err) != MIEN_OK || store_migrate(db, NULL, &err) != MIEN_OK) {
		cli_error("database: %s", err.message);
		store_close(&db);
		return CLI_EXIT_FAIL;
	}
	int rc = strcmp(what, "add") == 0      ? user_add(db, argc, argv)
	         : strcmp(what, "passwd") == 0 ? user_passwd(db, argv[2])
	                                       : user_list(db);
	store_close(&db);
	return rc;
}
