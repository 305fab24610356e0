/* What installing some packages needs from a set of .debs on top of a rootfs, and every relation nothing satisfies. */
#pragma once

#include <stddef.h>

#include "deb-file.h"

struct deb_resolve_input {
	const char *status;             /* the rootfs's /var/lib/dpkg/status; NULL for an empty rootfs */
	size_t status_size;
	const char *status_origin;      /* how its messages name it: "var/lib/dpkg/status" when NULL */
	const struct deb_package *debs; /* what may be installed ([Packages] Debs=) */
	size_t n_debs;
	char *const *names;             /* what is asked for, in order */
	size_t n_names;
	const char *debs_label;         /* how messages name the debs: "[Packages] Debs=" when NULL */
};

struct deb_resolution {
	size_t *install;  /* indexes into the input's debs: what must be installed, sorted by name */
	size_t n_install;
	char **missing;   /* one line per relation nothing satisfies, in the order found */
	size_t n_missing;
};

/* Follows Pre-Depends and Depends from the names asked for, as apt does with
 * --no-install-recommends (Recommends and Suggests are not followed; Conflicts and Breaks are not
 * checked): a group is needed only when no package installed in the rootfs and nothing chosen so
 * far satisfies any of its alternatives; then the first alternative some .deb satisfies is chosen
 * (a real package of the highest version first, then one that Provides it, by name). A name asked
 * for takes its .deb when the rootfs has it at a lower version or not at all. Arch qualifiers are
 * dpkg's: none or ":native" (amd64, all, or Multi-Arch: foreign), ":any" (Multi-Arch: allowed),
 * ":ARCH". The chosen set is checked once more at the end, as a chosen .deb may replace a rootfs
 * package something relied on.
 * A miss is a result, not an error: each line says the chain that needs it, e.g.
 *   sshfs: Depends fuse3: Depends libfuse3-3 (= 3.10.3-2): not in the rootfs nor in [Packages] Debs=
 *   htop: not in the rootfs nor in [Packages] Debs=
 *   tmux: Depends libevent-2.1-7 (>= 2.1.8): the rootfs has libevent-2.1-7 2.1.7-1; [Packages] Debs= has none
 * Returns 0 (misses or not), -EINVAL for an invalid name asked for or a status text that does not
 * parse (message in *ret_error), -ENOMEM. */
int deb_resolve(const struct deb_resolve_input *in, struct deb_resolution *ret, char **ret_error);

void deb_resolution_release(struct deb_resolution *r);
