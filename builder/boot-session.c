/* One test boot as a session: QEMU, its serial console, ssh attempts and the deadline, driven by one poll loop. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot-session.h"
#include "error.h"
#include "fileio.h"
#include "fs-util.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"
#include "time-util.h"

#define POLL_MAX_MS 100 /* the serial log is a file: poll cannot say when it grows */
#define SSH_RETRY_MS 2000
#define SSH_ATTEMPT_MAX_MS 30000

enum boot_phase boot_phase_first(const struct boot_options *o) {
	return o->expect ? BOOT_PHASE_EXPECT : o->ssh_key ? BOOT_PHASE_SSH : BOOT_PHASE_POWEROFF;
}

enum boot_phase boot_phase_after(enum boot_phase phase, const struct boot_options *o) {
	switch (phase) {
	case BOOT_PHASE_EXPECT:
		return o->ssh_key ? BOOT_PHASE_SSH : BOOT_PHASE_DONE;
	case BOOT_PHASE_SSH:
		return o->ssh_command ? BOOT_PHASE_SSH_COMMAND : BOOT_PHASE_DONE;
	case BOOT_PHASE_SSH_COMMAND:
	case BOOT_PHASE_POWEROFF:
		return BOOT_PHASE_DONE;
	default:
		return phase;
	}
}

enum boot_kvm_action boot_kvm_decide(enum qemu_accel accel, bool accel_forced, const char *qemu_output,
				     const char **ret_marker) {
	const char *marker;

	if (accel != QEMU_ACCEL_KVM)
		return BOOT_KVM_FINE;
	marker = qemu_find_kvm_failure(qemu_output);
	if (!marker)
		return BOOT_KVM_FINE;
	*ret_marker = marker;
	return accel_forced ? BOOT_KVM_GIVE_UP : BOOT_KVM_RESTART_TCG;
}

int boot_timeout_message(enum boot_phase phase, uint64_t timeout_s, const char *expect, const char *ssh_error,
			 char **ret) {
	const char *what = phase == BOOT_PHASE_EXPECT        ? "expected text not seen"
			   : phase == BOOT_PHASE_SSH         ? "ssh did not succeed"
			   : phase == BOOT_PHASE_SSH_COMMAND ? "ssh command did not finish"
							     : "guest did not power off";
	bool quote = phase == BOOT_PHASE_EXPECT && expect;
	char *m = NULL;

	if (asprintf(&m, "%s within %" PRIu64 " s%s%s%s%s%s", what, timeout_s, quote ? " ('" : "",
		     quote ? expect : "", quote ? "')" : "", ssh_error ? "; last ssh error: " : "",
		     ssh_error ? ssh_error : "") < 0)
		return -ENOMEM;
	*ret = m;
	return 0;
}

int boot_qemu_exit_message(enum boot_phase phase, int status, uint64_t elapsed_ms, const char *qemu_said,
			   char **ret) {
	const char *before = phase == BOOT_PHASE_EXPECT        ? " before the expected text was seen"
			     : phase == BOOT_PHASE_SSH         ? " before ssh succeeded"
			     : phase == BOOT_PHASE_SSH_COMMAND ? " before the ssh command finished"
			     : phase == BOOT_PHASE_POWEROFF    ? ""
							       : " before ";
	char how[64], *m = NULL;

	process_status_to_string(status, how, sizeof(how));
	if (asprintf(&m, "QEMU %s after %.1f s%s%s%s", how, boot_seconds(elapsed_ms), before,
		     qemu_said ? "; QEMU said: " : "", qemu_said ? qemu_said : "") < 0)
		return -ENOMEM;
	*ret = m;
	return 0;
}

bool boot_ssh_refused(const char *ssh_error) {
	const char *p = ssh_error ? strstr(ssh_error, "Permission denied (") : NULL;

	/* "demo@127.0.0.1: Permission denied (publickey)." or "(publickey,password)." */
	return p && strstr(p, "publickey");
}

int boot_ssh_refused_message(const char *key, const char *user, const char *user_from, const char *ssh_error,
			     char **ret) {
	char *m = NULL;

	if (asprintf(&m, "the guest refused the key %s for user '%s' (ssh: %s); the user is %s: "
		     "give --user NAME to log in as another user, or --ssh a key in %s's authorized_keys",
		     key, user, ssh_error, user_from ? user_from : "?", user) < 0)
		return -ENOMEM;
	*ret = m;
	return 0;
}

