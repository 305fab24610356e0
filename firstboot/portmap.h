/* The router's mapping of the SSH port: UPnP IGD through miniupnpc (upnp-util.c), NAT-PMP
 * through libnatpmp (natpmp-util.c). Both libraries are loaded with dlopen(), so a rig
 * without them boots and the stage says what it skipped. */
#pragma once

#include <stdint.h>

#define PORTMAP_LEASE_SECONDS (24U * 60 * 60) /* renewed at half-time by mlrig-portmap.timer */
#define PORTMAP_STATE AGENT_STATE_DIR "/portmap.state"

struct portmap_result {
	uint16_t external;     /* the router's port (NAT-PMP may give another than asked) */
	uint32_t lease;        /* seconds; 0 = permanent (a UPnP router that refuses leases: error 725) */
	char lan_address[64];  /* the rig's address the router maps to (UPnP) */
};

/* What these return besides 0:
 *   -ELIBACC  the library is missing or too old: *ret_error is "libminiupnpc.so.17 not found: install libminiupnpc17"
 *   -ENODEV   no router answered (no UPnP IGD on the LAN, no NAT-PMP at the default gateway)
 *   -EPROTO   the router refused: *ret_error has its code and words
 *   -ENOMEM */
int upnp_map(uint16_t external, uint16_t internal, const char *description, struct portmap_result *ret,
	     char **ret_error);
int upnp_unmap(uint16_t external, char **ret_error);
int natpmp_map(uint16_t external, uint16_t internal, uint32_t lease, struct portmap_result *ret, char **ret_error);
int natpmp_unmap(uint16_t internal, char **ret_error);
