/* mlrig client: the laptop's side of the rig: an ssh config entry with the Jupyter tunnel, and shell shortcuts. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fileio.h"
#include "fs-util.h"
#include "jupyter.h"
#include "log.h"
#include "macro.h"
#include "managed-block.h"
#include "parse-util.h"
#include "payload.h"
#include "template.h"
#include "verbs.h"
#include "wol.h"

static const char *arg_profile;
static const char *arg_address;
static const char *arg_identity;
static uint32_t arg_port;
static bool arg_install;

static void help(void) {
	printf("Usage:\n"
	       " mlrig client -p PROFILE [--install] [--address HOST] [--port PORT] [--identity FILE]\n"
	       "\n"
	       "Print the ssh config entry for the rig: its name as the alias, the DDNS name,\n"
	       "port, user and key, Jupyter's port forwarded to the rig's 127.0.0.1, keep-alives.\n"
	       "With --install, write it into ~/.ssh/config and add shell shortcuts for bash and\n"
	       "zsh (tunnel, wake, SSHFS mount, Jupyter URL), each in a marked block of its own;\n"
	       "a second run changes nothing, and lines outside the blocks are kept.\n"
	       "\n"
	       "Options:\n"
	       " -p, --profile FILE   rig profile (see mlrig-profile(5))\n"
	       "     --install        write the files instead of printing the entry\n"
	       "     --address HOST   reach the rig at HOST (default: [DDNS] Hostname=)\n"
	       "     --port PORT      its ssh port there (default: [SSH] Port=)\n"
	       "     --identity FILE  the private key (default: the one in ~/.ssh, or next to\n"
	       "                      [Rig] AuthorizedKeys=, whose public half the rig has)\n"
	       " -h, --help           display this help\n");
}

/* A host name or an address: what ssh's HostName and a shell word can hold unquoted. */
static bool valid_address(const char *s) {
	return *s && *s != '-' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.:-_") == strlen(s);
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_INSTALL = 0x100, ARG_ADDRESS, ARG_PORT, ARG_IDENTITY };
	static const struct option options[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "install", no_argument, NULL, ARG_INSTALL },
		{ "address", required_argument, NULL, ARG_ADDRESS },
		{ "port", required_argument, NULL, ARG_PORT },
		{ "identity", required_argument, NULL, ARG_IDENTITY },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, r;

	arg_profile = arg_address = arg_identity = NULL;
	arg_port = 0;
	arg_install = false;
	while ((c = getopt_long(argc, argv, ":p:h", options, NULL)) >= 0)
		switch (c) {
		case 'p': arg_profile = optarg; break;
		case ARG_INSTALL: arg_install = true; break;
		case ARG_ADDRESS:
			if (!valid_address(optarg))
				return cli_usage_error("client", "--address '%s': expected a host name or an IP address", optarg);
			arg_address = optarg;
			break;
		case ARG_PORT:
			if (safe_atou32(optarg, &arg_port) < 0 || arg_port == 0 || arg_port > 65535)
				return cli_usage_error("client", "--port '%s': expected a port number, 1-65535", optarg);
			break;
		case ARG_IDENTITY: arg_identity = optarg; break;
		case 'h': help(); return 0;
		default: return cli_option_error("client", c, argv);
		}
	r = cli_positional("client", argc, argv, NULL, 0, 0);
	if (r < 0)
		return r;
	if (!arg_profile)
		return cli_usage_error("client", "needs -p PROFILE");
	return 1;
}

/* A path that goes between double quotes in a shell file and in ssh's config. */
static bool quotable(const char *s) {
	return !strpbrk(s, "\"$`\\\n");
}

/* The key type and blob of a .pub file's first line: "ssh-ed25519 AAAA...". */
static char *public_key_of(const char *pub_path) {
	_cleanup_free_ char *text = NULL;
	char *l;
	size_t type, gap, blob;

	if (read_full_file(pub_path, &text, NULL) < 0)
		return NULL;
	l = string_strip(text);
	type = strcspn(l, " \t\n");
	gap = strspn(l + type, " \t");
	blob = strcspn(l + type + gap, " \t\n");
	if (type == 0 || blob == 0)
		return NULL;
	return strndup(l, type + gap + blob);
}

