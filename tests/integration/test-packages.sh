#!/bin/bash
# [Packages] Debs= and Install=: real bullseye .debs the fixture rootfs lacks (htop, tmux, sshfs
# and their dependencies) go into the image as a flat apt repository; a missing dependency stops
# the build naming its chain, with no output; a .deb of another architecture is refused by name;
# on an ISO the repository rides in the payload and the installer is not asked for those packages.
. "$(dirname "$0")/../lib.sh"
need debugfs sfdisk dpkg-deb python3 sha256sum xorriso
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
debs=$(bash "$REPO/tests/fixtures/debs.sh") || skip "no .debs fixture (tests/fixtures/debs.sh needs the Debian mirror)"
cp -r "$REPO/images" "$T/p"
mkdir "$T/out"

profile() { # NAME DEBS-DIR: a copy of the demo profile that installs htop, tmux and sshfs from DEBS-DIR
	sed -e '/^\[Packages\]/,/^\[/{/^Install=/d;/^Debs=/d}' "$T/p/demo.conf" >"$T/p/$1.conf"
	printf '\n[Packages]\nInstall=htop tmux sshfs\nDebs=%s\n' "$2" >>"$T/p/$1.conf"
}

# 1. the build carries exactly what the closure needs, as an apt repository
profile pk "$debs"
"$MLRIG" image -q -p "$T/p/pk.conf" --rootfs "$rootfs" -o "$T/out/pk.img" >"$T/log" 2>&1
check "image with [Packages] Debs= builds" test $? -eq 0
off=$(( $(sfdisk --json "$T/out/pk.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])') * 512 ))
dbg() { debugfs -R "$1" "$T/out/pk.img?offset=$off" 2>/dev/null; }
mkdir "$T/repo"
dbg "rdump /var/lib/mlrig/repo $T/repo" >/dev/null
check "the repository has a Packages index" test -s "$T/repo/repo/Packages"
python3 - "$T/repo/repo" "$debs" <<'PY' && pass "Packages: every Filename, Size and SHA256 matches its .deb; sorted; only what htop, tmux and sshfs need" || fail "Packages index"
import hashlib, os, subprocess, sys
repo, debs = sys.argv[1], sys.argv[2]
stanzas = [dict(l.split(": ", 1) for l in s.splitlines() if ": " in l and not l.startswith(" "))
           for s in open(os.path.join(repo, "Packages")).read().strip().split("\n\n")]
names = [s["Package"] for s in stanzas]
assert names == sorted(names), names
assert {"htop", "tmux", "sshfs"} <= set(names), names
for s in stanzas:
    path = os.path.join(repo, s["Filename"].removeprefix("./"))
    data = open(path, "rb").read()
    assert int(s["Size"]) == len(data), s["Package"]
    assert s["SHA256"] == hashlib.sha256(data).hexdigest(), s["Package"]
    # the control fields are the .deb's own, as dpkg-deb reads them
    assert s["Version"] == subprocess.check_output(["dpkg-deb", "-f", path, "Version"], text=True).strip()
# nothing the rootfs already has: the repository holds no more .debs than the Packages index names
assert len([f for f in os.listdir(repo) if f.endswith(".deb")]) == len(stanzas)
PY
check "rig.conf names the rig's repository" eval 'dbg "cat /etc/mlrig/rig.conf" | grep -qx "Debs=/var/lib/mlrig/repo"'

# 2. one dependency left out: the build fails naming the chain, nothing is written
mkdir "$T/short"
cp "$debs"/*.deb "$T/short/"
rm "$T/short"/libfuse3-3_*.deb
profile short "$T/short"
rm -rf "$T/out" && mkdir "$T/out"
"$MLRIG" image -q -p "$T/p/short.conf" --rootfs "$rootfs" -o "$T/out/short.img" >"$T/log" 2>&1
rc=$?
check "a missing dependency: exit 2" test $rc -eq 2
check "the message names the chain" grep -q "sshfs: Depends fuse3: Depends libfuse3-3 (= [^)]*): not in the rootfs nor in \[Packages\] Debs=" "$T/log"
check "the message names the profile" grep -q "short.conf: \[Packages\] Install= cannot be installed" "$T/log"
check "nothing written" test -z "$(ls -A "$T/out")"

# 3. a .deb for another architecture is refused by name
mkdir -p "$T/i386/pkg/DEBIAN" "$T/i386/debs"
printf 'Package: foreign\nVersion: 1.0\nArchitecture: i386\nMaintainer: t <t@t>\nDescription: x\n' >"$T/i386/pkg/DEBIAN/control"
dpkg-deb --build "$T/i386/pkg" "$T/i386/debs/foreign_1.0_i386.deb" >/dev/null
profile arch "$T/i386/debs"
"$MLRIG" image -q -p "$T/p/arch.conf" --rootfs "$rootfs" -o "$T/out/arch.img" >"$T/log" 2>&1
rc=$?
check "a foreign .deb: refused, naming it and its architecture" eval '[ $rc -eq 2 ] && grep -q "foreign_1.0_i386.deb" "$T/log" && grep -qi "i386" "$T/log"'
check "a foreign .deb: nothing written" test -z "$(ls -A "$T/out")"

# 4. the ISO: the repository rides in the payload; the installer is not asked for htop, tmux, sshfs
iso_fixture=$(bash "$REPO/tests/fixtures/iso.sh" focal-server) || skip "no ISO fixture"
"$MLRIG" iso -q -p "$T/p/pk.conf" --base "$iso_fixture" -o "$T/out/pk.iso" >"$T/iso.log" 2>&1
check "ISO with [Packages] Debs= builds" test $? -eq 0
xorriso -osirrox on -indev "$T/out/pk.iso" -extract /mlrig/root/var/lib/mlrig/repo "$T/iso-repo" \
	-extract /nocloud/user-data "$T/user-data" >/dev/null 2>&1
check "the ISO's payload carries the same Packages index" cmp -s "$T/iso-repo/Packages" "$T/repo/repo/Packages"
check "user-data does not ask the installer for them" eval '! grep -Eq "^ *- (htop|tmux|sshfs)$" "$T/user-data"'
finish
