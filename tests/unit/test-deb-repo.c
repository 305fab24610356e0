/* builder/deb-file.c and deb-repo.c: .debs made by dpkg-deb and by hand, Packages against dpkg-scanpackages and apt, the bullseye fixture. */
#include <sys/stat.h>

#include "archive-util.h"
#include "deb-file.h"
#include "deb-repo.h"
#include "deb-resolve.h"
#include "fileio.h"
#include "fs-util.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"
#include "test-deb.h"
#include "test.h"

/* ---- reading .debs ---- */

static void need_program(const char *name) {
	char *path = NULL;

	if (process_find_program(name, &path) < 0)
		test_skip("%s is not installed", name);
	free(path);
}

static void write_text(const char *path, const char *text) {
	ASSERT_OK(write_file_atomic(path, text, strlen(text), 0644));
}

/* Runs argv; fails the test unless it exits 0. Returns its stdout. */
static char *run_ok(char **argv) {
	struct process_result res = {};
	char *out;
	int r = process_run(&(struct process_options){ .argv = argv, .stdout_mode = PROCESS_CAPTURE,
						       .stderr_mode = PROCESS_CAPTURE }, &res);

	if (r != 0)
		test_fail(__FILE__, __LINE__, "%s: %d: %s", argv[0], r, res.err ? res.err : "");
	out = res.out ? strdup(res.out) : strdup("");
	process_result_release(&res);
	return out;
}

/* A real .deb made by dpkg-deb from a control text: DIR/DEBIAN/control and one file. */
static void make_deb(const char *out, const char *control, const char *compression) {
	char *dir = NULL, *debian = NULL, *path = NULL, *z = NULL;

	need_program("dpkg-deb");
	/* the tree lies outside the directory the .deb goes to, where dpkg-scanpackages would look */
	ASSERT_TRUE(asprintf(&dir, "tree-%s", out) >= 0);
	for (char *c = dir; *c; c++)
		if (*c == '/')
			*c = '_';
	ASSERT_TRUE(asprintf(&debian, "%s/DEBIAN", dir) >= 0 && asprintf(&z, "-Z%s", compression) >= 0);
	ASSERT_TRUE(mkdir(dir, 0755) == 0 && mkdir(debian, 0755) == 0);
	ASSERT_TRUE(asprintf(&path, "%s/control", debian) >= 0);
	write_text(path, control);
	free(path);
	ASSERT_TRUE(asprintf(&path, "%s/README", dir) >= 0);
	write_text(path, "hello\n");
	free(run_ok((char *[]){ "dpkg-deb", "--root-owner-group", z, "--build", dir, (char *)out, NULL }));
	free(path);
	free(z);
	free(debian);
	free(dir);
}

/* sha256sum's answer, to check ours against a tool we did not write. */
static char *sha256sum(const char *path) {
	char *out = run_ok((char *[]){ "sha256sum", (char *)path, NULL });

	ASSERT_TRUE(strlen(out) > 64);
	out[64] = 0;
	return out;
}

struct member {
	const char *name;
	const void *data;
	size_t size;
};

/* An archive of members in memory: format is ar or tar, filter one of ARCHIVE_FILTER_*. */
static void *make_archive(bool ar, int filter, const struct member *m, size_t n, size_t *ret_size) {
	_cleanup_(archive_write_freep) struct archive *a = archive_write_new();
	size_t cap = 1 << 20, used = 0;
	char *buf = malloc(cap);

	ASSERT_TRUE(a && buf);
	ASSERT_EQ(ar ? archive_write_set_format_ar_bsd(a) : archive_write_set_format_ustar(a), ARCHIVE_OK);
	ASSERT_TRUE(archive_write_add_filter(a, filter) >= ARCHIVE_WARN);
	ASSERT_EQ(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)m[i].size);
		ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
		ASSERT_EQ(archive_write_data(a, m[i].data, m[i].size), (la_ssize_t)m[i].size);
	}
	ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
	*ret_size = used;
	return buf;
}

/* A hand-made .deb: debian-binary, a control member called member holding ./control (when
 * control is not NULL), data.tar.gz. */
static void make_odd_deb(const char *path, const char *version, const char *member, int filter, const char *control) {
	struct member tar = { "./control", control, control ? strlen(control) : 0 };
	struct member md5 = { "./md5sums", "x\n", 2 };
	size_t ctl_size = 0, data_size = 0, size = 0;
	void *ctl = make_archive(false, filter, control ? &tar : &md5, 1, &ctl_size);
	void *data = make_archive(false, ARCHIVE_FILTER_GZIP, &md5, 1, &data_size);
	struct member m[] = { { "debian-binary", version, strlen(version) }, { member, ctl, ctl_size },
			      { "data.tar.gz", data, data_size } };
	void *deb = make_archive(true, ARCHIVE_FILTER_NONE, m, member ? 3 : 1, &size);

	ASSERT_OK(write_file_atomic(path, deb, size, 0644));
	free(deb);
	free(ctl);
	free(data);
}

