/* The rig profile: an INI file (systemd/mkosi style) parsed into typed values. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Every rig's kernel gets these, so a serial console (QEMU, a BMC) shows the boot. */
#define RIG_CONSOLE_ARGS "console=tty0 console=ttyS0,115200n8"

enum boot_default { BOOT_DEFAULT_LINUX, BOOT_DEFAULT_WINDOWS, BOOT_DEFAULT_SAVED };
enum ddns_provider { DDNS_NONE, DDNS_NOIP, DDNS_DYNDNS2, DDNS_DUCKDNS, DDNS_CLOUDFLARE };
enum port_forward { PORT_FORWARD_NO, PORT_FORWARD_UPNP, PORT_FORWARD_NATPMP };

/* Where the agent asks for the public address when [DDNS] CheckIP= is not given; it answers
 * with the address of the family it was reached over. */
#define DDNS_DEFAULT_CHECK_IP "https://api64.ipify.org"
/* Said by `mlrig check` and the ddns stage for Provider=noip. */
#define DDNS_NOIP_FREE_NOTE \
	"No-IP free host names expire unless confirmed by hand every 30 days at noip.com; updates do not count"
enum jupyter_app { JUPYTER_APP_LAB, JUPYTER_APP_NOTEBOOK };

typedef struct Profile {
	char *path; /* the profile file, as given */

	/* [Rig] */
	char *hostname;
	char *user;
	char *authorized_keys;    /* path */
	char *password_hash;      /* crypt(3) string; NULL = locked */

	/* [Packages] */
	char **install;
	char *debs;               /* directory of .deb files, or NULL */
	char *debconf;            /* debconf-set-selections file, or NULL */

	/* [Boot] */
	bool dual_boot;
	enum boot_default boot_default;
	uint32_t timeout;
	char *kernel_command_line;
	char *boot_entry_name;    /* the rig's EFI boot entry; NULL: os-release NAME */

	/* [SSH] */
	uint32_t ssh_port;
	bool password_authentication;
	bool permit_root_login;
	uint32_t client_alive_interval;

	/* [WakeOnLan] */
	bool wol_enable;
	char *wol_interface;      /* name, MAC or "auto" */
	char *wol_mac;            /* the MAC mlrig wake sends to, "52:54:00:12:34:56"; NULL: unknown */

	/* [DDNS] */
	enum ddns_provider ddns_provider;
	char *ddns_hostname;
	char *ddns_username;
	char *ddns_password_file; /* path */
	char *ddns_server;        /* https://host[:port] (http:// to loopback), or NULL for the provider's */
	char *ddns_zone;          /* cloudflare: the zone's name or id */
	char *ddns_check_ip;      /* a URL, or "interface:NAME" */
	bool ddns_ipv6;           /* also keep the AAAA record */
	uint32_t ddns_interval;   /* minutes between checks */

	/* [Router] */
	enum port_forward port_forward;
	uint32_t external_port;   /* the router's port for SSH; the SSH port when not given */

	/* [Firewall] */
	bool firewall_enable;

	/* [GPU] */
	char *gpu_driver;         /* "nvidia-driver-NNN", "auto", or NULL for none */
	char *gpu_cuda;           /* path to NVIDIA's local-repo .deb, "ubuntu", or NULL */
	char *gpu_cudnn;          /* path to a tarball, "debs", or NULL */
	bool gpu_blacklist_nouveau;
	bool gpu_blacklist_nouveau_set;
	char **gpu_sha256;        /* "FILE:HEX" pins */

	/* [Python] */
	char *venv;
	char **requirements;
	char *wheelhouse;         /* path, or NULL */

	/* [Jupyter] */
	uint32_t jupyter_port;
	bool jupyter_service;     /* the systemd unit runs Jupyter on every boot */
	bool jupyter_service_set;
	enum jupyter_app jupyter_app;
	bool jupyter_app_set;

	/* [Image] */
	uint64_t image_size;      /* 0 = not set */
	uint8_t seed[16];
	bool seed_set;
	uint64_t source_date_epoch;
	bool source_date_epoch_set;

	/* [Install] */
	char *install_disk;
	bool install_wipe;
} Profile;

/* Loads and validates a profile. On a user error returns -EINVAL (or the I/O
 * error) and sets *ret_error to a message naming file:line, section and key. */
int profile_load(const char *path, Profile **ret, char **ret_error);
/* The time every output is stamped with: $SOURCE_DATE_EPOCH, else [Image]
 * SourceDateEpoch=, else PROFILE_DEFAULT_EPOCH. -EINVAL for a bad environment value. */
#define PROFILE_DEFAULT_EPOCH UINT64_C(1577836800) /* 2020-01-01 */
int profile_source_date_epoch(const Profile *p, uint64_t *ret);

/* [Rig] User='s rule: lower case letters, digits, '_' and '-', a letter or '_' first, at
 * most 32; for a user name that comes from elsewhere (an image's manifest). */
bool profile_valid_username(const char *s);

/* The same, for the agent: absolute paths in the profile are taken inside root. */
int profile_load_root(const char *path, const char *root, Profile **ret, char **ret_error);
Profile *profile_free(Profile *p);

/* Where the files a profile names live on the rig, for profile_render(). */
struct profile_paths {
	const char *authorized_keys;
	const char *ddns_password_file;
	const char *wheelhouse;
	const char *cudnn;
	const char *cuda;
	const char *debs;
	const char *debconf;
};

/* Writes the profile back as INI, every key explicit, with file keys pointing
 * at paths (when non-NULL) instead of the builder's files. */
int profile_render(const Profile *p, const struct profile_paths *paths, char **ret);
static inline void profile_freep(Profile **p) {
	profile_free(*p);
}

const char *boot_default_to_string(enum boot_default d);
const char *ddns_provider_to_string(enum ddns_provider p);
const char *port_forward_to_string(enum port_forward f);
const char *jupyter_app_to_string(enum jupyter_app a);

/* Whether [Python] Requirements= names the package (PEP 503 names: case, '-',
 * '_' and '.' alike; "jupyterlab==3.6" names jupyterlab). */
bool profile_requires(const Profile *p, const char *package);
/* [GPU] values: whether s is an nvidia-driver-NNN[-server|-open] name; the pinned
 * hash (64 hex digits) for a payload file, by its name, or NULL. */
bool profile_valid_driver_package(const char *s);
/* NNN of nvidia-driver-NNN..., 0 when s is not a driver package. */
unsigned profile_driver_branch(const char *s);
const char *profile_sha256_pin(const Profile *p, const char *path);
/* Whether CUDA=/CUDNN= name a file (not ubuntu, debs or none). */
static inline bool profile_cuda_is_file(const Profile *p) {
	return p->gpu_cuda && strcmp(p->gpu_cuda, "ubuntu") != 0;
}
static inline bool profile_cudnn_is_file(const Profile *p) {
	return p->gpu_cudnn && strcmp(p->gpu_cudnn, "debs") != 0;
}

/* A T_RIG_PATH value as an absolute path on the rig: "~/x" is /home/USER/x. */
int profile_rig_path(const Profile *p, const char *path, char **ret);
