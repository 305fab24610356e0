#!/bin/bash
# The packages stage on a real boot: htop, tmux and sshfs (real bullseye .debs the fixture rootfs
# lacks) install from the rig's own repository with no network; the power is cut while dpkg runs a
# postinst, and the next boot repairs the half-configured package before it finishes the stage.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-firstboot.sh"
need qemu-system-x86_64 ssh sfdisk debugfs dpkg-deb
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
debs=$(bash "$REPO/tests/fixtures/debs.sh") || skip "no .debs fixture (tests/fixtures/debs.sh needs the Debian mirror)"
key=$(demo_key)

# A package whose postinst, once, says so on the console and waits there: the power cut lands
# inside dpkg, with the package unpacked and not configured.
mkdir -p "$T/debs" "$T/hold/DEBIAN"
cp "$debs"/*.deb "$T/debs/"
printf 'Package: mlrig-test-hold\nVersion: 1.0\nArchitecture: all\nMaintainer: mlrig tests <t@t>\nDepends: tmux\nDescription: holds dpkg once\n' \
	>"$T/hold/DEBIAN/control"
cat >"$T/hold/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -e /etc/mlrig/test-hold-postinst ]; then
	mv /etc/mlrig/test-hold-postinst /etc/mlrig/test-hold-postinst.used
	sync
	echo "MLRIG-POSTINST-HOLD" >/dev/console
	while :; do sleep 60; done
fi
echo configured >>/var/lib/mlrig-test-hold.runs
SH
chmod 755 "$T/hold/DEBIAN/postinst"
dpkg-deb --build "$T/hold" "$T/debs/mlrig-test-hold_1.0_all.deb" >/dev/null

cp -r "$REPO/images" "$T/p"
cat "$T/p/demo.conf" - >"$T/p/pk.conf" <<EOF

[Packages]
Install=htop tmux sshfs mlrig-test-hold
Debs=$T/debs
EOF
"$MLRIG" image -q -p "$T/p/pk.conf" --rootfs "$rootfs" -o "$T/pk.img" 2>"$T/build.log" || { fail "build"; cat "$T/build.log"; finish; }
pass "image with htop, tmux, sshfs and the hold package"
off=$(root_offset "$T/pk.img")
: >"$T/arm"
debugfs -w -R "write $T/arm /etc/mlrig/test-hold-postinst" "$T/pk.img?offset=$off" >/dev/null 2>&1

"$MLRIG" boot "$T/pk.img" --writable --power-cut --expect "MLRIG-POSTINST-HOLD" --timeout 400 \
	--log "$T/boot1.log" >/dev/null 2>"$T/boot1.err"
check "first boot: the power is cut inside dpkg's postinst" test $? -eq 0

probe='for p in htop tmux sshfs fuse3 mlrig-test-hold; do echo "PKG $p $(dpkg-query -W -f="\${Status}" $p)"; done
echo "RUNS $(cat /var/lib/mlrig-test-hold.runs | wc -l)"; echo "NET $(grep -hv "^#" /var/lib/mlrig/apt/sources.list)"
sudo /usr/lib/mlrig/mlrig-firstboot status | sed "s/^/STATUS /"'
"$MLRIG" boot "$T/pk.img" --writable --expect "mlrig-firstboot: complete" --ssh "$key" --user demo \
	--ssh-command "$probe" --timeout 500 --log "$T/boot2.log" >"$T/out" 2>"$T/boot2.err"
if [ $? -ne 0 ]; then fail "second boot completes"; cat "$T/boot2.err"; tail -40 "$T/boot2.log"; finish; fi
pass "second boot completes"
for p in htop tmux sshfs fuse3 mlrig-test-hold; do
	check "$p: install ok installed" grep -qx "PKG $p install ok installed" "$T/out"
done
check "the interrupted postinst ran to its end once (dpkg --configure -a)" grep -qx "RUNS 1" "$T/out"
check "apt's only source was the rig's own repository" grep -qx "NET deb \[trusted=yes\] file:/var/lib/mlrig/repo ./" "$T/out"
check "status: packages done" grep -Eq "^STATUS packages +done" "$T/out"
finish
