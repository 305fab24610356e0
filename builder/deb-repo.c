/* A flat apt repository: the .debs of a directory, sorted, and their Packages index as dpkg-scanpackages writes it. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deb-repo.h"
#include "deb-version.h"
#include "error.h"
#include "macro.h"
#include "parse-util.h"

/* Dpkg::Control::FieldsCore's order for CTRL_INDEX_PKG (dpkg-dev 1.21), with its spelling. */
static const char *const field_order[] = {
	"Package", "Package-Type", "Source", "Version", "Kernel-Version", "Built-For-Profiles",
	"Auto-Built-Package", "Architecture", "Subarchitecture", "Installer-Menu-Item", "Build-Essential",
	"Essential", "Protected", "Origin", "Bugs", "Maintainer", "Installed-Size", "Pre-Depends", "Depends",
	"Recommends", "Suggests", "Enhances", "Conflicts", "Breaks", "Replaces", "Provides", "Built-Using",
	"Static-Built-Using", "Filename", "Size", "MD5sum", "SHA1", "SHA256", "Section", "Priority",
	"Multi-Arch", "Homepage", "Description", "Tag", "Task",
};

/* What the index says about the file itself: a control file's own would be wrong. */
static const char *const file_fields[] = { "Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512" };

static bool is_file_field(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(file_fields); i++)
		if (strcasecmp(name, file_fields[i]) == 0)
			return true;
	return false;
}

static size_t order_of(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(field_order); i++)
		if (strcasecmp(name, field_order[i]) == 0)
			return i;
	return ELEMENTSOF(field_order);
}

