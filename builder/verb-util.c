/* What several verbs do the same way before their own work starts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
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
