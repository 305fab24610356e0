/* One DDNS cycle: the public address (CheckIP= or an interface), compared with what the
 * provider last confirmed and, once a day, with the live record; an update only when they
 * differ, and after a failure no request until the hold ends (or the config changes). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "curl-util.h"
#include "ddns.h"
#include "error.h"
#include "fileio.h"
#include "parse-util.h"
#include "time-util.h"

void ddns_report_release(struct ddns_report *r) {
	free(r->summary);
	*r = (struct ddns_report){};
}

static void say(struct ddns_report *rep, const char *fmt, ...) _printf_(2, 3);
static void say(struct ddns_report *rep, const char *fmt, ...) {
	_cleanup_free_ char *line = NULL;
	char *n;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (!line)
		return;
	if (asprintf(&n, "%s%s%s", rep->summary ? rep->summary : "", rep->summary ? "; " : "", line) < 0)
		return;
	free(rep->summary);
	rep->summary = n;
}

static int family_of(const char *family) {
	return strcmp(family, "ipv6") == 0 ? AF_INET6 : AF_INET;
}

/* The text form of an address of family, or -EINVAL when s is not one. */
static int normalize_address(const char *s, int family, char **ret) {
	unsigned char buf[sizeof(struct in6_addr)];
	char out[INET6_ADDRSTRLEN];

	if (inet_pton(family, s, buf) != 1 || !inet_ntop(family, buf, out, sizeof(out)))
		return -EINVAL;
	*ret = strdup(out);
	return *ret ? 0 : -ENOMEM;
}

/* interface:NAME: its first address of family that is not link-local. */
static int address_of_interface(const char *name, int family, char **ret) {
	struct ifaddrs *list, *i;
	char out[INET6_ADDRSTRLEN];
	int r = -EADDRNOTAVAIL;

	if (getifaddrs(&list) < 0)
		return -errno;
	for (i = list; i && r == -EADDRNOTAVAIL; i = i->ifa_next) {
		const void *addr;

		if (!i->ifa_addr || i->ifa_addr->sa_family != family || strcmp(i->ifa_name, name) != 0)
			continue;
		if (family == AF_INET6) {
			const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(a6))
				continue;
			addr = a6;
		} else
			addr = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
		if (inet_ntop(family, addr, out, sizeof(out)))
			r = (*ret = strdup(out)) ? 0 : -ENOMEM;
	}
	freeifaddrs(list);
	return r;
}

/* The public address of family, or -errno with *ret_why saying why not. */
static int current_address(struct agent *a, const char *family, char **ret, char **ret_why) {
	const char *check = a->p->ddns_check_ip;
	_cleanup_(curl_reply_release) struct curl_reply reply = {};
	_cleanup_free_ char *detail = NULL, *text = NULL;
	int r;

	if (string_has_prefix(check, "interface:")) {
		r = address_of_interface(check + strlen("interface:"), family_of(family), ret);
		if (r < 0)
			return set_error(ret_why, r, "%s has no %s address", check, family);
		return 0;
	}
	r = curl_util_request(&(struct curl_request){ .url = check, .family = family_of(family),
						       .user_agent = DDNS_USER_AGENT, .max_reply = 1024, .timeout_s = 30 },
			      &reply, &detail);
	if (r < 0)
		return set_error(ret_why, r, "CheckIP=%s over %s: %s%s%s", check, family, curl_util_error_to_string(r),
				 detail ? ": " : "", detail ? detail : "");
	text = strndup(reply.body, reply.size);
	if (!text)
		return -ENOMEM;
	if (reply.status != 200 || normalize_address(string_strip(text), family_of(family), ret) < 0) {
		_cleanup_free_ char *shown = ddns_printable(reply.body, reply.size);
		return set_error(ret_why, -EBADMSG, "CheckIP=%s over %s answered HTTP %ld '%s', not an %s address", check,
				 family, reply.status, shown ? shown : "", family);
	}
	return 0;
}

/* The name's live record of family: 1 and the addresses ("a b c"), 0 when it has none, -errno
 * when the lookup failed (no answer is no verdict: try again next cycle). */
