/* Whether a device may be overwritten with an image: the checks before `mlrig flash` writes anything. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the safety checks found out about the target. */
struct flash_target {
	char *path;
	bool block;          /* a block device (else a regular file, allowed with --force) */
	uint64_t size;       /* bytes; 0 for a regular file that will grow */
	unsigned sector_size;
	bool zeroes_free;    /* makes zeros without being sent them: WRITE ZEROES, a loop device over a file, a file's punched holes */
	bool removable;      /* removable media, a USB or SD/MMC device */
	char *description;   /* "SanDisk Ultra, 28.7 GiB" for the prompt */
};
void flash_target_release(struct flash_target *t);

/* Checks that device may be overwritten with image. Returns 0; -EPERM for a
 * refusal, with *ret_error the reason, naming the device ("/dev/sdb is mounted
 * on /mnt"); or another -errno when the checks themselves failed (-ENOENT: no
 * such device), *ret_error untouched: errno and the device's name say it all. */
int flash_check_target(const char *image, uint64_t image_size, const char *device, bool force,
		       struct flash_target *ret, char **ret_error);

/* What --verify-only needs to know of an open target, without the refusals:
 * block device or regular file, size, sector size, zeroes_free. -ENOTBLK for
 * anything else; other -errno when fstat or an ioctl failed. */
int flash_target_describe(int fd, const char *path, struct flash_target *ret);

/* The mount point of the first mountinfo line whose device (major:minor or a
 * /dev source resolved by the caller's devs) is one of devs; -ENOENT if none. */
int flash_find_mount(const char *mountinfo, const dev_t *devs, size_t n_devs, char **ret_mountpoint,
		     dev_t *ret_dev);
/* Decodes the octal escapes (\040 for a space) that /proc/self/mountinfo and /proc/swaps use. */
void flash_unescape(char *s);
