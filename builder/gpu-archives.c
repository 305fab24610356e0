/* Reading the GPU payload's archives: the CUDA local repo .deb (its data.tar
 * streamed out of the ar container) and the cuDNN tarball. */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive-util.h"
#include "deb-control.h"
#include "deb-file.h"
#include "deb-version.h"
#include "error.h"
#include "gpu-payload.h"
#include "parse-util.h"
#include "tar-safety.h"

#define PACKAGES_MAX (64u << 20)
#define HEADER_MAX (1u << 20)

void cuda_repo_info_release(struct cuda_repo_info *i) {
	free(i->package);
	free(i->repo_dir);
	free(i->keyring);
	free(i->packages);
	free(i->cuda_version);
	free(i->driver_version);
	free(i->cudnn_version);
	*i = (struct cuda_repo_info){};
}

void cudnn_tarball_info_release(struct cudnn_tarball_info *i) {
	free(i->top);
	free(i->version);
	*i = (struct cudnn_tarball_info){};
}

char *deb_upstream_version(const char *version) {
	const char *colon = strchr(version, ':'), *start = colon ? colon + 1 : version;
	const char *dash = strrchr(start, '-');

	return strndup(start, dash ? (size_t)(dash - start) : strlen(start));
}

/* The current entry's bytes, NUL-terminated, at most max. */
static int read_data(struct archive *a, struct archive_entry *e, size_t max, char **ret, size_t *ret_size) {
	la_int64_t size = archive_entry_size(e);
	_cleanup_free_ char *buf = NULL;
	la_int64_t got = 0;

	if (size < 0 || (uint64_t)size > max)
		return -EFBIG;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return -ENOMEM;
	while (got < size) {
		la_ssize_t k = archive_read_data(a, buf + got, (size_t)(size - got));

		if (k <= 0)
			return k < 0 ? archive_status_to_errno(a, (int)k) ?: -EBADMSG : -EBADMSG;
		got += k;
	}
	buf[size] = 0;
	*ret = TAKE_PTR(buf);
	if (ret_size)
		*ret_size = (size_t)size;
	return 0;
}

/* The inner archive reads the outer one's current member. */
static la_ssize_t member_read(struct archive *inner, void *userdata, const void **buf) {
	static char block[64 << 10];
	la_ssize_t n = archive_read_data(userdata, block, sizeof(block));

	(void)inner;
	*buf = block;
	return n;
}

/* The versions a local repo carries, from its Packages. */
static int repo_versions(struct cuda_repo_info *i, const char *path, char **ret_error) {
	struct deb_stanza *s = NULL;
	const char *cuda = NULL, *cuda_meta = NULL, *drivers = NULL, *driver = NULL, *cudnn = NULL;
	size_t n = 0;
	int r;

	r = deb_control_parse(i->packages, strlen(i->packages), path, &s, &n, ret_error);
	if (r < 0)
		return r;
	for (size_t k = 0; k < n; k++) {
		const char *name = deb_stanza_get(&s[k], "Package"), *v = deb_stanza_get(&s[k], "Version");
		unsigned nnn;

		if (!name || !v)
			continue;
		if (fnmatch("cuda-toolkit-[0-9]*-[0-9]*", name, 0) == 0 && (!cuda || deb_version_compare(v, cuda) > 0))
			cuda = v;
		else if (strcmp(name, "cuda") == 0 && (!cuda_meta || deb_version_compare(v, cuda_meta) > 0))
			cuda_meta = v;
		else if (strcmp(name, "cuda-drivers") == 0 && (!drivers || deb_version_compare(v, drivers) > 0))
			drivers = v;
		else if (string_has_prefix(name, "libcudnn") && !strstr(name, "-dev") &&
			 (!cudnn || deb_version_compare(v, cudnn) > 0))
			cudnn = v;
		nnn = profile_driver_branch(name);
		if (nnn > i->best_driver) {
			i->best_driver = nnn;
			driver = v;
		}
	}
	if ((cuda || cuda_meta) && !(i->cuda_version = deb_upstream_version(cuda ?: cuda_meta)))
		r = -ENOMEM;
	if ((drivers || driver) && !(i->driver_version = deb_upstream_version(drivers ?: driver)))
		r = -ENOMEM;
	if (cudnn && !(i->cudnn_version = deb_upstream_version(cudnn)))
		r = -ENOMEM;
	deb_stanzas_free(s, n);
	return r;
}

