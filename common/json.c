/* JSON output (RFC 8259): a small state machine for commas and indents, one
 * string escaper, and a syntax check and in-place reader for JSON that comes from elsewhere. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "macro.h"

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

int json_memory_open(JsonWriter *w, char **text, size_t *size) {
	FILE *f = open_memstream(text, size);

	if (!f)
		return -ENOMEM;
	json_init(w, f);
	return 0;
}

int json_memory_close(JsonWriter *w) {
	int r = json_finish(w);

	if (fclose(w->f) != 0 && r >= 0)
		r = -ENOMEM;
	w->f = NULL;
	return r;
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

/* ---- reading values out of a document json_valid() accepted: the validator skips what is passed over ---- */

static void put_utf8(char **o, uint32_t c) {
	unsigned char *u = (unsigned char *)*o;

	if (c < 0x80)
		*u++ = (unsigned char)c;
	else if (c < 0x800) {
		*u++ = (unsigned char)(0xc0 | c >> 6);
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*u++ = (unsigned char)(0xe0 | c >> 12);
		*u++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	} else {
		*u++ = (unsigned char)(0xf0 | c >> 18);
		*u++ = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		*u++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	}
	*o = (char *)u;
}

static uint32_t hex4(const char *p) {
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 4 | (uint32_t)(p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	return v;
}

int json_read_string(const char *value, char **ret) {
	const char *end, *p;
	char *s, *o;

	if (!value || *value != '"' || !(end = check_string(value)))
		return -EINVAL;
	s = o = malloc((size_t)(end - value)); /* unescaping never grows a string */
	if (!s)
		return -ENOMEM;
	for (p = value + 1; p < end - 1;) {
		uint32_t c;

		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			c = hex4(p + 1);
			p += 4;
			if (c >= 0xd800 && c < 0xdc00 && p[1] == '\\' && p[2] == 'u' && hex4(p + 3) >= 0xdc00 &&
			    hex4(p + 3) < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (hex4(p + 3) - 0xdc00);
				p += 6;
			} else if (c >= 0xd800 && c < 0xe000)
				c = 0xfffd; /* a lone surrogate */
			break;
		default: c = (unsigned char)*p; /* " \ / */
		}
		p++;
		if (c == 0) {
			free(s);
			return -EBADMSG; /* a NUL would cut the C string short */
		}
		put_utf8(&o, c);
	}
	*o = 0;
	*ret = s;
	return 0;
}

/* Past the value at p and its comma: the next item, or NULL at the end (or on bad input). */
static const char *next_item(const char *p) {
	p = check_value(p, 0);
	if (!p)
		return NULL;
	p = skip_space(p);
	return *p == ',' ? skip_space(p + 1) : NULL;
}

const char *json_member(const char *object, const char *key) {
	const char *p;

	if (!object || *object != '{')
		return NULL;
	for (p = skip_space(object + 1); *p == '"';) {
		_cleanup_free_ char *name = NULL;
		const char *value;

		if (json_read_string(p, &name) < 0)
			return NULL;
		value = skip_space(skip_space(check_string(p)) + 1);
		if (strcmp(name, key) == 0)
			return value;
		p = next_item(value);
		if (!p)
			return NULL;
	}
	return NULL;
}

const char *json_element(const char *array, size_t index) {
	const char *p;

	if (!array || *array != '[')
		return NULL;
	p = skip_space(array + 1);
	if (*p == ']')
		return NULL;
	for (size_t i = 0; p; i++) {
		if (i == index)
			return p;
		p = next_item(p);
	}
	return NULL;
}

int json_read_bool(const char *value, bool *ret) {
	if (value && strncmp(value, "true", 4) == 0)
		*ret = true;
	else if (value && strncmp(value, "false", 5) == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int json_read_int(const char *value, int64_t *ret) {
	char *end;
	long long v;

	if (!value || !(*value == '-' || (*value >= '0' && *value <= '9')))
		return -EINVAL;
	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || *end == '.' || *end == 'e' || *end == 'E')
		return -EINVAL;
	*ret = v;
	return 0;
}
