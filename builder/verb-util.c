/* What several verbs do the same way before their own work starts. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "gpu-payload.h"
#include "log.h"
#include "macro.h"
#include "output.h"
#include "parse-util.h"
#include "verbs.h"

int verb_load_profile(const char *path, Profile **ret) {
	_cleanup_free_ char *error = NULL;
	int r;

	r = profile_load(path, ret, &error);
	if (r >= 0)
		return 0;
	if (error)
		return cli_input_error("%s", error);
	return cli_input_error_errno(r, "Cannot load the profile '%s': %m", path);
}

int verb_gpu_plan(const char *verb, const Profile *p, struct gpu_plan *gpu, char ***ret_names) {
	_cleanup_free_ char *error = NULL;
	int r = gpu_plan_for_profile(p, gpu, &error);

	if (r == -EINVAL)
		return cli_input_error("%s", error ?: "[GPU] payload cannot be used");
	if (r < 0)
		return log_error_errno(r, "%s", error ?: strerror(-r));
	if (gpu->driver_package || gpu->cuda_version || gpu->cudnn_version)
		log_info("%s: GPU payload: driver %s %s, CUDA %s, cuDNN %s (read from the files)", verb,
			 gpu->driver_package ?: "none", gpu->driver_version ?: "", gpu->cuda_version ?: "none",
			 gpu->cudnn_version ?: "none");
	r = gpu_install_names(p, gpu, ret_names);
	return r < 0 ? log_oom() : 0;
}

int verb_home(char **ret) {
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (!home || home[0] != '/') {
		pw = getpwuid(getuid());
		if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/')
			return -ENOENT;
		home = pw->pw_dir;
	}
	*ret = strdup(home);
	return *ret ? 0 : -ENOMEM;
}

int verb_client_dir(const char *rig, char **ret) {
	_cleanup_free_ char *home = NULL;
	const char *config = getenv("XDG_CONFIG_HOME");
	int r;

	if (config && config[0] == '/')
		return asprintf(ret, "%s/mlrig/%s", config, rig) < 0 ? -ENOMEM : 0;
	r = verb_home(&home);
	if (r < 0)
		return r;
	return asprintf(ret, "%s/.config/mlrig/%s", home, rig) < 0 ? -ENOMEM : 0;
}

char *verb_shortcut_prefix(const char *rig) {
	char *s = strdup(rig);

	for (char *c = s; c && *c; c++)
		if (*c == '-')
			*c = '_';
	return s;
}

/* The manifest mlrig image writes next to its output: IMAGE.json, or IMAGE with .img/.raw replaced. */
int verb_find_manifest(const char *path, char **ret_path, char **ret_data) {
	static const char *const exts[] = { ".img", ".raw", ".iso" };
	char *candidate[2] = {};
	struct stat st;
	int r = 0;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (asprintf(&candidate[0], "%s.json", path) < 0)
		return log_oom();
	for (size_t i = 0; i < ELEMENTSOF(exts); i++)
		if (string_has_suffix(path, exts[i])) {
			if (asprintf(&candidate[1], "%.*s.json", (int)(strlen(path) - strlen(exts[i])), path) < 0) {
				r = log_oom();
				goto finish;
			}
			break;
		}
	for (size_t i = 0; i < ELEMENTSOF(candidate); i++) {
		size_t size;

		if (!candidate[i])
			continue;
		r = read_full_file(candidate[i], ret_data, &size);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0) {
			log_error_errno(r, "Failed to read manifest '%s': %m", candidate[i]);
			goto finish;
		}
		*ret_path = TAKE_PTR(candidate[i]);
		r = 1;
		break;
	}
finish:
	free(candidate[0]);
	free(candidate[1]);
	return r;
}

void output_say_stale(const char *output) {
	_cleanup_strv_free_ char **removed = NULL;

	if (output_remove_stale(output, &removed) > 0)
		for (char **r = removed; *r; r++)
			log_info("Removed %s, the temp file of a run that was killed before it finished.", *r);
}