/* One entry of the local repo's data.tar: its archive dir, Packages, keyring and .debs. */
static int repo_entry(struct cuda_repo_info *i, struct archive *a, struct archive_entry *e) {
	const char *name = archive_entry_pathname(e) ?: "";
	const char *rest, *slash;
	_cleanup_free_ char *data = NULL, *plain = NULL;
	size_t size = 0;
	int r;

	if (string_has_prefix(name, "./"))
		name += 2;
	if (!string_has_prefix(name, "var/cuda-repo-") || !(slash = strchr(name + strlen("var/"), '/')))
		return 0;
	if (!i->repo_dir && !(i->repo_dir = strndup(name, (size_t)(slash - name))))
		return -ENOMEM;
	if (strncmp(name, i->repo_dir, strlen(i->repo_dir)) != 0 || archive_entry_filetype(e) != AE_IFREG)
		return 0;
	rest = slash + 1;
	if (strchr(rest, '/'))
		return 0;
	if (string_has_suffix(rest, ".deb"))
		i->n_debs++;
	else if ((string_has_suffix(rest, ".gpg") || string_has_suffix(rest, ".pub")) && !i->keyring) {
		if (!(i->keyring = strdup(rest)))
			return -ENOMEM;
	} else if (!i->packages && (strcmp(rest, "Packages") == 0 || strcmp(rest, "Packages.gz") == 0)) {
		r = read_data(a, e, PACKAGES_MAX, &data, &size);
		if (r < 0)
			return r;
		if (strcmp(rest, "Packages.gz") == 0) {
			r = archive_decompress_memory(data, size, PACKAGES_MAX, &plain, NULL);
			if (r < 0)
				return r;
			i->packages = TAKE_PTR(plain);
		} else
			i->packages = TAKE_PTR(data);
	}
	return 0;
}

/* Walks the data.tar member of the ar archive a (positioned after control.tar). */
static int walk_data(struct cuda_repo_info *i, const char *path, struct archive *ar, char **ret_error) {
	struct archive_entry *e;
	int r;

	for (;;) {
		r = archive_read_next_header(ar, &e);
		if (r == ARCHIVE_EOF)
			return set_error(ret_error, -EINVAL, "%s: no data.tar member", path);
		if (r < ARCHIVE_WARN)
			return set_error(ret_error, archive_status_to_errno(ar, r), "%s: %s", path,
					 archive_error_string(ar) ?: "cannot read the ar archive");
		if (string_has_prefix(archive_entry_pathname(e) ?: "", "data.tar"))
			break;
	}
	_cleanup_(archive_read_freep) struct archive *in = archive_read_new();
	if (!in || archive_read_support_filter_all(in) < ARCHIVE_WARN || archive_read_support_format_tar(in) < ARCHIVE_WARN)
		return -ENOMEM;
	r = archive_read_open(in, ar, NULL, member_read, NULL);
	while (r >= ARCHIVE_WARN) {
		r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			break;
		r = repo_entry(i, in, e);
		if (r < 0)
			return set_error(ret_error, r, "%s: data.tar: %s: %s", path, archive_entry_pathname(e),
					 archive_error_string(in) ?: strerror(-r));
		r = ARCHIVE_OK;
	}
	return set_error(ret_error, archive_status_to_errno(in, r) ?: -EBADMSG, "%s: data.tar: %s", path,
			 archive_error_string(in) ?: "corrupt");
}

int cuda_repo_read(const char *path, struct cuda_repo_info *ret, char **ret_error) {
	_cleanup_(cuda_repo_info_release) struct cuda_repo_info i = {};
	_cleanup_(archive_read_freep) struct archive *ar = archive_read_new();
	struct deb_package deb = {};
	int r;

	r = deb_file_read(path, &deb, ret_error);
	if (r < 0)
		return r;
	i.package = strdup(deb.name);
	deb_package_release(&deb);
	if (!i.package || !ar || archive_read_support_format_ar(ar) < ARCHIVE_WARN)
		return -ENOMEM;
	if (archive_read_open_filename(ar, path, 64 << 10) < ARCHIVE_WARN)
		return set_error(ret_error, archive_status_to_errno(ar, ARCHIVE_FATAL), "%s: %s", path,
				 archive_error_string(ar) ?: "cannot open");
	r = walk_data(&i, path, ar, ret_error);
	if (r < 0)
		return r;
	if (!i.repo_dir)
		return set_error(ret_error, -EINVAL,
				 "%s (%s): not a CUDA local repo: its data.tar has no /var/cuda-repo-*/ archive", path,
				 i.package);
	if (!i.packages)
		return set_error(ret_error, -EINVAL, "%s: /%s has no Packages index", path, i.repo_dir);
	if (!i.keyring)
		return set_error(ret_error, -EINVAL, "%s: /%s has no keyring (*.gpg or *.pub): apt could not check it",
				 path, i.repo_dir);
	r = repo_versions(&i, path, ret_error);
	if (r < 0)
		return r;
	if (!i.cuda_version)
		return set_error(ret_error, -EINVAL, "%s: /%s/Packages has no cuda-toolkit-X-Y package", path,
				 i.repo_dir);
	*ret = i;
	i = (struct cuda_repo_info){};
	return 0;
}

