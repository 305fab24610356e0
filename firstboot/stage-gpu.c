/* Stage gpu: the NVIDIA driver and CUDA from the rig's repositories (NVIDIA's
 * local repo registered with its own keyring as signed-by and a pin), nouveau
 * kept off the GPU, cuDNN unpacked into the CUDA prefix, the libraries in
 * ld.so.conf.d and nvcc on PATH; with Secure Boot on, Ubuntu's signed modules
 * or the MOK steps; one reboot at most when nouveau holds the GPU. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apt.h"
#include "cudnn-extract.h"
#include "efi-util.h"
#include "parse-util.h"
#include "stages.h"

#define GPU_REBOOTED AGENT_STATE_DIR "/gpu-rebooted"
#define NOUVEAU_CONF "etc/modprobe.d/mlrig-blacklist-nouveau.conf"
#define LDSO_CONF "etc/ld.so.conf.d/mlrig-cuda.conf"
#define PROFILE_D "etc/profile.d/mlrig-cuda.sh"
#define CUDA_LIST "etc/apt/sources.list.d/mlrig-cuda.list"
#define CUDA_PIN "etc/apt/preferences.d/mlrig-cuda-repository-pin-600"
#define MOK_STEPS \
	"Secure Boot is on and the NVIDIA driver is a DKMS module signed with this rig's own key (MOK): " \
	"run 'sudo mokutil --import /var/lib/shim-signed/mok/MOK.der', choose a one-time password, reboot, " \
	"pick 'Enroll MOK' in the blue MokManager screen and type it; until then the nvidia module does not " \
	"load (the rig boots and works without the GPU)"

static inline void closedirp(DIR **d) {
	if (*d)
		closedir(*d);
}

struct gpu_stage {
	char *repo_dir;          /* "var/cuda-repo-ubuntu2004-11-4-local" */
	char *repo_packages;     /* its Packages text */
	char *rig_packages;      /* the rig's repository's Packages text */
	char *source;            /* the deb line for the CUDA repo */
	char *toolkit;           /* cuda-toolkit-11-4, nvidia-cuda-toolkit */
	char *prefix;            /* /usr/local/cuda-11.4 */
	char *driver;            /* nvidia-driver-470 */
	char *signed_modules;    /* linux-modules-nvidia-470-generic, with Secure Boot */
	char *names[8];
	size_t n_names;
};

static void gpu_stage_release(struct gpu_stage *s) {
	free(s->repo_dir);
	free(s->repo_packages);
	free(s->rig_packages);
	free(s->source);
	free(s->toolkit);
	free(s->prefix);
	free(s->driver);
	free(s->signed_modules);
}

/* agent_mkdir() for path and each directory above it (a tree may lack /etc/apt). */
static int mkdir_p(struct agent *a, const char *path) {
	_cleanup_free_ char *copy = strdup(path);
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *c = copy; r >= 0 && (c = strchr(c, '/')); c++) {
		*c = 0;
		r = agent_mkdir(a, copy, 0755, 0, 0);
		*c = '/';
	}
	return r < 0 ? r : agent_mkdir(a, copy, 0755, 0, 0);
}

/* The highest-sorting package in a Packages text for which match() says yes (names sort so:
 * nvidia-driver-470 after -390; cuda-toolkit-11-4 after 11-2). */
static char *packages_best(const char *text, bool (*match)(const char *name)) {
	char *best = NULL;

	for (const char *c = text; c && *c;) {
		const char *end = strchrnul(c, '\n');

		if (string_has_prefix(c, "Package: ")) {
			_cleanup_free_ char *name = strndup(c + 9, (size_t)(end - c - 9));

			if (name && match(name) && (!best || strverscmp(name, best) > 0)) {
				free(best);
				best = TAKE_PTR(name);
			}
		}
		c = *end ? end + 1 : end;
	}
	return best;
}

static bool is_driver(const char *name) {
	return profile_driver_branch(name) > 0 && !strstr(name, "-server") && !strstr(name, "-open");
}

static bool is_toolkit(const char *name) {
	return string_has_prefix(name, "cuda-toolkit-") && strspn(name + 13, "0123456789-") == strlen(name + 13) &&
	       strchr(name + 13, '-');
}

static const char *want_modules; /* the prefix packages_best() looks for, for is_signed_modules */
static bool is_signed_modules(const char *name) {
	return string_has_prefix(name, want_modules);
}

static bool in_packages(const char *text, const char *name) {
	size_t n = strlen(name);

	for (const char *c = text; c && (c = strstr(c, "Package: ")); c++)
		if ((c == text || c[-1] == '\n') && strncmp(c + 9, name, n) == 0 && (c[9 + n] == '\n' || !c[9 + n]))
			return true;
	return false;
}

