/* Trees on the host: removing one without spawning rm, and temporary directories under $TMPDIR. */
#pragma once

#include <sys/types.h>

/* Removes path (relative to dirfd, or AT_FDCWD) and, for a directory, all it
 * holds; symlinks are removed, never followed; a missing path is fine.
 * -EXDEV when the tree holds another file system's mount point (left alone). */
int rm_rf_at(int dirfd, const char *path);
int rm_rf(const char *path);

/* Creates path's missing parent directories (mkdir_parents) or those and path
 * itself (mkdir_p) with mode; directories already there are left as they are. */
int mkdir_parents(const char *path, mode_t mode);
int mkdir_p(const char *path, mode_t mode);

/* $TMPDIR when set and not empty, else /tmp. */
const char *tmp_dir(void);
/* Creates "$TMPDIR/PREFIX.XXXXXX" (mode 0700); *ret is its path. */
int make_tmpdir(const char *prefix, char **ret);