/* The check failed: says why (NULL when out of memory) and ends the boot. */
_printf_(2, 3) static void boot_fail(struct boot_session *s, const char *fmt, ...) {
	va_list ap;

	va_start(ap, fmt);
	(void)set_errorv(&s->failure, 0, fmt, ap);
	va_end(ap);
	s->phase = BOOT_PHASE_FAILED;
}

static void boot_fail_with(struct boot_session *s, char *message) {
	free(s->failure);
	s->failure = message;
	s->phase = BOOT_PHASE_FAILED;
}

static bool boot_finished(const struct boot_session *s) {
	return s->phase == BOOT_PHASE_DONE || s->phase == BOOT_PHASE_FAILED;
}

static int copy_file(const char *from, const char *to) {
	_cleanup_free_ char *data = NULL;
	_cleanup_close_ int fd = -1;
	size_t size;
	int r;

	r = read_full_file(from, &data, &size);
	if (r < 0)
		return r;
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	return loop_write(fd, data, size);
}

static int path_in(const char *dir, const char *name, char **ret) {
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	*ret = p;
	return 0;
}

static int boot_session_files(struct boot_session *s, char **ret_error) {
	int r;

	r = make_tmpdir("mlrig-boot", &s->tmpdir);
	if (r < 0)
		return set_error(ret_error, r, "Failed to create a temporary directory: %m");
	if (path_in(s->tmpdir, "OVMF_VARS.fd", &s->vars_path) < 0 ||
	    path_in(s->tmpdir, "ssh.err", &s->ssh_err_path) < 0 ||
	    (s->opts->log_path ? !(s->serial_path = strdup(s->opts->log_path))
			       : path_in(s->tmpdir, "serial.log", &s->serial_path) < 0))
		return set_error(ret_error, -ENOMEM, "Out of memory.");
	return 0;
}

const char *boot_vars_template(const struct boot_options *o) {
	return o->secure_boot ? QEMU_OVMF_VARS_SECBOOT : QEMU_OVMF_VARS;
}

/* --efivars: made from the template the first time; a file from the other firmware (the 2 MiB
 * store without Secure Boot, the 4 MiB one with it) is refused before QEMU says something obscure. */
static int boot_session_efivars(struct boot_session *s, char **ret_error) {
	const char *template = boot_vars_template(s->opts), *path = s->opts->efivars;
	_cleanup_free_ char *data = NULL;
	struct stat st, tst;
	size_t size;
	int r;

	if (!path || s->opts->bios)
		return 0;
	if (stat(template, &tst) < 0)
		return set_error(ret_error, negative_errno(), "Failed to access the UEFI variable template '%s': %m", template);
	if (stat(path, &st) == 0) {
		if (st.st_size != tst.st_size)
			return set_error(ret_error, -EINVAL,
					 "--efivars %s holds %jd bytes, the template %s %jd: it belongs to the firmware %s --secure-boot",
					 path, (intmax_t)st.st_size, template, (intmax_t)tst.st_size,
					 s->opts->secure_boot ? "without" : "with");
		return 0;
	}
	if (errno != ENOENT)
		return set_error(ret_error, negative_errno(), "Failed to access --efivars %s: %m", path);
	r = read_full_file(template, &data, &size);
	if (r >= 0)
		r = write_file_atomic(path, data, size, 0644);
	if (r < 0)
		return set_error(ret_error, r, "Failed to create --efivars %s from %s: %m", path, template);
	log_info("UEFI variables: created %s from %s.", path, template);
	return 0;
}

static int boot_session_signals(struct boot_session *s, char **ret_error) {
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, &s->saved_mask) < 0)
		return set_error(ret_error, negative_errno(), "Failed to block signals: %m");
	s->mask_saved = true;
	sigdelset(&mask, SIGPIPE);
	s->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sig_fd < 0)
		return set_error(ret_error, negative_errno(), "Failed to create a signalfd: %m");
	return 0;
}

