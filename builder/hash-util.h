/* OpenSSL adapter: SHA-256 and MD5, streaming or whole buffers and files,
 * as lower-case hex. Library failures become -EIO here; OpenSSL's types never
 * leave this file. (common/sha256.c stays for the agent, whose only library
 * is libc, and for seeded identifiers.) */
#pragma once

#include <stddef.h>

enum hash_kind {
	HASH_SHA256, /* 64 hex digits */
	HASH_MD5,    /* 32 hex digits: md5sum.txt on install media */
};

#define HASH_HEX_MAX 65 /* the longest digest in hex, with its NUL */

typedef struct Hash Hash;

/* -ENOMEM, or -EIO when OpenSSL refuses the algorithm. */
int hash_new(enum hash_kind kind, Hash **ret);
int hash_update(Hash *h, const void *data, size_t size);
/* The digest so far as hex into ret_hex (HASH_HEX_MAX bytes); the context is spent. */
int hash_final_hex(Hash *h, char ret_hex[HASH_HEX_MAX]);
Hash *hash_free(Hash *h);
static inline void hash_freep(Hash **h) {
	hash_free(*h);
}

int hash_buffer_hex(enum hash_kind kind, const void *data, size_t size, char ret_hex[HASH_HEX_MAX]);
/* Reads the whole file in 1 MiB pieces; -errno from open/read. */
int hash_file_hex(enum hash_kind kind, const char *path, char ret_hex[HASH_HEX_MAX]);
