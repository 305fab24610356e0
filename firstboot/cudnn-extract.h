/* A cuDNN tarball unpacked into the CUDA prefix (include/, lib64/), safely. */
#pragma once

#include <stddef.h>

struct cudnn_extract_result {
	size_t entries; /* in the tarball */
	size_t written; /* below the prefix */
};

/* Checks every entry of tarball first (tar_entry_check(), one top directory, no hardlinks):
 * a refused one fails it with -EPERM and nothing is written. Then writes TOP/include/ to
 * PREFIX/include/ and TOP/lib64/ or TOP/lib/ to PREFIX/lib64/ (the rest, a LICENSE, is left
 * out), relative to root_fd, each file through a temp name and a rename, every directory
 * opened with O_NOFOLLOW. -ELIBACC when libarchive.so.13 is missing; *ret_error says why. */
int cudnn_extract(int root_fd, const char *tarball, const char *prefix, struct cudnn_extract_result *ret,
		  char **ret_error);
