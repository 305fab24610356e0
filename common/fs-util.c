/* Host trees: recursive removal with openat/unlinkat (no rm -rf, no symlink followed), mkdir -p, temporary directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

/* Empties the directory open at fd (which it takes over), staying on device dev. */
static int remove_contents(int fd, dev_t dev, unsigned depth) {
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	if (depth > 256) {
		close(fd);
		return -ELOOP;
	}
	d = fdopendir(fd);
	if (!d) {
		r = negative_errno();
		close(fd);
		return r;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		int sub, k;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && r == 0)
				r = negative_errno();
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0)
				r = negative_errno();
			continue;
		}
		if (st.st_dev != dev) {
			if (r == 0)
				r = -EXDEV;
			continue;
		}
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno != ENOENT && r == 0)
				r = negative_errno();
			continue;
		}
		k = remove_contents(sub, dev, depth + 1);
		if (k >= 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			k = negative_errno();
		if (k < 0 && r == 0)
			r = k;
	}
	if (errno != 0 && r == 0)
		r = negative_errno();
	return r;
}

int rm_rf_at(int dirfd, const char *path) {
	struct stat st;
	int fd, r;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, path, 0) < 0 && errno != ENOENT ? negative_errno() : 0;
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	r = remove_contents(fd, st.st_dev, 0);
	if (r < 0)
		return r;
	return unlinkat(dirfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT ? negative_errno() : 0;
}

int rm_rf(const char *path) {
	return rm_rf_at(AT_FDCWD, path);
}

const char *tmp_dir(void) {
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/tmp";
}

int make_tmpdir(const char *prefix, char **ret) {
	char *path = NULL;

	if (asprintf(&path, "%s/%s.XXXXXX", tmp_dir(), prefix) < 0)
		return -ENOMEM;
	if (!mkdtemp(path)) {
		int r = negative_errno();
		free(path);
		return r;
	}
	*ret = path;
	return 0;
}

int mkdir_parents(const char *path, mode_t mode) {
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return negative_errno();
		*p = '/';
	}
	return 0;
}

int mkdir_p(const char *path, mode_t mode) {
	int r = mkdir_parents(path, mode);

	if (r < 0)
		return r;
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}
