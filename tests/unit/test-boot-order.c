/* Unit tests for the EFI half of the boot-order stage (firstboot/stage-boot-order.c): over an
 * efivarfs-like tree and the ESP of a libfdisk disk, the rig's own Boot#### is created, found
 * again and repaired, placed in BootOrder as [Boot] Default= says, and the other entries kept;
 * efibootmgr, reading the same tree, agrees. */
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
#include "process.h"
#include "stages.h"
#include "test-efi.h"
#include "test.h"

#define VARS "efivars"

/* A load option for another OS: HD() of partition 1 of another disk, File(loader). Hand-made
 * so the stage must leave its bytes alone, whatever libefiboot would make. */
static size_t other_option(uint8_t *buf, const char *desc, const char *loader) {
	size_t o = 0, path_at, file_len = (strlen(loader) + 1) * 2;
	uint8_t hd[42] = { 0x04, 0x01, 42, 0, 1, 0, 0, 0 };

	buf[o++] = 1, buf[o++] = 0, buf[o++] = 0, buf[o++] = 0; /* LOAD_OPTION_ACTIVE */
	o += 2;                                                 /* the path list length, below */
	for (const char *c = desc; *c; c++)
		buf[o++] = (uint8_t)*c, buf[o++] = 0;
	buf[o++] = 0, buf[o++] = 0;
	path_at = o;
	hd[8] = 0x08;                         /* start 2048 */
	hd[16] = 0x40, hd[17] = 0x01;         /* size 81920 */
	memset(hd + 24, 0xe5, 16);            /* signature */
	hd[40] = 0x02, hd[41] = 0x02;         /* GPT, GUID signature */
	memcpy(buf + o, hd, sizeof(hd)), o += sizeof(hd);
	buf[o++] = 0x04, buf[o++] = 0x04, buf[o++] = (uint8_t)(4 + file_len), buf[o++] = 0;
	for (const char *c = loader; *c; c++)
		buf[o++] = (uint8_t)*c, buf[o++] = 0;
	buf[o++] = 0, buf[o++] = 0;
	buf[o++] = 0x7f, buf[o++] = 0xff, buf[o++] = 0x04, buf[o++] = 0x00;
	buf[4] = (uint8_t)(o - path_at), buf[5] = (uint8_t)((o - path_at) >> 8);
	return o;
}

static void put_boot(uint16_t num, const char *desc) {
	uint8_t opt[512];

	ASSERT_OK(efi_set_boot_option(VARS, num, opt, other_option(opt, desc, "\\EFI\\Microsoft\\Boot\\bootmgfw.efi")));
}

static void put_order(const uint16_t *order, size_t n) {
	ASSERT_OK(efi_set_boot_order(VARS, order, n));
}

/* BootOrder as "0002,0000,0001", read back from the variable file itself. */
static char *order_now(void) {
	_cleanup_free_ char *data = NULL;
	char *s = NULL;
	size_t size, len = 0;
	FILE *f = open_memstream(&s, &len);

	ASSERT_TRUE(f);
	ASSERT_OK(read_full_file(VARS "/BootOrder-" EFI_GLOBAL_GUID, &data, &size));
	ASSERT_TRUE(size >= 4 && size % 2 == 0);
	for (size_t i = 4; i < size; i += 2)
		fprintf(f, "%s%04X", i > 4 ? "," : "", (unsigned)((uint8_t)data[i] | (uint8_t)data[i + 1] << 8));
	ASSERT_TRUE(fclose(f) == 0);
	return s;
}

static size_t n_entries(void) {
	_cleanup_free_ uint16_t *nums = NULL;
	size_t n;

	ASSERT_OK(efi_list_boot_entries(VARS, &nums, &n));
	return n;
}

struct rig {
	struct agent a;
	Profile p;
	struct efi_partition esp;
};

/* A rig tree (os-release, the ESP's removable-path loader) in the test's directory, an empty
 * efivarfs beside it, and the ESP of a disk libfdisk wrote. Skips without libefiboot. */
