/* EFI boot variables through efivarfs, the ESP's GPT entry, and the rig's load
 * option from libefiboot. A variable file is 4 attribute bytes then the data;
 * efivarfs makes files immutable (FS_IMMUTABLE_FL) so that a stray write cannot
 * brick firmware: a write clears the flag, and sets it again after. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dlopen-util.h"
#include "efi-util.h"
#include "error.h"
#include "fileio.h"
#include "macro.h"
#include "parse-util.h"

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

int efi_secure_boot(const char *dir) {
	_cleanup_free_ uint8_t *data = NULL;
	size_t size = 0;
	int r = read_var(dir, "SecureBoot", &data, &size);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	return size >= 1 && data[0] == 1;
}

static int write_var(const char *dir, const char *name, const void *data, size_t size) {
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ uint8_t *buf = malloc(4 + size);
	_cleanup_close_ int fd = -1, rfd = -1;
	struct statfs sfs;
	uint32_t attrs = EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS;
	int flags = 0, r = 0;
	bool immutable = false;

	if (!buf || asprintf(&path, "%s/%s-" EFI_GLOBAL_GUID, dir, name) < 0)
		return -ENOMEM;
	memcpy(buf, &attrs, 4);
	memcpy(buf + 4, data, size);
	/* an immutable file cannot even be opened for writing: the flag is cleared through a
	 * read-only descriptor first (as libefivar does), and set again afterwards */
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd >= 0 && ioctl(rfd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
		flags &= ~FS_IMMUTABLE_FL;
		if (ioctl(rfd, FS_IOC_SETFLAGS, &flags) < 0)
			return negative_errno();
		immutable = true;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	/* efivarfs takes the whole variable in one write */
	errno = 0;
	if (fd < 0 || write(fd, buf, 4 + size) != (ssize_t)(4 + size))
		r = errno ? negative_errno() : -EIO;
	/* efivarfs replaces the whole variable; a plain file (a tree in tests, as libefivar's
	 * EFIVARFS_PATH reads) keeps the old tail of a longer value unless cut */
	else if (fstatfs(fd, &sfs) == 0 && sfs.f_type != EFIVARFS_MAGIC && ftruncate(fd, (off_t)(4 + size)) < 0)
		r = negative_errno();
	if (immutable) {
		flags |= FS_IMMUTABLE_FL;
		(void)ioctl(rfd, FS_IOC_SETFLAGS, &flags);
	}
	return r;
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
	return write_var(dir, "BootOrder", order, n * 2);
}

static int cmp_u16(const void *a, const void *b) {
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

int efi_list_boot_entries(const char *dir, uint16_t **ret, size_t *ret_n) {
	_cleanup_free_ uint16_t *nums = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		uint8_t hex[2];
		char digits[5];
		uint16_t *nn;

		/* "Boot0004-8be4df61-...": four hex digits, the global GUID */
		if (strncmp(de->d_name, "Boot", 4) != 0 || strlen(de->d_name) != 8 + 1 + 36 ||
		    de->d_name[8] != '-' || strcasecmp(de->d_name + 9, EFI_GLOBAL_GUID) != 0)
			continue;
		memcpy(digits, de->d_name + 4, 4);
		digits[4] = 0;
		if (parse_hex_bytes(digits, hex, 2) < 0)
			continue;
		nn = realloc(nums, (n + 1) * sizeof(uint16_t));
		if (!nn) {
			closedir(d);
			return -ENOMEM;
		}
		nums = nn;
		nums[n++] = (uint16_t)(hex[0] << 8 | hex[1]);
	}
	closedir(d);
	if (n)
		qsort(nums, n, sizeof(uint16_t), cmp_u16);
	*ret = TAKE_PTR(nums);
	*ret_n = n;
	return 0;
}

int efi_get_boot_option(const char *dir, uint16_t num, uint8_t **ret, size_t *ret_size) {
	char name[16];

	snprintf(name, sizeof(name), "Boot%04X", num);
	return read_var(dir, name, ret, ret_size);
}

int efi_set_boot_option(const char *dir, uint16_t num, const uint8_t *data, size_t size) {
	char name[16];

	snprintf(name, sizeof(name), "Boot%04X", num);
	return write_var(dir, name, data, size);
}