int boot_session_init(struct boot_session *s, const struct boot_options *o, char **ret_error) {
	long ncpu;
	int r;

	*s = (struct boot_session){ .opts = o, .sig_fd = -1, .qemu.out_fd = -1, .serial.fd = -1 };
	s->t0_ms = now_ms();
	s->deadline_ms = s->t0_ms + o->timeout_s * 1000;

	r = boot_session_files(s, ret_error);
	if (r >= 0)
		r = boot_session_efivars(s, ret_error);
	if (r < 0)
		return r;

	/* forwards[0] is ssh; the user's come after it. */
	s->forwards = calloc(o->n_forwards + 1, sizeof(struct qemu_forward));
	if (!s->forwards)
		return set_error(ret_error, -ENOMEM, "Out of memory.");
	r = qemu_find_free_port(&s->ssh_port);
	if (r < 0)
		return set_error(ret_error, r, "Failed to find a free local port for ssh: %m");
	s->forwards[0] = (struct qemu_forward){ .host = s->ssh_port, .guest = 22 };
	for (size_t i = 0; i < o->n_forwards; i++)
		s->forwards[i + 1] = o->forwards[i];

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s->config = (struct qemu_config){
		.image = o->image,
		.cdrom = o->cdrom,
		.firmware = o->bios ? QEMU_FIRMWARE_BIOS : QEMU_FIRMWARE_OVMF,
		.writable = o->writable,
		.disks = o->disks,
		.n_disks = o->n_disks,
		.ovmf_code = o->secure_boot ? QEMU_OVMF_CODE_SECBOOT : QEMU_OVMF_CODE,
		.ovmf_vars = o->efivars ? o->efivars : s->vars_path,
		.secure_boot = o->secure_boot,
		.memory_mib = o->memory_mib,
		.cpus = ncpu >= 2 ? 2 : 1,
		.serial_path = s->serial_path,
		.forwards = s->forwards,
		.n_forwards = o->n_forwards + 1,
	};
	if (o->expect) {
		r = expect_matcher_init(&s->serial.expect, o->expect);
		if (r < 0)
			return set_error(ret_error, r, "Failed to set up the matcher: %m");
	}
	s->serial.echo = isatty(STDOUT_FILENO);
	return boot_session_signals(s, ret_error);
}

int boot_session_probe_kvm(struct boot_session *s, unsigned probe_ms, char **ret_reason) {
	struct qemu_config probe = s->config;

	/* the probe boots plain OVMF too, with its own writable vars file, never the --efivars one */
	probe.secure_boot = false;
	probe.ovmf_code = QEMU_OVMF_CODE;
	probe.ovmf_vars = NULL;
	if (access(QEMU_OVMF_VARS, R_OK) == 0 && copy_file(QEMU_OVMF_VARS, s->vars_path) >= 0)
		probe.ovmf_vars = s->vars_path;
	if (access(QEMU_OVMF_CODE, R_OK) == 0 && probe.ovmf_vars)
		probe.firmware = QEMU_FIRMWARE_OVMF;
	return qemu_probe_kvm(&probe, probe_ms, ret_reason);
}

void boot_session_set_accel(struct boot_session *s, enum qemu_accel accel, bool forced) {
	s->config.accel = accel;
	s->accel_forced = forced;
}

static void boot_kill_ssh(struct boot_session *s) {
	process_kill_and_wait(s->ssh.pid, 0);
	s->ssh.pid = 0;
}

static void boot_kill_qemu(struct boot_session *s, unsigned grace_ms) {
	process_kill_and_wait(s->qemu.pid, grace_ms);
	s->qemu.pid = 0;
}

