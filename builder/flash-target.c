/* Whether a device may be overwritten: not mounted, not swap, not held, not the image's own disk or this machine's, big enough, removable. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "flash-target.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

void flash_unescape(char *s) {
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else
			*w++ = *p;
	}
	*w = 0;
}

static bool dev_in(dev_t d, const dev_t *devs, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (devs[i] == d)
			return true;
	return false;
}

/* Splits a line at single spaces into at most max words (in place); returns the count. */
static size_t split_words(char *line, char **words, size_t max) {
	size_t k = 0;

	for (char *p = line; *p && k < max;) {
		words[k++] = p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = 0;
	}
	return k;
}

int flash_find_mount(const char *mountinfo, const dev_t *devs, size_t n_devs, char **ret_mountpoint,
		     dev_t *ret_dev) {
	for (const char *l = mountinfo; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		_cleanup_free_ char *line = strndup(l, strcspn(l, "\n"));
		char *w[64];
		struct stat st;
		size_t k;
		dev_t d;

		if (!line)
			return -ENOMEM;
		/* "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw": optional fields end at "-" */
		k = split_words(line, w, ELEMENTSOF(w));
		if (k < 5 || parse_devnum(w[2], &d) < 0)
			continue;
		if (!dev_in(d, devs, n_devs))
			for (size_t j = 6; j + 2 < k; j++)
				if (strcmp(w[j], "-") == 0) {
					/* btrfs and friends report an anonymous device number; the source names the real one */
					flash_unescape(w[j + 2]);
					if (w[j + 2][0] == '/' && stat(w[j + 2], &st) == 0 && S_ISBLK(st.st_mode))
						d = st.st_rdev;
					break;
				}
		if (dev_in(d, devs, n_devs)) {
			char *mp = strdup(w[4]);
			if (!mp)
				return -ENOMEM;
			flash_unescape(mp);
			*ret_mountpoint = mp;
			if (ret_dev)
				*ret_dev = d;
			return 0;
		}
	}
	return -ENOENT;
}

/* sysfs: /sys/dev/block/MAJ:MIN resolves to the device's directory; partitions are subdirectories with a "partition" file. */
static int sysfs_dir_of(dev_t d, char **ret) {
	_cleanup_free_ char *p = NULL;
	char *dir;

	if (asprintf(&p, "/sys/dev/block/%u:%u", major(d), minor(d)) < 0)
		return -ENOMEM;
	dir = realpath(p, NULL);
	if (!dir)
		return negative_errno();
	*ret = dir;
	return 0;
}

static int sysfs_read(const char *dir, const char *file, char **ret) {
	_cleanup_free_ char *path = NULL, *data = NULL;
	int r;

	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return -ENOMEM;
	r = read_full_file(path, &data, NULL);
	if (r < 0)
		return r;
	data[strcspn(data, "\n")] = 0;
	*ret = TAKE_PTR(data);
	return 0;
}

static int sysfs_read_dev(const char *dir, dev_t *ret) {
	_cleanup_free_ char *s = NULL;
	int r = sysfs_read(dir, "dev", &s);

	if (r < 0)
		return r;
	return parse_devnum(s, ret);
}

static bool sysfs_exists(const char *dir, const char *file) {
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return false;
	return access(path, F_OK) == 0;
}

/* The device's sysfs directory and its disk's: the same one, unless it is a partition. */
static int sysfs_dirs_of(dev_t d, char **ret_dir, char **ret_disk_dir) {
	_cleanup_free_ char *dir = NULL, *disk_dir = NULL;
	int r = sysfs_dir_of(d, &dir);

	if (r < 0)
		return r;
	disk_dir = strdup(dir);
	if (!disk_dir)
		return -ENOMEM;
	if (sysfs_exists(dir, "partition"))
		dirname(disk_dir);
	*ret_dir = TAKE_PTR(dir);
	*ret_disk_dir = TAKE_PTR(disk_dir);
	return 0;
}

/* Whether the disk makes zeros without being sent them (WRITE ZEROES; a loop device
 * over a file that can punch holes). USB sticks and SD card readers say 0: every
 * zero is a byte through the bus. */
static bool sysfs_zeroes_free(const char *disk_dir) {
	_cleanup_free_ char *s = NULL;
	uint64_t max;

	return sysfs_read(disk_dir, "queue/write_zeroes_max_bytes", &s) >= 0 && safe_atou64(s, &max) >= 0 && max > 0;
}