/* NVIDIA's local repo: dpkg -i lays /var/cuda-repo-NAME/ down; its keyring goes to /usr/share/keyrings
 * and is the source's signed-by; its pin gives its packages priority over any other archive's. */
static int register_cuda_repo(struct agent *a, struct gpu_stage *s) {
	/* the profile's paths are already this machine's: the loader put --root in front of them */
	const char *host_deb = a->p->gpu_cuda;
	_cleanup_free_ char *keyring = NULL, *key_dst = NULL,
			     *packages_path = NULL, *list = NULL, *var = agent_host_path(a, "var");
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	int r;

	if (!var)
		return -ENOMEM;
	if (a->live) {
		char *dpkg[] = { "dpkg", "-i", (char *)host_deb, NULL };

		r = agent_run(a, "registering NVIDIA's CUDA local repository (dpkg -i)", dpkg, NULL);
		if (r < 0)
			return r;
	}
	d = opendir(var);
	while (d && (de = readdir(d)))
		if (string_has_prefix(de->d_name, "cuda-repo-") && !s->repo_dir &&
		    asprintf(&s->repo_dir, "var/%s", de->d_name) < 0)
			return -ENOMEM;
	if (!s->repo_dir)
		return agent_fail(a, -ENOENT, "no /var/cuda-repo-*/ after installing %s%s", a->p->gpu_cuda,
				  a->live ? "" : " (not live: dpkg -i is not run on a tree)");
	_cleanup_(closedirp) DIR *rd = NULL;
	_cleanup_free_ char *host_repo = agent_host_path(a, s->repo_dir);

	rd = host_repo ? opendir(host_repo) : NULL;
	while (rd && (de = readdir(rd)))
		if ((string_has_suffix(de->d_name, ".gpg") || string_has_suffix(de->d_name, ".pub")) && !keyring &&
		    !(keyring = strdup(de->d_name)))
			return -ENOMEM;
	if (!keyring)
		return agent_fail(a, -ENOENT, "/%s has no keyring (*.gpg, *.pub)", s->repo_dir);
	if (asprintf(&packages_path, "%s/Packages", s->repo_dir) < 0)
		return -ENOMEM;
	r = agent_read(a, packages_path, &s->repo_packages, NULL);
	if (r == -ENOENT) { /* some local repos carry only Packages.gz: gzip is on every rig */
		_cleanup_free_ char *gz = agent_host_path(a, packages_path);
		_cleanup_free_ char *gzpath = NULL;

		if (!gz || asprintf(&gzpath, "%s.gz", gz) < 0)
			return -ENOMEM;
		char *gunzip[] = { "gzip", "-dc", gzpath, NULL };
		r = agent_run(a, "reading the CUDA repository's Packages.gz", gunzip, &s->repo_packages);
		if (r < 0)
			return r;
	} else if (r < 0)
		return agent_fail(a, r, "cannot read /%s: %m", packages_path);
	{
		_cleanup_free_ char *src = NULL, *data = NULL;
		size_t size = 0;

		/* apt takes an armored key only as .asc; NVIDIA's older repos ship one as .pub */
		if (asprintf(&src, "%s/%s", s->repo_dir, keyring) < 0 ||
		    asprintf(&key_dst, "usr/share/keyrings/mlrig-%.*s.%s", (int)strcspn(keyring, "."), keyring,
			     string_has_suffix(keyring, ".pub") ? "asc" : "gpg") < 0)
			return -ENOMEM;
		r = agent_read(a, src, &data, &size);
		if (r >= 0)
			r = mkdir_p(a, "usr/share/keyrings");
		if (r >= 0)
			r = agent_write(a, key_dst, data, size, 0644, 0, 0);
		if (r < 0)
			return agent_fail(a, r, "cannot install the CUDA repository's keyring /%s: %m", key_dst);
	}
	if (asprintf(&s->source, "deb [signed-by=/%s] file:///%s /", key_dst, s->repo_dir) < 0 ||
	    asprintf(&list, "# Written by mlrig-firstboot: NVIDIA's CUDA local repository.\n%s\n", s->source) < 0)
		return -ENOMEM;
	static const char pin[] = "# Written by mlrig-firstboot: NVIDIA's CUDA packages before any other archive's.\n"
				  "Package: *\nPin: release l=NVIDIA CUDA\nPin-Priority: 600\n";
	if ((r = mkdir_p(a, "etc/apt/sources.list.d")) < 0 ||
	    (r = agent_write(a, CUDA_LIST, list, strlen(list), 0644, 0, 0)) < 0 ||
	    (r = mkdir_p(a, "etc/apt/preferences.d")) < 0 ||
	    (r = agent_write(a, CUDA_PIN, pin, strlen(pin), 0644, 0, 0)) < 0)
		return agent_fail(a, r, "cannot register the CUDA repository in /etc/apt: %m");
	s->toolkit = packages_best(s->repo_packages, is_toolkit);
	if (!s->toolkit)
		return agent_fail(a, -ENOENT, "/%s/Packages has no cuda-toolkit-X-Y", s->repo_dir);
	/* cuda-toolkit-11-4 installs into /usr/local/cuda-11.4 */
	if (asprintf(&s->prefix, "/usr/local/cuda-%s", s->toolkit + strlen("cuda-toolkit-")) < 0)
		return -ENOMEM;
	for (char *c = s->prefix + strlen("/usr/local/cuda-"); *c; c++)
		if (*c == '-')
			*c = '.';
	return 0;
}

