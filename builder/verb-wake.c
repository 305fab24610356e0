/* mlrig wake: send the rig a Wake-on-LAN magic packet, to the broadcast address or over the internet to a host. */
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "verbs.h"
#include "wol.h"

#define DEFAULT_PORT 9 /* "discard": what wakeonlan and etherwake use */
#define DEFAULT_BROADCAST "255.255.255.255"

static const char *arg_target; /* MAC or PROFILE */
static const char *arg_host;
static const char *arg_broadcast;
static uint32_t arg_port;
static uint8_t arg_password[WOL_PASSWORD_MAX];
static size_t arg_password_size;

static void help(void) {
	printf("Usage:\n"
	       " mlrig wake MAC|PROFILE [--host HOST] [--port PORT] [--broadcast ADDR] [--password HEX]\n"
	       "\n"
	       "Wake the rig: send a Wake-on-LAN magic packet (UDP) with its MAC.\n"
	       "\n"
	       "Given a PROFILE, the MAC is its [WakeOnLan] MAC=, or the one the rig reported\n"
	       "to 'mlrig client's shortcuts; the packet goes to its [DDNS] Hostname= when it\n"
	       "has one (the router must forward the port to the rig's network), else to\n"
	       "the broadcast address.\n"
	       "\n"
	       "Options:\n"
	       "     --host HOST        send to this host name or address (over the internet)\n"
	       "     --broadcast ADDR   send to this IPv4 broadcast address (default %s)\n"
	       "     --port PORT        UDP port (default %d)\n"
	       "     --password HEX     SecureOn password: 4 or 6 bytes in hex (e.g. 01:02:03:04)\n"
	       " -h, --help             display this help\n"
	       "\n"
	       "MAC: 52:54:00:12:34:56, 52-54-00-12-34-56 or 525400123456.\n",
	       DEFAULT_BROADCAST, DEFAULT_PORT);
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_HOST = 0x100, ARG_PORT, ARG_BROADCAST, ARG_PASSWORD };
	static const struct option options[] = {
		{ "host", required_argument, NULL, ARG_HOST },
		{ "port", required_argument, NULL, ARG_PORT },
		{ "broadcast", required_argument, NULL, ARG_BROADCAST },
		{ "password", required_argument, NULL, ARG_PASSWORD },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, r;

	arg_host = arg_broadcast = NULL;
	arg_port = DEFAULT_PORT;
	arg_password_size = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
		switch (c) {
		case ARG_HOST:
			if (!*optarg)
				return cli_usage_error("wake", "--host needs a host name or address");
			arg_host = optarg;
			break;
		case ARG_PORT:
			if (safe_atou32(optarg, &arg_port) < 0 || arg_port == 0 || arg_port > 65535)
				return cli_usage_error("wake", "--port '%s': expected a port number, 1-65535", optarg);
			break;
		case ARG_BROADCAST: {
			struct in_addr a;

			if (inet_pton(AF_INET, optarg, &a) != 1)
				return cli_usage_error("wake", "--broadcast '%s': expected an IPv4 address", optarg);
			arg_broadcast = optarg;
			break;
		}
		case ARG_PASSWORD: {
			_cleanup_free_ char *reason = NULL;

			if (wol_parse_password(optarg, arg_password, &arg_password_size, &reason) < 0)
				return cli_usage_error("wake", "--password '%s': %s", optarg, reason ? reason : "?");
			break;
		}
		case 'h':
			help();
			return 0;
		default:
			return cli_option_error("wake", c, argv);
		}
	r = cli_positional("wake", argc, argv, (const char *const[]){ "MAC or PROFILE" }, 1, 1);
	if (r < 0)
		return r;
	if (arg_host && arg_broadcast)
		return cli_usage_error("wake", "--host and --broadcast exclude each other");
	arg_target = argv[optind];
	return 1;
}

/* The argument is a profile when it names a file or looks like a path; else a MAC. */
static bool is_profile(const char *s) {
	struct stat st;

	return stat(s, &st) == 0 || strchr(s, '/') || string_has_suffix(s, ".conf");
}

/* A bad MAC (where: "" or "FILE: "): the reason, then the MAC with a caret line under the part it is about. */
static int bad_mac(const char *where, const char *mac, const char *reason, const struct wol_span *span) {
	char carets[64] = "";

	if (span->at + span->len < sizeof(carets) - 1 && strlen(mac) < sizeof(carets)) {
		memset(carets, ' ', span->at);
		memset(carets + span->at, '^', span->len ? span->len : 1);
		carets[span->at + (span->len ? span->len : 1)] = 0;
		return cli_input_error("%s'%s' is not a MAC: %s\n    %s\n    %s", where, mac, reason, mac, carets);
	}
	return cli_input_error("%s'%s' is not a MAC: %s", where, mac, reason);
}

