/* The ext4 writer: inodes, data blocks and extents, xattrs, making and removing entries, open and close. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <ext2fs/ext3_extents.h>

#include "ext2-util.h"
#include "image-ext4-internal.h"
#include "log.h"
#include "macro.h"

/* File data is gathered per file in STAGE_SIZE pieces (zero blocks become holes), and writes to physically
 * adjacent blocks are merged up to WRITE_BUF_SIZE, so a tree of small files costs few large writes. */
#define STAGE_SIZE (4 * 1024 * 1024)
#define WRITE_BUF_SIZE (8 * 1024 * 1024)
#define MAX_FAST_SYMLINK 59 /* target must fit i_block (60 bytes) with its NUL, or e2fsck calls it bad */
#define INLINE_EXTENTS 4    /* extents that fit in i_block after the header */

/* ---- inodes ---- */

void ext4_meta_epoch(Ext4 *e, struct meta *m, uint32_t mode, uint32_t uid, uint32_t gid) {
	*m = (struct meta) {
		.mode = mode, .uid = uid, .gid = gid,
		.atime = (int64_t) e->epoch, .mtime = (int64_t) e->epoch,
	};
}

/* ext4 stores 32 bits of seconds plus two epoch bits and nanoseconds in the _extra field */
static void encode_time(int64_t sec, uint32_t ns, __u32 *ret_sec, __u32 *ret_extra) {
	*ret_sec = (__u32) sec;
	*ret_extra = ((__u32) ((uint64_t) (sec - (int32_t) sec) >> 32) & EXT4_EPOCH_MASK) | (ns << EXT4_EPOCH_BITS);
}

static void set_times(struct ext2_inode_large *in, const struct meta *m) {
	encode_time(m->atime, m->atime_ns, &in->i_atime, &in->i_atime_extra);
	encode_time(m->mtime, m->mtime_ns, &in->i_mtime, &in->i_mtime_extra);
	/* ctime and crtime follow mtime: a tarball's ctime is the packer's clock, not the file's */
	encode_time(m->mtime, m->mtime_ns, &in->i_ctime, &in->i_ctime_extra);
	encode_time(m->mtime, m->mtime_ns, &in->i_crtime, &in->i_crtime_extra);
}

static void set_owner(struct ext2_inode_large *in, uint32_t uid, uint32_t gid) {
	in->i_uid = (__u16) uid;
	in->i_gid = (__u16) gid;
	ext2fs_set_i_uid_high(*in, uid >> 16);
	ext2fs_set_i_gid_high(*in, gid >> 16);
}

static void inode_init(Ext4 *e, struct ext2_inode_large *in, const struct meta *m) {
	memset(in, 0, sizeof(*in));
	in->i_mode = (__u16) m->mode;
	set_owner(in, m->uid, m->gid);
	set_times(in, m);
	in->i_links_count = 1;
	if (e->inode_size > EXT2_GOOD_OLD_INODE_SIZE)
		in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
}

/* A new inode is written whole: a freed inode may still hold old in-inode xattrs past the struct. */
static int write_new_inode(Ext4 *e, ext2_ino_t ino, struct ext2_inode_large *in) {
	size_t n = MIN(sizeof(*in), (size_t) e->inode_size);

	memset(e->inode_buf, 0, e->inode_size);
	memcpy(e->inode_buf, in, n);
	return ext2_errno(ext2fs_write_inode_full(e->fs, ino, (struct ext2_inode *) e->inode_buf, e->inode_size),
			  "write inode");
}

int ext4_read_inode(Ext4 *e, ext2_ino_t ino, struct ext2_inode_large *in) {
	memset(in, 0, sizeof(*in));
	return ext2_errno(ext2fs_read_inode_full(e->fs, ino, (struct ext2_inode *) in, sizeof(*in)), "read inode");
}

int ext4_write_inode(Ext4 *e, ext2_ino_t ino, struct ext2_inode_large *in) {
	return ext2_errno(ext2fs_write_inode_full(e->fs, ino, (struct ext2_inode *) in, sizeof(*in)), "write inode");
}