static const char control_htop[] =
	"Package: htop\n"
	"Version: 3.0.5-7\n"
	"Architecture: amd64\n"
	"Maintainer: Daniel Lange <DLange@debian.org>\n"
	"Installed-Size: 290\n"
	"Depends: libc6 (>= 2.15), libncursesw6 (>= 6), libnl-3-200 (>= 3.2.7), libnl-genl-3-200 (>= 3.2.7), libtinfo6 (>= 6)\n"
	"Suggests: lm-sensors, lsof, strace\n"
	"Section: utils\n"
	"Priority: optional\n"
	"Homepage: https://htop.dev/\n"
	"Description: interactive processes viewer\n"
	" Htop is an ncursed-based process viewer similar to top, but it\n"
	" allows one to scroll the list vertically and horizontally.\n";

TEST(deb_read_dpkg_deb_compressions) {
	static const char *const zs[] = { "gzip", "xz", "zstd", "none" };
	static const char *const members[] = { "control.tar.gz", "control.tar.xz", "control.tar.zst", "control.tar" };

	for (size_t i = 0; i < ELEMENTSOF(zs); i++) {
		struct deb_package p = {};
		char *path = NULL, *members_out, *sum;
		struct stat st;

		ASSERT_TRUE(asprintf(&path, "htop-%s.deb", zs[i]) >= 0);
		make_deb(path, control_htop, zs[i]);
		/* dpkg-deb compressed the control member as asked: check with binutils' ar, not us */
		need_program("ar");
		members_out = run_ok((char *[]){ "ar", "t", path, NULL });
		ASSERT_CONTAINS(members_out, members[i]);
		free(members_out);

		ASSERT_OK(deb_file_read(path, &p, NULL));
		ASSERT_STREQ(p.path, path);
		ASSERT_STREQ(p.name, "htop");
		ASSERT_STREQ(p.version, "3.0.5-7");
		ASSERT_STREQ(p.arch, "amd64");
		ASSERT_STREQ(deb_stanza_get(&p.control, "Homepage"), "https://htop.dev/");
		ASSERT_EQ(p.control.n_fields, 11);
		ASSERT_TRUE(stat(path, &st) == 0);
		ASSERT_EQ(p.size, st.st_size);
		sum = sha256sum(path);
		ASSERT_STREQ(p.sha256, sum);
		free(sum);
		deb_package_release(&p);
		free(path);
	}
}

static void expect_deb_error(const char *path, int error_code, const char *message) {
	struct deb_package p = {};
	char *error = NULL;
	int r = deb_file_read(path, &p, &error);

	if (r != error_code)
		test_fail(__FILE__, __LINE__, "%s: got %d (%s), wanted %d \"%s\"", path, r, error ? error : "", error_code,
			  message);
	ASSERT_STREQ(error, message);
	free(error);
}