/* The device itself and its partitions, with their /dev names for messages. */
struct devset {
	dev_t *devs;
	char **names;
	char **dirs;
	size_t n;
};

static void devset_release(struct devset *s) {
	for (size_t i = 0; i < s->n; i++) {
		free(s->names[i]);
		free(s->dirs[i]);
	}
	free(s->devs);
	free(s->names);
	free(s->dirs);
	*s = (struct devset){};
}

static int devset_add(struct devset *s, dev_t d, const char *dir) {
	dev_t *nd = reallocarray(s->devs, s->n + 1, sizeof(*nd));
	char **nn, **ndirs;

	if (!nd)
		return -ENOMEM;
	s->devs = nd;
	nn = reallocarray(s->names, s->n + 1, sizeof(*nn));
	if (!nn)
		return -ENOMEM;
	s->names = nn;
	ndirs = reallocarray(s->dirs, s->n + 1, sizeof(*ndirs));
	if (!ndirs)
		return -ENOMEM;
	s->dirs = ndirs;
	s->names[s->n] = NULL;
	s->dirs[s->n] = strdup(dir);
	if (!s->dirs[s->n] || asprintf(&s->names[s->n], "/dev/%s", strrchr(dir, '/') + 1) < 0) {
		free(s->dirs[s->n]);
		return -ENOMEM;
	}
	s->devs[s->n++] = d;
	return 0;
}

static int devset_collect(const char *dir, dev_t self, struct devset *s) {
	_cleanup_(closedirp) DIR *dp = NULL;
	struct dirent *de;
	int r;

	r = devset_add(s, self, dir);
	if (r < 0)
		return r;
	if (sysfs_exists(dir, "partition"))
		return 0; /* a partition has no partitions of its own */
	dp = opendir(dir);
	if (!dp)
		return negative_errno();
	while ((de = readdir(dp))) {
		_cleanup_free_ char *sub = NULL;
		dev_t d;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0)
			return -ENOMEM;
		if (!sysfs_exists(sub, "partition") || sysfs_read_dev(sub, &d) < 0)
			continue;
		r = devset_add(s, d, sub);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whether block device d is one of set, or is built on one of them (dm, md, LVM: sysfs "slaves"). */
static bool dev_built_on(dev_t d, const struct devset *s, unsigned depth) {
	_cleanup_free_ char *dir = NULL, *slaves = NULL;
	_cleanup_(closedirp) DIR *dp = NULL;
	struct dirent *de;

	if (dev_in(d, s->devs, s->n))
		return true;
	if (depth > 8 || major(d) == 0 || sysfs_dir_of(d, &dir) < 0)
		return false;
	if (asprintf(&slaves, "%s/slaves", dir) < 0)
		return false;
	dp = opendir(slaves);
	if (!dp)
		return false;
	while ((de = readdir(dp))) {
		_cleanup_free_ char *sub = NULL;
		dev_t sd;

		if (de->d_name[0] == '.' || asprintf(&sub, "%s/%s", slaves, de->d_name) < 0)
			continue;
		if (sysfs_read_dev(sub, &sd) >= 0 && dev_built_on(sd, s, depth + 1))
			return true;
	}
	return false;
}

static int first_entry(const char *dir, char **ret) {
	_cleanup_(closedirp) DIR *dp = opendir(dir);
	struct dirent *de;

	if (!dp)
		return -ENOENT;
	while ((de = readdir(dp)))
		if (de->d_name[0] != '.') {
			*ret = strdup(de->d_name);
			return *ret ? 0 : -ENOMEM;
		}
	return -ENOENT;
}

void flash_target_release(struct flash_target *t) {
	free(t->path);
	free(t->description);
	*t = (struct flash_target){};
}

/* The loop device's backing file, by inode: a path may have moved since losetup. */
static bool loop_backed_by(const char *node, const char *disk_dir, const struct stat *image) {
	struct loop_info64 info = {};
	_cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	_cleanup_free_ char *backing = NULL;
	struct stat st;

	if (fd >= 0 && ioctl(fd, LOOP_GET_STATUS64, &info) == 0)
		return info.lo_inode == image->st_ino && (dev_t)info.lo_device == image->st_dev;
	/* a partition of a loop device: the disk's sysfs names the file */
	if (sysfs_read(disk_dir, "loop/backing_file", &backing) < 0)
		return false;
	return stat(backing, &st) == 0 && st.st_ino == image->st_ino && st.st_dev == image->st_dev;
}

/* This machine's own system, then the image itself: the most specific reasons come first. */
static int check_not_system_or_image(const char *image, const struct stat *ist, const char *device,
				     const char *disk_dir, const struct devset *set, char **ret_error) {
	struct stat st;

	if (stat("/", &st) == 0 && dev_built_on(st.st_dev, set, 0))
		return set_error(ret_error, -EPERM, "%s holds / of this machine", device);
	if (stat("/boot", &st) == 0 && dev_built_on(st.st_dev, set, 0))
		return set_error(ret_error, -EPERM, "%s holds /boot of this machine", device);
	if (dev_built_on(ist->st_dev, set, 0))
		return set_error(ret_error, -EPERM, "%s holds the image file %s", device, image);
	if (S_ISREG(ist->st_mode) && loop_backed_by(device, disk_dir, ist))
		return set_error(ret_error, -EPERM, "%s is a loop device backed by the image file %s", device, image);
	if (S_ISBLK(ist->st_mode) && dev_in(ist->st_rdev, set->devs, set->n))
		return set_error(ret_error, -EPERM, "%s is the image %s itself", device, image);
	return 0;
}

static int check_not_mounted(const char *device, dev_t self, const struct devset *set, char **ret_error) {
	_cleanup_free_ char *mountinfo = NULL, *mp = NULL;
	const char *name = device;
	dev_t hit;
	int r;

	r = read_full_file("/proc/self/mountinfo", &mountinfo, NULL);
	if (r < 0)
		return r;
	r = flash_find_mount(mountinfo, set->devs, set->n, &mp, &hit);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < set->n; i++)
		if (set->devs[i] == hit)
			name = set->names[i];
	if (strcmp(mp, "/") == 0 || strcmp(mp, "/boot") == 0)
		return set_error(ret_error, -EPERM, "%s holds %s of this machine (%s)", device, mp, name);
	if (strcmp(name, device) == 0 || hit == self)
		return set_error(ret_error, -EPERM, "%s is mounted on %s", device, mp);
	return set_error(ret_error, -EPERM, "%s is in use: its partition %s is mounted on %s", device, name, mp);
}

