/* mlrig: the builder's command line; global options, then one verb per subcommand. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "log.h"
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
	       " check -p PROFILE             validate a profile and print security warnings\n"
	       " image -p PROFILE --rootfs TARBALL -o OUT.img [--size SIZE] [--seed UUID]\n"
	       "                              build a bootable GPT disk image, rootless\n"
	       " iso -p PROFILE --base BASE.iso -o OUT.iso\n"
	       "                              customise an Ubuntu ISO for an unattended install\n"
	       " inspect FILE|DEVICE [--json] show partitions, file systems and the manifest\n"
	       " boot IMAGE [--expect TEXT] [--ssh KEYFILE] [--user NAME] [--forward H:G]...\n"
	       "            [--timeout SECONDS] [--log FILE] [--cdrom] [--bios] [--writable]\n"
	       "                              boot an image in QEMU, headless, with checks\n"
	       " flash IMAGE DEVICE [--yes] [--force] [--no-verify | --verify-only]\n"
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
	       " -V, --version   display version\n"
	       "\n"
	       "Each command takes --help. Exit status: 0 ok, 1 failure, 2 usage or bad input.\n"
	       "See mlrig(1), docs/profile.md and docs/firstboot.md.\n");
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
			printf("mlrig %s\n", MLRIG_VERSION);
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
