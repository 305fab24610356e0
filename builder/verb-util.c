/* What several verbs do the same way before their own work starts. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
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
