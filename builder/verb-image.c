/* mlrig image: profile + rootfs tarball → reproducible GPT disk image, rootless. */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-util.h"
#include "fileio.h"
#include "hash-util.h"
#include "image-esp.h"
#include "image-ext4.h"
#include "image-gpt.h"
#include "image-rootfs.h"
#include "json.h"
#include "log.h"
#include "output.h"
#include "gpu-payload.h"
#include "packages.h"
#include "macro.h"
#include "parse-util.h"
#include "profile.h"
#include "progress.h"
#include "sha256.h"
#include "time-util.h"
#include "verbs.h"

#define ESP_START MiB
#define ESP_SIZE (128 * MiB)
#define DEFAULT_SIZE (4 * GiB)

static const char *arg_profile;
static const char *arg_rootfs;
static const char *arg_output;
static uint64_t arg_size;
static uint8_t arg_seed[16];
static bool arg_seed_set;
static bool arg_quiet;

static void help(void) {
	printf("Usage:\n"
	       " mlrig image -p PROFILE --rootfs TARBALL -o OUT.img [options]\n"
	       "\n"
	       "Build a bootable GPT disk image (ESP + ext4 root) from a root file system\n"
	       "tarball (.tar, .tar.gz, .tar.xz, .tar.zst), without root, loop devices or mounts.\n"
	       "Same inputs, seed and SOURCE_DATE_EPOCH give the same bytes.\n"
	       "\n"
	       "Options:\n"
	       " -p, --profile FILE   rig profile (see mlrig-profile(5))\n"
	       "     --rootfs FILE    root file system tarball\n"
	       " -o, --output FILE    the image to write; FILE.json gets the manifest\n"
	       "     --size SIZE      image size, e.g. 8G (default: [Image] Size=, else 4G)\n"
	       "     --seed UUID      seed for every GUID and UUID (default: [Image] Seed=,\n"
	       "                      else derived from the host name)\n"
	       " -q, --quiet          no progress line\n"
	       " -h, --help           display this help\n"
	       "\n"
	       "Environment: SOURCE_DATE_EPOCH overrides [Image] SourceDateEpoch=.\n");
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_ROOTFS = 0x100, ARG_SIZE, ARG_SEED };
	static const struct option options[] = {
		{ "profile", required_argument, NULL, 'p' }, { "rootfs", required_argument, NULL, ARG_ROOTFS },
		{ "output", required_argument, NULL, 'o' },  { "size", required_argument, NULL, ARG_SIZE },
		{ "seed", required_argument, NULL, ARG_SEED }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },          {}
	};
	int c, r;

	while ((c = getopt_long(argc, argv, ":p:o:qh", options, NULL)) >= 0)
		switch (c) {
		case 'p': arg_profile = optarg; break;
		case 'o': arg_output = optarg; break;
		case 'q': arg_quiet = true; break;
		case ARG_ROOTFS: arg_rootfs = optarg; break;
		case ARG_SIZE:
			if (parse_size(optarg, &arg_size) < 0 || arg_size == 0)
				return cli_usage_error("image", "--size=%s: not a size (e.g. 4G, 512M)", optarg);
			break;
		case ARG_SEED:
			if (uuid_parse(optarg, arg_seed) < 0)
				return cli_usage_error("image", "--seed=%s: not a UUID", optarg);
			arg_seed_set = true;
			break;
		case 'h': help(); return 0;
		default: return cli_option_error("image", c, argv);
		}
	r = cli_positional("image", argc, argv, NULL, 0, 0);
	if (r < 0)
		return r;
	if (!arg_profile || !arg_rootfs || !arg_output)
		return cli_usage_error("image", "needs -p PROFILE, --rootfs TARBALL and -o OUT.img");
	return 1;
}

struct hash_job {
	const char *path;
	char hex[HASH_HEX_MAX];
	int r;
};

static void *hash_thread(void *userdata) {
	struct hash_job *j = userdata;

	j->r = hash_file_hex(HASH_SHA256, j->path, j->hex);
	return NULL;
}

static void on_progress(uint64_t done, uint64_t total, void *userdata) {
	progress_update(userdata, done, total);
}

