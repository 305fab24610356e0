#!/bin/bash
# The agent's gpu stage on a tree (--root, no VM), with the fake NVIDIA payload: NVIDIA's
# local repo registered (its keyring as signed-by, the pin), nouveau blacklisted, cuDNN
# unpacked into the CUDA prefix and nothing anywhere else (a before/after listing of the
# tree), the unpacked files byte for byte what tar itself extracts, ld.so.conf.d and
# profile.d; each hostile tarball refused with nothing written; Secure Boot's two paths;
# and the summary's report.json carrying gpu-check's result against the mocks.
. "$(dirname "$0")/../lib.sh"
need_root "the agent writes root-owned files into the tree"
need dpkg-deb tar python3 gpg
F=$(bash "$REPO/tests/fixtures/gpu-payload.sh") || { fail "make the GPU payload fixture"; finish; }
AGENT=$BUILD/mlrig-firstboot
CUDA=cuda-repo-ubuntu2004-11-4-local_11.4.4-470.82.01-1_amd64.deb
OLD=cudnn-11.4-linux-x64-v8.2.4.15.tgz
NEW=cudnn-linux-x86_64-8.9.7.29_cuda11-archive.tar.xz
REPO_DIR=var/cuda-repo-ubuntu2004-11-4-local

# tree CUDNN: a rig's tree as mlrig image lays it down, the local repo as dpkg -i leaves it
tree() {
	R=$T/root-$1
	rm -rf "$R"
	mkdir -p "$R/etc/mlrig" "$R/usr/share/mlrig/payload" "$R/var/lib/mlrig/repo"
	cp "$REPO/images/keys/demo_ed25519.pub" "$R/etc/mlrig/authorized_keys"
	cp "$F/$CUDA" "$F/$OLD" "$F/$NEW" "$F"/hostile/*.tgz "$R/usr/share/mlrig/payload/"
	(cd "$F/debs" && dpkg-scanpackages -m . /dev/null 2>/dev/null) >"$R/var/lib/mlrig/repo/Packages"
	cat >"$R/etc/mlrig/rig.conf" <<CONF
[Rig]
Hostname=gpu-tree
User=rig
AuthorizedKeys=/etc/mlrig/authorized_keys
[Packages]
Debs=/var/lib/mlrig/repo
[GPU]
Driver=auto
CUDA=/usr/share/mlrig/payload/$CUDA
CUDNN=/usr/share/mlrig/payload/$1
CONF
	dpkg-deb -x "$F/$CUDA" "$R"
	find "$R" | sort >"$T/before-$1"
}

tree "$OLD"
"$AGENT" --root "$R" stage gpu >"$T/stage.out" 2>&1; rc=$?
check "stage gpu: exit 0" test $rc -eq 0
"$AGENT" --root "$R" status >"$T/status"
check "status names the driver Driver=auto chose and the toolkit" grep -Eq "^gpu +done .*nvidia-driver-470, cuda-toolkit-11-4" "$T/status"
check "nouveau blacklisted" grep -qx "blacklist nouveau" "$R/etc/modprobe.d/mlrig-blacklist-nouveau.conf"
key=usr/share/keyrings/mlrig-cuda-F00DF00D-keyring.gpg
check "the local repo's keyring installed as it is" cmp -s "$R/$REPO_DIR/cuda-F00DF00D-keyring.gpg" "$R/$key"
check "the keyring is the repo's signing key (gpg)" eval "gpg --show-keys '$R/$key' 2>/dev/null | grep -q 'mlrig fake CUDA repo'"
check "source: signed-by the keyring, file: the repo" grep -qx "deb \[signed-by=/$key\] file:///$REPO_DIR /" \
	"$R/etc/apt/sources.list.d/mlrig-cuda.list"
check "pin file: NVIDIA's packages first" grep -qx "Pin-Priority: 600" "$R/etc/apt/preferences.d/mlrig-cuda-repository-pin-600"
check "ld.so.conf.d names the prefix's lib64" grep -qx /usr/local/cuda-11.4/lib64 "$R/etc/ld.so.conf.d/mlrig-cuda.conf"
check "profile.d puts nvcc's directory on PATH (sh runs it)" \
	test "$(env -i PATH=/usr/bin:/bin sh -c ". '$R/etc/profile.d/mlrig-cuda.sh'; echo \$PATH")" = /usr/local/cuda-11.4/bin:/usr/bin:/bin
# what tar extracts, against what the agent wrote
mkdir -p "$T/x" && tar -xzf "$F/$OLD" -C "$T/x"
P=$R/usr/local/cuda-11.4
check "cudnn.h and cudnn_version.h as tar extracts them" eval \
	"cmp -s '$T/x/cuda/include/cudnn.h' '$P/include/cudnn.h' && cmp -s '$T/x/cuda/include/cudnn_version.h' '$P/include/cudnn_version.h'"
check "libcudnn.so.8 a symlink as in the tarball" test "$(readlink "$P/lib64/libcudnn.so.8")" = "$(readlink "$T/x/cuda/lib64/libcudnn.so.8")"
check "libcudnn.so.8.2.4 byte for byte, executable" eval "cmp -s '$T/x/cuda/lib64/libcudnn.so.8.2.4' '$P/lib64/libcudnn.so.8.2.4' && [ -x '$P/lib64/libcudnn.so.8.2.4' ]"
check "every library of the tarball is there" eval \
	"[ \"\$(cd '$T/x/cuda/lib64' && ls | sort)\" = \"\$(cd '$P/lib64' && ls | sort)\" ]"
find "$R" | sort >"$T/after"
outside=$(comm -13 "$T/before-$OLD" "$T/after" | grep -v -e "^$R/usr/local/cuda-11.4" -e "^$R/var/lib/mlrig/" \
	-e "^$R/etc/modprobe.d" -e "^$R/etc/apt" -e "^$R/usr/share/keyrings" -e "^$R/etc/ld.so.conf.d" -e "^$R/etc/profile.d" \
	-e "^$R/usr/local$")
check "nothing written anywhere else${outside:+: $outside}" test -z "$outside"
"$AGENT" --root "$R" stage gpu >/dev/null 2>&1
check "stage gpu again: idempotent (same tree)" eval "[ \"\$(find '$R' | sort)\" = \"\$(cat '$T/after')\" ]"

tree "$NEW"
rm "$R/$REPO_DIR/Packages" # a local repo with Packages.gz alone
"$AGENT" --root "$R" stage gpu >"$T/new.out" 2>&1
check "cuDNN >= 8.3 layout: lib/ goes to lib64/" test -x "$R/usr/local/cuda-11.4/lib64/libcudnn.so.8.9.7"
"$AGENT" --root "$R" status >"$T/gz.status"
check "a local repo with only Packages.gz: read all the same" grep -Eq "^gpu +done .*cuda-toolkit-11-4" "$T/gz.status"

for h in dotdot:"a '..' component" absolute:"an absolute path" symlink-escape:"outside the tarball's tree" \
	devnode:"a device node" setuid:"setuid or setgid"; do
	name=${h%%:*} why=${h#*:}
	tree "$name.tgz"
	"$AGENT" --root "$R" stage gpu >"$T/h.out" 2>&1; rc=$?
	check "hostile $name: stage fails, says why" eval "[ $rc -ne 0 ] && grep -q \"$why\" '$T/h.out'"
	check "hostile $name: nothing unpacked" eval "[ ! -e '$R/usr/local/cuda-11.4/include' ] && [ ! -e /tmp/mlrig-evil ] && [ ! -e /tmp/mlrig-evil-absolute ]"
done

# nouveau loaded: one reboot asked for, never a second
tree "$OLD"
mkdir -p "$R/sys/module/nouveau"
"$AGENT" --root "$R" stage gpu >"$T/nv1.out" 2>&1
check "nouveau loaded: the stage asks for a reboot, once" eval "grep -q 'stage gpu needs a reboot' '$T/nv1.out' && [ -e '$R/var/lib/mlrig/gpu-rebooted' ]"
"$AGENT" --root "$R" stage gpu >"$T/nv2.out" 2>&1
check "nouveau still loaded after that reboot: no second one" eval "! grep -q 'needs a reboot' '$T/nv2.out' && grep -q 'stage gpu ok' '$T/nv2.out'"
tree "$OLD"
mkdir -p "$R/sys/module/nouveau"
echo "BlacklistNouveau=no" >>"$R/etc/mlrig/rig.conf"
"$AGENT" --root "$R" stage gpu >"$T/nv3.out" 2>&1
check "BlacklistNouveau=no: no blacklist, no reboot" eval "! grep -q 'needs a reboot' '$T/nv3.out' && [ ! -e '$R/etc/modprobe.d/mlrig-blacklist-nouveau.conf' ]"

# Secure Boot on: without signed modules the MOK steps; with them in the repo, those
tree "$OLD"
mkdir -p "$R/sys/firmware/efi/efivars"
printf '\x06\x00\x00\x00\x01' >"$R/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
"$AGENT" --root "$R" stage gpu >"$T/sb.out" 2>&1
check "Secure Boot, DKMS driver: the MOK steps on the console" grep -q "mokutil --import" "$T/sb.out"
"$AGENT" --root "$R" status >"$T/sb.status"
check "Secure Boot, DKMS driver: the MOK steps in status" grep -q "Enroll MOK" "$T/sb.status"
printf 'Package: linux-modules-nvidia-470-generic\nVersion: 5.4.0-150.167\nArchitecture: amd64\n\n' >>"$R/var/lib/mlrig/repo/Packages"
"$AGENT" --root "$R" stage gpu >"$T/sb2.out" 2>&1
"$AGENT" --root "$R" status >"$T/sb2.status"
check "Secure Boot with Ubuntu's signed modules in the repo: those, no MOK steps" eval \
	"grep -q 'Secure Boot on: linux-modules-nvidia-470-generic' '$T/sb2.status' && ! grep -q mokutil '$T/sb2.out'"

# the summary carries gpu-check's verdict (against the mocks: the rig asks for what they provide)
LD_LIBRARY_PATH=$F/mocks "$AGENT" --root "$R" stage summary >/dev/null 2>&1
check "report.json: gpu-check's result, the mock GPU, SAXPY max error 0" python3 -c "
import json; g=json.load(open('$R/var/lib/mlrig/report.json'))['gpu']
assert g['ok'] and g['nvml']['gpus'][0]['name'] == 'Mock GeForce RTX 3090' and g['cuda']['saxpy']['max_error'] == 0, g"
finish
