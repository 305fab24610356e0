/* Streaming a rootfs tarball into the ext4, entry by entry, with image hygiene; nothing is extracted to disk. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive-util.h"
#include "error.h"
#include "image-ext4-internal.h"
#include "image-hygiene.h"
#include "log.h"
#include "macro.h"

#define TAR_READ_BLOCK (1024 * 1024)

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
	uint64_t fs_bytes;      /* the whole file system: no file of the tarball can be larger */
};

/* "a/b/c" → a copy of "a/b", and "c" inside path; "c" → "" and "c". */
static int split_parent(const char *path, char **ret_parent, const char **ret_name) {
	const char *slash = strrchr(path, '/');
	char *parent = slash ? strndup(path, (size_t) (slash - path)) : strdup("");

	if (!parent)
		return -ENOMEM;
	*ret_parent = parent;
	*ret_name = slash ? slash + 1 : path;
	return 0;
}

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
	r = ext4_lookup_name(s->e, parent, name, &ino);
	if (r == -ENOENT) {
		*ret_ino = 0;
		return 0;
	}
	if (r < 0)
		return r;
	r = ext4_read_inode(s->e, ino, &in);
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
	_cleanup_free_ char *parent = NULL;
	const char *name;
	struct node *nd;
	ext2_ino_t pino;
	uint32_t pmode;
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
	r = split_parent(path, &parent, &name);
	if (r < 0)
		return r;
	r = stream_lookup(s, parent, &pino, &pmode);
	if (r < 0)
		return r;
	if (pino == 0 || !LINUX_S_ISDIR(pmode)) {
		*ret_ino = 0;
		return 0;
	}
	return stream_lookup_in(s, parent[0] ? node_map_find(&s->map, parent) : NULL, pino, path, name, ret_ino,
				ret_mode);
}

/* Returns the directory for path, making it and its parents (0755 root, epoch) when missing. */
static int stream_ensure_dir(struct stream *s, const char *path, ext2_ino_t *ret, struct node **ret_node) {
	_cleanup_free_ char *parent = NULL;
	struct node *parent_node = NULL, *nd;
	ext2_ino_t pino, ino;
	uint32_t mode;
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
	r = split_parent(path, &parent, &name);
	if (r < 0)
		return r;
	r = stream_ensure_dir(s, parent, &pino, &parent_node);
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

		ext4_meta_epoch(s->e, &m, LINUX_S_IFDIR | 0755, 0, 0);
		r = ext4_make_dir(s->e, pino, name, &m, &ino);
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

/* A time past the epoch becomes the epoch. */
static void clamp_time(const Ext4 *e, int64_t *sec, uint32_t *ns) {
	if (*sec > (int64_t) e->epoch || (*sec == (int64_t) e->epoch && *ns > 0)) {
		*sec = (int64_t) e->epoch;
		*ns = 0;
	}
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
		r = ext4_writer_seek(w, (uint64_t) offset);
		if (r < 0)
			return r;
		r = ext4_writer_feed(w, buf, size);
		if (r < 0)
			return r;
		s->stats.bytes += size;
	}
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

/* What no root file system holds and ext4 cannot store: owners past 32 bits (or -1), times
 * before 1970 or past 2446 (ext4's limit), paths past PATH_MAX; and a file larger than the whole
 * fs (a sparse member that only looks small in the tarball) cannot fit: -ENOSPC. */
#define EXT4_TIME_MAX ((INT64_C(1) << 34) - 1)
static int tar_entry_check_meta(struct stream *s, struct archive_entry *entry, const struct tar_entry *t) {
	int64_t uid = archive_entry_uid(entry), gid = archive_entry_gid(entry);
	int64_t mtime = archive_entry_mtime_is_set(entry) ? (int64_t)archive_entry_mtime(entry) : 0;
	int64_t atime = archive_entry_atime_is_set(entry) ? (int64_t)archive_entry_atime(entry) : 0;

	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return set_error(&s->error, -EINVAL, "entry '%s': owner %" PRId64 ":%" PRId64 " out of range (0 to %u)",
				 t->raw, uid, gid, UINT32_MAX - 1);
	if (mtime < 0 || atime < 0 || mtime > EXT4_TIME_MAX || atime > EXT4_TIME_MAX)
		return set_error(&s->error, -EINVAL, "entry '%s': time %" PRId64 " out of range (1970 to 2446)", t->raw,
				 mtime < 0 || mtime > EXT4_TIME_MAX ? mtime : atime);
	if (strlen(t->norm) >= 4096)
		return set_error(&s->error, -EINVAL, "entry '%.64s...': path longer than 4095 bytes", t->raw);
	/* the caller measures the tarball and says "needs N MiB, have M MiB" */
	if (!t->hardlink && (t->m.mode & AE_IFMT) == AE_IFREG && archive_entry_size(entry) > 0 &&
	    (uint64_t)archive_entry_size(entry) > s->fs_bytes)
		return -ENOSPC;
	return 0;
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
	r = ext4_normalize_path(raw, &t->norm);
	if (r == -EINVAL)
		return set_error(&s->error, r, "entry '%s': path escapes the root", raw);
	if (r == -ENAMETOOLONG)
		return set_error(&s->error, -EINVAL, "entry '%s': a name is longer than %d bytes", raw, EXT2_NAME_LEN);
	if (r < 0)
		return r;

	entry_meta(s, entry, &t->m);
	r = tar_entry_check_meta(s, entry, t);
	if (r < 0)
		return r;
	t->is_dir = !hardlink && (t->m.mode & AE_IFMT) == AE_IFDIR;
	if (!hardlink && !entry_kind(t->m.mode))
		return set_error(&s->error, -EINVAL, "entry '%s': unsupported file type 0%o", raw, t->m.mode & AE_IFMT);
	if (!hardlink)
		return 0;

	if (hardlink[0] == '/')
		return set_error(&s->error, -EINVAL, "entry '%s': hard link target '%s' is an absolute path", raw,
				 hardlink);
	r = ext4_normalize_path(hardlink, &t->target_norm);
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
	int r;

	/* the parent first: tarballs may list children before their directory, or never list it */
	r = split_parent(t->norm, &parent_path, &t->name);
	if (r < 0)
		return r;
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
	return ext4_set_xattrs(s->e, ino, xattrs, n_xattrs);
}

/* A directory entry for a directory we have (the root, a repeat, or one made as a parent earlier). */
static int stream_update_dir(struct stream *s, const struct tar_entry *t, ext2_ino_t ino) {
	int r;

	r = ext4_update_dir(s->e, ino, &t->m);
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
		r = ext4_remove_entry(s->e, t->parent, t->name, t->old);
		if (r < 0)
			return r;
	}
	r = ext4_link(s->e, t->parent, t->name, target, target_mode);
	if (r < 0)
		return stream_fs_error(s, r, t->raw);
	r = ext4_read_inode(s->e, target, &in);
	if (r < 0)
		return r;
	if (in.i_links_count >= EXT2_LINK_MAX)
		return set_error(&s->error, -EINVAL, "entry '%s': too many links to '%s'", t->raw, t->hardlink);
	in.i_links_count++;
	r = ext4_write_inode(s->e, target, &in);
	if (r < 0)
		return r;
	s->stats.hardlinks++;
	return node_map_put(&s->map, t->norm, target, target_mode, false);
}

