/* Atomic outputs for mlrig image and mlrig iso, with one signal handler that
 * removes the temp file, so nothing half-written is left after Ctrl-C. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
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
	else if (fchmod(fd, 0644) < 0) {
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
