/* The four DDNS protocols as requests: dyndns2 (No-IP and any dyndns2 server), DuckDNS
 * and Cloudflare's API. Secrets go to libcurl in this process, never on a command line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "curl-util.h"
#include "ddns.h"
#include "json.h"
#include "url-util.h"

static const char *base_url(const Profile *p) {
	if (p->ddns_server)
		return p->ddns_server;
	switch (p->ddns_provider) {
	case DDNS_NOIP: return "https://dynupdate.no-ip.com";
	case DDNS_DUCKDNS: return "https://www.duckdns.org";
	case DDNS_CLOUDFLARE: return "https://api.cloudflare.com";
	default: return NULL; /* dyndns2 has Server=, the profile checks that */
	}
}

/* base (without a trailing '/') + path */
static int make_url(const Profile *p, const char *path, char **ret) {
	const char *base = base_url(p);
	size_t n = strlen(base);

	if (n > 0 && base[n - 1] == '/')
		n--;
	return asprintf(ret, "%.*s%s", (int)n, base, path) < 0 ? -ENOMEM : 0;
}

static void secret_freep(char **s) {
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
	}
}

/* One request to the provider: the reply, or a transfer error as a retry-later answer. */
static int send_request(struct ddns_request_ctx *c, const struct curl_request *req, struct curl_reply *ret,
			struct ddns_answer *ret_answer) {
	_cleanup_free_ char *detail = NULL;
	int r;

	(*c->requests)++;
	r = curl_util_request(req, ret, &detail);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* a broken link or a hung server is a try-again when the timer comes back; an answer
		 * too long to read is an answer, held like any other this client cannot read */
		ret_answer->verdict = DDNS_RETRY;
		ret_answer->retry_after = DDNS_RETRY_SECONDS;
		ret_answer->no_answer = r != -EFBIG;
		ret_answer->fix = r == -ELIBACC ? "install libcurl4" : NULL;
		if (asprintf(&ret_answer->reason, "%s%s%s", curl_util_error_to_string(r), detail ? ": " : "",
			     detail ? detail : "") < 0)
			return -ENOMEM;
		return 0;
	}
	return 1;
}

static int update_dyndns2(struct ddns_request_ctx *c, struct ddns_answer *ret) {
	const Profile *p = c->a->p;
	_cleanup_free_ char *url = NULL, *path = NULL, *host = NULL;
	_cleanup_(curl_reply_release) struct curl_reply reply = {};
	int r;

	if ((r = url_escape(p->ddns_hostname, &host)) < 0)
		return r;
	if (asprintf(&path, "/nic/update?hostname=%s&myip=%s", host, c->address) < 0)
		return -ENOMEM;
	if ((r = make_url(p, path, &url)) < 0)
		return r;
	r = send_request(c, &(struct curl_request){ .url = url, .user = p->ddns_username, .password = c->secret,
						    .user_agent = DDNS_USER_AGENT, .max_reply = DDNS_MAX_REPLY,
						    .timeout_s = 60 }, &reply, ret);
	if (r <= 0)
		return r;
	return ddns_answer_dyndns2(reply.status, reply.body, reply.size, reply.retry_after, ret);
}

static int update_duckdns(struct ddns_request_ctx *c, struct ddns_answer *ret) {
	const Profile *p = c->a->p;
	_cleanup_(secret_freep) char *url = NULL, *token = NULL;
	_cleanup_free_ char *domain = NULL, *path = NULL;
	_cleanup_(curl_reply_release) struct curl_reply reply = {};
	const char *suffix = ".duckdns.org";
	size_t n = strlen(p->ddns_hostname);
	int r;

	/* DuckDNS takes the sub-domain: "rig" for rig.duckdns.org */
	if (n > strlen(suffix) && strcasecmp(p->ddns_hostname + n - strlen(suffix), suffix) == 0)
		n -= strlen(suffix);
	if (!(domain = strndup(p->ddns_hostname, n)) || url_escape(c->secret, &token) < 0)
		return -ENOMEM;
	/* the token has to be in the query (DuckDNS has no other way); the URL is never logged */
	if (asprintf(&path, "/update?domains=%s&token=%s&%s=%s", domain, token,
		     strcmp(c->family, "ipv6") == 0 ? "ipv6" : "ip", c->address) < 0)
		return -ENOMEM;
	r = make_url(p, path, &url);
	explicit_bzero(path, strlen(path));
	if (r < 0)
		return r;
	r = send_request(c, &(struct curl_request){ .url = url, .user_agent = DDNS_USER_AGENT,
						    .max_reply = DDNS_MAX_REPLY, .timeout_s = 60 }, &reply, ret);
	if (r <= 0)
		return r;
	return ddns_answer_duckdns(reply.status, reply.body, reply.size, reply.retry_after, ret);
}

