/* dlopen() with a list of names and a table of symbols, errors as -ELIBACC and a message. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dlopen-util.h"
#include "error.h"
#include "log.h"

int dlopen_resolve(const char *const *sonames, const struct dlsym_entry *syms, size_t n_syms, void **ret_handle,
		   char **ret_error) {
	const char *first_error = NULL, *name = NULL;
	char *saved = NULL;
	void *h = NULL;
	int r;

	for (size_t i = 0; sonames[i] && !h; i++) {
		h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
		if (h)
			name = sonames[i];
		else if (!first_error && (first_error = dlerror()))
			saved = strdup(first_error); /* the next dlopen() overwrites dlerror()'s text */
	}
	if (!h) {
		r = set_error(ret_error, -ELIBACC, "%s", saved ? saved : sonames[0]);
		free(saved);
		return log_debug_errno(r, "Failed to load %s", sonames[0]);
	}
	free(saved);
	for (size_t i = 0; i < n_syms; i++) {
		*syms[i].ptr = dlsym(h, syms[i].name);
		if (!*syms[i].ptr && !syms[i].optional) {
			r = set_error(ret_error, -ELIBACC, "%s has no symbol %s (too old a version?)", name, syms[i].name);
			dlclose(h);
			return r;
		}
	}
	log_debug("Loaded %s", name);
	*ret_handle = h;
	return 0;
}
