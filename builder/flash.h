/* Writing an image to a disk: only its data (holes zeroed where that is free), the first MiB last, read-back verification. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "flash-target.h"
#include "macro.h"

/* The first MiB holds the partition tables and boot code: written last, so an
 * interrupted flash leaves nothing that boots into a half-written disk. */
#define FLASH_HEAD_SIZE MiB
/* An old backup GPT lives in the device's last sectors: that much past the image is cleared. */
#define FLASH_TAIL_SIZE MiB
/* Unit of work for writing and reading back: each thread takes the next chunk. */
#define FLASH_CHUNK_SIZE (4 * MiB)

/* One piece of the image span: data to copy, or a hole that must read back as zeros. */
struct flash_extent {
	uint64_t offset;
	uint64_t length;
	bool data;
};

/* Builds extents covering [0, size) from data ranges ({offset, length} pairs in
 * extents[].offset/length, any order, may overlap or run past size): data and
 * holes alternate, neighbours merged. -EINVAL for a zero-length span. */
int flash_plan_extents(const struct flash_extent *data, size_t n_data, uint64_t size, struct flash_extent **ret,
		       size_t *ret_n);
/* The image's data ranges as extents covering [0, size): its allocated extents by
 * FIEMAP, unwritten (fallocated, zeroed) ones included; else SEEK_DATA/SEEK_HOLE;
 * else the whole file. In builder/flash-extents.c. */
int flash_image_extents(int fd, uint64_t size, struct flash_extent **ret, size_t *ret_n);

/* Splits [offset, offset+length) into an unaligned head, an align-aligned middle
 * and an unaligned tail (any may be empty), for zeroing ioctls that need sector alignment. */
void flash_split_aligned(uint64_t offset, uint64_t length, uint64_t align, uint64_t *ret_head,
			 uint64_t *ret_middle, uint64_t *ret_tail);

/* Offset of the first byte where a and b differ, or n when they are equal. */
size_t flash_first_difference(const void *a, const void *b, size_t n);
/* Offset of the first non-zero byte, or n when all are zero. */
size_t flash_first_nonzero(const void *p, size_t n);

/* What becomes of the image's holes on the device. File systems made by mke2fs,
 * mkfs.vfat or mlrig never read their unallocated blocks, so stale bytes there do
 * no harm; sending zeros through a USB stick's bus costs as much as data. */
enum flash_holes {
	FLASH_HOLES_AUTO, /* zeroed where the device zeroes for free (target->zeroes_free), else left */
	FLASH_HOLES_ZERO, /* --zero-holes: always zeroed; the device then equals the image over its span */
	FLASH_HOLES_KEEP, /* --no-zero-holes: never zeroed */
};
/* Whether holes are zeroed (and read back) on target under that policy. */
bool flash_zeroes_holes(const struct flash_target *target, enum flash_holes holes);

struct flash_options {
	bool verify;
	bool quiet;
	enum flash_holes holes;
	unsigned test_delay_ms; /* MLRIG_FLASH_TEST_DELAY: sleep per chunk, so tests can interrupt a flash */
};

struct flash_stats {
	uint64_t span;       /* image size */
	uint64_t data;       /* bytes of the image's data ranges */
	uint64_t zeroed;     /* bytes of holes made zeros: the first MiB's always, all of them with zero_holes */
	uint64_t left;       /* bytes of holes left as the device had them */
	uint64_t written;    /* bytes sent to the device: data, and zeros it could not make by itself */
	uint64_t read;       /* bytes read back from the device */
	bool zero_holes;     /* holes were zeroed, and are read back */
	bool verified;
	uint64_t bad_offset; /* first differing byte, when verification failed (-EBADMSG) */
	bool wraps;          /* that byte changed when the first MiB was written: the medium wraps onto it */
};

/* Writes image_fd to device_fd (opened O_RDWR, O_EXCL for a block device): the
 * first MiB cleared, then the device's last MiB past the image (an old backup
 * GPT), the holes if opts->holes says so, the data, a read-back of what was
 * written, and the first MiB last.
 * -EBADMSG when the read-back differs, with stats->bad_offset set and no
 * message (the caller names image and device); any other -errno with
 * *ret_error saying what failed where ("Failed to write /dev/sdb near offset
 * 4194304: Input/output error"), or left alone when errno says all (-ENOMEM).
 * Logs nothing above debug level. */
int flash_write(int image_fd, int device_fd, const struct flash_target *target, const struct flash_options *opts,
		struct flash_stats *stats, char **ret_error);
/* Reads device_fd back over the image's span and compares what flash_write()
 * with the same opts->holes would have made equal to the image: the data byte
 * for byte, the first MiB whole, and the holes against zeros when they are
 * zeroed. 0 and stats->verified when equal; -EBADMSG with stats->bad_offset set
 * to the lowest differing byte; other failures as flash_write(). */
int flash_verify(int image_fd, int device_fd, const struct flash_target *target, const struct flash_options *opts,
		 struct flash_stats *stats, char **ret_error);