static int alloc_inode(Ext4 *e, ext2_ino_t parent, uint32_t mode, ext2_ino_t *ret) {
	ext2_ino_t ino;
	int r;

	r = ext2_errno(ext2fs_new_inode(e->fs, parent, (int) mode, NULL, &ino), "allocate inode");
	if (r < 0)
		return r;
	ext2fs_inode_alloc_stats2(e->fs, ino, +1, LINUX_S_ISDIR(mode));
	*ret = ino;
	return 0;
}

static int file_type_of(uint32_t mode) {
	switch (mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG: return EXT2_FT_REG_FILE;
	case LINUX_S_IFDIR: return EXT2_FT_DIR;
	case LINUX_S_IFLNK: return EXT2_FT_SYMLINK;
	case LINUX_S_IFCHR: return EXT2_FT_CHRDEV;
	case LINUX_S_IFBLK: return EXT2_FT_BLKDEV;
	case LINUX_S_IFIFO: return EXT2_FT_FIFO;
	case LINUX_S_IFSOCK: return EXT2_FT_SOCK;
	default: return EXT2_FT_UNKNOWN;
	}
}

int ext4_link(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t ino, uint32_t mode) {
	errcode_t err;

	err = ext2fs_link(e->fs, dir, name, ino, file_type_of(mode));
	if (err == EXT2_ET_DIR_NO_SPACE) {
		err = ext2fs_expand_dir(e->fs, dir);
		if (err)
			return ext2_errno(err, "expand directory");
		err = ext2fs_link(e->fs, dir, name, ino, file_type_of(mode));
	}
	return ext2_errno(err, "link");
}

/* ---- data blocks ---- */

int ext4_flush_data(Ext4 *e) {
	errcode_t err;

	if (e->wbuf_blocks == 0)
		return 0;
	/* through the io channel, which drops its cached copies of these blocks first, so metadata freed
	 * and reused as data can never be written back over it */
	err = io_channel_write_blk64(e->fs->io, e->wbuf_pblk, (int) e->wbuf_blocks, e->wbuf);
	e->wbuf_blocks = 0;
	return ext2_errno(err, "write data");
}

static int queue_write(Ext4 *e, blk64_t pblk, const char *data, uint64_t nblocks) {
	uint64_t cap = WRITE_BUF_SIZE / e->blocksize;
	int r;

	if (e->wbuf_blocks > 0 && pblk == e->wbuf_pblk + e->wbuf_blocks && e->wbuf_blocks + nblocks <= cap) {
		memcpy(e->wbuf + e->wbuf_blocks * e->blocksize, data, nblocks * e->blocksize);
		e->wbuf_blocks += nblocks;
		return 0;
	}
	r = ext4_flush_data(e);
	if (r < 0)
		return r;
	if (nblocks > cap / 2)
		return ext2_errno(io_channel_write_blk64(e->fs->io, pblk, (int) nblocks, data), "write data");
	memcpy(e->wbuf, data, nblocks * e->blocksize);
	e->wbuf_pblk = pblk;
	e->wbuf_blocks = nblocks;
	return 0;
}

struct extent {
	uint32_t lblk;
	uint32_t len;
	uint64_t pblk;
};

struct extent_list {
	struct extent *v;
	size_t n, alloc;
	uint64_t blocks;
};

static void extent_list_release(struct extent_list *l) {
	free(l->v);
	*l = (struct extent_list) {};
}

