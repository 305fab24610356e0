/* mlrig boot: boot an image in QEMU, headless, and check it came up (serial text, ssh). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"
#include "qemu.h"
#include "time-util.h"
#include "verbs.h"

#define DEFAULT_TIMEOUT_S 300
#define DEFAULT_MEMORY_MIB 1024
#ifndef KVM_PROBE_MS
#define KVM_PROBE_MS 3000 /* long enough for a broken KVM to fail in OVMF's first instructions */
#endif
#define SSH_RETRY_MS 2000
#define SSH_ATTEMPT_MAX_MS 30000
#define QEMU_OUTPUT_MAX 16384

static const char *arg_image;
static const char *arg_expect;
static const char *arg_ssh_key;
static const char *arg_user;
static const char *arg_ssh_command;
static struct qemu_forward *arg_forwards;
static size_t arg_n_forwards;
static uint64_t arg_timeout_s = DEFAULT_TIMEOUT_S;
static const char *arg_log;
static uint64_t arg_memory_mib = DEFAULT_MEMORY_MIB;
static bool arg_bios;
static bool arg_writable;
static bool arg_power_cut;
static bool arg_cdrom;

static void help(void) {
	printf("Usage:\n"
	       " mlrig boot IMAGE [options]\n"
	       "\n"
	       "Boot a disk image in QEMU, headless, and check that it comes up.\n"
	       "The image is never modified (guest writes go to a temporary overlay).\n"
	       "\n"
	       "Options:\n"
	       "     --expect TEXT            succeed once TEXT appears on the serial console\n"
	       "     --ssh KEYFILE            then ssh in with this private key until it works\n"
	       "     --user NAME              user for --ssh (default: $MLRIG_BOOT_USER or 'user')\n"
	       "     --ssh-command CMD        run CMD over ssh instead of 'true'; output to stdout\n"
	       "     --forward HOST:GUEST     also forward 127.0.0.1:HOST to the guest's TCP port\n"
	       "                              GUEST (repeatable)\n"
	       "     --timeout SECONDS        bound for the whole boot (default %d)\n"
	       "     --log FILE               write the serial console to FILE (default: a temporary\n"
	       "                              file, kept only on failure)\n"
	       "     --memory MiB             guest memory (default %d)\n"
	       "     --bios                   boot with SeaBIOS instead of OVMF (UEFI)\n"
	       "     --cdrom                  attach IMAGE as a CD-ROM (an ISO) instead of a disk\n"
	       "     --writable               let the guest write to IMAGE (default: a snapshot;\n"
	       "                              use on a copy, e.g. for power-cut tests)\n"
	       "     --power-cut              after the checks, kill QEMU with SIGKILL at once\n"
	       " -h, --help                   display this help\n"
	       "\n"
	       "Without --expect or --ssh, runs until the guest powers off or the timeout.\n"
	       "Environment: MLRIG_ACCEL=kvm|tcg forces the accelerator (default: KVM when a\n"
	       "short probe shows it works, else TCG).\n"
	       "Exit status: 0 all checks passed, 1 a check failed, 2 usage or bad input.\n",
	       DEFAULT_TIMEOUT_S, DEFAULT_MEMORY_MIB);
}

static void reset_args(void) {
	free(arg_forwards);
	arg_forwards = NULL;
	arg_n_forwards = 0;
	arg_image = arg_expect = arg_ssh_key = arg_user = arg_ssh_command = arg_log = NULL;
	arg_timeout_s = DEFAULT_TIMEOUT_S;
	arg_memory_mib = DEFAULT_MEMORY_MIB;
	arg_bios = false;
	arg_writable = arg_power_cut = false;
	arg_cdrom = false;
}

