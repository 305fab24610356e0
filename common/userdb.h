/* Editing passwd/group/shadow/gshadow texts the way useradd and usermod do,
 * for the builder (files inside an ext4 image) and the agent (files in a tree). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct userdb {
	char *passwd, *group, *shadow, *gshadow; /* whole file texts; gshadow may be NULL */
};

void userdb_release(struct userdb *db);

/* Adds user (and its own group) unless present: the first id from 1000 up that
 * no user or group has. Returns the ids; *ret_created says whether it was new. */
int userdb_add_user(struct userdb *db, const char *user, uint32_t *ret_uid, uint32_t *ret_gid, bool *ret_created);
/* Adds user to group's member list (group and gshadow) unless there already;
 * a group the system lacks is left alone (returns 0). */
int userdb_add_member(struct userdb *db, const char *group, const char *user);
/* Sets the shadow password field: a crypt(3) hash, or NULL for locked ("!").
 * Adds the shadow line when missing. days = last change, days since 1970. */
int userdb_set_password(struct userdb *db, const char *user, const char *hash, uint64_t days);
/* The uid and gid of user in a passwd text; -ENOENT when absent, -EINVAL for a bad line. */
int userdb_user_ids(const char *passwd, const char *user, uint32_t *ret_uid, uint32_t *ret_gid);
/* The gid of group, or -ENOENT. */
int userdb_gid(const struct userdb *db, const char *group, uint32_t *ret_gid);

/* Merges the key lines of add into existing (either may be NULL): lines already
 * there (compared without surrounding white space) are not added again. */
int authorized_keys_merge(const char *existing, const char *add, char **ret, unsigned *ret_added);
