/* What fetch knows before it downloads: Ubuntu's release names, URLs' file names, SHA256SUMS files. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fetch.h"
#include "macro.h"

static const struct fetch_known known[] = {
	{ "ubuntu-20.04-live-server", "https://releases.ubuntu.com", "/20.04/", "ubuntu-20.04", "-live-server-amd64.iso" },
	{ "ubuntu-20.04-desktop", "https://releases.ubuntu.com", "/20.04/", "ubuntu-20.04", "-desktop-amd64.iso" },
	{ "ubuntu-20.04-server-cloudimg-amd64-root.tar.xz", "https://cloud-images.ubuntu.com", "/releases/focal/release/",
	  "ubuntu-20.04-server-cloudimg-amd64-root.tar.xz", "" },
	{ "ubuntu-22.04-live-server", "https://releases.ubuntu.com", "/22.04/", "ubuntu-22.04", "-live-server-amd64.iso" },
	{ "ubuntu-22.04-desktop", "https://releases.ubuntu.com", "/22.04/", "ubuntu-22.04", "-desktop-amd64.iso" },
	{ "ubuntu-22.04-server-cloudimg-amd64-root.tar.xz", "https://cloud-images.ubuntu.com", "/releases/jammy/release/",
	  "ubuntu-22.04-server-cloudimg-amd64-root.tar.xz", "" },
	{ "ubuntu-24.04-live-server", "https://releases.ubuntu.com", "/24.04/", "ubuntu-24.04", "-live-server-amd64.iso" },
	{ "ubuntu-24.04-desktop", "https://releases.ubuntu.com", "/24.04/", "ubuntu-24.04", "-desktop-amd64.iso" },
	{ "ubuntu-24.04-server-cloudimg-amd64-root.tar.xz", "https://cloud-images.ubuntu.com", "/releases/noble/release/",
	  "ubuntu-24.04-server-cloudimg-amd64-root.tar.xz", "" },
};

const struct fetch_known *fetch_known_lookup(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(known); i++)
		if (strcmp(known[i].name, name) == 0)
			return &known[i];
	return NULL;
}

const struct fetch_known *fetch_known_list(size_t *ret_n) {
	*ret_n = ELEMENTSOF(known);
	return known;
}

int fetch_known_dir_url(const struct fetch_known *k, const char *mirror, char **ret) {
	const char *host = mirror && *mirror ? mirror : k->host;
	size_t len = strlen(host);

	while (len > 0 && host[len - 1] == '/')
		len--;
	if (asprintf(ret, "%.*s%s", (int)len, host, k->dir) < 0)
		return -ENOMEM;
	return 0;
}

int fetch_url_basename(const char *url, char **ret) {
	const char *p = strstr(url, "://"), *slash;
	size_t end;
	char *name;

	p = p ? p + 3 : url;
	end = strcspn(p, "?#");
	slash = memrchr(p, '/', end);
	if (!slash)
		return -EINVAL; /* "http://host" names no file */
	name = strndup(slash + 1, end - (size_t)(slash + 1 - p));
	if (!name)
		return -ENOMEM;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '%')) {
		/* percent-escapes would need decoding into a local name: not for release media */
		free(name);
		return -EINVAL;
	}
	*ret = name;
	return 0;
}

int fetch_parse_sha256(const char *s, char ret_hex[65]) {
	char hex[65];

	if (strlen(s) != 64)
		return -EINVAL;
	for (size_t i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		hex[i] = (char)tolower((unsigned char)s[i]);
	}
	hex[64] = 0;
	if (ret_hex)
		memcpy(ret_hex, hex, 65);
	return 0;
}

/* Calls fn for each "HEX *name" line; stops when fn returns non-zero. */
static int sums_foreach(const char *sums, int (*fn)(const char *name, size_t name_len, const char *hex, void *u),
			void *u) {
	for (const char *l = sums; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t len = strcspn(l, "\n"), name_len;
		const char *name;
		char hexbuf[65], hex[65];
		int r;

		if (len < 66 || (l[64] != ' ' && l[64] != '\t'))
			continue;
		memcpy(hexbuf, l, 64);
		hexbuf[64] = 0;
		if (fetch_parse_sha256(hexbuf, hex) < 0)
			continue;
		name = l + 65;
		if (*name == '*' || *name == ' ')
			name++; /* binary / text mode marker */
		name_len = len - (size_t)(name - l);
		while (name_len > 0 && (name[name_len - 1] == '\r' || name[name_len - 1] == ' '))
			name_len--;
		if (name_len >= 2 && strncmp(name, "./", 2) == 0)
			name += 2, name_len -= 2;
		r = fn(name, name_len, hex, u);
		if (r != 0)
			return r;
	}
	return 0;
}

struct find_exact {
	const char *filename;
	char *hex;
};

static int find_exact_cb(const char *name, size_t name_len, const char *hex, void *u) {
	struct find_exact *f = u;

	if (name_len != strlen(f->filename) || strncmp(name, f->filename, name_len) != 0)
		return 0;
	memcpy(f->hex, hex, 65);
	return 1;
}

int fetch_sums_find(const char *sums, const char *filename, char ret_hex[65]) {
	char hex[65];
	struct find_exact f = { filename, hex };

	if (sums_foreach(sums, find_exact_cb, &f) <= 0)
		return -ENOENT;
	memcpy(ret_hex, hex, 65);
	return 0;
}

struct find_release {
	const char *prefix, *suffix;
	char *name;
	char hex[65];
	long best; /* -1: the unnumbered name, else the point release; -2 nothing yet */
};

static int find_release_cb(const char *name, size_t name_len, const char *hex, void *u) {
	struct find_release *f = u;
	size_t pl = strlen(f->prefix), sl = strlen(f->suffix);
	long n = -1;

	if (name_len < pl + sl || strncmp(name, f->prefix, pl) != 0 ||
	    strncmp(name + name_len - sl, f->suffix, sl) != 0)
		return 0;
	if (name_len > pl + sl) {
		/* exactly ".N" between prefix and suffix */
		const char *m = name + pl, *e = name + name_len - sl;

		if (*m != '.' || e - m < 2 || e - m > 6)
			return 0;
		n = 0;
		for (const char *c = m + 1; c < e; c++) {
			if (!isdigit((unsigned char)*c))
				return 0;
			n = n * 10 + (*c - '0');
		}
	}
	if (n > f->best) {
		char *copy = strndup(name, name_len);
		if (!copy)
			return -ENOMEM;
		free(f->name);
		f->name = copy;
		memcpy(f->hex, hex, 65);
		f->best = n;
	}
	return 0;
}

int fetch_sums_find_point_release(const char *sums, const char *prefix, const char *suffix, char **ret_name,
			    char ret_hex[65]) {
	struct find_release f = { .prefix = prefix, .suffix = suffix, .best = -2 };
	int r = sums_foreach(sums, find_release_cb, &f);

	if (r < 0) {
		free(f.name);
		return r;
	}
	if (!f.name)
		return -ENOENT;
	*ret_name = f.name;
	memcpy(ret_hex, f.hex, 65);
	return 0;
}
