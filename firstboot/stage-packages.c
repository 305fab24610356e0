/* Stage packages: [Packages] Install= with apt from the rig's own repository, offline;
 * a power cut mid-install is repaired on the next boot before apt runs again. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apt.h"
#include "stages.h"

int stage_packages(struct agent *a) {
	const Profile *p = a->p;
	size_t n = 0;
	int r;

	for (char **q = p->install; q && *q; q++)
		n++;
	if (n == 0) {
		agent_note(a, "skipped: no [Packages] Install=");
		return 0;
	}
	if (!a->live) {
		agent_note(a, "skipped: apt installs on the running rig only (%zu package%s asked for)", n, n == 1 ? "" : "s");
		return 0;
	}
	agent_test_hold(a, "packages");
	r = agent_apt_install(a, p->install, NULL, p->debconf);
	if (r < 0)
		return r;
	agent_note(a, "%zu package%s installed or already there, from " APT_REPO_DIR, n, n == 1 ? "" : "s");
	return 0;
}
