/* mlrig check: validate a profile and say what it would do that deserves a second look. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-util.h"
#include "deb-repo.h"
#include "fileio.h"
#include "gpu-payload.h"
#include "log.h"
#include "macro.h"
#include "profile.h"
#include "rootfs-boot.h"
#include "verbs.h"

static const char *arg_profile;
static const char *arg_rootfs;
static bool arg_strict;

static void help(void) {
	printf("Usage:\n"
	       " mlrig check -p PROFILE [--rootfs TARBALL] [--strict]\n"
	       "\n"
	       "Validate a rig profile; print security warnings and the install storage mode.\n"
	       "\n"
	       "Options:\n"
	       " -p, --profile FILE   rig profile (see mlrig-profile(5))\n"
	       "     --rootfs FILE    also check the rootfs tarball mlrig image would use: the\n"
	       "                      signed shim + GRUB Secure Boot needs, dual-boot tools\n"
	       "     --strict         exit 1 when there are warnings\n"
	       " -h, --help           display this help\n");
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_STRICT = 0x100, ARG_ROOTFS };
	static const struct option options[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "rootfs", required_argument, NULL, ARG_ROOTFS },
		{ "strict", no_argument, NULL, ARG_STRICT },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, r;

	while ((c = getopt_long(argc, argv, ":p:h", options, NULL)) >= 0)
		switch (c) {
		case 'p': arg_profile = optarg; break;
		case ARG_STRICT: arg_strict = true; break;
		case ARG_ROOTFS: arg_rootfs = optarg; break;
		case 'h': help(); return 0;
		default: return cli_option_error("check", c, argv);
		}
	r = cli_positional("check", argc, argv, NULL, 0, 0);
	if (r < 0)
		return r;
	if (!arg_profile)
		return cli_usage_error("check", "needs -p PROFILE");
	return 1;
}

static unsigned warnings;

static void warn(const char *fmt, ...) _printf_(1, 2);
static void warn(const char *fmt, ...) {
	va_list ap;

	fputs("warning: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	warnings++;
}

/* Counts lines that look like public keys (ssh-ed25519 AAAA..., ecdsa-..., sk-...). */
static unsigned count_keys(const char *text) {
	unsigned n = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l == '#' || *l == '\n' || !*l)
			continue;
		if (strstr(l, "ssh-") == l || strstr(l, "ecdsa-") == l || strstr(l, "sk-") == l ||
		    strstr(l, " ssh-") || strstr(l, " ecdsa-"))
			n++;
	}
	return n;
}

static void check_secret_file(const char *what, const char *path) {
	struct stat st;

	if (path && stat(path, &st) == 0 && (st.st_mode & 077))
		warn("%s %s is readable by others (mode %04o): chmod 600 %s", what, path, st.st_mode & 07777, path);
}

static bool listed(char *const *l, const char *name) {
	for (; l && *l; l++)
		if (strcmp(*l, name) == 0)
			return true;
	return false;
}

/* Booting: with --rootfs what the tarball lacks (the image builder's own warnings), else what
 * an install from an ISO may lack. Returns -errno when the tarball cannot be read (said). */
static int check_boot(const Profile *p) {
	_cleanup_strv_free_ char **lacks = NULL;
	_cleanup_free_ char *error = NULL;
	struct rootfs_boot b;
	int r;

	if (!arg_rootfs) {
		if (p->dual_boot && !listed(p->install, "os-prober"))
			warn("[Boot] DualBoot=yes, but [Packages] Install= does not list os-prober: an Ubuntu server install has none, and then GRUB's menu does not list Windows (desktop has it). Add os-prober to Install=; for mlrig image, check the rootfs with --rootfs.");
		return 0;
	}
	r = rootfs_boot_from_tarball(arg_rootfs, &b, &error);
	if (r < 0)
		return log_error_errno(r, "%s", error ? error : strerror(-r));
	r = rootfs_boot_warnings(p, &b, &lacks);
	if (r < 0)
		return log_oom();
	for (char **w = lacks; *w; w++)
		warn("%s", *w);
	return 0;
}

/* [GPU]: the payload read as mlrig image reads it, its versions, and TensorFlow's table. A payload
 * that the builders would refuse is a warning here: check is for a profile still being written. */
static void check_gpu(const Profile *p) {
	_cleanup_(deb_repo_release) struct deb_repo debs = {};
	_cleanup_(gpu_plan_release) struct gpu_plan pl = {};
	_cleanup_free_ char *error = NULL, *lines = NULL, *status = NULL, *python = NULL;
	int r;

	if (!p->gpu_driver && !p->gpu_cuda && !p->gpu_cudnn)
		return;
	r = p->debs ? deb_repo_build(p->debs, &debs, &error) : 0;
	if (r >= 0)
		r = gpu_plan_make(p, p->debs ? &debs : NULL, &pl, &error);
	if (r < 0) {
		warn("%s (mlrig image and mlrig iso refuse this payload)", error ? error : strerror(-r));
		return;
	}
	printf("gpu: driver %s %s, CUDA %s, cuDNN %s (read from the payload)\n", pl.driver_package ?: "none",
	       pl.driver_version ?: "", pl.cuda_version ?: "none", pl.cudnn_version ?: "none");
	/* the Python TensorFlow runs on: the rootfs's python3, when --rootfs says which */
	if (arg_rootfs && archive_read_member(arg_rootfs, "var/lib/dpkg/status", 64u << 20, &status, NULL) >= 0)
		python = gpu_python_version(status);
	if (gpu_plan_warnings(p, &pl, python, &lines) < 0) {
		log_oom();
		return;
	}
	for (char *w = lines, *next; w && *w; w = next) {
		next = strchr(w, '\n');
		if (next)
			*next++ = 0;
		warn("%s", w);
	}
}

