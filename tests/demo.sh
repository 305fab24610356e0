#!/bin/bash
# make demo: build images/demo.conf from the fixture rootfs, boot it under QEMU,
# log in over ssh with the demo key, and say what happened and how long it took.
set -euo pipefail
build=${1:-build}
out=${MLRIG_DEMO_DIR:-$build/demo}
mkdir -p "$out"
steps=()

step() {
	local name=$1 start=$SECONDS
	shift
	echo "==> $name"
	"$@"
	steps+=("$(printf '%-46s %4d s' "$name" $((SECONDS - start)))")
}

rootfs=
get_rootfs() { rootfs=$(bash tests/fixtures/rootfs.sh); echo "    $rootfs"; }
key=$out/demo_key
install -m 600 images/keys/demo_ed25519 "$key"

step "fixture: Debian bullseye rootfs tarball" get_rootfs
step "mlrig check -p images/demo.conf" "$build/mlrig" check -p images/demo.conf
step "mlrig image -o $out/demo.img" "$build/mlrig" image -p images/demo.conf --rootfs "$rootfs" -o "$out/demo.img"
step "mlrig inspect $out/demo.img" "$build/mlrig" inspect "$out/demo.img"
step "mlrig boot: wait for the rig, ssh in as demo" \
	"$build/mlrig" boot "$out/demo.img" --expect "mlrig-ready: mlrig-demo" --ssh "$key" --user demo \
	--ssh-command "echo; echo \"logged in to \$(hostname) as \$(id -un), kernel \$(uname -r)\"; systemctl is-active ssh systemd-networkd" \
	--timeout 300 --log "$out/serial.log"

echo
echo "Demo done. What happened:"
printf '  %s\n' "${steps[@]}"
echo "Image: $out/demo.img (manifest $out/demo.img.json); serial log: $out/serial.log"
echo "Boot it yourself: $build/mlrig boot $out/demo.img --ssh $key --user demo --forward 2222:22"