TEST(deb_read_refusals_name_the_file) {
	make_deb("arm.deb", "Package: htop\nVersion: 1.0\nArchitecture: arm64\nMaintainer: m\nDescription: d\n", "xz");
	expect_deb_error("arm.deb", -EINVAL, "arm.deb: Architecture is 'arm64': only amd64 and all packages can be installed");
	make_deb("all.deb", "Package: doc\nVersion: 1.0\nArchitecture: all\nMaintainer: m\nDescription: d\n", "gzip");
	{
		struct deb_package p = {};

		ASSERT_OK(deb_file_read("all.deb", &p, NULL));
		ASSERT_STREQ(p.arch, "all");
		deb_package_release(&p);
	}

	write_text("garbage.deb", "this is not an ar archive at all, just some text\n");
	expect_deb_error("garbage.deb", -EINVAL, "garbage.deb: not a Debian package (not an ar archive)");
	write_text("empty.deb", "");
	expect_deb_error("empty.deb", -EINVAL, "empty.deb: not a Debian package (not an ar archive)");
	expect_deb_error("missing.deb", -ENOENT, "missing.deb: No such file or directory");
	ASSERT_TRUE(mkdir("dir.deb", 0755) == 0);
	expect_deb_error("dir.deb", -EINVAL, "dir.deb: not a regular file");

	make_odd_deb("nocontrol.deb", "2.0\n", NULL, ARCHIVE_FILTER_NONE, NULL);
	expect_deb_error("nocontrol.deb", -EINVAL, "nocontrol.deb: no control.tar member");
	{
		/* debian-binary, then data.tar.gz: the control member is missing, not late */
		struct member md5 = { "./md5sums", "x\n", 2 };
		size_t data_size = 0, size = 0;
		void *data = make_archive(false, ARCHIVE_FILTER_GZIP, &md5, 1, &data_size);
		struct member m[] = { { "debian-binary", "2.0\n", 4 }, { "data.tar.gz", data, data_size } };
		void *deb = make_archive(true, ARCHIVE_FILTER_NONE, m, 2, &size);

		ASSERT_OK(write_file_atomic("dataonly.deb", deb, size, 0644));
		expect_deb_error("dataonly.deb", -EINVAL, "dataonly.deb: no control.tar member before data.tar.gz");
		free(deb);
		free(data);
	}
	make_odd_deb("bz2.deb", "2.0\n", "control.tar.bz2", ARCHIVE_FILTER_BZIP2, control_htop);
	expect_deb_error("bz2.deb", -EINVAL,
			 "bz2.deb: control.tar.bz2: unsupported compression (dpkg writes control.tar, control.tar.gz, .xz or .zst)");
	make_odd_deb("v3.deb", "3.0\n", "control.tar.gz", ARCHIVE_FILTER_GZIP, control_htop);
	expect_deb_error("v3.deb", -EINVAL, "v3.deb: unsupported .deb format version '3.0' (dpkg reads 2.x)");
	make_odd_deb("nocontrolfile.deb", "2.0\n", "control.tar.xz", ARCHIVE_FILTER_XZ, NULL);
	expect_deb_error("nocontrolfile.deb", -EINVAL, "nocontrolfile.deb: control.tar.xz holds no ./control");
	make_odd_deb("nopkg.deb", "2.0\n", "control.tar.zst", ARCHIVE_FILTER_ZSTD, "Version: 1\nArchitecture: amd64\n");
	expect_deb_error("nopkg.deb", -EINVAL, "nopkg.deb: control has no Package field");
	make_odd_deb("nover.deb", "2.0\n", "control.tar", ARCHIVE_FILTER_NONE, "Package: a\nArchitecture: amd64\n");
	expect_deb_error("nover.deb", -EINVAL, "nover.deb: control has no Version field");
	make_odd_deb("badver.deb", "2.0\n", "control.tar.gz", ARCHIVE_FILTER_GZIP, "Package: a\nVersion: 1.0-\nArchitecture: all\n");
	expect_deb_error("badver.deb", -EINVAL, "badver.deb: invalid version '1.0-': revision number is empty");
	make_odd_deb("badname.deb", "2.0\n", "control.tar.gz", ARCHIVE_FILTER_GZIP, "Package: a_\x01\nVersion: 1\nArchitecture: all\n");
	expect_deb_error("badname.deb", -EINVAL,
			 "badname.deb: invalid package name 'a_\x01': character '\x01' not allowed (only letters, digits and '-+._')");
	make_odd_deb("baddep.deb", "2.0\n", "control.tar.gz", ARCHIVE_FILTER_GZIP,
		     "Package: a\nVersion: 1\nArchitecture: all\nDepends: b (>= 1\n");
	expect_deb_error("baddep.deb", -EINVAL, "baddep.deb: Depends: reference to 'b': version unterminated");
	make_odd_deb("badctl.deb", "2.0\n", "control.tar.gz", ARCHIVE_FILTER_GZIP, "Package: a\n continued\n\nPackage: b\n");
	expect_deb_error("badctl.deb", -EINVAL, "badctl.deb: control:4: a second stanza");
	{
		/* a control.tar.gz whose bytes are not gzip at all */
		struct member m[] = { { "debian-binary", "2.0\n", 4 }, { "control.tar.gz", "not gzip data, not tar either", 29 },
				      { "data.tar.gz", "x", 1 } };
		size_t size = 0;
		void *deb = make_archive(true, ARCHIVE_FILTER_NONE, m, 3, &size);
		struct deb_package p = {};
		char *error = NULL;

		ASSERT_OK(write_file_atomic("corrupt.deb", deb, size, 0644));
		ASSERT_TRUE(deb_file_read("corrupt.deb", &p, &error) < 0);
		ASSERT_CONTAINS(error, "corrupt.deb: control.tar.gz: cannot read it as gzip-compressed tar: ");
		free(error);
		free(deb);
	}
	{
		/* the first member is not debian-binary */
		struct member m[] = { { "control.tar.gz", "x", 1 } };
		size_t size = 0;
		void *deb = make_archive(true, ARCHIVE_FILTER_NONE, m, 1, &size);

		ASSERT_OK(write_file_atomic("first.deb", deb, size, 0644));
		expect_deb_error("first.deb", -EINVAL,
				 "first.deb: not a Debian package (its first member is 'control.tar.gz', not debian-binary)");
		free(deb);
	}
}

