/* The one JSON writer: objects, arrays, strings (escaped, always valid UTF-8),
 * numbers, booleans and null, pretty-printed with two-space indents; and the
 * checker and reader for JSON from elsewhere (a manifest, a DNS provider's API). */
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

/* A document built in memory: json_memory_open() points w at a new buffer; json_memory_close()
 * finishes the document and closes the stream, and *text (NUL-terminated, *size bytes) is
 * the caller's to free in either case. */
int json_memory_open(JsonWriter *w, char **text, size_t *size);
int json_memory_close(JsonWriter *w);


/* Whether text is exactly one JSON value (RFC 8259, UTF-8, nesting up to JSON_MAX_DEPTH), white space around it allowed. */
bool json_valid(const char *text);

/* Reading a document that json_valid() accepted, in place: each function takes a pointer to
 * a value in it and returns a pointer to another, or NULL when there is none. */
const char *json_member(const char *object, const char *key); /* the value of object's member key */
const char *json_element(const char *array, size_t index);
/* The value as a C string (unescaped, UTF-8): -EINVAL when it is not a string, -EBADMSG for a \u0000 in it. */
int json_read_string(const char *value, char **ret);
int json_read_bool(const char *value, bool *ret);   /* -EINVAL when not true or false */
int json_read_int(const char *value, int64_t *ret); /* -EINVAL when not an integer */
