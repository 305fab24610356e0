/* Minimal ELF64 reader for the agent check: DT_NEEDED, .gnu.version_r and
 * .gnu.version_d, with every offset bounds-checked (the input is untrusted). */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "elf-check.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

static void strv_free_(char **l) {
	strv_freep(&l);
}

static int strv_add(char ***l, const char *s) {
	size_t n = 0;
	char **nl;

	while (*l && (*l)[n]) {
		if (strcmp((*l)[n], s) == 0)
			return 0;
		n++;
	}
	nl = realloc(*l, (n + 2) * sizeof(char *));
	if (!nl)
		return -ENOMEM;
	*l = nl;
	if (!(nl[n] = strdup(s)))
		return -ENOMEM;
	nl[n + 1] = NULL;
	return 0;
}

static bool in_bounds(size_t size, uint64_t off, uint64_t len) {
	return off <= size && len <= size - off;
}

static const Elf64_Shdr *section(const uint8_t *d, size_t size, unsigned i) {
	const Elf64_Ehdr *eh = (const void *)d;
	uint64_t off = eh->e_shoff + (uint64_t)i * sizeof(Elf64_Shdr);

	if (i >= eh->e_shnum || !in_bounds(size, off, sizeof(Elf64_Shdr)))
		return NULL;
	return (const void *)(d + off);
}

/* The string at index idx of string section link, or NULL. */
static const char *str_at(const uint8_t *d, size_t size, unsigned link, uint64_t idx) {
	const Elf64_Shdr *s = section(d, size, link);

	if (!s || idx >= s->sh_size || !in_bounds(size, s->sh_offset, s->sh_size))
		return NULL;
	if (!memchr(d + s->sh_offset + idx, 0, s->sh_size - idx))
		return NULL;
	return (const char *)d + s->sh_offset + idx;
}

static int check_header(const uint8_t *d, size_t size) {
	const Elf64_Ehdr *eh = (const void *)d;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr))
		return -ENOEXEC;
	return 0;
}

int elf_read_needs(const void *data, size_t size, struct elf_needs *ret) {
	const uint8_t *d = data;
	struct elf_needs n = {};
	int r = check_header(d, size);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < ((const Elf64_Ehdr *)d)->e_shnum; i++) {
		const Elf64_Shdr *s = section(d, size, i);

		if (!s)
			goto bad;
		if (s->sh_type != SHT_DYNAMIC && s->sh_type != SHT_GNU_verneed)
			continue; /* .bss and friends have no bytes in the file */
		if (!in_bounds(size, s->sh_offset, s->sh_size))
			goto bad;
		if (s->sh_type == SHT_DYNAMIC) {
			for (uint64_t o = 0; o + sizeof(Elf64_Dyn) <= s->sh_size; o += sizeof(Elf64_Dyn)) {
				const Elf64_Dyn *dyn = (const void *)(d + s->sh_offset + o);
				const char *name;

				if (dyn->d_tag == DT_NULL)
					break;
				if (dyn->d_tag != DT_NEEDED)
					continue;
				name = str_at(d, size, s->sh_link, dyn->d_un.d_val);
				if (!name)
					goto bad;
				if ((r = strv_add(&n.libraries, name)) < 0)
					goto fail;
			}
		} else if (s->sh_type == SHT_GNU_verneed) {
			uint64_t o = 0;

			for (;;) {
				const Elf64_Verneed *vn;
				uint64_t ao;

				if (!in_bounds(s->sh_size, o, sizeof(*vn)))
					goto bad;
				vn = (const void *)(d + s->sh_offset + o);
				ao = o + vn->vn_aux;
				for (unsigned a = 0; a < vn->vn_cnt; a++) {
					const Elf64_Vernaux *va;
					const char *name;

					if (!in_bounds(s->sh_size, ao, sizeof(*va)))
						goto bad;
					va = (const void *)(d + s->sh_offset + ao);
					name = str_at(d, size, s->sh_link, va->vna_name);
					if (!name)
						goto bad;
					if ((r = strv_add(&n.versions, name)) < 0)
						goto fail;
					if (!va->vna_next)
						break;
					ao += va->vna_next;
				}
				if (!vn->vn_next)
					break;
				o += vn->vn_next;
			}
		}
	}
	*ret = n;
	return 0;
bad:
	r = -EBADMSG;
fail:
	elf_needs_release(&n);
	return r;
}

