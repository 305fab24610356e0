/* A flat apt repository made from .debs: the packages read and the index files as bytes in memory. */
#pragma once

#include <stddef.h>

#include "deb-file.h"

/* A file of the repository that exists only in memory, for an ext4 image or an ISO to hold. */
struct deb_repo_file {
	char *path; /* relative to the repository's root: "Packages" */
	char *data;
	size_t size;
};

/* The repository is flat: its root holds every .deb under its own file name (the basename of its
 * path, which Packages' "Filename: ./NAME" points at) and the files below. apt reads it with
 *   deb [trusted=yes] file:/ROOT ./
 * There is no Release file: apt reads a flat repository without one, and [trusted=yes] is what
 * makes it trusted either way. An unsigned Release would only add a checksum of Packages, and apt
 * warns about one without a Date, while a Date would make the bytes differ from build to build.
 * Packages is not compressed: apt reads it as it is from a file: source. */
struct deb_repo {
	struct deb_package *debs; /* sorted by name, then version (dpkg's order), then arch */
	size_t n_debs;
	struct deb_repo_file *files; /* the index: "Packages" */
	size_t n_files;
};

/* Reads every *.deb in dir (not below it; none is fine) with deb_file_read(). -EINVAL naming the
 * file for a bad .deb or for two files with the same package, version and arch; -errno from
 * reading the directory. */
int deb_repo_build(const char *dir, struct deb_repo *ret, char **ret_error);
/* The same for a list of .deb files; -EINVAL also for two of them with the same file name. */
int deb_repo_build_files(char *const *paths, size_t n, struct deb_repo *ret, char **ret_error);

/* The Packages text for debs in the given order: each stanza has the control fields in the order
 * dpkg-scanpackages writes them (its known fields first, then the others by name, names
 * capitalized as it does), with Filename, Size and SHA256 in their place, and ends with a blank
 * line. Filename, Size and any checksum the control file itself has are dropped. */
int deb_packages_format(const struct deb_package *debs, size_t n, char **ret, size_t *ret_size);

/* The file name a .deb has in the repository: the basename of its path. */
const char *deb_repo_filename(const struct deb_package *p);

void deb_repo_release(struct deb_repo *r);
