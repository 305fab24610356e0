/* Unit tests for firstboot/efi-util.c: efivarfs variables in a tree, load options parsed,
 * the ESP's GPT entry read back from a disk libfdisk wrote, and the rig's load option built
 * with libefiboot compared with the bytes efibootmgr wrote for the same ESP. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "efi-util.h"
#include "fileio.h"
#include "macro.h"
#include "test-efi.h"
#include "test.h"

/* An EFI_LOAD_OPTION: u32 attributes, u16 path list length, UCS-2 description, NUL, device path. */
static size_t load_option(uint8_t *buf, const char *desc, bool terminate) {
	static const uint8_t end_path[] = { 0x7f, 0xff, 0x04, 0x00 };
	size_t o = 0;

	buf[o++] = 1, buf[o++] = 0, buf[o++] = 0, buf[o++] = 0; /* LOAD_OPTION_ACTIVE */
	buf[o++] = sizeof(end_path), buf[o++] = 0;
	for (const char *c = desc; *c; c++)
		buf[o++] = (uint8_t)*c, buf[o++] = 0;
	if (terminate)
		buf[o++] = 0, buf[o++] = 0;
	memcpy(buf + o, end_path, sizeof(end_path));
	return o + (terminate ? sizeof(end_path) : 0);
}

TEST(efi_load_options) {
	uint8_t buf[1024];
	struct efi_boot_entry e;
	char longdesc[300];
	size_t n;

	n = load_option(buf, "debian", true);
	ASSERT_OK(efi_parse_load_option(buf, n, &e));
	ASSERT_STREQ(e.description, "debian");
	n = load_option(buf, "Windows Boot Manager", true);
	ASSERT_OK(efi_parse_load_option(buf, n, &e));
	ASSERT_STREQ(e.description, "Windows Boot Manager");
	/* a character outside ASCII is shown as '?' */
	n = load_option(buf, "Ubuntu", true);
	buf[6 + 2 * 2] = 0xe9, buf[6 + 2 * 2 + 1] = 0x00;
	ASSERT_OK(efi_parse_load_option(buf, n, &e));
	ASSERT_STREQ(e.description, "Ub?ntu");
	/* a description longer than the field is cut, not overrun */
	memset(longdesc, 'x', sizeof(longdesc) - 1);
	longdesc[sizeof(longdesc) - 1] = 0;
	n = load_option(buf, longdesc, true);
	ASSERT_OK(efi_parse_load_option(buf, n, &e));
	ASSERT_EQ(strlen(e.description), sizeof(e.description) - 1);
	/* no NUL before the end, or too short to hold the header */
	n = load_option(buf, "debian", false);
	ASSERT_EQ(efi_parse_load_option(buf, n, &e), -EBADMSG);
	ASSERT_EQ(efi_parse_load_option(buf, 7, &e), -EBADMSG);
	ASSERT_EQ(efi_parse_load_option(buf, 0, &e), -EBADMSG);
}

/* efivarfs files: 4 attribute bytes, then the variable */
static void put_var(const char *name, const void *data, size_t size) {
	uint8_t buf[512] = { 7, 0, 0, 0 };
	char path[256];

	memcpy(buf + 4, data, size);
	snprintf(path, sizeof(path), "efivars/%s-" EFI_GLOBAL_GUID, name);
	ASSERT_OK(write_file_atomic(path, buf, size + 4, 0644));
}

TEST(efi_variables_in_a_tree) {
	uint16_t order[] = { 0x0003, 0x0000, 0x0001 }, *got = NULL, swapped[] = { 0x0000, 0x0003, 0x0001 };
	uint8_t opt[256];
	struct efi_boot_entry e;
	size_t n;

	ASSERT_EQ(efi_available("efivars"), 0);
	ASSERT_TRUE(mkdir("efivars", 0755) == 0);
	ASSERT_EQ(efi_available("efivars"), 1);
	ASSERT_EQ(efi_get_boot_order("efivars", &got, &n), -ENOENT);
	put_var("BootOrder", order, sizeof(order));
	ASSERT_OK(efi_get_boot_order("efivars", &got, &n));
	ASSERT_EQ(n, 3);
	ASSERT_EQ(got[0], 3);
	ASSERT_EQ(got[2], 1);
	free(got);
	ASSERT_OK(efi_set_boot_order("efivars", swapped, 3));
	ASSERT_OK(efi_get_boot_order("efivars", &got, &n));
	ASSERT_EQ(got[0], 0);
	ASSERT_EQ(got[1], 3);
	free(got);
	put_var("Boot0003", opt, load_option(opt, "mlrig rig", true));
	ASSERT_OK(efi_get_boot_entry("efivars", 3, &e));
	ASSERT_EQ(e.num, 3);
	ASSERT_STREQ(e.description, "mlrig rig");
	/* an odd-length BootOrder is corrupt */
	put_var("BootOrder", order, 3);
	ASSERT_EQ(efi_get_boot_order("efivars", &got, &n), -EBADMSG);
}

