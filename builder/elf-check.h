/* Can this rootfs, or this Ubuntu release, run the agent? Reads the agent's ELF
 * needs (NEEDED libraries, GLIBC_x.y versions) and compares them with what the
 * rootfs ships, or with the glibc the release is known to have. */
#pragma once

#include <stddef.h>

#include "image-ext4.h"

struct elf_needs {
	char **libraries;   /* DT_NEEDED, strv */
	char **versions;    /* version names needed from any library, e.g. "GLIBC_2.28", strv */
};

int elf_read_needs(const void *data, size_t size, struct elf_needs *ret);
/* Version names a library defines (.gnu.version_d), strv. */
int elf_read_defines(const void *data, size_t size, char ***ret);
void elf_needs_release(struct elf_needs *n);

/* Compares "GLIBC_2.31" style names numerically; -1, 0, 1. */
int glibc_version_cmp(const char *a, const char *b);

/* Refuses (-ENOEXEC with a message saying what is missing and how to fix it)
 * when the rootfs in fs cannot run the agent binary at agent_path. */
int agent_check_rootfs(Ext4 *fs, const char *agent_path, char **ret_error);

/* The glibc version ("2.31") of an Ubuntu release ("20.04", "20.04.6"); a release
 * newer than the table's newest gets that one's. -EINVAL when release is not a
 * YY.MM number, -ENOENT when it is older than the table or not a release. */
int ubuntu_release_glibc(const char *release, const char **ret);

/* Refuses (-ENOEXEC with a message naming the version and how to fix it) when the
 * agent at agent_path needs a GLIBC_x.y newer than Ubuntu release's glibc; for an
 * installer medium, whose root file system cannot be looked into. */
int agent_check_release(const char *agent_path, const char *release, char **ret_error);
