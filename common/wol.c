/* Wake-on-LAN's texts and bytes: hex groups read with a reason for every
 * refusal (pointing at the group), and the magic packet laid out. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "wol.h"

static int hex_digit(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void set_span(struct wol_span *span, size_t at, size_t len) {
	if (span)
		*span = (struct wol_span){ at, len };
}

/* A character in a message: 'k', or a byte that would not print. */
static const char *char_name(char c, char buf[16]) {
	if (isprint((unsigned char)c) && c != ' ')
		snprintf(buf, 16, "'%c'", c);
	else if (c == ' ')
		snprintf(buf, 16, "a space");
	else
		snprintf(buf, 16, "byte 0x%02x", (unsigned char)c);
	return buf;
}

static bool count_allowed(size_t n, const size_t *counts, size_t n_counts) {
	for (size_t i = 0; i < n_counts; i++)
		if (counts[i] == n)
			return true;
	return false;
}

/* "6" or "4 or 6" */
static void counts_text(const size_t *counts, size_t n_counts, bool digits, char buf[32]) {
	if (n_counts == 1)
		snprintf(buf, 32, "%zu", counts[0] * (digits ? 2 : 1));
	else
		snprintf(buf, 32, "%zu or %zu", counts[0] * (digits ? 2 : 1), counts[1] * (digits ? 2 : 1));
}

/* A run of hex digit pairs without separators: "525400123456". */
static int parse_bare(const char *s, const char *what, const size_t *counts, size_t n_counts, uint8_t *ret,
		      size_t *ret_n, char **ret_error, struct wol_span *span) {
	size_t n = strlen(s);
	char c[16], want[32];

	for (size_t i = 0; i < n; i++)
		if (hex_digit(s[i]) < 0) {
			set_span(span, i, 1);
			return set_error(ret_error, -EINVAL, "%s is not a hex digit", char_name(s[i], c));
		}
	if (n % 2 != 0 || !count_allowed(n / 2, counts, n_counts)) {
		counts_text(counts, n_counts, true, want);
		set_span(span, 0, n);
		return set_error(ret_error, -EINVAL, "%zu hex digit%s; %s has %s", n, n == 1 ? "" : "s", what, want);
	}
	for (size_t i = 0; i < n / 2; i++)
		ret[i] = (uint8_t)(hex_digit(s[2 * i]) << 4 | hex_digit(s[2 * i + 1]));
	*ret_n = n / 2;
	return 0;
}

/* Bytes as groups of one or two hex digits between ':' or '-' (one kind per text). */
static int parse_groups(const char *s, const char *what, const size_t *counts, size_t n_counts, uint8_t *ret,
			size_t *ret_n, char **ret_error, struct wol_span *span) {
	size_t max = counts[n_counts - 1], n = 0, start = 0, len = strlen(s);
	char sep = s[strcspn(s, ":-")], c[16], want[32];

	counts_text(counts, n_counts, false, want);
	for (;;) {
		size_t end = start + strcspn(s + start, ":-"), glen = end - start;
		unsigned value = 0; /* only its low byte matters: a longer group is refused below */

		if (n == max) {
			set_span(span, start, len - start);
			return set_error(ret_error, -EINVAL, "more than %zu groups; %s has %s", max, what, want);
		}
		if (glen == 0) {
			set_span(span, s[start] ? start : start - 1, 1);
			return set_error(ret_error, -EINVAL, "group %zu is empty", n + 1);
		}
		for (size_t i = start; i < end; i++) {
			int d = hex_digit(s[i]);

			if (d < 0) {
				set_span(span, start, glen);
				return set_error(ret_error, -EINVAL, "'%.*s' (group %zu) is not a hex byte: %s is not a hex digit",
						 (int)glen, s + start, n + 1, char_name(s[i], c));
			}
			value = (value << 4 | (unsigned)d) & 0xfff; /* never overflows, however long the group */
		}
		if (glen > 2) {
			set_span(span, start, glen);
			return set_error(ret_error, -EINVAL, "'%.*s' (group %zu) has %zu digits; a byte has at most 2",
					 (int)glen, s + start, n + 1, glen);
		}
		ret[n++] = (uint8_t)value;
		if (!s[end])
			break;
		if (s[end] != sep) {
			set_span(span, end, 1);
			return set_error(ret_error, -EINVAL, "'%c' after group %zu, but the groups before are separated by '%c'",
					 s[end], n, sep);
		}
		start = end + 1;
	}
	if (!count_allowed(n, counts, n_counts)) {
		set_span(span, 0, len);
		return set_error(ret_error, -EINVAL, "%zu group%s; %s has %s", n, n == 1 ? "" : "s", what, want);
	}
	*ret_n = n;
	return 0;
}

