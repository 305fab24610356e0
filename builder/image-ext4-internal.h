/* What the ext4 writer's files share: the open file system, and the writer's calls for the streamer and helpers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "image-ext4.h"

struct Ext4 {
	ext2_filsys fs;
	uint64_t epoch;
	unsigned blocksize;
	unsigned inode_size;
	blk64_t goal;       /* next physical block to try: files are laid out in tar order, back to back */

	char *wbuf;         /* pending data for blocks wbuf_pblk.. (all allocated already) */
	blk64_t wbuf_pblk;
	uint64_t wbuf_blocks;

	char *stage;        /* one file's data, STAGE_SIZE */
	char *inode_buf;    /* inode_size bytes, for writing whole new inodes */
};

/* ---- inodes ---- */

/* What a new inode gets: from a tarball entry, or the epoch and an owner for the builder's own files. */
struct meta {
	uint32_t mode; /* type and permission bits */
	uint32_t uid, gid;
	int64_t atime, mtime;
	uint32_t atime_ns, mtime_ns;
	uint32_t rdev_major, rdev_minor;
};

/* mode, owner, and the epoch for the times */
void ext4_meta_epoch(Ext4 *e, struct meta *m, uint32_t mode, uint32_t uid, uint32_t gid);

int ext4_read_inode(Ext4 *e, ext2_ino_t ino, struct ext2_inode_large *in);
int ext4_write_inode(Ext4 *e, ext2_ino_t ino, struct ext2_inode_large *in);
/* Adds the directory entry only (growing a full directory); the inode's link count is the caller's. */
int ext4_link(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t ino, uint32_t mode);

/* ---- data ---- */

/* Writes out file data held back to merge writes: before the library reads data back, and at the end. */
int ext4_flush_data(Ext4 *e);

/* One regular file's data on its way in, front to back. */
struct file_writer;
int ext4_writer_feed(struct file_writer *w, const char *data, size_t n);
/* Moves the write position forward to offset (a hole in a sparse archive member); -EINVAL backwards. */
int ext4_writer_seek(struct file_writer *w, uint64_t offset);
/* Data comes from a callback so the tarball and in-memory buffers share one writer. */
typedef int (*ext4_data_source_fn)(struct file_writer *w, void *userdata);

/* ---- xattrs ---- */

struct xattr {
	const char *name;
	const void *value;
	size_t size;
};

int ext4_set_xattrs(Ext4 *e, ext2_ino_t ino, const struct xattr *x, size_t n);

/* ---- creating and removing ---- */

/* Each makes a new inode from m, links it into parent as name (which must be free) and returns it. */
int ext4_make_dir(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, ext2_ino_t *ret);
/* char and block devices (m->rdev_*), fifos, sockets */
int ext4_make_special(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, ext2_ino_t *ret);
/* -ENAMETOOLONG for an empty target or one of a block or more */
int ext4_make_symlink(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, const char *target,
		      ext2_ino_t *ret);
/* size bytes of data from source */
int ext4_make_regular(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, uint64_t size,
		      ext4_data_source_fn source, void *userdata, ext2_ino_t *ret);
/* a regular file holding data */
int ext4_make_file(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, const void *data,
		   size_t size, ext2_ino_t *ret);
/* Gives an existing directory m's permission bits, owner and times. */
int ext4_update_dir(Ext4 *e, ext2_ino_t ino, const struct meta *m);
/* Drops one link to ino named name in dir; frees the inode, its blocks and xattr block with the last link. */
int ext4_remove_entry(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t ino);

/* ---- paths ---- */

/* "./usr//lib/./x/" → "usr/lib/x"; "" is the root. -EINVAL for ".."; -ENAMETOOLONG for a long component. */
int ext4_normalize_path(const char *p, char **ret);
/* name in the directory dir; -ENOENT when there is none */
int ext4_lookup_name(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t *ret);
