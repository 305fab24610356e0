/* The one JSON writer: objects, arrays, strings (escaped, always valid UTF-8),
 * numbers, booleans and null, pretty-printed with two-space indents. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

typedef struct JsonWriter {
	FILE *f;
	unsigned depth;
	bool has_items[JSON_MAX_DEPTH + 1]; /* this level has an item already: the next one needs a comma */
	bool after_key;
	int error;                          /* -EINVAL for misuse (too deep, unbalanced), sticky */
} JsonWriter;

void json_init(JsonWriter *w, FILE *f);
void json_object_begin(JsonWriter *w);
void json_object_end(JsonWriter *w);
void json_array_begin(JsonWriter *w);
void json_array_end(JsonWriter *w);
/* An object's member name; the next call writes its value. */
void json_key(JsonWriter *w, const char *name);

/* NULL is written as null. Control characters are escaped; bytes that are not
 * UTF-8 become U+FFFD, so the output always parses. */
void json_string(JsonWriter *w, const char *s);
void json_uint(JsonWriter *w, uint64_t v);
void json_int(JsonWriter *w, int64_t v);
void json_bool(JsonWriter *w, bool v);
void json_null(JsonWriter *w);
/* A fixed-point number ("1.250" for decimals 3); not finite → null. */
void json_fixed(JsonWriter *w, double v, unsigned decimals);
/* A value that is JSON already (check it with json_valid() first). */
void json_raw(JsonWriter *w, const char *json);

/* Key and value in one call, for objects. */
void json_field_string(JsonWriter *w, const char *name, const char *s);
void json_field_uint(JsonWriter *w, const char *name, uint64_t v);
void json_field_bool(JsonWriter *w, const char *name, bool v);

/* Ends the document with a newline; 0, or -EINVAL (unbalanced) / -EIO (stream error). */
int json_finish(JsonWriter *w);

/* Whether text is exactly one JSON value (RFC 8259, UTF-8, nesting up to JSON_MAX_DEPTH), white space around it allowed. */
bool json_valid(const char *text);

/* A member of the top-level object of a valid JSON text (a manifest): the string, unescaped
 * (\u escapes outside ASCII become '?'), or the boolean. -ENOENT when absent, -EMEDIUMTYPE when
 * it has another type, -EINVAL when text is not a JSON object. */
int json_top_string(const char *text, const char *key, char **ret);
int json_top_bool(const char *text, const char *key, bool *ret);
