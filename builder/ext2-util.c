/* libext2fs adapter: maps the library's errcode_t values to -errno. */
#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2_err.h>

#include "ext2-util.h"
#include "log.h"

static int map_errcode(errcode_t e) {
	/* unix_io and the allocator report plain errno values (EIO, ENOMEM, ENOSPC) as they are */
	if (e > 0 && e < 4096)
		return -(int) e;

	switch (e) {
	case EXT2_ET_NO_MEMORY:
	case EXT2_ET_TDB_ERR_OOM:
		return -ENOMEM;
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_DIR_NO_SPACE:
	case EXT2_ET_TOOSMALL:
	case EXT2_ET_EA_NO_SPACE:
	case EXT2_ET_EXTENT_NO_SPACE:
	case EXT2_ET_DIR_NO_SPACE_FOR_CSUM:
	case EXT2_ET_INLINE_DATA_NO_SPACE:
		return -ENOSPC;
	case EXT2_ET_FILE_NOT_FOUND:
	case EXT2_ET_EA_KEY_NOT_FOUND:
		return -ENOENT;
	case EXT2_ET_FILE_EXISTS:
	case EXT2_ET_DIR_EXISTS:
		return -EEXIST;
	case EXT2_ET_NO_DIRECTORY:
		return -ENOTDIR;
	case EXT2_ET_SYMLINK_LOOP:
		return -ELOOP;
	case EXT2_ET_RO_FILSYS:
	case EXT2_ET_FILE_RO:
		return -EROFS;
	case EXT2_ET_FILE_TOO_BIG:
		return -EFBIG;
	case EXT2_ET_TOO_MANY_REFS:
		return -EMLINK;
	case EXT2_ET_INVALID_ARGUMENT:
	case EXT2_ET_EA_BAD_NAME_LEN:
	case EXT2_ET_EA_BAD_VALUE_SIZE:
		return -EINVAL;
	case EXT2_ET_UNIMPLEMENTED:
	case EXT2_ET_OP_NOT_SUPPORTED:
	case EXT2_ET_UNSUPP_FEATURE:
	case EXT2_ET_RO_UNSUPP_FEATURE:
	case EXT2_ET_MISSING_EA_FEATURE:
		return -EOPNOTSUPP;
	case EXT2_ET_BAD_MAGIC:
	case EXT2_ET_SB_CSUM_INVALID:
	case EXT2_ET_CORRUPT_SUPERBLOCK:
	case EXT2_ET_DIR_CORRUPTED:
	case EXT2_ET_INODE_CSUM_INVALID:
	case EXT2_ET_DIR_CSUM_INVALID:
	case EXT2_ET_EXTENT_CSUM_INVALID:
	case EXT2_ET_EXTENT_HEADER_BAD:
	case EXT2_ET_FILESYSTEM_CORRUPTED:
	case EXT2_ET_INODE_CORRUPTED:
	case EXT2_ET_BAD_EA_HEADER:
		return -EUCLEAN;
	default:
		return -EIO;
	}
}

int ext2_errno(errcode_t e, const char *what) {
	int r;

	if (e == 0)
		return 0;
	r = map_errcode(e);
	log_debug("%s: %s (%ld)", what, error_message(e), (long) e);
	return r;
}
