/* Running qemu-system-x86_64 for test boots: command line, KVM probe, child processes, serial matching. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"
#include "qemu.h"
#include "time-util.h"

static const char *const kvm_failure_markers[] = {
	"KVM internal error",
	"emulation failure",
	"failed to initialize kvm",
	"Could not access KVM kernel module",
	"kvm run failed",
	"failed to set MSR", /* this kind of machine, with -cpu host: the vCPU cannot take the host's MSRs */
	NULL,
};

const char *qemu_accel_to_string(enum qemu_accel a) {
	return a == QEMU_ACCEL_KVM ? "kvm" : "tcg";
}

static int parse_port(const char *s, size_t n, uint16_t *ret) {
	char buf[8];
	uint32_t v;
	int r;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	r = safe_atou32(buf, &v);
	if (r < 0)
		return r;
	if (v == 0 || v > 65535)
		return -ERANGE;
	*ret = (uint16_t)v;
	return 0;
}

int qemu_parse_forward(const char *s, struct qemu_forward *ret) {
	const char *colon;
	struct qemu_forward f;
	int r;

	if (!s)
		return -EINVAL;
	colon = strchr(s, ':');
	if (!colon || strchr(colon + 1, ':'))
		return -EINVAL;
	r = parse_port(s, (size_t)(colon - s), &f.host);
	if (r < 0)
		return r;
	r = parse_port(colon + 1, strlen(colon + 1), &f.guest);
	if (r < 0)
		return r;
	*ret = f;
	return 0;
}

int qemu_escape_commas(const char *s, char **ret) {
	size_t n = 0;
	char *out, *p;

	for (const char *c = s; *c; c++)
		n += *c == ',' ? 2 : 1;
	out = malloc(n + 1);
	if (!out)
		return -ENOMEM;
	p = out;
	for (const char *c = s; *c; c++) {
		*p++ = *c;
		if (*c == ',')
			*p++ = ',';
	}
	*p = 0;
	*ret = out;
	return 0;
}

/* A growing NULL-terminated argument vector. */
struct argv_builder {
	char **v;
	size_t n, allocated;
	int error;
};

static void argv_add_owned(struct argv_builder *b, char *s) {
	if (b->error) {
		free(s);
		return;
	}
	if (!s) {
		b->error = -ENOMEM;
		return;
	}
	if (b->n + 2 > b->allocated) {
		size_t na = b->allocated ? b->allocated * 2 : 32;
		char **nv = realloc(b->v, na * sizeof(char *));

		if (!nv) {
			free(s);
			b->error = -ENOMEM;
			return;
		}
		b->v = nv;
		b->allocated = na;
	}
	b->v[b->n++] = s;
	b->v[b->n] = NULL;
}

static void argv_add(struct argv_builder *b, const char *s) {
	argv_add_owned(b, strdup(s));
}

_printf_(2, 3) static void argv_addf(struct argv_builder *b, const char *fmt, ...) {
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	argv_add_owned(b, s);
}

/* "-opt prefix<escaped path>suffix" */
static void argv_add_path_opt(struct argv_builder *b, const char *opt, const char *prefix, const char *path,
			      const char *suffix) {
	_cleanup_free_ char *esc = NULL;

	if (b->error)
		return;
	if (qemu_escape_commas(path, &esc) < 0) {
		b->error = -ENOMEM;
		return;
	}
	argv_add(b, opt);
	argv_addf(b, "%s%s%s", prefix, esc, suffix);
}