static void rig_init_full(struct rig *r, bool need_efiboot) {
	_cleanup_free_ uint8_t *opt = NULL;
	_cleanup_free_ char *error = NULL;
	_cleanup_close_ int fd = -1;
	size_t size;
	int k;

	*r = (struct rig){ .a = { .root = test_dir(), .live = false } };
	r->a.p = &r->p;
	r->a.root_fd = open(test_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(r->a.root_fd >= 0);
	write_esp_disk("disk.img");
	fd = open("disk.img", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(efi_gpt_partition(fd, 512, 1, &r->esp));
	k = efi_make_load_option(&r->esp, "\\EFI\\BOOT\\BOOTX64.EFI", "x", &opt, &size, &error);
	if (k == -ELIBACC && need_efiboot)
		test_skip("%s (apt install libefiboot1)", error);
	ASSERT_TRUE(need_efiboot ? k >= 0 : k == -ELIBACC);
	ASSERT_OK(agent_mkdir(&r->a, "etc", 0755, 0, 0));
	ASSERT_OK(agent_write(&r->a, "etc/os-release", "ID=debian\nNAME=\"Debian GNU/Linux\"\n", 34, 0644, 0, 0));
	ASSERT_OK(mkdir_p("boot/efi/EFI/BOOT", 0755));
	ASSERT_OK(write_file_atomic("boot/efi/EFI/BOOT/BOOTX64.EFI", "MZ", 2, 0644));
	ASSERT_TRUE(mkdir(VARS, 0755) == 0);
}

static void rig_init(struct rig *r) {
	rig_init_full(r, true);
}

static void rig_release(struct rig *r) {
	free(r->a.error);
	free(r->a.note);
	close(r->a.root_fd);
}

/* One run of the stage's EFI half; returns what it said. */
static char *run(struct rig *r) {
	char *what = NULL;

	ASSERT_OK(stage_boot_order_efi(&r->a, VARS, &r->esp, &what));
	ASSERT_TRUE(what);
	return what;
}

/* What the agent's journal holds after the first boot: later runs are the service's. */
static void first_boot_done(struct rig *r) {
	struct stage_record rec = { .state = STAGE_DONE, .attempts = 1 };

	ASSERT_OK(journal_open(&r->a));
	ASSERT_OK(journal_put(&r->a, "boot-order", &rec));
}

static void assert_option_is_efibootmgrs(uint16_t num) {
	_cleanup_free_ uint8_t *got = NULL;
	size_t size;

	ASSERT_OK(efi_get_boot_option(VARS, num, &got, &size));
	ASSERT_EQ(size, sizeof(efibootmgr_boot0000));
	ASSERT_TRUE(memcmp(got, efibootmgr_boot0000, size) == 0);
}

TEST(rig_entry_created_first_and_windows_kept) {
	_cleanup_free_ char *w1 = NULL, *w2 = NULL, *o1 = NULL, *o2 = NULL, *win_before = NULL, *win_after = NULL;
	struct rig r;
	size_t n1, n2;

	rig_init(&r);
	put_boot(0x0000, "Windows Boot Manager");
	put_boot(0x0001, "UEFI PXEv4");
	put_order((uint16_t[]){ 0x0000, 0x0001 }, 2);
	ASSERT_OK(read_full_file(VARS "/Boot0000-" EFI_GLOBAL_GUID, &win_before, &n1));

	/* the first boot: a new entry at the first free number, named after os-release, first */
	w1 = run(&r);
	ASSERT_CONTAINS(w1, "Boot0002 \"Debian GNU/Linux\" HD(1,GPT," ESP_GUID ",0x800,0x10000)/File(\\EFI\\BOOT\\BOOTX64.EFI) created");
	ASSERT_CONTAINS(w1, "moved first in BootOrder (was 0000,0001, now 0002,0000,0001)");
	o1 = order_now();
	ASSERT_STREQ(o1, "0002,0000,0001");
	/* what efibootmgr -c writes for this ESP and label, as a non-volatile, boot and run time variable */
	assert_option_is_efibootmgrs(0x0002);
	{
		_cleanup_free_ char *file = NULL;
		size_t size;

		ASSERT_OK(read_full_file(VARS "/Boot0002-" EFI_GLOBAL_GUID, &file, &size));
		ASSERT_TRUE(memcmp(file, "\7\0\0\0", 4) == 0);
	}
	/* Windows' entry: not rewritten */
	ASSERT_OK(read_full_file(VARS "/Boot0000-" EFI_GLOBAL_GUID, &win_after, &n2));
	ASSERT_EQ(n1, n2);
	ASSERT_TRUE(memcmp(win_before, win_after, n1) == 0);

	/* a second run: the same entry found by its device path, kept; no second one */
	w2 = run(&r);
	ASSERT_CONTAINS(w2, "Boot0002 \"Debian GNU/Linux\"");
	ASSERT_CONTAINS(w2, " kept, already first in BootOrder");
	ASSERT_EQ(n_entries(), 3);
	o2 = order_now();
	ASSERT_STREQ(o2, "0002,0000,0001");
	rig_release(&r);
}

TEST(first_free_number_and_an_empty_boot_order) {
	_cleanup_free_ char *w = NULL, *o = NULL;
	struct rig r;

	rig_init(&r);
	/* numbers 0 and 2 taken, no BootOrder at all (a firmware that lost it) */
	put_boot(0x0000, "Windows Boot Manager");
	put_boot(0x0002, "UEFI Shell");
	w = run(&r);
	ASSERT_CONTAINS(w, "Boot0001 \"Debian GNU/Linux\"");
	ASSERT_CONTAINS(w, "(was empty, now 0001)");
	o = order_now();
	ASSERT_STREQ(o, "0001");
	assert_option_is_efibootmgrs(0x0001);
	rig_release(&r);
}

/* A Windows update puts Windows Boot Manager first; Default=linux (and saved, where GRUB's
 * menu remembers) puts the rig first again on every later boot; Default=windows leaves it. */
TEST(later_boots_reassert_unless_default_windows) {
	static const struct {
		enum boot_default def;
		const char *after;
		const char *says;
	} cases[] = {
		{ BOOT_DEFAULT_LINUX, "0002,0000,0001", "moved first in BootOrder (was 0000,0002,0001, now 0002,0000,0001)" },
		{ BOOT_DEFAULT_SAVED, "0002,0000,0001", "moved first in BootOrder (was 0000,0002,0001, now 0002,0000,0001)" },
		{ BOOT_DEFAULT_WINDOWS, "0000,0002,0001", "BootOrder left alone ([Boot] Default=windows)" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *w1 = NULL, *w2 = NULL, *w3 = NULL, *o1 = NULL, *o2 = NULL, *o3 = NULL;
		struct rig r;

		/* each case a fresh machine */
		ASSERT_OK(rm_rf(VARS));
		ASSERT_OK(rm_rf("var"));
		rig_init(&r);
		r.p.boot_default = cases[i].def;
		put_boot(0x0000, "Windows Boot Manager");
		put_boot(0x0001, "UEFI PXEv4");
		put_order((uint16_t[]){ 0x0000, 0x0001 }, 2);
		/* the first boot puts the rig first whatever Default= says: GRUB's menu decides then */
		w1 = run(&r);
		o1 = order_now();
		ASSERT_STREQ(o1, "0002,0000,0001");
		first_boot_done(&r);
		/* the update */
		put_order((uint16_t[]){ 0x0000, 0x0002, 0x0001 }, 3);
		w2 = run(&r);
		ASSERT_CONTAINS(w2, cases[i].says);
		o2 = order_now();
		ASSERT_STREQ(o2, cases[i].after);
		ASSERT_EQ(n_entries(), 3);
		/* and the boot after that changes nothing more */
		w3 = run(&r);
		o3 = order_now();
		ASSERT_STREQ(o3, cases[i].after);
		if (cases[i].def != BOOT_DEFAULT_WINDOWS)
			ASSERT_CONTAINS(w3, "already first in BootOrder");
		else
			ASSERT_CONTAINS(w3, "BootOrder left alone");
		rig_release(&r);
	}
}

/* Default=windows on a later boot, the rig's entry gone from BootOrder (firmware that drops
 * entries it did not boot): it goes back, last, the others' order left alone. */
TEST(default_windows_adds_a_lost_entry_last) {
	_cleanup_free_ char *w = NULL, *o = NULL;
	struct rig r;

	rig_init(&r);
	r.p.boot_default = BOOT_DEFAULT_WINDOWS;
	put_boot(0x0000, "Windows Boot Manager");
	put_order((uint16_t[]){ 0x0000 }, 1);
	free(run(&r));
	first_boot_done(&r);
	put_order((uint16_t[]){ 0x0000 }, 1);
	w = run(&r);
	ASSERT_CONTAINS(w, "added last to BootOrder (was 0000, now 0000,0001)");
	o = order_now();
	ASSERT_STREQ(o, "0000,0001");
	rig_release(&r);
}

/* [Boot] EntryName= relabels the same entry; a loader that moved (an installer's shim in
 * EFI/debian) repairs the entry found by its label. Never a second entry. */
TEST(entry_name_and_a_moved_loader_repair_the_same_entry) {
	_cleanup_free_ char *w1 = NULL, *w2 = NULL, *w3 = NULL, *o = NULL, *path = NULL;
	_cleanup_free_ uint8_t *opt = NULL;
	struct efi_boot_entry e;
	struct rig r;
	size_t size;

	rig_init(&r);
	put_boot(0x0000, "Windows Boot Manager");
	put_order((uint16_t[]){ 0x0000 }, 1);
	w1 = run(&r);
	ASSERT_CONTAINS(w1, "Boot0001 \"Debian GNU/Linux\"");
	first_boot_done(&r);
	r.p.boot_entry_name = (char *)"ML rig";
	w2 = run(&r);
	ASSERT_CONTAINS(w2, "Boot0001 \"ML rig\" HD(1,GPT," ESP_GUID ",0x800,0x10000)/File(\\EFI\\BOOT\\BOOTX64.EFI) repaired");
	ASSERT_OK(efi_get_boot_entry(VARS, 0x0001, &e));
	ASSERT_STREQ(e.description, "ML rig");
	ASSERT_EQ(n_entries(), 2);
	/* the shorter option replaced the whole variable: the next run finds it as it wrote it */
	free(w2);
	w2 = run(&r);
	ASSERT_CONTAINS(w2, "Boot0001 \"ML rig\"");
	ASSERT_CONTAINS(w2, " kept, already first in BootOrder");
	ASSERT_OK(mkdir_p("boot/efi/EFI/debian", 0755));
	ASSERT_OK(write_file_atomic("boot/efi/EFI/debian/shimx64.efi", "MZ", 2, 0644));
	w3 = run(&r);
	ASSERT_CONTAINS(w3, "Boot0001 \"ML rig\" HD(1,GPT," ESP_GUID ",0x800,0x10000)/File(\\EFI\\debian\\shimx64.efi) repaired");
	ASSERT_EQ(n_entries(), 2);
	ASSERT_OK(efi_get_boot_option(VARS, 0x0001, &opt, &size));
	ASSERT_OK(efi_parse_load_option(opt, size, &e));
	path = efi_format_device_path(opt + e.path_offset, e.path_size);
	ASSERT_STREQ(path, "HD(1,GPT," ESP_GUID ",0x800,0x10000)/File(\\EFI\\debian\\shimx64.efi)");
	o = order_now();
	ASSERT_STREQ(o, "0001,0000");
	rig_release(&r);
}

/* An ESP without the rig's loader: no entry of its own, but one that names the OS (an
 * installer's "debian") is moved first, as before libefiboot. */
TEST(no_loader_moves_an_entry_naming_the_os) {
	_cleanup_free_ char *w1 = NULL, *w2 = NULL, *o = NULL;
	struct rig r;

	rig_init(&r);
	ASSERT_OK(unlink("boot/efi/EFI/BOOT/BOOTX64.EFI") == 0 ? 0 : -errno);
	put_boot(0x0000, "Windows Boot Manager");
	put_order((uint16_t[]){ 0x0000 }, 1);
	w1 = run(&r);
	ASSERT_CONTAINS(w1, "the ESP has no loader");
	ASSERT_CONTAINS(w1, "no boot entry names debian: the firmware boots the removable path");
	ASSERT_EQ(n_entries(), 1);
	put_boot(0x0004, "debian");
	put_order((uint16_t[]){ 0x0000, 0x0004 }, 2);
	w2 = run(&r);
	ASSERT_CONTAINS(w2, "Boot0004 (names debian) moved first in BootOrder (was 0000,0004, now 0004,0000)");
	o = order_now();
	ASSERT_STREQ(o, "0004,0000");
	ASSERT_EQ(n_entries(), 2);
	rig_release(&r);
}

/* A corrupt BootOrder (odd length) fails the stage with a reason, and is not overwritten. */
TEST(corrupt_boot_order_fails_the_stage) {
	_cleanup_free_ char *what = NULL, *data = NULL;
	struct rig r;
	size_t size;

	rig_init(&r);
	ASSERT_OK(write_file_atomic(VARS "/BootOrder-" EFI_GLOBAL_GUID, "\7\0\0\0\1\0\2", 7, 0644));
	ASSERT_EQ(stage_boot_order_efi(&r.a, VARS, &r.esp, &what), -EBADMSG);
	ASSERT_CONTAINS(r.a.error, "cannot read the EFI BootOrder");
	ASSERT_OK(read_full_file(VARS "/BootOrder-" EFI_GLOBAL_GUID, &data, &size));
	ASSERT_EQ(size, 7);
	rig_release(&r);
}

/* efibootmgr (libefivar's own reader) over the same tree: the rig's entry first, with the
 * HD() of its ESP, and Windows' entry still there. */
TEST(efibootmgr_reads_what_the_stage_wrote) {
	_cleanup_free_ char *w = NULL, *env = NULL, *prog = NULL;
	struct process_result res = {};
	struct rig r;

	if (process_find_program("efibootmgr", &prog) < 0)
		test_skip("efibootmgr is not installed (apt install efibootmgr)");
	rig_init(&r);
	put_boot(0x0000, "Windows Boot Manager");
	put_order((uint16_t[]){ 0x0000 }, 1);
	w = run(&r);
	ASSERT_TRUE(asprintf(&env, "EFIVARFS_PATH=%s/" VARS "/", test_dir()) > 0);
	ASSERT_EQ(process_run(&(struct process_options){ .argv = (char *[]){ prog, "-v", NULL },
							 .env_set = (char *[]){ env, NULL },
							 .stdout_mode = PROCESS_CAPTURE,
							 .stderr_mode = PROCESS_CAPTURE },
			      &res),
		  0);
	ASSERT_CONTAINS(res.out, "BootOrder: 0001,0000");
	ASSERT_CONTAINS(res.out, "Boot0001* Debian GNU/Linux\tHD(1,GPT," ESP_GUID ",0x800,0x10000)/File(\\EFI\\BOOT\\BOOTX64.EFI)");
	ASSERT_CONTAINS(res.out, "Boot0000* Windows Boot Manager\t");
	process_result_release(&res);
	rig_release(&r);
}

/* A rig without libefiboot1: the stage makes no entry of its own, says what it skipped, and
 * moves an entry that names the OS first, as before. It runs in a child of this binary whose
 * LD_LIBRARY_PATH finds an empty libefiboot.so.1 first, so that dlopen() fails as there. */
#define NO_EFIBOOT_ENV "MLRIG_TEST_NO_LIBEFIBOOT"
TEST(without_libefiboot_the_stage_says_what_it_skipped) {
	_cleanup_free_ char *w1 = NULL, *w2 = NULL, *o = NULL, *env = NULL, *self = NULL;
	struct process_result res = {};
	struct rig r;

	if (!getenv(NO_EFIBOOT_ENV)) {
		self = realpath("/proc/self/exe", NULL);
		ASSERT_TRUE(self);
		ASSERT_OK(mkdir_p("lib", 0755));
		ASSERT_OK(write_file_atomic("lib/libefiboot.so.1", "", 0, 0644));
		ASSERT_TRUE(asprintf(&env, "LD_LIBRARY_PATH=%s/lib", test_dir()) > 0);
		ASSERT_EQ(process_run(&(struct process_options){
					      .argv = (char *[]){ self, "without_libefiboot_the_stage_says_what_it_skipped", NULL },
					      .env_set = (char *[]){ env, NO_EFIBOOT_ENV "=1", NULL },
					      .stdout_mode = PROCESS_CAPTURE,
					      .stderr_mode = PROCESS_TO_STDOUT },
				      &res),
			  0);
		ASSERT_CONTAINS(res.out, "1 passed, 0 failed, 0 skipped");
		process_result_release(&res);
		return;
	}
	rig_init_full(&r, false);
	put_boot(0x0000, "Windows Boot Manager");
	put_order((uint16_t[]){ 0x0000 }, 1);
	w1 = run(&r);
	ASSERT_CONTAINS(w1, "EFI: skipped the rig's own boot entry: ");
	ASSERT_CONTAINS(w1, "libefiboot.so.1");
	ASSERT_CONTAINS(w1, "(install libefiboot1); no boot entry names debian: the firmware boots the removable path");
	ASSERT_EQ(n_entries(), 1);
	put_boot(0x0003, "debian");
	put_order((uint16_t[]){ 0x0000, 0x0003 }, 2);
	w2 = run(&r);
	ASSERT_CONTAINS(w2, "(install libefiboot1); Boot0003 (names debian) moved first in BootOrder (was 0000,0003, now 0003,0000)");
	o = order_now();
	ASSERT_STREQ(o, "0003,0000");
	ASSERT_EQ(n_entries(), 2);
	rig_release(&r);
}
