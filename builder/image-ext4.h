/* The root file system image: mke2fs with pinned features, then a rootfs tarball streamed in through libext2fs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ext4_params {
	const char *path;           /* image file for the file system; created or truncated to size when offset is 0 */
	uint64_t offset;            /* bytes into path where the fs starts (a partition in a disk image: the file
	                             * is extended to offset+size if shorter, never truncated); 0: path is the fs */
	uint64_t size;              /* bytes, a multiple of 4096 */
	uint8_t uuid[16];           /* fs UUID (-U) */
	uint8_t hash_seed[16];      /* -E hash_seed= */
	const char *label;          /* -L, may be NULL */
	uint64_t source_date_epoch; /* fs times and clamping */
	uint64_t inode_ratio;       /* -i, bytes per inode; 0 means 16384 (pinned so /etc/mke2fs.conf cannot change it) */
};

/* Runs mke2fs (posix_spawn, argv vector, never a shell) with features pinned for GRUB 2.04 and e2fsck 1.45
 * (Ubuntu 20.04): -O none,has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,
 * sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum (no orphan_file, no
 * metadata_csum_seed), -b 4096, -I 256, -U, -L, -E hash_seed=...,root_owner=0:0, -F -q; SOURCE_DATE_EPOCH
 * and E2FSPROGS_FAKE_TIME are set to the epoch so mke2fs's output is reproducible. The file stays sparse.
 * On failure *ret_error (may be NULL) says why, with mke2fs's own words. */
int ext4_create(const struct ext4_params *p, char **ret_error);

typedef struct Ext4 Ext4;

/* Opens the ext4 at offset bytes into path read-write. Every time the library stamps (superblock, new inodes)
 * is the epoch. */
int ext4_open(const char *path, uint64_t offset, uint64_t source_date_epoch, Ext4 **ret);
/* Flushes; returns an error if the flush fails; frees in every case. */
int ext4_close(Ext4 *fs);
/* Discards without flushing; accepts NULL; returns NULL. */
Ext4 *ext4_free(Ext4 *fs);

struct ext4_stream_stats {
	uint64_t files;     /* regular files (a replaced machine-id counts as skipped) */
	uint64_t dirs;      /* directory entries in the tarball, implicit parents not counted */
	uint64_t symlinks;
	uint64_t hardlinks;
	uint64_t devices;   /* char and block nodes, fifos, sockets */
	uint64_t bytes;     /* regular file data, apparent size */
	uint64_t skipped;   /* entries dropped or replaced by image hygiene */
};
typedef void (*ext4_progress_fn)(uint64_t bytes_in, uint64_t total_in, void *userdata);

/* Streams a tarball (plain, .gz, .xz, .zst, .bz2, .lz4: libarchive detects it) into the fs, applying image
 * hygiene. Nothing is extracted to disk. Owners, modes, symlinks, hard links, device nodes, fifos, xattrs and
 * times (clamped to the epoch) are kept. On a bad entry returns -EINVAL and sets *ret_error to a message
 * naming the entry ("rootfs.tar: entry '../x': path escapes the root"); a full fs returns -ENOSPC with
 * "needs N MiB, have M MiB"; a corrupt or truncated tarball returns an error with libarchive's message.
 * ret_error, when given, is set on every failure; ret_stats only on success. */
int ext4_stream_tarball(Ext4 *fs, const char *tarball, ext4_progress_fn progress, void *userdata,
			struct ext4_stream_stats *ret_stats, char **ret_error);

/* Helpers the builder uses after streaming; paths are absolute inside the fs ("/etc/hostname"). New inodes
 * get the epoch as their times. Intermediate symlinks in a path are followed, the last component never. */

/* Creates or replaces a regular file (nothing of the old inode is kept); the parent must exist. */
int ext4_write_file(Ext4 *fs, const char *path, const void *data, size_t size, uint32_t mode, uint32_t uid,
		    uint32_t gid);
/* The same with the content of a file of this machine, streamed (a large .deb never sits in memory). */
int ext4_copy_file(Ext4 *fs, const char *path, const char *host_path, uint32_t mode, uint32_t uid, uint32_t gid);
/* Creates missing directories with mode/uid/gid; existing ones are left as they are. */
int ext4_mkdir_p(Ext4 *fs, const char *path, uint32_t mode, uint32_t uid, uint32_t gid);
/* Creates a symlink (root-owned), replacing a non-directory of that name. */
int ext4_symlink(Ext4 *fs, const char *path, const char *target);
/* Reads a regular file; NUL-terminated. -ENOENT when missing, -ELOOP for a symlink, -EISDIR for a directory. */
int ext4_read_file(Ext4 *fs, const char *path, char **ret_data, size_t *ret_size);
/* The same, with a symlink at path followed inside the image (a rootfs's signed shim may be a
 * link to shimx64.efi.signed.latest); -ENOENT also for a link to nothing, -ELOOP for a loop. */
int ext4_read_file_follow(Ext4 *fs, const char *path, char **ret_data, size_t *ret_size);
/* -ENOENT when missing; the mode includes the type bits (S_IFREG...); ret_mode may be NULL (an existence test). */
int ext4_stat(Ext4 *fs, const char *path, uint32_t *ret_mode);
/* Removes a file, symlink or special file; -ENOENT when missing, -EISDIR for a directory. */
int ext4_unlink(Ext4 *fs, const char *path);
/* Names in a directory without "." and "..", sorted (strcmp), as a NULL-terminated strv. */
int ext4_list_dir(Ext4 *fs, const char *path, char ***ret_names);
/* Bytes in use and in total, for "needs N MiB, have M MiB" checks. */
int ext4_usage(Ext4 *fs, uint64_t *ret_used, uint64_t *ret_total);