TEST(gpt_partition_of_a_libfdisk_disk) {
	struct efi_partition p, q;
	_cleanup_close_ int fd = -1;
	char guid[37];

	write_esp_disk("disk.img");
	fd = open("disk.img", O_RDWR | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(efi_gpt_partition(fd, 512, 1, &p));
	ASSERT_EQ(p.number, 1);
	ASSERT_EQ(p.start, ESP_START);
	ASSERT_EQ(p.size, ESP_SECTORS);
	efi_guid_format(p.guid, guid);
	ASSERT_STREQ(guid, ESP_GUID);
	/* stored mixed endian: the first three fields little endian, as the HD() node carries them */
	ASSERT_EQ(p.guid[0], 0x3d);
	ASSERT_EQ(p.guid[4], 0x5f);
	ASSERT_EQ(p.guid[8], 0x88);
	ASSERT_TRUE(efi_partition_is_esp(&p));
	ASSERT_OK(efi_gpt_partition(fd, 512, 2, &q));
	ASSERT_TRUE(!efi_partition_is_esp(&q));
	ASSERT_EQ(q.start, 67584);
	ASSERT_EQ(efi_gpt_partition(fd, 512, 3, &q), -ENOENT); /* an unused entry */
	ASSERT_EQ(efi_gpt_partition(fd, 512, 129, &q), -ERANGE);
	ASSERT_EQ(efi_gpt_partition(fd, 512, 0, &q), -EINVAL);
	/* a GPT that fails its CRC is no GPT: the header, then an entry */
	ASSERT_EQ(pwrite(fd, "x", 1, 512 + 56), 1);
	ASSERT_EQ(efi_gpt_partition(fd, 512, 1, &q), -EBADMSG);
	write_esp_disk("disk2.img");
	{
		_cleanup_close_ int fd2 = open("disk2.img", O_RDWR | O_CLOEXEC);

		ASSERT_EQ(pwrite(fd2, "x", 1, 1024 + 16), 1);
		ASSERT_EQ(efi_gpt_partition(fd2, 512, 1, &q), -EBADMSG);
		/* a 4096-byte-sector reading of a 512-byte-sector disk finds no header */
		ASSERT_EQ(efi_gpt_partition(fd2, 4096, 1, &q), -EBADMSG);
	}
	/* an empty disk */
	ASSERT_TRUE(ftruncate(fd, 0) == 0 && ftruncate(fd, 1 << 20) == 0);
	ASSERT_EQ(efi_gpt_partition(fd, 512, 1, &q), -EBADMSG);
}

TEST(load_option_matches_efibootmgr) {
	_cleanup_free_ uint8_t *opt = NULL;
	_cleanup_free_ char *error = NULL, *text = NULL;
	_cleanup_close_ int fd = -1;
	struct efi_partition p;
	struct efi_boot_entry e;
	size_t size;
	int r;

	write_esp_disk("disk.img");
	fd = open("disk.img", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(efi_gpt_partition(fd, 512, 1, &p));
	r = efi_make_load_option(&p, "\\EFI\\BOOT\\BOOTX64.EFI", "Debian GNU/Linux", &opt, &size, &error);
	if (r == -ELIBACC)
		test_skip("%s (apt install libefiboot1)", error);
	ASSERT_OK(r);
	ASSERT_EQ(size, sizeof(efibootmgr_boot0000));
	for (size_t i = 0; i < size; i++)
		if (opt[i] != efibootmgr_boot0000[i])
			test_fail(__FILE__, __LINE__, "byte %zu: 0x%02x, efibootmgr wrote 0x%02x", i, opt[i],
				  efibootmgr_boot0000[i]);
	/* and what the agent reads back from it */
	ASSERT_OK(efi_parse_load_option(opt, size, &e));
	ASSERT_STREQ(e.description, "Debian GNU/Linux");
	ASSERT_EQ(e.attributes, EFI_LOAD_OPTION_ACTIVE);
	ASSERT_EQ(e.path_offset, 4 + 2 + 17 * 2);
	ASSERT_EQ(e.path_size, 42 + 48 + 4); /* HD(), File() with 22 UCS-2 characters, End */
	text = efi_format_device_path(opt + e.path_offset, e.path_size);
	ASSERT_STREQ(text, "HD(1,GPT," ESP_GUID ",0x800,0x10000)/File(\\EFI\\BOOT\\BOOTX64.EFI)");
	/* a path list longer than what follows the description is a cut-off option */
	ASSERT_EQ(efi_parse_load_option(opt, size - 1, &e), -EBADMSG);
}

TEST(boot_entries_listed_and_written) {
	uint8_t opt[256], *back = NULL;
	uint16_t *nums = NULL;
	char *file = NULL;
	size_t n, size, len = load_option(opt, "rig", true);

	ASSERT_TRUE(mkdir("efivars", 0755) == 0);
	put_var("Boot000A", opt, len);
	put_var("Boot0003", opt, len);
	put_var("BootOrder", (uint16_t[]){ 3 }, 2);
	put_var("BootCurrent", (uint16_t[]){ 3 }, 2);
	ASSERT_OK(write_file_atomic("efivars/Boot0001-01234567-89ab-cdef-0123-456789abcdef", "\7\0\0\0x", 5, 0644));
	ASSERT_OK(write_file_atomic("efivars/BootXYZW-" EFI_GLOBAL_GUID, "\7\0\0\0x", 5, 0644));
	ASSERT_OK(efi_list_boot_entries("efivars", &nums, &n));
	/* only Boot#### of the global GUID, in number order */
	ASSERT_EQ(n, 2);
	ASSERT_EQ(nums[0], 3);
	ASSERT_EQ(nums[1], 10);
	free(nums);
	/* a new variable: the attribute bytes (non-volatile, boot and run time), then the option */
	ASSERT_OK(efi_set_boot_option("efivars", 0x000B, opt, len));
	ASSERT_OK(read_full_file("efivars/Boot000B-" EFI_GLOBAL_GUID, &file, &size));
	ASSERT_EQ(size, len + 4);
	ASSERT_TRUE(memcmp(file, "\7\0\0\0", 4) == 0 && memcmp(file + 4, opt, len) == 0);
	free(file);
	/* replacing one */
	len = load_option(opt, "rig, repaired", true);
	ASSERT_OK(efi_set_boot_option("efivars", 0x000B, opt, len));
	ASSERT_OK(efi_get_boot_option("efivars", 0x000B, &back, &size));
	ASSERT_EQ(size, len);
	ASSERT_TRUE(memcmp(back, opt, len) == 0);
	free(back);
}

/* efivarfs makes files immutable so that a stray write cannot brick the firmware; the writer
 * clears the flag of a variable it replaces, which must happen before the file is opened for
 * writing, and sets it again (here on the test directory's file system, which has the flag). */
TEST(immutable_variable_replaced) {
	uint8_t opt[256], *back = NULL;
	size_t size, len = load_option(opt, "rig", true);
	_cleanup_close_ int fd = -1;
	int flags = 0;

	ASSERT_TRUE(mkdir("efivars", 0755) == 0);
	put_var("Boot0001", opt, len);
	fd = open("efivars/Boot0001-" EFI_GLOBAL_GUID, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		test_skip("the test directory's file system has no inode flags (FS_IOC_GETFLAGS: %m)");
	flags |= FS_IMMUTABLE_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
		test_skip("cannot make a file immutable here (FS_IOC_SETFLAGS: %m)");
	ASSERT_TRUE(open("efivars/Boot0001-" EFI_GLOBAL_GUID, O_WRONLY | O_CLOEXEC) < 0 && errno == EPERM);
	len = load_option(opt, "rig, repaired", true);
	ASSERT_OK(efi_set_boot_option("efivars", 0x0001, opt, len));
	ASSERT_OK(efi_get_boot_option("efivars", 0x0001, &back, &size));
	ASSERT_EQ(size, len);
	ASSERT_TRUE(memcmp(back, opt, len) == 0);
	free(back);
	/* and made immutable again; cleared here so that the test directory can be removed */
	ASSERT_TRUE(ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL));
	flags &= ~FS_IMMUTABLE_FL;
	ASSERT_TRUE(ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0);
}
