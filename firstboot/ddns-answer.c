/* What a DDNS server's reply means: success, try again later, or stop until the
 * config changes. The body decides (dyndns2 servers answer "badauth" with HTTP 200
 * as often as with 401), the HTTP status only where the body cannot. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ddns.h"
#include "json.h"

char *ddns_printable(const char *body, size_t size) {
	size_t n = 0;
	char *s = malloc(81);

	if (!s)
		return NULL;
	while (n < size && n < 80 && body[n] != '\n' && body[n] != '\r') {
		s[n] = isprint((unsigned char)body[n]) ? body[n] : '?';
		n++;
	}
	s[n] = 0;
	return s;
}

void ddns_answer_release(struct ddns_answer *a) {
	free(a->reason);
	*a = (struct ddns_answer){};
}

static int answer(struct ddns_answer *ret, enum ddns_verdict v, uint64_t retry_after, const char *fix,
		  const char *fmt, ...) _printf_(5, 6);

static int answer(struct ddns_answer *ret, enum ddns_verdict v, uint64_t retry_after, const char *fix,
		  const char *fmt, ...) {
	va_list ap;
	char *reason;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&reason, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	*ret = (struct ddns_answer){ .verdict = v, .retry_after = v == DDNS_RETRY ? retry_after : 0, .fix = fix,
				     .reason = reason };
	return 1; /* decided */
}

/* What every protocol shares: the HTTP statuses that mean the same whatever the body says;
 * 1 when decided, 0 when the body has to. */
static int answer_http(long status, uint64_t retry_after, const char *what, struct ddns_answer *ret) {
	if (status == 401 || status == 403)
		return answer(ret, DDNS_FATAL, 0, "correct the credentials in /etc/mlrig/ddns.password ([DDNS] PasswordFile=) or [DDNS] Username=",
			      "HTTP %ld: the server refused the credentials", status);
	if (status == 429 || status >= 500)
		return answer(ret, DDNS_RETRY, retry_after ? retry_after : DDNS_RETRY_SECONDS, NULL,
			      "HTTP %ld: the %s server is busy or failing", status, what);
	return 0;
}

static int answer_unreadable(long status, const char *body, size_t size, uint64_t retry_after,
			     struct ddns_answer *ret) {
	_cleanup_free_ char *text = ddns_printable(body, size);

	if (!text)
		return -ENOMEM;
	if (size == 0)
		return answer(ret, DDNS_RETRY, retry_after ? retry_after : DDNS_RETRY_SECONDS, NULL,
			      "HTTP %ld with an empty answer", status);
	return answer(ret, DDNS_RETRY, retry_after ? retry_after : DDNS_RETRY_SECONDS, NULL,
		      "HTTP %ld with an answer this client does not know: '%s'", status, text);
}

static const struct {
	const char *code;
	const char *reason;
	const char *fix;
} dyndns2_fatal[] = {
	{ "badauth", "the user name or password is wrong",
	  "correct [DDNS] Username= or the password in /etc/mlrig/ddns.password" },
	{ "nohost", "the host name is not in this account", "correct [DDNS] Hostname=, or create the host at the provider" },
	{ "notfqdn", "the host name is not a fully qualified domain name", "correct [DDNS] Hostname=" },
	{ "badagent", "the provider blocked this client (User-Agent " DDNS_USER_AGENT ")",
	  "update mlrig; the provider blocks clients that misbehave" },
	{ "abuse", "the provider blocked the host name for abuse", "log in at the provider and unblock the host name" },
	{ "!donator", "the request used a feature this account does not have", "check the account's plan at the provider" },
	{ "numhost", "too many host names in one request", "name one host in [DDNS] Hostname=" },
	{ "!yours", "the host name belongs to another account", "correct [DDNS] Hostname= or [DDNS] Username=" },
	{ "badsys", "the server refused the request's system parameter", "check [DDNS] Server= (is it a dyndns2 server?)" },
};

