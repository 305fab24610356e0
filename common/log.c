/* Logging to stderr; the level decides what is shown, not what is returned. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static int max_level = LOG_LEVEL_INFO;
static const char *log_prefix;

void log_set_max_level(int level) {
	max_level = level;
}

int log_get_max_level(void) {
	return max_level;
}

void log_set_prefix(const char *prefix) {
	log_prefix = prefix;
}

int log_internal(int level, int error, const char *fmt, ...) {
	int e = error < 0 ? -error : error;

	if (level <= max_level) {
		va_list ap;
		int saved = errno;

		if (log_prefix)
			fprintf(stderr, "%s: ", log_prefix);
		if (level == LOG_LEVEL_WARNING)
			fputs("warning: ", stderr);
		errno = e; /* for %m */
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
		errno = saved;
	}
	return -e;
}
