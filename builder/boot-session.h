/* One test boot as a session: QEMU, its serial console, ssh attempts and the deadline, driven by one poll loop. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "qemu.h"

#define BOOT_QEMU_OUTPUT_MAX 16384 /* the start of what QEMU says is what explains a failure */

/* What the verb asks for; the strings are the caller's and outlive the session. */
struct boot_options {
	const char *image;
	const char *expect;      /* text to wait for on the serial console, or NULL */
	const char *ssh_key;     /* then ssh in with this key until it works, or NULL */
	const char *user;        /* for ssh */
	const char *user_from;   /* where the name came from ("given with --user", "the rig user in the
				  * image's manifest X"), for messages */
	const char *ssh_command; /* run over ssh once ssh works (output to stdout), or NULL */
	const struct qemu_forward *forwards; /* the user's; the ssh forward comes first */
	size_t n_forwards;
	uint64_t timeout_s;      /* for the whole boot, KVM probe and restarts included */
	const char *log_path;    /* the serial log; NULL: one in the session's temporary directory */
	uint64_t memory_mib;
	bool bios;
	bool cdrom;
	bool writable;
	bool power_cut;          /* after the checks, SIGKILL QEMU at once */
	const char *const *disks; /* more disks after the image (--disk) */
	size_t n_disks;
	const char *efivars;     /* UEFI variables kept across boots, made from the firmware's template when
				  * absent; NULL: a fresh copy of the template for each boot */
	bool secure_boot;        /* QEMU_OVMF_CODE_SECBOOT + QEMU_OVMF_VARS_SECBOOT */
};

/* The checks in the order they are made; a check not asked for is skipped. */
enum boot_phase {
	BOOT_PHASE_EXPECT,      /* waiting for the text on the serial console */
	BOOT_PHASE_SSH,         /* trying ssh until it works */
	BOOT_PHASE_SSH_COMMAND, /* the --ssh-command runs */
	BOOT_PHASE_POWEROFF,    /* no check asked for: waiting for the guest to power off */
	BOOT_PHASE_DONE,        /* every check passed */
	BOOT_PHASE_FAILED,      /* one failed; the session's failure says which */
};

/* The phase a boot starts in, and the one after phase has passed. */
enum boot_phase boot_phase_first(const struct boot_options *o);
enum boot_phase boot_phase_after(enum boot_phase phase, const struct boot_options *o);

/* What to do about QEMU's output (so far, or all of it once QEMU exited) under this accelerator. */
enum boot_kvm_action {
	BOOT_KVM_FINE,        /* no sign that KVM failed, or not running under KVM */
	BOOT_KVM_RESTART_TCG, /* KVM failed and it was our own choice: boot again under TCG */
	BOOT_KVM_GIVE_UP,     /* KVM failed and MLRIG_ACCEL asked for it: the boot failed */
};
/* *ret_marker (the words QEMU used) is set unless the answer is BOOT_KVM_FINE. */
enum boot_kvm_action boot_kvm_decide(enum qemu_accel accel, bool accel_forced, const char *qemu_output,
				     const char **ret_marker);

/* The failure texts: "expected text not seen within 20 s ('X')", "ssh did not succeed within
 * 60 s; last ssh error: ..." (ssh_error, may be NULL, is shown whatever the phase), and
 * "QEMU exited with status 1 after 3.2 s before ssh succeeded; QEMU said: ..." (qemu_said may be NULL). */
int boot_timeout_message(enum boot_phase phase, uint64_t timeout_s, const char *expect, const char *ssh_error,
			 char **ret);
int boot_qemu_exit_message(enum boot_phase phase, int status, uint64_t elapsed_ms, const char *qemu_said,
			   char **ret);

/* Whether an ssh attempt's complaint is the server refusing the key ("Permission denied
 * (publickey)"): sshd is up and says no, so the boot fails at once instead of at the timeout. */
bool boot_ssh_refused(const char *ssh_error);
/* "the guest refused the key K for user 'U' (ssh: ...); the user is FROM: give --user ..." */
int boot_ssh_refused_message(const char *key, const char *user, const char *user_from, const char *ssh_error,
			     char **ret);

static inline double boot_seconds(uint64_t ms) {
	return (double)ms / 1000.0;
}

struct boot_session {
	const struct boot_options *opts;
	char *tmpdir;
	char *vars_path;    /* this boot's copy of the UEFI variables (the KVM probe's, with --efivars) */
	char *serial_path;
	char *ssh_err_path; /* what the last ssh attempt said */
	struct qemu_forward *forwards; /* [0] is ssh, then the user's */
	uint16_t ssh_port;
	struct qemu_config config;     /* config.accel: the accelerator of the QEMU now running */
	bool accel_forced;             /* MLRIG_ACCEL chose it: no fallback to TCG */

	int sig_fd;
	sigset_t saved_mask;
	bool mask_saved;

	struct {
		pid_t pid;
		int out_fd;     /* QEMU's stdout + stderr */
		char out[BOOT_QEMU_OUTPUT_MAX + 1];
		size_t out_fill;
	} qemu;
	struct {
		int fd;         /* our reader of the serial log */
		struct expect_matcher expect;
		bool echo;      /* the console is copied to stdout (a terminal) */
		bool mid_line;  /* and the copy stopped in the middle of a line */
	} serial;
	struct {
		pid_t pid;      /* an attempt, or the ssh command */
		unsigned attempts;
		uint64_t started_ms, next_ms;
	} ssh;

	enum boot_phase phase;
	uint64_t deadline_ms;
	uint64_t t0_ms;  /* when this QEMU started; the times below count from it */
	uint64_t expect_ms, ssh_ms, total_ms;
	char *failure;   /* why the boot failed (a check, not an error); NULL when out of memory */
};

/* The UEFI variable template the options boot with: QEMU_OVMF_VARS or, for Secure Boot, QEMU_OVMF_VARS_SECBOOT. */
const char *boot_vars_template(const struct boot_options *o);

/* Temporary directory and files, --efivars made when absent, a free port for ssh, the QEMU configuration, and SIGINT,
 * SIGTERM, SIGHUP, SIGCHLD taken through a signalfd so that every way out goes through
 * boot_session_stop() and boot_session_release(). The deadline starts now. Call
 * boot_session_release() whatever it returns. */
int boot_session_init(struct boot_session *s, const struct boot_options *o, char **ret_error);

/* Runs qemu_probe_kvm() on the session's configuration, with OVMF when it is installed
 * (it trips a half-working KVM sooner than SeaBIOS alone); returns as qemu_probe_kvm(). */
int boot_session_probe_kvm(struct boot_session *s, unsigned probe_ms, char **ret_reason);
void boot_session_set_accel(struct boot_session *s, enum qemu_accel accel, bool forced);

/* Boots and runs the checks. Returns 1 when all passed, 0 when one failed (s->failure),
 * -errno on an error (*ret_error). Says at info level how the boot goes ("Seen ... after",
 * "ssh works after", a warning when it restarts under TCG): the verb's progress lines. */
int boot_session_run(struct boot_session *s, char **ret_error);

/* Stops ssh and QEMU. After a pass QEMU gets SIGTERM (--power-cut: SIGKILL at once) and the
 * console is read to its end; after a failure it gets a short grace, so the log is complete. */
void boot_session_stop(struct boot_session *s, bool passed);

/* Kills what still runs, removes the temporary files; the serial log stays when keep_log. */
void boot_session_release(struct boot_session *s, bool keep_log);
