/* builder/flash.c and flash-target.c: extents, alignment, difference finders, mountinfo, the hole policy, and the errors both hand up. */
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "flash-target.h"
#include "flash.h"
#include "macro.h"
#include "test.h"

TEST(plan_fills_holes_and_merges) {
	struct flash_extent data[] = {
		{ .offset = 8192, .length = 4096, .data = true },
		{ .offset = 0, .length = 4096, .data = true },
		{ .offset = 12288, .length = 4096, .data = true }, /* adjacent: merged */
		{ .offset = 9000, .length = 100, .data = true },   /* inside: ignored */
		{ .offset = 30000, .length = 99999, .data = true }, /* runs past the end: clamped */
	};
	struct flash_extent *e = NULL;
	size_t n = 0;

	ASSERT_OK(flash_plan_extents(data, ELEMENTSOF(data), 40000, &e, &n));
	ASSERT_EQ(n, 5);
	ASSERT_TRUE(e[0].data && e[0].offset == 0 && e[0].length == 4096);
	ASSERT_TRUE(!e[1].data && e[1].offset == 4096 && e[1].length == 4096);
	ASSERT_TRUE(e[2].data && e[2].offset == 8192 && e[2].length == 8192);
	ASSERT_TRUE(!e[3].data && e[3].offset == 16384 && e[3].length == 30000 - 16384);
	ASSERT_TRUE(e[4].data && e[4].offset == 30000 && e[4].length == 10000);
	free(e);
}

TEST(plan_all_hole_and_errors) {
	struct flash_extent *e = NULL;
	size_t n = 0;

	ASSERT_OK(flash_plan_extents(NULL, 0, 1000, &e, &n));
	ASSERT_EQ(n, 1);
	ASSERT_TRUE(!e[0].data && e[0].length == 1000);
	free(e);
	ASSERT_EQ(flash_plan_extents(NULL, 0, 0, &e, &n), -EINVAL);
}

TEST(image_extents_from_sparse_file) {
	_cleanup_close_ int fd = open("sparse.img", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	struct flash_extent *e = NULL;
	char block[4096];
	uint64_t data = 0, covered = 0;
	size_t n = 0;

	memset(block, 0xaa, sizeof(block));
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(ftruncate(fd, 16 * MiB));
	ASSERT_OK(loop_pwrite(fd, block, sizeof(block), 0));
	ASSERT_OK(loop_pwrite(fd, block, sizeof(block), 8 * MiB));
	ASSERT_OK(flash_image_extents(fd, 16 * MiB, &e, &n));
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(e[i].offset, covered); /* contiguous cover of the span */
		covered += e[i].length;
		if (e[i].data)
			data += e[i].length;
	}
	ASSERT_EQ(covered, 16 * MiB);
	ASSERT_TRUE(e[0].data);
	/* the file system may allocate a little more around a write, never less */
	ASSERT_TRUE(data >= 8192 && data < 4 * MiB);
	free(e);
}

/* Unwritten extents are zeros the image's maker asked for (an ext4 journal zeroed by
 * libext2fs): data, whatever the page cache holds, where SEEK_DATA calls them holes
 * until their pages are cached. */
TEST(image_extents_count_unwritten_extents) {
	_cleanup_close_ int fd = open("prealloc.img", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	struct flash_extent *e = NULL;
	size_t n = 0;

	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(ftruncate(fd, 8 * MiB));
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 2 * MiB, 2 * MiB) < 0)
		test_skip("no fallocate here: %m");
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	ASSERT_OK(flash_image_extents(fd, 8 * MiB, &e, &n));
	ASSERT_EQ(n, 3);
	ASSERT_TRUE(!e[0].data && e[0].length == 2 * MiB);
	ASSERT_TRUE(e[1].data && e[1].offset == 2 * MiB && e[1].length == 2 * MiB);
	ASSERT_TRUE(!e[2].data && e[2].offset == 4 * MiB);
	free(e);
}

