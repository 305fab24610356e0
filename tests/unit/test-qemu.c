/* Unit tests for builder/qemu.c and boot-session.c's decisions: --forward parsing, the QEMU
 * command line, the serial matcher, the order of the checks, the KVM fallback, the failure texts. */
#include <errno.h>
#include <signal.h>

#include "boot-session.h"
#include "macro.h"
#include "qemu.h"
#include "test.h"

/* The value following option opt, the n-th time opt occurs (0-based). */
static const char *argv_value(char **argv, const char *opt, int n) {
	for (char **a = argv; *a; a++)
		if (strcmp(*a, opt) == 0 && a[1] && n-- == 0)
			return a[1];
	return NULL;
}

static bool argv_has(char **argv, const char *s) {
	for (char **a = argv; *a; a++)
		if (strcmp(*a, s) == 0)
			return true;
	return false;
}

TEST(forward_parse_ok) {
	struct qemu_forward f;

	ASSERT_OK(qemu_parse_forward("8888:8888", &f));
	ASSERT_EQ(f.host, 8888);
	ASSERT_EQ(f.guest, 8888);
	ASSERT_OK(qemu_parse_forward("2222:22", &f));
	ASSERT_EQ(f.host, 2222);
	ASSERT_EQ(f.guest, 22);
	ASSERT_OK(qemu_parse_forward("65535:1", &f));
	ASSERT_EQ(f.host, 65535);
	ASSERT_EQ(f.guest, 1);
}

TEST(forward_parse_bad) {
	static const char *const bad[] = {
		"", "22", ":22", "22:", "0:22", "22:0", "65536:22", "22:65536", "a:b", "1:2:3",
		" 22:22", "22 :22", "+22:22", "-1:22", "22:22x", "0x16:22", "99999999999999999999:1",
	};
	struct qemu_forward f = { .host = 7, .guest = 7 };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r = qemu_parse_forward(bad[i], &f);

		if (r >= 0)
			test_fail(__FILE__, __LINE__, "qemu_parse_forward(\"%s\") accepted", bad[i]);
	}
	ASSERT_TRUE(qemu_parse_forward(NULL, &f) < 0);
	/* not written on failure */
	ASSERT_EQ(f.host, 7);
	ASSERT_EQ(f.guest, 7);
}

TEST(escape_commas) {
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

	ASSERT_OK(qemu_escape_commas("plain.img", &a));
	ASSERT_STREQ(a, "plain.img");
	ASSERT_OK(qemu_escape_commas("a,b,,c", &b));
	ASSERT_STREQ(b, "a,,b,,,,c");
	ASSERT_OK(qemu_escape_commas("", &c));
	ASSERT_STREQ(c, "");
}

static struct qemu_forward fwd[] = { { 40022, 22 }, { 8888, 8889 } };

static struct qemu_config base_config(void) {
	return (struct qemu_config){
		.image = "/images/rig.img",
		.firmware = QEMU_FIRMWARE_OVMF,
		.ovmf_code = "/usr/share/OVMF/OVMF_CODE.fd",
		.ovmf_vars = "/tmp/x/OVMF_VARS.fd",
		.accel = QEMU_ACCEL_TCG,
		.memory_mib = 1024,
		.cpus = 2,
		.serial_path = "/tmp/x/serial.log",
		.forwards = fwd,
		.n_forwards = 2,
	};
}

TEST(argv_ovmf_tcg) {
	struct qemu_config c = base_config();
	_cleanup_strv_free_ char **argv = NULL;

	ASSERT_OK(qemu_build_argv(&c, &argv));
	ASSERT_STREQ(argv[0], "qemu-system-x86_64");
	ASSERT_STREQ(argv_value(argv, "-accel", 0), "tcg");
	ASSERT_TRUE(!argv_has(argv, "-cpu"));
	ASSERT_STREQ(argv_value(argv, "-m", 0), "1024");
	ASSERT_STREQ(argv_value(argv, "-smp", 0), "2");
	ASSERT_STREQ(argv_value(argv, "-display", 0), "none");
	ASSERT_STREQ(argv_value(argv, "-serial", 0), "file:/tmp/x/serial.log");
	ASSERT_STREQ(argv_value(argv, "-drive", 0), "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd");
	ASSERT_STREQ(argv_value(argv, "-drive", 1), "if=pflash,format=raw,unit=1,file=/tmp/x/OVMF_VARS.fd");
	/* never modifies the image */
	ASSERT_STREQ(argv_value(argv, "-drive", 2), "file=/images/rig.img,format=raw,if=virtio,snapshot=on");
	ASSERT_STREQ(argv_value(argv, "-netdev", 0),
		     "user,id=n0,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:8888-:8889");
	ASSERT_STREQ(argv_value(argv, "-device", 0), "virtio-net-pci,netdev=n0");
	ASSERT_TRUE(argv_has(argv, "-nodefaults"));
}

