/* What several verbs do the same way before their own work starts. */
#include <errno.h>

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
