/* libisofs adapter: its negative codes become -errno here, and its objects get cleanup helpers. */
#pragma once

/* libisofs.h uses these without including them */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* we read the image through libisofs' own struct burn_source, without libburn */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

#include "macro.h"

/* Starts libisofs once per process, with its own printing silenced (we log). */
int isofs_init(void);

/* libisofs code → -errno (0 or positive stays as is): -ENOMEM, -ECANCELED,
 * -ENOENT, -EACCES, -EISDIR, -EEXIST, -EINVAL, -EBADMSG (the input is not the
 * ISO it claims to be), else -EIO. When ret_msg is not NULL it gets libisofs'
 * text for a negative code, for messages that name the cause. */
int isofs_to_errno(int code, const char **ret_msg);
/* set_error() for a failed libisofs call: *ret_error is the formatted text,
 * ": " and libisofs' text for code; returns isofs_to_errno(code). */
int isofs_set_error(char **ret_error, int code, const char *fmt, ...) _printf_(3, 4);

/* The lines of a libisofs report (iso_image_report_*), freed with isofs_report_free. */
int isofs_report(IsoImage *img, bool el_torito, char ***ret_lines, size_t *ret_n);
void isofs_report_free(char **lines, size_t n);

/* Reads path for libisofs in 1 MiB pieces: its own file source reads one
 * 2 KiB block per system call, which makes copying a big ISO slow. */
int isofs_data_source_new(const char *path, IsoDataSource **ret);

/* Whole content of a regular file in the image tree: -ENOENT (absent), -EISDIR,
 * -EINVAL (not a regular file), -EFBIG (over 64 MiB), -ENOMEM, -EIO. */
int isofs_read_file(IsoImage *img, const char *path, char **ret_data, size_t *ret_size);

DEFINE_TRIVIAL_CLEANUP_FUNC(IsoImage *, iso_image_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(IsoReadOpts *, iso_read_opts_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(IsoWriteOpts *, iso_write_opts_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(IsoDataSource *, iso_data_source_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(IsoReadImageFeatures *, iso_read_image_features_destroy)
