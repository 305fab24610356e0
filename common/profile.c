/* Profile parser: one table of sections and keys, each with a typed validator,
 * so every error can name file:line, the section, the key and what is allowed. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "profile-internal.h"

#define O(f) offsetof(Profile, f)
static const struct key_def keys[] = {
	{ "Rig", "Hostname", T_HOSTNAME, O(hostname), 0, true },
	{ "Rig", "User", T_USERNAME, O(user), 0, true },
	{ "Rig", "AuthorizedKeys", T_FILE, O(authorized_keys), 0, true },
	{ "Rig", "PasswordHash", T_PASSWORD_HASH, O(password_hash), 0, false },
	{ "Packages", "Install", T_LIST, O(install), 0, false },
	{ "Packages", "Debs", T_DIR, O(debs), 0, false },
	{ "Packages", "Debconf", T_FILE, O(debconf), 0, false },
	{ "Boot", "DualBoot", T_BOOL, O(dual_boot), 0, false },
	{ "Boot", "Default", T_BOOT_DEFAULT, O(boot_default), 0, false },
	{ "Boot", "Timeout", T_UINT32, O(timeout), 0, false },
	{ "Boot", "KernelCommandLine", T_CMDLINE, O(kernel_command_line), 0, false },
	{ "Boot", "EntryName", T_LABEL, O(boot_entry_name), 0, false },
	{ "SSH", "Port", T_PORT, O(ssh_port), 0, false },
	{ "SSH", "PasswordAuthentication", T_BOOL, O(password_authentication), 0, false },
	{ "SSH", "PermitRootLogin", T_BOOL, O(permit_root_login), 0, false },
	{ "SSH", "ClientAliveInterval", T_UINT32, O(client_alive_interval), 0, false },
	{ "WakeOnLan", "Enable", T_BOOL, O(wol_enable), 0, false },
	{ "WakeOnLan", "Interface", T_INTERFACE, O(wol_interface), 0, false },
	{ "WakeOnLan", "MAC", T_MAC, O(wol_mac), 0, false },
	{ "DDNS", "Provider", T_DDNS_PROVIDER, O(ddns_provider), 0, false },
	{ "DDNS", "Hostname", T_FQDN, O(ddns_hostname), 0, false },
	{ "DDNS", "Username", T_STRING, O(ddns_username), 0, false },
	{ "DDNS", "PasswordFile", T_SECRET_FILE, O(ddns_password_file), 0, false },
	{ "DDNS", "Server", T_SERVER_URL, O(ddns_server), 0, false },
	{ "DDNS", "Zone", T_ZONE, O(ddns_zone), 0, false },
	{ "DDNS", "CheckIP", T_CHECK_IP, O(ddns_check_ip), 0, false },
	{ "DDNS", "IPv6", T_BOOL, O(ddns_ipv6), 0, false },
	{ "DDNS", "Interval", T_MINUTES, O(ddns_interval), 0, false },
	{ "Router", "PortForward", T_PORT_FORWARD, O(port_forward), 0, false },
	{ "Router", "ExternalPort", T_PORT, O(external_port), 0, false },
	{ "Firewall", "Enable", T_BOOL, O(firewall_enable), 0, false },
	{ "GPU", "Driver", T_GPU_DRIVER, O(gpu_driver), 0, false },
	{ "GPU", "CUDA", T_GPU_CUDA, O(gpu_cuda), 0, false },
	{ "GPU", "CUDNN", T_GPU_CUDNN, O(gpu_cudnn), 0, false },
	{ "GPU", "BlacklistNouveau", T_BOOL, O(gpu_blacklist_nouveau), O(gpu_blacklist_nouveau_set), false },
	{ "GPU", "Sha256", T_SHA256_LIST, O(gpu_sha256), 0, false },
	{ "Python", "Venv", T_RIG_PATH, O(venv), 0, false },
	{ "Python", "Requirements", T_LIST, O(requirements), 0, false },
	{ "Python", "Wheelhouse", T_DIR, O(wheelhouse), 0, false },
	{ "Jupyter", "Port", T_PORT, O(jupyter_port), 0, false },
	{ "Jupyter", "Service", T_BOOL, O(jupyter_service), O(jupyter_service_set), false },
	{ "Jupyter", "App", T_JUPYTER_APP, O(jupyter_app), O(jupyter_app_set), false },
	{ "Image", "Size", T_SIZE, O(image_size), 0, false },
	{ "Image", "Seed", T_UUID, O(seed), O(seed_set), false },
	{ "Image", "SourceDateEpoch", T_EPOCH, O(source_date_epoch), O(source_date_epoch_set), false },
	{ "Install", "Disk", T_DEVICE, O(install_disk), 0, false },
	{ "Install", "Wipe", T_BOOL, O(install_wipe), 0, false },
};
#undef O

static void strv_free(char **l) {
	strv_freep(&l);
}

Profile *profile_free(Profile *p) {
	if (!p)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		void *field = (char *)p + keys[i].offset;

		switch (keys[i].type) {
		case T_LIST: case T_SHA256_LIST:
			strv_free(*(char ***)field);
			break;
		case T_BOOL: case T_PORT: case T_UINT32: case T_SIZE: case T_UUID: case T_EPOCH:
		case T_BOOT_DEFAULT: case T_DDNS_PROVIDER: case T_MINUTES: case T_PORT_FORWARD: case T_JUPYTER_APP:
			break;
		default:
			free(*(char **)field);
		}
	}
	free(p->path);
	free(p);
	return NULL;
}

int profile_fail(struct parser *ps, const struct key_def *k, const char *value, const char *fmt, ...) {
	va_list ap;

	va_start(ap, fmt);
	set_errorv(&ps->error, -EINVAL, fmt, ap);
	va_end(ap);
	if (k && value)
		return prefix_error(&ps->error, -EINVAL, "%s:%u: [%s] %s=%s", ps->path, ps->line, k->section, k->key, value);
	if (k)
		return prefix_error(&ps->error, -EINVAL, "%s: [%s] %s=", ps->path, k->section, k->key);
	if (ps->line > 0)
		return prefix_error(&ps->error, -EINVAL, "%s:%u", ps->path, ps->line);
	return prefix_error(&ps->error, -EINVAL, "%s", ps->path);
}

static bool section_known(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (strcmp(keys[i].section, name) == 0)
			return true;
	return false;
}

static char *keys_of(const char *section) {
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	bool first = true;

	if (!f)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (strcmp(keys[i].section, section) == 0) {
			fprintf(f, "%s%s", first ? "" : ", ", keys[i].key);
			first = false;
		}
	fclose(f);
	return s;
}

static char *section_names(void) {
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (i == 0 || strcmp(keys[i].section, keys[i - 1].section) != 0)
			fprintf(f, "%s[%s]", i ? ", " : "", keys[i].section);
	fclose(f);
	return s;
}

static void set_defaults(Profile *p) {
	p->boot_default = BOOT_DEFAULT_LINUX;
	p->timeout = 5;
	p->ssh_port = 22;
	p->client_alive_interval = 60;
	p->wol_enable = true;
	p->jupyter_port = 8888;
	p->ddns_provider = DDNS_NONE;
	p->ddns_interval = 5;
	p->firewall_enable = true;
}

/* A requirement's name: up to the first character a PEP 508 name cannot have. */
static bool requirement_is(const char *req, const char *package) {
	size_t n = strspn(req, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."), i = 0;
	const char *q = package;

	/* compare with '-', '_' and '.' runs as one '-', case ignored */
	while (i < n && *q) {
		if (strchr("-_.", req[i]) && strchr("-_.", *q)) {
			while (i < n && strchr("-_.", req[i]))
				i++;
			while (*q && strchr("-_.", *q))
				q++;
			continue;
		}
		if (tolower((unsigned char)req[i]) != tolower((unsigned char)*q))
			return false;
		i++, q++;
	}
	return i == n && !*q;
}

bool profile_requires(const Profile *p, const char *package) {
	for (char **r = p->requirements; r && *r; r++)
		if (requirement_is(*r, package))
			return true;
	return false;
}

int profile_rig_path(const Profile *p, const char *path, char **ret) {
	char *s = NULL;

	if (!string_has_prefix(path, "~/"))
		s = strdup(path);
	else if (asprintf(&s, "/home/%s/%s", p->user, path + 2) < 0)
		s = NULL;
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int fill_defaults(Profile *p) {
	bool lab = profile_requires(p, "jupyterlab"), notebook = profile_requires(p, "notebook") || profile_requires(p, "jupyter");

	if (!p->wol_interface && !(p->wol_interface = strdup("auto")))
		return -ENOMEM;
	if (!p->ddns_check_ip && !(p->ddns_check_ip = strdup(DDNS_DEFAULT_CHECK_IP)))
		return -ENOMEM;
	if (p->external_port == 0)
		p->external_port = p->ssh_port;
	/* a venv with Jupyter in it is what the service is for; the notebook when that is all there is */
	if (!p->jupyter_service_set)
		p->jupyter_service = lab || notebook;
	if (!p->jupyter_app_set)
		p->jupyter_app = notebook && !lab ? JUPYTER_APP_NOTEBOOK : JUPYTER_APP_LAB;
	/* nouveau holds the GPU the NVIDIA driver needs */
	if (!p->gpu_blacklist_nouveau_set)
		p->gpu_blacklist_nouveau = p->gpu_driver != NULL;
	return 0;
}

/* Checks that span keys: what a provider needs, what wiping needs. */
static int validate(struct parser *ps, Profile *p) {
	ps->line = 0;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (!keys[i].required)
			continue;
		if (!*(char **)((char *)p + keys[i].offset))
			return profile_fail(ps, &keys[i], NULL, "is required");
	}
	if (p->ddns_provider != DDNS_NONE) {
		const char *prov = ddns_provider_to_string(p->ddns_provider);

		if (!p->ddns_hostname)
			return profile_fail(ps, NULL, NULL, "[DDNS] Provider=%s needs Hostname=", prov);
		if (!p->ddns_password_file)
			return profile_fail(ps, NULL, NULL, "[DDNS] Provider=%s needs PasswordFile= (the password or token, in a file)", prov);
		if ((p->ddns_provider == DDNS_NOIP || p->ddns_provider == DDNS_DYNDNS2) && !p->ddns_username)
			return profile_fail(ps, NULL, NULL, "[DDNS] Provider=%s needs Username=", prov);
		if (p->ddns_provider == DDNS_DYNDNS2 && !p->ddns_server)
			return profile_fail(ps, NULL, NULL, "[DDNS] Provider=dyndns2 needs Server=");
		if (p->ddns_provider == DDNS_CLOUDFLARE && !p->ddns_zone)
			return profile_fail(ps, NULL, NULL, "[DDNS] Provider=cloudflare needs Zone= (the zone the record Hostname= is in)");
	}
	if (p->ddns_zone && p->ddns_provider != DDNS_CLOUDFLARE)
		return profile_fail(ps, NULL, NULL, "[DDNS] Zone= is for Provider=cloudflare only");
	if (p->install_wipe && !p->install_disk)
		return profile_fail(ps, NULL, NULL, "[Install] Wipe=yes needs Disk= (which disk to wipe)");
	if (p->gpu_cudnn && !p->gpu_cuda)
		return profile_fail(ps, NULL, NULL, "[GPU] CUDNN= needs CUDA=");
	if (p->gpu_cuda && !p->gpu_driver)
		return profile_fail(ps, NULL, NULL, "[GPU] CUDA= needs Driver= (nvidia-driver-NNN or auto)");
	if ((p->gpu_driver || (p->gpu_cudnn && !profile_cudnn_is_file(p)) ||
	     (p->gpu_cuda && !profile_cuda_is_file(p))) && !p->debs)
		return profile_fail(ps, NULL, NULL,
				    "[GPU] Driver=%s%s%s needs [Packages] Debs= (the directory holding the packages)",
				    p->gpu_driver, p->gpu_cuda && !profile_cuda_is_file(p) ? ", CUDA=" : "",
				    p->gpu_cuda && !profile_cuda_is_file(p) ? p->gpu_cuda : "");
	if (p->requirements && p->requirements[0] && !p->venv)
		return profile_fail(ps, NULL, NULL, "[Python] Requirements= needs Venv=");
	return 0;
}

/* What a profile file must be before any line is parsed: text. No NUL byte (it would end the
 * text early, silently), valid UTF-8, no control characters but tab (and CR before LF), and no
 * line longer than PROFILE_LINE_MAX: a binary or truncated-by-NUL file is refused, naming the line. */
#define PROFILE_LINE_MAX 4096
static int check_bytes(struct parser *ps, const char *text, size_t size) {
	const unsigned char *t = (const unsigned char *)text;
	size_t line_start = 0;

	ps->line = 1;
	for (size_t i = 0; i < size; i++) {
		unsigned char c = t[i];
		size_t len = 0;

		if (c == '\n') {
			ps->line++;
			line_start = i + 1;
			continue;
		}
		if (i - line_start >= PROFILE_LINE_MAX)
			return profile_fail(ps, NULL, NULL, "line longer than %d bytes", PROFILE_LINE_MAX);
		if (c == 0)
			return profile_fail(ps, NULL, NULL, "a NUL byte: not a text file");
		if (c == '\r' && i + 1 < size && t[i + 1] == '\n')
			continue;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return profile_fail(ps, NULL, NULL, "control character 0x%02x", c);
		if (c < 0x80)
			continue;
		/* UTF-8: the lead byte says how many continuation bytes; no overlong forms, no surrogates */
		if (c >= 0xc2 && c <= 0xdf)
			len = 1;
		else if (c >= 0xe0 && c <= 0xef)
			len = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 3;
		if (len == 0 || size - i <= len)
			return profile_fail(ps, NULL, NULL, "not valid UTF-8 (byte 0x%02x)", c);
		for (size_t j = 1; j <= len; j++)
			if ((t[i + j] & 0xc0) != 0x80)
				return profile_fail(ps, NULL, NULL, "not valid UTF-8 (byte 0x%02x)", c);
		if ((c == 0xe0 && t[i + 1] < 0xa0) || (c == 0xed && t[i + 1] >= 0xa0) || (c == 0xf0 && t[i + 1] < 0x90) ||
		    (c == 0xf4 && t[i + 1] >= 0x90))
			return profile_fail(ps, NULL, NULL, "not valid UTF-8 (byte 0x%02x)", c);
		i += len;
	}
	return 0;
}

static int parse_text(struct parser *ps, Profile *p, char *text, size_t size) {
	_cleanup_free_ char *section = NULL;
	char *line, *next;
	int r;

	r = check_bytes(ps, text, size);
	if (r < 0)
		return r;
	for (line = text, ps->line = 1; line; line = next, ps->line++) {
		char *eq, *key, *value;
		const struct key_def *k = NULL;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		line = string_strip(line);
		if (!*line || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[') {
			size_t n = strlen(line);

			if (line[n - 1] != ']')
				return profile_fail(ps, NULL, NULL, "'%s': a section header must end with ']'", line);
			line[n - 1] = 0;
			if (!section_known(line + 1)) {
				_cleanup_free_ char *l = section_names();
				return profile_fail(ps, NULL, NULL, "unknown section [%s] (known: %s)", line + 1, l ? l : "?");
			}
			free(section);
			section = strdup(line + 1);
			if (!section)
				return -ENOMEM;
			continue;
		}
		eq = strchr(line, '=');
		if (!eq)
			return profile_fail(ps, NULL, NULL, "'%s': expected Key=Value or [Section]", line);
		*eq = 0;
		key = string_strip(line);
		value = string_strip(eq + 1);
		if (!section)
			return profile_fail(ps, NULL, NULL, "%s= is outside any section", key);
		for (size_t i = 0; i < ELEMENTSOF(keys); i++)
			if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
				k = &keys[i];
		if (!k) {
			_cleanup_free_ char *l = keys_of(section);
			return profile_fail(ps, NULL, NULL, "[%s] %s=: unknown key (allowed: %s)", section, key, l ? l : "?");
		}
		r = profile_assign(ps, p, k, value);
		if (r < 0)
			return r;
	}
	return 0;
}

int profile_source_date_epoch(const Profile *p, uint64_t *ret) {
	const char *env = getenv("SOURCE_DATE_EPOCH");

	if (env)
		return safe_atou64(env, ret) < 0 ? -EINVAL : 0;
	*ret = p->source_date_epoch_set ? p->source_date_epoch : PROFILE_DEFAULT_EPOCH;
	return 0;
}

int profile_load(const char *path, Profile **ret, char **ret_error) {
	return profile_load_root(path, NULL, ret, ret_error);
}

int profile_load_root(const char *path, const char *root, Profile **ret, char **ret_error) {
	_cleanup_(profile_freep) Profile *p = NULL;
	_cleanup_free_ char *text = NULL;
	size_t size;
	struct parser ps = { .path = path, .root = root && strcmp(root, "/") != 0 ? root : NULL };
	int r;

	*ret_error = NULL;
	r = read_full_file(path, &text, &size);
	if (r < 0) {
		if (asprintf(ret_error, "%s: cannot read profile: %s", path, strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path)))
		return -ENOMEM;
	set_defaults(p);
	r = parse_text(&ps, p, text, size);
	if (r >= 0)
		r = validate(&ps, p);
	if (r >= 0)
		r = fill_defaults(p);
	if (r < 0) {
		*ret_error = ps.error;
		log_debug("profile %s rejected: %s", path, ps.error ? ps.error : "?");
		return r;
	}
	*ret = TAKE_PTR(p);
	return 0;
}

/* A list's words, as many to a line as fit in RENDER_LINE_MAX: each line appends, so lines
 * that added up past PROFILE_LINE_MAX (many Requirements= lines) render as several that load
 * again. One word alone came from a line of its own key, so it always fits. */
#define RENDER_LINE_MAX 1024
static void render_list(FILE *f, const char *key, char *const *l) {
	size_t line = strlen(key) + 1;

	for (char *const *w = l; w && *w; w++) {
		size_t n = strlen(*w);

		if (w != l && line + 1 + n > RENDER_LINE_MAX) {
			fprintf(f, "\n%s=", key);
			line = strlen(key) + 1;
		} else if (w != l) {
			fputc(' ', f);
			line++;
		}
		fputs(*w, f);
		line += n;
	}
}

static void render_value(FILE *f, const Profile *p, const struct key_def *k, const struct profile_paths *paths) {
	const void *field = (const char *)p + k->offset;
	const char *override = NULL;
	char u[37];

	if (paths) {
		if (k->offset == offsetof(Profile, authorized_keys))
			override = paths->authorized_keys;
		else if (k->offset == offsetof(Profile, ddns_password_file))
			override = paths->ddns_password_file;
		else if (k->offset == offsetof(Profile, wheelhouse))
			override = paths->wheelhouse;
		else if (k->offset == offsetof(Profile, gpu_cudnn) && profile_cudnn_is_file(p))
			override = paths->cudnn;
		else if (k->offset == offsetof(Profile, gpu_cuda) && profile_cuda_is_file(p))
			override = paths->cuda;
		else if (k->offset == offsetof(Profile, debs))
			override = paths->debs;
		else if (k->offset == offsetof(Profile, debconf))
			override = paths->debconf;
	}
	switch (k->type) {
	case T_BOOL: fputs(*(const bool *)field ? "yes" : "no", f); break;
	case T_PORT: case T_UINT32: fprintf(f, "%u", *(const uint32_t *)field); break;
	case T_SIZE: case T_EPOCH: fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)field); break;
	case T_UUID: uuid_format(field, u); fputs(u, f); break;
	case T_BOOT_DEFAULT: fputs(boot_default_to_string(*(const enum boot_default *)field), f); break;
	case T_DDNS_PROVIDER: fputs(ddns_provider_to_string(*(const enum ddns_provider *)field), f); break;
	case T_PORT_FORWARD: fputs(port_forward_to_string(*(const enum port_forward *)field), f); break;
	case T_MINUTES: fprintf(f, "%u", *(const uint32_t *)field); break;
	case T_JUPYTER_APP: fputs(jupyter_app_to_string(*(const enum jupyter_app *)field), f); break;
	case T_LIST: case T_SHA256_LIST:
		render_list(f, k->key, *(char *const *const *)field);
		break;
	case T_PASSWORD_HASH: fputs(*(char *const *)field ? *(char *const *)field : "locked", f); break;
	case T_FILE_OR_NONE: case T_STRING_OR_NONE: case T_GPU_DRIVER: case T_GPU_CUDA: case T_GPU_CUDNN:
		fputs(override ? override : *(char *const *)field ? *(char *const *)field : "none", f);
		break;
	default: fputs(override ? override : *(char *const *)field, f);
	}
}

