/* The profile's value checks: each key type's syntax, and how its value is stored. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "fileio.h"
#include "parse-util.h"
#include "profile-internal.h"
#include "url-util.h"
#include "wol.h"

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

int profile_strv_extend_words(char ***l, const char *value) {
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

int profile_check_path(struct parser *ps, const struct key_def *k, const char *value, bool dir, char **ret) {
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
		return profile_fail(ps, k, value, "cannot use '%s': %s", full, strerror(errno));
	if (dir && !S_ISDIR(st.st_mode))
		return profile_fail(ps, k, value, "'%s' is not a directory", full);
	if (!dir && !S_ISREG(st.st_mode))
		return profile_fail(ps, k, value, "'%s' is not a regular file", full);
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
		return profile_fail(ps, k, value, "not a MAC: %s", reason ? reason : "?");
	wol_format_mac(mac, text);
	s = strdup(text);
	if (!s)
		return -ENOMEM;
	return set_string(field, s);
}

/* The types stored as the text written: 0 when value is acceptable. */
static int check_text(struct parser *ps, const struct key_def *k, const char *value) {
	_cleanup_free_ char *why = NULL;

	switch (k->type) {
	case T_HOSTNAME:
		if (!valid_label(value, strlen(value)))
			return profile_fail(ps, k, value, "not a valid host name (letters, digits and '-', at most 63)");
		return 0;
	case T_FQDN:
		return valid_fqdn(value) ? 0 : profile_fail(ps, k, value, "not a valid DNS name");
	case T_ZONE:
		return valid_fqdn(value) ? 0 : profile_fail(ps, k, value, "not a zone name (example.com) or zone id");
	case T_USERNAME:
		if (!profile_valid_username(value))
			return profile_fail(ps, k, value,
					    "not a valid user name (lower case letters, digits, '_' and '-', at most 32)");
		if (strcmp(value, "root") == 0)
			return profile_fail(ps, k, value, "the rig user must not be root");
		return 0;
	case T_STRING:
		if (strchr(value, ':')) /* [DDNS] Username=: "user:password" is what basic authentication sends */
			return profile_fail(ps, k, value, "must not contain ':' (HTTP authentication puts it between user name and password)");
		return *value ? 0 : profile_fail(ps, k, value, "must not be empty");
	case T_STRING_OR_NONE:
		return *value ? 0 : profile_fail(ps, k, value, "must not be empty (use 'none')");
	case T_PASSWORD_HASH:
		if (value[0] != '$' || strchr(value, ':') ||
		    strspn(value, "$./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=,-") != strlen(value))
			return profile_fail(ps, k, value,
					    "not a crypt(3) hash (make one with 'mkpasswd -m sha-512'), or 'locked'");
		return 0;
	case T_INTERFACE:
		if (strcmp(value, "auto") != 0 && !valid_mac(value) && (!*value || strlen(value) > 15 || strpbrk(value, "/ \t:")))
			return profile_fail(ps, k, value,
					    "not an interface (a name like enp3s0, a MAC like 00:11:22:33:44:55, or auto)");
		return 0;
	case T_RIG_PATH:
		if (value[0] != '/' && !string_has_prefix(value, "~/"))
			return profile_fail(ps, k, value,
					    "must be an absolute path on the rig or start with ~/ (the user's home)");
		if (strstr(value, "/../") || string_has_suffix(value, "/.."))
			return profile_fail(ps, k, value, "must not contain '..'");
		return 0;
	case T_CMDLINE:
		if (!*value)
			return profile_fail(ps, k, value, "must not be empty");
		if (strpbrk(value, "\"'`$\\"))
			return profile_fail(ps, k, value,
					    "must not contain quotes, '$', '`' or '\\' (it goes into /etc/default/grub.d)");
		return 0;
	case T_DEVICE:
		return string_has_prefix(value, "/dev/") ? 0 :
			profile_fail(ps, k, value, "must be a device path on the rig (/dev/...)");
	case T_CHECK_IP:
	case T_SERVER_URL:
		if (k->type == T_CHECK_IP && string_has_prefix(value, "interface:")) {
			const char *name = value + strlen("interface:");

			if (!*name || strlen(name) > 15 || strpbrk(name, "/ \t:"))
				return profile_fail(ps, k, value, "not an interface name after 'interface:'");
			return 0;
		}
		if (url_check(value, k->type == T_SERVER_URL ? URL_BASE : URL_FULL, &why) < 0)
			return profile_fail(ps, k, value, "%s", why ? why : "not a URL");
		return 0;
	case T_LABEL:
		/* the firmware stores it as UCS-2 and menus are narrow */
		if (!*value || strlen(value) > 64)
			return profile_fail(ps, k, value, "must be 1-64 characters");
		for (const char *c = value; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return profile_fail(ps, k, value, "must not contain control characters");
		return 0;
	default:
		return 0;
	}
}

/* The types stored as numbers; 1 when k's type is not one of them. */
static int assign_number(struct parser *ps, const struct key_def *k, const char *value, void *field) {
	uint64_t u64;
	uint32_t u32;
	int r;

	switch (k->type) {
	case T_BOOL:
		r = parse_boolean(value);
		if (r < 0)
			return profile_fail(ps, k, value, "not a boolean (yes, no)");
		*(bool *)field = r;
		return 0;
	case T_PORT:
		if (safe_atou32(value, &u32) < 0 || u32 == 0 || u32 > 65535)
			return profile_fail(ps, k, value, "not a port number (1-65535)");
		*(uint32_t *)field = u32;
		return 0;
	case T_UINT32:
	case T_MINUTES:
		if (safe_atou32(value, &u32) < 0 || (k->type == T_MINUTES && u32 == 0))
			return profile_fail(ps, k, value,
					    k->type == T_MINUTES ? "not a number of minutes (1 or more)" : "not a number");
		*(uint32_t *)field = u32;
		return 0;
	case T_SIZE:
		if (parse_size(value, &u64) < 0 || u64 == 0)
			return profile_fail(ps, k, value, "not a size (e.g. 4G, 512M)");
		*(uint64_t *)field = u64;
		return 0;
	case T_UUID:
		if (uuid_parse(value, field) < 0)
			return profile_fail(ps, k, value, "not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
		return 0;
	case T_EPOCH:
		if (safe_atou64(value, &u64) < 0 || u64 > UINT32_MAX)
			return profile_fail(ps, k, value, "not a time in seconds since 1970");
		*(uint64_t *)field = u64;
		return 0;
	default:
		return 1;
	}
}

/* The types that name one of a few words, stored as an enum. */
static const struct {
	enum key_type type;
	const char *const *names;
	size_t n;
	const char *what, *choices; /* choices: in the order a user would pick them */
} enums[] = {
	{ T_BOOT_DEFAULT, boot_default_names, ELEMENTSOF(boot_default_names), "default", "linux, windows, saved" },
	{ T_DDNS_PROVIDER, ddns_provider_names, ELEMENTSOF(ddns_provider_names), "provider",
	  "noip, dyndns2, duckdns, cloudflare, none" },
	{ T_PORT_FORWARD, port_forward_names, ELEMENTSOF(port_forward_names), "port mapping", "upnp, natpmp, no" },
	{ T_JUPYTER_APP, jupyter_app_names, ELEMENTSOF(jupyter_app_names), "app", "lab, notebook" },
};

/* 1 when k's type is not an enum. */
static int assign_enum(struct parser *ps, const struct key_def *k, const char *value, void *field) {
	for (size_t i = 0; i < ELEMENTSOF(enums); i++) {
		if (enums[i].type != k->type)
			continue;
		for (size_t j = 0; j < enums[i].n; j++)
			if (strcmp(enums[i].names[j], value) == 0) {
				*(int *)field = (int)j;
				return 0;
			}
		return profile_fail(ps, k, value, "unknown %s (%s)", enums[i].what, enums[i].choices);
	}
	return 1;
}

/* [Packages] Install= words: Debian package names (dpkg's rule: a lower-case letter or digit,
 * then letters, digits and "+-."), each with an optional :ARCH, =VERSION or /RELEASE as apt
 * takes them; never an option or a path that apt-get would read as one. */
static int check_package_names(struct parser *ps, const struct key_def *k, const char *value) {
	const char *p = value;

	while (*p) {
		size_t n = strcspn(p, " \t"), name = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789+-.");

		if (n == 0) {
			p++;
			continue;
		}
		if (name < 2 || name > n || !isalnum((unsigned char)p[0]) ||
		    (name < n && !strchr(":=/", p[name])) ||
		    strspn(p + name + (name < n), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-.~:") <
			    n - name - (name < n))
			return profile_fail(ps, k, value, "'%.*s' is not a Debian package name (lower-case letters, digits and '+-.', "
					    "optionally :ARCH, =VERSION or /RELEASE)", (int)MIN(n, (size_t)64), p);
		p += n;
	}
	return 0;
}

int profile_assign(struct parser *ps, Profile *p, const struct key_def *k, const char *value) {
	void *field = (char *)p + k->offset;
	char *s = NULL;
	int r;

	if (k->offset_set)
		*(bool *)((char *)p + k->offset_set) = true;

	switch (k->type) {
	case T_FILE_OR_NONE:
	case T_FILE:
	case T_SECRET_FILE:
	case T_DIR:
		if (k->type == T_FILE_OR_NONE && strcmp(value, "none") == 0)
			return set_string(field, NULL);
		r = profile_check_path(ps, k, value, k->type == T_DIR, &s);
		return r < 0 ? r : set_string(field, s);
	case T_STRING_OR_NONE:
		if (strcmp(value, "none") == 0)
			return set_string(field, NULL);
		break;
	case T_PASSWORD_HASH:
		if (strcmp(value, "locked") == 0 || strcmp(value, "!") == 0)
			return set_string(field, NULL);
		break;
	case T_LIST:
		if (!*value) { /* an empty assignment resets the list */
			strv_freep(field);
			*(char ***)field = NULL;
			return 0;
		}
		if (strcmp(k->section, "Packages") == 0) {
			r = check_package_names(ps, k, value);
			if (r < 0)
				return r;
		}
		return profile_strv_extend_words(field, value);
	case T_MAC:
		return assign_mac(ps, k, value, field);
	case T_GPU_DRIVER: case T_GPU_CUDA: case T_GPU_CUDNN: case T_SHA256_LIST:
		return profile_assign_gpu(ps, k, value, field);
	default:
		r = assign_number(ps, k, value, field);
		if (r <= 0)
			return r;
		r = assign_enum(ps, k, value, field);
		if (r <= 0)
			return r;
	}
	r = check_text(ps, k, value);
	if (r < 0)
		return r;
	s = strdup(value);
	if (!s)
		return -ENOMEM;
	return set_string(field, s);
}
