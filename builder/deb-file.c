/* Reading a .deb as dpkg-deb does (src/deb/extract.c): the ar members in order, the control tar, ./control and its checks. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "archive-util.h"
#include "deb-depends.h"
#include "deb-file.h"
#include "deb-version.h"
#include "error.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

/* Control members are kilobytes; the limits only bound what a hostile file can make us allocate. */
#define CONTROL_TAR_MAX (64 * MiB)
#define CONTROL_MAX (4 * MiB)
#define AR_HEADER_SIZE 60

/* The control tar's compressions dpkg writes; the member's name says which one. */
static const struct compression {
	const char *suffix;
	const char *what;
	int (*enable)(struct archive *a);
} compressions[] = {
	{ "", "uncompressed", archive_read_support_filter_none },
	{ ".gz", "gzip-compressed", archive_read_support_filter_gzip },
	{ ".xz", "xz-compressed", archive_read_support_filter_xz },
	{ ".zst", "zstd-compressed", archive_read_support_filter_zstd },
};

bool deb_arch_is_installable(const char *arch) {
	return strcmp(arch, "amd64") == 0 || strcmp(arch, "all") == 0;
}

void deb_package_release(struct deb_package *p) {
	if (!p)
		return;
	free(p->path);
	deb_stanza_release(&p->control);
	*p = (struct deb_package){};
}

/* The current entry's data, NUL-terminated; -EFBIG beyond max bytes. */
static int read_entry_data(struct archive *a, uint64_t max, char **ret, size_t *ret_size) {
	_cleanup_free_ char *buf = NULL;
	size_t size = 0, allocated = 0;

	for (;;) {
		ssize_t n;

		if (allocated - size < 64 * KiB + 1) {
			char *b;

			if (allocated >= max + 1)
				return -EFBIG;
			allocated = MIN(MAX(allocated * 2, 128 * KiB), max + 1 + 64 * KiB);
			b = realloc(buf, allocated);
			if (!b)
				return -ENOMEM;
			buf = b;
		}
		n = archive_read_data(a, buf + size, allocated - size - 1);
		if (n < 0)
			return archive_status_to_errno(a, (int)n) ?: -EBADMSG;
		if (n == 0)
			break;
		size += (size_t)n;
		if (size > max)
			return -EFBIG;
	}
	buf[size] = 0;
	*ret = TAKE_PTR(buf);
	*ret_size = size;
	return 0;
}

/* read_entry_data() with the messages: what names the member ("control.tar.xz"). */
static int read_member(const char *path, const char *what, struct archive *a, uint64_t max, char **ret,
		       size_t *ret_size, char **ret_error) {
	int r = read_entry_data(a, max, ret, ret_size);

	if (r == -EFBIG)
		return set_error(ret_error, -EINVAL, "%s: %s is larger than %" PRIu64 " MiB", path, what, max / MiB);
	if (r < 0)
		return set_error(ret_error, r, "%s: cannot read %s: %s", path, what, archive_error_string(a) ?: strerror(-r));
	return 0;
}

/* ./control out of the control member's bytes. */
static int read_control_tar(const char *path, const char *member, const struct compression *c, const char *data,
			    size_t size, char **ret, size_t *ret_size, char **ret_error) {
	_cleanup_(archive_read_freep) struct archive *a = archive_read_new();
	_cleanup_free_ char *what = NULL;
	struct archive_entry *e;
	int r;

	if (!a || c->enable(a) < ARCHIVE_WARN || archive_read_support_format_tar(a) < ARCHIVE_WARN)
		return -ENOMEM;
	r = archive_read_open_memory(a, data, size);
	for (;;) {
		const char *name;

		if (r >= ARCHIVE_WARN)
			r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			return set_error(ret_error, -EINVAL, "%s: %s holds no ./control", path, member);
		if (r < ARCHIVE_WARN)
			return set_error(ret_error, archive_status_to_errno(a, r), "%s: %s: cannot read it as %s tar: %s",
					 path, member, c->what, archive_error_string(a) ?: "unknown error");
		name = archive_entry_pathname(e);
		if (name && (strcmp(name, "./control") == 0 || strcmp(name, "control") == 0))
			break;
		r = archive_read_data_skip(a);
	}
	if (archive_entry_filetype(e) != AE_IFREG)
		return set_error(ret_error, -EINVAL, "%s: %s: ./control is not a regular file", path, member);
	r = asprintf(&what, "%s's ./control", member);
	if (r < 0)
		return -ENOMEM;
	return read_member(path, what, a, CONTROL_MAX, ret, ret_size, ret_error);
}

