/* What an Ubuntu installer reads to install a rig unattended, and where it lies on the medium. */
/* subiquity's autoinstall user-data (YAML, through libyaml's emitter),
 * ubiquity's preseed, and the install script both run to copy the payload
 * into /target. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "payload.h"

/* Where things live on the medium, and where the installer mounts it. */
#define MEDIA_MOUNT "/cdrom"
#define MEDIA_NOCLOUD_DIR "/nocloud"
#define MEDIA_PRESEED "/preseed/mlrig.seed"
#define MEDIA_MLRIG_DIR "/mlrig"
#define MEDIA_PAYLOAD_ROOT MEDIA_MLRIG_DIR "/root"
#define MEDIA_INSTALL_SCRIPT MEDIA_MLRIG_DIR "/install.sh"
#define MEDIA_UNITS MEDIA_MLRIG_DIR "/units"
/* The one command both installers run once the target is installed. */
#define MEDIA_INSTALL_COMMAND "sh " MEDIA_MOUNT MEDIA_INSTALL_SCRIPT " " MEDIA_MOUNT " /target"

/* A locked account still needs some password field for subiquity: "!" is
 * what passwd -l leaves, and no password hashes to it. */
#define AUTOINSTALL_LOCKED_PASSWORD "!"

struct autoinstall_config {
	const char *hostname;
	const char *username;
	const char *password_hash;    /* NULL: locked */
	char **authorized_keys;       /* NULL-terminated, may be NULL */
	char **packages;              /* NULL-terminated, may be NULL */
	const char *disk;             /* [Install] Disk=, or NULL */
	bool wipe;                    /* [Install] Wipe= */
};

/* "#cloud-config" + the autoinstall document. */
int autoinstall_user_data(const struct autoinstall_config *c, char **ret);
/* The ubiquity preseed; base is the medium's own default seed (may be NULL),
 * kept at the top so its answers still apply. */
int autoinstall_preseed(const struct autoinstall_config *c, const char *base, char **ret);
/* The public keys of an authorized_keys file: one per line, comments dropped. */
int autoinstall_read_keys(const char *path, char ***ret);
/* "TARGET UNIT" lines for the install script. */
int autoinstall_units(const struct payload *pl, char **ret);
/* The install script's text (static). */
const char *autoinstall_script(void);
