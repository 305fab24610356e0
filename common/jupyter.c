/* Which Jupyter a rig runs, from the profile alone, so the unit the builder writes and the agent's check agree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jupyter.h"
#include "macro.h"

int jupyter_token_path(const Profile *p, char **ret) {
	return profile_rig_path(p, "~/" JUPYTER_TOKEN_FILE, ret);
}

bool jupyter_in_venv(const Profile *p) {
	if (!p->venv)
		return false;
	if (p->jupyter_app == JUPYTER_APP_LAB)
		return profile_requires(p, "jupyterlab");
	return profile_requires(p, "notebook") || profile_requires(p, "jupyter");
}

int jupyter_python(const Profile *p, char **ret) {
	_cleanup_free_ char *venv = NULL;
	char *s;
	int r;

	if (!jupyter_in_venv(p)) {
		s = strdup("/usr/bin/python3");
		if (!s)
			return -ENOMEM;
		*ret = s;
		return 0;
	}
	r = profile_rig_path(p, p->venv, &venv);
	if (r < 0)
		return r;
	if (asprintf(&s, "%s/bin/python", venv) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

const char *jupyter_module(const Profile *p) {
	return p->jupyter_app == JUPYTER_APP_LAB ? "jupyterlab" : "notebook";
}

const char *jupyter_page(const Profile *p) {
	return p->jupyter_app == JUPYTER_APP_LAB ? "lab" : "tree";
}
