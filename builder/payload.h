/* What every rig gets from mlrig, whichever way it is installed (disk image or
 * ISO): rendered overlays, the agent and its config, the wheelhouse. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* Where the payload puts things on the rig. */
#define RIG_CONFIG_DIR "/etc/mlrig"
#define RIG_CONFIG RIG_CONFIG_DIR "/rig.conf"
#define RIG_AUTHORIZED_KEYS RIG_CONFIG_DIR "/authorized_keys"
#define RIG_DDNS_PASSWORD RIG_CONFIG_DIR "/ddns.password"
#define RIG_AGENT "/usr/lib/mlrig/mlrig-firstboot"
#define RIG_WHEELHOUSE "/usr/share/mlrig/wheelhouse"
/* the GPU payload files, under their own names: CUDA= (a local-repo .deb), CUDNN= (a tarball) */
#define RIG_PAYLOAD_DIR "/usr/share/mlrig/payload"
#define RIG_REPO "/var/lib/mlrig/repo"
#define RIG_DEBCONF RIG_CONFIG_DIR "/debconf"

struct packages_plan;

struct payload_file {
	char *path;     /* absolute on the rig */
	void *data;     /* the content; NULL for a directory or a file copied from source */
	char *source;   /* a file of this machine to copy (large: a .deb), or NULL */
	size_t size;
	uint32_t mode;  /* permission bits */
};

struct payload_unit {
	const char *unit;   /* e.g. "mlrig-firstboot.service", installed under /etc/systemd/system */
	const char *target; /* enabled into TARGET.wants */
};

struct payload {
	struct payload_file *files; /* parents before children, sorted */
	size_t n_files;
	struct payload_unit *units; /* the units this profile enables (the array is owned) */
	size_t n_units;
	char *agent_path;           /* the builder-side agent binary that was packed */
};

/* Collects the payload for profile p. datadir holds overlays/; agent is the
 * agent binary to ship (NULL: find_agent()). */
int payload_collect(const Profile *p, const char *datadir, const char *agent, struct payload *ret, char **ret_error);
void payload_release(struct payload *pl);
/* Adds the rig's package repository (RIG_REPO: the Packages index and the .debs the plan
 * chose, copied from their files) when the plan has one. */
int payload_add_packages(struct payload *pl, const struct packages_plan *plan, char **ret_error);

/* Finds mlrig's data files (overlays/, grub/): $MLRIG_DATADIR, the source tree
 * the binary was built in (build/mlrig → ./), ../share/mlrig from the binary
 * (PREFIX/bin/mlrig → PREFIX/share/mlrig), then the configured install prefix. */
int find_datadir(char **ret);

/* The agent binary built for old glibc (Ubuntu 20.04): $MLRIG_AGENT, then
 * compat/mlrig-firstboot next to the mlrig binary (the build tree), then
 * ../lib/mlrig/mlrig-firstboot from it (installed), then the configured prefix. */
int find_agent(char **ret);
