/* Whole-file helpers; every write that replaces a file goes through a rename. */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int read_full_fd(int fd, char **ret_data, size_t *ret_size) {
	size_t size = 0, alloc = 4096;
	char *buf = malloc(alloc);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (alloc - size < 2) {
			char *nb = realloc(buf, alloc * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			alloc *= 2;
		}
		n = read(fd, buf + size, alloc - size - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return negative_errno();
		}
		if (n == 0)
			break;
		size += (size_t)n;
	}
	buf[size] = 0;
	*ret_data = buf;
	if (ret_size)
		*ret_size = size;
	return 0;
}

int read_full_file(const char *path, char **ret_data, size_t *ret_size) {
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return negative_errno();
	return read_full_fd(fd, ret_data, ret_size);
}

int loop_write(int fd, const void *buf, size_t n) {
	const char *p = buf;

	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int loop_pwrite(int fd, const void *buf, size_t n, uint64_t offset) {
	const char *p = buf;

	while (n > 0) {
		ssize_t k = pwrite(fd, p, n, (off_t)offset);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
		offset += (uint64_t)k;
	}
	return 0;
}

int loop_pread(int fd, void *buf, size_t n, uint64_t offset, size_t *ret_read) {
	char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t k = pread(fd, p + done, n - done, (off_t)(offset + done));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	if (ret_read)
		*ret_read = done;
	return 0;
}

int fsync_directory_of(const char *path) {
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int fd = -1;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fsync(fd) < 0)
		return negative_errno();
	return 0;
}

int open_tmpfile_for(const char *path, char **ret_tmp_path) {
	_cleanup_free_ char *copy = strdup(path), *copy2 = strdup(path), *tmp = NULL;
	int fd;

	if (!copy || !copy2)
		return -ENOMEM;
	if (asprintf(&tmp, "%s/.%s.XXXXXX", dirname(copy), basename(copy2)) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	*ret_tmp_path = TAKE_PTR(tmp);
	return fd;
}

int rename_and_sync(int fd, const char *tmp_path, const char *path) {
	if (fsync(fd) < 0)
		return negative_errno();
	if (rename(tmp_path, path) < 0)
		return negative_errno();
	return fsync_directory_of(path);
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	fd = open_tmpfile_for(path, &tmp);
	if (fd < 0)
		return fd;
	r = loop_write(fd, data, size);
	if (r >= 0 && fchmod(fd, mode) < 0)
		r = negative_errno();
	if (r >= 0)
		r = rename_and_sync(fd, tmp, path);
	if (r < 0)
		unlink(tmp);
	return r;
}

int path_join_relative(const char *base_file, const char *rel, char **ret) {
	_cleanup_free_ char *copy = NULL;
	char *s;

	if (rel[0] == '/')
		s = strdup(rel);
	else {
		copy = strdup(base_file);
		if (!copy)
			return -ENOMEM;
		if (asprintf(&s, "%s/%s", dirname(copy), rel) < 0)
			s = NULL;
	}
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}
