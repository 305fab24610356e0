/* Profile parser: valid profiles, defaults, and one test per error class. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "profile.h"
#include "test.h"

static void write_text(const char *path, const char *text) {
	ASSERT_OK(write_file_atomic(path, text, strlen(text), 0644));
}

#define BASE "[Rig]\nHostname=mlgpu\nUser=user\nAuthorizedKeys=keys.pub\n"

static void setup(void) {
	write_text("keys.pub", "ssh-ed25519 AAAAC3Nza test@laptop\n");
	write_text("ddns.secret", "hunter2\n");
	ASSERT_OK(chmod("ddns.secret", 0600));
	ASSERT_OK(mkdir("debs", 0755) < 0 && errno != EEXIST ? -errno : 0);
}

/* Loads TEXT; returns the error message (caller frees) or NULL on success. */
static char *load_error(const char *text) {
	Profile *p = NULL;
	char *error = NULL;
	int r;

	write_text("rig.conf", text);
	r = profile_load("rig.conf", &p, &error);
	if (r >= 0) {
		ASSERT_TRUE(!error);
		profile_free(p);
		return NULL;
	}
	ASSERT_TRUE(error != NULL);
	return error;
}

#define ASSERT_PROFILE_ERROR(text, expected)           \
	do {                                           \
		char *_e = load_error(text);           \
		ASSERT_CONTAINS(_e, expected);         \
		free(_e);                              \
	} while (0)

