/* Tests for the tarball → ext4 writer (checked with e2fsck and debugfs, not our own reader alone) and its hygiene. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "hash-util.h"
#include "process.h"
#include "image-ext4.h"
#include "image-hygiene.h"
#include "test.h"

#define EPOCH UINT64_C(1600000000)

/* ---- running the standard tools ---- */

static const char *tool(const char *name) {
	static char buf[256];
	const char *dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name) >= (int) sizeof(buf))
			continue;
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return name;
}

/* Runs argv, returns the exit status; stdout (and stderr when merge) into *out when given. */
static int run(char **argv, char **out, bool merge) {
	struct process_result res = {};
	int rc = process_run(&(struct process_options){
				     .argv = argv, .stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_CAPTURE,
				     .stderr_mode = merge ? PROCESS_TO_STDOUT : PROCESS_NULL,
			     }, &res);

	if (out)
		*out = res.out, res.out = NULL;
	process_result_release(&res);
	return rc;
}

static void assert_fsck_clean(const char *img) {
	char *argv[] = { (char *) tool("e2fsck"), "-fn", (char *) img, NULL };
	char *out = NULL;
	int rc = run(argv, &out, true);

	if (rc != 0)
		fprintf(stderr, "%s", out ? out : "");
	free(out);
	ASSERT_EQ(rc, 0);
}

static char *debugfs(const char *img, const char *fmt, const char *path) {
	char cmd[512], *out = NULL;
	char *argv[] = { (char *) tool("debugfs"), "-R", cmd, (char *) img, NULL };

	ASSERT_TRUE(snprintf(cmd, sizeof(cmd), fmt, path) < (int) sizeof(cmd));
	ASSERT_EQ(run(argv, &out, false), 0);
	ASSERT_TRUE(out != NULL);
	return out;
}

/* "User:  1234" → 1234, for debugfs's "Key: value" fields; base 8 for Mode. */
static long field(const char *text, const char *key, int base) {
	const char *p = strstr(text, key);

	if (!p)
		test_fail(__FILE__, __LINE__, "no '%s' in:\n%s", key, text);
	return strtol(p + strlen(key), NULL, base);
}

/* " mtime: 0x5f5e1000:00000000" → seconds */
static long time_field(const char *text, const char *key) {
	char k[32];
	const char *p;

	snprintf(k, sizeof(k), "%s: 0x", key);
	p = strstr(text, k);
	if (!p)
		test_fail(__FILE__, __LINE__, "no '%s' in:\n%s", key, text);
	return strtol(p + strlen(k), NULL, 16);
}

/* ---- building tarballs ---- */

struct tar {
	struct archive *a;
};

static void tar_open(struct tar *t, const char *path, int filter) {
	t->a = archive_write_new();
	ASSERT_TRUE(t->a);
	ASSERT_EQ(archive_write_set_format_pax(t->a), ARCHIVE_OK);
	if (filter != ARCHIVE_FILTER_NONE)
		ASSERT_EQ(archive_write_add_filter(t->a, filter), ARCHIVE_OK);
	ASSERT_EQ(archive_write_open_filename(t->a, path), ARCHIVE_OK);
}

