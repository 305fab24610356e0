#!/bin/bash
# bench/image.sh: the same rig image from the fixture rootfs, built by `mlrig image`
# and by the standard pipeline (tar -x + mke2fs -d + mkfs.vfat/mcopy + sfdisk + dd),
# on .tar and .tar.xz input, in one run. Prints times, peak disk use and ratios.
# Target: mlrig <= 0.6x the pipeline on every input, with no staging tree.
set -euo pipefail
build=${1:-build}
[ "$(id -u)" -eq 0 ] || { echo "bench/image.sh: the standard pipeline needs root (tar -x with owners)"; exit 1; }
rootfs=$(bash tests/fixtures/rootfs.sh)
work=$(mktemp -d /var/tmp/mlrig-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
size=2G

# Two .xz inputs: multi-block (xz -T2, as multi-threaded xz writes it), where
# decompression can use both cores, and single-block (xz -T1), where it cannot.
xz_in=$work/rootfs.tar.xz
xz1_in=$work/rootfs-single-block.tar.xz
echo "bench: compressing the fixture to $xz_in (xz -T2 -3) and $xz1_in (xz -T1 -3), not timed"
xz -T2 -3 -c "$rootfs" >"$xz_in"
xz -T1 -3 -c "$rootfs" >"$xz1_in"

# peak KiB used under a directory while a command runs
peak_run() {
	local dir=$1 peak=0 pid u
	shift
	"$@" &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		u=$(du -sk "$dir" 2>/dev/null | cut -f1) || u=0
		[ "${u:-0}" -gt $peak ] && peak=$u
		sleep 0.2
	done
	wait $pid
	echo $peak >"$dir.peak"
}

mlrig_build() { # input outdir
	mkdir -p "$2/tmp"
	TMPDIR=$2/tmp "$build/mlrig" image -q -p images/demo.conf --rootfs "$1" -o "$2/rig.img" --size $size
}

pipeline_build() { # input outdir
	local d=$2 esp_mib=128 total root_start root_sectors
	mkdir -p "$d/stage" "$d/espsrc/EFI/BOOT"
	tar --numeric-owner --xattrs --xattrs-include='*' -xf "$1" -C "$d/stage"
	total=$((2048 * 1024 * 1024))
	root_start=$(((1 + esp_mib) * 2048))
	root_sectors=$((total / 512 - root_start - 2048))
	mke2fs -q -F -t ext4 -d "$d/stage" -L rootfs "$d/root.img" $((root_sectors / 2))k
	cp "$d/stage/usr/lib/shim/shimx64.efi.signed" "$d/espsrc/EFI/BOOT/BOOTX64.EFI"
	cp "$d/stage/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$d/espsrc/EFI/BOOT/grubx64.efi"
	mkfs.vfat -F 32 -S 512 -s 1 -C "$d/esp.img" $((esp_mib * 1024)) >/dev/null
	MTOOLS_SKIP_CHECK=1 mcopy -s -i "$d/esp.img" "$d/espsrc/EFI" ::/
	truncate -s $total "$d/disk.img"
	printf 'label: gpt\nstart=2048, size=%d, type=uefi\nstart=%d, size=%d, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\n' \
		$((esp_mib * 2048)) $root_start $root_sectors | sfdisk -q "$d/disk.img"
	dd if="$d/esp.img" of="$d/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
	dd if="$d/root.img" of="$d/disk.img" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
	sync -f "$d/disk.img"
}

timed() { # name dir cmd...
	local name=$1 dir=$2 s e
	shift 2
	rm -rf "$dir" && mkdir -p "$dir"
	sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	cat "$input" >/dev/null
	s=$(date +%s.%N)
	peak_run "$dir" "$@"
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l >"$dir.time"
	printf '  %-10s %7.2f s   peak disk %6d MiB\n' "$name" "$(cat "$dir.time")" $(($(cat "$dir.peak") / 1024))
}

for input in "$rootfs" "$xz_in" "$xz1_in"; do
	echo "input: $input"
	timed mlrig "$work/m" mlrig_build "$input" "$work/m"
	alloc=$(du -sk "$work/m/rig.img" | cut -f1)
	timed pipeline "$work/p" pipeline_build "$input" "$work/p"
	ratio=$(echo "$(cat "$work/m.time") / $(cat "$work/p.time")" | bc -l)
	printf '  ratio mlrig/pipeline: %.2f (target <= 0.60); mlrig image allocates %d MiB, peak %d MiB\n' \
		"$ratio" $((alloc / 1024)) $(($(cat "$work/m.peak") / 1024))
done