static bool value_present(const Profile *p, const struct key_def *k) {
	const void *field = (const char *)p + k->offset;

	switch (k->type) {
	case T_HOSTNAME: case T_FQDN: case T_USERNAME: case T_STRING: case T_FILE: case T_SECRET_FILE:
	case T_DIR: case T_INTERFACE: case T_RIG_PATH: case T_DEVICE: case T_CMDLINE: case T_MAC:
	case T_SERVER_URL: case T_CHECK_IP: case T_ZONE: case T_LABEL:
		return *(char *const *)field != NULL;
	case T_LIST: case T_SHA256_LIST:
		return *(char *const *const *)field != NULL;
	case T_UUID:
		return p->seed_set;
	case T_EPOCH:
		return p->source_date_epoch_set;
	case T_SIZE:
		return *(const uint64_t *)field != 0;
	default:
		return true;
	}
}

int profile_render(const Profile *p, const struct profile_paths *paths, char **ret) {
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return -ENOMEM;
	fputs("# Written by mlrig from the rig profile: what mlrig-firstboot finalises.\n", f);
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (i == 0 || strcmp(keys[i].section, keys[i - 1].section) != 0)
			fprintf(f, "%s[%s]\n", i ? "\n" : "", keys[i].section);
		if (!value_present(p, &keys[i]))
			continue;
		fprintf(f, "%s=", keys[i].key);
		render_value(f, p, &keys[i], paths);
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret = text;
	return 0;
}
