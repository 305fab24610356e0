/* Collects the rig payload in memory: overlays rendered with the profile's
 * values, /etc/mlrig (config, keys, secrets), the agent and the wheelhouse. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "jupyter.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "packages.h"
#include "payload.h"
#include "template.h"

static bool wants_ddns(const Profile *p) {
	return p->ddns_provider != DDNS_NONE;
}

static bool wants_portmap(const Profile *p) {
	return p->port_forward != PORT_FORWARD_NO;
}

static bool wants_firewall(const Profile *p) {
	return p->firewall_enable;
}

static bool wants_jupyter(const Profile *p) {
	return p->jupyter_service;
}

/* Every unit the overlays hold is laid into the rig; these are enabled, the ones with a
 * predicate only when the profile asks for what they do. */
static const struct {
	struct payload_unit unit;
	bool (*wanted)(const Profile *p); /* NULL: on every rig */
} units[] = {
	{ { "mlrig-ssh-keygen.service", "multi-user.target" }, NULL },
	{ { "mlrig-firstboot.service", "multi-user.target" }, NULL },
	{ { "mlrig-ready.service", "multi-user.target" }, NULL },
	{ { "mlrig-bootorder.service", "multi-user.target" }, NULL },
	{ { "mlrig-ddns.timer", "timers.target" }, wants_ddns },
	{ { "mlrig-portmap.timer", "timers.target" }, wants_portmap },
	{ { "mlrig-firewall.service", "sysinit.target" }, wants_firewall },
	{ { "mlrig-jupyter.service", "multi-user.target" }, wants_jupyter },
};

static int collect_units(const Profile *p, struct payload *pl) {
	struct payload_unit *list = calloc(ELEMENTSOF(units), sizeof(*list));
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (!units[i].wanted || units[i].wanted(p))
			list[n++] = units[i].unit;
	pl->units = list;
	pl->n_units = n;
	return 0;
}

static int add(struct payload *pl, const char *path, void *data, size_t size, uint32_t mode) {
	struct payload_file *n = realloc(pl->files, (pl->n_files + 1) * sizeof(*n));
	char *p = strdup(path);

	if (!n || !p) {
		free(p);
		free(data);
		if (n)
			pl->files = n;
		return -ENOMEM;
	}
	pl->files = n;
	pl->files[pl->n_files++] = (struct payload_file){ .path = p, .data = data, .size = size, .mode = mode };
	return 0;
}

/* A large file copied from src when the image is written, not read into memory. */
static int add_source(struct payload *pl, const char *path, const char *src, uint32_t mode, char **ret_error) {
	struct stat st;
	int r;

	if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
		return set_error(ret_error, -errno ?: -EINVAL, "cannot use %s: %s", src, errno ? strerror(errno) : "not a file");
	r = add(pl, path, NULL, (size_t)st.st_size, mode);
	if (r >= 0 && !(pl->files[pl->n_files - 1].source = strdup(src)))
		r = -ENOMEM;
	return r;
}

/* RIG_PAYLOAD_DIR/NAME for a payload file. */
static char *rig_payload_path(const char *src) {
	const char *base = strrchr(src, '/');
	char *s = NULL;

	return asprintf(&s, RIG_PAYLOAD_DIR "/%s", base ? base + 1 : src) < 0 ? NULL : s;
}

static int add_copy(struct payload *pl, const char *path, const char *src, uint32_t mode, char **ret_error) {
	char *data;
	size_t size;
	int r = read_full_file(src, &data, &size);

	if (r < 0)
		return set_error(ret_error, r, "cannot read %s: %s", src, strerror(-r));
	return add(pl, path, data, size, mode);
}

static int add_dirs_for(struct payload *pl, const char *path) {
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; (p = strchr(p, '/')); p++) {
		bool have = false;

		*p = 0;
		for (size_t i = 0; i < pl->n_files && !have; i++)
			have = strcmp(pl->files[i].path, copy) == 0;
		if (!have) {
			int r = add(pl, copy, NULL, 0, 0755);
			if (r < 0)
				return r;
		}
		*p = '/';
	}
	return 0;
}

