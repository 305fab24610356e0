/* Whether a tarball entry may be unpacked under a prefix: the rules the
 * builder checks a cuDNN tarball with and the agent unpacks it by, so what was
 * accepted at build time is what the rig writes. No libarchive types: the agent
 * loads libarchive at run time. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* The entry's kind, from its mode's S_IFMT bits. */
enum tar_kind {
	TAR_FILE,
	TAR_DIR,
	TAR_SYMLINK,
	TAR_HARDLINK, /* a regular file with a hardlink target */
};

/* Checks one entry: path (as stored; a leading "./" is fine), mode (type and
 * permission bits), symlink (its target, or NULL), hardlink (its target, or NULL).
 * Refused, -EPERM with *ret_reason saying why: an absolute path, a ".." component,
 * a device node, FIFO or socket, setuid/setgid bits, a symlink whose target
 * leaves the tree the entry's first component roots (absolute, or too many ".."),
 * a hardlink to a path that is itself refused. On success *ret_kind and, when
 * ret_path is given, the path without "./" prefixes or repeated '/' (allocated;
 * "" for the top "./"). */
int tar_entry_check(const char *path, mode_t mode, const char *symlink, const char *hardlink,
		    enum tar_kind *ret_kind, char **ret_path, char **ret_reason);