/* The MAC for a profile: its [WakeOnLan] MAC=, else what the rig reported to the client's shortcuts. */
static int profile_mac(const Profile *p, uint8_t mac[WOL_MAC_SIZE]) {
	_cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL, *reason = NULL, *fn = NULL;
	struct wol_span span;
	int r;

	if (p->wol_mac)
		return wol_parse_mac(p->wol_mac, mac, NULL, NULL) < 0 ? cli_input_error("%s: bad MAC", p->path) : 0;
	r = verb_client_dir(p->hostname, &dir);
	if (r < 0)
		return log_error_errno(r, "Cannot find the home directory: %m");
	if (asprintf(&path, "%s/" CLIENT_WOL_MAC_FILE, dir) < 0 || !(fn = verb_shortcut_prefix(p->hostname)))
		return log_oom();
	r = read_full_file(path, &text, NULL);
	if (r == -ENOENT || (r >= 0 && !*string_strip(text)))
		return cli_input_error("%s: no MAC to wake the rig %s with: set [WakeOnLan] MAC= in the profile, or open the "
				       "tunnel once while the rig is up (the shortcut %s_tunnel of 'mlrig client --install' "
				       "saves the MAC the rig reports in %s)",
				       p->path, p->hostname, fn, path);
	if (r < 0)
		return log_error_errno(r, "Failed to read '%s': %m", path);
	if (wol_parse_mac(string_strip(text), mac, &reason, &span) < 0) {
		_cleanup_free_ char *where = NULL;

		if (asprintf(&where, "%s: ", path) < 0)
			return log_oom();
		return bad_mac(where, string_strip(text), reason ? reason : "?", &span);
	}
	return 0;
}

static int send_one(const struct sockaddr *sa, socklen_t len, bool broadcast, const uint8_t *pkt, size_t size) {
	_cleanup_close_ int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int on = 1;

	if (fd < 0)
		return negative_errno();
	if (broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) < 0)
		return negative_errno();
	if (sendto(fd, pkt, size, 0, sa, len) < 0)
		return negative_errno();
	return 0;
}

/* To every address the host name has (IPv4 and IPv6): one of them is the rig's router. */
static int send_to_host(const char *host, const char *mac, const uint8_t *pkt, size_t size) {
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG }, *res = NULL;
	char port[8], addr[INET6_ADDRSTRLEN];
	unsigned sent = 0;
	int r, last = 0;

	snprintf(port, sizeof(port), "%u", arg_port);
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return cli_input_error("Cannot resolve '%s': %s", host, r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		const void *in = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
							   : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;

		if (!inet_ntop(ai->ai_family, in, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "?");
		r = send_one(ai->ai_addr, ai->ai_addrlen, false, pkt, size);
		if (r < 0) {
			last = log_warning_errno(r, "Failed to send to %s (%s) port %u: %m", host, addr, arg_port);
			continue;
		}
		printf("Sent the magic packet for %s (%zu bytes) to %s (%s) port %u.\n", mac, size, host, addr, arg_port);
		sent++;
	}
	freeaddrinfo(res);
	if (sent == 0)
		return log_error_errno(last ? last : -EHOSTUNREACH, "No magic packet went out to %s.", host);
	return 0;
}

static int send_broadcast(const char *addr, const char *mac, const uint8_t *pkt, size_t size) {
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)arg_port) };
	int r;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return cli_input_error("'%s' is not an IPv4 address", addr);
	r = send_one((struct sockaddr *)&sin, sizeof(sin), true, pkt, size);
	if (r < 0)
		return log_error_errno(r, "Failed to send the magic packet to %s port %u: %m", addr, arg_port);
	printf("Sent the magic packet for %s (%zu bytes) to the broadcast address %s port %u.\n", mac, size, addr,
	       arg_port);
	return 0;
}

static int run(void) {
	_cleanup_(profile_freep) Profile *p = NULL;
	uint8_t mac[WOL_MAC_SIZE], pkt[WOL_PACKET_MAX];
	const char *host = arg_host;
	char text[18];
	size_t size;
	int r;

	if (is_profile(arg_target)) {
		r = verb_load_profile(arg_target, &p);
		if (r == 0)
			r = profile_mac(p, mac);
		if (r != 0)
			return r;
		if (!host && !arg_broadcast)
			host = p->ddns_hostname;
	} else {
		_cleanup_free_ char *reason = NULL;
		struct wol_span span;

		if (wol_parse_mac(arg_target, mac, &reason, &span) < 0)
			return bad_mac("", arg_target, reason ? reason : "?", &span);
	}
	r = wol_magic_packet(mac, arg_password, arg_password_size, pkt, &size);
	if (r < 0)
		return log_error_errno(r, "Failed to build the magic packet: %m");
	wol_format_mac(mac, text);
	return host ? send_to_host(host, text, pkt, size)
		    : send_broadcast(arg_broadcast ? arg_broadcast : DEFAULT_BROADCAST, text, pkt, size);
}

const struct cli_verb verb_wake = { "wake", parse_argv, run };
