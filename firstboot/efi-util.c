/* efivarfs access: a variable file is 4 attribute bytes then the data; files
 * are immutable until FS_IMMUTABLE_FL is cleared, so a stray write cannot
 * brick firmware. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "efi-util.h"
#include "fileio.h"
#include "macro.h"

#define EFI_VARIABLE_NON_VOLATILE 0x1
#define EFI_VARIABLE_BOOTSERVICE_ACCESS 0x2
#define EFI_VARIABLE_RUNTIME_ACCESS 0x4

int efi_available(const char *dir) {
	struct stat st;

	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 1 : 0;
}

static int read_var(const char *dir, const char *name, uint8_t **ret, size_t *ret_size) {
	_cleanup_free_ char *path = NULL, *data = NULL;
	size_t size;
	int r;

	if (asprintf(&path, "%s/%s-" EFI_GLOBAL_GUID, dir, name) < 0)
		return -ENOMEM;
	r = read_full_file(path, &data, &size);
	if (r < 0)
		return r;
	if (size < 4)
		return -EBADMSG;
	memmove(data, data + 4, size - 4);
	*ret = (uint8_t *)TAKE_PTR(data);
	*ret_size = size - 4;
	return 0;
}

int efi_get_boot_order(const char *dir, uint16_t **ret, size_t *ret_n) {
	uint8_t *data;
	size_t size;
	int r = read_var(dir, "BootOrder", &data, &size);

	if (r < 0)
		return r;
	if (size % 2) {
		free(data);
		return -EBADMSG;
	}
	*ret = (uint16_t *)data;
	*ret_n = size / 2;
	return 0;
}

int efi_set_boot_order(const char *dir, const uint16_t *order, size_t n) {
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ uint8_t *buf = malloc(4 + n * 2);
	_cleanup_close_ int fd = -1;
	uint32_t attrs = EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS;
	int flags;

	if (!buf || asprintf(&path, "%s/BootOrder-" EFI_GLOBAL_GUID, dir) < 0)
		return -ENOMEM;
	memcpy(buf, &attrs, 4);
	memcpy(buf + 4, order, n * 2);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
		flags &= ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
			return negative_errno();
	}
	/* efivarfs takes the whole variable in one write */
	if (write(fd, buf, 4 + n * 2) != (ssize_t)(4 + n * 2))
		return errno ? negative_errno() : -EIO;
	return 0;
}

int efi_parse_load_option(const uint8_t *d, size_t size, struct efi_boot_entry *ret) {
	size_t o = 6, j = 0; /* u32 attributes, u16 file path list length */

	if (size < 8)
		return -EBADMSG;
	for (; o + 1 < size; o += 2) {
		uint16_t c = (uint16_t)(d[o] | d[o + 1] << 8);

		if (c == 0)
			break;
		if (j + 1 < sizeof(ret->description))
			ret->description[j++] = c < 0x80 && c >= 0x20 ? (char)c : '?';
	}
	if (o + 1 >= size)
		return -EBADMSG;
	ret->description[j] = 0;
	return 0;
}

int efi_get_boot_entry(const char *dir, uint16_t num, struct efi_boot_entry *ret) {
	_cleanup_free_ uint8_t *data = NULL;
	char name[16];
	size_t size;
	int r;

	snprintf(name, sizeof(name), "Boot%04X", num);
	r = read_var(dir, name, &data, &size);
	if (r < 0)
		return r;
	ret->num = num;
	return efi_parse_load_option(data, size, ret);
}