/* ---- cuDNN tarballs ---- */

static const char *const cudnn8_libs[] = {
	"libcudnn.so.8", "libcudnn_ops_infer.so.8", "libcudnn_ops_train.so.8", "libcudnn_cnn_infer.so.8",
	"libcudnn_cnn_train.so.8", "libcudnn_adv_infer.so.8", "libcudnn_adv_train.so.8",
};

struct cudnn_scan {
	char *top;
	char *version_h, *cudnn_h; /* the headers' text */
	char **names;              /* every entry's path below top */
	size_t n_names;
	FILE *problems;
	unsigned n_problems;
};

static void problem(struct cudnn_scan *s, const char *fmt, ...) _printf_(2, 3);
static void problem(struct cudnn_scan *s, const char *fmt, ...) {
	va_list ap;

	fputs("\n  ", s->problems);
	va_start(ap, fmt);
	vfprintf(s->problems, fmt, ap);
	va_end(ap);
	s->n_problems++;
}

static bool scan_has(const struct cudnn_scan *s, const char *dir, const char *name) {
	size_t dl = strlen(dir);

	for (size_t i = 0; i < s->n_names; i++)
		if (strncmp(s->names[i], dir, dl) == 0 && s->names[i][dl] == '/' && strcmp(s->names[i] + dl + 1, name) == 0)
			return true;
	return false;
}

/* "#define CUDNN_MAJOR 8" → 8; -1 when absent. */
static long header_define(const char *text, const char *name) {
	for (const char *c = text ? strstr(text, name) : NULL; c; c = strstr(c + 1, name)) {
		const char *d = c;
		char *end;
		long v;

		while (d > text && (d[-1] == ' ' || d[-1] == '\t'))
			d--;
		if (d - text < 7 || strncmp(d - 7, "#define", 7) != 0)
			continue;
		d = c + strlen(name);
		if (*d != ' ' && *d != '\t')
			continue;
		v = strtol(d, &end, 10);
		if (end != d)
			return v;
	}
	return -1;
}

static int scan_entry(struct cudnn_scan *s, struct archive *a, struct archive_entry *e) {
	_cleanup_free_ char *norm = NULL, *reason = NULL;
	const char *rest, *slash;
	enum tar_kind kind;
	char **nn;
	int r;

	r = tar_entry_check(archive_entry_pathname(e) ?: "", archive_entry_mode(e), archive_entry_symlink(e),
			    archive_entry_hardlink(e), &kind, &norm, &reason);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		problem(s, "%s", reason);
		return 0;
	}
	if (kind == TAR_HARDLINK) { /* the agent refuses them too: cuDNN tarballs have none */
		problem(s, "'%s': a hardlink", norm);
		return 0;
	}
	if (!*norm)
		return 0;
	slash = strchr(norm, '/');
	if (!s->top && !(s->top = strndup(norm, slash ? (size_t)(slash - norm) : strlen(norm))))
		return -ENOMEM;
	if (strncmp(norm, s->top, strlen(s->top)) != 0 || (norm[strlen(s->top)] && norm[strlen(s->top)] != '/')) {
		problem(s, "'%s': outside the top directory %s/ (a cuDNN tarball has one)", norm, s->top);
		return 0;
	}
	if (!slash)
		return 0;
	rest = slash + 1;
	nn = realloc(s->names, (s->n_names + 1) * sizeof(*nn));
	if (!nn)
		return -ENOMEM;
	s->names = nn;
	if (!(s->names[s->n_names] = strdup(rest)))
		return -ENOMEM;
	s->n_names++;
	if (kind == TAR_FILE && strcmp(rest, "include/cudnn_version.h") == 0 && !s->version_h)
		return read_data(a, e, HEADER_MAX, &s->version_h, NULL);
	if (kind == TAR_FILE && strcmp(rest, "include/cudnn.h") == 0 && !s->cudnn_h)
		return read_data(a, e, HEADER_MAX, &s->cudnn_h, NULL);
	return 0;
}

