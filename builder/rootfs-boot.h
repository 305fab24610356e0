/* What a rootfs brings for booting a rig: the signed shim + GRUB pair that
 * Secure Boot needs, and update-grub + os-prober that dual boot needs; read
 * from a rootfs tarball (mlrig check) or the image being built (mlrig image),
 * and the warnings the builder gives when something is missing. */
#pragma once

#include <stdbool.h>

#include "profile.h"

/* The rootfs's own signed loaders (Debian and Ubuntu: shim-signed, grub-efi-amd64-signed). */
#define ROOTFS_SHIM_SIGNED "/usr/lib/shim/shimx64.efi.signed"
#define ROOTFS_GRUB_SIGNED "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
#define ROOTFS_UPDATE_GRUB "/usr/sbin/update-grub"
#define ROOTFS_OS_PROBER "/usr/bin/os-prober"

struct rootfs_boot {
	bool shim_signed, grub_signed, update_grub, os_prober;
};

/* Looks for the paths above among the tarball's files, a symlink followed to the file it names
 * among them (names only, no data read). */
int rootfs_boot_from_tarball(const char *tarball, struct rootfs_boot *ret, char **ret_error);

/* The builder's warnings for this profile and rootfs, a NULL-terminated list (possibly empty);
 * free with strv_freep. */
int rootfs_boot_warnings(const Profile *p, const struct rootfs_boot *b, char ***ret);
