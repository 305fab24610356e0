/* Dynamic DNS: one check-and-update cycle (the `ddns` stage's first, then
 * mlrig-ddns.timer's), the providers' answers, and what is remembered between
 * cycles. Credentials stay in memory: never in a log line, a note or a file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

#define DDNS_STATE AGENT_STATE_DIR "/ddns.state" /* what the provider last confirmed, per family */
#define DDNS_HOLD AGENT_STATE_DIR "/ddns.hold"   /* why no request may go out, and until when */
#define DDNS_RETRY_SECONDS (30 * 60)             /* after 911, dnserr, HTTP 5xx/429, an unreadable answer */
#define DDNS_DNS_CHECK_SECONDS (24 * 60 * 60)    /* how often the live record is compared */
#define DDNS_MAX_REPLY (64 * 1024)               /* a longer answer is an error, not read on */
/* Providers ask for "Company Client/Version contact"; build with -DMLRIG_CONTACT=... to name yours. */
#ifndef MLRIG_CONTACT
#define MLRIG_CONTACT "mlrig-firstboot@users.invalid"
#endif
#define DDNS_USER_AGENT "mlrig mlrig-firstboot/" MLRIG_VERSION " " MLRIG_CONTACT

/* ---- answers (ddns-answer.c) ---- */

enum ddns_verdict { DDNS_OK, DDNS_RETRY, DDNS_FATAL };

struct ddns_answer {
	enum ddns_verdict verdict;
	uint64_t retry_after; /* DDNS_RETRY: seconds before the next request */
	char *reason;         /* what the server said, printable, for status */
	const char *fix;      /* DDNS_FATAL: what the user has to change */
	bool no_answer;       /* DDNS_RETRY: the server was not reached; no hold, the next cycle tries again */
};

/* What a reply means (>= 0, or -ENOMEM). retry_after is the server's Retry-After (0 if none).
 * Bodies are read whatever the status: some providers answer errors with HTTP 200. */
int ddns_answer_dyndns2(long status, const char *body, size_t size, uint64_t retry_after, struct ddns_answer *ret);
int ddns_answer_duckdns(long status, const char *body, size_t size, uint64_t retry_after, struct ddns_answer *ret);
int ddns_answer_cloudflare(long status, const char *body, size_t size, uint64_t retry_after, struct ddns_answer *ret);
void ddns_answer_release(struct ddns_answer *a);
/* The first line of a body, at most 80 bytes, anything unprintable as '?'. */
char *ddns_printable(const char *body, size_t size);

/* ---- what is remembered (ddns-state.c) ---- */

/* One (provider, host, family): the address the provider last confirmed. */
struct ddns_entry {
	char *provider, *host, *family, *config, *address;
	uint64_t updated; /* when it was sent and answered with success (0: found correct, not sent) */
	uint64_t checked; /* when the live record was last compared with it */
};

struct ddns_state {
	struct ddns_entry *entries;
	size_t n;
};

struct ddns_hold {
	char *config;   /* the DDNS config it is about; another config is not held */
	bool fatal;     /* until the config changes */
	uint64_t since;
	uint64_t until; /* !fatal: no request before */
	char *reason;
	char *fix;
};

/* A hash of every [DDNS] key but Interval= and of the secret file's identity (inode, size, change time; not
 * its content, so no hash of the password is ever written): a new password is a new config. */
int ddns_config_hash(struct agent *a, char ret[17]);

int ddns_state_load(struct agent *a, struct ddns_state *ret);
/* The entry for (provider, host, family) under config, or NULL. */
struct ddns_entry *ddns_state_find(struct ddns_state *s, const char *provider, const char *host, const char *family,
				   const char *config);
/* Replaces or adds the entry for e's key; copies e. */
int ddns_state_set(struct ddns_state *s, const struct ddns_entry *e);
int ddns_state_save(struct agent *a, const struct ddns_state *s);
void ddns_state_release(struct ddns_state *s);

int ddns_hold_load(struct agent *a, struct ddns_hold *ret); /* an empty hold when there is none */
int ddns_hold_save(struct agent *a, const struct ddns_hold *h);
int ddns_hold_clear(struct agent *a);
void ddns_hold_release(struct ddns_hold *h);

/* ---- the cycle (ddns.c, ddns-provider.c) ---- */

struct ddns_report {
	unsigned requests; /* sent to the provider (check-IP and DNS not counted) */
	bool failed;       /* a request failed, or a fatal hold stopped everything */
	char *summary;     /* one line per family, for the console and the stage's note */
};

/* One cycle: find the address, compare with the state and, once a day, with the live
 * record; update only what changed; remember failures in the hold. force: ignore the
 * hold and send even an unchanged address. -errno only for local failures (no memory,
 * an unreadable config); provider failures are in the report. */
int ddns_cycle(struct agent *a, bool force, struct ddns_report *ret);
void ddns_report_release(struct ddns_report *r);
/* The status line: "rig.ddns.net: A 203.0.113.5 (updated ...)", a hold's reason and fix; NULL without a provider. */
int ddns_status(struct agent *a, char **ret);

/* Sends an update of the host's record of family to address; the answer classified (ddns-provider.c).
 * Cloudflare's record is read first, and not written when it holds the address already. */
struct ddns_request_ctx {
	struct agent *a;
	const char *secret;
	const char *family;  /* "ipv4" or "ipv6" */
	const char *address;
	unsigned *requests;  /* counts what went to the provider */
};
int ddns_send_update(struct ddns_request_ctx *c, struct ddns_answer *ret);
/* Cloudflare's own record (the authority) for family, without changing it: *ret NULL when none. */
int ddns_cloudflare_lookup(struct ddns_request_ctx *c, char **ret, struct ddns_answer *ret_answer);