static int live_record(struct ddns_request_ctx *c, char **ret, struct ddns_answer *ret_answer) {
	struct addrinfo hints = { .ai_family = family_of(c->family), .ai_socktype = SOCK_STREAM }, *res = NULL;
	char *list = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	if (c->a->p->ddns_provider == DDNS_CLOUDFLARE) {
		/* the API is the authority, and no resolver cache stands between */
		r = ddns_cloudflare_lookup(c, ret, ret_answer);
		if (r <= 0)
			return r < 0 ? r : -EAGAIN;
		ddns_answer_release(ret_answer);
		return *ret ? 1 : 0;
	}
	r = getaddrinfo(c->a->p->ddns_hostname, NULL, &hints, &res);
	if (r == EAI_NONAME || r == EAI_NODATA)
		return 0;
	if (r != 0)
		return -EAGAIN;
	f = open_memstream(&list, &size);
	if (!f) {
		freeaddrinfo(res);
		return -ENOMEM;
	}
	for (struct addrinfo *i = res; i; i = i->ai_next) {
		char out[INET6_ADDRSTRLEN];
		const void *addr = i->ai_family == AF_INET6
					   ? (const void *)&((const struct sockaddr_in6 *)(const void *)i->ai_addr)->sin6_addr
					   : (const void *)&((const struct sockaddr_in *)(const void *)i->ai_addr)->sin_addr;

		if (inet_ntop(i->ai_family, addr, out, sizeof(out)))
			fprintf(f, " %s ", out);
	}
	freeaddrinfo(res);
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = list;
	return 1;
}

static bool record_has(const char *list, const char *address) {
	_cleanup_free_ char *needle = NULL;

	if (!list)
		return false;
	if (asprintf(&needle, " %s ", address) < 0)
		return false;
	/* Cloudflare gives one content, getaddrinfo a list written as " a  b " */
	return strcmp(list, address) == 0 || strstr(list, needle);
}

static int hold_for(struct agent *a, const char *config, const struct ddns_answer *ans) {
	uint64_t now = now_wall();
	struct ddns_hold h = {
		.config = (char *)config, .fatal = ans->verdict == DDNS_FATAL, .since = now,
		.until = ans->verdict == DDNS_FATAL ? 0 : now + (ans->retry_after ? ans->retry_after : DDNS_RETRY_SECONDS),
		.reason = ans->reason, .fix = (char *)ans->fix,
	};

	return ddns_hold_save(a, &h);
}

/* Why no request may go out now, or NULL. */
static const char *held(const struct ddns_hold *h, const char *config, uint64_t now) {
	if (!h->config || strcmp(h->config, config) != 0)
		return NULL; /* about another config: the user changed something, try again */
	if (h->fatal || now < h->until)
		return h->reason ? h->reason : "?";
	return NULL;
}

struct cycle {
	struct agent *a;
	bool force;
	const char *secret;
	char config[17];
	struct ddns_state state;
	struct ddns_report *rep;
};

/* One family: 1 when its state changed (save it), 0 when not, -ECANCELED when a failure answer
 * now holds everything (the hold is written). */
static int cycle_family(struct cycle *cy, const char *family) {
	struct agent *a = cy->a;
	const Profile *p = a->p;
	const char *prov = ddns_provider_to_string(p->ddns_provider);
	_cleanup_free_ char *address = NULL, *why = NULL, *live = NULL;
	_cleanup_(ddns_answer_release) struct ddns_answer ans = {};
	struct ddns_entry *e = ddns_state_find(&cy->state, prov, p->ddns_hostname, family, cy->config);
	struct ddns_request_ctx c = { .a = a, .secret = cy->secret, .family = family, .requests = &cy->rep->requests };
	uint64_t now = now_wall();
	bool check_live;
	int r;

	r = current_address(a, family, &address, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		cy->rep->failed = true;
		say(cy->rep, "%s: %s", family, why ? why : strerror(-r));
		return 0;
	}
	c.address = address;
	/* a known address is not sent again (No-IP blocks clients for repeated nochg answers),
	 * but once a day the live record is compared, in case it was changed elsewhere */
	check_live = !e || strcmp(e->address, address) != 0 || now >= e->checked + DDNS_DNS_CHECK_SECONDS;
	if (e && strcmp(e->address, address) == 0 && !cy->force && !check_live) {
		say(cy->rep, "%s %s unchanged", family, address);
		return 0;
	}
	if (!cy->force && (!e || strcmp(e->address, address) == 0)) {
		r = live_record(&c, &live, &ans);
		if (r == -ENOMEM)
			return r;
		if (r == -EAGAIN && ans.reason)
			goto failed; /* cloudflare: the API refused the lookup */
		if (r == 1 && record_has(live, address)) {
			struct ddns_entry n = { .provider = (char *)prov, .host = p->ddns_hostname, .family = (char *)family,
						.config = cy->config, .address = address, .updated = e ? e->updated : 0,
						.checked = now };
			say(cy->rep, "%s %s %s", family, address, e ? "unchanged, live record checked" : "already in the live record");
			return ddns_state_set(&cy->state, &n) < 0 ? -ENOMEM : 1;
		}
		if (r < 0 && e) {
			say(cy->rep, "%s %s unchanged (live record not checked: no answer)", family, address);
			return 0;
		}
		ddns_answer_release(&ans);
	}
	r = ddns_send_update(&c, &ans);
	if (r < 0)
		return r;
	if (ans.verdict == DDNS_OK) {
		struct ddns_entry n = { .provider = (char *)prov, .host = p->ddns_hostname, .family = (char *)family,
					.config = cy->config, .address = address, .updated = now, .checked = now };
		say(cy->rep, "%s %s updated (%s)%s", family, address, ans.reason, e && strcmp(e->address, address) == 0 ?
			    ", the live record had differed" : "");
		return ddns_state_set(&cy->state, &n) < 0 ? -ENOMEM : 1;
	}
failed:
	cy->rep->failed = true;
	if (ans.no_answer) {
		say(cy->rep, "%s %s NOT updated: %s; the next cycle tries again", family, address, ans.reason);
		return -ECANCELED;
	}
	r = hold_for(a, cy->config, &ans);
	if (r < 0)
		return r;
	if (ans.verdict == DDNS_FATAL)
		say(cy->rep, "%s %s NOT updated: %s; no more requests until the DDNS config changes: %s", family, address,
		    ans.reason, ans.fix ? ans.fix : "");
	else
		say(cy->rep, "%s %s NOT updated: %s; next try in %llu min", family, address, ans.reason,
		    (unsigned long long)DIV_ROUND_UP(ans.retry_after ? ans.retry_after : DDNS_RETRY_SECONDS, 60));
	return -ECANCELED;
}

