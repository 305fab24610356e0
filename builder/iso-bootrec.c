/* The boot structure of an ISO image, from libisofs' system area and El Torito reports, and which known layout it is. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso-bootrec.h"
#include "macro.h"
#include "parse-util.h"

const char *media_layout_to_string(enum media_layout l) {
	return l == MEDIA_LAYOUT_GRUB ? "GRUB BIOS + appended EFI partition (22.04+)"
				    : "ISOLINUX + boot/grub/efi.img, isohybrid (20.04)";
}

/* "Key name   :  values" → key and value, both trimmed, in place. */
static bool split_line(char *line, char **ret_key, char **ret_value) {
	char *colon = strchr(line, ':');

	if (!colon)
		return false;
	*colon = 0;
	*ret_key = string_strip(line);
	*ret_value = string_strip(colon + 1);
	return true;
}

static int parse_guid_hex(const char *s, uint8_t ret[16]) {
	if (strlen(s) != 32)
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]))
			return -EINVAL;
		ret[i] = (uint8_t)v;
	}
	return 0;
}

/* The n-th whitespace-separated word of s (0-based), copied into buf. */
static const char *word(const char *s, unsigned n, char *buf, size_t size) {
	for (;;) {
		size_t len;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			return NULL;
		len = strcspn(s, " \t");
		if (n-- == 0) {
			snprintf(buf, size, "%.*s", (int)MIN(len, size - 1), s);
			return buf;
		}
		s += len;
	}
}

static uint64_t word_u64(const char *s, unsigned n) {
	char b[64];
	uint64_t v = 0;

	if (word(s, n, b, sizeof(b)))
		(void)safe_atou64(b, &v);
	return v;
}

static long word_hex(const char *s, unsigned n) {
	char b[64], *end;
	long v;

	if (!word(s, n, b, sizeof(b)))
		return -1;
	v = strtol(b, &end, 16);
	return *end ? -1 : v;
}

/* The value after the entry number: "  2  /boot/grub/efi.img" → "/boot/grub/efi.img". */
static const char *after_number(const char *s) {
	while (*s == ' ')
		s++;
	while (isdigit((unsigned char)*s))
		s++;
	while (*s == ' ')
		s++;
	return s;
}

struct gpt_row {
	char name[32];
	uint64_t start, size;
	uint8_t type[16];
	bool have_type;
	char *path;
};

