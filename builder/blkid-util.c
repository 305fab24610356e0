/* libblkid adapter: what is on a disk image or device, as plain structs; errors as -errno. */
#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "blkid-util.h"
#include "log.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe)

static int strdup_or_null(const char *s, char **ret) {
	if (!s || !*s) {
		*ret = NULL;
		return 0;
	}
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int lookup(blkid_probe pr, const char *name, char **ret) {
	const char *v = NULL;

	if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0)
		v = NULL;
	return strdup_or_null(v, ret);
}

static void fs_info_release(struct fs_info *f) {
	free(f->type);
	free(f->label);
	free(f->uuid);
	free(f->version);
	*f = (struct fs_info){};
}

/* Superblock probe of [offset, offset+size) of fd; size 0 means to the end. */
static int probe_fs(int fd, uint64_t offset, uint64_t size, struct fs_info *ret) {
	_cleanup_(blkid_free_probep) blkid_probe pr = NULL;
	struct fs_info f = {};
	int r;

	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	errno = 0;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) < 0)
		return errno > 0 ? -errno : -EIO;
	blkid_probe_enable_partitions(pr, 0);
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID |
						      BLKID_SUBLKS_VERSION);
	errno = 0;
	r = blkid_do_safeprobe(pr);
	if (r == -2) {
		log_debug("More than one file system signature at offset %" PRIu64 ", ignoring.", offset);
		*ret = f;
		return 0;
	}
	if (r < 0)
		return errno > 0 ? -errno : -EIO;
	if (r == 1) { /* nothing found */
		*ret = f;
		return 0;
	}
	if (lookup(pr, "TYPE", &f.type) < 0 || lookup(pr, "LABEL", &f.label) < 0 || lookup(pr, "UUID", &f.uuid) < 0 ||
	    lookup(pr, "VERSION", &f.version) < 0) {
		fs_info_release(&f);
		return -ENOMEM;
	}
	*ret = f;
	return 0;
}

struct disk_info *disk_info_free(struct disk_info *d) {
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n_parts; i++) {
		free(d->parts[i].type);
		free(d->parts[i].uuid);
		free(d->parts[i].name);
		fs_info_release(&d->parts[i].fs);
	}
	free(d->parts);
	free(d->pttype);
	free(d->ptuuid);
	fs_info_release(&d->fs);
	free(d);
	return NULL;
}

static int probe_partitions(int fd, struct disk_info *d) {
	_cleanup_(blkid_free_probep) blkid_probe pr = NULL;
	blkid_partlist ls;
	blkid_parttable tab;
	int n;

	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	errno = 0;
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
		return errno > 0 ? -errno : -EIO;
	d->size = (uint64_t)blkid_probe_get_size(pr);
	d->sector_size = blkid_probe_get_sectorsize(pr);
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);

	ls = blkid_probe_get_partitions(pr);
	if (!ls)
		return 0; /* no partition table (or one libblkid cannot read) */
	tab = blkid_partlist_get_table(ls);
	if (!tab)
		return 0;
	if (strdup_or_null(blkid_parttable_get_type(tab), &d->pttype) < 0 ||
	    strdup_or_null(blkid_parttable_get_id(tab), &d->ptuuid) < 0)
		return -ENOMEM;

	n = blkid_partlist_numof_partitions(ls);
	if (n <= 0)
		return 0;
	d->parts = calloc((size_t)n, sizeof(struct part_info));
	if (!d->parts)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);
		struct part_info *p = &d->parts[d->n_parts];
		const char *type;
		char code[16];

		if (!par)
			continue;
		d->n_parts++;
		/* libblkid counts in 512-byte sectors whatever the device's sector size */
		p->number = (unsigned)blkid_partition_get_partno(par);
		p->start = (uint64_t)blkid_partition_get_start(par) * 512;
		p->size = (uint64_t)blkid_partition_get_size(par) * 512;
		p->flags = blkid_partition_get_flags(par);
		type = blkid_partition_get_type_string(par);
		if (!type) {
			snprintf(code, sizeof(code), "0x%x", (unsigned)blkid_partition_get_type(par));
			type = code;
		}
		if (strdup_or_null(type, &p->type) < 0 || strdup_or_null(blkid_partition_get_uuid(par), &p->uuid) < 0 ||
		    strdup_or_null(blkid_partition_get_name(par), &p->name) < 0)
			return -ENOMEM;
	}
	return 0;
}

int disk_probe(const char *path, struct disk_info **ret) {
	_cleanup_close_ int fd = -1;
	struct disk_info *d;
	struct stat st;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -ENOTBLK;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = probe_partitions(fd, d);
	if (r < 0)
		goto fail;
	/* The whole device too: a bare file system, or an ISO9660 next to its hybrid table. */
	r = probe_fs(fd, 0, 0, &d->fs);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < d->n_parts; i++) {
		struct part_info *p = &d->parts[i];

		if (p->size == 0 || p->start >= d->size)
			continue;
		r = probe_fs(fd, p->start, MIN(p->size, d->size - p->start), &p->fs);
		if (r < 0) {
			log_debug("Failed to probe partition %u, ignoring: %s", p->number, strerror(-r));
			continue;
		}
	}
	*ret = d;
	return 0;
fail:
	disk_info_free(d);
	return r;
}