/* Driver=auto: the highest nvidia-driver-NNN of the repositories; Secure Boot: the signed modules. */
static int choose_driver(struct agent *a, struct gpu_stage *s, bool secure_boot) {
	_cleanup_free_ char *rig_best = NULL, *repo_best = NULL, *prefix = NULL;
	const char *p = a->p->gpu_driver;

	if (strcmp(p, "auto") != 0)
		s->driver = strdup(p);
	else {
		rig_best = packages_best(s->rig_packages, is_driver);
		repo_best = packages_best(s->repo_packages, is_driver);
		if (!rig_best && !repo_best)
			return agent_fail(a, -ENOENT, "[GPU] Driver=auto: no nvidia-driver-NNN in the rig's repositories");
		s->driver = strdup(!repo_best || (rig_best && profile_driver_branch(rig_best) >= profile_driver_branch(repo_best)) ?
				   rig_best : repo_best);
	}
	if (!s->driver)
		return -ENOMEM;
	if (!secure_boot)
		return 0;
	if (asprintf(&prefix, "linux-modules-nvidia-%u-", profile_driver_branch(s->driver)) < 0)
		return -ENOMEM;
	want_modules = prefix;
	s->signed_modules = packages_best(s->rig_packages, is_signed_modules) ?: packages_best(s->repo_packages, is_signed_modules);
	want_modules = NULL;
	return 0;
}

/* Writes path with text unless it holds it already; 1 when it changed. */
static int write_if_changed(struct agent *a, const char *path, const char *text) {
	_cleanup_free_ char *old = NULL;
	int r;

	if (agent_read(a, path, &old, NULL) >= 0 && strcmp(old, text) == 0)
		return 0;
	r = agent_write(a, path, text, strlen(text), 0644, 0, 0);
	return r < 0 ? r : 1;
}

