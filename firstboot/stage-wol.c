/* Stage wake-on-lan: find the wired interface ([WakeOnLan] Interface= name,
 * MAC or auto = the default route's), turn on magic-packet wake with the
 * SIOCETHTOOL ioctl, and persist it (netplan when present, else a .link file);
 * the MAC goes into WOL_RIG_MAC_FILE for the laptop's 'mlrig wake'. */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "parse-util.h"
#include "stages.h"
#include "wol.h"

/* The interface of the default route from proc/net/route under the root. */
static int default_route_interface(struct agent *a, char **ret) {
	_cleanup_free_ char *text = NULL;
	int r = agent_read(a, "proc/net/route", &text, NULL);

	if (r < 0)
		return r;
	/* "Iface<TAB>Destination<TAB>Gateway ...": the default route's destination is 00000000 */
	for (char *l = strchr(text, '\n'); l && *++l; l = strchr(l, '\n')) {
		size_t name = strcspn(l, " \t\n"), gap = strspn(l + name, " \t");
		const char *dest = l + name + gap;

		if (name == 0 || name > IF_NAMESIZE || strncmp(dest, "00000000", 8) != 0 || !strchr(" \t\n", dest[8]))
			continue;
		*ret = strndup(l, name);
		return *ret ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

static int interface_mac(struct agent *a, const char *ifname, char **ret) {
	_cleanup_free_ char *path = NULL, *mac = NULL;
	int r;

	if (asprintf(&path, "sys/class/net/%s/address", ifname) < 0)
		return -ENOMEM;
	r = agent_read(a, path, &mac, NULL);
	if (r < 0)
		return r;
	*ret = strdup(string_strip(mac));
	return *ret ? 0 : -ENOMEM;
}

static int interface_by_mac(struct agent *a, const char *want, char **ret) {
	_cleanup_close_ int fd = openat(a->root_fd, "sys/class/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r = -ENOENT;

	if (fd < 0)
		return negative_errno();
	d = fdopendir(TAKE_FD(fd));
	if (!d)
		return negative_errno();
	while ((de = readdir(d)) && r == -ENOENT) {
		_cleanup_free_ char *mac = NULL;

		if (de->d_name[0] == '.' || interface_mac(a, de->d_name, &mac) < 0)
			continue;
		if (strcasecmp(mac, want) == 0) {
			*ret = strdup(de->d_name);
			r = *ret ? 0 : -ENOMEM;
		}
	}
	closedir(d);
	return r;
}

static int resolve(struct agent *a, char **ret_ifname, char **ret_mac) {
	const char *want = a->p->wol_interface;
	_cleanup_free_ char *ifname = NULL, *mac = NULL;
	int r;

	if (strcmp(want, "auto") == 0) {
		r = default_route_interface(a, &ifname);
		if (r < 0)
			return agent_fail(a, r, "[WakeOnLan] Interface=auto: no default route to pick the interface from; name it in the profile");
	} else if (strlen(want) == 17 && want[2] == ':') {
		r = interface_by_mac(a, want, &ifname);
		if (r < 0)
			return agent_fail(a, r, "[WakeOnLan] Interface=%s: no interface has this MAC", want);
	} else if (!(ifname = strdup(want)))
		return -ENOMEM;
	r = interface_mac(a, ifname, &mac);
	if (r < 0)
		return agent_fail(a, r, "[WakeOnLan] Interface=%s: interface %s not found", want, ifname);
	*ret_ifname = TAKE_PTR(ifname);
	*ret_mac = TAKE_PTR(mac);
	return 0;
}

/* 1 when set now, 0 when the NIC cannot wake on magic packets. */
static int set_wol(struct agent *a, const char *ifname) {
	struct ethtool_wolinfo wol = { .cmd = ETHTOOL_GWOL };
	struct ifreq ifr = {};
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return agent_fail(a, -errno, "cannot open a socket for ethtool: %m");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&wol;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		if (errno == EOPNOTSUPP || errno == EINVAL)
			return 0;
		return agent_fail(a, -errno, "ETHTOOL_GWOL on %s: %m", ifname);
	}
	if (!(wol.supported & WAKE_MAGIC))
		return 0;
	if (wol.wolopts & WAKE_MAGIC)
		return 1;
	wol.cmd = ETHTOOL_SWOL;
	wol.wolopts |= WAKE_MAGIC;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return agent_fail(a, -errno, "ETHTOOL_SWOL on %s: %m", ifname);
	return 1;
}

static int persist(struct agent *a, const char *mac, const char **ret_path) {
	_cleanup_free_ char *text = NULL;
	const char *path;
	int r;

	if (agent_exists(a, "usr/sbin/netplan") >= 0) {
		path = "etc/netplan/60-mlrig-wol.yaml";
		r = asprintf(&text, "# Written by mlrig-firstboot: Wake-on-LAN on the rig's wired NIC.\n"
				    "network:\n  version: 2\n  ethernets:\n    mlrig-wol:\n"
				    "      match:\n        macaddress: \"%s\"\n      wakeonlan: true\n      dhcp4: true\n", mac);
		if (r >= 0)
			r = agent_mkdir(a, "etc/netplan", 0755, 0, 0);
	} else {
		/* a .link file replaces 99-default.link for this NIC: keep its naming policy */
		path = "etc/systemd/network/50-mlrig-wol.link";
		r = asprintf(&text, "# Written by mlrig-firstboot: Wake-on-LAN on the rig's wired NIC.\n"
				    "[Match]\nMACAddress=%s\n\n[Link]\nNamePolicy=keep kernel database onboard slot path\n"
				    "MACAddressPolicy=persistent\nWakeOnLan=magic\n", mac);
		if (r >= 0)
			r = agent_mkdir(a, "etc/systemd/network", 0755, 0, 0);
	}
	if (r < 0)
		return r == -1 ? -ENOMEM : r;
	r = agent_write(a, path, text, strlen(text), path[4] == 'n' ? 0600 : 0644, 0, 0);
	if (r < 0)
		return agent_fail(a, r, "cannot write /%s: %s", path, strerror(-r));
	*ret_path = path;
	return 0;
}

int stage_wol(struct agent *a) {
	_cleanup_free_ char *ifname = NULL, *mac = NULL;
	const char *path = NULL;
	int r, now = -1;

	if (!a->p->wol_enable) {
		agent_note(a, "skipped: [WakeOnLan] Enable=no");
		return 0;
	}
	r = resolve(a, &ifname, &mac);
	if (r < 0)
		return r;
	if (a->live) {
		now = set_wol(a, ifname);
		if (now < 0)
			return now;
		if (now == 0) {
			agent_say("warning: %s (%s) does not support Wake-on-LAN magic packets; leaving it off", ifname, mac);
			agent_note(a, "warning: %s (%s) does not support Wake-on-LAN; skipped", ifname, mac);
			return 0;
		}
	}
	r = persist(a, mac, &path);
	if (r < 0)
		return r;
	/* for the laptop: its shortcuts fetch it once, so they can wake the rig while it is off */
	_cleanup_free_ char *line = NULL;
	if (asprintf(&line, "%s\n", mac) < 0)
		return -ENOMEM;
	r = agent_write(a, WOL_RIG_MAC_FILE + 1, line, strlen(line), 0644, 0, 0);
	if (r < 0)
		return agent_fail(a, r, "cannot write " WOL_RIG_MAC_FILE ": %s", strerror(-r));
	agent_note(a, "%s (%s): %s, persisted in /%s", ifname, mac, now > 0 ? "on now" : "not applied now (not the running system)", path);
	return 0;
}