TEST(valid_full) {
	Profile *p = NULL;
	char *error = NULL;

	setup();
	write_text("rig.conf",
		   "# the classic rig\n" BASE
		   "PasswordHash=$6$salt$abcdefghijklmnop./ABC\n"
		   "[Packages]\nInstall=htop tmux\nInstall=git\nDebs=debs\n"
		   "[Boot]\nDualBoot=yes\nDefault=windows\nTimeout=10\nEntryName=ML rig (Ubuntu)\n"
		   "[SSH]\nPort=2222\n ClientAliveInterval = 30 \n"
		   "[WakeOnLan]\nInterface=00:11:22:aa:bb:cc\nMAC=00-11-22-AA-BB-CC\n"
		   "[DDNS]\nProvider=noip\nHostname=mlgpu.ddns.net\nUsername=me\nPasswordFile=ddns.secret\n"
		   "[GPU]\nDriver=nvidia-driver-470\nCUDA=ubuntu\nCUDNN=none\n"
		   "[Python]\nVenv=~/ml\nRequirements=jupyterlab tensorflow\n"
		   "[Jupyter]\nPort=8899\n"
		   "[Image]\nSize=4G\nSeed=5a0f2b5e-35f1-4c6b-9d38-0f9a0c6f7e11\nSourceDateEpoch=1600000000\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_STREQ(p->hostname, "mlgpu");
	ASSERT_STREQ(p->user, "user");
	ASSERT_STREQ(p->authorized_keys, "./keys.pub");
	ASSERT_STREQ(p->password_hash, "$6$salt$abcdefghijklmnop./ABC");
	ASSERT_STREQ(p->install[0], "htop");
	ASSERT_STREQ(p->install[2], "git");
	ASSERT_TRUE(p->install[3] == NULL);
	ASSERT_EQ(p->dual_boot, 1);
	ASSERT_EQ(p->boot_default, BOOT_DEFAULT_WINDOWS);
	ASSERT_EQ(p->timeout, 10);
	ASSERT_STREQ(p->boot_entry_name, "ML rig (Ubuntu)");
	ASSERT_EQ(p->ssh_port, 2222);
	ASSERT_EQ(p->client_alive_interval, 30);
	ASSERT_STREQ(p->wol_interface, "00:11:22:aa:bb:cc");
	ASSERT_STREQ(p->wol_mac, "00:11:22:aa:bb:cc"); /* as mlrig writes MACs */
	ASSERT_EQ(p->ddns_provider, DDNS_NOIP);
	ASSERT_STREQ(p->ddns_password_file, "./ddns.secret");
	ASSERT_STREQ(p->gpu_driver, "nvidia-driver-470");
	ASSERT_STREQ(p->gpu_cuda, "ubuntu");
	ASSERT_TRUE(p->gpu_cudnn == NULL);
	ASSERT_EQ(p->gpu_blacklist_nouveau, 1); /* a driver: nouveau goes */
	ASSERT_STREQ(p->venv, "~/ml");
	ASSERT_STREQ(p->requirements[1], "tensorflow");
	ASSERT_EQ(p->jupyter_port, 8899);
	ASSERT_EQ(p->jupyter_service, 1); /* jupyterlab is in the requirements */
	ASSERT_EQ(p->jupyter_app, JUPYTER_APP_LAB);
	ASSERT_EQ(p->image_size, 4ull << 30);
	ASSERT_EQ(p->seed_set, 1);
	ASSERT_EQ(p->seed[0], 0x5a);
	ASSERT_EQ(p->source_date_epoch, 1600000000);
	profile_free(p);
}

TEST(defaults) {
	Profile *p = NULL;
	char *error = NULL;

	setup();
	write_text("rig.conf", BASE);
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_EQ(p->ssh_port, 22);
	ASSERT_EQ(p->password_authentication, 0);
	ASSERT_EQ(p->permit_root_login, 0);
	ASSERT_EQ(p->timeout, 5);
	ASSERT_TRUE(p->boot_entry_name == NULL); /* the agent names the entry after os-release */
	ASSERT_EQ(p->jupyter_port, 8888);
	ASSERT_STREQ(p->wol_interface, "auto");
	ASSERT_TRUE(p->wol_mac == NULL);
	ASSERT_EQ(p->jupyter_service, 0);
	ASSERT_EQ(p->jupyter_app, JUPYTER_APP_LAB);
	ASSERT_TRUE(p->password_hash == NULL);
	ASSERT_EQ(p->ddns_provider, DDNS_NONE);
	ASSERT_EQ(p->seed_set, 0);
	profile_free(p);
}

/* Service= defaults to yes when the venv gets Jupyter; App= to what it gets. */
TEST(jupyter_defaults) {
	static const struct {
		const char *extra;
		bool service;
		enum jupyter_app app;
	} cases[] = {
		{ "[Python]\nVenv=~/ml\nRequirements=numpy\n", false, JUPYTER_APP_LAB },
		{ "[Python]\nVenv=~/ml\nRequirements=JupyterLab==3.6.1 numpy\n", true, JUPYTER_APP_LAB },
		{ "[Python]\nVenv=~/ml\nRequirements=notebook>=6\n", true, JUPYTER_APP_NOTEBOOK },
		{ "[Python]\nVenv=~/ml\nRequirements=jupyter\n", true, JUPYTER_APP_NOTEBOOK },
		{ "[Python]\nVenv=~/ml\nRequirements=notebook jupyterlab\n", true, JUPYTER_APP_LAB },
		/* a name that only starts like one is another package */
		{ "[Python]\nVenv=~/ml\nRequirements=jupyterlab-git notebook-shim\n", false, JUPYTER_APP_LAB },
		/* what the profile says wins */
		{ "[Python]\nVenv=~/ml\nRequirements=jupyterlab\n[Jupyter]\nService=no\nApp=notebook\n", false, JUPYTER_APP_NOTEBOOK },
		{ "[Jupyter]\nService=yes\n", true, JUPYTER_APP_LAB },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *text = NULL;
		Profile *p = NULL;
		char *error = NULL;

		setup();
		ASSERT_TRUE(asprintf(&text, BASE "%s", cases[i].extra) > 0);
		write_text("rig.conf", text);
		ASSERT_OK(profile_load("rig.conf", &p, &error));
		if (p->jupyter_service != cases[i].service || p->jupyter_app != cases[i].app)
			test_fail(__FILE__, __LINE__, "%s: Service=%d App=%s", cases[i].extra, p->jupyter_service,
				  jupyter_app_to_string(p->jupyter_app));
		profile_free(p);
	}
}

TEST(path_relative_to_profile) {
	Profile *p = NULL;
	char *error = NULL;

	ASSERT_OK(mkdir("sub", 0755));
	write_text("sub/keys.pub", "ssh-ed25519 AAAA x\n");
	write_text("sub/rig.conf", "[Rig]\nHostname=a\nUser=u\nAuthorizedKeys=keys.pub\n");
	ASSERT_OK(profile_load("sub/rig.conf", &p, &error));
	ASSERT_STREQ(p->authorized_keys, "sub/keys.pub");
	profile_free(p);
}

TEST(error_missing_file) {
	Profile *p = NULL;
	char *error = NULL;

	ASSERT_EQ(profile_load("nope.conf", &p, &error), -ENOENT);
	ASSERT_CONTAINS(error, "nope.conf: cannot read profile: No such file or directory");
	free(error);
}

TEST(error_unknown_section) {
	setup();
	ASSERT_PROFILE_ERROR(BASE "[Foo]\nBar=1\n", "rig.conf:5: unknown section [Foo] (known: [Rig], [Packages]");
}

TEST(error_unknown_key) {
	setup();
	ASSERT_PROFILE_ERROR(BASE "[SSH]\nPasswordAuth=no\n",
			     "rig.conf:6: [SSH] PasswordAuth=: unknown key (allowed: Port, PasswordAuthentication, PermitRootLogin, ClientAliveInterval)");
}

TEST(error_bad_enum) {
	setup();
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nProvider=foo\n",
			     "rig.conf:6: [DDNS] Provider=foo: unknown provider (noip, dyndns2, duckdns, cloudflare, none)");
	ASSERT_PROFILE_ERROR(BASE "[Boot]\nDefault=macos\n", "rig.conf:6: [Boot] Default=macos: unknown default (linux, windows, saved)");
}

