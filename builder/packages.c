/* The rig's offline repository: [Packages] Debs= read, Install= resolved against the rootfs, misses named with their chains. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "macro.h"
#include "packages.h"
#include "parse-util.h"

void packages_plan_release(struct packages_plan *pl) {
	deb_repo_release(&pl->repo);
	deb_resolution_release(&pl->res);
	free(pl->packages);
	*pl = (struct packages_plan){};
}

int packages_plan_make(const Profile *p, char *const *names, const char *status, size_t status_size,
		       const char *status_origin, bool status_is_pool, struct packages_plan *ret, char **ret_warnings,
		       char **ret_error) {
	_cleanup_(packages_plan_release) struct packages_plan pl = {};
	_cleanup_free_ struct deb_package *chosen = NULL;
	_cleanup_free_ char *misses = NULL;
	size_t n_names = 0;
	int r;

	while (names && names[n_names])
		n_names++;
	if (n_names == 0) {
		*ret = (struct packages_plan){};
		return 0;
	}
	if (p->debs) {
		r = deb_repo_build(p->debs, &pl.repo, ret_error);
		if (r < 0)
			return prefix_error(ret_error, r, "%s: [Packages] Debs=%s", p->path, p->debs);
	}
	r = deb_resolve(&(struct deb_resolve_input){
				.status = status, .status_size = status_size, .status_origin = status_origin,
				.debs = pl.repo.debs, .n_debs = pl.repo.n_debs, .names = names, .n_names = n_names,
			}, &pl.res, ret_error);
	if (r < 0)
		return prefix_error(ret_error, r, "%s: [Packages]", p->path);
	if (pl.res.n_missing > 0) {
		misses = strv_join(pl.res.missing, pl.res.n_missing, "\n");
		if (!misses)
			return -ENOMEM;
		if (!status_is_pool)
			return set_error(ret_error, -EINVAL, "%s: [Packages] Install= cannot be installed:\n%s", p->path,
					 misses);
		if (ret_warnings)
			*ret_warnings = TAKE_PTR(misses);
	}
	/* the repository carries what the closure chose, nothing else */
	if (pl.res.n_install > 0) {
		chosen = calloc(pl.res.n_install, sizeof(*chosen));
		if (!chosen)
			return -ENOMEM;
		for (size_t i = 0; i < pl.res.n_install; i++)
			chosen[i] = pl.repo.debs[pl.res.install[i]]; /* borrowed: the format only reads */
		r = deb_packages_format(chosen, pl.res.n_install, &pl.packages, &pl.packages_size);
		if (r < 0)
			return r;
	}
	pl.have_repo = pl.res.n_install > 0;
	*ret = pl;
	pl = (struct packages_plan){};
	return 0;
}

int packages_pool_as_status(const char *index, char **ret) {
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	bool line_start = true;

	if (!f)
		return -ENOMEM;
	/* a Packages index is dpkg status without Status: lines; the pool counts as installable */
	for (const char *c = index ? index : ""; *c; c++) {
		if (line_start && strncasecmp(c, "Package:", 8) == 0)
			fputs("Status: install ok installed\n", f);
		fputc(*c, f);
		line_start = *c == '\n';
	}
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret = text;
	return 0;
}

bool packages_plan_installs(const struct packages_plan *pl, const char *name) {
	for (size_t i = 0; i < pl->res.n_install; i++)
		if (strcasecmp(pl->repo.debs[pl->res.install[i]].name, name) == 0)
			return true;
	return false;
}