TEST(deb_read_truncated) {
	char *data = NULL, *error = NULL;
	size_t size;
	struct deb_package p = {};

	make_deb("good.deb", control_htop, "xz");
	const char *data_member;

	ASSERT_OK(read_full_file("good.deb", &data, &size));
	data_member = memmem(data, size, "data.tar", 8);
	ASSERT_TRUE(data_member);
	/* every cut is refused with the file named, inside the data member too */
	for (size_t cut = 1; cut < size; cut += 7) {
		ASSERT_OK(write_file_atomic("cut.deb", data, cut, 0644));
		if (deb_file_read("cut.deb", &p, &error) >= 0)
			test_fail(__FILE__, __LINE__, "cut at %zu of %zu read fine", cut, size);
		ASSERT_CONTAINS(error, "cut.deb: ");
		if (cut > (size_t)(data_member - data) + 60)
			ASSERT_STREQ(error, "cut.deb: truncated (data.tar.xz is cut short)");
	}
	free(error);
	free(data);
}

/* ---- the flat repository ---- */

/* Drops the lines dpkg-scanpackages writes that the repository leaves out (MD5sum, SHA1). */
static char *drop_weak_sums(const char *packages) {
	char *out = NULL, *copy = strdup(packages), *p = copy, *line;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	ASSERT_TRUE(f && copy);
	while ((line = next_line(&p)))
		if (strncmp(line, "MD5sum: ", 8) != 0 && strncmp(line, "SHA1: ", 6) != 0)
			fprintf(f, "%s\n", line);
		else
			continue;
	fclose(f);
	free(copy);
	return out;
}

/* What `dpkg-scanpackages -m . /dev/null` writes, run in dir. */
static char *packages_of_scanpackages(const char *dir) {
	struct process_result res = {};
	char *out, *cwd = getcwd(NULL, 0);

	ASSERT_TRUE(cwd && chdir(dir) == 0);
	ASSERT_EQ(process_run(&(struct process_options){ .argv = (char *[]){ "dpkg-scanpackages", "-m", ".", "/dev/null", NULL },
							 .stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_CAPTURE }, &res), 0);
	ASSERT_TRUE(chdir(cwd) == 0);
	out = strdup(res.out);
	process_result_release(&res);
	free(cwd);
	return out;
}

static const char control_odd_fields[] =
	"Description: a package with odd fields   \n"
	" first line  \n"
	" .\n"
	" ..\n"
	"   indented\n"
	"Version: 1.1-1\n"
	"X-Zeta: z\n"
	"Package: zed\n"
	"alpha-FIELD: a\n"
	"Maintainer: Me <me@example.com>\n"
	"Original-Maintainer: Orig <o@example.com>\n"
	"Architecture: amd64\n"
	"Multi-Arch: foreign\n"
	"Provides: zed-abi (= 1)\n"
	"Pre-Depends: dpkg (>= 1.19)\n"
	"Depends: libc6 (>= 2.0),\n"
	"  bar | baz\n"
	"Homepage: https://example.com\n"
	"Priority: optional\n"
	"Section: utils\n"
	"Installed-Size: 12\n"
	"Xb: b\n";

