/* An ISO's boot structure, parsed from libisofs' system area and El Torito reports; its known layout. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum media_layout {
	MEDIA_LAYOUT_ISOLINUX, /* 20.04: ISOLINUX BIOS + boot/grub/efi.img, isohybrid MBR */
	MEDIA_LAYOUT_GRUB,     /* 22.04+: GRUB eltorito.img + appended EFI partition */
};

const char *media_layout_to_string(enum media_layout l);

#define BOOTREC_MAX_ENTRIES 8
#define BOOTREC_MAX_APPENDED 4

struct bootrec_entry {
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

struct bootrec_appended {
	int number;
	uint64_t start, size;    /* 512-byte sectors */
	uint8_t type_guid[16];
	bool gpt;
};

/* The boot structure of an image, as libisofs reports it. */
struct boot_records {
	char *catalog_path;
	struct bootrec_entry entries[BOOTREC_MAX_ENTRIES];
	size_t n_entries;
	bool have_system_area;
	int sa_options;
	char *sa_summary;
	uint64_t image_size;     /* 512-byte sectors */
	uint32_t partition_offset;
	int heads_per_cyl, secs_per_head;
	int mbr_part1_type;      /* -1 none */
	bool mbr_active;
	bool gpt;
	uint8_t gpt_iso_type[16];
	bool have_gpt_iso_type;
	int apm_block_size;
	struct bootrec_appended appended[BOOTREC_MAX_APPENDED];
	size_t n_appended;
};

/* Parses libisofs' "System area" and "El Torito" report lines. */
int boot_records_parse(char *const *sa_lines, size_t n_sa, char *const *et_lines, size_t n_et,
		       struct boot_records *ret);
void boot_records_release(struct boot_records *b);
/* Which known layout this is; else -EMEDIUMTYPE and *ret_found says what was found. */
int media_detect_layout(const struct boot_records *b, enum media_layout *ret, char **ret_found);
