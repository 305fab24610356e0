/* Stage port-forward: asks the router to forward [Router] ExternalPort= to the SSH port,
 * by UPnP or NAT-PMP, for a one-day lease that mlrig-portmap.timer renews at half-time
 * (it runs this stage again); PortForward=no removes a mapping made before. Only the SSH
 * port is ever mapped. A router that says no, or a rig without the library, is a note:
 * the rest of the rig is finalised either way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "parse-util.h"
#include "portmap.h"
#include "stages.h"
#include "time-util.h"

/* What was mapped before: its protocol and ports, from portmap.state. */
struct mapping {
	enum port_forward protocol;
	uint32_t external, internal;
};

static int read_mapping(struct agent *a, struct mapping *ret) {
	_cleanup_free_ char *text = NULL;
	struct mapping m = {};
	int r = agent_read(a, PORTMAP_STATE, &text, NULL);

	if (r < 0)
		return r;
	for (char *l = text, *next; l && *l; l = next) {
		char *eq;

		next = strchr(l, '\n');
		if (next)
			*next++ = 0;
		eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq++ = 0;
		if (strcmp(l, "protocol") == 0)
			m.protocol = strcmp(eq, "upnp") == 0 ? PORT_FORWARD_UPNP : strcmp(eq, "natpmp") == 0 ? PORT_FORWARD_NATPMP : PORT_FORWARD_NO;
		else if (strcmp(l, "external") == 0)
			(void)safe_atou32(eq, &m.external);
		else if (strcmp(l, "internal") == 0)
			(void)safe_atou32(eq, &m.internal);
	}
	if (m.protocol == PORT_FORWARD_NO || m.external == 0 || m.internal == 0)
		return -EBADMSG;
	*ret = m;
	return 0;
}

static int unmap(struct agent *a, const struct mapping *m, char **ret_error) {
	int r = m->protocol == PORT_FORWARD_UPNP ? upnp_unmap((uint16_t)m->external, ret_error)
						 : natpmp_unmap((uint16_t)m->internal, ret_error);

	if (r < 0)
		return r;
	if (unlinkat(a->root_fd, PORTMAP_STATE, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int remove_old(struct agent *a) {
	_cleanup_free_ char *error = NULL;
	struct mapping m;
	int r;

	if (read_mapping(a, &m) < 0) {
		agent_note(a, "skipped: [Router] PortForward=no");
		return 0;
	}
	r = unmap(a, &m, &error);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		agent_note(a, "warning: could not remove the %s mapping of port %u: %s (it ends with its lease)",
			   port_forward_to_string(m.protocol), m.external, error ? error : strerror(-r));
	else
		agent_note(a, "[Router] PortForward=no: removed the %s mapping of port %u", port_forward_to_string(m.protocol),
			   m.external);
	return 0;
}

int stage_port_forward(struct agent *a) {
	const Profile *p = a->p;
	_cleanup_free_ char *error = NULL, *text = NULL, *desc = NULL;
	struct portmap_result res;
	struct mapping old;
	int r;

	if (p->port_forward == PORT_FORWARD_NO)
		return remove_old(a);
	/* a mapping by the other protocol, or of another port, goes first: only one, only SSH */
	if (read_mapping(a, &old) >= 0 && (old.protocol != p->port_forward || old.external != p->external_port ||
					   old.internal != p->ssh_port)) {
		_cleanup_free_ char *e = NULL;
		(void)unmap(a, &old, &e);
	}
	if (asprintf(&desc, "mlrig ssh %s", p->hostname) < 0)
		return -ENOMEM;
	r = p->port_forward == PORT_FORWARD_UPNP
		    ? upnp_map((uint16_t)p->external_port, (uint16_t)p->ssh_port, desc, &res, &error)
		    : natpmp_map((uint16_t)p->external_port, (uint16_t)p->ssh_port, PORTMAP_LEASE_SECONDS, &res, &error);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		agent_note(a, "%s: %s", r == -ELIBACC ? "skipped" : "warning: no port mapping",
			   error ? error : strerror(-r));
		return 0;
	}
	if (asprintf(&text, "# mlrig-firstboot: the router's mapping of the SSH port, removed by PortForward=no.\n"
			    "protocol=%s\nexternal=%u\ninternal=%u\nlease=%u\nmapped=%llu\n",
		     port_forward_to_string(p->port_forward), res.external, p->ssh_port, res.lease,
		     (unsigned long long)now_wall()) < 0)
		return -ENOMEM;
	r = agent_write(a, PORTMAP_STATE, text, strlen(text), 0644, 0, 0);
	if (r < 0)
		return agent_fail(a, r, "cannot write /%s: %s", PORTMAP_STATE, strerror(-r));
	agent_note(a, "%s: router port %u -> %s%sport %u, %s%s", port_forward_to_string(p->port_forward), res.external,
		   res.lan_address, res.lan_address[0] ? " " : "", p->ssh_port,
		   res.lease ? "lease 24 h, renewed every 12 h by mlrig-portmap.timer" : "permanent (the router refuses leases)",
		   res.external != p->external_port ? " (the router chose another port than ExternalPort=)" : "");
	return 0;
}