static int extent_list_add(struct extent_list *l, uint32_t lblk, uint64_t pblk, uint32_t len) {
	l->blocks += len;
	while (len > 0) {
		struct extent *last = l->n > 0 ? &l->v[l->n - 1] : NULL;
		uint32_t k;

		if (last && last->lblk + last->len == lblk && last->pblk + last->len == pblk &&
		    last->len < EXT_INIT_MAX_LEN) {
			k = MIN(len, (uint32_t) EXT_INIT_MAX_LEN - last->len);
			last->len += k;
		} else {
			if (l->n == l->alloc) {
				size_t na = l->alloc ? l->alloc * 2 : 8;
				struct extent *nv = realloc(l->v, na * sizeof(*nv));
				if (!nv)
					return -ENOMEM;
				l->v = nv;
				l->alloc = na;
			}
			k = MIN(len, (uint32_t) EXT_INIT_MAX_LEN);
			l->v[l->n++] = (struct extent) { .lblk = lblk, .pblk = pblk, .len = k };
		}
		lblk += k;
		pblk += k;
		len -= k;
	}
	return 0;
}

/* Allocates blocks for logical blocks lblk.. and queues their data; runs may fragment when space does. */
static int alloc_and_write(Ext4 *e, struct extent_list *l, uint64_t lblk, const char *data, uint64_t nblocks) {
	while (nblocks > 0) {
		blk64_t pblk, plen;
		uint64_t use;
		int r;

		r = ext2_errno(ext2fs_new_range(e->fs, 0, e->goal, nblocks, NULL, &pblk, &plen), "allocate blocks");
		if (r < 0)
			return r;
		use = MIN((uint64_t) plen, nblocks);
		use = MIN(use, (uint64_t) EXT_INIT_MAX_LEN);
		ext2fs_block_alloc_stats_range(e->fs, pblk, (blk_t) use, +1);
		r = extent_list_add(l, (uint32_t) lblk, pblk, (uint32_t) use);
		if (r < 0)
			return r;
		if (data) {
			r = queue_write(e, pblk, data, use);
			if (r < 0)
				return r;
			data += use * e->blocksize;
		}
		e->goal = pblk + use;
		lblk += use;
		nblocks -= use;
	}
	return 0;
}

static bool block_is_zero(const char *p, size_t n) {
	/* most data blocks fail on the first word, so memcmp only sees the zero-looking ones */
	static const char zero[64];

	if (memcmp(p, zero, MIN(n, sizeof(zero))) != 0)
		return false;
	for (size_t o = sizeof(zero); o < n; o += sizeof(zero))
		if (memcmp(p + o, zero, MIN(n - o, sizeof(zero))) != 0)
			return false;
	return true;
}

/* Gathers one file's data into Ext4.stage and hands it to the allocator one stage at a time. */
struct file_writer {
	Ext4 *e;
	struct extent_list ext;
	uint64_t stage_lblk; /* logical block of stage[0] */
	size_t fill;
};

static int writer_process(struct file_writer *w) {
	Ext4 *e = w->e;
	uint64_t nblocks = DIV_ROUND_UP(w->fill, e->blocksize);
	uint64_t i = 0;

	if (w->fill % e->blocksize)
		memset(e->stage + w->fill, 0, e->blocksize - w->fill % e->blocksize);

	/* zero blocks stay holes, as mke2fs -d makes them */
	while (i < nblocks) {
		uint64_t j;
		int r;

		if (block_is_zero(e->stage + i * e->blocksize, e->blocksize)) {
			i++;
			continue;
		}
		for (j = i + 1; j < nblocks && !block_is_zero(e->stage + j * e->blocksize, e->blocksize); j++)
			;
		r = alloc_and_write(e, &w->ext, w->stage_lblk + i, e->stage + i * e->blocksize, j - i);
		if (r < 0)
			return r;
		i = j;
	}
	w->stage_lblk += nblocks;
	w->fill = 0;
	return 0;
}

