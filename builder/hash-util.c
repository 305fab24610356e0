/* OpenSSL EVP behind mlrig's own small hashing interface. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hash-util.h"
#include "macro.h"

struct Hash {
	EVP_MD_CTX *ctx;
};

int hash_new(enum hash_kind kind, Hash **ret) {
	Hash *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx) {
		free(h);
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(h->ctx, kind == HASH_MD5 ? EVP_md5() : EVP_sha256(), NULL) != 1) {
		hash_free(h);
		return -EIO;
	}
	*ret = h;
	return 0;
}

int hash_update(Hash *h, const void *data, size_t size) {
	return EVP_DigestUpdate(h->ctx, data, size) == 1 ? 0 : -EIO;
}

int hash_final_hex(Hash *h, char ret_hex[HASH_HEX_MAX]) {
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len * 2 + 1 > HASH_HEX_MAX)
		return -EIO;
	for (unsigned i = 0; i < len; i++)
		snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

Hash *hash_free(Hash *h) {
	if (!h)
		return NULL;
	EVP_MD_CTX_free(h->ctx);
	free(h);
	return NULL;
}

int hash_buffer_hex(enum hash_kind kind, const void *data, size_t size, char ret_hex[HASH_HEX_MAX]) {
	_cleanup_(hash_freep) Hash *h = NULL;
	int r;

	r = hash_new(kind, &h);
	if (r >= 0)
		r = hash_update(h, data, size);
	if (r >= 0)
		r = hash_final_hex(h, ret_hex);
	return r;
}

int hash_file_hex(enum hash_kind kind, const char *path, char ret_hex[HASH_HEX_MAX]) {
	_cleanup_(hash_freep) Hash *h = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = malloc(1 << 20);
	int r;

	if (fd < 0)
		return negative_errno();
	if (!buf)
		return -ENOMEM;
	r = hash_new(kind, &h);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		r = hash_update(h, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	return hash_final_hex(h, ret_hex);
}
