/* libarchive adapter: ARCHIVE_* status → -errno at the boundary, cleanup helpers, an opener for files. */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_write_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry *, archive_entry_free);

/* ARCHIVE_OK, ARCHIVE_WARN → 0; ARCHIVE_EOF → 0 (callers test EOF themselves);
 * ARCHIVE_RETRY/FAILED/FATAL → archive_errno() negated when it is a real errno, else -EBADMSG
 * (libarchive says "misc" for corrupt or truncated input). */
int archive_status_to_errno(struct archive *a, int status);

/* What progress needs while reading: the file's size, and how far into it reading has got. */
struct archive_input {
	uint64_t size;
	int pos_fd;         /* shares its file offset with whoever reads the file */
	pid_t decompressor; /* an external xz, or 0 */
};

/* Opens path for reading with every compression filter and the tar formats. The fd is O_CLOEXEC and
 * owned by the archive (closed by archive_read_free()). An .xz file is decompressed by an external
 * `xz -dc -T0` when xz is installed (libarchive's xz reader is single-threaded, and decompression is
 * the bottleneck), unless MLRIG_XZ=internal. *ret_input stays valid until the archive is freed. */
int archive_open_tar_file(const char *path, size_t block_size, struct archive **ret,
			  const struct archive_input **ret_input);
/* Bytes of the file consumed so far (compressed bytes for compressed input). */
uint64_t archive_input_position(const struct archive_input *in);

/* The whole content of the member named name ("./var/lib/dpkg/status"; a leading "./" on
 * either side is ignored) of the tarball at path, NUL-terminated, at most max bytes; -ENOENT
 * when the tarball has no such regular file, -EFBIG when it is bigger. Reads the tarball up to
 * the member, decompressing as archive_open_tar_file() does. */
int archive_read_member(const char *path, const char *name, size_t max, char **ret, size_t *ret_size);

/* Decompresses data (gzip, xz, zstd, ... whatever libarchive's filters know; plain data passes
 * through) into a NUL-terminated buffer of at most max bytes; -EFBIG beyond, -EBADMSG when corrupt. */
int archive_decompress_memory(const void *data, size_t size, size_t max, char **ret, size_t *ret_size);
