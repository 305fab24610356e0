/* mlrig flash: write a disk image or hybrid ISO to a stick or disk, refusing any target that is in use. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flash-target.h"
#include "flash.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "progress.h"
#include "time-util.h"
#include "verbs.h"

static const char *arg_image;
static const char *arg_device;
static bool arg_yes;
static bool arg_force;
static bool arg_verify = true;
static bool arg_verify_only;
static bool arg_quiet;
static enum flash_holes arg_holes = FLASH_HOLES_AUTO;

static void help(void) {
	printf("Usage:\n"
	       " mlrig flash IMAGE DEVICE [--yes] [--force] [--no-verify] [--zero-holes|--no-zero-holes]\n"
	       " mlrig flash --verify-only [--zero-holes|--no-zero-holes] IMAGE DEVICE\n"
	       "\n"
	       "Write a disk image (mlrig image) or hybrid ISO (mlrig iso) to a USB stick or disk.\n"
	       "Only the image's data is written. Its holes are zeroed where the device zeroes\n"
	       "without being sent the zeros (NVMe, SCSI WRITE SAME, a loop device over a file);\n"
	       "elsewhere, as on USB sticks and SD cards, they are left as they were: the file\n"
	       "systems in an image never read them. The first MiB is cleared first and written\n"
	       "last, so an interrupted flash leaves nothing bootable, and the device's last MiB\n"
	       "past the image (an old backup GPT) is cleared. The device is then read back and\n"
	       "compared with the image: the data byte for byte, the first MiB whole, and the\n"
	       "holes against zeros where they were zeroed.\n"
	       "\n"
	       "Refused (exit 2) when DEVICE or a partition of it is mounted, used as swap, held by\n"
	       "LVM/RAID/dm, holds / or /boot or the image itself, or is smaller than the image.\n"
	       "\n"
	       "Options:\n"
	       " -y, --yes           do not ask for the device name on a terminal\n"
	       "     --force         allow a non-removable disk, or a regular file as DEVICE\n"
	       "     --no-verify     skip reading the device back\n"
	       "     --zero-holes    zero the holes on any device, so that it equals the image over\n"
	       "                     its whole span; with --verify-only, check the holes too\n"
	       "     --no-zero-holes never zero the holes, nor check them\n"
	       "     --verify-only   only read DEVICE back and compare it with IMAGE; writes nothing\n"
	       " -q, --quiet         no progress line, no summary\n"
	       " -h, --help          display this help\n");
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_FORCE = 0x100, ARG_NO_VERIFY, ARG_VERIFY_ONLY, ARG_ZERO_HOLES, ARG_NO_ZERO_HOLES };
	static const struct option options[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ "force", no_argument, NULL, ARG_FORCE },
		{ "no-verify", no_argument, NULL, ARG_NO_VERIFY },
		{ "verify-only", no_argument, NULL, ARG_VERIFY_ONLY },
		{ "zero-holes", no_argument, NULL, ARG_ZERO_HOLES },
		{ "no-zero-holes", no_argument, NULL, ARG_NO_ZERO_HOLES },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool zero = false, no_zero = false;
	int c, r;

	while ((c = getopt_long(argc, argv, ":yqh", options, NULL)) >= 0)
		switch (c) {
		case 'y': arg_yes = true; break;
		case ARG_FORCE: arg_force = true; break;
		case ARG_NO_VERIFY: arg_verify = false; break;
		case ARG_VERIFY_ONLY: arg_verify_only = true; break;
		case ARG_ZERO_HOLES: zero = true; break;
		case ARG_NO_ZERO_HOLES: no_zero = true; break;
		case 'q': arg_quiet = true; break;
		case 'h': help(); return 0;
		default: return cli_option_error("flash", c, argv);
		}
	r = cli_positional("flash", argc, argv, (const char *const[]){ "IMAGE", "DEVICE" }, 2, 2);
	if (r < 0)
		return r;
	if (arg_verify_only && !arg_verify)
		return cli_usage_error("flash", "--verify-only and --no-verify contradict each other");
	if (zero && no_zero)
		return cli_usage_error("flash", "--zero-holes and --no-zero-holes exclude each other");
	arg_holes = zero ? FLASH_HOLES_ZERO : no_zero ? FLASH_HOLES_KEEP : FLASH_HOLES_AUTO;
	arg_image = argv[optind];
	arg_device = argv[optind + 1];
	return 1;
}

/* On a terminal the user types the device's name, so a slip of the finger in the command line is caught. */
static int confirm(const struct flash_target *t) {
	const char *base = strrchr(t->path, '/') ? strrchr(t->path, '/') + 1 : t->path;
	char line[256];

	fprintf(stderr, "This overwrites everything on %s%s%s%s.\nType '%s' to continue: ", t->path,
		t->description ? " (" : "", t->description ? t->description : "", t->description ? ")" : "", base);
	if (!fgets(line, sizeof(line), stdin))
		return -ECANCELED;
	string_strip(line);
	if (strcmp(line, base) != 0 && strcmp(line, t->path) != 0)
		return -ECANCELED;
	return 0;
}