static void secret_release(char **s) {
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
	}
}

int ddns_cycle(struct agent *a, bool force, struct ddns_report *ret) {
	_cleanup_(secret_release) char *secret = NULL;
	_cleanup_(ddns_hold_release) struct ddns_hold hold = {};
	struct ddns_report rep = {};
	struct cycle cy = { .a = a, .force = force, .rep = &rep };
	const char *families[] = { "ipv4", a->p->ddns_ipv6 ? "ipv6" : NULL };
	const char *why;
	bool changed = false;
	int r;

	r = read_full_file(a->p->ddns_password_file, &secret, NULL);
	if (r < 0)
		return r;
	string_strip(secret);
	cy.secret = secret;
	if ((r = ddns_config_hash(a, cy.config)) < 0 || (r = ddns_hold_load(a, &hold)) < 0)
		return r;
	why = force ? NULL : held(&hold, cy.config, now_wall());
	if (why) {
		if (hold.fatal)
			say(&rep, "no request: %s; fix: %s (then the next cycle tries again)", why, hold.fix ? hold.fix : "?");
		else
			say(&rep, "no request before %llu min from now: %s",
			    (unsigned long long)DIV_ROUND_UP(hold.until - now_wall(), 60), why);
		rep.failed = hold.fatal;
		*ret = rep;
		return 0;
	}
	r = ddns_state_load(a, &cy.state);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(families); i++) {
		if (!families[i])
			continue;
		r = cycle_family(&cy, families[i]);
		if (r > 0)
			changed = true;
	}
	if (r == -ECANCELED)
		r = 0;
	/* only what the provider (or the live record) confirmed is written; a failure wrote the hold */
	if (r >= 0 && changed)
		r = ddns_state_save(a, &cy.state);
	if (r >= 0 && changed && !rep.failed && hold.config)
		r = ddns_hold_clear(a);
	ddns_state_release(&cy.state);
	if (r < 0) {
		ddns_report_release(&rep);
		return r;
	}
	*ret = rep;
	return 0;
}

int ddns_status(struct agent *a, char **ret) {
	_cleanup_(ddns_hold_release) struct ddns_hold hold = {};
	_cleanup_(ddns_state_release) struct ddns_state state = {};
	char config[17];
	const char *why;
	char *s = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	*ret = NULL;
	if (a->p->ddns_provider == DDNS_NONE)
		return 0;
	if ((r = ddns_config_hash(a, config)) < 0 || (r = ddns_hold_load(a, &hold)) < 0 ||
	    (r = ddns_state_load(a, &state)) < 0)
		return r;
	f = open_memstream(&s, &size);
	if (!f)
		return -ENOMEM;
	fprintf(f, "%s (%s):", a->p->ddns_hostname, ddns_provider_to_string(a->p->ddns_provider));
	for (size_t i = 0; i < 2; i++) {
		const char *family = i ? "ipv6" : "ipv4";
		struct ddns_entry *e = ddns_state_find(&state, ddns_provider_to_string(a->p->ddns_provider),
						       a->p->ddns_hostname, family, config);
		if (e)
			fprintf(f, " %s %s (confirmed, last checked at %llu)", i ? "AAAA" : "A", e->address,
				(unsigned long long)e->checked);
	}
	why = held(&hold, config, now_wall());
	if (why && hold.fatal)
		fprintf(f, " STOPPED: %s; fix: %s", why, hold.fix ? hold.fix : "?");
	else if (why)
		fprintf(f, " waiting until %llu: %s", (unsigned long long)hold.until, why);
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}
