/* Wake-on-LAN: reading a MAC the ways people write one, the SecureOn password,
 * and the magic packet. Pure functions: no sockets here. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define WOL_MAC_SIZE 6
#define WOL_PASSWORD_MAX 6
#define WOL_PACKET_MAX (6 + 16 * WOL_MAC_SIZE + WOL_PASSWORD_MAX) /* 108 */

/* Where in the text a parse error lies: offset and length, for a caret line. */
struct wol_span {
	size_t at, len;
};

/* "52:54:00:12:34:56", "52-54-00-12-34-56" or "525400123456"; a group may
 * drop its leading zero ("0:1c:42:..", as macOS prints them). A MAC no card
 * can have (all zeros, broadcast, a group address) is refused too. On error:
 * -EINVAL, *ret_error says what is wrong and *ret_span (may be NULL) where. */
int wol_parse_mac(const char *s, uint8_t ret[WOL_MAC_SIZE], char **ret_error, struct wol_span *ret_span);
/* The SecureOn password: 4 or 6 bytes in hex, bytes optionally separated by ':' or '-'. */
int wol_parse_password(const char *s, uint8_t ret[WOL_PASSWORD_MAX], size_t *ret_size, char **ret_error);
/* "52:54:00:12:34:56" */
void wol_format_mac(const uint8_t mac[WOL_MAC_SIZE], char ret[18]);
/* 6 × 0xff, the MAC 16 times, then the password (0, 4 or 6 bytes): 102, 106
 * or 108 bytes into ret. -EINVAL for another password size. */
int wol_magic_packet(const uint8_t mac[WOL_MAC_SIZE], const uint8_t *password, size_t password_size,
		     uint8_t ret[WOL_PACKET_MAX], size_t *ret_size);

/* Where the rig reports the MAC it wakes on (the agent's wake-on-lan stage
 * writes it; the laptop's shortcuts read it over ssh). */
#define WOL_RIG_MAC_FILE "/var/lib/mlrig/wol-mac"