TEST(repo_packages_as_dpkg_scanpackages) {
	struct deb_repo repo = {};
	char *ours, *theirs, *copy, *error = NULL;

	need_program("dpkg-scanpackages");
	ASSERT_TRUE(mkdir("repo", 0755) == 0);
	make_deb("repo/zed_1.1-1_amd64.deb", control_odd_fields, "xz");
	make_deb("repo/zed_1.0-1_amd64.deb", "Package: zed\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: m\nDescription: d\n", "gzip");
	make_deb("repo/htop_3.0.5-7_amd64.deb", control_htop, "zstd");
	make_deb("repo/doc.deb", "Package: a-doc\nVersion: 1:2.0~rc1\nArchitecture: all\nMaintainer: m\nDescription: d\n", "none");
	write_text("repo/README", "not a package\n");

	ASSERT_OK(deb_repo_build("repo", &repo, &error));
	ASSERT_EQ(repo.n_debs, 4);
	ASSERT_EQ(repo.n_files, 1);
	ASSERT_STREQ(repo.files[0].path, "Packages");
	ASSERT_EQ(repo.files[0].size, strlen(repo.files[0].data));
	ASSERT_STREQ(repo.debs[0].name, "a-doc");
	ASSERT_STREQ(repo.debs[1].name, "htop");
	ASSERT_STREQ(repo.debs[2].version, "1.0-1");
	ASSERT_STREQ(repo.debs[3].version, "1.1-1");
	ASSERT_STREQ(deb_repo_filename(&repo.debs[1]), "htop_3.0.5-7_amd64.deb");

	/* byte for byte what dpkg-scanpackages writes, less the MD5sum and SHA1 lines */
	theirs = packages_of_scanpackages("repo");
	copy = drop_weak_sums(theirs);
	ours = repo.files[0].data;
	ASSERT_STREQ(ours, copy);
	ASSERT_CONTAINS(ours, "Alpha-Field: a\nOriginal-Maintainer: Orig <o@example.com>\nX-Zeta: z\nXb: b\n\n");
	free(copy);
	free(theirs);
	deb_repo_release(&repo);
	deb_repo_release(&repo); /* released twice is fine */
	free(error);
}

TEST(repo_filename_size_sha256_rederived) {
	struct deb_repo repo = {};
	struct deb_stanza *s = NULL;
	size_t n = 0;

	ASSERT_TRUE(mkdir("repo", 0755) == 0);
	make_deb("repo/htop.deb", control_htop, "xz");
	make_deb("repo/b.deb", "Package: b\nVersion: 1.10\nArchitecture: all\nMaintainer: m\nDescription: d\n", "gzip");
	make_deb("repo/a.deb", "Package: b\nVersion: 1.9\nArchitecture: all\nMaintainer: m\nDescription: d\n", "gzip");
	ASSERT_OK(deb_repo_build("repo", &repo, NULL));
	ASSERT_OK(deb_control_parse(repo.files[0].data, repo.files[0].size, "Packages", &s, &n, NULL));
	ASSERT_EQ(n, 3);
	/* dpkg's order, not the string order dpkg-scanpackages sorts versions by: 1.9 before 1.10 */
	ASSERT_STREQ(deb_stanza_get(&s[0], "Version"), "1.9");
	ASSERT_STREQ(deb_stanza_get(&s[1], "Version"), "1.10");
	for (size_t i = 0; i < n; i++) {
		const char *filename = deb_stanza_get(&s[i], "Filename"), *size = deb_stanza_get(&s[i], "Size");
		char *path = NULL, *sum, *want_size = NULL;
		struct stat st;

		ASSERT_TRUE(filename && size && string_has_prefix(filename, "./"));
		ASSERT_TRUE(asprintf(&path, "repo/%s", filename + 2) >= 0);
		ASSERT_TRUE(stat(path, &st) == 0);
		ASSERT_TRUE(asprintf(&want_size, "%jd", (intmax_t)st.st_size) >= 0);
		ASSERT_STREQ(size, want_size);
		sum = sha256sum(path);
		ASSERT_STREQ(deb_stanza_get(&s[i], "SHA256"), sum);
		ASSERT_TRUE(!deb_stanza_get(&s[i], "MD5sum"));
		free(sum);
		free(want_size);
		free(path);
	}
	deb_stanzas_free(s, n);
	deb_repo_release(&repo);
}

TEST(repo_refusals) {
	struct deb_repo repo = {};
	char *error = NULL;

	ASSERT_TRUE(mkdir("repo", 0755) == 0 && mkdir("other", 0755) == 0);
	write_text("repo/.hidden.deb", "a half-written download, skipped\n");
	ASSERT_OK(deb_repo_build("repo", &repo, NULL)); /* empty: a repository without packages */
	ASSERT_EQ(repo.n_debs, 0);
	ASSERT_STREQ(repo.files[0].data, "");
	deb_repo_release(&repo);

	make_deb("repo/one.deb", control_htop, "xz");
	make_deb("repo/two.deb", control_htop, "gzip");
	ASSERT_EQ(deb_repo_build("repo", &repo, &error), -EINVAL);
	ASSERT_STREQ(error, "repo/one.deb and repo/two.deb are both htop 3.0.5-7 amd64");
	make_deb("other/one.deb", "Package: one\nVersion: 1\nArchitecture: all\nMaintainer: m\nDescription: d\n", "xz");
	ASSERT_EQ(deb_repo_build_files((char *[]){ "repo/one.deb", "other/one.deb" }, 2, &repo, &error), -EINVAL);
	ASSERT_STREQ(error, "repo/one.deb and other/one.deb have the same file name");
	write_text("repo/three.deb", "garbage");
	ASSERT_EQ(deb_repo_build("repo", &repo, &error), -EINVAL);
	ASSERT_STREQ(error, "repo/three.deb: not a Debian package (not an ar archive)");
	ASSERT_EQ(deb_repo_build("nosuchdir", &repo, &error), -ENOENT);
	ASSERT_STREQ(error, "nosuchdir: No such file or directory");
	free(error);
}

