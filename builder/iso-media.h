/* Ubuntu install media's text files, as text: the flavour .disk/info names,
 * mlrig's boot menu entry in grub.cfg and txt.cfg, md5sum.txt. Pure functions. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum iso_installer {
	ISO_INSTALLER_SUBIQUITY, /* server (and 23.04+ desktop): autoinstall, nocloud seed */
	ISO_INSTALLER_UBIQUITY,  /* 20.04/22.04 desktop: preseed */
};

struct iso_flavour {
	enum iso_installer installer;
	char product[64];  /* "Ubuntu-Server", "Ubuntu" */
	char release[32];  /* "20.04.6" */
};

/* From .disk/info and whether the tree has preseed/. -EMEDIUMTYPE when the
 * text is not Ubuntu's. */
int iso_detect_flavour(const char *disk_info, bool has_preseed, struct iso_flavour *ret);
const char *iso_installer_to_string(enum iso_installer i);

/* Kernel arguments for mlrig's entry: those of the original entry without
 * earlier seeds, plus the installer's before "---". grub: escape ';'. */
int iso_kernel_args(const char *args, enum iso_installer inst, bool grub, char **ret);
/* A new first (default) entry copied from the first menuentry; -ENOENT when
 * there is none. */
int iso_grub_cfg_add_entry(const char *cfg, const char *title, enum iso_installer inst, char **ret);
/* The same for ISOLINUX's txt.cfg: copied from the default label. */
int iso_isolinux_cfg_add_entry(const char *cfg, const char *title, enum iso_installer inst, char **ret);

struct iso_md5_entry {
	const char *path;  /* relative, no "./" */
	char md5[33];
};
/* Updates the lines for these paths in place, appends the others sorted. */
int iso_md5sum_update(const char *text, const struct iso_md5_entry *e, size_t n, char **ret);