TEST(argv_kvm_bios_no_network) {
	struct qemu_config c = base_config();
	_cleanup_strv_free_ char **argv = NULL;

	c.accel = QEMU_ACCEL_KVM;
	c.firmware = QEMU_FIRMWARE_BIOS;
	c.ovmf_vars = NULL; /* not needed for SeaBIOS */
	c.n_forwards = 0;
	c.memory_mib = 2048;
	c.binary = "/opt/qemu/bin/qemu-system-x86_64";
	ASSERT_OK(qemu_build_argv(&c, &argv));
	ASSERT_STREQ(argv[0], "/opt/qemu/bin/qemu-system-x86_64");
	ASSERT_STREQ(argv_value(argv, "-accel", 0), "kvm");
	ASSERT_STREQ(argv_value(argv, "-cpu", 0), "host");
	ASSERT_STREQ(argv_value(argv, "-m", 0), "2048");
	ASSERT_STREQ(argv_value(argv, "-drive", 0), "file=/images/rig.img,format=raw,if=virtio,snapshot=on");
	ASSERT_TRUE(argv_value(argv, "-drive", 1) == NULL);
	ASSERT_TRUE(argv_value(argv, "-netdev", 0) == NULL);
	ASSERT_STREQ(argv_value(argv, "-nic", 0), "none");
}

TEST(argv_commas_in_paths) {
	struct qemu_config c = base_config();
	_cleanup_strv_free_ char **argv = NULL;

	c.image = "/img/a,b.img";
	c.ovmf_vars = "/t,mp/VARS.fd";
	c.serial_path = "/t,mp/serial.log";
	ASSERT_OK(qemu_build_argv(&c, &argv));
	ASSERT_STREQ(argv_value(argv, "-drive", 1), "if=pflash,format=raw,unit=1,file=/t,,mp/VARS.fd");
	ASSERT_STREQ(argv_value(argv, "-drive", 2), "file=/img/a,,b.img,format=raw,if=virtio,snapshot=on");
	/* "file:" takes the rest verbatim */
	ASSERT_STREQ(argv_value(argv, "-serial", 0), "file:/t,mp/serial.log");
}

TEST(argv_probe_shape_and_errors) {
	struct qemu_config c = base_config();
	_cleanup_strv_free_ char **argv = NULL, **argv2 = NULL;

	c.image = NULL;
	c.serial_path = NULL;
	c.n_forwards = 0;
	ASSERT_OK(qemu_build_argv(&c, &argv));
	ASSERT_STREQ(argv_value(argv, "-serial", 0), "none");
	ASSERT_TRUE(argv_value(argv, "-drive", 2) == NULL);

	c = base_config();
	c.ovmf_vars = NULL;
	ASSERT_EQ(qemu_build_argv(&c, &argv2), -EINVAL);
	c = base_config();
	c.memory_mib = 0;
	ASSERT_EQ(qemu_build_argv(&c, &argv2), -EINVAL);
	ASSERT_TRUE(argv2 == NULL);
}

TEST(expect_split_across_reads) {
	struct expect_matcher m;

	ASSERT_OK(expect_matcher_init(&m, "mlrig-firstboot: done"));
	ASSERT_TRUE(!expect_matcher_feed(&m, "[  OK  ] Started foo.\r\nmlrig-fir", 32));
	ASSERT_TRUE(!expect_matcher_feed(&m, "stboot: ", 8));
	ASSERT_TRUE(!expect_matcher_feed(&m, "do", 2));
	ASSERT_TRUE(expect_matcher_feed(&m, "ne\r\n", 4));
	/* sticky */
	ASSERT_TRUE(expect_matcher_feed(&m, "xyz", 3));
	expect_matcher_reset(&m);
	ASSERT_TRUE(!expect_matcher_feed(&m, "xyz", 3));
	expect_matcher_release(&m);
}

TEST(expect_byte_by_byte) {
	static const char stream[] = "noise MARKE MARKER end";
	struct expect_matcher m;
	size_t at = 0;

	ASSERT_OK(expect_matcher_init(&m, "MARKER"));
	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		if (expect_matcher_feed(&m, stream + i, 1)) {
			at = i;
			break;
		}
	ASSERT_EQ(at, strstr(stream, "MARKER") - stream + 5);
	expect_matcher_release(&m);
}

