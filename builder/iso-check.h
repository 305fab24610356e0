/* The directory trees of an ISO 9660 image, walked before libisofs imports it: libisofs follows
 * a directory record that points back at a directory above it until it runs out of memory. */
#pragma once

#include <stdint.h>

/* Walks the tree of every primary and supplementary (Joliet) volume descriptor of the image
 * at fd (size bytes): -EBADMSG with *ret_error (naming base) for a directory whose extent lies
 * outside the image, one reached twice (a loop, or two names for one directory), a record
 * that runs past its directory, or a tree deeper than ISO_CHECK_MAX_DEPTH; the same for an El
 * Torito boot catalog or boot image outside the image; -errno for a read error. */
#define ISO_CHECK_MAX_DEPTH 64
int iso_check_trees(int fd, uint64_t size, const char *base, char **ret_error);
