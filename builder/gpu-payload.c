/* The [GPU] plan: which driver, the versions read from the payload files, the
 * Sha256= pins, what Install= gains, and TensorFlow's tested table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deb-version.h"
#include "error.h"
#include "gpu-payload.h"
#include "hash-util.h"
#include "parse-util.h"

void gpu_plan_release(struct gpu_plan *pl) {
	free(pl->driver_package);
	free(pl->driver_version);
	free(pl->cuda_version);
	free(pl->cudnn_version);
	cuda_repo_info_release(&pl->cuda);
	cudnn_tarball_info_release(&pl->cudnn);
	for (size_t i = 0; i < pl->n_extra_install; i++)
		free(pl->extra_install[i]);
	free(pl->extra_install);
	*pl = (struct gpu_plan){};
}

static int add_install(struct gpu_plan *pl, const char *name) {
	char **n = realloc(pl->extra_install, (pl->n_extra_install + 2) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	pl->extra_install = n;
	if (!(n[pl->n_extra_install] = strdup(name)))
		return -ENOMEM;
	n[++pl->n_extra_install] = NULL;
	return 0;
}

/* The highest version of package name in debs, or NULL. */
static const struct deb_package *debs_find(const struct deb_repo *debs, const char *name) {
	const struct deb_package *best = NULL;

	for (size_t i = 0; debs && i < debs->n_debs; i++)
		if (strcmp(debs->debs[i].name, name) == 0 &&
		    (!best || deb_version_compare(debs->debs[i].version, best->version) > 0))
			best = &debs->debs[i];
	return best;
}

char *deb_index_version(const char *packages, const char *name) {
	size_t n = strlen(name);

	for (const char *c = packages; c && (c = strstr(c, "Package: ")); c++) {
		const char *v;

		if ((c != packages && c[-1] != '\n') || strncmp(c + 9, name, n) != 0 || c[9 + n] != '\n')
			continue;
		v = strstr(c, "\nVersion: ");
		if (v && (!strstr(c + 1, "\nPackage: ") || v < strstr(c + 1, "\nPackage: ")))
			return strndup(v + 10, strcspn(v + 10, "\n"));
	}
	return NULL;
}

/* Sha256=: each pinned payload file has its hash; with any pin, the CUDA .deb and the tarball have one. */
static int check_pins(const Profile *p, const struct deb_repo *debs, char **ret_error) {
	const char *files[] = { profile_cuda_is_file(p) ? p->gpu_cuda : NULL, profile_cudnn_is_file(p) ? p->gpu_cudnn : NULL };
	char hex[HASH_HEX_MAX];
	int r;

	if (!p->gpu_sha256 || !p->gpu_sha256[0])
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		const char *pin;

		if (!files[i])
			continue;
		pin = profile_sha256_pin(p, files[i]);
		if (!pin)
			return set_error(ret_error, -EINVAL, "%s: [GPU] Sha256= has no pin for %s (sha256sum it and add NAME:HEX)",
					 p->path, strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i]);
		r = hash_file_hex(HASH_SHA256, files[i], hex);
		if (r < 0)
			return set_error(ret_error, r, "%s: cannot hash %s: %s", p->path, files[i], strerror(-r));
		if (strcasecmp(hex, pin) != 0)
			return set_error(ret_error, -EINVAL, "%s: [GPU] Sha256=: %s has SHA-256 %s, not the pinned %s", p->path,
					 files[i], hex, pin);
	}
	for (size_t i = 0; debs && i < debs->n_debs; i++) {
		const char *pin = profile_sha256_pin(p, debs->debs[i].path);

		if (pin && strcasecmp(debs->debs[i].sha256, pin) != 0)
			return set_error(ret_error, -EINVAL, "%s: [GPU] Sha256=: %s has SHA-256 %s, not the pinned %s", p->path,
					 debs->debs[i].path, debs->debs[i].sha256, pin);
	}
	/* a pin for a file that is not there is a typo, or a payload that changed */
	for (char **pin = p->gpu_sha256; *pin; pin++) {
		size_t n = strcspn(*pin, ":");
		bool found = false;

		for (size_t i = 0; i < ELEMENTSOF(files) && !found; i++) {
			const char *b = files[i] ? (strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i]) : NULL;
			found = b && strlen(b) == n && strncmp(b, *pin, n) == 0;
		}
		for (size_t i = 0; debs && i < debs->n_debs && !found; i++) {
			const char *b = deb_repo_filename(&debs->debs[i]);
			found = strlen(b) == n && strncmp(b, *pin, n) == 0;
		}
		if (!found)
			return set_error(ret_error, -EINVAL, "%s: [GPU] Sha256=%.*s:...: no payload file is called %.*s",
					 p->path, (int)n, *pin, (int)n, *pin);
	}
	return 0;
}