int elf_read_defines(const void *data, size_t size, char ***ret) {
	const uint8_t *d = data;
	char **defs = NULL;
	int r = check_header(d, size);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < ((const Elf64_Ehdr *)d)->e_shnum; i++) {
		const Elf64_Shdr *s = section(d, size, i);
		uint64_t o = 0;

		if (!s)
			goto bad;
		if (s->sh_type != SHT_GNU_verdef)
			continue;
		if (!in_bounds(size, s->sh_offset, s->sh_size))
			goto bad;
		for (;;) {
			const Elf64_Verdef *vd;
			const Elf64_Verdaux *va;
			const char *name;

			if (!in_bounds(s->sh_size, o, sizeof(*vd)))
				goto bad;
			vd = (const void *)(d + s->sh_offset + o);
			if (!in_bounds(s->sh_size, o + vd->vd_aux, sizeof(*va)))
				goto bad;
			va = (const void *)(d + s->sh_offset + o + vd->vd_aux);
			name = str_at(d, size, s->sh_link, va->vda_name);
			if (!name)
				goto bad;
			if ((r = strv_add(&defs, name)) < 0)
				goto fail;
			if (!vd->vd_next)
				break;
			o += vd->vd_next;
		}
	}
	if (!defs && !(defs = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret = defs;
	return 0;
bad:
	r = -EBADMSG;
fail:
	strv_free_(defs);
	return r;
}

void elf_needs_release(struct elf_needs *n) {
	strv_free_(n->libraries);
	strv_free_(n->versions);
	n->libraries = n->versions = NULL;
}

int glibc_version_cmp(const char *a, const char *b) {
	/* "GLIBC_2.3.4": compare the dotted numbers after the prefix */
	a = strchr(a, '_') ? strchr(a, '_') + 1 : a;
	b = strchr(b, '_') ? strchr(b, '_') + 1 : b;
	while (*a || *b) {
		unsigned long x = strtoul(a, (char **)&a, 10), y = strtoul(b, (char **)&b, 10);

		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
		if (!*a && !*b)
			break;
	}
	return 0;
}

static const char *const libdirs[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib" };

/* Reads the rootfs's libc, following the libc.so.6 → libc-2.31.so symlink of older glibc. */
static int read_rootfs_libc(Ext4 *fs, char **ret, size_t *ret_size) {
	for (size_t i = 0; i < ELEMENTSOF(libdirs); i++) {
		_cleanup_strv_free_ char **names = NULL;
		char path[256];
		int r;

		snprintf(path, sizeof(path), "%s/libc.so.6", libdirs[i]);
		r = ext4_read_file(fs, path, ret, ret_size);
		if (r >= 0)
			return 0;
		if (r != -ELOOP || ext4_list_dir(fs, libdirs[i], &names) < 0)
			continue;
		for (char **n = names; *n; n++)
			if (string_has_prefix(*n, "libc-") && string_has_suffix(*n, ".so")) {
				snprintf(path, sizeof(path), "%s/%s", libdirs[i], *n);
				return ext4_read_file(fs, path, ret, ret_size);
			}
	}
	return -ENOENT;
}

/* The agent's ELF needs; the message names the file when it cannot be read or parsed. */
static int read_agent_needs(const char *agent_path, struct elf_needs *ret, char **ret_error) {
	_cleanup_free_ char *agent = NULL;
	size_t size;
	int r;

	r = read_full_file(agent_path, &agent, &size);
	if (r < 0)
		return set_error(ret_error, r, "cannot read the agent %s: %s", agent_path, strerror(-r));
	r = elf_read_needs(agent, size, ret);
	if (r < 0)
		return set_error(ret_error, r, "the agent %s is not a valid ELF64 binary", agent_path);
	return 0;
}

#define AGENT_GLIBC_HINT \
	"Build the agent against an older glibc ('make' builds compat/mlrig-firstboot for glibc 2.31)"

int agent_check_rootfs(Ext4 *fs, const char *agent_path, char **ret_error) {
	_cleanup_free_ char *libc = NULL;
	_cleanup_strv_free_ char **defs = NULL;
	struct elf_needs needs = {};
	size_t libc_size;
	int r;

	r = read_agent_needs(agent_path, &needs, ret_error);
	if (r < 0)
		return r;

	for (char **l = needs.libraries; l && *l && r >= 0; l++) {
		bool found = false;

		for (size_t i = 0; i < ELEMENTSOF(libdirs) && !found; i++) {
			char path[512];
			snprintf(path, sizeof(path), "%s/%s", libdirs[i], *l);
			found = ext4_stat(fs, path, NULL) >= 0;
		}
		if (!found)
			r = set_error(ret_error, -ENOEXEC,
				      "the rootfs cannot run the agent %s: it needs %s, which the rootfs lacks; install the package that ships it in the rootfs",
				      agent_path, *l);
	}
	if (r < 0)
		goto out;

	r = read_rootfs_libc(fs, &libc, &libc_size);
	if (r < 0) {
		r = set_error(ret_error, -ENOEXEC, "the rootfs has no libc.so.6: is it a glibc distribution?");
		goto out;
	}
	r = elf_read_defines(libc, libc_size, &defs);
	if (r < 0) {
		r = set_error(ret_error, -ENOEXEC, "cannot read the rootfs's libc.so.6 version definitions");
		goto out;
	}
	for (char **v = needs.versions; v && *v; v++) {
		bool have = false;

		if (!string_has_prefix(*v, "GLIBC_2"))
			continue;
		for (char **d = defs; *d && !have; d++)
			have = strcmp(*d, *v) == 0;
		if (!have) {
			const char *newest = NULL;

			for (char **d = defs; *d; d++)
				if (string_has_prefix(*d, "GLIBC_2") && (!newest || glibc_version_cmp(*d, newest) > 0))
					newest = *d;
			r = set_error(ret_error, -ENOEXEC,
				      "the rootfs cannot run the agent %s: it needs %s but the rootfs's glibc provides up to %s. "
				      AGENT_GLIBC_HINT " or use a newer rootfs",
				      agent_path, *v, newest ? newest : "(none)");
			break;
		}
	}
out:
	elf_needs_release(&needs);
	return r;
}

/* Each Ubuntu release's glibc (its libc6 package), oldest first; a release newer
 * than the last has at least the last one's, since glibc only ever adds versions. */
static const struct {
	const char *release;
	const char *glibc;
} ubuntu_glibc[] = {
	{ "18.04", "2.27" }, { "20.04", "2.31" }, { "20.10", "2.32" }, { "21.04", "2.33" },
	{ "21.10", "2.34" }, { "22.04", "2.35" }, { "22.10", "2.36" }, { "23.04", "2.37" },
	{ "23.10", "2.38" }, { "24.04", "2.39" }, { "24.10", "2.40" }, { "25.04", "2.41" },
};

int ubuntu_release_glibc(const char *release, const char **ret) {
	size_t last = ELEMENTSOF(ubuntu_glibc) - 1;
	char yy[3] = {}, mm[3] = {};
	uint32_t n;

	/* "20.04.6" → 20.04; anything else is not an Ubuntu release number */
	if (strlen(release) < 5 || release[2] != '.' || (release[5] && release[5] != '.'))
		return -EINVAL;
	memcpy(yy, release, 2);
	memcpy(mm, release + 3, 2);
	if (safe_atou32(yy, &n) < 0 || safe_atou32(mm, &n) < 0 || n < 1 || n > 12)
		return -EINVAL;
	for (size_t i = 0; i <= last; i++)
		if (strncmp(release, ubuntu_glibc[i].release, 5) == 0) {
			*ret = ubuntu_glibc[i].glibc;
			return 0;
		}
	if (glibc_version_cmp(release, ubuntu_glibc[last].release) > 0) {
		*ret = ubuntu_glibc[last].glibc;
		return 0;
	}
	return -ENOENT;
}

int agent_check_release(const char *agent_path, const char *release, char **ret_error) {
	_cleanup_free_ char *provides = NULL;
	struct elf_needs needs = {};
	const char *glibc, *newest = NULL;
	int r;

	r = ubuntu_release_glibc(release, &glibc);
	if (r < 0)
		return set_error(ret_error, -ENOEXEC,
				 "cannot tell which glibc Ubuntu %s has (known: %s to %s), so whether it can run the agent %s",
				 release, ubuntu_glibc[0].release, ubuntu_glibc[ELEMENTSOF(ubuntu_glibc) - 1].release,
				 agent_path);
	if (asprintf(&provides, "GLIBC_%s", glibc) < 0)
		return -ENOMEM;
	r = read_agent_needs(agent_path, &needs, ret_error);
	if (r < 0)
		return r;
	/* the newest version it needs: the one to look for in another build */
	for (char **v = needs.versions; v && *v; v++)
		if (string_has_prefix(*v, "GLIBC_2") && (!newest || glibc_version_cmp(*v, newest) > 0))
			newest = *v;
	if (newest && glibc_version_cmp(newest, provides) > 0)
		r = set_error(ret_error, -ENOEXEC,
			      "Ubuntu %s (glibc %s) cannot run the agent %s: it needs %s. " AGENT_GLIBC_HINT " or use newer media",
			      release, glibc, agent_path, newest);
	elf_needs_release(&needs);
	return r;
}