static int report_difference(const struct flash_stats *stats) {
	if (stats->wraps)
		return log_error_errno(EBADMSG,
				       "Verification failed: %s differs from %s at offset %" PRIu64 " (0x%" PRIx64 "), which "
				       "changed when the first MiB was written: the device holds less than it claims "
				       "(a fake-capacity stick). Use another one.",
				       arg_device, arg_image, stats->bad_offset, stats->bad_offset);
	return log_error_errno(EBADMSG, "Verification failed: %s differs from %s at offset %" PRIu64 " (0x%" PRIx64 ").",
			       arg_device, arg_image, stats->bad_offset, stats->bad_offset);
}

/* --verify-only: reads the device, never opens it for writing, so none of the refusals apply. */
static int verify_only(int image_fd, uint64_t image_size) {
	_cleanup_(flash_target_release) struct flash_target target = {};
	_cleanup_close_ int fd = open(arg_device, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *error = NULL;
	struct flash_options opts = { .quiet = arg_quiet, .holes = arg_holes };
	struct flash_stats stats = {};
	double start = now_seconds();
	int r;

	if (fd < 0)
		return cli_input_error_errno(errno, "Failed to open '%s': %m", arg_device);
	r = flash_target_describe(fd, arg_device, &target);
	if (r == -ENOTBLK)
		return cli_input_error("'%s' is neither a block device nor a regular file.", arg_device);
	if (r < 0)
		return log_error_errno(r, "Failed to get the size of '%s': %m", arg_device);
	if (target.size < image_size)
		return log_error_errno(EBADMSG, "Verification failed: %s is smaller than %s (%" PRIu64 " < %" PRIu64 " bytes).",
				       arg_device, arg_image, target.size, image_size);
	r = flash_verify(image_fd, fd, &target, &opts, &stats, &error);
	if (r == -EBADMSG)
		return report_difference(&stats);
	if (r < 0)
		return log_error_errno(r, "%s", error ?: strerror(-r));
	if (arg_quiet)
		return EXIT_OK;
	if (stats.zero_holes)
		printf("%s: the first %" PRIu64 " bytes match %s", arg_device, stats.span, arg_image);
	else
		printf("%s: the data ranges and the first MiB of %s match (holes not read; --zero-holes reads them)",
		       arg_device, arg_image);
	printf(", read back %.1f MiB in %.1f s\n", (double)stats.read / (double)MiB, now_seconds() - start);
	return EXIT_OK;
}

/* What was written and read, and what became of the holes: why the device took the time it did. */
static void print_summary(const struct flash_target *t, const struct flash_stats *s, double seconds) {
	printf("%s: wrote %.1f MiB (%.1f MiB of data), ", t->path, (double)s->written / (double)MiB,
	       (double)s->data / (double)MiB);
	if (s->zero_holes)
		printf("zeroed %.1f MiB of holes", (double)s->zeroed / (double)MiB);
	else
		printf("left %.1f MiB of holes as they were (%s)", (double)s->left / (double)MiB,
		       arg_holes == FLASH_HOLES_KEEP ? "--no-zero-holes"
						     : "the device zeroes only by being sent zeros; --zero-holes does that");
	if (s->verified)
		printf(", read back %.1f MiB and verified", (double)s->read / (double)MiB);
	else
		printf(", not verified");
	printf(", in %.1f s\n", seconds);
}

static int run(void) {
	_cleanup_(flash_target_release) struct flash_target target = {};
	_cleanup_free_ char *error = NULL;
	_cleanup_close_ int image_fd = -1, fd = -1;
	struct flash_options opts = { .verify = arg_verify, .quiet = arg_quiet, .holes = arg_holes };
	struct flash_stats stats;
	const char *delay = getenv("MLRIG_FLASH_TEST_DELAY");
	uint64_t image_size;
	struct stat st;
	double start;
	int r, flags;

	if (delay) {
		uint32_t ms;

		if (safe_atou32(delay, &ms) < 0)
			return cli_input_error("MLRIG_FLASH_TEST_DELAY=%s is not a number of milliseconds", delay);
		opts.test_delay_ms = ms;
	}

	image_fd = open(arg_image, O_RDONLY | O_CLOEXEC);
	if (image_fd < 0)
		return cli_input_error_errno(errno, "Failed to open image '%s': %m", arg_image);
	if (fstat(image_fd, &st) < 0)
		return log_error_errno(negative_errno(), "Failed to stat '%s': %m", arg_image);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(image_fd, BLKGETSIZE64, &image_size) < 0)
			return log_error_errno(negative_errno(), "Failed to get the size of '%s': %m", arg_image);
	} else if (S_ISREG(st.st_mode))
		image_size = (uint64_t)st.st_size;
	else
		return cli_input_error("'%s' is not a regular file or block device.", arg_image);
	if (image_size == 0)
		return cli_input_error("'%s' is empty.", arg_image);

	if (arg_verify_only)
		return verify_only(image_fd, image_size);

	r = flash_check_target(arg_image, image_size, arg_device, arg_force, &target, &error);
	if (r == -EPERM && error)
		return cli_input_error("Refusing to flash: %s.", error);
	if (r == -ENOENT || r == -EACCES)
		return cli_input_error_errno(r, "Failed to check '%s': %m", arg_device);
	if (r < 0)
		return log_error_errno(r, "Failed to check '%s': %m", arg_device);

	if (!arg_yes && isatty(STDIN_FILENO) && confirm(&target) < 0)
		return log_error_errno(ECANCELED, "Not confirmed; %s is untouched.", arg_device);

	/* O_EXCL on a block device fails while anything mounts or claims it, closing
	 * the window between the checks above and the first write */
	flags = O_RDWR | O_CLOEXEC | (target.block ? O_EXCL : 0);
	fd = open(arg_device, flags);
	if (fd < 0 && errno == EBUSY)
		return cli_input_error("Refusing to flash: %s is in use (mounted, or claimed by another program).",
				       arg_device);
	if (fd < 0)
		return log_error_errno(negative_errno(), "Failed to open '%s': %m", arg_device);

	start = now_seconds();
	r = flash_write(image_fd, fd, &target, &opts, &stats, &error);
	if (r == -EBADMSG)
		return report_difference(&stats);
	if (r < 0)
		return log_error_errno(r, "%s", error ?: strerror(-r));
	if (!arg_quiet)
		print_summary(&target, &stats, now_seconds() - start);
	return EXIT_OK;
}

const struct cli_verb verb_flash = { "flash", parse_argv, run };
