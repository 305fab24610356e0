/* Error messages that travel with -errno values, for the program to show. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"

int set_errorv(char **ret_error, int r, const char *fmt, va_list ap) {
	char *msg = NULL;
	int saved = errno;

	if (!ret_error)
		return r;
	errno = r < 0 ? -r : r; /* for %m */
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	errno = saved;
	free(*ret_error);
	*ret_error = msg;
	return r;
}

int set_error(char **ret_error, int r, const char *fmt, ...) {
	va_list ap;

	va_start(ap, fmt);
	r = set_errorv(ret_error, r, fmt, ap);
	va_end(ap);
	return r;
}

int prefix_error(char **error, int r, const char *fmt, ...) {
	char *prefix = NULL, *msg = NULL;
	va_list ap;

	if (!error || !*error)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0)
		prefix = NULL;
	va_end(ap);
	if (prefix && asprintf(&msg, "%s: %s", prefix, *error) >= 0) {
		free(*error);
		*error = msg;
	}
	free(prefix);
	return r;
}