TEST(error_bad_values) {
	setup();
	ASSERT_PROFILE_ERROR(BASE "[SSH]\nPort=70000\n", "rig.conf:6: [SSH] Port=70000: not a port number (1-65535)");
	ASSERT_PROFILE_ERROR(BASE "[Boot]\nDualBoot=maybe\n", "[Boot] DualBoot=maybe: not a boolean (yes, no)");
	ASSERT_PROFILE_ERROR(BASE "[Image]\nSize=4Q\n", "[Image] Size=4Q: not a size");
	ASSERT_PROFILE_ERROR(BASE "[Image]\nSeed=1234\n", "[Image] Seed=1234: not a UUID");
	ASSERT_PROFILE_ERROR("[Rig]\nHostname=ml_gpu\n", "rig.conf:2: [Rig] Hostname=ml_gpu: not a valid host name");
	ASSERT_PROFILE_ERROR("[Rig]\nUser=root\n", "[Rig] User=root: the rig user must not be root");
	ASSERT_PROFILE_ERROR("[Rig]\nUser=Bad User\n", "not a valid user name");
	ASSERT_PROFILE_ERROR(BASE "PasswordHash=hunter2\n", "[Rig] PasswordHash=hunter2: not a crypt(3) hash");
	ASSERT_PROFILE_ERROR(BASE "[WakeOnLan]\nInterface=eth0/1\n", "not an interface");
	ASSERT_PROFILE_ERROR(BASE "[WakeOnLan]\nMAC=b3:21:88:6k:17:24\n",
			     "rig.conf:6: [WakeOnLan] MAC=b3:21:88:6k:17:24: not a MAC: '6k' (group 4) is not a hex byte: 'k' is not a hex digit");
	ASSERT_PROFILE_ERROR(BASE "[Jupyter]\nApp=vscode\n", "rig.conf:6: [Jupyter] App=vscode: unknown app (lab, notebook)");
	ASSERT_PROFILE_ERROR(BASE "[Python]\nVenv=venv\n", "[Python] Venv=venv: must be an absolute path");
	ASSERT_PROFILE_ERROR(BASE "[Install]\nDisk=sda\n", "[Install] Disk=sda: must be a device path");
	ASSERT_PROFILE_ERROR(BASE "[Boot]\nKernelCommandLine=quiet\" $(reboot)\n", "[Boot] KernelCommandLine=quiet\" $(reboot): must not contain quotes");
	ASSERT_PROFILE_ERROR(BASE "[Boot]\nEntryName=\n", "rig.conf:6: [Boot] EntryName=: must be 1-64 characters");
	ASSERT_PROFILE_ERROR(BASE "[Boot]\nEntryName=" "0123456789012345678901234567890123456789012345678901234567890123X\n",
			     "must be 1-64 characters");
	ASSERT_PROFILE_ERROR(BASE "[Boot]\nEntryName=a\tb\n", "[Boot] EntryName=a\tb: must not contain control characters");
}

