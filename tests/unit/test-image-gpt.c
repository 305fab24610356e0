/* The image's GPT, read back with sfdisk (util-linux), not with libfdisk, which wrote it. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fileio.h"
#include "hash-util.h"
#include "image-gpt.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"
#include "test.h"

static char *sfdisk_dump(const char *path) {
	struct process_result res = {};
	char *argv[] = { "sfdisk", "--dump", (char *)path, NULL };
	int r = process_run(&(struct process_options){ .argv = argv, .stdout_mode = PROCESS_CAPTURE,
						       .stderr_mode = PROCESS_TO_STDOUT },
			    &res);

	if (r == -ENOENT)
		test_skip("sfdisk is not installed (util-linux's fdisk package)");
	ASSERT_EQ(r, 0);
	return res.out;
}

static void sparse_file(const char *path, uint64_t size) {
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ASSERT_TRUE(fd >= 0);
	ASSERT_TRUE(ftruncate(fd, (off_t)size) == 0);
}

TEST(gpt_guids_types_and_layout) {
	static const char disk_s[] = "0bd0a0a2-1111-4222-8333-444455556666";
	static const char esp_s[] = "11111111-2222-4333-8444-555555555555";
	static const char root_s[] = "66666666-7777-4888-9999-aaaaaaaaaaaa";
	struct gpt_part parts[2] = {
		{ .name = "esp", .type = GPT_TYPE_ESP, .start = MiB, .size = 128 * MiB },
		{ .name = "root", .type = GPT_TYPE_ROOT_X86_64, .start = 129 * MiB, .size = 300 * MiB },
	};
	uint8_t disk[16];
	_cleanup_free_ char *dump = NULL;

	ASSERT_OK(uuid_parse(disk_s, disk));
	ASSERT_OK(uuid_parse(esp_s, parts[0].uuid));
	ASSERT_OK(uuid_parse(root_s, parts[1].uuid));
	sparse_file("disk.img", 512 * MiB);
	ASSERT_OK(gpt_write("disk.img", disk, parts, 2));
	dump = sfdisk_dump("disk.img");
	ASSERT_CONTAINS(dump, "label: gpt\n");
	ASSERT_CONTAINS(dump, "label-id: 0BD0A0A2-1111-4222-8333-444455556666\n");
	/* sectors: 1 MiB = 2048, 128 MiB = 262144, 129 MiB = 264192, 300 MiB = 614400 */
	ASSERT_CONTAINS(dump, "disk.img1 : start=        2048, size=      262144, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, "
			      "uuid=11111111-2222-4333-8444-555555555555, name=\"esp\"");
	ASSERT_CONTAINS(dump, "disk.img2 : start=      264192, size=      614400, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, "
			      "uuid=66666666-7777-4888-9999-AAAAAAAAAAAA, name=\"root\"");
	ASSERT_CONTAINS(dump, "last-lba: 1048542\n"); /* the backup GPT in the last 33 sectors */
}

TEST(gpt_same_input_same_bytes) {
	struct gpt_part parts[1] = { { .name = "root", .type = GPT_TYPE_ROOT_X86_64, .start = MiB, .size = 62 * MiB } };
	uint8_t disk[16] = { 1, 2, 3 };
	char a[HASH_HEX_MAX], b[HASH_HEX_MAX];

	parts[0].uuid[0] = 9;
	sparse_file("a.img", 64 * MiB);
	sparse_file("b.img", 64 * MiB);
	ASSERT_OK(gpt_write("a.img", disk, parts, 1));
	ASSERT_OK(gpt_write("b.img", disk, parts, 1));
	ASSERT_OK(hash_file_hex(HASH_SHA256, "a.img", a));
	ASSERT_OK(hash_file_hex(HASH_SHA256, "b.img", b));
	ASSERT_STREQ(a, b);
	/* one seed byte more, another table */
	disk[0] = 2;
	ASSERT_OK(gpt_write("b.img", disk, parts, 1));
	ASSERT_OK(hash_file_hex(HASH_SHA256, "b.img", b));
	ASSERT_TRUE(strcmp(a, b) != 0);
}

TEST(gpt_refusals) {
	struct gpt_part too_big[1] = { { .name = "root", .type = GPT_TYPE_ROOT_X86_64, .start = MiB, .size = 64 * MiB } };
	struct gpt_part bad_type[1] = { { .name = "x", .type = "not-a-guid", .start = MiB, .size = MiB } };
	uint8_t disk[16] = { 0 };

	sparse_file("small.img", 32 * MiB);
	ASSERT_EQ(gpt_write("small.img", disk, too_big, 1), -ERANGE); /* libfdisk alone would shrink it */
	ASSERT_TRUE(gpt_write("small.img", disk, bad_type, 1) < 0);
	ASSERT_TRUE(gpt_write("no-such-dir/x.img", disk, too_big, 1) < 0);
}