static int stream_machine_id(struct stream *s, struct tar_entry *t) {
	static const char uninitialized[] = "uninitialized\n";
	ext2_ino_t ino;
	int r;

	t->m.mode = LINUX_S_IFREG | 0444;
	t->m.uid = t->m.gid = 0;
	r = ext4_make_file(s->e, t->parent, t->name, &t->m, uninitialized, sizeof(uninitialized) - 1, &ino);
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
		r = ext4_make_dir(s->e, t->parent, t->name, &t->m, &ino);
		s->stats.dirs++;
		break;
	case AE_IFREG:
		r = ext4_make_regular(s->e, t->parent, t->name, &t->m, (uint64_t) archive_entry_size(t->ae),
				 archive_source, s, &ino);
		s->stats.files++;
		break;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(t->ae) ?: archive_entry_symlink_utf8(t->ae);

		if (!target || !target[0] || strlen(target) >= s->e->blocksize)
			return set_error(&s->error, -EINVAL, "entry '%s': bad symlink target", t->raw);
		r = ext4_make_symlink(s->e, t->parent, t->name, &t->m, target, &ino);
		s->stats.symlinks++;
		break;
	}
	default:
		r = ext4_make_special(s->e, t->parent, t->name, &t->m, &ino);
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
	/* a name twice with different types: which one the tarball means is a guess */
	if (t.old && (t.old_mode & LINUX_S_IFMT) != (t.m.mode & AE_IFMT))
		return set_error(&s->error, -EINVAL, "entry '%s': a %s entry of that name came before (a duplicate of another type)",
				 t.raw, entry_kind(t.old_mode) ?: "file");

	if (t.old) {
		r = ext4_remove_entry(s->e, t.parent, t.name, t.old);
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
	s.fs_bytes = total;
	r = node_map_put(&s.map, "", EXT2_ROOT_INO, LINUX_S_IFDIR | 0755, false);
	if (r < 0)
		goto finish;

	for (;;) {
		struct archive_entry *entry;
		int64_t before = archive_filter_bytes(a, 0);

		r = archive_read_next_header(a, &entry);
		/* libarchive takes a tarball cut off exactly between two entries for a whole one: the
		 * end-of-archive marker (two zero blocks) is what says the last entry is the last */
		if (r == ARCHIVE_EOF && archive_filter_bytes(a, 0) - before < 1024) {
			r = set_error(&s.error, -EBADMSG, "truncated tarball: it ends after %" PRId64 " bytes without the end-of-archive marker",
				      archive_filter_bytes(a, 0));
			goto finish;
		}
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
	r = ext4_flush_data(e);
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