/* debian-binary, first: "2.x" and a newline, as dpkg-deb writes "2.0\n". */
static int check_debian_binary(const char *path, struct archive *a, char **ret_error) {
	_cleanup_free_ char *data = NULL;
	size_t size;
	int r;

	r = read_entry_data(a, 64, &data, &size);
	if (r == -EFBIG)
		return set_error(ret_error, -EINVAL, "%s: not a Debian package (debian-binary is too long)", path);
	if (r < 0)
		return set_error(ret_error, r, "%s: cannot read debian-binary: %s", path, archive_error_string(a) ?: strerror(-r));
	if (size < 3 || data[0] != '2' || data[1] != '.')
		return set_error(ret_error, -EINVAL, "%s: unsupported .deb format version '%.*s' (dpkg reads 2.x)", path,
				 (int)strcspn(data, "\n"), data);
	return 0;
}

/* The control member's compression from its name, or -EINVAL naming it. */
static int find_compression(const char *path, const char *member, const struct compression **ret, char **ret_error) {
	const char *suffix = member + strlen("control.tar");

	for (size_t i = 0; i < ELEMENTSOF(compressions); i++)
		if (strcmp(suffix, compressions[i].suffix) == 0) {
			*ret = &compressions[i];
			return 0;
		}
	return set_error(ret_error, -EINVAL,
			 "%s: %s: unsupported compression (dpkg writes control.tar, control.tar.gz, .xz or .zst)", path,
			 member);
}

/* Walks the ar members: debian-binary, then (skipping '_' members) control.tar*, then data.tar*. */
static int read_members(const char *path, struct archive *a, uint64_t file_size, char **ret_control,
			size_t *ret_size, char **ret_error) {
	_cleanup_free_ char *tar = NULL, *member = NULL;
	const struct compression *c = NULL;
	struct archive_entry *e;
	size_t tar_size = 0;
	int r;

	r = archive_read_next_header(a, &e);
	if (r < ARCHIVE_WARN || r == ARCHIVE_EOF)
		return set_error(ret_error, -EINVAL, "%s: not a Debian package (not an ar archive)", path);
	if (strcmp(archive_entry_pathname(e) ?: "", "debian-binary") != 0)
		return set_error(ret_error, -EINVAL, "%s: not a Debian package (its first member is '%s', not debian-binary)",
				 path, archive_entry_pathname(e) ?: "");
	r = check_debian_binary(path, a, ret_error);
	if (r < 0)
		return r;

	for (;;) {
		const char *name;

		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			return set_error(ret_error, -EINVAL, "%s: no %s member", path, tar ? "data.tar" : "control.tar");
		if (r < ARCHIVE_WARN)
			return set_error(ret_error, archive_status_to_errno(a, r), "%s: cannot read the ar archive: %s", path,
					 archive_error_string(a) ?: "unknown error");
		name = archive_entry_pathname(e) ?: "";
		if (name[0] == '_')
			continue;
		if (!tar && string_has_prefix(name, "control.tar")) {
			member = strdup(name);
			if (!member)
				return -ENOMEM;
			r = find_compression(path, member, &c, ret_error);
			if (r < 0)
				return r;
			r = read_member(path, member, a, CONTROL_TAR_MAX, &tar, &tar_size, ret_error);
			if (r < 0)
				return r;
			continue;
		}
		if (string_has_prefix(name, "data.tar")) {
			if (!tar)
				return set_error(ret_error, -EINVAL, "%s: no control.tar member before %s", path, name);
			/* not read, but there in full: a cut-short download is refused here, not by dpkg on the rig */
			if ((uint64_t)archive_read_header_position(a) + AR_HEADER_SIZE + (uint64_t)archive_entry_size(e) >
			    file_size)
				return set_error(ret_error, -EINVAL, "%s: truncated (%s is cut short)", path, name);
			break;
		}
		return set_error(ret_error, -EINVAL, "%s: unexpected member '%s' before %s", path, name,
				 tar ? "data.tar" : "control.tar");
	}
	return read_control_tar(path, member, c, tar, tar_size, ret_control, ret_size, ret_error);
}

