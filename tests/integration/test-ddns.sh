#!/bin/bash
# The agent's DDNS against a fake provider on 127.0.0.1 (tests/fixtures/fake-ddns.py), in a
# --root tree taken from a real image, with MLRIG_NOW moving the clock: one update on the
# first run, none while the address stays, one when it changes, the daily live-record
# repair; badauth and the other fatal answers stop all requests until the config changes;
# 911 and 5xx hold for 30 minutes or Retry-After; a failure never touches the state file;
# malformed, empty, binary and 10 MB answers are errors without a crash or a storm; DuckDNS
# and Cloudflare subsets; dyndns2 at Server=; CheckIP=interface:NAME on a veth or dummy
# interface made here; the password in no file but its own, nor in any output.
. "$(dirname "$0")/../lib.sh"
need_root "the agent writes root-owned 0600 files into the tree"
need debugfs python3 sfdisk
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
AGENT=$BUILD/mlrig-firstboot
PASSWORD=s3cr3t-pw-$$-$RANDOM

cp -r "$REPO/images" "$T/p"
printf '%s\n' "$PASSWORD" >"$T/p/ddns.secret"
chmod 600 "$T/p/ddns.secret"
F=$T/fake
mkdir -p "$F"
python3 "$REPO/tests/fixtures/fake-ddns.py" "$F" "$T/p/ddns.secret" 2>"$F/server.err" &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null; _cleanup' EXIT
for _ in $(seq 50); do [ -s "$F/port" ] && break; sleep 0.1; done
port=$(cat "$F/port" 2>/dev/null) || { fail "the fake provider did not start"; cat "$F/server.err"; finish; }