int boot_records_parse(char *const *sa_lines, size_t n_sa, char *const *et_lines, size_t n_et,
		       struct boot_records *ret) {
	struct boot_records b = { .mbr_part1_type = -1 };
	struct gpt_row gpt[16] = {};
	char *apm_paths[16] = {};
	int r = 0;

	for (size_t i = 0; i < n_sa; i++) {
		_cleanup_free_ char *line = strdup(sa_lines[i]);
		char *k, *v;
		unsigned n;

		if (!line) {
			r = -ENOMEM;
			goto out;
		}
		if (!split_line(line, &k, &v))
			continue;
		n = (unsigned)word_u64(v, 0);
		if (strcmp(k, "System area options") == 0) {
			b.have_system_area = true;
			b.sa_options = (int)strtol(v, NULL, 16);
		} else if (strcmp(k, "System area summary") == 0)
			snprintf(b.sa_summary, sizeof(b.sa_summary), "%s", v);
		else if (strcmp(k, "ISO image size/512") == 0)
			b.image_size = word_u64(v, 0);
		else if (strcmp(k, "Partition offset") == 0)
			b.partition_offset = (uint32_t)word_u64(v, 0);
		else if (strcmp(k, "MBR heads per cyl") == 0)
			b.heads_per_cyl = (int)word_u64(v, 0);
		else if (strcmp(k, "MBR secs per head") == 0)
			b.secs_per_head = (int)word_u64(v, 0);
		else if (strcmp(k, "MBR partition") == 0 && n >= 1) {
			if (word_hex(v, 1) == 0x80)
				b.mbr_active = true;
			if (n == 1)
				b.mbr_part1_type = (int)word_hex(v, 2);
		} else if (strcmp(k, "GPT disk GUID") == 0)
			b.gpt = true;
		else if (string_has_prefix(k, "GPT ") && n >= 1 && n <= ELEMENTSOF(gpt)) {
			struct gpt_row *g = &gpt[n - 1];
			char w[64];

			if (strcmp(k, "GPT partname local") == 0)
				snprintf(g->name, sizeof(g->name), "%s", after_number(v));
			else if (strcmp(k, "GPT type GUID") == 0 && word(v, 1, w, sizeof(w)))
				g->have_type = parse_guid_hex(w, g->type) >= 0;
			else if (strcmp(k, "GPT start and size") == 0) {
				g->start = word_u64(v, 1);
				g->size = word_u64(v, 2);
			} else if (strcmp(k, "GPT partition path") == 0) {
				free(g->path);
				if (!(g->path = strdup(after_number(v)))) {
					r = -ENOMEM;
					goto out;
				}
			}
		} else if (strcmp(k, "APM block size") == 0)
			b.apm_block_size = (int)word_u64(v, 0);
		else if (strcmp(k, "APM partition path") == 0 && n >= 1 && n <= ELEMENTSOF(apm_paths)) {
			free(apm_paths[n - 1]);
			if (!(apm_paths[n - 1] = strdup(after_number(v)))) {
				r = -ENOMEM;
				goto out;
			}
		}
	}

	for (size_t i = 0; i < n_et; i++) {
		_cleanup_free_ char *line = strdup(et_lines[i]);
		struct bootrec_entry *e;
		char *k, *v, w[64];
		unsigned n;

		if (!line) {
			r = -ENOMEM;
			goto out;
		}
		if (!split_line(line, &k, &v))
			continue;
		if (strcmp(k, "El Torito cat path") == 0) {
			free(b.catalog_path);
			if (!(b.catalog_path = strdup(v))) {
				r = -ENOMEM;
				goto out;
			}
			continue;
		}
		n = (unsigned)word_u64(v, 0);
		if (n < 1 || n > BOOTREC_MAX_ENTRIES)
			continue;
		e = &b.entries[n - 1];
		if (strcmp(k, "El Torito boot img") == 0) {
			/* N Pltf B Emul Ld_seg Hdpt Ldsiz LBA */
			b.n_entries = MAX(b.n_entries, n);
			word(v, 1, w, sizeof(w));
			e->platform = strcmp(w, "BIOS") == 0 ? 0 : strcmp(w, "UEFI") == 0 ? 0xef : (int)strtol(w, NULL, 16);
			e->bootable = word(v, 2, w, sizeof(w)) && strcmp(w, "y") == 0;
			e->no_emul = word(v, 3, w, sizeof(w)) && strcmp(w, "none") == 0;
			e->load_size = (uint32_t)word_u64(v, 6);
			e->lba = (uint32_t)word_u64(v, 7);
		} else if (strcmp(k, "El Torito img path") == 0) {
			free(e->path);
			if (!(e->path = strdup(after_number(v)))) {
				r = -ENOMEM;
				goto out;
			}
		} else if (strcmp(k, "El Torito img opts") == 0) {
			const char *o = after_number(v);

			e->boot_info_table = strstr(o, "boot-info-table") != NULL;
			e->grub2_boot_info = strstr(o, "grub2-boot-info") != NULL;
		}
	}

	/* GPT rows: the ISO's own partition, appended partitions, isohybrid mentions */
	for (size_t i = 0; i < ELEMENTSOF(gpt); i++) {
		struct gpt_row *g = &gpt[i];
		static const uint8_t basic_data[16] = { 0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44,
							0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7 };

		if (strcmp(g->name, "ISO9660") == 0 && g->have_type) {
			memcpy(b.gpt_iso_type, g->type, 16);
			b.have_gpt_iso_type = true;
		} else if (string_has_prefix(g->name, "Appended") && b.n_appended < BOOTREC_MAX_APPENDED) {
			struct bootrec_appended *a = &b.appended[b.n_appended++];

			a->number = (int)strtol(g->name + 8, NULL, 10);
			a->start = g->start;
			a->size = g->size;
			a->gpt = true;
			memcpy(a->type_guid, g->type, 16);
		} else if (g->path)
			for (size_t j = 0; j < b.n_entries; j++)
				if (b.entries[j].path && strcmp(b.entries[j].path, g->path) == 0)
					b.entries[j].gpt_mention = memcmp(g->type, basic_data, 16) == 0 ? 1 : 2;
	}
	for (size_t i = 0; i < ELEMENTSOF(apm_paths); i++)
		for (size_t j = 0; apm_paths[i] && j < b.n_entries; j++)
			if (b.entries[j].path && strcmp(b.entries[j].path, apm_paths[i]) == 0)
				b.entries[j].apm_mention = true;
	/* A path-less entry is the appended ESP when it starts where the GPT row
	 * does. Matched by position, not by lying past the volume's end: once a
	 * session has been added in place (xorriso -dev) the volume reaches over
	 * the ESP, libisofs calls it a "hidden" image, and xorriso's replay gives
	 * up on it (UEFI entry dropped, or "Overlapping GPT entries" when growing
	 * again). Its bytes are still the ESP, and the GPT still says so. */
	for (size_t j = 0; j < b.n_entries; j++)
		for (size_t i = 0; !b.entries[j].path && i < b.n_appended; i++)
			if ((uint64_t)b.entries[j].lba * 4 == b.appended[i].start)
				b.entries[j].appended = b.appended[i].number;

	*ret = b;
	memset(&b, 0, sizeof(b));
out:
	for (size_t i = 0; i < ELEMENTSOF(gpt); i++)
		free(gpt[i].path);
	for (size_t i = 0; i < ELEMENTSOF(apm_paths); i++)
		free(apm_paths[i]);
	boot_records_release(&b);
	return r;
}

