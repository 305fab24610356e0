/* The installer's answers (autoinstall user-data, ubiquity preseed) and the install script. */
/* The user-data goes through libyaml's emitter: its quoting rules are subtle
 * ("!", "no", "1.0", ": "). The install script copies the payload into /target. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "fileio.h"
#include "iso-autoinstall.h"
#include "macro.h"
#include "parse-util.h"

static const char install_script[] =
	"#!/bin/sh\n"
	"# mlrig: installs the rig's payload from the install medium into the new system.\n"
	"# The installer runs it once the target is installed (autoinstall late-commands,\n"
	"# ubiquity success_command):  sh install.sh [CDROM [TARGET]]  (default /cdrom /target)\n"
	"set -eu\n"
	"cdrom=${1:-${MLRIG_CDROM:-/cdrom}}\n"
	"target=${2:-${MLRIG_TARGET:-/target}}\n"
	"src=$cdrom/mlrig/root\n"
	"[ -d \"$src\" ] || { echo \"mlrig: $src is missing\" >&2; exit 1; }\n"
	"[ -d \"$target\" ] || { echo \"mlrig: $target is missing\" >&2; exit 1; }\n"
	"# tar keeps the payload's modes and leaves the target's existing directories alone\n"
	"(cd \"$src\" && tar --numeric-owner --owner=0 --group=0 -cf - .) |\n"
	"\t(cd \"$target\" && tar -xpf - --no-overwrite-dir)\n"
	"# secrets: root only, whatever the medium's file system recorded\n"
	"if [ -d \"$target/etc/mlrig\" ]; then\n"
	"\tchmod 0700 \"$target/etc/mlrig\"\n"
	"\tfind \"$target/etc/mlrig\" -type f -exec chmod 0600 {} +\n"
	"fi\n"
	"# enable the units the way systemctl enable would, without systemd running\n"
	"while read -r wanted unit; do\n"
	"\t[ -n \"$unit\" ] || continue\n"
	"\tmkdir -p \"$target/etc/systemd/system/$wanted.wants\"\n"
	"\tln -sfn \"/etc/systemd/system/$unit\" \"$target/etc/systemd/system/$wanted.wants/$unit\"\n"
	"done <\"$cdrom/mlrig/units\"\n"
	"echo \"mlrig: payload installed into $target\"\n";

const char *autoinstall_script(void) {
	return install_script;
}

struct buf {
	char *data;
	size_t size, alloc;
	bool oom;
};

static int buf_write(void *userdata, unsigned char *data, size_t size) {
	struct buf *b = userdata;

	if (b->size + size + 1 > b->alloc) {
		size_t n = MAX(b->alloc * 2, b->size + size + 1 + 256);
		char *p = realloc(b->data, n);

		if (!p) {
			b->oom = true;
			return 0; /* libyaml: 0 = write error */
		}
		b->data = p;
		b->alloc = n;
	}
	memcpy(b->data + b->size, data, size);
	b->size += size;
	b->data[b->size] = 0;
	return 1;
}

/* Emits one event; the emitter takes it over (also on failure). */
static int emit(yaml_emitter_t *e, yaml_event_t *ev, int created) {
	if (!created)
		return -ENOMEM;
	return yaml_emitter_emit(e, ev) ? 0 : -EIO;
}

static int emit_key(yaml_emitter_t *e, const char *key) {
	yaml_event_t ev;
	int ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)key, -1, 1, 1, YAML_PLAIN_SCALAR_STYLE);
	return emit(e, &ev, ok);
}

/* A string: always quoted, so "no", "1.10" or "!" stay strings. */
static int emit_str(yaml_emitter_t *e, const char *value) {
	yaml_event_t ev;
	int ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)value, -1, 0, 1, YAML_ANY_SCALAR_STYLE);
	return emit(e, &ev, ok);
}

/* An int or bool, written plain so it resolves to that type. */
static int emit_plain(yaml_emitter_t *e, const char *value) {
	yaml_event_t ev;
	int ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)value, -1, 1, 0, YAML_PLAIN_SCALAR_STYLE);
	return emit(e, &ev, ok);
}

static int emit_map_start(yaml_emitter_t *e) {
	yaml_event_t ev;
	int ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	return emit(e, &ev, ok);
}

static int emit_map_end(yaml_emitter_t *e) {
	yaml_event_t ev;
	int ok = yaml_mapping_end_event_initialize(&ev);
	return emit(e, &ev, ok);
}

