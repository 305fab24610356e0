/* The spawner: fork + execve with everything prepared before the fork, so the
 * child only makes async-signal-safe calls (it may be forked from a threaded
 * program); exec failures come back through a close-on-exec pipe. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "process.h"
#include "time-util.h"

extern char **environ;

#define KILL_GRACE_MS 1000

void process_result_release(struct process_result *r) {
	if (!r)
		return;
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static bool is_executable(const char *path) {
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int process_find_program(const char *name, char **ret) {
	const char *path = getenv("PATH");

	if (!name || !*name)
		return -EINVAL;
	if (strchr(name, '/')) {
		if (access(name, F_OK) < 0)
			return negative_errno();
		*ret = strdup(name);
		return *ret ? 0 : -ENOMEM;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
	for (const char *p = path;;) {
		const char *end = strchrnul(p, ':');
		char *candidate = NULL;

		if (asprintf(&candidate, "%.*s/%s", (int)(end - p), end == p ? "." : p, name) < 0)
			return -ENOMEM;
		if (is_executable(candidate)) {
			*ret = candidate;
			return 0;
		}
		free(candidate);
		if (!*end)
			return -ENOENT;
		p = end + 1;
	}
}

/* NAME of a "NAME=value" entry matches name */
static bool env_name_is(const char *entry, const char *name) {
	size_t n = strcspn(name, "=");

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The environment for the child: env_set first, then what we have minus what
 * is set or unset. The strings are borrowed; only the array is allocated. */
static char **build_env(const struct process_options *o) {
	size_t n = 0, m = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	while (o->env_set && o->env_set[m])
		m++;
	env = calloc(n + m + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < m; i++)
		env[k++] = o->env_set[i];
	for (size_t i = 0; i < n; i++) {
		bool drop = false;

		for (size_t j = 0; j < m && !drop; j++)
			drop = env_name_is(environ[i], o->env_set[j]);
		for (size_t j = 0; o->env_unset && o->env_unset[j] && !drop; j++)
			drop = env_name_is(environ[i], o->env_unset[j]);
		if (!drop)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	return env;
}

/* Everything the child needs, made before the fork. */
struct launch {
	char *path;
	char **env;
	int null_fd, input_fd;
	int out_pipe[2], err_pipe[2], report[2];
	int fds[3]; /* what stdin, stdout, stderr become; -1: inherit */
};

static void launch_release(struct launch *l) {
	free(l->path);
	free(l->env);
	closep(&l->null_fd);
	closep(&l->input_fd);
	for (int i = 0; i < 2; i++) {
		closep(&l->out_pipe[i]);
		closep(&l->err_pipe[i]);
		closep(&l->report[i]);
	}
}

static int stdio_fd(struct launch *l, enum process_stdio mode, int fd, int capture_fd, int stdout_fd) {
	switch (mode) {
	case PROCESS_INHERIT: return -1;
	case PROCESS_NULL: return l->null_fd;
	case PROCESS_FD: return fd;
	case PROCESS_CAPTURE: return capture_fd;
	case PROCESS_TO_STDOUT: return stdout_fd < 0 ? STDOUT_FILENO : stdout_fd;
	}
	return -1;
}

static int launch_prepare(const struct process_options *o, bool may_capture, struct launch *l) {
	int r;

	*l = (struct launch){ .null_fd = -1, .input_fd = -1, .out_pipe = { -1, -1 }, .err_pipe = { -1, -1 },
			      .report = { -1, -1 } };
	if (!o->argv || !o->argv[0])
		return -EINVAL;
	if (!may_capture && (o->stdout_mode == PROCESS_CAPTURE || o->stderr_mode == PROCESS_CAPTURE))
		return -EINVAL;
	if (o->stdin_mode == PROCESS_CAPTURE || o->stdin_mode == PROCESS_TO_STDOUT || o->stdout_mode == PROCESS_TO_STDOUT)
		return -EINVAL;
	r = process_find_program(o->argv[0], &l->path);
	if (r < 0)
		return r;
	l->env = build_env(o);
	if (!l->env)
		return -ENOMEM;
	l->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (l->null_fd < 0)
		return negative_errno();
	if (o->input) {
		/* a memfd holds the whole text: no writer thread, no SIGPIPE */
		l->input_fd = memfd_create("mlrig-input", MFD_CLOEXEC);
		if (l->input_fd < 0)
			return negative_errno();
		r = loop_write(l->input_fd, o->input, strlen(o->input));
		if (r < 0)
			return r;
		if (lseek(l->input_fd, 0, SEEK_SET) < 0)
			return negative_errno();
	}
	if (o->stdout_mode == PROCESS_CAPTURE && pipe2(l->out_pipe, O_CLOEXEC) < 0)
		return negative_errno();
	if (o->stderr_mode == PROCESS_CAPTURE && pipe2(l->err_pipe, O_CLOEXEC) < 0)
		return negative_errno();
	if (pipe2(l->report, O_CLOEXEC) < 0)
		return negative_errno();
	l->fds[0] = o->input ? l->input_fd : stdio_fd(l, o->stdin_mode, o->stdin_fd, -1, -1);
	l->fds[1] = stdio_fd(l, o->stdout_mode, o->stdout_fd, l->out_pipe[1], -1);
	l->fds[2] = stdio_fd(l, o->stderr_mode, o->stderr_fd, l->err_pipe[1], l->fds[1]);
	return 0;
}

_noreturn_ static void child_fail(int report_fd, int error) {
	ssize_t k = write(report_fd, &error, sizeof(error));

	(void)k;
	_exit(127);
}

/* In the child: async-signal-safe calls only. */
_noreturn_ static void child_exec(const struct process_options *o, const struct launch *l, pid_t parent) {
	int moved[3 + 64], n_targets = 3 + (int)o->n_pass_fds, base;
	sigset_t none;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(l->report[1], errno);
	if (getppid() != parent) /* the parent went before the prctl took */
		_exit(127);
	if (o->new_process_group)
		(void)setpgid(0, 0);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)signal(s, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	if (n_targets > (int)ELEMENTSOF(moved))
		child_fail(l->report[1], E2BIG);
	/* move every source above every target first, so no dup2() overwrites a source still needed */
	base = n_targets + 3;
	for (int t = 0; t < n_targets; t++) {
		int src = t < 3 ? l->fds[t] : o->pass_fds[t - 3];

		moved[t] = -1;
		if (src < 0)
			continue;
		moved[t] = fcntl(src, F_DUPFD_CLOEXEC, base);
		if (moved[t] < 0)
			child_fail(l->report[1], errno);
	}
	for (int t = 0; t < n_targets; t++)
		if (moved[t] >= 0 && dup2(moved[t], t) < 0) /* dup2 clears close-on-exec on t */
			child_fail(l->report[1], errno);
	execve(l->path, o->argv, l->env);
	child_fail(l->report[1], errno);
}

/* Forks and execs; returns the pid once the exec has happened, or -errno. */
static int launch_start(const struct process_options *o, struct launch *l, pid_t *ret_pid) {
	pid_t parent = getpid(), pid;
	int error = 0;
	ssize_t n;

	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0)
		child_exec(o, l, parent);
	if (o->new_process_group)
		(void)setpgid(pid, pid); /* from here too, so no signal finds it still in ours */

	/* our copies of the child's ends go, so EOF means the child (and its children) closed them */
	closep(&l->report[1]);
	closep(&l->out_pipe[1]);
	closep(&l->err_pipe[1]);
	do
		n = read(l->report[0], &error, sizeof(error));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(error)) {
		int status;

		(void)process_wait(pid, &status);
		return log_debug_errno(error, "Cannot run %s: %m", l->path);
	}
	*ret_pid = pid;
	return 0;
}

