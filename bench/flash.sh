#!/bin/bash
# bench/flash.sh: a 1 GiB sparse image with ~40% data to a loop device: `mlrig flash` (verifying by reading
# the whole span back) vs `bmaptool copy` (with its bmap, verifying its checksums) vs `dd bs=4M conv=fsync`.
# ROUNDS rounds (default 5), the order rotated; each command gets a fresh loop device over a new sparse file,
# an empty page cache with the image read in, and warm memory (bench/lib.sh). Prints every time, the medians
# and their ratios.   Target: mlrig <= 1.0x bmaptool and <= 0.5x dd.
#   bash bench/flash.sh [BUILD_DIR]     LOOP_DIO=1 for loop devices with direct I/O on their file
set -euo pipefail
build=${1:-build}
rounds=${ROUNDS:-5}
here=$(dirname "$0")
. "$here/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "bench/flash.sh: needs root (loop devices)"; exit 1; }
for c in bmaptool losetup bc cmp; do command -v $c >/dev/null || { echo "bench/flash.sh: $c missing (make deps)"; exit 1; }; done
mlrig=$(realpath "$build/mlrig")
work=$(mktemp -d /var/tmp/mlrig-bench-flash.XXXXXX)
dev=
detach() { [ -z "$dev" ] || losetup -d "$dev"; dev=; }
trap 'detach; rm -rf "$work"' EXIT

# 1 GiB, 40% data in 8 MiB runs spread over the span (like file systems in a disk image)
img=$work/rig.img
truncate -s 1G "$img"
for i in $(seq 0 127); do
	[ $((i % 5)) -lt 2 ] || continue
	head -c 8M /dev/urandom | dd of="$img" bs=8M seek=$i conv=notrunc status=none
done
bmaptool -q create -o "$work/rig.bmap" "$img"
echo "image: $(du -BM --apparent-size "$img" | cut -f1) apparent, $(du -BM "$img" | cut -f1) data; loop direct I/O: ${LOOP_DIO:-0}"

fresh_device() { # a new loop device over a new sparse 1100 MiB file: every tool starts from the same state
	detach
	rm -f "$work/dev.back"
	sync
	sleep 2 # the file system frees (and discards) the last device's blocks before the next timing
	truncate -s 1100M "$work/dev.back"
	dev=$(losetup -f --show --direct-io="$([ "${LOOP_DIO:-0}" = 1 ] && echo on || echo off)" "$work/dev.back")
}
run() { # tool: seconds on stdout (after fresh_device)
	settle
	cat "$img" >/dev/null # the image in the page cache for all three alike
	case $1 in
	mlrig) seconds "$mlrig" flash -q --yes --force "$img" "$dev" ;;
	bmaptool) seconds bmaptool -q copy --bmap "$work/rig.bmap" "$img" "$dev" ;;
	dd) seconds dd if="$img" of="$dev" bs=4M conv=fsync status=none ;;
	esac
}

tools=(mlrig bmaptool dd)
declare -A times
for round in $(seq "$rounds"); do
	line="round $round:"
	for k in 0 1 2; do
		tool=${tools[$(((round + k) % 3))]}
		fresh_device
		t=$(run "$tool") || { echo "bench/flash.sh: $tool failed"; exit 1; }
		cmp -n 1G "$img" "$dev" || { echo "bench/flash.sh: after $tool the device differs from the image"; exit 1; }
		times[$tool]+="$t "
		line+=$(printf '  %s %.2f s' "$tool" "$t")
	done
	echo "$line"
done
m=$(echo ${times[mlrig]} | tr ' ' '\n' | median)
b=$(echo ${times[bmaptool]} | tr ' ' '\n' | median)
d=$(echo ${times[dd]} | tr ' ' '\n' | median)
printf 'median of %d: mlrig flash %.2f s   bmaptool copy %.2f s   dd %.2f s   mlrig/bmaptool %.2f (<= 1.00)   mlrig/dd %.2f (<= 0.50)\n' \
	"$rounds" "$m" "$b" "$d" "$(echo "$m / $b" | bc -l)" "$(echo "$m / $d" | bc -l)"