/* The private key whose public half is in [Rig] AuthorizedKeys=: --identity, the
 * file beside the .pub, or one of ssh's default keys. */
static int find_identity(const Profile *p, const char *home, char **ret) {
	static const char *const defaults[] = { "id_ed25519", "id_ecdsa", "id_ed25519_sk", "id_ecdsa_sk", "id_rsa" };
	_cleanup_free_ char *keys = NULL, *beside = NULL;
	char real[PATH_MAX];
	int r;

	if (arg_identity) {
		if (!realpath(arg_identity, real))
			return cli_input_error_errno(negative_errno(), "--identity '%s': %m", arg_identity);
		goto found;
	}
	r = read_full_file(p->authorized_keys, &keys, NULL);
	if (r < 0)
		return cli_input_error_errno(r, "Cannot read [Rig] AuthorizedKeys=%s: %m", p->authorized_keys);
	if (string_has_suffix(p->authorized_keys, ".pub") &&
	    !(beside = strndup(p->authorized_keys, strlen(p->authorized_keys) - 4)))
		return log_oom();
	for (size_t i = 0; i <= ELEMENTSOF(defaults); i++) {
		_cleanup_free_ char *key = NULL, *pub = NULL, *blob = NULL;

		if (i == ELEMENTSOF(defaults) ? !beside || !(key = strdup(beside))
					      : asprintf(&key, "%s/.ssh/%s", home, defaults[i]) < 0)
			continue;
		if (asprintf(&pub, "%s.pub", key) < 0)
			return log_oom();
		blob = public_key_of(pub);
		if (blob && strstr(keys, blob) && realpath(key, real))
			goto found;
	}
	return cli_input_error("No private key found whose public half is in [Rig] AuthorizedKeys=%s (looked beside it and in "
			       "%s/.ssh): give --identity FILE", p->authorized_keys, home);
found:
	if (!quotable(real))
		return cli_input_error("The key path '%s' holds a quote, '$', '`' or '\\', which ssh's config cannot hold", real);
	*ret = strdup(real);
	return *ret ? 0 : log_oom();
}

/* ssh expands %-tokens in IdentityFile; a literal '%' is "%%". */
static char *ssh_escape_percent(const char *s) {
	size_t n = 0;
	char *out = malloc(2 * strlen(s) + 1);

	if (!out)
		return NULL;
	for (const char *c = s; *c; c++) {
		out[n++] = *c;
		if (*c == '%')
			out[n++] = '%';
	}
	out[n] = 0;
	return out;
}

/* Where a new block goes in ~/.ssh/config: before the first Host or Match line, since
 * ssh takes the first value it finds and a "Host *" there must not override ours,
 * and after the global lines at the top, which must stay global; before another
 * rig's block, never inside it. */
static size_t ssh_config_insert_at(const char *text) {
	for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		const char *w = l + strspn(l, " \t");
		size_t n = strcspn(w, " \t=\n");

		if ((n == 4 && strncasecmp(w, "host", 4) == 0) || (n == 5 && strncasecmp(w, "match", 5) == 0) ||
		    string_has_prefix(l, "# >>> mlrig "))
			return (size_t)(l - text);
	}
	return strlen(text);
}

/* Writes text to path (following a symlink, as dotfile managers make) unless it is
 * there already. Returns 1 written, 0 unchanged. */
static int write_if_changed(const char *path, const char *text, mode_t new_mode) {
	_cleanup_free_ char *old = NULL;
	char real[PATH_MAX];
	const char *target = realpath(path, real) ? real : path;
	struct stat st;
	int r;

	r = read_full_file(target, &old, NULL);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "Failed to read '%s': %m", target);
	if (old && strcmp(old, text) == 0)
		return 0;
	r = write_file_atomic(target, text, strlen(text), stat(target, &st) == 0 ? st.st_mode & 07777 : new_mode);
	if (r < 0)
		return log_error_errno(r, "Failed to write '%s': %m", target);
	return 1;
}

/* Puts body in the file's block NAME: replaced in place, or added (where
 * insert_at says, or at the end). Returns 1 written, 0 unchanged. */