TEST(expect_overlapping_false_starts) {
	struct expect_matcher m;

	/* a restart inside a partial match must not lose the real one */
	ASSERT_OK(expect_matcher_init(&m, "aab"));
	ASSERT_TRUE(!expect_matcher_feed(&m, "a", 1));
	ASSERT_TRUE(!expect_matcher_feed(&m, "aa", 2));
	ASSERT_TRUE(expect_matcher_feed(&m, "b", 1));
	expect_matcher_release(&m);

	ASSERT_OK(expect_matcher_init(&m, "abab"));
	ASSERT_TRUE(!expect_matcher_feed(&m, "aba", 3));
	ASSERT_TRUE(!expect_matcher_feed(&m, "aba", 3));
	ASSERT_TRUE(expect_matcher_feed(&m, "b", 1));
	expect_matcher_release(&m);

	ASSERT_OK(expect_matcher_init(&m, "login:"));
	ASSERT_TRUE(!expect_matcher_feed(&m, "logi", 4));
	ASSERT_TRUE(!expect_matcher_feed(&m, "nlogin", 6));
	ASSERT_TRUE(expect_matcher_feed(&m, ":", 1));
	expect_matcher_release(&m);
}

TEST(expect_binary_and_not_found) {
	static const char stream[] = { 'x', 0, 'O', 'K', 0, 'O', '\x1b', '[', 'K' };
	struct expect_matcher m;

	ASSERT_OK(expect_matcher_init(&m, "OK!"));
	ASSERT_TRUE(!expect_matcher_feed(&m, stream, sizeof(stream)));
	ASSERT_TRUE(!expect_matcher_feed(&m, "", 0));
	ASSERT_TRUE(!m.found);
	expect_matcher_release(&m);

	ASSERT_EQ(expect_matcher_init(&m, ""), -EINVAL);
}

TEST(free_port) {
	uint16_t p1 = 0;

	ASSERT_OK(qemu_find_free_port(&p1));
	ASSERT_TRUE(p1 > 0);
}

TEST(accel_names) {
	ASSERT_STREQ(qemu_accel_to_string(QEMU_ACCEL_TCG), "tcg");
	ASSERT_STREQ(qemu_accel_to_string(QEMU_ACCEL_KVM), "kvm");
}

TEST(argv_cdrom) {
	struct qemu_config c = base_config();
	_cleanup_strv_free_ char **argv = NULL;

	c.cdrom = true;
	ASSERT_OK(qemu_build_argv(&c, &argv));
	/* an ISO goes on the machine's AHCI as a read-only CD-ROM */
	ASSERT_STREQ(argv_value(argv, "-drive", 2), "file=/images/rig.img,format=raw,if=ide,media=cdrom,readonly=on");
}

TEST(argv_more_disks_follow_the_image) {
	static const char *const disks[] = { "/images/windows.img", "/img/d,2.img" };
	struct qemu_config c = base_config();
	_cleanup_strv_free_ char **argv = NULL, **argv2 = NULL;

	c.disks = disks;
	c.n_disks = 2;
	ASSERT_OK(qemu_build_argv(&c, &argv));
	/* in order after the image, so the guest sees them as vdb, vdc; snapshots like the image */
	ASSERT_STREQ(argv_value(argv, "-drive", 2), "file=/images/rig.img,format=raw,if=virtio,snapshot=on");
	ASSERT_STREQ(argv_value(argv, "-drive", 3), "file=/images/windows.img,format=raw,if=virtio,snapshot=on");
	ASSERT_STREQ(argv_value(argv, "-drive", 4), "file=/img/d,,2.img,format=raw,if=virtio,snapshot=on");
	ASSERT_TRUE(argv_value(argv, "-drive", 5) == NULL);
	/* --writable lets every disk keep what the guest wrote */
	c.writable = true;
	ASSERT_OK(qemu_build_argv(&c, &argv2));
	ASSERT_STREQ(argv_value(argv2, "-drive", 3), "file=/images/windows.img,format=raw,if=virtio,cache=writeback");
}

