/* builder/fetch.c and common/curl-util.c, the pure parts: names → URLs, SHA256SUMS, Content-Range, resume decisions. */
#include "curl-util.h"
#include "fetch.h"
#include "macro.h"
#include "test.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static const char sums[] =
	HEX_A " *ubuntu-20.04.5-live-server-amd64.iso\n"
	"# a comment line\n"
	HEX_B " *ubuntu-20.04.6-live-server-amd64.iso\r\n"
	HEX_C "  ubuntu-20.04.6-desktop-amd64.iso\n"
	"DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD *ubuntu-20.04-server-cloudimg-amd64-root.tar.xz\n";

TEST(known_names) {
	const struct fetch_known *k = fetch_known_lookup("ubuntu-20.04-live-server");
	char *url = NULL;

	ASSERT_TRUE(k);
	ASSERT_OK(fetch_known_dir_url(k, NULL, &url));
	ASSERT_STREQ(url, "https://releases.ubuntu.com/20.04/");
	free(url);
	ASSERT_OK(fetch_known_dir_url(k, "http://127.0.0.1:8080/", &url));
	ASSERT_STREQ(url, "http://127.0.0.1:8080/20.04/");
	free(url);
	k = fetch_known_lookup("ubuntu-20.04-server-cloudimg-amd64-root.tar.xz");
	ASSERT_TRUE(k);
	ASSERT_OK(fetch_known_dir_url(k, NULL, &url));
	ASSERT_STREQ(url, "https://cloud-images.ubuntu.com/releases/focal/release/");
	free(url);
	ASSERT_TRUE(fetch_known_lookup("ubuntu-22.04-live-server"));
	ASSERT_TRUE(fetch_known_lookup("ubuntu-24.04-desktop"));
	ASSERT_TRUE(!fetch_known_lookup("ubuntu-19.10"));
}

TEST(sums_exact_and_release) {
	char hex[65], *name = NULL;

	ASSERT_OK(fetch_sums_find(sums, "ubuntu-20.04.6-desktop-amd64.iso", hex));
	ASSERT_STREQ(hex, HEX_C);
	ASSERT_OK(fetch_sums_find(sums, "ubuntu-20.04.6-live-server-amd64.iso", hex)); /* CRLF tolerated */
	ASSERT_STREQ(hex, HEX_B);
	ASSERT_EQ(fetch_sums_find(sums, "ubuntu-20.04.6-live-server-amd64", hex), -ENOENT);

	ASSERT_OK(fetch_sums_find_point_release(sums, "ubuntu-20.04", "-live-server-amd64.iso", &name, hex));
	ASSERT_STREQ(name, "ubuntu-20.04.6-live-server-amd64.iso"); /* the newest point release */
	ASSERT_STREQ(hex, HEX_B);
	free(name);
	ASSERT_OK(fetch_sums_find_point_release(sums, "ubuntu-20.04-server-cloudimg-amd64-root.tar.xz", "", &name, hex));
	ASSERT_STREQ(hex, "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"); /* lower-cased */
	free(name);
	ASSERT_EQ(fetch_sums_find_point_release(sums, "ubuntu-22.04", "-live-server-amd64.iso", &name, hex), -ENOENT);
}

TEST(parse_sha256_and_basename) {
	char hex[65], *b = NULL;

	ASSERT_OK(fetch_parse_sha256("ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789", hex));
	ASSERT_STREQ(hex, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	ASSERT_EQ(fetch_parse_sha256("abc", hex), -EINVAL);
	ASSERT_EQ(fetch_parse_sha256("g000000000000000000000000000000000000000000000000000000000000000", hex), -EINVAL);

	ASSERT_OK(fetch_url_basename("https://host/a/b/file.iso?x=1#f", &b));
	ASSERT_STREQ(b, "file.iso");
	free(b);
	ASSERT_EQ(fetch_url_basename("https://host", &b), -EINVAL);
	ASSERT_EQ(fetch_url_basename("https://host/dir/", &b), -EINVAL);
	ASSERT_EQ(fetch_url_basename("https://host/..", &b), -EINVAL);
}

TEST(content_range) {
	uint64_t s, e, t;

	ASSERT_OK(curl_util_parse_content_range(" bytes 100-199/1000\r\n", &s, &e, &t));
	ASSERT_TRUE(s == 100 && e == 199 && t == 1000);
	ASSERT_OK(curl_util_parse_content_range("bytes */1000", &s, &e, &t));
	ASSERT_TRUE(s == UINT64_MAX && t == 1000);
	ASSERT_OK(curl_util_parse_content_range("bytes 0-9/*", &s, &e, &t));
	ASSERT_TRUE(t == UINT64_MAX);
	ASSERT_EQ(curl_util_parse_content_range("bytes 200-100/1000", &s, &e, &t), -EINVAL);
	ASSERT_EQ(curl_util_parse_content_range("bytes 0-1000/1000", &s, &e, &t), -EINVAL);
	ASSERT_EQ(curl_util_parse_content_range("items 0-1/2", &s, &e, &t), -EINVAL);
}

TEST(resume_decisions) {
	struct curl_response ok = { .status = 200 }, part = { .status = 206, .has_range = true, .range_start = 500 },
			     from0 = { .status = 206, .has_range = true, .range_start = 0 };
	enum fetch_resume a;

	ASSERT_OK(fetch_resume_decide(0, &ok, &a));
	ASSERT_EQ(a, FETCH_APPEND);
	ASSERT_OK(fetch_resume_decide(500, &ok, &a)); /* server ignored Range */
	ASSERT_EQ(a, FETCH_RESTART);
	ASSERT_OK(fetch_resume_decide(500, &part, &a));
	ASSERT_EQ(a, FETCH_APPEND);
	ASSERT_OK(fetch_resume_decide(500, &from0, &a));
	ASSERT_EQ(a, FETCH_RESTART);
	ASSERT_EQ(fetch_resume_decide(400, &part, &a), -EILSEQ); /* never glue a wrong range on */
}

TEST(error_mapping) {
	ASSERT_TRUE(curl_util_error_is_transient(-ECONNRESET));
	ASSERT_TRUE(curl_util_error_is_transient(-EAGAIN));
	ASSERT_TRUE(!curl_util_error_is_transient(-ENOENT));
	ASSERT_TRUE(!curl_util_error_is_transient(-EPROTO));
	ASSERT_CONTAINS(curl_util_error_to_string(-ENOENT), "404");
	ASSERT_CONTAINS(curl_util_error_to_string(-ENXIO), "DNS");
	ASSERT_CONTAINS(curl_util_error_to_string(-EPROTO), "TLS");
}
