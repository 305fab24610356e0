/* Stage jupyter: the token mlrig-jupyter.service reads (made once, 0600 in the
 * user's home), and a check that the Python the unit runs has the app, so a
 * rig without Jupyter says so at its first boot instead of a failing unit. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "jupyter.h"
#include "stages.h"

#define TOKEN_BYTES 24

static int make_token(struct agent *a, const char *path, uid_t uid, gid_t gid) {
	static const char hex[] = "0123456789abcdef";
	uint8_t random[TOKEN_BYTES];
	char token[2 * TOKEN_BYTES];
	ssize_t n;

	n = getrandom(random, sizeof(random), 0);
	if (n != (ssize_t)sizeof(random))
		return agent_fail(a, n < 0 ? -errno : -EIO, "getrandom() for the Jupyter token: %m");
	for (size_t i = 0; i < TOKEN_BYTES; i++) {
		token[2 * i] = hex[random[i] >> 4];
		token[2 * i + 1] = hex[random[i] & 15];
	}
	/* no newline: Jupyter takes JUPYTER_TOKEN_FILE's bytes as they are */
	return agent_write(a, path, token, sizeof(token), 0600, uid, gid);
}

/* ~/.local/share/mlrig: the user's, the last one private */
static int make_dirs(struct agent *a, uid_t uid, gid_t gid) {
	static const char *const dirs[] = { ".local", ".local/share", ".local/share/mlrig" };
	int r = 0;

	for (size_t i = 0; i < ELEMENTSOF(dirs) && r >= 0; i++) {
		_cleanup_free_ char *d = NULL;

		if (asprintf(&d, "home/%s/%s", a->p->user, dirs[i]) < 0)
			return -ENOMEM;
		r = agent_mkdir(a, d, i + 1 == ELEMENTSOF(dirs) ? 0700 : 0755, uid, gid);
		if (r < 0)
			return agent_fail(a, r, "cannot make /%s: %s", d, strerror(-r));
	}
	return 0;
}

/* Live: the user's Python imports the app. In a tree: the interpreter is there. */
static int check_python(struct agent *a, const char *python) {
	const char *module = jupyter_module(a->p);
	_cleanup_free_ char *code = NULL;

	if (!a->live)
		return agent_exists(a, python + 1) < 0 ? agent_fail(a, -ENOENT, "%s is missing", python) : 0;
	if (asprintf(&code, "import %s", module) < 0)
		return -ENOMEM;
	char *argv[] = { "runuser", "-u", a->p->user, "--", (char *)python, "-c", code, NULL };
	if (agent_run(a, "checking Jupyter", argv, NULL) < 0)
		return agent_fail(a, -ENOENT, "[Jupyter] Service=yes, but %s cannot import %s: %s", python, module,
				  jupyter_in_venv(a->p) ? "the venv's requirements did not install it"
				  : a->p->jupyter_app == JUPYTER_APP_LAB
					  ? "add jupyterlab to [Python] Requirements=, or App=notebook with Debian's python3-notebook"
					  : "add notebook to [Python] Requirements=, or install python3-notebook ([Packages] Install=)");
	return 0;
}

int stage_jupyter(struct agent *a) {
	_cleanup_free_ char *token = NULL, *python = NULL;
	const Profile *p = a->p;
	uid_t uid;
	gid_t gid;
	int r;

	if (!p->jupyter_service) {
		agent_note(a, "skipped: [Jupyter] Service=no");
		return 0;
	}
	if (agent_user_ids(a, &uid, &gid) < 0)
		return agent_fail(a, -ENOENT, "user %s does not exist (the user stage makes it)", p->user);
	if (jupyter_token_path(p, &token) < 0 || jupyter_python(p, &python) < 0)
		return -ENOMEM;
	r = check_python(a, python);
	if (r < 0)
		return r;
	r = make_dirs(a, uid, gid);
	if (r < 0)
		return r;
	if (agent_exists(a, token + 1) < 0) {
		r = make_token(a, token + 1, uid, gid);
		if (r < 0)
			return agent_fail(a, r, "cannot write %s: %s", token, strerror(-r));
	}
	agent_note(a, "Jupyter %s on 127.0.0.1:%u (%s -m %s), token in %s; mlrig-jupyter.service runs it",
		   jupyter_app_to_string(p->jupyter_app), p->jupyter_port, python, jupyter_module(p), token);
	return 0;
}
