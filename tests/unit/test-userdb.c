/* common/userdb.c: adding users, groups and passwords like useradd, idempotently. */
#include "macro.h"
#include "test.h"
#include "userdb.h"

static void setup(struct userdb *db) {
	db->passwd = strdup("root:x:0:0:root:/root:/bin/bash\nuser1:x:1000:1000::/home/user1:/bin/sh\n");
	db->group = strdup("root:x:0:\nsudo:x:27:\nshadow:x:42:\nuser1:x:1000:\nweird:x:1001:\n");
	db->shadow = strdup("root:*:19000:0:99999:7:::\nuser1:!:19000:0:99999:7:::\n");
	db->gshadow = strdup("root:*::\nsudo:*::\n");
}

TEST(add_user_picks_free_ids) {
	struct userdb db = {};
	uint32_t uid, gid;
	bool created;

	setup(&db);
	ASSERT_OK(userdb_add_user(&db, "rig", &uid, &gid, &created));
	ASSERT_EQ(created, 1);
	ASSERT_EQ(uid, 1002); /* 1000 is a user, 1001 a group */
	ASSERT_EQ(gid, 1002);
	ASSERT_CONTAINS(db.passwd, "\nrig:x:1002:1002:mlrig rig user,,,:/home/rig:/bin/bash\n");
	ASSERT_CONTAINS(db.group, "\nrig:x:1002:\n");
	ASSERT_CONTAINS(db.gshadow, "\nrig:!::\n");
	/* again: found, nothing added */
	ASSERT_OK(userdb_add_user(&db, "rig", &uid, &gid, &created));
	ASSERT_EQ(created, 0);
	ASSERT_EQ(uid, 1002);
	ASSERT_TRUE(strstr(strstr(db.passwd, "rig:") + 1, "\nrig:") == NULL);
	userdb_release(&db);
}

TEST(add_member_once) {
	struct userdb db = {};
	uint32_t gid;

	setup(&db);
	ASSERT_OK(userdb_add_member(&db, "sudo", "rig"));
	ASSERT_OK(userdb_add_member(&db, "sudo", "rig"));
	ASSERT_OK(userdb_add_member(&db, "sudo", "other"));
	ASSERT_CONTAINS(db.group, "\nsudo:x:27:rig,other\n");
	ASSERT_CONTAINS(db.gshadow, "\nsudo:*::rig,other\n");
	ASSERT_OK(userdb_add_member(&db, "nosuchgroup", "rig")); /* left alone */
	ASSERT_OK(userdb_gid(&db, "shadow", &gid));
	ASSERT_EQ(gid, 42);
	ASSERT_EQ(userdb_gid(&db, "nope", &gid), -ENOENT);
	userdb_release(&db);
}

TEST(set_password) {
	struct userdb db = {};

	setup(&db);
	ASSERT_OK(userdb_set_password(&db, "rig", NULL, 20000));
	ASSERT_CONTAINS(db.shadow, "\nrig:!:20000:0:99999:7:::\n");
	ASSERT_OK(userdb_set_password(&db, "rig", "$6$s$h", 20001));
	ASSERT_CONTAINS(db.shadow, "\nrig:$6$s$h:20001:0:99999:7:::\n");
	/* unchanged hash: the line, and its date, stay */
	ASSERT_OK(userdb_set_password(&db, "rig", "$6$s$h", 20500));
	ASSERT_CONTAINS(db.shadow, "\nrig:$6$s$h:20001:0:99999:7:::\n");
	ASSERT_CONTAINS(db.shadow, "user1:!:19000:0:99999:7:::\n");
	userdb_release(&db);
}

TEST(authorized_keys_merge) {
	char *out = NULL, *out2 = NULL;
	unsigned added;

	ASSERT_OK(authorized_keys_merge("ssh-ed25519 AAAA one\n", "# comment\n  ssh-ed25519 AAAA one  \nssh-rsa BBBB two\r\n\n", &out, &added));
	ASSERT_STREQ(out, "ssh-ed25519 AAAA one\nssh-rsa BBBB two\n");
	ASSERT_EQ(added, 1);
	ASSERT_OK(authorized_keys_merge(out, "ssh-rsa BBBB two\nssh-ed25519 AAAA one\n", &out2, &added));
	ASSERT_STREQ(out2, out);
	ASSERT_EQ(added, 0);
	free(out);
	free(out2);
	ASSERT_OK(authorized_keys_merge(NULL, "ssh-ed25519 CCCC x", &out, &added));
	ASSERT_STREQ(out, "ssh-ed25519 CCCC x\n");
	free(out);
}