struct plan {
	uint64_t size, epoch;
	uint8_t seed[16], disk_guid[16], fs_uuid[16], hash_seed[16];
	uint32_t esp_volid;
	struct gpt_part parts[2];
	char root_uuid[37], esp_uuid[10];
};

/* Sizes and every identifier, all from the seed; EXIT_USAGE (said) for a size or epoch that cannot work. */
static int make_plan(const Profile *p, struct plan *pl) {
	uint8_t volid[16];

	pl->size = arg_size ?: p->image_size ?: DEFAULT_SIZE;
	pl->size = pl->size / MiB * MiB;
	if (pl->size < ESP_START + ESP_SIZE + 64 * MiB + MiB)
		return cli_input_error("Image size %llu MiB is too small: the ESP alone takes %llu MiB.",
				       (unsigned long long)(pl->size / MiB), (unsigned long long)((ESP_START + ESP_SIZE) / MiB));
	if (profile_source_date_epoch(p, &pl->epoch) < 0)
		return cli_input_error("SOURCE_DATE_EPOCH=%s: not a number of seconds.", getenv("SOURCE_DATE_EPOCH"));

	if (arg_seed_set)
		memcpy(pl->seed, arg_seed, 16);
	else if (p->seed_set)
		memcpy(pl->seed, p->seed, 16);
	else {
		/* no seed given: still reproducible, and different rigs get different ids */
		uint8_t d[32];
		sha256_buffer(p->hostname, strlen(p->hostname), d);
		memcpy(pl->seed, d, 16);
	}
	uuid_derive(pl->seed, "gpt-disk", pl->disk_guid);
	uuid_derive(pl->seed, "ext4-root", pl->fs_uuid);
	uuid_derive(pl->seed, "ext4-hash-seed", pl->hash_seed);
	uuid_derive(pl->seed, "esp-volume-id", volid);
	pl->esp_volid = (uint32_t)volid[0] << 24 | (uint32_t)volid[1] << 16 | (uint32_t)volid[2] << 8 | volid[3];
	uuid_format(pl->fs_uuid, pl->root_uuid);
	snprintf(pl->esp_uuid, sizeof(pl->esp_uuid), "%04X-%04X", pl->esp_volid >> 16, pl->esp_volid & 0xffff);

	pl->parts[0] = (struct gpt_part){ .name = "esp", .type = GPT_TYPE_ESP, .start = ESP_START, .size = ESP_SIZE };
	uuid_derive(pl->seed, "gpt-esp", pl->parts[0].uuid);
	/* the backup GPT takes the last 33 sectors: leave the last MiB to it */
	pl->parts[1] = (struct gpt_part){ .name = "root", .type = GPT_TYPE_ROOT_X86_64, .start = ESP_START + ESP_SIZE,
					  .size = pl->size - ESP_START - ESP_SIZE - MiB };
	uuid_derive(pl->seed, "gpt-root", pl->parts[1].uuid);
	return 0;
}

/* [Packages]: the rootfs's dpkg status, read from the tarball before anything is written, against
 * Install= and Debs=; EXIT_USAGE (said) when something cannot be installed. */
static int plan_packages(const Profile *p, struct packages_plan *ret) {
	_cleanup_free_ char *status = NULL, *error = NULL;
	_cleanup_(gpu_plan_release) struct gpu_plan gpu = {};
	_cleanup_strv_free_ char **names = NULL;
	size_t size = 0;
	int r;

	*ret = (struct packages_plan){};
	/* [GPU] first: its files are read and checked, and its packages join Install= */
	r = verb_gpu_plan("image", p, &gpu, &names);
	if (r != 0)
		return r;
	if (!names[0])
		return 0;
	r = archive_read_member(arg_rootfs, "var/lib/dpkg/status", 64 * MiB, &status, &size);
	if (r < 0 && r != -ENOENT) /* none at all: a rootfs without dpkg, everything from Debs= */
		return log_error_errno(r, "Cannot read var/lib/dpkg/status from %s: %m", arg_rootfs);
	r = packages_plan_make(p, names, status, size, "the rootfs's var/lib/dpkg/status", false, ret, NULL,
			       &error);
	if (r == -EINVAL)
		return cli_input_error("%s", error ?: "[Packages] Install= cannot be installed");
	if (r < 0)
		return log_error_errno(r, "%s", error ?: strerror(-r));
	if (ret->have_repo)
		log_info("image: the rig's repository carries %zu of the %zu .debs in %s", ret->res.n_install,
			 ret->repo.n_debs, p->debs);
	/* what mlrig check says about the versions, with the rootfs's own Python */
	if (gpu.cuda_version) {
		_cleanup_free_ char *python = gpu_python_version(status), *lines = NULL;

		if (gpu_plan_warnings(p, &gpu, python, &lines) < 0)
			return log_oom();
		if (lines)
			log_warning("%s", lines);
	}
	return 0;
}

