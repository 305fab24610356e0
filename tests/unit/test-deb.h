/* What the two deb test files share: where the source tree is, and reading a text line by line. */
#pragma once

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "test.h"

/* The source tree: the test binary is BUILD/test-deb* inside it (build/ or build-asan/). */
static inline const char *source_dir(void) {
	static char dir[PATH_MAX];
	char *slash;

	if (dir[0])
		return dir;
	if (!realpath("/proc/self/exe", dir))
		test_fail(__FILE__, __LINE__, "realpath(/proc/self/exe): %m");
	for (int i = 0; i < 2; i++) {
		slash = strrchr(dir, '/');
		if (!slash)
			test_fail(__FILE__, __LINE__, "no source dir above the binary");
		*slash = 0;
	}
	return dir;
}

static inline char *read_source_file(const char *rel) {
	char *path = NULL, *data = NULL;
	size_t size;

	ASSERT_TRUE(asprintf(&path, "%s/%s", source_dir(), rel) >= 0);
	ASSERT_OK(read_full_file(path, &data, &size));
	free(path);
	return data;
}

/* The next line of *p (cut at its newline, which is dropped), or NULL at the end. */
static inline char *next_line(char **p) {
	char *line = *p, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl)
		*nl++ = 0;
	*p = nl;
	return line;
}