void boot_records_release(struct boot_records *b) {
	free(b->catalog_path);
	for (size_t i = 0; i < BOOTREC_MAX_ENTRIES; i++)
		free(b->entries[i].path);
	memset(b, 0, sizeof(*b));
}

int media_detect_layout(const struct boot_records *b, enum media_layout *ret, char **ret_found) {
	_cleanup_free_ char *found = NULL;
	size_t size = 0;
	FILE *f;
	const struct bootrec_entry *bios = NULL, *efi = NULL;
	bool ok = true;

	for (size_t i = 0; i < b->n_entries; i++) {
		const struct bootrec_entry *e = &b->entries[i];

		if (!e->no_emul)
			ok = false;
		else if (e->platform == 0 && !bios)
			bios = e;
		else if (e->platform == 0xef && !efi)
			efi = e;
		else
			ok = false;
	}
	if (ok && bios && efi && bios->path && string_has_suffix(bios->path, "/isolinux.bin") && efi->path &&
	    (b->sa_options & 2)) {
		*ret = MEDIA_LAYOUT_ISOLINUX;
		return 0;
	}
	if (ok && bios && efi && bios->path && string_has_suffix(bios->path, "/eltorito.img") &&
	    (efi->path || efi->appended > 0) && (b->sa_options & (1 << 14))) {
		*ret = MEDIA_LAYOUT_GRUB;
		return 0;
	}

	f = open_memstream(&found, &size);
	if (!f)
		return -ENOMEM;
	if (b->n_entries == 0)
		fputs("no El Torito boot entries", f);
	else
		fputs("El Torito entries:", f);
	for (size_t i = 0; i < b->n_entries; i++) {
		const struct bootrec_entry *e = &b->entries[i];

		fprintf(f, "%s %s%s ", i ? "," : "",
			e->platform == 0 ? "BIOS" : e->platform == 0xef ? "UEFI" : "platform",
			e->no_emul ? "" : " (emulation)");
		if (e->path)
			fputs(e->path, f);
		else if (e->appended > 0)
			fprintf(f, "appended partition %d", e->appended);
		else
			fprintf(f, "block %u", e->lba);
	}
	fprintf(f, "; system area: %s", b->have_system_area && *b->sa_summary ? b->sa_summary : "none");
	if (fclose(f) != 0)
		return -ENOMEM;
	if (ret_found)
		*ret_found = TAKE_PTR(found);
	return -EMEDIUMTYPE;
}
