/* Remastering Ubuntu install media with libisofs: import tree, El Torito
 * entries and system area, add and replace files, write the result with the
 * same boot structure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iso-bootrec.h"
#include "iso-media.h"

typedef struct IsoRemaster IsoRemaster;

/* Imports base; on bad input returns -EBADMSG, -EMEDIUMTYPE, -ENOENT... with
 * *ret_error saying what is wrong with the file. */
int iso_remaster_open(const char *base, uint64_t epoch, IsoRemaster **ret, char **ret_error);
IsoRemaster *iso_remaster_free(IsoRemaster *r);
static inline void iso_remaster_freep(IsoRemaster **r) {
	iso_remaster_free(*r);
}
const struct iso_flavour *iso_remaster_flavour(const IsoRemaster *r);
enum iso_layout iso_remaster_layout(const IsoRemaster *r);
/* Reads a file of the base; -ENOENT when absent. */
int iso_remaster_read(IsoRemaster *r, const char *path, char **ret, size_t *ret_size);
bool iso_remaster_exists(IsoRemaster *r, const char *path);
/* Adds or replaces a file (data is taken over) or a directory (data NULL),
 * creating parents, owned by root, timestamps at the epoch; recorded for md5sum.txt.
 * Mode 0 keeps the replaced file's mode (0644 for a new one). */
int iso_remaster_put(IsoRemaster *r, const char *path, void *data, size_t size, mode_t mode);
/* Updates md5sum.txt (when the base has one) and writes the image to fd. */
int iso_remaster_write(IsoRemaster *r, int fd, void (*progress)(uint64_t done, uint64_t total, void *userdata),
		       void *userdata, char **ret_error);