TEST(error_missing_referenced_file) {
	setup();
	ASSERT_PROFILE_ERROR("[Rig]\nAuthorizedKeys=missing.pub\n",
			     "rig.conf:2: [Rig] AuthorizedKeys=missing.pub: cannot use './missing.pub': No such file or directory");
	ASSERT_PROFILE_ERROR(BASE "[Python]\nWheelhouse=keys.pub\n", "is not a directory");
}

TEST(error_syntax) {
	setup();
	ASSERT_PROFILE_ERROR("Hostname=x\n", "rig.conf:1: Hostname= is outside any section");
	ASSERT_PROFILE_ERROR("[Rig\n", "rig.conf:1: '[Rig': a section header must end with ']'");
	ASSERT_PROFILE_ERROR("[Rig]\nHostname\n", "rig.conf:2: 'Hostname': expected Key=Value or [Section]");
}

TEST(error_required_and_cross_checks) {
	setup();
	ASSERT_PROFILE_ERROR("[Rig]\nHostname=a\nAuthorizedKeys=keys.pub\n", "rig.conf: [Rig] User=: is required");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nProvider=duckdns\nHostname=x.duckdns.org\n",
			     "[DDNS] Provider=duckdns needs PasswordFile=");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nProvider=noip\nHostname=x.ddns.net\nPasswordFile=ddns.secret\n",
			     "[DDNS] Provider=noip needs Username=");
	ASSERT_PROFILE_ERROR(BASE "[Install]\nWipe=yes\n", "[Install] Wipe=yes needs Disk=");
	ASSERT_PROFILE_ERROR(BASE "[Python]\nRequirements=numpy\n", "[Python] Requirements= needs Venv=");
}

