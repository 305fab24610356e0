#!/bin/bash
# The gpu stage on a real boot with the fake NVIDIA payload (tests/fixtures/gpu-payload.sh):
# NVIDIA's local repo registered and apt installing from it (signed-by its own key) and from
# the rig's repository, offline; cuDNN unpacked into /usr/local/cuda-11.4 and ldconfig -p
# listing it, nothing of it anywhere else; nvcc on a login shell's PATH; gpu-check --json
# reporting the mock GPU (the fake driver's libraries are the mocks). BlacklistNouveau=no: the
# initramfs rebuild it brings takes minutes under TCG (test-gpu-stage.sh checks the blacklist).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-firstboot.sh"
need qemu-system-x86_64 ssh sfdisk dpkg-deb gpg
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
F=$(bash "$REPO/tests/fixtures/gpu-payload.sh") || skip "no GPU payload fixture"
la=$(bash "$REPO/tests/fixtures/debs.sh" libarchive13) || skip "no libarchive13 .debs (tests/fixtures/debs.sh needs the Debian mirror)"
key=$(demo_key)
mkdir -p "$T/debs"
cp "$F"/debs/*.deb "$la"/*.deb "$T/debs/"
cp -r "$REPO/images" "$T/p"
cat "$T/p/demo.conf" - >"$T/p/gpu.conf" <<CONF

[Packages]
Debs=$T/debs
[GPU]
Driver=auto
CUDA=$F/cuda-repo-ubuntu2004-11-4-local_11.4.4-470.82.01-1_amd64.deb
CUDNN=$F/cudnn-11.4-linux-x64-v8.2.4.15.tgz
BlacklistNouveau=no
CONF
"$MLRIG" image -q -p "$T/p/gpu.conf" --rootfs "$rootfs" -o "$T/gpu.img" 2>"$T/build.log" || { fail "build"; cat "$T/build.log"; finish; }
pass "image with the fake NVIDIA payload"

probe='for p in nvidia-driver-470 libnvidia-compute-470 cuda-toolkit-11-4 cuda-repo-ubuntu2004-11-4-local libarchive13; do
echo "PKG $p $(dpkg-query -W -f="\${Status}" $p)"; done
/sbin/ldconfig -p | grep libcudnn | sed "s/^/LDC /"
echo "OUT $(sudo find /usr /opt /etc /var /root /home /tmp -xdev -name "libcudnn*" -not -path "/usr/local/cuda-11.4/lib64/*" | tr "\n" " ")"
echo "NVCC $(bash -lc "command -v nvcc")"
echo "NOUVEAU $(ls /etc/modprobe.d/mlrig-blacklist-nouveau.conf 2>/dev/null | wc -l)"
echo "SRC $(grep -h "^deb" /var/lib/mlrig/apt/sources.list | tr "\n" "|")"
/usr/lib/mlrig/mlrig-firstboot gpu-check --json >/tmp/gc.json; echo "GCRC $?"; echo "GC $(tr -d "\n" </tmp/gc.json)"
sudo /usr/lib/mlrig/mlrig-firstboot status | sed "s/^/STATUS /"'
start=$SECONDS
"$MLRIG" boot "$T/gpu.img" --writable --expect "mlrig-firstboot: complete" --ssh "$key" --user demo \
	--ssh-command "$probe" --timeout 480 --log "$T/boot.log" >"$T/out" 2>"$T/boot.err"
rc=$?
echo "(VM: $((SECONDS - start)) s)"
if [ $rc -ne 0 ]; then fail "boot completes"; cat "$T/boot.err"; tail -40 "$T/boot.log"; finish; fi
pass "boot completes"
for p in nvidia-driver-470 libnvidia-compute-470 cuda-toolkit-11-4 cuda-repo-ubuntu2004-11-4-local libarchive13; do
	check "$p: install ok installed" grep -qx "PKG $p install ok installed" "$T/out"
done
check "ldconfig -p lists libcudnn.so.8 in the prefix" grep -q "^LDC.*libcudnn.so.8 .*=> /usr/local/cuda-11.4/lib64/libcudnn.so.8" "$T/out"
check "no libcudnn anywhere outside the prefix" grep -qx "OUT " "$T/out"
check "nvcc on a login shell's PATH" grep -qx "NVCC /usr/local/cuda-11.4/bin/nvcc" "$T/out"
check "BlacklistNouveau=no: nouveau left alone" grep -qx "NOUVEAU 0" "$T/out"
check "apt's sources: the rig's repo and the CUDA repo signed-by its keyring, nothing else" grep -qx \
	"SRC deb \[trusted=yes\] file:/var/lib/mlrig/repo ./|deb \[signed-by=/usr/share/keyrings/mlrig-cuda-F00DF00D-keyring.gpg\] file:///var/cuda-repo-ubuntu2004-11-4-local /|" "$T/out"
check "status: gpu done" grep -Eq "^STATUS gpu +done" "$T/out"
sed -n 's/^GC //p' "$T/out" >"$T/gc.json"
check "gpu-check --json: exit 0, the mock GPU, Max error 0, cuDNN 8.9.7 (the mock's)" eval "grep -qx 'GCRC 0' '$T/out' && python3 -c \"
import json; j=json.load(open('$T/gc.json')); assert j['ok'] and j['nvml']['gpus'][0]['name'] == 'Mock GeForce RTX 3090', j
assert j['cuda']['saxpy']['max_error'] == 0 and j['cudnn']['version'] == '8.9.7', j\""
finish
