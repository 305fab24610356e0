/* Running qemu-system-x86_64 for test boots: command line, KVM probe, child processes, serial matching. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define QEMU_BINARY "qemu-system-x86_64"
#define QEMU_OVMF_CODE "/usr/share/OVMF/OVMF_CODE.fd"
#define QEMU_OVMF_VARS "/usr/share/OVMF/OVMF_VARS.fd"
/* Debian's Secure Boot pair: the SMM build of the firmware, and variables with
 * Microsoft's keys enrolled and Secure Boot on (what a Windows machine ships with). */
#define QEMU_OVMF_CODE_SECBOOT "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
#define QEMU_OVMF_VARS_SECBOOT "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"

/* One hostfwd rule: 127.0.0.1:host on the host to guest in the guest, TCP. */
struct qemu_forward {
	uint16_t host;
	uint16_t guest;
};

enum qemu_accel {
	QEMU_ACCEL_TCG,
	QEMU_ACCEL_KVM,
};

enum qemu_firmware {
	QEMU_FIRMWARE_OVMF,
	QEMU_FIRMWARE_BIOS, /* QEMU's built-in SeaBIOS */
};

struct qemu_config {
	const char *binary;      /* NULL: QEMU_BINARY */
	const char *image;       /* raw disk image, attached with snapshot=on unless writable */
	bool writable;           /* guest writes reach the image and the disks (power-cut tests on a copy) */
	bool cdrom;              /* attach image as a read-only CD-ROM (AHCI) instead of a virtio disk */
	const char *const *disks; /* more raw disks, virtio, after the image, like it snapshot=on unless writable */
	size_t n_disks;
	enum qemu_firmware firmware;
	const char *ovmf_code;   /* read-only pflash */
	const char *ovmf_vars;   /* writable pflash: a private copy, or the variables kept across boots */
	bool secure_boot;        /* SMM and a secure pflash, which the Secure Boot firmware needs */
	enum qemu_accel accel;
	uint64_t memory_mib;
	unsigned cpus;
	const char *serial_path; /* the serial console is written to this file */
	const struct qemu_forward *forwards; /* forwards[0] is usually the ssh port */
	size_t n_forwards;
};

/* "HOST:GUEST", both 1..65535. */
int qemu_parse_forward(const char *s, struct qemu_forward *ret);

/* The full argument vector (argv[0] is the binary), NULL-terminated; free with strv_freep. */
int qemu_build_argv(const struct qemu_config *c, char ***ret_argv);

/* QEMU splits option values at commas; a literal comma is written twice. */
int qemu_escape_commas(const char *s, char **ret);

const char *qemu_accel_to_string(enum qemu_accel a);

/* A free TCP port on 127.0.0.1 (bind port 0, read it back, close). */
int qemu_find_free_port(uint16_t *ret);

/* Looks for a fixed string in a byte stream that arrives in pieces (Knuth-Morris-Pratt,
 * so a match split across reads, or overlapping a false start, is still found). */
struct expect_matcher {
	char *needle;
	size_t len;
	size_t *next; /* failure function */
	size_t state; /* bytes of needle matched so far */
	bool found;
};

int expect_matcher_init(struct expect_matcher *m, const char *needle);
/* Feeds n bytes; returns true once the needle has been seen (and from then on). */
bool expect_matcher_feed(struct expect_matcher *m, const void *buf, size_t n);
void expect_matcher_reset(struct expect_matcher *m);
void expect_matcher_release(struct expect_matcher *m);

/* Starts QEMU with KVM and this firmware for up to probe_ms without a disk: KVM works
 * when the VM is still running and QEMU has not reported a KVM failure.
 * Returns 1 usable, 0 broken (ret_reason says why), <0 could not run the probe. */
int qemu_probe_kvm(const struct qemu_config *c, unsigned probe_ms, char **ret_reason);

/* The words in QEMU's own output that show KVM cannot run this guest
 * ("KVM internal error", ...), or NULL when there are none. */
const char *qemu_find_kvm_failure(const char *output);
