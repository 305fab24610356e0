/* One .deb file: its ar members, its control stanza, and what the rig can install (amd64, all). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "deb-control.h"
#include "hash-util.h"

struct deb_package {
	char *path;                /* as given */
	const char *name;          /* Package, Version, Architecture: views into control */
	const char *version;
	const char *arch;
	uint64_t size;             /* of the file */
	char sha256[HASH_HEX_MAX]; /* of the file, lower-case hex */
	struct deb_stanza control; /* ./control of its control.tar member */
};

/* Reads path's ar container (debian-binary "2.x" first, then control.tar, control.tar.gz, .xz or
 * .zst, then data.tar.*; members starting with '_' are skipped, as dpkg does), its ./control, and
 * hashes the file. Refuses, with a message naming path: not an ar archive, not a .deb, no control
 * member, a compression other than none/gzip/xz/zstd, a control member that does not decompress
 * or holds no ./control, no Package/Version/Architecture, an invalid name or version, an
 * Architecture other than amd64 or all, unparsable Depends/Pre-Depends/Provides.
 * -EINVAL for all these; -EBADMSG for a truncated or corrupt member; -errno from open/read. */
int deb_file_read(const char *path, struct deb_package *ret, char **ret_error);

void deb_package_release(struct deb_package *p);

/* Whether the rig can install a package of this Architecture: "amd64" or "all". */
bool deb_arch_is_installable(const char *arch);
