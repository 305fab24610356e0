/* The command-line skeleton both programs share (util-linux and systemd
 * style): a verb table, getopt_long with opterr = 0, usage errors as one line
 * naming the problem plus a "Try" line, and one mapping to exit statuses.
 * It is the programs' front door, so unlike the rest of common/ it prints. */
#pragma once

#include <stddef.h>

#include "macro.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,  /* something failed; the message said what */
	EXIT_USAGE = 2, /* a usage error or unusable input */
};

struct cli_verb {
	const char *name;
	/* Parses argv (argv[0] is the verb): <0 a usage error (already said),
	 * 0 done (--help), >0 go on to run(). */
	int (*parse_argv)(int argc, char **argv);
	/* -errno (already logged) is exit 1; >= 0 is the exit status itself. */
	int (*run)(void);
};

/* The program's name in messages ("mlrig", "mlrig-firstboot"); also the log prefix. */
void cli_init(const char *program);
const char *cli_program(void);

/* Prints "PROGRAM[ VERB]: MESSAGE" and "Try 'PROGRAM[ VERB] --help'." to
 * stderr; returns -EINVAL for parse_argv() to return. */
int cli_usage_error(const char *verb, const char *fmt, ...) _printf_(2, 3);
/* The usage error for what getopt_long() returned as '?' (unknown option) or
 * ':' (missing argument); the optstring must start with ':' (or "+:"). */
int cli_option_error(const char *verb, int c, char **argv);
/* The positional arguments argv[optind..] number min..max: else a usage error
 * naming the first missing one (names[i], e.g. "IMAGE") or the first extra one. */
int cli_positional(const char *verb, int argc, char **argv, const char *const *names, int min, int max);

/* For run(): input that cannot be used (a bad profile, a file that is not
 * there). Logs the message and returns EXIT_USAGE. */
int cli_input_error(const char *fmt, ...) _printf_(1, 2);
int cli_input_error_errno(int r, const char *fmt, ...) _printf_(2, 3);

/* Runs the verb argv[0] from the table: parse, then run. Returns the exit status. */
int cli_dispatch(const struct cli_verb *const *verbs, size_t n, int argc, char **argv);
