/* mlrig boot's command line: options, help, checks of the image, key and firmware, the accelerator, the report. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot-session.h"
#include "json.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"
#include "profile.h"
#include "qemu.h"
#include "verbs.h"

#define DEFAULT_TIMEOUT_S 300
#define DEFAULT_MEMORY_MIB 1024
#ifndef KVM_PROBE_MS
#define KVM_PROBE_MS 3000 /* long enough for a broken KVM to fail in OVMF's first instructions */
#endif

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
static const char **arg_disks;
static size_t arg_n_disks;
static const char *arg_efivars;
static bool arg_secure_boot;

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
	       "     --user NAME              user for --ssh (default: $MLRIG_BOOT_USER, else the\n"
	       "                              rig user in IMAGE's manifest, else 'user')\n"
	       "     --ssh-command CMD        run CMD over ssh instead of 'true'; output to stdout\n"
	       "     --forward HOST:GUEST     also forward 127.0.0.1:HOST to the guest's TCP port\n"
	       "                              GUEST (repeatable)\n"
	       "     --timeout SECONDS        bound for the whole boot (default %d)\n"
	       "     --log FILE               write the serial console to FILE (default: a temporary\n"
	       "                              file, kept only on failure)\n"
	       "     --memory MiB             guest memory (default %d)\n"
	       "     --bios                   boot with SeaBIOS instead of OVMF (UEFI)\n"
	       "     --secure-boot            boot with OVMF's Secure Boot firmware, Microsoft's\n"
	       "                              keys enrolled and Secure Boot on\n"
	       "     --efivars FILE           keep the UEFI variables (boot entries, BootOrder) in\n"
	       "                              FILE across boots; made from OVMF's template when\n"
	       "                              absent (default: a fresh copy for each boot)\n"
	       "     --cdrom                  attach IMAGE as a CD-ROM (an ISO) instead of a disk\n"
	       "     --disk FILE              attach FILE as one more disk, after IMAGE (repeatable)\n"
	       "     --writable               let the guest write to IMAGE and the --disk files\n"
	       "                              (default: snapshots; use on copies, e.g. for\n"
	       "                              power-cut tests or boots that build on each other)\n"
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
	free(arg_disks);
	arg_disks = NULL;
	arg_n_disks = 0;
	arg_efivars = NULL;
	arg_secure_boot = false;
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
		ARG_DISK,
		ARG_EFIVARS,
		ARG_SECURE_BOOT,
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
		{ "disk", required_argument, NULL, ARG_DISK },
		{ "efivars", required_argument, NULL, ARG_EFIVARS },
		{ "secure-boot", no_argument, NULL, ARG_SECURE_BOOT },
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
		case ARG_DISK: {
			const char **n;

			if (!*optarg)
				return cli_usage_error("boot", "--disk needs a file name");
			n = realloc(arg_disks, (arg_n_disks + 1) * sizeof(*n));
			if (!n)
				return log_oom();
			arg_disks = n;
			arg_disks[arg_n_disks++] = optarg;
			break;
		}
		case ARG_EFIVARS:
			if (!*optarg)
				return cli_usage_error("boot", "--efivars needs a file name");
			arg_efivars = optarg;
			break;
		case ARG_SECURE_BOOT:
			arg_secure_boot = true;
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
	if (arg_bios && (arg_secure_boot || arg_efivars))
		return cli_usage_error("boot", "%s needs UEFI (OVMF), not --bios", arg_secure_boot ? "--secure-boot" : "--efivars");
	for (size_t i = 0; i < arg_n_forwards; i++)
		for (size_t j = i + 1; j < arg_n_forwards; j++)
			if (arg_forwards[i].host == arg_forwards[j].host)
				return cli_usage_error("boot", "host port %u is forwarded twice", (unsigned)arg_forwards[i].host);
	return 1;
}

static int set_user(const char *user, const char *from, char **ret_user, char **ret_from) {
	_cleanup_free_ char *u = strdup(user), *f = strdup(from);

	if (!u || !f)
		return log_oom();
	*ret_user = TAKE_PTR(u);
	*ret_from = TAKE_PTR(f);
	return 0;
}

/* Who --ssh logs in as: --user, $MLRIG_BOOT_USER, the rig user that mlrig image recorded in
 * the manifest, else "user"; *ret_from says where the name came from, for the message when
 * the guest refuses the key. <0 once it has said why the manifest cannot be read. */
