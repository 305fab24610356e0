/* The URLs a profile may name for DDNS: HTTPS anywhere, plain HTTP only to loopback (127.0.0.0/8, [::1], the name localhost). */
#pragma once

#include <stdbool.h>

enum url_shape {
	URL_BASE, /* scheme://host[:port] and at most a trailing '/': the protocol's own path goes after it */
	URL_FULL, /* scheme://host[:port][/path][?query] */
};

/* 0 when url is https://, or http:// to 127.0.0.0/8, [::1] or localhost, and has the
 * shape asked for; -EINVAL with *ret_reason (may be NULL) saying what is wrong. */
int url_check(const char *url, enum url_shape shape, char **ret_reason);
/* Whether host (a name, a dotted quad, or a bracketed IPv6 literal) is a loopback address. */
bool url_host_is_loopback(const char *host, size_t len);
/* s with every byte but A-Z a-z 0-9 - . _ ~ as %XX, for a query value. */
int url_escape(const char *s, char **ret);
