/* What a rootfs brings for booting a rig (signed loaders, dual-boot tools), and what the builder warns about. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "archive-util.h"
#include "error.h"
#include "macro.h"
#include "rootfs-boot.h"

static const struct {
	const char *path;
	size_t field;
} wanted[] = {
	{ ROOTFS_SHIM_SIGNED, offsetof(struct rootfs_boot, shim_signed) },
	{ ROOTFS_GRUB_SIGNED, offsetof(struct rootfs_boot, grub_signed) },
	{ ROOTFS_UPDATE_GRUB, offsetof(struct rootfs_boot, update_grub) },
	{ ROOTFS_OS_PROBER, offsetof(struct rootfs_boot, os_prober) },
};

int rootfs_boot_from_tarball(const char *tarball, struct rootfs_boot *ret, char **ret_error) {
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	const struct archive_input *input;
	struct rootfs_boot b = {};
	int r;

	r = archive_open_tar_file(tarball, 64 * 1024, &a, &input);
	if (r < 0)
		return set_error(ret_error, r, "cannot open %s: %m", tarball);
	for (;;) {
		struct archive_entry *entry;
		const char *name;

		r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return set_error(ret_error, archive_status_to_errno(a, r), "%s: %s", tarball, archive_error_string(a));
		name = archive_entry_pathname(entry);
		/* tar writes "./usr/lib/...": compared without the "./" or "/" */
		if (name && name[0] == '.' && name[1] == '/')
			name += 2;
		while (name && *name == '/')
			name++;
		for (size_t i = 0; name && i < ELEMENTSOF(wanted); i++)
			if (strcmp(name, wanted[i].path + 1) == 0)
				*(bool *)((char *)&b + wanted[i].field) = true;
	}
	*ret = b;
	return 0;
}

_printf_(2, 3) static int add(char ***l, const char *fmt, ...) {
	size_t n = 0;
	char **nl, *s;
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	while (*l && (*l)[n])
		n++;
	nl = realloc(*l, (n + 2) * sizeof(char *));
	if (!nl) {
		free(s);
		return -ENOMEM;
	}
	nl[n] = s;
	nl[n + 1] = NULL;
	*l = nl;
	return 0;
}

int rootfs_boot_warnings(const Profile *p, const struct rootfs_boot *b, char ***ret) {
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	int r = l ? 0 : -ENOMEM;

	if (r >= 0 && !(b->shim_signed && b->grub_signed))
		r = add(&l, "this image will not boot with Secure Boot on: the rootfs has no %s%s%s (%s%s%s); the ESP gets an unsigned GRUB from grub-mkimage",
			b->shim_signed ? "" : "shim-signed", b->shim_signed || b->grub_signed ? "" : " / ",
			b->grub_signed ? "" : "grub-efi-amd64-signed", b->shim_signed ? "" : ROOTFS_SHIM_SIGNED,
			b->shim_signed || b->grub_signed ? "" : ", ", b->grub_signed ? "" : ROOTFS_GRUB_SIGNED);
	if (r >= 0 && p->dual_boot && !b->update_grub)
		r = add(&l, "[Boot] DualBoot=yes, but the rootfs has no update-grub (%s): the agent's boot-order stage will fail; use a rootfs with grub-efi-amd64 (or grub2-common)",
			ROOTFS_UPDATE_GRUB);
	if (r >= 0 && p->dual_boot && !b->os_prober)
		r = add(&l, "[Boot] DualBoot=yes, but the rootfs has no os-prober (%s): GRUB's menu will not list Windows; Ubuntu desktop has it, a server or cloud rootfs may not: install os-prober in the rootfs",
			ROOTFS_OS_PROBER);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l);
	return 0;
}
