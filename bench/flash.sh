#!/bin/bash
# bench/flash.sh: a 1 GiB sparse image with ~40% data (or IMAGE=) to two loop devices: one over a sparse file,
# which zeroes by fallocate for free, and one over a file on ramfs, which cannot zero by itself (its
# write_zeroes_max_bytes is 0, as for a USB stick). `mlrig flash` (reading back what it wrote) vs `bmaptool copy`
# (with its bmap, checking its checksums as it reads the image; it reads nothing back), and `dd bs=4M conv=fsync`
# on the file-backed device. ROUNDS rounds (default 5), the order rotated; each command gets a fresh device, an
# empty page cache with the image read in, and warm memory (bench/lib.sh). Prints every wall time with the bytes
# the device counted written and read (/sys/block/DEV/stat), the medians and their ratios.
#   Targets: file-backed: holes still zeroed, mlrig <= 1.0x bmaptool and <= 0.5x dd.
#            ramfs: mlrig writes <= the image's data + 2 MiB, reads back <= data + 2 MiB, wall <= 1.0x bmaptool.
#   bash bench/flash.sh [BUILD_DIR]     LOOP_DIO=1 for direct I/O on the file-backed loop device;
#                                       IMAGE=FILE to flash that image instead (e.g. one from mlrig image)
set -euo pipefail
build=${1:-build}
rounds=${ROUNDS:-5}
here=$(dirname "$0")
. "$here/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "bench/flash.sh: needs root (loop devices, ramfs)"; exit 1; }
for c in bmaptool losetup bc cmp; do command -v $c >/dev/null || { echo "bench/flash.sh: $c missing (make deps)"; exit 1; }; done
mlrig=$(realpath "$build/mlrig")
work=$(mktemp -d /var/tmp/mlrig-bench-flash.XXXXXX)
dev='' ramfs=''
detach() { [ -z "$dev" ] || losetup -d "$dev"; dev=; }
trap 'detach; [ -z "$ramfs" ] || umount "$ramfs"; rm -rf "$work"' EXIT

if [ -n "${IMAGE:-}" ]; then
	img=$(realpath "$IMAGE")
else # 1 GiB, 40% data in 8 MiB runs spread over the span (like file systems in a disk image)
	img=$work/rig.img
	truncate -s 1G "$img"
	for i in $(seq 0 127); do
		[ $((i % 5)) -lt 2 ] || continue
		head -c 8M /dev/urandom | dd of="$img" bs=8M seek="$i" conv=notrunc status=none
	done
fi
bmaptool -q create -o "$work/rig.bmap" "$img"
size=$(stat -c %s "$img")
data=$(awk -F'[<> ]+' '/<BlockSize>/ { bs = $3 } /<MappedBlocksCount>/ { n = $3 } END { print n * bs }' "$work/rig.bmap")
mkdir "$work/ramfs" && mount -t ramfs ramfs "$work/ramfs" && ramfs=$work/ramfs
mib() { echo "scale=1; $1 / 1048576" | bc -l; }
echo "image: $(mib "$size") MiB, $(mib "$data") MiB of data (bmaptool's map); loop direct I/O on the file: ${LOOP_DIO:-0}"

fresh_device() { # KIND: a new loop device over a new sparse file 64 MiB larger than the image, so every tool starts alike
	local back=$work/dev.back
	detach
	rm -f "$work/dev.back" "$ramfs/dev.back"
	sync
	sleep 2 # the file system frees (and discards) the last device's blocks before the next timing
	if [ "$1" = ramfs ]; then
		back=$ramfs/dev.back
		truncate -s $((size + 64 * 1024 * 1024)) "$back"
		dev=$(losetup -f --show "$back")
	else
		truncate -s $((size + 64 * 1024 * 1024)) "$back"
		dev=$(losetup -f --show --direct-io="$([ "${LOOP_DIO:-0}" = 1 ] && echo on || echo off)" "$back")
	fi
}
run() { # TOOL: "SECONDS READ WRITTEN" (bytes, the device's counters) on stdout, after fresh_device
	local t r0 w0 r1 w1
	settle
	cat "$img" >/dev/null # the image in the page cache for all tools alike
	read -r r0 w0 < <(disk_io "$dev")
	case $1 in
	mlrig) t=$(seconds "$mlrig" flash -q --yes --force "$img" "$dev") ;;
	bmaptool) t=$(seconds bmaptool -q copy --bmap "$work/rig.bmap" "$img" "$dev") ;;
	dd) t=$(seconds dd if="$img" of="$dev" bs=4M conv=fsync status=none) ;;
	esac
	read -r r1 w1 < <(disk_io "$dev")
	echo "$t $((r1 - r0)) $((w1 - w0))"
}

