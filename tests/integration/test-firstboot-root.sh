#!/bin/bash
# mlrig-firstboot against a tree (--root), no VM: the tree is the /etc, /home
# and /usr/share/mlrig of a real image built from a test profile. Checks a full
# run, idempotence (no duplicated users, keys or lines), a failing stage that
# stops the run and is retried, and a kill -9 inside a stage.
. "$(dirname "$0")/../lib.sh"
need_root "the agent chowns files to the rig user inside the tree"
need debugfs python3
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
wheels=$(bash "$REPO/tests/fixtures/wheel.sh")
AGENT=$BUILD/mlrig-firstboot
N=$(agent_stage_count)

cp -r "$REPO/images" "$T/p"
cat >"$T/p/test.conf" <<CONF
[Rig]
Hostname=tree-rig
User=rig
AuthorizedKeys=keys/demo_ed25519.pub
[WakeOnLan]
Interface=auto
[Python]
Venv=~/venv/ml
Requirements=mlrig-probe
Wheelhouse=$wheels
[Jupyter]
Port=8899
CONF
"$MLRIG" image -q -p "$T/p/test.conf" --rootfs "$rootfs" -o "$T/rig.img" || { fail "build the image"; finish; }
off=$(( $(sfdisk --json "$T/rig.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])') * 512 ))
R=$T/root
mkdir -p "$R/usr/share" "$R/proc/net" "$R/sys/class/net/enp3s0"
for d in /etc /home; do debugfs -R "rdump $d $R" "$T/rig.img?offset=$off" 2>/dev/null; done
debugfs -R "rdump /usr/share/mlrig $R/usr/share" "$T/rig.img?offset=$off" 2>/dev/null
printf 'Iface\tDestination\tGateway\nenp3s0\t00000000\t0102A8C0\nenp3s0\t0002A8C0\t00000000\n' >"$R/proc/net/route"
echo 52:54:00:12:34:56 >"$R/sys/class/net/enp3s0/address"
keys_before=$(wc -l <"$R/home/rig/.ssh/authorized_keys")

"$AGENT" --root "$R" run >"$T/run1" 2>&1
check "first run completes" grep -q "complete ($N stages" "$T/run1"
"$AGENT" --root "$R" status --json >"$T/status.json"
check "status: every stage done" python3 -c "
import json,sys; s=json.load(open('$T/status.json')); assert s['complete'] and all(x['state']=='done' for x in s['stages']), s"
check "report.json lists every stage as ok" python3 -c "
import json; r=json.load(open('$R/var/lib/mlrig/report.json')); assert len(r['stages'])==$N and all(x['ok'] for x in r['stages']), r"
check "venv imports the wheel's module" test "$("$R/home/rig/venv/ml/bin/python" -c 'import mlrig_probe; print(mlrig_probe.MARKER)')" = mlrig-probe-ok
check "venv owned by the user" test "$(stat -c %U "$R/home/rig/venv/ml/bin/python3" 2>/dev/null || stat -c %u "$R/home/rig/venv/ml/bin")" != root
check "jlab shortcut on the profile's port" grep -q "jupyter lab --no-browser --port=8899" "$R/home/rig/.bash_aliases"
check "Wake-on-LAN persisted for the default route's NIC" grep -q "MACAddress=52:54:00:12:34:56" "$R/etc/systemd/network/50-mlrig-wol.link"
check "the rig reports its wake MAC for the laptop" test "$(cat "$R/var/lib/mlrig/wol-mac")" = 52:54:00:12:34:56
check "no [Jupyter] Service: the jupyter stage is skipped" eval \
	'"$AGENT" --root "$R" status | grep -Eq "^jupyter +done .*skipped: \[Jupyter\] Service=no" && [ ! -e "$R/home/rig/.local/share/mlrig" ]'
check "hostname" test "$(cat "$R/etc/hostname")" = tree-rig
check "no ufw in the tree: the nftables table, SSH port only" eval 'grep -q "tcp dport 22 accept" "$R/etc/mlrig/firewall.nft" && [ "$(grep -c "dport.*accept" "$R/etc/mlrig/firewall.nft")" -eq 2 ]'
if command -v nft >/dev/null; then
	check "nft accepts the table" nft -c -f "$R/etc/mlrig/firewall.nft"
fi
check "no port mapping asked for: skipped" grep -q "stage port-forward ok.*skipped: \[Router\] PortForward=no" "$T/run1"
check "motd block" grep -q "ssh -p 22 rig@tree-rig" "$R/etc/motd.d/50-mlrig"
"$AGENT" --root "$R" run >"$T/run2" 2>&1
check "a finished rig is a no-op" grep -q "already complete" "$T/run2"

# Idempotence: forget the journal and run everything again.
rm -rf "$R/var/lib/mlrig"
"$AGENT" --root "$R" run >"$T/run3" 2>&1
check "second full run completes" grep -q "complete ($N stages" "$T/run3"
check "one passwd line for the user" test "$(grep -c '^rig:' "$R/etc/passwd")" -eq 1
check "one shadow line for the user" test "$(grep -c '^rig:' "$R/etc/shadow")" -eq 1
check "user once in sudo" grep -Eq '^sudo:x:27:rig$' "$R/etc/group"
check "no duplicated keys" test "$(wc -l <"$R/home/rig/.ssh/authorized_keys")" -eq "$keys_before"
check "authorized_keys mode 0600" test "$(stat -c %a "$R/home/rig/.ssh/authorized_keys")" = 600
check "one 127.0.1.1 line" test "$(grep -c '^127.0.1.1' "$R/etc/hosts")" -eq 1
check "one shortcut block" test "$(grep -c '>>> mlrig >>>' "$R/home/rig/.bash_aliases")" -eq 1

# A failing stage stops the run, says why, and is retried by the next run.
rm -rf "$R/var/lib/mlrig" "$R/home/rig/venv"
sed -i 's/^Requirements=.*/Requirements=mlrig-probe no-such-package/' "$R/etc/mlrig/rig.conf"
"$AGENT" --root "$R" run >"$T/run4" 2>&1
rc=$?
check "failing stage: exit 1" test $rc -eq 1
check "failing stage: console names the stage" grep -q "stage python FAILED" "$T/run4"
"$AGENT" --root "$R" status >"$T/status4"
check "status shows pip's reason" grep -Eq "^python +failed .*pip install failed.*no-such-package" "$T/status4"
check "later stages did not run" grep -Eq "^summary +pending" "$T/status4"
sed -i 's/^Requirements=.*/Requirements=mlrig-probe/' "$R/etc/mlrig/rig.conf"
"$AGENT" --root "$R" run >"$T/run5" 2>&1
check "retry completes" grep -q "complete ($N stages" "$T/run5"
check "retry resumed at the failed stage" eval '! grep -q "stage identity ok" "$T/run5" && grep -q "stage python ok" "$T/run5"'
"$AGENT" --root "$R" status --json >"$T/status5.json"
check "python took two attempts, identity one" python3 -c "
import json; s={x['name']:x for x in json.load(open('$T/status5.json'))['stages']}
assert s['python']['attempts']==2 and s['identity']['attempts']==1, s"

# kill -9 inside the user stage (test hook), then resume.
rm -rf "$R/var/lib/mlrig"
echo user >"$R/etc/mlrig/test-hold-stage"
"$AGENT" --root "$R" run >"$T/run6" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q "holding inside stage user" "$T/run6" && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null
check "held inside the user stage" grep -q "holding inside stage user" "$T/run6"
"$AGENT" --root "$R" status >"$T/status6"
check "user stage not recorded after the kill" grep -Eq "^user +pending" "$T/status6"
check "the hook disarmed itself" test -f "$R/etc/mlrig/test-hold-stage.used" -a ! -e "$R/etc/mlrig/test-hold-stage"
"$AGENT" --root "$R" run >"$T/run7" 2>&1
check "resumes at the user stage and completes" eval 'grep -q "stage user ok" "$T/run7" && ! grep -q "stage identity ok" "$T/run7" && grep -q "complete ($N stages" "$T/run7"'
check "still one passwd line after the kill" test "$(grep -c '^rig:' "$R/etc/passwd")" -eq 1
check "still no duplicated keys" test "$(wc -l <"$R/home/rig/.ssh/authorized_keys")" -eq "$keys_before"

# The jupyter stage: the token, made once, 0600 and the user's; a missing Python is named.
sed -i 's/^Service=no$/Service=yes/; s/^App=lab$/App=notebook/' "$R/etc/mlrig/rig.conf"
"$AGENT" --root "$R" stage jupyter >"$T/jup1" 2>&1
rc=$?
check "jupyter stage without the system's python3: fails, naming it" eval \
	'[ $rc -ne 0 ] && "$AGENT" --root "$R" status | grep -Eq "^jupyter +failed .*/usr/bin/python3 is missing"'
mkdir -p "$R/usr/bin" && cp /bin/true "$R/usr/bin/python3"
"$AGENT" --root "$R" stage jupyter >"$T/jup2" 2>&1
rc=$?
token=$R/home/rig/.local/share/mlrig/jupyter-token
# shellcheck disable=SC2034 # read by the eval below
uid=$(awk -F: '$1 == "rig" { print $3 }' "$R/etc/passwd")
check "jupyter stage: a token of 48 hex digits, no newline" eval \
	'[ $rc -eq 0 ] && grep -Eqx "[0-9a-f]{48}" "$token" && [ "$(wc -c <"$token")" -eq 48 ]'
check "jupyter stage: token 0600, the user's; its directory 0700" eval \
	'[ "$(stat -c "%a %u" "$token")" = "600 $uid" ] && [ "$(stat -c "%a %u" "$(dirname "$token")")" = "700 $uid" ]'
cp "$token" "$T/token1"
"$AGENT" --root "$R" stage jupyter >"$T/jup3" 2>&1
check "jupyter stage again: the token is kept" cmp -s "$token" "$T/token1"

"$AGENT" --root "$R" stage nope >/dev/null 2>&1
check "unknown stage: exit 2" test $? -eq 2

# A stage's error is tool output, and tool output can hold anything: quotes,
# backslashes, control characters, bytes that are not UTF-8. status --json and
# report.json stay JSON whatever the record says.
printf 'state=failed\nmilliseconds=5\nattempts=2\nerror=pip said "no" \\ \001\033[1m\377\376 here\nnote=n\001\n' \
	>"$R/var/lib/mlrig/stages/python"
"$AGENT" --root "$R" status --json >"$T/status-hostile.json"
check "status --json with a hostile error record is JSON" python3 -c "
import json; s={x['name']:x for x in json.load(open('$T/status-hostile.json', encoding='utf-8'))['stages']}
e = s['python']['error']; assert e.startswith('pip said \"no\" \\\\ \x01\x1b[1m') and '\ufffd' in e, repr(e)"
"$AGENT" --root "$R" stage summary >/dev/null 2>&1
check "report.json with a hostile note is JSON" eval 'python3 -m json.tool "$R/var/lib/mlrig/report.json" >/dev/null'
finish
