/* Installing packages on the rig with apt, from its offline repositories alone. */
#pragma once

#include "agent.h"

/* The flat repository mlrig lays into every rig that has [Packages] Debs=. */
#define APT_REPO_DIR AGENT_STATE_DIR "/repo"

/* Installs names (NULL-terminated) with apt-get from the rig's repository and
 * extra_sources ("deb [signed-by=...] file:/var/cuda-repo-... /" lines; may be
 * NULL) only: its own sources list and package lists under /var/lib/mlrig/apt,
 * DEBIAN_FRONTEND=noninteractive, no recommends. Runs `dpkg --configure -a`
 * first (a power cut mid-install) and loads debconf (a debconf-set-selections
 * file on the rig, may be NULL). On failure the agent's error names the
 * packages and apt's own last lines. Live system only. */
int agent_apt_install(struct agent *a, char *const *names, const char *const *extra_sources, const char *debconf);
