/* What mlrig changes in a root file system after streaming the tarball:
 * identity, fstab, network, user, overlays, GRUB config, the ESP payload. */
#pragma once

#include <stdint.h>

#include "image-esp.h"
#include "image-ext4.h"
#include "packages.h"
#include "payload.h"
#include "profile.h"
#include "rootfs-boot.h"

struct rootfs_plan {
	const Profile *profile;
	const char *datadir;   /* holds overlays/ and grub/ */
	const char *agent;     /* agent binary to install; NULL: find_agent() */
	const struct packages_plan *packages; /* the rig's repository, or NULL */
	char root_uuid[37];
	char esp_uuid[10];     /* "ABCD-1234" */
	uint64_t epoch;
};

struct rootfs_result {
	char *os_id, *pretty_name;
	char *kernel, *initrd;     /* names under /boot */
	char *vendor_cfg;          /* "EFI/<os id>/grub.cfg" */
	const char *efi_loader;    /* "shim + GRUB, signed, from the rootfs" or "GRUB from grub-mkimage" */
	struct rootfs_boot boot;   /* what the rootfs brought for booting: signed pair, dual-boot tools */
	struct esp_file esp[6];
	void *esp_data[6];         /* owned buffers behind esp[].data */
	unsigned n_esp;
};

int rootfs_customise(Ext4 *fs, const struct rootfs_plan *plan, struct rootfs_result *ret, char **ret_error);
void rootfs_result_release(struct rootfs_result *r);

/* Adds the profile's user (sudo group, home, authorized_keys) to the passwd,
 * group and shadow files; keeps an existing entry. Writes the uid to *ret_uid. */
int rootfs_add_user(Ext4 *fs, const Profile *p, uint64_t epoch, uint32_t *ret_uid, char **ret_error);
