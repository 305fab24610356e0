/* Bakes the rig's user into the image's passwd/group/shadow files, the way
 * useradd would, so the first boot can already log in with the profile's key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "image-rootfs.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

/* Returns the line "name:..." of a colon file, or NULL. */
static const char *find_entry(const char *text, const char *name) {
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, name, n) == 0 && l[n] == ':')
			return l;
	return NULL;
}

/* The field'th (0-based) colon-separated field of line as a number. */
static int entry_id(const char *line, unsigned field, uint32_t *ret) {
	char buf[16];
	size_t n;

	for (unsigned i = 0; i < field; i++) {
		line = strchr(line, ':');
		if (!line)
			return -EINVAL;
		line++;
	}
	n = strcspn(line, ":\n");
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, line, n);
	buf[n] = 0;
	return safe_atou32(buf, ret);
}

static bool id_used(const char *text, uint32_t id, unsigned field) {
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		uint32_t v;
		if (entry_id(l, field, &v) >= 0 && v == id)
			return true;
	}
	return false;
}

static int read_text(Ext4 *fs, const char *path, char **ret, char **ret_error) {
	int r = ext4_read_file(fs, path, ret, NULL);

	if (r < 0 && asprintf(ret_error, "rootfs: cannot read %s: %s (is this a root file system tarball?)", path,
			      strerror(-r)) < 0)
		*ret_error = NULL;
	return r;
}

/* Appends line, making sure text ends in a newline first. */
static int append_line(char **text, const char *line) {
	char *n;
	size_t len = strlen(*text);

	if (asprintf(&n, "%s%s%s\n", *text, len && (*text)[len - 1] != '\n' ? "\n" : "", line) < 0)
		return -ENOMEM;
	free(*text);
	*text = n;
	return 0;
}

/* Adds user to the member list (last field) of group's line, if missing. */
static int add_member(char **text, const char *group, const char *user) {
	const char *line = find_entry(*text, group);
	const char *end, *members;
	_cleanup_free_ char *list = NULL;
	char *n;

	if (!line)
		return 0; /* no such group in this rootfs */
	end = line + strcspn(line, "\n");
	members = end;
	while (members > line && members[-1] != ':')
		members--;
	list = strndup(members, (size_t)(end - members));
	if (!list)
		return -ENOMEM;
	for (char *m = list; m;) {
		char *c = strchr(m, ',');
		size_t len = c ? (size_t)(c - m) : strlen(m);
		if (len == strlen(user) && strncmp(m, user, len) == 0)
			return 0;
		m = c ? c + 1 : NULL;
	}
	if (asprintf(&n, "%.*s%s%s%s", (int)(end - *text), *text, *list ? "," : "", user, end) < 0)
		return -ENOMEM;
	free(*text);
	*text = n;
	return 0;
}

static uint32_t shadow_gid(const char *group) {
	const char *l = find_entry(group, "shadow");
	uint32_t gid;

	return l && entry_id(l, 2, &gid) >= 0 ? gid : 0;
}

