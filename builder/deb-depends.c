/* Relation fields as dpkg's parser (lib/dpkg/fields.c f_dependency()) reads them, with its messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deb-depends.h"
#include "error.h"
#include "macro.h"

static bool is_alnum(char c) {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* dpkg's c_isspace(): relation fields fold over lines, so newlines count */
static bool is_space(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* What may not be in a name or an arch: dpkg reads up to one of these */
static bool ends_word(char c) {
	return !c || is_space(c) || strchr(":(,|[<", c);
}

int deb_name_check(const char *name, char **ret_error) {
	if (!*name)
		return set_error(ret_error, -EINVAL, "invalid package name '': may not be empty");
	if (!is_alnum(*name))
		return set_error(ret_error, -EINVAL, "invalid package name '%s': must start with a letter or digit", name);
	for (const char *p = name; *p; p++)
		if (!is_alnum(*p) && !strchr("-+._", *p))
			return set_error(ret_error, -EINVAL,
					 "invalid package name '%s': character '%c' not allowed (only letters, digits and '-+._')",
					 name, *p);
	return 0;
}

static int arch_check(const char *arch) {
	if (!is_alnum(*arch))
		return -EINVAL;
	for (const char *p = arch; *p; p++)
		if (!is_alnum(*p) && *p != '-')
			return -EINVAL;
	return 0;
}

static void relation_release(struct deb_relation *r) {
	free(r->name);
	free(r->arch);
	free(r->version);
}

void deb_relations_release(struct deb_relations *r) {
	if (!r)
		return;
	for (size_t i = 0; i < r->n_groups; i++) {
		for (size_t j = 0; j < r->groups[i].n_alts; j++)
			relation_release(&r->groups[i].alts[j]);
		free(r->groups[i].alts);
	}
	free(r->groups);
	*r = (struct deb_relations){};
}

static char *lower_dup(const char *s, size_t n) {
	char *d = strndup(s, n);

	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

static const char *skip_space(const char *p) {
	while (is_space(*p))
		p++;
	return p;
}

/* The operator at *p, moved past; "(1)" has none and means '='. */
static enum deb_relop parse_op(const char **p) {
	static const struct {
		const char *s;
		enum deb_relop op;
	} ops[] = {
		{ "<<", DEB_RELOP_LT }, { "<=", DEB_RELOP_LE }, { ">=", DEB_RELOP_GE }, { ">>", DEB_RELOP_GT },
		{ "=", DEB_RELOP_EQ },  { "<", DEB_RELOP_LE },  { ">", DEB_RELOP_GE },
	};

	for (size_t i = 0; i < ELEMENTSOF(ops); i++)
		if (strncmp(*p, ops[i].s, strlen(ops[i].s)) == 0) {
			*p += strlen(ops[i].s);
			return ops[i].op;
		}
	return DEB_RELOP_EQ;
}

/* "(op version)" at *p (just after the '('), up to and past the ')'. */
static int parse_version_part(const char *field, const char **p, struct deb_relation *r, char **ret_error) {
	const char *q = skip_space(*p), *v;
	_cleanup_free_ char *error = NULL;
	int k;

	r->op = parse_op(&q);
	v = q = skip_space(q);
	while (*q && !is_space(*q) && *q != ')' && *q != '(')
		q++;
	r->version = strndup(v, (size_t)(q - v));
	if (!r->version)
		return -ENOMEM;
	q = skip_space(q);
	if (!*q)
		return set_error(ret_error, -EINVAL, "%s: reference to '%s': version unterminated", field, r->name);
	if (*q != ')')
		return set_error(ret_error, -EINVAL, "%s: reference to '%s': version contains '%c' instead of ')'",
				 field, r->name, *q);
	k = deb_version_parse(r->version, NULL, &error);
	if (k < 0)
		return set_error(ret_error, k, "%s: reference to '%s': %s", field, r->name, error);
	*p = q + 1;
	return 0;
}

/* One "name[:arch] [(op version)]" at *p, moved past it and the blanks after it. */
static int parse_relation(const char *field, const char **p, struct deb_relation *r, char **ret_error) {
	_cleanup_free_ char *error = NULL;
	const char *q = skip_space(*p), *n = q;
	int k;

	while (!ends_word(*q))
		q++;
	if (q == n)
		return set_error(ret_error, -EINVAL, "%s: missing package name, or garbage where package name expected at '%.20s'",
				 field, n);
	r->name = lower_dup(n, (size_t)(q - n));
	if (!r->name)
		return -ENOMEM;
	k = deb_name_check(r->name, &error);
	if (k < 0)
		return set_error(ret_error, k, "%s: %s", field, error);
	if (*q == ':') {
		const char *a = ++q;

		while (!ends_word(*q))
			q++;
		r->arch = lower_dup(a, (size_t)(q - a));
		if (!r->arch)
			return -ENOMEM;
		if (q == a || arch_check(r->arch) < 0)
			return set_error(ret_error, -EINVAL, "%s: reference to '%s': missing architecture name, or garbage where architecture name expected",
					 field, r->name);
	}
	q = skip_space(q);
	if (*q == '(') {
		q++;
		k = parse_version_part(field, &q, r, ret_error);
		if (k < 0)
			return k;
		q = skip_space(q);
	}
	*p = q;
	return 0;
}

static int append_group(struct deb_relations *rs, struct deb_alternatives *g) {
	struct deb_alternatives *n = reallocarray(rs->groups, rs->n_groups + 1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	rs->groups = n;
	rs->groups[rs->n_groups++] = *g;
	*g = (struct deb_alternatives){};
	return 0;
}

static int append_alt(struct deb_alternatives *g, struct deb_relation *r) {
	struct deb_relation *n = reallocarray(g->alts, g->n_alts + 1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	g->alts = n;
	g->alts[g->n_alts++] = *r;
	*r = (struct deb_relation){};
	return 0;
}

/* Provides names what a package stands in for: one exact version at most, no arch. */
static int check_provides(const char *field, const struct deb_relation *r, char **ret_error) {
	if (r->arch)
		return set_error(ret_error, -EINVAL, "%s: '%s:%s': no arch qualifier allowed here", field, r->name, r->arch);
	if (r->op != DEB_RELOP_NONE && r->op != DEB_RELOP_EQ)
		return set_error(ret_error, -EINVAL, "%s: '%s (%s %s)': only exact versions (=) may be provided", field,
				 r->name, deb_relop_to_string(r->op), r->version);
	return 0;
}

/* One group "a | b" at *p, up to the ',' or the end. */
static int parse_group(const char *field, bool provides, const char **p, struct deb_alternatives *g,
		       char **ret_error) {
	const char *q = *p;
	int k;

	for (;;) {
		struct deb_relation r = {};

		k = parse_relation(field, &q, &r, ret_error);
		if (k >= 0 && provides)
			k = check_provides(field, &r, ret_error);
		if (k >= 0)
			k = append_alt(g, &r);
		relation_release(&r);
		if (k < 0)
			return k;
		if (*q != '|')
			break;
		if (provides)
			return set_error(ret_error, -EINVAL, "%s: alternatives ('|') not allowed", field);
		q++;
	}
	if (*q && *q != ',')
		return set_error(ret_error, -EINVAL, "%s: syntax error after reference to package '%s'", field,
				 g->alts[g->n_alts - 1].name);
	*p = q;
	return 0;
}

int deb_relations_parse(const char *field, const char *value, struct deb_relations *ret, char **ret_error) {
	struct deb_relations rs = {};
	bool provides = strcasecmp(field, "Provides") == 0;
	const char *p = skip_space(value);
	int k = 0;

	while (*p) {
		struct deb_alternatives g = {};

		k = parse_group(field, provides, &p, &g, ret_error);
		if (k >= 0)
			k = append_group(&rs, &g);
		for (size_t j = 0; j < g.n_alts; j++)
			relation_release(&g.alts[j]);
		free(g.alts);
		if (k < 0)
			goto fail;
		if (*p != ',')
			continue;
		/* "a," names nothing after its comma (nor does "a, , b", which the next group refuses) */
		p = skip_space(p + 1);
		if (!*p) {
			k = set_error(ret_error, -EINVAL, "%s: missing package name, or garbage where package name expected at the end", field);
			goto fail;
		}
	}
	*ret = rs;
	return 0;
fail:
	deb_relations_release(&rs);
	return k;
}

int deb_relation_format(const struct deb_relation *r, char **ret) {
	int k;

	if (r->op == DEB_RELOP_NONE)
		k = asprintf(ret, "%s%s%s", r->name, r->arch ? ":" : "", r->arch ?: "");
	else
		k = asprintf(ret, "%s%s%s (%s %s)", r->name, r->arch ? ":" : "", r->arch ?: "",
			     deb_relop_to_string(r->op), r->version);
	return k < 0 ? -ENOMEM : 0;
}

int deb_alternatives_format(const struct deb_alternatives *g, char **ret) {
	_cleanup_free_ char *s = strdup("");

	for (size_t i = 0; s && i < g->n_alts; i++) {
		_cleanup_free_ char *one = NULL;
		char *n = NULL;

		if (deb_relation_format(&g->alts[i], &one) < 0 ||
		    asprintf(&n, "%s%s%s", s, i ? " | " : "", one) < 0)
			return -ENOMEM;
		free(s);
		s = n;
	}
	if (!s)
		return -ENOMEM;
	*ret = TAKE_PTR(s);
	return 0;
}
