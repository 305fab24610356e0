/* Stage python: the user's venv ([Python] Venv=), the requirements from the
 * image's wheelhouse with --no-index when one is shipped (else from the
 * index), and shell shortcuts: `venv` activates it, `jlab` starts JupyterLab. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs-util.h"
#include "managed-block.h"
#include "parse-util.h"
#include "stages.h"

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
	return lchown(path, chown_uid, chown_gid) < 0 ? -1 : 0;
}

int stage_python(struct agent *a) {
	_cleanup_free_ char *venv = NULL, *host_venv = NULL, *pip = NULL, *wheels = NULL,
			     *aliases = NULL, *old = NULL, *block = NULL, *ap = NULL, *rig_venv = NULL,
			     *marker = NULL;
	_cleanup_free_ char **argv = NULL;
	const Profile *p = a->p;
	bool have_wheels;
	uid_t uid;
	gid_t gid;
	size_t n = 0, nreq = 0;
	int r;

	if (!p->venv) {
		agent_note(a, "skipped: no [Python] Venv");
		return 0;
	}
	if (agent_user_ids(a, &uid, &gid) < 0)
		return agent_fail(a, -ENOENT, "user %s does not exist (the user stage makes it)", p->user);
	/* venv: "home/USER/x" relative to the root, "/home/USER/x" on the rig */
	if (profile_rig_path(p, p->venv, &rig_venv) < 0 || !(venv = strdup(rig_venv + 1)) ||
	    !(host_venv = agent_host_path(a, venv)) ||
	    asprintf(&pip, "%s/bin/pip", host_venv) < 0)
		return -ENOMEM;
	have_wheels = agent_exists(a, "usr/share/mlrig/wheelhouse") >= 0;
	if (!(wheels = agent_host_path(a, "usr/share/mlrig/wheelhouse")))
		return -ENOMEM;

	/* a venv counts only with its marker: a power cut can leave half of one */
	if (asprintf(&marker, "%s/.mlrig-venv-complete", venv) < 0)
		return -ENOMEM;
	if (agent_exists(a, marker) < 0) {
		char *live[] = { "runuser", "-u", p->user, "--", "python3", "-m", "venv", host_venv, NULL };
		char *tree[] = { "python3", "-m", "venv", host_venv, NULL };

		r = rm_rf_at(a->root_fd, venv);
		if (r < 0)
			return agent_fail(a, r, "cannot remove the partial venv /%s: %m", venv);
		r = agent_run(a, "creating the venv", a->live ? live : tree, NULL);
		if (r < 0)
			return r;
		if (syncfs(a->root_fd) < 0)
			return agent_fail(a, -errno, "syncfs after making the venv: %m");
		r = agent_write(a, marker, "", 0, 0644, uid, gid);
		if (r < 0)
			return agent_fail(a, r, "cannot write /%s: %s", marker, strerror(-r));
	}
	agent_test_hold(a, "python");

	for (char **q = p->requirements; q && *q; q++)
		nreq++;
	argv = calloc(nreq + 16, sizeof(char *));
	if (!argv)
		return -ENOMEM;
	if (a->live) {
		argv[n++] = "runuser";
		argv[n++] = "-u";
		argv[n++] = p->user;
		argv[n++] = "--";
	}
	argv[n++] = pip;
	argv[n++] = "install";
	argv[n++] = "--disable-pip-version-check";
	argv[n++] = "--no-cache-dir";
	argv[n++] = "--no-input";
	if (have_wheels) {
		argv[n++] = "--no-index";
		argv[n++] = "--find-links";
		argv[n++] = wheels;
	}
	for (char **q = p->requirements; q && *q; q++)
		argv[n++] = *q;
	if (nreq > 0) {
		r = agent_run(a, "pip install", argv, NULL);
		if (r < 0)
			return r;
	}
	if (!a->live) {
		/* in a tree the tools ran as us: hand the venv to the user */
		chown_uid = uid, chown_gid = gid;
		if (nftw(host_venv, chown_one, 32, FTW_PHYS) < 0)
			return agent_fail(a, -errno, "cannot chown %s: %m", host_venv);
	}

	if (asprintf(&block, "alias venv='. %s/bin/activate'\n"
			     "alias jlab='%s/bin/jupyter lab --no-browser --port=%u'\n",
		     rig_venv, rig_venv, p->jupyter_port) < 0 ||
	    asprintf(&ap, "home/%s/.bash_aliases", p->user) < 0)
		return -ENOMEM;
	(void)agent_read(a, ap, &old, NULL);
	r = managed_block(old, "#", block, &aliases);
	if (r < 0)
		return r;
	r = agent_write(a, ap, aliases, strlen(aliases), 0644, uid, gid);
	if (r < 0)
		return agent_fail(a, r, "cannot write /%s: %s", ap, strerror(-r));
	agent_note(a, "venv %s with %zu requirement%s%s; shortcuts venv and jlab (port %u)", rig_venv, nreq,
		   nreq == 1 ? "" : "s", have_wheels ? " from the wheelhouse" : "", p->jupyter_port);
	return 0;
}
