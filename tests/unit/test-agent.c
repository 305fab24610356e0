/* The agent's own pieces: the stage journal, atomic root-relative writes (EFI: test-efi.c). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fileio.h"
#include "fs-util.h"
#include "journal.h"
#include "macro.h"
#include "test.h"

/* An agent working on the test's directory as its --root. */
static struct agent tree_agent(void) {
	struct agent a = { .root = test_dir(), .live = false };

	a.root_fd = open(test_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(a.root_fd >= 0);
	return a;
}

TEST(journal_roundtrip) {
	struct agent a = tree_agent();
	struct stage_record rec = { .state = STAGE_FAILED, .seconds = 1.2345, .finished = 1700000000, .attempts = 3,
				    .note = "a note", .error = "pip failed:\nline two" };
	struct stage_record back = {};
	struct stat st;
	char **names = NULL;

	ASSERT_OK(journal_open(&a));
	ASSERT_TRUE(stat("var/lib/mlrig/stages", &st) == 0 && (st.st_mode & 0777) == 0700);
	ASSERT_TRUE(stat("var/lib/mlrig", &st) == 0 && (st.st_mode & 0777) == 0755);
	ASSERT_OK(journal_open(&a)); /* again: the directories are kept */

	/* nothing recorded yet: pending */
	ASSERT_OK(journal_get(&a, "python", &back));
	ASSERT_EQ(back.state, STAGE_PENDING);
	ASSERT_EQ(back.attempts, 0);

	ASSERT_OK(journal_put(&a, "python", &rec));
	ASSERT_OK(journal_get(&a, "python", &back));
	ASSERT_EQ(back.state, STAGE_FAILED);
	ASSERT_EQ(back.attempts, 3);
	ASSERT_EQ(back.finished, 1700000000);
	ASSERT_EQ((int)(back.seconds * 1000 + 0.5), 1235); /* kept in milliseconds */
	ASSERT_STREQ(back.note, "a note");
	ASSERT_STREQ(back.error, "pip failed: line two"); /* one line per key */
	stage_record_release(&back);
	ASSERT_TRUE(stat("var/lib/mlrig/stages/python", &st) == 0 && (st.st_mode & 0777) == 0600);
	/* written by rename: no temporary file stays beside it */
	ASSERT_OK(rm_rf("var/lib/mlrig/stages/python.tmp"));
	{
		char *data = NULL;

		ASSERT_OK(read_full_file("var/lib/mlrig/stages/python", &data, NULL));
		ASSERT_CONTAINS(data, "state=failed\n");
		ASSERT_CONTAINS(data, "milliseconds=1235\n");
		free(data);
	}
	(void)names;

	/* a record damaged by hand: unknown keys and garbage lines are ignored, numbers must be numbers */
	ASSERT_OK(write_file_atomic("var/lib/mlrig/stages/sshd", "state=done\nbogus\nattempts=x7\nnew=1\n", 34, 0600));
	ASSERT_OK(journal_get(&a, "sshd", &back));
	ASSERT_EQ(back.state, STAGE_DONE);
	ASSERT_EQ(back.attempts, 0);
	stage_record_release(&back);
	ASSERT_STREQ(stage_state_to_string(STAGE_DONE), "done");
	ASSERT_STREQ(stage_state_to_string(STAGE_PENDING), "pending");
	close(a.root_fd);
}

TEST(agent_write_is_atomic_and_root_relative) {
	struct agent a = tree_agent();
	char *data = NULL;
	struct stat st;

	ASSERT_OK(agent_mkdir(&a, "etc", 0755, 0, 0));
	ASSERT_OK(agent_write(&a, "etc/hostname", "rig\n", 4, 0644, 0, 0));
	ASSERT_OK(agent_read(&a, "etc/hostname", &data, NULL));
	ASSERT_STREQ(data, "rig\n");
	free(data);
	ASSERT_TRUE(stat("etc/.hostname.mlrig-tmp", &st) < 0);
	/* a symlink planted where the agent writes is not followed out of the root */
	ASSERT_TRUE(symlink("/etc/passwd", "etc/motd") == 0);
	ASSERT_EQ(agent_read(&a, "etc/motd", &data, NULL), -ELOOP);
	ASSERT_EQ(agent_mkdir(&a, "etc/hostname", 0755, 0, 0), -ENOTDIR);
	ASSERT_EQ(agent_exists(&a, "etc/nope"), -ENOENT);
	close(a.root_fd);
}