static int choose_user(char **ret_user, char **ret_from) {
	_cleanup_free_ char *path = NULL, *text = NULL, *user = NULL, *from = NULL;
	const char *e = getenv("MLRIG_BOOT_USER");
	int r;

	if (arg_user)
		return set_user(arg_user, "given with --user", ret_user, ret_from);
	if (e && *e)
		return set_user(e, "from $MLRIG_BOOT_USER", ret_user, ret_from);
	r = verb_find_manifest(arg_image, &path, &text);
	if (r <= 0)
		return r < 0 ? r : set_user("user", "the default, as there is no manifest next to the image", ret_user, ret_from);
	if (!json_valid(text))
		r = -EBADMSG;
	else {
		const char *v = json_member(json_member(string_strip(text), "rig"), "user");

		r = v ? json_read_string(v, &user) : -ENOENT;
		if (r == -EINVAL)
			r = -EMEDIUMTYPE; /* not a string */
	}
	if (r == -ENOMEM)
		return log_oom();
	/* -ENOENT: a manifest from before it named the user; the name goes on ssh's command line */
	if (r == -EBADMSG || r == -EMEDIUMTYPE || (r >= 0 && !profile_valid_username(user))) {
		log_warning("'%s' has no valid .rig.user, ignoring it for --ssh's user.", path);
		r = -EINVAL;
	}
	if (r < 0)
		return set_user("user", "the default, as the image's manifest names no rig user", ret_user, ret_from);
	if (asprintf(&from, "the rig user in the image's manifest %s", path) < 0)
		return log_oom();
	*ret_user = TAKE_PTR(user);
	*ret_from = TAKE_PTR(from);
	return 0;
}

static bool have_program(const char *name) {
	_cleanup_free_ char *path = NULL;

	return process_find_program(name, &path) >= 0;
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

/* What the boot needs on this machine, before anything starts. */
static int check_inputs(void) {
	const char *code = arg_secure_boot ? QEMU_OVMF_CODE_SECBOOT : QEMU_OVMF_CODE;
	const char *vars = arg_secure_boot ? QEMU_OVMF_VARS_SECBOOT : QEMU_OVMF_VARS;
	int r;

	r = check_image(arg_image);
	for (size_t i = 0; i < arg_n_disks && r >= 0; i++)
		r = check_image(arg_disks[i]);
	if (r < 0)
		return r;
	if (!have_program(QEMU_BINARY))
		return log_error_errno(ENOENT, "%s not found in $PATH (Debian: apt install qemu-system-x86).",
				       QEMU_BINARY);
	if (!arg_bios && (access(code, R_OK) < 0 || access(vars, R_OK) < 0))
		return log_error_errno(negative_errno(), "Failed to access OVMF firmware '%s': %m (Debian: apt install ovmf; or use --bios).",
				       access(code, R_OK) < 0 ? code : vars);
	if (arg_ssh_key) {
		r = check_ssh_key(arg_ssh_key);
		if (r < 0)
			return r;
		if (!have_program("ssh"))
			return log_error_errno(ENOENT, "ssh not found in $PATH (Debian: apt install openssh-client).");
	}
	return 0;
}

/* Decides the accelerator: MLRIG_ACCEL, else KVM when /dev/kvm opens and a short probe
 * boots the firmware, else TCG. Returns <0 for a bad MLRIG_ACCEL (said here). */
static int choose_accel(struct boot_session *s) {
	const char *e = getenv("MLRIG_ACCEL");
	_cleanup_free_ char *reason = NULL;
	int fd, r;

	if (e && *e) {
		enum qemu_accel a;

		if (strcmp(e, "kvm") == 0)
			a = QEMU_ACCEL_KVM;
		else if (strcmp(e, "tcg") == 0)
			a = QEMU_ACCEL_TCG;
		else
			return log_error_errno(EINVAL, "MLRIG_ACCEL=%s: expected 'kvm' or 'tcg'.", e);
		log_info("Accelerator %s (from MLRIG_ACCEL).", e);
		boot_session_set_accel(s, a, true);
		return 0;
	}

	boot_session_set_accel(s, QEMU_ACCEL_TCG, false);
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_info("Accelerator tcg (/dev/kvm: %s).", strerror(errno));
		return 0;
	}
	close(fd);

	r = boot_session_probe_kvm(s, KVM_PROBE_MS, &reason);
	if (r < 0) {
		log_warning_errno(r, "Failed to probe KVM, using TCG: %m");
		return 0;
	}
	if (r == 0) {
		log_info("Accelerator tcg (KVM probe failed: %s).", reason);
		return 0;
	}
	boot_session_set_accel(s, QEMU_ACCEL_KVM, false);
	log_info("Accelerator kvm (probe ran %.1f s).", boot_seconds(KVM_PROBE_MS));
	return 0;
}