static int update_block(const char *path, const char *name, const char *body, mode_t new_mode,
			size_t (*insert_at)(const char *text)) {
	_cleanup_free_ char *old = NULL, *head = NULL, *text = NULL, *marker = NULL;
	char real[PATH_MAX];
	const char *target = realpath(path, real) ? real : path;
	int r;

	r = read_full_file(target, &old, NULL);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "Failed to read '%s': %m", target);
	if (asprintf(&marker, "# >>> %s >>>\n", name) < 0)
		return log_oom();
	if (old && insert_at && !strstr(old, marker)) {
		size_t at = insert_at(old);

		if (!(head = strndup(old, at)))
			return log_oom();
		r = managed_block_named(head, "#", name, body, &text);
		if (r >= 0 && at < strlen(old)) {
			char *joined;

			r = asprintf(&joined, "%s%s", text, old + at) < 0 ? -ENOMEM : 0;
			free(text);
			text = r >= 0 ? joined : NULL;
		}
	} else
		r = managed_block_named(old, "#", name, body, &text);
	if (r < 0)
		return log_oom();
	return write_if_changed(target, text, new_mode);
}

struct client_texts {
	char *ssh_block, *shortcuts, *shellrc;
	char *client_dir, *shortcuts_path;
	char *fn; /* the shortcuts' prefix */
};

static void client_texts_release(struct client_texts *t) {
	free(t->ssh_block);
	free(t->shortcuts);
	free(t->shellrc);
	free(t->client_dir);
	free(t->shortcuts_path);
	free(t->fn);
}

static int render(const char *name, const struct template_var *vars, size_t n, char **ret) {
	_cleanup_free_ char *datadir = NULL, *path = NULL, *text = NULL, *error = NULL;
	int r;

	r = find_datadir(&datadir);
	if (r < 0)
		return log_error_errno(r, "Cannot find mlrig's data files (overlays/): %m");
	if (asprintf(&path, "%s/overlays/laptop/%s", datadir, name) < 0)
		return log_oom();
	r = read_full_file(path, &text, NULL);
	if (r < 0)
		return log_error_errno(r, "Failed to read the template '%s': %m", path);
	r = template_render(path, text, vars, (unsigned)n, ret, &error);
	if (r < 0)
		return log_error_errno(r, "%s", error ? error : "Failed to render a template");
	return 0;
}

/* Renders the three laptop texts from the profile. 0, or an exit status / -errno already said. */
static int make_texts(const Profile *p, const char *home, struct client_texts *t) {
	_cleanup_free_ char *identity = NULL, *identity_ssh = NULL, *port = NULL, *jport = NULL, *mount_dir = NULL,
			     *wake_args = NULL, *profile = NULL;
	const char *address = arg_address ? arg_address : p->ddns_hostname;
	char real[PATH_MAX];
	int r;

	if (!address) {
		address = p->hostname;
		log_warning("%s has no [DDNS] Hostname=: HostName is the rig's host name %s, which resolves on its own "
			    "network at best; give --address", p->path, address);
	}
	r = find_identity(p, home, &identity);
	if (r != 0)
		return r;
	r = verb_client_dir(p->hostname, &t->client_dir);
	if (r < 0)
		return log_error_errno(r, "Cannot find the home directory: %m");
	if (!(identity_ssh = ssh_escape_percent(identity)) || !(t->fn = verb_shortcut_prefix(p->hostname)) ||
	    asprintf(&port, "%u", arg_port ? arg_port : p->ssh_port) < 0 || asprintf(&jport, "%u", p->jupyter_port) < 0 ||
	    asprintf(&mount_dir, "%s/rigs/%s", home, p->hostname) < 0 ||
	    asprintf(&t->shortcuts_path, "%s/shortcuts.sh", t->client_dir) < 0 ||
	    asprintf(&wake_args, "%s%s", p->ddns_hostname || arg_address ? "--host " : "",
		     p->ddns_hostname || arg_address ? address : "") < 0 ||
	    !(profile = strdup(realpath(p->path, real) ? real : p->path)))
		return log_oom();
	if (!quotable(t->client_dir) || !quotable(mount_dir))
		return cli_input_error("The home directory '%s' holds a quote, '$', '`' or '\\', which the shortcuts cannot hold",
				       home);
	if (strchr(profile, '\n'))
		return cli_input_error("The profile's path holds a newline, which the files' comments cannot hold");
	const struct template_var vars[] = {
		{ "RIG", p->hostname },
		{ "FN", t->fn },
		{ "PROFILE", profile },
		{ "ADDRESS", address },
		{ "SSH_PORT", port },
		{ "USER", p->user },
		{ "IDENTITY", identity_ssh },
		{ "JUPYTER_PORT", jport },
		{ "JUPYTER_PAGE", jupyter_page(p) },
		{ "TOKEN_FILE", JUPYTER_TOKEN_FILE },
		{ "MOUNT_DIR", mount_dir },
		{ "CLIENT_DIR", t->client_dir },
		{ "CLIENT_MAC_FILE", CLIENT_WOL_MAC_FILE },
		{ "RIG_MAC_FILE", WOL_RIG_MAC_FILE },
		{ "MAC", p->wol_mac ? p->wol_mac : "" },
		{ "WAKE_ARGS", wake_args },
		{ "SHORTCUTS", t->shortcuts_path },
	};
	r = render("ssh_config.in", vars, ELEMENTSOF(vars), &t->ssh_block);
	if (r >= 0)
		r = render("shortcuts.sh.in", vars, ELEMENTSOF(vars), &t->shortcuts);
	if (r >= 0)
		r = render("shellrc.in", vars, ELEMENTSOF(vars), &t->shellrc);
	return r;
}

