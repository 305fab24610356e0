/* A DDNS server's reply: its header lines as libcurl hands them to the header callback
 * (Content-Range, Content-Length, Retry-After), then its body through each protocol's answer
 * parser (dyndns2, DuckDNS, Cloudflare's JSON), with the HTTP status the first two bytes make;
 * and the first line checked as a URL, as [DDNS] Server= and CheckIP= are. The input is
 * "SS" then header lines, a blank line, the body. */
#include "curl-util.h"
#include "ddns.h"
#include "fuzz.h"
#include "url-util.h"

typedef int (*answer_fn)(long, const char *, size_t, uint64_t, struct ddns_answer *);

static void headers(const char *p, const char *end, struct curl_headers *h) {
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		curl_util_header_line(h, p, n);
		/* a 416 has an asterisk for the range: start and end stay UINT64_MAX */
		if (h->resp.has_range && h->resp.range_start != UINT64_MAX &&
		    (h->resp.range_end < h->resp.range_start ||
		     (h->resp.range_total != UINT64_MAX && h->resp.range_end >= h->resp.range_total)))
			abort();
		p += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	static const answer_fn answers[] = { ddns_answer_dyndns2, ddns_answer_duckdns, ddns_answer_cloudflare };
	struct curl_headers h = { .resp.length = UINT64_MAX };
	const char *text, *end, *body;
	char *line;
	const char *s;
	char *t;
	long status;

	if (size < 2)
		return 0;
	status = 100 + (data[0] | data[1] << 8) % 500;
	text = (const char *)data + 2;
	end = (const char *)data + size;
	body = memmem(text, (size_t)(end - text), "\n\r\n", 3);
	body = body ? body + 3 : end;
	headers(text, body, &h);

	/* as curl_util_request() hands it over: NUL-terminated (a NUL inside stays) */
	t = fuzz_strndup((const uint8_t *)body, (size_t)(end - body));
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		struct ddns_answer a = { 0 };

		if (answers[i](status, t, (size_t)(end - body), data[0] % 4 == 0 ? 0 : data[0], &a) >= 0) {
			if (a.verdict == DDNS_FATAL && !a.fix)
				abort(); /* a fatal answer always says what to change */
			ddns_answer_release(&a);
		}
	}
	free(t);
	t = ddns_printable(body, (size_t)(end - body));
	free(t);

	s = memchr(text, '\n', (size_t)(end - text));
	line = fuzz_strndup((const uint8_t *)text, s ? (size_t)(s - text) : (size_t)(end - text));
	for (int shape = URL_BASE; shape <= URL_FULL; shape++) {
		char *reason = NULL;

		(void)url_check(line, shape, &reason);
		free(reason);
	}
	if (url_escape(line, &t) >= 0)
		free(t);
	free(line);
	return 0;
}