TEST(split_aligned) {
	uint64_t h, m, t;

	flash_split_aligned(100, 2000, 512, &h, &m, &t);
	ASSERT_EQ(h, 412);
	ASSERT_EQ(m, 1536);
	ASSERT_EQ(t, 52);
	flash_split_aligned(4096, 8192, 512, &h, &m, &t);
	ASSERT_TRUE(h == 0 && m == 8192 && t == 0);
	flash_split_aligned(10, 100, 512, &h, &m, &t); /* no whole sector inside */
	ASSERT_TRUE(h == 100 && m == 0 && t == 0);
}

TEST(first_difference_and_nonzero) {
	static uint8_t a[100000], b[100000];

	ASSERT_EQ(flash_first_difference(a, b, sizeof(a)), sizeof(a));
	ASSERT_EQ(flash_first_nonzero(a, sizeof(a)), sizeof(a));
	b[77777] = 1;
	ASSERT_EQ(flash_first_difference(a, b, sizeof(a)), 77777);
	ASSERT_EQ(flash_first_nonzero(b, sizeof(b)), 77777);
	b[5] = 9;
	ASSERT_EQ(flash_first_difference(a, b, sizeof(a)), 5);
}

TEST(mountinfo) {
	const char *mi =
		"22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw\n"
		"40 22 7:3 / /mnt/my\\040stick rw,relatime shared:20 - vfat /dev/loop3 rw\n"
		"41 22 0:45 / /data rw - btrfs /nonexistent/dev rw\n";
	dev_t devs[] = { makedev(7, 3), makedev(7, 4) }, other[] = { makedev(8, 0) }, hit = 0;
	char *mp = NULL;

	ASSERT_OK(flash_find_mount(mi, devs, ELEMENTSOF(devs), &mp, &hit));
	ASSERT_STREQ(mp, "/mnt/my stick");
	ASSERT_EQ(hit, makedev(7, 3));
	free(mp);
	ASSERT_EQ(flash_find_mount(mi, other, ELEMENTSOF(other), &mp, NULL), -ENOENT);
}

TEST(mountinfo_skips_malformed_device_numbers) {
	const char *mi = "43 22 7:4junk / /bad rw - ext4 /nonexistent rw\n"
			 "44 22 7:4 / /good rw - ext4 /nonexistent rw\n";
	dev_t devs[] = { makedev(7, 4) };
	char *mp = NULL;

	ASSERT_OK(flash_find_mount(mi, devs, ELEMENTSOF(devs), &mp, NULL));
	ASSERT_STREQ(mp, "/good");
	free(mp);
}

TEST(check_target_refusals_fill_ret_error) {
	struct flash_target t = {};
	char *error = NULL;

	ASSERT_OK(write_file_atomic("image", "data", 4, 0644));
	ASSERT_OK(write_file_atomic("disk.raw", "", 0, 0644));
	ASSERT_EQ(flash_check_target("image", 4, "disk.raw", false, &t, &error), -EPERM);
	ASSERT_STREQ(error, "disk.raw is not a block device (a regular file needs --force)");
	ASSERT_EQ(flash_check_target("image", 4, "image", true, &t, &error), -EPERM);
	ASSERT_STREQ(error, "image is the image file itself");
	free(error);
	error = NULL;
	/* errno and the name say it all: no message */
	ASSERT_EQ(flash_check_target("image", 4, "missing", true, &t, &error), -ENOENT);
	ASSERT_TRUE(!error);
	ASSERT_OK(flash_check_target("image", 4, "disk.raw", true, &t, &error));
	ASSERT_TRUE(!t.block && !error);
	ASSERT_STREQ(t.path, "disk.raw");
	flash_target_release(&t);
}

