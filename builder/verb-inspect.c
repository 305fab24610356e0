/* mlrig inspect: the partition table, partitions, file systems and manifest of an image or device. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "blkid-util.h"
#include "fileio.h"
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
	int c;

	arg_path = NULL;
	arg_json = false;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 0;
		case ARG_JSON:
			arg_json = true;
			break;
		default:
			return -EINVAL; /* getopt printed why */
		}
	}
	if (optind >= argc) {
		usage_error("inspect: no file or device given");
		return -EINVAL;
	}
	if (optind + 1 < argc) {
		usage_error("inspect: unexpected argument '%s'", argv[optind + 1]);
		return -EINVAL;
	}
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

static void json_string(FILE *f, const char *s) {
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_fs(FILE *f, const struct fs_info *fs) {
	if (!fs->type) {
		fputs("null", f);
		return;
	}
	fputs("{\"type\": ", f);
	json_string(f, fs->type);
	fputs(", \"label\": ", f);
	json_string(f, fs->label);
	fputs(", \"uuid\": ", f);
	json_string(f, fs->uuid);
	fputs(", \"version\": ", f);
	json_string(f, fs->version);
	fputc('}', f);
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

/* The manifest mlrig image writes next to its output: IMAGE.json, or IMAGE with .img/.raw replaced. */
static int find_manifest(const char *path, char **ret_path, char **ret_data) {
	static const char *const exts[] = { ".img", ".raw", ".iso" };
	char *candidate[2] = {};
	struct stat st;
	int r = 0;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (asprintf(&candidate[0], "%s.json", path) < 0)
		return log_oom();
	for (size_t i = 0; i < ELEMENTSOF(exts); i++)
		if (string_has_suffix(path, exts[i])) {
			if (asprintf(&candidate[1], "%.*s.json", (int)(strlen(path) - strlen(exts[i])), path) < 0) {
				r = log_oom();
				goto finish;
			}
			break;
		}
	for (size_t i = 0; i < ELEMENTSOF(candidate); i++) {
		size_t size;

		if (!candidate[i])
			continue;
		r = read_full_file(candidate[i], ret_data, &size);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0) {
			log_error_errno(r, "Failed to read manifest '%s': %m", candidate[i]);
			goto finish;
		}
		*ret_path = TAKE_PTR(candidate[i]);
		r = 1;
		break;
	}
finish:
	free(candidate[0]);
	free(candidate[1]);
	return r;
}

static void print_json(const struct disk_info *d, const char *manifest_path, char *manifest) {
	FILE *f = stdout;

	fputs("{\n  \"device\": ", f);
	json_string(f, arg_path);
	fprintf(f, ",\n  \"size\": %" PRIu64 ",\n  \"sector_size\": %u,\n  \"table\": ", d->size, d->sector_size);
	if (d->pttype) {
		fputs("{\"type\": ", f);
		json_string(f, d->pttype);
		fputs(", \"id\": ", f);
		json_string(f, d->ptuuid);
		fputc('}', f);
	} else
		fputs("null", f);
	fputs(",\n  \"filesystem\": ", f);
	json_fs(f, &d->fs);
	fputs(",\n  \"partitions\": [", f);
	for (size_t i = 0; i < d->n_parts; i++) {
		const struct part_info *p = &d->parts[i];

		fprintf(f, "%s\n    {\"number\": %u, \"start\": %" PRIu64 ", \"size\": %" PRIu64
			   ", \"start_sector\": %" PRIu64 ", \"sectors\": %" PRIu64 ", \"type\": ",
			i ? "," : "", p->number, p->start, p->size, p->start / 512, p->size / 512);
		json_string(f, p->type);
		fputs(", \"type_name\": ", f);
		json_string(f, type_name(p->type));
		fputs(", \"uuid\": ", f);
		json_string(f, p->uuid);
		fputs(", \"name\": ", f);
		json_string(f, p->name);
		fprintf(f, ", \"attrs\": %" PRIu64 ", \"filesystem\": ", p->flags);
		json_fs(f, &p->fs);
		fputc('}', f);
	}
	fputs(d->n_parts ? "\n  ],\n  \"manifest_path\": " : "],\n  \"manifest_path\": ", f);
	json_string(f, manifest_path);
	fputs(",\n  \"manifest\": ", f);
	if (!manifest)
		fputs("null", f);
	else {
		char *m = string_strip(manifest);

		/* it is JSON already; anything else is carried as a string rather than breaking ours */
		if (*m == '{' || *m == '[')
			fputs(m, f);
		else
			json_string(f, m);
	}
	fputs("\n}\n", f);
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
		return log_error_errno(r, "'%s' is not a regular file or block device.", arg_path), EXIT_FAIL;
	if (r < 0)
		return log_error_errno(r, "Failed to open '%s': %m", arg_path), EXIT_FAIL;

	r = find_manifest(arg_path, &manifest_path, &manifest);
	if (r < 0)
		return EXIT_FAIL;

	if (arg_json)
		print_json(d, manifest_path, manifest);
	else
		print_human(d, manifest_path, manifest);
	if (fflush(stdout) != 0)
		return log_error_errno(negative_errno(), "Failed to write output: %m"), EXIT_FAIL;

	if (!d->pttype && !d->fs.type) {
		log_error("'%s': no partition table or file system found.", arg_path);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int verb_inspect(int argc, char **argv) {
	int r;

	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	return run();
}
