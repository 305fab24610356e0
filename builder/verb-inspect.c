/* mlrig inspect: the partition table, partitions, file systems and manifest of an image or device. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "blkid-util.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "verbs.h"

static const char *arg_path;
static bool arg_json;

static void help(void) {
	printf("Usage:\n"
	       " mlrig inspect FILE|DEVICE [options]\n"
	       "\n"
	       "Show the partition table, the partitions with their file systems, and the\n"
	       "manifest (FILE.json next to an image) of a disk image or block device.\n"
	       "\n"
	       "Options:\n"
	       "     --json       print one JSON object\n"
	       " -h, --help       display this help\n"
	       "\n"
	       "Exit status: 0 ok, 1 failure or nothing recognised, 2 usage or bad input.\n");
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_JSON = 0x100 };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, ARG_JSON },
		{}
	};
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
		switch (c) {
		case 'h': help(); return 0;
		case ARG_JSON: arg_json = true; break;
		default: return cli_option_error("inspect", c, argv);
		}
	r = cli_positional("inspect", argc, argv, (const char *const[]){ "FILE or DEVICE" }, 1, 1);
	if (r < 0)
		return r;
	arg_path = argv[optind];
	return 1;
}

static const struct {
	const char *type;
	const char *name;
} type_names[] = {
	{ "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "EFI System" },
	{ "21686148-6449-6e6f-744e-656564454649", "BIOS boot" },
	{ "0fc63daf-8483-4772-8e79-3d69d8477de4", "Linux filesystem" },
	{ "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "Linux root (x86-64)" },
	{ "bc13c2ff-59e6-4262-a352-b275fd6f7172", "Linux extended boot" },
	{ "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "Linux swap" },
	{ "e6d6d379-f507-44c2-a23c-238f2a3df928", "Linux LVM" },
	{ "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "Microsoft basic data" },
	{ "e3c9e316-0b5c-4db8-817d-f92df00215ae", "Microsoft reserved" },
	{ "de94bba4-06d1-4d40-a16a-bfd50179d6ac", "Windows recovery" },
	{ "0x83", "Linux" },
	{ "0x82", "Linux swap" },
	{ "0xef", "EFI System" },
	{ "0xee", "GPT protective" },
	{ "0x7", "NTFS/exFAT" },
	{ "0xb", "FAT32" },
	{ "0xc", "FAT32 (LBA)" },
	{ "0x8e", "Linux LVM" },
};

static const char *type_name(const char *type) {
	if (!type)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(type_names); i++)
		if (strcasecmp(type, type_names[i].type) == 0)
			return type_names[i].name;
	return NULL;
}

static void json_fs(JsonWriter *w, const struct fs_info *fs) {
	if (!fs->type) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	json_field_string(w, "type", fs->type);
	json_field_string(w, "label", fs->label);
	json_field_string(w, "uuid", fs->uuid);
	json_field_string(w, "version", fs->version);
	json_object_end(w);
}

/* "1.5G" style, for the table */
static void format_size(uint64_t bytes, char *buf, size_t size) {
	static const char units[] = "BKMGTP";
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(units) - 1) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 "B", bytes);
	else
		snprintf(buf, size, "%.*f%c", v < 10.0 ? 1 : 0, v, units[u]);
}