TEST(argv_secure_boot) {
	struct qemu_config c = base_config();
	_cleanup_strv_free_ char **argv = NULL, **plain = NULL;

	ASSERT_OK(qemu_build_argv(&c, &plain));
	ASSERT_STREQ(argv_value(plain, "-machine", 0), "q35");
	ASSERT_TRUE(!argv_has(plain, "-global"));
	c.secure_boot = true;
	c.ovmf_code = QEMU_OVMF_CODE_SECBOOT;
	c.ovmf_vars = "/tmp/x/efivars.fd";
	ASSERT_OK(qemu_build_argv(&c, &argv));
	/* the SMM firmware aborts without SMM; the variable store is SMM-only */
	ASSERT_STREQ(argv_value(argv, "-machine", 0), "q35,smm=on");
	ASSERT_STREQ(argv_value(argv, "-global", 0), "driver=cfi.pflash01,property=secure,value=on");
	ASSERT_STREQ(argv_value(argv, "-drive", 0),
		     "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
	ASSERT_STREQ(argv_value(argv, "-drive", 1), "if=pflash,format=raw,unit=1,file=/tmp/x/efivars.fd");
}

TEST(boot_vars_templates) {
	struct boot_options o = {};

	ASSERT_STREQ(boot_vars_template(&o), "/usr/share/OVMF/OVMF_VARS.fd");
	o.secure_boot = true;
	/* Microsoft's keys enrolled, Secure Boot on: what a machine that runs Windows ships with */
	ASSERT_STREQ(boot_vars_template(&o), "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
}

TEST(kvm_failure_markers) {
	ASSERT_STREQ(qemu_find_kvm_failure("KVM internal error. Suberror: 1\nemulation failure\n"), "KVM internal error");
	ASSERT_STREQ(qemu_find_kvm_failure("qemu-system-x86_64: failed to initialize kvm: Permission denied"),
		     "failed to initialize kvm");
	ASSERT_STREQ(qemu_find_kvm_failure("error: kvm run failed Bad address"), "kvm run failed");
	ASSERT_STREQ(qemu_find_kvm_failure("qemu-system-x86_64: error: failed to set MSR 0x48f to 0x7fffff00036dfb\n"
					   "qemu-system-x86_64: ../target/i386/kvm/kvm.c:3048: kvm_buf_set_msrs: Assertion failed."),
		     "failed to set MSR");
	ASSERT_TRUE(qemu_find_kvm_failure("") == NULL);
	ASSERT_TRUE(qemu_find_kvm_failure("qemu-system-x86_64: terminating on signal 15") == NULL);
}

TEST(boot_phases_in_order) {
	struct boot_options all = { .expect = "ready", .ssh_key = "key", .ssh_command = "id" };
	struct boot_options ssh_only = { .ssh_key = "key" };
	struct boot_options expect_only = { .expect = "ready" };
	struct boot_options none = {};

	ASSERT_EQ(boot_phase_first(&all), BOOT_PHASE_EXPECT);
	ASSERT_EQ(boot_phase_after(BOOT_PHASE_EXPECT, &all), BOOT_PHASE_SSH);
	ASSERT_EQ(boot_phase_after(BOOT_PHASE_SSH, &all), BOOT_PHASE_SSH_COMMAND);
	ASSERT_EQ(boot_phase_after(BOOT_PHASE_SSH_COMMAND, &all), BOOT_PHASE_DONE);

	ASSERT_EQ(boot_phase_first(&ssh_only), BOOT_PHASE_SSH);
	ASSERT_EQ(boot_phase_after(BOOT_PHASE_SSH, &ssh_only), BOOT_PHASE_DONE);
	ASSERT_EQ(boot_phase_first(&expect_only), BOOT_PHASE_EXPECT);
	ASSERT_EQ(boot_phase_after(BOOT_PHASE_EXPECT, &expect_only), BOOT_PHASE_DONE);

	/* nothing asked: the guest powering off is the check */
	ASSERT_EQ(boot_phase_first(&none), BOOT_PHASE_POWEROFF);
	ASSERT_EQ(boot_phase_after(BOOT_PHASE_POWEROFF, &none), BOOT_PHASE_DONE);
	/* the ends stay */
	ASSERT_EQ(boot_phase_after(BOOT_PHASE_DONE, &all), BOOT_PHASE_DONE);
	ASSERT_EQ(boot_phase_after(BOOT_PHASE_FAILED, &all), BOOT_PHASE_FAILED);
}

TEST(boot_kvm_fallback_decision) {
	static const char broken[] = "KVM internal error. Suberror: 1\nemulation failure\n";
	const char *marker = NULL;

	/* our own choice of KVM failed: restart under TCG */
	ASSERT_EQ(boot_kvm_decide(QEMU_ACCEL_KVM, false, broken, &marker), BOOT_KVM_RESTART_TCG);
	ASSERT_STREQ(marker, "KVM internal error");
	/* MLRIG_ACCEL=kvm: no fallback */
	marker = NULL;
	ASSERT_EQ(boot_kvm_decide(QEMU_ACCEL_KVM, true, broken, &marker), BOOT_KVM_GIVE_UP);
	ASSERT_STREQ(marker, "KVM internal error");
	/* under TCG (after the restart, or chosen) the same words change nothing */
	marker = NULL;
	ASSERT_EQ(boot_kvm_decide(QEMU_ACCEL_TCG, false, broken, &marker), BOOT_KVM_FINE);
	ASSERT_EQ(boot_kvm_decide(QEMU_ACCEL_TCG, true, broken, &marker), BOOT_KVM_FINE);
	ASSERT_EQ(boot_kvm_decide(QEMU_ACCEL_KVM, false, "", &marker), BOOT_KVM_FINE);
	ASSERT_EQ(boot_kvm_decide(QEMU_ACCEL_KVM, false, "qemu-system-x86_64: terminating on signal 15\n", &marker),
		  BOOT_KVM_FINE);
	ASSERT_TRUE(marker == NULL);
}

TEST(boot_timeout_texts) {
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

	/* tests/boot/ grep these */
	ASSERT_OK(boot_timeout_message(BOOT_PHASE_EXPECT, 20, "MARK", NULL, &a));
	ASSERT_STREQ(a, "expected text not seen within 20 s ('MARK')");
	ASSERT_OK(boot_timeout_message(BOOT_PHASE_SSH, 6, NULL, "ssh: connect to host 127.0.0.1 port 22: Connection refused", &b));
	ASSERT_STREQ(b, "ssh did not succeed within 6 s; last ssh error: ssh: connect to host 127.0.0.1 port 22: Connection refused");
	ASSERT_OK(boot_timeout_message(BOOT_PHASE_SSH, 6, "MARK", NULL, &c));
	ASSERT_STREQ(c, "ssh did not succeed within 6 s");
	ASSERT_OK(boot_timeout_message(BOOT_PHASE_SSH_COMMAND, 300, "MARK", NULL, &d));
	ASSERT_STREQ(d, "ssh command did not finish within 300 s");
	ASSERT_OK(boot_timeout_message(BOOT_PHASE_POWEROFF, 60, NULL, NULL, &e));
	ASSERT_STREQ(e, "guest did not power off within 60 s");
}

TEST(boot_qemu_exit_texts) {
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

	ASSERT_OK(boot_qemu_exit_message(BOOT_PHASE_EXPECT, 1, 3200, "qemu: could not open disk", &a));
	ASSERT_STREQ(a, "QEMU exited with status 1 after 3.2 s before the expected text was seen; QEMU said: qemu: could not open disk");
	ASSERT_OK(boot_qemu_exit_message(BOOT_PHASE_SSH, 0, 61000, NULL, &b));
	ASSERT_STREQ(b, "QEMU exited with status 0 after 61.0 s before ssh succeeded");
	ASSERT_OK(boot_qemu_exit_message(BOOT_PHASE_SSH_COMMAND, 128 + SIGKILL, 500, NULL, &c));
	ASSERT_CONTAINS(c, "before the ssh command finished");
	ASSERT_CONTAINS(c, "after 0.5 s");
	/* powering off was the check, but not with status 0 */
	ASSERT_OK(boot_qemu_exit_message(BOOT_PHASE_POWEROFF, 2, 1000, NULL, &d));
	ASSERT_STREQ(d, "QEMU exited with status 2 after 1.0 s");
}

/* sshd saying no to the key ends the ssh phase at once; anything else is retried. */
TEST(ssh_refused) {
	char *m = NULL;

	ASSERT_TRUE(boot_ssh_refused("demo@127.0.0.1: Permission denied (publickey)."));
	ASSERT_TRUE(boot_ssh_refused("user@127.0.0.1: Permission denied (publickey,password)."));
	ASSERT_TRUE(!boot_ssh_refused("ssh: connect to host 127.0.0.1 port 2222: Connection refused"));
	ASSERT_TRUE(!boot_ssh_refused("kex_exchange_identification: read: Connection reset by peer"));
	ASSERT_TRUE(!boot_ssh_refused("user@127.0.0.1: Permission denied (password)."));
	ASSERT_TRUE(!boot_ssh_refused(NULL));
	ASSERT_OK(boot_ssh_refused_message("k", "demo", "the rig user in the image's manifest x.img.json",
					   "demo@127.0.0.1: Permission denied (publickey).", &m));
	ASSERT_STREQ(m, "the guest refused the key k for user 'demo' (ssh: demo@127.0.0.1: Permission denied (publickey).); "
			"the user is the rig user in the image's manifest x.img.json: give --user NAME to log in as another user, "
			"or --ssh a key in demo's authorized_keys");
	free(m);
}