/* A fresh serial log for this QEMU, truncated by us, not QEMU, so our reader starts at offset 0. */
static int boot_reset_serial(struct boot_session *s, char **ret_error) {
	_cleanup_close_ int trunc_fd = -1;

	trunc_fd = open(s->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (trunc_fd < 0)
		return set_error(ret_error, negative_errno(), "Failed to create serial log '%s': %m", s->serial_path);
	if (s->serial.fd < 0) {
		s->serial.fd = open(s->serial_path, O_RDONLY | O_CLOEXEC);
		if (s->serial.fd < 0)
			return set_error(ret_error, negative_errno(), "Failed to open serial log '%s': %m",
					 s->serial_path);
	} else if (lseek(s->serial.fd, 0, SEEK_SET) < 0)
		return set_error(ret_error, negative_errno(), "Failed to rewind serial log '%s': %m", s->serial_path);
	expect_matcher_reset(&s->serial.expect);
	s->serial.mid_line = false;
	return 0;
}

/* A new pipe for QEMU's stdout + stderr; returns the write end for QEMU. */
static int boot_reset_qemu_output(struct boot_session *s, char **ret_error) {
	int fds[2];

	s->qemu.out_fd = safe_close(s->qemu.out_fd);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return set_error(ret_error, negative_errno(), "Failed to create a pipe: %m");
	s->qemu.out_fd = fds[0];
	if (fcntl(s->qemu.out_fd, F_SETFL, O_NONBLOCK) < 0) {
		safe_close(fds[1]);
		return set_error(ret_error, negative_errno(), "Failed to make a pipe non-blocking: %m");
	}
	s->qemu.out_fill = 0;
	s->qemu.out[0] = 0;
	return fds[1];
}

/* Starts QEMU with s->config: a fresh serial log, a fresh copy of the UEFI variables (unless they
 * are kept with --efivars), all checks from the first. */
static int boot_start(struct boot_session *s, char **ret_error) {
	const char *template = boot_vars_template(s->opts);
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_close_ int wfd = -1;
	int r;

	if (s->config.firmware == QEMU_FIRMWARE_OVMF && !s->opts->efivars) {
		r = copy_file(template, s->vars_path);
		if (r < 0)
			return set_error(ret_error, r, "Failed to copy '%s' to '%s': %m", template, s->vars_path);
	}
	r = boot_reset_serial(s, ret_error);
	if (r < 0)
		return r;
	r = qemu_build_argv(&s->config, &argv);
	if (r < 0)
		return set_error(ret_error, r, "Failed to build the QEMU command line: %m");
	if (log_get_max_level() >= LOG_LEVEL_DEBUG) {
		fputs("mlrig: running:", stderr);
		for (char **a = argv; *a; a++)
			fprintf(stderr, " %s", *a);
		fputc('\n', stderr);
	}
	wfd = boot_reset_qemu_output(s, ret_error);
	if (wfd < 0)
		return wfd;
	r = process_spawn(&(struct process_options){
				  .argv = argv, .stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_FD, .stdout_fd = wfd,
				  .stderr_mode = PROCESS_TO_STDOUT, .new_process_group = true,
			  }, &s->qemu.pid);
	if (r < 0)
		return set_error(ret_error, r, "Failed to start %s: %m", argv[0]);

	s->phase = boot_phase_first(s->opts);
	s->t0_ms = now_ms();
	s->ssh.next_ms = 0;
	s->ssh.attempts = 0;
	return 0;
}

/* KVM failed where the probe said it works: the same boot again, from the start, under TCG.
 * Returns 1: what this round saw belongs to the QEMU that is gone. */
static int boot_restart_tcg(struct boot_session *s, const char *marker, char **ret_error) {
	int r;

	log_warning("KVM failed during boot (QEMU: \"%s\"), restarting with TCG.", marker);
	boot_kill_qemu(s, 2000);
	boot_kill_ssh(s);
	s->config.accel = QEMU_ACCEL_TCG;
	r = boot_start(s, ret_error);
	return r < 0 ? r : 1;
}

/* Reads what QEMU wrote to its stdout/stderr; keeps the start for error messages.
 * Returns true when it read something. */
static bool boot_read_qemu_output(struct boot_session *s) {
	char buf[4096];

	for (;;) {
		ssize_t n = read(s->qemu.out_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno != EAGAIN)
				s->qemu.out_fd = safe_close(s->qemu.out_fd);
			return false;
		}
		log_debug("qemu: %.*s", (int)n, buf);
		if (s->qemu.out_fill < BOOT_QEMU_OUTPUT_MAX) {
			size_t k = MIN((size_t)n, BOOT_QEMU_OUTPUT_MAX - s->qemu.out_fill);

			memcpy(s->qemu.out + s->qemu.out_fill, buf, k);
			s->qemu.out_fill += k;
			s->qemu.out[s->qemu.out_fill] = 0;
		}
		return true; /* one read per wake-up; poll tells us about the rest */
	}
}

