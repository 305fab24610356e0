/* Debian version strings: dpkg's syntax check and dpkg's ordering (epoch, upstream, revision, '~'). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed version: views into the string it was parsed from, so nothing to free. */
struct deb_version {
	uint32_t epoch;       /* 0 when none is written */
	const char *upstream;
	size_t upstream_len;
	const char *revision; /* after the last '-'; revision_len is 0 when there is none */
	size_t revision_len;
};

/* Parses s as dpkg's parseversion() does (blanks around it are dropped) and refuses everything
 * dpkg refuses or warns about, so a version that passes is one `dpkg --validate-version` accepts.
 * -EINVAL with "invalid version '1:': nothing after colon in version number"; ret may be NULL
 * to only check. */
int deb_version_parse(const char *s, struct deb_version *ret, char **ret_error);

/* dpkg's order: <0, 0 or >0. */
int deb_version_cmp(const struct deb_version *a, const struct deb_version *b);

/* Compares two version strings as `dpkg --compare-versions` does. Meant for versions that
 * deb_version_parse() accepted; any other string is split the same way unchecked, so the order
 * stays total and deterministic, but it means nothing. */
int deb_version_compare(const char *a, const char *b);

/* The relation in "(>= 1.0)". DEB_RELOP_NONE: no version was asked for. */
enum deb_relop {
	DEB_RELOP_NONE,
	DEB_RELOP_LT, /* << */
	DEB_RELOP_LE, /* <= (and the obsolete <) */
	DEB_RELOP_EQ, /* = */
	DEB_RELOP_GE, /* >= (and the obsolete >) */
	DEB_RELOP_GT, /* >> */
};

/* "<<", "<=", "=", ">=", ">>"; "" for DEB_RELOP_NONE. */
const char *deb_relop_to_string(enum deb_relop op);

/* Whether version have satisfies "(op want)"; always true for DEB_RELOP_NONE. */
bool deb_version_satisfies(const char *have, enum deb_relop op, const char *want);
