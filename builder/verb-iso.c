/* mlrig iso: an Ubuntu install ISO + a profile → an ISO that installs the rig unattended. */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-util.h"
#include "elf-check.h"
#include "fileio.h"
#include "image-rootfs.h"
#include "iso-autoinstall.h"
#include "iso-bootrec.h"
#include "iso-media.h"
#include "iso-remaster.h"
#include "log.h"
#include "output.h"
#include "macro.h"
#include "parse-util.h"
#include "gpu-payload.h"
#include "packages.h"
#include "payload.h"
#include "profile.h"
#include "progress.h"
#include "time-util.h"
#include "verbs.h"

static const char *arg_profile;
static const char *arg_base;
static const char *arg_output;
static bool arg_quiet;

static void help(void) {
	printf("Usage:\n"
	       " mlrig iso -p PROFILE --base BASE.iso -o OUT.iso [options]\n"
	       "\n"
	       "Customise an Ubuntu install ISO (20.04 or 22.04+, server or desktop) so that it\n"
	       "installs the rig unattended: autoinstall user-data or a preseed, the rig's\n"
	       "payload and first-boot agent, and a new default boot menu entry. The boot\n"
	       "structure (BIOS and UEFI, CD and USB) stays as the base had it.\n"
	       "Same base, profile and SOURCE_DATE_EPOCH give the same bytes.\n"
	       "\n"
	       "Options:\n"
	       " -p, --profile FILE   rig profile (see mlrig-profile(5))\n"
	       "     --base FILE      the Ubuntu ISO to start from (never modified)\n"
	       " -o, --output FILE    the ISO to write\n"
	       " -q, --quiet          no progress line\n"
	       " -h, --help           display this help\n"
	       "\n"
	       "Storage stays interactive unless the profile has [Install] Disk= and Wipe=yes.\n"
	       "Environment: SOURCE_DATE_EPOCH overrides [Image] SourceDateEpoch=;\n"
	       "MLRIG_AGENT names the first-boot agent binary to ship.\n"
	       "See mlrig-iso(1).\n");
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_BASE = 0x100 };
	static const struct option options[] = {
		{ "profile", required_argument, NULL, 'p' }, { "base", required_argument, NULL, ARG_BASE },
		{ "output", required_argument, NULL, 'o' },  { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },          {}
	};
	int c, r;

	while ((c = getopt_long(argc, argv, ":p:o:qh", options, NULL)) >= 0)
		switch (c) {
		case 'p': arg_profile = optarg; break;
		case 'o': arg_output = optarg; break;
		case 'q': arg_quiet = true; break;
		case ARG_BASE: arg_base = optarg; break;
		case 'h': help(); return 0;
		default: return cli_option_error("iso", c, argv);
		}
	r = cli_positional("iso", argc, argv, NULL, 0, 0);
	if (r < 0)
		return r;
	if (!arg_profile || !arg_base || !arg_output)
		return cli_usage_error("iso", "needs -p PROFILE, --base BASE.iso and -o OUT.iso");
	return 1;
}

