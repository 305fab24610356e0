/* mlrig: the builder's command line; global options, then one verb per subcommand. */
#include <archive.h>
#include <blkid/blkid.h>
#include <ext2fs/ext2fs.h>
#include <getopt.h>
#include <libfdisk/libfdisk.h>
#include <libisofs/libisofs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "curl-util.h"
#include "log.h"
#include "macro.h"
#include "verbs.h"

static const struct cli_verb *const verbs[] = {
	&verb_check, &verb_image, &verb_inspect, &verb_boot, &verb_flash, &verb_fetch, &verb_iso,
	&verb_wake, &verb_client,
};

static void help(void) {
	printf("Usage:\n"
	       " mlrig [--verbose] COMMAND [options]\n"
	       "\n"
	       "Build, test and install a personal GPU server for machine learning.\n"
	       "\n"
	       "Commands:\n"
	       " check -p PROFILE [--rootfs TARBALL] [--strict]\n"
	       "                              validate a profile and print security warnings\n"
	       " image -p PROFILE --rootfs TARBALL -o OUT.img [--size SIZE] [--seed UUID]\n"
	       "                              build a bootable GPT disk image, rootless\n"
	       " iso -p PROFILE --base BASE.iso -o OUT.iso\n"
	       "                              customise an Ubuntu ISO for an unattended install\n"
	       " inspect FILE|DEVICE [--json] show partitions, file systems and the manifest\n"
	       " boot IMAGE [--expect TEXT] [--ssh KEYFILE] [--user NAME] [--forward H:G]...\n"
	       "            [--timeout SECONDS] [--log FILE] [--cdrom] [--bios] [--writable]\n"
	       "            [--disk FILE] [--efivars FILE] [--secure-boot]\n"
	       "                              boot an image in QEMU, headless, with checks\n"
	       " flash IMAGE DEVICE [--yes] [--force] [--no-verify | --verify-only]\n"
	       "            [--zero-holes | --no-zero-holes]\n"
	       "                              write an image or ISO to a disk, verified\n"
	       " fetch URL|NAME [-o DIR] [--sha256 HEX | --sums URL]\n"
	       "                              download Ubuntu media, resumable, verified\n"
	       " wake MAC|PROFILE [--host HOST] [--port PORT] [--broadcast ADDR] [--password HEX]\n"
	       "                              send the rig a Wake-on-LAN magic packet\n"
	       " client -p PROFILE [--install] [--address HOST] [--port PORT] [--identity FILE]\n"
	       "                              the laptop's ssh config entry (tunnel to Jupyter) and\n"
	       "                              shell shortcuts (wake, SSHFS mount, Jupyter URL)\n"
	       "\n"
	       "Options:\n"
	       " -v, --verbose   debug output\n"
	       " -h, --help      display this help\n"
	       " -V, --version   display the version and those of the libraries in use\n"
	       "\n"
	       "Each command takes --help. Exit status: 0 ok, 1 failure, 2 usage or bad input.\n"
	       "See mlrig(1), mlrig-COMMAND(1), mlrig-profile(5), mlrig-firstboot(8).\n");
}

/* Like mkfs and curl: the versions of the libraries this binary runs with, so
 * a report says which libarchive or libext2fs behaved so. */
static void version(void) {
	_cleanup_free_ char *curl = NULL, *curl_error = NULL;
	const char *archive = archive_version_string(), *details = archive_version_details(), *v, *date;
	size_t n = strlen(archive);
	int major, minor, micro;

	printf("mlrig %s\n", MLRIG_VERSION);
	/* the details are "libarchive 3.6.2 zlib/1.2.13 liblzma/5.4.1 ...": the same, then its codecs */
	if (strncmp(details, archive, n) == 0 && details[n] == ' ')
		printf("%s (%s)\n", archive, details + n + 1);
	else
		printf("%s\n", archive);
	ext2fs_get_library_version(&v, &date);
	printf("libext2fs %s (%s)\n", v, date);
	fdisk_get_library_version(&v);
	printf("libfdisk %s\n", v);
	blkid_get_library_version(&v, &date);
	printf("libblkid %s (%s)\n", v, date);
	iso_lib_version(&major, &minor, &micro);
	printf("libisofs %d.%d.%d\n", major, minor, micro);
	/* loaded only for fetch: its absence is worth a line, not a failure */
	if (curl_util_version(&curl, &curl_error) >= 0)
		printf("libcurl %s\n", curl);
	else
		printf("libcurl not loadable (%s); mlrig fetch needs it\n", curl_error ? curl_error : "unknown reason");
}

/* The options before the command; <0 usage error, 0 done, >0 go on. */
static int parse_argv(int argc, char **argv) {
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "+:hVv", options, NULL)) >= 0)
		switch (c) {
		case 'h':
			help();
			return 0;
		case 'V':
			version();
			return 0;
		case 'v':
			log_set_max_level(LOG_LEVEL_DEBUG);
			break;
		default:
			return cli_option_error(NULL, c, argv);
		}
	if (optind >= argc)
		return cli_usage_error(NULL, "no command given");
	return 1;
}

int main(int argc, char **argv) {
	int r;

	cli_init("mlrig");
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	return cli_dispatch(verbs, ELEMENTSOF(verbs), argc - optind, argv + optind);
}
