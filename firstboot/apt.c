/* apt for the agent: installing from the rig's own offline repositories only,
 * never the network, with a power cut mid-install repaired first. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apt.h"
#include "parse-util.h"

#define APT_DIR AGENT_STATE_DIR "/apt"

/* apt's view of the world for our runs: our sources list, our own package lists, no parts dirs. */
static int apt_options(char ***ret) {
	static const char *const fmt[] = {
		"Dir::Etc::SourceList=/%s/sources.list",
		"Dir::Etc::SourceParts=/%s/parts",
		"Dir::State::Lists=/%s/lists",
	};
	char **v = calloc(2 * ELEMENTSOF(fmt) + 8 + 1, sizeof(char *));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(fmt); i++) {
		v[n++] = strdup("-o");
		if (asprintf(&v[n++], fmt[i], APT_DIR) < 0)
			v[n - 1] = NULL;
	}
	static const char *const fixed[] = { "-o", "APT::Get::List-Cleanup=false", "-o", "Acquire::Languages=none",
					     "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold" };
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		v[n++] = strdup(fixed[i]);
	for (size_t i = 0; i < n; i++)
		if (!v[i]) {
			strv_freep(&v);
			return -ENOMEM;
		}
	*ret = v;
	return 0;
}

static int write_sources(struct agent *a, const char *const *extra_sources) {
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	if ((r = agent_mkdir(a, APT_DIR, 0755, 0, 0)) < 0 || (r = agent_mkdir(a, APT_DIR "/parts", 0755, 0, 0)) < 0 ||
	    (r = agent_mkdir(a, APT_DIR "/lists", 0755, 0, 0)) < 0 ||
	    (r = agent_mkdir(a, APT_DIR "/lists/partial", 0700, 0, 0)) < 0)
		return agent_fail(a, r, "cannot make /%s: %m", APT_DIR);
	f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	fputs("# Written by mlrig-firstboot: the rig's offline repositories, nothing from the network.\n", f);
	if (agent_exists(a, APT_REPO_DIR "/Packages") >= 0)
		fputs("deb [trusted=yes] file:/" APT_REPO_DIR " ./\n", f);
	for (size_t i = 0; extra_sources && extra_sources[i]; i++)
		fprintf(f, "%s\n", extra_sources[i]);
	if (fclose(f) != 0)
		return -ENOMEM;
	r = agent_write(a, APT_DIR "/sources.list", text, size, 0644, 0, 0);
	if (r < 0)
		return agent_fail(a, r, "cannot write /%s/sources.list: %m", APT_DIR);
	return 0;
}

/* "apt-get OPTIONS... verb args...", the options first. */
static int apt_argv(char **options, const char *const *words, char *const *names, char ***ret) {
	size_t n_opt = 0, n_words = 0, n_names = 0, k = 0;
	char **v;

	while (options[n_opt])
		n_opt++;
	while (words[n_words])
		n_words++;
	while (names && names[n_names])
		n_names++;
	v = calloc(1 + n_opt + n_words + n_names + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	v[k++] = "apt-get";
	for (size_t i = 0; i < n_opt; i++)
		v[k++] = options[i];
	for (size_t i = 0; i < n_words; i++)
		v[k++] = (char *)words[i];
	for (size_t i = 0; i < n_names; i++)
		v[k++] = names[i];
	*ret = v; /* borrowed strings: free the array only */
	return 0;
}

int agent_apt_install(struct agent *a, char *const *names, const char *const *extra_sources, const char *debconf) {
	static char *const env[] = { "DEBIAN_FRONTEND=noninteractive", "APT_LISTCHANGES_FRONTEND=none", NULL };
	static const char *const update[] = { "-q", "update", NULL };
	static const char *const install[] = { "-q", "-y", "--no-install-recommends", "install", NULL };
	_cleanup_strv_free_ char **options = NULL;
	_cleanup_free_ char **argv = NULL, *what = NULL;
	size_t len = 0;
	int r;

	if (!names || !names[0])
		return 0;
	/* a power cut in dpkg leaves packages unpacked but not configured: finish them first */
	char *configure[] = { "dpkg", "--configure", "-a", NULL };
	r = agent_run_full(a, "repairing an interrupted install (dpkg --configure -a)", configure, env, NULL, NULL);
	if (r < 0)
		return r;
	if (debconf) {
		char *set[] = { "debconf-set-selections", (char *)debconf, NULL };

		r = agent_run_full(a, "loading the debconf answers ([Packages] Debconf=)", set, env, NULL, NULL);
		if (r < 0)
			return r;
	}
	r = write_sources(a, extra_sources);
	if (r < 0)
		return r;
	r = apt_options(&options);
	if (r < 0)
		return r;
	r = apt_argv(options, update, NULL, &argv);
	if (r < 0)
		return r;
	r = agent_run_full(a, "reading the rig's package repositories (apt-get update)", argv, env, NULL, NULL);
	if (r < 0)
		return r;
	free(TAKE_PTR(argv));
	{
		_cleanup_free_ char *list = NULL;

		for (len = 0; names[len]; len++)
			;
		list = strv_join(names, len, " ");
		if (!list || asprintf(&what, "installing %s", list) < 0)
			return -ENOMEM;
	}
	r = apt_argv(options, install, names, &argv);
	if (r < 0)
		return r;
	return agent_run_full(a, what, argv, env, NULL, NULL);
}
