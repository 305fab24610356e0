/* common/: sha256 vectors, strict parsers, seed → UUID derivation, atomic writes, marked blocks. */
#include <sys/stat.h>

#include "dlopen-util.h"
#include "fileio.h"
#include "macro.h"
#include "managed-block.h"
#include "parse-util.h"
#include "sha256.h"
#include "test.h"

static void hex_of(const char *s, char hex[65]) {
	uint8_t d[32];

	sha256_buffer(s, strlen(s), d);
	sha256_hex(d, hex);
}

TEST(sha256_vectors) {
	char hex[65];
	struct sha256_ctx ctx;
	uint8_t d[32];

	hex_of("", hex);
	ASSERT_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", hex);
	ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
	ASSERT_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* a million 'a', fed in odd-sized pieces to cross block boundaries */
	sha256_init(&ctx);
	for (int i = 0; i < 1000000; i += 7)
		sha256_update(&ctx, "aaaaaaa", MIN(7, 1000000 - i));
	sha256_final(&ctx, d);
	sha256_hex(d, hex);
	ASSERT_STREQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(parse_size) {
	uint64_t v;

	ASSERT_OK(parse_size("4G", &v));
	ASSERT_EQ(v, 4ull << 30);
	ASSERT_OK(parse_size("512MiB", &v));
	ASSERT_EQ(v, 512ull << 20);
	ASSERT_OK(parse_size("1048576", &v));
	ASSERT_EQ(v, 1048576);
	ASSERT_EQ(parse_size("4X", &v), -EINVAL);
	ASSERT_EQ(parse_size("-1G", &v), -EINVAL);
	ASSERT_EQ(parse_size("", &v), -EINVAL);
	ASSERT_EQ(parse_size("99999999999T", &v), -ERANGE);
}

TEST(parse_numbers_and_bools) {
	uint32_t u;

	ASSERT_OK(safe_atou32("65535", &u));
	ASSERT_EQ(u, 65535);
	ASSERT_EQ(safe_atou32("4294967296", &u), -ERANGE);
	ASSERT_EQ(safe_atou32("12a", &u), -EINVAL);
	ASSERT_EQ(safe_atou32(" 1", &u), -EINVAL);
	ASSERT_EQ(parse_boolean("Yes"), 1);
	ASSERT_EQ(parse_boolean("off"), 0);
	ASSERT_EQ(parse_boolean("maybe"), -EINVAL);
}

TEST(uuid_roundtrip_and_derive) {
	uint8_t seed[16], a[16], b[16], c[16];
	char s[37];

	ASSERT_OK(uuid_parse("5A0F2B5E-35f1-4c6b-9d38-0f9a0c6f7e11", seed));
	uuid_format(seed, s);
	ASSERT_STREQ(s, "5a0f2b5e-35f1-4c6b-9d38-0f9a0c6f7e11");
	ASSERT_EQ(uuid_parse("5a0f2b5e35f14c6b9d380f9a0c6f7e11", seed), -EINVAL);
	ASSERT_EQ(uuid_parse("5a0f2b5e-35f1-4c6b-9d38-0f9a0c6f7e1g", seed), -EINVAL);

	ASSERT_OK(uuid_parse("5a0f2b5e-35f1-4c6b-9d38-0f9a0c6f7e11", seed));
	uuid_derive(seed, "gpt-disk", a);
	uuid_derive(seed, "gpt-disk", b);
	uuid_derive(seed, "gpt-root", c);
	ASSERT_TRUE(memcmp(a, b, 16) == 0);
	ASSERT_TRUE(memcmp(a, c, 16) != 0);
	ASSERT_EQ(a[6] >> 4, 4);        /* version 4 shape */
	ASSERT_EQ(a[8] & 0xc0, 0x80);   /* RFC 4122 variant */
	/* pinned: a changed derivation would silently change every image's identifiers */
	uuid_format(a, s);
	ASSERT_STREQ(s, "fd5cef65-96bb-4748-99b0-513d5d716243"); /* computed independently with python hashlib */
	seed[15] ^= 1;
	uuid_derive(seed, "gpt-disk", b);
	ASSERT_TRUE(memcmp(a, b, 16) != 0);
}

TEST(write_file_atomic) {
	char *data = NULL;
	size_t n;
	struct stat st;

	ASSERT_OK(write_file_atomic("f", "one", 3, 0600));
	ASSERT_OK(write_file_atomic("f", "two!", 4, 0640));
	ASSERT_OK(read_full_file("f", &data, &n));
	ASSERT_STREQ(data, "two!");
	ASSERT_EQ(n, 4);
	ASSERT_OK(stat("f", &st));
	ASSERT_EQ(st.st_mode & 07777, 0640);
	free(data);
	ASSERT_EQ(write_file_atomic("no/such/dir/f", "x", 1, 0644), -ENOENT);
}

TEST(dlopen_resolve_names_and_symbols) {
	const char *const missing[] = { "libmlrig-no-such.so.1", NULL };
	const char *const fallback[] = { "libmlrig-no-such.so.1", "libc.so.6", NULL };
	int (*getpid_p)(void) = NULL;
	void *maybe = (void *)1, *h = NULL;
	const struct dlsym_entry syms[] = { { "getpid", (void **)&getpid_p, false },
					    { "mlrig_no_such_symbol", &maybe, true } };
	const struct dlsym_entry need[] = { { "mlrig_no_such_symbol", &maybe, false } };
	char *error = NULL;

	ASSERT_EQ(dlopen_resolve(missing, syms, 2, &h, &error), -ELIBACC);
	ASSERT_CONTAINS(error, "libmlrig-no-such.so.1"); /* the first name, with the loader's words */
	ASSERT_CONTAINS(error, "No such file");
	/* the second name loads; an optional symbol may be missing */
	ASSERT_OK(dlopen_resolve(fallback, syms, 2, &h, &error));
	ASSERT_TRUE(getpid_p && getpid_p() == getpid());
	ASSERT_TRUE(maybe == NULL);
	ASSERT_EQ(dlopen_resolve(fallback, need, 1, &h, &error), -ELIBACC);
	ASSERT_CONTAINS(error, "has no symbol mlrig_no_such_symbol");
	free(error);
}

TEST(managed_blocks) {
	char *out = NULL, *again = NULL;

	/* into nothing, and into a file without a final newline */
	ASSERT_OK(managed_block(NULL, "#", "alias venv='. ~/venv/bin/activate'\n", &out));
	ASSERT_STREQ(out, "# >>> mlrig >>>\nalias venv='. ~/venv/bin/activate'\n# <<< mlrig <<<\n");
	free(out);
	ASSERT_OK(managed_block("export A=1", "#", "x\n", &out));
	ASSERT_STREQ(out, "export A=1\n# >>> mlrig >>>\nx\n# <<< mlrig <<<\n");

	/* replaced in place, what the user wrote around it kept, and a second run changes nothing */
	ASSERT_OK(managed_block("before\n# >>> mlrig >>>\nold\n# <<< mlrig <<<\nafter\n", "#", "new\n", &again));
	ASSERT_STREQ(again, "before\n# >>> mlrig >>>\nnew\n# <<< mlrig <<<\nafter\n");
	free(out);
	ASSERT_OK(managed_block(again, "#", "new\n", &out));
	ASSERT_STREQ(out, again);
	free(out);
	free(again);

	/* another comment leader (a .link or sshd file) */
	ASSERT_OK(managed_block("", ";", "k=v\n", &out));
	ASSERT_STREQ(out, "; >>> mlrig >>>\nk=v\n; <<< mlrig <<<\n");
	free(out);
	/* an opening marker without its end: appended anew, the broken one left for the user */
	ASSERT_OK(managed_block("# >>> mlrig >>>\nhalf\n", "#", "b\n", &out));
	ASSERT_STREQ(out, "# >>> mlrig >>>\nhalf\n# >>> mlrig >>>\nb\n# <<< mlrig <<<\n");
	free(out);

	/* a block per rig: each name has its own markers, the others are left alone */
	ASSERT_OK(managed_block_named("# >>> mlrig a >>>\nA\n# <<< mlrig a <<<\n", "#", "mlrig b", "B\n", &again));
	ASSERT_STREQ(again, "# >>> mlrig a >>>\nA\n# <<< mlrig a <<<\n# >>> mlrig b >>>\nB\n# <<< mlrig b <<<\n");
	ASSERT_OK(managed_block_named(again, "#", "mlrig a", "A2\n", &out));
	ASSERT_STREQ(out, "# >>> mlrig a >>>\nA2\n# <<< mlrig a <<<\n# >>> mlrig b >>>\nB\n# <<< mlrig b <<<\n");
	free(out);
	free(again);
}

TEST(os_release_values) {
	static const char text[] = "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nNAME='Debian GNU/Linux'\n"
				   "VERSION_ID=\"11\"\nID=debian\nID_LIKE=\n";
	_cleanup_free_ char *pretty = os_release_value(text, "PRETTY_NAME"), *name = os_release_value(text, "NAME"),
			    *id = os_release_value(text, "ID"), *like = os_release_value(text, "ID_LIKE");

	ASSERT_STREQ(pretty, "Debian GNU/Linux 11 (bullseye)");
	ASSERT_STREQ(name, "Debian GNU/Linux"); /* not PRETTY_NAME's line, which ends in NAME= too */
	ASSERT_STREQ(id, "debian");             /* not ID_LIKE= */
	ASSERT_STREQ(like, "");
	ASSERT_TRUE(os_release_value(text, "VERSION") == NULL);
}
