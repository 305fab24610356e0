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
#include "profile.h"
#include "url-util.h"
#include "wol.h"

enum key_type {
	T_HOSTNAME,     /* one DNS label */
	T_FQDN,         /* dotted DNS name */
	T_USERNAME,
	T_STRING,
	T_FILE,         /* path relative to the profile; must be a regular file */
	T_SECRET_FILE,  /* same, and holds a secret */
	T_DIR,
	T_FILE_OR_NONE, /* T_FILE, or "none" */
	T_STRING_OR_NONE,
	T_PASSWORD_HASH,
	T_BOOL,
	T_PORT,
	T_UINT32,
	T_SIZE,
	T_UUID,
	T_EPOCH,
	T_LIST,
	T_BOOT_DEFAULT,
	T_DDNS_PROVIDER,
	T_INTERFACE,
	T_RIG_PATH,     /* absolute path on the rig, or ~/... in the user's home */
	T_DEVICE,
	T_CMDLINE,      /* kernel arguments, also written into a shell-sourced GRUB file */
	T_SERVER_URL,   /* https://host[:port], or http:// to a loopback address */
	T_CHECK_IP,     /* a URL like T_SERVER_URL's with a path, or interface:NAME */
	T_ZONE,         /* a DNS name, or a 32-hex-digit zone id */
	T_MINUTES,      /* at least 1 */
	T_PORT_FORWARD,
	T_MAC,          /* a network card's MAC, stored as 52:54:00:12:34:56 */
	T_JUPYTER_APP,
	T_LABEL,        /* a name a firmware boot menu shows */
};

struct key_def {
	const char *section;
	const char *key;
	enum key_type type;
	size_t offset;
	size_t offset_set; /* for values with a separate "was set" flag, else 0 */
	bool required;
};

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
	{ "GPU", "Driver", T_STRING_OR_NONE, O(gpu_driver), 0, false },
	{ "GPU", "CUDA", T_STRING_OR_NONE, O(gpu_cuda), 0, false },
	{ "GPU", "CUDNN", T_FILE_OR_NONE, O(gpu_cudnn), 0, false },
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

static const char *const boot_default_names[] = {
	[BOOT_DEFAULT_LINUX] = "linux",
	[BOOT_DEFAULT_WINDOWS] = "windows",
	[BOOT_DEFAULT_SAVED] = "saved",
};

static const char *const ddns_provider_names[] = {
	[DDNS_NONE] = "none",
	[DDNS_NOIP] = "noip",
	[DDNS_DYNDNS2] = "dyndns2",
	[DDNS_DUCKDNS] = "duckdns",
	[DDNS_CLOUDFLARE] = "cloudflare",
};

static const char *const port_forward_names[] = {
	[PORT_FORWARD_NO] = "no",
	[PORT_FORWARD_UPNP] = "upnp",
	[PORT_FORWARD_NATPMP] = "natpmp",
};

const char *port_forward_to_string(enum port_forward f) {
	return port_forward_names[f];
}

static const char *const jupyter_app_names[] = {
	[JUPYTER_APP_LAB] = "lab",
	[JUPYTER_APP_NOTEBOOK] = "notebook",
};

const char *jupyter_app_to_string(enum jupyter_app a) {
	return jupyter_app_names[a];
}

const char *boot_default_to_string(enum boot_default d) {
	return boot_default_names[d];
}

const char *ddns_provider_to_string(enum ddns_provider p) {
	return ddns_provider_names[p];
}

static void strv_free(char **l) {
	strv_freep(&l);
}

