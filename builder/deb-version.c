/* Debian versions as dpkg reads and orders them (lib/dpkg/parsehelp.c parseversion(), version.c verrevcmp()). */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "deb-version.h"
#include "error.h"

/* dpkg's c_isdigit()/c_isalpha(): ASCII only, whatever the locale */
static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_blank(char c) {
	return c == ' ' || c == '\t';
}

/* dpkg's order(): '~' before the end of the string, the end before letters, letters before
 * everything else. The char stays signed as in dpkg, for strings no parser accepted. */
static int order(const char *p, const char *end) {
	int c = p < end ? (signed char)*p : 0;

	if (is_digit((char)c))
		return 0;
	if (is_alpha((char)c))
		return c;
	if (c == '~')
		return -1;
	if (c)
		return c + 256;
	return 0;
}

/* dpkg's verrevcmp() on [a, a+an) and [b, b+bn): alternating non-digit runs, compared by order(),
 * and digit runs, compared as numbers of any length (leading zeros dropped, then the longer run
 * wins, then the first differing digit). */
static int verrevcmp(const char *a, size_t an, const char *b, size_t bn) {
	const char *ae = a + an, *be = b + bn;

	while (a < ae || b < be) {
		int first_diff = 0;

		while ((a < ae && !is_digit(*a)) || (b < be && !is_digit(*b))) {
			int ac = order(a, ae), bc = order(b, be);

			/* equal orders are two non-digits, so neither side is at its end here */
			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (a < ae && *a == '0')
			a++;
		while (b < be && *b == '0')
			b++;
		while (a < ae && is_digit(*a) && b < be && is_digit(*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (a < ae && is_digit(*a))
			return 1;
		if (b < be && is_digit(*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

static int sign(int x) {
	return (x > 0) - (x < 0);
}

int deb_version_cmp(const struct deb_version *a, const struct deb_version *b) {
	int r;

	if (a->epoch != b->epoch)
		return a->epoch > b->epoch ? 1 : -1;
	r = verrevcmp(a->upstream, a->upstream_len, b->upstream, b->upstream_len);
	if (r)
		return sign(r);
	return sign(verrevcmp(a->revision, a->revision_len, b->revision, b->revision_len));
}

/* The epoch between p and colon as strtol() reads it, as dpkg does: an optional sign, then
 * digits. Returns the message for what is wrong, or NULL. */
static const char *parse_epoch(const char *p, const char *colon, uint32_t *ret) {
	bool negative = false, overflow = false;
	const char *q = p;
	uint64_t v = 0;

	if (*q == '+' || *q == '-')
		negative = *q++ == '-';
	if (!is_digit(*q))
		return "epoch in version is empty"; /* strtol() read nothing */
	for (; is_digit(*q); q++) {
		v = v * 10 + (uint64_t)(*q - '0');
		if (v > INT_MAX) {
			overflow = true;
			v = INT_MAX;
		}
	}
	if (q != colon)
		return "epoch in version is not number";
	if (negative && (v > 0 || overflow))
		return "epoch in version is negative";
	if (overflow)
		return "epoch in version is too big";
	*ret = (uint32_t)v;
	return NULL;
}

/* The checks of parseversion() after the split, warnings included. */
static const char *check_parts(const struct deb_version *v) {
	if (v->upstream_len == 0)
		return "version number is empty";
	if (!is_digit(v->upstream[0]))
		return "version number does not start with digit";
	for (size_t i = 1; i < v->upstream_len; i++) {
		char c = v->upstream[i];

		if (!is_digit(c) && !is_alpha(c) && !strchr(".-+~:", c))
			return "invalid character in version number";
	}
	for (size_t i = 0; i < v->revision_len; i++) {
		char c = v->revision[i];

		if (!is_digit(c) && !is_alpha(c) && !strchr(".+~", c))
			return "invalid character in revision number";
	}
	return NULL;
}

/* Upstream and revision out of [p, end): the revision follows the last '-'. */
static void split_revision(const char *p, const char *end, struct deb_version *v) {
	const char *hyphen = memrchr(p, '-', (size_t)(end - p));

	v->upstream = p;
	v->upstream_len = (size_t)((hyphen ? hyphen : end) - p);
	v->revision = hyphen ? hyphen + 1 : end;
	v->revision_len = hyphen ? (size_t)(end - hyphen - 1) : 0;
}

static const char *parse(const char *s, struct deb_version *ret) {
	struct deb_version v = {};
	const char *p = s, *end, *q, *colon, *why;

	while (is_blank(*p))
		p++;
	if (!*p)
		return "version string is empty";
	for (end = p; *end && !is_blank(*end); end++)
		;
	for (q = end; is_blank(*q); q++)
		;
	if (*q)
		return "version string has embedded spaces";

	colon = memchr(p, ':', (size_t)(end - p));
	if (colon) {
		why = parse_epoch(p, colon, &v.epoch);
		if (why)
			return why;
		if (colon + 1 == end)
			return "nothing after colon in version number";
		p = colon + 1;
	}
	split_revision(p, end, &v);
	if (v.revision == end && v.upstream_len < (size_t)(end - p))
		return "revision number is empty";
	why = check_parts(&v);
	if (why)
		return why;
	*ret = v;
	return NULL;
}

int deb_version_parse(const char *s, struct deb_version *ret, char **ret_error) {
	struct deb_version v;
	const char *why = parse(s, &v);

	if (why)
		return set_error(ret_error, -EINVAL, "invalid version '%s': %s", s, why);
	if (ret)
		*ret = v;
	return 0;
}

/* The same split without the checks, for deb_version_compare() on strings nobody checked. */
static void split_unchecked(const char *s, struct deb_version *v) {
	const char *end = s + strlen(s), *colon = strchr(s, ':');

	*v = (struct deb_version){};
	if (colon && parse_epoch(s, colon, &v->epoch) == NULL)
		s = colon + 1;
	split_revision(s, end, v);
}

int deb_version_compare(const char *a, const char *b) {
	struct deb_version va, vb;

	if (parse(a, &va))
		split_unchecked(a, &va);
	if (parse(b, &vb))
		split_unchecked(b, &vb);
	return deb_version_cmp(&va, &vb);
}

const char *deb_relop_to_string(enum deb_relop op) {
	switch (op) {
	case DEB_RELOP_LT:
		return "<<";
	case DEB_RELOP_LE:
		return "<=";
	case DEB_RELOP_EQ:
		return "=";
	case DEB_RELOP_GE:
		return ">=";
	case DEB_RELOP_GT:
		return ">>";
	case DEB_RELOP_NONE:
		break;
	}
	return "";
}

bool deb_version_satisfies(const char *have, enum deb_relop op, const char *want) {
	int c;

	if (op == DEB_RELOP_NONE)
		return true;
	c = deb_version_compare(have, want);
	switch (op) {
	case DEB_RELOP_LT:
		return c < 0;
	case DEB_RELOP_LE:
		return c <= 0;
	case DEB_RELOP_EQ:
		return c == 0;
	case DEB_RELOP_GE:
		return c >= 0;
	case DEB_RELOP_GT:
		return c > 0;
	case DEB_RELOP_NONE:
		break;
	}
	return true;
}