int qemu_build_argv(const struct qemu_config *c, char ***ret_argv) {
	struct argv_builder b = {};
	const char *virtio;

	if (!c || c->memory_mib == 0)
		return -EINVAL;
	if (c->firmware == QEMU_FIRMWARE_OVMF && (!c->ovmf_code || !c->ovmf_vars))
		return -EINVAL;
	virtio = c->writable ? ",format=raw,if=virtio,cache=writeback" : ",format=raw,if=virtio,snapshot=on";

	argv_add(&b, c->binary ? c->binary : QEMU_BINARY);
	argv_add(&b, "-nodefaults");
	argv_add(&b, "-no-user-config");
	argv_add(&b, "-machine");
	/* Secure Boot: the variables are only writable from SMM, so the OS cannot change the keys */
	argv_add(&b, c->secure_boot ? "q35,smm=on" : "q35");
	if (c->secure_boot) {
		argv_add(&b, "-global");
		argv_add(&b, "driver=cfi.pflash01,property=secure,value=on");
	}
	argv_add(&b, "-accel");
	argv_add(&b, qemu_accel_to_string(c->accel));
	if (c->accel == QEMU_ACCEL_KVM) {
		argv_add(&b, "-cpu");
		argv_add(&b, "host");
	}
	argv_add(&b, "-smp");
	argv_addf(&b, "%u", c->cpus ? c->cpus : 1);
	argv_add(&b, "-m");
	argv_addf(&b, "%" PRIu64, c->memory_mib);
	argv_add(&b, "-display");
	argv_add(&b, "none");
	argv_add(&b, "-monitor");
	argv_add(&b, "none");
	argv_add(&b, "-parallel");
	argv_add(&b, "none");

	if (c->firmware == QEMU_FIRMWARE_OVMF) {
		argv_add_path_opt(&b, "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=", c->ovmf_code, "");
		argv_add_path_opt(&b, "-drive", "if=pflash,format=raw,unit=1,file=", c->ovmf_vars, "");
	}

	/* "file:" takes the rest of the string as the path, commas included. */
	argv_add(&b, "-serial");
	if (c->serial_path)
		argv_addf(&b, "file:%s", c->serial_path);
	else
		argv_add(&b, "none");

	/* snapshot=on: guest writes go to a temp overlay, the image is never modified. */
	if (c->image && c->cdrom)
		argv_add_path_opt(&b, "-drive", "file=", c->image, ",format=raw,if=ide,media=cdrom,readonly=on");
	else if (c->image)
		argv_add_path_opt(&b, "-drive", "file=", c->image, virtio);
	for (size_t i = 0; i < c->n_disks; i++)
		argv_add_path_opt(&b, "-drive", "file=", c->disks[i], virtio);

	if (c->n_forwards > 0) {
		_cleanup_free_ char *netdev = strdup("user,id=n0");

		for (size_t i = 0; netdev && i < c->n_forwards; i++) {
			char *n = NULL;

			if (asprintf(&n, "%s,hostfwd=tcp:127.0.0.1:%u-:%u", netdev, (unsigned)c->forwards[i].host,
				     (unsigned)c->forwards[i].guest) < 0)
				n = NULL;
			free(netdev);
			netdev = n;
		}
		argv_add(&b, "-netdev");
		argv_add_owned(&b, TAKE_PTR(netdev));
		argv_add(&b, "-device");
		argv_add(&b, "virtio-net-pci,netdev=n0");
	} else {
		argv_add(&b, "-nic");
		argv_add(&b, "none");
	}
	argv_add(&b, "-device");
	argv_add(&b, "virtio-rng-pci"); /* entropy early in boot: sshd key generation does not stall */

	if (b.error) {
		strv_freep(&b.v);
		return b.error;
	}
	*ret_argv = b.v;
	return 0;
}

int qemu_find_free_port(uint16_t *ret) {
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t len = sizeof(sa);
	_cleanup_close_ int fd = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return negative_errno();
	*ret = ntohs(sa.sin_port);
	return 0;
}