/* -o naming the base (by another path, a link, a hard link) would destroy it. */
static bool same_file(const char *a, const char *b) {
	char ra[PATH_MAX], rb[PATH_MAX];
	struct stat sa, sb;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
		return true;
	return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

static void on_progress(uint64_t done, uint64_t total, void *userdata) {
	progress_update(userdata, done, total);
}

/* The helpers below return as run() does: 0 done, -errno once they have
 * logged why, or EXIT_USAGE once they have said why the base cannot be used. */

/* mlrig's entry, first and default, in the menu at path. */
static int add_menu(Remaster *remaster, const char *path, bool grub, const char *title, bool required) {
	_cleanup_free_ char *text = NULL, *out = NULL;
	enum media_installer inst = remaster_flavour(remaster)->installer;
	size_t size;
	int r;

	r = remaster_read(remaster, path, &text, &size);
	if (r == -ENOENT && !required)
		return 0;
	if (r == -ENOENT)
		return cli_input_error_errno(r, "Cannot read %s in %s: %m", path, arg_base);
	if (r < 0)
		return log_error_errno(r, "Cannot read %s in %s: %m", path, arg_base);
	r = grub ? menu_grub_cfg_add_entry(text, title, inst, &out)
		 : menu_isolinux_cfg_add_entry(text, title, inst, &out);
	if (r == -ENOENT)
		return cli_input_error("%s in %s has no boot entry to copy the kernel arguments from.", path, arg_base);
	if (r < 0)
		return log_error_errno(r, "Cannot add the boot entry to %s: %m", path);
	size = strlen(out);
	r = remaster_put(remaster, path, TAKE_PTR(out), size, 0);
	if (r < 0)
		return log_error_errno(r, "Cannot replace %s: %m", path);
	log_debug("iso: default entry added to %s", path);
	return 0;
}

/* Adds text (taken over) as the file at path. */
static int put_text(Remaster *remaster, const char *path, char *text, mode_t mode) {
	size_t size = strlen(text);
	int r = remaster_put(remaster, path, text, size, mode);

	if (r < 0)
		return log_error_errno(r, "Cannot add %s to the image: %m", path);
	return 0;
}

/* The payload's files under /mlrig/root; the image takes their data over. */
static int put_payload_files(Remaster *remaster, struct payload *pl) {
	for (size_t i = 0; i < pl->n_files; i++) {
		_cleanup_free_ char *path = NULL;
		struct payload_file *f = &pl->files[i];
		int r;

		if (asprintf(&path, MEDIA_PAYLOAD_ROOT "%s", f->path) < 0)
			return log_oom();
		if (f->source)
			r = remaster_put_file(remaster, path, f->source, f->mode);
		else /* data NULL: a directory */
			r = remaster_put(remaster, path, TAKE_PTR(f->data), f->size, f->mode);
		if (r < 0)
			return log_error_errno(r, "Cannot add %s to the image: %m", path);
	}
	return 0;
}

/* Every Packages index under the medium's /dists, as one text: what its installer can install
 * without the network. Empty when the medium has no pool (none of Ubuntu's do without one). */
static int read_pool(Remaster *remaster, char **ret) {
	_cleanup_strv_free_ char **suites = NULL;
	_cleanup_free_ char *all = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&all, &size);
	int r;

	if (!f)
		return -ENOMEM;
	r = remaster_list_dir(remaster, "/dists", &suites);
	for (char **suite = r >= 0 ? suites : NULL; suite && *suite; suite++) {
		_cleanup_strv_free_ char **comps = NULL;
		_cleanup_free_ char *dir = NULL;

		if (asprintf(&dir, "/dists/%s", *suite) < 0 || remaster_list_dir(remaster, dir, &comps) < 0)
			continue;
		for (char **comp = comps; *comp; comp++)
			for (const char *ext = ""; ext; ext = *ext ? NULL : ".gz") {
				_cleanup_free_ char *path = NULL, *data = NULL, *text = NULL;
				size_t n, tn;

				if (asprintf(&path, "%s/%s/binary-amd64/Packages%s", dir, *comp, ext) < 0 ||
				    remaster_read(remaster, path, &data, &n) < 0)
					continue;
				if (archive_decompress_memory(data, n, 256 * MiB, &text, &tn) < 0) {
					log_warning("%s in %s cannot be read, ignoring.", path, arg_base);
					continue;
				}
				fprintf(f, "%s\n", text);
				break; /* Packages and Packages.gz hold the same */
			}
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(all);
	return 0;
}

/* [Packages]: Debs= against Install= and the medium's pool (the installed set is not known yet:
 * the misses are warnings). EXIT_USAGE (said) for Debs= that cannot be read. */
static int plan_packages(Remaster *remaster, const Profile *p, struct packages_plan *ret) {
	_cleanup_free_ char *pool = NULL, *status = NULL, *warnings = NULL, *error = NULL;
	_cleanup_(gpu_plan_release) struct gpu_plan gpu = {};
	_cleanup_strv_free_ char **names = NULL;
	int r;

	*ret = (struct packages_plan){};
	/* [GPU] first: its files are read and checked, and its packages join Install= */
	r = verb_gpu_plan("iso", p, &gpu, &names);
	if (r != 0)
		return r;
	if (!names[0])
		return 0;
	r = read_pool(remaster, &pool);
	if (r >= 0)
		r = packages_pool_as_status(pool, &status);
	if (r < 0)
		return log_error_errno(r, "Cannot read the package pool of %s: %m", arg_base);
	r = packages_plan_make(p, names, status, strlen(status), "the medium's pool", true, ret, &warnings, &error);
	if (r == -EINVAL)
		return cli_input_error("%s", error ?: "[Packages] Debs= cannot be used");
	if (r < 0)
		return log_error_errno(r, "%s", error ?: strerror(-r));
	if (warnings)
		log_warning("[Packages] Install= may not install: the medium's pool and Debs= lack what these need "
			    "(the installer may still find them on the network):\n%s", warnings);
	if (ret->have_repo)
		log_info("iso: the rig's repository carries %zu of the %zu .debs in %s", ret->res.n_install,
			 ret->repo.n_debs, p->debs);
	return 0;
}

/* The payload, the units to enable and the install script that copies them into /target. */
static int add_payload(Remaster *remaster, const Profile *p, const struct packages_plan *packages, char **ret_agent) {
	_cleanup_free_ char *datadir = NULL, *error = NULL, *units = NULL, *script = NULL;
	struct payload pl = {};
	int r;

	r = find_datadir(&datadir);
	if (r < 0)
		return log_oom();
	r = payload_collect(p, datadir, NULL, &pl, &error);
	if (r >= 0)
		r = payload_add_packages(&pl, packages, &error);
	if (r < 0)
		return error ? log_error_errno(r, "Cannot collect the rig's payload: %s", error)
			     : log_error_errno(r, "Cannot collect the rig's payload: %m");
	r = put_payload_files(remaster, &pl);
	if (r >= 0)
		r = autoinstall_units(&pl, &units) < 0 ? log_oom() : put_text(remaster, MEDIA_UNITS, TAKE_PTR(units), 0644);
	if (r >= 0)
		r = (script = strdup(autoinstall_script())) ? put_text(remaster, MEDIA_INSTALL_SCRIPT, TAKE_PTR(script), 0755)
							    : log_oom();
	if (r >= 0)
		*ret_agent = TAKE_PTR(pl.agent_path);
	payload_release(&pl);
	return r;
}

/* ubiquity: the preseed, the medium's own defaults first so they stay in force under ours. */
static int add_preseed(Remaster *remaster, const struct autoinstall_config *c, const char **ret_seed_path) {
	_cleanup_free_ char *base_seed = NULL, *text = NULL;
	int r;

	r = remaster_read(remaster, "/preseed/ubuntu.seed", &base_seed, NULL);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "Cannot read /preseed/ubuntu.seed in %s, ignoring: %m", arg_base);
	r = autoinstall_preseed(c, base_seed, &text);
	if (r < 0)
		return log_error_errno(r, "Cannot write the preseed: %m");
	r = put_text(remaster, MEDIA_PRESEED, TAKE_PTR(text), 0644);
	if (r < 0)
		return r;
	*ret_seed_path = MEDIA_PRESEED;
	return 0;
}

