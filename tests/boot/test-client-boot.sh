#!/bin/bash
# The laptop kit end to end, one boot: a rig with [Jupyter] Service=yes booted
# with its ssh port forwarded; the real ssh client, given the entry that
# 'mlrig client --address 127.0.0.1 --port N' prints (ssh -F), logs in with the
# key and no password; the entry's LocalForward reaches the rig's Jupyter, whose
# /api/status answers with the token the shortcut fetched (and refuses without);
# Jupyter runs as the user on the rig's 127.0.0.1 only; the SSHFS shortcut mounts
# the rig's home and a file written on the rig reads back through the mount.
. "$(dirname "$0")/../lib.sh"
need qemu-system-x86_64 ssh sshfs fusermount3 python3 bash
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
[ -c /dev/fuse ] || skip "no /dev/fuse: SSHFS cannot mount here"
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
key=$(demo_key)
jport=18899

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_free() { python3 -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
port_free $jport || { fail "port $jport is taken on this machine: the tunnel cannot forward it"; finish; }

mkdir -p "$T/p/keys" "$T/home" "$T/bin"
cp "$REPO/images/keys/demo_ed25519.pub" "$T/p/keys/"
cat >"$T/p/rig.conf" <<CONF
# The laptop-kit test rig: Jupyter as a service (Debian's python3-notebook in
# the fixture rootfs, the system's Python since there is no venv), no venv to
# make, so the first boot is short.
[Rig]
Hostname=reach-test
User=demo
AuthorizedKeys=keys/demo_ed25519.pub
[Boot]
Timeout=1
[WakeOnLan]
Enable=no
[Jupyter]
Port=$jport
Service=yes
App=notebook
[Image]
Size=2G
Seed=6d6c7269-672d-4465-8d6f-000000000011
SourceDateEpoch=1700000000
CONF
"$MLRIG" image -q -p "$T/p/rig.conf" --rootfs "$rootfs" -o "$T/rig.img" 2>"$T/build.log" || {
	fail "build the image"; cat "$T/build.log"; finish; }
echo "image built in $SECONDS s"

sshport=$(free_port)
"$MLRIG" client -p "$T/p/rig.conf" --address 127.0.0.1 --port "$sshport" --identity "$key" >"$T/ssh_config" 2>"$T/client.err" ||
	{ fail "mlrig client"; cat "$T/client.err"; finish; }
HOME=$T/home "$MLRIG" client -p "$T/p/rig.conf" --address 127.0.0.1 --port "$sshport" --identity "$key" --install \
	>"$T/install.out" 2>&1 || { fail "mlrig client --install"; cat "$T/install.out"; finish; }
shortcuts=$T/home/.config/mlrig/reach-test/shortcuts.sh
mnt=$T/home/rigs/reach-test
# ssh reads ~/.ssh/config from the password database's home, not $HOME: point it at the test's
cat >"$T/bin/ssh" <<SH
#!/bin/bash
exec /usr/bin/ssh -F "$T/home/.ssh/config" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "\$@"
SH
chmod +x "$T/bin/ssh"
# sshd, not this shell, runs the commands below: single quotes on purpose
# shellcheck disable=SC2016
shortcut() { HOME=$T/home PATH=$T/bin:$PATH bash -c '. "$1"; shift; "$@"' _ "$shortcuts" "$@"; }
sshF() { /usr/bin/ssh -F "$T/ssh_config" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$@"; }

tunnel=
cleanup_boot() {
	mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt"
	[ -n "$tunnel" ] && kill "$tunnel" 2>/dev/null
	[ -n "${boot:-}" ] && kill "$boot" 2>/dev/null && wait "$boot" 2>/dev/null
	_cleanup
}
trap cleanup_boot EXIT

# The rig stays up while the checks below run from this side: mlrig boot's ssh
# command waits for the file the last check writes on the rig.
"$MLRIG" boot "$T/rig.img" --expect "mlrig-firstboot: complete" --ssh "$key" --user demo --forward "$sshport:22" \
	--ssh-command 'echo MLRIG-UP; while [ ! -e /tmp/mlrig-test-done ]; do sleep 1; done' \
	--timeout 480 --log "$T/boot.log" >"$T/boot.out" 2>"$T/boot.err" &
boot=$!
start=$SECONDS
until grep -q MLRIG-UP "$T/boot.out" 2>/dev/null; do
	kill -0 $boot 2>/dev/null || break
	sleep 1
done
check "the rig boots and its first boot completes" grep -q MLRIG-UP "$T/boot.out"
grep -q MLRIG-UP "$T/boot.out" || { cat "$T/boot.err"; tail -40 "$T/boot.log"; finish; }
echo "rig up after $((SECONDS - start)) s"

sshF -o BatchMode=yes -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no reach-test \
	'echo "LOGIN $(id -un)"' >"$T/login" 2>&1
check "ssh -F with mlrig client's entry logs in with the key and no password" grep -qx "LOGIN demo" "$T/login"

# the tunnel, as the entry makes it (its LocalForward, ExitOnForwardFailure)
sshF -N reach-test 2>"$T/tunnel.err" &
tunnel=$!
for _ in $(seq 30); do port_free $jport || break; sleep 0.5; done
check "the tunnel forwards Jupyter's port here" eval '! port_free $jport'

# while the tunnel is open: the shortcut's ssh must not forward again
url=$(shortcut reach_test_jupyter 2>"$T/jupyter.err")
token=${url##*token=}
check "the Jupyter shortcut prints the URL with the rig's token" eval \
	'[[ $url =~ ^http://127\.0\.0\.1:'$jport'/tree\?token=[0-9a-f]{48}$ ]] || { cat "$T/jupyter.err"; false; }'

# api STATUS-FILE [TOKEN]: GET /api/status through the tunnel; the HTTP status, then the body
api() {
	python3 - "$jport" "${2:-}" >"$1" 2>&1 <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request("http://127.0.0.1:%s/api/status" % sys.argv[1])
if sys.argv[2]:
    req.add_header("Authorization", "token " + sys.argv[2])
try:
    r = urllib.request.urlopen(req, timeout=10)
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print("error", e)
PY
}
# Jupyter starts after the agent; give it the time a TCG guest needs
for _ in $(seq 90); do api "$T/api" "$token"; head -1 "$T/api" | grep -q '^200$' && break; sleep 2; done
check "through the LocalForward, /api/status answers 200 with the token" eval \
	'head -1 "$T/api" | grep -qx 200 && grep -q "\"started\"" "$T/api"'
api "$T/api-no-token"
check "and refuses without it (403)" eval 'head -1 "$T/api-no-token" | grep -qx 403'

sshF -o ClearAllForwardings=yes reach-test 'ss -Hltn "sport = :'$jport'"; echo "TOKENMODE $(stat -c %a ~/.local/share/mlrig/jupyter-token)";
	pid=$(systemctl show -p MainPID --value mlrig-jupyter.service); echo "USER $(ps -o user= -p $pid)";
	tr "\0" " " </proc/$pid/cmdline; echo' >"$T/rigside" 2>&1
check "on the rig Jupyter listens on 127.0.0.1 only" eval \
	'grep -q "127.0.0.1:'$jport' " "$T/rigside" && ! grep -Eq "(0\.0\.0\.0|\*|\[::\]):'$jport' " "$T/rigside"'
check "it runs as the user, the token file is 0600, the token is not on its command line" eval \
	'grep -qx "USER demo" "$T/rigside" && grep -qx "TOKENMODE 600" "$T/rigside" && grep -q "notebook --no-browser" "$T/rigside" && ! grep -qF "$token" "$T/rigside"'

# SSHFS, beside the open tunnel
shortcut reach_test_mount >"$T/mount.out" 2>&1
check "the mount shortcut mounts the rig's home" eval 'mountpoint -q "$mnt" || { cat "$T/mount.out"; false; }'
stamp="written on the rig at $(date +%s.%N)"
sshF -o ClearAllForwardings=yes reach-test "echo '$stamp' >~/from-the-rig.txt"
check "a file written on the rig reads back through the mount" eval '[ "$(cat "$mnt/from-the-rig.txt")" = "$stamp" ]'
check "the cd shortcut goes there" eval '[ "$(shortcut eval "reach_test_cd && pwd")" = "$mnt" ]'
shortcut reach_test_umount >"$T/umount.out" 2>&1
check "the unmount shortcut unmounts it" eval '! mountpoint -q "$mnt"'

kill "$tunnel" 2>/dev/null
tunnel=
sshF -o ClearAllForwardings=yes reach-test 'touch /tmp/mlrig-test-done'
wait "$boot"
rc=$?
boot=
check "mlrig boot ends cleanly once the checks are done" test $rc -eq 0
[ $rc -eq 0 ] || { cat "$T/boot.err"; tail -20 "$T/boot.log"; }
echo "whole boot $((SECONDS - start)) s"
finish
