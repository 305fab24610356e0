#!/bin/bash
# mlrig wake against a receiver on 127.0.0.1 (UDP): exactly one packet of 102
# bytes (108 with a SecureOn password) in the magic pattern, re-derived here;
# to a host, to a broadcast address, and for a profile (its MAC, or the one the
# rig reported in the client's files; its DDNS name); malformed MACs refused
# with their reasons, the guide's own pointed at.
. "$(dirname "$0")/../lib.sh"
need python3

# A receiver: binds ADDR on a free port (written to $T/port), waits up to 5 s for
# a packet and 0.5 s more for a second one, then writes each as hex, one a line.
cat >"$T/recv.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
open(sys.argv[2] + ".port", "w").write(str(s.getsockname()[1]))
got, timeout = [], 5.0
while True:
    s.settimeout(timeout)
    try:
        got.append(s.recvfrom(4096)[0].hex())
    except socket.timeout:
        break
    timeout = 0.5
open(sys.argv[2], "w").write("".join(g + "\n" for g in got))
PY

# receive NAME ADDR -- COMMAND...: runs COMMAND with @PORT@ replaced by the
# receiver's port; the packets end up in $T/NAME, the command's output in $T/NAME.out.
receive() {
	local name=$1 addr=$2 args=() a
	shift 3
	rm -f "$T/$name" "$T/$name.port"
	python3 "$T/recv.py" "$addr" "$T/$name" &
	for _ in $(seq 50); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
	for a in "$@"; do args+=("${a//@PORT@/$(cat "$T/$name.port")}"); done
	"${args[@]}" >"$T/$name.out" 2>&1
	echo $? >"$T/$name.rc"
	wait
}