static int print_json(const struct disk_info *d, const char *manifest_path, char *manifest) {
	JsonWriter w;

	json_init(&w, stdout);
	json_object_begin(&w);
	json_field_string(&w, "device", arg_path);
	json_field_uint(&w, "size", d->size);
	json_field_uint(&w, "sector_size", d->sector_size);
	json_key(&w, "table");
	if (d->pttype) {
		json_object_begin(&w);
		json_field_string(&w, "type", d->pttype);
		json_field_string(&w, "id", d->ptuuid);
		json_object_end(&w);
	} else
		json_null(&w);
	json_key(&w, "filesystem");
	json_fs(&w, &d->fs);
	json_key(&w, "partitions");
	json_array_begin(&w);
	for (size_t i = 0; i < d->n_parts; i++) {
		const struct part_info *p = &d->parts[i];

		json_object_begin(&w);
		json_field_uint(&w, "number", p->number);
		json_field_uint(&w, "start", p->start);
		json_field_uint(&w, "size", p->size);
		json_field_uint(&w, "start_sector", p->start / 512);
		json_field_uint(&w, "sectors", p->size / 512);
		json_field_string(&w, "type", p->type);
		json_field_string(&w, "type_name", type_name(p->type));
		json_field_string(&w, "uuid", p->uuid);
		json_field_string(&w, "name", p->name);
		json_field_uint(&w, "attrs", p->flags);
		json_key(&w, "filesystem");
		json_fs(&w, &p->fs);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_field_string(&w, "manifest_path", manifest_path);
	json_key(&w, "manifest");
	if (!manifest)
		json_null(&w);
	else {
		char *m = string_strip(manifest);

		/* it is JSON already; anything else (a hand-edited, broken file) is carried as a string */
		if (json_valid(m))
			json_raw(&w, m);
		else
			json_string(&w, m);
	}
	json_object_end(&w);
	return json_finish(&w);
}

#define N_COLS 9

static void print_table(const struct disk_info *d) {
	static const char *const header[N_COLS] = { "#", "START", "SIZE", "TYPE", "PARTUUID", "NAME", "FSTYPE", "LABEL", "UUID" };
	size_t width[N_COLS];
	char ***rows;

	rows = calloc(d->n_parts, sizeof(char **));
	if (!rows && d->n_parts) {
		log_oom();
		return;
	}
	for (size_t c = 0; c < N_COLS; c++)
		width[c] = strlen(header[c]);
	for (size_t i = 0; i < d->n_parts; i++) {
		const struct part_info *p = &d->parts[i];
		const char *tn = type_name(p->type);
		char size[32];

		format_size(p->size, size, sizeof(size));
		rows[i] = calloc(N_COLS, sizeof(char *));
		if (!rows[i])
			continue;
		if (asprintf(&rows[i][0], "%u", p->number) < 0)
			rows[i][0] = NULL;
		if (asprintf(&rows[i][1], "%" PRIu64, p->start / 512) < 0)
			rows[i][1] = NULL;
		rows[i][2] = strdup(size);
		rows[i][3] = strdup(tn ? tn : p->type ? p->type : "-");
		rows[i][4] = strdup(p->uuid ? p->uuid : "-");
		rows[i][5] = strdup(p->name ? p->name : "-");
		rows[i][6] = strdup(p->fs.type ? p->fs.type : "-");
		rows[i][7] = strdup(p->fs.label ? p->fs.label : "-");
		rows[i][8] = strdup(p->fs.uuid ? p->fs.uuid : "-");
		for (size_t c = 0; c < N_COLS; c++)
			if (rows[i][c])
				width[c] = MAX(width[c], strlen(rows[i][c]));
	}

	for (size_t c = 0; c < N_COLS; c++)
		printf("%s%-*s", c ? "  " : "", c == N_COLS - 1 ? 0 : (int)width[c], header[c]);
	putchar('\n');
	for (size_t i = 0; i < d->n_parts; i++) {
		if (!rows[i])
			continue;
		for (size_t c = 0; c < N_COLS; c++) {
			const char *s = rows[i][c] ? rows[i][c] : "?";

			/* numbers right-aligned, text left-aligned */
			if (c <= 2)
				printf("%s%*s", c ? "  " : "", (int)width[c], s);
			else
				printf("  %-*s", c == N_COLS - 1 ? 0 : (int)width[c], s);
		}
		putchar('\n');
		for (size_t c = 0; c < N_COLS; c++)
			free(rows[i][c]);
		free(rows[i]);
	}
	free(rows);
}

/* The loader mlrig image put on the ESP, from the manifest, and what Secure Boot makes of it. */
static void print_loader(char *manifest) {
	_cleanup_free_ char *loader = NULL;
	bool is_signed;

	if (!manifest)
		return;
	manifest = string_strip(manifest);
	if (!json_valid(manifest) || json_read_string(json_member(manifest, "efi_loader"), &loader) < 0)
		return;
	if (json_read_bool(json_member(manifest, "efi_loader_signed"), &is_signed) < 0)
		printf("EFI loader: %s\n", loader);
	else
		printf("EFI loader: %s (%s)\n", loader,
		       is_signed ? "boots with Secure Boot on" : "unsigned: will not boot with Secure Boot on");
}

static void print_human(const struct disk_info *d, const char *manifest_path, char *manifest) {
	char size[32];

	format_size(d->size, size, sizeof(size));
	printf("Device: %s, %s (%" PRIu64 " bytes), sector size %u\n", arg_path, size, d->size, d->sector_size);
	if (d->pttype)
		printf("Partition table: %s, id %s\n", d->pttype, d->ptuuid ? d->ptuuid : "-");
	else
		printf("Partition table: none\n");
	if (d->fs.type)
		printf("File system on the whole device: %s%s%s%s%s\n", d->fs.type, d->fs.label ? ", label " : "",
		       d->fs.label ? d->fs.label : "", d->fs.uuid ? ", uuid " : "", d->fs.uuid ? d->fs.uuid : "");
	print_loader(manifest);
	if (d->n_parts > 0) {
		putchar('\n');
		print_table(d);
	}
	if (manifest) {
		char *m = string_strip(manifest);

		printf("\nManifest (%s):\n%s\n", manifest_path, m);
	}
}

static int run(void) {
	_cleanup_(disk_info_freep) struct disk_info *d = NULL;
	_cleanup_free_ char *manifest_path = NULL, *manifest = NULL;
	int r;

	r = disk_probe(arg_path, &d);
	if (r == -ENOTBLK)
		return log_error_errno(r, "'%s' is not a regular file or block device.", arg_path);
	if (r < 0)
		return log_error_errno(r, "Failed to open '%s': %m", arg_path);

	r = verb_find_manifest(arg_path, &manifest_path, &manifest);
	if (r < 0)
		return r;

	if (arg_json)
		r = print_json(d, manifest_path, manifest);
	else
		print_human(d, manifest_path, manifest);
	if (r < 0 || fflush(stdout) != 0)
		return log_error_errno(r < 0 ? r : negative_errno(), "Failed to write output: %m");

	if (!d->pttype && !d->fs.type)
		return log_error_errno(EMEDIUMTYPE, "'%s': no partition table or file system found.", arg_path);
	return EXIT_OK;
}

const struct cli_verb verb_inspect = { "inspect", parse_argv, run };
