/* Unpacking a cuDNN tarball into the CUDA prefix, safely: every entry checked
 * first (common/tar-safety.c, the rules the builder checked it by), then
 * include/ and lib/ or lib64/ written below the prefix through descriptors
 * opened with O_NOFOLLOW, so neither the tarball nor a symlink already in the
 * prefix can make a write land outside it. libarchive is loaded at run time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cudnn-extract.h"
#include "dlopen-util.h"
#include "error.h"
#include "fileio.h"
#include "parse-util.h"
#include "tar-safety.h"

#define ARCHIVE_OK 0
#define ARCHIVE_EOF 1
#define ARCHIVE_WARN (-20)

static struct {
	void *(*read_new)(void);
	int (*filter_all)(void *);
	int (*format_all)(void *);
	int (*open_filename)(void *, const char *, size_t);
	int (*next_header)(void *, void **);
	ssize_t (*read_data)(void *, void *, size_t);
	int (*free)(void *);
	const char *(*error_string)(void *);
	const char *(*pathname)(void *);
	const char *(*symlink)(void *);
	const char *(*hardlink)(void *);
	mode_t (*mode)(void *);
} la;

static int load_libarchive(char **ret_error) {
	static const char *const names[] = { "libarchive.so.13", NULL };
	static void *handle;
	const struct dlsym_entry syms[] = {
		{ "archive_read_new", (void **)&la.read_new, false },
		{ "archive_read_support_filter_all", (void **)&la.filter_all, false },
		{ "archive_read_support_format_all", (void **)&la.format_all, false },
		{ "archive_read_open_filename", (void **)&la.open_filename, false },
		{ "archive_read_next_header", (void **)&la.next_header, false },
		{ "archive_read_data", (void **)&la.read_data, false },
		{ "archive_read_free", (void **)&la.free, false },
		{ "archive_error_string", (void **)&la.error_string, false },
		{ "archive_entry_pathname", (void **)&la.pathname, false },
		{ "archive_entry_symlink", (void **)&la.symlink, false },
		{ "archive_entry_hardlink", (void **)&la.hardlink, false },
		{ "archive_entry_mode", (void **)&la.mode, false },
	};
	_cleanup_free_ char *error = NULL;

	if (handle)
		return 0;
	if (dlopen_resolve(names, syms, ELEMENTSOF(syms), &handle, &error) < 0)
		return set_error(ret_error, -ELIBACC, "%s: the cuDNN tarball needs libarchive13 ([Packages] Install=libarchive13)",
				 error ? error : "libarchive.so.13");
	return 0;
}

/* Where an entry goes under the prefix: TOP/include/... → include/..., TOP/lib64 or TOP/lib → lib64/...;
 * NULL for what is not unpacked (the top directory itself, a LICENSE beside include/). */
static char *map_entry(const char *norm) {
	const char *slash = strchr(norm, '/'), *rest;
	char *s = NULL;

	if (!slash)
		return NULL;
	rest = slash + 1;
	if (string_has_prefix(rest, "include/") || strcmp(rest, "include") == 0)
		return strdup(rest);
	if (string_has_prefix(rest, "lib64/") || strcmp(rest, "lib64") == 0)
		return strdup(rest);
	if (string_has_prefix(rest, "lib/") || strcmp(rest, "lib") == 0)
		return asprintf(&s, "lib64%s", rest + 3) < 0 ? NULL : s;
	return NULL;
}

static void *open_archive(const char *path, char **ret_error) {
	void *a = la.read_new();

	if (!a || la.filter_all(a) < ARCHIVE_WARN || la.format_all(a) < ARCHIVE_WARN) {
		set_error(ret_error, -ENOMEM, "out of memory");
		return a ? (la.free(a), NULL) : NULL;
	}
	if (la.open_filename(a, path, 64 << 10) < ARCHIVE_WARN) {
		set_error(ret_error, -EIO, "%s: %s", path, la.error_string(a) ?: "cannot open");
		la.free(a);
		return NULL;
	}
	return a;
}

/* Pass 1: every entry acceptable, one top directory; nothing written yet. */
static int check_all(const char *path, size_t *ret_n, char **ret_error) {
	_cleanup_free_ char *top = NULL;
	void *a = open_archive(path, ret_error), *e;
	size_t n = 0;
	int r;

	if (!a)
		return -EIO;
	for (;;) {
		_cleanup_free_ char *norm = NULL, *reason = NULL;
		enum tar_kind kind;
		size_t tl;

		r = la.next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			r = set_error(ret_error, -EIO, "%s: %s", path, la.error_string(a) ?: "corrupt");
			goto out;
		}
		r = tar_entry_check(la.pathname(e) ?: "", la.mode(e), la.symlink(e), la.hardlink(e), &kind, &norm, &reason);
		if (r >= 0 && kind == TAR_HARDLINK)
			r = set_error(&reason, -EPERM, "'%s': a hardlink (a cuDNN tarball has none)", norm);
		if (r < 0) {
			r = set_error(ret_error, r, "%s: refused, nothing unpacked: %s", path, reason ?: "?");
			goto out;
		}
		if (!*norm)
			continue;
		tl = strcspn(norm, "/");
		if (!top && !(top = strndup(norm, tl))) {
			r = -ENOMEM;
			goto out;
		}
		if (strlen(top) != tl || strncmp(norm, top, tl) != 0) {
			r = set_error(ret_error, -EPERM, "%s: refused, nothing unpacked: '%s' is outside its top directory %s/",
				      path, norm, top);
			goto out;
		}
		n++;
	}
	r = 0;
	*ret_n = n;
