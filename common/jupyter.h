/* The Jupyter service's facts that the builder (the unit, the laptop's
 * shortcuts) and the agent (the token, the check) must agree on. */
#pragma once

#include <stdbool.h>

#include "profile.h"

/* The token, in the user's home on the rig (0600, no newline: Jupyter reads
 * JUPYTER_TOKEN_FILE as it is). */
#define JUPYTER_TOKEN_FILE ".local/share/mlrig/jupyter-token"

/* The token file's absolute path on the rig. */
int jupyter_token_path(const Profile *p, char **ret);
/* Whether the venv has the app: Requirements= installs it there. */
bool jupyter_in_venv(const Profile *p);
/* The Python that runs the service: the venv's when it has the app, else the
 * system's /usr/bin/python3 (e.g. Debian's and Ubuntu's python3-notebook). */
int jupyter_python(const Profile *p, char **ret);
/* What 'python -m' runs: "jupyterlab" or "notebook". */
const char *jupyter_module(const Profile *p);
/* The page a URL opens: "lab" or "tree". */
const char *jupyter_page(const Profile *p);