static void say_file(const char *path, int changed) {
	printf("%s: %s\n", path, changed ? "written" : "unchanged");
}

static int install(const Profile *p, const char *home, const struct client_texts *t) {
	_cleanup_free_ char *ssh_dir = NULL, *config = NULL, *bashrc = NULL, *zshrc = NULL, *block = NULL;
	int r;

	if (asprintf(&ssh_dir, "%s/.ssh", home) < 0 || asprintf(&config, "%s/config", ssh_dir) < 0 ||
	    asprintf(&bashrc, "%s/.bashrc", home) < 0 || asprintf(&zshrc, "%s/.zshrc", home) < 0 ||
	    asprintf(&block, "mlrig %s", p->hostname) < 0)
		return log_oom();
	/* ssh refuses a config others may write, and keys in a directory they may read */
	if (mkdir(ssh_dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(negative_errno(), "Failed to create '%s': %m", ssh_dir);
	r = update_block(config, block, t->ssh_block, 0600, ssh_config_insert_at);
	if (r < 0)
		return r;
	say_file(config, r);
	r = mkdir_p(t->client_dir, 0700);
	if (r < 0)
		return log_error_errno(r, "Failed to create '%s': %m", t->client_dir);
	r = write_if_changed(t->shortcuts_path, t->shortcuts, 0644);
	if (r < 0)
		return r;
	say_file(t->shortcuts_path, r);
	for (const char *rc = bashrc; rc; rc = rc == bashrc ? zshrc : NULL) {
		r = update_block(rc, block, t->shellrc, 0644, NULL);
		if (r < 0)
			return r;
		say_file(rc, r);
	}
	printf("In a new shell, or after '. %s': %s_tunnel (Jupyter at http://127.0.0.1:%u/), %s_jupyter (its URL "
	       "with the token), %s_wake, %s_mount, %s_cd, %s_umount, %s_ssh; 'ssh %s' works too.\n",
	       t->shortcuts_path, t->fn, p->jupyter_port, t->fn, t->fn, t->fn, t->fn, t->fn, t->fn, p->hostname);
	return 0;
}

static int run(void) {
	_cleanup_(profile_freep) Profile *p = NULL;
	_cleanup_(client_texts_release) struct client_texts t = {};
	_cleanup_free_ char *home = NULL;
	int r;

	r = verb_load_profile(arg_profile, &p);
	if (r != 0)
		return r;
	r = verb_home(&home);
	if (r < 0)
		return log_error_errno(r, "Cannot find the home directory: set $HOME");
	r = make_texts(p, home, &t);
	if (r != 0)
		return r;
	if (!arg_install) {
		fputs(t.ssh_block, stdout);
		return 0;
	}
	return install(p, home, &t);
}

const struct cli_verb verb_client = { "client", parse_argv, run };
