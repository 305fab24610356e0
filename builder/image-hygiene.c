/* The image-hygiene policy: one table of what a rootfs tarball loses or has replaced, each rule with its why. */
#include <fnmatch.h>
#include <stddef.h>

#include "image-hygiene.h"
#include "log.h"
#include "macro.h"

enum hygiene_applies {
	APPLIES_NON_DIR,         /* files, symlinks, links, nodes: directories stay */
	APPLIES_REGULAR,         /* regular files and hard links only */
};

/* What a built image must not carry from the tarball's build machine: one table, read as policy.
 * Patterns are fnmatch() on the path without "./"; FNM_PATHNAME decides whether '*' crosses '/'. */
static const struct hygiene_rule {
	const char *pattern;
	int fnm_flags;
	enum hygiene_applies applies;
	enum hygiene_action action;
	const char *why;
} hygiene_rules[] = {
	{ "etc/ssh/ssh_host_*",          FNM_PATHNAME, APPLIES_NON_DIR, HYGIENE_SKIP,       "host keys are made on first boot" },
	{ "etc/machine-id",              FNM_PATHNAME, APPLIES_NON_DIR, HYGIENE_MACHINE_ID, "each rig gets its own id" },
	{ "var/lib/systemd/random-seed", FNM_PATHNAME, APPLIES_NON_DIR, HYGIENE_SKIP,       "a shared seed is no seed" },
	{ "var/lib/apt/lists/*",         0,            APPLIES_NON_DIR, HYGIENE_SKIP,       "stale package lists (lists/ and partial/ stay)" },
	{ "var/log/*",                   0,            APPLIES_REGULAR, HYGIENE_SKIP,       "the build's logs (directories stay)" },
	{ "var/cache/apt/*.bin",         FNM_PATHNAME, APPLIES_NON_DIR, HYGIENE_SKIP,       "caches rebuilt by apt" },
	{ "var/cache/debconf/*-old",     FNM_PATHNAME, APPLIES_NON_DIR, HYGIENE_SKIP,       "debconf backups" },
	{ "root/.bash_history",          FNM_PATHNAME, APPLIES_NON_DIR, HYGIENE_SKIP,       "the builder's shell history" },
};

enum hygiene_action hygiene_classify(const char *path, bool is_dir, bool is_regular) {
	if (is_dir)
		return HYGIENE_KEEP;
	for (size_t i = 0; i < ELEMENTSOF(hygiene_rules); i++) {
		const struct hygiene_rule *h = &hygiene_rules[i];

		if (h->applies == APPLIES_REGULAR && !is_regular)
			continue;
		if (fnmatch(h->pattern, path, h->fnm_flags) == 0) {
			log_debug("hygiene: %s %s (%s)", h->action == HYGIENE_SKIP ? "skipping" : "replacing", path, h->why);
			return h->action;
		}
	}
	return HYGIENE_KEEP;
}
