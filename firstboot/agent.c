/* Agent helpers: root-relative atomic file I/O, tool runs that keep their
 * reason for the journal, and the test hook that holds a stage. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "error.h"
#include "fileio.h"
#include "parse-util.h"
#include "process.h"
#include "userdb.h"

int agent_fail(struct agent *a, int r, const char *fmt, ...) {
	va_list ap;

	r = r < 0 ? r : -EIO;
	va_start(ap, fmt);
	set_errorv(&a->error, r, fmt, ap);
	va_end(ap);
	return r;
}

void agent_note(struct agent *a, const char *fmt, ...) {
	va_list ap;

	va_start(ap, fmt);
	set_errorv(&a->note, 0, fmt, ap);
	va_end(ap);
}

void agent_say(const char *fmt, ...) {
	va_list ap;

	fputs("mlrig-firstboot: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

void agent_test_hold(struct agent *a, const char *stage) {
	_cleanup_free_ char *want = NULL;

	if (agent_read(a, AGENT_TEST_HOLD, &want, NULL) < 0 || strcmp(string_strip(want), stage) != 0)
		return;
	/* one shot: the boot after the power cut must run through */
	if (renameat(a->root_fd, AGENT_TEST_HOLD, a->root_fd, AGENT_TEST_HOLD ".used") < 0) {
		agent_say("test hook: cannot disarm %s: %m; not holding", AGENT_TEST_HOLD);
		return;
	}
	{
		_cleanup_close_ int dfd = openat(a->root_fd, "etc/mlrig", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0)
			(void)fsync(dfd);
	}
	sync();
	agent_say("test hook: holding inside stage %s", stage);
	for (;;)
		pause();
}

int agent_read(struct agent *a, const char *path, char **ret, size_t *ret_size) {
	_cleanup_close_ int fd = openat(a->root_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return negative_errno();
	return read_full_fd(fd, ret, ret_size);
}

int agent_exists(struct agent *a, const char *path) {
	struct stat st;

	return fstatat(a->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ? negative_errno() : 0;
}

int agent_write(struct agent *a, const char *path, const void *data, size_t size, mode_t mode, uid_t uid, gid_t gid) {
	_cleanup_free_ char *tmp = NULL, *dir = NULL;
	_cleanup_close_ int fd = -1, dfd = -1;
	const char *slash = strrchr(path, '/');
	int r;

	if (asprintf(&tmp, "%.*s.%s.mlrig-tmp", slash ? (int)(slash - path + 1) : 0, path, slash ? slash + 1 : path) < 0 ||
	    !(dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".")))
		return -ENOMEM;
	fd = openat(a->root_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return negative_errno();
	r = loop_write(fd, data, size);
	if (r >= 0 && fchown(fd, uid, gid) < 0)
		r = negative_errno();
	if (r >= 0 && fchmod(fd, mode) < 0)
		r = negative_errno();
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && renameat(a->root_fd, tmp, a->root_fd, path) < 0)
		r = negative_errno();
	if (r < 0) {
		unlinkat(a->root_fd, tmp, 0);
		return r;
	}
	dfd = openat(a->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return negative_errno();
	return 0;
}

int agent_mkdir(struct agent *a, const char *path, mode_t mode, uid_t uid, gid_t gid) {
	struct stat st;

	if (fstatat(a->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (mkdirat(a->root_fd, path, mode) < 0)
		return negative_errno();
	if (fchownat(a->root_fd, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(a->root_fd, path, mode, 0) < 0)
		return negative_errno();
	return 0;
}

int agent_user_ids(struct agent *a, uid_t *ret_uid, gid_t *ret_gid) {
	_cleanup_free_ char *passwd = NULL;
	uint32_t u, g;
	int r;

	r = agent_read(a, "etc/passwd", &passwd, NULL);
	if (r >= 0)
		r = userdb_user_ids(passwd, a->p->user, &u, &g);
	if (r < 0)
		return r;
	*ret_uid = u;
	*ret_gid = g;
	return 0;
}

char *agent_host_path(struct agent *a, const char *path) {
	char *s;

	if (asprintf(&s, "%s%s%s", a->live ? "" : a->root, "/", path) < 0)
		return NULL;
	return s;
}

/* The last lines of a tool's output: enough to say why, short enough for a journal line. */
static const char *tail_of(char *out) {
	size_t n;
	const char *p;
	int lines = 0;

	if (!out)
		return "";
	n = strlen(string_trim_end(out));
	p = out + n;
	while (p > out && lines < 4) {
		p--;
		if (*p == '\n')
			lines++;
	}
	return *p == '\n' ? p + 1 : p;
}

int agent_run_full(struct agent *a, const char *what, char *const argv[], char *const env[], const char *input,
		   char **ret_output) {
	_cleanup_(process_result_release) struct process_result res = {};
	int r = process_run(&(struct process_options){
				    .argv = argv, .env_set = env, .input = input, .stdin_mode = PROCESS_NULL,
				    .stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_TO_STDOUT,
			    }, &res);

	if (r < 0)
		return agent_fail(a, r, "%s: cannot run %s: %m", what, argv[0]);
	if (r > 0) {
		/* one line for the journal: newlines become "|" */
		_cleanup_free_ char *msg = strdup(tail_of(res.out));
		for (char *c = msg; c && *c; c++)
			if (*c == '\n')
				*c = '|';
		return agent_fail(a, -EIO, "%s failed (%s exited %d): %s", what, argv[0], r, msg ? msg : "");
	}
	if (ret_output)
		*ret_output = TAKE_PTR(res.out);
	return 0;
}

int agent_run_input(struct agent *a, const char *what, char *const argv[], const char *input, char **ret_output) {
	return agent_run_full(a, what, argv, NULL, input, ret_output);
}

int agent_run(struct agent *a, const char *what, char *const argv[], char **ret_output) {
	return agent_run_full(a, what, argv, NULL, NULL, ret_output);
}