static int parse_argv(int argc, char **argv) {
	enum {
		ARG_EXPECT = 0x100,
		ARG_SSH,
		ARG_USER,
		ARG_SSH_COMMAND,
		ARG_FORWARD,
		ARG_TIMEOUT,
		ARG_LOG,
		ARG_MEMORY,
		ARG_BIOS,
		ARG_CDROM,
		ARG_WRITABLE,
		ARG_POWER_CUT,
	};
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "expect", required_argument, NULL, ARG_EXPECT },
		{ "ssh", required_argument, NULL, ARG_SSH },
		{ "user", required_argument, NULL, ARG_USER },
		{ "ssh-command", required_argument, NULL, ARG_SSH_COMMAND },
		{ "forward", required_argument, NULL, ARG_FORWARD },
		{ "timeout", required_argument, NULL, ARG_TIMEOUT },
		{ "log", required_argument, NULL, ARG_LOG },
		{ "memory", required_argument, NULL, ARG_MEMORY },
		{ "bios", no_argument, NULL, ARG_BIOS },
		{ "cdrom", no_argument, NULL, ARG_CDROM },
		{ "writable", no_argument, NULL, ARG_WRITABLE },
		{ "power-cut", no_argument, NULL, ARG_POWER_CUT },
		{}
	};
	int c, r;

	reset_args();
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 0;
		case ARG_EXPECT:
			if (!*optarg)
				return cli_usage_error("boot", "--expect needs a non-empty text");
			arg_expect = optarg;
			break;
		case ARG_SSH:
			arg_ssh_key = optarg;
			break;
		case ARG_USER:
			if (!*optarg)
				return cli_usage_error("boot", "--user needs a name");
			arg_user = optarg;
			break;
		case ARG_SSH_COMMAND:
			arg_ssh_command = optarg;
			break;
		case ARG_FORWARD: {
			struct qemu_forward f, *n;

			if (qemu_parse_forward(optarg, &f) < 0)
				return cli_usage_error("boot", "--forward '%s': expected HOSTPORT:GUESTPORT, ports 1-65535", optarg);
			n = realloc(arg_forwards, (arg_n_forwards + 1) * sizeof(*n));
			if (!n)
				return log_oom();
			arg_forwards = n;
			arg_forwards[arg_n_forwards++] = f;
			break;
		}
		case ARG_TIMEOUT:
			if (safe_atou64(optarg, &arg_timeout_s) < 0 || arg_timeout_s == 0 || arg_timeout_s > 86400)
				return cli_usage_error("boot", "--timeout '%s': expected seconds, 1-86400", optarg);
			break;
		case ARG_LOG:
			if (!*optarg)
				return cli_usage_error("boot", "--log needs a file name");
			arg_log = optarg;
			break;
		case ARG_MEMORY:
			if (safe_atou64(optarg, &arg_memory_mib) < 0 || arg_memory_mib < 64 ||
			    arg_memory_mib > 1024 * 1024)
				return cli_usage_error("boot", "--memory '%s': expected MiB, 64-1048576", optarg);
			break;
		case ARG_WRITABLE:
			arg_writable = true;
			break;
		case ARG_POWER_CUT:
			arg_power_cut = true;
			break;
		case ARG_BIOS:
			arg_bios = true;
			break;
		case ARG_CDROM:
			arg_cdrom = true;
			break;
		default:
			return cli_option_error("boot", c, argv);
		}
	}

	r = cli_positional("boot", argc, argv, (const char *const[]){ "IMAGE" }, 1, 1);
	if (r < 0)
		return r;
	arg_image = argv[optind];
	if (arg_user && !arg_ssh_key)
		return cli_usage_error("boot", "--user needs --ssh");
	if (arg_ssh_command && !arg_ssh_key)
		return cli_usage_error("boot", "--ssh-command needs --ssh");
	for (size_t i = 0; i < arg_n_forwards; i++)
		for (size_t j = i + 1; j < arg_n_forwards; j++)
			if (arg_forwards[i].host == arg_forwards[j].host)
				return cli_usage_error("boot", "host port %u is forwarded twice", (unsigned)arg_forwards[i].host);
	if (!arg_user) {
		const char *e = getenv("MLRIG_BOOT_USER");

		arg_user = e && *e ? e : "user";
	}
	return 1;
}

static double secs(uint64_t ms) {
	return (double)ms / 1000.0;
}

