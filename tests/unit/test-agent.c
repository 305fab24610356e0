/* The agent's own pieces: the stage journal, root-relative writes, EFI variables and load options. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "efi-util.h"
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

/* An EFI_LOAD_OPTION: u32 attributes, u16 path list length, UCS-2 description, NUL, device path. */
static size_t load_option(uint8_t *buf, const char *desc, bool terminate) {
	static const uint8_t end_path[] = { 0x7f, 0xff, 0x04, 0x00 };
	size_t o = 0;

	buf[o++] = 1, buf[o++] = 0, buf[o++] = 0, buf[o++] = 0; /* LOAD_OPTION_ACTIVE */
	buf[o++] = sizeof(end_path), buf[o++] = 0;
	for (const char *c = desc; *c; c++)
		buf[o++] = (uint8_t)*c, buf[o++] = 0;
	if (terminate)
		buf[o++] = 0, buf[o++] = 0;
	memcpy(buf + o, end_path, sizeof(end_path));
	return o + (terminate ? sizeof(end_path) : 0);
}

TEST(efi_load_options) {
	uint8_t buf[1024];
	struct efi_boot_entry e;
	char longdesc[300];
	size_t n;

	n = load_option(buf, "debian", true);
	ASSERT_OK(efi_parse_load_option(buf, n, &e));
	ASSERT_STREQ(e.description, "debian");
	n = load_option(buf, "Windows Boot Manager", true);
	ASSERT_OK(efi_parse_load_option(buf, n, &e));
	ASSERT_STREQ(e.description, "Windows Boot Manager");
	/* a character outside ASCII is shown as '?' */
	n = load_option(buf, "Ubuntu", true);
	buf[6 + 2 * 2] = 0xe9, buf[6 + 2 * 2 + 1] = 0x00;
	ASSERT_OK(efi_parse_load_option(buf, n, &e));
	ASSERT_STREQ(e.description, "Ub?ntu");
	/* a description longer than the field is cut, not overrun */
	memset(longdesc, 'x', sizeof(longdesc) - 1);
	longdesc[sizeof(longdesc) - 1] = 0;
	n = load_option(buf, longdesc, true);
	ASSERT_OK(efi_parse_load_option(buf, n, &e));
	ASSERT_EQ(strlen(e.description), sizeof(e.description) - 1);
	/* no NUL before the end, or too short to hold the header */
	n = load_option(buf, "debian", false);
	ASSERT_EQ(efi_parse_load_option(buf, n, &e), -EBADMSG);
	ASSERT_EQ(efi_parse_load_option(buf, 7, &e), -EBADMSG);
	ASSERT_EQ(efi_parse_load_option(buf, 0, &e), -EBADMSG);
}

/* efivarfs files: 4 attribute bytes, then the variable */
static void put_var(const char *name, const void *data, size_t size) {
	uint8_t buf[512] = { 7, 0, 0, 0 };
	char path[256];

	memcpy(buf + 4, data, size);
	snprintf(path, sizeof(path), "efivars/%s-" EFI_GLOBAL_GUID, name);
	ASSERT_OK(write_file_atomic(path, buf, size + 4, 0644));
}

TEST(efi_variables_in_a_tree) {
	uint16_t order[] = { 0x0003, 0x0000, 0x0001 }, *got = NULL, swapped[] = { 0x0000, 0x0003, 0x0001 };
	uint8_t opt[256];
	struct efi_boot_entry e;
	size_t n;

	ASSERT_EQ(efi_available("efivars"), 0);
	ASSERT_TRUE(mkdir("efivars", 0755) == 0);
	ASSERT_EQ(efi_available("efivars"), 1);
	ASSERT_EQ(efi_get_boot_order("efivars", &got, &n), -ENOENT);
	put_var("BootOrder", order, sizeof(order));
	ASSERT_OK(efi_get_boot_order("efivars", &got, &n));
	ASSERT_EQ(n, 3);
	ASSERT_EQ(got[0], 3);
	ASSERT_EQ(got[2], 1);
	free(got);
	ASSERT_OK(efi_set_boot_order("efivars", swapped, 3));
	ASSERT_OK(efi_get_boot_order("efivars", &got, &n));
	ASSERT_EQ(got[0], 0);
	ASSERT_EQ(got[1], 3);
	free(got);
	put_var("Boot0003", opt, load_option(opt, "mlrig rig", true));
	ASSERT_OK(efi_get_boot_entry("efivars", 3, &e));
	ASSERT_EQ(e.num, 3);
	ASSERT_STREQ(e.description, "mlrig rig");
	/* an odd-length BootOrder is corrupt */
	put_var("BootOrder", order, 3);
	ASSERT_EQ(efi_get_boot_order("efivars", &got, &n), -EBADMSG);
}
