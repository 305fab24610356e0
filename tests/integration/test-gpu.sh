#!/bin/bash
# The [GPU] payload at build time, on the fake NVIDIA payload (tests/fixtures/gpu-payload.sh):
# versions read from the files (checked here against dpkg-deb and the headers, not mlrig),
# Driver=auto, the CUDA local repo's archive and keyring, both cuDNN layouts, every hostile
# tarball refused by name, Sha256= pins, TensorFlow's table and the driver minimums.
. "$(dirname "$0")/../lib.sh"
need dpkg-deb python3 tar
F=$(bash "$REPO/tests/fixtures/gpu-payload.sh") || { fail "make the GPU payload fixture"; finish; }
CUDA=$F/cuda-repo-ubuntu2004-11-4-local_11.4.4-470.82.01-1_amd64.deb
OLD=$F/cudnn-11.4-linux-x64-v8.2.4.15.tgz
NEW=$F/cudnn-linux-x86_64-8.9.7.29_cuda11-archive.tar.xz
cp "$REPO/images/keys/demo_ed25519.pub" "$T/k.pub"
# conf NAME GPU-LINES [PYTHON-LINES]
conf() {
	printf '[Rig]\nHostname=g\nUser=u\nAuthorizedKeys=k.pub\n[Packages]\nDebs=%s\n[GPU]\n%s\n%s\n' "$F/debs" "$2" "${3:-}" >"$T/$1.conf"
}
mcheck() { "$MLRIG" check -p "$T/$1.conf" >"$T/$1.out" 2>&1; }

# what the files say, read with the standard tools
drv=$(dpkg-deb -f "$F/debs/nvidia-driver-470_470.199.02-0ubuntu0.20.04.1_amd64.deb" Version | sed 's/-[^-]*$//')
cuda=$(dpkg-deb --fsys-tarfile "$CUDA" | tar -xO --wildcards './var/cuda-repo-*/Packages' |
	awk '/^Package: cuda-toolkit-/ { p = 1 } p && /^Version:/ { sub(/-[^-]*$/, "", $2); print $2; exit }')
new=$(tar -xJOf "$NEW" --wildcards '*/include/cudnn_version.h' | awk '/define CUDNN_(MAJOR|MINOR|PATCHLEVEL)/ { v = v (v ? "." : "") $3 } END { print v }')
old=$(tar -xzOf "$OLD" cuda/include/cudnn_version.h | awk '/define CUDNN_(MAJOR|MINOR|PATCHLEVEL)/ { v = v (v ? "." : "") $3 } END { print v }')

conf auto "Driver=auto
CUDA=$CUDA
CUDNN=$NEW"
mcheck auto
check "Driver=auto takes the highest nvidia-driver-NNN ($drv), CUDA $cuda and cuDNN $new from the files" \
	grep -qx "gpu: driver nvidia-driver-470 $drv, CUDA $cuda, cuDNN $new (read from the payload)" "$T/auto.out"
conf old "Driver=nvidia-driver-470
CUDA=$CUDA
CUDNN=$OLD"
mcheck old
check "cuDNN <= 8.2 layout (cuda/lib64): version $old" grep -q "cuDNN $old (read" "$T/old.out"
conf ubuntu "Driver=nvidia-driver-470
CUDA=ubuntu
CUDNN=debs"
mcheck ubuntu
check "CUDA=ubuntu and CUDNN=debs: versions from nvidia-cuda-toolkit and libcudnn8" \
	grep -q "CUDA $(dpkg-deb -f "$F/debs/nvidia-cuda-toolkit_10.1.243-3_amd64.deb" Version | sed 's/-[^-]*$//'), cuDNN 8.2.4.15 (read" "$T/ubuntu.out"

