/* The ISO 9660 directory tree check of iso-check.h: an iterative walk with every directory's
 * extent remembered, so that nothing an image says can make it loop or recurse without end. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fileio.h"
#include "iso-check.h"
#include "macro.h"

#define BLOCK 2048u
#define MAX_DIR_SIZE (16u << 20) /* no real directory comes near: 16 MiB of records */
#define MAX_DIRS (1u << 20)

struct dir {
	uint32_t extent, size;
	unsigned depth;
};

struct walk {
	int fd;
	uint64_t size;
	const char *base;
	struct dir *todo;   /* a stack */
	size_t n_todo, cap_todo;
	uint32_t *seen;     /* every directory extent met, in a hash set (0 is never an extent here) */
	size_t cap_seen, n_seen;
};

static uint32_t get32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* 1 when the extent was new, 0 when seen before, -ENOMEM. */
static int seen_add(struct walk *w, uint32_t extent) {
	size_t i;

	if (w->n_seen * 2 >= w->cap_seen) {
		size_t cap = w->cap_seen ? w->cap_seen * 2 : 1024;
		uint32_t *n = calloc(cap, sizeof(*n)), *old = w->seen;
		size_t old_cap = w->cap_seen;

		if (!n)
			return -ENOMEM;
		w->seen = n, w->cap_seen = cap, w->n_seen = 0;
		for (size_t j = 0; j < old_cap; j++)
			if (old[j])
				(void)seen_add(w, old[j]);
		free(old);
	}
	for (i = (extent * 2654435761u) & (w->cap_seen - 1); w->seen[i]; i = (i + 1) & (w->cap_seen - 1))
		if (w->seen[i] == extent)
			return 0;
	w->seen[i] = extent;
	w->n_seen++;
	return 1;
}

static int push(struct walk *w, uint32_t extent, uint32_t size, unsigned depth, char **ret_error) {
	int r;

	if (extent == 0 || size == 0 || size > MAX_DIR_SIZE || (uint64_t)extent * BLOCK + size > w->size)
		return set_error(ret_error, -EBADMSG, "%s: a directory lies outside the image (block %u, %u bytes)", w->base,
				 extent, size);
	if (depth > ISO_CHECK_MAX_DEPTH)
		return set_error(ret_error, -EBADMSG, "%s: directories nested deeper than %d", w->base, ISO_CHECK_MAX_DEPTH);
	r = seen_add(w, extent);
	if (r < 0)
		return r;
	if (r == 0)
		return set_error(ret_error, -EBADMSG, "%s: a directory record points at a directory already in the tree "
				 "(block %u): a loop", w->base, extent);
	if (w->n_seen > MAX_DIRS)
		return set_error(ret_error, -EBADMSG, "%s: more than %u directories", w->base, MAX_DIRS);
	if (w->n_todo == w->cap_todo) {
		size_t cap = w->cap_todo ? w->cap_todo * 2 : 64;
		struct dir *n = realloc(w->todo, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		w->todo = n, w->cap_todo = cap;
	}
	w->todo[w->n_todo++] = (struct dir){ .extent = extent, .size = size, .depth = depth };
	return 0;
}

/* The records of one directory: its subdirectories go on the stack. */
static int walk_dir(struct walk *w, const struct dir *d, uint8_t *buf, char **ret_error) {
	size_t got = 0, o = 0;
	int r;

	r = loop_pread(w->fd, buf, d->size, (uint64_t)d->extent * BLOCK, &got);
	if (r < 0)
		return set_error(ret_error, r, "cannot read %s: %m", w->base);
	if (got < d->size)
		return set_error(ret_error, -EBADMSG, "%s: a directory is cut short", w->base);
	while (o < d->size) {
		uint8_t len = buf[o], name_len;

		if (len == 0) { /* records never span a block: the rest of this one is padding */
			o = (o / BLOCK + 1) * BLOCK;
			continue;
		}
		if (len < 34 || o + len > d->size || 33u + buf[o + 32] > len)
			return set_error(ret_error, -EBADMSG, "%s: a directory record runs past its directory (block %u)",
					 w->base, d->extent);
		name_len = buf[o + 32];
		if ((buf[o + 25] & 2) && !(name_len == 1 && buf[o + 33] <= 1)) {
			r = push(w, get32(buf + o + 2), get32(buf + o + 10), d->depth + 1, ret_error);
			if (r < 0)
				return r;
		}
		o += len;
	}
	return 0;
}

/* The El Torito boot catalog a boot record names, and the boot images its entries name: inside
 * the image (libisofs only says "Read error occurred with IsoDataSource"). */
static int check_boot_catalog(struct walk *w, const uint8_t *vd, char **ret_error) {
	uint32_t cat = get32(vd + 0x47);
	uint8_t c[BLOCK];
	size_t got = 0;
	int r;

	if (memcmp(vd + 7, "EL TORITO SPECIFICATION", 23) != 0)
		return 0;
	if ((uint64_t)cat * BLOCK + BLOCK > w->size)
		return set_error(ret_error, -EBADMSG, "%s: the El Torito boot catalog lies outside the image (block %u)",
				 w->base, cat);
	r = loop_pread(w->fd, c, sizeof(c), (uint64_t)cat * BLOCK, &got);
	if (r < 0)
		return set_error(ret_error, r, "cannot read %s: %m", w->base);
	/* after the validation entry: boot entries (0x88 bootable, 0x00 not) and section headers (0x90, 0x91) */
	for (size_t o = 32; o + 32 <= got; o += 32) {
		uint32_t lba = get32(c + o + 8);

		if (c[o] == 0x90 || c[o] == 0x91)
			continue;
		if (c[o] != 0x88 && c[o] != 0x00)
			break;
		if (c[o] == 0x88 && (uint64_t)lba * BLOCK >= w->size)
			return set_error(ret_error, -EBADMSG, "%s: an El Torito boot image lies outside the image (block %u)",
					 w->base, lba);
	}
	return 0;
}

int iso_check_trees(int fd, uint64_t size, const char *base, char **ret_error) {
	struct walk w = { .fd = fd, .size = size, .base = base };
	_cleanup_free_ uint8_t *buf = malloc(MAX_DIR_SIZE);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint32_t lba = 16; lba < 16 + 64 && r >= 0; lba++) {
		uint8_t vd[BLOCK];
		size_t got = 0;

		r = loop_pread(fd, vd, sizeof(vd), (uint64_t)lba * BLOCK, &got);
		if (r < 0) {
			r = set_error(ret_error, r, "cannot read %s: %m", base);
			break;
		}
		if (got < sizeof(vd) || memcmp(vd + 1, "CD001", 5) != 0 || vd[0] == 255)
			break;
		if (vd[0] == 0) {
			r = check_boot_catalog(&w, vd, ret_error);
			continue;
		}
		if (vd[0] != 1 && vd[0] != 2)
			continue;
		/* each tree is its own: Joliet's directories are other extents than the primary's */
		free(w.seen);
		w.seen = NULL, w.cap_seen = w.n_seen = 0, w.n_todo = 0;
		r = push(&w, get32(vd + 156 + 2), get32(vd + 156 + 10), 0, ret_error);
		while (r >= 0 && w.n_todo > 0) {
			struct dir d = w.todo[--w.n_todo];

			r = walk_dir(&w, &d, buf, ret_error);
		}
	}
	free(w.todo);
	free(w.seen);
	return r < 0 ? r : 0;
}