static int emit_seq_start(yaml_emitter_t *e) {
	yaml_event_t ev;
	int ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
	return emit(e, &ev, ok);
}

static int emit_seq_end(yaml_emitter_t *e) {
	yaml_event_t ev;
	int ok = yaml_sequence_end_event_initialize(&ev);
	return emit(e, &ev, ok);
}

static int emit_kv(yaml_emitter_t *e, const char *key, const char *value) {
	int r = emit_key(e, key);
	return r < 0 ? r : emit_str(e, value);
}

static int emit_str_list(yaml_emitter_t *e, const char *key, char *const *items) {
	int r = emit_key(e, key);

	if (r >= 0)
		r = emit_seq_start(e);
	for (size_t i = 0; r >= 0 && items && items[i]; i++)
		r = emit_str(e, items[i]);
	return r < 0 ? r : emit_seq_end(e);
}

static int emit_document(yaml_emitter_t *e, const struct autoinstall_config *c) {
	char *const late[] = { (char *)MEDIA_INSTALL_COMMAND, NULL };
	char *const interactive[] = { (char *)"storage", NULL };
	yaml_event_t ev;
	int r;

	if ((r = emit(e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))) < 0 ||
	    (r = emit(e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1))) < 0 ||
	    (r = emit_map_start(e)) < 0 || (r = emit_key(e, "autoinstall")) < 0 || (r = emit_map_start(e)) < 0 ||
	    (r = emit_key(e, "version")) < 0 || (r = emit_plain(e, "1")) < 0 ||
	    (r = emit_kv(e, "locale", "en_US.UTF-8")) < 0 || (r = emit_key(e, "keyboard")) < 0 ||
	    (r = emit_map_start(e)) < 0 || (r = emit_kv(e, "layout", "us")) < 0 || (r = emit_map_end(e)) < 0)
		return r;

	if ((r = emit_key(e, "identity")) < 0 || (r = emit_map_start(e)) < 0 ||
	    (r = emit_kv(e, "hostname", c->hostname)) < 0 || (r = emit_kv(e, "username", c->username)) < 0 ||
	    (r = emit_kv(e, "password", c->password_hash ? c->password_hash : AUTOINSTALL_LOCKED_PASSWORD)) < 0 ||
	    (r = emit_map_end(e)) < 0)
		return r;

	if ((r = emit_key(e, "ssh")) < 0 || (r = emit_map_start(e)) < 0 || (r = emit_key(e, "install-server")) < 0 ||
	    (r = emit_plain(e, "true")) < 0 || (r = emit_str_list(e, "authorized-keys", c->authorized_keys)) < 0 ||
	    (r = emit_key(e, "allow-pw")) < 0 || (r = emit_plain(e, "false")) < 0 || (r = emit_map_end(e)) < 0)
		return r;

	if ((r = emit_str_list(e, "packages", c->packages)) < 0 || (r = emit_str_list(e, "late-commands", late)) < 0)
		return r;

	if (c->disk && c->wipe) {
		/* the user named the disk and agreed to wipe it: plain partitions like mlrig image */
		if ((r = emit_key(e, "storage")) < 0 || (r = emit_map_start(e)) < 0 || (r = emit_key(e, "layout")) < 0 ||
		    (r = emit_map_start(e)) < 0 || (r = emit_kv(e, "name", "direct")) < 0 ||
		    (r = emit_key(e, "match")) < 0 || (r = emit_map_start(e)) < 0 || (r = emit_kv(e, "path", c->disk)) < 0 ||
		    (r = emit_map_end(e)) < 0 || (r = emit_map_end(e)) < 0 || (r = emit_map_end(e)) < 0)
			return r;
	} else if ((r = emit_str_list(e, "interactive-sections", interactive)) < 0)
		return r;

	if ((r = emit_map_end(e)) < 0 || (r = emit_map_end(e)) < 0 ||
	    (r = emit(e, &ev, yaml_document_end_event_initialize(&ev, 1))) < 0 ||
	    (r = emit(e, &ev, yaml_stream_end_event_initialize(&ev))) < 0)
		return r;
	return yaml_emitter_flush(e) ? 0 : -EIO;
}

