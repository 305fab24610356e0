/* Turns a streamed distribution rootfs into a rig: identity, fstab, network,
 * user, overlays, units, GRUB config, and what goes on the ESP. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "fs-util.h"
#include "elf-check.h"
#include "image-rootfs.h"
#include "payload.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"
#include "rootfs-boot.h"
#include "template.h"

static int find_kernel(Ext4 *fs, struct rootfs_result *res, char **ret_error) {
	_cleanup_strv_free_ char **names = NULL;
	const char *best = NULL;
	int r;

	r = ext4_list_dir(fs, "/boot", &names);
	if (r < 0 && r != -ENOENT)
		return set_error(ret_error, r, "cannot list /boot in the rootfs: %m");
	for (char **n = names; n && *n; n++)
		if (string_has_prefix(*n, "vmlinuz-") && (!best || strverscmp(*n, best) > 0))
			best = *n;
	if (!best)
		return set_error(ret_error, -ENOENT,
				 "rootfs has no kernel (/boot/vmlinuz-*): install a kernel package (linux-image-generic) in it");
	if (asprintf(&res->initrd, "initrd.img-%s", best + strlen("vmlinuz-")) < 0 || !(res->kernel = strdup(best)))
		return -ENOMEM;
	{
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "/boot/%s", res->initrd) < 0)
			return -ENOMEM;
		if (ext4_stat(fs, p, NULL) < 0)
			return set_error(ret_error, -ENOENT, "rootfs has %s but no %s: the kernel needs its initramfs",
					 res->kernel, p);
	}
	return 0;
}

/* The directory holding the unit file inside the rootfs, /usr/lib first (merged /usr), or NULL. */
static const char *unit_dir(Ext4 *fs, const char *unit) {
	static const char *const dirs[] = { "/usr/lib/systemd/system", "/lib/systemd/system", "/etc/systemd/system" };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/%s", dirs[i], unit) < 0)
			return NULL;
		if (ext4_stat(fs, p, NULL) >= 0)
			return dirs[i];
	}
	return NULL;
}

/* Enables a unit the way `systemctl enable` does: a symlink in TARGET.wants. */
static int enable_unit(Ext4 *fs, const char *unit, const char *target, char **ret_error) {
	_cleanup_free_ char *wants = NULL, *link = NULL, *dest = NULL;
	const char *dir = unit_dir(fs, unit);
	int r;

	if (!dir)
		return set_error(ret_error, -ENOENT, "rootfs has no unit %s to enable", unit);
	if (asprintf(&wants, "/etc/systemd/system/%s.wants", target) < 0 || asprintf(&link, "%s/%s", wants, unit) < 0 ||
	    asprintf(&dest, "%s/%s", dir, unit) < 0)
		return -ENOMEM;
	r = ext4_mkdir_p(fs, wants, 0755, 0, 0);
	if (r >= 0)
		r = ext4_symlink(fs, link, dest);
	if (r < 0)
		return set_error(ret_error, r, "cannot enable %s: %m", unit);
	return 0;
}

static int render_file(const char *src, const struct template_var *vars, unsigned n_vars, char **ret,
		       size_t *ret_size, char **ret_error) {
	_cleanup_free_ char *text = NULL;
	size_t size;
	int r;

	r = read_full_file(src, &text, &size);
	if (r < 0)
		return set_error(ret_error, r, "cannot read %s: %m", src);
	if (!string_has_suffix(src, ".in")) {
		*ret = TAKE_PTR(text);
		*ret_size = size;
		return 0;
	}
	r = template_render(src, text, vars, n_vars, ret, ret_error);
	if (r >= 0)
		*ret_size = strlen(*ret);
	return r;
}

