/* Stage firewall: inbound closed except the SSH port. With ufw (Ubuntu has it) through ufw's
 * own commands; without it, the nftables table the builder laid in /usr/share/mlrig, copied to
 * /etc/mlrig/firewall.nft for mlrig-firewall.service. Enable=no undoes what this stage set. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "parse-util.h"
#include "stages.h"

#define FIREWALL_TEMPLATE "usr/share/mlrig/firewall.nft"
#define FIREWALL_NFT "etc/mlrig/firewall.nft"
#define FIREWALL_STATE AGENT_STATE_DIR "/firewall" /* "ufw" or "nftables": what to undo */

static int with_ufw(struct agent *a) {
	char port[16];
	int r;

	snprintf(port, sizeof(port), "%u/tcp", a->p->ssh_port);
	if (!a->live) {
		agent_note(a, "ufw: not the running system, nothing applied (the rig's first boot does it)");
		return 0;
	}
	/* the SSH rule goes in before ufw is enabled: the session that runs this may be SSH */
	char *const allow[] = { "ufw", "allow", port, "comment", "mlrig: ssh", NULL };
	char *const deny_in[] = { "ufw", "default", "deny", "incoming", NULL };
	char *const enable[] = { "ufw", "--force", "enable", NULL };
	/* outbound stays as ufw has it (allowed by default): each ufw run takes seconds on a small rig */
	if ((r = agent_run(a, "ufw allow", allow, NULL)) < 0 || (r = agent_run(a, "ufw default", deny_in, NULL)) < 0 ||
	    (r = agent_run(a, "ufw enable", enable, NULL)) < 0)
		return r;
	r = agent_write(a, FIREWALL_STATE, "ufw\n", 4, 0644, 0, 0);
	if (r < 0)
		return agent_fail(a, r, "cannot write /%s: %s", FIREWALL_STATE, strerror(-r));
	agent_note(a, "ufw: inbound denied except %s", port);
	return 0;
}

static int with_nftables(struct agent *a) {
	_cleanup_free_ char *rules = NULL, *host = NULL;
	size_t size;
	int r;

	r = agent_read(a, FIREWALL_TEMPLATE, &rules, &size);
	if (r < 0)
		return agent_fail(a, r, "cannot read /%s (laid by mlrig): %s", FIREWALL_TEMPLATE, strerror(-r));
	r = agent_write(a, FIREWALL_NFT, rules, size, 0644, 0, 0);
	if (r >= 0)
		r = agent_write(a, FIREWALL_STATE, "nftables\n", 9, 0644, 0, 0);
	if (r < 0)
		return agent_fail(a, r, "cannot write /%s: %s", FIREWALL_NFT, strerror(-r));
	if (a->live) {
		if (!(host = agent_host_path(a, FIREWALL_NFT)))
			return -ENOMEM;
		char *const load[] = { "nft", "-f", host, NULL };
		r = agent_run(a, "nft -f", load, NULL);
		if (r < 0)
			return r;
	}
	agent_note(a, "nftables: inbound dropped except tcp port %u, in /%s (mlrig-firewall.service loads it at boot)%s",
		   a->p->ssh_port, FIREWALL_NFT, a->live ? "" : "; not loaded now (not the running system)");
	return 0;
}

/* Enable=no: take back what an earlier run set, nothing else. */
static int undo(struct agent *a) {
	_cleanup_free_ char *was = NULL;

	if (agent_read(a, FIREWALL_STATE, &was, NULL) < 0) {
		agent_note(a, "skipped: [Firewall] Enable=no (inbound as the base system has it)");
		return 0;
	}
	string_strip(was);
	if (strcmp(was, "ufw") == 0 && a->live) {
		char *const disable[] = { "ufw", "--force", "disable", NULL };
		int r = agent_run(a, "ufw disable", disable, NULL);
		if (r < 0)
			return r;
	} else if (strcmp(was, "nftables") == 0) {
		if (unlinkat(a->root_fd, FIREWALL_NFT, 0) < 0 && errno != ENOENT)
			return agent_fail(a, -errno, "cannot remove /%s: %m", FIREWALL_NFT);
		if (a->live) {
			char *const del[] = { "nft", "delete", "table", "inet", "mlrig", NULL };
			(void)agent_run(a, "nft delete table", del, NULL); /* gone already is fine */
		}
	}
	(void)unlinkat(a->root_fd, FIREWALL_STATE, 0);
	agent_note(a, "[Firewall] Enable=no: the %s rules mlrig set are gone", was);
	return 0;
}

int stage_firewall(struct agent *a) {
	if (!a->p->firewall_enable)
		return undo(a);
	if (agent_exists(a, "usr/sbin/ufw") >= 0)
		return with_ufw(a);
	return with_nftables(a);
}