/* subiquity: the autoinstall user-data, and the meta-data nocloud needs to exist (empty is fine). */
static int add_nocloud(Remaster *remaster, const struct autoinstall_config *c, const char **ret_seed_path) {
	_cleanup_free_ char *text = NULL, *empty = NULL;
	int r;

	r = autoinstall_user_data(c, &text);
	if (r < 0)
		return log_error_errno(r, "Cannot write the autoinstall user-data: %m");
	r = put_text(remaster, MEDIA_NOCLOUD_DIR "/user-data", TAKE_PTR(text), 0644);
	if (r < 0)
		return r;
	empty = strdup("");
	if (!empty)
		return log_oom();
	r = put_text(remaster, MEDIA_NOCLOUD_DIR "/meta-data", TAKE_PTR(empty), 0644);
	if (r < 0)
		return r;
	*ret_seed_path = MEDIA_NOCLOUD_DIR "/user-data";
	return 0;
}

/* The installer's answers, in the form the base's installer reads. It installs what the rig's
 * repository does not carry (from the medium's pool, or the network); the rig the rest. */
static int add_seed(Remaster *remaster, const Profile *p, const struct packages_plan *packages,
		    const char **ret_seed_path) {
	_cleanup_strv_free_ char **keys = NULL;
	_cleanup_free_ char **installer_packages = NULL;
	struct autoinstall_config c = {
		.hostname = p->hostname,
		.username = p->user,
		.password_hash = p->password_hash,
		.disk = p->install_disk,
		.wipe = p->install_wipe,
	};
	size_t n = 0;
	int r;

	for (char **q = p->install; q && *q; q++)
		n++;
	if (n > 0) {
		installer_packages = calloc(n + 1, sizeof(char *));
		if (!installer_packages)
			return log_oom();
		n = 0;
		for (char **q = p->install; *q; q++)
			if (!packages_plan_installs(packages, *q))
				installer_packages[n++] = *q; /* borrowed */
		c.packages = n > 0 ? installer_packages : NULL;
	}
	r = autoinstall_read_keys(p->authorized_keys, &keys);
	if (r < 0)
		return log_error_errno(r, "Cannot read [Rig] AuthorizedKeys=%s: %m", p->authorized_keys);
	c.authorized_keys = keys;
	if (remaster_flavour(remaster)->installer == MEDIA_INSTALLER_UBIQUITY)
		return add_preseed(remaster, &c, ret_seed_path);
	return add_nocloud(remaster, &c, ret_seed_path);
}

