/* A tiny test registry: TEST(name) { ... } with assertions that print file:line
 * and both values. Each test runs in its own temp dir, kept when it fails. */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test {
	const char *name;
	void (*fn)(void);
	struct test *next;
};

void test_register(struct test *t);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
/* Ends the test as skipped, saying why (a tool this machine lacks); the summary counts it. */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The test's temp dir (the current directory while it runs). */
const char *test_dir(void);

#define TEST(n)                                                            \
	static void test_##n(void);                                        \
	static struct test test_struct_##n = { #n, test_##n, NULL };       \
	__attribute__((constructor)) static void test_register_##n(void) { \
		test_register(&test_struct_##n);                           \
	}                                                                  \
	static void test_##n(void)

#define ASSERT_TRUE(x)                                                        \
	do {                                                                  \
		if (!(x))                                                     \
			test_fail(__FILE__, __LINE__, "expected true: %s", #x); \
	} while (0)

#define ASSERT_EQ(a, b)                                                                         \
	do {                                                                                    \
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);                                \
		if (_a != _b)                                                                   \
			test_fail(__FILE__, __LINE__, "%s == %s: %jd != %jd", #a, #b, _a, _b);  \
	} while (0)

#define ASSERT_OK(r)                                                                             \
	do {                                                                                     \
		intmax_t _r = (intmax_t)(r);                                                     \
		if (_r < 0)                                                                      \
			test_fail(__FILE__, __LINE__, "%s failed: %jd (%s)", #r, _r, strerror((int)-_r)); \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                              \
	do {                                                                                            \
		const char *_a = (a), *_b = (b);                                                        \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                                  \
			test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,             \
				  _a ? _a : "(null)", _b ? _b : "(null)");                              \
	} while (0)

#define ASSERT_CONTAINS(hay, needle)                                                                    \
	do {                                                                                            \
		const char *_h = (hay), *_n = (needle);                                                 \
		if (!_h || !strstr(_h, _n))                                                             \
			test_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay, _n,        \
				  _h ? _h : "(null)");                                                  \
	} while (0)
