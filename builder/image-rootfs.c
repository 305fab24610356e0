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
#include "template.h"

/* KEY=value from an os-release text, unquoted; NULL when absent. */
static char *os_release_value(const char *text, const char *key) {
	size_t n = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, n) != 0 || l[n] != '=')
			continue;
		const char *v = l + n + 1;
		size_t len = strcspn(v, "\n");
		if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0])
			v++, len -= 2;
		return strndup(v, len);
	}
	return NULL;
}

static int find_kernel(Ext4 *fs, struct rootfs_result *res, char **ret_error) {
	_cleanup_strv_free_ char **names = NULL;
	const char *best = NULL;
	int r;

	r = ext4_list_dir(fs, "/boot", &names);
	if (r < 0 && r != -ENOENT)
		return set_error(ret_error, r, "cannot list /boot in the rootfs: %s", strerror(-r));
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

static int write_text(Ext4 *fs, const char *path, const char *text, uint32_t mode) {
	return ext4_write_file(fs, path, text, strlen(text), mode, 0, 0);
}

/* The unit file's path inside the rootfs, /usr/lib first (merged /usr), or NULL. */
static const char *unit_dir(Ext4 *fs, const char *unit) {
	static const char *const dirs[] = { "/usr/lib/systemd/system", "/lib/systemd/system", "/etc/systemd/system" };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dirs[i], unit);
		if (ext4_stat(fs, p, NULL) >= 0)
			return dirs[i];
	}
	return NULL;
}

/* Enables a unit the way `systemctl enable` does: a symlink in TARGET.wants. */
static int enable_unit(Ext4 *fs, const char *unit, const char *target, char **ret_error) {
	char wants[256], link[512], dest[512];
	const char *dir = unit_dir(fs, unit);
	int r;

	if (!dir)
		return set_error(ret_error, -ENOENT, "rootfs has no unit %s to enable", unit);
	snprintf(wants, sizeof(wants), "/etc/systemd/system/%s.wants", target);
	snprintf(link, sizeof(link), "%s/%s", wants, unit);
	snprintf(dest, sizeof(dest), "%s/%s", dir, unit);
	r = ext4_mkdir_p(fs, wants, 0755, 0, 0);
	if (r >= 0)
		r = ext4_symlink(fs, link, dest);
	if (r < 0)
		return set_error(ret_error, r, "cannot enable %s: %s", unit, strerror(-r));
	return 0;
}

static int setup_network(Ext4 *fs, char **ret_error) {
	int r;

	if (ext4_stat(fs, "/usr/sbin/netplan", NULL) >= 0) {
		/* Ubuntu: netplan renders networkd config at boot; with cloud-init off nothing else would */
		r = ext4_mkdir_p(fs, "/etc/netplan", 0755, 0, 0);
		if (r >= 0)
			r = write_text(fs, "/etc/netplan/50-mlrig.yaml",
				       "# Written by mlrig: DHCP on every wired interface.\n"
				       "network:\n"
				       "  version: 2\n"
				       "  ethernets:\n"
				       "    mlrig-wired:\n"
				       "      match:\n"
				       "        name: \"e*\"\n"
				       "      dhcp4: true\n"
				       "      dhcp6: true\n",
				       0600);
		if (r < 0)
			return set_error(ret_error, r, "cannot write /etc/netplan/50-mlrig.yaml: %s", strerror(-r));
		return 0;
	}
	r = ext4_mkdir_p(fs, "/etc/systemd/network", 0755, 0, 0);
	if (r >= 0)
		r = write_text(fs, "/etc/systemd/network/50-mlrig-dhcp.network",
			       "# Written by mlrig: DHCP on every wired interface.\n"
			       "[Match]\n"
			       "Name=e*\n"
			       "\n"
			       "[Network]\n"
			       "DHCP=yes\n",
			       0644);
	if (r < 0)
		return set_error(ret_error, r, "cannot write the network config: %s", strerror(-r));
	if ((r = enable_unit(fs, "systemd-networkd.service", "multi-user.target", ret_error)) < 0 ||
	    (r = enable_unit(fs, "systemd-networkd.socket", "sockets.target", ret_error)) < 0 ||
	    (r = enable_unit(fs, "systemd-networkd-wait-online.service", "network-online.target", ret_error)) < 0)
		return r;
	return 0;
}