static int decode_status(int wstatus) {
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WEXITSTATUS(wstatus);
}

int process_try_wait(pid_t pid, int *ret_status) {
	int wstatus;
	pid_t r;

	do
		r = waitpid(pid, &wstatus, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return negative_errno();
	if (r == 0)
		return 0;
	if (ret_status)
		*ret_status = decode_status(wstatus);
	return 1;
}

int process_wait(pid_t pid, int *ret_status) {
	int wstatus;

	while (waitpid(pid, &wstatus, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	if (ret_status)
		*ret_status = decode_status(wstatus);
	return 0;
}

void process_kill_and_wait(pid_t pid, unsigned grace_ms) {
	uint64_t until;

	if (pid <= 0)
		return;
	if (kill(pid, grace_ms ? SIGTERM : SIGKILL) < 0 && errno == ESRCH) {
		(void)process_wait(pid, NULL); /* gone already, maybe not reaped */
		return;
	}
	until = now_ms() + grace_ms;
	for (unsigned step = 1;; step = MIN(step * 2, 20u)) {
		int r = process_try_wait(pid, NULL);

		if (r != 0)
			return;
		if (now_ms() >= until)
			break;
		sleep_ms(step);
	}
	(void)kill(pid, SIGKILL);
	(void)process_wait(pid, NULL);
}

int process_spawn(const struct process_options *o, pid_t *ret_pid) {
	struct launch l;
	int r;

	r = launch_prepare(o, false, &l);
	if (r >= 0)
		r = launch_start(o, &l, ret_pid);
	launch_release(&l);
	return r;
}

/* A captured stream: what has been read, up to PROCESS_CAPTURE_MAX. */
struct capture {
	int fd;
	char *buf;
	size_t size, alloc;
};

static int capture_read(struct capture *c) {
	char chunk[65536];
	ssize_t n = read(c->fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : negative_errno();
	if (n == 0) {
		closep(&c->fd);
		return 0;
	}
	n = MIN(n, (ssize_t)(PROCESS_CAPTURE_MAX - c->size));
	if (n > 0 && c->size + (size_t)n + 1 > c->alloc) {
		size_t na = MAX(c->alloc * 2, c->size + (size_t)n + 1);
		char *nb = realloc(c->buf, na);

		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->alloc = na;
	}
	if (n > 0) {
		memcpy(c->buf + c->size, chunk, (size_t)n);
		c->size += (size_t)n;
	}
	return 0;
}

static char *capture_take(struct capture *c, bool wanted) {
	if (!wanted) {
		free(c->buf);
		return NULL;
	}
	if (!c->buf && !(c->buf = malloc(1)))
		return NULL;
	c->buf[c->size] = 0;
	return c->buf;
}

/* Reads the captured streams until both close or the deadline (0: none) passes. */
static int capture_all(struct capture *c, size_t n, uint64_t deadline) {
	for (;;) {
		struct pollfd p[2];
		size_t k = 0;
		int timeout = -1, r;

		for (size_t i = 0; i < n; i++)
			if (c[i].fd >= 0)
				p[k++] = (struct pollfd){ .fd = c[i].fd, .events = POLLIN };
		if (k == 0)
			return 0;
		if (deadline) {
			uint64_t t = now_ms();

			if (t >= deadline)
				return -ETIME;
			timeout = (int)MIN(deadline - t, (uint64_t)1000);
		}
		r = poll(p, k, timeout);
		if (r < 0 && errno != EINTR)
			return negative_errno();
		for (size_t i = 0, j = 0; r > 0 && i < n; i++) {
			if (c[i].fd < 0)
				continue;
			if (p[j++].revents) {
				int e = capture_read(&c[i]);
				if (e < 0)
					return e;
			}
		}
	}
}

static int wait_until(pid_t pid, uint64_t deadline, int *ret_status) {
	if (!deadline)
		return process_wait(pid, ret_status);
	for (unsigned step = 1;; step = MIN(step * 2, 50u)) {
		int r = process_try_wait(pid, ret_status);

		if (r != 0)
			return r < 0 ? r : 0;
		if (now_ms() >= deadline)
			return -ETIME;
		sleep_ms(step);
	}
}

int process_run(const struct process_options *o, struct process_result *ret) {
	struct capture c[2] = { { .fd = -1 }, { .fd = -1 } };
	uint64_t deadline = o->timeout_ms ? now_ms() + o->timeout_ms : 0;
	struct launch l;
	int r, status = 0;
	pid_t pid;

	r = launch_prepare(o, true, &l);
	if (r >= 0)
		r = launch_start(o, &l, &pid);
	if (r < 0) {
		launch_release(&l);
		return r;
	}
	c[0].fd = TAKE_FD(l.out_pipe[0]);
	c[1].fd = TAKE_FD(l.err_pipe[0]);
	launch_release(&l);

	r = capture_all(c, 2, deadline);
	if (r >= 0)
		r = wait_until(pid, deadline, &status);
	if (r < 0) {
		if (o->new_process_group)
			(void)kill(-pid, SIGTERM);
		process_kill_and_wait(pid, r == -ETIME ? KILL_GRACE_MS : 0);
	}
	closep(&c[0].fd);
	closep(&c[1].fd);
	if (ret) {
		*ret = (struct process_result){ .status = r < 0 ? -1 : status };
		ret->out = capture_take(&c[0], o->stdout_mode == PROCESS_CAPTURE);
		ret->err = capture_take(&c[1], o->stderr_mode == PROCESS_CAPTURE);
	} else {
		free(c[0].buf);
		free(c[1].buf);
	}
	if (r < 0)
		return log_debug_errno(r, "%s: %m", o->argv[0]);
	log_debug("%s exited with %d", o->argv[0], status);
	return status;
}

const char *process_status_to_string(int status, char *buf, size_t size) {
	if (status > 128 && status < 128 + NSIG)
		snprintf(buf, size, "was killed by signal %d (%s)", status - 128, strsignal(status - 128));
	else
		snprintf(buf, size, "exited with status %d", status);
	return buf;
}