TEST(list_reset) {
	Profile *p = NULL;
	char *error = NULL;

	setup();
	write_text("rig.conf", BASE "[Packages]\nInstall=htop tmux\nInstall=\nInstall=git\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_STREQ(p->install[0], "git");
	ASSERT_TRUE(p->install[1] == NULL);
	profile_free(p);
}

/* Each Install= line appends: 300 of them hold far more than one line may, and the
 * rendering spreads them over lines that each fit, so that it loads again (found by fuzz-profile). */
TEST(render_long_list) {
	Profile *p = NULL, *q = NULL;
	char *error = NULL, *text = NULL, *conf = NULL;
	size_t size = 0, n = 0;
	FILE *f;

	setup();
	f = open_memstream(&conf, &size);
	ASSERT_TRUE(f != NULL);
	fputs(BASE "[Packages]\n", f);
	for (int i = 0; i < 300; i++)
		fprintf(f, "Install=package-with-a-long-name-number-%03d\n", i);
	ASSERT_EQ(fclose(f), 0);
	write_text("rig.conf", conf);
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_OK(profile_render(p, NULL, &text));
	for (const char *l = text, *e; *l; l = *e ? e + 1 : e) {
		e = strchrnul(l, '\n');
		ASSERT_TRUE(e - l <= 1024);
		n += strncmp(l, "Install=", 8) == 0;
	}
	ASSERT_TRUE(n > 1);
	write_text("rig2.conf", text);
	ASSERT_OK(profile_load("rig2.conf", &q, &error));
	for (int i = 0; i < 300; i++) {
		char want[64];

		snprintf(want, sizeof(want), "package-with-a-long-name-number-%03d", i);
		ASSERT_TRUE(q->install[i] != NULL);
		ASSERT_STREQ(q->install[i], want);
	}
	ASSERT_TRUE(q->install[300] == NULL);
	free(conf);
	free(text);
	profile_free(p);
	profile_free(q);
}

/* A profile must be text before it is parsed; package names and the DDNS user name are checked. */
TEST(error_not_text) {
	static const struct {
		const char *text;
		size_t size;
		const char *error;
	} cases[] = {
		{ BASE "[Boot]\nTimeout=1\0\n", sizeof(BASE) + 17, "rig.conf:6: a NUL byte" },
		{ BASE "[Boot]\nKernelCommandLine=quiet \xff\n", 0, "rig.conf:6: not valid UTF-8 (byte 0xff)" },
		{ BASE "[Boot]\nEntryName=\xc0\xaf\n", 0, "not valid UTF-8 (byte 0xc0)" },
		{ BASE "[Boot]\nEntryName=\xed\xa0\x80\n", 0, "not valid UTF-8 (byte 0xed)" },
		{ BASE "[Boot]\nEntryName=x\x1b[2J\n", 0, "rig.conf:6: control character 0x1b" },
		{ BASE "[Packages]\nInstall=htop -oAPT::x=1\n", 0, "'-oAPT::x=1' is not a Debian package name" },
		{ BASE "[Packages]\nInstall=../x.deb\n", 0, "'../x.deb' is not a Debian package name" },
		{ BASE "[DDNS]\nUsername=me:pw\n", 0, "must not contain ':'" },
	};
	Profile *p = NULL;
	char *error = NULL, *big;

	setup();
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		FILE *f = fopen("rig.conf", "w");

		ASSERT_TRUE(f != NULL);
		fwrite(cases[i].text, 1, cases[i].size ? cases[i].size : strlen(cases[i].text), f);
		fclose(f);
		ASSERT_EQ(profile_load("rig.conf", &p, &error), -EINVAL);
		ASSERT_CONTAINS(error, cases[i].error);
		free(error);
	}
	/* UTF-8 and CRLF line ends are fine */
	write_text("rig.conf", BASE "[Boot]\r\nEntryName=Rig \xc3\xa9t\xc3\xa9 \xf0\x9f\x9a\x80\r\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	profile_free(p);
	big = malloc(5000);
	ASSERT_TRUE(big != NULL);
	memset(big, 'x', 4999);
	big[4999] = 0;
	write_text("rig.conf", big);
	ASSERT_EQ(profile_load("rig.conf", &p, &error), -EINVAL);
	ASSERT_CONTAINS(error, "rig.conf:1: line longer than 4096 bytes");
	free(error);
	free(big);
}

TEST(render_roundtrip) {
	Profile *p = NULL, *q = NULL;
	char *error = NULL, *text = NULL, *text2 = NULL;
	struct profile_paths paths = { .authorized_keys = "/etc/mlrig/authorized_keys",
				       .ddns_password_file = "/etc/mlrig/ddns.password" };

	setup();
	write_text("rig.conf", BASE "[DDNS]\nProvider=noip\nHostname=x.ddns.net\nUsername=me\nPasswordFile=ddns.secret\n"
				    "[Python]\nVenv=~/ml\nRequirements=a b\n[WakeOnLan]\nMAC=525400123456\n[Image]\nSeed=5a0f2b5e-35f1-4c6b-9d38-0f9a0c6f7e11\n"
				    "[Boot]\nEntryName=ML rig\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_OK(profile_render(p, &paths, &text));
	ASSERT_CONTAINS(text, "\nEntryName=ML rig\n");
	ASSERT_CONTAINS(text, "\nAuthorizedKeys=/etc/mlrig/authorized_keys\n");
	ASSERT_CONTAINS(text, "\nPasswordFile=/etc/mlrig/ddns.password\n");
	ASSERT_CONTAINS(text, "\nRequirements=a b\n");
	ASSERT_CONTAINS(text, "\nSeed=5a0f2b5e-35f1-4c6b-9d38-0f9a0c6f7e11\n");
	ASSERT_CONTAINS(text, "\nMAC=52:54:00:12:34:56\n");
	/* defaults the agent must not derive again from other keys: written out */
	ASSERT_CONTAINS(text, "\n[Jupyter]\nPort=8888\nService=no\nApp=lab\n");

	/* the agent reads it back inside its root: absolute paths resolve there */
	ASSERT_OK(mkdir("root", 0755));
	ASSERT_OK(mkdir("root/etc", 0755));
	ASSERT_OK(mkdir("root/etc/mlrig", 0755));
	write_text("root/etc/mlrig/authorized_keys", "ssh-ed25519 AAAA x\n");
	write_text("root/etc/mlrig/ddns.password", "pw\n");
	write_text("root/etc/mlrig/rig.conf", text);
	ASSERT_OK(profile_load_root("root/etc/mlrig/rig.conf", "root", &q, &error));
	ASSERT_STREQ(q->authorized_keys, "root/etc/mlrig/authorized_keys");
	ASSERT_EQ(q->ddns_provider, DDNS_NOIP);
	ASSERT_STREQ(q->requirements[1], "b");
	ASSERT_OK(profile_render(q, &paths, &text2));
	ASSERT_STREQ(text, text2);
	free(text);
	free(text2);
	profile_free(p);
	profile_free(q);
}

TEST(reach_keys) {
	Profile *p = NULL, *q = NULL;
	char *error = NULL, *text = NULL;

	setup();
	write_text("rig.conf", BASE "[SSH]\nPort=2222\n"
				    "[DDNS]\nProvider=cloudflare\nHostname=rig.example.com\nPasswordFile=ddns.secret\n"
				    "Zone=example.com\nServer=http://127.0.0.1:8053\nCheckIP=interface:ppp0\nIPv6=yes\nInterval=15\n"
				    "[Router]\nPortForward=natpmp\n[Firewall]\nEnable=no\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_STREQ(p->ddns_zone, "example.com");
	ASSERT_STREQ(p->ddns_server, "http://127.0.0.1:8053");
	ASSERT_STREQ(p->ddns_check_ip, "interface:ppp0");
	ASSERT_EQ(p->ddns_ipv6, 1);
	ASSERT_EQ(p->ddns_interval, 15);
	ASSERT_EQ(p->port_forward, PORT_FORWARD_NATPMP);
	ASSERT_EQ(p->external_port, 2222); /* the SSH port when not given */
	ASSERT_EQ(p->firewall_enable, 0);
	ASSERT_OK(profile_render(p, NULL, &text));
	ASSERT_CONTAINS(text, "\n[Router]\nPortForward=natpmp\nExternalPort=2222\n");
	ASSERT_CONTAINS(text, "\n[Firewall]\nEnable=no\n");
	write_text("rig2.conf", text);
	ASSERT_OK(profile_load("rig2.conf", &q, &error));
	ASSERT_EQ(q->ddns_interval, 15);
	ASSERT_EQ(q->port_forward, PORT_FORWARD_NATPMP);
	free(text);
	profile_free(p);
	profile_free(q);

	write_text("rig.conf", BASE);
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_EQ(p->ddns_interval, 5);
	ASSERT_EQ(p->firewall_enable, 1);
	ASSERT_EQ(p->port_forward, PORT_FORWARD_NO);
	ASSERT_EQ(p->external_port, 22);
	ASSERT_STREQ(p->ddns_check_ip, DDNS_DEFAULT_CHECK_IP);
	profile_free(p);
}

TEST(error_reach_keys) {
	setup();
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=http://ddns.example.com\n",
			     "rig.conf:6: [DDNS] Server=http://ddns.example.com: plain HTTP would send the credentials in the clear");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=https://ddns.example.com/nic/update\n",
			     "[DDNS] Server=https://ddns.example.com/nic/update: only scheme://host[:port]");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=ddns.example.com\n", "[DDNS] Server=ddns.example.com: not an https:// URL");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=https://me:pw@ddns.example.com\n", "no user or password in the URL");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=https://ddns.example.com:99999\n", "not a host[:port]");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nCheckIP=http://checkip.example.com/\n", "[DDNS] CheckIP=http://checkip.example.com/: plain HTTP");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nCheckIP=interface:\n", "not an interface name after 'interface:'");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nInterval=0\n", "[DDNS] Interval=0: not a number of minutes");
	ASSERT_PROFILE_ERROR(BASE "[Router]\nPortForward=yes\n", "[Router] PortForward=yes: unknown port mapping (upnp, natpmp, no)");
	ASSERT_PROFILE_ERROR(BASE "[Router]\nExternalPort=0\n", "[Router] ExternalPort=0: not a port number");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nProvider=cloudflare\nHostname=rig.example.com\nPasswordFile=ddns.secret\n",
			     "[DDNS] Provider=cloudflare needs Zone=");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nProvider=duckdns\nHostname=x.duckdns.org\nPasswordFile=ddns.secret\nZone=duckdns.org\n",
			     "[DDNS] Zone= is for Provider=cloudflare only");
	/* loopback in every spelling the tests use is plain HTTP's one exception */
	ASSERT_TRUE(load_error(BASE "[DDNS]\nServer=http://127.0.0.2:8080\nCheckIP=http://[::1]:8080/ip\n") == NULL);
	ASSERT_TRUE(load_error(BASE "[DDNS]\nServer=http://localhost/\n") == NULL);
	ASSERT_TRUE(load_error(BASE "[DDNS]\nCheckIP=http://LocalHost:8080/ip\n") == NULL);
	/* the name localhost itself, not names that merely begin or end with it, nor other loopback-looking hosts */
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=http://localhost.example.com\n", "plain HTTP");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=http://rig.localhost\n", "plain HTTP");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=http://128.0.0.1\n", "plain HTTP");
	ASSERT_PROFILE_ERROR(BASE "[DDNS]\nServer=http://[::2]\n", "plain HTTP");
}

