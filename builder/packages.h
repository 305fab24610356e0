/* What a rig installs on its first boot from its own repository: [Packages]
 * Install= (and what the GPU payload adds), checked against the rootfs and
 * the given .debs before anything is written. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "deb-repo.h"
#include "deb-resolve.h"
#include "profile.h"

struct packages_plan {
	struct deb_repo repo;        /* every .deb of [Packages] Debs= */
	struct deb_resolution res;   /* res.install: the .debs the rig's repository carries */
	char *packages;              /* the Packages index of just those */
	size_t packages_size;
	bool have_repo;              /* there is something to install from it */
};

/* Resolves names (NULL-terminated; usually p->install) against status (the rootfs's dpkg
 * status, or for an ISO the medium's pool index: then status_is_pool) and p->debs.
 * Returns 0, or -EINVAL with *ret_error listing every miss on its own line, each naming its
 * chain. With status_is_pool a miss is no error: the lines come back in *ret_warnings (the
 * installed system's package set is not known when an ISO is built). */
int packages_plan_make(const Profile *p, char *const *names, const char *status, size_t status_size,
		       const char *status_origin, bool status_is_pool, struct packages_plan *ret, char **ret_warnings,
		       char **ret_error);
void packages_plan_release(struct packages_plan *pl);

/* An install medium's pool index (Packages) as a dpkg status text, every package counted as
 * installable, for packages_plan_make(..., status_is_pool=true). */
int packages_pool_as_status(const char *index, char **ret);
/* Whether the plan's repository carries the package called name (the rig installs it, not the installer). */
bool packages_plan_installs(const struct packages_plan *pl, const char *name);
