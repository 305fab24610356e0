/* builder/flash.c, the pure parts: extent planning, SEEK_DATA on a sparse file, alignment split, difference finders, mountinfo. */
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

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
