/* EFI load options (Boot####, without efivarfs's attribute bytes): parsed, and the device
 * path part formatted as efibootmgr -v shows it (libefivar, when it is installed). */
#include "efi-util.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct efi_boot_entry e;

	if (efi_parse_load_option(data, size, &e) >= 0) {
		char *s;

		if (e.path_offset > size || e.path_size > size - e.path_offset)
			abort(); /* the device path must lie inside the option */
		if (strnlen(e.description, sizeof(e.description)) == sizeof(e.description))
			abort();
		s = efi_format_device_path(data + e.path_offset, e.path_size);
		free(s);
	}
	return 0;
}