static void scan_release(struct cudnn_scan *s) {
	free(s->top);
	free(s->version_h);
	free(s->cudnn_h);
	for (size_t i = 0; i < s->n_names; i++)
		free(s->names[i]);
	free(s->names);
}

/* The layout, the headers and the libraries, once every entry was seen. */
static int scan_finish(struct cudnn_scan *s, struct cudnn_tarball_info *i) {
	const char *vh = s->version_h ?: s->cudnn_h;
	long major = header_define(vh, "CUDNN_MAJOR"), minor = header_define(vh, "CUDNN_MINOR"),
	     patch = header_define(vh, "CUDNN_PATCHLEVEL");
	char lib[64];

	if (!s->top) {
		problem(s, "empty");
		return 0;
	}
	if (strcmp(s->top, "cuda") == 0)
		i->lib_dir = "lib64";
	else if (fnmatch("cudnn-linux-x86_64-*-archive", s->top, 0) == 0)
		i->lib_dir = "lib";
	else {
		problem(s, "top directory %s/: neither cuDNN layout (cuda/ up to 8.2, cudnn-linux-x86_64-*-archive/ "
			"from 8.3)", s->top);
		return 0;
	}
	if (!s->cudnn_h)
		problem(s, "no %s/include/cudnn.h", s->top);
	if (major < 0 || minor < 0 || patch < 0) {
		problem(s, "no CUDNN_MAJOR/MINOR/PATCHLEVEL in %s/include/%s", s->top, s->version_h ? "cudnn_version.h" : "cudnn.h");
		return 0;
	}
	if (major >= 8 && !s->version_h)
		problem(s, "no %s/include/cudnn_version.h (cuDNN %ld has one)", s->top, major);
	if (major == 8) {
		for (size_t k = 0; k < ELEMENTSOF(cudnn8_libs); k++)
			if (!scan_has(s, i->lib_dir, cudnn8_libs[k]))
				problem(s, "no %s/%s/%s (cuDNN 8 needs it)", s->top, i->lib_dir, cudnn8_libs[k]);
	} else {
		snprintf(lib, sizeof(lib), "libcudnn.so.%ld", major);
		if (!scan_has(s, i->lib_dir, lib))
			problem(s, "no %s/%s/%s", s->top, i->lib_dir, lib);
	}
	i->major = (unsigned)major;
	if (asprintf(&i->version, "%ld.%ld.%ld", major, minor, patch) < 0)
		return -ENOMEM;
	i->top = TAKE_PTR(s->top);
	i->n_entries = s->n_names;
	return 0;
}

int cudnn_tarball_read(const char *path, struct cudnn_tarball_info *ret, char **ret_error) {
	_cleanup_(cudnn_tarball_info_release) struct cudnn_tarball_info i = {};
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	_cleanup_free_ char *problems = NULL;
	struct cudnn_scan s = {};
	size_t psize = 0;
	struct archive_entry *e;
	int r;

	r = archive_open_tar_file(path, 0, &a, NULL);
	if (r < 0)
		return set_error(ret_error, r, "%s: cannot open: %s", path, strerror(-r));
	s.problems = open_memstream(&problems, &psize);
	if (!s.problems)
		return -ENOMEM;
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF) {
			r = scan_finish(&s, &i);
			break;
		}
		if (r < ARCHIVE_WARN) {
			r = set_error(ret_error, archive_status_to_errno(a, r) ?: -EBADMSG, "%s: %s", path,
				      archive_error_string(a) ?: "not a tarball");
			break;
		}
		r = scan_entry(&s, a, e);
		if (r < 0)
			break;
	}
	fclose(s.problems);
	scan_release(&s);
	if (r < 0 && r != -ENOMEM && !(ret_error && *ret_error))
		return set_error(ret_error, r, "%s: %s", path, archive_error_string(a) ?: strerror(-r));
	if (r < 0)
		return r;
	if (s.n_problems)
		return set_error(ret_error, -EINVAL, "%s: not a cuDNN tarball mlrig unpacks:%s", path, problems);
	*ret = i;
	i = (struct cudnn_tarball_info){};
	return 0;
}