/* Lays overlays/image/PATH (PATH.in rendered with vars, when that is there) into the fs at PATH. */
static int install_template(Ext4 *fs, const struct rootfs_plan *plan, const char *path, uint32_t mode,
			    const struct template_var *vars, unsigned n_vars, char **ret_error) {
	_cleanup_free_ char *src = NULL, *text = NULL;
	size_t size;
	int r;

	if (asprintf(&src, "%s/overlays/image%s.in", plan->datadir, path) < 0)
		return -ENOMEM;
	if (access(src, F_OK) < 0)
		src[strlen(src) - 3] = 0; /* not a template: copied as it is */
	r = render_file(src, vars, n_vars, &text, &size, ret_error);
	if (r < 0)
		return r;
	r = ext4_write_file(fs, path, text, size, mode, 0, 0);
	if (r < 0)
		return set_error(ret_error, r, "cannot write %s into the image: %m", path);
	return 0;
}

/* DHCP on every wired interface: netplan renders networkd config at boot on Ubuntu (with
 * cloud-init off nothing else would); elsewhere networkd directly, enabled. */
static int setup_network(Ext4 *fs, const struct rootfs_plan *plan, char **ret_error) {
	const char *dir = ext4_stat(fs, "/usr/sbin/netplan", NULL) >= 0 ? "/etc/netplan" : "/etc/systemd/network";
	int r;

	r = ext4_mkdir_p(fs, dir, 0755, 0, 0);
	if (r < 0)
		return set_error(ret_error, r, "cannot make %s in the image: %m", dir);
	if (strcmp(dir, "/etc/netplan") == 0)
		return install_template(fs, plan, "/etc/netplan/50-mlrig.yaml", 0600, NULL, 0, ret_error);
	r = install_template(fs, plan, "/etc/systemd/network/50-mlrig-dhcp.network", 0644, NULL, 0, ret_error);
	if (r >= 0)
		r = enable_unit(fs, "systemd-networkd.service", "multi-user.target", ret_error);
	if (r >= 0)
		r = enable_unit(fs, "systemd-networkd.socket", "sockets.target", ret_error);
	if (r >= 0)
		r = enable_unit(fs, "systemd-networkd-wait-online.service", "network-online.target", ret_error);
	return r;
}

/* The payload every rig receives (overlays, agent, /etc/mlrig), written into the
 * fs, with its units enabled. */
static int install_payload(Ext4 *fs, const struct rootfs_plan *plan, char **ret_error) {
	struct payload pl = {};
	int r;

	r = payload_collect(plan->profile, plan->datadir, plan->agent, &pl, ret_error);
	if (r >= 0)
		r = payload_add_packages(&pl, plan->packages, ret_error);
	if (r >= 0)
		r = agent_check_rootfs(fs, pl.agent_path, ret_error);
	for (size_t i = 0; i < pl.n_files && r >= 0; i++) {
		const struct payload_file *f = &pl.files[i];

		if (f->source)
			r = ext4_copy_file(fs, f->path, f->source, f->mode, 0, 0);
		else if (!f->data)
			r = ext4_mkdir_p(fs, f->path, f->mode, 0, 0);
		else
			r = ext4_write_file(fs, f->path, f->data, f->size, f->mode, 0, 0);
		if (r < 0)
			set_error(ret_error, r, "cannot write %s into the image: %m", f->path);
	}
	for (size_t i = 0; i < pl.n_units && r >= 0; i++)
		r = enable_unit(fs, pl.units[i].unit, pl.units[i].target, ret_error);
	payload_release(&pl);
	return r;
}

static int esp_add(struct rootfs_result *res, const char *path, void *data, size_t size) {
	if (res->n_esp >= ELEMENTSOF(res->esp)) {
		free(data);
		return -E2BIG;
	}
	res->esp_data[res->n_esp] = data;
	res->esp[res->n_esp++] = (struct esp_file){ .path = path, .data = data, .size = size };
	return 0;
}

/* The rootfs's own signed shim + GRUB when it has them (Secure Boot works),
 * else a GRUB image built by grub-mkimage from the host's modules. */
