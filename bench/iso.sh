#!/bin/bash
# Benchmark: mlrig iso vs xorriso's "-boot_image any replay" remaster vs a plain
# cp, on a >= 1 GiB ISO shaped like Ubuntu 20.04 live-server (the fixture plus
# 1 GiB of random casper/filesystem.squashfs). ROUNDS (default 7) rounds in one
# run, the order rotated, all on the same file system; prints medians and ratios.
#   bash bench/iso.sh [BUILD_DIR] [SIZE_MiB]     target: mlrig <= 1.0x xorriso
set -euo pipefail
BUILD=${1:-build}
SIZE_MIB=${2:-1024}
REPO=$PWD
MLRIG=$(realpath "$BUILD/mlrig")
export MLRIG_AGENT=${MLRIG_AGENT:-$REPO/$BUILD/compat/mlrig-firstboot}
[ -x "$MLRIG_AGENT" ] || MLRIG_AGENT=$REPO/$BUILD/mlrig-firstboot
for t in xorriso cp sha256sum; do command -v $t >/dev/null || { echo "bench/iso.sh: $t missing (make deps)" >&2; exit 1; }; done
T=$(mktemp -d "${TMPDIR:-/var/tmp}/mlrig-bench-iso.XXXXXX")
trap 'rm -rf "$T"' EXIT
cp -r "$REPO/images" "$T/p"

fixture=$(bash "$REPO/tests/fixtures/iso.sh" focal-server)
echo "bench/iso.sh: making a $SIZE_MIB MiB 20.04-shaped base in $T" >&2
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$T/filesystem.squashfs"
xorriso -indev "$fixture" -outdev "$T/base.iso" -map "$T/filesystem.squashfs" /casper/filesystem.squashfs \
	-boot_image any replay >/dev/null 2>&1
rm -f "$T/filesystem.squashfs"
# xorriso gets the same additions mlrig makes, as a tree
mkdir -p "$T/add/nocloud"
"$MLRIG" iso -q -p "$T/p/demo.conf" --base "$fixture" -o "$T/small.iso" 2>/dev/null
xorriso -osirrox on -indev "$T/small.iso" -extract /mlrig "$T/add/mlrig" -extract /nocloud "$T/add/nocloud" >/dev/null 2>&1
sync
drop() { sync; [ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches || true; }

# run NAME COMMAND...: wall seconds of one run, base in the page cache as the user's would be after a download
run() {
	local name=$1 s e
	shift
	rm -f "$T/$name.iso"
	sync
	sleep 2 # let the file system finish freeing the last output before timing
	drop
	cat "$T/base.iso" >/dev/null
	s=$(date +%s.%N)
	"$@" >/dev/null 2>"$T/$name.err" || { echo "$name failed:" >&2; cat "$T/$name.err" >&2; exit 1; }
	sync
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}

size=$(stat -c %s "$T/base.iso")
ROUNDS=${ROUNDS:-7}
declare -A times=()
# rotate the order each round so no tool always inherits the previous one's writeback
for round in $(seq "$ROUNDS"); do
	case $((round % 3)) in
	1) order="cp xorriso mlrig" ;; 2) order="xorriso mlrig cp" ;; 0) order="mlrig cp xorriso" ;;
	esac
	for tool in $order; do
		case $tool in
		cp) t=$(run cp cp "$T/base.iso" "$T/cp.iso") ;;
		xorriso) t=$(run xorriso xorriso -indev "$T/base.iso" -outdev "$T/xorriso.iso" -map "$T/add/mlrig" /mlrig \
			-map "$T/add/nocloud" /nocloud -boot_image any replay) ;;
		mlrig) t=$(run mlrig "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$T/base.iso" -o "$T/mlrig.iso") ;;
		esac
		times[$tool]="${times[$tool]:-} $t"
	done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
t_cp=$(median "${times[cp]}")
t_xorriso=$(median "${times[xorriso]}")
t_mlrig=$(median "${times[mlrig]}")

printf 'base: %s (%.0f MiB); median of %d rounds, each time includes sync\n' "$(basename "$T/base.iso")" \
	"$(echo "$size / 1048576" | bc -l)" "$ROUNDS"
for tool in cp xorriso mlrig; do
	v=t_$tool
	printf '%-8s %8.2f s  %7.1f MiB/s   (runs:%s)\n' $tool "${!v}" "$(echo "$size / 1048576 / ${!v}" | bc -l)" "${times[$tool]}"
done
printf 'mlrig/xorriso = %.2fx (target <= 1.0x), mlrig/cp = %.2fx\n' \
	"$(echo "$t_mlrig / $t_xorriso" | bc -l)" "$(echo "$t_mlrig / $t_cp" | bc -l)"
