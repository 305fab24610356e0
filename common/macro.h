/* Small macros both binaries share: cleanup attributes, ownership hand-off, sizes. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define DIV_ROUND_UP(x, y) (((x) + (y) - 1) / (y))
#define ALIGN_TO(x, a) (DIV_ROUND_UP((x), (a)) * (a))

#define KiB UINT64_C(1024)
#define MiB (UINT64_C(1024) * KiB)
#define GiB (UINT64_C(1024) * MiB)

/* Hand ownership on: returns the value and clears the variable. */
#define TAKE_PTR(p)                       \
	({                                \
		__typeof__(p) _p_ = (p);  \
		(p) = NULL;               \
		_p_;                      \
	})
#define TAKE_FD(fd)                 \
	({                          \
		int _fd_ = (fd);    \
		(fd) = -1;          \
		_fd_;               \
	})

static inline void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ _cleanup_(freep)

/* Closes fd when it is one (errno kept) and returns -1, for `fd = safe_close(fd);`. */
static inline int safe_close(int fd) {
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

static inline void closep(int *fd) {
	*fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Destructor helpers for library types: DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free) */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)     \
	static inline void func##p(type *p) {       \
		if (*p)                             \
			func(*p);                   \
	}

static inline int negative_errno(void) {
	return errno > 0 ? -errno : -EIO;
}

static inline void strv_freep(char ***p) {
	if (*p) {
		for (char **s = *p; *s; s++)
			free(*s);
		free(*p);
	}
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