static int esp_loader(Ext4 *fs, struct rootfs_result *res, char **ret_error) {
	char *shim = NULL, *grub = NULL;
	size_t shim_size, grub_size;
	int r;

	res->boot.shim_signed = ext4_read_file_follow(fs, ROOTFS_SHIM_SIGNED, &shim, &shim_size) >= 0;
	res->boot.grub_signed = ext4_read_file_follow(fs, ROOTFS_GRUB_SIGNED, &grub, &grub_size) >= 0;
	if (res->boot.shim_signed && res->boot.grub_signed) {
		res->efi_loader = "shim + GRUB, signed, from the rootfs";
		r = esp_add(res, "EFI/BOOT/BOOTX64.EFI", shim, shim_size);
		if (r < 0) {
			free(grub);
			return r;
		}
		return esp_add(res, "EFI/BOOT/grubx64.efi", grub, grub_size);
	}
	free(shim);
	free(grub);

	_cleanup_(process_result_release) struct process_result log = {};
	_cleanup_free_ char *dir = NULL, *out = NULL;
	char *data = NULL, status[64];
	size_t size;

	r = make_tmpdir("mlrig-grub", &dir);
	if (r < 0)
		return set_error(ret_error, r, "cannot create a directory in %s: %m", tmp_dir());
	if (asprintf(&out, "%s/BOOTX64.EFI", dir) < 0) {
		(void)rm_rf(dir);
		return -ENOMEM;
	}
	char *argv[] = { "grub-mkimage", "-O", "x86_64-efi", "-p", "/EFI/BOOT", "-o", out,
			 "part_gpt", "part_msdos", "fat", "ext2", "normal", "linux", "search", "search_fs_uuid",
			 "configfile", "echo", "gzio", "serial", "terminal", "test", "all_video", "efi_gop", NULL };
	r = process_run(&(struct process_options){
				.argv = argv, .stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_CAPTURE,
				.stderr_mode = PROCESS_TO_STDOUT,
			}, &log);
	if (r == 0)
		r = read_full_file(out, &data, &size);
	else if (r > 0)
		r = set_error(ret_error, -EIO, "grub-mkimage %s: %s (rootfs has no signed shim + GRUB; install grub-efi-amd64-bin on this machine)",
			      process_status_to_string(r, status, sizeof(status)), string_trim_end(log.out));
	else
		r = set_error(ret_error, r, "cannot run grub-mkimage: %m (install grub-efi-amd64-bin)");
	(void)rm_rf(dir);
	if (r < 0)
		return r;
	res->efi_loader = "GRUB from grub-mkimage";
	return esp_add(res, "EFI/BOOT/BOOTX64.EFI", data, size);
}

