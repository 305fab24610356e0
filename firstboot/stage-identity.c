/* Stages identity and user: the host name, and the rig user with its keys. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "parse-util.h"
#include "stages.h"
#include "time-util.h"
#include "userdb.h"

/* /etc/hosts with "127.0.1.1 HOST", replacing an old 127.0.1.1 line. */
static int hosts_text(const char *old, const char *host, char **ret) {
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	bool done = false;

	if (!f)
		return -ENOMEM;
	for (const char *l = old ? old : ""; *l;) {
		size_t n = strcspn(l, "\n");

		if (string_has_prefix(l, "127.0.1.1")) {
			if (!done)
				fprintf(f, "127.0.1.1\t%s\n", host);
			done = true;
		} else
			fprintf(f, "%.*s\n", (int)n, l);
		l += n + (l[n] == '\n');
	}
	if (!done)
		fprintf(f, "127.0.1.1\t%s\n", host);
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int stage_identity(struct agent *a) {
	_cleanup_free_ char *name = NULL, *old_hosts = NULL, *hosts = NULL, *line = NULL;
	const char *host = a->p->hostname;
	int r;

	if (agent_read(a, "etc/hostname", &name, NULL) < 0 || strcmp(string_strip(name), host) != 0) {
		if (asprintf(&line, "%s\n", host) < 0)
			return -ENOMEM;
		r = agent_write(a, "etc/hostname", line, strlen(line), 0644, 0, 0);
		if (r < 0)
			return agent_fail(a, r, "cannot write /etc/hostname: %s", strerror(-r));
	}
	(void)agent_read(a, "etc/hosts", &old_hosts, NULL);
	r = hosts_text(old_hosts, host, &hosts);
	if (r < 0)
		return r;
	if (!old_hosts || strcmp(old_hosts, hosts) != 0) {
		r = agent_write(a, "etc/hosts", hosts, strlen(hosts), 0644, 0, 0);
		if (r < 0)
			return agent_fail(a, r, "cannot write /etc/hosts: %s", strerror(-r));
	}
	if (a->live && sethostname(host, strlen(host)) < 0)
		return agent_fail(a, -errno, "cannot set the host name to %s: %m", host);
	return 0;
}

static int read_db(struct agent *a, struct userdb *db) {
	int r;

	if ((r = agent_read(a, "etc/passwd", &db->passwd, NULL)) < 0 ||
	    (r = agent_read(a, "etc/group", &db->group, NULL)) < 0 ||
	    (r = agent_read(a, "etc/shadow", &db->shadow, NULL)) < 0)
		return agent_fail(a, r, "cannot read the user database under /etc: %s", strerror(-r));
	if (agent_read(a, "etc/gshadow", &db->gshadow, NULL) < 0)
		db->gshadow = NULL;
	return 0;
}

static int write_if_changed(struct agent *a, const char *path, const char *old, const char *new, mode_t mode, gid_t gid) {
	int r;

	if (old && strcmp(old, new) == 0)
		return 0;
	r = agent_write(a, path, new, strlen(new), mode, 0, gid);
	if (r < 0)
		return agent_fail(a, r, "cannot write /%s: %s", path, strerror(-r));
	return 0;
}

static int copy_skel(struct agent *a, const char *home, uid_t uid, gid_t gid) {
	static const char *const skel[] = { ".bashrc", ".profile", ".bash_logout" };

	for (size_t i = 0; i < ELEMENTSOF(skel); i++) {
		_cleanup_free_ char *src = NULL, *dst = NULL, *data = NULL;
		size_t size;
		int r;

		if (asprintf(&src, "etc/skel/%s", skel[i]) < 0 || asprintf(&dst, "%s/%s", home, skel[i]) < 0)
			return -ENOMEM;
		if (agent_exists(a, dst) >= 0 || agent_read(a, src, &data, &size) < 0)
			continue;
		r = agent_write(a, dst, data, size, 0644, uid, gid);
		if (r < 0)
			return agent_fail(a, r, "cannot write /%s: %s", dst, strerror(-r));
	}
	return 0;
}

int stage_user(struct agent *a) {
	_cleanup_free_ char *home = NULL, *ssh = NULL, *ak = NULL, *keys = NULL, *old_keys = NULL, *merged = NULL;
	struct userdb db = {}, orig = {};
	const char *u = a->p->user;
	uint32_t uid, gid, shadow_gid = 0;
	unsigned added;
	bool created;
	int r;

	r = read_db(a, &db);
	if (r < 0)
		return r;
	if (!(orig.passwd = strdup(db.passwd)) || !(orig.group = strdup(db.group)) || !(orig.shadow = strdup(db.shadow)) ||
	    (db.gshadow && !(orig.gshadow = strdup(db.gshadow)))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = userdb_add_user(&db, u, &uid, &gid, &created)) < 0 ||
	    (r = userdb_set_password(&db, u, a->p->password_hash, now_wall() / 86400)) < 0 ||
	    (r = userdb_add_member(&db, "sudo", u)) < 0) {
		r = agent_fail(a, r, "cannot add user %s: %s", u, strerror(-r));
		goto out;
	}
	(void)userdb_gid(&db, "shadow", &shadow_gid);
	/* group before passwd, shadow last: a cut between them leaves no user without its group */
	if ((r = write_if_changed(a, "etc/group", orig.group, db.group, 0644, 0)) < 0 ||
	    (db.gshadow && (r = write_if_changed(a, "etc/gshadow", orig.gshadow, db.gshadow, 0640, shadow_gid)) < 0) ||
	    (r = write_if_changed(a, "etc/passwd", orig.passwd, db.passwd, 0644, 0)) < 0 ||
	    (r = write_if_changed(a, "etc/shadow", orig.shadow, db.shadow, 0640, shadow_gid)) < 0)
		goto out;

	agent_test_hold(a, "user");

	if (asprintf(&home, "home/%s", u) < 0 || asprintf(&ssh, "%s/.ssh", home) < 0 ||
	    asprintf(&ak, "%s/authorized_keys", ssh) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = agent_mkdir(a, "home", 0755, 0, 0)) < 0 || (r = agent_mkdir(a, home, 0750, uid, gid)) < 0 ||
	    (r = agent_mkdir(a, ssh, 0700, uid, gid)) < 0) {
		r = agent_fail(a, r, "cannot make /%s: %s", ssh, strerror(-r));
		goto out;
	}
	r = copy_skel(a, home, uid, gid);
	if (r < 0)
		goto out;
	r = read_full_file(a->p->authorized_keys, &keys, NULL);
	if (r < 0) {
		r = agent_fail(a, r, "cannot read %s: %s", a->p->authorized_keys, strerror(-r));
		goto out;
	}
	(void)agent_read(a, ak, &old_keys, NULL);
	r = authorized_keys_merge(old_keys, keys, &merged, &added);
	if (r < 0)
		goto out;
	/* rewrite even when unchanged: owner and mode must be right for sshd's StrictModes */
	r = agent_write(a, ak, merged, strlen(merged), 0600, uid, gid);
	if (r < 0) {
		r = agent_fail(a, r, "cannot write /%s: %s", ak, strerror(-r));
		goto out;
	}
	agent_note(a, "user %s (uid %u)%s, %u key%s added", u, uid, created ? " created" : "", added, added == 1 ? "" : "s");
out:
	userdb_release(&db);
	userdb_release(&orig);
	return r;
}