Profile *profile_free(Profile *p) {
	if (!p)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		void *field = (char *)p + keys[i].offset;

		switch (keys[i].type) {
		case T_LIST:
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

/* The parser state: where we are, for messages. */
struct parser {
	const char *path;
	const char *root; /* absolute paths in the profile are inside this tree (the agent's --root) */
	unsigned line;
	char *error;
};

static int fail(struct parser *ps, const struct key_def *k, const char *value, const char *fmt, ...)
	_printf_(4, 5);

static int fail(struct parser *ps, const struct key_def *k, const char *value, const char *fmt, ...) {
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

static bool valid_label(const char *s, size_t n) {
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool valid_fqdn(const char *s) {
	if (strlen(s) > 253)
		return false;
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);

		if (!valid_label(s, n))
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

bool profile_valid_username(const char *s) {
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool valid_mac(const char *s) {
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static int parse_enum(const char *const *names, size_t n, const char *value) {
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], value) == 0)
			return (int)i;
	return -EINVAL;
}

static char *enum_list(const char *const *names, size_t n) {
	return strv_join((char *const *)names, n, ", ");
}

static int strv_extend_words(char ***l, const char *value) {
	size_t n = 0;
	char **list = *l;
	const char *p = value;

	while (list && list[n])
		n++;
	for (;;) {
		size_t len;
		char **nl;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t");
		nl = realloc(list, (n + 2) * sizeof(char *));
		if (!nl)
			return -ENOMEM;
		list = nl;
		list[n] = strndup(p, len);
		if (!list[n])
			return -ENOMEM;
		list[++n] = NULL;
		*l = list;
		p += len;
	}
	if (!list) {
		list = calloc(1, sizeof(char *));
		if (!list)
			return -ENOMEM;
		*l = list;
	}
	return 0;
}

static int check_path(struct parser *ps, const struct key_def *k, const char *value, bool dir, char **ret) {
	_cleanup_free_ char *full = NULL;
	struct stat st;
	int r;

	if (ps->root && value[0] == '/')
		r = asprintf(&full, "%s%s", ps->root, value) < 0 ? -ENOMEM : 0;
	else
		r = path_join_relative(ps->path, value, &full);
	if (r < 0)
		return r;
	if (stat(full, &st) < 0)
		return fail(ps, k, value, "cannot use '%s': %s", full, strerror(errno));
	if (dir && !S_ISDIR(st.st_mode))
		return fail(ps, k, value, "'%s' is not a directory", full);
	if (!dir && !S_ISREG(st.st_mode))
		return fail(ps, k, value, "'%s' is not a regular file", full);
	*ret = TAKE_PTR(full);
	return 0;
}

static int set_string(void *field, char *s) {
	free(*(char **)field);
	*(char **)field = s;
	return 0;
}

/* Stored as mlrig writes MACs, whichever way the profile wrote it. */
static int assign_mac(struct parser *ps, const struct key_def *k, const char *value, void *field) {
	_cleanup_free_ char *reason = NULL;
	uint8_t mac[WOL_MAC_SIZE];
	char text[18], *s;

	if (wol_parse_mac(value, mac, &reason, NULL) < 0)
		return fail(ps, k, value, "not a MAC: %s", reason ? reason : "?");
	wol_format_mac(mac, text);
	s = strdup(text);
	if (!s)
		return -ENOMEM;
	return set_string(field, s);
}

static int assign(struct parser *ps, Profile *p, const struct key_def *k, const char *value) {
	void *field = (char *)p + k->offset;
	uint64_t u64;
	uint32_t u32;
	char *s = NULL;
	int r;

	if (k->offset_set)
		*(bool *)((char *)p + k->offset_set) = true;

	switch (k->type) {
	case T_HOSTNAME:
		if (!valid_label(value, strlen(value)))
			return fail(ps, k, value, "not a valid host name (letters, digits and '-', at most 63)");
		break;
	case T_FQDN:
		if (!valid_fqdn(value))
			return fail(ps, k, value, "not a valid DNS name");
		break;
	case T_USERNAME:
		if (!profile_valid_username(value))
			return fail(ps, k, value, "not a valid user name (lower case letters, digits, '_' and '-', at most 32)");
		if (strcmp(value, "root") == 0)
			return fail(ps, k, value, "the rig user must not be root");
		break;
	case T_STRING:
		if (!*value)
			return fail(ps, k, value, "must not be empty");
		break;
	case T_FILE:
	case T_SECRET_FILE:
		r = check_path(ps, k, value, false, &s);
		if (r < 0)
			return r;
		return set_string(field, s);
	case T_FILE_OR_NONE:
		if (strcmp(value, "none") == 0)
			return set_string(field, NULL);
		r = check_path(ps, k, value, false, &s);
		if (r < 0)
			return r;
		return set_string(field, s);
	case T_DIR:
		r = check_path(ps, k, value, true, &s);
		if (r < 0)
			return r;
		return set_string(field, s);
	case T_STRING_OR_NONE:
		if (!*value)
			return fail(ps, k, value, "must not be empty (use 'none')");
		if (strcmp(value, "none") == 0)
			return set_string(field, NULL);
		break;
	case T_PASSWORD_HASH:
		if (strcmp(value, "locked") == 0 || strcmp(value, "!") == 0)
			return set_string(field, NULL);
		if (value[0] != '$' || strchr(value, ':') || strspn(value, "$./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=,-") != strlen(value))
			return fail(ps, k, value, "not a crypt(3) hash (make one with 'mkpasswd -m sha-512'), or 'locked'");
		break;
	case T_BOOL:
		r = parse_boolean(value);
		if (r < 0)
			return fail(ps, k, value, "not a boolean (yes, no)");
		*(bool *)field = r;
		return 0;
	case T_PORT:
		if (safe_atou32(value, &u32) < 0 || u32 == 0 || u32 > 65535)
			return fail(ps, k, value, "not a port number (1-65535)");
		*(uint32_t *)field = u32;
		return 0;
	case T_UINT32:
		if (safe_atou32(value, &u32) < 0)
			return fail(ps, k, value, "not a number");
		*(uint32_t *)field = u32;
		return 0;
	case T_SIZE:
		if (parse_size(value, &u64) < 0 || u64 == 0)
			return fail(ps, k, value, "not a size (e.g. 4G, 512M)");
		*(uint64_t *)field = u64;
		return 0;
	case T_UUID:
		if (uuid_parse(value, field) < 0)
			return fail(ps, k, value, "not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
		return 0;
	case T_EPOCH:
		if (safe_atou64(value, &u64) < 0 || u64 > UINT32_MAX)
			return fail(ps, k, value, "not a time in seconds since 1970");
		*(uint64_t *)field = u64;
		return 0;
	case T_LIST:
		if (!*value) { /* an empty assignment resets the list */
			strv_free(*(char ***)field);
			*(char ***)field = NULL;
			return 0;
		}
		return strv_extend_words(field, value);
	case T_BOOT_DEFAULT:
		r = parse_enum(boot_default_names, ELEMENTSOF(boot_default_names), value);
		if (r < 0) {
			_cleanup_free_ char *l = enum_list(boot_default_names, ELEMENTSOF(boot_default_names));
			return fail(ps, k, value, "unknown default (%s)", l ? l : "?");
		}
		*(enum boot_default *)field = r;
		return 0;
	case T_DDNS_PROVIDER:
		r = parse_enum(ddns_provider_names, ELEMENTSOF(ddns_provider_names), value);
		if (r < 0)
			return fail(ps, k, value, "unknown provider (noip, dyndns2, duckdns, cloudflare, none)");
		*(enum ddns_provider *)field = r;
		return 0;
	case T_INTERFACE:
		if (strcmp(value, "auto") != 0 && !valid_mac(value) &&
		    (!*value || strlen(value) > 15 || strpbrk(value, "/ \t:")))
			return fail(ps, k, value, "not an interface (a name like enp3s0, a MAC like 00:11:22:33:44:55, or auto)");
		break;
	case T_RIG_PATH:
		if (value[0] != '/' && !string_has_prefix(value, "~/"))
			return fail(ps, k, value, "must be an absolute path on the rig or start with ~/ (the user's home)");
		if (strstr(value, "/../") || string_has_suffix(value, "/.."))
			return fail(ps, k, value, "must not contain '..'");
		break;
	case T_CMDLINE:
		if (!*value)
			return fail(ps, k, value, "must not be empty");
		if (strpbrk(value, "\"'`$\\"))
			return fail(ps, k, value, "must not contain quotes, '$', '`' or '\\' (it goes into /etc/default/grub.d)");
		break;
	case T_DEVICE:
		if (!string_has_prefix(value, "/dev/"))
			return fail(ps, k, value, "must be a device path on the rig (/dev/...)");
		break;
	case T_SERVER_URL:
	case T_CHECK_IP:
		if (k->type == T_CHECK_IP && string_has_prefix(value, "interface:")) {
			const char *name = value + strlen("interface:");
			if (!*name || strlen(name) > 15 || strpbrk(name, "/ \t:"))
				return fail(ps, k, value, "not an interface name after 'interface:'");
			break;
		}
		r = url_check(value, k->type == T_SERVER_URL ? URL_BASE : URL_FULL, &s);
		if (r < 0) {
			_cleanup_free_ char *why = s;
			return fail(ps, k, value, "%s", why ? why : "not a URL");
		}
		break;
	case T_ZONE:
		if (!valid_fqdn(value))
			return fail(ps, k, value, "not a zone name (example.com) or zone id");
		break;
	case T_MINUTES:
		if (safe_atou32(value, &u32) < 0 || u32 == 0)
			return fail(ps, k, value, "not a number of minutes (1 or more)");
		*(uint32_t *)field = u32;
		return 0;
	case T_PORT_FORWARD:
		r = parse_enum(port_forward_names, ELEMENTSOF(port_forward_names), value);
		if (r < 0)
			return fail(ps, k, value, "unknown port mapping (upnp, natpmp, no)");
		*(enum port_forward *)field = r;
		return 0;
	case T_MAC:
		return assign_mac(ps, k, value, field);
	case T_JUPYTER_APP:
		r = parse_enum(jupyter_app_names, ELEMENTSOF(jupyter_app_names), value);
		if (r < 0)
			return fail(ps, k, value, "unknown app (lab, notebook)");
		*(enum jupyter_app *)field = r;
		return 0;
	case T_LABEL:
		/* the firmware stores it as UCS-2 and menus are narrow */
		if (!*value || strlen(value) > 64)
			return fail(ps, k, value, "must be 1-64 characters");
		for (const char *c = value; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return fail(ps, k, value, "must not contain control characters");
		break;
	}
	s = strdup(value);
	if (!s)
		return -ENOMEM;
	return set_string(field, s);
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
	return 0;
}

/* Checks that span keys: what a provider needs, what wiping needs. */
static int validate(struct parser *ps, Profile *p) {
	ps->line = 0;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (!keys[i].required)
			continue;
		if (!*(char **)((char *)p + keys[i].offset))
			return fail(ps, &keys[i], NULL, "is required");
	}
	if (p->ddns_provider != DDNS_NONE) {
		const char *prov = ddns_provider_to_string(p->ddns_provider);

		if (!p->ddns_hostname)
			return fail(ps, NULL, NULL, "[DDNS] Provider=%s needs Hostname=", prov);
		if (!p->ddns_password_file)
			return fail(ps, NULL, NULL, "[DDNS] Provider=%s needs PasswordFile= (the password or token, in a file)", prov);
		if ((p->ddns_provider == DDNS_NOIP || p->ddns_provider == DDNS_DYNDNS2) && !p->ddns_username)
			return fail(ps, NULL, NULL, "[DDNS] Provider=%s needs Username=", prov);
		if (p->ddns_provider == DDNS_DYNDNS2 && !p->ddns_server)
			return fail(ps, NULL, NULL, "[DDNS] Provider=dyndns2 needs Server=");
		if (p->ddns_provider == DDNS_CLOUDFLARE && !p->ddns_zone)
			return fail(ps, NULL, NULL, "[DDNS] Provider=cloudflare needs Zone= (the zone the record Hostname= is in)");
	}
	if (p->ddns_zone && p->ddns_provider != DDNS_CLOUDFLARE)
		return fail(ps, NULL, NULL, "[DDNS] Zone= is for Provider=cloudflare only");
	if (p->install_wipe && !p->install_disk)
		return fail(ps, NULL, NULL, "[Install] Wipe=yes needs Disk= (which disk to wipe)");
	if (p->gpu_cudnn && !p->gpu_cuda)
		return fail(ps, NULL, NULL, "[GPU] CUDNN= needs CUDA=");
	if (p->requirements && p->requirements[0] && !p->venv)
		return fail(ps, NULL, NULL, "[Python] Requirements= needs Venv=");
	return 0;
}

static int parse_text(struct parser *ps, Profile *p, char *text) {
	_cleanup_free_ char *section = NULL;
	char *line, *next;
	int r;

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
				return fail(ps, NULL, NULL, "'%s': a section header must end with ']'", line);
			line[n - 1] = 0;
			if (!section_known(line + 1)) {
				_cleanup_free_ char *l = section_names();
				return fail(ps, NULL, NULL, "unknown section [%s] (known: %s)", line + 1, l ? l : "?");
			}
			free(section);
			section = strdup(line + 1);
			if (!section)
				return -ENOMEM;
			continue;
		}
		eq = strchr(line, '=');
		if (!eq)
			return fail(ps, NULL, NULL, "'%s': expected Key=Value or [Section]", line);
		*eq = 0;
		key = string_strip(line);
		value = string_strip(eq + 1);
		if (!section)
			return fail(ps, NULL, NULL, "%s= is outside any section", key);
		for (size_t i = 0; i < ELEMENTSOF(keys); i++)
			if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
				k = &keys[i];
		if (!k) {
			_cleanup_free_ char *l = keys_of(section);
			return fail(ps, NULL, NULL, "[%s] %s=: unknown key (allowed: %s)", section, key, l ? l : "?");
		}
		r = assign(ps, p, k, value);
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
	struct parser ps = { .path = path, .root = root && strcmp(root, "/") != 0 ? root : NULL };
	int r;

	*ret_error = NULL;
	r = read_full_file(path, &text, NULL);
	if (r < 0) {
		if (asprintf(ret_error, "%s: cannot read profile: %s", path, strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path)))
		return -ENOMEM;
	set_defaults(p);
	r = parse_text(&ps, p, text);
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
		else if (k->offset == offsetof(Profile, gpu_cudnn))
			override = paths->cudnn;
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
	case T_LIST:
		for (char *const *l = *(char *const *const *)field; l && *l; l++)
			fprintf(f, "%s%s", l == *(char *const *const *)field ? "" : " ", *l);
		break;
	case T_PASSWORD_HASH: fputs(*(char *const *)field ? *(char *const *)field : "locked", f); break;
	case T_FILE_OR_NONE: case T_STRING_OR_NONE:
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
	case T_LIST:
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
