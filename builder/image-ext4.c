/* The root file system image: mke2fs with pinned features, then a tarball streamed into it through libext2fs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <ext2fs/ext3_extents.h>

#include "archive-util.h"
#include "error.h"
#include "ext2-util.h"
#include "fileio.h"
#include "image-ext4.h"
#include "image-hygiene.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"

/* File data is gathered per file in STAGE_SIZE pieces (zero blocks become holes), and writes to physically
 * adjacent blocks are merged up to WRITE_BUF_SIZE, so a tree of small files costs few large writes. */
#define STAGE_SIZE (4 * 1024 * 1024)
#define WRITE_BUF_SIZE (8 * 1024 * 1024)
#define TAR_READ_BLOCK (1024 * 1024)
#define MAX_FAST_SYMLINK 59 /* target must fit i_block (60 bytes) with its NUL, or e2fsck calls it bad */
#define INLINE_EXTENTS 4    /* extents that fit in i_block after the header */

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

struct meta {
	uint32_t mode; /* type and permission bits */
	uint32_t uid, gid;
	int64_t atime, mtime;
	uint32_t atime_ns, mtime_ns;
	uint32_t rdev_major, rdev_minor;
};

static void meta_epoch(Ext4 *e, struct meta *m, uint32_t mode, uint32_t uid, uint32_t gid) {
	*m = (struct meta) {
		.mode = mode, .uid = uid, .gid = gid,
		.atime = (int64_t) e->epoch, .mtime = (int64_t) e->epoch,
	};
}

