/* The EFI system partition: mkfs.vfat + mcopy straight into the image, times pinned. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct esp_file {
	const char *path; /* inside the ESP, e.g. "EFI/BOOT/BOOTX64.EFI" */
	const void *data;
	size_t size;
};

/* Creates a FAT32 file system at offset in image (size bytes) and copies
 * files into it. Every directory entry's times are set to epoch afterwards,
 * since mtools stamps new directories with the current time. On failure
 * *ret_error holds the tool's output. */
int esp_build(const char *image, uint64_t offset, uint64_t size, uint32_t volid, uint64_t epoch,
	      const struct esp_file *files, size_t n, char **ret_error);

/* Sets every directory entry's create/access/modify time in the FAT32 file
 * system at offset to epoch. */
int fat_pin_times(int fd, uint64_t offset, uint64_t epoch);
