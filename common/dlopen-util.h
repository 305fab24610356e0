/* Loading an optional library at run time: the first of its names that loads,
 * every symbol the caller needs, and a message a user can act on when not.
 * The agent loads its optional libraries this way, so a rig without them still
 * boots and says what it skipped; the builder loads libcurl so. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct dlsym_entry {
	const char *name;
	void **ptr;    /* where the address goes, e.g. (void **)&lib.cuInit */
	bool optional; /* left NULL when missing, instead of failing */
};

/* Tries each of sonames (NULL-terminated) with dlopen(RTLD_NOW | RTLD_LOCAL),
 * then resolves syms. Returns 0 and the handle; -ELIBACC when no name loads
 * or a required symbol is missing, with *ret_error (may be NULL) naming the
 * library and the loader's reason ("libcuda.so.1: cannot open shared object
 * file: No such file or directory", "libfoo.so.1 has no symbol bar"). */
int dlopen_resolve(const char *const *sonames, const struct dlsym_entry *syms, size_t n_syms, void **ret_handle,
		   char **ret_error);
