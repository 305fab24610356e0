/* Bulk hashing for the builder with OpenSSL's SHA-256 (several times faster
 * than common/sha256.c, which stays for the agent, whose only library is libc). */
#pragma once

int sha256_file_fast(const char *path, char ret_hex[65]);
