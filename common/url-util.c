/* URL checks for the profile's DDNS keys: credentials never travel in the clear off this machine. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "parse-util.h"
#include "url-util.h"

bool url_host_is_loopback(const char *host, size_t len) {
	char buf[64];
	struct in_addr a4;
	struct in6_addr a6;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = 0;
	if (strcasecmp(buf, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (len > 2 && buf[0] == '[' && buf[len - 1] == ']') {
		buf[len - 1] = 0;
		return inet_pton(AF_INET6, buf + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

/* host: a DNS name, a dotted quad or [IPv6]; then an optional :port. */
static bool valid_authority(const char *s, size_t len, size_t *ret_host_len) {
	const char *colon;
	size_t host_len;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return false;
		host_len = (size_t)(close - s) + 1;
	} else {
		colon = memchr(s, ':', len);
		host_len = colon ? (size_t)(colon - s) : len;
		if (host_len == 0)
			return false;
		for (size_t i = 0; i < host_len; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
				return false;
	}
	if (host_len < len) {
		uint32_t port;
		char p[8];

		if (s[host_len] != ':' || len - host_len - 1 == 0 || len - host_len - 1 >= sizeof(p))
			return false;
		memcpy(p, s + host_len + 1, len - host_len - 1);
		p[len - host_len - 1] = 0;
		if (safe_atou32(p, &port) < 0 || port == 0 || port > 65535)
			return false;
	}
	*ret_host_len = host_len;
	return true;
}

int url_check(const char *url, enum url_shape shape, char **ret_reason) {
	const char *rest, *end;
	size_t host_len;
	bool https = string_has_prefix(url, "https://");

	if (!https && !string_has_prefix(url, "http://"))
		return set_error(ret_reason, -EINVAL, "not an https:// URL");
	rest = url + (https ? 8 : 7);
	end = rest + strcspn(rest, "/?#");
	if (memchr(rest, '@', (size_t)(end - rest)))
		return set_error(ret_reason, -EINVAL, "no user or password in the URL (they go in PasswordFile=)");
	if (!valid_authority(rest, (size_t)(end - rest), &host_len))
		return set_error(ret_reason, -EINVAL, "not a host[:port] after the scheme");
	if (shape == URL_BASE && *end && strcmp(end, "/") != 0)
		return set_error(ret_reason, -EINVAL, "only scheme://host[:port]: the protocol's own path is added to it");
	if (strpbrk(url, " \t\r\n\"'\\"))
		return set_error(ret_reason, -EINVAL, "white space, quotes or backslashes in the URL");
	if (!https && !url_host_is_loopback(rest, host_len))
		return set_error(ret_reason, -EINVAL,
				 "plain HTTP would send the credentials in the clear: use https:// (http:// only to loopback: 127.0.0.0/8, [::1] or the name localhost)");
	return 0;
}

int url_escape(const char *s, char **ret) {
	static const char hex[] = "0123456789ABCDEF";
	char *o = malloc(strlen(s) * 3 + 1), *p = o;

	if (!o)
		return -ENOMEM;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c))
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = 0;
	*ret = o;
	return 0;
}