/* ---- Cloudflare: find the zone, then the record; change the record only when it differs ---- */

static int cloudflare_call(struct ddns_request_ctx *c, const char *method, const char *path, const char *body,
			   struct curl_reply *reply, struct ddns_answer *ret) {
	_cleanup_(secret_freep) char *auth = NULL;
	_cleanup_free_ char *url = NULL;
	int r;

	if ((r = make_url(c->a->p, path, &url)) < 0)
		return r;
	if (asprintf(&auth, "Authorization: Bearer %s", c->secret) < 0)
		return -ENOMEM;
	char *const headers[] = { auth, "Content-Type: application/json", NULL };
	r = send_request(c, &(struct curl_request){ .method = method, .url = url, .headers = headers,
						    .body = body, .body_size = body ? strlen(body) : 0,
						    .user_agent = DDNS_USER_AGENT, .max_reply = DDNS_MAX_REPLY,
						    .timeout_s = 60 }, reply, ret);
	if (r <= 0)
		return r;
	r = ddns_answer_cloudflare(reply->status, reply->body, reply->size, reply->retry_after, ret);
	if (r < 0)
		return r;
	return ret->verdict == DDNS_OK ? 1 : 0;
}

static bool is_zone_id(const char *s) {
	size_t n = strlen(s);

	return n == 32 && strspn(s, "0123456789abcdef") == n;
}

/* result[0].field of a success answer; NULL when the result is empty. */
static int first_result(const struct curl_reply *reply, const char *field, char **ret) {
	const char *v = json_member(json_element(json_member(reply->body, "result"), 0), field);

	*ret = NULL;
	if (!v)
		return 0;
	return json_read_string(v, ret) < 0 ? -EBADMSG : 0;
}

static int answer_bad(struct ddns_answer *ret, enum ddns_verdict v, const char *fix, const char *reason) {
	ddns_answer_release(ret);
	ret->verdict = v;
	ret->retry_after = v == DDNS_RETRY ? DDNS_RETRY_SECONDS : 0;
	ret->fix = fix;
	return (ret->reason = strdup(reason)) ? 0 : -ENOMEM;
}

/* The record of family: its id and content (both NULL when there is none); 1 found or not, 0 when
 * *ret_answer says why it could not be looked up. */
static int cloudflare_record(struct ddns_request_ctx *c, char **ret_zone, char **ret_id, char **ret_content,
			     struct ddns_answer *ret_answer) {
	const Profile *p = c->a->p;
	_cleanup_free_ char *zone = NULL, *path = NULL, *name = NULL;
	_cleanup_(curl_reply_release) struct curl_reply reply = {};
	int r;

	if (is_zone_id(p->ddns_zone))
		zone = strdup(p->ddns_zone);
	else {
		if (asprintf(&path, "/client/v4/zones?name=%s", p->ddns_zone) < 0)
			return -ENOMEM;
		r = cloudflare_call(c, "GET", path, NULL, &reply, ret_answer);
		if (r <= 0)
			return r;
		if (first_result(&reply, "id", &zone) < 0)
			return answer_bad(ret_answer, DDNS_RETRY, NULL, "Cloudflare: a zone without a readable id");
		if (!zone)
			return answer_bad(ret_answer, DDNS_FATAL, "correct [DDNS] Zone=, or give the token rights on it",
					  "Cloudflare: the token sees no zone of this name");
		curl_reply_release(&reply);
		ddns_answer_release(ret_answer);
		free(path), path = NULL;
	}
	if (!zone || url_escape(p->ddns_hostname, &name) < 0)
		return -ENOMEM;
	if (asprintf(&path, "/client/v4/zones/%s/dns_records?type=%s&name=%s", zone,
		     strcmp(c->family, "ipv6") == 0 ? "AAAA" : "A", name) < 0)
		return -ENOMEM;
	r = cloudflare_call(c, "GET", path, NULL, &reply, ret_answer);
	if (r <= 0)
		return r;
	if (first_result(&reply, "id", ret_id) < 0 || first_result(&reply, "content", ret_content) < 0) {
		free(*ret_id);
		return answer_bad(ret_answer, DDNS_RETRY, NULL, "Cloudflare: a record without a readable id or content");
	}
	*ret_zone = TAKE_PTR(zone);
	return 1;
}

