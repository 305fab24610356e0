/* An ISO's boot structure, parsed from libisofs' system area and El Torito reports; its known layout. */
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

/* The n-th whitespace-separated word of s (0-based) into buf; false when
 * there is none, or when it does not fit (never a truncated word). */
static bool word(const char *s, unsigned n, char *buf, size_t size) {
	for (;;) {
		size_t len;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			return false;
		len = strcspn(s, " \t");
		if (n-- == 0) {
			if (len >= size)
				return false;
			memcpy(buf, s, len);
			buf[len] = 0;
			return true;
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

static int set_string(char **p, const char *s) {
	char *c = strdup(s);

	if (!c)
		return -ENOMEM;
	free(*p);
	*p = c;
	return 0;
}

struct gpt_row {
	char *name;
	uint64_t start, size;
	uint8_t type[16];
	bool have_type;
	char *path;
};

/* The system area report's GPT and APM rows, matched with the El Torito
 * entries once both reports are read. */
struct sa_rows {
	struct gpt_row gpt[16];
	char *apm_paths[16];
};

static void sa_rows_release(struct sa_rows *rows) {
	for (size_t i = 0; i < ELEMENTSOF(rows->gpt); i++) {
		free(rows->gpt[i].name);
		free(rows->gpt[i].path);
	}
	for (size_t i = 0; i < ELEMENTSOF(rows->apm_paths); i++)
		free(rows->apm_paths[i]);
}

static int parse_gpt_line(struct gpt_row *g, const char *k, const char *v) {
	char w[64];

	if (strcmp(k, "GPT partname local") == 0)
		return set_string(&g->name, after_number(v));
	if (strcmp(k, "GPT type GUID") == 0 && word(v, 1, w, sizeof(w)))
		g->have_type = parse_hex_bytes(w, g->type, sizeof(g->type)) >= 0;
	else if (strcmp(k, "GPT start and size") == 0) {
		g->start = word_u64(v, 1);
		g->size = word_u64(v, 2);
	} else if (strcmp(k, "GPT partition path") == 0)
		return set_string(&g->path, after_number(v));
	return 0;
}

/* One "Key : values" line of iso_image_report_system_area(). */
static int parse_sa_line(struct boot_records *b, struct sa_rows *rows, const char *k, const char *v) {
	unsigned n = (unsigned)word_u64(v, 0);

	if (strcmp(k, "System area options") == 0) {
		b->have_system_area = true;
		b->sa_options = (int)strtol(v, NULL, 16);
	} else if (strcmp(k, "System area summary") == 0)
		return set_string(&b->sa_summary, v);
	else if (strcmp(k, "ISO image size/512") == 0)
		b->image_size = word_u64(v, 0);
	else if (strcmp(k, "Partition offset") == 0)
		b->partition_offset = (uint32_t)word_u64(v, 0);
	else if (strcmp(k, "MBR heads per cyl") == 0)
		b->heads_per_cyl = (int)word_u64(v, 0);
	else if (strcmp(k, "MBR secs per head") == 0)
		b->secs_per_head = (int)word_u64(v, 0);
	else if (strcmp(k, "MBR partition") == 0 && n >= 1) {
		if (word_hex(v, 1) == 0x80)
			b->mbr_active = true;
		if (n == 1)
			b->mbr_part1_type = (int)word_hex(v, 2);
	} else if (strcmp(k, "GPT disk GUID") == 0)
		b->gpt = true;
	else if (string_has_prefix(k, "GPT ") && n >= 1 && n <= ELEMENTSOF(rows->gpt))
		return parse_gpt_line(&rows->gpt[n - 1], k, v);
	else if (strcmp(k, "APM block size") == 0)
		b->apm_block_size = (int)word_u64(v, 0);
	else if (strcmp(k, "APM partition path") == 0 && n >= 1 && n <= ELEMENTSOF(rows->apm_paths))
		return set_string(&rows->apm_paths[n - 1], after_number(v));
	return 0;
}

/* "BIOS", "UEFI", or libisofs' hex platform id; -1 when the column is missing. */
static int parse_platform(const char *v) {
	char w[64];

	if (!word(v, 1, w, sizeof(w)))
		return -1;
	return strcmp(w, "BIOS") == 0 ? 0 : strcmp(w, "UEFI") == 0 ? 0xef : (int)strtol(w, NULL, 16);
}

/* One "Key : values" line of iso_image_report_el_torito(). */
static int parse_et_line(struct boot_records *b, const char *k, const char *v) {
	struct bootrec_entry *e;
	unsigned n;
	char w[64];

	if (strcmp(k, "El Torito cat path") == 0)
		return set_string(&b->catalog_path, v);
	n = (unsigned)word_u64(v, 0);
	if (n < 1 || n > BOOTREC_MAX_ENTRIES)
		return 0;
	e = &b->entries[n - 1];
	if (strcmp(k, "El Torito boot img") == 0) {
		/* N Pltf B Emul Ld_seg Hdpt Ldsiz LBA */
		b->n_entries = MAX(b->n_entries, n);
		e->platform = parse_platform(v);
		e->bootable = word(v, 2, w, sizeof(w)) && strcmp(w, "y") == 0;
		e->no_emul = word(v, 3, w, sizeof(w)) && strcmp(w, "none") == 0;
		e->load_size = (uint32_t)word_u64(v, 6);
		e->lba = (uint32_t)word_u64(v, 7);
	} else if (strcmp(k, "El Torito img path") == 0)
		return set_string(&e->path, after_number(v));
	else if (strcmp(k, "El Torito img opts") == 0) {
		const char *o = after_number(v);

		e->boot_info_table = strstr(o, "boot-info-table") != NULL;
		e->grub2_boot_info = strstr(o, "grub2-boot-info") != NULL;
	}
	return 0;
}

/* "Key name   :  values" → key and value, both trimmed, parsed on a copy of the line. */
static int parse_line(const char *line, struct boot_records *b, struct sa_rows *rows, bool el_torito) {
	_cleanup_free_ char *copy = strdup(line);
	char *colon;

	if (!copy)
		return -ENOMEM;
	colon = strchr(copy, ':');
	if (!colon)
		return 0;
	*colon = 0;
	return el_torito ? parse_et_line(b, string_strip(copy), string_strip(colon + 1))
			 : parse_sa_line(b, rows, string_strip(copy), string_strip(colon + 1));
}

/* The GPT rows are the ISO's own partition, appended partitions, or
 * isohybrid mentions of an El Torito image; APM rows are mentions too. */
static void match_rows(struct boot_records *b, const struct sa_rows *rows) {
	static const uint8_t basic_data[16] = { 0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44,
						0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7 };

	for (size_t i = 0; i < ELEMENTSOF(rows->gpt); i++) {
		const struct gpt_row *g = &rows->gpt[i];
		const char *name = g->name ?: "";

		if (strcmp(name, "ISO9660") == 0 && g->have_type) {
			memcpy(b->gpt_iso_type, g->type, 16);
			b->have_gpt_iso_type = true;
		} else if (string_has_prefix(name, "Appended") && b->n_appended < BOOTREC_MAX_APPENDED) {
			struct bootrec_appended *a = &b->appended[b->n_appended++];

			a->number = (int)strtol(name + 8, NULL, 10);
			a->start = g->start;
			a->size = g->size;
			a->gpt = true;
			memcpy(a->type_guid, g->type, 16);
		} else if (g->path)
			for (size_t j = 0; j < b->n_entries; j++)
				if (b->entries[j].path && strcmp(b->entries[j].path, g->path) == 0)
					b->entries[j].gpt_mention = memcmp(g->type, basic_data, 16) == 0 ? 1 : 2;
	}
	for (size_t i = 0; i < ELEMENTSOF(rows->apm_paths); i++)
		for (size_t j = 0; rows->apm_paths[i] && j < b->n_entries; j++)
			if (b->entries[j].path && strcmp(b->entries[j].path, rows->apm_paths[i]) == 0)
				b->entries[j].apm_mention = true;
	/* A path-less entry is the appended ESP when it starts where the GPT row
	 * does. Matched by position, not by lying past the volume's end: once a
	 * session has been added in place (xorriso -dev) the volume reaches over
	 * the ESP, libisofs calls it a "hidden" image, and xorriso's replay gives
	 * up on it (UEFI entry dropped, or "Overlapping GPT entries" when growing
	 * again). Its bytes are still the ESP, and the GPT still says so. */
	for (size_t j = 0; j < b->n_entries; j++)
		for (size_t i = 0; !b->entries[j].path && i < b->n_appended; i++)
			if ((uint64_t)b->entries[j].lba * 4 == b->appended[i].start)
				b->entries[j].appended = b->appended[i].number;
}

int boot_records_parse(char *const *sa_lines, size_t n_sa, char *const *et_lines, size_t n_et,
		       struct boot_records *ret) {
	struct boot_records b = { .mbr_part1_type = -1 };
	struct sa_rows rows = {};
	int r = 0;

	for (size_t i = 0; i < n_sa && r >= 0; i++)
		r = parse_line(sa_lines[i], &b, &rows, false);
	for (size_t i = 0; i < n_et && r >= 0; i++)
		r = parse_line(et_lines[i], &b, &rows, true);
	if (r >= 0) {
		match_rows(&b, &rows);
		*ret = b;
		memset(&b, 0, sizeof(b));
	}
	sa_rows_release(&rows);
	boot_records_release(&b);
	return r;
}

void boot_records_release(struct boot_records *b) {
	free(b->catalog_path);
	free(b->sa_summary);
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
	fprintf(f, "; system area: %s",
		b->have_system_area && b->sa_summary && *b->sa_summary ? b->sa_summary : "none");
	if (fclose(f) != 0)
		return -ENOMEM;
	if (ret_found)
		*ret_found = TAKE_PTR(found);
	return -EMEDIUMTYPE;
}
