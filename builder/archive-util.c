/* libarchive adapter: status codes to -errno, and opening tarballs with an O_CLOEXEC fd. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "archive-util.h"
#include "log.h"
#include "process.h"

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
	int fd;             /* what libarchive reads: the file, or xz's stdout */
	struct archive_input input;
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
	if (s->input.pos_fd >= 0 && s->input.pos_fd != s->fd)
		close(s->input.pos_fd);
	if (s->input.decompressor > 0) {
		/* closing its stdout ends it if it is still writing; a corrupt stream already failed the read */
		(void)kill(s->input.decompressor, SIGTERM);
		(void)process_wait(s->input.decompressor, NULL);
	}
	free(s->buf);
	free(s);
	return ARCHIVE_OK;
}

uint64_t archive_input_position(const struct archive_input *in) {
	off_t o = lseek(in->pos_fd, 0, SEEK_CUR);

	return o < 0 ? 0 : (uint64_t)o;
}

static bool is_xz(int fd) {
	static const uint8_t magic[6] = { 0xFD, '7', 'z', 'X', 'Z', 0x00 };
	uint8_t head[6];

	return pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) && memcmp(head, magic, sizeof(magic)) == 0;
}

/* Starts `xz -dc -T0` reading the file (its stdin shares our fd's offset, for
 * progress) and returns the read end of its stdout, or -errno. */
static int spawn_xz(int file_fd, pid_t *ret_pid) {
	char *argv[] = { "xz", "--decompress", "--stdout", "--threads=0", "--quiet", NULL };
	int p[2], r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return negative_errno();
	r = process_spawn(&(struct process_options){
				  .argv = argv, .stdin_mode = PROCESS_FD, .stdin_fd = file_fd,
				  .stdout_mode = PROCESS_FD, .stdout_fd = p[1],
			  }, ret_pid);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return r;
	}
	return p[0];
}

int archive_open_tar_file(const char *path, size_t block_size, struct archive **ret,
			  const struct archive_input **ret_input) {
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
	s->fd = s->input.pos_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (!s->buf || s->fd < 0 || fstat(s->fd, &st) < 0) {
		r = s->buf ? negative_errno() : -ENOMEM;
		fd_close(NULL, s);
		return log_debug_errno(r, "Failed to open '%s': %m", path);
	}
	if (S_ISDIR(st.st_mode)) {
		fd_close(NULL, s);
		return -EISDIR;
	}
	s->input.size = (uint64_t)st.st_size;
	if (is_xz(s->fd) && !(getenv("MLRIG_XZ") && strcmp(getenv("MLRIG_XZ"), "internal") == 0)) {
		int out = spawn_xz(s->input.pos_fd, &s->input.decompressor);

		if (out >= 0)
			s->fd = out;
		else
			log_debug_errno(out, "Cannot start xz, decompressing in-process: %m");
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

	if (ret_input)
		*ret_input = &s->input;
	*ret = TAKE_PTR(a);
	return 0;
}

static const char *without_dot_slash(const char *s) {
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	while (s[0] == '/')
		s++;
	return s;
}

int archive_read_member(const char *path, const char *name, size_t max, char **ret, size_t *ret_size) {
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	struct archive_entry *entry;
	const char *want = without_dot_slash(name);
	int r;

	r = archive_open_tar_file(path, 0, &a, NULL);
	if (r < 0)
		return r;
	for (;;) {
		const char *n;
		la_int64_t size;
		char *buf;

		r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			return -ENOENT;
		if (r < ARCHIVE_WARN)
			return archive_status_to_errno(a, r);
		n = archive_entry_pathname(entry);
		if (!n || strcmp(without_dot_slash(n), want) != 0 || archive_entry_filetype(entry) != AE_IFREG)
			continue;
		size = archive_entry_size(entry);
		if (size < 0 || (uint64_t)size > max)
			return -EFBIG;
		buf = malloc((size_t)size + 1);
		if (!buf)
			return -ENOMEM;
		for (la_int64_t got = 0; got < size;) {
			la_ssize_t k = archive_read_data(a, buf + got, (size_t)(size - got));

			if (k <= 0) {
				r = k < 0 ? archive_status_to_errno(a, (int)k) : -EIO;
				free(buf);
				return r < 0 ? r : -EIO;
			}
			got += k;
		}
		buf[size] = 0;
		*ret = buf;
		if (ret_size)
			*ret_size = (size_t)size;
		return 0;
	}
}

int archive_decompress_memory(const void *data, size_t size, size_t max, char **ret, size_t *ret_size) {
	_cleanup_(archive_read_freep) struct archive *a = archive_read_new();
	_cleanup_free_ char *out = NULL;
	struct archive_entry *entry;
	size_t n = 0, alloc = 0;
	int r;

	if (!a || archive_read_support_filter_all(a) < ARCHIVE_WARN || archive_read_support_format_raw(a) < ARCHIVE_WARN)
		return -ENOMEM;
	r = archive_read_open_memory(a, data, size);
	if (r < ARCHIVE_WARN)
		return archive_status_to_errno(a, r);
	r = archive_read_next_header(a, &entry);
	if (r == ARCHIVE_EOF) { /* empty input */
		*ret = strdup("");
		if (ret_size)
			*ret_size = 0;
		return *ret ? 0 : -ENOMEM;
	}
	if (r < ARCHIVE_WARN)
		return archive_status_to_errno(a, r);
	for (;;) {
		la_ssize_t k;

		if (n + 65536 + 1 > alloc) {
			size_t na = MAX(alloc * 2, n + 65536 + 1);
			char *nb;

			if (na > max + 65536 + 1)
				na = max + 65536 + 1;
			nb = realloc(out, na);
			if (!nb)
				return -ENOMEM;
			out = nb;
			alloc = na;
		}
		k = archive_read_data(a, out + n, alloc - n - 1);
		if (k < 0)
			return archive_status_to_errno(a, (int)k);
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max)
			return -EFBIG;
	}
	out[n] = 0;
	*ret = TAKE_PTR(out);
	if (ret_size)
		*ret_size = n;
	return 0;
}
