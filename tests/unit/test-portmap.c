/* UPnP port mapping with miniupnpc's functions replaced by stand-ins (upnp_use_symbols): a
 * router that refuses leases (error 725, OnlyPermanentLeasesSupported) gets a permanent
 * mapping, which no miniupnpd here can show; other refusals are errors, not retried. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fileio.h"
#include "macro.h"
#include "portmap.h"
#include "stages.h"
#include "test.h"
#include "upnp-util.h"

#define CONTROL_URL "http://192.168.77.1:5000/ctl/IPConn"
#define SERVICE "urn:schemas-upnp-org:service:WANIPConnection:1"

/* What the stand-in router does and what it was asked. */
static struct {
	int answer_lease;     /* AddPortMapping with a lease > 0 */
	int answer_permanent; /* AddPortMapping with lease 0 */
	bool no_router;
	int calls;
	char lease[2][16], ext[2][8], in[2][8], client[2][64], proto[2][8];
	int freed_urls;
} igd;

static struct UPNPDev *stub_discover(int delay, const char *multicastif, const char *minissdpdsock, int localport,
				     int ipv6, unsigned char ttl, int *error) {
	static struct UPNPDev dev;

	(void)delay, (void)multicastif, (void)minissdpdsock, (void)localport, (void)ipv6, (void)ttl;
	*error = 0;
	return igd.no_router ? NULL : &dev;
}

static void stub_free_devlist(struct UPNPDev *l) {
	(void)l;
}

static int stub_get_valid_igd(struct UPNPDev *l, struct UPNPUrls *urls, struct IGDdatas *data, char *lanaddr, int len) {
	(void)l;
	urls->controlURL = (char *)CONTROL_URL;
	snprintf(data->first.servicetype, sizeof(data->first.servicetype), "%s", SERVICE);
	snprintf(lanaddr, (size_t)len, "192.168.77.2");
	return 1; /* a connected IGD */
}

static void stub_free_urls(struct UPNPUrls *urls) {
	(void)urls;
	igd.freed_urls++;
}

static int stub_add(const char *controlURL, const char *servicetype, const char *extPort, const char *inPort,
		    const char *inClient, const char *desc, const char *proto, const char *remoteHost,
		    const char *leaseDuration) {
	int i = igd.calls++;

	ASSERT_STREQ(controlURL, CONTROL_URL);
	ASSERT_STREQ(servicetype, SERVICE);
	ASSERT_TRUE(desc != NULL && remoteHost == NULL);
	if (i < 2) {
		snprintf(igd.lease[i], sizeof(igd.lease[i]), "%s", leaseDuration);
		snprintf(igd.ext[i], sizeof(igd.ext[i]), "%s", extPort);
		snprintf(igd.in[i], sizeof(igd.in[i]), "%s", inPort);
		snprintf(igd.client[i], sizeof(igd.client[i]), "%s", inClient);
		snprintf(igd.proto[i], sizeof(igd.proto[i]), "%s", proto);
	}
	return strcmp(leaseDuration, "0") == 0 ? igd.answer_permanent : igd.answer_lease;
}

static int stub_del(const char *controlURL, const char *servicetype, const char *extPort, const char *proto,
		    const char *remoteHost) {
	(void)controlURL, (void)servicetype, (void)extPort, (void)proto, (void)remoteHost;
	return UPNPCOMMAND_SUCCESS;
}

static const char *stub_strupnperror(int err) {
	return err == 725 ? "OnlyPermanentLeasesSupported" : err == 718 ? "ConflictInMappingEntry" : "some UPnP error";
}

static void router(int answer_lease, int answer_permanent) {
	static const struct upnp_symbols stubs = {
		.discover = stub_discover, .free_devlist = stub_free_devlist, .get_valid_igd = stub_get_valid_igd,
		.free_urls = stub_free_urls, .add = stub_add, .del = stub_del, .strupnperror = stub_strupnperror,
	};

	memset(&igd, 0, sizeof(igd));
	igd.answer_lease = answer_lease;
	igd.answer_permanent = answer_permanent;
	upnp_use_symbols(&stubs);
}

