/* The tarball -> ext4 streamer: the input is a tarball (any compression libarchive detects),
 * streamed into a fresh 8 MiB file system each time (the mke2fs image is made once and its
 * non-zero blocks written back). With FUZZ_E2FSCK=1 (the replay in make check), every image a
 * stream finished is checked with e2fsck -fn: a tarball it accepted must leave a clean fs. */
#include <spawn.h>
#include <sys/wait.h>

#include "fuzz.h"
#include "image-ext4.h"

#define FS_SIZE (8u << 20)
#define BLOCK 4096u
#define EPOCH 1700000000

extern char **environ;

static uint8_t *tmpl;
static char img[4096];

static void setup(void) {
	struct ext4_params p = { .size = FS_SIZE, .uuid = { 1, 2, 3, 4, 5, 6, 0x47, 8, 0x89 },
				 .hash_seed = { 9, 9, 9, 9, 9, 9, 0x49, 9, 0x89 }, .source_date_epoch = EPOCH };
	int fd;

	if (tmpl)
		return;
	fuzz_write("fs.img", "", 0, img, sizeof(img));
	p.path = img;
	if (ext4_create(&p, NULL) < 0)
		abort();
	tmpl = malloc(FS_SIZE);
	fd = open(img, O_RDONLY | O_CLOEXEC);
	if (!tmpl || fd < 0 || pread(fd, tmpl, FS_SIZE, 0) != (ssize_t)FS_SIZE)
		abort();
	close(fd);
}

static void reset_image(void) {
	static const uint8_t zero[BLOCK];
	int fd = open(img, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0 || ftruncate(fd, FS_SIZE) < 0)
		abort();
	for (size_t off = 0; off < FS_SIZE; off += BLOCK)
		if (memcmp(tmpl + off, zero, BLOCK) != 0 && pwrite(fd, tmpl + off, BLOCK, (off_t)off) != BLOCK)
			abort();
	close(fd);
}

static void e2fsck(void) {
	char *argv[] = { "e2fsck", "-fn", img, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&pid, "e2fsck", &fa, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) != pid)
		abort();
	posix_spawn_file_actions_destroy(&fa);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "e2fsck -fn finds the image the stream left broken (exit %d)\n", WEXITSTATUS(status));
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char tar[4096], *error = NULL;
	struct ext4_stream_stats stats;
	Ext4 *fs = NULL;
	int r;

	setup();
	reset_image();
	fuzz_write("in.tar", data, size, tar, sizeof(tar));
	if (ext4_open(img, 0, EPOCH, &fs) < 0)
		abort();
	r = ext4_stream_tarball(fs, tar, NULL, NULL, &stats, &error);
	if (r < 0 && !error)
		abort(); /* every failure says why */
	free(error);
	if (r < 0) {
		ext4_free(fs);
		return 0;
	}
	if (ext4_close(fs) < 0)
		abort();
	if (getenv("FUZZ_E2FSCK"))
		e2fsck();
	return 0;
}
