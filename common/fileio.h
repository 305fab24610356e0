/* Reading and atomically writing whole files. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads a whole file; the buffer is NUL-terminated. */
int read_full_file(const char *path, char **ret_data, size_t *ret_size);
int read_full_fd(int fd, char **ret_data, size_t *ret_size);

/* temp file in the same directory, write, fsync, rename, fsync the directory */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Creates "DIR/.NAME.XXXXXX" next to path for a later rename; returns an fd. */
int open_tmpfile_for(const char *path, char **ret_tmp_path);
/* fsync, rename tmp over path, fsync path's directory */
int rename_and_sync(int fd, const char *tmp_path, const char *path);
int fsync_directory_of(const char *path);

int loop_write(int fd, const void *buf, size_t n);
int loop_pwrite(int fd, const void *buf, size_t n, uint64_t offset);
int loop_pread(int fd, void *buf, size_t n, uint64_t offset, size_t *ret_read);

/* Joins dirname(base) with rel unless rel is absolute. */
int path_join_relative(const char *base_file, const char *rel, char **ret);