static void clamp_time(const Ext4 *e, int64_t *sec, uint32_t *ns) {
	if (*sec > (int64_t) e->epoch || (*sec == (int64_t) e->epoch && *ns > 0)) {
		*sec = (int64_t) e->epoch;
		*ns = 0;
	}
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

static int read_inode(Ext4 *e, ext2_ino_t ino, struct ext2_inode_large *in) {
	memset(in, 0, sizeof(*in));
	return ext2_errno(ext2fs_read_inode_full(e->fs, ino, (struct ext2_inode *) in, sizeof(*in)), "read inode");
}

static int write_inode(Ext4 *e, ext2_ino_t ino, struct ext2_inode_large *in) {
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

static int link_into(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t ino, uint32_t mode) {
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

static int wbuf_flush(Ext4 *e) {
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
	r = wbuf_flush(e);
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

static int writer_feed(struct file_writer *w, const char *data, size_t n) {
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
static int writer_seek(struct file_writer *w, uint64_t offset) {
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
		r = writer_feed(w, zeros, k);
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
	return write_inode(e, ino, in);
}

/* ---- xattrs ---- */

struct xattr {
	const char *name;
	const void *value;
	size_t size;
};

static int set_xattrs(Ext4 *e, ext2_ino_t ino, const struct xattr *x, size_t n) {
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

static int make_dir(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, ext2_ino_t *ret) {
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

	r = link_into(e, parent, name, ino, LINUX_S_IFDIR);
	if (r < 0)
		return r;

	/* ".." of the new directory is a link to the parent; past EXT2_LINK_MAX dir_nlink says "1" */
	r = read_inode(e, parent, &pin);
	if (r < 0)
		return r;
	if (pin.i_links_count > 1 && pin.i_links_count < EXT2_LINK_MAX - 1)
		pin.i_links_count++;
	else
		pin.i_links_count = 1;
	r = write_inode(e, parent, &pin);
	if (r < 0)
		return r;

	*ret = ino;
	return 0;
}

static int make_special(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, ext2_ino_t *ret) {
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
	r = link_into(e, parent, name, ino, m->mode);
	if (r < 0)
		return r;
	*ret = ino;
	return 0;
}

static int make_symlink(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, const char *target,
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
	r = link_into(e, parent, name, ino, LINUX_S_IFLNK);
	if (r < 0)
		return r;
	*ret = ino;
	return 0;
}

/* Data comes from a callback so the tarball and in-memory buffers share one writer. */
typedef int (*data_source_fn)(struct file_writer *w, void *userdata);

static int make_regular(Ext4 *e, ext2_ino_t parent, const char *name, const struct meta *m, uint64_t size,
			data_source_fn source, void *userdata, ext2_ino_t *ret) {
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
	r = link_into(e, parent, name, ino, m->mode);
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
	return writer_feed(w, b->data, b->size);
}

/* Drops one link to ino named name in dir; frees the inode, its blocks and xattr block with the last link. */
static int remove_entry(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t ino) {
	struct ext2_inode_large in;
	int r;

	/* pending data may sit in blocks about to be freed and reused */
	r = wbuf_flush(e);
	if (r < 0)
		return r;
	r = ext2_errno(ext2fs_unlink(e->fs, dir, name, ino, 0), "unlink");
	if (r < 0)
		return r;
	r = read_inode(e, ino, &in);
	if (r < 0)
		return r;
	if (in.i_links_count > 1) {
		in.i_links_count--;
		return write_inode(e, ino, &in);
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

/* "./usr//lib/./x/" → "usr/lib/x"; "" is the root. -EINVAL for ".."; -ENAMETOOLONG for a long component. */
static int normalize_path(const char *p, char **ret) {
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

/* For the helpers: absolute paths only. */
static int helper_path(const char *path, char **ret) {
	if (!path || path[0] != '/')
		return -EINVAL;
	return normalize_path(path, ret);
}

static int lookup_name(Ext4 *e, ext2_ino_t dir, const char *name, ext2_ino_t *ret) {
	errcode_t err = ext2fs_lookup(e->fs, dir, name, (int) strlen(name), NULL, ret);
	if (err == EXT2_ET_FILE_NOT_FOUND)
		return -ENOENT;
	return ext2_errno(err, "lookup");
}

static int resolve(Ext4 *e, const char *norm, ext2_ino_t *ret) {
	errcode_t err;

	if (norm[0] == 0) {
		*ret = EXT2_ROOT_INO;
		return 0;
	}
	err = ext2fs_namei(e->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, norm, ret);
	if (err == EXT2_ET_FILE_NOT_FOUND)
		return -ENOENT;
	return ext2_errno(err, "resolve path");
}

/* Splits "a/b/c" into the parent's inode (which must be a directory) and "c". */
static int resolve_parent(Ext4 *e, char *norm, ext2_ino_t *ret_dir, const char **ret_name) {
	char *slash = strrchr(norm, '/');
	struct ext2_inode_large in;
	ext2_ino_t dir;
	int r;

	if (norm[0] == 0)
		return -EINVAL;
	if (slash) {
		*slash = 0;
		r = resolve(e, norm, &dir);
		*slash = '/';
		if (r < 0)
			return r;
	} else
		dir = EXT2_ROOT_INO;
	r = read_inode(e, dir, &in);
	if (r < 0)
		return r;
	if (!LINUX_S_ISDIR(in.i_mode))
		return -ENOTDIR;
	*ret_dir = dir;
	*ret_name = slash ? slash + 1 : norm;
	return 0;
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
	r = wbuf_flush(e);
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

/* ---- mke2fs ---- */

int ext4_create(const struct ext4_params *p, char **ret_error) {
	_cleanup_free_ char *blocks = NULL, *ratio = NULL, *ext = NULL, *env_sde = NULL, *env_fake = NULL;
	_cleanup_(process_result_release) struct process_result res = {};
	_cleanup_close_ int fd = -1;
	char uuid[37], seed[37], status[64];
	struct stat st;
	int r;

	if (!p->path || p->size < 1 * MiB || p->size % 4096 || p->offset % 512)
		return -EINVAL;
	if (p->label && strlen(p->label) > 16)
		return -EINVAL;

	/* a sparse file of the right size, so mke2fs neither guesses nor writes zeros; inside a disk image
	 * the rest of the file (the partition table) is left alone */
	fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | (p->offset == 0 ? O_TRUNC : 0), 0644);
	if (fd < 0)
		return set_error(ret_error, negative_errno(), "cannot create '%s': %m", p->path);
	if (fstat(fd, &st) < 0)
		return set_error(ret_error, negative_errno(), "cannot stat '%s': %m", p->path);
	if ((uint64_t) st.st_size < p->offset + p->size && ftruncate(fd, (off_t) (p->offset + p->size)) < 0)
		return set_error(ret_error, negative_errno(), "cannot size '%s': %m", p->path);

	uuid_format(p->uuid, uuid);
	uuid_format(p->hash_seed, seed);
	if (asprintf(&blocks, "%" PRIu64, p->size / 4096) < 0 ||
	    asprintf(&ratio, "%" PRIu64, p->inode_ratio ? p->inode_ratio : 16384) < 0 ||
	    asprintf(&ext, "hash_seed=%s,root_owner=0:0,offset=%" PRIu64, seed, p->offset) < 0 ||
	    asprintf(&env_sde, "SOURCE_DATE_EPOCH=%" PRIu64, p->source_date_epoch) < 0 ||
	    asprintf(&env_fake, "E2FSPROGS_FAKE_TIME=%" PRIu64, p->source_date_epoch) < 0)
		return -ENOMEM;

	char *argv[32];
	size_t a = 0;
	argv[a++] = "mke2fs";
	argv[a++] = "-q";
	argv[a++] = "-F";
	argv[a++] = "-t";
	argv[a++] = "ext4";
	argv[a++] = "-O";
	argv[a++] = "none,has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,"
		    "sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum";
	argv[a++] = "-b";
	argv[a++] = "4096";
	argv[a++] = "-I";
	argv[a++] = "256";
	argv[a++] = "-i";
	argv[a++] = ratio;
	argv[a++] = "-U";
	argv[a++] = uuid;
	argv[a++] = "-E";
	argv[a++] = ext;
	if (p->label && p->label[0]) {
		argv[a++] = "-L";
		argv[a++] = (char *) p->label;
	}
	/* mke2fs gets the file we made as its descriptor 3, not by name: were the name
	 * unlinked meanwhile (Ctrl-C removes the temp file), mke2fs would create it anew
	 * and leave it behind after we are gone. */
	argv[a++] = "/proc/self/fd/3";
	argv[a++] = blocks;
	argv[a] = NULL;

	/* the caller's environment, less what would change the file system */
	char *env_set[] = { env_sde, env_fake, NULL };
	static const char *const env_unset[] = { "MKE2FS_CONFIG", "MKE2FS_DEVICE_SECTSIZE", NULL };
	r = process_run(&(struct process_options){
				.argv = argv, .env_set = env_set, .env_unset = env_unset,
				.stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_TO_STDOUT,
				.pass_fds = &fd, .n_pass_fds = 1,
			}, &res);
	if (r < 0)
		return set_error(ret_error, r, "cannot run mke2fs: %m (install e2fsprogs)");
	if (r > 0)
		return set_error(ret_error, -EIO, "mke2fs %s: %s", process_status_to_string(r, status, sizeof(status)),
				 string_strip(res.out));
	return 0;
}

/* ---- streaming ---- */

/* Paths seen in this stream → inode, so a tree of tens of thousands of entries needs no directory scans.
 * A directory we made ourselves ("fresh") holds only what the map knows; others are asked on disk. */
struct node {
	char *path;
	ext2_ino_t ino; /* 0: known to be absent (removed) */
	uint32_t mode;
	bool fresh;
};

struct node_map {
	struct node *slots;
	size_t n, cap;
};

static uint64_t hash_path(const char *s) {
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t) *s) * 1099511628211ULL;
	return h;
}

static void node_map_release(struct node_map *m) {
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].path);
	free(m->slots);
	*m = (struct node_map) {};
}

static struct node *node_map_find(struct node_map *m, const char *path) {
	if (m->cap == 0)
		return NULL;
	for (size_t i = hash_path(path) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].path)
			return NULL;
		if (strcmp(m->slots[i].path, path) == 0)
			return &m->slots[i];
	}
}

static int node_map_put(struct node_map *m, const char *path, ext2_ino_t ino, uint32_t mode, bool fresh) {
	struct node *nd = node_map_find(m, path);
	size_t i;

	if (nd) {
		nd->ino = ino;
		nd->mode = mode;
		nd->fresh = fresh;
		return 0;
	}
	if ((m->n + 1) * 10 > m->cap * 7) {
		struct node_map grown = { .cap = m->cap ? m->cap * 2 : 1024 };

		grown.slots = calloc(grown.cap, sizeof(struct node));
		if (!grown.slots)
			return -ENOMEM;
		for (size_t j = 0; j < m->cap; j++) {
			if (!m->slots[j].path)
				continue;
			for (i = hash_path(m->slots[j].path) & (grown.cap - 1); grown.slots[i].path;
			     i = (i + 1) & (grown.cap - 1))
				;
			grown.slots[i] = m->slots[j];
		}
		grown.n = m->n;
		free(m->slots);
		*m = grown;
	}
	for (i = hash_path(path) & (m->cap - 1); m->slots[i].path; i = (i + 1) & (m->cap - 1))
		;
	m->slots[i] = (struct node) { .path = strdup(path), .ino = ino, .mode = mode, .fresh = fresh };
	if (!m->slots[i].path)
		return -ENOMEM;
	m->n++;
	return 0;
}

struct stream {
	Ext4 *e;
	struct archive *a;
	struct node_map map;
	struct ext4_stream_stats stats;
	char *error;            /* once set, the failure is said; the tarball's name goes in front at the end */
	uint64_t free_at_start;
};

/* Finds path (parent first) without creating anything. ret_ino 0: absent. */
static int stream_lookup(struct stream *s, const char *path, ext2_ino_t *ret_ino, uint32_t *ret_mode);

static int stream_lookup_in(struct stream *s, struct node *parent_node, ext2_ino_t parent, const char *path,
			    const char *name, ext2_ino_t *ret_ino, uint32_t *ret_mode) {
	struct node *nd = node_map_find(&s->map, path);
	struct ext2_inode_large in;
	ext2_ino_t ino;
	int r;

	if (nd) {
		*ret_ino = nd->ino;
		*ret_mode = nd->mode;
		return 0;
	}
	if (parent_node && parent_node->fresh) {
		*ret_ino = 0;
		return 0;
	}
	r = lookup_name(s->e, parent, name, &ino);
	if (r == -ENOENT) {
		*ret_ino = 0;
		return 0;
	}
	if (r < 0)
		return r;
	r = read_inode(s->e, ino, &in);
	if (r < 0)
		return r;
	r = node_map_put(&s->map, path, ino, in.i_mode, false);
	if (r < 0)
		return r;
	*ret_ino = ino;
	*ret_mode = in.i_mode;
	return 0;
}

static int stream_lookup(struct stream *s, const char *path, ext2_ino_t *ret_ino, uint32_t *ret_mode) {
	_cleanup_free_ char *copy = NULL;
	struct node *nd;
	ext2_ino_t pino;
	uint32_t pmode;
	char *slash;
	int r;

	if (path[0] == 0) {
		*ret_ino = EXT2_ROOT_INO;
		*ret_mode = LINUX_S_IFDIR;
		return 0;
	}
	nd = node_map_find(&s->map, path);
	if (nd) {
		*ret_ino = nd->ino;
		*ret_mode = nd->mode;
		return 0;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash)
		*slash = 0;
	r = stream_lookup(s, slash ? copy : "", &pino, &pmode);
	if (r < 0)
		return r;
	if (pino == 0 || !LINUX_S_ISDIR(pmode)) {
		*ret_ino = 0;
		return 0;
	}
	return stream_lookup_in(s, slash ? node_map_find(&s->map, copy) : NULL, pino, path,
				slash ? slash + 1 : copy, ret_ino, ret_mode);
}

/* Returns the directory for path, making it and its parents (0755 root, epoch) when missing. */
static int stream_ensure_dir(struct stream *s, const char *path, ext2_ino_t *ret, struct node **ret_node) {
	_cleanup_free_ char *copy = NULL;
	struct node *parent_node = NULL, *nd;
	ext2_ino_t pino, ino;
	uint32_t mode;
	char *slash;
	const char *name;
	int r;

	if (path[0] == 0) {
		*ret = EXT2_ROOT_INO;
		*ret_node = node_map_find(&s->map, "");
		return 0;
	}
	nd = node_map_find(&s->map, path);
	if (nd && nd->ino) {
		if (!LINUX_S_ISDIR(nd->mode))
			return -ENOTDIR;
		*ret = nd->ino;
		*ret_node = nd;
		return 0;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash)
		*slash = 0;
	name = slash ? slash + 1 : copy;
	r = stream_ensure_dir(s, slash ? copy : "", &pino, &parent_node);
	if (r < 0)
		return r;
	r = stream_lookup_in(s, parent_node, pino, path, name, &ino, &mode);
	if (r < 0)
		return r;
	if (ino) {
		if (!LINUX_S_ISDIR(mode))
			return -ENOTDIR;
	} else {
		struct meta m;

		meta_epoch(s->e, &m, LINUX_S_IFDIR | 0755, 0, 0);
		r = make_dir(s->e, pino, name, &m, &ino);
		if (r < 0)
			return r;
		r = node_map_put(&s->map, path, ino, LINUX_S_IFDIR | 0755, true);
		if (r < 0)
			return r;
	}
	*ret = ino;
	*ret_node = node_map_find(&s->map, path);
	return 0;
}

static void entry_meta(struct stream *s, struct archive_entry *entry, struct meta *m) {
	*m = (struct meta) {
		.mode = (uint32_t) archive_entry_mode(entry),
		.uid = (uint32_t) archive_entry_uid(entry),
		.gid = (uint32_t) archive_entry_gid(entry),
		.mtime = archive_entry_mtime_is_set(entry) ? (int64_t) archive_entry_mtime(entry) : (int64_t) s->e->epoch,
		.mtime_ns = archive_entry_mtime_is_set(entry) ? (uint32_t) archive_entry_mtime_nsec(entry) : 0,
		.rdev_major = (uint32_t) archive_entry_rdevmajor(entry),
		.rdev_minor = (uint32_t) archive_entry_rdevminor(entry),
	};
	if (archive_entry_atime_is_set(entry)) {
		m->atime = (int64_t) archive_entry_atime(entry);
		m->atime_ns = (uint32_t) archive_entry_atime_nsec(entry);
	} else {
		m->atime = m->mtime;
		m->atime_ns = m->mtime_ns;
	}
	if (m->mtime_ns >= 1000000000u)
		m->mtime_ns = 0;
	if (m->atime_ns >= 1000000000u)
		m->atime_ns = 0;
	clamp_time(s->e, &m->mtime, &m->mtime_ns);
	clamp_time(s->e, &m->atime, &m->atime_ns);
}

static int entry_xattrs(struct archive_entry *entry, struct xattr **ret, size_t *ret_n) {
	int n = archive_entry_xattr_reset(entry);
	struct xattr *v;
	size_t k = 0;

	*ret = NULL;
	*ret_n = 0;
	if (n <= 0)
		return 0;
	v = calloc((size_t) n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (k < (size_t) n && archive_entry_xattr_next(entry, &v[k].name, &v[k].value, &v[k].size) == ARCHIVE_OK)
		k++;
	*ret = v;
	*ret_n = k;
	return 0;
}

static int archive_source(struct file_writer *w, void *userdata) {
	struct stream *s = userdata;

	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r;

		r = archive_read_data_block(s->a, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return set_error(&s->error, archive_status_to_errno(s->a, r), "%s", archive_error_string(s->a));
		r = writer_seek(w, (uint64_t) offset);
		if (r < 0)
			return r;
		r = writer_feed(w, buf, size);
		if (r < 0)
			return r;
		s->stats.bytes += size;
	}
}

static int update_dir(Ext4 *e, ext2_ino_t ino, const struct meta *m) {
	struct ext2_inode_large in;
	int r;

	r = read_inode(e, ino, &in);
	if (r < 0)
		return r;
	in.i_mode = (__u16) (LINUX_S_IFDIR | (m->mode & 07777));
	set_owner(&in, m->uid, m->gid);
	set_times(&in, m);
	return write_inode(e, ino, &in);
}

static const char *entry_kind(uint32_t mode) {
	switch (mode & AE_IFMT) {
	case AE_IFREG: return "regular";
	case AE_IFDIR: return "dir";
	case AE_IFLNK: return "symlink";
	case AE_IFCHR: case AE_IFBLK: case AE_IFIFO: case AE_IFSOCK: return "special";
	default: return NULL;
	}
}

/* One tarball entry on its way in. raw and hardlink are the names as the tarball has them, for messages. */
struct tar_entry {
	struct archive_entry *ae;
	const char *raw;
	const char *hardlink;    /* NULL: not a hard link */
	char *norm;              /* raw normalized; "" is the root */
	char *target_norm;       /* hardlink normalized */
	struct meta m;
	bool is_dir;
	ext2_ino_t parent;       /* the directory it goes into, */
	const char *name;        /* under this name (inside norm) */
	ext2_ino_t old;          /* what has that name now; 0: nothing */
	uint32_t old_mode;
};

static void tar_entry_release(struct tar_entry *t) {
	free(t->norm);
	free(t->target_norm);
	*t = (struct tar_entry) {};
}

/* Checks the entry's names and type, and reads its metadata. */
static int tar_entry_read(struct stream *s, struct archive_entry *entry, struct tar_entry *t) {
	const char *raw = archive_entry_pathname(entry) ?: archive_entry_pathname_utf8(entry);
	const char *hardlink = archive_entry_hardlink(entry) ?: archive_entry_hardlink_utf8(entry);
	int r;

	*t = (struct tar_entry) { .ae = entry, .raw = raw, .hardlink = hardlink };
	if (!raw)
		return set_error(&s->error, -EINVAL, "entry without a path name");
	if (raw[0] == '/')
		return set_error(&s->error, -EINVAL, "entry '%s': absolute path", raw);
	r = normalize_path(raw, &t->norm);
	if (r == -EINVAL)
		return set_error(&s->error, r, "entry '%s': path escapes the root", raw);
	if (r == -ENAMETOOLONG)
		return set_error(&s->error, -EINVAL, "entry '%s': a name is longer than %d bytes", raw, EXT2_NAME_LEN);
	if (r < 0)
		return r;

	entry_meta(s, entry, &t->m);
	t->is_dir = !hardlink && (t->m.mode & AE_IFMT) == AE_IFDIR;
	if (!hardlink && !entry_kind(t->m.mode))
		return set_error(&s->error, -EINVAL, "entry '%s': unsupported file type 0%o", raw, t->m.mode & AE_IFMT);
	if (!hardlink)
		return 0;

	if (hardlink[0] == '/')
		return set_error(&s->error, -EINVAL, "entry '%s': hard link target '%s' is an absolute path", raw,
				 hardlink);
	r = normalize_path(hardlink, &t->target_norm);
	if (r == -EINVAL)
		return set_error(&s->error, r, "entry '%s': hard link target '%s' escapes the root", raw, hardlink);
	if (r < 0)
		return set_error(&s->error, -EINVAL, "entry '%s': bad hard link target '%s'", raw, hardlink);
	return 0;
}

/* Finds (or makes) the entry's parent directory and what already has its name there. */
static int tar_entry_place(struct stream *s, struct tar_entry *t) {
	_cleanup_free_ char *parent_path = NULL;
	struct node *parent_node = NULL;
	const char *slash = strrchr(t->norm, '/');
	int r;

	/* the parent first: tarballs may list children before their directory, or never list it */
	parent_path = slash ? strndup(t->norm, (size_t) (slash - t->norm)) : strdup("");
	if (!parent_path)
		return -ENOMEM;
	t->name = slash ? slash + 1 : t->norm;
	r = stream_ensure_dir(s, parent_path, &t->parent, &parent_node);
	if (r == -ENOTDIR)
		return set_error(&s->error, -EINVAL, "entry '%s': a parent is not a directory", t->raw);
	if (r < 0)
		return r;
	return stream_lookup_in(s, parent_node, t->parent, t->norm, t->name, &t->old, &t->old_mode);
}

/* A failure while making the entry: says which entry, unless already said or the caller is to say it. */
static int stream_fs_error(struct stream *s, int r, const char *raw) {
	if (s->error) /* already said (a read error from libarchive) */
		return r;
	if (r == -ENOSPC)
		return r; /* the caller measures and says */
	return set_error(&s->error, r, "entry '%s': %m", raw);
}

static int stream_xattrs(struct stream *s, ext2_ino_t ino, struct archive_entry *entry) {
	_cleanup_free_ struct xattr *xattrs = NULL;
	size_t n_xattrs = 0;
	int r;

	r = entry_xattrs(entry, &xattrs, &n_xattrs);
	if (r < 0)
		return r;
	return set_xattrs(s->e, ino, xattrs, n_xattrs);
}

/* A directory entry for a directory we have (the root, a repeat, or one made as a parent earlier). */
static int stream_update_dir(struct stream *s, const struct tar_entry *t, ext2_ino_t ino) {
	int r;

	r = update_dir(s->e, ino, &t->m);
	if (r >= 0)
		r = stream_xattrs(s, ino, t->ae);
	if (r >= 0)
		s->stats.dirs++;
	return r;
}

static int stream_hardlink(struct stream *s, const struct tar_entry *t) {
	struct ext2_inode_large in;
	ext2_ino_t target;
	uint32_t target_mode = 0;
	int r;

	r = stream_lookup(s, t->target_norm, &target, &target_mode);
	if (r < 0)
		return r;
	if (!target)
		return set_error(&s->error, -EINVAL, "entry '%s': hard link target '%s' does not exist", t->raw,
				 t->hardlink);
	if (LINUX_S_ISDIR(target_mode))
		return set_error(&s->error, -EINVAL, "entry '%s': hard link to a directory '%s'", t->raw, t->hardlink);
	if (t->old == target) {
		s->stats.hardlinks++;
		return 0;
	}
	if (t->old) {
		r = remove_entry(s->e, t->parent, t->name, t->old);
		if (r < 0)
			return r;
	}
	r = link_into(s->e, t->parent, t->name, target, target_mode);
	if (r < 0)
		return stream_fs_error(s, r, t->raw);
	r = read_inode(s->e, target, &in);
	if (r < 0)
		return r;
	if (in.i_links_count >= EXT2_LINK_MAX)
		return set_error(&s->error, -EINVAL, "entry '%s': too many links to '%s'", t->raw, t->hardlink);
	in.i_links_count++;
	r = write_inode(s->e, target, &in);
	if (r < 0)
		return r;
	s->stats.hardlinks++;
	return node_map_put(&s->map, t->norm, target, target_mode, false);
}

static int stream_machine_id(struct stream *s, struct tar_entry *t) {
	static const char uninitialized[] = "uninitialized\n";
	struct buffer_source b = { uninitialized, sizeof(uninitialized) - 1 };
	ext2_ino_t ino;
	int r;

	t->m.mode = LINUX_S_IFREG | 0444;
	t->m.uid = t->m.gid = 0;
	r = make_regular(s->e, t->parent, t->name, &t->m, b.size, buffer_source, &b, &ino);
	if (r < 0)
		return stream_fs_error(s, r, t->raw);
	s->stats.skipped++;
	return node_map_put(&s->map, t->norm, ino, t->m.mode, false);
}

/* A new directory, file, symlink or special file where nothing has the name (any more). */
static int stream_new_inode(struct stream *s, const struct tar_entry *t) {
	ext2_ino_t ino = 0;
	int r;

	switch (t->m.mode & AE_IFMT) {
	case AE_IFDIR:
		r = make_dir(s->e, t->parent, t->name, &t->m, &ino);
		s->stats.dirs++;
		break;
	case AE_IFREG:
		r = make_regular(s->e, t->parent, t->name, &t->m, (uint64_t) archive_entry_size(t->ae),
				 archive_source, s, &ino);
		s->stats.files++;
		break;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(t->ae) ?: archive_entry_symlink_utf8(t->ae);

		if (!target || !target[0] || strlen(target) >= s->e->blocksize)
			return set_error(&s->error, -EINVAL, "entry '%s': bad symlink target", t->raw);
		r = make_symlink(s->e, t->parent, t->name, &t->m, target, &ino);
		s->stats.symlinks++;
		break;
	}
	default:
		r = make_special(s->e, t->parent, t->name, &t->m, &ino);
		s->stats.devices++;
		break;
	}
	if (r < 0)
		return stream_fs_error(s, r, t->raw);

	r = stream_xattrs(s, ino, t->ae);
	if (r < 0)
		return set_error(&s->error, r, "entry '%s': failed to set xattrs: %m", t->raw);
	return node_map_put(&s->map, t->norm, ino, t->m.mode, t->is_dir);
}

static int stream_entry(struct stream *s, struct archive_entry *entry) {
	_cleanup_(tar_entry_release) struct tar_entry t = {};
	enum hygiene_action action;
	int r;

	r = tar_entry_read(s, entry, &t);
	if (r < 0)
		return r;

	action = hygiene_classify(t.norm, t.is_dir, t.hardlink || (t.m.mode & AE_IFMT) == AE_IFREG);
	/* a link to a file hygiene dropped goes too */
	if (action == HYGIENE_KEEP && t.target_norm && hygiene_classify(t.target_norm, false, true) != HYGIENE_KEEP)
		action = HYGIENE_SKIP;
	if (action == HYGIENE_SKIP) {
		s->stats.skipped++;
		return 0;
	}

	if (t.norm[0] == 0) {
		/* "./": the root directory's owner, mode, times and xattrs */
		if (!t.is_dir)
			return set_error(&s->error, -EINVAL, "entry '%s': the root is not a directory", t.raw);
		return stream_update_dir(s, &t, EXT2_ROOT_INO);
	}

	r = tar_entry_place(s, &t);
	if (r < 0)
		return r;
	if (t.old && LINUX_S_ISDIR(t.old_mode)) {
		/* a repeated or late directory entry updates the one we have */
		if (t.is_dir)
			return stream_update_dir(s, &t, t.old);
		return set_error(&s->error, -EINVAL, "entry '%s': would replace a directory", t.raw);
	}
	if (t.hardlink)
		return stream_hardlink(s, &t);

	if (t.old) {
		r = remove_entry(s->e, t.parent, t.name, t.old);
		if (r < 0)
			return r;
		r = node_map_put(&s->map, t.norm, 0, 0, false);
		if (r < 0)
			return r;
	}
	if (action == HYGIENE_MACHINE_ID)
		return stream_machine_id(s, &t);
	return stream_new_inode(s, &t);
}

/* After ENOSPC: reads the rest of the headers so the message can say how much the tarball needs. */
static uint64_t estimate_remaining(struct stream *s) {
	struct archive_entry *entry;
	uint64_t bytes = 0;

	while (archive_read_next_header(s->a, &entry) == ARCHIVE_OK) {
		if (archive_entry_filetype(entry) == AE_IFREG && !archive_entry_hardlink(entry))
			bytes += ALIGN_TO((uint64_t) archive_entry_size(entry), s->e->blocksize);
		else if (archive_entry_filetype(entry) == AE_IFDIR)
			bytes += s->e->blocksize;
	}
	return bytes;
}

int ext4_stream_tarball(Ext4 *e, const char *tarball, ext4_progress_fn progress, void *userdata,
			struct ext4_stream_stats *ret_stats, char **ret_error) {
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	struct stream s = { .e = e };
	const struct archive_input *input = NULL;
	uint64_t used, total, used_before, entry_size;
	int r;

	r = archive_open_tar_file(tarball, TAR_READ_BLOCK, &a, &input);
	if (r < 0) {
		set_error(&s.error, r, "%m");
		goto finish;
	}
	s.a = a;
	ext4_usage(e, &used, &total);
	s.free_at_start = total - used;
	r = node_map_put(&s.map, "", EXT2_ROOT_INO, LINUX_S_IFDIR | 0755, false);
	if (r < 0)
		goto finish;

	for (;;) {
		struct archive_entry *entry;

		r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			r = set_error(&s.error, archive_status_to_errno(a, r), "%s", archive_error_string(a));
			goto finish;
		}
		if (r == ARCHIVE_WARN)
			log_debug("%s: %s", tarball, archive_error_string(a));

		ext4_usage(e, &used_before, &total);
		entry_size = archive_entry_filetype(entry) == AE_IFREG && !archive_entry_hardlink(entry) ?
			ALIGN_TO((uint64_t) archive_entry_size(entry), e->blocksize) : 0;
		r = stream_entry(&s, entry);
		if (r == -ENOSPC && !s.error) {
			uint64_t needs;

			/* what the entries before took, this one, and the rest of the tarball by its headers */
			needs = (used_before - used) + entry_size + estimate_remaining(&s);
			set_error(&s.error, r, "file system full: needs %" PRIu64 " MiB, have %" PRIu64 " MiB",
				     DIV_ROUND_UP(MAX(needs, s.free_at_start + 1), MiB), s.free_at_start / MiB);
		}
		if (r < 0)
			goto finish;
		if (progress)
			progress(archive_input_position(input), input->size, userdata);
	}
	r = wbuf_flush(e);
	if (r < 0) {
		set_error(&s.error, r, "writing the image failed: %m");
		goto finish;
	}
	if (ret_stats)
		*ret_stats = s.stats;
	r = 0;
finish:
	node_map_release(&s.map);
	if (r < 0 && ret_error) {
		if (!s.error)
			set_error(&s.error, r, "%m");
		prefix_error(&s.error, r, "%s", tarball);
		*ret_error = TAKE_PTR(s.error);
	}
	free(s.error);
	return r;
}

/* ---- helpers for the builder ---- */

/* Removes the entry name in dir, inode and all, unless it is a directory (-EISDIR);
 * -ENOENT if there is none. Also makes room for a new file or symlink. */
static int remove_non_directory(Ext4 *e, ext2_ino_t dir, const char *name) {
	struct ext2_inode_large in;
	ext2_ino_t old;
	int r;

	r = lookup_name(e, dir, name, &old);
	if (r < 0)
		return r;
	r = read_inode(e, old, &in);
	if (r < 0)
		return r;
	if (LINUX_S_ISDIR(in.i_mode))
		return -EISDIR;
	return remove_entry(e, dir, name, old);
}

int ext4_write_file(Ext4 *e, const char *path, const void *data, size_t size, uint32_t mode, uint32_t uid,
		    uint32_t gid) {
	_cleanup_free_ char *norm = NULL;
	struct buffer_source b = { data, size };
	const char *name;
	ext2_ino_t dir, ino;
	struct meta m;
	int r;

	r = helper_path(path, &norm);
	if (r < 0)
		return r;
	r = resolve_parent(e, norm, &dir, &name);
	if (r < 0)
		return r;
	r = remove_non_directory(e, dir, name);
	if (r < 0 && r != -ENOENT)
		return r;
	meta_epoch(e, &m, LINUX_S_IFREG | (mode & 07777), uid, gid);
	return make_regular(e, dir, name, &m, size, buffer_source, &b, &ino);
}

int ext4_mkdir_p(Ext4 *e, const char *path, uint32_t mode, uint32_t uid, uint32_t gid) {
	_cleanup_free_ char *norm = NULL;
	ext2_ino_t dir = EXT2_ROOT_INO;
	char *p;
	int r;

	r = helper_path(path, &norm);
	if (r < 0)
		return r;
	for (p = norm; *p;) {
		char *slash = strchrnul(p, '/');
		bool last = *slash == 0;
		struct ext2_inode_large in;
		ext2_ino_t ino;

		*slash = 0;
		r = lookup_name(e, dir, p, &ino);
		if (r == -ENOENT) {
			struct meta m;

			meta_epoch(e, &m, LINUX_S_IFDIR | (mode & 07777), uid, gid);
			r = make_dir(e, dir, p, &m, &ino);
			if (r < 0)
				return r;
		} else if (r < 0)
			return r;
		else {
			/* an existing symlink to a directory is followed, like mkdir -p does */
			ext2_ino_t followed;

			r = ext2_errno(ext2fs_follow_link(e->fs, EXT2_ROOT_INO, dir, ino, &followed), "follow link");
			if (r < 0)
				return r;
			ino = followed;
			r = read_inode(e, ino, &in);
			if (r < 0)
				return r;
			if (!LINUX_S_ISDIR(in.i_mode))
				return -ENOTDIR;
		}
		dir = ino;
		p = last ? slash : slash + 1;
	}
	return 0;
}

int ext4_symlink(Ext4 *e, const char *path, const char *target) {
	_cleanup_free_ char *norm = NULL;
	const char *name;
	ext2_ino_t dir, ino;
	struct meta m;
	int r;

	if (!target || !target[0] || strlen(target) >= e->blocksize)
		return -EINVAL;
	r = helper_path(path, &norm);
	if (r < 0)
		return r;
	r = resolve_parent(e, norm, &dir, &name);
	if (r < 0)
		return r;
	r = remove_non_directory(e, dir, name);
	if (r < 0 && r != -ENOENT)
		return r;
	meta_epoch(e, &m, LINUX_S_IFLNK | 0777, 0, 0);
	return make_symlink(e, dir, name, &m, target, &ino);
}

/* The inode at path (intermediate symlinks followed, the last one not). */
static int lookup_path(Ext4 *e, const char *path, ext2_ino_t *ret_ino, struct ext2_inode_large *ret_inode) {
	_cleanup_free_ char *norm = NULL;
	int r;

	r = helper_path(path, &norm);
	if (r < 0)
		return r;
	r = resolve(e, norm, ret_ino);
	if (r < 0)
		return r;
	return read_inode(e, *ret_ino, ret_inode);
}

int ext4_stat(Ext4 *e, const char *path, uint32_t *ret_mode) {
	struct ext2_inode_large in;
	ext2_ino_t ino;
	int r;

	r = lookup_path(e, path, &ino, &in);
	if (r < 0)
		return r;
	if (ret_mode)
		*ret_mode = in.i_mode;
	return 0;
}

int ext4_read_file(Ext4 *e, const char *path, char **ret_data, size_t *ret_size) {
	_cleanup_free_ char *buf = NULL;
	struct ext2_inode_large in;
	ext2_file_t f = NULL;
	unsigned int got = 0;
	uint64_t size;
	ext2_ino_t ino;
	int r;

	r = lookup_path(e, path, &ino, &in);
	if (r < 0)
		return r;
	if (LINUX_S_ISDIR(in.i_mode))
		return -EISDIR;
	if (LINUX_S_ISLNK(in.i_mode))
		return -ELOOP;
	if (!LINUX_S_ISREG(in.i_mode))
		return -EINVAL;
	size = EXT2_I_SIZE(&in);
	if (size > 1 * GiB)
		return -EFBIG;
	/* the data may still be in our write buffer */
	r = wbuf_flush(e);
	if (r < 0)
		return r;
	buf = malloc((size_t) size + 1);
	if (!buf)
		return -ENOMEM;
	r = ext2_errno(ext2fs_file_open(e->fs, ino, 0, &f), "open file");
	if (r < 0)
		return r;
	r = ext2_errno(ext2fs_file_read(f, buf, (unsigned int) size, &got), "read file");
	(void) ext2fs_file_close(f);
	if (r < 0)
		return r;
	if (got != size)
		return -EIO;
	buf[size] = 0;
	*ret_data = TAKE_PTR(buf);
	if (ret_size)
		*ret_size = (size_t) size;
	return 0;
}

int ext4_unlink(Ext4 *e, const char *path) {
	_cleanup_free_ char *norm = NULL;
	const char *name;
	ext2_ino_t dir;
	int r;

	r = helper_path(path, &norm);
	if (r < 0)
		return r;
	r = resolve_parent(e, norm, &dir, &name);
	if (r < 0)
		return r;
	return remove_non_directory(e, dir, name);
}

struct list_ctx {
	char **names;
	size_t n, alloc;
	int error;
};

static int list_proc(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf,
		     void *priv) {
	struct list_ctx *c = priv;
	int len = ext2fs_dirent_name_len(dirent);
	char *name;

	if ((len == 1 && dirent->name[0] == '.') || (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
		return 0;
	if (c->n + 2 > c->alloc) {
		size_t na = c->alloc ? c->alloc * 2 : 16;
		char **nv = realloc(c->names, na * sizeof(char *));
		if (!nv) {
			c->error = -ENOMEM;
			return DIRENT_ABORT;
		}
		c->names = nv;
		c->alloc = na;
	}
	name = strndup(dirent->name, (size_t) len);
	if (!name) {
		c->error = -ENOMEM;
		return DIRENT_ABORT;
	}
	c->names[c->n++] = name;
	c->names[c->n] = NULL;
	return 0;
}

static int cmp_names(const void *a, const void *b) {
	return strcmp(*(char *const *) a, *(char *const *) b);
}

int ext4_list_dir(Ext4 *e, const char *path, char ***ret_names) {
	_cleanup_free_ char *norm = NULL;
	struct list_ctx c = {};
	ext2_ino_t ino;
	int r;

	r = helper_path(path, &norm);
	if (r < 0)
		return r;
	r = resolve(e, norm, &ino);
	if (r < 0)
		return r;
	r = ext2_errno(ext2fs_dir_iterate2(e->fs, ino, 0, NULL, list_proc, &c), "list directory");
	if (r >= 0 && c.error < 0)
		r = c.error;
	if (r >= 0 && !c.names) {
		c.names = calloc(1, sizeof(char *));
		if (!c.names)
			r = -ENOMEM;
	}
	if (r < 0) {
		strv_freep(&c.names);
		return r;
	}
	qsort(c.names, c.n, sizeof(char *), cmp_names);
	*ret_names = c.names;
	return 0;
}
