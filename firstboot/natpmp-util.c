/* libnatpmp adapter: one TCP mapping asked of the default gateway (RFC 6886), and its
 * removal (lifetime 0); NAT-PMP's codes become -errno here. Compiled against libnatpmp's
 * header (natpmp_t is the caller's), loaded with dlopen() when the stage needs it. */
#include <dlfcn.h>
#include <errno.h>
#include <natpmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>

#include "dlopen-util.h"
#include "error.h"
#include "macro.h"
#include "portmap.h"
#include "time-util.h"

#define LIBNATPMP_SONAME "libnatpmp.so.1"

static struct {
	void *handle;
	int (*init)(natpmp_t *p, int forcegw, in_addr_t forcedgw);
	int (*close)(natpmp_t *p);
	int (*send_mapping)(natpmp_t *p, int protocol, uint16_t privateport, uint16_t publicport, uint32_t lifetime);
	int (*get_timeout)(natpmp_t *p, struct timeval *timeout);
	int (*read_response)(natpmp_t *p, natpmpresp_t *response);
	const char *(*strerr)(int r);
} np;

static int load(char **ret_error) {
	static const char *const names[] = { LIBNATPMP_SONAME, NULL };
	const struct dlsym_entry syms[] = {
		{ "initnatpmp", (void **)&np.init, false },
		{ "closenatpmp", (void **)&np.close, false },
		{ "sendnewportmappingrequest", (void **)&np.send_mapping, false },
		{ "getnatpmprequesttimeout", (void **)&np.get_timeout, false },
		{ "readnatpmpresponseorretry", (void **)&np.read_response, false },
		{ "strnatpmperr", (void **)&np.strerr, false },
	};
	_cleanup_free_ char *why = NULL;
	int r;

	if (np.handle)
		return 0;
	r = dlopen_resolve(names, syms, ELEMENTSOF(syms), &np.handle, &why);
	if (r < 0)
		return set_error(ret_error, r, "%s not found: install libnatpmp1 (%s)", LIBNATPMP_SONAME, why ? why : "?");
	return 0;
}

/* Sends the request and waits for the answer, the library's own retries included, for at
 * most 4 s (the library alone would retry for two minutes at a router without NAT-PMP). */
static int request(uint16_t internal, uint16_t external, uint32_t lifetime, natpmpresp_t *ret, char **ret_error) {
	uint64_t deadline = now_ms() + 4000;
	natpmp_t n;
	int r;

	r = np.init(&n, 0, 0);
	if (r < 0)
		return set_error(ret_error, -ENODEV, "NAT-PMP: no default gateway to ask (%s)", np.strerr(r));
	r = np.send_mapping(&n, NATPMP_PROTOCOL_TCP, internal, external, lifetime);
	if (r >= 0)
		r = NATPMP_TRYAGAIN;
	while (r == NATPMP_TRYAGAIN && now_ms() < deadline) {
		uint64_t left = deadline - now_ms();
		struct timeval tv;
		fd_set fds;

		FD_ZERO(&fds);
		FD_SET(n.s, &fds);
		if (np.get_timeout(&n, &tv) < 0)
			break;
		if ((uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 > left)
			tv = (struct timeval){ .tv_sec = (time_t)(left / 1000), .tv_usec = (suseconds_t)(left % 1000 * 1000) };
		(void)select(n.s + 1, &fds, NULL, NULL, &tv);
		r = np.read_response(&n, ret);
	}
	np.close(&n);
	if (r == NATPMP_ERR_NOGATEWAYSUPPORT || r == NATPMP_TRYAGAIN || r == NATPMP_ERR_RECVFROM ||
	    r == NATPMP_ERR_NOPENDINGREQ)
		return set_error(ret_error, -ENODEV, "NAT-PMP: the default gateway does not answer (is NAT-PMP on in the router?)");
	if (r < 0)
		return set_error(ret_error, -EPROTO, "NAT-PMP: the router refused the mapping of port %u: %s", (unsigned)external,
				 np.strerr(r));
	return 0;
}

int natpmp_map(uint16_t external, uint16_t internal, uint32_t lease, struct portmap_result *ret, char **ret_error) {
	natpmpresp_t resp;
	int r;

	if ((r = load(ret_error)) < 0 || (r = request(internal, external, lease, &resp, ret_error)) < 0)
		return r;
	*ret = (struct portmap_result){ .external = resp.pnu.newportmapping.mappedpublicport,
					.lease = resp.pnu.newportmapping.lifetime };
	return 0;
}

int natpmp_unmap(uint16_t internal, char **ret_error) {
	natpmpresp_t resp;
	int r;

	/* RFC 6886 3.4: lifetime 0 and external port 0 remove the mapping of the internal port */
	if ((r = load(ret_error)) < 0 || (r = request(internal, 0, 0, &resp, ret_error)) < 0)
		return r;
	return 0;
}
