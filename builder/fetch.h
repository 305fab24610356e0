/* Downloading Ubuntu media: known names, SHA256SUMS, resumable verified downloads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curl-util.h"

/* A release file known by name. Point releases change the file name
 * (ubuntu-20.04.6-...), so the name is found in SHA256SUMS by prefix and suffix. */
struct fetch_known {
	const char *name;
	const char *host;   /* "https://releases.ubuntu.com", replaced by a mirror */
	const char *dir;    /* "/20.04/" */
	const char *prefix; /* file name: PREFIX[.N]SUFFIX, the highest N */
	const char *suffix;
};

const struct fetch_known *fetch_known_lookup(const char *name);
const struct fetch_known *fetch_known_list(size_t *ret_n);
/* The release directory URL, with mirror ("http://127.0.0.1:8080", may be NULL) in place of the host. */
int fetch_known_dir_url(const struct fetch_known *k, const char *mirror, char **ret);

/* The last path component of a URL, without query or fragment; -EINVAL if there is none usable. */
int fetch_url_basename(const char *url, char **ret);
/* The sha256 listed for filename in SHA256SUMS text ("HEX *name" or "HEX  name"); -ENOENT if absent. */
int fetch_sums_find(const char *sums, const char *filename, char ret_hex[65]);
/* The entry named PREFIX SUFFIX or PREFIX.N SUFFIX with the highest N (point releases). */
int fetch_sums_find_point_release(const char *sums, const char *prefix, const char *suffix, char **ret_name,
			    char ret_hex[65]);
/* Accepts 64 hex digits in either case; writes them lower case (ret_hex may be NULL: a check). */
int fetch_parse_sha256(const char *s, char ret_hex[65]);

/* What a reply means for a partial file of `have` bytes after asking for bytes have-. */
enum fetch_resume {
	FETCH_APPEND,  /* 206 from `have`: append */
	FETCH_RESTART, /* 200: the server sent the whole file, start over */
};
int fetch_resume_decide(uint64_t have, const struct curl_response *resp, enum fetch_resume *ret);

struct fetch_options {
	bool quiet;
	unsigned retries;         /* further tries after a transient error, each after a pause */
	unsigned backoff_ms;      /* first pause, doubled each time (MLRIG_FETCH_BACKOFF_MS for tests) */
	/* What the user may like to know on the way (a resumed download, a retry; warning for the
	 * latter); may be NULL. Fetching itself never logs. */
	void (*notify)(bool warning, const char *message);
};

/* Downloads url to path via "path.part" (resumed when present), checks the sha256
 * (expected_hex may be NULL: then only reported) and renames into place.
 * -EBADMSG on a checksum mismatch (path is not created, the .part is kept);
 * -EEXIST when path exists and does not match. On success the digest is in ret_hex; on
 * failure *ret_error says what happened, naming the URL or file. */
int fetch_file(const char *url, const char *path, const char *expected_hex, const struct fetch_options *opts,
	       char ret_hex[65], char **ret_error);
/* A small file (SHA256SUMS and its signature) into memory, NUL-terminated; at most max bytes. */
int fetch_memory(const char *url, size_t max, const struct fetch_options *opts, char **ret, size_t *ret_size,
		 char **ret_error);
/* gpgv --keyring keyring SIG DATA on SHA256SUMS text and its detached signature. */
int fetch_check_signature(const char *keyring, const char *data, size_t data_size, const char *sig,
			  size_t sig_size, char **ret_output);
