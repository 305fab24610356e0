/* Making the root file system: mke2fs, run with its features pinned so old GRUB and e2fsck can read the result. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "image-ext4.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"

int ext4_create(const struct ext4_params *p, char **ret_error) {
	_cleanup_free_ char *blocks = NULL, *ratio = NULL, *ext = NULL, *env_sde = NULL, *env_fake = NULL;
	_cleanup_(process_result_release) struct process_result res = {};
	_cleanup_close_ int fd = -1;
	char uuid[37], seed[37], status[64];
	struct stat st;
	int r;

	if (!p->path || p->size < 1 * MiB || p->size % 4096 || p->offset % 512)
		return -EINVAL;
	if (p->label && strlen(p->label) > 16)
		return -EINVAL;

	/* a sparse file of the right size, so mke2fs neither guesses nor writes zeros; inside a disk image
	 * the rest of the file (the partition table) is left alone */
	fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | (p->offset == 0 ? O_TRUNC : 0), 0644);
	if (fd < 0)
		return set_error(ret_error, negative_errno(), "cannot create '%s': %m", p->path);
	if (fstat(fd, &st) < 0)
		return set_error(ret_error, negative_errno(), "cannot stat '%s': %m", p->path);
	if ((uint64_t) st.st_size < p->offset + p->size && ftruncate(fd, (off_t) (p->offset + p->size)) < 0)
		return set_error(ret_error, negative_errno(), "cannot size '%s': %m", p->path);

	uuid_format(p->uuid, uuid);
	uuid_format(p->hash_seed, seed);
	if (asprintf(&blocks, "%" PRIu64, p->size / 4096) < 0 ||
	    asprintf(&ratio, "%" PRIu64, p->inode_ratio ? p->inode_ratio : 16384) < 0 ||
	    asprintf(&ext, "hash_seed=%s,root_owner=0:0,offset=%" PRIu64, seed, p->offset) < 0 ||
	    asprintf(&env_sde, "SOURCE_DATE_EPOCH=%" PRIu64, p->source_date_epoch) < 0 ||
	    asprintf(&env_fake, "E2FSPROGS_FAKE_TIME=%" PRIu64, p->source_date_epoch) < 0)
		return -ENOMEM;

	char *argv[32];
	size_t a = 0;
	argv[a++] = "mke2fs";
	argv[a++] = "-q";
	argv[a++] = "-F";
	argv[a++] = "-t";
	argv[a++] = "ext4";
	argv[a++] = "-O";
	argv[a++] = "none,has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,"
		    "sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum";
	argv[a++] = "-b";
	argv[a++] = "4096";
	argv[a++] = "-I";
	argv[a++] = "256";
	argv[a++] = "-i";
	argv[a++] = ratio;
	argv[a++] = "-U";
	argv[a++] = uuid;
	argv[a++] = "-E";
	argv[a++] = ext;
	if (p->label && p->label[0]) {
		argv[a++] = "-L";
		argv[a++] = (char *) p->label;
	}
	/* mke2fs gets the file we made as its descriptor 3, not by name: were the name
	 * unlinked meanwhile (Ctrl-C removes the temp file), mke2fs would create it anew
	 * and leave it behind after we are gone. */
	argv[a++] = "/proc/self/fd/3";
	argv[a++] = blocks;
	argv[a] = NULL;

	/* the caller's environment, less what would change the file system */
	char *env_set[] = { env_sde, env_fake, NULL };
	static const char *const env_unset[] = { "MKE2FS_CONFIG", "MKE2FS_DEVICE_SECTSIZE", NULL };
	r = process_run(&(struct process_options){
				.argv = argv, .env_set = env_set, .env_unset = env_unset,
				.stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_TO_STDOUT,
				.pass_fds = &fd, .n_pass_fds = 1,
			}, &res);
	if (r < 0)
		return set_error(ret_error, r, "cannot run mke2fs: %m (install e2fsprogs)");
	if (r > 0)
		return set_error(ret_error, -EIO, "mke2fs %s: %s", process_status_to_string(r, status, sizeof(status)),
				 string_strip(res.out));
	return 0;
}
