/* libarchive adapter: status codes to -errno, and opening tarballs with an O_CLOEXEC fd. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-util.h"
#include "log.h"

int archive_status_to_errno(struct archive *a, int status) {
	int e;

	if (status == ARCHIVE_OK || status == ARCHIVE_WARN || status == ARCHIVE_EOF)
		return 0;
	e = a ? archive_errno(a) : 0;
	/* ARCHIVE_ERRNO_MISC is -1 and ARCHIVE_ERRNO_FILE_FORMAT is EILSEQ on Linux; both mean bad input */
	if (e <= 0 || e == EILSEQ)
		return -EBADMSG;
	return -e;
}

struct fd_source {
	int fd;
	size_t block_size;
	void *buf;
};

static ssize_t fd_read(struct archive *a, void *userdata, const void **ret_buf) {
	struct fd_source *s = userdata;

	for (;;) {
		ssize_t n = read(s->fd, s->buf, s->block_size);
		if (n >= 0) {
			*ret_buf = s->buf;
			return n;
		}
		if (errno != EINTR) {
			archive_set_error(a, errno, "read failed: %m");
			return -1;
		}
	}
}

static int fd_close(struct archive *a, void *userdata) {
	struct fd_source *s = userdata;

	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s);
	return ARCHIVE_OK;
}

int archive_open_tar_file(const char *path, size_t block_size, struct archive **ret, uint64_t *ret_size) {
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	struct fd_source *s;
	struct stat st;
	int r;

	/* our own reader rather than archive_read_open_filename(), so the fd is certainly O_CLOEXEC */
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->block_size = block_size ? block_size : 1024 * 1024;
	s->buf = malloc(s->block_size);
	s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (!s->buf || s->fd < 0 || fstat(s->fd, &st) < 0) {
		r = s->buf ? negative_errno() : -ENOMEM;
		fd_close(NULL, s);
		return log_debug_errno(r, "Failed to open '%s': %m", path);
	}
	if (S_ISDIR(st.st_mode)) {
		fd_close(NULL, s);
		return -EISDIR;
	}

	a = archive_read_new();
	if (!a) {
		fd_close(NULL, s);
		return -ENOMEM;
	}
	if (archive_read_support_filter_all(a) < ARCHIVE_WARN ||
	    archive_read_support_format_tar(a) < ARCHIVE_WARN ||
	    archive_read_support_format_gnutar(a) < ARCHIVE_WARN) {
		fd_close(NULL, s);
		return -ENOMEM;
	}
	/* archive_read_open() calls the close callback on failure too */
	r = archive_read_open(a, s, NULL, fd_read, fd_close);
	if (r < ARCHIVE_WARN)
		return log_debug_errno(archive_status_to_errno(a, r), "Failed to open '%s': %s", path,
				       archive_error_string(a));

	if (ret_size)
		*ret_size = (uint64_t) st.st_size;
	*ret = TAKE_PTR(a);
	return 0;
}