int expect_matcher_init(struct expect_matcher *m, const char *needle) {
	size_t len = strlen(needle), k = 0;

	*m = (struct expect_matcher){};
	if (len == 0)
		return -EINVAL;
	m->needle = strdup(needle);
	m->next = calloc(len, sizeof(size_t));
	if (!m->needle || !m->next) {
		expect_matcher_release(m);
		return -ENOMEM;
	}
	m->len = len;
	/* next[i]: length of the longest proper border of needle[0..i] */
	for (size_t i = 1; i < len; i++) {
		while (k > 0 && needle[i] != needle[k])
			k = m->next[k - 1];
		if (needle[i] == needle[k])
			k++;
		m->next[i] = k;
	}
	return 0;
}

bool expect_matcher_feed(struct expect_matcher *m, const void *buf, size_t n) {
	const char *p = buf;

	if (m->found)
		return true;
	for (size_t i = 0; i < n; i++) {
		while (m->state > 0 && p[i] != m->needle[m->state])
			m->state = m->next[m->state - 1];
		if (p[i] == m->needle[m->state])
			m->state++;
		if (m->state == m->len) {
			m->found = true;
			return true;
		}
	}
	return false;
}

void expect_matcher_reset(struct expect_matcher *m) {
	m->state = 0;
	m->found = false;
}

void expect_matcher_release(struct expect_matcher *m) {
	free(m->needle);
	free(m->next);
	*m = (struct expect_matcher){};
}

const char *qemu_find_kvm_failure(const char *output) {
	for (size_t i = 0; kvm_failure_markers[i]; i++)
		if (strstr(output, kvm_failure_markers[i]))
			return kvm_failure_markers[i];
	return NULL;
}

int qemu_probe_kvm(const struct qemu_config *c, unsigned probe_ms, char **ret_reason) {
	struct qemu_config probe = *c;
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_close_ int rfd = -1, wfd = -1;
	char out[8192];
	size_t fill = 0;
	uint64_t until;
	pid_t pid;
	int fds[2], r, status, result = 1;
	char *reason = NULL;

	/* The firmware alone is enough to trip a KVM that cannot run guests; no disk, no network. */
	probe.accel = QEMU_ACCEL_KVM;
	probe.image = NULL;
	probe.n_disks = 0;
	probe.serial_path = NULL;
	probe.n_forwards = 0;
	probe.memory_mib = 128;
	probe.cpus = 1;
	r = qemu_build_argv(&probe, &argv);
	if (r < 0)
		return r;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return negative_errno();
	rfd = fds[0];
	wfd = fds[1];
	r = process_spawn(&(struct process_options){
				  .argv = argv, .stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_FD, .stdout_fd = wfd,
				  .stderr_mode = PROCESS_TO_STDOUT, .new_process_group = true,
			  }, &pid);
	if (r < 0)
		return r;
	closep(&wfd);

	until = now_ms() + probe_ms;
	for (;;) {
		uint64_t t = now_ms();
		struct pollfd p = { .fd = rfd, .events = POLLIN };
		const char *marker;

		if (t >= until)
			break;
		r = poll(&p, 1, (int)MIN(until - t, (uint64_t)100));
		if (r > 0) {
			ssize_t n = read(rfd, out + fill, sizeof(out) - 1 - fill);

			if (n > 0) {
				fill += (size_t)n;
				out[fill] = 0;
				marker = qemu_find_kvm_failure(out);
				if (marker) {
					result = 0;
					r = asprintf(&reason, "QEMU reported \"%s\"", marker);
					break;
				}
				if (fill >= sizeof(out) - 1)
					fill = 0; /* only the start of QEMU's output matters */
			}
		}
		if (process_try_wait(pid, &status) > 0) {
			char how[64];

			pid = 0;
			out[fill] = 0;
			result = 0;
			r = asprintf(&reason, "QEMU %s during the probe%s%s", process_status_to_string(status, how, sizeof(how)),
				     fill ? ": " : "", fill ? string_strip(out) : "");
			break;
		}
	}
	process_kill_and_wait(pid, 2000);
	if (result == 0) {
		if (r < 0 || !reason)
			return -ENOMEM;
		*ret_reason = reason;
	}
	return result;
}
