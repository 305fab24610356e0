/* The builder's calls on the ext4 after streaming: write, read, stat, list and remove by absolute path. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext2-util.h"
#include "image-ext4-internal.h"
#include "macro.h"

/* The builder names files by absolute path; the writer's paths are relative to the root. */
static int helper_path(const char *path, char **ret) {
	if (!path || path[0] != '/')
		return -EINVAL;
	return ext4_normalize_path(path, ret);
}

/* Symlinks on the way are followed, a last one is not (ext2fs_namei()). */
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

/* Splits "/a/b/c" into the inode of "/a/b" (which must be a directory) and "c", which lies in *ret_norm. */
static int resolve_parent(Ext4 *e, const char *path, char **ret_norm, ext2_ino_t *ret_dir, const char **ret_name) {
	_cleanup_free_ char *norm = NULL;
	struct ext2_inode_large in;
	ext2_ino_t dir = EXT2_ROOT_INO;
	char *slash;
	int r;

	r = helper_path(path, &norm);
	if (r < 0)
		return r;
	if (norm[0] == 0)
		return -EINVAL;
	slash = strrchr(norm, '/');
	if (slash) {
		*slash = 0;
		r = resolve(e, norm, &dir);
		*slash = '/';
		if (r < 0)
			return r;
	}
	r = ext4_read_inode(e, dir, &in);
	if (r < 0)
		return r;
	if (!LINUX_S_ISDIR(in.i_mode))
		return -ENOTDIR;
	*ret_name = slash ? slash + 1 : norm;
	*ret_dir = dir;
	*ret_norm = TAKE_PTR(norm);
	return 0;
}

/* Removes the entry name in dir, inode and all, unless it is a directory (-EISDIR);
 * -ENOENT if there is none. Also makes room for a new file or symlink. */
static int remove_non_directory(Ext4 *e, ext2_ino_t dir, const char *name) {
	struct ext2_inode_large in;
	ext2_ino_t old;
	int r;

	r = ext4_lookup_name(e, dir, name, &old);
	if (r < 0)
		return r;
	r = ext4_read_inode(e, old, &in);
	if (r < 0)
		return r;
	if (LINUX_S_ISDIR(in.i_mode))
		return -EISDIR;
	return ext4_remove_entry(e, dir, name, old);
}

/* resolve_parent() for a new file or symlink: a non-directory of that name goes first
 * (-ENOENT when there was none, unless missing_ok). */
static int make_room(Ext4 *e, const char *path, bool missing_ok, char **ret_norm, ext2_ino_t *ret_dir,
		     const char **ret_name) {
	_cleanup_free_ char *norm = NULL;
	const char *name;
	ext2_ino_t dir;
	int r;

	r = resolve_parent(e, path, &norm, &dir, &name);
	if (r < 0)
		return r;
	r = remove_non_directory(e, dir, name);
	if (r < 0 && !(r == -ENOENT && missing_ok))
		return r;
	*ret_name = name;
	*ret_dir = dir;
	*ret_norm = TAKE_PTR(norm);
	return 0;
}

int ext4_write_file(Ext4 *e, const char *path, const void *data, size_t size, uint32_t mode, uint32_t uid,
		    uint32_t gid) {
	_cleanup_free_ char *norm = NULL;
	const char *name;
	ext2_ino_t dir, ino;
	struct meta m;
	int r;

	r = make_room(e, path, true, &norm, &dir, &name);
	if (r < 0)
		return r;
	ext4_meta_epoch(e, &m, LINUX_S_IFREG | (mode & 07777), uid, gid);
	return ext4_make_file(e, dir, name, &m, data, size, &ino);
}

/* Feeds a file of this machine to the writer, 1 MiB at a time. */
struct host_source {
	int fd;
	uint64_t size, copied;
};

static int host_source(struct file_writer *w, void *userdata) {
	struct host_source *h = userdata;
	_cleanup_free_ char *buf = malloc(MiB);

	if (!buf)
		return -ENOMEM;
	while (h->copied < h->size) {
		ssize_t n = read(h->fd, buf, (size_t)MIN((uint64_t)MiB, h->size - h->copied));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EIO; /* it shrank while we read it */
		r = ext4_writer_feed(w, buf, (size_t)n);
		if (r < 0)
			return r;
		h->copied += (uint64_t)n;
	}
	return 0;
}