static bool have_program(const char *name) {
	_cleanup_free_ char *path = NULL;

	return process_find_program(name, &path) >= 0;
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

static int check_image(const char *path) {
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(negative_errno(), "Failed to open image '%s': %m", path);
	if (fstat(fd, &st) < 0)
		return log_error_errno(negative_errno(), "Failed to stat image '%s': %m", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return log_error_errno(EINVAL, "Image '%s' is not a regular file or block device.", path);
	if (S_ISREG(st.st_mode) && st.st_size < 512)
		return log_error_errno(EINVAL, "Image '%s' is too small to boot (%jd bytes).", path,
				       (intmax_t)st.st_size);
	return 0;
}

static int check_ssh_key(const char *path) {
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(negative_errno(), "Failed to open ssh key '%s': %m", path);
	if (fstat(fd, &st) < 0)
		return log_error_errno(negative_errno(), "Failed to stat ssh key '%s': %m", path);
	if (st.st_mode & 077)
		log_warning("ssh key '%s' is readable by others (mode %04o); ssh will refuse it, run 'chmod 600 %s'",
			    path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

/* Decides the accelerator: MLRIG_ACCEL, else KVM when /dev/kvm opens and a short probe
 * boots the firmware, else TCG. Returns 1 when the choice was forced. */
static int choose_accel(const struct qemu_config *c, enum qemu_accel *ret) {
	const char *e = getenv("MLRIG_ACCEL");
	_cleanup_free_ char *reason = NULL;
	struct qemu_config probe = *c;
	int fd, r;

	if (e && *e) {
		if (strcmp(e, "kvm") == 0)
			*ret = QEMU_ACCEL_KVM;
		else if (strcmp(e, "tcg") == 0)
			*ret = QEMU_ACCEL_TCG;
		else
			return log_error_errno(EINVAL, "MLRIG_ACCEL=%s: expected 'kvm' or 'tcg'.", e);
		log_info("Accelerator %s (from MLRIG_ACCEL).", e);
		return 1;
	}

	*ret = QEMU_ACCEL_TCG;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_info("Accelerator tcg (/dev/kvm: %s).", strerror(errno));
		return 0;
	}
	close(fd);

	/* OVMF trips a half-working KVM within a second where SeaBIOS alone may not,
	 * so probe with OVMF whenever it is installed. */
	if (access(QEMU_OVMF_CODE, R_OK) == 0 && probe.ovmf_vars) {
		probe.firmware = QEMU_FIRMWARE_OVMF;
		probe.ovmf_code = QEMU_OVMF_CODE;
	}
	r = qemu_probe_kvm(&probe, KVM_PROBE_MS, &reason);
	if (r < 0) {
		log_warning_errno(r, "Failed to probe KVM, using TCG: %m");
		return 0;
	}
	if (r == 0) {
		log_info("Accelerator tcg (KVM probe failed: %s).", reason);
		return 0;
	}
	*ret = QEMU_ACCEL_KVM;
	log_info("Accelerator kvm (probe ran %.1f s).", secs(KVM_PROBE_MS));
	return 0;
}

enum phase {
	PHASE_EXPECT,
	PHASE_SSH,
	PHASE_SSH_COMMAND,
	PHASE_POWEROFF,
	PHASE_DONE,
};

struct boot {
	char *tmpdir;
	char *vars_path;
	char *serial_path;
	char *ssh_err_path;
	int serial_fd;      /* reader */
	int sig_fd;
	int qemu_out_fd;    /* QEMU's stdout + stderr */
	pid_t qemu_pid;
	pid_t ssh_pid;
	sigset_t saved_mask;
	bool mask_saved;
	bool echo;
	bool echo_mid_line;
	char qemu_out[QEMU_OUTPUT_MAX + 1];
	size_t qemu_out_fill;
	struct expect_matcher expect;
	struct qemu_config config;
	struct qemu_forward *forwards;
	uint16_t ssh_port;
};

static void boot_release(struct boot *b, bool keep_log) {
	if (b->ssh_pid > 0)
		process_kill_and_wait(b->ssh_pid, 0);
	if (b->qemu_pid > 0)
		process_kill_and_wait(b->qemu_pid, 5000);
	b->ssh_pid = b->qemu_pid = 0;
	if (b->serial_fd >= 0)
		close(b->serial_fd);
	if (b->qemu_out_fd >= 0)
		close(b->qemu_out_fd);
	if (b->sig_fd >= 0)
		close(b->sig_fd);
	b->serial_fd = b->qemu_out_fd = b->sig_fd = -1;
	if (b->mask_saved)
		sigprocmask(SIG_SETMASK, &b->saved_mask, NULL);
	b->mask_saved = false;
	if (b->vars_path)
		(void)unlink(b->vars_path);
	if (b->ssh_err_path)
		(void)unlink(b->ssh_err_path);
	if (b->tmpdir) {
		bool log_inside = b->serial_path && string_has_prefix(b->serial_path, b->tmpdir);

		if (log_inside && !keep_log)
			(void)unlink(b->serial_path);
		if (!log_inside || !keep_log)
			(void)rmdir(b->tmpdir);
	}
	expect_matcher_release(&b->expect);
	free(b->tmpdir);
	free(b->vars_path);
	free(b->serial_path);
	free(b->ssh_err_path);
	free(b->forwards);
	b->tmpdir = b->vars_path = b->serial_path = b->ssh_err_path = NULL;
	b->forwards = NULL;
}

/* (Re)starts QEMU with b->config: a fresh serial log, a fresh copy of the UEFI variables. */
static int boot_start_qemu(struct boot *b) {
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_close_ int wfd = -1, trunc_fd = -1;
	int fds[2], r;

	if (b->config.firmware == QEMU_FIRMWARE_OVMF) {
		r = copy_file(QEMU_OVMF_VARS, b->vars_path);
		if (r < 0)
			return log_error_errno(r, "Failed to copy '%s' to '%s': %m", QEMU_OVMF_VARS, b->vars_path);
	}
	/* We truncate the log, not QEMU, so our reader starts at offset 0 of this boot. */
	trunc_fd = open(b->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (trunc_fd < 0)
		return log_error_errno(negative_errno(), "Failed to create serial log '%s': %m", b->serial_path);
	if (b->serial_fd < 0) {
		b->serial_fd = open(b->serial_path, O_RDONLY | O_CLOEXEC);
		if (b->serial_fd < 0)
			return log_error_errno(negative_errno(), "Failed to open serial log '%s': %m", b->serial_path);
	} else if (lseek(b->serial_fd, 0, SEEK_SET) < 0)
		return log_error_errno(negative_errno(), "Failed to rewind serial log '%s': %m", b->serial_path);

	r = qemu_build_argv(&b->config, &argv);
	if (r < 0)
		return log_error_errno(r, "Failed to build the QEMU command line: %m");
	if (log_get_max_level() >= LOG_LEVEL_DEBUG) {
		fputs("mlrig: running:", stderr);
		for (char **a = argv; *a; a++)
			fprintf(stderr, " %s", *a);
		fputc('\n', stderr);
	}

	if (b->qemu_out_fd >= 0)
		close(b->qemu_out_fd);
	b->qemu_out_fd = -1;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return log_error_errno(negative_errno(), "Failed to create a pipe: %m");
	b->qemu_out_fd = fds[0];
	wfd = fds[1];
	if (fcntl(b->qemu_out_fd, F_SETFL, O_NONBLOCK) < 0)
		return log_error_errno(negative_errno(), "Failed to make a pipe non-blocking: %m");
	b->qemu_out_fill = 0;
	b->qemu_out[0] = 0;
	expect_matcher_reset(&b->expect);
	b->echo_mid_line = false;

	r = process_spawn(&(struct process_options){
				  .argv = argv, .stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_FD, .stdout_fd = wfd,
				  .stderr_mode = PROCESS_TO_STDOUT, .new_process_group = true,
			  }, &b->qemu_pid);
	if (r < 0)
		return log_error_errno(r, "Failed to start %s: %m", argv[0]);
	return 0;
}

/* Reads what QEMU wrote to its stdout/stderr; keeps the start for error messages.
 * Returns true when it read something. */
static bool boot_read_qemu_output(struct boot *b) {
	char buf[4096];

	for (;;) {
		ssize_t n = read(b->qemu_out_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno != EAGAIN) {
				close(b->qemu_out_fd);
				b->qemu_out_fd = -1;
			}
			return false;
		}
		log_debug("qemu: %.*s", (int)n, buf);
		if (b->qemu_out_fill < QEMU_OUTPUT_MAX) {
			size_t k = MIN((size_t)n, QEMU_OUTPUT_MAX - b->qemu_out_fill);

			memcpy(b->qemu_out + b->qemu_out_fill, buf, k);
			b->qemu_out_fill += k;
			b->qemu_out[b->qemu_out_fill] = 0;
		}
		return true; /* one read per wake-up; poll tells us about the rest */
	}
}

static const char *boot_kvm_failure(struct boot *b) {
	if (b->config.accel != QEMU_ACCEL_KVM)
		return NULL;
	return qemu_find_kvm_failure(b->qemu_out);
}

/* Reads new serial output, echoes it to a terminal; returns true when the expected text was seen. */
static bool boot_read_serial(struct boot *b) {
	char buf[65536];
	bool seen = false;

	for (;;) {
		ssize_t n = read(b->serial_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b->echo) {
			(void)loop_write(STDOUT_FILENO, buf, (size_t)n);
			b->echo_mid_line = buf[n - 1] != '\n';
		}
		if (b->expect.len > 0 && expect_matcher_feed(&b->expect, buf, (size_t)n))
			seen = true;
	}
	return seen || b->expect.found;
}

static char **ssh_argv(const struct boot *b, const char *command) {
	char port[8], *user_host = NULL, **v;

	snprintf(port, sizeof(port), "%u", (unsigned)b->ssh_port);
	if (asprintf(&user_host, "%s@127.0.0.1", arg_user) < 0)
		return NULL;
	{
		const char *a[] = {
			"ssh", "-F", "none", "-i", arg_ssh_key, "-p", port,
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

static int boot_spawn_ssh(struct boot *b, const char *command, bool capture) {
	_cleanup_strv_free_ char **argv = ssh_argv(b, command);
	_cleanup_close_ int err_fd = -1;
	int r;

	if (!argv)
		return log_oom();
	if (capture) {
		err_fd = open(b->ssh_err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (err_fd < 0)
			return log_error_errno(negative_errno(), "Failed to create '%s': %m", b->ssh_err_path);
	}
	r = process_spawn(&(struct process_options){
				  .argv = argv, .stdin_mode = PROCESS_NULL,
				  .stdout_mode = capture ? PROCESS_NULL : PROCESS_INHERIT,
				  .stderr_mode = capture ? PROCESS_FD : PROCESS_INHERIT, .stderr_fd = err_fd,
				  .new_process_group = true,
			  }, &b->ssh_pid);
	if (r < 0)
		return log_error_errno(r, "Failed to start ssh: %m");
	return 0;
}

/* The last ssh attempt's complaint, one line, for the failure message. */
static char *boot_ssh_error(const struct boot *b) {
	_cleanup_free_ char *data = NULL;
	char *line, *nl;
	size_t size;

	if (read_full_file(b->ssh_err_path, &data, &size) < 0)
		return NULL;
	line = string_strip(data);
	nl = strrchr(line, '\n');
	if (nl)
		line = string_strip(nl + 1);
	return *line ? strdup(line) : NULL;
}

static int run(void) {
	struct boot b = { .serial_fd = -1, .sig_fd = -1, .qemu_out_fd = -1 };
	enum phase phase, first_phase;
	uint64_t start, deadline, t0 = 0, expect_ms = 0, ssh_ms = 0, ssh_next = 0, ssh_started = 0;
	unsigned ssh_attempts = 0;
	bool accel_forced, ok = false;
	_cleanup_free_ char *failure = NULL;
	const char *tmp = getenv("TMPDIR");
	sigset_t mask;
	long ncpu;
	int r;

	start = t0 = now_ms();
	deadline = start + arg_timeout_s * 1000;

	r = check_image(arg_image);
	if (r < 0)
		return r;
	if (!have_program(QEMU_BINARY))
		return log_error_errno(ENOENT, "%s not found in $PATH (Debian: apt install qemu-system-x86).",
				       QEMU_BINARY);
	if (!arg_bios && (access(QEMU_OVMF_CODE, R_OK) < 0 || access(QEMU_OVMF_VARS, R_OK) < 0))
		return log_error_errno(negative_errno(), "Failed to access OVMF firmware '%s': %m (Debian: apt install ovmf; or use --bios).",
				       access(QEMU_OVMF_CODE, R_OK) < 0 ? QEMU_OVMF_CODE : QEMU_OVMF_VARS);
	if (arg_ssh_key) {
		r = check_ssh_key(arg_ssh_key);
		if (r < 0)
			return r;
		if (!have_program("ssh"))
			return log_error_errno(ENOENT, "ssh not found in $PATH (Debian: apt install openssh-client).");
	}

	if (asprintf(&b.tmpdir, "%s/mlrig-boot-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 || !mkdtemp(b.tmpdir)) {
		log_error_errno(errno ? negative_errno() : -ENOMEM, "Failed to create a temporary directory: %m");
		free(b.tmpdir);
		b.tmpdir = NULL;
		goto finish;
	}
	if (asprintf(&b.vars_path, "%s/OVMF_VARS.fd", b.tmpdir) < 0 ||
	    asprintf(&b.ssh_err_path, "%s/ssh.err", b.tmpdir) < 0 ||
	    (arg_log ? !(b.serial_path = strdup(arg_log)) : asprintf(&b.serial_path, "%s/serial.log", b.tmpdir) < 0)) {
		log_oom();
		goto finish;
	}

	/* forwards[0] is ssh; the user's come after it. */
	b.forwards = calloc(arg_n_forwards + 1, sizeof(struct qemu_forward));
	if (!b.forwards) {
		log_oom();
		goto finish;
	}
	r = qemu_find_free_port(&b.ssh_port);
	if (r < 0) {
		log_error_errno(r, "Failed to find a free local port for ssh: %m");
		goto finish;
	}
	b.forwards[0] = (struct qemu_forward){ .host = b.ssh_port, .guest = 22 };
	for (size_t i = 0; i < arg_n_forwards; i++)
		b.forwards[i + 1] = arg_forwards[i];

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	b.config = (struct qemu_config){
		.image = arg_image,
		.cdrom = arg_cdrom,
		.firmware = arg_bios ? QEMU_FIRMWARE_BIOS : QEMU_FIRMWARE_OVMF,
		.writable = arg_writable,
		.ovmf_code = QEMU_OVMF_CODE,
		.ovmf_vars = b.vars_path,
		.memory_mib = arg_memory_mib,
		.cpus = ncpu >= 2 ? 2 : 1,
		.serial_path = b.serial_path,
		.forwards = b.forwards,
		.n_forwards = arg_n_forwards + 1,
	};
	if (arg_expect) {
		r = expect_matcher_init(&b.expect, arg_expect);
		if (r < 0) {
			log_error_errno(r, "Failed to set up the matcher: %m");
			goto finish;
		}
	}
	b.echo = isatty(STDOUT_FILENO);

	/* Signals arrive through a signalfd, so every exit path goes through the cleanup below. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, &b.saved_mask) < 0) {
		log_error_errno(negative_errno(), "Failed to block signals: %m");
		goto finish;
	}
	b.mask_saved = true;
	sigdelset(&mask, SIGPIPE);
	b.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (b.sig_fd < 0) {
		log_error_errno(negative_errno(), "Failed to create a signalfd: %m");
		goto finish;
	}

	/* the probe boots OVMF too, with its own writable vars file */
	if (access(QEMU_OVMF_VARS, R_OK) < 0 || copy_file(QEMU_OVMF_VARS, b.vars_path) < 0)
		b.config.ovmf_vars = NULL;
	r = choose_accel(&b.config, &b.config.accel);
	b.config.ovmf_vars = b.vars_path;
	if (r < 0) {
		boot_release(&b, false);
		return EXIT_USAGE; /* a bad MLRIG_ACCEL, said by choose_accel() */
	}
	accel_forced = r > 0;

	log_info("Booting '%s' (%s, %s, %" PRIu64 " MiB, timeout %" PRIu64 " s).", arg_image,
		 arg_bios ? "SeaBIOS" : "OVMF", qemu_accel_to_string(b.config.accel), arg_memory_mib, arg_timeout_s);
	log_info("Forwarding 127.0.0.1:%u to guest port 22 (ssh -p %u %s@127.0.0.1).", (unsigned)b.ssh_port,
		 (unsigned)b.ssh_port, arg_user);
	for (size_t i = 0; i < arg_n_forwards; i++)
		log_info("Forwarding 127.0.0.1:%u to guest port %u.", (unsigned)arg_forwards[i].host,
			 (unsigned)arg_forwards[i].guest);
	log_info("Serial console: %s", b.serial_path);

	first_phase = arg_expect ? PHASE_EXPECT : arg_ssh_key ? PHASE_SSH : PHASE_POWEROFF;

restart:
	if (boot_start_qemu(&b) < 0)
		goto finish;
	phase = first_phase;
	t0 = now_ms();
	ssh_next = 0;
	ssh_attempts = 0;

	while (phase != PHASE_DONE) {
		struct pollfd p[2] = {
			{ .fd = b.sig_fd, .events = POLLIN },
			{ .fd = b.qemu_out_fd, .events = POLLIN },
		};
		uint64_t t = now_ms();
		const char *kvm_failure;
		int status;

		if (t >= deadline) {
			const char *what = phase == PHASE_EXPECT ? "expected text not seen"
					   : phase == PHASE_SSH   ? "ssh did not succeed"
					   : phase == PHASE_SSH_COMMAND ? "ssh command did not finish"
									: "guest did not power off";
			_cleanup_free_ char *ssh_err = phase == PHASE_SSH ? boot_ssh_error(&b) : NULL;

			if (asprintf(&failure, "%s within %" PRIu64 " s%s%s%s%s%s", what, arg_timeout_s,
				     phase == PHASE_EXPECT ? " ('" : "", phase == PHASE_EXPECT ? arg_expect : "",
				     phase == PHASE_EXPECT ? "')" : "", ssh_err ? "; last ssh error: " : "",
				     ssh_err ? ssh_err : "") < 0)
				failure = NULL;
			goto finish;
		}

		r = poll(p, b.qemu_out_fd >= 0 ? 2 : 1, (int)MIN(deadline - t, (uint64_t)100));
		if (r < 0 && errno != EINTR) {
			log_error_errno(negative_errno(), "Failed to poll: %m");
			goto finish;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(b.sig_fd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGCHLD) {
					if (asprintf(&failure, "interrupted by %s", strsignal((int)si.ssi_signo)) < 0)
						failure = NULL;
					goto finish;
				}
		}
		if (b.qemu_out_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP)))
			boot_read_qemu_output(&b);

		kvm_failure = boot_kvm_failure(&b);
		if (kvm_failure) {
			if (accel_forced) {
				if (asprintf(&failure, "KVM failed (QEMU: \"%s\"); try MLRIG_ACCEL=tcg", kvm_failure) < 0)
					failure = NULL;
				goto finish;
			}
			log_warning("KVM failed during boot (QEMU: \"%s\"), restarting with TCG.", kvm_failure);
			process_kill_and_wait(b.qemu_pid, 2000);
			b.qemu_pid = 0;
			if (b.ssh_pid > 0)
				process_kill_and_wait(b.ssh_pid, 0);
			b.ssh_pid = 0;
			b.config.accel = QEMU_ACCEL_TCG;
			goto restart;
		}

		if (phase == PHASE_EXPECT && boot_read_serial(&b)) {
			expect_ms = now_ms() - t0;
			log_info("Seen '%s' after %.1f s.", arg_expect, secs(expect_ms));
			phase = arg_ssh_key ? PHASE_SSH : PHASE_DONE;
		} else if (phase != PHASE_EXPECT)
			(void)boot_read_serial(&b);

		if (b.ssh_pid > 0 && process_try_wait(b.ssh_pid, &status) > 0) {
			b.ssh_pid = 0;
			if (phase == PHASE_SSH) {
				if (status == 0) {
					ssh_ms = now_ms() - t0;
					log_info("ssh works after %.1f s (%u attempts).", secs(ssh_ms), ssh_attempts);
					if (arg_ssh_command) {
						if (boot_spawn_ssh(&b, arg_ssh_command, false) < 0)
							goto finish;
						phase = PHASE_SSH_COMMAND;
					} else
						phase = PHASE_DONE;
				} else {
					_cleanup_free_ char *e = boot_ssh_error(&b);

					log_debug("ssh attempt %u failed: %s", ssh_attempts, e ? e : "(no message)");
					ssh_next = now_ms() + SSH_RETRY_MS;
				}
			} else if (phase == PHASE_SSH_COMMAND) {
				char how[64];

				if (status == 0) {
					phase = PHASE_DONE;
				} else {
					process_status_to_string(status, how, sizeof(how));
					if (asprintf(&failure, "ssh command '%s' %s", arg_ssh_command, how) < 0)
						failure = NULL;
					goto finish;
				}
			}
		}
		if (phase == PHASE_SSH && b.ssh_pid > 0 && now_ms() - ssh_started > SSH_ATTEMPT_MAX_MS) {
			log_debug("ssh attempt %u hangs, killing it.", ssh_attempts);
			process_kill_and_wait(b.ssh_pid, 0);
			b.ssh_pid = 0;
			ssh_next = now_ms() + SSH_RETRY_MS;
		}
		if (phase == PHASE_SSH && b.ssh_pid <= 0 && now_ms() >= ssh_next) {
			if (boot_spawn_ssh(&b, "true", true) < 0)
				goto finish;
			ssh_started = now_ms();
			ssh_attempts++;
		}

		if (phase != PHASE_DONE && process_try_wait(b.qemu_pid, &status) > 0) {
			char how[64];

			b.qemu_pid = 0;
			/* what QEMU wrote just before it went */
			while (b.qemu_out_fd >= 0 && boot_read_qemu_output(&b))
				;
			if (boot_read_serial(&b) && phase == PHASE_EXPECT) {
				expect_ms = now_ms() - t0;
				phase = arg_ssh_key ? PHASE_SSH : PHASE_DONE;
			}
			if (phase == PHASE_DONE)
				break;
			if (phase == PHASE_POWEROFF && status == 0) {
				phase = PHASE_DONE;
				break;
			}
			kvm_failure = boot_kvm_failure(&b);
			if (kvm_failure && !accel_forced) {
				log_warning("KVM failed during boot (QEMU: \"%s\"), restarting with TCG.", kvm_failure);
				b.config.accel = QEMU_ACCEL_TCG;
				goto restart;
			}
			process_status_to_string(status, how, sizeof(how));
			if (asprintf(&failure, "QEMU %s after %.1f s%s%s%s%s", how, secs(now_ms() - t0),
				     phase == PHASE_POWEROFF ? "" : " before ",
				     phase == PHASE_EXPECT ? "the expected text was seen"
				     : phase == PHASE_SSH  ? "ssh succeeded"
				     : phase == PHASE_SSH_COMMAND ? "the ssh command finished"
								  : "",
				     b.qemu_out_fill ? "; QEMU said: " : "", b.qemu_out_fill ? string_strip(b.qemu_out) : "") < 0)
				failure = NULL;
			goto finish;
		}
	}
	ok = true;

finish:
	if (ok) {
		uint64_t total = now_ms() - t0;

		/* A clean shutdown is not part of the check: SIGTERM makes QEMU quit at once. */
		if (b.ssh_pid > 0)
			process_kill_and_wait(b.ssh_pid, 0);
		/* --power-cut: no grace at all, like pulling the plug */
		if (b.qemu_pid > 0)
			process_kill_and_wait(b.qemu_pid, arg_power_cut ? 0 : 10000);
		b.ssh_pid = b.qemu_pid = 0;
		(void)boot_read_serial(&b);
		if (b.echo && b.echo_mid_line)
			fputs("\033[0m\n", stdout);
		fputs("boot: ", stdout);
		if (arg_expect)
			printf("expect '%s' seen after %.1f s", arg_expect, secs(expect_ms));
		if (arg_ssh_key)
			printf("%sssh ok after %.1f s%s", arg_expect ? "; " : "", secs(ssh_ms),
			       arg_ssh_command ? "; ssh command ok" : "");
		if (!arg_expect && !arg_ssh_key)
			printf("guest powered off after %.1f s", secs(total));
		printf(" (%s)\n", qemu_accel_to_string(b.config.accel));
		fflush(stdout);
		boot_release(&b, false);
		if (arg_log)
			log_info("Serial log: %s", arg_log);
		return EXIT_OK;
	}

	/* kill first, so the log is complete when we point at it */
	if (b.ssh_pid > 0)
		process_kill_and_wait(b.ssh_pid, 0);
	if (b.qemu_pid > 0)
		process_kill_and_wait(b.qemu_pid, 5000);
	b.ssh_pid = b.qemu_pid = 0;
	if (b.echo && b.echo_mid_line) {
		fputs("\033[0m\n", stdout);
		fflush(stdout);
	}
	if (failure)
		log_error("boot: %s (%s); serial log kept at %s", failure, qemu_accel_to_string(b.config.accel),
			  b.serial_path ? b.serial_path : "(none)");
	else if (b.serial_path)
		log_error("boot: failed; serial log kept at %s", b.serial_path);
	boot_release(&b, true);
	return -ECANCELED;
}

const struct cli_verb verb_boot = { "boot", parse_argv, run };
