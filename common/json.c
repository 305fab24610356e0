/* JSON output (RFC 8259): a small state machine for commas and indents, one
 * string escaper, and a syntax check (and top-level members) for JSON that
 * comes from elsewhere. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void json_init(JsonWriter *w, FILE *f) {
	*w = (JsonWriter){ .f = f };
}

static void newline_indent(JsonWriter *w) {
	fputc('\n', w->f);
	for (unsigned i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

/* Before any value: the comma and line break an array item needs, nothing after a key. */
static void before_value(JsonWriter *w) {
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->has_items[w->depth])
			fputc(',', w->f);
		newline_indent(w);
	} else if (w->has_items[0])
		w->error = -EINVAL; /* a second top-level value */
	w->has_items[w->depth] = true;
}

static void open_level(JsonWriter *w, char c) {
	before_value(w);
	fputc(c, w->f);
	if (w->depth >= JSON_MAX_DEPTH) {
		w->error = -EINVAL;
		return;
	}
	w->depth++;
	w->has_items[w->depth] = false;
}

static void close_level(JsonWriter *w, char c) {
	bool had = w->depth > 0 && w->has_items[w->depth];

	if (w->depth == 0 || w->after_key) {
		w->error = -EINVAL;
		return;
	}
	w->depth--;
	if (had)
		newline_indent(w);
	fputc(c, w->f);
}

void json_object_begin(JsonWriter *w) {
	open_level(w, '{');
}

void json_object_end(JsonWriter *w) {
	close_level(w, '}');
}

void json_array_begin(JsonWriter *w) {
	open_level(w, '[');
}

void json_array_end(JsonWriter *w) {
	close_level(w, ']');
}

/* Length of the well-formed UTF-8 sequence at p (1-4), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *p) {
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F; /* no UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

static void write_escaped(FILE *f, const char *s) {
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n;

		switch (*p) {
		case '"': fputs("\\\"", f); p++; continue;
		case '\\': fputs("\\\\", f); p++; continue;
		case '\n': fputs("\\n", f); p++; continue;
		case '\r': fputs("\\r", f); p++; continue;
		case '\t': fputs("\\t", f); p++; continue;
		case '\b': fputs("\\b", f); p++; continue;
		case '\f': fputs("\\f", f); p++; continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_sequence(p);
		if (n == 0) {
			fputs("\\ufffd", f); /* one replacement per byte that is not UTF-8 */
			p++;
			continue;
		}
		fwrite(p, 1, n, f);
		p += n;
	}
	fputc('"', f);
}

void json_key(JsonWriter *w, const char *name) {
	if (w->after_key || w->depth == 0) {
		w->error = -EINVAL;
		return;
	}
	before_value(w);
	write_escaped(w->f, name ? name : "");
	fputs(": ", w->f);
	w->after_key = true;
}

void json_string(JsonWriter *w, const char *s) {
	if (!s) {
		json_null(w);
		return;
	}
	before_value(w);
	write_escaped(w->f, s);
}

void json_uint(JsonWriter *w, uint64_t v) {
	before_value(w);
	fprintf(w->f, "%" PRIu64, v);
}

void json_int(JsonWriter *w, int64_t v) {
	before_value(w);
	fprintf(w->f, "%" PRId64, v);
}

void json_bool(JsonWriter *w, bool v) {
	before_value(w);
	fputs(v ? "true" : "false", w->f);
}

void json_null(JsonWriter *w) {
	before_value(w);
	fputs("null", w->f);
}

void json_fixed(JsonWriter *w, double v, unsigned decimals) {
	if (!isfinite(v)) {
		json_null(w);
		return;
	}
	before_value(w);
	fprintf(w->f, "%.*f", (int)decimals, v);
}

void json_raw(JsonWriter *w, const char *json) {
	before_value(w);
	fputs(json, w->f);
}

void json_field_string(JsonWriter *w, const char *name, const char *s) {
	json_key(w, name);
	json_string(w, s);
}

void json_field_uint(JsonWriter *w, const char *name, uint64_t v) {
	json_key(w, name);
	json_uint(w, v);
}

void json_field_bool(JsonWriter *w, const char *name, bool v) {
	json_key(w, name);
	json_bool(w, v);
}

