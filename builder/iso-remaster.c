/* The libisofs remaster session: import, put, md5 recording, El Torito and system area rebuilt, write. */
/* The base's tree, El Torito entries and system area are imported, files
 * added or replaced, and the boot structure written again the way the base
 * had it (what xorriso's "-boot_image any replay" does, without xorriso). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "hash-util.h"
#include "iso-check.h"
#include "iso-remaster.h"
#include "isofs-util.h"
#include "macro.h"
#include "parse-util.h"

#define SECTOR 512
#define BLOCK 2048
#define WRITE_CHUNK (1024 * 1024)

struct Remaster {
	char *base;
	IsoImage *img;
	IsoDataSource *src;
	bool joliet;
	uint64_t epoch;
	struct media_flavour flavour;
	enum media_layout layout;
	struct boot_records boot;
	struct md5sum_txt_entry *md5;
	char **md5_paths;
	size_t n_md5;
};

Remaster *remaster_free(Remaster *r) {
	if (!r)
		return NULL;
	if (r->img)
		iso_image_unref(r->img);
	if (r->src)
		iso_data_source_unref(r->src);
	boot_records_release(&r->boot);
	for (size_t i = 0; i < r->n_md5; i++)
		free(r->md5_paths[i]);
	free(r->md5_paths);
	free(r->md5);
	free(r->base);
	free(r);
	return NULL;
}

const struct media_flavour *remaster_flavour(const Remaster *r) {
	return &r->flavour;
}

enum media_layout remaster_layout(const Remaster *r) {
	return r->layout;
}

static uint32_t le32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Before libisofs sees it: an ISO 9660 volume, not cut short, its trees without loops. */
static int check_base_file(const char *base, uint64_t *ret_size, char **ret_error) {
	_cleanup_close_ int fd = open(base, O_RDONLY | O_CLOEXEC);
	uint8_t pvd[BLOCK];
	uint64_t volume;
	struct stat st;
	size_t got = 0;
	int r;

	if (fd < 0)
		return set_error(ret_error, negative_errno(), "cannot open %s: %m", base);
	if (fstat(fd, &st) < 0)
		return set_error(ret_error, negative_errno(), "cannot stat %s: %m", base);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return set_error(ret_error, -EBADMSG, "%s is not a regular file", base);
	r = loop_pread(fd, pvd, sizeof(pvd), 16 * BLOCK, &got);
	if (r < 0)
		return set_error(ret_error, r, "cannot read %s: %m", base);
	if (got < sizeof(pvd) || pvd[0] != 1 || memcmp(pvd + 1, "CD001", 5) != 0)
		return set_error(ret_error, -EBADMSG, "%s is not an ISO 9660 image (no volume descriptor at 32 KiB)", base);
	volume = (uint64_t)le32(pvd + 80) * BLOCK;
	if (S_ISREG(st.st_mode) && volume > (uint64_t)st.st_size)
		return set_error(ret_error, -EBADMSG, "%s is truncated: %llu bytes, its volume descriptor says %llu", base,
				 (unsigned long long)st.st_size, (unsigned long long)volume);
	r = iso_check_trees(fd, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : volume, base, ret_error);
	if (r < 0)
		return r;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

int remaster_open(const char *base, uint64_t epoch, Remaster **ret, char **ret_error) {
	_cleanup_(remaster_freep) Remaster *r = NULL;
	_cleanup_(iso_read_opts_freep) IsoReadOpts *ro = NULL;
	_cleanup_(iso_read_image_features_destroyp) IsoReadImageFeatures *features = NULL;
	_cleanup_free_ char *info = NULL, *found = NULL;
	char **sa = NULL, **et = NULL;
	size_t n_sa = 0, n_et = 0;
	uint64_t file_size;
	const char *msg = NULL;
	int k;

	*ret_error = NULL;
	k = check_base_file(base, &file_size, ret_error);
	if (k < 0)
		return k;
	k = isofs_init();
	if (k < 0)
		return set_error(ret_error, k, "cannot start libisofs: %m");

	r = calloc(1, sizeof(*r));
	if (!r || !(r->base = strdup(base)))
		return -ENOMEM;
	r->epoch = epoch;
	k = isofs_data_source_new(base, &r->src);
	if (k < 0)
		return k;
	if ((k = iso_image_new("mlrig", &r->img)) < 0 || (k = iso_read_opts_new(&ro, 0)) < 0)
		return isofs_set_error(ret_error, k, "cannot read %s", base);
	iso_read_opts_load_system_area(ro, 1);
	iso_read_opts_keep_import_src(ro, 1); /* the appended partitions are copied from it */
	iso_read_opts_set_no_iso1999(ro, 1);
	k = iso_image_import(r->img, r->src, ro, &features);
	if (k < 0) {
		k = isofs_to_errno(k, &msg);
		return set_error(ret_error, k == -EIO ? -EBADMSG : k, "%s is not a readable ISO 9660 image: %s", base,
				 msg);
	}
	r->joliet = iso_read_image_features_has_joliet(features);

	k = isofs_read_file(r->img, "/.disk/info", &info, NULL);
	if (k == -ENOENT)
		return set_error(ret_error, -ENOENT, "%s has no .disk/info: not Ubuntu install media", base);
	if (k < 0)
		return set_error(ret_error, k, "cannot read .disk/info in %s: %m", base);
	k = media_detect_flavour(info, remaster_exists(r, "/preseed"), &r->flavour);
	if (k < 0)
		return set_error(ret_error, k, "%s: .disk/info says \"%s\": not Ubuntu install media", base, string_strip(info));

	if ((k = isofs_report(r->img, false, &sa, &n_sa)) < 0 || (k = isofs_report(r->img, true, &et, &n_et)) < 0) {
		isofs_report_free(sa, n_sa);
		return set_error(ret_error, k, "cannot analyse the boot records of %s: %m", base);
	}
	k = boot_records_parse(sa, n_sa, et, n_et, &r->boot);
	isofs_report_free(sa, n_sa);
	isofs_report_free(et, n_et);
	if (k < 0)
		return set_error(ret_error, k, "cannot analyse the boot records of %s: %m", base);
	k = media_detect_layout(&r->boot, &r->layout, &found);
	if (k == -EMEDIUMTYPE)
		return set_error(ret_error, k, "%s: unknown boot layout (known: %s; %s); found %s", base,
				 media_layout_to_string(MEDIA_LAYOUT_ISOLINUX),
				 media_layout_to_string(MEDIA_LAYOUT_GRUB), found ? found : "nothing");
	if (k < 0)
		return set_error(ret_error, k, "%s: %m", base);
	for (size_t i = 0; i < r->boot.n_appended; i++) {
		uint64_t end = (r->boot.appended[i].start + r->boot.appended[i].size) * SECTOR;

		if (end > file_size)
			return set_error(ret_error, -EBADMSG, "%s is truncated: %llu bytes, its partition %d ends at %llu", base,
					 (unsigned long long)file_size, r->boot.appended[i].number, (unsigned long long)end);
	}
	*ret = TAKE_PTR(r);
	return 0;
}

bool remaster_exists(Remaster *r, const char *path) {
	IsoNode *node = NULL;

	return iso_tree_path_to_node(r->img, path, &node) == 1 && node;
}

static int name_cmp(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int remaster_list_dir(Remaster *r, const char *path, char ***ret) {
	IsoNode *node = NULL, *child;
	IsoDirIter *it = NULL;
	char **names = NULL;
	size_t n = 0;
	int k;

	if (iso_tree_path_to_node(r->img, path, &node) != 1 || !node)
		return -ENOENT;
	if (iso_node_get_type(node) != LIBISO_DIR)
		return -ENOTDIR;
	k = iso_dir_get_children((IsoDir *)node, &it);
	if (k < 0)
		return isofs_to_errno(k, NULL);
	while (iso_dir_iter_next(it, &child) == 1) {
		char **nn = realloc(names, (n + 2) * sizeof(char *));

		if (nn) {
			names = nn;
			names[n + 1] = NULL;
			names[n] = strdup(iso_node_get_name(child));
		}
		if (!nn || !names[n]) {
			strv_freep(&names);
			iso_dir_iter_free(it);
			return -ENOMEM;
		}
		n++;
	}
	iso_dir_iter_free(it);
	if (!names && !(names = calloc(1, sizeof(char *))))
		return -ENOMEM;
	qsort(names, n, sizeof(char *), name_cmp);
	*ret = names;
	return 0;
}

int remaster_read(Remaster *r, const char *path, char **ret, size_t *ret_size) {
	return isofs_read_file(r->img, path, ret, ret_size);
}

static void stamp(IsoNode *node, time_t t) {
	iso_node_set_mtime(node, t);
	iso_node_set_atime(node, t);
	iso_node_set_ctime(node, t);
	iso_node_set_uid(node, 0);
	iso_node_set_gid(node, 0);
}

/* The directory at path, created (with parents) when missing. */
static int mkdir_p(Remaster *r, const char *path, IsoDir **ret) {
	_cleanup_free_ char *copy = strdup(path);
	IsoDir *dir = iso_image_get_root(r->img);

	if (!copy)
		return -ENOMEM;
	for (char *s = copy, *name; (name = strsep(&s, "/"));) {
		IsoNode *child = NULL;
		int k;

		if (!*name)
			continue;
		k = iso_dir_get_node(dir, name, &child);
		if (k == 1 && child) {
			if (iso_node_get_type(child) != LIBISO_DIR)
				return -ENOTDIR;
			dir = (IsoDir *)child;
			continue;
		}
		k = iso_image_add_new_dir(r->img, dir, name, &dir);
		if (k < 0)
			return isofs_to_errno(k, NULL);
		iso_node_set_permissions((IsoNode *)dir, 0755);
		stamp((IsoNode *)dir, (time_t)r->epoch);
	}
	*ret = dir;
	return 0;
}

/* Notes path's MD5 (hex) for md5sum.txt, replacing an earlier one. */
static int record_md5(Remaster *r, const char *path, const char *hex) {
	struct md5sum_txt_entry *e = NULL;

	while (*path == '/')
		path++;
	for (size_t i = 0; i < r->n_md5 && !e; i++)
		if (strcmp(r->md5_paths[i], path) == 0)
			e = &r->md5[i];
	if (!e) {
		char *p = strdup(path), **np;
		struct md5sum_txt_entry *ne = realloc(r->md5, (r->n_md5 + 1) * sizeof(*ne));

		if (ne)
			r->md5 = ne;
		np = realloc(r->md5_paths, (r->n_md5 + 1) * sizeof(char *));
		if (np)
			r->md5_paths = np;
		if (!p || !ne || !np) {
			free(p);
			return -ENOMEM;
		}
		r->md5_paths[r->n_md5] = p;
		e = &r->md5[r->n_md5++];
		e->path = p;
	}
	memcpy(e->md5, hex, sizeof(e->md5) - 1);
	e->md5[sizeof(e->md5) - 1] = 0;
	return 0;
}

static int put(Remaster *r, const char *path, void *data, size_t size, mode_t mode, bool record) {
	_cleanup_free_ char *dirpath = strdup(path);
	_cleanup_free_ void *owned = data;
	IsoDir *dir;
	IsoNode *old = NULL;
	IsoStream *stream = NULL;
	IsoFile *file = NULL;
	char *slash, *name;
	int k;

	if (!dirpath)
		return -ENOMEM;
	if (!data) {
		k = mkdir_p(r, path, &dir);
		if (k < 0)
			return k;
		iso_node_set_permissions((IsoNode *)dir, mode & 07777);
		stamp((IsoNode *)dir, (time_t)r->epoch);
		return 0;
	}
	slash = strrchr(dirpath, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*slash = 0;
	name = slash + 1;
	k = mkdir_p(r, dirpath, &dir);
	if (k < 0)
		return k;
	if (iso_dir_get_node(dir, name, &old) == 1 && old) {
		if (iso_node_get_type(old) == LIBISO_DIR)
			return -EISDIR;
		if (mode == 0)
			mode = iso_node_get_permissions(old);
		k = iso_node_remove(old);
		if (k < 0)
			return isofs_to_errno(k, NULL);
	}
	if (record) {
		char hex[HASH_HEX_MAX];

		k = hash_buffer_hex(HASH_MD5, data, size, hex);
		if (k >= 0)
			k = record_md5(r, path, hex);
		if (k < 0)
			return k;
	}
	/* the stream frees the buffer with free() */
	k = iso_memory_stream_new(owned, size, &stream);
	if (k < 0)
		return isofs_to_errno(k, NULL);
	owned = NULL;
	k = iso_image_add_new_file(r->img, dir, name, stream, &file);
	if (k < 0) {
		iso_stream_unref(stream); /* the file takes the reference only on success */
		return isofs_to_errno(k, NULL);
	}
	iso_node_set_permissions((IsoNode *)file, mode ? mode & 07777 : 0644);
	stamp((IsoNode *)file, (time_t)r->epoch);
	return 0;
}

int remaster_put(Remaster *r, const char *path, void *data, size_t size, mode_t mode) {
	return put(r, path, data, size, mode, true);
}

int remaster_put_file(Remaster *r, const char *path, const char *host_path, mode_t mode) {
	_cleanup_free_ char *dirpath = strdup(path);
	char hex[HASH_HEX_MAX];
	IsoNode *old = NULL, *node = NULL;
	IsoDir *dir;
	char *slash, *name;
	int k;

	if (!dirpath)
		return -ENOMEM;
	slash = strrchr(dirpath, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*slash = 0;
	name = slash + 1;
	/* the medium check reads the file whole: so do we, once, here (libisofs reads it again when writing) */
	k = hash_file_hex(HASH_MD5, host_path, hex);
	if (k < 0)
		return k;
	k = mkdir_p(r, dirpath, &dir);
	if (k < 0)
		return k;
	if (iso_dir_get_node(dir, name, &old) == 1 && old) {
		if (iso_node_get_type(old) == LIBISO_DIR)
			return -EISDIR;
		k = iso_node_remove(old);
		if (k < 0)
			return isofs_to_errno(k, NULL);
	}
	k = iso_tree_add_new_node(r->img, dir, name, host_path, &node);
	if (k < 0)
		return isofs_to_errno(k, NULL);
	if (iso_node_get_type(node) != LIBISO_FILE) {
		iso_node_remove(node);
		return -EINVAL;
	}
	iso_node_set_permissions(node, mode ? mode & 07777 : 0644);
	stamp(node, (time_t)r->epoch);
	return record_md5(r, path, hex);
}

static int update_md5sum(Remaster *r) {
	_cleanup_free_ char *text = NULL, *out = NULL;
	size_t size;
	int k;

	if (r->n_md5 == 0)
		return 0;
	k = isofs_read_file(r->img, "/md5sum.txt", &text, NULL);
	if (k == -ENOENT)
		return 0; /* the media check is optional; nothing to keep in step */
	if (k < 0)
		return k;
	k = md5sum_txt_update(text, r->md5, r->n_md5, &out);
	if (k < 0)
		return k;
	/* md5sum.txt does not list itself */
	size = strlen(out);
	return put(r, "/md5sum.txt", TAKE_PTR(out), size, 0, false);
}

/* The El Torito entries again, as the base had them. */
static int rebuild_el_torito(Remaster *r, char **ret_error) {
	const struct boot_records *b = &r->boot;
	IsoNode *cat = NULL;
	int k;

	iso_image_remove_boot_image(r->img);
	for (size_t i = 0; i < b->n_entries; i++) {
		const struct bootrec_entry *e = &b->entries[i];
		ElToritoBootImage *boot = NULL;
		_cleanup_free_ char *interval = NULL;
		const char *path = e->path;
		int opts = 0;

		if (!path) {
			if (asprintf(&interval, "--interval:appended_partition_%d:all::", e->appended) < 0)
				return -ENOMEM;
			path = interval;
		}
		k = i == 0 ? iso_image_set_boot_image(r->img, path, ELTORITO_NO_EMUL, b->catalog_path, &boot)
			   : iso_image_add_boot_image(r->img, path, ELTORITO_NO_EMUL, 0, &boot);
		if (k < 0)
			return isofs_set_error(ret_error, k, "cannot set El Torito entry %zu (%s)", i + 1, path);
		el_torito_set_boot_platform_id(boot, (uint8_t)e->platform);
		if (e->load_size)
			el_torito_set_load_size(boot, (short)MIN(e->load_size, 65535u));
		if (!e->bootable)
			el_torito_set_no_bootable(boot);
		if (e->boot_info_table)
			opts |= 1 << 0;
		if (e->grub2_boot_info)
			opts |= 1 << 9;
		opts |= (e->gpt_mention & 0x3f) << 2;
		if (e->apm_mention)
			opts |= 1 << 8;
		el_torito_set_isolinux_options(boot, opts, 0);
	}
	/* the new catalog node carries the time of now: pin it */
	if (b->catalog_path && iso_tree_path_to_node(r->img, b->catalog_path, &cat) == 1 && cat)
		stamp(cat, (time_t)r->epoch);
	return 0;
}

/* The system area: the base's first 16 sectors with its tables zeroed
 * (libisofs makes new ones), and the base's MBR, GPT and APM settings. */
static int set_system_area(Remaster *r, IsoWriteOpts *o, char **ret_error) {
	const struct boot_records *b = &r->boot;
	struct iso_interval_reader *ivr = NULL;
	_cleanup_free_ char *sa = calloc(1, 32768);
	char interval[] = "imported_iso:0s-15s:zero_mbrpt,zero_gpt,zero_apm:"; /* libisofs takes a char * */
	off_t bytes = 0;
	int k, options;

	if (!sa)
		return -ENOMEM;
	k = iso_interval_reader_new(r->img, interval, &ivr, &bytes, 0);
	if (k >= 0) {
		k = iso_interval_reader_read(ivr, (uint8_t *)sa, &(int){ 0 }, 0);
		iso_interval_reader_destroy(&ivr, 0);
	}
	if (k < 0)
		return isofs_set_error(ret_error, k, "cannot read the system area of %s", r->base);
	options = b->sa_options;
	if (!(options & 2) && b->mbr_active)
		options |= 1 << 15; /* --mbr-force-bootable */
	k = iso_write_opts_set_system_area(o, sa, options, 0);
	if (k >= 0 && (b->partition_offset || b->heads_per_cyl))
		k = iso_write_opts_set_part_offset(o, b->partition_offset, b->secs_per_head, b->heads_per_cyl);
	if (k >= 0 && (options & 2) && b->mbr_part1_type >= 0)
		k = iso_write_opts_set_iso_mbr_part_type(o, b->mbr_part1_type);
	if (k >= 0 && b->have_gpt_iso_type)
		k = iso_write_opts_set_iso_type_guid(o, (uint8_t *)b->gpt_iso_type, 1);
	if (k >= 0 && b->apm_block_size)
		k = iso_write_opts_set_hfsp_block_size(o, 0, b->apm_block_size);
	if (k < 0)
		return isofs_set_error(ret_error, k, "cannot set up the boot records");
	return 0;
}

/* Appended partitions are handed over by content (an interval of the base)
 * and laid out anew by libisofs after the new volume, as are the GPT and
 * MBR entries (the base's tables were zeroed). None of the base's absolute
 * positions is requested again, so a base whose old entries now overlap its
 * grown volume, or each other, cannot make libisofs refuse with
 * ISO_BOOT_GPT_OVERLAP the way xorriso's in-place replay does. */
static int set_appended_partitions(Remaster *r, IsoWriteOpts *o, char **ret_error) {
	static const uint8_t efi[16] = { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
					 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b };
	const struct boot_records *b = &r->boot;
	int k = 0;

	for (size_t i = 0; k >= 0 && i < b->n_appended; i++) {
		const struct bootrec_appended *a = &b->appended[i];
		_cleanup_free_ char *interval = NULL;

		if (asprintf(&interval, "imported_iso:%llud-%llud::", (unsigned long long)a->start,
			     (unsigned long long)(a->start + a->size - 1)) < 0)
			return -ENOMEM;
		k = iso_write_opts_set_partition_img(o, a->number, memcmp(a->type_guid, efi, 16) == 0 ? 0xef : 0x83,
						     interval, 1);
		if (k >= 0 && a->gpt) {
			k = iso_write_opts_set_part_type_guid(o, a->number, (uint8_t *)a->type_guid, 1);
			if (k >= 0)
				k = iso_write_opts_set_appended_as_gpt(o, 1);
		}
	}
	if (k < 0)
		return isofs_set_error(ret_error, k, "cannot set up the boot records");
	return 0;
}

static int write_opts(Remaster *r, IsoWriteOpts **ret, char **ret_error) {
	_cleanup_(iso_write_opts_freep) IsoWriteOpts *o = NULL;
	uint8_t guid[16] = {};
	char vol_uuid[17];
	struct tm tm;
	time_t t = (time_t)r->epoch;
	int k;

	k = iso_write_opts_new(&o, 0);
	if (k < 0)
		return isofs_to_errno(k, NULL);
	iso_write_opts_set_iso_level(o, 3);
	iso_write_opts_set_rockridge(o, 1);
	iso_write_opts_set_joliet(o, r->joliet);
	if (r->joliet) {
		iso_write_opts_set_joliet_longer_paths(o, 1);
		iso_write_opts_set_joliet_long_names(o, 1);
	}
	iso_write_opts_set_allow_deep_paths(o, 1);
	iso_write_opts_set_allow_longer_paths(o, 1);
	iso_write_opts_set_always_gmt(o, 1);
	/* the volume id as the base had it ("Ubuntu-Server 20.04.6 LTS amd64"), not d-characters */
	iso_write_opts_set_relaxed_vol_atts(o, 1);
	iso_write_opts_set_appendable(o, 0);
	/* xorriso's default 300 KiB of padding, which Ubuntu's media carry too (the GPT "Gap" after an appended ESP) */
	iso_write_opts_set_tail_blocks(o, 150);
	iso_write_opts_set_fifo_size(o, 2 * 1024); /* 4 MiB between libisofs' writer and us: stays in cache */

	/* reproducible: every volume date from the epoch, GPT GUIDs derived from it */
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	if (strftime(vol_uuid, sizeof(vol_uuid), "%Y%m%d%H%M%S00", &tm) != 16)
		return -EINVAL; /* years past 9999 do not fit an ISO date */
	iso_write_opts_set_pvd_times(o, t, t, 0, 0, vol_uuid);
	iso_write_opts_set_gpt_guid(o, guid, 2);

	k = set_system_area(r, o, ret_error);
	if (k >= 0)
		k = set_appended_partitions(r, o, ret_error);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(o);
	return 0;
}

int remaster_write(Remaster *r, int fd, void (*progress)(uint64_t done, uint64_t total, void *userdata),
		   void *userdata, char **ret_error) {
	_cleanup_(iso_write_opts_freep) IsoWriteOpts *o = NULL;
	_cleanup_free_ unsigned char *buf = NULL;
	struct burn_source *bs = NULL;
	uint64_t total, done = 0;
	int k;

	*ret_error = NULL;
	k = update_md5sum(r);
	if (k < 0)
		return set_error(ret_error, k, "cannot update md5sum.txt: %m");
	k = rebuild_el_torito(r, ret_error);
	if (k < 0)
		return k;
	k = write_opts(r, &o, ret_error);
	if (k < 0)
		return k;
	buf = malloc(WRITE_CHUNK);
	if (!buf)
		return -ENOMEM;
	k = iso_image_create_burn_source(r->img, o, &bs);
	if (k < 0)
		return isofs_set_error(ret_error, k, "cannot start writing the image");
	total = (uint64_t)bs->get_size(bs);
	for (;;) {
		/* libisofs hands out only full buffers: ask for exactly what is left at the end */
		int n = done >= total ? 0 : bs->read_xt(bs, buf, (int)MIN((uint64_t)WRITE_CHUNK, total - done));

		if (n < 0) {
			k = set_error(ret_error, -EIO, "libisofs failed while writing the image (reading %s?)", r->base);
			break;
		}
		if (n == 0) {
			k = 0;
			break;
		}
		k = loop_write(fd, buf, (size_t)n);
		if (k < 0) {
			set_error(ret_error, k, "cannot write the image: %m");
			bs->cancel(bs);
			break;
		}
		done += (uint64_t)n;
		if (progress)
			progress(done, total, userdata);
	}
	if (k >= 0 && done != total)
		k = set_error(ret_error, -EIO, "the image came out %llu bytes, expected %llu", (unsigned long long)done,
			      (unsigned long long)total);
	/* drain so libisofs' writer thread ends before the source goes */
	if (k < 0)
		while (bs->read_xt(bs, buf, WRITE_CHUNK) > 0)
			;
	bs->free_data(bs);
	free(bs);
	return k;
}