#define GPU_BASE BASE "[Packages]\nDebs=debs\n[GPU]\n"
#define PIN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

TEST(gpu_values) {
	Profile *p = NULL;
	char *error = NULL;

	setup();
	write_text("cuda-repo-ubuntu2004-11-4-local_11.4.4-470.82.01-1_amd64.deb", "!<arch>\n");
	write_text("cudnn-11.4-linux-x64-v8.2.4.15.tgz", "x");
	write_text("rig.conf", GPU_BASE "Driver=auto\nCUDA=cuda-repo-ubuntu2004-11-4-local_11.4.4-470.82.01-1_amd64.deb\n"
		   "CUDNN=cudnn-11.4-linux-x64-v8.2.4.15.tgz\nBlacklistNouveau=no\n"
		   "Sha256=cudnn-11.4-linux-x64-v8.2.4.15.tgz:" PIN "\nSha256=a.deb:" PIN "\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_STREQ(p->gpu_driver, "auto");
	ASSERT_STREQ(p->gpu_cuda, "./cuda-repo-ubuntu2004-11-4-local_11.4.4-470.82.01-1_amd64.deb");
	ASSERT_TRUE(profile_cuda_is_file(p) && profile_cudnn_is_file(p));
	ASSERT_EQ(p->gpu_blacklist_nouveau, 0);
	ASSERT_STREQ(profile_sha256_pin(p, "/x/y/cudnn-11.4-linux-x64-v8.2.4.15.tgz"), PIN);
	ASSERT_STREQ(profile_sha256_pin(p, "a.deb"), PIN);
	ASSERT_TRUE(profile_sha256_pin(p, "b.deb") == NULL);
	ASSERT_TRUE(profile_sha256_pin(p, "a.de") == NULL);
	profile_free(p);

	write_text("rig.conf", GPU_BASE "Driver=nvidia-driver-535-server\nCUDA=ubuntu\nCUDNN=debs\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_TRUE(!profile_cuda_is_file(p) && !profile_cudnn_is_file(p));
	profile_free(p);

	write_text("rig.conf", BASE "[GPU]\nDriver=none\nCUDA=none\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_TRUE(p->gpu_driver == NULL && p->gpu_cuda == NULL);
	ASSERT_EQ(p->gpu_blacklist_nouveau, 0); /* no driver: nouveau stays */
	profile_free(p);
}

TEST(gpu_errors) {
	setup();
	write_text("x.zip", "x");
	ASSERT_PROFILE_ERROR(GPU_BASE "Driver=nvidia-driver-470\nCUDA=11.4\n",
			     "rig.conf:9: [GPU] CUDA=11.4: a CUDA version is no longer accepted: give NVIDIA's local-repo "
			     ".deb (CUDA=cuda-repo-ubuntu2004-11-4-local_");
	ASSERT_PROFILE_ERROR(GPU_BASE "CUDA=11.4\n", "ubuntu (Ubuntu's nvidia-cuda-toolkit from [Packages] Debs=) or none");
	ASSERT_PROFILE_ERROR(GPU_BASE "Driver=nvidia-470\n", "[GPU] Driver=nvidia-470: not a driver: nvidia-driver-NNN");
	ASSERT_PROFILE_ERROR(GPU_BASE "Driver=nvidia-driver-47\n", "not a driver");
	ASSERT_PROFILE_ERROR(GPU_BASE "Driver=nvidia-driver-470\nCUDA=cuda.rpm\n", "not a CUDA local-repo .deb");
	ASSERT_PROFILE_ERROR(GPU_BASE "Driver=nvidia-driver-470\nCUDA=missing.deb\n", "CUDA=missing.deb: cannot use");
	ASSERT_PROFILE_ERROR(GPU_BASE "Driver=nvidia-driver-470\nCUDA=ubuntu\nCUDNN=x.zip\n", "not a cuDNN tarball");
	ASSERT_PROFILE_ERROR(GPU_BASE "CUDA=ubuntu\n", "[GPU] CUDA= needs Driver=");
	ASSERT_PROFILE_ERROR(BASE "[GPU]\nDriver=auto\n", "[GPU] Driver=auto needs [Packages] Debs=");
	ASSERT_PROFILE_ERROR(GPU_BASE "Sha256=x.deb\n", "'x.deb': a pin is FILE:SHA256");
	ASSERT_PROFILE_ERROR(GPU_BASE "Sha256=d/x.deb:" PIN "\n", "a pin is FILE:SHA256");
	ASSERT_PROFILE_ERROR(GPU_BASE "Sha256=x.deb:abc\n", "'x.deb:abc': the hash must be 64 hex digits");
	ASSERT_PROFILE_ERROR(GPU_BASE "Sha256=x.deb:" PIN "0\n", "the hash must be 64 hex digits");
	ASSERT_PROFILE_ERROR(GPU_BASE "BlacklistNouveau=maybe\n", "not a boolean");
}

TEST(gpu_render) {
	Profile *p = NULL, *q = NULL;
	char *error = NULL, *text = NULL;
	const struct profile_paths paths = { .authorized_keys = "/etc/mlrig/authorized_keys", .cuda = "/x/cuda.deb" };

	setup();
	write_text("cuda-repo-ubuntu2004-11-4-local_1_amd64.deb", "!<arch>\n");
	write_text("rig.conf", GPU_BASE "Driver=nvidia-driver-470\nCUDA=cuda-repo-ubuntu2004-11-4-local_1_amd64.deb\n"
		   "CUDNN=debs\nSha256=a.deb:" PIN "\n");
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_OK(profile_render(p, &paths, &text));
	ASSERT_CONTAINS(text, "CUDA=/x/cuda.deb\n");
	ASSERT_CONTAINS(text, "CUDNN=debs\n");
	ASSERT_CONTAINS(text, "BlacklistNouveau=yes\n");
	ASSERT_CONTAINS(text, "Sha256=a.deb:" PIN "\n");
	free(text);
	ASSERT_OK(profile_render(p, NULL, &text));
	write_text("again.conf", text);
	ASSERT_OK(profile_load("again.conf", &q, &error)); /* what is rendered loads again */
	ASSERT_STREQ(q->gpu_cudnn, "debs");
	profile_free(q);
	profile_free(p);
	free(text);
}
