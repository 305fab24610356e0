/* The first-boot agent's shared state and helpers: every file operation is
 * relative to the root (/ on a rig, a directory with --root in tests). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "profile.h"

#define AGENT_STATE_DIR "var/lib/mlrig"
#define AGENT_CONFIG "etc/mlrig/rig.conf"
#define AGENT_TEST_HOLD "etc/mlrig/test-hold-stage"

struct agent {
	const char *root;  /* "/" or the --root directory */
	int root_fd;
	bool live;         /* root is "/": also change the running system: ioctls, systemctl, sethostname */
	Profile *p;
	char *error;       /* the running stage's failure, for the journal and the console */
	char *note;        /* the running stage's remark ("skipped: ..."), optional */
	bool reboot;       /* a stage asks for a reboot before the next one (gpu: nouveau holds the GPU) */
};

/* Records why a stage failed; returns r (negative) so a stage can
 * `return agent_fail(a, r, "...")`. */
int agent_fail(struct agent *a, int r, const char *fmt, ...) _printf_(3, 4);
/* Records a remark shown by status, e.g. "skipped: no [DDNS] Provider". */
void agent_note(struct agent *a, const char *fmt, ...) _printf_(2, 3);
/* Console line: "mlrig-firstboot: ..." on stdout (the unit sends it to the console). */
void agent_say(const char *fmt, ...) _printf_(1, 2);

/* Test hook: when AGENT_TEST_HOLD names this stage, say so and wait forever
 * here, so a test can cut the power inside the stage. */
void agent_test_hold(struct agent *a, const char *stage);

/* Paths are relative to the root ("etc/hostname", no leading slash). */
int agent_read(struct agent *a, const char *path, char **ret, size_t *ret_size);
/* Atomic: temp file, fsync, rename, fsync of the directory; owner and mode set before the rename. */
int agent_write(struct agent *a, const char *path, const void *data, size_t size, mode_t mode, uid_t uid, gid_t gid);
int agent_exists(struct agent *a, const char *path);
int agent_mkdir(struct agent *a, const char *path, mode_t mode, uid_t uid, gid_t gid); /* keeps an existing dir */
/* The rig user's uid and gid from the tree's etc/passwd (the user stage makes the user). */
int agent_user_ids(struct agent *a, uid_t *ret_uid, gid_t *ret_gid);
/* Host path of a rig path, for tools: "/" + path live, ROOT/path in a tree. */
char *agent_host_path(struct agent *a, const char *path);

/* Runs a tool; on failure records "WHAT failed: <output tail>" and returns -EIO. env ("NAME=value",
 * may be NULL) is added to the agent's environment, input (may be NULL) is the tool's stdin. */
int agent_run_full(struct agent *a, const char *what, char *const argv[], char *const env[], const char *input,
		   char **ret_output);
int agent_run(struct agent *a, const char *what, char *const argv[], char **ret_output);
int agent_run_input(struct agent *a, const char *what, char *const argv[], const char *input, char **ret_output);