int autoinstall_user_data(const struct autoinstall_config *c, char **ret) {
	struct buf b = {};
	yaml_emitter_t e;
	int r;

	if (!c->hostname || !c->username)
		return -EINVAL;
	if (buf_write(&b, (unsigned char *)"#cloud-config\n", 14) == 0)
		return -ENOMEM;
	if (!yaml_emitter_initialize(&e)) {
		free(b.data);
		return -ENOMEM;
	}
	yaml_emitter_set_output(&e, buf_write, &b);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1); /* an ssh key on one line, never folded */
	yaml_emitter_set_indent(&e, 2);
	r = emit_document(&e, c);
	yaml_emitter_delete(&e);
	if (r < 0 || b.oom) {
		free(b.data);
		return b.oom ? -ENOMEM : r;
	}
	*ret = b.data;
	return 0;
}

/* debconf values end at the newline: one inside would start a new answer */
static bool one_line(const char *s) {
	return !s || !strpbrk(s, "\r\n");
}

int autoinstall_preseed(const struct autoinstall_config *c, const char *base, char **ret) {
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	FILE *f;

	if (!c->hostname || !c->username || !one_line(c->hostname) || !one_line(c->username) ||
	    !one_line(c->password_hash) || !one_line(c->disk))
		return -EINVAL;
	for (size_t i = 0; c->packages && c->packages[i]; i++)
		if (!one_line(c->packages[i]) || strchr(c->packages[i], ' '))
			return -EINVAL;
	f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	if (base && *base) {
		fputs("# The medium's own defaults:\n", f);
		fputs(base, f);
		if (base[strlen(base) - 1] != '\n')
			fputc('\n', f);
	}
	fputs("# mlrig: unattended Ubuntu desktop install (ubiquity).\n"
	      "d-i debian-installer/locale string en_US.UTF-8\n"
	      "d-i keyboard-configuration/xkb-keymap select us\n", f);
	fprintf(f, "d-i netcfg/get_hostname string %s\n", c->hostname);
	fprintf(f, "d-i passwd/user-fullname string %s\n", c->username);
	fprintf(f, "d-i passwd/username string %s\n", c->username);
	fprintf(f, "d-i passwd/user-password-crypted password %s\n",
		c->password_hash ? c->password_hash : AUTOINSTALL_LOCKED_PASSWORD);
	fputs("d-i user-setup/encrypt-home boolean false\n", f);
	if (c->packages && c->packages[0]) {
		fputs("d-i pkgsel/include string", f);
		for (size_t i = 0; c->packages[i]; i++)
			fprintf(f, " %s", c->packages[i]);
		fputc('\n', f);
	}
	if (c->disk && c->wipe)
		fprintf(f,
			"# [Install] Disk= and Wipe=yes: this disk is erased without asking.\n"
			"d-i partman-auto/disk string %s\n"
			"d-i partman-auto/method string regular\n"
			"d-i partman-auto/choose_recipe select atomic\n"
			"d-i partman-partitioning/confirm_write_new_label boolean true\n"
			"d-i partman/choose_partition select finish\n"
			"d-i partman/confirm boolean true\n"
			"d-i partman/confirm_nooverwrite boolean true\n",
			c->disk);
	else
		fputs("# No [Install] Disk= with Wipe=yes: partitioning stays interactive.\n", f);
	/* preseed/late_command does not run under ubiquity; success_command does */
	fputs("ubiquity ubiquity/success_command string " MEDIA_INSTALL_COMMAND "\n"
	      "ubiquity ubiquity/reboot boolean true\n", f);
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(text);
	return 0;
}

int autoinstall_read_keys(const char *path, char ***ret) {
	_cleanup_free_ char *data = NULL;
	char **keys = NULL;
	size_t n = 0, size;
	int r;

	r = read_full_file(path, &data, &size);
	if (r < 0)
		return r;
	keys = calloc(1, sizeof(char *));
	if (!keys)
		return -ENOMEM;
	for (char *line = data, *next; line && *line; line = next) {
		char **nk, *s;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		s = string_strip(line);
		if (!*s || *s == '#')
			continue;
		nk = realloc(keys, (n + 2) * sizeof(char *));
		if (!nk || !(nk[n] = strdup(s))) {
			if (nk)
				keys = nk;
			keys[n] = NULL;
			strv_freep(&keys);
			return -ENOMEM;
		}
		keys = nk;
		keys[++n] = NULL;
	}
	*ret = keys;
	return 0;
}

int autoinstall_units(const struct payload *pl, char **ret) {
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < pl->n_units; i++)
		fprintf(f, "%s %s\n", pl->units[i].target, pl->units[i].unit);
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(text);
	return 0;
}