for h in dotdot:"a '..' component" absolute:"an absolute path" symlink-escape:"outside the tarball's tree" \
	devnode:"a device node" setuid:"setuid or setgid" missing-lib:"no cuda/lib64/libcudnn_cnn_train.so.8"; do
	name=${h%%:*} why=${h#*:}
	conf "h-$name" "Driver=nvidia-driver-470
CUDA=$CUDA
CUDNN=$F/hostile/$name.tgz"
	mcheck "h-$name"
	check "hostile cuDNN tarball $name: refused ($why)" eval "grep -q \"$why\" \"$T/h-$name.out\" && ! grep -q '^gpu: ' \"$T/h-$name.out\""
done

# a local repo without a keyring; a .deb that is no local repo
mkdir -p "$T/nokey/DEBIAN" "$T/nokey/var/cuda-repo-x-local"
dpkg-deb --fsys-tarfile "$CUDA" | tar -xO --wildcards './var/cuda-repo-*/Packages' >"$T/nokey/var/cuda-repo-x-local/Packages"
printf 'Package: cuda-repo-x-local\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: x\n' >"$T/nokey/DEBIAN/control"
dpkg-deb -b "$T/nokey" "$T/nokey.deb" >/dev/null
conf nokey "Driver=nvidia-driver-470
CUDA=$T/nokey.deb"
mcheck nokey
check "CUDA local repo without a keyring: refused" grep -q "has no keyring" "$T/nokey.out"
conf notrepo "Driver=nvidia-driver-470
CUDA=$F/debs/nvidia-driver-390_390.157-0ubuntu0.20.04.1_amd64.deb"
mcheck notrepo
check "a .deb that is no local repo: refused" grep -q "not a CUDA local repo" "$T/notrepo.out"
conf v "Driver=nvidia-driver-470
CUDA=11.4"
"$MLRIG" check -p "$T/v.conf" >"$T/v.out" 2>&1; rc=$?
check "CUDA=11.4: exit 2, says what to write" eval "[ $rc -eq 2 ] && grep -q 'CUDA=cuda-repo-ubuntu2004-11-4-local_' '$T/v.out'"
conf nodrv "Driver=nvidia-driver-535"
mcheck nodrv
check "Driver= not in Debs=: named" grep -q "nvidia-driver-535 is not in \[Packages\] Debs=" "$T/nodrv.out"

# Sha256= pins, hashed here with sha256sum
pin() { echo "$(basename "$1"):$(sha256sum "$1" | cut -d' ' -f1)"; }
conf pins "Driver=nvidia-driver-470
CUDA=$CUDA
CUDNN=$OLD
Sha256=$(pin "$CUDA") $(pin "$OLD")
Sha256=$(pin "$F/debs/nvidia-driver-470_470.199.02-0ubuntu0.20.04.1_amd64.deb")"
mcheck pins
check "right pins: accepted" grep -q "^gpu: " "$T/pins.out"
conf badpin "Driver=nvidia-driver-470
CUDA=$CUDA
CUDNN=$OLD
Sha256=$(pin "$CUDA") $(basename "$OLD"):$(printf '0%.0s' {1..64})"
mcheck badpin
check "a wrong pin: refused with both hashes" grep -q "has SHA-256 $(sha256sum "$OLD" | cut -d' ' -f1), not the pinned 0000" "$T/badpin.out"
conf nopin "Driver=nvidia-driver-470
CUDA=$CUDA
CUDNN=$OLD
Sha256=$(pin "$CUDA")"
mcheck nopin
check "pins without the tarball's: refused" grep -q "Sha256= has no pin for $(basename "$OLD")" "$T/nopin.out"
conf strayp "Driver=nvidia-driver-470
Sha256=other.deb:$(printf 'a%.0s' {1..64})"
mcheck strayp
check "a pin for no payload file: refused" grep -q "no payload file is called other.deb" "$T/strayp.out"

# TensorFlow's tested table, the Python it needs, the driver CUDA needs
conf tf "Driver=nvidia-driver-470
CUDA=$CUDA
CUDNN=$OLD" "[Python]
Venv=~/v
Requirements=tensorflow==2.14.0"
mcheck tf
check "TF 2.14 with CUDA 11.4/cuDNN 8.2: warned, with the tested versions" grep -q "TensorFlow 2.14 is tested with CUDA 11.8 and cuDNN 8.7" "$T/tf.out"
check "TF 2.14 on Ubuntu 20.04's Python 3.8: warned" grep -q "TensorFlow 2.14 needs Python 3.9 or newer" "$T/tf.out"
if rootfs=$(bash "$REPO/tests/fixtures/rootfs.sh" 2>/dev/null); then
	py=$(tar -xOf "$rootfs" ./var/lib/dpkg/status | awk '/^Package: python3$/ { p = 1 } p && /^Version:/ { print $2; exit }' | cut -d. -f1,2)
	"$MLRIG" check -p "$T/tf.conf" --rootfs "$rootfs" >"$T/tf-rootfs.out" 2>&1
	if [ "$py" = 3.8 ]; then want="needs Python 3.9 or newer; the rootfs has 3.8$"; else want=; fi
	check "--rootfs: the rootfs's own Python ($py) decides the Python warning" eval \
		"if [ -n '$want' ]; then grep -q '$want' '$T/tf-rootfs.out'; else ! grep -q 'needs Python' '$T/tf-rootfs.out'; fi"
fi
sed -i 's/2.14.0/2.4.1/' "$T/tf.conf"
mcheck tf
check "TF 2.4 with CUDA 11.4: warned (tested with 11.0 / 8.0)" grep -q "TensorFlow 2.4 is tested with CUDA 11.0 and cuDNN 8.0" "$T/tf.out"
check "TF 2.4: no Python warning" eval '! grep -q "needs Python" "$T/tf.out"'
conf d390 "Driver=nvidia-driver-390
CUDA=$CUDA"
mcheck d390
check "driver 390 with CUDA 11.4: warned (needs 450.80.02)" grep -q "CUDA 11.4.4 needs 450.80.02 or newer" "$T/d390.out"
check "driver 470 with CUDA 11.4: no driver warning" eval '! grep -q "needs 450" "$T/auto.out"'

# mlrig image: the payload goes into the image; a refused one leaves no output file
if [ "$(id -u)" -eq 0 ] && rootfs=$(bash "$REPO/tests/fixtures/rootfs.sh" 2>/dev/null) && command -v debugfs >/dev/null; then
	"$MLRIG" image -q -p "$T/h-devnode.conf" --rootfs "$rootfs" -o "$T/bad.img" >"$T/bad.out" 2>&1; rc=$?
	check "image with a hostile cuDNN tarball: exit 2, named, no output file" \
		eval "[ $rc -eq 2 ] && grep -q 'a device node' '$T/bad.out' && [ ! -e '$T/bad.img' ]"
	"$MLRIG" image -q -p "$T/pins.conf" --rootfs "$rootfs" -o "$T/rig.img" >"$T/img.out" 2>&1; rc=$?
	check "image with a cuDNN tarball and no libarchive13 for the agent: exit 2, named, no output" \
		eval "[ $rc -eq 2 ] && grep -q libarchive13 '$T/img.out' && [ ! -e '$T/rig.img' ]"
	la=$(bash "$REPO/tests/fixtures/debs.sh" libarchive13 2>/dev/null) || la=
	mkdir -p "$T/debs" && cp "$F"/debs/*.deb ${la:+"$la"/*.deb} "$T/debs/"
	sed -i "s#^Debs=.*#Debs=$T/debs#" "$T/pins.conf"
	"$MLRIG" image -q -p "$T/pins.conf" --rootfs "$rootfs" -o "$T/rig.img" >"$T/img.out" 2>&1; rc=$?
	check "image with the payload (and libarchive13's debs): built" test $rc -eq 0
	off=$(( $(sfdisk --json "$T/rig.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])') * 512 ))
	debugfs -R "cat /etc/mlrig/rig.conf" "$T/rig.img?offset=$off" >"$T/rig.conf" 2>/dev/null
	for f in "$CUDA" "$OLD"; do
		debugfs -R "dump /usr/share/mlrig/payload/$(basename "$f") $T/got" "$T/rig.img?offset=$off" 2>/dev/null
		check "image carries $(basename "$f") byte for byte" cmp -s "$f" "$T/got"
		check "rig.conf names it where it is" grep -qx "C[A-Z]*=/usr/share/mlrig/payload/$(basename "$f")" "$T/rig.conf"
	done
	debugfs -R "cat /var/lib/mlrig/repo/Packages" "$T/rig.img?offset=$off" >"$T/Packages" 2>/dev/null
	check "the rig's repo has the driver, the library it depends on, libarchive13" eval \
		'grep -qx "Package: nvidia-driver-470" "$T/Packages" && grep -qx "Package: libnvidia-compute-470" "$T/Packages" && grep -qx "Package: libarchive13" "$T/Packages"'
	rm -f "$T/rig.img"
else
	echo "(not root, or no rootfs fixture: the image cases are not tried)"
fi

# mlrig iso: the same payload onto the medium, for the installed system's first boot
if command -v xorriso >/dev/null && base=$(bash "$REPO/tests/fixtures/iso.sh" focal-server 2>/dev/null); then
	"$MLRIG" iso -q -p "$T/old.conf" --base "$base" -o "$T/gpu.iso" >"$T/iso.out" 2>&1; rc=$?
	check "iso with the payload: built" test $rc -eq 0
	xorriso -indev "$T/gpu.iso" -find /mlrig/root/usr/share/mlrig/payload -type f 2>/dev/null | tr -d "'" | sort >"$T/iso.files"
	check "the medium carries the CUDA .deb and the cuDNN tarball" test "$(cat "$T/iso.files")" = \
		"$(printf '/mlrig/root/usr/share/mlrig/payload/%s\n' "$(basename "$CUDA")" "$(basename "$OLD")" | sort)"
	rm -f "$T/gpu.iso"
else
	echo "(no xorriso or no ISO fixture: the iso case is not tried)"
fi
finish