out:
	la.free(a);
	return r;
}

/* Opens (making it when missing) the directory rel below dirfd, one component at a time, never
 * through a symlink. */
static int open_dirs(int dirfd, const char *rel, bool create) {
	_cleanup_free_ char *copy = strdup(rel);
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);

	if (!copy || fd < 0) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	for (char *c = copy, *next; c && *c; c = next) {
		int nfd;

		next = strchr(c, '/');
		if (next)
			*next++ = 0;
		if (create && mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
			close(fd);
			return negative_errno();
		}
		nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (nfd < 0)
			return errno == ENOTDIR || errno == ELOOP ? -ENOTDIR : negative_errno();
		fd = nfd;
	}
	return fd;
}

/* One entry written at rel (below the prefix directory pfd). */
static int write_entry(int pfd, void *a, void *e, const char *rel) {
	_cleanup_free_ char *dir = strdup(rel), *tmp = NULL;
	const char *base;
	mode_t mode = la.mode(e);
	int dfd, r = 0;

	if (!dir)
		return -ENOMEM;
	if (S_ISDIR(mode)) {
		dfd = open_dirs(pfd, rel, true);
		if (dfd < 0)
			return dfd;
		(void)fchmod(dfd, 0755);
		close(dfd);
		return 0;
	}
	char *slash = strrchr(dir, '/');
	base = slash ? slash + 1 : dir;
	if (slash)
		*slash = 0;
	dfd = slash ? open_dirs(pfd, dir, true) : fcntl(pfd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return dfd;
	if (asprintf(&tmp, ".%s.mlrig-tmp", base) < 0) {
		close(dfd);
		return -ENOMEM;
	}
	(void)unlinkat(dfd, tmp, 0);
	if (S_ISLNK(mode)) {
		if (symlinkat(la.symlink(e), dfd, tmp) < 0)
			r = negative_errno();
	} else {
		int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		char buf[64 << 10];
		ssize_t n;

		if (fd < 0)
			r = negative_errno();
		while (fd >= 0 && r >= 0 && (n = la.read_data(a, buf, sizeof(buf))) != 0)
			r = n < 0 ? -EIO : loop_write(fd, buf, (size_t)n);
		/* no setuid (refused before), and nobody but root writes the prefix */
		if (fd >= 0 && r >= 0 && (fchmod(fd, mode & 0755) < 0 || fsync(fd) < 0))
			r = negative_errno();
		if (fd >= 0)
			close(fd);
	}
	if (r >= 0 && renameat(dfd, tmp, dfd, base) < 0)
		r = negative_errno();
	if (r < 0)
		(void)unlinkat(dfd, tmp, 0);
	close(dfd);
	return r;
}

int cudnn_extract(int root_fd, const char *tarball, const char *prefix, struct cudnn_extract_result *ret,
		  char **ret_error) {
	size_t n = 0, written = 0;
	void *a, *e;
	int pfd, r;

	r = load_libarchive(ret_error);
	if (r < 0)
		return r;
	r = check_all(tarball, &n, ret_error);
	if (r < 0)
		return r;
	pfd = open_dirs(root_fd, prefix[0] == '/' ? prefix + 1 : prefix, true);
	if (pfd < 0)
		return set_error(ret_error, pfd, "cannot open the CUDA prefix %s: %s", prefix, strerror(-pfd));
	a = open_archive(tarball, ret_error);
	if (!a) {
		close(pfd);
		return -EIO;
	}
	for (;;) {
		_cleanup_free_ char *norm = NULL, *rel = NULL;
		enum tar_kind kind;

		r = la.next_header(a, &e);
		if (r == ARCHIVE_EOF) {
			r = 0;
			break;
		}
		if (r < ARCHIVE_WARN) {
			r = set_error(ret_error, -EIO, "%s: %s", tarball, la.error_string(a) ?: "corrupt");
			break;
		}
		/* checked again: the file may have changed since the first pass */
		r = tar_entry_check(la.pathname(e) ?: "", la.mode(e), la.symlink(e), la.hardlink(e), &kind, &norm, NULL);
		if (r < 0 || kind == TAR_HARDLINK) {
			r = set_error(ret_error, -EPERM, "%s changed while it was unpacked: '%s'", tarball, la.pathname(e) ?: "");
			break;
		}
		rel = map_entry(norm);
		if (!rel)
			continue;
		r = write_entry(pfd, a, e, rel);
		if (r < 0) {
			set_error(ret_error, r, "cannot write %s/%s: %s", prefix, rel, strerror(-r));
			break;
		}
		written++;
	}
	la.free(a);
	if (r >= 0 && fsync(pfd) < 0)
		r = set_error(ret_error, negative_errno(), "cannot sync %s: %m", prefix);
	close(pfd);
	if (r < 0)
		return r;
	ret->entries = n;
	ret->written = written;
	return 0;
}