/* A sparse image with data in the first MiB and past it; the target a regular file. */
static void make_image(int *ret_image, int *ret_disk) {
	_cleanup_close_ int image = open("rig.img", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	_cleanup_close_ int disk = open("disk.raw", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	char block[4096];

	ASSERT_TRUE(image >= 0 && disk >= 0);
	memset(block, 0x5a, sizeof(block));
	ASSERT_OK(ftruncate(image, 6 * MiB));
	ASSERT_OK(loop_pwrite(image, block, sizeof(block), 100));
	ASSERT_OK(loop_pwrite(image, block, sizeof(block), 5 * MiB + 7));
	*ret_image = TAKE_FD(image);
	*ret_disk = TAKE_FD(disk);
}

/* Old bytes on the disk, size bytes of 0xee: what a used stick holds. */
static void fill_junk(int disk, uint64_t size) {
	static uint8_t junk[MiB];

	memset(junk, 0xee, sizeof(junk));
	for (uint64_t o = 0; o < size; o += MiB)
		ASSERT_OK(loop_pwrite(disk, junk, MiB, o));
}

static uint8_t byte_at(int fd, uint64_t offset) {
	uint8_t b = 0;
	size_t got = 0;

	ASSERT_OK(loop_pread(fd, &b, 1, offset, &got));
	ASSERT_EQ(got, 1);
	return b;
}

/* Whether fd holds the image's bytes in [offset, offset+n). */
static bool equal_to_image(int image, int fd, uint64_t offset, size_t n) {
	_cleanup_free_ uint8_t *a = malloc(n), *b = malloc(n);
	size_t ga = 0, gb = 0;

	ASSERT_TRUE(a && b);
	ASSERT_OK(loop_pread(image, a, n, offset, &ga));
	ASSERT_OK(loop_pread(fd, b, n, offset, &gb));
	return ga == n && gb == n && memcmp(a, b, n) == 0;
}

TEST(holes_policy) {
	struct flash_target free_zeros = { .zeroes_free = true }, sent_zeros = { .zeroes_free = false };

	ASSERT_TRUE(flash_zeroes_holes(&free_zeros, FLASH_HOLES_AUTO));
	ASSERT_TRUE(!flash_zeroes_holes(&sent_zeros, FLASH_HOLES_AUTO));
	ASSERT_TRUE(flash_zeroes_holes(&sent_zeros, FLASH_HOLES_ZERO));
	ASSERT_TRUE(!flash_zeroes_holes(&free_zeros, FLASH_HOLES_KEEP));
}

TEST(describe_target) {
	_cleanup_close_ int fd = open("disk.raw", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	_cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct flash_target t = {};

	ASSERT_TRUE(fd >= 0 && null >= 0);
	ASSERT_OK(ftruncate(fd, 3 * MiB));
	ASSERT_OK(flash_target_describe(fd, "disk.raw", &t));
	ASSERT_TRUE(!t.block && t.zeroes_free); /* a file's holes are punched */
	ASSERT_EQ(t.size, 3 * MiB);
	ASSERT_STREQ(t.path, "disk.raw");
	flash_target_release(&t);
	ASSERT_EQ(flash_target_describe(null, "/dev/null", &t), -ENOTBLK);
}

TEST(write_verify_and_a_difference) {
	struct flash_target t = { .path = (char *)"disk.raw", .sector_size = 512, .zeroes_free = true };
	struct flash_options opts = { .verify = true, .quiet = true };
	_cleanup_close_ int image = -EBADF, disk = -EBADF;
	struct flash_stats stats;
	char *error = NULL;

	make_image(&image, &disk);
	fill_junk(disk, 6 * MiB);
	ASSERT_OK(flash_write(image, disk, &t, &opts, &stats, &error));
	ASSERT_TRUE(stats.verified && stats.zero_holes && !error);
	ASSERT_EQ(stats.span, 6 * MiB);
	ASSERT_EQ(stats.zeroed + stats.data, 6 * MiB);
	ASSERT_EQ(stats.left, 0);
	ASSERT_EQ(stats.read, 6 * MiB); /* holes too */
	ASSERT_TRUE(equal_to_image(image, disk, 0, 6 * MiB));
	ASSERT_OK(loop_pwrite(disk, "x", 1, 3 * MiB + 1)); /* in a hole */
	ASSERT_OK(loop_pwrite(disk, "x", 1, 5 * MiB + 9)); /* in data, later */
	stats = (struct flash_stats){};
	ASSERT_EQ(flash_verify(image, disk, &t, &opts, &stats, &error), -EBADMSG);
	ASSERT_EQ(stats.bad_offset, 3 * MiB + 1); /* the lowest */
	ASSERT_TRUE(!stats.verified && !error);
	/* holes not zeroed are not read: only the data byte is found */
	opts.holes = FLASH_HOLES_KEEP;
	stats = (struct flash_stats){};
	ASSERT_EQ(flash_verify(image, disk, &t, &opts, &stats, &error), -EBADMSG);
	ASSERT_EQ(stats.bad_offset, 5 * MiB + 9);
}

/* A device that zeroes only by being sent zeros: holes past the first MiB keep their
 * old bytes, the first MiB and the last MiB past the image become zeros, and only
 * the data (and the first MiB) is read back. */
TEST(write_leaves_holes_where_zeroing_is_not_free) {
	struct flash_target t = { .path = (char *)"disk.raw", .sector_size = 512, .zeroes_free = false };
	struct flash_options opts = { .verify = true, .quiet = true };
	_cleanup_close_ int image = -EBADF, disk = -EBADF;
	_cleanup_free_ struct flash_extent *e = NULL;
	uint64_t data_past_head = 0;
	struct flash_stats stats;
	char *error = NULL;
	size_t n = 0;

	make_image(&image, &disk);
	fill_junk(disk, 9 * MiB);
	ASSERT_OK(flash_image_extents(image, 6 * MiB, &e, &n));
	for (size_t i = 0; i < n; i++)
		if (e[i].data && e[i].offset >= FLASH_HEAD_SIZE)
			data_past_head += e[i].length;
	ASSERT_OK(flash_write(image, disk, &t, &opts, &stats, &error));
	ASSERT_TRUE(stats.verified && !stats.zero_holes && !error);
	ASSERT_TRUE(equal_to_image(image, disk, 0, FLASH_HEAD_SIZE)); /* the first MiB whole */
	ASSERT_TRUE(equal_to_image(image, disk, 5 * MiB, 8192));     /* the data */
	ASSERT_EQ(byte_at(disk, 3 * MiB), 0xee);                     /* a hole, left */
	ASSERT_EQ(byte_at(disk, 7 * MiB), 0xee);                     /* past the image, untouched */
	for (uint64_t o = 8 * MiB; o < 9 * MiB; o += 4096)
		ASSERT_EQ(byte_at(disk, o), 0); /* the last MiB, cleared */
	ASSERT_EQ(stats.read, FLASH_HEAD_SIZE + data_past_head);
	ASSERT_EQ(stats.written, stats.data); /* a file's zeros are punched holes: nothing sent */
	ASSERT_EQ(stats.data + stats.zeroed + stats.left, 6 * MiB);
	ASSERT_EQ(stats.zeroed + stats.data - data_past_head, FLASH_HEAD_SIZE);
	ASSERT_OK(flash_verify(image, disk, &t, &opts, &stats, &error));
	opts.holes = FLASH_HOLES_ZERO; /* --verify-only --zero-holes finds the old bytes */
	ASSERT_EQ(flash_verify(image, disk, &t, &opts, &stats, &error), -EBADMSG);
	ASSERT_EQ(stats.bad_offset, FLASH_HEAD_SIZE);
	/* --zero-holes writes the holes too: the device equals the image over its span */
	ASSERT_OK(flash_write(image, disk, &t, &opts, &stats, &error));
	ASSERT_TRUE(stats.zero_holes && stats.left == 0);
	ASSERT_TRUE(equal_to_image(image, disk, 0, 6 * MiB));
}

TEST(verify_short_device_names_the_offset) {
	struct flash_target t = { .path = (char *)"disk.raw", .sector_size = 512 };
	struct flash_options opts = { .quiet = true, .holes = FLASH_HOLES_ZERO };
	_cleanup_close_ int image = -EBADF, disk = -EBADF;
	struct flash_stats stats = {};
	char *error = NULL;

	make_image(&image, &disk);
	ASSERT_OK(flash_write(image, disk, &t, &opts, &stats, &error));
	/* the device ends inside the image's last data range; all before it matches */
	ASSERT_OK(ftruncate(disk, 5 * MiB));
	for (int holes = FLASH_HOLES_AUTO; holes <= FLASH_HOLES_KEEP; holes++) {
		opts.holes = holes;
		ASSERT_EQ(flash_verify(image, disk, &t, &opts, &stats, &error), -EIO);
		ASSERT_STREQ(error, "Failed to read back disk.raw: short read at offset 5242880: Input/output error");
		free(error);
		error = NULL;
	}
}