static void tar_close(struct tar *t) {
	ASSERT_EQ(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
}

static struct archive_entry *entry_new(const char *path, unsigned type, unsigned perm, unsigned uid, unsigned gid,
				       time_t mtime) {
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_mtime(e, mtime, 0);
	return e;
}

static void tar_add(struct tar *t, struct archive_entry *e, const void *data, size_t size) {
	if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
		archive_entry_set_size(e, (la_int64_t) size);
	ASSERT_EQ(archive_write_header(t->a, e), ARCHIVE_OK);
	if (size > 0)
		ASSERT_EQ(archive_write_data(t->a, data, size), (la_ssize_t) size);
	archive_entry_free(e);
}

static void tar_dir(struct tar *t, const char *path, unsigned perm) {
	tar_add(t, entry_new(path, AE_IFDIR, perm, 0, 0, 1500000000), NULL, 0);
}

static void tar_file(struct tar *t, const char *path, const char *content) {
	tar_add(t, entry_new(path, AE_IFREG, 0644, 0, 0, 1500000000), content, strlen(content));
}

static char *pattern(size_t size, unsigned seed) {
	char *p = malloc(size);

	ASSERT_TRUE(p);
	for (size_t i = 0; i < size; i++)
		p[i] = (char) ('A' + (i * 7 + seed + i / 4096) % 26);
	return p;
}

#define LONG_TARGET "../../a/very/long/symlink/target/that/does/not/fit/in/the/inode/so/it/needs/a/block/of/its/own"

static void build_fixture(const char *path, int filter) {
	struct tar t;
	struct archive_entry *e;
	char *big = pattern(14000, 1);
	char *holey = pattern(3 * 4096, 2);
	static const char cap[20] = { 1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	memset(holey + 4096, 0, 4096); /* the middle block becomes a hole */

	tar_open(&t, path, filter);
	tar_dir(&t, "./", 0755);
	tar_dir(&t, "./etc/", 0755);
	tar_file(&t, "./etc/machine-id", "0123456789abcdef0123456789abcdef\n");
	tar_dir(&t, "./etc/ssh/", 0755);
	tar_file(&t, "./etc/ssh/ssh_host_ed25519_key", "PRIVATE\n");
	tar_file(&t, "./etc/ssh/ssh_host_ed25519_key.pub", "PUBLIC\n");
	tar_file(&t, "./etc/ssh/sshd_config", "PermitRootLogin no\n");

	/* a child before its directory, and a parent never listed at all ("usr/") */
	tar_add(&t, entry_new("./usr/bin/tool", AE_IFREG, 04755, 1234, 5678, 1500000000), "#!/bin/sh\n", 10);
	tar_add(&t, entry_new("./usr/bin/", AE_IFDIR, 0750, 7, 8, 1500000001), NULL, 0);

	tar_dir(&t, "./data/", 0755);
	tar_add(&t, entry_new("./data/big", AE_IFREG, 0644, 0, 0, 1500000000), big, 14000);
	tar_add(&t, entry_new("./data/holey", AE_IFREG, 0644, 0, 0, 1500000000), holey, 3 * 4096);
	tar_add(&t, entry_new("./data/secret", AE_IFREG, 0600, 1234, 5678, 1500000000), "s3cret", 6);
	e = entry_new("./data/short", AE_IFLNK, 0777, 0, 0, 1500000000);
	archive_entry_set_symlink(e, "big");
	tar_add(&t, e, NULL, 0);
	e = entry_new("./data/long", AE_IFLNK, 0777, 0, 0, 1500000000);
	archive_entry_set_symlink(e, LONG_TARGET);
	tar_add(&t, e, NULL, 0);
	e = entry_new("./data/hard", AE_IFREG, 0644, 0, 0, 1500000000);
	archive_entry_set_hardlink(e, "./data/big");
	tar_add(&t, e, NULL, 0);
	e = entry_new("./data/caps", AE_IFREG, 0755, 0, 0, 1500000000);
	archive_entry_xattr_add_entry(e, "user.mlrig", "hello", 5);
	archive_entry_xattr_add_entry(e, "security.capability", cap, sizeof(cap));
	tar_add(&t, e, "ping", 4);
	e = entry_new("./data/future", AE_IFREG, 0644, 0, 0, 2000000000);
	archive_entry_set_atime(e, 2100000000, 5);
	tar_add(&t, e, "later", 5);
	e = entry_new("./data/past", AE_IFREG, 0644, 0, 0, 1400000000);
	archive_entry_set_mtime(e, 1400000000, 123456789);
	tar_add(&t, e, "then", 4);

	tar_dir(&t, "./dev/", 0755);
	e = entry_new("./dev/null", AE_IFCHR, 0666, 0, 0, 1500000000);
	archive_entry_set_rdevmajor(e, 1);
	archive_entry_set_rdevminor(e, 3);
	tar_add(&t, e, NULL, 0);
	e = entry_new("./dev/sda", AE_IFBLK, 0660, 0, 6, 1500000000);
	archive_entry_set_rdevmajor(e, 8);
	archive_entry_set_rdevminor(e, 0);
	tar_add(&t, e, NULL, 0);
	e = entry_new("./dev/nvme", AE_IFBLK, 0660, 0, 6, 1500000000);
	archive_entry_set_rdevmajor(e, 259);
	archive_entry_set_rdevminor(e, 300);
	tar_add(&t, e, NULL, 0);
	tar_add(&t, entry_new("./run/fifo", AE_IFIFO, 0600, 0, 0, 1500000000), NULL, 0);

	tar_dir(&t, "./var/", 0755);
	tar_dir(&t, "./var/log/", 0755);
	tar_file(&t, "./var/log/syslog", "boot noise\n");
	tar_dir(&t, "./var/log/apt/", 0755);
	tar_file(&t, "./var/log/apt/history.log", "install x\n");
	tar_dir(&t, "./var/lib/apt/lists/", 0755);
	tar_dir(&t, "./var/lib/apt/lists/partial/", 0700);
	tar_file(&t, "./var/lib/apt/lists/deb.debian.org_dists_bullseye_InRelease", "lists\n");
	tar_file(&t, "./var/lib/systemd/random-seed", "seed");
	tar_file(&t, "./var/cache/apt/pkgcache.bin", "cache");
	tar_file(&t, "./var/cache/debconf/config.dat-old", "old");
	tar_file(&t, "./var/cache/debconf/config.dat", "new");
	tar_file(&t, "./root/.bash_history", "ls\n");
	/* a repeated directory and a repeated file: updated, not duplicated */
	tar_add(&t, entry_new("./data/", AE_IFDIR, 0711, 0, 0, 1500000002), NULL, 0);
	tar_file(&t, "./data/secret", "second");
	tar_close(&t);
	free(big);
	free(holey);
}

static void make_fs(const char *img, uint64_t size) {
	struct ext4_params p = {
		.path = img,
		.size = size,
		.uuid = { 1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 16 },
		.hash_seed = { 9, 9, 9, 9, 9, 9, 0x49, 9, 0x89, 9, 9, 9, 9, 9, 9, 9 },
		.label = "rigroot",
		.source_date_epoch = EPOCH,
	};
	ASSERT_OK(ext4_create(&p, NULL));
}

static int stream_into(const char *img, const char *tarball, struct ext4_stream_stats *stats, char **error) {
	Ext4 *fs = NULL;
	int r;

	make_fs(img, 64 * 1024 * 1024);
	ASSERT_OK(ext4_open(img, 0, EPOCH, &fs));
	r = ext4_stream_tarball(fs, tarball, NULL, NULL, stats, error);
	if (r < 0) {
		ext4_free(fs);
		return r;
	}
	ASSERT_OK(ext4_close(fs));
	return r;
}

/* ---- tests ---- */

/* stream_keeps_metadata's image: devices, FIFOs and clamped times */
static void check_special_files(void) {
	char *o;

	o = debugfs("root.img", "stat %s", "/dev/null");
	ASSERT_CONTAINS(o, "Type: character special");
	ASSERT_CONTAINS(o, "Device major/minor number: 01:03");
	ASSERT_EQ(field(o, "Mode:", 8), 0666);
	free(o);
	o = debugfs("root.img", "stat %s", "/dev/sda");
	ASSERT_CONTAINS(o, "Type: block special");
	ASSERT_CONTAINS(o, "Device major/minor number: 08:00");
	ASSERT_EQ(field(o, "Group:", 10), 6);
	free(o);
	o = debugfs("root.img", "stat %s", "/dev/nvme");
	ASSERT_CONTAINS(o, "Device major/minor number: 259:300");
	free(o);
	o = debugfs("root.img", "stat %s", "/run/fifo");
	ASSERT_CONTAINS(o, "Type: FIFO");
	free(o);

	/* times: clamped to the epoch, ctime = mtime, nanoseconds kept below the epoch */
	o = debugfs("root.img", "stat %s", "/data/future");
	ASSERT_EQ(time_field(o, "mtime"), (long) EPOCH);
	ASSERT_EQ(time_field(o, "atime"), (long) EPOCH);
	ASSERT_EQ(time_field(o, " ctime"), (long) EPOCH);
	ASSERT_EQ(time_field(o, "crtime"), (long) EPOCH);
	free(o);
	o = debugfs("root.img", "stat %s", "/data/past");
	ASSERT_EQ(time_field(o, "mtime"), 1400000000);
	ASSERT_EQ(time_field(o, " ctime"), 1400000000);
	ASSERT_CONTAINS(o, "mtime: 0x53724e00:1d6f3454"); /* 123456789 ns << 2 */
	free(o);
}

/* stream_keeps_metadata's image: what image hygiene leaves out, and a superblock without the clock */
static void check_hygiene_and_superblock(void) {
	char *o;

	/* hygiene */
	o = debugfs("root.img", "cat %s", "/etc/machine-id");
	ASSERT_STREQ(o, "uninitialized\n");
	free(o);
	o = debugfs("root.img", "stat %s", "/etc/machine-id");
	ASSERT_EQ(field(o, "Mode:", 8), 0444);
	free(o);
	o = debugfs("root.img", "ls -l %s", "/etc/ssh");
	ASSERT_CONTAINS(o, "sshd_config");
	ASSERT_TRUE(!strstr(o, "ssh_host_"));
	free(o);
	o = debugfs("root.img", "ls -l %s", "/var/log");
	ASSERT_CONTAINS(o, "apt");
	ASSERT_TRUE(!strstr(o, "syslog"));
	free(o);
	o = debugfs("root.img", "ls -l %s", "/var/log/apt");
	ASSERT_TRUE(!strstr(o, "history.log"));
	free(o);
	o = debugfs("root.img", "ls -l %s", "/var/lib/apt/lists");
	ASSERT_CONTAINS(o, "partial");
	ASSERT_TRUE(!strstr(o, "InRelease"));
	free(o);
	o = debugfs("root.img", "ls -l %s", "/var/cache/debconf");
	ASSERT_CONTAINS(o, "config.dat");
	ASSERT_TRUE(!strstr(o, "config.dat-old"));
	free(o);

	/* superblock times are the epoch, not the clock */
	{
		char *argv[] = { (char *) tool("dumpe2fs"), "-h", "root.img", NULL };
		ASSERT_EQ(run(argv, &o, false), 0);
		ASSERT_CONTAINS(o, "Filesystem volume name:   rigroot");
		ASSERT_CONTAINS(o, "metadata_csum");
		ASSERT_TRUE(!strstr(o, "orphan_file"));
		ASSERT_TRUE(!strstr(o, "metadata_csum_seed"));
		free(o);
	}
}

TEST(stream_keeps_metadata) {
	struct ext4_stream_stats st = {};
	char *err = NULL, *o;
	struct stat sb;

	build_fixture("root.tar", ARCHIVE_FILTER_NONE);
	ASSERT_OK(stream_into("root.img", "root.tar", &st, &err));
	assert_fsck_clean("root.img");

	ASSERT_EQ(st.files, 10); /* the repeated ./data/secret counts twice, machine-id is in skipped */
	ASSERT_EQ(st.symlinks, 2);
	ASSERT_EQ(st.hardlinks, 1);
	ASSERT_EQ(st.devices, 4);
	/* ssh keys (2), machine-id, syslog, history.log, lists file, random-seed, pkgcache.bin, -old, bash_history */
	ASSERT_EQ(st.skipped, 10);

	/* the image stays sparse */
	ASSERT_EQ(stat("root.img", &sb), 0);
	ASSERT_TRUE((uint64_t) sb.st_blocks * 512 < 16 * 1024 * 1024);

	o = debugfs("root.img", "stat %s", "/usr/bin/tool");
	ASSERT_EQ(field(o, "Mode:", 8), 04755);
	ASSERT_EQ(field(o, "User:", 10), 1234);
	ASSERT_EQ(field(o, "Group:", 10), 5678);
	ASSERT_CONTAINS(o, "Type: regular");
	free(o);

	o = debugfs("root.img", "stat %s", "/usr/bin");
	ASSERT_EQ(field(o, "Mode:", 8), 0750);
	ASSERT_EQ(field(o, "User:", 10), 7);
	ASSERT_EQ(field(o, "Group:", 10), 8);
	ASSERT_EQ(time_field(o, "mtime"), 1500000001);
	free(o);
	o = debugfs("root.img", "stat %s", "/usr");
	ASSERT_EQ(field(o, "Mode:", 8), 0755);
	ASSERT_EQ(field(o, "User:", 10), 0);
	ASSERT_EQ(time_field(o, "mtime"), (long) EPOCH);
	free(o);

	/* the later of the two entries wins */
	o = debugfs("root.img", "stat %s", "/data/secret");
	ASSERT_EQ(field(o, "Mode:", 8), 0644);
	ASSERT_EQ(field(o, "User:", 10), 0);
	ASSERT_EQ(field(o, "Size:", 10), 6);
	free(o);
	o = debugfs("root.img", "cat %s", "/data/secret");
	ASSERT_STREQ(o, "second");
	free(o);
	o = debugfs("root.img", "stat %s", "/data");
	ASSERT_EQ(field(o, "Mode:", 8), 0711);
	ASSERT_EQ(time_field(o, "mtime"), 1500000002);
	free(o);

	/* data spanning blocks, and the hard link sharing it */
	o = debugfs("root.img", "stat %s", "/data/big");
	ASSERT_EQ(field(o, "Links:", 10), 2);
	ASSERT_EQ(field(o, "Size:", 10), 14000);
	free(o);
	{
		char *big = pattern(14000, 1);
		o = debugfs("root.img", "cat %s", "/data/hard");
		ASSERT_TRUE(memcmp(o, big, 14000) == 0);
		free(o);
		free(big);
	}
	o = debugfs("root.img", "stat %s", "/data/holey");
	ASSERT_EQ(field(o, "Size:", 10), 3 * 4096);
	ASSERT_EQ(field(o, "Blockcount:", 10), 2 * 8); /* two 4 KiB blocks, the zero one is a hole */
	free(o);
	{
		char *holey = pattern(3 * 4096, 2);
		memset(holey + 4096, 0, 4096);
		o = debugfs("root.img", "cat %s", "/data/holey");
		ASSERT_TRUE(memcmp(o, holey, 3 * 4096) == 0);
		free(o);
		free(holey);
	}

	o = debugfs("root.img", "stat %s", "/data/short");
	ASSERT_CONTAINS(o, "Fast link dest: \"big\"");
	free(o);
	o = debugfs("root.img", "stat %s", "/data/long");
	ASSERT_CONTAINS(o, "Type: symlink");
	ASSERT_EQ(field(o, "Size:", 10), (long) strlen(LONG_TARGET));
	free(o);
	o = debugfs("root.img", "cat %s", "/data/long");
	ASSERT_STREQ(o, LONG_TARGET);
	free(o);

	o = debugfs("root.img", "ea_list %s", "/data/caps");
	ASSERT_CONTAINS(o, "user.mlrig (5) = \"hello\"");
	ASSERT_CONTAINS(o, "security.capability (20)");
	free(o);

	check_special_files();
	check_hygiene_and_superblock();
	free(err);
}

static void check_compressed(int filter, const char *name) {
	struct ext4_stream_stats st = {};
	char *err = NULL, *o;

	build_fixture(name, filter);
	ASSERT_OK(stream_into("c.img", name, &st, &err));
	assert_fsck_clean("c.img");
	ASSERT_EQ(st.files, 10); /* the repeated ./data/secret counts twice, machine-id is in skipped */
	o = debugfs("c.img", "cat %s", "/usr/bin/tool");
	ASSERT_STREQ(o, "#!/bin/sh\n");
	free(o);
	free(err);
}

TEST(stream_gzip) {
	check_compressed(ARCHIVE_FILTER_GZIP, "root.tar.gz");
}

TEST(stream_xz) {
	check_compressed(ARCHIVE_FILTER_XZ, "root.tar.xz");
}

TEST(stream_zstd) {
	check_compressed(ARCHIVE_FILTER_ZSTD, "root.tar.zst");
}

static void expect_bad_entry(const char *entry_path, const char *hardlink, const char *needle) {
	struct tar t;
	struct archive_entry *e;
	char *err = NULL;
	int r;

	tar_open(&t, "bad.tar", ARCHIVE_FILTER_NONE);
	tar_dir(&t, "./etc/", 0755);
	tar_file(&t, "./etc/ok", "fine");
	e = entry_new(entry_path, AE_IFREG, 0644, 0, 0, 1500000000);
	if (hardlink)
		archive_entry_set_hardlink(e, hardlink);
	tar_add(&t, e, hardlink ? NULL : "x", hardlink ? 0 : 1);
	tar_close(&t);

	r = stream_into("bad.img", "bad.tar", NULL, &err);
	ASSERT_EQ(r, -EINVAL);
	ASSERT_CONTAINS(err, "bad.tar: entry '");
	ASSERT_CONTAINS(err, needle);
	free(err);
}

TEST(reject_absolute_path) {
	expect_bad_entry("/etc/x", NULL, "'/etc/x': absolute path");
}

TEST(reject_dotdot) {
	expect_bad_entry("../x", NULL, "'../x': path escapes the root");
	expect_bad_entry("./etc/../../x", NULL, "escapes the root");
}

TEST(reject_bad_hardlinks) {
	expect_bad_entry("./etc/link", "./etc/missing", "hard link target './etc/missing' does not exist");
	expect_bad_entry("./etc/link", "../outside", "escapes the root");
}

TEST(truncated_tarball_fails) {
	struct tar t;
	char *data = pattern(200000, 3), *err = NULL;
	int r;

	tar_open(&t, "full.tar", ARCHIVE_FILTER_NONE);
	tar_dir(&t, "./etc/", 0755);
	tar_add(&t, entry_new("./etc/blob", AE_IFREG, 0644, 0, 0, 1500000000), data, 200000);
	tar_close(&t);
	ASSERT_EQ(truncate("full.tar", 100000), 0);

	r = stream_into("t.img", "full.tar", NULL, &err);
	ASSERT_TRUE(r < 0);
	ASSERT_CONTAINS(err, "full.tar: ");
	ASSERT_CONTAINS(err, "runcated");
	free(err);
	free(data);
}

TEST(corrupt_gzip_fails) {
	char *err = NULL;
	int fd, r;

	build_fixture("root.tar.gz", ARCHIVE_FILTER_GZIP);
	/* flip bytes in the middle of the deflate stream */
	fd = open("root.tar.gz", O_RDWR | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(pwrite(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, 200), 8);
	close(fd);
	r = stream_into("g.img", "root.tar.gz", NULL, &err);
	ASSERT_TRUE(r < 0);
	ASSERT_TRUE(err && strlen(err) > strlen("root.tar.gz: "));
	free(err);
}

TEST(full_fs_is_enospc) {
	struct tar t;
	char *data = pattern(8 * 1024 * 1024, 4), *err = NULL, name[64];
	int r;

	tar_open(&t, "huge.tar", ARCHIVE_FILTER_NONE);
	tar_dir(&t, "./big/", 0755);
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "./big/f%02d", i);
		data[0] = (char) i;
		tar_add(&t, entry_new(name, AE_IFREG, 0644, 0, 0, 1500000000), data, 8 * 1024 * 1024);
	}
	tar_close(&t);

	r = stream_into("n.img", "huge.tar", NULL, &err);
	ASSERT_EQ(r, -ENOSPC);
	ASSERT_CONTAINS(err, "huge.tar: file system full: needs ");
	ASSERT_CONTAINS(err, " MiB, have ");
	free(err);
	free(data);
}

TEST(reproducible) {
	char a[65], b[65], *err = NULL;

	build_fixture("root.tar", ARCHIVE_FILTER_NONE);
	ASSERT_OK(stream_into("a.img", "root.tar", NULL, &err));
	sleep(1);
	ASSERT_OK(stream_into("b.img", "root.tar", NULL, &err));
	ASSERT_OK(hash_file_hex(HASH_SHA256, "a.img", a));
	ASSERT_OK(hash_file_hex(HASH_SHA256, "b.img", b));
	ASSERT_STREQ(a, b);
}

TEST(helpers) {
	Ext4 *fs = NULL;
	char *data = NULL, **names = NULL, *o, *err = NULL;
	size_t size = 0;
	uint32_t mode = 0;
	uint64_t used = 0, total = 0;

	build_fixture("root.tar", ARCHIVE_FILTER_NONE);
	make_fs("h.img", 64 * 1024 * 1024);
	ASSERT_OK(ext4_open("h.img", 0, EPOCH, &fs));
	ASSERT_OK(ext4_stream_tarball(fs, "root.tar", NULL, NULL, NULL, &err));

	ASSERT_OK(ext4_write_file(fs, "/etc/hostname", "rig\n", 4, 0644, 0, 0));
	ASSERT_OK(ext4_read_file(fs, "/etc/hostname", &data, &size));
	ASSERT_STREQ(data, "rig\n");
	ASSERT_EQ(size, 4);
	free(data);
	/* replace: new content and owner, nothing of the old inode */
	ASSERT_OK(ext4_write_file(fs, "/etc/hostname", "gpu-rig\n", 8, 0600, 1000, 1000));
	ASSERT_OK(ext4_read_file(fs, "/etc/hostname", &data, &size));
	ASSERT_STREQ(data, "gpu-rig\n");
	free(data);
	ASSERT_OK(ext4_write_file(fs, "/data/caps", "new", 3, 0755, 0, 0)); /* had xattrs */
	ASSERT_OK(ext4_write_file(fs, "/data/big", "small", 5, 0644, 0, 0)); /* hard linked: /data/hard keeps */
	ASSERT_EQ(ext4_write_file(fs, "/nope/x", "x", 1, 0644, 0, 0), -ENOENT);
	ASSERT_EQ(ext4_write_file(fs, "/etc", "x", 1, 0644, 0, 0), -EISDIR);

	ASSERT_OK(ext4_mkdir_p(fs, "/var/lib/mlrig/state", 0700, 0, 0));
	ASSERT_OK(ext4_mkdir_p(fs, "/var/lib/mlrig/state", 0700, 0, 0));
	ASSERT_OK(ext4_stat(fs, "/var/lib/mlrig/state", &mode));
	ASSERT_EQ(mode, S_IFDIR | 0700);
	ASSERT_EQ(ext4_mkdir_p(fs, "/etc/hostname/x", 0755, 0, 0), -ENOTDIR);

	ASSERT_OK(ext4_symlink(fs, "/etc/localtime", "/usr/share/zoneinfo/Etc/UTC"));
	ASSERT_OK(ext4_symlink(fs, "/etc/localtime", "/usr/share/zoneinfo/Europe/Berlin"));
	ASSERT_OK(ext4_stat(fs, "/etc/localtime", &mode));
	ASSERT_EQ(mode, S_IFLNK | 0777);
	ASSERT_EQ(ext4_read_file(fs, "/etc/localtime", &data, &size), -ELOOP);
	/* followed inside the image: relative, absolute, through a link to a link; to nothing, a loop */
	ASSERT_OK(ext4_mkdir_p(fs, "/usr/lib/shim", 0755, 0, 0));
	ASSERT_OK(ext4_write_file(fs, "/usr/lib/shim/shimx64.efi.signed.latest", "MZ shim", 7, 0644, 0, 0));
	ASSERT_OK(ext4_symlink(fs, "/usr/lib/shim/shimx64.efi.signed", "shimx64.efi.signed.latest"));
	ASSERT_OK(ext4_symlink(fs, "/usr/lib/shim/abs", "/usr/lib/shim/shimx64.efi.signed"));
	ASSERT_OK(ext4_symlink(fs, "/usr/lib/shim/up", "../../lib/shim/abs"));
	ASSERT_EQ(ext4_read_file(fs, "/usr/lib/shim/shimx64.efi.signed", &data, &size), -ELOOP);
	for (const char *const *l = (const char *const[]){ "/usr/lib/shim/shimx64.efi.signed", "/usr/lib/shim/abs", "/usr/lib/shim/up", NULL }; *l; l++) {
		ASSERT_OK(ext4_read_file_follow(fs, *l, &data, &size));
		ASSERT_STREQ(data, "MZ shim");
		ASSERT_EQ(size, 7);
		free(data);
	}
	ASSERT_OK(ext4_read_file_follow(fs, "/etc/hostname", &data, &size)); /* no link: as ext4_read_file */
	ASSERT_STREQ(data, "gpu-rig\n");
	free(data);
	ASSERT_OK(ext4_symlink(fs, "/usr/lib/shim/gone", "shimx64.efi.signed.previous"));
	ASSERT_EQ(ext4_read_file_follow(fs, "/usr/lib/shim/gone", &data, &size), -ENOENT);
	ASSERT_OK(ext4_symlink(fs, "/usr/lib/shim/loop", "loop"));
	ASSERT_EQ(ext4_read_file_follow(fs, "/usr/lib/shim/loop", &data, &size), -ELOOP);
	ASSERT_EQ(ext4_read_file_follow(fs, "/usr/lib", &data, &size), -EISDIR);

	ASSERT_EQ(ext4_stat(fs, "/etc/none", &mode), -ENOENT);
	ASSERT_EQ(ext4_read_file(fs, "/etc/none", &data, &size), -ENOENT);
	ASSERT_OK(ext4_unlink(fs, "/etc/ssh/sshd_config"));
	ASSERT_EQ(ext4_unlink(fs, "/etc/ssh/sshd_config"), -ENOENT);
	ASSERT_EQ(ext4_unlink(fs, "/etc/ssh"), -EISDIR);

	ASSERT_OK(ext4_list_dir(fs, "/data", &names));
	ASSERT_STREQ(names[0], "big");
	ASSERT_STREQ(names[1], "caps");
	ASSERT_STREQ(names[2], "future");
	ASSERT_STREQ(names[3], "hard");
	ASSERT_STREQ(names[8], "short");
	ASSERT_TRUE(names[9] == NULL);
	for (char **n = names; *n; n++)
		free(*n);
	free(names);

	ASSERT_OK(ext4_usage(fs, &used, &total));
	ASSERT_EQ(total, 64 * 1024 * 1024);
	ASSERT_TRUE(used > 0 && used < total);
	ASSERT_OK(ext4_close(fs));

	assert_fsck_clean("h.img");
	o = debugfs("h.img", "stat %s", "/etc/hostname");
	ASSERT_EQ(field(o, "User:", 10), 1000);
	ASSERT_EQ(field(o, "Mode:", 8), 0600);
	ASSERT_EQ(time_field(o, "mtime"), (long) EPOCH);
	free(o);
	o = debugfs("h.img", "ea_list %s", "/data/caps");
	ASSERT_TRUE(!strstr(o, "user.mlrig"));
	free(o);
	o = debugfs("h.img", "stat %s", "/data/hard");
	ASSERT_EQ(field(o, "Links:", 10), 1);
	ASSERT_EQ(field(o, "Size:", 10), 14000);
	free(o);
	o = debugfs("h.img", "stat %s", "/etc/localtime");
	ASSERT_CONTAINS(o, "Europe/Berlin");
	free(o);
	free(err);
}

TEST(fs_inside_disk_image) {
	struct ext4_params p = {
		.path = "disk.img", .offset = 1024 * 1024, .size = 32 * 1024 * 1024, .source_date_epoch = EPOCH,
	};
	char prefix[4096], *o, *err = NULL;
	Ext4 *fs = NULL;
	int fd;

	/* a stand-in for the partition table in front of the partition */
	memset(prefix, 'G', sizeof(prefix));
	fd = open("disk.img", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, prefix, sizeof(prefix)), (ssize_t) sizeof(prefix));
	close(fd);

	build_fixture("root.tar", ARCHIVE_FILTER_NONE);
	ASSERT_OK(ext4_create(&p, NULL));
	ASSERT_OK(ext4_open("disk.img", p.offset, EPOCH, &fs));
	ASSERT_OK(ext4_stream_tarball(fs, "root.tar", NULL, NULL, NULL, &err));
	ASSERT_OK(ext4_close(fs));

	fd = open("disk.img", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	memset(prefix, 0, sizeof(prefix));
	ASSERT_EQ(read(fd, prefix, sizeof(prefix)), (ssize_t) sizeof(prefix));
	close(fd);
	for (size_t i = 0; i < sizeof(prefix); i++)
		ASSERT_EQ(prefix[i], 'G');

	assert_fsck_clean("disk.img?offset=1048576");
	o = debugfs("disk.img?offset=1048576", "cat %s", "/usr/bin/tool");
	ASSERT_STREQ(o, "#!/bin/sh\n");
	free(o);
	free(err);
}

TEST(messages) {
	struct tar t;
	char *data = pattern(70 * 1024 * 1024, 5), *err = NULL;

	tar_open(&t, "big.tar", ARCHIVE_FILTER_NONE);
	tar_add(&t, entry_new("./blob", AE_IFREG, 0644, 0, 0, 1500000000), data, 70 * 1024 * 1024);
	tar_close(&t);
	ASSERT_EQ(stream_into("m.img", "big.tar", NULL, &err), -ENOSPC);
	/* 70 MiB of data cannot fit a 64 MiB fs: the need is at least that */
	ASSERT_CONTAINS(err, "needs 70 MiB, have ");
	free(err);
	free(data);
}

/* What no root file system holds: refused, naming the entry. */
TEST(hostile_entries) {
	struct tar t;
	char *err = NULL;
	int fd;

	/* libarchive writes a PAX uid for what does not fit ustar: give it 2^32 */
	tar_open(&t, "uid.tar", ARCHIVE_FILTER_NONE);
	{
		struct archive_entry *e = entry_new("./big-owner", AE_IFREG, 0644, 0, 0, 1500000000);

		archive_entry_set_uid(e, INT64_C(4294967296));
		tar_add(&t, e, "x", 1);
	}
	tar_close(&t);
	ASSERT_EQ(stream_into("h.img", "uid.tar", NULL, &err), -EINVAL);
	ASSERT_CONTAINS(err, "entry './big-owner': owner 4294967296:0 out of range");
	free(err);

	tar_open(&t, "old.tar", ARCHIVE_FILTER_NONE);
	tar_add(&t, entry_new("./old", AE_IFREG, 0644, 0, 0, -5), "x", 1);
	tar_close(&t);
	ASSERT_EQ(stream_into("h.img", "old.tar", NULL, &err), -EINVAL);
	ASSERT_CONTAINS(err, "entry './old': time -5 out of range");
	free(err);

	tar_open(&t, "dup.tar", ARCHIVE_FILTER_NONE);
	tar_file(&t, "./x", "file");
	tar_add(&t, entry_new("./x", AE_IFLNK, 0777, 0, 0, 1500000000), NULL, 0);
	tar_close(&t);
	ASSERT_EQ(stream_into("h.img", "dup.tar", NULL, &err), -EINVAL);
	ASSERT_CONTAINS(err, "entry './x': a regular entry of that name came before");
	free(err);

	/* cut right after the first entry: no end-of-archive marker */
	tar_open(&t, "cut.tar", ARCHIVE_FILTER_NONE);
	tar_file(&t, "./a", "a");
	tar_file(&t, "./b", "b");
	tar_close(&t);
	fd = open("cut.tar", O_WRONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(ftruncate(fd, 1024));
	close(fd);
	ASSERT_EQ(stream_into("h.img", "cut.tar", NULL, &err), -EBADMSG);
	ASSERT_CONTAINS(err, "truncated tarball: it ends after 1024 bytes without the end-of-archive marker");
	free(err);
}

TEST(open_fails_cleanly) {
	Ext4 *fs = NULL;
	int fd;

	/* the failure paths free what they made (ASan would say otherwise) and leave *ret alone */
	ASSERT_EQ(ext4_open("missing.img", 0, EPOCH, &fs), -ENOENT);
	ASSERT_TRUE(fs == NULL);
	fd = open("zeros.img", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(ftruncate(fd, 4 * 1024 * 1024), 0);
	close(fd);
	ASSERT_TRUE(ext4_open("zeros.img", 1024 * 1024, EPOCH, &fs) < 0);
	ASSERT_TRUE(fs == NULL);
	ASSERT_TRUE(ext4_free(NULL) == NULL);
	ASSERT_EQ(ext4_close(NULL), 0);
}

TEST(hygiene_table) {
	ASSERT_EQ(hygiene_classify("etc/ssh/ssh_host_ed25519_key", false, true), HYGIENE_SKIP);
	ASSERT_EQ(hygiene_classify("etc/ssh/ssh_host_keys/x", false, true), HYGIENE_KEEP); /* '*' stops at '/' here */
	ASSERT_EQ(hygiene_classify("etc/ssh/sshd_config", false, true), HYGIENE_KEEP);
	ASSERT_EQ(hygiene_classify("etc/machine-id", false, true), HYGIENE_MACHINE_ID);
	ASSERT_EQ(hygiene_classify("etc/machine-id", true, false), HYGIENE_KEEP);
	ASSERT_EQ(hygiene_classify("var/lib/apt/lists/partial/x", false, true), HYGIENE_SKIP); /* and crosses it here */
	ASSERT_EQ(hygiene_classify("var/lib/apt/lists/partial", true, false), HYGIENE_KEEP);
	ASSERT_EQ(hygiene_classify("var/log/journal/x/system.journal", false, true), HYGIENE_SKIP);
	ASSERT_EQ(hygiene_classify("var/log/README", false, false), HYGIENE_KEEP); /* a symlink in var/log stays */
	ASSERT_EQ(hygiene_classify("var/cache/apt/pkgcache.bin", false, true), HYGIENE_SKIP);
	ASSERT_EQ(hygiene_classify("var/cache/apt/archives/x.bin", false, true), HYGIENE_KEEP);
	ASSERT_EQ(hygiene_classify("root/.bash_history", false, false), HYGIENE_SKIP);
	ASSERT_EQ(hygiene_classify("root/.bashrc", false, true), HYGIENE_KEEP);
}