/* A private apt configuration in the test's directory reading "deb [trusted=yes] file:DIR ./",
 * on top of status (a dpkg status file's path, or /dev/null). */
static void write_apt_config(const char *repo_dir, const char *status) {
	char *conf = NULL, *sources = NULL;
	const char *t = test_dir();

	ASSERT_TRUE(mkdir("apt", 0755) == 0 && mkdir("apt/parts", 0755) == 0 && mkdir("apt/lists", 0755) == 0 &&
		    mkdir("apt/lists/partial", 0755) == 0 && mkdir("apt/cache", 0755) == 0 &&
		    mkdir("apt/cache/archives", 0755) == 0 && mkdir("apt/cache/archives/partial", 0755) == 0);
	ASSERT_TRUE(asprintf(&sources, "deb [trusted=yes] file:%s/%s ./\n", t, repo_dir) >= 0);
	write_text("apt/sources.list", sources);
	ASSERT_TRUE(asprintf(&conf,
			     "Dir::Etc::Parts \"%1$s/apt/parts\";\n"
			     "Dir::Etc::SourceParts \"%1$s/apt/parts\";\n"
			     "Dir::Etc::SourceList \"%1$s/apt/sources.list\";\n"
			     "Dir::Etc::Preferences \"/dev/null\";\n"
			     "Dir::State::Lists \"%1$s/apt/lists\";\n"
			     "Dir::State::status \"%2$s\";\n"
			     "Dir::Cache \"%1$s/apt/cache\";\n"
			     "Debug::NoLocking \"true\";\n"
			     "APT::Sandbox::User \"root\";\n"
			     "APT::Architecture \"amd64\";\n"
			     "APT::Architectures { \"amd64\"; };\n"
			     "APT::Install-Recommends \"false\";\n",
			     t, status) >= 0);
	write_text("apt/apt.conf", conf);
	free(conf);
	free(sources);
}

/* Runs apt-get with the private configuration; its status, and its output in *ret_out. */
static int apt_get(char **argv, char **ret_out) {
	char *env = NULL;
	struct process_result res = {};
	int r;

	ASSERT_TRUE(asprintf(&env, "APT_CONFIG=%s/apt/apt.conf", test_dir()) >= 0);
	r = process_run(&(struct process_options){ .argv = argv, .env_set = (char *[]){ env, NULL },
						   .stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_TO_STDOUT,
						   .timeout_ms = 120 * 1000 }, &res);
	ASSERT_OK(r);
	*ret_out = strdup(res.out ? res.out : "");
	process_result_release(&res);
	free(env);
	return r;
}

static void write_repo_files(const char *dir, const struct deb_repo *repo) {
	for (size_t i = 0; i < repo->n_files; i++) {
		char *path = NULL;

		ASSERT_TRUE(asprintf(&path, "%s/%s", dir, repo->files[i].path) >= 0);
		ASSERT_OK(write_file_atomic(path, repo->files[i].data, repo->files[i].size, 0644));
		free(path);
	}
}