static int check_not_swap(const char *device, const struct devset *set, char **ret_error) {
	_cleanup_free_ char *swaps = NULL;

	if (read_full_file("/proc/swaps", &swaps, NULL) < 0)
		return 0; /* no swap support at all */
	/* the first line is a header; each other starts with the swap's path */
	for (char *l = strchr(swaps, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
		_cleanup_free_ char *f = strndup(l + 1, strcspn(l + 1, " \t\n"));
		struct stat st;

		if (!f)
			return -ENOMEM;
		flash_unescape(f);
		if (stat(f, &st) == 0 && S_ISBLK(st.st_mode) && dev_in(st.st_rdev, set->devs, set->n))
			return set_error(ret_error, -EPERM, "%s is in use as swap (%s)", device, f);
	}
	return 0;
}

static int check_not_held(const char *device, const struct devset *set, char **ret_error) {
	for (size_t i = 0; i < set->n; i++) {
		_cleanup_free_ char *holders = NULL, *holder = NULL;

		if (asprintf(&holders, "%s/holders", set->dirs[i]) < 0)
			return -ENOMEM;
		if (first_entry(holders, &holder) >= 0)
			return set_error(ret_error, -EPERM,
					 "%s is in use: %s is held by /dev/%s (LVM, RAID or device mapper)", device,
					 set->names[i], holder);
	}
	return 0;
}

/* The size from the device's own sysfs directory (a partition's, for a partition),
 * the rest from the disk's. */
static int check_size_and_media(const char *dir, const char *disk_dir, uint64_t image_size, const char *device,
				bool force, struct flash_target *t, char **ret_error) {
	_cleanup_free_ char *s = NULL, *model = NULL;
	uint32_t sector_size;

	if (sysfs_read(dir, "size", &s) < 0 || safe_atou64(s, &t->size) < 0)
		return -EIO;
	t->size *= 512; /* sysfs counts 512-byte sectors whatever the device's own */
	free(TAKE_PTR(s));
	if (t->size < image_size)
		return set_error(ret_error, -EPERM, "%s is smaller than the image: %" PRIu64 " bytes < %" PRIu64 " bytes",
				 device, t->size, image_size);

	t->zeroes_free = sysfs_zeroes_free(disk_dir);
	t->sector_size = 512;
	if (sysfs_read(disk_dir, "queue/logical_block_size", &s) >= 0 && safe_atou32(s, &sector_size) >= 0)
		t->sector_size = sector_size;
	free(TAKE_PTR(s));
	if (t->sector_size < 512 || (t->sector_size & (t->sector_size - 1)))
		t->sector_size = 512;

	/* sticks and SD cards; USB disks in enclosures often say removable=0, but the bus tells */
	if (sysfs_read(disk_dir, "removable", &s) >= 0 && strcmp(s, "1") == 0)
		t->removable = true;
	if (strstr(disk_dir, "/usb") || strstr(disk_dir, "/mmc_host/"))
		t->removable = true;
	if (!t->removable && !force)
		return set_error(ret_error, -EPERM,
				 "%s is not a removable disk; pass --force if you really mean to overwrite it", device);

	if (sysfs_read(disk_dir, "device/model", &model) >= 0)
		string_trim_end(model);
	if (asprintf(&t->description, "%s%s%.1f GiB", model && *model ? model : "",
		     model && *model ? ", " : "", (double)t->size / (double)GiB) < 0)
		return -ENOMEM;
	return 0;
}

static int check_block(const char *image, const struct stat *ist, uint64_t image_size, const char *device,
		       const struct stat *dst, bool force, struct flash_target *t, char **ret_error) {
	_cleanup_(devset_release) struct devset set = {};
	_cleanup_free_ char *dir = NULL, *disk_dir = NULL;
	int r;

	r = sysfs_dirs_of(dst->st_rdev, &dir, &disk_dir);
	if (r < 0)
		return log_debug_errno(r, "No sysfs entry for %s: %m", device);
	r = devset_collect(dir, dst->st_rdev, &set);
	if (r < 0)
		return r;

	r = check_not_system_or_image(image, ist, device, disk_dir, &set, ret_error);
	if (r < 0)
		return r;
	r = check_not_mounted(device, dst->st_rdev, &set, ret_error);
	if (r < 0)
		return r;
	r = check_not_swap(device, &set, ret_error);
	if (r < 0)
		return r;
	r = check_not_held(device, &set, ret_error);
	if (r < 0)
		return r;
	return check_size_and_media(dir, disk_dir, image_size, device, force, t, ret_error);
}

int flash_check_target(const char *image, uint64_t image_size, const char *device, bool force,
		       struct flash_target *ret, char **ret_error) {
	struct flash_target t = {};
	struct stat ist, dst;
	int r;

	if (stat(image, &ist) < 0)
		return negative_errno();
	if (stat(device, &dst) < 0)
		return negative_errno(); /* never created: a typo under /dev would otherwise become a file there */
	t.path = strdup(device);
	if (!t.path)
		return -ENOMEM;
	t.sector_size = 512;
	if (S_ISBLK(dst.st_mode)) {
		t.block = true;
		r = check_block(image, &ist, image_size, device, &dst, force, &t, ret_error);
	} else if (S_ISREG(dst.st_mode)) {
		if (!force)
			r = set_error(ret_error, -EPERM, "%s is not a block device (a regular file needs --force)", device);
		else if (dst.st_dev == ist.st_dev && dst.st_ino == ist.st_ino)
			r = set_error(ret_error, -EPERM, "%s is the image file itself", device);
		else {
			t.zeroes_free = true; /* its holes are punched */
			r = 0;
		}
	} else
		r = set_error(ret_error, -EPERM, "%s is neither a block device nor a regular file", device);
	if (r < 0) {
		flash_target_release(&t);
		return r;
	}
	*ret = t;
	return 0;
}

int flash_target_describe(int fd, const char *path, struct flash_target *ret) {
	_cleanup_free_ char *dir = NULL, *disk_dir = NULL;
	struct flash_target t = { .sector_size = 512 };
	struct stat st;
	int sector_size;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISREG(st.st_mode)) {
		t.size = (uint64_t)st.st_size;
		t.zeroes_free = true;
	} else if (S_ISBLK(st.st_mode)) {
		t.block = true;
		if (ioctl(fd, BLKGETSIZE64, &t.size) < 0 || ioctl(fd, BLKSSZGET, &sector_size) < 0)
			return negative_errno();
		if (sector_size >= 512 && (sector_size & (sector_size - 1)) == 0)
			t.sector_size = (unsigned)sector_size;
		t.zeroes_free = sysfs_dirs_of(st.st_rdev, &dir, &disk_dir) >= 0 && sysfs_zeroes_free(disk_dir);
	} else
		return -ENOTBLK;
	t.path = strdup(path);
	if (!t.path)
		return -ENOMEM;
	*ret = t;
	return 0;
}
