/* Package relations: Depends/Pre-Depends lists with alternatives, and Provides, parsed as dpkg does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "deb-version.h"

/* "name[:arch] [(op version)]" */
struct deb_relation {
	char *name;         /* lower-cased, as dpkg looks names up */
	char *arch;         /* the qualifier after ':', lower-cased ("any", "native", "amd64"), or NULL */
	enum deb_relop op;
	char *version;      /* NULL when op is DEB_RELOP_NONE */
};

/* "a | b (>= 1)": satisfied by any one of them. */
struct deb_alternatives {
	struct deb_relation *alts;
	size_t n_alts;
};

/* A whole field: every group must be satisfied. */
struct deb_relations {
	struct deb_alternatives *groups;
	size_t n_groups;
};

/* Parses the value of the field called field (Depends, Pre-Depends, ... or Provides; the name is
 * for messages, and Provides allows neither alternatives nor relations other than '=' nor arch
 * qualifiers). Blanks and newlines between tokens are fine; "(1)" means "(= 1)", and the obsolete
 * '<' and '>' mean "<=" and ">=", as in dpkg. An empty value is an empty list. -EINVAL with
 * "Depends: 'libc6 (>= 2.31': version unterminated"-style messages; -ENOMEM. */
int deb_relations_parse(const char *field, const char *value, struct deb_relations *ret, char **ret_error);
void deb_relations_release(struct deb_relations *r);

/* "libfoo:any (>= 1.0)" and "a | b (>= 1)", for messages. */
int deb_relation_format(const struct deb_relation *r, char **ret);
int deb_alternatives_format(const struct deb_alternatives *g, char **ret);

/* dpkg's rule for package names (pkg_name_is_illegal()): a letter or digit first, then letters,
 * digits and "-+._". -EINVAL "invalid package name 'X': ..." */
int deb_name_check(const char *name, char **ret_error);
