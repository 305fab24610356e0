/* libblkid adapter: what is on a disk image or device, as plain structs; errors as -errno. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct fs_info {
	char *type;  /* "ext4", "vfat", ...; NULL when nothing was recognised */
	char *label;
	char *uuid;
	char *version;
};

struct part_info {
	unsigned number;
	uint64_t start;      /* bytes */
	uint64_t size;       /* bytes */
	char *type;          /* GPT type GUID (lower case), or "0x83" for MBR */
	char *uuid;          /* GPT partition GUID, or MBR "disk-id-NN" */
	char *name;          /* GPT partition name */
	uint64_t flags;      /* GPT attribute bits / MBR boot flag */
	struct fs_info fs;
};

struct disk_info {
	uint64_t size;            /* bytes */
	unsigned sector_size;
	char *pttype;             /* "gpt", "dos", NULL: no partition table */
	char *ptuuid;             /* GPT disk GUID, MBR disk id */
	struct fs_info fs;        /* a file system on the whole device (bare fs, or an ISO9660 hybrid) */
	struct part_info *parts;
	size_t n_parts;
};

/* Probes path (a file or block device): the partition table, each partition and the file
 * system at each partition's offset. -ENOENT etc. from open(); -EIO for libblkid failures. */
int disk_probe(const char *path, struct disk_info **ret);
struct disk_info *disk_info_free(struct disk_info *d);

static inline void disk_info_freep(struct disk_info **d) {
	disk_info_free(*d);
}
