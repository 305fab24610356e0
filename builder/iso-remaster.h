/* The libisofs remaster session: import an Ubuntu ISO, add and replace files, write it with the same boot structure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iso-bootrec.h"
#include "iso-media.h"

typedef struct Remaster Remaster;

/* Imports base; on bad input returns -EBADMSG, -EMEDIUMTYPE, -ENOENT... with
 * *ret_error saying what is wrong with the file. */
int remaster_open(const char *base, uint64_t epoch, Remaster **ret, char **ret_error);
Remaster *remaster_free(Remaster *r);
static inline void remaster_freep(Remaster **r) {
	remaster_free(*r);
}
const struct media_flavour *remaster_flavour(const Remaster *r);
enum media_layout remaster_layout(const Remaster *r);
/* Reads a file of the base; -ENOENT when absent. */
int remaster_read(Remaster *r, const char *path, char **ret, size_t *ret_size);
bool remaster_exists(Remaster *r, const char *path);
/* Adds or replaces a file (data is taken over) or a directory (data NULL),
 * creating parents, owned by root, timestamps at the epoch; recorded for md5sum.txt.
 * Mode 0 keeps the replaced file's mode (0644 for a new one). */
/* The names in a directory of the base, sorted, as a NULL-terminated strv; -ENOENT, -ENOTDIR. */
int remaster_list_dir(Remaster *r, const char *path, char ***ret);
int remaster_put(Remaster *r, const char *path, void *data, size_t size, mode_t mode);
/* The same for a file of this machine, read when the image is written (a large .deb never
 * sits in memory); mode 0 is 0644. */
int remaster_put_file(Remaster *r, const char *path, const char *host_path, mode_t mode);
/* Updates md5sum.txt (when the base has one) and writes the image to fd. */
int remaster_write(Remaster *r, int fd, void (*progress)(uint64_t done, uint64_t total, void *userdata),
		   void *userdata, char **ret_error);
