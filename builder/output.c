/* Atomic outputs for mlrig image and mlrig iso, with one signal handler that
 * removes the temp file, so nothing half-written is left after Ctrl-C. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "output.h"

static char armed[PATH_MAX];

static void on_signal(int sig) {
	if (armed[0])
		unlink(armed);
	signal(sig, SIG_DFL);
	raise(sig);
}

int output_open(const char *path, char **ret_tmp) {
	_cleanup_free_ char *tmp = NULL;
	sigset_t block, old;
	int fd, r = 0;

	/* A signal between creating the temp file and arming the handler would leave
	 * the file behind: held back until both are done, then delivered. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	fd = open_tmpfile_for(path, &tmp);
	if (fd < 0)
		r = fd;
	else if (fchmod(fd, 0644) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = negative_errno();
		close(fd);
		unlink(tmp);
	} else {
		snprintf(armed, sizeof(armed), "%s", tmp);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGHUP, on_signal);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;
	*ret_tmp = TAKE_PTR(tmp);
	return fd;
}

int output_commit(int fd, const char *tmp, const char *path) {
	int r = rename_and_sync(fd, tmp, path);

	armed[0] = 0;
	return r;
}

void output_discard(const char *tmp) {
	if (tmp)
		unlink(tmp);
	armed[0] = 0;
}

/* A temp file of ours is locked for as long as its run lives: one nobody holds was left by a
 * run that was killed (SIGKILL, a power cut) before it could remove it. */
int output_remove_stale(const char *path, char ***ret_removed) {
	_cleanup_free_ char *d = strdup(path), *b = strdup(path), *prefix = NULL;
	DIR *dir;
	char **removed = NULL;
	size_t n = 0;
	struct dirent *de;

	*ret_removed = NULL;
	if (!d || !b || asprintf(&prefix, ".%s.", basename(b)) < 0)
		return -ENOMEM;
	dir = opendir(dirname(d)); /* d is the directory from here on */
	if (!dir)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(dir))) {
		char **l;
		int fd;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || strlen(de->d_name) != strlen(prefix) + 6)
			continue;
		fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 || unlinkat(dirfd(dir), de->d_name, 0) < 0) {
			close(fd); /* another run is writing it */
			continue;
		}
		close(fd);
		l = realloc(removed, (n + 2) * sizeof(*l));
		if (!l)
			break;
		removed = l;
		if (asprintf(&removed[n], "%s/%s", d, de->d_name) >= 0)
			n++;
		removed[n] = NULL;
	}
	closedir(dir);
	*ret_removed = removed;
	return (int)n;
}