# Hostname=localhost: the live record (127.0.0.1, from /etc/hosts) differs from the
# addresses the fake CheckIP gives, without asking any DNS server outside
cat >"$T/p/ddns.conf" <<CONF
[Rig]
Hostname=ddns-rig
User=rig
AuthorizedKeys=keys/demo_ed25519.pub
[WakeOnLan]
Enable=no
[DDNS]
Provider=noip
Hostname=localhost
Username=rig
PasswordFile=ddns.secret
Server=http://127.0.0.1:$port
CheckIP=http://localhost:$port/ip
CONF
"$MLRIG" image -q -p "$T/p/ddns.conf" --rootfs "$rootfs" -o "$T/rig.img" || { fail "build the image"; finish; }
off=$(( $(sfdisk --json "$T/rig.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])') * 512 ))
R=$T/root
mkdir -p "$R"
debugfs -R "rdump /etc $R" "$T/rig.img?offset=$off" 2>/dev/null
check "image: the secret is root's alone (0600)" test "$(stat -c '%a %u' "$R/etc/mlrig/ddns.password")" = "600 0"
check "image: rig.conf points at it" grep -qx "PasswordFile=/etc/mlrig/ddns.password" "$R/etc/mlrig/rig.conf"
check "image: no Interval=: mlrig-ddns.timer every 5 minutes" grep -qx "OnUnitActiveSec=5min" "$R/etc/systemd/system/mlrig-ddns.timer"
check "image: the timer is enabled" test -L "$R/etc/systemd/system/timers.target.wants/mlrig-ddns.timer"
# Interval=15 reaches the timer
sed 's/^\[DDNS\]$/[DDNS]\nInterval=15/' "$T/p/ddns.conf" >"$T/p/ddns15.conf"
if "$MLRIG" image -q -p "$T/p/ddns15.conf" --rootfs "$rootfs" -o "$T/rig15.img"; then
	off15=$(( $(sfdisk --json "$T/rig15.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])') * 512 ))
	mkdir -p "$T/root15"
	debugfs -R "rdump /etc/systemd/system/mlrig-ddns.timer $T/root15" "$T/rig15.img?offset=$off15" 2>/dev/null
	check "image: Interval=15: mlrig-ddns.timer every 15 minutes" grep -qx "OnUnitActiveSec=15min" "$T/root15/mlrig-ddns.timer"
	check "image: Interval=15: no 5-minute line left" test "$(grep -c '^OnUnitActiveSec=' "$T/root15/mlrig-ddns.timer")" -eq 1
	rm -f "$T/rig15.img"
else
	fail "build the Interval=15 image"
fi
# the fake checks credentials against the rig's copy from now on
cp "$R/etc/mlrig/ddns.password" "$T/p/ddns.secret"

T0=1700000000
OUT=$T/outputs
: >"$OUT"
# agent AT [ARGS...]: the agent at wall clock T0+AT seconds; output kept for the leak check
agent() {
	local at=$1
	shift
	MLRIG_NOW=$((T0 + at)) "$AGENT" --root "$R" "$@" >"$T/last" 2>&1
	local rc=$?
	cat "$T/last" >>"$OUT"
	return $rc
}
# updates: the update requests the fake got so far (check-IP not counted)
updates() { grep -c -E '^(GET /nic/update|GET /update|POST /client|PATCH /client)' "$F/requests.log"; }
provider_requests() { grep -vc '^GET /ip ' "$F/requests.log"; }
mode() { echo "$*" >"$F/mode"; }
ip() { echo "$1" >"$F/ip4"; }
: >"$F/requests.log"

# --- first run, unchanged, changed ---
mode good
ip 203.0.113.10
agent 0 stage ddns
check "first run: the stage succeeds" grep -q "stage ddns ok" "$T/last"
check "first run: the stage notes No-IP's 30-day confirmation" grep -q "No-IP free host names expire unless confirmed by hand every 30 days" "$T/last"
check "first run: the stage names the timer's default interval" grep -q "mlrig-ddns.timer checks every 5 min" "$T/last"
check "first run: one update" test "$(updates)" -eq 1
check "the update names host and address, with basic auth" grep -q "^GET /nic/update hostname=localhost myip=203.0.113.10 auth=ok " "$F/requests.log"
check "User-Agent as providers require" grep -Eq "ua='mlrig mlrig-firstboot/[0-9.]+ [^ ]+'" "$F/requests.log"
check "state: the confirmed address" grep -q "provider=noip host=localhost family=ipv4 .*address=203.0.113.10 " "$R/var/lib/mlrig/ddns.state"
check "state: root only" test "$(stat -c %a "$R/var/lib/mlrig/ddns.state")" = 600
for i in $(seq 1 10); do agent $((i * 300)) ddns || fail "unchanged run $i: exit $?"; done
check "unchanged address: no update in ten runs" test "$(updates)" -eq 1
ip 203.0.113.11
agent 3600 ddns
check "changed address: exit 0" test $? -eq 0
check "changed address: one update" test "$(updates)" -eq 2
check "changed address: the new one sent" grep -q "myip=203.0.113.11 " "$F/requests.log"

# --- once a day the live record (localhost: 127.0.0.1) is compared and repaired ---
agent 7200 ddns
check "within the day: no live check, no update" test "$(updates)" -eq 2
agent $((3600 + 86400)) ddns
check "a day later: the live record differs, one repair" test "$(updates)" -eq 3
check "the repair says why" grep -q "the live record had differed" "$T/last"
agent $((3600 + 86400 + 300)) ddns
check "after the repair: quiet again" test "$(updates)" -eq 3
rm "$R/var/lib/mlrig/ddns.state"
ip 127.0.0.1
agent 200000 ddns
check "no state, the live record right already: no update (no nochg)" test "$(updates)" -eq 3
check "...and the state says so" grep -q "address=127.0.0.1 updated=0 " "$R/var/lib/mlrig/ddns.state"

# --- badauth: fatal, nothing more until the config changes; the state untouched ---
now=300000
ip 203.0.113.12
cp "$R/var/lib/mlrig/ddns.state" "$T/state.before"
mode badauth
agent $now ddns
check "badauth: exit 1" test $? -eq 1
check "badauth: one request" test "$(updates)" -eq 4
check "badauth: the state file as it was" cmp -s "$T/state.before" "$R/var/lib/mlrig/ddns.state"
agent $now status
check "status: says why and what to fix" grep -q "^ddns: .*STOPPED: badauth: the user name or password is wrong.*fix: correct \[DDNS\] Username=" "$T/last"
mode good
before=$(provider_requests)
for i in $(seq 1 10); do agent $((now + i * 86400)) ddns >/dev/null; done
check "badauth: no request in the next ten runs (ten days)" test "$(provider_requests)" -eq "$before"
# the user fixes the password: a new file is a new config
cp "$T/p/ddns.secret" "$R/etc/mlrig/ddns.password.new" && mv "$R/etc/mlrig/ddns.password.new" "$R/etc/mlrig/ddns.password"
agent $((now + 11 * 86400)) ddns
check "config changed: one request again, and it succeeds" eval '[ "$(updates)" -eq 5 ] && grep -q "updated (good)" "$T/last"'
check "config changed: the hold is gone" test ! -e "$R/var/lib/mlrig/ddns.hold"

# --- HTTP 200 with an error body is an error (nohost: fatal) ---
now=$((now + 12 * 86400))
ip 203.0.113.13
mode nohost200
agent $now ddns
check "HTTP 200 'nohost': fatal" grep -q "nohost: the host name is not in this account" "$T/last"
sed -i "s|^CheckIP=http://localhost:|CheckIP=http://127.0.0.1:|" "$R/etc/mlrig/rig.conf"   # a [DDNS] change lifts it
mode good
agent $((now + 60)) ddns
check "rig.conf changed: lifted" test "$(updates)" -eq 7

# --- 911: no request within 30 minutes, one after ---
now=$((now + 86400))
ip 203.0.113.14
cp "$R/var/lib/mlrig/ddns.state" "$T/state.before"
mode 911
agent $now ddns
rc=$?
check "911: one request, exit 1" eval '[ $rc -eq 1 ] && [ "$(updates)" -eq 8 ]'
check "911: the state file as it was" cmp -s "$T/state.before" "$R/var/lib/mlrig/ddns.state"
mode good
before=$(provider_requests)
for m in 1 5 10 20 29; do agent $((now + m * 60)) ddns >/dev/null; done
check "911: nothing within 30 minutes" test "$(provider_requests)" -eq "$before"
agent $((now + 31 * 60)) ddns
check "911: one request after 30 minutes" test "$(updates)" -eq 9

# --- 503 with Retry-After: 3600 ---
now=$((now + 86400))
ip 203.0.113.15
mode 503 3600
agent $now ddns
mode good
agent $((now + 31 * 60)) ddns
check "503 Retry-After 3600: nothing after 31 minutes" test "$(updates)" -eq 10
agent $((now + 61 * 60)) ddns
check "503 Retry-After 3600: one request after an hour" test "$(updates)" -eq 11

# --- unreadable answers: an error each, no crash, no storm, the state untouched ---
n=11
for m in malformed empty binary huge 429 http401; do
	now=$((now + 86400))
	n=$((n + 1))
	ip "203.0.113.$((n + 100))"
	cp "$R/var/lib/mlrig/ddns.state" "$T/state.before"
	mode $m
	agent $now ddns
	rc=$?
	check "$m: exit 1 (not a crash)" test $rc -eq 1
	check "$m: the state file as it was" cmp -s "$T/state.before" "$R/var/lib/mlrig/ddns.state"
	before=$(provider_requests)
	for i in 1 2 3 4 5; do agent $((now + i * 300)) ddns >/dev/null; done
	check "$m: no request storm (none in 25 minutes)" test "$(provider_requests)" -eq "$before"
	mode good
	if [ $m = http401 ]; then touch "$R/etc/mlrig/ddns.password"; fi   # fatal: lifted by a config change
	agent $((now + 31 * 60)) ddns
	check "$m: recovers after the hold" grep -q "updated (good)" "$T/last"
done
check "huge: said as too long" grep -q "longer than any answer" "$OUT"
check "binary: shown printable" grep -q "HTTP 200 with an answer this client does not know: '?" "$OUT"

# --- --force sends an unchanged address ---
before=$(updates)
agent $((now + 3600)) ddns --force
check "--force: one update of an unchanged address" test "$(updates)" -eq $((before + 1))

# --- IPv6=yes: the AAAA record over the fake's ::1 ---
if python3 -c 'import socket; socket.create_connection(("::1", '"$port"'), 2)' 2>/dev/null; then
	echo 2001:db8::5 >"$F/ip6"
	sed -i "s/^IPv6=no$/IPv6=yes/; s|^CheckIP=http://127.0.0.1:|CheckIP=http://localhost:|" "$R/etc/mlrig/rig.conf"
	agent $((now + 7200)) ddns
	check "IPv6: the AAAA address sent" grep -q "myip=2001:db8::5 " "$F/requests.log"
	check "IPv6: its own state entry" grep -q "family=ipv6 .*address=2001:db8::5 " "$R/var/lib/mlrig/ddns.state"
	sed -i 's/^IPv6=yes$/IPv6=no/' "$R/etc/mlrig/rig.conf"
else
	echo "SKIP IPv6 case: no ::1 here"
fi

# --- DuckDNS: OK, then KO is fatal ---
now=$((now + 86400))
sed -i 's/^Provider=noip$/Provider=duckdns/' "$R/etc/mlrig/rig.conf"
ip 203.0.113.200
agent $now ddns
check "duckdns: one update, OK" eval 'grep -q "^GET /update domains=localhost ip=203.0.113.200 token=ok" "$F/requests.log" && grep -q "updated (OK)" "$T/last"'
ip 203.0.113.201
mode ko
agent $((now + 60)) ddns
check "duckdns: KO is fatal" grep -q "KO: DuckDNS refused the token" "$T/last"
before=$(provider_requests)
for i in $(seq 1 10); do agent $((now + 60 + i * 3600)) ddns >/dev/null; done
check "duckdns KO: no request in ten runs" test "$(provider_requests)" -eq "$before"
mode good

# --- Cloudflare: create, leave alone, patch, auth error is fatal ---
now=$((now + 86400))
sed -i 's/^Provider=duckdns$/Provider=cloudflare/; s/^\[DDNS\]$/[DDNS]\nZone=example.test/' "$R/etc/mlrig/rig.conf"
ip 203.0.113.50
agent $now ddns
check "cloudflare: the record created" grep -q '^POST /client/v4/zones/0123456789abcdef0123456789abcdef/dns_records .*"content": "203.0.113.50".*auth=ok' "$F/requests.log"
agent $((now + 86400 + 60)) ddns
check "cloudflare: the API's record right: no write" test "$(grep -c -E '^(POST|PATCH) /client' "$F/requests.log")" -eq 1
ip 203.0.113.51
agent $((now + 86400 + 120)) ddns
check "cloudflare: a changed address patches the record" grep -q '^PATCH /client/v4/zones/.*/dns_records/rec1 .*"content": "203.0.113.51"' "$F/requests.log"
ip 203.0.113.52
mode cferror
agent $((now + 86400 + 180)) ddns
check "cloudflare: success:false with an auth error is fatal" grep -q "Cloudflare error 10000: Authentication error" "$T/last"
before=$(provider_requests)
for i in $(seq 1 10); do agent $((now + 86400 + 180 + i * 3600)) ddns >/dev/null; done
check "cloudflare auth error: no request in ten runs" test "$(provider_requests)" -eq "$before"
agent $((now + 3 * 86400)) status >/dev/null

# --- dyndns2: any dyndns2 server, at Server= with the protocol's own /nic/update ---
now=$((now + 4 * 86400))
sed -i 's/^Provider=cloudflare$/Provider=dyndns2/; /^Zone=/d' "$R/etc/mlrig/rig.conf"   # a config change: the hold is lifted
ip 203.0.113.60
agent $now ddns
rc=$?
check "dyndns2: exit 0, updated (good)" eval '[ $rc -eq 0 ] && grep -q "updated (good)" "$T/last"'
check "dyndns2: one update at Server='s /nic/update, with basic auth" \
	test "$(grep -c "^GET /nic/update hostname=localhost myip=203.0.113.60 auth=ok " "$F/requests.log")" -eq 1
check "dyndns2: its own state entry" grep -q "provider=dyndns2 host=localhost family=ipv4 .*address=203.0.113.60 " "$R/var/lib/mlrig/ddns.state"
agent $((now + 300)) ddns
check "dyndns2: unchanged, no update" test "$(grep -c "myip=203.0.113.60 " "$F/requests.log")" -eq 1
cp "$R/etc/mlrig/rig.conf" "$T/rig.conf.keep"
sed -i '/^Server=/d' "$R/etc/mlrig/rig.conf"
before=$(wc -l <"$F/requests.log")
agent $((now + 600)) ddns
rc=$?
check "dyndns2 without Server=: refused" eval '[ $rc -ne 0 ] && grep -q "Provider=dyndns2 needs Server=" "$T/last"'
check "dyndns2 without Server=: no request at all" test "$(wc -l <"$F/requests.log")" -eq "$before"
cp "$T/rig.conf.keep" "$R/etc/mlrig/rig.conf"

# --- CheckIP=interface:NAME: the address of a real interface, no CheckIP request ---
# A dummy interface, or a veth pair where the kernel has no dummy module (containers); both
# ends go with the one 'ip link del'. Only documentation addresses (203.0.113.0/24, 2001:db8::/32).
# (command ip: ip() above sets the fake's address)
IFACE=mlrddns$$
if command ip link add "$IFACE" type dummy 2>/dev/null ||
	{ command ip link add "$IFACE" type veth peer name "mlrddnsp$$" 2>/dev/null && command ip link set "mlrddnsp$$" up; }; then
	trap 'command ip link del "$IFACE" 2>/dev/null; kill $fake_pid 2>/dev/null; _cleanup' EXIT
	command ip addr add 203.0.113.77/32 dev "$IFACE"
	v6=no
	if command ip -6 addr add 2001:db8::77/128 dev "$IFACE" nodad 2>/dev/null; then v6=yes; fi
	command ip link set "$IFACE" up
	for _ in $(seq 20); do command ip -6 addr show dev "$IFACE" | grep -q "inet6 fe80:" && break; sleep 0.1; done
	sed -i "s|^CheckIP=.*|CheckIP=interface:$IFACE|; s/^IPv6=no$/IPv6=$v6/" "$R/etc/mlrig/rig.conf"
	checkips=$(grep -c '^GET /ip ' "$F/requests.log")
	agent $((now + 900)) ddns
	rc=$?
	check "interface:$IFACE: exit 0" test $rc -eq 0
	check "interface:$IFACE: its IPv4 address sent" grep -q "^GET /nic/update hostname=localhost myip=203.0.113.77 auth=ok " "$F/requests.log"
	if [ $v6 = yes ]; then
		check "interface:$IFACE: its IPv6 address sent" grep -q "^GET /nic/update hostname=localhost myip=2001:db8::77 auth=ok " "$F/requests.log"
		# left with its fe80:: address only (the kernel lists those last): that one is never the public one
		if command ip -6 addr show dev "$IFACE" | grep -q "inet6 fe80:"; then
			command ip -6 addr del 2001:db8::77/128 dev "$IFACE"
			before=$(wc -l <"$F/requests.log")
			agent $((now + 1000)) ddns
			rc=$?
			check "interface:$IFACE with a link-local IPv6 address only: exit 1, 'no ipv6 address'" \
				eval '[ $rc -eq 1 ] && grep -q "interface:$IFACE has no ipv6 address" "$T/last"'
			check "...and no request (IPv4 unchanged, fe80:: never sent)" test "$(wc -l <"$F/requests.log")" -eq "$before"
		else
			echo "SKIP link-local case: $IFACE got no fe80:: address"
		fi
	else
		echo "SKIP interface IPv6 case: no IPv6 address could be added to $IFACE"
	fi
	check "interface:$IFACE: no CheckIP request" test "$(grep -c '^GET /ip ' "$F/requests.log")" -eq "$checkips"
	sed -i "s|^CheckIP=.*|CheckIP=interface:mlrnone$$|; s/^IPv6=yes$/IPv6=no/" "$R/etc/mlrig/rig.conf"
	before=$(wc -l <"$F/requests.log")
	agent $((now + 1200)) ddns
	rc=$?
	check "a missing interface: exit 1" test $rc -eq 1
	check "a missing interface: said so" grep -q "interface:mlrnone$$ has no ipv4 address" "$T/last"
	check "a missing interface: no request sent" test "$(wc -l <"$F/requests.log")" -eq "$before"
	command ip link del "$IFACE"
	check "the test interface is gone" eval '! command ip link show "$IFACE" >/dev/null 2>&1'
else
	echo "SKIP CheckIP=interface: cases: cannot add a dummy or veth interface here (no CAP_NET_ADMIN?)"
fi

# --- the password: only in its own file ---
leaks=$(grep -rlF -- "$PASSWORD" "$R" "$F" "$OUT" "$T/last" 2>/dev/null | grep -v -x -e "$R/etc/mlrig/ddns.password")
check "the password is in no file but its own (tree, outputs, the fake's log)" test -z "$leaks"
[ -z "$leaks" ] || echo "$leaks"
check "the fake saw no crash" test ! -s "$F/server.err"
finish
