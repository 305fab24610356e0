/* The builder's subcommands; each parses its own options and returns an exit code (0, 1, 2). */
#pragma once

int verb_check(int argc, char **argv);
int verb_image(int argc, char **argv);
int verb_inspect(int argc, char **argv);
int verb_boot(int argc, char **argv);
int verb_flash(int argc, char **argv);
int verb_fetch(int argc, char **argv);
int verb_iso(int argc, char **argv);

/* Exit codes shared by every verb. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

/* Prints "mlrig: MSG" and "Try 'mlrig --help'." to stderr; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