static int parse_bytes(const char *s, const char *what, const size_t *counts, size_t n_counts, uint8_t *ret,
		       size_t *ret_n, char **ret_error, struct wol_span *span) {
	if (!s || !*s) {
		set_span(span, 0, 0);
		return set_error(ret_error, -EINVAL, "empty");
	}
	if (!strpbrk(s, ":-"))
		return parse_bare(s, what, counts, n_counts, ret, ret_n, ret_error, span);
	return parse_groups(s, what, counts, n_counts, ret, ret_n, ret_error, span);
}

int wol_parse_mac(const char *s, uint8_t ret[WOL_MAC_SIZE], char **ret_error, struct wol_span *ret_span) {
	static const size_t counts[] = { WOL_MAC_SIZE };
	static const uint8_t zeros[WOL_MAC_SIZE], ones[WOL_MAC_SIZE] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t mac[WOL_MAC_SIZE];
	size_t n;
	int r;

	r = parse_bytes(s, "a MAC", counts, 1, mac, &n, ret_error, ret_span);
	if (r < 0)
		return r;
	if (memcmp(mac, zeros, sizeof(mac)) == 0) {
		set_span(ret_span, 0, strlen(s));
		return set_error(ret_error, -EINVAL, "all zeros: no network card has this address");
	}
	if (memcmp(mac, ones, sizeof(mac)) == 0) {
		set_span(ret_span, 0, strlen(s));
		return set_error(ret_error, -EINVAL, "the broadcast address, not a network card's");
	}
	if (mac[0] & 1) {
		set_span(ret_span, 0, strpbrk(s, ":-") ? strcspn(s, ":-") : 2);
		return set_error(ret_error, -EINVAL,
				 "the first byte %02x is odd, which marks a group (multicast) address; no network card has one",
				 mac[0]);
	}
	memcpy(ret, mac, sizeof(mac));
	return 0;
}

int wol_parse_password(const char *s, uint8_t ret[WOL_PASSWORD_MAX], size_t *ret_size, char **ret_error) {
	static const size_t counts[] = { 4, 6 };
	uint8_t pw[WOL_PASSWORD_MAX];
	size_t n;
	int r;

	r = parse_bytes(s, "a SecureOn password", counts, 2, pw, &n, ret_error, NULL);
	if (r < 0)
		return r;
	memcpy(ret, pw, n);
	*ret_size = n;
	return 0;
}

void wol_format_mac(const uint8_t mac[WOL_MAC_SIZE], char ret[18]) {
	snprintf(ret, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

int wol_magic_packet(const uint8_t mac[WOL_MAC_SIZE], const uint8_t *password, size_t password_size,
		     uint8_t ret[WOL_PACKET_MAX], size_t *ret_size) {
	size_t n = 6;

	if (password_size != 0 && password_size != 4 && password_size != 6)
		return -EINVAL;
	memset(ret, 0xff, 6);
	for (int i = 0; i < 16; i++, n += WOL_MAC_SIZE)
		memcpy(ret + n, mac, WOL_MAC_SIZE);
	if (password_size)
		memcpy(ret + n, password, password_size);
	*ret_size = n + password_size;
	return 0;
}