static void json_input(JsonWriter *w, const char *key, const char *name, const char *hex) {
	json_key(w, key);
	json_object_begin(w);
	if (name)
		json_field_string(w, "name", name);
	json_field_string(w, "sha256", hex);
	json_object_end(w);
}

static int write_manifest(const char *path, const struct plan *pl, const Profile *p, const struct hash_job *rootfs,
			  const char *profile_hex, const char *keys_hex, const struct rootfs_result *res,
			  const struct ext4_stream_stats *st) {
	_cleanup_free_ char *text = NULL, *profile_copy = strdup(p->path), *rootfs_copy = strdup(rootfs->path);
	size_t size = 0;
	char guid[37], seed[37];
	JsonWriter w;
	int r;

	if (!profile_copy || !rootfs_copy)
		return -ENOMEM;
	r = json_memory_open(&w, &text, &size);
	if (r < 0)
		return r;
	uuid_format(pl->seed, seed);
	uuid_format(pl->disk_guid, guid);
	json_object_begin(&w);
	json_field_string(&w, "mlrig_version", MLRIG_VERSION);
	json_key(&w, "image");
	json_object_begin(&w);
	json_field_uint(&w, "size", pl->size);
	json_object_end(&w);
	/* who logs in: mlrig boot --ssh takes the user from here */
	json_key(&w, "rig");
	json_object_begin(&w);
	json_field_string(&w, "hostname", p->hostname);
	json_field_string(&w, "user", p->user);
	json_object_end(&w);
	json_key(&w, "inputs");
	json_object_begin(&w);
	json_input(&w, "profile", basename(profile_copy), profile_hex);
	json_input(&w, "authorized_keys", NULL, keys_hex);
	json_input(&w, "rootfs", basename(rootfs_copy), rootfs->hex);
	json_object_end(&w);
	json_field_string(&w, "seed", seed);
	json_field_uint(&w, "source_date_epoch", pl->epoch);
	json_field_string(&w, "disk_guid", guid);
	json_key(&w, "partitions");
	json_array_begin(&w);
	for (unsigned i = 0; i < ELEMENTSOF(pl->parts); i++) {
		char u[37];

		uuid_format(pl->parts[i].uuid, u);
		json_object_begin(&w);
		json_field_string(&w, "name", pl->parts[i].name);
		json_field_string(&w, "type", pl->parts[i].type);
		json_field_string(&w, "uuid", u);
		json_field_uint(&w, "start", pl->parts[i].start);
		json_field_uint(&w, "size", pl->parts[i].size);
		json_field_string(&w, "fs", i == 0 ? "vfat" : "ext4");
		json_field_string(&w, "fs_uuid", i == 0 ? pl->esp_uuid : pl->root_uuid);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_field_string(&w, "os", res->pretty_name);
	json_field_string(&w, "kernel", res->kernel);
	json_field_string(&w, "efi_loader", res->efi_loader);
	json_field_bool(&w, "efi_loader_signed", res->boot.shim_signed && res->boot.grub_signed);
	json_key(&w, "rootfs_entries");
	json_object_begin(&w);
	json_field_uint(&w, "files", st->files);
	json_field_uint(&w, "dirs", st->dirs);
	json_field_uint(&w, "symlinks", st->symlinks);
	json_field_uint(&w, "hardlinks", st->hardlinks);
	json_field_uint(&w, "devices", st->devices);
	json_field_uint(&w, "bytes", st->bytes);
	json_field_uint(&w, "skipped", st->skipped);
	json_object_end(&w);
	json_object_end(&w);
	r = json_memory_close(&w);
	if (r < 0)
		return r;
	return write_file_atomic(path, text, size, 0644);
}

/* The build itself, into the temp file at tmp; -errno once it has said why. */
static int build(const Profile *p, const struct plan *pl, const struct packages_plan *packages, const char *datadir,
		 int fd, const char *tmp, struct rootfs_result *res, struct ext4_stream_stats *stats) {
	_cleanup_free_ char *error = NULL;
	struct ext4_params ep = {
		.path = tmp, .offset = pl->parts[1].start, .size = pl->parts[1].size, .label = "rootfs",
		.source_date_epoch = pl->epoch,
	};
	struct rootfs_plan rp = { .profile = p, .datadir = datadir, .packages = packages, .epoch = pl->epoch };
	struct progress prog;
	double t0 = now_seconds();
	Ext4 *fs = NULL;
	char seed[37];
	int r;

	if (ftruncate(fd, (off_t)pl->size) < 0)
		return log_error_errno(negative_errno(), "Cannot size '%s' to %llu MiB: %m", tmp,
				       (unsigned long long)(pl->size / MiB));
	r = gpt_write(tmp, pl->disk_guid, pl->parts, ELEMENTSOF(pl->parts));
	if (r < 0)
		return log_error_errno(r, "Cannot write the partition table: %m");
	memcpy(ep.uuid, pl->fs_uuid, 16);
	memcpy(ep.hash_seed, pl->hash_seed, 16);
	r = ext4_create(&ep, &error);
	if (r < 0)
		return log_error_errno(r, "Cannot create the root file system: %s", error ?: strerror(-r));
	r = ext4_open(tmp, pl->parts[1].start, pl->epoch, &fs);
	if (r < 0)
		return log_error_errno(r, "Cannot open the new root file system: %m");

	uuid_format(pl->seed, seed);
	log_info("image: %s → %s (%llu MiB, seed %s, epoch %llu)", arg_rootfs, arg_output,
		 (unsigned long long)(pl->size / MiB), seed, (unsigned long long)pl->epoch);
	progress_init(&prog, "rootfs", arg_quiet);
	r = ext4_stream_tarball(fs, arg_rootfs, on_progress, &prog, stats, &error);
	progress_done(&prog);
	if (r == -ENOSPC) {
		ext4_free(fs);
		return log_error_errno(r, "%s does not fit in the image: %s. Use a larger --size or [Image] Size=.",
				       arg_rootfs, error ?: "file system full");
	}
	if (r < 0) {
		ext4_free(fs);
		return log_error_errno(r, "%s", error ?: strerror(-r));
	}
	log_info("image: rootfs streamed: %llu files, %llu MiB, %llu entries left out by image hygiene (%.1f s)",
		 (unsigned long long)stats->files, (unsigned long long)(stats->bytes / MiB),
		 (unsigned long long)stats->skipped, now_seconds() - t0);

	memcpy(rp.root_uuid, pl->root_uuid, sizeof(pl->root_uuid));
	memcpy(rp.esp_uuid, pl->esp_uuid, sizeof(pl->esp_uuid));
	r = rootfs_customise(fs, &rp, res, &error);
	if (r < 0) {
		ext4_free(fs);
		if (r == -ENOSPC)
			return log_error_errno(r, "The rig's files do not fit in the image: use a larger --size or [Image] Size=.");
		return log_error_errno(r, "%s", error ?: strerror(-r));
	}
	r = ext4_close(fs);
	if (r < 0)
		return log_error_errno(r, "Cannot write the root file system: %m");
	r = esp_build(tmp, pl->parts[0].start, pl->parts[0].size, pl->esp_volid, pl->epoch, res->esp, res->n_esp, &error);
	if (r < 0)
		return log_error_errno(r, "Cannot build the ESP: %s", error ?: strerror(-r));
	return 0;
}

/* What the rootfs lacks for Secure Boot or dual boot: the image is fine, but the rig may not be. */
static void warn_boot(const Profile *p, const struct rootfs_boot *b) {
	_cleanup_strv_free_ char **warnings = NULL;

	if (rootfs_boot_warnings(p, b, &warnings) < 0) {
		log_oom();
		return;
	}
	for (char **w = warnings; *w; w++)
		log_warning("image: %s", *w);
}

static int run(void) {
	_cleanup_(profile_freep) Profile *p = NULL;
	_cleanup_(packages_plan_release) struct packages_plan packages = {};
	_cleanup_free_ char *datadir = NULL, *manifest = NULL, *tmp = NULL;
	_cleanup_close_ int fd = -1;
	struct rootfs_result res = {};
	struct ext4_stream_stats stats = {};
	struct hash_job rootfs_hash = { .path = arg_rootfs };
	char profile_hex[HASH_HEX_MAX], keys_hex[HASH_HEX_MAX];
	struct plan pl = {};
	pthread_t hasher;
	bool hashing = false;
	double t0 = now_seconds();
	struct stat st;
	int r;

	r = verb_load_profile(arg_profile, &p);
	if (r != 0)
		return r;
	if (stat(arg_rootfs, &st) < 0)
		return cli_input_error_errno(errno, "Cannot use rootfs tarball '%s': %m", arg_rootfs);
	if (!S_ISREG(st.st_mode))
		return cli_input_error("Cannot use rootfs tarball '%s': not a regular file", arg_rootfs);
	r = make_plan(p, &pl);
	if (r != 0)
		return r;
	r = plan_packages(p, &packages);
	if (r != 0)
		return r;
	r = find_datadir(&datadir);
	if (r < 0)
		return log_oom();
	if (asprintf(&manifest, "%s.json", arg_output) < 0)
		return log_oom();

	/* hash the tarball on the other core while the main thread streams it */
	if (pthread_create(&hasher, NULL, hash_thread, &rootfs_hash) == 0)
		hashing = true;

	output_say_stale(arg_output);
	fd = output_open(arg_output, &tmp);
	if (fd < 0) {
		r = log_error_errno(fd, "Cannot create a file next to '%s': %m", arg_output);
		goto fail;
	}
	r = build(p, &pl, &packages, datadir, fd, tmp, &res, &stats);
	if (r < 0)
		goto fail;
	if (hashing) {
		pthread_join(hasher, NULL);
		hashing = false;
		if (rootfs_hash.r < 0) {
			r = log_error_errno(rootfs_hash.r, "Cannot hash '%s': %m", arg_rootfs);
			goto fail;
		}
	}
	if ((r = hash_file_hex(HASH_SHA256, arg_profile, profile_hex)) < 0 ||
	    (r = hash_file_hex(HASH_SHA256, p->authorized_keys, keys_hex)) < 0) {
		log_error_errno(r, "Cannot hash the inputs: %m");
		goto fail;
	}
	r = write_manifest(manifest, &pl, p, &rootfs_hash, profile_hex, keys_hex, &res, &stats);
	if (r < 0) {
		log_error_errno(r, "Cannot write '%s': %m", manifest);
		goto fail;
	}
	r = output_commit(fd, tmp, arg_output);
	if (r < 0) {
		log_error_errno(r, "Cannot rename '%s' to '%s': %m", tmp, arg_output);
		unlink(manifest);
		goto fail;
	}
	log_info("image: wrote %s (%llu MiB; %s, %s; boots with %s) in %.1f s", arg_output,
		 (unsigned long long)(pl.size / MiB), res.pretty_name, res.kernel, res.efi_loader, now_seconds() - t0);
	warn_boot(p, &res.boot);
	rootfs_result_release(&res);
	return EXIT_OK;

fail:
	if (hashing)
		pthread_join(hasher, NULL);
	rootfs_result_release(&res);
	output_discard(tmp);
	return r;
}

const struct cli_verb verb_image = { "image", parse_argv, run };
