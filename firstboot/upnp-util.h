/* miniupnpc's functions as upnp-util.c calls them: filled by dlopen() on a rig, or by a
 * unit test with stand-ins (a router that answers 725, say), which no real IGD here does. */
#pragma once

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>

struct upnp_symbols {
	struct UPNPDev *(*discover)(int delay, const char *multicastif, const char *minissdpdsock, int localport,
				    int ipv6, unsigned char ttl, int *error);
	void (*free_devlist)(struct UPNPDev *l);
	int (*get_valid_igd)(struct UPNPDev *l, struct UPNPUrls *urls, struct IGDdatas *data, char *lanaddr, int len);
	void (*free_urls)(struct UPNPUrls *urls);
	int (*add)(const char *controlURL, const char *servicetype, const char *extPort, const char *inPort,
		   const char *inClient, const char *desc, const char *proto, const char *remoteHost,
		   const char *leaseDuration);
	int (*del)(const char *controlURL, const char *servicetype, const char *extPort, const char *proto,
		   const char *remoteHost);
	const char *(*strupnperror)(int err);
};

/* Tests: upnp_map() and upnp_unmap() call these instead of libminiupnpc's (every member set);
 * NULL goes back to loading the library. */
void upnp_use_symbols(const struct upnp_symbols *s);