int ddns_cloudflare_lookup(struct ddns_request_ctx *c, char **ret, struct ddns_answer *ret_answer) {
	_cleanup_free_ char *zone = NULL, *id = NULL;
	int r = cloudflare_record(c, &zone, &id, ret, ret_answer);

	return r < 0 ? r : r == 0 ? 0 : 1;
}

/* A record's JSON for Cloudflare's API: only its content (PATCH), or a whole new record (type set: POST). */
static int cloudflare_body(const char *type, const char *name, const char *content, char **ret) {
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	JsonWriter w;
	int r = json_memory_open(&w, &text, &size);

	if (r < 0)
		return r;
	json_object_begin(&w);
	if (type) {
		json_field_string(&w, "type", type);
		json_field_string(&w, "name", name);
	}
	json_field_string(&w, "content", content);
	if (type) {
		json_field_uint(&w, "ttl", 1); /* "automatic" */
		json_field_bool(&w, "proxied", false);
	}
	json_object_end(&w);
	r = json_memory_close(&w);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(text);
	return 0;
}

static int update_cloudflare(struct ddns_request_ctx *c, struct ddns_answer *ret) {
	_cleanup_free_ char *zone = NULL, *id = NULL, *content = NULL, *path = NULL, *body = NULL;
	_cleanup_(curl_reply_release) struct curl_reply reply = {};
	int r;

	r = cloudflare_record(c, &zone, &id, &content, ret);
	if (r <= 0)
		return r;
	ddns_answer_release(ret);
	if (content && strcmp(content, c->address) == 0)
		return answer_bad(ret, DDNS_OK, NULL, "the record has the address already");
	if (id) {
		/* PATCH keeps what the user set on the record (proxied, TTL, comment) */
		if (asprintf(&path, "/client/v4/zones/%s/dns_records/%s", zone, id) < 0)
			return -ENOMEM;
		r = cloudflare_body(NULL, NULL, c->address, &body);
		if (r < 0)
			return r;
		r = cloudflare_call(c, "PATCH", path, body, &reply, ret);
	} else {
		if (asprintf(&path, "/client/v4/zones/%s/dns_records", zone) < 0)
			return -ENOMEM;
		r = cloudflare_body(strcmp(c->family, "ipv6") == 0 ? "AAAA" : "A", c->a->p->ddns_hostname, c->address,
				    &body);
		if (r < 0)
			return r;
		r = cloudflare_call(c, "POST", path, body, &reply, ret);
	}
	return r < 0 ? r : 0;
}

int ddns_send_update(struct ddns_request_ctx *c, struct ddns_answer *ret) {
	int r;

	*ret = (struct ddns_answer){};
	switch (c->a->p->ddns_provider) {
	case DDNS_NOIP:
	case DDNS_DYNDNS2: r = update_dyndns2(c, ret); break;
	case DDNS_DUCKDNS: r = update_duckdns(c, ret); break;
	case DDNS_CLOUDFLARE: r = update_cloudflare(c, ret); break;
	default: return -EINVAL;
	}
	return r < 0 ? r : 0;
}
