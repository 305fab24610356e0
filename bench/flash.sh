#!/bin/bash
# bench/flash.sh: a 1 GiB sparse image with ~40% data to a loop device, in one run: `mlrig flash` (verifying)
# vs `bmaptool copy` (with its bmap, verifying) vs `dd bs=4M conv=fsync`. Prints times and ratios.
# Target: mlrig <= 1.0x bmaptool and <= 0.5x dd.
set -euo pipefail
build=${1:-build}
runs=${RUNS:-2}
[ "$(id -u)" -eq 0 ] || { echo "bench/flash.sh: needs root (loop devices)"; exit 1; }
for c in bmaptool losetup bc; do command -v $c >/dev/null || { echo "bench/flash.sh: $c missing (make deps)"; exit 1; }; done
work=$(mktemp -d /var/tmp/mlrig-bench-flash.XXXXXX)
dev=
trap '[ -n "$dev" ] && losetup -d "$dev"; rm -rf "$work"' EXIT

# 1 GiB, 40% data in 8 MiB runs spread over the span (like file systems in a disk image)
img=$work/rig.img
truncate -s 1G "$img"
for i in $(seq 0 127); do
	[ $((i % 5)) -lt 2 ] || continue
	head -c 8M /dev/urandom | dd of="$img" bs=8M seek=$i conv=notrunc status=none
done
bmaptool -q create -o "$work/rig.bmap" "$img"
echo "image: $(du -BM --apparent-size "$img" | cut -f1) apparent, $(du -BM "$img" | cut -f1) data"

truncate -s 1100M "$work/dev.back"
dev=$(losetup -f --show "$work/dev.back")

timed() { # name cmd...: seconds on stdout
	local s e
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	cat "$img" >/dev/null # the image in the page cache for all three alike
	s=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}

for run in $(seq "$runs"); do
	t_mlrig=$(timed "$build/mlrig" flash -q --yes --force "$img" "$dev")
	cmp -n 1G "$img" "$dev" || { echo "mlrig flash: device differs from the image"; exit 1; }
	t_bmap=$(timed bmaptool -q copy --bmap "$work/rig.bmap" "$img" "$dev")
	t_dd=$(timed dd if="$img" of="$dev" bs=4M conv=fsync status=none)
	printf 'run %d: mlrig flash %6.2f s   bmaptool copy %6.2f s   dd %6.2f s   mlrig/bmaptool %.2f (<= 1.00)   mlrig/dd %.2f (<= 0.50)\n' \
		"$run" "$t_mlrig" "$t_bmap" "$t_dd" "$(echo "$t_mlrig / $t_bmap" | bc -l)" "$(echo "$t_mlrig / $t_dd" | bc -l)"
done