TEST(repo_apt_reads_it) {
	struct deb_repo repo = {};
	char *out = NULL, *sum;

	need_program("apt-get");
	ASSERT_TRUE(mkdir("repo", 0755) == 0 && mkdir("dl", 0755) == 0);
	make_deb("repo/zed_1.1-1_amd64.deb", control_odd_fields, "xz");
	make_deb("repo/htop_3.0.5-7_amd64.deb", control_htop, "zstd");
	make_deb("repo/a-doc.deb", "Package: a-doc\nVersion: 1:2.0~rc1\nArchitecture: all\nMaintainer: m\nDescription: d\n", "none");
	ASSERT_OK(deb_repo_build("repo", &repo, NULL));
	write_repo_files("repo", &repo);
	write_apt_config("repo", "/dev/null");
	if (apt_get((char *[]){ "apt-get", "-q", "update", NULL }, &out) != 0)
		test_fail(__FILE__, __LINE__, "apt-get update: %s", out);
	ASSERT_TRUE(!strstr(out, "W: ") && !strstr(out, "E: "));
	free(out);
	/* apt checks Size and SHA256 as it fetches each one */
	ASSERT_TRUE(chdir("dl") == 0);
	if (apt_get((char *[]){ "apt-get", "-q", "download", "zed=1.1-1", "htop", "a-doc=1:2.0~rc1", NULL }, &out) != 0)
		test_fail(__FILE__, __LINE__, "apt-get download: %s", out);
	ASSERT_TRUE(!strstr(out, "W: ") && !strstr(out, "E: "));
	free(out);
	sum = sha256sum("htop_3.0.5-7_amd64.deb");
	ASSERT_STREQ(sum, repo.debs[1].sha256);
	free(sum);
	ASSERT_TRUE(chdir("..") == 0);
	/* and it sees a corrupt hash for what it is */
	{
		char *bad = strdup(repo.files[0].data), *h = strstr(bad, "SHA256: ");

		h[8] = h[8] == '0' ? '1' : '0';
		write_text("repo/Packages", bad);
		free(bad);
	}
	/* within the same second apt would take the lists it has as current */
	ASSERT_OK(rm_rf("apt/lists"));
	ASSERT_TRUE(mkdir("apt/lists", 0755) == 0 && mkdir("apt/lists/partial", 0755) == 0 && mkdir("dl2", 0755) == 0);
	ASSERT_EQ(apt_get((char *[]){ "apt-get", "-q", "update", NULL }, &out), 0);
	free(out);
	ASSERT_TRUE(chdir("dl2") == 0);
	ASSERT_TRUE(apt_get((char *[]){ "apt-get", "-q", "download", "a-doc", NULL }, &out) != 0);
	ASSERT_CONTAINS(out, "Hash Sum mismatch");
	free(out);
	ASSERT_TRUE(chdir("..") == 0);
	deb_repo_release(&repo);
}

/* ---- the real thing: bullseye's .debs on the bullseye rootfs fixture ---- */

/* Runs a fixture script; its stdout's last line (the path it prints), or a skip saying why not. */
static char *fixture(const char *script, uint64_t timeout_ms) {
	struct process_result res = {};
	char *path = NULL, *out;
	size_t n;
	int r;

	ASSERT_TRUE(asprintf(&path, "%s/tests/fixtures/%s", source_dir(), script) >= 0);
	r = process_run(&(struct process_options){ .argv = (char *[]){ "bash", path, NULL }, .stdout_mode = PROCESS_CAPTURE,
						   .stderr_mode = PROCESS_CAPTURE, .timeout_ms = timeout_ms }, &res);
	if (r != 0) {
		const char *err = res.err ? res.err : "";
		size_t len = strlen(err);

		test_skip("%s did not make its fixture (%d): %s", script, r, len > 300 ? err + len - 300 : err);
	}
	out = string_strip(res.out);
	n = strlen(out);
	while (n > 0 && out[n - 1] != '\n')
		n--;
	out = strdup(out + n);
	process_result_release(&res);
	free(path);
	return out;
}

static char *rootfs_status(const char *tarball, size_t *ret_size) {
	char *status = run_ok((char *[]){ "tar", "-xOf", (char *)tarball, "./var/lib/dpkg/status", NULL });

	*ret_size = strlen(status);
	return status;
}

static bool has_line(const struct deb_resolution *res, const char *line) {
	for (size_t i = 0; i < res->n_missing; i++)
		if (strcmp(res->missing[i], line) == 0)
			return true;
	return false;
}

