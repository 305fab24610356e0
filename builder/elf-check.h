/* Can this rootfs run the agent? Reads the agent's ELF needs (NEEDED libraries,
 * GLIBC_x.y versions) and compares them with what the rootfs ships. */
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
