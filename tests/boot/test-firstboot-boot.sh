#!/bin/bash
# The agent on a real first boot (QEMU, TCG here): ssh with the profile key,
# password login refused by the real ssh client, sshd -T shows the drop-in,
# the venv imports the wheel's module, report.json has every stage ok, a NIC
# without Wake-on-LAN only warns, and two boots of one image get different host keys.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-firstboot.sh"
need qemu-system-x86_64 ssh sfdisk python3
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
key=$(demo_key)
fb_image "$T" || { fail "build"; cat "$T/build.log"; finish; }

probe='echo "HOSTKEY $(cut -d" " -f2 /etc/ssh/ssh_host_ed25519_key.pub)"
sudo sshd -T | grep -Ei "^(passwordauthentication|permitrootlogin|allowusers|usepam|kbdinteractiveauthentication) "
echo "PWLOGIN $(ssh -o BatchMode=no -o NumberOfPasswordPrompts=1 -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null demo@localhost true </dev/null 2>&1 | tail -1)"
echo "PROBE $(~/venv/ml/bin/python -c "import mlrig_probe; print(mlrig_probe.MARKER)")"
python3 -c "import json; r=json.load(open(\"/var/lib/mlrig/report.json\")); print(\"REPORT\", len(r[\"stages\"]), all(s[\"ok\"] for s in r[\"stages\"]))"
sudo /usr/lib/mlrig/mlrig-firstboot status | sed "s/^/STATUS /"'

"$MLRIG" boot "$T/fb.img" --expect "mlrig-firstboot: complete" --ssh "$key" --user demo --ssh-command "$probe" \
	--timeout 400 --log "$T/boot1.log" >"$T/out1" 2>"$T/err1"
rc=$?
check "first boot completes and ssh with the profile key works" test $rc -eq 0
[ $rc -eq 0 ] || { cat "$T/err1"; tail -40 "$T/boot1.log"; }
check "password login refused (the server offers publickey only)" grep -q "^PWLOGIN demo@localhost: Permission denied (publickey)." "$T/out1"
check "sshd -T: no password authentication" grep -qx "passwordauthentication no" "$T/out1"
check "sshd -T: no root login" grep -qx "permitrootlogin no" "$T/out1"
check "sshd -T: AllowUsers the rig user" grep -qx "allowusers demo" "$T/out1"
check "sshd -T: UsePAM yes" grep -qx "usepam yes" "$T/out1"
check "the venv imports the wheel's module" grep -qx "PROBE mlrig-probe-ok" "$T/out1"
check "report.json: every stage ok" grep -qx "REPORT 11 True" "$T/out1"
check "a NIC without Wake-on-LAN is a warning" grep -Eq "^STATUS wake-on-lan +done .*warning: .* does not support Wake-on-LAN" "$T/out1"
check "console shows the completion line" grep -Eq "mlrig-firstboot: complete \(11 stages, [0-9.]+ s\)" "$T/boot1.log"

# waits for the agent as the first boot does: it reloads sshd, which can reset a connection made before
"$MLRIG" boot "$T/fb.img" --expect "mlrig-firstboot: complete" --ssh "$key" --user demo \
	--ssh-command 'echo "HOSTKEY $(cut -d" " -f2 /etc/ssh/ssh_host_ed25519_key.pub)"' \
	--timeout 400 --log "$T/boot2.log" >"$T/out2" 2>"$T/err2"
# shellcheck disable=SC2034 # read by the eval below
k1=$(sed -n 's/^HOSTKEY //p' "$T/out1") k2=$(sed -n 's/^HOSTKEY //p' "$T/out2")
check "two boots of one image get different host keys" eval '[ -n "$k1" ] && [ -n "$k2" ] && [ "$k1" != "$k2" ]'
finish
