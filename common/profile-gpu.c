/* The profile's [GPU] values: what the driver, CUDA and cuDNN payload may be,
 * and the Sha256= pins the builder checks the payload files against. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"
#include "profile-internal.h"

/* "nvidia-driver-470", "nvidia-driver-535-server", "nvidia-driver-535-open" */
bool profile_valid_driver_package(const char *s) {
	const char *v;
	size_t n;

	if (!string_has_prefix(s, "nvidia-driver-"))
		return false;
	v = s + strlen("nvidia-driver-");
	n = strspn(v, "0123456789");
	if (n < 3)
		return false;
	return !v[n] || strcmp(v + n, "-server") == 0 || strcmp(v + n, "-open") == 0 ||
	       strcmp(v + n, "-server-open") == 0;
}

unsigned profile_driver_branch(const char *s) {
	unsigned v = 0;

	if (!profile_valid_driver_package(s))
		return 0;
	for (const char *c = s + strlen("nvidia-driver-"); *c >= '0' && *c <= '9' && v < 100000; c++)
		v = v * 10 + (unsigned)(*c - '0');
	return v;
}

/* "11.4", "12": what CUDA= used to take */
static bool looks_like_version(const char *s) {
	if (!isdigit((unsigned char)*s))
		return false;
	return strspn(s, "0123456789.") == strlen(s);
}

static bool is_tarball(const char *s) {
	static const char *const suffixes[] = { ".tar.xz", ".tar.gz", ".tgz", ".tar", ".txz", ".tar.zst" };

	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
		if (string_has_suffix(s, suffixes[i]))
			return true;
	return false;
}

static int set_string(void *field, char *s) {
	free(*(char **)field);
	*(char **)field = s;
	return 0;
}

static int set_copy(void *field, const char *value) {
	char *s = strdup(value);

	return s ? set_string(field, s) : -ENOMEM;
}

/* Each word FILE:HEX: a file's name (no directory) and 64 hex digits. */
static int check_pins(struct parser *ps, const struct key_def *k, const char *value) {
	for (const char *w = value;;) {
		const char *colon, *end;
		size_t n;

		w += strspn(w, " \t");
		if (!*w)
			return 0;
		n = strcspn(w, " \t");
		end = w + n;
		colon = memchr(w, ':', n);
		if (!colon || colon == w || memchr(w, '/', (size_t)(colon - w)))
			return profile_fail(ps, k, value, "'%.*s': a pin is FILE:SHA256, FILE the payload file's name "
					    "without its directory", (int)n, w);
		if (end - colon - 1 != 64 || strspn(colon + 1, "0123456789abcdefABCDEF") < 64)
			return profile_fail(ps, k, value, "'%.*s': the hash must be 64 hex digits (sha256sum FILE)",
					    (int)n, w);
		w = end;
	}
}

int profile_assign_gpu(struct parser *ps, const struct key_def *k, const char *value, void *field) {
	char *s = NULL;
	int r;

	switch (k->type) {
	case T_GPU_DRIVER:
		if (strcmp(value, "none") == 0)
			return set_string(field, NULL);
		if (strcmp(value, "auto") != 0 && !profile_valid_driver_package(value))
			return profile_fail(ps, k, value, "not a driver: nvidia-driver-NNN (its debs in [Packages] Debs=), "
					    "auto (the highest nvidia-driver-NNN there) or none");
		return set_copy(field, value);
	case T_GPU_CUDA:
		if (strcmp(value, "none") == 0)
			return set_string(field, NULL);
		if (strcmp(value, "ubuntu") == 0)
			return set_copy(field, value);
		if (looks_like_version(value)) {
			char dashed[32];

			/* NVIDIA names the repo after the version with dashes: 11.4 is cuda-repo-ubuntu2004-11-4-local */
			snprintf(dashed, sizeof(dashed), "%s", value);
			for (char *c = dashed; *c; c++)
				if (*c == '.')
					*c = '-';
			return profile_fail(ps, k, value,
					    "a CUDA version is no longer accepted: give NVIDIA's local-repo .deb "
					    "(CUDA=cuda-repo-ubuntu2004-%s-local_..._amd64.deb; mlrig reads the version from "
					    "it), ubuntu (Ubuntu's nvidia-cuda-toolkit from [Packages] Debs=) or none", dashed);
		}
		if (!string_has_suffix(value, ".deb"))
			return profile_fail(ps, k, value,
					    "not a CUDA local-repo .deb (cuda-repo-ubuntu2004-X-Y-local_*.deb), ubuntu or none");
		r = profile_check_path(ps, k, value, false, &s);
		return r < 0 ? r : set_string(field, s);
	case T_GPU_CUDNN:
		if (strcmp(value, "none") == 0)
			return set_string(field, NULL);
		if (strcmp(value, "debs") == 0)
			return set_copy(field, value);
		if (!is_tarball(value))
			return profile_fail(ps, k, value,
					    "not a cuDNN tarball (cudnn-*.tgz or cudnn-linux-x86_64-*_cudaX-archive.tar.xz), "
					    "debs (libcudnn8 from [Packages] Debs= or CUDA's local repo) or none");
		r = profile_check_path(ps, k, value, false, &s);
		return r < 0 ? r : set_string(field, s);
	case T_SHA256_LIST:
		if (!*value) { /* an empty assignment resets the list */
			strv_freep(field);
			*(char ***)field = NULL;
			return 0;
		}
		r = check_pins(ps, k, value);
		return r < 0 ? r : profile_strv_extend_words(field, value);
	default:
		return 1;
	}
}

const char *profile_sha256_pin(const Profile *p, const char *path) {
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	for (char **pin = p->gpu_sha256; pin && *pin; pin++)
		if (strncmp(*pin, base, n) == 0 && (*pin)[n] == ':')
			return *pin + n + 1;
	return NULL;
}
