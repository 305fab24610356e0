/* Strict parsers: whole-string matches only, errors as -EINVAL/-ERANGE. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "parse-util.h"
#include "sha256.h"

/* The leading decimal digits of s (at least one, no sign or space); *ret_end past them. */
static int parse_digits(const char *s, uint64_t *ret, const char **ret_end) {
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	*ret = v;
	*ret_end = end;
	return 0;
}

int safe_atou64(const char *s, uint64_t *ret) {
	const char *end;
	uint64_t v;
	int r = parse_digits(s, &v, &end);

	if (r < 0)
		return r;
	if (*end != 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int safe_atou32(const char *s, uint32_t *ret) {
	uint64_t v;
	int r = safe_atou64(s, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int parse_size(const char *s, uint64_t *ret) {
	static const struct {
		char c;
		unsigned shift;
	} suffixes[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
	const char *end;
	uint64_t v;
	unsigned shift = 0;
	int r = parse_digits(s, &v, &end);

	if (r < 0)
		return r;
	if (*end) {
		size_t i;

		for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
			if (toupper((unsigned char)*end) == suffixes[i].c)
				break;
		if (i == sizeof(suffixes) / sizeof(suffixes[0]))
			return -EINVAL;
		shift = suffixes[i].shift;
		end++;
		if (strcmp(end, "") != 0 && strcmp(end, "iB") != 0 && strcmp(end, "B") != 0)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

int parse_boolean(const char *s) {
	static const char *const yes[] = { "1", "yes", "y", "true", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

static int unhex(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int parse_hex_bytes(const char *s, uint8_t *ret, size_t n) {
	if (!s || strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int a = unhex(s[2 * i]), b = unhex(s[2 * i + 1]);

		if (a < 0 || b < 0)
			return -EINVAL;
		ret[i] = (uint8_t)(a << 4 | b);
	}
	return 0;
}

int parse_devnum(const char *s, dev_t *ret) {
	const char *colon = s ? strchr(s, ':') : NULL;
	uint32_t maj, min;
	char buf[16];

	if (!colon || (size_t)(colon - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = 0;
	if (safe_atou32(buf, &maj) < 0 || safe_atou32(colon + 1, &min) < 0)
		return -EINVAL;
	*ret = makedev(maj, min);
	return 0;
}

int uuid_parse(const char *s, uint8_t ret[16]) {
	uint8_t id[16];
	size_t j = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36;) {
		int a, b;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			i++;
			continue;
		}
		a = unhex(s[i]);
		b = unhex(s[i + 1]);
		if (a < 0 || b < 0)
			return -EINVAL;
		id[j++] = (uint8_t)(a << 4 | b);
		i += 2;
	}
	memcpy(ret, id, 16);
	return 0;
}

void uuid_format(const uint8_t id[16], char ret[37]) {
	snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11],
		 id[12], id[13], id[14], id[15]);
}

void uuid_derive(const uint8_t seed[16], const char *label, uint8_t ret[16]) {
	struct sha256_ctx ctx;
	uint8_t digest[32];

	sha256_init(&ctx);
	sha256_update(&ctx, "mlrig-uuid-v1", 13);
	sha256_update(&ctx, seed, 16);
	sha256_update(&ctx, label, strlen(label));
	sha256_final(&ctx, digest);
	memcpy(ret, digest, 16);
	ret[6] = (ret[6] & 0x0f) | 0x40;
	ret[8] = (ret[8] & 0x3f) | 0x80;
}

bool string_has_prefix(const char *s, const char *prefix) {
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool string_has_suffix(const char *s, const char *suffix) {
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

char *string_strip(char *s) {
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

char *string_trim_end(char *s) {
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

char *strv_join(char *const *v, size_t n, const char *sep) {
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? sep : "", v[i]);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

char *os_release_value(const char *text, const char *key) {
	size_t n = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, n) != 0 || l[n] != '=')
			continue;
		const char *v = l + n + 1;
		size_t len = strcspn(v, "\n");
		if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0])
			v++, len -= 2;
		return strndup(v, len);
	}
	return NULL;
}