TEST(upnp_725_gets_a_permanent_mapping) {
	struct portmap_result res = {};
	char *error = NULL;

	router(725, UPNPCOMMAND_SUCCESS);
	ASSERT_OK(upnp_map(2222, 22, "mlrig ssh rig", &res, &error));
	ASSERT_TRUE(error == NULL);
	ASSERT_EQ(igd.calls, 2);
	ASSERT_STREQ(igd.lease[0], "86400");
	ASSERT_STREQ(igd.lease[1], "0");
	for (int i = 0; i < 2; i++) { /* the same mapping asked twice, only the lease differs */
		ASSERT_STREQ(igd.ext[i], "2222");
		ASSERT_STREQ(igd.in[i], "22");
		ASSERT_STREQ(igd.client[i], "192.168.77.2");
		ASSERT_STREQ(igd.proto[i], "TCP");
	}
	ASSERT_EQ(res.lease, 0);
	ASSERT_EQ(res.external, 2222);
	ASSERT_STREQ(res.lan_address, "192.168.77.2");
	ASSERT_EQ(igd.freed_urls, 1);
	upnp_use_symbols(NULL);
}

TEST(upnp_lease_accepted) {
	struct portmap_result res = {};
	char *error = NULL;

	router(UPNPCOMMAND_SUCCESS, 501);
	ASSERT_OK(upnp_map(22, 22, "mlrig ssh rig", &res, &error));
	ASSERT_EQ(igd.calls, 1); /* no permanent mapping asked for */
	ASSERT_STREQ(igd.lease[0], "86400");
	ASSERT_EQ(res.lease, PORTMAP_LEASE_SECONDS);
	upnp_use_symbols(NULL);
}

TEST(upnp_refusals) {
	struct portmap_result res = {};
	char *error = NULL;

	/* another refusal than 725: said, not retried as a permanent mapping */
	router(718, UPNPCOMMAND_SUCCESS);
	ASSERT_EQ(upnp_map(2222, 22, "mlrig ssh rig", &res, &error), -EPROTO);
	ASSERT_EQ(igd.calls, 1);
	ASSERT_CONTAINS(error, "UPnP error 718 (ConflictInMappingEntry)");
	free(error);
	error = NULL;
	/* 725, then the permanent mapping refused too: the second answer is the one said */
	router(725, 718);
	ASSERT_EQ(upnp_map(2222, 22, "mlrig ssh rig", &res, &error), -EPROTO);
	ASSERT_EQ(igd.calls, 2);
	ASSERT_CONTAINS(error, "the router refused the mapping of port 2222: UPnP error 718");
	ASSERT_EQ(igd.freed_urls, 1);
	free(error);
	error = NULL;
	/* no router on the LAN */
	router(UPNPCOMMAND_SUCCESS, UPNPCOMMAND_SUCCESS);
	igd.no_router = true;
	ASSERT_EQ(upnp_map(2222, 22, "mlrig ssh rig", &res, &error), -ENODEV);
	ASSERT_EQ(igd.calls, 0);
	free(error);
	upnp_use_symbols(NULL);
}

static void write_text(const char *path, const char *text) {
	ASSERT_OK(write_file_atomic(path, text, strlen(text), 0644));
}

/* The stage with a router that refuses leases: it says the mapping is permanent and records lease=0. */
TEST(stage_port_forward_permanent) {
	struct agent a = { .root = test_dir(), .root_fd = open(test_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
	_cleanup_free_ char *state = NULL;
	char *error = NULL;

	ASSERT_TRUE(a.root_fd >= 0);
	write_text("keys.pub", "ssh-ed25519 AAAA k\n");
	write_text("rig.conf", "[Rig]\nHostname=rig\nUser=u\nAuthorizedKeys=keys.pub\n[Router]\nPortForward=upnp\n");
	ASSERT_OK(profile_load("rig.conf", &a.p, &error));
	ASSERT_OK(mkdir("var", 0755));
	ASSERT_OK(mkdir("var/lib", 0755));
	ASSERT_OK(mkdir("var/lib/mlrig", 0755));
	router(725, UPNPCOMMAND_SUCCESS);
	ASSERT_OK(stage_port_forward(&a));
	ASSERT_TRUE(a.note != NULL);
	/* no ExternalPort=: the router's port is the SSH port */
	ASSERT_CONTAINS(a.note, "upnp: router port 22 -> 192.168.77.2 port 22, permanent (the router refuses leases)");
	ASSERT_STREQ(igd.ext[1], "22");
	ASSERT_OK(read_full_file("var/lib/mlrig/portmap.state", &state, NULL));
	ASSERT_CONTAINS(state, "\nprotocol=upnp\nexternal=22\ninternal=22\nlease=0\n");
	upnp_use_symbols(NULL);
	free(a.note);
	profile_free(a.p);
	close(a.root_fd);
}
