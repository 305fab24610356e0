/* DDNS answers and state: what each provider's reply means, and the state file read back. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ddns.h"
#include "test.h"

#define BODY(s) s, sizeof(s) - 1

static enum ddns_verdict verdict_of(int (*fn)(long, const char *, size_t, uint64_t, struct ddns_answer *), long status,
				    const char *body, size_t size, uint64_t retry_after, uint64_t *ret_wait) {
	struct ddns_answer a = {};
	enum ddns_verdict v;

	ASSERT_OK(fn(status, body, size, retry_after, &a));
	ASSERT_TRUE(a.reason != NULL);
	if (ret_wait)
		*ret_wait = a.retry_after;
	v = a.verdict;
	ddns_answer_release(&a);
	return v;
}

TEST(dyndns2_answers) {
	uint64_t wait = 0;

	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("good 203.0.113.5\n"), 0, NULL), DDNS_OK);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("nochg 203.0.113.5"), 0, NULL), DDNS_OK);
	/* the body decides, whatever the status says */
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("badauth"), 0, NULL), DDNS_FATAL);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 401, BODY("badauth"), 0, NULL), DDNS_FATAL);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("!donator"), 0, NULL), DDNS_FATAL);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("!yours"), 0, NULL), DDNS_FATAL);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 403, BODY("<html>"), 0, NULL), DDNS_FATAL);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("911"), 0, &wait), DDNS_RETRY);
	ASSERT_EQ(wait, DDNS_RETRY_SECONDS);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("dnserr"), 120, &wait), DDNS_RETRY);
	ASSERT_EQ(wait, 120);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 503, BODY("good 1.2.3.4"), 7200, &wait), DDNS_RETRY);
	ASSERT_EQ(wait, 7200);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY(""), 0, NULL), DDNS_RETRY);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("goodness"), 0, NULL), DDNS_RETRY);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 404, BODY("good"), 0, NULL), DDNS_RETRY);
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, "\0good", 5, 0, NULL), DDNS_RETRY);
}

/* Every fatal dyndns2 code: the body alone decides (HTTP 200), the verdict is fatal, the reason
 * names the code and there is something for the user to change. */
TEST(dyndns2_fatal_answers) {
	static const char *const codes[] = { "badauth", "nohost", "notfqdn", "badagent", "abuse",
					     "!donator", "numhost", "!yours", "badsys" };

	for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
		struct ddns_answer a = {};

		ASSERT_OK(ddns_answer_dyndns2(200, codes[i], strlen(codes[i]), 0, &a));
		ASSERT_EQ(a.verdict, DDNS_FATAL);
		ASSERT_EQ(a.retry_after, 0);
		ASSERT_TRUE(a.reason != NULL);
		ASSERT_TRUE(strncmp(a.reason, codes[i], strlen(codes[i])) == 0);
		ASSERT_TRUE(a.fix != NULL);
		ASSERT_TRUE(strlen(a.fix) > 10);
		ddns_answer_release(&a);
		/* the same code with a trailing newline, as servers send it, and with HTTP 401 */
		{
			char body[32];
			int n = snprintf(body, sizeof(body), "%s\n", codes[i]);

			ASSERT_OK(ddns_answer_dyndns2(401, body, (size_t)n, 0, &a));
			ASSERT_EQ(a.verdict, DDNS_FATAL);
			ASSERT_TRUE(a.fix != NULL);
			ddns_answer_release(&a);
		}
	}
	/* a word that only begins like a fatal code is not one */
	ASSERT_EQ(verdict_of(ddns_answer_dyndns2, 200, BODY("nohosts"), 0, NULL), DDNS_RETRY);
}

TEST(duckdns_answers) {
	ASSERT_EQ(verdict_of(ddns_answer_duckdns, 200, BODY("OK"), 0, NULL), DDNS_OK);
	ASSERT_EQ(verdict_of(ddns_answer_duckdns, 200, BODY("KO"), 0, NULL), DDNS_FATAL);
	ASSERT_EQ(verdict_of(ddns_answer_duckdns, 200, BODY("OKAY"), 0, NULL), DDNS_RETRY);
	ASSERT_EQ(verdict_of(ddns_answer_duckdns, 502, BODY("OK"), 0, NULL), DDNS_RETRY);
}

TEST(cloudflare_answers) {
	struct ddns_answer a = {};

	ASSERT_EQ(verdict_of(ddns_answer_cloudflare, 200, BODY("{\"success\":true,\"errors\":[],\"result\":{}}"), 0, NULL),
		  DDNS_OK);
	ASSERT_OK(ddns_answer_cloudflare(400, BODY("{\"success\":false,\"errors\":[{\"code\":9109,\"message\":\"Invalid access token\"}]}"),
					 0, &a));
	ASSERT_EQ(a.verdict, DDNS_FATAL);
	ASSERT_CONTAINS(a.reason, "Cloudflare error 9109: Invalid access token (HTTP 400)");
	ddns_answer_release(&a);
	/* success:false that is not about the token, with HTTP 200: try later */
	ASSERT_EQ(verdict_of(ddns_answer_cloudflare, 200, BODY("{\"success\":false,\"errors\":[{\"code\":81057,\"message\":\"exists\"}]}"),
			     0, NULL), DDNS_RETRY);
	ASSERT_EQ(verdict_of(ddns_answer_cloudflare, 200, BODY("{\"success\":tru"), 0, NULL), DDNS_RETRY);
	ASSERT_EQ(verdict_of(ddns_answer_cloudflare, 200, "{\"success\":true}\0x", 18, 0, NULL), DDNS_RETRY);
	ASSERT_EQ(verdict_of(ddns_answer_cloudflare, 403, BODY("forbidden"), 0, NULL), DDNS_FATAL);
}

TEST(printable) {
	char *s = ddns_printable("ab\001\377cd\nsecond line", 17);

	ASSERT_STREQ(s, "ab??cd");
	free(s);
}

TEST(state_roundtrip) {
	struct agent a = { .root = ".", .root_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
	struct ddns_state s = {}, t = {};
	struct ddns_entry e = { .provider = "noip", .host = "rig.ddns.net", .family = "ipv4", .config = "0123456789abcdef",
				.address = "203.0.113.5", .updated = 17, .checked = 18 };
	struct ddns_entry *f;

	ASSERT_OK(mkdir("var", 0755));
	ASSERT_OK(mkdir("var/lib", 0755));
	ASSERT_OK(mkdir("var/lib/mlrig", 0755));
	ASSERT_OK(ddns_state_set(&s, &e));
	e.address = "203.0.113.6"; /* the same key: replaced, not added */
	ASSERT_OK(ddns_state_set(&s, &e));
	e.family = "ipv6";
	e.address = "2001:db8::1";
	ASSERT_OK(ddns_state_set(&s, &e));
	ASSERT_EQ(s.n, 2);
	ASSERT_OK(ddns_state_save(&a, &s));
	ASSERT_OK(ddns_state_load(&a, &t));
	ASSERT_EQ(t.n, 2);
	f = ddns_state_find(&t, "noip", "RIG.ddns.net", "ipv4", "0123456789abcdef");
	ASSERT_TRUE(f != NULL);
	ASSERT_STREQ(f->address, "203.0.113.6");
	ASSERT_EQ(f->checked, 18);
	ASSERT_TRUE(ddns_state_find(&t, "noip", "rig.ddns.net", "ipv4", "fedcba9876543210") == NULL);
	ddns_state_release(&s);
	ddns_state_release(&t);
	close(a.root_fd);
}