/* The fields every package has, and the relations the resolver reads, checked now so a bad .deb
 * is named when it is read rather than when something depends on it. */
static int check_control(const char *path, const struct deb_stanza *s, char **ret_error) {
	static const char *const relation_fields[] = { "Pre-Depends", "Depends", "Provides" };
	static const char *const required[] = { "Package", "Version", "Architecture" };
	_cleanup_free_ char *error = NULL;
	const char *arch;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(required); i++)
		if (!deb_stanza_get(s, required[i]))
			return set_error(ret_error, -EINVAL, "%s: control has no %s field", path, required[i]);
	r = deb_name_check(deb_stanza_get(s, "Package"), &error);
	if (r >= 0)
		r = deb_version_parse(deb_stanza_get(s, "Version"), NULL, &error);
	if (r < 0)
		return set_error(ret_error, r, "%s: %s", path, error);
	arch = deb_stanza_get(s, "Architecture");
	if (!deb_arch_is_installable(arch))
		return set_error(ret_error, -EINVAL, "%s: Architecture is '%s': only amd64 and all packages can be installed",
				 path, arch);
	for (size_t i = 0; i < ELEMENTSOF(relation_fields); i++) {
		const char *v = deb_stanza_get(s, relation_fields[i]);
		struct deb_relations rel = {};

		if (!v)
			continue;
		r = deb_relations_parse(relation_fields[i], v, &rel, &error);
		deb_relations_release(&rel);
		if (r < 0)
			return set_error(ret_error, r, "%s: %s", path, error);
	}
	return 0;
}

static int read_control(const char *path, uint64_t file_size, struct deb_stanza *ret, char **ret_error) {
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL, *origin = NULL;
	size_t size = 0;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return set_error(ret_error, negative_errno(), "%s: %m", path);
	a = archive_read_new();
	if (!a || archive_read_support_format_ar(a) < ARCHIVE_WARN)
		return -ENOMEM;
	/* the format is bid for here: an empty or non-ar file fails now, a read error too */
	r = archive_read_open_fd(a, fd, 64 * 1024);
	if (r < ARCHIVE_WARN) {
		r = archive_status_to_errno(a, r);
		if (r == -EBADMSG)
			return set_error(ret_error, -EINVAL, "%s: not a Debian package (not an ar archive)", path);
		return set_error(ret_error, r, "%s: %m", path);
	}
	r = read_members(path, a, file_size, &text, &size, ret_error);
	if (r < 0)
		return r;
	if (asprintf(&origin, "%s: control", path) < 0)
		return -ENOMEM;
	return deb_control_parse_one(text, size, origin, ret, ret_error);
}

int deb_file_read(const char *path, struct deb_package *ret, char **ret_error) {
	struct deb_package p = {};
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return set_error(ret_error, negative_errno(), "%s: %m", path);
	if (!S_ISREG(st.st_mode))
		return set_error(ret_error, -EINVAL, "%s: not a regular file", path);
	r = read_control(path, (uint64_t)st.st_size, &p.control, ret_error);
	if (r < 0)
		return r;
	r = check_control(path, &p.control, ret_error);
	if (r < 0)
		goto fail;
	r = hash_file_hex(HASH_SHA256, path, p.sha256);
	if (r < 0) {
		r = set_error(ret_error, r, "%s: cannot hash it: %m", path);
		goto fail;
	}
	p.path = strdup(path);
	if (!p.path) {
		r = -ENOMEM;
		goto fail;
	}
	p.size = (uint64_t)st.st_size;
	p.name = deb_stanza_get(&p.control, "Package");
	p.version = deb_stanza_get(&p.control, "Version");
	p.arch = deb_stanza_get(&p.control, "Architecture");
	log_debug("%s: %s %s %s", path, p.name, p.version, p.arch);
	*ret = p;
	return 0;
fail:
	deb_package_release(&p);
	return r;
}
