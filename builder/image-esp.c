/* Builds the ESP with the reference tools (mkfs.vfat, mmd, mcopy) and pins
 * the times mtools would otherwise take from the clock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "fs-util.h"
#include "image-esp.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"

/* Runs one of the FAT tools; on failure *ret_error holds its own words. */
static int tool(char *const argv[], char *const env[], char **ret_error) {
	_cleanup_(process_result_release) struct process_result res = {};
	char status[64];
	int r;

	r = process_run(&(struct process_options){
				.argv = argv, .env_set = env, .stdin_mode = PROCESS_NULL,
				.stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_TO_STDOUT,
			}, &res);
	if (r < 0)
		return set_error(ret_error, r, "cannot run %s: %m (install dosfstools and mtools)", argv[0]);
	if (r > 0)
		return set_error(ret_error, -EIO, "%s %s: %s", argv[0], process_status_to_string(r, status, sizeof(status)),
				 string_trim_end(res.out));
	return 0;
}

static int mkdirs_for(const char *dir, const char *path) {
	_cleanup_free_ char *full = NULL;

	if (asprintf(&full, "%s/%s", dir, path) < 0)
		return -ENOMEM;
	return mkdir_parents(full, 0755);
}

int esp_build(const char *image, uint64_t offset, uint64_t size, uint32_t volid, uint64_t epoch,
	      const struct esp_file *files, size_t n, char **ret_error) {
	char volid_s[9], sector_s[32], kib_s[32], epoch_s[48];
	_cleanup_free_ char *stage = NULL, *target = NULL;
	char *env[] = { epoch_s, "MTOOLS_SKIP_CHECK=1", NULL };
	_cleanup_close_ int fd = -1;
	int r;

	*ret_error = NULL;
	if (offset % 512 || size % 1024)
		return -EINVAL;
	snprintf(volid_s, sizeof(volid_s), "%08X", volid);
	snprintf(sector_s, sizeof(sector_s), "--offset=%llu", (unsigned long long)(offset / 512));
	snprintf(kib_s, sizeof(kib_s), "%llu", (unsigned long long)(size / 1024));
	snprintf(epoch_s, sizeof(epoch_s), "SOURCE_DATE_EPOCH=%llu", (unsigned long long)epoch);
	if (asprintf(&target, "%s@@%llu", image, (unsigned long long)offset) < 0)
		return -ENOMEM;
	{
		/* one sector per cluster keeps a small ESP above FAT32's minimum cluster count */
		char *argv[] = { "mkfs.vfat", "-F", "32", "-S", "512", "-s", "1", "-i", volid_s, "-n", "ESP",
				 sector_s, (char *)image, kib_s, NULL };
		r = tool(argv, env, ret_error);
		if (r < 0)
			return r;
	}

	r = make_tmpdir("mlrig-esp", &stage);
	if (r < 0)
		return set_error(ret_error, r, "cannot create a directory in %s: %m", tmp_dir());
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *src = NULL, *dst = NULL;

		/* directories first, in order, so their entries are created deterministically */
		for (const char *p = files[i].path; (p = strchr(p, '/')); p++) {
			_cleanup_free_ char *dir = strndup(files[i].path, (size_t)(p - files[i].path)), *mdir = NULL;
			struct stat st;

			if (!dir || asprintf(&src, "%s/%s", stage, dir) < 0) {
				r = -ENOMEM;
				break;
			}
			if (stat(src, &st) == 0) {
				free(src), src = NULL;
				continue;
			}
			if (mkdir(src, 0755) < 0 || asprintf(&mdir, "::/%s", dir) < 0) {
				r = -errno;
				break;
			}
			free(src), src = NULL;
			char *argv[] = { "mmd", "-i", target, mdir, NULL };
			r = tool(argv, env, ret_error);
			if (r < 0)
				break;
		}
		if (r < 0)
			break;
		if (asprintf(&src, "%s/%s", stage, files[i].path) < 0 || asprintf(&dst, "::/%s", files[i].path) < 0) {
			r = -ENOMEM;
			break;
		}
		r = mkdirs_for(stage, files[i].path);
		if (r >= 0)
			r = write_file_atomic(src, files[i].data, files[i].size, 0644);
		if (r >= 0) {
			char *argv[] = { "mcopy", "-m", "-o", "-i", target, src, dst, NULL };
			r = tool(argv, env, ret_error);
		}
		unlink(src);
	}
	(void)rm_rf(stage);
	if (r < 0)
		return r;

	fd = open(image, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	return fat_pin_times(fd, offset, epoch);
}