declare -A times readb written
for round in $(seq "$rounds"); do
	for kind in file ramfs; do
		if [ $kind = file ]; then tools=(mlrig bmaptool dd); else tools=(mlrig bmaptool); fi
		line=$(printf '%-5s round %d:' $kind "$round")
		for k in $(seq 0 $((${#tools[@]} - 1))); do
			tool=${tools[$(((round + k) % ${#tools[@]}))]}
			fresh_device $kind
			read -r t r w < <(run "$tool") || { echo "bench/flash.sh: $tool failed on the $kind device"; exit 1; }
			cmp -n "$size" "$img" "$dev" || { echo "bench/flash.sh: after $tool the $kind device differs from the image"; exit 1; }
			times[$kind.$tool]+="$t " readb[$kind.$tool]+="$r " written[$kind.$tool]+="$w "
			line+=$(printf '  %s %.2f s (w %s r %s MiB)' "$tool" "$t" "$(mib "$w")" "$(mib "$r")")
		done
		echo "$line"
	done
done
detach

med() { echo "$1" | tr ' ' '\n' | grep . | median; }
for key in "${!times[@]}"; do
	declare "t_${key//./_}=$(med "${times[$key]}")" "r_${key//./_}=$(med "${readb[$key]}")" "w_${key//./_}=$(med "${written[$key]}")"
done
# shellcheck disable=SC2154 # the t_, r_, w_ variables are declared just above
{
	printf 'file  median of %d: mlrig flash %.2f s (w %s r %s MiB)   bmaptool copy %.2f s (w %s r %s MiB)   dd %.2f s\n' "$rounds" \
		"$t_file_mlrig" "$(mib "$w_file_mlrig")" "$(mib "$r_file_mlrig")" "$t_file_bmaptool" "$(mib "$w_file_bmaptool")" \
		"$(mib "$r_file_bmaptool")" "$t_file_dd"
	printf '      mlrig/bmaptool %.2f (<= 1.00)   mlrig/dd %.2f (<= 0.50)   holes zeroed: mlrig w/span %.2f (WRITE ZEROES counts as written)\n' \
		"$(echo "$t_file_mlrig / $t_file_bmaptool" | bc -l)" "$(echo "$t_file_mlrig / $t_file_dd" | bc -l)" \
		"$(echo "$w_file_mlrig / $size" | bc -l)"
	printf 'ramfs median of %d: mlrig flash %.2f s (w %s r %s MiB)   bmaptool copy %.2f s (w %s r %s MiB)\n' "$rounds" \
		"$t_ramfs_mlrig" "$(mib "$w_ramfs_mlrig")" "$(mib "$r_ramfs_mlrig")" "$t_ramfs_bmaptool" \
		"$(mib "$w_ramfs_bmaptool")" "$(mib "$r_ramfs_bmaptool")"
	printf '      mlrig written/(data + 2 MiB) %.3f (<= 1.000)   read/(data + 2 MiB) %.3f (<= 1.000)   mlrig/bmaptool %.2f (<= 1.00)\n' \
		"$(echo "$w_ramfs_mlrig / ($data + 2097152)" | bc -l)" "$(echo "$r_ramfs_mlrig / ($data + 2097152)" | bc -l)" \
		"$(echo "$t_ramfs_mlrig / $t_ramfs_bmaptool" | bc -l)"
}
