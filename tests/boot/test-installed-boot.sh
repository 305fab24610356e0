#!/bin/bash
# Boot tier, the installed mlrig (make install DESTDIR=ROOT PREFIX=/usr, run from
# outside the source tree with the tree hidden): the image it builds from the
# bullseye fixture boots. A key the image does not accept is refused at once,
# the message naming the user it tried (the rig user, from the manifest) and
# how to change it; with the profile's key and no --user, ssh logs in as that
# user while the first boot is under way, and the agent completes.
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/integration/lib-install.sh"
need qemu-system-x86_64 ssh ssh-keygen strace unshare readelf debugfs sfdisk osirrox python3
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
skip_under_sanitizers
root=$T/root
install_into "$root" || { fail "make install DESTDIR=$root PREFIX=/usr"; finish; }
check_installed_builds "$root"
[ -f "$T/work/rig.img" ] || finish
key=$(demo_key)
ssh-keygen -q -t ed25519 -N '' -f "$T/other_key"

# 1. A key the rig does not know: the boot fails as soon as sshd answers, not at the timeout.
start=$SECONDS
run_installed "$root" - mlrig boot rig.img --ssh "$T/other_key" --timeout 300 --log "$T/refused.log" \
	>"$T/refused.out" 2>"$T/refused.err"
rc=$? took=$((SECONDS - start))
if [ $rc -eq 1 ] && [ $took -lt 200 ] &&
	grep -qF "boot: the guest refused the key $T/other_key for user 'demo' (ssh: demo@127.0.0.1: Permission denied (publickey)" "$T/refused.err" &&
	grep -qF "the user is the rig user in the image's manifest rig.img.json: give --user NAME" "$T/refused.err"; then
	pass "a refused key fails the boot at once ($took s of 300), naming user demo from the manifest and --user"
else
	fail "refused key (exit $rc after $took s)"; cat "$T/refused.err"; tail -20 "$T/refused.log"
fi

# 2. The profile's key, no --user: in as demo from the start of the first boot, until the agent is done.
run_installed "$root" - mlrig boot rig.img --ssh "$key" --timeout 400 --log "$T/serial.log" \
	--ssh-command 'until systemctl is-active -q mlrig-firstboot.service; do sleep 2; done; sleep 2; id -un' \
	>"$T/ssh.out" 2>"$T/ssh.err"
rc=$?
if [ $rc -eq 0 ]; then pass "installed mlrig boot: ssh works without --user"; else fail "boot (exit $rc)"; cat "$T/ssh.err"; tail -40 "$T/serial.log"; fi
check "ssh logged in as the manifest's rig user" grep -qx demo "$T/ssh.out"
check "mlrig boot said where the user came from" grep -qF "ssh as 'demo' (the rig user in the image's manifest rig.img.json)" "$T/ssh.err"
check "the installed agent completed the first boot" grep -q "mlrig-firstboot: complete" "$T/serial.log"
finish
