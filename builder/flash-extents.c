/* The image's map for flash: its data ranges (FIEMAP, else SEEK_DATA) planned into data and holes covering its span. */
#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "flash.h"
#include "log.h"
#include "macro.h"

static int extent_cmp(const void *a, const void *b) {
	const struct flash_extent *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int extents_push(struct flash_extent **v, size_t *n, size_t *alloc, uint64_t offset, uint64_t length,
			bool data) {
	if (length == 0)
		return 0;
	/* neighbours of the same kind become one extent, so writes and zeroing calls stay large */
	if (*n > 0 && (*v)[*n - 1].data == data && (*v)[*n - 1].offset + (*v)[*n - 1].length == offset) {
		(*v)[*n - 1].length += length;
		return 0;
	}
	if (*n == *alloc) {
		size_t na = *alloc ? *alloc * 2 : 16;
		struct flash_extent *nv = reallocarray(*v, na, sizeof(**v));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*alloc = na;
	}
	(*v)[(*n)++] = (struct flash_extent){ .offset = offset, .length = length, .data = data };
	return 0;
}

int flash_plan_extents(const struct flash_extent *data, size_t n_data, uint64_t size, struct flash_extent **ret,
		       size_t *ret_n) {
	_cleanup_free_ struct flash_extent *sorted = NULL, *out = NULL;
	size_t n = 0, alloc = 0;
	uint64_t pos = 0;
	int r;

	if (size == 0)
		return -EINVAL;
	if (n_data > 0) {
		sorted = reallocarray(NULL, n_data, sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, data, n_data * sizeof(*sorted));
		qsort(sorted, n_data, sizeof(*sorted), extent_cmp);
	}
	for (size_t i = 0; i < n_data && pos < size; i++) {
		uint64_t start = sorted[i].offset, end;

		if (sorted[i].length == 0 || start >= size)
			continue;
		end = sorted[i].length > size - start ? size : start + sorted[i].length;
		if (end <= pos)
			continue; /* inside what an earlier range covered */
		if (start > pos) {
			r = extents_push(&out, &n, &alloc, pos, start - pos, false);
			if (r < 0)
				return r;
		} else
			start = pos;
		r = extents_push(&out, &n, &alloc, start, end - start, true);
		if (r < 0)
			return r;
		pos = end;
	}
	if (pos < size) {
		r = extents_push(&out, &n, &alloc, pos, size - pos, false);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(out);
	*ret_n = n;
	return 0;
}

/* The allocated ranges by FIEMAP, unwritten extents included: they are zeros their
 * maker asked for (libext2fs zeroes an ext4 journal with FALLOC_FL_ZERO_RANGE, and
 * stale blocks in a journal could be replayed), where SEEK_DATA calls them holes or
 * data depending on what the page cache holds, so that two runs could disagree.
 * -EOPNOTSUPP, -ENOTTY where there is no FIEMAP (tmpfs, a block device). */
static int fiemap_ranges(int fd, uint64_t size, struct flash_extent **v, size_t *n, size_t *alloc) {
	enum { N_EXTENTS = 256 };
	_cleanup_free_ struct fiemap *fm = malloc(sizeof(*fm) + N_EXTENTS * sizeof(struct fiemap_extent));
	uint64_t pos = 0;
	int r;

	if (!fm)
		return -ENOMEM;
	while (pos < size) {
		/* SYNC: delayed allocations get their extents first */
		*fm = (struct fiemap){ .fm_start = pos, .fm_length = size - pos, .fm_flags = FIEMAP_FLAG_SYNC,
				       .fm_extent_count = N_EXTENTS };
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0)
			return negative_errno();
		if (fm->fm_mapped_extents == 0)
			return 0;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *e = &fm->fm_extents[i];

			r = extents_push(v, n, alloc, e->fe_logical, e->fe_length, true);
			if (r < 0)
				return r;
			pos = e->fe_logical + e->fe_length;
			if (e->fe_flags & FIEMAP_EXTENT_LAST)
				return 0;
		}
	}
	return 0;
}

/* The data ranges by SEEK_DATA/SEEK_HOLE, or the whole span where there is no SEEK_DATA. */
static int seek_data_ranges(int fd, uint64_t size, struct flash_extent **v, size_t *n, size_t *alloc) {
	uint64_t pos = 0;
	int r;

	while (pos < size) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA), h;

		if (d < 0) {
			if (errno == ENXIO)
				return 0; /* only a hole from here to the end */
			if (errno == EINVAL && pos == 0)
				return extents_push(v, n, alloc, 0, size, true); /* a block device, an old file system */
			return negative_errno();
		}
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return negative_errno();
		if ((uint64_t)h <= (uint64_t)d)
			return -EIO;
		r = extents_push(v, n, alloc, (uint64_t)d, (uint64_t)(h - d), true);
		if (r < 0)
			return r;
		pos = (uint64_t)h;
	}
	return 0;
}

int flash_image_extents(int fd, uint64_t size, struct flash_extent **ret, size_t *ret_n) {
	_cleanup_free_ struct flash_extent *data = NULL;
	size_t n = 0, alloc = 0;
	int r;

	r = fiemap_ranges(fd, size, &data, &n, &alloc);
	if (r == -EOPNOTSUPP || r == -ENOTTY || r == -EBADR || r == -EINVAL) {
		log_debug_errno(r, "No FIEMAP for the image, asking SEEK_DATA: %m");
		n = 0;
		r = seek_data_ranges(fd, size, &data, &n, &alloc);
	}
	if (r < 0)
		return r;
	return flash_plan_extents(data, n, size, ret, ret_n);
}
