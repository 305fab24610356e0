/* Stage grow-root: an image flashed to a bigger disk gets its root partition
 * and file system grown to the disk's end (sfdisk, partx, resize2fs online). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "parse-util.h"
#include "stages.h"

static int sysfs_u64(const char *dir, const char *name, uint64_t *ret) {
	_cleanup_free_ char *s = NULL, *path = NULL;
	int r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = read_full_file(path, &s, NULL);
	if (r < 0)
		return r;
	return safe_atou64(string_strip(s), ret);
}

int stage_grow_root(struct agent *a) {
	char link[64], part_sys[PATH_MAX], disk_sys[PATH_MAX], disk_dev[80], part_dev[80], nr[16];
	uint64_t start, size, disk_size, partno, spare;
	struct stat st;
	int r;

	if (!a->live) {
		agent_note(a, "skipped: not the running system");
		return 0;
	}
	if (stat("/", &st) < 0)
		return agent_fail(a, -errno, "cannot stat /: %m");
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	if (!realpath(link, part_sys) || sysfs_u64(part_sys, "partition", &partno) < 0) {
		agent_note(a, "skipped: the root file system is not on a partition");
		return 0;
	}
	snprintf(disk_sys, sizeof(disk_sys), "%s", part_sys);
	dirname(disk_sys);
	if ((r = sysfs_u64(part_sys, "start", &start)) < 0 || (r = sysfs_u64(part_sys, "size", &size)) < 0 ||
	    (r = sysfs_u64(disk_sys, "size", &disk_size)) < 0)
		return agent_fail(a, r, "cannot read the root partition's geometry under %s: %s", part_sys, strerror(-r));
	snprintf(disk_dev, sizeof(disk_dev), "/dev/%s", basename(disk_sys));
	snprintf(part_dev, sizeof(part_dev), "/dev/%s", basename(part_sys));
	snprintf(nr, sizeof(nr), "%llu", (unsigned long long)partno);

	/* sectors after the partition, less the backup GPT's 33 */
	spare = disk_size > start + size + 33 ? disk_size - start - size - 33 : 0;
	if (spare >= 16 * 2048) {
		char *relocate[] = { "sfdisk", "--relocate", "gpt-bak-std", disk_dev, NULL };
		char *grow[] = { "sfdisk", "--no-reread", "--no-tell-kernel", "-q", "-N", nr, disk_dev, NULL };
		char *tell[] = { "partx", "--update", "--nr", nr, disk_dev, NULL };

		if ((r = agent_run(a, "moving the backup GPT to the disk's end", relocate, NULL)) < 0 ||
		    (r = agent_run_input(a, "growing the root partition", grow, ", +\n", NULL)) < 0 ||
		    (r = agent_run(a, "telling the kernel the new partition size", tell, NULL)) < 0)
			return r;
		agent_note(a, "%s grown by %llu MiB", part_dev, (unsigned long long)(spare / 2048));
	} else
		agent_note(a, "%s already fills %s", part_dev, disk_dev);

	agent_test_hold(a, "grow-root");

	/* always: a cut after the partition grew leaves a file system still to grow */
	char *resize[] = { "resize2fs", part_dev, NULL };
	return agent_run(a, "growing the root file system", resize, NULL);
}