int efi_parse_load_option(const uint8_t *d, size_t size, struct efi_boot_entry *ret) {
	size_t o = 6, j = 0; /* u32 attributes, u16 file path list length */
	uint16_t path_size;

	if (size < 8)
		return -EBADMSG;
	for (; o + 1 < size; o += 2) {
		uint16_t c = (uint16_t)(d[o] | d[o + 1] << 8);

		if (c == 0)
			break;
		if (j + 1 < sizeof(ret->description))
			ret->description[j++] = c < 0x80 && c >= 0x20 ? (char)c : '?';
	}
	path_size = (uint16_t)(d[4] | d[5] << 8);
	if (o + 1 >= size || o + 2 + path_size > size)
		return -EBADMSG;
	ret->description[j] = 0;
	ret->attributes = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
	ret->path_offset = o + 2;
	ret->path_size = path_size;
	return 0;
}

int efi_get_boot_entry(const char *dir, uint16_t num, struct efi_boot_entry *ret) {
	_cleanup_free_ uint8_t *data = NULL;
	size_t size;
	int r;

	r = efi_get_boot_option(dir, num, &data, &size);
	if (r < 0)
		return r;
	ret->num = num;
	return efi_parse_load_option(data, size, ret);
}

/* ---- the ESP's GPT entry ---- */

static uint32_t crc32(const uint8_t *p, size_t n) {
	uint32_t c = 0xffffffff;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320 & -(c & 1));
	}
	return ~c;
}