static int render_file(const char *src, const struct template_var *vars, unsigned n_vars, char **ret,
		       size_t *ret_size, char **ret_error) {
	_cleanup_free_ char *text = NULL;
	size_t size;
	int r;

	r = read_full_file(src, &text, &size);
	if (r < 0)
		return set_error(ret_error, r, "cannot read %s: %s", src, strerror(-r));
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

/* The payload every rig receives (overlays, agent, /etc/mlrig), written into the
 * fs, with its units enabled. */
static int install_payload(Ext4 *fs, const struct rootfs_plan *plan, char **ret_error) {
	struct payload pl = {};
	int r;

	r = payload_collect(plan->profile, plan->datadir, plan->agent, &pl, ret_error);
	if (r < 0)
		return r;
	r = agent_check_rootfs(fs, pl.agent_path, ret_error);
	for (size_t i = 0; i < pl.n_files && r >= 0; i++) {
		const struct payload_file *f = &pl.files[i];

		if (!f->data)
			r = ext4_mkdir_p(fs, f->path, f->mode, 0, 0);
		else
			r = ext4_write_file(fs, f->path, f->data, f->size, f->mode, 0, 0);
		if (r < 0)
			set_error(ret_error, r, "cannot write %s into the image: %s", f->path, strerror(-r));
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

	if (ext4_read_file(fs, "/usr/lib/shim/shimx64.efi.signed", &shim, &shim_size) >= 0 &&
	    ext4_read_file(fs, "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed", &grub, &grub_size) >= 0) {
		res->efi_loader = "shim + GRUB, signed, from the rootfs";
		r = esp_add(res, "EFI/BOOT/BOOTX64.EFI", shim, shim_size);
		if (r >= 0)
			r = esp_add(res, "EFI/BOOT/grubx64.efi", grub, grub_size);
		return r;
	}
	free(shim);

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
	_cleanup_free_ char *osr = NULL, *cmdline = NULL, *text = NULL, *grubcfg = NULL,
			     *espcfg = NULL, *timeout = NULL, *hosts = NULL,
			     *fstab = NULL, *src = NULL, *sudoers = NULL;
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
	};

	/* identity */
	if (asprintf(&text, "%s\n", p->hostname) < 0 ||
	    asprintf(&hosts, "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			     "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n", p->hostname) < 0 ||
	    asprintf(&fstab, "# Written by mlrig: file systems by UUID.\n"
			     "UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n"
			     "UUID=%s\t/boot/efi\tvfat\tumask=0077,nofail\t0\t2\n", plan->root_uuid, plan->esp_uuid) < 0)
		return -ENOMEM;
	if ((r = write_text(fs, "/etc/hostname", text, 0644)) < 0 || (r = write_text(fs, "/etc/hosts", hosts, 0644)) < 0 ||
	    (r = write_text(fs, "/etc/fstab", fstab, 0644)) < 0 || (r = ext4_mkdir_p(fs, "/boot/efi", 0755, 0, 0)) < 0)
		return set_error(ret_error, r, "cannot write identity files: %s", strerror(-r));

	r = setup_network(fs, ret_error);
	if (r < 0)
		return r;
	if (ext4_stat(fs, "/etc/cloud", NULL) >= 0) {
		/* the rig is configured by mlrig; cloud-init would wait for a datasource */
		r = write_text(fs, "/etc/cloud/cloud-init.disabled", "# mlrig: disabled\n", 0644);
		if (r < 0)
			return set_error(ret_error, r, "cannot disable cloud-init: %s", strerror(-r));
	}

	r = rootfs_add_user(fs, p, plan->epoch, &uid, ret_error);
	if (r < 0)
		return *ret_error ? r : set_error(ret_error, r, "cannot add user %s: %s", p->user, strerror(-r));
	if (!p->password_hash) {
		/* a locked password cannot answer sudo's prompt */
		if (asprintf(&sudoers, "# Written by mlrig: the rig user has no password.\n%s ALL=(ALL) NOPASSWD:ALL\n",
			     p->user) < 0)
			return -ENOMEM;
		if ((r = ext4_mkdir_p(fs, "/etc/sudoers.d", 0750, 0, 0)) < 0 ||
		    (r = write_text(fs, "/etc/sudoers.d/90-mlrig", sudoers, 0440)) < 0)
			return set_error(ret_error, r, "cannot write /etc/sudoers.d/90-mlrig: %s", strerror(-r));
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
		return set_error(ret_error, r, "cannot write /boot/grub/grub.cfg: %s", strerror(-r));
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
