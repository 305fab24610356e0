#!/bin/bash
# Boot tier: the demo image boots under QEMU (TCG here) to the ready marker,
# and ssh with the profile's key works; the image is not modified by booting.
. "$(dirname "$0")/../lib.sh"
need qemu-system-x86_64 ssh
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
key=$(demo_key)

"$MLRIG" image -q -p "$REPO/images/demo.conf" --rootfs "$rootfs" -o "$T/demo.img" || { fail build; finish; }
before=$(sha256sum <"$T/demo.img")
"$MLRIG" boot "$T/demo.img" --expect "mlrig-ready: mlrig-demo" --ssh "$key" --user demo \
	--ssh-command 'id -un; hostname; cat /etc/machine-id; ls /etc/ssh/ssh_host_ed25519_key' \
	--timeout 300 --log "$T/serial.log" >"$T/ssh.out"
rc=$?
if [ $rc -eq 0 ]; then pass "boots to the marker and ssh works"; else fail "boot (exit $rc)"; tail -50 "$T/serial.log"; fi
check "ssh ran as the profile's user" grep -qx demo "$T/ssh.out"
check "hostname from the profile" grep -qx mlrig-demo "$T/ssh.out"
check "machine-id made on first boot" grep -Eqx '[0-9a-f]{32}' "$T/ssh.out"
check "host keys made on first boot" grep -qx /etc/ssh/ssh_host_ed25519_key "$T/ssh.out"
check "booting leaves the image untouched" test "$before" = "$(sha256sum <"$T/demo.img")"
finish