/* --- FAT32 directory walk --- */

struct fat {
	int fd;
	uint64_t offset;
	uint32_t bytes_per_sector, cluster_bytes, fat_start, data_start, clusters;
	uint16_t dos_time, dos_date;
	unsigned depth;
};

static uint32_t le32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p) {
	return (uint16_t)(p[0] | p[1] << 8);
}

static int fat_next(struct fat *f, uint32_t cluster, uint32_t *ret) {
	uint8_t e[4];
	size_t got;
	int r;

	r = loop_pread(f->fd, e, 4, f->offset + f->fat_start + (uint64_t)cluster * 4, &got);
	if (r < 0)
		return r;
	if (got != 4)
		return -EIO;
	*ret = le32(e) & 0x0fffffff;
	return 0;
}

static int walk_dir(struct fat *f, uint32_t cluster) {
	_cleanup_free_ uint8_t *buf = malloc(f->cluster_bytes);
	unsigned guard = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	if (++f->depth > 32)
		return -ELOOP;
	while (cluster >= 2 && cluster < 0x0ffffff8) {
		uint64_t pos;
		size_t got;

		if (cluster - 2 >= f->clusters || ++guard > f->clusters)
			return -EUCLEAN;
		pos = f->offset + f->data_start + (uint64_t)(cluster - 2) * f->cluster_bytes;
		r = loop_pread(f->fd, buf, f->cluster_bytes, pos, &got);
		if (r < 0)
			return r;
		if (got != f->cluster_bytes)
			return -EIO;
		for (uint32_t o = 0; o < f->cluster_bytes; o += 32) {
			uint8_t *d = buf + o;

			if (d[0] == 0)
				goto write;
			if (d[0] == 0xE5 || d[11] == 0x0F) /* deleted, long name */
				continue;
			d[13] = 0;
			d[14] = d[22] = (uint8_t)f->dos_time, d[15] = d[23] = (uint8_t)(f->dos_time >> 8);
			d[16] = d[18] = d[24] = (uint8_t)f->dos_date;
			d[17] = d[19] = d[25] = (uint8_t)(f->dos_date >> 8);
			if ((d[11] & 0x10) && d[0] != '.') {
				uint32_t child = (uint32_t)le16(d + 20) << 16 | le16(d + 26);
				r = walk_dir(f, child);
				if (r < 0)
					return r;
			}
		}
	write:
		r = loop_pwrite(f->fd, buf, f->cluster_bytes, pos);
		if (r < 0)
			return r;
		r = fat_next(f, cluster, &cluster);
		if (r < 0)
			return r;
	}
	f->depth--;
	return 0;
}

int fat_pin_times(int fd, uint64_t offset, uint64_t epoch) {
	uint8_t bs[512];
	struct fat f = { .fd = fd, .offset = offset };
	uint32_t reserved, fats, fat_sectors, total;
	time_t t = (time_t)epoch;
	struct tm tm;
	size_t got;
	int r;

	r = loop_pread(fd, bs, sizeof(bs), offset, &got);
	if (r < 0)
		return r;
	if (got != sizeof(bs) || bs[510] != 0x55 || bs[511] != 0xAA || le16(bs + 22) != 0 /* FAT32 only */)
		return -EUCLEAN;
	f.bytes_per_sector = le16(bs + 11);
	f.cluster_bytes = f.bytes_per_sector * bs[13];
	reserved = le16(bs + 14);
	fats = bs[16];
	total = le32(bs + 32);
	fat_sectors = le32(bs + 36);
	if (f.cluster_bytes == 0 || fats == 0)
		return -EUCLEAN;
	f.fat_start = reserved * f.bytes_per_sector;
	f.data_start = (reserved + fats * fat_sectors) * f.bytes_per_sector;
	f.clusters = (total - reserved - fats * fat_sectors) / bs[13];

	/* FAT times are local by convention; an image has no zone, so use UTC. */
	if (!gmtime_r(&t, &tm) || tm.tm_year < 80)
		return -ERANGE;
	f.dos_date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
	f.dos_time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	r = walk_dir(&f, le32(bs + 44));
	if (r < 0)
		return r;
	return fsync(fd) < 0 ? negative_errno() : 0;
}
