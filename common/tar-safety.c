/* The tarball entry rules: nothing absolute, no "..", no device nodes, no setuid,
 * symlinks that stay inside the tree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "macro.h"
#include "tar-safety.h"

/* path without "./" components and repeated '/'; -EPERM when absolute or holding "..". */
static int normalize(const char *path, char **ret, char **ret_reason) {
	_cleanup_free_ char *out = malloc(strlen(path) + 1);
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	if (path[0] == '/')
		return set_error(ret_reason, -EPERM, "'%s': an absolute path", path);
	for (const char *c = path; *c;) {
		size_t len = strcspn(c, "/");

		if (len == 2 && c[0] == '.' && c[1] == '.')
			return set_error(ret_reason, -EPERM, "'%s': a '..' component", path);
		if (len > 0 && !(len == 1 && c[0] == '.')) {
			if (n > 0)
				out[n++] = '/';
			memcpy(out + n, c, len);
			n += len;
		}
		c += len;
		while (*c == '/')
			c++;
	}
	out[n] = 0;
	*ret = TAKE_PTR(out);
	return 0;
}

/* Whether a symlink at entry (normalized) pointing to target stays under entry's first component. */
static bool link_stays_inside(const char *entry, const char *target) {
	int depth = 0; /* how deep below the top directory the link's directory is */

	if (target[0] == '/' || !*target)
		return false;
	for (const char *c = entry; *c; c++)
		depth += *c == '/';
	/* the link's own directory: entry's components but the last, less the top one; a link at
	 * the top would point beside the tree */
	depth -= 1;
	if (depth < 0)
		return false;
	for (const char *c = target; *c;) {
		size_t len = strcspn(c, "/");

		if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (len > 0 && !(len == 1 && c[0] == '.'))
			depth++;
		c += len;
		while (*c == '/')
			c++;
	}
	return true;
}

int tar_entry_check(const char *path, mode_t mode, const char *symlink, const char *hardlink,
		    enum tar_kind *ret_kind, char **ret_path, char **ret_reason) {
	_cleanup_free_ char *norm = NULL, *target = NULL;
	enum tar_kind kind;
	int r;

	r = normalize(path, &norm, ret_reason);
	if (r < 0)
		return r;
	switch (mode & S_IFMT) {
	case S_IFREG:
	case 0: /* old tar: a regular file */
		kind = hardlink ? TAR_HARDLINK : TAR_FILE;
		break;
	case S_IFDIR:
		kind = TAR_DIR;
		break;
	case S_IFLNK:
		kind = TAR_SYMLINK;
		break;
	case S_IFCHR: case S_IFBLK:
		return set_error(ret_reason, -EPERM, "'%s': a device node", path);
	default:
		return set_error(ret_reason, -EPERM, "'%s': a FIFO or socket", path);
	}
	if (mode & (S_ISUID | S_ISGID))
		return set_error(ret_reason, -EPERM, "'%s': setuid or setgid bits (mode %04o)", path,
				 (unsigned)(mode & 07777));
	if (kind == TAR_SYMLINK && (!symlink || !link_stays_inside(norm, symlink)))
		return set_error(ret_reason, -EPERM, "'%s': a symlink to '%s', outside the tarball's tree", path,
				 symlink ? symlink : "");
	if (kind == TAR_HARDLINK) {
		r = normalize(hardlink, &target, ret_reason);
		if (r < 0)
			return prefix_error(ret_reason, r, "'%s': a hardlink", path);
	}
	*ret_kind = kind;
	if (ret_path)
		*ret_path = TAKE_PTR(norm);
	return 0;
}