int rootfs_customise(Ext4 *fs, const struct rootfs_plan *plan, struct rootfs_result *res, char **ret_error) {
	const Profile *p = plan->profile;
	_cleanup_free_ char *osr = NULL, *cmdline = NULL, *grubcfg = NULL, *espcfg = NULL, *timeout = NULL,
			     *src = NULL;
	uint32_t uid;
	int r;

	*ret_error = NULL;
	memset(res, 0, sizeof(*res));

	if (ext4_read_file(fs, "/usr/lib/os-release", &osr, NULL) < 0 && ext4_read_file(fs, "/etc/os-release", &osr, NULL) < 0)
		return set_error(ret_error, -ENOENT, "rootfs has no os-release: is it a root file system tarball?");
	res->os_id = os_release_value(osr, "ID");
	res->pretty_name = os_release_value(osr, "PRETTY_NAME");
	if (!res->os_id || !res->pretty_name)
		return set_error(ret_error, -EINVAL, "rootfs os-release lacks ID= or PRETTY_NAME=");
	r = find_kernel(fs, res, ret_error);
	if (r < 0)
		return r;
	res->boot.update_grub = ext4_stat(fs, ROOTFS_UPDATE_GRUB, NULL) >= 0;
	res->boot.os_prober = ext4_stat(fs, ROOTFS_OS_PROBER, NULL) >= 0;

	if (asprintf(&cmdline, RIG_CONSOLE_ARGS "%s%s", p->kernel_command_line ? " " : "",
		     p->kernel_command_line ? p->kernel_command_line : "") < 0 ||
	    asprintf(&timeout, "%u", p->timeout) < 0)
		return -ENOMEM;
	const struct template_var vars[] = {
		{ "HOSTNAME", p->hostname },
		{ "ROOT_UUID", plan->root_uuid },
		{ "ESP_UUID", plan->esp_uuid },
		{ "KERNEL", res->kernel },
		{ "INITRD", res->initrd },
		{ "CMDLINE", cmdline },
		{ "TIMEOUT", timeout },
		{ "PRETTY_NAME", res->pretty_name },
		{ "USER", p->user },
	};

	/* identity */
	if ((r = install_template(fs, plan, "/etc/hostname", 0644, vars, ELEMENTSOF(vars), ret_error)) < 0 ||
	    (r = install_template(fs, plan, "/etc/hosts", 0644, vars, ELEMENTSOF(vars), ret_error)) < 0 ||
	    (r = install_template(fs, plan, "/etc/fstab", 0644, vars, ELEMENTSOF(vars), ret_error)) < 0)
		return r;
	r = ext4_mkdir_p(fs, "/boot/efi", 0755, 0, 0);
	if (r < 0)
		return set_error(ret_error, r, "cannot make /boot/efi in the image: %m");

	r = setup_network(fs, plan, ret_error);
	if (r < 0)
		return r;
	if (ext4_stat(fs, "/etc/cloud", NULL) >= 0) {
		/* the rig is configured by mlrig; cloud-init would wait for a datasource */
		r = install_template(fs, plan, "/etc/cloud/cloud-init.disabled", 0644, NULL, 0, ret_error);
		if (r < 0)
			return r;
	}

	r = rootfs_add_user(fs, p, plan->epoch, &uid, ret_error);
	if (r < 0)
		return *ret_error ? r : set_error(ret_error, r, "cannot add user %s: %m", p->user);
	if (!p->password_hash) {
		/* a locked password cannot answer sudo's prompt */
		r = ext4_mkdir_p(fs, "/etc/sudoers.d", 0750, 0, 0);
		if (r < 0)
			return set_error(ret_error, r, "cannot make /etc/sudoers.d in the image: %m");
		r = install_template(fs, plan, "/etc/sudoers.d/90-mlrig", 0440, vars, ELEMENTSOF(vars), ret_error);
		if (r < 0)
			return r;
	}

	r = install_payload(fs, plan, ret_error);
	if (r < 0)
		return r;

	/* GRUB: the real config in the root fs, a small config on the ESP that finds it */
	free(src), src = NULL;
	if (asprintf(&src, "%s/grub/grub.cfg.in", plan->datadir) < 0)
		return -ENOMEM;
	size_t size;
	if ((r = render_file(src, vars, ELEMENTSOF(vars), &grubcfg, &size, ret_error)) < 0)
		return r;
	if ((r = ext4_mkdir_p(fs, "/boot/grub", 0755, 0, 0)) < 0 ||
	    (r = ext4_write_file(fs, "/boot/grub/grub.cfg", grubcfg, size, 0644, 0, 0)) < 0)
		return set_error(ret_error, r, "cannot write /boot/grub/grub.cfg: %m");
	free(src), src = NULL;
	if (asprintf(&src, "%s/grub/esp.cfg.in", plan->datadir) < 0)
		return -ENOMEM;
	if ((r = render_file(src, vars, ELEMENTSOF(vars), &espcfg, &size, ret_error)) < 0)
		return r;

	r = esp_loader(fs, res, ret_error);
	if (r < 0)
		return r;
	{
		/* GRUB reads $prefix/grub.cfg (EFI/<distro>, compiled in) or $cmdpath/grub.cfg */
		char *a = strdup(espcfg), *b = strdup(espcfg);

		if (!a || !b || asprintf(&res->vendor_cfg, "EFI/%s/grub.cfg", res->os_id) < 0 ||
		    esp_add(res, "EFI/BOOT/grub.cfg", a, size) < 0) {
			free(b);
			return -ENOMEM;
		}
		r = esp_add(res, res->vendor_cfg, b, size);
		if (r < 0)
			return r;
	}
	return 0;
}

void rootfs_result_release(struct rootfs_result *r) {
	free(r->os_id);
	free(r->pretty_name);
	free(r->kernel);
	free(r->initrd);
	free(r->vendor_cfg);
	for (unsigned i = 0; i < r->n_esp; i++)
		free(r->esp_data[i]);
	memset(r, 0, sizeof(*r));
}
