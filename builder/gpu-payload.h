/* The [GPU] payload at build time: NVIDIA's CUDA local repo and the cuDNN
 * tarball read and checked, the versions of CUDA, cuDNN and the driver taken
 * from those files (never typed by the user), the Sha256= pins, and the
 * warnings `mlrig check` gives from them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "deb-repo.h"
#include "profile.h"

/* A CUDA local-repo .deb (cuda-repo-ubuntu2004-X-Y-local_*.deb). */
struct cuda_repo_info {
	char *package;        /* its Package: cuda-repo-ubuntu2004-11-4-local */
	char *repo_dir;       /* "var/cuda-repo-ubuntu2004-11-4-local": the archive inside it */
	char *keyring;        /* its keyring file, relative to repo_dir: "cuda-D95DBBE2-keyring.gpg", "7fa2af80.pub" */
	char *packages;       /* the archive's Packages text */
	size_t n_debs;        /* .deb files in the archive */
	char *cuda_version;   /* from cuda-toolkit-X-Y (or cuda), upstream part: "11.4.4" */
	char *driver_version; /* from cuda-drivers (or the highest nvidia-driver-NNN), upstream part */
	char *cudnn_version;  /* from libcudnn8 when the repo has it, else NULL */
	unsigned best_driver; /* the highest NNN of the nvidia-driver-NNN packages it has, 0 for none */
};
void cuda_repo_info_release(struct cuda_repo_info *i);

/* Reads the .deb's control (deb_file_read()) and walks its data.tar: -EINVAL naming path when
 * there is no /var/cuda-repo-NAME/ archive, no Packages in it, or no keyring (*.gpg, *.pub). */
int cuda_repo_read(const char *path, struct cuda_repo_info *ret, char **ret_error);

/* A cuDNN tarball, either layout. */
struct cudnn_tarball_info {
	char *top;            /* "cuda" (8.2 and older) or "cudnn-linux-x86_64-8.x.y.z_cudaX-archive" */
	const char *lib_dir;  /* "lib64" or "lib" under top */
	char *version;        /* "8.2.4", from cudnn_version.h (cudnn.h before 8) */
	unsigned major;
	size_t n_entries;
};
void cudnn_tarball_info_release(struct cudnn_tarball_info *i);

/* Every entry checked with tar_entry_check() (nothing absolute, no "..", no device
 * node or setuid, symlinks inside), one top directory, include/cudnn.h (and
 * cudnn_version.h for 8.x and later) and the libraries: for cuDNN 8 libcudnn.so.8 and
 * libcudnn_{ops,cnn,adv}_{infer,train}.so.8, for 9 and later libcudnn.so.MAJOR.
 * -EINVAL with every problem named. */
int cudnn_tarball_read(const char *path, struct cudnn_tarball_info *ret, char **ret_error);

/* What the profile's [GPU] comes to. */
struct gpu_plan {
	char *driver_package;          /* nvidia-driver-NNN (auto resolved), or NULL */
	bool driver_in_debs;           /* from [Packages] Debs= (else CUDA's local repo) */
	char *driver_version;
	char *cuda_version;
	char *cudnn_version;
	struct cuda_repo_info cuda;    /* CUDA= a local repo */
	struct cudnn_tarball_info cudnn; /* CUDNN= a tarball */
	char **extra_install;          /* what [Packages] Install= gains: the driver, nvidia-cuda-toolkit, libcudnn8 from
					* Debs=; libarchive13 (the agent unpacks the cuDNN tarball with it) */
	size_t n_extra_install;
};
void gpu_plan_release(struct gpu_plan *pl);

/* Reads and checks the payload; debs is [Packages] Debs= read (NULL when not given).
 * -EINVAL with a message naming the profile, the key and the file. */
int gpu_plan_make(const Profile *p, const struct deb_repo *debs, struct gpu_plan *ret, char **ret_error);

/* [Packages] Debs= read and gpu_plan_make(), for the builders; an empty plan without [GPU]. */
int gpu_plan_for_profile(const Profile *p, struct gpu_plan *ret, char **ret_error);
/* [Packages] Install= and what the plan adds (once each), NULL-terminated; free with strv_freep(). */
int gpu_install_names(const Profile *p, const struct gpu_plan *pl, char ***ret);

/* The compatibility warnings, one a line (NULL when none): the TensorFlow
 * of [Python] Requirements= against TensorFlow's tested CUDA/cuDNN table and
 * python_version ("3.8", the rootfs's; NULL when not known: Ubuntu 20.04's 3.8
 * is assumed), and the driver against what the CUDA release needs. */
int gpu_plan_warnings(const Profile *p, const struct gpu_plan *pl, const char *python_version, char **ret);

/* The Version of package name in a Packages or dpkg status text, or NULL (allocated). */
char *deb_index_version(const char *text, const char *name);
/* "3.8" from the python3 package of a dpkg status text ("3.8.2-0ubuntu2"), or NULL. */
char *gpu_python_version(const char *status);

/* "470.199.02" from "470.199.02-0ubuntu0.20.04.1", "1:2.3-4" → "2.3": the upstream part. */
char *deb_upstream_version(const char *version);
