/* miniupnpc adapter: discover the LAN's Internet Gateway Device, add and delete one TCP
 * mapping; UPnP's codes become -errno here. Compiled against miniupnpc's headers (API 17,
 * libminiupnpc17 in Debian bullseye and Ubuntu 20.04 to 24.04: the structs the caller
 * allocates must match), loaded with dlopen() when the stage needs it. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dlopen-util.h"
#include "error.h"
#include "macro.h"
#include "portmap.h"
#include "upnp-util.h"

#if defined(MINIUPNPC_API_VERSION) && MINIUPNPC_API_VERSION != 17
#error "built against miniupnpc API 17 (libminiupnpc17): UPNP_GetValidIGD's signature differs in others"
#endif

#define LIBMINIUPNPC_SONAME "libminiupnpc.so.17"
#define UPNP_ONLY_PERMANENT_LEASES 725

static struct {
	void *handle; /* the library's, or a test's stand-ins (upnp_use_symbols) */
	struct upnp_symbols f;
} mu;

void upnp_use_symbols(const struct upnp_symbols *s) {
	static char stand_ins;

	if (mu.handle && mu.handle != &stand_ins)
		dlclose(mu.handle);
	mu.f = s ? *s : (struct upnp_symbols){};
	mu.handle = s ? &stand_ins : NULL;
}

static int load(char **ret_error) {
	static const char *const names[] = { LIBMINIUPNPC_SONAME, NULL };
	const struct dlsym_entry syms[] = {
		{ "upnpDiscover", (void **)&mu.f.discover, false },
		{ "freeUPNPDevlist", (void **)&mu.f.free_devlist, false },
		{ "UPNP_GetValidIGD", (void **)&mu.f.get_valid_igd, false },
		{ "FreeUPNPUrls", (void **)&mu.f.free_urls, false },
		{ "UPNP_AddPortMapping", (void **)&mu.f.add, false },
		{ "UPNP_DeletePortMapping", (void **)&mu.f.del, false },
		{ "strupnperror", (void **)&mu.f.strupnperror, false },
	};
	_cleanup_free_ char *why = NULL;
	int r;

	if (mu.handle)
		return 0;
	r = dlopen_resolve(names, syms, ELEMENTSOF(syms), &mu.handle, &why);
	if (r < 0)
		return set_error(ret_error, r, "%s not found: install libminiupnpc17 (%s)", LIBMINIUPNPC_SONAME,
				 why ? why : "?");
	return 0;
}

struct igd {
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lan[64];
};

/* The IGD that answers on the LAN within two seconds. */
static int find_igd(struct igd *ret, char **ret_error) {
	struct UPNPDev *list;
	int err = 0, r;

	list = mu.f.discover(2000, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &err);
	if (!list)
		return set_error(ret_error, -ENODEV, "no UPnP router answered on the LAN (is UPnP on in the router?)");
	memset(ret, 0, sizeof(*ret));
	r = mu.f.get_valid_igd(list, &ret->urls, &ret->data, ret->lan, sizeof(ret->lan));
	mu.f.free_devlist(list);
	if (r != 1 && r != 2) {
		if (r > 0)
			mu.f.free_urls(&ret->urls);
		return set_error(ret_error, -ENODEV, "UPnP devices answered, but no Internet Gateway Device");
	}
	return 0;
}

int upnp_map(uint16_t external, uint16_t internal, const char *description, struct portmap_result *ret,
	     char **ret_error) {
	struct igd g;
	char ext[8], in[8], lease[16];
	bool permanent = false;
	int r;

	if ((r = load(ret_error)) < 0 || (r = find_igd(&g, ret_error)) < 0)
		return r;
	snprintf(ext, sizeof(ext), "%u", (unsigned)external);
	snprintf(in, sizeof(in), "%u", (unsigned)internal);
	snprintf(lease, sizeof(lease), "%u", PORTMAP_LEASE_SECONDS);
	r = mu.f.add(g.urls.controlURL, g.data.first.servicetype, ext, in, g.lan, description, "TCP", NULL, lease);
	if (r == UPNP_ONLY_PERMANENT_LEASES) { /* the router keeps it until it is deleted */
		permanent = true;
		r = mu.f.add(g.urls.controlURL, g.data.first.servicetype, ext, in, g.lan, description, "TCP", NULL, "0");
	}
	mu.f.free_urls(&g.urls);
	if (r != UPNPCOMMAND_SUCCESS)
		return set_error(ret_error, -EPROTO, "the router refused the mapping of port %u: UPnP error %d (%s)",
				 (unsigned)external, r, mu.f.strupnperror(r) ? mu.f.strupnperror(r) : "?");
	*ret = (struct portmap_result){ .external = external, .lease = permanent ? 0 : PORTMAP_LEASE_SECONDS };
	snprintf(ret->lan_address, sizeof(ret->lan_address), "%s", g.lan);
	return 0;
}

int upnp_unmap(uint16_t external, char **ret_error) {
	struct igd g;
	char ext[8];
	int r;

	if ((r = load(ret_error)) < 0 || (r = find_igd(&g, ret_error)) < 0)
		return r;
	snprintf(ext, sizeof(ext), "%u", (unsigned)external);
	r = mu.f.del(g.urls.controlURL, g.data.first.servicetype, ext, "TCP", NULL);
	mu.f.free_urls(&g.urls);
	if (r != UPNPCOMMAND_SUCCESS && r != 714) /* 714: NoSuchEntryInArray, gone already */
		return set_error(ret_error, -EPROTO, "the router refused to remove the mapping of port %u: UPnP error %d (%s)",
				 (unsigned)external, r, mu.f.strupnperror(r) ? mu.f.strupnperror(r) : "?");
	return 0;
}
