#!/bin/bash
# The router side, in two network namespaces this test makes (a "router" running Debian's
# miniupnpd, a "rig" behind it): the port-forward stage maps the SSH port by UPnP and by
# NAT-PMP, miniupnpc's own `upnpc -l` sees the mapping, a renewal keeps one, and
# PortForward=no removes it; without ExternalPort= the router's port is the SSH port; a rig
# without libminiupnpc or libnatpmp finalises and says what it skipped. Then the firewall stage's nftables table, loaded in the rig's
# namespace: SSH reachable from the router's side, another listening port not.
. "$(dirname "$0")/../lib.sh"
need_root "network namespaces, miniupnpd"
need ip miniupnpd upnpc nft python3 debugfs sfdisk
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
AGENT=$BUILD/mlrig-firstboot
NS_R=mlrig-rtr-$$ NS_G=mlrig-rig-$$

cleanup_ns() {
	[ -n "${upnpd_pid:-}" ] && kill "$upnpd_pid" 2>/dev/null
	ip netns pids "$NS_G" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$NS_R" 2>/dev/null
	ip netns del "$NS_G" 2>/dev/null
}
trap 'cleanup_ns; _cleanup' EXIT
ip netns add "$NS_R" && ip netns add "$NS_G" || skip "cannot make network namespaces here"
ip link add mlr-lan type veth peer name mlr-rig || skip "cannot make a veth pair here"
ip link set mlr-lan netns "$NS_R"
ip link set mlr-rig netns "$NS_G"
inr() { ip netns exec "$NS_R" "$@"; }
ing() { ip netns exec "$NS_G" "$@"; }
inr ip link set lo up
inr ip addr add 192.168.77.1/24 dev mlr-lan
inr ip link set mlr-lan up
# the router's public side: an address outside miniupnpd's list of reserved ranges
inr ip link add mlr-wan type veth peer name mlr-isp
inr ip addr add 11.1.1.1/24 dev mlr-wan
inr ip link set mlr-isp up
inr ip link set mlr-wan up
inr ip route add default dev mlr-wan
ing ip link set lo up
ing ip addr add 192.168.77.2/24 dev mlr-rig
ing ip link set mlr-rig up
ing ip route add default via 192.168.77.1