static uint32_t get32(const uint8_t *p) {
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p) {
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

int efi_gpt_partition(int fd, uint32_t sector_size, uint32_t number, struct efi_partition *ret) {
	_cleanup_free_ uint8_t *hdr = NULL, *entries = NULL;
	uint32_t hdr_size, crc, n_entries, entry_size;
	size_t got, table;
	const uint8_t *e;
	int r;

	if (sector_size < 512 || sector_size > 65536 || number == 0)
		return -EINVAL;
	hdr = malloc(sector_size);
	if (!hdr)
		return -ENOMEM;
	r = loop_pread(fd, hdr, sector_size, sector_size, &got); /* LBA 1 */
	if (r < 0)
		return r;
	hdr_size = got == sector_size ? get32(hdr + 12) : 0;
	if (memcmp(hdr, "EFI PART", 8) != 0 || hdr_size < 92 || hdr_size > sector_size)
		return -EBADMSG;
	crc = get32(hdr + 16);
	memset(hdr + 16, 0, 4);
	if (crc32(hdr, hdr_size) != crc)
		return -EBADMSG;
	n_entries = get32(hdr + 80);
	entry_size = get32(hdr + 84);
	if (entry_size < 128 || entry_size > 4096 || entry_size % 8 || n_entries == 0 || n_entries > 4096)
		return -EBADMSG;
	if (number > n_entries)
		return -ERANGE;
	table = (size_t)n_entries * entry_size;
	entries = malloc(table);
	if (!entries)
		return -ENOMEM;
	r = loop_pread(fd, entries, table, get64(hdr + 72) * sector_size, &got);
	if (r < 0)
		return r;
	if (got != table || crc32(entries, table) != get32(hdr + 88))
		return -EBADMSG;
	e = entries + (size_t)(number - 1) * entry_size;
	if (!memcmp(e, (const uint8_t[16]){}, 16))
		return -ENOENT;
	if (get64(e + 40) < get64(e + 32))
		return -EBADMSG;
	ret->number = number;
	memcpy(ret->type, e, 16);
	memcpy(ret->guid, e + 16, 16);
	ret->start = get64(e + 32);
	ret->size = get64(e + 40) - ret->start + 1;
	return 0;
}

void efi_guid_format(const uint8_t g[16], char ret[37]) {
	/* the first three fields are little endian on disk, the rest are bytes in order */
	snprintf(ret, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", get32(g), (unsigned)(g[4] | g[5] << 8),
		 (unsigned)(g[6] | g[7] << 8), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

bool efi_partition_is_esp(const struct efi_partition *p) {
	char type[37];

	efi_guid_format(p->type, type);
	return strcmp(type, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b") == 0;
}

int efi_find_esp(const char *dir, struct efi_partition *ret, char **ret_error) {
	_cleanup_free_ char *up = NULL, *sys = NULL, *real = NULL, *num = NULL, *uevent = NULL, *name = NULL,
			    *dev = NULL;
	_cleanup_close_ int fd = -1;
	struct efi_partition p;
	struct stat st, st_up;
	uint32_t number;
	int r, sector_size = 512;

	if (asprintf(&up, "%s/..", dir) < 0)
		return -ENOMEM;
	if (stat(dir, &st) < 0 || stat(up, &st_up) < 0)
		return set_error(ret_error, negative_errno(), "cannot look at %s: %m", dir);
	if (st.st_dev == st_up.st_dev)
		return set_error(ret_error, -ENOENT, "nothing is mounted at %s (the ESP)", dir);
	if (asprintf(&sys, "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev)) < 0 ||
	    asprintf(&num, "%s/partition", sys) < 0)
		return -ENOMEM;
	r = read_full_file(num, &name, NULL);
	if (r < 0 || safe_atou32(string_strip(name), &number) < 0)
		return set_error(ret_error, -ENODEV, "%s is not on a disk partition (%s)", dir, sys);
	free(name), name = NULL;
	/* the partition's sysfs directory lies inside its disk's: .../block/vda/vda1 */
	real = realpath(sys, NULL);
	if (!real || !strrchr(real, '/'))
		return set_error(ret_error, real ? -ENODEV : negative_errno(), "cannot resolve %s: %m", sys);
	*strrchr(real, '/') = 0;
	free(num), num = NULL;
	if (asprintf(&num, "%s/uevent", real) < 0)
		return -ENOMEM;
	r = read_full_file(num, &uevent, NULL);
	/* uevent holds KEY=value lines, as os-release does */
	if (r < 0 || !(name = os_release_value(uevent, "DEVNAME")) || asprintf(&dev, "/dev/%s", name) < 0)
		return set_error(ret_error, r < 0 ? r : -ENODEV, "cannot find the disk of %s in %s", dir, real);
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_error(ret_error, negative_errno(), "cannot open %s: %m", dev);
	if (ioctl(fd, BLKSSZGET, &sector_size) < 0)
		sector_size = 512;
	r = efi_gpt_partition(fd, (uint32_t)sector_size, number, &p);
	if (r < 0)
		return set_error(ret_error, r == -EBADMSG ? -ENODEV : r, "cannot read partition %u of %s from its GPT: %m",
				 number, dev);
	if (!efi_partition_is_esp(&p))
		return set_error(ret_error, -ENODEV, "%s is partition %u of %s, which is not an EFI System Partition",
				 dir, number, dev);
	*ret = p;
	return 0;
}

/* ---- the load option, from libefiboot ---- */

/* What mlrig calls, declared from efivar's public headers (efivar-dp.h, efiboot-loadopt.h) so
 * the agent builds without them; efidp is a pointer to a device path node. */
static struct {
	void *handle;
	ssize_t (*efidp_make_hd)(uint8_t *buf, ssize_t size, uint32_t num, uint64_t part_start, uint64_t part_size,
				 uint8_t *signature, uint8_t format, uint8_t signature_type);
	ssize_t (*efidp_make_file)(uint8_t *buf, ssize_t size, char *filename);
	ssize_t (*efidp_make_generic)(uint8_t *buf, ssize_t size, uint8_t type, uint8_t subtype, ssize_t total_size);
	ssize_t (*efi_loadopt_create)(uint8_t *buf, ssize_t size, uint32_t attributes, void *dp, ssize_t dp_size,
				      unsigned char *description, uint8_t *optional_data, size_t optional_data_size);
	ssize_t (*efidp_format_device_path)(char *buf, size_t size, const void *dp, ssize_t limit);
} efiboot;

#define EFIDP_HD_FORMAT_GPT 0x02
#define EFIDP_HD_SIGNATURE_GUID 0x02
#define EFIDP_END_TYPE 0x7f
#define EFIDP_END_ENTIRE 0xff

static int efiboot_load(char **ret_error) {
	/* libefiboot needs libefivar, which has the device path makers: one dlopen finds both */
	static const char *const names[] = { "libefiboot.so.1", NULL };
	const struct dlsym_entry syms[] = {
		{ "efidp_make_hd", (void **)&efiboot.efidp_make_hd, false },
		{ "efidp_make_file", (void **)&efiboot.efidp_make_file, false },
		{ "efidp_make_generic", (void **)&efiboot.efidp_make_generic, false },
		{ "efi_loadopt_create", (void **)&efiboot.efi_loadopt_create, false },
		{ "efidp_format_device_path", (void **)&efiboot.efidp_format_device_path, true },
	};

	if (efiboot.handle)
		return 0;
	return dlopen_resolve(names, syms, ELEMENTSOF(syms), &efiboot.handle, ret_error);
}

/* libefivar says why in errno; -1 is its failure */
static int efiboot_errno(void) {
	return errno > 0 ? -errno : -EIO;
}

int efi_make_load_option(const struct efi_partition *p, const char *loader, const char *label, uint8_t **ret,
			 size_t *ret_size, char **ret_error) {
	_cleanup_free_ uint8_t *dp = NULL, *opt = NULL;
	_cleanup_free_ char *file = strdup(loader), *desc = strdup(label);
	uint8_t signature[16];
	ssize_t hd, fl, end, n;
	int r;

	if (!file || !desc)
		return -ENOMEM;
	r = efiboot_load(ret_error);
	if (r < 0)
		return r;
	memcpy(signature, p->guid, 16);
	errno = 0;
	hd = efiboot.efidp_make_hd(NULL, 0, p->number, p->start, p->size, signature, EFIDP_HD_FORMAT_GPT,
				   EFIDP_HD_SIGNATURE_GUID);
	fl = efiboot.efidp_make_file(NULL, 0, file);
	end = efiboot.efidp_make_generic(NULL, 0, EFIDP_END_TYPE, EFIDP_END_ENTIRE, 4);
	if (hd <= 0 || fl <= 0 || end <= 0 || hd + fl + end > UINT16_MAX)
		return set_error(ret_error, efiboot_errno(), "libefivar cannot size the device path for %s: %m", loader);
	dp = calloc(1, (size_t)(hd + fl + end));
	if (!dp)
		return -ENOMEM;
	if (efiboot.efidp_make_hd(dp, hd, p->number, p->start, p->size, signature, EFIDP_HD_FORMAT_GPT,
				  EFIDP_HD_SIGNATURE_GUID) != hd ||
	    efiboot.efidp_make_file(dp + hd, fl, file) != fl ||
	    efiboot.efidp_make_generic(dp + hd + fl, end, EFIDP_END_TYPE, EFIDP_END_ENTIRE, 4) != end)
		return set_error(ret_error, efiboot_errno(), "libefivar cannot build the device path for %s: %m", loader);
	n = efiboot.efi_loadopt_create(NULL, 0, EFI_LOAD_OPTION_ACTIVE, dp, hd + fl + end, (unsigned char *)desc,
				       NULL, 0);
	opt = n > 0 ? malloc((size_t)n) : NULL;
	if (n <= 0 || !opt ||
	    efiboot.efi_loadopt_create(opt, n, EFI_LOAD_OPTION_ACTIVE, dp, hd + fl + end, (unsigned char *)desc,
				       NULL, 0) != n)
		return set_error(ret_error, n > 0 && !opt ? -ENOMEM : efiboot_errno(),
				 "libefiboot cannot build the load option \"%s\": %m", label);
	*ret = TAKE_PTR(opt);
	*ret_size = (size_t)n;
	return 0;
}

/* Whether path is a list of whole nodes (each at least its 4-byte header, none running past
 * size) ending with an End Entire node: libefivar trusts the node lengths it is given and
 * reads past a buffer whose nodes lie about them. */
static bool device_path_valid(const uint8_t *path, size_t size) {
	size_t o = 0;

	while (size - o >= 4) {
		uint16_t len = (uint16_t)(path[o + 2] | path[o + 3] << 8);

		if (len < 4 || len > size - o)
			return false;
		if (path[o] == 0x7f && path[o + 1] == 0xff)
			return o + len == size;
		o += len;
	}
	return false;
}

char *efi_format_device_path(const uint8_t *path, size_t size) {
	_cleanup_free_ uint8_t *copy = NULL;
	ssize_t n;
	char *s;

	if (efiboot_load(NULL) < 0 || !efiboot.efidp_format_device_path || size < 4 || size > 65535 ||
	    !device_path_valid(path, size))
		return NULL;
	/* a node shorter than its type's fields (an HD() of 4 bytes) is read as if whole: zeros
	 * after the list keep that read inside this copy */
	copy = calloc(1, size + 256);
	if (!copy)
		return NULL;
	memcpy(copy, path, size);
	n = efiboot.efidp_format_device_path(NULL, 0, copy, (ssize_t)size);
	if (n <= 0 || !(s = calloc(1, (size_t)n + 1)))
		return NULL;
	if (efiboot.efidp_format_device_path(s, (size_t)n + 1, copy, (ssize_t)size) < 0) {
		free(s);
		return NULL;
	}
	return s;
}
