/* Image hygiene: what a built image must not carry over from the rootfs tarball's build machine. */
#pragma once

#include <stdbool.h>

enum hygiene_action {
	HYGIENE_KEEP,
	HYGIENE_SKIP,            /* drop the entry */
	HYGIENE_MACHINE_ID,      /* write "uninitialized\n", 0444: systemd treats the first boot as first boot */
};

/* What to do with the tarball entry at path (normalized: no "./", no leading '/'). Directories are always
 * kept; is_regular is true for regular files and hard links, which some rules are limited to. Says which
 * rule matched, and why, at debug level. */
enum hygiene_action hygiene_classify(const char *path, bool is_dir, bool is_regular);
