/* The GPT of a disk image: ESP + root, every GUID from the seed. */
#pragma once

#include <stdint.h>

#define GPT_TYPE_ESP "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define GPT_TYPE_ROOT_X86_64 "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"

struct gpt_part {
	const char *name;
	const char *type;   /* type GUID */
	uint8_t uuid[16];
	uint64_t start;     /* bytes, 1 MiB aligned */
	uint64_t size;      /* bytes */
};

/* Writes a fresh GPT (protective MBR, primary and backup headers) to path,
 * which must already have its final size. -ERANGE when a partition does not
 * fit the usable sectors (libfdisk would quietly shrink it). */
int gpt_write(const char *path, const uint8_t disk_guid[16], const struct gpt_part *parts, unsigned n);
