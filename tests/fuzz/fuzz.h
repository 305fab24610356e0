/* What the fuzz targets share: the libFuzzer entry point, and a scratch directory for the
 * targets whose code under test reads a file (a profile, a tarball, an ISO). Built with
 * libFuzzer (make fuzz) or with replay-main.c (make check replays the corpus). */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A directory of this process, made on first use and removed at exit. */
const char *fuzz_dir(void);
/* Writes data to NAME in fuzz_dir(); the path in ret (PATH_MAX). Aborts on an I/O error: a
 * full /tmp is no finding. */
void fuzz_write(const char *name, const void *data, size_t size, char *ret, size_t ret_size);
/* data as a NUL-terminated string (a NUL inside stays); free() it. */
char *fuzz_strndup(const uint8_t *data, size_t size);