# magic MAC [PASSWORD]: the packet, written out here: 6 x ff, the MAC 16 times, the password
magic() {
	local mac=${1//[:-]/} out=ffffffffffff
	for _ in $(seq 16); do out+=$mac; done
	echo "$out${2:-}" | tr 'A-F' 'a-f'
}

# one_packet NAME EXPECTED_HEX BYTES: exactly one packet arrived, of BYTES bytes, as expected
one_packet() {
	[ "$(cat "$T/$1.rc")" = 0 ] || { cat "$T/$1.out"; return 1; }
	[ "$(wc -l <"$T/$1")" -eq 1 ] || { echo "$(wc -l <"$T/$1") packets"; return 1; }
	[ $(($(tr -d '\n' <"$T/$1" | wc -c) / 2)) -eq "$3" ] || { echo "size $(($(wc -c <"$T/$1") / 2))"; return 1; }
	[ "$(cat "$T/$1")" = "$2" ] || { echo "got $(cat "$T/$1")"; return 1; }
}

receive host 127.0.0.1 -- "$MLRIG" wake 52:54:00:AB:cd:01 --host 127.0.0.1 --port @PORT@
check "to a host: one packet, 102 bytes, the magic pattern" one_packet host "$(magic 525400abcd01)" 102
check "to a host: says where it went" grep -q "^Sent the magic packet for 52:54:00:ab:cd:01 (102 bytes) to 127.0.0.1 (127.0.0.1) port" "$T/host.out"

receive pw 127.0.0.1 -- "$MLRIG" wake 52-54-00-ab-cd-02 --host 127.0.0.1 --port @PORT@ --password 01:02:03:04:05:06
check "with a 6-byte SecureOn password: 108 bytes, the password last" one_packet pw "$(magic 525400abcd02 010203040506)" 108
receive pw4 127.0.0.1 -- "$MLRIG" wake 525400abcd03 --host 127.0.0.1 --port @PORT@ --password c0a80001
check "with a 4-byte password: 106 bytes" one_packet pw4 "$(magic 525400abcd03 c0a80001)" 106

# broadcast needs SO_BROADCAST (without it sendto() fails); 127.255.255.255 is loopback's
receive bcast 127.255.255.255 -- "$MLRIG" wake 52:54:00:ab:cd:04 --broadcast 127.255.255.255 --port @PORT@
check "to a broadcast address" one_packet bcast "$(magic 525400abcd04)" 102

# a profile: its MAC, sent to its DDNS name (localhost resolves to 127.0.0.1 here)
cp "$REPO/images/keys/demo_ed25519.pub" "$T/key.pub"
cat >"$T/rig.conf" <<'CONF'
[Rig]
Hostname=wake-test
User=demo
AuthorizedKeys=key.pub
[WakeOnLan]
MAC=52:54:00:ab:cd:05
[DDNS]
Hostname=localhost
CONF
receive prof 127.0.0.1 -- "$MLRIG" wake "$T/rig.conf" --port @PORT@
check "a profile: its [WakeOnLan] MAC=, sent to its [DDNS] Hostname=" one_packet prof "$(magic 525400abcd05)" 102

# without MAC=: the one the rig reported, which the client's shortcuts saved
sed -i '/^MAC=/d' "$T/rig.conf"
export XDG_CONFIG_HOME=$T/config
"$MLRIG" wake "$T/rig.conf" --port 9 >"$T/nomac.out" 2>&1
# shellcheck disable=SC2034 # read by the eval below
rc=$?
check "a profile without a MAC and nothing reported: exit 2, says both ways" eval \
	'[ $rc -eq 2 ] && grep -q "no MAC to wake the rig wake-test with: set \[WakeOnLan\] MAC=" "$T/nomac.out" && grep -q "wake_test_tunnel" "$T/nomac.out"'
mkdir -p "$T/config/mlrig/wake-test"
echo 52:54:00:ab:cd:06 >"$T/config/mlrig/wake-test/wol-mac"
receive reported 127.0.0.1 -- "$MLRIG" wake "$T/rig.conf" --host 127.0.0.1 --port @PORT@
check "a profile without MAC=: the MAC the rig reported" one_packet reported "$(magic 525400abcd06)" 102

# the guide's example: refused, pointing at 6k with a caret line
"$MLRIG" wake b3:21:88:6k:17:24 >"$T/out" 2>"$T/err"
# shellcheck disable=SC2034 # read by the eval below
rc=$?
check "the guide's b3:21:88:6k:17:24: exit 2, the reason names 6k" eval \
	'[ $rc -eq 2 ] && head -1 "$T/err" | grep -qx "mlrig: '"'"'b3:21:88:6k:17:24'"'"' is not a MAC: '"'"'6k'"'"' (group 4) is not a hex byte: '"'"'k'"'"' is not a hex digit"'
check "the guide's example: the carets stand under 6k" eval \
	'[ "$(sed -n 2p "$T/err" | cut -c5-)" = b3:21:88:6k:17:24 ] && [ "$(sed -n 3p "$T/err")" = "             ^^" ]'

# ten malformed MACs, each refused with its reason, and nothing sent
while IFS='|' read -r mac reason; do
	"$MLRIG" wake "$mac" --host 127.0.0.1 --port 9 >"$T/out" 2>"$T/err"
	rc=$?
	check "malformed '$mac': exit 2, $reason" eval '[ $rc -eq 2 ] && [ ! -s "$T/out" ] && head -1 "$T/err" | grep -qF -- "$reason"'
done <<'CASES'
|empty
52:54:00:12:34|5 groups; a MAC has 6
52:54:00:12:34:56:78|more than 6 groups; a MAC has 6
52:54:00:12:34:567|'567' (group 6) has 3 digits; a byte has at most 2
52:54::12:34:56|group 3 is empty
52-54-00:12:34:56|':' after group 3, but the groups before are separated by '-'
5254001234g6|'g' is not a hex digit
52540012345|11 hex digits; a MAC has 12
00:00:00:00:00:00|all zeros: no network card has this address
01:00:5e:00:00:fb|the first byte 01 is odd, which marks a group (multicast) address
CASES

"$MLRIG" wake 52:54:00:12:34:56 --password 0102 >"$T/out" 2>"$T/err"
# shellcheck disable=SC2034 # read by the eval below
rc=$?
check "a bad --password is a usage error with its reason" eval \
	'[ $rc -eq 2 ] && grep -qx "mlrig wake: --password '"'"'0102'"'"': 4 hex digits; a SecureOn password has 8 or 12" "$T/err"'
"$MLRIG" wake 52:54:00:12:34:56 --host a --broadcast 10.0.0.255 >"$T/out" 2>"$T/err"
# shellcheck disable=SC2034 # read by the eval below
rc=$?
check "--host with --broadcast is a usage error" eval '[ $rc -eq 2 ] && grep -q "exclude each other" "$T/err"'
finish