int ext4_writer_feed(struct file_writer *w, const char *data, size_t n) {
	while (n > 0) {
		size_t k = MIN(n, (size_t) STAGE_SIZE - w->fill);
		int r;

		memcpy(w->e->stage + w->fill, data, k);
		w->fill += k;
		data += k;
		n -= k;
		if (w->fill == STAGE_SIZE) {
			r = writer_process(w);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Moves the write position to offset (holes in sparse archive members). */
int ext4_writer_seek(struct file_writer *w, uint64_t offset) {
	uint64_t pos = w->stage_lblk * w->e->blocksize + w->fill;
	static const char zeros[4096];
	int r;

	if (offset < pos)
		return -EINVAL;
	while (pos < offset) {
		if (w->fill == 0 && offset - pos >= w->e->blocksize) {
			uint64_t skip = (offset - pos) / w->e->blocksize;
			w->stage_lblk += skip;
			pos += skip * w->e->blocksize;
			continue;
		}
		size_t k = (size_t) MIN(offset - pos, (uint64_t) sizeof(zeros));
		r = ext4_writer_feed(w, zeros, k);
		if (r < 0)
			return r;
		pos += k;
	}
	return 0;
}

static int writer_finish(struct file_writer *w) {
	return w->fill > 0 ? writer_process(w) : 0;
}

/* Puts the extents into the inode: up to four in i_block, more through the library's extent tree code. */
static int write_regular_inode(Ext4 *e, ext2_ino_t ino, struct ext2_inode_large *in, const struct extent_list *l,
			       uint64_t size) {
	struct ext3_extent_header *eh = (struct ext3_extent_header *) in->i_block;
	int r;

	in->i_flags |= EXT4_EXTENTS_FL;
	eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
	eh->eh_max = ext2fs_cpu_to_le16(INLINE_EXTENTS);
	eh->eh_depth = 0;
	r = ext2_errno(ext2fs_inode_size_set(e->fs, (struct ext2_inode *) in, size), "set size");
	if (r < 0)
		return r;
	r = ext2_errno(ext2fs_iblk_set(e->fs, (struct ext2_inode *) in, l->blocks), "set block count");
	if (r < 0)
		return r;

	if (l->n <= INLINE_EXTENTS) {
		struct ext3_extent *x = (struct ext3_extent *) (eh + 1);

		eh->eh_entries = ext2fs_cpu_to_le16((__u16) l->n);
		for (size_t i = 0; i < l->n; i++) {
			x[i].ee_block = ext2fs_cpu_to_le32(l->v[i].lblk);
			x[i].ee_len = ext2fs_cpu_to_le16((__u16) l->v[i].len);
			x[i].ee_start = ext2fs_cpu_to_le32((__u32) l->v[i].pblk);
			x[i].ee_start_hi = ext2fs_cpu_to_le16((__u16) (l->v[i].pblk >> 32));
		}
		return write_new_inode(e, ino, in);
	}

	/* a fragmented file: let the library split nodes and allocate index blocks */
	_cleanup_(ext2fs_extent_freep) ext2_extent_handle_t h = NULL;
	eh->eh_entries = 0;
	r = write_new_inode(e, ino, in);
	if (r < 0)
		return r;
	r = ext2_errno(ext2fs_extent_open2(e->fs, ino, (struct ext2_inode *) in, &h), "open extents");
	if (r < 0)
		return r;
	for (size_t i = 0; i < l->n; i++) {
		struct ext2fs_extent x = {
			.e_pblk = l->v[i].pblk, .e_lblk = l->v[i].lblk, .e_len = l->v[i].len,
		};
		r = ext2_errno(ext2fs_extent_insert(h, i == 0 ? 0 : EXT2_EXTENT_INSERT_AFTER, &x), "insert extent");
		if (r < 0)
			return r;
		r = ext2_errno(ext2fs_extent_fix_parents(h), "fix extent parents");
		if (r < 0)
			return r;
	}
	/* the handle wrote the inode through the small struct; write the large part too */
	return ext4_write_inode(e, ino, in);
}

/* ---- xattrs ---- */

int ext4_set_xattrs(Ext4 *e, ext2_ino_t ino, const struct xattr *x, size_t n) {
	_cleanup_(ext2fs_xattrs_closep) struct ext2_xattr_handle *h = NULL;
	int r;

	if (n == 0)
		return 0;
	r = ext2_errno(ext2fs_xattrs_open(e->fs, ino, &h), "open xattrs");
	if (r < 0)
		return r;
	r = ext2_errno(ext2fs_xattrs_read(h), "read xattrs");
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = ext2_errno(ext2fs_xattr_set(h, x[i].name, x[i].value, x[i].size), "set xattr");
		if (r < 0)
			return log_debug_errno(r, "Failed to set xattr '%s': %m", x[i].name);
	}
	return ext2_errno(ext2fs_xattrs_close(&h), "write xattrs");
}

/* ---- creating and removing ---- */

int ext4_make_dir(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, ext2_ino_t *ret) {
	struct ext2_inode_large in, pin;
	struct extent_list l = {};
	_cleanup_free_ char *block = NULL;
	ext2_ino_t ino;
	blk64_t pblk, plen;
	errcode_t err;
	int r;

	r = alloc_inode(e, parent, LINUX_S_IFDIR | (m->mode & 07777), &ino);
	if (r < 0)
		return r;
	r = ext2_errno(ext2fs_new_range(e->fs, 0, e->goal, 1, NULL, &pblk, &plen), "allocate directory block");
	if (r < 0)
		return r;
	ext2fs_block_alloc_stats2(e->fs, pblk, +1);
	e->goal = pblk + 1;

	err = ext2fs_new_dir_block(e->fs, ino, parent, &block);
	if (err)
		return ext2_errno(err, "new directory block");
	r = ext2_errno(ext2fs_write_dir_block4(e->fs, pblk, block, 0, ino), "write directory block");
	if (r < 0)
		return r;

	inode_init(e, &in, m);
	in.i_mode = (__u16) (LINUX_S_IFDIR | (m->mode & 07777));
	in.i_links_count = 2;
	r = extent_list_add(&l, 0, pblk, 1);
	if (r < 0)
		return r;
	r = write_regular_inode(e, ino, &in, &l, e->blocksize);
	extent_list_release(&l);
	if (r < 0)
		return r;

	r = ext4_link(e, parent, name, ino, LINUX_S_IFDIR);
	if (r < 0)
		return r;

	/* ".." of the new directory is a link to the parent; past EXT2_LINK_MAX dir_nlink says "1" */
	r = ext4_read_inode(e, parent, &pin);
	if (r < 0)
		return r;
	if (pin.i_links_count > 1 && pin.i_links_count < EXT2_LINK_MAX - 1)
		pin.i_links_count++;
	else
		pin.i_links_count = 1;
	r = ext4_write_inode(e, parent, &pin);
	if (r < 0)
		return r;

	*ret = ino;
	return 0;
}

int ext4_make_special(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, ext2_ino_t *ret) {
	struct ext2_inode_large in;
	ext2_ino_t ino;
	int r;

	r = alloc_inode(e, parent, m->mode, &ino);
	if (r < 0)
		return r;
	inode_init(e, &in, m);
	if (LINUX_S_ISCHR(m->mode) || LINUX_S_ISBLK(m->mode)) {
		/* the kernel's encoding: old 8:8 when it fits, else the new 12:20 split in i_block[1] */
		if (m->rdev_major < 256 && m->rdev_minor < 256)
			in.i_block[0] = m->rdev_major * 256 + m->rdev_minor;
		else
			in.i_block[1] = (m->rdev_minor & 0xff) | (m->rdev_major << 8) | ((m->rdev_minor & ~0xffu) << 12);
	}
	r = write_new_inode(e, ino, &in);
	if (r < 0)
		return r;
	r = ext4_link(e, parent, name, ino, m->mode);
	if (r < 0)
		return r;
	*ret = ino;
	return 0;
}

int ext4_make_symlink(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, const char *target,
		      ext2_ino_t *ret) {
	struct ext2_inode_large in;
	size_t len = strlen(target);
	ext2_ino_t ino;
	int r;

	if (len == 0 || len >= e->blocksize)
		return -ENAMETOOLONG;
	r = alloc_inode(e, parent, LINUX_S_IFLNK | 0777, &ino);
	if (r < 0)
		return r;
	inode_init(e, &in, m);
	in.i_mode = LINUX_S_IFLNK | 0777;
	if (len <= MAX_FAST_SYMLINK) {
		memcpy(in.i_block, target, len);
		in.i_size = (__u32) len;
		r = write_new_inode(e, ino, &in);
	} else {
		/* a slow symlink is a one-block file holding the target */
		struct extent_list l = {};

		memset(e->stage, 0, e->blocksize);
		memcpy(e->stage, target, len);
		r = alloc_and_write(e, &l, 0, e->stage, 1);
		if (r >= 0)
			r = write_regular_inode(e, ino, &in, &l, len);
		extent_list_release(&l);
	}
	if (r < 0)
		return r;
	r = ext4_link(e, parent, name, ino, LINUX_S_IFLNK);
	if (r < 0)
		return r;
	*ret = ino;
	return 0;
}

int ext4_make_regular(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, uint64_t size,
		      ext4_data_source_fn source, void *userdata, ext2_ino_t *ret) {
	struct file_writer w = { .e = e };
	struct ext2_inode_large in;
	ext2_ino_t ino;
	int r;

	r = alloc_inode(e, parent, m->mode, &ino);
	if (r < 0)
		return r;
	r = source(&w, userdata);
	if (r >= 0)
		r = writer_finish(&w);
	if (r >= 0) {
		inode_init(e, &in, m);
		r = write_regular_inode(e, ino, &in, &w.ext, size);
	}
	extent_list_release(&w.ext);
	if (r < 0)
		return r;
	r = ext4_link(e, parent, name, ino, m->mode);
	if (r < 0)
		return r;
	*ret = ino;
	return 0;
}

struct buffer_source {
	const void *data;
	size_t size;
};

static int buffer_source(struct file_writer *w, void *userdata) {
	struct buffer_source *b = userdata;
	return ext4_writer_feed(w, b->data, b->size);
}

int ext4_make_file(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, const void *data,
		   size_t size, ext2_ino_t *ret) {
	struct buffer_source b = { data, size };

	return ext4_make_regular(e, parent, name, m, size, buffer_source, &b, ret);
}

int ext4_update_dir(Ext4 *e, ext2_ino_t ino, const struct meta *m) {
	struct ext2_inode_large in;
	int r;

	r = ext4_read_inode(e, ino, &in);
	if (r < 0)
		return r;
	in.i_mode = (__u16) (LINUX_S_IFDIR | (m->mode & 07777));
	set_owner(&in, m->uid, m->gid);
	set_times(&in, m);
	return ext4_write_inode(e, ino, &in);
}

int ext4_remove_entry(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t ino) {
	struct ext2_inode_large in;
	int r;

	/* pending data may sit in blocks about to be freed and reused */
	r = ext4_flush_data(e);
	if (r < 0)
		return r;
	r = ext2_errno(ext2fs_unlink(e->fs, dir, name, ino, 0), "unlink");
	if (r < 0)
		return r;
	r = ext4_read_inode(e, ino, &in);
	if (r < 0)
		return r;
	if (in.i_links_count > 1) {
		in.i_links_count--;
		return ext4_write_inode(e, ino, &in);
	}

	if (ext2fs_inode_has_valid_blocks2(e->fs, (struct ext2_inode *) &in)) {
		r = ext2_errno(ext2fs_punch(e->fs, ino, (struct ext2_inode *) &in, NULL, 0, ~0ULL), "free blocks");
		if (r < 0)
			return r;
	}
	if (ext2fs_file_acl_block(e->fs, (struct ext2_inode *) &in)) {
		r = ext2_errno(ext2fs_free_ext_attr(e->fs, ino, &in), "free xattr block");
		if (r < 0)
			return r;
	}
	memset(&in, 0, sizeof(in));
	in.i_dtime = (__u32) e->epoch;
	r = write_new_inode(e, ino, &in);
	if (r < 0)
		return r;
	ext2fs_inode_alloc_stats2(e->fs, ino, -1, 0);
	return 0;
}

/* ---- paths ---- */

int ext4_normalize_path(const char *p, char **ret) {
	_cleanup_free_ char *out = malloc(strlen(p) + 1);
	size_t o = 0;

	if (!out)
		return -ENOMEM;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t) (end - p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (len > EXT2_NAME_LEN)
			return -ENAMETOOLONG;
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = *end ? end + 1 : end;
	}
	out[o] = 0;
	*ret = TAKE_PTR(out);
	return 0;
}

int ext4_lookup_name(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t *ret) {
	errcode_t err = ext2fs_lookup(e->fs, dir, name, (int) strlen(name), NULL, ret);
	if (err == EXT2_ET_FILE_NOT_FOUND)
		return -ENOENT;
	return ext2_errno(err, "lookup");
}

/* ---- open, close ---- */

/* libext2fs's unix_io opens without O_CLOEXEC; mark the fds that refer to our image. */
static void set_cloexec_on_image_fds(const char *path) {
	struct stat img, st;

	if (stat(path, &img) < 0)
		return;
	for (int fd = 3; fd < 1024; fd++) {
		int flags = fcntl(fd, F_GETFD);

		if (flags < 0 || (flags & FD_CLOEXEC))
			continue;
		if (fstat(fd, &st) < 0 || st.st_dev != img.st_dev || st.st_ino != img.st_ino)
			continue;
		(void) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
		log_debug("Marked image fd %d close-on-exec", fd);
	}
}

int ext4_open(const char *path, uint64_t offset, uint64_t source_date_epoch, Ext4 **ret) {
	_cleanup_free_ char *io_options = NULL;
	Ext4 *e;
	int r;

	/* unix_io adds the offset to every access, so a partition inside a disk image is just another fs */
	if (offset > 0 && asprintf(&io_options, "offset=%" PRIu64, offset) < 0)
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->epoch = source_date_epoch;
	/* on failure ext2fs_open2() frees what it made and leaves e->fs NULL */
	r = ext2_errno(ext2fs_open2(path, io_options, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &e->fs),
		       path);
	if (r < 0)
		goto fail;
	set_cloexec_on_image_fds(path);
	/* every time the library stamps (s_wtime, new inodes) is the epoch, not the clock */
	e->fs->now = (time_t) source_date_epoch;
	r = ext2_errno(ext2fs_read_bitmaps(e->fs), "read bitmaps");
	if (r < 0)
		goto fail;

	e->blocksize = e->fs->blocksize;
	e->inode_size = EXT2_INODE_SIZE(e->fs->super);
	e->wbuf = malloc(WRITE_BUF_SIZE);
	e->stage = malloc(STAGE_SIZE);
	e->inode_buf = malloc(e->inode_size);
	if (!e->wbuf || !e->stage || !e->inode_buf) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = e;
	return 0;
fail:
	ext4_free(e);
	return r;
}

/* Frees what e holds; a file system still open is discarded, unflushed. */
static void ext4_release(Ext4 *e) {
	if (e->fs)
		ext2fs_free(e->fs);
	free(e->wbuf);
	free(e->stage);
	free(e->inode_buf);
	*e = (Ext4) {};
}

Ext4 *ext4_free(Ext4 *e) {
	if (!e)
		return NULL;
	ext4_release(e);
	free(e);
	return NULL;
}

int ext4_close(Ext4 *e) {
	int r;

	if (!e)
		return 0;
	r = ext4_flush_data(e);
	if (r >= 0) {
		r = ext2_errno(ext2fs_close2(e->fs, 0), "close file system");
		/* ext2fs_close2() frees only on success; on failure ext4_free() discards */
		if (r >= 0)
			e->fs = NULL;
	}
	ext4_free(e);
	return r;
}

int ext4_usage(Ext4 *e, uint64_t *ret_used, uint64_t *ret_total) {
	uint64_t total = ext2fs_blocks_count(e->fs->super), free_blocks = ext2fs_free_blocks_count(e->fs->super);

	*ret_used = (total - free_blocks) * e->blocksize;
	*ret_total = total * e->blocksize;
	return 0;
}