int rootfs_add_user(Ext4 *fs, const Profile *p, uint64_t epoch, uint32_t *ret_uid, char **ret_error) {
	_cleanup_free_ char *passwd = NULL, *group = NULL, *shadow = NULL, *gshadow = NULL, *home = NULL,
			     *line = NULL, *keys = NULL, *ssh = NULL, *ak = NULL;
	const char *u = p->user, *existing;
	uint32_t uid = 1000, gid;
	size_t keys_size;
	int r;

	if ((r = read_text(fs, "/etc/passwd", &passwd, ret_error)) < 0 ||
	    (r = read_text(fs, "/etc/group", &group, ret_error)) < 0 ||
	    (r = read_text(fs, "/etc/shadow", &shadow, ret_error)) < 0)
		return r;
	if (ext4_read_file(fs, "/etc/gshadow", &gshadow, NULL) < 0)
		gshadow = NULL;

	existing = find_entry(passwd, u);
	if (existing) {
		if (entry_id(existing, 2, &uid) < 0 || entry_id(existing, 3, &gid) < 0)
			return -EINVAL;
	} else {
		/* the first id from 1000 up that neither a user nor a group has, like useradd */
		while (id_used(passwd, uid, 2) || id_used(group, uid, 2))
			uid++;
		gid = uid;
		if (asprintf(&line, "%s:x:%u:%u:mlrig rig user,,,:/home/%s:/bin/bash", u, uid, gid, u) < 0 ||
		    append_line(&passwd, line) < 0)
			return -ENOMEM;
		free(line), line = NULL;
		if (!find_entry(group, u)) {
			if (asprintf(&line, "%s:x:%u:", u, gid) < 0 || append_line(&group, line) < 0)
				return -ENOMEM;
			free(line), line = NULL;
			if (gshadow) {
				if (asprintf(&line, "%s:!::", u) < 0 || append_line(&gshadow, line) < 0)
					return -ENOMEM;
				free(line), line = NULL;
			}
		}
	}
	if (!find_entry(shadow, u)) {
		if (asprintf(&line, "%s:%s:%llu:0:99999:7:::", u, p->password_hash ? p->password_hash : "!",
			     (unsigned long long)(epoch / 86400)) < 0 ||
		    append_line(&shadow, line) < 0)
			return -ENOMEM;
	}
	if (add_member(&group, "sudo", u) < 0 || (gshadow && add_member(&gshadow, "sudo", u) < 0))
		return -ENOMEM;

	if ((r = ext4_write_file(fs, "/etc/passwd", passwd, strlen(passwd), 0644, 0, 0)) < 0 ||
	    (r = ext4_write_file(fs, "/etc/group", group, strlen(group), 0644, 0, 0)) < 0)
		return r;
	/* shadow files belong to group shadow, as the distribution ships them */
	if ((r = ext4_write_file(fs, "/etc/shadow", shadow, strlen(shadow), 0640, 0, shadow_gid(group))) < 0)
		return r;
	if (gshadow && (r = ext4_write_file(fs, "/etc/gshadow", gshadow, strlen(gshadow), 0640, 0, shadow_gid(group))) < 0)
		return r;

	r = read_full_file(p->authorized_keys, &keys, &keys_size);
	if (r < 0) {
		if (asprintf(ret_error, "%s: cannot read [Rig] AuthorizedKeys=%s: %s", p->path, p->authorized_keys,
			     strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}
	if (asprintf(&home, "/home/%s", u) < 0 || asprintf(&ssh, "%s/.ssh", home) < 0 ||
	    asprintf(&ak, "%s/authorized_keys", ssh) < 0)
		return -ENOMEM;
	if ((r = ext4_mkdir_p(fs, "/home", 0755, 0, 0)) < 0 || (r = ext4_mkdir_p(fs, home, 0750, uid, gid)) < 0 ||
	    (r = ext4_mkdir_p(fs, ssh, 0700, uid, gid)) < 0 ||
	    (r = ext4_write_file(fs, ak, keys, keys_size, 0600, uid, gid)) < 0)
		return r;
	/* the shell start-up files useradd -m would copy */
	static const char *const skel[] = { ".bashrc", ".profile", ".bash_logout" };
	for (size_t i = 0; i < ELEMENTSOF(skel); i++) {
		_cleanup_free_ char *src = NULL, *dst = NULL, *data = NULL;
		size_t size;

		if (asprintf(&src, "/etc/skel/%s", skel[i]) < 0 || asprintf(&dst, "%s/%s", home, skel[i]) < 0)
			return -ENOMEM;
		if (ext4_read_file(fs, src, &data, &size) < 0 || ext4_stat(fs, dst, NULL) >= 0)
			continue;
		r = ext4_write_file(fs, dst, data, size, 0644, uid, gid);
		if (r < 0)
			return r;
	}
	*ret_uid = uid;
	return 0;
}