int json_finish(JsonWriter *w) {
	if (w->depth != 0 || w->after_key)
		w->error = -EINVAL;
	fputc('\n', w->f);
	if (w->error < 0)
		return w->error;
	return ferror(w->f) ? -EIO : 0;
}

/* ---- checking JSON from elsewhere (a manifest next to an image) ---- */

static const char *skip_space(const char *p) {
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *check_value(const char *p, unsigned depth);

static const char *check_string(const char *p) {
	for (p++;;) {
		const unsigned char c = (unsigned char)*p;
		size_t n;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL; /* raw control characters, and the end of the text */
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 5;
			} else if (*p && strchr("\"\\/bfnrt", *p))
				p++;
			else
				return NULL;
			continue;
		}
		n = utf8_sequence((const unsigned char *)p);
		if (n == 0)
			return NULL;
		p += n;
	}
}

static const char *check_digits(const char *p) {
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *check_number(const char *p) {
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (!(p = check_digits(p)))
		return NULL;
	if (*p == '.' && !(p = check_digits(p + 1)))
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(p = check_digits(p)))
			return NULL;
	}
	return p;
}

static const char *check_items(const char *p, unsigned depth, char close, bool members) {
	p = skip_space(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (members) {
			if (*p != '"' || !(p = check_string(p)))
				return NULL;
			p = skip_space(p);
			if (*p != ':')
				return NULL;
			p = skip_space(p + 1);
		}
		if (!(p = check_value(p, depth + 1)))
			return NULL;
		p = skip_space(p);
		if (*p == close)
			return p + 1;
		if (*p != ',')
			return NULL;
		p = skip_space(p + 1);
	}
}

static const char *check_value(const char *p, unsigned depth) {
	if (depth > JSON_MAX_DEPTH)
		return NULL;
	switch (*p) {
	case '{': return check_items(p, depth, '}', true);
	case '[': return check_items(p, depth, ']', false);
	case '"': return check_string(p);
	case 't': return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f': return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n': return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default: return check_number(p);
	}
}

bool json_valid(const char *text) {
	const char *p;

	if (!text)
		return false;
	p = check_value(skip_space(text), 0);
	return p && *skip_space(p) == 0;
}

/* The value of the top-level member key, or NULL. */
static const char *top_member(const char *text, const char *key) {
	const char *p = skip_space(text);
	size_t n = strlen(key);

	if (!json_valid(text) || *p != '{')
		return NULL;
	p = skip_space(p + 1);
	while (*p == '"') {
		const char *name = p + 1, *end = check_string(p);
		bool match = (size_t)(end - name - 1) == n && strncmp(name, key, n) == 0;

		p = skip_space(skip_space(end) + 1); /* past the ':' */
		if (match)
			return p;
		p = skip_space(check_value(p, 1));
		if (*p == ',')
			p = skip_space(p + 1);
	}
	return NULL;
}

int json_top_string(const char *text, const char *key, char **ret) {
	const char *v = top_member(text, key);
	char *out, *o;

	if (!v)
		return json_valid(text) && *skip_space(text) == '{' ? -ENOENT : -EINVAL;
	if (*v != '"')
		return -EMEDIUMTYPE;
	out = o = malloc(strlen(v));
	if (!out)
		return -ENOMEM;
	for (v++; *v != '"'; v++) {
		if (*v != '\\') {
			*o++ = *v;
			continue;
		}
		switch (*++v) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned c = 0;

			for (int i = 1; i <= 4; i++)
				c = c * 16 + (unsigned)(isdigit((unsigned char)v[i]) ? v[i] - '0' : (tolower((unsigned char)v[i]) - 'a' + 10));
			*o++ = c >= 0x20 && c < 0x80 ? (char)c : '?';
			v += 4;
			break;
		}
		default: *o++ = *v; /* \" \\ \/ */
		}
	}
	*o = 0;
	*ret = out;
	return 0;
}

int json_top_bool(const char *text, const char *key, bool *ret) {
	const char *v = top_member(text, key);

	if (!v)
		return json_valid(text) && *skip_space(text) == '{' ? -ENOENT : -EINVAL;
	if (strncmp(v, "true", 4) != 0 && strncmp(v, "false", 5) != 0)
		return -EMEDIUMTYPE;
	*ret = *v == 't';
	return 0;
}
