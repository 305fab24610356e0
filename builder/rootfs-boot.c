/* What a rootfs brings for booting a rig (signed loaders, dual-boot tools), and what the builder warns about. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive-util.h"
#include "error.h"
#include "macro.h"
#include "rootfs-boot.h"

static const struct {
	const char *path;
	size_t field;
} wanted[] = {
	{ ROOTFS_SHIM_SIGNED, offsetof(struct rootfs_boot, shim_signed) },
	{ ROOTFS_GRUB_SIGNED, offsetof(struct rootfs_boot, grub_signed) },
	{ ROOTFS_UPDATE_GRUB, offsetof(struct rootfs_boot, update_grub) },
	{ ROOTFS_OS_PROBER, offsetof(struct rootfs_boot, os_prober) },
};

/* A file or symlink of the tarball: its name without "./" or "/", a link's target. */
struct tar_name {
	char *name, *link;
};

static int cmp_name(const void *x, const void *y) {
	return strcmp(((const struct tar_name *)x)->name, ((const struct tar_name *)y)->name);
}

static void tar_names_free(struct tar_name *v, size_t n) {
	for (size_t i = 0; i < n; i++)
		free(v[i].name), free(v[i].link);
	free(v);
}

/* Where the link at name points, "." and ".." resolved: "usr/lib/shim" + "x.latest". */
static char *link_target(const char *name, const char *target) {
	_cleanup_free_ char *buf = NULL;
	const char *slash = strrchr(name, '/');
	int dir = target[0] == '/' || !slash ? 0 : (int)(slash - name);
	size_t len = 0;
	char *out;

	if (asprintf(&buf, "%.*s/%s", dir, name, target) < 0 || !(out = calloc(1, strlen(buf) + 1)))
		return NULL;
	for (const char *c = buf; *c;) {
		size_t k = strcspn(c, "/");

		if (k == 2 && c[0] == '.' && c[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			len = len > 0 ? len - 1 : 0;
		} else if (k > 0 && !(k == 1 && c[0] == '.')) {
			if (len)
				out[len++] = '/';
			memcpy(out + len, c, k);
			len += k;
		}
		out[len] = 0;
		c += k + (c[k] == '/');
	}
	return out;
}

/* Whether path is a file of the tarball, symlinks to a file followed (Ubuntu's shim-signed
 * links shimx64.efi.signed to shimx64.efi.signed.latest): the image builder reads it so too. */
static bool tar_has_file(const struct tar_name *v, size_t n, const char *path) {
	_cleanup_free_ char *cur = strdup(path);

	for (int hops = 0; cur && hops < 16; hops++) {
		const struct tar_name key = { .name = cur }, *e = bsearch(&key, v, n, sizeof(*v), cmp_name);
		char *next;

		if (!e || !e->link)
			return e != NULL;
		next = link_target(e->name, e->link);
		free(cur);
		cur = next;
	}
	return false;
}

int rootfs_boot_from_tarball(const char *tarball, struct rootfs_boot *ret, char **ret_error) {
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	const struct archive_input *input;
	struct rootfs_boot b = {};
	struct tar_name *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = archive_open_tar_file(tarball, 64 * 1024, &a, &input);
	if (r < 0)
		return set_error(ret_error, r, "cannot open %s: %m", tarball);
	for (;;) {
		struct archive_entry *entry;
		const char *name, *link;

		r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			r = set_error(ret_error, archive_status_to_errno(a, r), "%s: %s", tarball, archive_error_string(a));
			tar_names_free(v, n);
			return r;
		}
		name = archive_entry_pathname(entry);
		link = archive_entry_filetype(entry) == AE_IFLNK ? archive_entry_symlink(entry) : NULL;
		if (!name || (archive_entry_filetype(entry) != AE_IFREG && !archive_entry_hardlink(entry) && !link))
			continue;
		/* tar writes "./usr/lib/...": compared without the "./" or "/" */
		if (name[0] == '.' && name[1] == '/')
			name += 2;
		while (*name == '/')
			name++;
		if (n == cap) {
			struct tar_name *nv = realloc(v, (cap = cap ? 2 * cap : 4096) * sizeof(*v));

			if (!nv) {
				tar_names_free(v, n);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n] = (struct tar_name){ strdup(name), link ? strdup(link) : NULL };
		if (!v[n].name || (link && !v[n].link)) {
			tar_names_free(v, n + 1);
			return -ENOMEM;
		}
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_name);
	for (size_t i = 0; i < ELEMENTSOF(wanted); i++)
		*(bool *)((char *)&b + wanted[i].field) = tar_has_file(v, n, wanted[i].path + 1);
	tar_names_free(v, n);
	*ret = b;
	return 0;
}

_printf_(2, 3) static int add(char ***l, const char *fmt, ...) {
	size_t n = 0;
	char **nl, *s;
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	while (*l && (*l)[n])
		n++;
	nl = realloc(*l, (n + 2) * sizeof(char *));
	if (!nl) {
		free(s);
		return -ENOMEM;
	}
	nl[n] = s;
	nl[n + 1] = NULL;
	*l = nl;
	return 0;
}

int rootfs_boot_warnings(const Profile *p, const struct rootfs_boot *b, char ***ret) {
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	int r = l ? 0 : -ENOMEM;

	if (r >= 0 && !(b->shim_signed && b->grub_signed))
		r = add(&l, "this image will not boot with Secure Boot on: the rootfs has no %s%s%s (%s%s%s); the ESP gets an unsigned GRUB from grub-mkimage",
			b->shim_signed ? "" : "shim-signed", b->shim_signed || b->grub_signed ? "" : " / ",
			b->grub_signed ? "" : "grub-efi-amd64-signed", b->shim_signed ? "" : ROOTFS_SHIM_SIGNED,
			b->shim_signed || b->grub_signed ? "" : ", ", b->grub_signed ? "" : ROOTFS_GRUB_SIGNED);
	if (r >= 0 && p->dual_boot && !b->update_grub)
		r = add(&l, "[Boot] DualBoot=yes, but the rootfs has no update-grub (%s): the agent's boot-order stage will fail; use a rootfs with grub-efi-amd64 (or grub2-common)",
			ROOTFS_UPDATE_GRUB);
	if (r >= 0 && p->dual_boot && !b->os_prober)
		r = add(&l, "[Boot] DualBoot=yes, but the rootfs has no os-prober (%s): GRUB's menu will not list Windows; Ubuntu desktop has it, a server or cloud rootfs may not: install os-prober in the rootfs",
			ROOTFS_OS_PROBER);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l);
	return 0;
}