int ddns_answer_dyndns2(long status, const char *body, size_t size, uint64_t retry_after, struct ddns_answer *ret) {
	char word[16];
	size_t n = 0;
	int r;

	while (n < size && n < sizeof(word) - 1 && !isspace((unsigned char)body[n]) && body[n])
		n++;
	memcpy(word, body, n);
	word[n] = 0;
	for (size_t i = 0; i < ELEMENTSOF(dyndns2_fatal); i++)
		if (strcmp(word, dyndns2_fatal[i].code) == 0)
			return answer(ret, DDNS_FATAL, 0, dyndns2_fatal[i].fix, "%s: %s (HTTP %ld)", word,
				      dyndns2_fatal[i].reason, status);
	r = answer_http(status, retry_after, "DDNS", ret);
	if (r != 0)
		return r;
	if (strcmp(word, "911") == 0 || strcmp(word, "dnserr") == 0)
		return answer(ret, DDNS_RETRY, retry_after ? retry_after : DDNS_RETRY_SECONDS, NULL,
			      "%s: the provider has a problem on its side", word);
	if (status == 200 && (strcmp(word, "good") == 0 || strcmp(word, "nochg") == 0))
		return answer(ret, DDNS_OK, 0, NULL, "%s", word);
	return answer_unreadable(status, body, size, retry_after, ret);
}

int ddns_answer_duckdns(long status, const char *body, size_t size, uint64_t retry_after, struct ddns_answer *ret) {
	int r = answer_http(status, retry_after, "DuckDNS", ret);

	if (r != 0)
		return r;
	/* "OK" or "KO", then with verbose=true more lines, which are not asked for */
	if (size >= 2 && memcmp(body, "KO", 2) == 0 && (size == 2 || body[2] == '\n'))
		return answer(ret, DDNS_FATAL, 0, "correct the token in /etc/mlrig/ddns.password or [DDNS] Hostname= (NAME.duckdns.org)",
			      "KO: DuckDNS refused the token or the domain");
	if (status == 200 && size >= 2 && memcmp(body, "OK", 2) == 0 && (size == 2 || body[2] == '\n'))
		return answer(ret, DDNS_OK, 0, NULL, "OK");
	return answer_unreadable(status, body, size, retry_after, ret);
}

/* Cloudflare's error codes that mean the token or its rights (api.cloudflare.com's docs). */
static bool cloudflare_auth_error(int64_t code) {
	static const int64_t codes[] = { 6003, 6111, 9103, 9106, 9109, 10000, 10001 };

	for (size_t i = 0; i < ELEMENTSOF(codes); i++)
		if (codes[i] == code)
			return true;
	return false;
}

int ddns_answer_cloudflare(long status, const char *body, size_t size, uint64_t retry_after, struct ddns_answer *ret) {
	_cleanup_free_ char *message = NULL;
	const char *error;
	int64_t code = 0;
	bool success = false;
	int r;

	if (strlen(body) != size || !json_valid(body) || json_read_bool(json_member(body, "success"), &success) < 0) {
		r = answer_http(status, retry_after, "Cloudflare API", ret);
		if (r != 0)
			return r;
		return answer_unreadable(status, body, size, retry_after, ret);
	}
	if (success && status >= 200 && status < 300)
		return answer(ret, DDNS_OK, 0, NULL, "success");
	error = json_element(json_member(body, "errors"), 0);
	(void)json_read_int(json_member(error, "code"), &code);
	(void)json_read_string(json_member(error, "message"), &message);
	if (message)
		for (char *c = message; *c; c++)
			if (!isprint((unsigned char)*c))
				*c = '?';
	if (cloudflare_auth_error(code) || status == 401 || status == 403)
		return answer(ret, DDNS_FATAL, 0, "give the token in /etc/mlrig/ddns.password Zone.DNS edit rights for [DDNS] Zone=",
			      "Cloudflare error %lld: %s (HTTP %ld)", (long long)code, message ? message : "no message", status);
	r = answer_http(status, retry_after, "Cloudflare API", ret);
	if (r != 0)
		return r;
	return answer(ret, DDNS_RETRY, retry_after ? retry_after : DDNS_RETRY_SECONDS, NULL,
		      "Cloudflare error %lld: %s (HTTP %ld)", (long long)code, message ? message : "no message", status);
}