/* Dpkg's field_capitalize() for a field it does not know: "x-original-maintainer" → "X-Original-Maintainer". */
static char *capitalize(const char *name) {
	char *s = strdup(name);

	for (char *p = s; p && *p; p++) {
		bool start = p == s || p[-1] == '-';

		if (start && *p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		else if (!start && *p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return s;
}

const char *deb_repo_filename(const struct deb_package *p) {
	const char *slash = strrchr(p->path, '/');

	return slash ? slash + 1 : p->path;
}

/* "Name: first line\n continuation\n" as Dpkg::Control::HashCore's output() writes a value. */
static void write_field(FILE *f, const char *name, const char *value) {
	const char *nl = strchr(value, '\n');

	fprintf(f, "%s:%s%.*s\n", name, *value && value != nl ? " " : "", (int)(nl ? (size_t)(nl - value) : strlen(value)), value);
	while (nl) {
		const char *line = nl + 1;

		nl = strchr(line, '\n');
		fprintf(f, " %.*s\n", (int)(nl ? (size_t)(nl - line) : strlen(line)), line);
	}
}

struct out_field {
	size_t order;
	char *name;
	const char *value;
};

static int cmp_out_field(const void *a, const void *b) {
	const struct out_field *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int write_stanza(FILE *f, const struct deb_package *p) {
	const struct deb_stanza *s = &p->control;
	_cleanup_free_ struct out_field *out = calloc(s->n_fields + ELEMENTSOF(file_fields), sizeof(*out));
	_cleanup_free_ char *filename = NULL, *size = NULL;
	size_t n = 0;
	int r = 0;

	if (!out || asprintf(&filename, "./%s", deb_repo_filename(p)) < 0 || asprintf(&size, "%" PRIu64, p->size) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_fields; i++) {
		size_t o = order_of(s->fields[i].name);

		if (is_file_field(s->fields[i].name))
			continue;
		out[n] = (struct out_field){ o, o < ELEMENTSOF(field_order) ? strdup(field_order[o]) : capitalize(s->fields[i].name),
					     s->fields[i].value };
		if (!out[n++].name)
			r = -ENOMEM;
	}
	out[n++] = (struct out_field){ order_of("Filename"), strdup("Filename"), filename };
	out[n++] = (struct out_field){ order_of("Size"), strdup("Size"), size };
	out[n++] = (struct out_field){ order_of("SHA256"), strdup("SHA256"), p->sha256 };
	for (size_t i = n - 3; i < n; i++)
		if (!out[i].name)
			r = -ENOMEM;
	if (r >= 0) {
		qsort(out, n, sizeof(*out), cmp_out_field);
		for (size_t i = 0; i < n; i++)
			write_field(f, out[i].name, out[i].value);
		fputc('\n', f);
	}
	for (size_t i = 0; i < n; i++)
		free(out[i].name);
	return r;
}

int deb_packages_format(const struct deb_package *debs, size_t n, char **ret, size_t *ret_size) {
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	int r = 0;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = write_stanza(f, &debs[i]);
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return r;
	}
	*ret = text;
	*ret_size = size;
	return 0;
}

static int cmp_deb(const void *a, const void *b) {
	const struct deb_package *x = a, *y = b;

	return strcmp(x->name, y->name) ?: deb_version_compare(x->version, y->version) ?: strcmp(x->arch, y->arch);
}

void deb_repo_release(struct deb_repo *r) {
	if (!r)
		return;
	for (size_t i = 0; i < r->n_debs; i++)
		deb_package_release(&r->debs[i]);
	free(r->debs);
	for (size_t i = 0; i < r->n_files; i++) {
		free(r->files[i].path);
		free(r->files[i].data);
	}
	free(r->files);
	*r = (struct deb_repo){};
}

/* Two files the repository cannot both hold: the same file name, or the same package. */
static int check_unique(const struct deb_repo *repo, char **ret_error) {
	for (size_t i = 0; i < repo->n_debs; i++)
		for (size_t j = i + 1; j < repo->n_debs; j++) {
			const struct deb_package *a = &repo->debs[i], *b = &repo->debs[j];

			if (strcmp(deb_repo_filename(a), deb_repo_filename(b)) == 0)
				return set_error(ret_error, -EINVAL, "%s and %s have the same file name", a->path, b->path);
			if (cmp_deb(a, b) == 0)
				return set_error(ret_error, -EINVAL, "%s and %s are both %s %s %s", a->path, b->path, a->name,
						 a->version, a->arch);
		}
	return 0;
}

int deb_repo_build_files(char *const *paths, size_t n, struct deb_repo *ret, char **ret_error) {
	struct deb_repo repo = {};
	int r;

	repo.debs = calloc(n ?: 1, sizeof(*repo.debs));
	repo.files = calloc(1, sizeof(*repo.files));
	if (!repo.debs || !repo.files) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		r = deb_file_read(paths[i], &repo.debs[i], ret_error);
		if (r < 0)
			goto fail;
		repo.n_debs++;
	}
	r = check_unique(&repo, ret_error);
	if (r < 0)
		goto fail;
	qsort(repo.debs, repo.n_debs, sizeof(*repo.debs), cmp_deb);
	repo.files[0].path = strdup("Packages");
	repo.n_files = 1;
	r = repo.files[0].path ? deb_packages_format(repo.debs, repo.n_debs, &repo.files[0].data, &repo.files[0].size)
			       : -ENOMEM;
	if (r < 0)
		goto fail;
	*ret = repo;
	return 0;
fail:
	deb_repo_release(&repo);
	return r;
}

static int cmp_str(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir's *.deb paths, sorted, so every run reads (and refuses) them in the same order. */
static int list_debs(const char *dir, char ***ret, size_t *ret_n, char **ret_error) {
	_cleanup_strv_free_ char **paths = NULL;
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	int r = 0;

	if (!d)
		return set_error(ret_error, negative_errno(), "%s: %m", dir);
	paths = calloc(1, sizeof(*paths));
	while (paths && (errno = 0, de = readdir(d))) {
		char **p;

		if (de->d_name[0] == '.' || !string_has_suffix(de->d_name, ".deb"))
			continue;
		p = reallocarray(paths, n + 2, sizeof(*p));
		if (!p) {
			r = -ENOMEM;
			break;
		}
		paths = p;
		if (asprintf(&paths[n], "%s/%s", dir, de->d_name) < 0) {
			paths[n] = NULL;
			r = -ENOMEM;
			break;
		}
		paths[++n] = NULL;
	}
	if (!paths)
		r = -ENOMEM;
	else if (r == 0 && errno != 0)
		r = set_error(ret_error, negative_errno(), "%s: %m", dir);
	closedir(d);
	if (r < 0)
		return r;
	qsort(paths, n, sizeof(*paths), cmp_str);
	*ret = TAKE_PTR(paths);
	*ret_n = n;
	return 0;
}

int deb_repo_build(const char *dir, struct deb_repo *ret, char **ret_error) {
	_cleanup_strv_free_ char **paths = NULL;
	size_t n = 0;
	int r;

	r = list_debs(dir, &paths, &n, ret_error);
	if (r < 0)
		return r;
	return deb_repo_build_files(paths, n, ret, ret_error);
}
