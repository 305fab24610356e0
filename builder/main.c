/* mlrig: the builder's command line; dispatches to one verb per subcommand. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "verbs.h"

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
} verbs[] = {
	{ "check", verb_check },
	{ "image", verb_image },
	{ "inspect", verb_inspect },
	{ "boot", verb_boot },
	{ "flash", verb_flash },
	{ "fetch", verb_fetch },
	{ "iso", verb_iso },
};

int usage_error(const char *fmt, ...) {
	va_list ap;

	fputs("mlrig: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mlrig --help'.\n", stderr);
	return EXIT_USAGE;
}

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
	       "\n"
	       "Options:\n"
	       " -v, --verbose   debug output\n"
	       " -h, --help      display this help\n"
	       " -V, --version   display version\n"
	       "\n"
	       "Each command takes --help. Exit status: 0 ok, 1 failure, 2 usage or bad input.\n"
	       "See mlrig(1), docs/profile.md and docs/firstboot.md.\n");
}

int main(int argc, char **argv) {
	int i = 1;

	log_set_prefix("mlrig");
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			help();
			return EXIT_OK;
		}
		if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("mlrig %s\n", MLRIG_VERSION);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			log_set_max_level(LOG_LEVEL_DEBUG);
			continue;
		}
		return usage_error("unrecognized option '%s'", argv[i]);
	}
	if (i >= argc)
		return usage_error("no command given");
	for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (strcmp(argv[i], verbs[v].name) == 0) {
			optind = 0; /* each verb runs getopt afresh */
			return verbs[v].run(argc - i, argv + i);
		}
	return usage_error("unknown command '%s'", argv[i]);
}
