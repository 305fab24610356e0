/* SHA-256 (FIPS 180-4), for manifests, cache keys and seeded identifiers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
	uint32_t h[8];
	uint64_t length;
	uint8_t block[64];
	size_t fill;
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t size);
void sha256_final(struct sha256_ctx *ctx, uint8_t digest[32]);
void sha256_hex(const uint8_t digest[32], char hex[65]);
void sha256_buffer(const void *data, size_t size, uint8_t digest[32]);
