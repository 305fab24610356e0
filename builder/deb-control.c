/* deb822 stanzas read the way Dpkg::Control reads them (dpkg-scanpackages' parser), plus dpkg's Status rule. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deb-control.h"
#include "error.h"
#include "macro.h"

static bool is_space(char c) {
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

void deb_stanza_release(struct deb_stanza *s) {
	if (!s)
		return;
	for (size_t i = 0; i < s->n_fields; i++) {
		free(s->fields[i].name);
		free(s->fields[i].value);
	}
	free(s->fields);
	*s = (struct deb_stanza){};
}

void deb_stanzas_free(struct deb_stanza *s, size_t n) {
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		deb_stanza_release(&s[i]);
	free(s);
}

const char *deb_stanza_get(const struct deb_stanza *s, const char *name) {
	for (size_t i = 0; i < s->n_fields; i++)
		if (strcasecmp(s->fields[i].name, name) == 0)
			return s->fields[i].value;
	return NULL;
}

/* What the parser holds between lines. */
struct parser {
	const char *origin;
	unsigned line;
	struct deb_stanza cur;   /* the stanza being read; n_fields 0 between stanzas */
	struct deb_stanza *out;
	size_t n_out;
	size_t max_fields, max_out;
};

static int add_field(struct parser *p, const char *name, size_t name_len, const char *value, size_t value_len,
		     char **ret_error) {
	struct deb_field f;

	for (size_t i = 0; i < p->cur.n_fields; i++)
		if (strlen(p->cur.fields[i].name) == name_len && strncasecmp(p->cur.fields[i].name, name, name_len) == 0)
			return set_error(ret_error, -EINVAL, "%s:%u: duplicate field '%.*s'", p->origin, p->line,
					 (int)name_len, name);
	if (p->cur.n_fields == p->max_fields) {
		size_t m = p->max_fields ? p->max_fields * 2 : 16;
		struct deb_field *n = reallocarray(p->cur.fields, m, sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->cur.fields = n;
		p->max_fields = m;
	}
	f.name = strndup(name, name_len);
	f.value = strndup(value, value_len);
	if (!f.name || !f.value) {
		free(f.name);
		free(f.value);
		return -ENOMEM;
	}
	if (p->cur.n_fields == 0)
		p->cur.line = p->line;
	p->cur.fields[p->cur.n_fields++] = f;
	return 0;
}

static int append_line(struct parser *p, const char *s, size_t len, char **ret_error) {
	struct deb_field *f;
	size_t old;
	char *n;

	if (p->cur.n_fields == 0)
		return set_error(ret_error, -EINVAL, "%s:%u: continuation line outside a field", p->origin, p->line);
	f = &p->cur.fields[p->cur.n_fields - 1];
	old = strlen(f->value);
	n = realloc(f->value, old + 1 + len + 1);
	if (!n)
		return -ENOMEM;
	n[old] = '\n';
	memcpy(n + old + 1, s, len);
	n[old + 1 + len] = 0;
	f->value = n;
	return 0;
}

/* Hands the finished stanza on; nothing to do between stanzas. */
static int end_stanza(struct parser *p) {
	if (p->cur.n_fields == 0)
		return 0;
	if (p->n_out == p->max_out) {
		size_t m = p->max_out ? p->max_out * 2 : 16;
		struct deb_stanza *n = reallocarray(p->out, m, sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->out = n;
		p->max_out = m;
	}
	p->out[p->n_out++] = p->cur;
	p->cur = (struct deb_stanza){};
	p->max_fields = 0;
	return 0;
}

/* "Name: value": the name runs to the colon, has no blanks and does not start with '-'. */
static int parse_field_line(struct parser *p, const char *s, size_t len, char **ret_error) {
	const char *colon = memchr(s, ':', len), *v, *end = s + len;
	size_t name_len;

	if (!colon)
		return set_error(ret_error, -EINVAL, "%s:%u: '%.*s' is no field (no colon)", p->origin, p->line,
				 (int)MIN(len, 60), s);
	name_len = (size_t)(colon - s);
	if (name_len == 0)
		return set_error(ret_error, -EINVAL, "%s:%u: empty field name", p->origin, p->line);
	if (s[0] == '-')
		return set_error(ret_error, -EINVAL, "%s:%u: field name '%.*s' starts with a hyphen", p->origin, p->line,
				 (int)name_len, s);
	for (size_t i = 0; i < name_len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
			return set_error(ret_error, -EINVAL, "%s:%u: field name '%.*s' must be followed by a colon",
					 p->origin, p->line, (int)name_len, s);
	for (v = colon + 1; v < end && is_space(*v); v++)
		;
	return add_field(p, s, name_len, v, (size_t)(end - v), ret_error);
}

static int parse_line(struct parser *p, const char *s, size_t len, char **ret_error) {
	if (memchr(s, 0, len))
		return set_error(ret_error, -EINVAL, "%s:%u: NUL byte", p->origin, p->line);
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0)
		return end_stanza(p);
	if (s[0] == '#')
		return 0;
	if (s[0] == ' ' || s[0] == '\t')
		return append_line(p, s + 1, len - 1, ret_error);
	return parse_field_line(p, s, len, ret_error);
}

int deb_control_parse(const char *text, size_t size, const char *origin, struct deb_stanza **ret,
		      size_t *ret_n, char **ret_error) {
	struct parser p = { .origin = origin };
	const char *s = text, *end = text + size;
	int r = 0;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = (size_t)((nl ? nl : end) - s);

		p.line++;
		r = parse_line(&p, s, len, ret_error);
		if (r < 0)
			goto fail;
		s += len + (nl ? 1 : 0);
	}
	r = end_stanza(&p);
	if (r < 0)
		goto fail;
	*ret = p.out;
	*ret_n = p.n_out;
	return 0;
fail:
	deb_stanza_release(&p.cur);
	deb_stanzas_free(p.out, p.n_out);
	return r;
}

int deb_control_parse_one(const char *text, size_t size, const char *origin, struct deb_stanza *ret,
			  char **ret_error) {
	struct deb_stanza *s = NULL;
	size_t n = 0;
	int r;

	r = deb_control_parse(text, size, origin, &s, &n, ret_error);
	if (r < 0)
		return r;
	if (n != 1) {
		r = n == 0 ? set_error(ret_error, -EINVAL, "%s: no fields", origin)
			   : set_error(ret_error, -EINVAL, "%s:%u: a second stanza", origin, s[1].line);
		deb_stanzas_free(s, n);
		return r;
	}
	*ret = s[0];
	free(s);
	return 0;
}

bool deb_status_is_installed(const char *status) {
	const char *word[3];
	size_t len[3], n = 0;

	for (const char *p = status; *p;) {
		size_t l;

		p += strspn(p, " \t");
		l = strcspn(p, " \t");
		if (l == 0)
			break;
		if (n == ELEMENTSOF(word))
			return false; /* a fourth word */
		word[n] = p;
		len[n++] = l;
		p += l;
	}
	return n == 3 && len[1] == 2 && strncmp(word[1], "ok", 2) == 0 && len[2] == 9 &&
	       strncmp(word[2], "installed", 9) == 0;
}

int deb_status_parse(const char *text, size_t size, const char *origin, struct deb_stanza **ret,
		     size_t *ret_n, char **ret_error) {
	struct deb_stanza *s = NULL;
	size_t n = 0, kept = 0;
	int r;

	r = deb_control_parse(text, size, origin, &s, &n, ret_error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const char *status = deb_stanza_get(&s[i], "Status");

		if (!deb_stanza_get(&s[i], "Package") || !status) {
			r = set_error(ret_error, -EINVAL, "%s:%u: stanza without %s", origin, s[i].line,
				      status ? "Package" : "Status");
			deb_stanzas_free(s, n);
			return r;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (deb_status_is_installed(deb_stanza_get(&s[i], "Status")))
			s[kept++] = s[i];
		else
			deb_stanza_release(&s[i]);
	}
	*ret = s;
	*ret_n = kept;
	return 0;
}
