/* Ubuntu install media's text files, as text (pure): .disk/info's flavour, mlrig's menu entry, md5sum.txt. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum media_installer {
	MEDIA_INSTALLER_SUBIQUITY, /* server (and 23.04+ desktop): autoinstall, nocloud seed */
	MEDIA_INSTALLER_UBIQUITY,  /* 20.04/22.04 desktop: preseed */
};

struct media_flavour {
	enum media_installer installer;
	char product[64];  /* "Ubuntu-Server", "Ubuntu" */
	char release[32];  /* "20.04.6" */
};

/* From .disk/info and whether the tree has preseed/. -EMEDIUMTYPE when the
 * text is not Ubuntu's. */
int media_detect_flavour(const char *disk_info, bool has_preseed, struct media_flavour *ret);
const char *media_installer_to_string(enum media_installer i);

/* Kernel arguments for mlrig's entry: those of the original entry without
 * earlier seeds, plus the installer's before "---". grub: escape ';'. */
int menu_kernel_args(const char *args, enum media_installer inst, bool grub, char **ret);
/* A new first (default) entry copied from the first menuentry; -ENOENT when
 * there is none. */
int menu_grub_cfg_add_entry(const char *cfg, const char *title, enum media_installer inst, char **ret);
/* The same for ISOLINUX's txt.cfg: copied from the default label. */
int menu_isolinux_cfg_add_entry(const char *cfg, const char *title, enum media_installer inst, char **ret);

struct md5sum_txt_entry {
	const char *path;  /* relative, no "./" */
	char md5[33];      /* 32 hex digits */
};
/* Updates the lines for these paths in place, appends the others sorted. */
int md5sum_txt_update(const char *text, const struct md5sum_txt_entry *e, size_t n, char **ret);
