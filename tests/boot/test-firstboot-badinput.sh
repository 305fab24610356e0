#!/bin/bash
# Bad input on a real boot: a requirement pip cannot install makes the python
# stage fail with pip's reason in `mlrig-firstboot status`; the rig stays
# reachable over ssh.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-firstboot.sh"
need qemu-system-x86_64 ssh sfdisk python3
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
key=$(demo_key)
rootfs=$(rootfs_fixture) || skip "no rootfs fixture"
wheels=$(bash "$REPO/tests/fixtures/wheel.sh")
cp -r "$REPO/images" "$T/p" && cp "$wheels"/*.whl "$T/p/wheelhouse/"
sed -i 's/^Requirements=.*/Requirements=mlrig-probe no-such-package-mlrig/' "$T/p/test-firstboot.conf"
"$MLRIG" image -q -p "$T/p/test-firstboot.conf" --rootfs "$rootfs" -o "$T/bad.img" 2>"$T/build.log" || { fail build; finish; }

"$MLRIG" boot "$T/bad.img" --expect "stage python FAILED" --ssh "$key" --user demo \
	--ssh-command 'sudo /usr/lib/mlrig/mlrig-firstboot status' --timeout 400 --log "$T/boot.log" >"$T/out" 2>"$T/err"
rc=$?
check "the failure is on the console and ssh still works" test $rc -eq 0
[ $rc -eq 0 ] || { cat "$T/err"; tail -30 "$T/boot.log"; }
check "status: python failed with pip's reason" grep -Eq "^python +failed .*pip install failed.*no-such-package-mlrig" "$T/out"
check "status: later stages pending, earlier done" eval 'grep -Eq "^summary +pending" "$T/out" && grep -Eq "^sshd +done" "$T/out"'
check "status: not complete" grep -qx "not complete" "$T/out"
finish
