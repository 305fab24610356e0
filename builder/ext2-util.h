/* libext2fs adapter: errcode_t → -errno at the boundary, so library codes never leak up. */
#pragma once

#include <ext2fs/ext2fs.h>

#include "macro.h"

/* 0 for 0; system errnos pass through negated; EXT2_ET_* map to the nearest errno (-EIO otherwise).
 * Logs the library's own message at debug level, naming what failed. */
int ext2_errno(errcode_t e, const char *what);

static inline void ext2fs_xattrs_closep(struct ext2_xattr_handle **h) {
	if (*h)
		(void) ext2fs_xattrs_close(h);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ext2_extent_handle_t, ext2fs_extent_free);
