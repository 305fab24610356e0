/* The one way mlrig runs another program: an argument vector (never a shell),
 * the environment edited, each standard stream inherited, /dev/null, a given
 * descriptor or captured into memory, an optional timeout, and the child
 * killed when the thread that started it dies (PR_SET_PDEATHSIG). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where a child's stdin, stdout or stderr goes. */
enum process_stdio {
	PROCESS_INHERIT,   /* the caller's own (the zero value) */
	PROCESS_NULL,      /* /dev/null */
	PROCESS_FD,        /* the descriptor in the matching *_fd field */
	PROCESS_CAPTURE,   /* stdout/stderr only, process_run() only: into process_result.out/.err */
	PROCESS_TO_STDOUT, /* stderr only: wherever stdout goes, so the two stay in order */
};

struct process_options {
	char *const *argv;            /* argv[0] is looked up in $PATH unless it holds a '/' */
	char *const *env_set;         /* "NAME=value" entries; each replaces NAME if inherited; may be NULL */
	const char *const *env_unset; /* names dropped from the inherited environment; may be NULL */
	enum process_stdio stdin_mode, stdout_mode, stderr_mode;
	int stdin_fd, stdout_fd, stderr_fd;
	const char *input;            /* when set: this text is the child's stdin (stdin_mode is ignored) */
	const int *pass_fds;          /* more descriptors for the child, as fds 3, 4, ... in this order */
	size_t n_pass_fds;
	uint64_t timeout_ms;          /* process_run(): 0 for none; on expiry SIGTERM, 1 s, SIGKILL */
	bool new_process_group;       /* the child leads its own group: a terminal's ^C reaches only us */
};

struct process_result {
	int status; /* exit status 0..255, or 128 + the signal that killed it */
	char *out;  /* captured stdout (with stderr when PROCESS_TO_STDOUT), NUL-terminated, or NULL */
	char *err;  /* captured stderr, NUL-terminated, or NULL */
};
void process_result_release(struct process_result *r);

/* Runs the program to its end. Returns its status (>= 0; also in ret->status),
 * or -errno when it could not run: -ENOENT not found in $PATH, -EACCES not
 * executable, -ETIME when the timeout expired (it was killed; ret holds what it
 * wrote until then), -ENOMEM... ret may be NULL (captured output is dropped).
 * Captured output beyond PROCESS_CAPTURE_MAX bytes per stream is dropped. */
#define PROCESS_CAPTURE_MAX (16u << 20)
int process_run(const struct process_options *o, struct process_result *ret);

/* Starts the program and returns at once (no PROCESS_CAPTURE, no timeout).
 * Returns 0 and the pid, or -errno as process_run(). */
int process_spawn(const struct process_options *o, pid_t *ret_pid);
/* Reaps pid when it has exited: 1 and its status (as above), 0 while it runs, -errno. */
int process_try_wait(pid_t pid, int *ret_status);
/* Waits for pid to exit; 0 and its status, or -errno. */
int process_wait(pid_t pid, int *ret_status);
/* SIGTERM, up to grace_ms for it to exit, then SIGKILL (at once when grace_ms is 0);
 * always reaps. pid <= 0 does nothing. */
void process_kill_and_wait(pid_t pid, unsigned grace_ms);

/* "exited with status 3", "was killed by signal 9 (Killed)": for messages. */
const char *process_status_to_string(int status, char *buf, size_t size);
/* The path argv[0] would run: as given when it holds a '/', else the first match in $PATH. -ENOENT when none. */
int process_find_program(const char *name, char **ret);