static int blacklist_nouveau(struct agent *a) {
	static const char conf[] = "# Written by mlrig-firstboot: the NVIDIA driver needs the GPU that nouveau would take.\n"
				   "blacklist nouveau\noptions nouveau modeset=0\n";
	int r = mkdir_p(a, "etc/modprobe.d");

	if (r >= 0)
		r = write_if_changed(a, NOUVEAU_CONF, conf);
	if (r < 0)
		return agent_fail(a, r, "cannot write /" NOUVEAU_CONF ": %m");
	if (r > 0 && a->live) {
		char *initramfs[] = { "update-initramfs", "-u", NULL };

		r = agent_run(a, "updating the initramfs without nouveau", initramfs, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The CUDA libraries in ld.so.conf.d (not LD_LIBRARY_PATH in .bashrc), nvcc on every login shell's PATH. */
static int publish_prefix(struct agent *a, const char *prefix) {
	_cleanup_free_ char *ld = NULL, *sh = NULL;
	int r;

	if (asprintf(&ld, "# Written by mlrig-firstboot: CUDA's and cuDNN's libraries.\n%s/lib64\n", prefix) < 0 ||
	    asprintf(&sh, "# Written by mlrig-firstboot: CUDA's nvcc on PATH.\n"
			  "case \":$PATH:\" in\n*:%s/bin:*) ;;\n*) PATH=\"%s/bin:$PATH\" ;;\nesac\nexport PATH\n",
		     prefix, prefix) < 0)
		return -ENOMEM;
	if ((r = mkdir_p(a, "etc/ld.so.conf.d")) < 0 || (r = write_if_changed(a, LDSO_CONF, ld)) < 0 ||
	    (r = mkdir_p(a, "etc/profile.d")) < 0 || (r = write_if_changed(a, PROFILE_D, sh)) < 0)
		return agent_fail(a, r, "cannot write /" LDSO_CONF " or /" PROFILE_D ": %m");
	if (a->live) {
		char *ldconfig[] = { "ldconfig", NULL };

		return agent_run(a, "updating the library cache (ldconfig)", ldconfig, NULL);
	}
	return 0;
}

static int add_name(struct gpu_stage *s, const char *name) {
	if (!name)
		return 0;
	if (s->n_names + 1 >= ELEMENTSOF(s->names))
		return -E2BIG;
	s->names[s->n_names++] = (char *)name;
	return 0;
}

/* Nouveau holds the GPU until a reboot with it blacklisted; the agent reboots once for it, never
 * twice. (sys/ is the root's: a test's tree can say nouveau is loaded.) */
static bool needs_reboot(struct agent *a) {
	return a->p->gpu_driver && a->p->gpu_blacklist_nouveau && agent_exists(a, "sys/module/nouveau") >= 0 &&
	       agent_exists(a, GPU_REBOOTED) < 0;
}

int stage_gpu(struct agent *a) {
	_cleanup_(gpu_stage_release) struct gpu_stage s = {};
	_cleanup_free_ char *efivars = agent_host_path(a, "sys/firmware/efi/efivars"), *error = NULL;
	struct cudnn_extract_result x = {};
	const Profile *p = a->p;
	bool secure_boot;
	int r;

	if (!p->gpu_driver && !p->gpu_cuda && !p->gpu_cudnn) {
		agent_note(a, "skipped: no [GPU] Driver, CUDA or CUDNN");
		return 0;
	}
	if (!efivars)
		return -ENOMEM;
	secure_boot = efi_secure_boot(efivars) > 0;
	(void)agent_read(a, APT_REPO_DIR "/Packages", &s.rig_packages, NULL);
	if (profile_cuda_is_file(p) && (r = register_cuda_repo(a, &s)) < 0)
		return r;
	if (p->gpu_cuda && !profile_cuda_is_file(p) &&
	    (!(s.toolkit = strdup("nvidia-cuda-toolkit")) || !(s.prefix = strdup("/usr/local/cuda"))))
		return -ENOMEM;
	if (p->gpu_driver && (r = choose_driver(a, &s, secure_boot)) < 0)
		return r;
	if (p->gpu_blacklist_nouveau && (r = blacklist_nouveau(a)) < 0)
		return r;
	if ((r = add_name(&s, s.driver)) < 0 || (r = add_name(&s, s.signed_modules)) < 0 || (r = add_name(&s, s.toolkit)) < 0)
		return r;
	/* the tarball is unpacked with libarchive: the builder put it in the rig's repository */
	if (profile_cudnn_is_file(p) && (r = add_name(&s, "libarchive13")) < 0)
		return r;
	if (p->gpu_cudnn && !profile_cudnn_is_file(p)) {
		if ((r = add_name(&s, "libcudnn8")) < 0)
			return r;
		if ((in_packages(s.rig_packages, "libcudnn8-dev") || in_packages(s.repo_packages, "libcudnn8-dev")) &&
		    (r = add_name(&s, "libcudnn8-dev")) < 0)
			return r;
	}
	agent_test_hold(a, "gpu");
	if (a->live) {
		const char *extra[] = { s.source, NULL };

		r = agent_apt_install(a, s.names, extra, p->debconf);
		if (r < 0)
			return r;
	}
	if (profile_cudnn_is_file(p)) {
		r = cudnn_extract(a->root_fd, p->gpu_cudnn, s.prefix, &x, &error);
		if (r < 0)
			return agent_fail(a, r, "cuDNN: %s", error ?: strerror(-r));
	}
	if (s.prefix && (r = publish_prefix(a, s.prefix)) < 0)
		return r;
	if (secure_boot && p->gpu_driver && !s.signed_modules)
		agent_say("%s", MOK_STEPS);
	bool reboot = needs_reboot(a);

	agent_note(a, "%s%s%s%s%s%s%s%s%s%s", s.driver ? s.driver : "no driver", s.toolkit ? ", " : "",
		   s.toolkit ? s.toolkit : "", x.written ? ", cuDNN into " : "", x.written ? s.prefix : "",
		   a->live ? "" : " (not live: apt not run)", secure_boot ? "; Secure Boot on: " : "",
		   secure_boot ? (s.signed_modules ? s.signed_modules : "DKMS module: ") : "",
		   secure_boot && !s.signed_modules ? MOK_STEPS : "",
		   reboot ? "; rebooting once: nouveau holds the GPU" : "");
	if (reboot) {
		r = agent_write(a, GPU_REBOOTED, "", 0, 0644, 0, 0);
		if (r < 0)
			return agent_fail(a, r, "cannot write /" GPU_REBOOTED ": %m");
		a->reboot = true; /* after the journal has this stage as done */
	}
	return 0;
}