/* Reads new serial output, echoes it to a terminal; returns true once the expected text was seen. */
static bool boot_read_serial(struct boot_session *s) {
	char buf[65536];
	bool seen = false;

	for (;;) {
		ssize_t n = read(s->serial.fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (s->serial.echo) {
			(void)loop_write(STDOUT_FILENO, buf, (size_t)n);
			s->serial.mid_line = buf[n - 1] != '\n';
		}
		if (s->serial.expect.len > 0 && expect_matcher_feed(&s->serial.expect, buf, (size_t)n))
			seen = true;
	}
	return seen || s->serial.expect.found;
}

static char **ssh_argv(const struct boot_session *s, const char *command) {
	char port[8], *user_host = NULL, **v;

	snprintf(port, sizeof(port), "%u", (unsigned)s->ssh_port);
	if (asprintf(&user_host, "%s@127.0.0.1", s->opts->user) < 0)
		return NULL;
	{
		const char *a[] = {
			"ssh", "-F", "none", "-i", s->opts->ssh_key, "-p", port,
			"-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null",
			"-o", "GlobalKnownHostsFile=/dev/null",
			"-o", "BatchMode=yes",
			"-o", "ConnectTimeout=5",
			"-o", "IdentitiesOnly=yes",
			"-o", "LogLevel=ERROR",
			user_host, command, NULL,
		};
		v = calloc(ELEMENTSOF(a), sizeof(char *));
		if (!v) {
			free(user_host);
			return NULL;
		}
		for (size_t i = 0; a[i]; i++) {
			v[i] = a[i] == user_host ? user_host : strdup(a[i]);
			if (!v[i]) {
				if (a[i] == user_host)
					user_host = NULL;
				strv_freep(&v);
				free(user_host);
				return NULL;
			}
		}
	}
	return v;
}

/* capture: an attempt ("true"), its stderr kept for the failure message; else the user's
 * command, its output on ours. */
static int boot_spawn_ssh(struct boot_session *s, const char *command, bool capture, char **ret_error) {
	_cleanup_strv_free_ char **argv = ssh_argv(s, command);
	_cleanup_close_ int err_fd = -1;
	int r;

	if (!argv)
		return set_error(ret_error, -ENOMEM, "Out of memory.");
	if (capture) {
		err_fd = open(s->ssh_err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (err_fd < 0)
			return set_error(ret_error, negative_errno(), "Failed to create '%s': %m", s->ssh_err_path);
	}
	r = process_spawn(&(struct process_options){
				  .argv = argv, .stdin_mode = PROCESS_NULL,
				  .stdout_mode = capture ? PROCESS_NULL : PROCESS_INHERIT,
				  .stderr_mode = capture ? PROCESS_FD : PROCESS_INHERIT, .stderr_fd = err_fd,
				  .new_process_group = true,
			  }, &s->ssh.pid);
	if (r < 0)
		return set_error(ret_error, r, "Failed to start ssh: %m");
	return 0;
}

/* The last ssh attempt's complaint, one line, for the failure message. */
static char *boot_ssh_error(const struct boot_session *s) {
	_cleanup_free_ char *data = NULL;
	char *line, *nl;
	size_t size;

	if (read_full_file(s->ssh_err_path, &data, &size) < 0)
		return NULL;
	line = string_strip(data);
	nl = strrchr(line, '\n');
	if (nl)
		line = string_strip(nl + 1);
	return *line ? strdup(line) : NULL;
}

/* Event: a signal arrived. Anything but SIGCHLD (a child exited; its handler looks) ends the boot. */
static void on_signal(struct boot_session *s) {
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGCHLD) {
			boot_fail(s, "interrupted by %s", strsignal((int)si.ssi_signo));
			return;
		}
}

/* Event: QEMU wrote to its stdout/stderr; it may be saying that KVM failed. */
static int on_qemu_output(struct boot_session *s, char **ret_error) {
	const char *marker;

	(void)boot_read_qemu_output(s);
	switch (boot_kvm_decide(s->config.accel, s->accel_forced, s->qemu.out, &marker)) {
	case BOOT_KVM_RESTART_TCG:
		return boot_restart_tcg(s, marker, ret_error);
	case BOOT_KVM_GIVE_UP:
		boot_fail(s, "KVM failed (QEMU: \"%s\"); try MLRIG_ACCEL=tcg", marker);
		return 0;
	default:
		return 0;
	}
}

/* Event: console output arrived (or not: the log is a file, read each round). */
static void on_serial(struct boot_session *s) {
	if (!boot_read_serial(s) || s->phase != BOOT_PHASE_EXPECT)
		return;
	s->expect_ms = now_ms() - s->t0_ms;
	log_info("Seen '%s' after %.1f s.", s->opts->expect, boot_seconds(s->expect_ms));
	s->phase = boot_phase_after(s->phase, s->opts);
}

/* Event: an ssh attempt or the ssh command finished. */
static int on_ssh_exit(struct boot_session *s, int status, char **ret_error) {
	_cleanup_free_ char *e = NULL;
	char how[64];

	s->ssh.pid = 0;
	if (s->phase == BOOT_PHASE_SSH_COMMAND) {
		if (status == 0)
			s->phase = boot_phase_after(s->phase, s->opts);
		else
			boot_fail(s, "ssh command '%s' %s", s->opts->ssh_command,
				  process_status_to_string(status, how, sizeof(how)));
		return 0;
	}
	if (s->phase != BOOT_PHASE_SSH)
		return 0;
	if (status != 0) {
		e = boot_ssh_error(s);
		log_debug("ssh attempt %u failed: %s", s->ssh.attempts, e ? e : "(no message)");
		/* sshd runs and says no: trying again until the timeout would not change its mind */
		if (boot_ssh_refused(e)) {
			char *m = NULL;

			(void)boot_ssh_refused_message(s->opts->ssh_key, s->opts->user, s->opts->user_from, e, &m);
			boot_fail_with(s, m);
			return 0;
		}
		s->ssh.next_ms = now_ms() + SSH_RETRY_MS;
		return 0;
	}
	s->ssh_ms = now_ms() - s->t0_ms;
	log_info("ssh works after %.1f s (%u attempts).", boot_seconds(s->ssh_ms), s->ssh.attempts);
	s->phase = boot_phase_after(s->phase, s->opts);
	if (s->phase == BOOT_PHASE_SSH_COMMAND)
		return boot_spawn_ssh(s, s->opts->ssh_command, false, ret_error);
	return 0;
}

/* Event: an ssh attempt hangs (the guest accepted the connection and said nothing). */
static void on_ssh_hung(struct boot_session *s) {
	log_debug("ssh attempt %u hangs, killing it.", s->ssh.attempts);
	boot_kill_ssh(s);
	s->ssh.next_ms = now_ms() + SSH_RETRY_MS;
}

/* Event: the pause after a failed ssh attempt is over (or the ssh phase began). */
static int on_ssh_due(struct boot_session *s, char **ret_error) {
	int r;

	r = boot_spawn_ssh(s, "true", true, ret_error);
	if (r < 0)
		return r;
	s->ssh.started_ms = now_ms();
	s->ssh.attempts++;
	return 0;
}

/* Event: QEMU exited. Fine when the guest powered off and that was the check, or when what it
 * printed last was the expected text and nothing else was asked; KVM's last words mean a restart. */
static int on_qemu_exit(struct boot_session *s, int status, char **ret_error) {
	const char *marker;
	char *m = NULL;

	s->qemu.pid = 0;
	/* what QEMU wrote just before it went */
	while (s->qemu.out_fd >= 0 && boot_read_qemu_output(s))
		;
	on_serial(s);
	if (s->phase == BOOT_PHASE_DONE)
		return 0;
	if (s->phase == BOOT_PHASE_POWEROFF && status == 0) {
		s->phase = boot_phase_after(s->phase, s->opts);
		return 0;
	}
	if (boot_kvm_decide(s->config.accel, s->accel_forced, s->qemu.out, &marker) == BOOT_KVM_RESTART_TCG)
		return boot_restart_tcg(s, marker, ret_error);
	(void)boot_qemu_exit_message(s->phase, status, now_ms() - s->t0_ms,
				     s->qemu.out_fill ? string_strip(s->qemu.out) : NULL, &m);
	boot_fail_with(s, m);
	return 0;
}

/* Event: the deadline passed. */
static void on_deadline(struct boot_session *s) {
	_cleanup_free_ char *ssh_err = s->phase == BOOT_PHASE_SSH ? boot_ssh_error(s) : NULL;
	char *m = NULL;

	(void)boot_timeout_message(s->phase, s->opts->timeout_s, s->opts->expect, ssh_err, &m);
	boot_fail_with(s, m);
}

/* One round: wait up to POLL_MAX_MS for a signal or QEMU output, then look at each source in
 * turn. Returns <0 on an error, 1 when QEMU was restarted, else 0. */
static int boot_session_step(struct boot_session *s, char **ret_error) {
	struct pollfd p[2] = {
		{ .fd = s->sig_fd, .events = POLLIN },
		{ .fd = s->qemu.out_fd, .events = POLLIN },
	};
	uint64_t t = now_ms();
	int status, r;

	if (t >= s->deadline_ms) {
		on_deadline(s);
		return 0;
	}
	r = poll(p, s->qemu.out_fd >= 0 ? 2 : 1, (int)MIN(s->deadline_ms - t, (uint64_t)POLL_MAX_MS));
	if (r < 0 && errno != EINTR)
		return set_error(ret_error, negative_errno(), "Failed to poll: %m");
	if (p[0].revents & POLLIN) {
		on_signal(s);
		if (boot_finished(s))
			return 0;
	}
	if (s->qemu.out_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP))) {
		r = on_qemu_output(s, ret_error);
		if (r != 0 || boot_finished(s))
			return r;
	}
	on_serial(s);
	if (boot_finished(s))
		return 0;
	if (s->ssh.pid > 0 && process_try_wait(s->ssh.pid, &status) > 0) {
		r = on_ssh_exit(s, status, ret_error);
		if (r < 0 || boot_finished(s))
			return r;
	}
	if (s->phase == BOOT_PHASE_SSH && s->ssh.pid > 0 && now_ms() - s->ssh.started_ms > SSH_ATTEMPT_MAX_MS)
		on_ssh_hung(s);
	if (s->phase == BOOT_PHASE_SSH && s->ssh.pid <= 0 && now_ms() >= s->ssh.next_ms) {
		r = on_ssh_due(s, ret_error);
		if (r < 0)
			return r;
	}
	if (s->qemu.pid > 0 && process_try_wait(s->qemu.pid, &status) > 0)
		return on_qemu_exit(s, status, ret_error);
	return 0;
}

