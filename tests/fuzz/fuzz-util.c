/* The scratch directory and helpers of fuzz.h. */
#include <ftw.h>
#include <sys/stat.h>

#include "fuzz.h"

static char dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void rm_dir(void) {
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_dir(void) {
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/mlrig-fuzz.XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
		if (!mkdtemp(dir))
			abort();
		atexit(rm_dir);
	}
	return dir;
}

void fuzz_write(const char *name, const void *data, size_t size, char *ret, size_t ret_size) {
	const char *p = data;
	int fd;

	snprintf(ret, ret_size, "%s/%s", fuzz_dir(), name);
	fd = open(ret, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	while (size > 0) {
		ssize_t n = write(fd, p, size);

		if (n <= 0)
			abort();
		p += n;
		size -= (size_t)n;
	}
	close(fd);
}

char *fuzz_strndup(const uint8_t *data, size_t size) {
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}