int ext4_copy_file(Ext4 *e, const char *path, const char *host_path, uint32_t mode, uint32_t uid, uint32_t gid) {
	_cleanup_free_ char *norm = NULL;
	_cleanup_close_ int fd = open(host_path, O_RDONLY | O_CLOEXEC);
	struct host_source h = { .fd = fd };
	const char *name;
	ext2_ino_t dir, ino;
	struct stat st;
	struct meta m;
	int r;

	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	h.size = (uint64_t)st.st_size;
	r = make_room(e, path, true, &norm, &dir, &name);
	if (r < 0)
		return r;
	ext4_meta_epoch(e, &m, LINUX_S_IFREG | (mode & 07777), uid, gid);
	return ext4_make_regular(e, dir, name, &m, h.size, host_source, &h, &ino);
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
		r = ext4_lookup_name(e, dir, p, &ino);
		if (r == -ENOENT) {
			struct meta m;

			ext4_meta_epoch(e, &m, LINUX_S_IFDIR | (mode & 07777), uid, gid);
			r = ext4_make_dir(e, dir, p, &m, &ino);
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
			r = ext4_read_inode(e, ino, &in);
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
	r = make_room(e, path, true, &norm, &dir, &name);
	if (r < 0)
		return r;
	ext4_meta_epoch(e, &m, LINUX_S_IFLNK | 0777, 0, 0);
	return ext4_make_symlink(e, dir, name, &m, target, &ino);
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
	return ext4_read_inode(e, *ret_ino, ret_inode);
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

static int read_inode_data(Ext4 *e, ext2_ino_t ino, const struct ext2_inode_large *inode, char **ret_data,
			   size_t *ret_size) {
	_cleanup_free_ char *buf = NULL;
	ext2_file_t f = NULL;
	unsigned int got = 0;
	uint64_t size;
	int r;

	if (LINUX_S_ISDIR(inode->i_mode))
		return -EISDIR;
	if (LINUX_S_ISLNK(inode->i_mode))
		return -ELOOP;
	if (!LINUX_S_ISREG(inode->i_mode))
		return -EINVAL;
	size = EXT2_I_SIZE(inode);
	if (size > 1 * GiB)
		return -EFBIG;
	/* the data may still be in our write buffer */
	r = ext4_flush_data(e);
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

int ext4_read_file(Ext4 *e, const char *path, char **ret_data, size_t *ret_size) {
	struct ext2_inode_large in;
	ext2_ino_t ino;
	int r;

	r = lookup_path(e, path, &ino, &in);
	if (r < 0)
		return r;
	return read_inode_data(e, ino, &in, ret_data, ret_size);
}

int ext4_read_file_follow(Ext4 *e, const char *path, char **ret_data, size_t *ret_size) {
	_cleanup_free_ char *norm = NULL;
	struct ext2_inode_large in;
	ext2_ino_t ino;
	errcode_t err;
	int r;

	r = helper_path(path, &norm);
	if (r < 0)
		return r;
	if (norm[0] == 0)
		return -EISDIR;
	/* the image's root is the root a link resolves against, as on the booted rig */
	err = ext2fs_namei_follow(e->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, norm, &ino);
	if (err == EXT2_ET_FILE_NOT_FOUND)
		return -ENOENT;
	if (err == EXT2_ET_SYMLINK_LOOP)
		return -ELOOP;
	r = ext2_errno(err, "resolve path");
	if (r < 0)
		return r;
	r = ext4_read_inode(e, ino, &in);
	if (r < 0)
		return r;
	return read_inode_data(e, ino, &in, ret_data, ret_size);
}

int ext4_unlink(Ext4 *e, const char *path) {
	_cleanup_free_ char *norm = NULL;
	const char *name;
	ext2_ino_t dir;

	return make_room(e, path, false, &norm, &dir, &name);
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
