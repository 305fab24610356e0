/* Strict parsers for numbers, sizes, booleans and UUIDs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int safe_atou64(const char *s, uint64_t *ret);
int safe_atou32(const char *s, uint32_t *ret);
/* "512M", "4G", "1T", "1048576" (bytes); K/M/G/T are powers of 1024, "iB" optional. */
int parse_size(const char *s, uint64_t *ret);
int parse_boolean(const char *s); /* 1, 0, or -EINVAL */
/* Exactly 2n hex digits (either case) into n bytes. */
int parse_hex_bytes(const char *s, uint8_t *ret, size_t n);
/* "MAJOR:MINOR", as sysfs and /proc/self/mountinfo write device numbers. */
int parse_devnum(const char *s, dev_t *ret);

int uuid_parse(const char *s, uint8_t ret[16]);
void uuid_format(const uint8_t id[16], char ret[37]);
/* A version-4-shaped UUID derived from seed and label, so every identifier in
 * an image follows from one seed. */
void uuid_derive(const uint8_t seed[16], const char *label, uint8_t ret[16]);

bool string_has_prefix(const char *s, const char *prefix);
bool string_has_suffix(const char *s, const char *suffix);
char *string_strip(char *s);
/* The n strings of v with sep between them, newly allocated; NULL when out of memory. */
char *strv_join(char *const *v, size_t n, const char *sep);
/* Removes trailing white space in place; returns s. */
char *string_trim_end(char *s);

/* KEY=value from an os-release text, unquoted; NULL when absent (or out of memory). */
char *os_release_value(const char *text, const char *key);
