/* Bakes the rig's user into the image (passwd, group, shadow, sudo, home,
 * authorized_keys), so the first boot can already log in with the profile's key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "image-rootfs.h"
#include "log.h"
#include "macro.h"
#include "userdb.h"

static int read_text(Ext4 *fs, const char *path, char **ret, char **ret_error) {
	int r = ext4_read_file(fs, path, ret, NULL);

	if (r < 0 && asprintf(ret_error, "rootfs: cannot read %s: %s (is this a root file system tarball?)", path,
			      strerror(-r)) < 0)
		*ret_error = NULL;
	return r;
}

static int write_db(Ext4 *fs, const struct userdb *db) {
	uint32_t shadow_gid = 0;
	int r;

	/* the shadow files belong to group shadow, as the distribution ships them */
	(void)userdb_gid(db, "shadow", &shadow_gid);
	if ((r = ext4_write_file(fs, "/etc/passwd", db->passwd, strlen(db->passwd), 0644, 0, 0)) < 0 ||
	    (r = ext4_write_file(fs, "/etc/group", db->group, strlen(db->group), 0644, 0, 0)) < 0 ||
	    (r = ext4_write_file(fs, "/etc/shadow", db->shadow, strlen(db->shadow), 0640, 0, shadow_gid)) < 0)
		return r;
	if (db->gshadow)
		r = ext4_write_file(fs, "/etc/gshadow", db->gshadow, strlen(db->gshadow), 0640, 0, shadow_gid);
	return r;
}

int rootfs_add_user(Ext4 *fs, const Profile *p, uint64_t epoch, uint32_t *ret_uid, char **ret_error) {
	_cleanup_free_ char *home = NULL, *ssh = NULL, *ak = NULL, *keys = NULL, *merged = NULL;
	struct userdb db = {};
	uint32_t uid, gid;
	bool created;
	int r;

	if ((r = read_text(fs, "/etc/passwd", &db.passwd, ret_error)) < 0 ||
	    (r = read_text(fs, "/etc/group", &db.group, ret_error)) < 0 ||
	    (r = read_text(fs, "/etc/shadow", &db.shadow, ret_error)) < 0)
		goto out;
	if (ext4_read_file(fs, "/etc/gshadow", &db.gshadow, NULL) < 0)
		db.gshadow = NULL;
	if ((r = userdb_add_user(&db, p->user, &uid, &gid, &created)) < 0 ||
	    (r = userdb_set_password(&db, p->user, p->password_hash, epoch / 86400)) < 0 ||
	    (r = userdb_add_member(&db, "sudo", p->user)) < 0 || (r = write_db(fs, &db)) < 0)
		goto out;

	r = read_full_file(p->authorized_keys, &keys, NULL);
	if (r < 0) {
		if (asprintf(ret_error, "%s: cannot read [Rig] AuthorizedKeys=%s: %s", p->path, p->authorized_keys,
			     strerror(-r)) < 0)
			*ret_error = NULL;
		goto out;
	}
	r = authorized_keys_merge(NULL, keys, &merged, NULL);
	if (r < 0)
		goto out;
	if (asprintf(&home, "/home/%s", p->user) < 0 || asprintf(&ssh, "%s/.ssh", home) < 0 ||
	    asprintf(&ak, "%s/authorized_keys", ssh) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = ext4_mkdir_p(fs, "/home", 0755, 0, 0)) < 0 || (r = ext4_mkdir_p(fs, home, 0750, uid, gid)) < 0 ||
	    (r = ext4_mkdir_p(fs, ssh, 0700, uid, gid)) < 0 ||
	    (r = ext4_write_file(fs, ak, merged, strlen(merged), 0600, uid, gid)) < 0)
		goto out;
	/* the shell start-up files useradd -m would copy */
	static const char *const skel[] = { ".bashrc", ".profile", ".bash_logout" };
	for (size_t i = 0; i < ELEMENTSOF(skel) && r >= 0; i++) {
		_cleanup_free_ char *src = NULL, *dst = NULL, *data = NULL;
		size_t size;

		if (asprintf(&src, "/etc/skel/%s", skel[i]) < 0 || asprintf(&dst, "%s/%s", home, skel[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		if (ext4_read_file(fs, src, &data, &size) < 0 || ext4_stat(fs, dst, NULL) >= 0)
			continue;
		r = ext4_write_file(fs, dst, data, size, 0644, uid, gid);
	}
	if (r >= 0)
		*ret_uid = uid;
out:
	userdb_release(&db);
	return r;
}
