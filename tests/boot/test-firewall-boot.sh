#!/bin/bash
# The firewall on a real first boot (QEMU, the fixture rig has ufw as Ubuntu does): a port
# the rig listens on besides SSH (8080, forwarded by QEMU like a router would) is not
# reachable from outside while SSH is; after `ufw allow 8080` on the rig it is, so the
# probe can tell the two apart. The guest and this script take turns through a small
# HTTP helper on the host (the guest reaches it at 10.0.2.2).
. "$(dirname "$0")/../lib.sh"
need qemu-system-x86_64 ssh sfdisk python3
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
key=$(demo_key)
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
cp -r "$REPO/images" "$T/p"
cat >"$T/p/fw.conf" <<CONF
[Rig]
Hostname=fw-rig
User=demo
AuthorizedKeys=keys/demo_ed25519.pub
[Boot]
Timeout=1
[WakeOnLan]
Enable=no
[Firewall]
Enable=yes
[Image]
Size=2G
Seed=6d6c7269-672d-4465-8d6f-0000000000f1
SourceDateEpoch=1700000000
CONF
"$MLRIG" image -q -p "$T/p/fw.conf" --rootfs "$rootfs" -o "$T/fw.img" 2>"$T/build.log" || { fail "build"; cat "$T/build.log"; finish; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
web=$(free_port) sync=$(free_port)
S=$T/sync
mkdir -p "$S"
echo wait >"$S/phase"
# GET /NAME: "phase" answers the phase file; any other name is recorded as a file
python3 - "$S" "$sync" <<'PY' 2>"$T/sync.err" &
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
d, port = sys.argv[1], int(sys.argv[2])
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        name = self.path.strip("/")
        if name == "phase":
            body = open(os.path.join(d, "phase")).read().strip().encode()
        else:
            open(os.path.join(d, name), "w").close()
            body = b"ok"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
sync_pid=$!
trap 'kill $sync_pid 2>/dev/null; _cleanup' EXIT

# the guest's side, in bash: /dev/tcp instead of a python3 start per step (slow under TCG)
guest="exec bash -c 'P=$sync"'
g() { exec 3<>/dev/tcp/10.0.2.2/$P && printf "GET /%s HTTP/1.0\r\n\r\n" "$1" >&3 && tail -n 1 <&3; exec 3>&-; }
wait_phase() { i=0; until [ "$(g phase)" = "$1" ] || [ $i -ge 240 ]; do sleep 0.5; i=$((i+1)); done; }
nohup python3 -m http.server 8080 >/dev/null 2>&1 &
i=0; until (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null || [ $i -ge 60 ]; do sleep 0.5; i=$((i+1)); done
(exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && echo INSIDE_OK
g ready >/dev/null
wait_phase open
sudo ufw allow 8080/tcp >/dev/null && echo OPENED
g opened >/dev/null
wait_phase done
sudo ufw status | sed "s/^/UFW /"
sudo /usr/lib/mlrig/mlrig-firstboot status | sed "s/^/STATUS /"'"'"

"$MLRIG" boot "$T/fw.img" --expect "mlrig-firstboot: complete" --ssh "$key" --user demo --forward "$web:8080" \
	--ssh-command "$guest" --timeout 500 --log "$T/boot.log" >"$T/out" 2>"$T/err" &
boot_pid=$!

# probe: 0 when an HTTP answer comes through the forwarded port
probe() { python3 -c 'import http.client,sys; c=http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=3); c.request("GET", "/"); sys.exit(0 if c.getresponse().status == 200 else 1)' "$web" 2>/dev/null; }
wait_file() { for _ in $(seq "$2"); do [ -e "$S/$1" ] && return 0; kill -0 $boot_pid 2>/dev/null || return 1; sleep 1; done; return 1; }

if wait_file ready 500; then
	blocked=0
	for _ in 1 2 3; do probe || blocked=$((blocked + 1)); done
	check "firewall on: 8080 listens on the rig but is unreachable from outside (3 of 3 probes)" test $blocked -eq 3
	echo open >"$S/phase"
	if wait_file opened 60; then
		ok=1
		for _ in 1 2 3 4 5; do probe && { ok=0; break; }; sleep 1; done
		check "after 'ufw allow 8080' the same probe gets through (the check above can fail)" test $ok -eq 0
	else
		fail "the guest did not open 8080"
	fi
else
	fail "the guest never got ready"
fi
echo "done" >"$S/phase"
wait $boot_pid
rc=$?
check "the boot and ssh with the profile's key work with the firewall on" test $rc -eq 0
[ $rc -eq 0 ] || { cat "$T/err"; tail -30 "$T/boot.log"; }
check "8080 listened inside the rig" grep -qx INSIDE_OK "$T/out"
check "ufw is active" grep -q "^UFW Status: active" "$T/out"
check "ufw allows SSH's port (22/tcp)" grep -Eq "^UFW 22/tcp +ALLOW" "$T/out"
check "status: the firewall stage used ufw" grep -Eq "^STATUS firewall +done .*ufw: inbound denied except 22/tcp" "$T/out"
finish
