/* The one command-line skeleton: option errors, positional checks, verb dispatch, exit statuses. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static const char *program = "mlrig";

void cli_init(const char *name) {
	program = name;
	log_set_prefix(name);
	opterr = 0; /* getopt's own messages would be a second line, in its own words */
}

const char *cli_program(void) {
	return program;
}

static void usage_line(const char *verb, const char *fmt, va_list ap) {
	fprintf(stderr, "%s%s%s: ", program, verb ? " " : "", verb ? verb : "");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry '%s%s%s --help'.\n", program, verb ? " " : "", verb ? verb : "");
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
	va_list ap;

	va_start(ap, fmt);
	usage_line(verb, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cli_option_error(const char *verb, int c, char **argv) {
	/* getopt_long leaves the offending word at argv[optind - 1] */
	const char *word = optind > 0 ? argv[optind - 1] : "";
	bool is_long = strncmp(word, "--", 2) == 0;
	int n = (int)strcspn(word, "=");

	if (c == ':')
		return is_long ? cli_usage_error(verb, "option '%.*s' requires an argument", n, word)
			       : cli_usage_error(verb, "option '-%c' requires an argument", optopt);
	if (!is_long && optopt > ' ' && optopt < 0x7f)
		return cli_usage_error(verb, "invalid option '-%c'", optopt);
	if (is_long && strchr(word, '=') && optopt)
		return cli_usage_error(verb, "option '%.*s' takes no argument", n, word);
	return cli_usage_error(verb, "unrecognized option '%.*s'", n, word);
}

int cli_positional(const char *verb, int argc, char **argv, const char *const *names, int min, int max) {
	int have = argc - optind;

	if (have < min)
		return cli_usage_error(verb, "missing %s", names ? names[have] : "argument");
	if (max >= 0 && have > max)
		return cli_usage_error(verb, "unexpected argument '%s'", argv[optind + max]);
	return 0;
}

int cli_input_error(const char *fmt, ...) {
	va_list ap;

	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int cli_input_error_errno(int r, const char *fmt, ...) {
	va_list ap;
	int saved = errno;

	fprintf(stderr, "%s: ", program);
	errno = r < 0 ? -r : r; /* for %m */
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	errno = saved;
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int cli_dispatch(const struct cli_verb *const *verbs, size_t n, int argc, char **argv) {
	if (argc < 1) {
		cli_usage_error(NULL, "no command given");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++) {
		int r;

		if (strcmp(argv[0], verbs[i]->name) != 0)
			continue;
		optind = 0; /* getopt starts afresh on the verb's own arguments */
		r = verbs[i]->parse_argv(argc, argv);
		if (r <= 0)
			return r < 0 ? EXIT_USAGE : EXIT_OK;
		r = verbs[i]->run();
		return r < 0 ? EXIT_FAIL : r;
	}
	cli_usage_error(NULL, "unknown command '%s'", argv[0]);
	return EXIT_USAGE;
}