int boot_session_run(struct boot_session *s, char **ret_error) {
	int r;

	r = boot_start(s, ret_error);
	if (r < 0)
		return r;
	while (!boot_finished(s)) {
		r = boot_session_step(s, ret_error);
		if (r < 0)
			return r;
	}
	return s->phase == BOOT_PHASE_DONE;
}

void boot_session_stop(struct boot_session *s, bool passed) {
	s->total_ms = now_ms() - s->t0_ms;
	boot_kill_ssh(s);
	/* A clean shutdown is not part of the check: SIGTERM makes QEMU quit at once; --power-cut:
	 * no grace at all, like pulling the plug. After a failure a little grace, so that the log
	 * is complete when we point at it. */
	boot_kill_qemu(s, !passed ? 5000 : s->opts->power_cut ? 0 : 10000);
	if (passed && s->serial.fd >= 0)
		(void)boot_read_serial(s);
	if (s->serial.echo && s->serial.mid_line)
		fputs("\033[0m\n", stdout);
	fflush(stdout);
}

void boot_session_release(struct boot_session *s, bool keep_log) {
	boot_kill_ssh(s);
	boot_kill_qemu(s, 5000);
	s->serial.fd = safe_close(s->serial.fd);
	s->qemu.out_fd = safe_close(s->qemu.out_fd);
	s->sig_fd = safe_close(s->sig_fd);
	if (s->mask_saved)
		sigprocmask(SIG_SETMASK, &s->saved_mask, NULL);
	s->mask_saved = false;
	if (s->vars_path)
		(void)unlink(s->vars_path);
	if (s->ssh_err_path)
		(void)unlink(s->ssh_err_path);
	if (s->tmpdir) {
		bool log_inside = s->serial_path && string_has_prefix(s->serial_path, s->tmpdir);

		if (log_inside && !keep_log)
			(void)unlink(s->serial_path);
		if (!log_inside || !keep_log)
			(void)rmdir(s->tmpdir);
	}
	expect_matcher_release(&s->serial.expect);
	free(s->tmpdir);
	free(s->vars_path);
	free(s->serial_path);
	free(s->ssh_err_path);
	free(s->forwards);
	free(s->failure);
	s->tmpdir = s->vars_path = s->serial_path = s->ssh_err_path = s->failure = NULL;
	s->forwards = NULL;
}