cp -r "$REPO/images" "$T/p"
cat >"$T/p/router.conf" <<CONF
[Rig]
Hostname=nat-rig
User=rig
AuthorizedKeys=keys/demo_ed25519.pub
[WakeOnLan]
Enable=no
[Router]
PortForward=upnp
ExternalPort=2222
CONF
"$MLRIG" image -q -p "$T/p/router.conf" --rootfs "$rootfs" -o "$T/rig.img" || { fail "build the image"; finish; }
off=$(( $(sfdisk --json "$T/rig.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])') * 512 ))
R=$T/root
mkdir -p "$R/usr/share"
debugfs -R "rdump /etc $R" "$T/rig.img?offset=$off" 2>/dev/null
debugfs -R "rdump /usr/share/mlrig $R/usr/share" "$T/rig.img?offset=$off" 2>/dev/null
check "image: mlrig-portmap.timer renews at half the one-day lease" eval \
	'grep -qx "OnUnitActiveSec=12h" "$R/etc/systemd/system/mlrig-portmap.timer" && [ -L "$R/etc/systemd/system/timers.target.wants/mlrig-portmap.timer" ]'

cat >"$T/miniupnpd.conf" <<CONF
ext_ifname=mlr-wan
listening_ip=mlr-lan
http_port=0
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
lease_file=$T/upnp.leases
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=forwardUPnP
upnp_nat_chain=UPnP
upnp_nat_postrouting_chain=UPnP-Postrouting
allow 1-65535 192.168.77.0/24 1-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
# the chains miniupnpd-nftables fills (Debian's nft_init.sh makes them, but wants iptables)
inr nft -f - <<'NFT'
table inet miniupnpd {
	chain forward { type filter hook forward priority 0; policy drop; jump forwardUPnP; }
	chain forwardUPnP { }
	chain prerouting { type nat hook prerouting priority -100; policy accept; jump UPnP; }
	chain postrouting { type nat hook postrouting priority 100; policy accept; jump UPnP-Postrouting; }
	chain UPnP { }
	chain UPnP-Postrouting { }
}
NFT
ip netns exec "$NS_R" miniupnpd -d -f "$T/miniupnpd.conf" -P "$T/miniupnpd.pid" >"$T/miniupnpd.log" 2>&1 &
upnpd_pid=$!
sleep 1
kill -0 "$upnpd_pid" 2>/dev/null || skip "miniupnpd did not start here: $(tail -3 "$T/miniupnpd.log" | tr '\n' ' ')"

stage() { ing "$AGENT" --root "$R" stage port-forward >"$T/last" 2>&1; }
mapped() { ing upnpc -l 2>&1 | grep -E "TCP +2222->192\.168\.77\.2:22 "; }
set_mode() { sed -i "s/^PortForward=.*/PortForward=$1/" "$R/etc/mlrig/rig.conf"; }

# --- UPnP ---
stage
upnp_ok=no
if grep -q "UPnP error" "$T/last"; then
	echo "SKIP UPnP: miniupnpd refused the mapping here ($(grep -o 'UPnP error.*' "$T/last")); its log:"
	tail -5 "$T/miniupnpd.log"
else
	upnp_ok=yes
	check "upnp: the stage maps the SSH port" grep -q "stage port-forward ok.*upnp: router port 2222 -> 192.168.77.2 port 22, lease 24 h" "$T/last"
	check "upnp: upnpc -l shows 2222 -> the rig's 22" mapped
	check "upnp: a lease of one day" eval 'ing upnpc -l | grep -E "TCP +2222->192\.168\.77\.2:22 " | grep -Eq " (86[34][0-9][0-9]|86400)$"'
	stage
	check "upnp: the renewal keeps one mapping" test "$(ing upnpc -l | grep -cE 'TCP +2222->')" -eq 1
	check "upnp: nothing but the SSH port is mapped" test "$(ing upnpc -l | grep -cE '^ *[0-9]+ (TCP|UDP) ')" -eq 1
	set_mode no
	stage
	check "upnp: PortForward=no removes it" eval '! mapped && grep -q "removed the upnp mapping of port 2222" "$T/last"'
fi

# --- NAT-PMP ---
set_mode natpmp
stage
if grep -q "no port mapping" "$T/last"; then
	echo "SKIP NAT-PMP: $(grep -o 'no port mapping.*' "$T/last")"
else
	check "natpmp: the stage maps the SSH port" grep -q "stage port-forward ok.*natpmp: router port 2222 -> port 22, lease 24 h" "$T/last"
	check "natpmp: upnpc -l shows 2222 -> the rig's 22" mapped
	set_mode no
	stage
	check "natpmp: PortForward=no removes it" eval '! mapped && grep -q "removed the natpmp mapping of port 2222" "$T/last"'
fi

# --- no ExternalPort=: the router's port is the SSH port ([SSH] Port=2200 here, so not 22 by chance) ---
if [ $upnp_ok = yes ]; then
	cp "$R/etc/mlrig/rig.conf" "$T/rig.conf.keep"
	{ sed '/^ExternalPort=/d' "$T/p/router.conf"; printf '[SSH]\nPort=2200\n'; } >"$T/p/router-default.conf"
	if "$MLRIG" image -q -p "$T/p/router-default.conf" --rootfs "$rootfs" -o "$T/rig2.img"; then
		off2=$(( $(sfdisk --json "$T/rig2.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])') * 512 ))
		mkdir -p "$T/root2"
		debugfs -R "rdump /etc/mlrig/rig.conf $T/root2" "$T/rig2.img?offset=$off2" 2>/dev/null
		rm -f "$T/rig2.img"
		cp "$T/root2/rig.conf" "$R/etc/mlrig/rig.conf"
		stage
		mapped2200() { ing upnpc -l 2>&1 | grep -E "TCP +2200->192\.168\.77\.2:2200 "; }
		check "no ExternalPort=: the stage maps router port 2200 to the SSH port 2200" \
			grep -q "stage port-forward ok.*upnp: router port 2200 -> 192.168.77.2 port 2200, lease 24 h" "$T/last"
		check "no ExternalPort=: upnpc -l shows 2200 -> the rig's 2200, nothing else" \
			eval 'mapped2200 && [ "$(ing upnpc -l | grep -cE "^ *[0-9]+ (TCP|UDP) ")" -eq 1 ]'
		# the agent's own default too, for a rig.conf that lacks the line
		sed -i '/^ExternalPort=/d' "$R/etc/mlrig/rig.conf"
		stage
		check "rig.conf without ExternalPort=: the same one mapping" \
			eval 'grep -q "upnp: router port 2200 -> 192.168.77.2 port 2200" "$T/last" && [ "$(ing upnpc -l | grep -cE "^ *[0-9]+ (TCP|UDP) ")" -eq 1 ]'
		set_mode no
		stage
		check "no ExternalPort=: PortForward=no removes it" eval '! mapped2200 && grep -q "removed the upnp mapping of port 2200" "$T/last"'
	else
		fail "build the image without ExternalPort="
	fi
	cp "$T/rig.conf.keep" "$R/etc/mlrig/rig.conf"
else
	echo "SKIP ExternalPort default case: miniupnpd refused UPnP mappings here (see above)"
fi

# --- a rig without the library still finalises, and says what it skipped ---
set_mode upnp
# the loader finds libminiupnpc in the system paths; an unshare'd mount namespace hides it
lib=$(ldconfig -p | sed -n 's/.*libminiupnpc\.so\.17 .*=> //p' | head -1)
if [ -n "$lib" ] && command -v unshare >/dev/null; then
	ing unshare -m sh -c "mount --bind /dev/null '$lib' && '$AGENT' --root '$R' stage port-forward" >"$T/last" 2>&1
	check "no libminiupnpc: the stage succeeds and says what it skipped" grep -q "stage port-forward ok.*skipped: libminiupnpc.so.17 not found: install libminiupnpc17" "$T/last"
else
	echo "SKIP no-library case: no libminiupnpc.so.17 in ldconfig's cache, or no unshare"
fi
set_mode natpmp
lib=$(ldconfig -p | sed -n 's/.*libnatpmp\.so\.1 .*=> //p' | head -1)
if [ -n "$lib" ] && command -v unshare >/dev/null; then
	ing unshare -m sh -c "mount --bind /dev/null '$lib' && '$AGENT' --root '$R' stage port-forward" >"$T/last" 2>&1
	check "no libnatpmp: the stage succeeds and says what it skipped" grep -q "stage port-forward ok.*skipped: libnatpmp.so.1 not found: install libnatpmp1" "$T/last"
	check "no libnatpmp: nothing mapped, nothing recorded" \
		eval '[ "$(ing upnpc -l | grep -cE "^ *[0-9]+ (TCP|UDP) ")" -eq 0 ] && [ ! -e "$R/var/lib/mlrig/portmap.state" ]'
	# the same stage with the library there maps it: the check above is about the library
	stage
	check "libnatpmp back: the stage maps again" grep -q "stage port-forward ok.*natpmp: router port 2222 -> port 22" "$T/last"
	set_mode no
	stage
else
	echo "SKIP no-libnatpmp case: no libnatpmp.so.1 in ldconfig's cache, or no unshare"
fi

# --- the firewall stage's nftables table, loaded in the rig's namespace ---
ing "$AGENT" --root "$R" stage firewall >"$T/last" 2>&1
check "firewall: the stage writes the table (no ufw in the tree)" grep -q "stage firewall ok.*nftables: inbound dropped except tcp port 22" "$T/last"
ing nft -f "$R/etc/mlrig/firewall.nft"
for p in 22 8080; do
	ip netns exec "$NS_G" python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', $p)); s.listen(); time.sleep(60)" &
done
sleep 0.5
reach() { inr python3 -c "import socket; socket.create_connection(('192.168.77.2', $1), 2)" 2>/dev/null; }
check "firewall: SSH's port reachable from the router's side" reach 22
check "firewall: another listening port (8080) is not" eval '! reach 8080'
check "firewall: 8080 listens (reachable inside the rig)" ing python3 -c "import socket; socket.create_connection(('127.0.0.1', 8080), 2)"
ing nft delete table inet mlrig
check "firewall: without the table 8080 is reachable (the check above can fail)" reach 8080
finish