/* An install medium is read by whoever holds it: what mlrig iso puts there from the profile
 * is in the clear (the image keeps it root-only on the rig's own disk). */
static void check_iso_secrets(const Profile *p) {
	static const char *const scope[] = {
		[DDNS_NOIP] = "a No-IP DDNS key for this host, not the account's password",
		[DDNS_DYNDNS2] = "an update key or sub-account for this host alone, not the account's password",
		[DDNS_DUCKDNS] = "DuckDNS has one token per account: an account for this rig alone",
		[DDNS_CLOUDFLARE] = "a Cloudflare API token with Zone.DNS edit for [DDNS] Zone= only",
	};

	if (p->ddns_password_file && p->ddns_provider != DDNS_NONE)
		warn("[DDNS] PasswordFile=: an ISO made from this profile (mlrig iso) carries the DDNS secret in the clear for anyone "
		     "holding the stick. Give it the narrowest scope (%s), keep the stick safe and wipe it after the install; "
		     "an image (mlrig image) keeps it root-only.", scope[p->ddns_provider]);
	if (p->password_hash)
		warn("[Rig] PasswordHash=: an ISO made from this profile carries the hash in the clear for anyone holding the "
		     "stick to try offline. Put only a PasswordHash (mkpasswd -m sha-512) of a long password in a profile, "
		     "never the password, or use PasswordHash=locked and SSH keys.");
}

static int run(void) {
	_cleanup_(profile_freep) Profile *p = NULL;
	_cleanup_free_ char *keys = NULL;
	int r;

	r = verb_load_profile(arg_profile, &p);
	if (r != 0)
		return r;
	if (arg_rootfs && access(arg_rootfs, R_OK) < 0)
		return cli_input_error_errno(errno, "Cannot use rootfs tarball '%s': %m", arg_rootfs);
	if (p->password_authentication)
		warn("[SSH] PasswordAuthentication=yes: password SSH login is enabled; anyone who reaches port %u can guess passwords. Use keys only.",
		     p->ssh_port);
	if (p->permit_root_login)
		warn("[SSH] PermitRootLogin=yes: root may log in over SSH (with a key). Log in as %s and use sudo.", p->user);
	if (read_full_file(p->authorized_keys, &keys, NULL) >= 0 && count_keys(keys) == 0)
		warn("[Rig] AuthorizedKeys=%s holds no public key: nobody will be able to log in over SSH.", p->authorized_keys);
	if (p->password_hash && (strncmp(p->password_hash, "$1$", 3) == 0 || p->password_hash[0] != '$'))
		warn("[Rig] PasswordHash= uses a weak hash (MD5); make one with 'mkpasswd -m sha-512'.");
	check_secret_file("[DDNS] PasswordFile=", p->ddns_password_file);
	if (p->ddns_provider != DDNS_NONE && p->ssh_port == 22)
		warn("[DDNS] publishes this rig on the internet with SSH on port 22, which draws constant scans; consider [SSH] Port=.");
	if (p->ddns_provider == DDNS_NOIP)
		warn("[DDNS] Provider=noip: " DDNS_NOIP_FREE_NOTE " (paid host names need no confirmation).");
	if (p->port_forward != PORT_FORWARD_NO && p->external_port == 22)
		warn("[Router] PortForward=%s maps router port 22, which draws constant scans; consider [Router] ExternalPort=.",
		     port_forward_to_string(p->port_forward));
	if (p->port_forward != PORT_FORWARD_NO && p->password_authentication)
		warn("[Router] PortForward= with [SSH] PasswordAuthentication=yes: password logins open to the internet.");
	if (!p->firewall_enable)
		warn("[Firewall] Enable=no: every port the rig listens on is open to its network, not only SSH.");
	check_iso_secrets(p);
	r = check_boot(p);
	if (r < 0)
		return r;
	check_gpu(p);

	printf("profile: %s: ok (rig %s, user %s, ssh port %u, ddns %s, jupyter port %u)\n", p->path, p->hostname,
	       p->user, p->ssh_port, ddns_provider_to_string(p->ddns_provider), p->jupyter_port);
	if (p->install_disk && p->install_wipe)
		printf("install: storage is automatic: the installer WIPES %s ([Install] Disk=, Wipe=yes).\n", p->install_disk);
	else
		printf("install: storage stays interactive: the installer asks where to install, so a disk with Windows on it is never wiped silently (set [Install] Disk= and Wipe=yes to automate).\n");
	printf("%u warning%s\n", warnings, warnings == 1 ? "" : "s");
	return arg_strict && warnings ? EXIT_FAIL : EXIT_OK;
}

const struct cli_verb verb_check = { "check", parse_argv, run };
