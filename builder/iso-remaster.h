/* Remastering Ubuntu install media with libisofs: import tree, El Torito
 * entries and system area, add and replace files, write the result with the
 * same boot structure. Also the pure text parts: flavour detection, menu
 * entries, md5sum.txt. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum iso_installer {
	ISO_INSTALLER_SUBIQUITY, /* server (and 23.04+ desktop): autoinstall, nocloud seed */
	ISO_INSTALLER_UBIQUITY,  /* 20.04/22.04 desktop: preseed */
};

enum iso_layout {
	ISO_LAYOUT_ISOLINUX, /* 20.04: ISOLINUX BIOS + boot/grub/efi.img, isohybrid MBR */
	ISO_LAYOUT_GRUB,     /* 22.04+: GRUB eltorito.img + appended EFI partition */
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
const char *iso_layout_to_string(enum iso_layout l);

#define ISO_MAX_BOOT_ENTRIES 8
#define ISO_MAX_APPENDED 4

struct iso_boot_entry {
	int platform;            /* 0 BIOS, 0xef UEFI */
	bool bootable;
	bool no_emul;
	char *path;              /* file in the tree, or NULL */
	uint32_t lba;            /* 2048-byte blocks */
	uint32_t load_size;      /* 512-byte sectors */
	int appended;            /* >0: the entry is appended partition N */
	bool boot_info_table, grub2_boot_info;
	int gpt_mention;         /* isohybrid GPT: 0 no, 1 basic data, 2 HFS+ */
	bool apm_mention;
};

struct iso_appended {
	int number;
	uint64_t start, size;    /* 512-byte sectors */
	uint8_t type_guid[16];
	bool gpt;
};

/* The boot structure of an image, as libisofs reports it. */
struct iso_boot_info {
	char *catalog_path;
	struct iso_boot_entry entries[ISO_MAX_BOOT_ENTRIES];
	size_t n_entries;
	bool have_system_area;
	int sa_options;
	char sa_summary[128];
	uint64_t image_size;     /* 512-byte sectors */
	uint32_t partition_offset;
	int heads_per_cyl, secs_per_head;
	int mbr_part1_type;      /* -1 none */
	bool mbr_active;
	bool gpt;
	uint8_t gpt_iso_type[16];
	bool have_gpt_iso_type;
	int apm_block_size;
	struct iso_appended appended[ISO_MAX_APPENDED];
	size_t n_appended;
};

/* Parses libisofs' "System area" and "El Torito" report lines. */
int iso_boot_info_parse(char *const *sa_lines, size_t n_sa, char *const *et_lines, size_t n_et,
			struct iso_boot_info *ret);
void iso_boot_info_release(struct iso_boot_info *b);
/* Which known layout this is; else -EMEDIUMTYPE and *ret_found says what was found. */
int iso_boot_layout(const struct iso_boot_info *b, enum iso_layout *ret, char **ret_found);

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

typedef struct IsoRemaster IsoRemaster;

/* Imports base; on bad input returns -EBADMSG, -EMEDIUMTYPE, -ENOENT... with
 * *ret_error saying what is wrong with the file. */
int iso_remaster_open(const char *base, uint64_t epoch, IsoRemaster **ret, char **ret_error);
IsoRemaster *iso_remaster_free(IsoRemaster *r);
static inline void iso_remaster_freep(IsoRemaster **r) {
	iso_remaster_free(*r);
}
const struct iso_flavour *iso_remaster_flavour(const IsoRemaster *r);
enum iso_layout iso_remaster_layout(const IsoRemaster *r);
/* Reads a file of the base; -ENOENT when absent. */
int iso_remaster_read(IsoRemaster *r, const char *path, char **ret, size_t *ret_size);
bool iso_remaster_exists(IsoRemaster *r, const char *path);
/* Adds or replaces a file (data is taken over) or a directory (data NULL),
 * creating parents, owned by root, timestamps at the epoch; recorded for md5sum.txt.
 * Mode 0 keeps the replaced file's mode (0644 for a new one). */
int iso_remaster_put(IsoRemaster *r, const char *path, void *data, size_t size, mode_t mode);
/* Updates md5sum.txt (when the base has one) and writes the image to fd. */
int iso_remaster_write(IsoRemaster *r, int fd, void (*progress)(uint64_t done, uint64_t total, void *userdata),
		       void *userdata, char **ret_error);