/* Driver=: auto takes the highest nvidia-driver-NNN of Debs= and CUDA's local repo. */
static int plan_driver(const Profile *p, const struct deb_repo *debs, struct gpu_plan *pl, char **ret_error) {
	const struct deb_package *d;
	_cleanup_free_ char *repo_v = NULL;
	unsigned best = pl->cuda.best_driver, nnn;

	if (!p->gpu_driver)
		return 0;
	if (strcmp(p->gpu_driver, "auto") == 0) {
		for (size_t i = 0; debs && i < debs->n_debs; i++)
			if ((nnn = profile_driver_branch(debs->debs[i].name)) > best)
				best = nnn;
		if (best == 0)
			return set_error(ret_error, -EINVAL, "%s: [GPU] Driver=auto: no nvidia-driver-NNN package in [Packages] "
					 "Debs=%s%s", p->path, p->debs ?: "", pl->cuda.package ? " nor in CUDA's local repo" : "");
		if (asprintf(&pl->driver_package, "nvidia-driver-%u", best) < 0)
			return -ENOMEM;
	} else if (!(pl->driver_package = strdup(p->gpu_driver)))
		return -ENOMEM;
	d = debs_find(debs, pl->driver_package);
	if (!d && pl->cuda.packages)
		repo_v = deb_index_version(pl->cuda.packages, pl->driver_package);
	if (!d && !repo_v)
		return set_error(ret_error, -EINVAL, "%s: [GPU] Driver=%s: %s is not in [Packages] Debs=%s%s", p->path,
				 p->gpu_driver, pl->driver_package, p->debs ?: "",
				 pl->cuda.package ? " nor in CUDA's local repo" : "");
	pl->driver_in_debs = d != NULL;
	if (d && add_install(pl, pl->driver_package) < 0)
		return -ENOMEM;
	pl->driver_version = deb_upstream_version(d ? d->version : repo_v);
	return pl->driver_version ? 0 : -ENOMEM;
}

int gpu_plan_make(const Profile *p, const struct deb_repo *debs, struct gpu_plan *ret, char **ret_error) {
	_cleanup_(gpu_plan_release) struct gpu_plan pl = {};
	const struct deb_package *d;
	int r;

	r = check_pins(p, debs, ret_error);
	if (r < 0)
		return r;
	if (profile_cuda_is_file(p)) {
		r = cuda_repo_read(p->gpu_cuda, &pl.cuda, ret_error);
		if (r < 0)
			return prefix_error(ret_error, r, "%s: [GPU] CUDA=", p->path);
		if (!(pl.cuda_version = strdup(pl.cuda.cuda_version)))
			return -ENOMEM;
	} else if (p->gpu_cuda) {
		d = debs_find(debs, "nvidia-cuda-toolkit");
		if (!d)
			return set_error(ret_error, -EINVAL, "%s: [GPU] CUDA=ubuntu: no nvidia-cuda-toolkit in [Packages] Debs=%s",
					 p->path, p->debs ?: "");
		if (add_install(&pl, "nvidia-cuda-toolkit") < 0 || !(pl.cuda_version = deb_upstream_version(d->version)))
			return -ENOMEM;
	}
	r = plan_driver(p, debs, &pl, ret_error);
	if (r < 0)
		return r;
	if (profile_cudnn_is_file(p)) {
		r = cudnn_tarball_read(p->gpu_cudnn, &pl.cudnn, ret_error);
		if (r < 0)
			return prefix_error(ret_error, r, "%s: [GPU] CUDNN=", p->path);
		/* the agent unpacks it with libarchive, loaded at run time: the rig must have it */
		if (!(pl.cudnn_version = strdup(pl.cudnn.version)) || add_install(&pl, "libarchive13") < 0)
			return -ENOMEM;
	} else if (p->gpu_cudnn) {
		d = debs_find(debs, "libcudnn8");
		if (d && (add_install(&pl, "libcudnn8") < 0 || !(pl.cudnn_version = deb_upstream_version(d->version))))
			return -ENOMEM;
		if (!d && !pl.cuda.cudnn_version)
			return set_error(ret_error, -EINVAL, "%s: [GPU] CUDNN=debs: no libcudnn8 in [Packages] Debs=%s%s", p->path,
					 p->debs ?: "", pl.cuda.package ? " nor in CUDA's local repo" : "");
		if (!d && !(pl.cudnn_version = strdup(pl.cuda.cudnn_version)))
			return -ENOMEM;
	}
	*ret = pl;
	pl = (struct gpu_plan){};
	return 0;
}

int gpu_plan_for_profile(const Profile *p, struct gpu_plan *ret, char **ret_error) {
	_cleanup_(deb_repo_release) struct deb_repo debs = {};
	int r;

	*ret = (struct gpu_plan){};
	if (!p->gpu_driver && !p->gpu_cuda && !p->gpu_cudnn && !(p->gpu_sha256 && p->gpu_sha256[0]))
		return 0;
	if (p->debs) {
		r = deb_repo_build(p->debs, &debs, ret_error);
		if (r < 0)
			return prefix_error(ret_error, r, "%s: [Packages] Debs=%s", p->path, p->debs);
	}
	return gpu_plan_make(p, p->debs ? &debs : NULL, ret, ret_error);
}

int gpu_install_names(const Profile *p, const struct gpu_plan *pl, char ***ret) {
	size_t n = 0, k = 0;
	char **l;

	while (p->install && p->install[n])
		n++;
	l = calloc(n + pl->n_extra_install + 1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(l[k++] = strdup(p->install[i])))
			goto oom;
	for (size_t i = 0; i < pl->n_extra_install; i++) {
		bool dup = false;

		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(p->install[j], pl->extra_install[i]) == 0;
		if (!dup && !(l[k++] = strdup(pl->extra_install[i])))
			goto oom;
	}
	*ret = l;
	return 0;
oom:
	strv_freep(&l);
	return -ENOMEM;
}
