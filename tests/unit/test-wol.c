/* common/wol: MACs as people write them, every refusal with its reason and
 * place, SecureOn passwords, and the magic packet's bytes. */
#include "macro.h"
#include "test.h"
#include "wol.h"

static void assert_mac(const char *s, const char *want) {
	uint8_t mac[WOL_MAC_SIZE];
	char *error = NULL, text[18];

	if (wol_parse_mac(s, mac, &error, NULL) < 0)
		test_fail(__FILE__, __LINE__, "'%s' refused: %s", s, error);
	wol_format_mac(mac, text);
	ASSERT_STREQ(text, want);
}

TEST(mac_forms) {
	assert_mac("52:54:00:12:34:56", "52:54:00:12:34:56");
	assert_mac("52-54-00-AB-cd-EF", "52:54:00:ab:cd:ef");
	assert_mac("525400abcdef", "52:54:00:ab:cd:ef");
	/* macOS drops leading zeros */
	assert_mac("0:1c:42:0:a:b", "00:1c:42:00:0a:0b");
}

/* The ten malformed MACs: each refused, with its reason and the part it points at. */
TEST(mac_refusals) {
	static const struct {
		const char *mac, *reason, *points_at;
	} cases[] = {
		/* the guide's own example */
		{ "b3:21:88:6k:17:24", "'6k' (group 4) is not a hex byte: 'k' is not a hex digit", "6k" },
		{ "", "empty", "" },
		{ "52:54:00:12:34", "5 groups; a MAC has 6", "52:54:00:12:34" },
		{ "52:54:00:12:34:56:78", "more than 6 groups; a MAC has 6", "78" },
		{ "52:54:00:12:34:567", "'567' (group 6) has 3 digits; a byte has at most 2", "567" },
		{ "52:54::12:34:56", "group 3 is empty", ":" },
		{ "52-54-00:12:34:56", "':' after group 3, but the groups before are separated by '-'", ":" },
		{ "5254001234g6", "'g' is not a hex digit", "g" },
		{ "52540012345", "11 hex digits; a MAC has 12", "52540012345" },
		{ "00:00:00:00:00:00", "all zeros: no network card has this address", "00:00:00:00:00:00" },
		{ "ff:ff:ff:ff:ff:ff", "the broadcast address, not a network card's", "ff:ff:ff:ff:ff:ff" },
		{ "01:00:5e:00:00:fb", "the first byte 01 is odd, which marks a group (multicast) address; no network card has one", "01" },
		{ "52:54:00:12:34:56 ", "'56 ' (group 6) is not a hex byte: a space is not a hex digit", "56 " },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		uint8_t mac[WOL_MAC_SIZE] = { 0x42 };
		struct wol_span span = { 99, 99 };
		char *error = NULL;

		if (wol_parse_mac(cases[i].mac, mac, &error, &span) != -EINVAL)
			test_fail(__FILE__, __LINE__, "'%s' accepted", cases[i].mac);
		ASSERT_STREQ(error, cases[i].reason);
		if (span.len != strlen(cases[i].points_at) ||
		    strncmp(cases[i].mac + span.at, cases[i].points_at, span.len) != 0)
			test_fail(__FILE__, __LINE__, "'%s': points at '%.*s', expected '%s'", cases[i].mac,
				  (int)span.len, cases[i].mac + span.at, cases[i].points_at);
		ASSERT_EQ(mac[0], 0x42); /* nothing written on failure */
		free(error);
	}
}

TEST(passwords) {
	uint8_t pw[WOL_PASSWORD_MAX];
	size_t n = 0;
	char *error = NULL;

	ASSERT_OK(wol_parse_password("c0a80001", pw, &n, NULL));
	ASSERT_EQ(n, 4);
	ASSERT_EQ(pw[0], 0xc0);
	ASSERT_EQ(pw[3], 0x01);
	ASSERT_OK(wol_parse_password("01:02:03:04:05:06", pw, &n, NULL));
	ASSERT_EQ(n, 6);
	ASSERT_EQ(pw[5], 6);
	ASSERT_EQ(wol_parse_password("01:02:03:04:05", pw, &n, &error), -EINVAL);
	ASSERT_STREQ(error, "5 groups; a SecureOn password has 4 or 6");
	free(error);
	error = NULL;
	ASSERT_EQ(wol_parse_password("0102030405", pw, &n, &error), -EINVAL);
	ASSERT_STREQ(error, "10 hex digits; a SecureOn password has 8 or 12");
	free(error);
}

/* The packet re-derived byte by byte: 6 × 0xff, then the MAC 16 times, then the password. */
static void assert_packet(const uint8_t *pkt, size_t size, const uint8_t mac[6], const uint8_t *pw, size_t pw_size) {
	ASSERT_EQ(size, 102 + pw_size);
	for (size_t i = 0; i < 6; i++)
		ASSERT_EQ(pkt[i], 0xff);
	for (size_t rep = 0; rep < 16; rep++)
		for (size_t i = 0; i < 6; i++)
			ASSERT_EQ(pkt[6 + rep * 6 + i], mac[i]);
	for (size_t i = 0; i < pw_size; i++)
		ASSERT_EQ(pkt[102 + i], pw[i]);
}

TEST(magic_packet) {
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static const uint8_t pw[6] = { 1, 2, 3, 4, 5, 6 };
	uint8_t pkt[WOL_PACKET_MAX];
	size_t size = 0;

	ASSERT_OK(wol_magic_packet(mac, NULL, 0, pkt, &size));
	assert_packet(pkt, size, mac, NULL, 0);
	ASSERT_EQ(size, 102);
	ASSERT_OK(wol_magic_packet(mac, pw, 4, pkt, &size));
	assert_packet(pkt, size, mac, pw, 4);
	ASSERT_OK(wol_magic_packet(mac, pw, 6, pkt, &size));
	assert_packet(pkt, size, mac, pw, 6);
	ASSERT_EQ(size, 108);
	ASSERT_EQ(wol_magic_packet(mac, pw, 5, pkt, &size), -EINVAL);
}