static void announce(const struct boot_session *s) {
	log_info("Booting '%s' (%s, %s, %" PRIu64 " MiB, timeout %" PRIu64 " s).", arg_image,
		 arg_bios ? "SeaBIOS" : arg_secure_boot ? "OVMF, Secure Boot on" : "OVMF",
		 qemu_accel_to_string(s->config.accel), arg_memory_mib, arg_timeout_s);
	for (size_t i = 0; i < arg_n_disks; i++)
		log_info("Disk %zu: '%s'.", i + 2, arg_disks[i]);
	if (arg_efivars)
		log_info("UEFI variables: %s (kept).", arg_efivars);
	log_info("Forwarding 127.0.0.1:%u to guest port 22 (ssh -p %u %s@127.0.0.1).", (unsigned)s->ssh_port,
		 (unsigned)s->ssh_port, s->opts->user);
	if (s->opts->ssh_key)
		log_info("ssh as '%s' (%s).", s->opts->user, s->opts->user_from);
	for (size_t i = 0; i < arg_n_forwards; i++)
		log_info("Forwarding 127.0.0.1:%u to guest port %u.", (unsigned)arg_forwards[i].host,
			 (unsigned)arg_forwards[i].guest);
	log_info("Serial console: %s", s->serial_path);
}

/* The one place that says how the boot went: the summary on stdout, or what failed and
 * where the serial log is. r is boot_session_run()'s (or init's) result; error its message. */
static int report(struct boot_session *s, int r, const char *error) {
	if (r > 0) {
		fputs("boot: ", stdout);
		if (arg_expect)
			printf("expect '%s' seen after %.1f s", arg_expect, boot_seconds(s->expect_ms));
		if (arg_ssh_key)
			printf("%sssh ok after %.1f s%s", arg_expect ? "; " : "", boot_seconds(s->ssh_ms),
			       arg_ssh_command ? "; ssh command ok" : "");
		if (!arg_expect && !arg_ssh_key)
			printf("guest powered off after %.1f s", boot_seconds(s->total_ms));
		printf(" (%s)\n", qemu_accel_to_string(s->config.accel));
		fflush(stdout);
		boot_session_release(s, false);
		if (arg_log)
			log_info("Serial log: %s", arg_log);
		return EXIT_OK;
	}

	if (r < 0 && error)
		log_error("%s", error);
	if (s->failure)
		log_error("boot: %s (%s); serial log kept at %s", s->failure, qemu_accel_to_string(s->config.accel),
			  s->serial_path ? s->serial_path : "(none)");
	else if (s->serial_path)
		log_error("boot: failed; serial log kept at %s", s->serial_path);
	boot_session_release(s, true);
	return -ECANCELED;
}

static int run(void) {
	_cleanup_free_ char *user = NULL, *user_from = NULL;
	int r;

	r = choose_user(&user, &user_from);
	if (r < 0)
		return r;
	const struct boot_options o = {
		.image = arg_image,
		.expect = arg_expect,
		.ssh_key = arg_ssh_key,
		.user = user,
		.user_from = user_from,
		.ssh_command = arg_ssh_command,
		.forwards = arg_forwards,
		.n_forwards = arg_n_forwards,
		.timeout_s = arg_timeout_s,
		.log_path = arg_log,
		.memory_mib = arg_memory_mib,
		.bios = arg_bios,
		.cdrom = arg_cdrom,
		.writable = arg_writable,
		.power_cut = arg_power_cut,
		.disks = arg_disks,
		.n_disks = arg_n_disks,
		.efivars = arg_efivars,
		.secure_boot = arg_secure_boot,
	};
	_cleanup_free_ char *error = NULL;
	struct boot_session s;

	r = check_inputs();
	if (r < 0)
		return r;

	r = boot_session_init(&s, &o, &error);
	if (r >= 0) {
		if (choose_accel(&s) < 0) {
			boot_session_release(&s, false);
			return EXIT_USAGE;
		}
		announce(&s);
		r = boot_session_run(&s, &error);
	}
	boot_session_stop(&s, r > 0);
	return report(&s, r, error);
}

const struct cli_verb verb_boot = { "boot", parse_argv, run };