TEST(real_bullseye_htop_tmux_sshfs) {
	char *rootfs = fixture("rootfs.sh", 30 * 60 * 1000), *dir = fixture("debs.sh", 10 * 60 * 1000), *status, *out = NULL;
	char *names[] = { "htop", "tmux", "sshfs" }, *error = NULL;
	struct deb_repo repo = {};
	struct deb_resolution res = {};
	struct deb_resolve_input in = { .status_origin = "rootfs:/var/lib/dpkg/status", .names = names, .n_names = 3 };
	size_t size, fuse = SIZE_MAX;

	status = rootfs_status(rootfs, &size);
	in.status = status;
	in.status_size = size;
	if (deb_repo_build(dir, &repo, &error) < 0)
		test_fail(__FILE__, __LINE__, "%s", error);
	ASSERT_TRUE(repo.n_debs >= 3);
	in.debs = repo.debs;
	in.n_debs = repo.n_debs;
	ASSERT_OK(deb_resolve(&in, &res, NULL));
	for (size_t i = 0; i < res.n_missing; i++)
		fprintf(stderr, "missing: %s\n", res.missing[i]);
	ASSERT_EQ(res.n_missing, 0);
	/* debs.sh let apt choose what the rootfs lacks: the resolver needs exactly that, no more, no less */
	ASSERT_EQ(res.n_install, repo.n_debs);
	for (size_t i = 0; i < res.n_install; i++)
		ASSERT_EQ(res.install[i], i);
	deb_resolution_release(&res);

	/* without libfuse3-3, both relations on it miss, the indirect one with its chain */
	for (size_t i = 0; i < repo.n_debs; i++)
		if (strcmp(repo.debs[i].name, "libfuse3-3") == 0)
			fuse = i;
	ASSERT_TRUE(fuse != SIZE_MAX);
	{
		struct deb_package saved = repo.debs[fuse];

		memmove(&repo.debs[fuse], &repo.debs[fuse + 1], (repo.n_debs - fuse - 1) * sizeof(*repo.debs));
		in.n_debs = repo.n_debs - 1;
		ASSERT_OK(deb_resolve(&in, &res, NULL));
		memmove(&repo.debs[fuse + 1], &repo.debs[fuse], (repo.n_debs - fuse - 1) * sizeof(*repo.debs));
		repo.debs[fuse] = saved;
	}
	ASSERT_EQ(res.n_missing, 2);
	ASSERT_TRUE(has_line(&res, "sshfs: Depends libfuse3-3 (>= 3.2.3): not in the rootfs nor in [Packages] Debs="));
	ASSERT_TRUE(has_line(&res, "sshfs: Depends fuse3: Depends libfuse3-3 (= 3.10.3-2): not in the rootfs nor in [Packages] Debs="));
	deb_resolution_release(&res);

	/* apt agrees, on the same rootfs status, with our Packages file */
	if (process_find_program("apt-get", &out) >= 0) {
		free(out);
		ASSERT_OK(write_file_atomic("status", status, size, 0644));
		/* the repository as the rig gets it: each .deb under its file name, and our index */
		ASSERT_TRUE(mkdir("flat", 0755) == 0);
		for (size_t i = 0; i < repo.n_debs; i++) {
			char *to = NULL;

			ASSERT_TRUE(asprintf(&to, "flat/%s", deb_repo_filename(&repo.debs[i])) >= 0);
			ASSERT_TRUE(symlink(repo.debs[i].path, to) == 0);
			free(to);
		}
		write_repo_files("flat", &repo);
		{
			char *status_path = NULL;

			ASSERT_TRUE(asprintf(&status_path, "%s/status", test_dir()) >= 0);
			write_apt_config("flat", status_path);
			free(status_path);
		}
		if (apt_get((char *[]){ "apt-get", "-q", "update", NULL }, &out) != 0)
			test_fail(__FILE__, __LINE__, "apt-get update: %s", out);
		free(out);
		if (apt_get((char *[]){ "apt-get", "-q", "-s", "install", "htop", "tmux", "sshfs", NULL }, &out) != 0)
			test_fail(__FILE__, __LINE__, "apt-get -s install: %s", out);
		for (size_t i = 0; i < repo.n_debs; i++) {
			char *inst = NULL;

			ASSERT_TRUE(asprintf(&inst, "Inst %s (%s ", repo.debs[i].name, repo.debs[i].version) >= 0);
			ASSERT_CONTAINS(out, inst);
			free(inst);
		}
		free(out);
		/* and without libfuse3-3, apt cannot install sshfs either */
		{
			struct deb_package saved = repo.debs[fuse];
			char *text = NULL;

			memmove(&repo.debs[fuse], &repo.debs[fuse + 1], (repo.n_debs - fuse - 1) * sizeof(*repo.debs));
			ASSERT_OK(deb_packages_format(repo.debs, repo.n_debs - 1, &text, &size));
			memmove(&repo.debs[fuse + 1], &repo.debs[fuse], (repo.n_debs - fuse - 1) * sizeof(*repo.debs));
			repo.debs[fuse] = saved;
			ASSERT_OK(write_file_atomic("flat/Packages", text, size, 0644));
			free(text);
		}
		ASSERT_OK(rm_rf("apt/lists"));
		ASSERT_TRUE(mkdir("apt/lists", 0755) == 0 && mkdir("apt/lists/partial", 0755) == 0);
		ASSERT_EQ(apt_get((char *[]){ "apt-get", "-q", "update", NULL }, &out), 0);
		free(out);
		ASSERT_TRUE(apt_get((char *[]){ "apt-get", "-q", "-s", "install", "sshfs", NULL }, &out) != 0);
		ASSERT_CONTAINS(out, "libfuse3-3");
		free(out);
	}
	deb_repo_release(&repo);
	free(status);
	free(rootfs);
	free(dir);
	free(error);
}