/* The menus that get mlrig's entry: GRUB's (BIOS on 22.04+, UEFI everywhere) and ISOLINUX's (BIOS on 20.04). */
static const struct {
	const char *path;
	bool grub, required;
} menus[] = {
	{ "/boot/grub/grub.cfg", true, true },
	{ "/boot/grub/loopback.cfg", true, false },
	{ "/isolinux/txt.cfg", false, false },
};

static int run(void) {
	_cleanup_(profile_freep) Profile *p = NULL;
	_cleanup_(remaster_freep) Remaster *remaster = NULL;
	_cleanup_(packages_plan_release) struct packages_plan packages = {};
	_cleanup_free_ char *error = NULL, *tmp = NULL, *title = NULL, *agent = NULL;
	_cleanup_close_ int fd = -1;
	const struct media_flavour *fl;
	const char *seed = NULL;
	struct progress prog;
	double t0 = now_seconds();
	uint64_t epoch;
	int r;

	r = verb_load_profile(arg_profile, &p);
	if (r != 0)
		return r;
	if (profile_source_date_epoch(p, &epoch) < 0)
		return cli_input_error("SOURCE_DATE_EPOCH=%s: not a number of seconds.", getenv("SOURCE_DATE_EPOCH"));
	if (same_file(arg_base, arg_output))
		return cli_input_error("-o %s is the base ISO %s: refusing to overwrite the base; write to another file.",
				       arg_output, arg_base);

	r = remaster_open(arg_base, epoch, &remaster, &error);
	/* a base that is not Ubuntu install media (or not there) is bad input; anything else a failure */
	if (r == -EBADMSG || r == -EMEDIUMTYPE || r == -ENOENT || r == -EACCES || r == -EISDIR)
		return error ? cli_input_error("%s", error) : cli_input_error_errno(r, "Cannot use %s: %m", arg_base);
	if (r < 0)
		return error ? log_error_errno(r, "%s", error) : log_error_errno(r, "Cannot read %s: %m", arg_base);
	fl = remaster_flavour(remaster);
	log_info("iso: %s: %s %s, %s, %s", arg_base, fl->product, fl->release, media_installer_to_string(fl->installer),
		 media_layout_to_string(remaster_layout(remaster)));

	r = plan_packages(remaster, p, &packages);
	if (r != 0)
		return r;
	r = add_payload(remaster, p, &packages, &agent);
	if (r != 0)
		return r;
	/* as mlrig image checks the rootfs: the installed system is the medium's release */
	r = agent_check_release(agent, fl->release, &error);
	if (r < 0)
		return error ? log_error_errno(r, "%s", error) : log_error_errno(r, "Cannot check the agent %s: %m", agent);
	r = add_seed(remaster, p, &packages, &seed);
	if (r != 0)
		return r;
	if (asprintf(&title, "Install rig %s with mlrig (unattended)", p->hostname) < 0)
		return log_oom();
	for (size_t i = 0; i < ELEMENTSOF(menus); i++) {
		r = add_menu(remaster, menus[i].path, menus[i].grub, title, menus[i].required);
		if (r != 0)
			return r;
	}
	if (!(p->install_disk && p->install_wipe))
		log_info("iso: storage stays interactive (no [Install] Disk= with Wipe=yes): no disk is wiped silently.");
	else
		log_info("iso: [Install] Disk=%s Wipe=yes: the installer erases %s without asking.", p->install_disk,
			 p->install_disk);

	output_say_stale(arg_output);
	fd = output_open(arg_output, &tmp);
	if (fd < 0)
		return log_error_errno(fd, "Cannot create a file next to '%s': %m", arg_output);

	progress_init(&prog, "iso", arg_quiet);
	free(error), error = NULL;
	r = remaster_write(remaster, fd, on_progress, &prog, &error);
	progress_done(&prog);
	if (r < 0) {
		if (error)
			log_error_errno(r, "Cannot write %s: %s", arg_output, error);
		else
			log_error_errno(r, "Cannot write %s: %m", arg_output);
		goto fail;
	}
	r = output_commit(fd, tmp, arg_output);
	if (r < 0) {
		log_error_errno(r, "Cannot rename '%s' to '%s': %m", tmp, arg_output);
		goto fail;
	}
	log_info("iso: wrote %s (seed %s, agent %s, epoch %llu) in %.1f s", arg_output, seed, agent ? agent : "?",
		 (unsigned long long)epoch, now_seconds() - t0);
	return EXIT_OK;

fail:
	output_discard(tmp);
	return r;
}

const struct cli_verb verb_iso = { "iso", parse_argv, run };
