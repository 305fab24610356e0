/* libfdisk adapter: cleanup helpers; library return codes become -errno here. */
#pragma once

#include <libfdisk.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_context *, fdisk_unref_context);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_partition *, fdisk_unref_partition);

/* libfdisk returns negative errno values already, but also -1 or positive
 * counts in places; normalise so callers only ever see -errno. */
static inline int fdisk_to_errno(int r) {
	if (r >= 0)
		return 0;
	return r == -1 ? -EIO : r;
}
