/* The ISO import and the boot record report parsing. An input whose first byte is odd is
 * libisofs' report text ("System area" lines, a line "--", "El Torito" lines) for the boot
 * record parser and the layout detection; any other is an ISO image for remaster_open(), and
 * the files the remaster reads of an image it accepted. */
#include "fuzz.h"
#include "iso-bootrec.h"
#include "iso-remaster.h"

static void report(const uint8_t *data, size_t size) {
	char *text = fuzz_strndup(data + 1, size - 1), *lines[2][64], *p = text, *nl;
	size_t n[2] = { 0, 0 };
	int part = 0;
	struct boot_records b = { 0 };

	for (; p; p = nl) {
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = 0;
		if (strcmp(p, "--") == 0)
			part = 1;
		else if (n[part] < 64)
			lines[part][n[part]++] = p;
	}
	if (boot_records_parse(lines[0], n[0], lines[1], n[1], &b) >= 0) {
		enum media_layout l;
		char *found = NULL;

		if (media_detect_layout(&b, &l, &found) < 0 && !found)
			abort();
		free(found);
	}
	boot_records_release(&b);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char path[4096], *error = NULL;
	Remaster *r = NULL;

	if (size > 0 && data[0] & 1) {
		report(data, size);
		return 0;
	}
	fuzz_write("base.iso", data, size, path, sizeof(path));
	if (remaster_open(path, 1700000000, &r, &error) >= 0) {
		char **names = NULL, *file = NULL;
		size_t n;

		if (remaster_list_dir(r, "/", &names) >= 0) {
			for (char **s = names; *s; s++)
				free(*s);
			free(names);
		}
		if (remaster_read(r, "/md5sum.txt", &file, &n) >= 0)
			free(file);
		remaster_free(r);
	} else if (!error) {
		abort(); /* every refusal says why */
	}
	free(error);
	return 0;
}
