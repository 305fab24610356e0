/* libarchive adapter: ARCHIVE_* status → -errno at the boundary, cleanup helpers, an opener for files. */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_write_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry *, archive_entry_free);

/* ARCHIVE_OK, ARCHIVE_WARN → 0; ARCHIVE_EOF → 0 (callers test EOF themselves);
 * ARCHIVE_RETRY/FAILED/FATAL → archive_errno() negated when it is a real errno, else -EBADMSG
 * (libarchive says "misc" for corrupt or truncated input). */
int archive_status_to_errno(struct archive *a, int status);

/* Opens path for reading with every compression filter and the tar formats. The fd is O_CLOEXEC and
 * owned by the archive (closed by archive_read_free()). ret_size gets the file's size for progress. */
int archive_open_tar_file(const char *path, size_t block_size, struct archive **ret, uint64_t *ret_size);
