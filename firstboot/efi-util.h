/* EFI variables through efivarfs (the kernel's stable interface, which is
 * what libefivar uses too): BootOrder and the Boot#### descriptions. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define EFI_GLOBAL_GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c"

struct efi_boot_entry {
	uint16_t num;
	char description[128]; /* UCS-2 narrowed to ASCII, '?' for the rest */
};

int efi_available(const char *efivars_dir);
int efi_get_boot_order(const char *efivars_dir, uint16_t **ret, size_t *ret_n);
int efi_set_boot_order(const char *efivars_dir, const uint16_t *order, size_t n);
int efi_get_boot_entry(const char *efivars_dir, uint16_t num, struct efi_boot_entry *ret);
/* Parses an EFI_LOAD_OPTION (without the 4 attribute bytes) into ret->description. */
int efi_parse_load_option(const uint8_t *data, size_t size, struct efi_boot_entry *ret);
