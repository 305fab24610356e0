/* OpenSSL EVP adapter: SHA-256 of a whole file; library failures become -EIO. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "hash-util.h"
#include "macro.h"
#include "sha256.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);

int sha256_file_fast(const char *path, char ret_hex[65]) {
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint8_t *buf = malloc(1 << 20);
	uint8_t md[32];
	unsigned len = 0;

	if (fd < 0)
		return negative_errno();
	if (!ctx || !buf)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		return -EIO;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			return -EIO;
	}
	if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
		return -EIO;
	sha256_hex(md, ret_hex);
	return 0;
}