static int name_cmp(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *dir, char ***ret, size_t *ret_n) {
	char **names = NULL;
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		char **nn;

		if (de->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 2) * sizeof(char *));
		if (!nn || !(nn[n] = strdup(de->d_name))) {
			free(nn ? nn : names);
			closedir(d);
			return -ENOMEM;
		}
		names = nn;
		names[++n] = NULL;
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(char *), name_cmp);
	*ret = names;
	*ret_n = n;
	return 0;
}

/* Overlay tree → payload; *.in files are templates. Sorted, so the output
 * never depends on readdir order. */
static int add_overlay(struct payload *pl, const char *src, const char *dst, const struct template_var *vars,
		       unsigned n_vars, char **ret_error) {
	_cleanup_strv_free_ char **names = NULL;
	size_t n;
	int r;

	r = list_dir(src, &names, &n);
	if (r < 0)
		return set_error(ret_error, r, "cannot open overlay %s: %s", src, strerror(-r));
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *s = NULL, *t = NULL, *text = NULL;
		struct stat st;
		size_t size;

		if (asprintf(&s, "%s/%s", src, names[i]) < 0 || asprintf(&t, "%s/%s", dst, names[i]) < 0)
			return -ENOMEM;
		if (stat(s, &st) < 0)
			return set_error(ret_error, negative_errno(), "cannot stat %s: %m", s);
		if (S_ISDIR(st.st_mode)) {
			r = add_dirs_for(pl, t);
			if (r >= 0)
				r = add(pl, t, NULL, 0, 0755);
			if (r >= 0)
				r = add_overlay(pl, s, t, vars, n_vars, ret_error);
			if (r < 0)
				return r;
			continue;
		}
		r = read_full_file(s, &text, &size);
		if (r < 0)
			return set_error(ret_error, r, "cannot read %s: %s", s, strerror(-r));
		if (string_has_suffix(t, ".in")) {
			char *out;

			t[strlen(t) - 3] = 0;
			r = template_render(s, text, vars, n_vars, &out, ret_error);
			if (r < 0)
				return r;
			free(text);
			text = out;
			size = strlen(out);
		}
		r = add(pl, t, TAKE_PTR(text), size, (st.st_mode & 0111) ? 0755 : 0644);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The directory of the running mlrig binary. */
static int exe_dir(char **ret) {
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return n < 0 ? negative_errno() : -ENOENT;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	*ret = strdup(exe);
	return *ret ? 0 : -ENOMEM;
}

static bool is_dir(const char *path) {
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The canonical path of dir/rel when dir/rel/check is a directory (check non-NULL)
 * or dir/rel an executable file (check NULL); else NULL. */
static char *probe(const char *dir, const char *rel, const char *check) {
	_cleanup_free_ char *c = NULL, *sub = NULL;

	if (asprintf(&c, "%s/%s", dir, rel) < 0 || (check && asprintf(&sub, "%s/%s", c, check) < 0))
		return NULL;
	if (check ? !is_dir(sub) : access(c, X_OK) < 0)
		return NULL;
	return realpath(c, NULL);
}

int find_datadir(char **ret) {
	_cleanup_free_ char *dir = NULL;
	const char *env = getenv("MLRIG_DATADIR");
	char *c = NULL;

	if (env)
		c = strdup(env);
	else if (exe_dir(&dir) >= 0) {
		/* build/mlrig runs from the source tree: overlays/ is one level up; an installed
		 * PREFIX/bin/mlrig finds PREFIX/share/mlrig, wherever PREFIX is (DESTDIR, a copy) */
		static const char *const rels[] = { ".", "..", "../share/mlrig" };

		for (size_t i = 0; i < ELEMENTSOF(rels) && !c; i++)
			c = probe(dir, rels[i], "overlays");
	}
	if (!c && !env)
		c = strdup(MLRIG_DATADIR);
	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

int find_agent(char **ret) {
	_cleanup_free_ char *dir = NULL;
	const char *env = getenv("MLRIG_AGENT");
	char *c = NULL;

	if (env)
		c = strdup(env);
	else if (exe_dir(&dir) >= 0 && !(c = probe(dir, "compat/mlrig-firstboot", NULL)))
		c = probe(dir, "../lib/mlrig/mlrig-firstboot", NULL);
	if (!c && !env)
		c = strdup(MLRIG_LIBDIR "/mlrig-firstboot");
	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

static int file_cmp(const void *a, const void *b) {
	return strcmp(((const struct payload_file *)a)->path, ((const struct payload_file *)b)->path);
}

/* Parents sort before their children ("/a" < "/a/b"); a path given twice is a mistake. */
static int payload_sort(struct payload *pl, char **ret_error) {
	qsort(pl->files, pl->n_files, sizeof(pl->files[0]), file_cmp);
	for (size_t i = 1; i < pl->n_files; i++)
		if (strcmp(pl->files[i - 1].path, pl->files[i].path) == 0)
			return set_error(ret_error, -EEXIST, "payload: %s comes twice", pl->files[i].path);
	return 0;
}

int payload_add_packages(struct payload *pl, const struct packages_plan *plan, char **ret_error) {
	char *packages;
	int r;

	if (!plan || !plan->have_repo)
		return 0;
	packages = malloc(plan->packages_size + 1);
	if (!packages)
		return -ENOMEM;
	memcpy(packages, plan->packages, plan->packages_size);
	r = add_dirs_for(pl, RIG_REPO "/Packages");
	if (r >= 0)
		r = add(pl, RIG_REPO "/Packages", packages, plan->packages_size, 0644);
	for (size_t i = 0; i < plan->res.n_install && r >= 0; i++) {
		const struct deb_package *d = &plan->repo.debs[plan->res.install[i]];
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, RIG_REPO "/%s", deb_repo_filename(d)) < 0)
			return -ENOMEM;
		r = add(pl, path, NULL, (size_t)d->size, 0644);
		if (r >= 0 && !(pl->files[pl->n_files - 1].source = strdup(d->path)))
			r = -ENOMEM;
	}
	if (r < 0)
		return r;
	return payload_sort(pl, ret_error);
}

int payload_collect(const Profile *p, const char *datadir, const char *agent, struct payload *ret, char **ret_error) {
	_cleanup_free_ char *overlays = NULL, *port = NULL, *alive = NULL, *jport = NULL, *config = NULL,
			     *agent_found = NULL, *interval = NULL, *jpython = NULL, *jtoken = NULL,
			     *rig_cuda = profile_cuda_is_file(p) ? rig_payload_path(p->gpu_cuda) : NULL,
			     *rig_cudnn = profile_cudnn_is_file(p) ? rig_payload_path(p->gpu_cudnn) : NULL;
	struct payload pl = {};
	const struct profile_paths paths = {
		.authorized_keys = RIG_AUTHORIZED_KEYS,
		.ddns_password_file = p->ddns_password_file ? RIG_DDNS_PASSWORD : NULL,
		.wheelhouse = p->wheelhouse ? RIG_WHEELHOUSE : NULL,
		.cudnn = rig_cudnn,
		.cuda = rig_cuda,
		.debs = p->debs ? RIG_REPO : NULL,
		.debconf = p->debconf ? RIG_DEBCONF : NULL,
	};
	int r;

	*ret_error = NULL;
	if ((profile_cuda_is_file(p) && !rig_cuda) || (profile_cudnn_is_file(p) && !rig_cudnn) ||
	    asprintf(&port, "%u", p->ssh_port) < 0 || asprintf(&alive, "%u", p->client_alive_interval) < 0 ||
	    asprintf(&jport, "%u", p->jupyter_port) < 0 || asprintf(&overlays, "%s/overlays/rig", datadir) < 0 ||
	    asprintf(&interval, "%u", p->ddns_interval) < 0 || jupyter_python(p, &jpython) < 0 ||
	    jupyter_token_path(p, &jtoken) < 0)
		return -ENOMEM;
	const struct template_var vars[] = {
		{ "HOSTNAME", p->hostname },
		{ "USER", p->user },
		{ "ALLOW_USERS", p->user },
		{ "SSH_PORT", port },
		{ "PASSWORD_AUTHENTICATION", p->password_authentication ? "yes" : "no" },
		{ "PERMIT_ROOT_LOGIN", p->permit_root_login ? "prohibit-password" : "no" },
		{ "CLIENT_ALIVE_INTERVAL", alive },
		{ "JUPYTER_PORT", jport },
		{ "JUPYTER_APP", jupyter_app_to_string(p->jupyter_app) },
		{ "JUPYTER_PYTHON", jpython },
		{ "JUPYTER_MODULE", jupyter_module(p) },
		{ "JUPYTER_TOKEN", jtoken },
		{ "AGENT", RIG_AGENT },
		{ "DDNS_INTERVAL", interval },
	};

	r = add_overlay(&pl, overlays, "", vars, ELEMENTSOF(vars), ret_error);
	if (r < 0)
		goto fail;

	/* /etc/mlrig: root-only, it holds secrets */
	r = profile_render(p, &paths, &config);
	if (r >= 0)
		r = add(&pl, RIG_CONFIG_DIR, NULL, 0, 0700);
	if (r >= 0)
		r = add(&pl, RIG_CONFIG, TAKE_PTR(config), 0, 0600);
	if (r >= 0) {
		pl.files[pl.n_files - 1].size = strlen(pl.files[pl.n_files - 1].data);
		r = add_copy(&pl, RIG_AUTHORIZED_KEYS, p->authorized_keys, 0600, ret_error);
	}
	if (r >= 0 && p->ddns_password_file)
		r = add_copy(&pl, RIG_DDNS_PASSWORD, p->ddns_password_file, 0600, ret_error);
	if (r >= 0 && p->debconf) /* answers may hold passwords: root only, as /etc/mlrig is */
		r = add_copy(&pl, RIG_DEBCONF, p->debconf, 0600, ret_error);
	if (r >= 0 && p->debs) /* rig.conf names it, so it is there even when nothing needs installing */
		r = add_dirs_for(&pl, RIG_REPO "/Packages");
	/* rig.conf names these too: the gpu stage installs from them */
	if (r >= 0 && (rig_cuda || rig_cudnn))
		r = add_dirs_for(&pl, RIG_PAYLOAD_DIR "/x");
	if (r >= 0 && rig_cuda)
		r = add_source(&pl, rig_cuda, p->gpu_cuda, 0644, ret_error);
	if (r >= 0 && rig_cudnn)
		r = add_source(&pl, rig_cudnn, p->gpu_cudnn, 0644, ret_error);
	if (r < 0)
		goto fail;

	if (!agent) {
		r = find_agent(&agent_found);
		if (r < 0)
			goto fail;
		agent = agent_found;
	}
	r = add_dirs_for(&pl, RIG_AGENT);
	if (r >= 0)
		r = add_copy(&pl, RIG_AGENT, agent, 0755, ret_error);
	if (r < 0) {
		if (r == -ENOENT)
			set_error(ret_error, r, "the first-boot agent %s is missing: run 'make' (it builds compat/mlrig-firstboot), or set MLRIG_AGENT", agent);
		goto fail;
	}
	pl.agent_path = strdup(agent);
	if (!pl.agent_path) {
		r = -ENOMEM;
		goto fail;
	}

	if (p->wheelhouse) {
		_cleanup_strv_free_ char **names = NULL;
		size_t n;

		r = list_dir(p->wheelhouse, &names, &n);
		if (r < 0) {
			set_error(ret_error, r, "cannot read [Python] Wheelhouse=%s: %s", p->wheelhouse, strerror(-r));
			goto fail;
		}
		r = add_dirs_for(&pl, RIG_WHEELHOUSE "/x");
		for (size_t i = 0; i < n && r >= 0; i++) {
			_cleanup_free_ char *src = NULL, *dst = NULL;

			if (asprintf(&src, "%s/%s", p->wheelhouse, names[i]) < 0 ||
			    asprintf(&dst, RIG_WHEELHOUSE "/%s", names[i]) < 0)
				r = -ENOMEM;
			else
				r = add_copy(&pl, dst, src, 0644, ret_error);
		}
		if (r < 0)
			goto fail;
	}

	r = payload_sort(&pl, ret_error);
	if (r >= 0)
		r = collect_units(p, &pl);
	if (r < 0)
		goto fail;
	*ret = pl;
	return 0;
fail:
	payload_release(&pl);
	return r;
}

void payload_release(struct payload *pl) {
	for (size_t i = 0; i < pl->n_files; i++) {
		free(pl->files[i].path);
		free(pl->files[i].data);
		free(pl->files[i].source);
	}
	free(pl->files);
	free((void *)pl->units);
	free(pl->agent_path);
	memset(pl, 0, sizeof(*pl));
}
