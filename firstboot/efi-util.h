/* EFI boot variables through efivarfs (the kernel's stable interface, which is
 * what libefivar uses too): BootOrder and Boot####, read and written; the GPT
 * entry of the ESP; and the rig's own load option, built with libefiboot and
 * libefivar, which are loaded at run time (a rig without them still boots).
 * Errors are -errno; where a user needs more, *ret_error says it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EFI_GLOBAL_GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define EFI_LOAD_OPTION_ACTIVE 0x1

struct efi_boot_entry {
	uint16_t num;
	uint32_t attributes;
	char description[128];         /* UCS-2 narrowed to ASCII, '?' for the rest */
	size_t path_offset, path_size; /* the device path list inside the load option */
};

int efi_available(const char *efivars_dir);
/* The SecureBoot variable: 1 on, 0 off or absent (no EFI, or firmware without it), -errno. */
int efi_secure_boot(const char *efivars_dir);
int efi_get_boot_order(const char *efivars_dir, uint16_t **ret, size_t *ret_n);
int efi_set_boot_order(const char *efivars_dir, const uint16_t *order, size_t n);
/* The numbers of the Boot#### variables there are, in order (BootOrder may leave some out). */
int efi_list_boot_entries(const char *efivars_dir, uint16_t **ret, size_t *ret_n);
/* Boot####'s EFI_LOAD_OPTION, without efivarfs's 4 attribute bytes. */
int efi_get_boot_option(const char *efivars_dir, uint16_t num, uint8_t **ret, size_t *ret_size);
/* Writes Boot#### (non-volatile, boot and run time access), replacing one there is. */
int efi_set_boot_option(const char *efivars_dir, uint16_t num, const uint8_t *data, size_t size);
int efi_get_boot_entry(const char *efivars_dir, uint16_t num, struct efi_boot_entry *ret);
/* Parses an EFI_LOAD_OPTION (without the 4 attribute bytes): attributes, description, where
 * the device path is; -EBADMSG when it is cut short. */
int efi_parse_load_option(const uint8_t *data, size_t size, struct efi_boot_entry *ret);

/* A GPT partition as the firmware's HD() device path node names it. */
struct efi_partition {
	uint32_t number;  /* 1-based entry */
	uint64_t start;   /* first logical block */
	uint64_t size;    /* logical blocks */
	uint8_t guid[16]; /* the unique partition GUID, as the GPT stores it (mixed endian) */
	uint8_t type[16]; /* the type GUID, as stored */
};

/* Entry `number` of the primary GPT of the disk at fd: -EBADMSG when there is no GPT or its
 * header or entries fail their CRC, -ERANGE for a number past the table, -ENOENT for an unused entry. */
int efi_gpt_partition(int fd, uint32_t sector_size, uint32_t number, struct efi_partition *ret);
bool efi_partition_is_esp(const struct efi_partition *p);
/* The GUID as text ("0a1b2c3d-4e5f-4607-8899-aabbccddeeff"), from its stored bytes. */
void efi_guid_format(const uint8_t guid[16], char ret[37]);

/* The partition mounted at dir (the ESP, /boot/efi): its disk and number from sysfs, the rest
 * from the disk's GPT. -ENOENT when nothing is mounted there, -ENODEV when it is not an EFI
 * System Partition on a GPT disk; *ret_error says which and where. */
int efi_find_esp(const char *dir, struct efi_partition *ret, char **ret_error);

/* An active EFI_LOAD_OPTION for the file loader ("\EFI\BOOT\BOOTX64.EFI") on partition p:
 * HD(p)/File(loader)/End, the label as description, no optional data: what efibootmgr -c
 * writes. Built with libefiboot/libefivar (dlopen): -ELIBACC when the rig lacks them, with
 * *ret_error naming the library and the loader's reason. */
int efi_make_load_option(const struct efi_partition *p, const char *loader, const char *label, uint8_t **ret,
			 size_t *ret_size, char **ret_error);
/* The device path as efibootmgr -v shows it ("HD(1,GPT,...)/File(\EFI\BOOT\BOOTX64.EFI)"),
 * or NULL when libefivar is missing or the path is not one. */
char *efi_format_device_path(const uint8_t *path, size_t size);
