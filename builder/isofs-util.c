/* libisofs adapter: library start-up, error codes → -errno, reports as lines, reading a file from the tree. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isofs-util.h"
#include "error.h"
#include "fileio.h"
#include "log.h"

int isofs_init(void) {
	static bool done;
	int r;

	if (done)
		return 0;
	r = iso_init();
	if (r < 0)
		return isofs_to_errno(r, NULL);
	/* libisofs prints its own messages to stderr; we say once what failed */
	iso_set_msgs_severities("NEVER", log_get_max_level() >= LOG_LEVEL_DEBUG ? "NOTE" : "NEVER", "mlrig");
	done = true;
	return 0;
}

int isofs_to_errno(int code, const char **ret_msg) {
	if (code >= 0)
		return code;
	if (ret_msg)
		*ret_msg = iso_error_to_msg(code);
	switch ((unsigned)code) {
	case ISO_OUT_OF_MEM: return -ENOMEM;
	case ISO_CANCELED: return -ECANCELED;
	case ISO_FILE_DOESNT_EXIST:
	case ISO_NODE_DOESNT_EXIST: return -ENOENT;
	case ISO_FILE_ACCESS_DENIED: return -EACCES;
	case ISO_FILE_IS_DIR: return -EISDIR;
	case ISO_NODE_NAME_NOT_UNIQUE: return -EEXIST;
	case ISO_NULL_POINTER:
	case ISO_WRONG_ARG_VALUE:
	case ISO_FILE_BAD_PATH: return -EINVAL;
	/* the input is not the ISO it claims to be */
	case ISO_WRONG_PVD:
	case ISO_WRONG_RR:
	case ISO_WRONG_ECMA119:
	case ISO_UNSUPPORTED_ECMA119:
	case ISO_WRONG_EL_TORITO:
	case ISO_UNSUPPORTED_EL_TORITO:
	case ISO_BOOT_IMAGE_NOT_VALID:
	case ISO_ISOLINUX_CANT_PATCH: return -EBADMSG;
	case ISO_WRITE_ERROR: return -EIO;
	default: return -EIO;
	}
}

int isofs_set_error(char **ret_error, int code, const char *fmt, ...) {
	_cleanup_free_ char *what = NULL;
	const char *msg = NULL;
	va_list ap;
	int r;

	r = isofs_to_errno(code, &msg);
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	return set_error(ret_error, r, "%s: %s", what ?: "libisofs", msg ?: "unknown error");
}

int isofs_report(IsoImage *img, bool el_torito, char ***ret_lines, size_t *ret_n) {
	char **lines = NULL;
	int count = 0, r;

	r = el_torito ? iso_image_report_el_torito(img, &lines, &count, 0)
		      : iso_image_report_system_area(img, &lines, &count, 0);
	if (r < 0)
		return isofs_to_errno(r, NULL);
	*ret_lines = lines;
	*ret_n = count > 0 ? (size_t)count : 0;
	return 0;
}

void isofs_report_free(char **lines, size_t n) {
	if (!lines)
		return;
	/* flag bit15 asks libisofs to free what it handed out */
	iso_image_report_system_area(NULL, &lines, (int *)&n, 1 << 15);
}

int isofs_read_file(IsoImage *img, const char *path, char **ret_data, size_t *ret_size) {
	IsoNode *node = NULL;
	IsoStream *s;
	_cleanup_free_ char *buf = NULL;
	uint64_t size;
	size_t fill = 0;
	int r;

	r = iso_tree_path_to_node(img, path, &node);
	if (r < 0)
		return isofs_to_errno(r, NULL);
	if (r == 0 || !node)
		return -ENOENT;
	if (iso_node_get_type(node) != LIBISO_FILE)
		return iso_node_get_type(node) == LIBISO_DIR ? -EISDIR : -EINVAL;
	s = iso_file_get_stream((IsoFile *)node);
	size = (uint64_t)iso_stream_get_size(s);
	if (size > 64 * MiB) /* menus, seeds and checksums: never big */
		return -EFBIG;
	buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	r = iso_stream_open(s);
	if (r < 0)
		return isofs_to_errno(r, NULL);
	while (fill < size) {
		r = iso_stream_read(s, buf + fill, size - fill);
		if (r <= 0)
			break;
		fill += (size_t)r;
	}
	iso_stream_close(s);
	if (r < 0)
		return isofs_to_errno(r, NULL);
	if (fill != size)
		return -EIO;
	buf[size] = 0;
	*ret_data = TAKE_PTR(buf);
	if (ret_size)
		*ret_size = size;
	return 0;
}

#define SOURCE_CACHE (1024 * 1024)
#define ISOFS_BLOCK 2048

struct cached_source {
	char *path;
	int fd;
	pthread_mutex_t lock; /* libisofs' writer thread and ours may both read */
	uint8_t *cache;
	uint64_t cache_start; /* byte offset of cache[0] */
	size_t cache_fill;
};

static int source_open(IsoDataSource *src) {
	struct cached_source *s = src->data;

	if (s->fd >= 0)
		return ISO_SUCCESS;
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return errno == ENOENT ? (int)ISO_FILE_DOESNT_EXIST : errno == EACCES ? (int)ISO_FILE_ACCESS_DENIED
										     : (int)ISO_FILE_ERROR;
	(void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return ISO_SUCCESS;
}

static int source_close(IsoDataSource *src) {
	struct cached_source *s = src->data;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->cache_fill = 0;
	return ISO_SUCCESS;
}

static int source_read_block(IsoDataSource *src, uint32_t lba, uint8_t *buffer) {
	struct cached_source *s = src->data;
	uint64_t off = (uint64_t)lba * ISOFS_BLOCK;
	int r = ISO_SUCCESS;

	if (!buffer)
		return ISO_NULL_POINTER;
	pthread_mutex_lock(&s->lock);
	if (s->fd < 0)
		r = ISO_FILE_NOT_OPENED;
	else if (off < s->cache_start || off + ISOFS_BLOCK > s->cache_start + s->cache_fill) {
		size_t got = 0;

		s->cache_fill = 0;
		if (loop_pread(s->fd, s->cache, SOURCE_CACHE, off, &got) < 0)
			r = ISO_DATA_SOURCE_FAILURE;
		else {
			s->cache_start = off;
			s->cache_fill = got;
			if (got < ISOFS_BLOCK)
				r = ISO_DATA_SOURCE_FAILURE; /* past the end: a truncated image */
		}
	}
	if (r == ISO_SUCCESS)
		memcpy(buffer, s->cache + (off - s->cache_start), ISOFS_BLOCK);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void source_free(IsoDataSource *src) {
	struct cached_source *s = src->data;

	source_close(src);
	pthread_mutex_destroy(&s->lock);
	free(s->cache);
	free(s->path);
	free(s);
}

int isofs_data_source_new(const char *path, IsoDataSource **ret) {
	IsoDataSource *src = calloc(1, sizeof(*src));
	struct cached_source *s = calloc(1, sizeof(*s));

	if (!src || !s || !(s->path = strdup(path)) || !(s->cache = malloc(SOURCE_CACHE))) {
		if (s)
			free(s->path);
		free(s);
		free(src);
		return -ENOMEM;
	}
	s->fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	/* freed by iso_data_source_unref() through free_data and free() */
	*src = (IsoDataSource){ .version = 0, .refcount = 1, .open = source_open, .close = source_close,
				.read_block = source_read_block, .free_data = source_free, .data = s };
	*ret = src;
	return 0;
}
