#!/bin/bash
# mlrig flash: byte-identical on a loop device over a file (holes zeroed for free); over ramfs (as a USB stick) only the data written and read back, a real image's fsck clean over old bytes; refusals; a failing write said once; interrupted, no first MiB; a fake-capacity stick that wraps onto the first MiB caught.
# shellcheck disable=SC2154 # dev, kdev, odev, pdev, idev, sdev, dev2, rdev, wdev are set by loop() through printf -v
. "$(dirname "$0")/../lib.sh"
need_root "loop devices"
need losetup sfdisk mkfs.ext4 partx cmp python3 e2fsck fsck.vfat filefrag
loops=() nodes=() mnt='' full='' ramfs='' fuse=''
_flash_cleanup() {
	[ -n "$fuse" ] && umount "$fuse" 2>/dev/null
	[ -n "$mnt" ] && umount "$mnt" 2>/dev/null
	[ -n "$full" ] && umount "$full" 2>/dev/null
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	[ -n "$ramfs" ] && umount "$ramfs" 2>/dev/null
	for n in "${nodes[@]}"; do rm -f "$n"; done
	_cleanup
}
trap _flash_cleanup EXIT
losetup -f >/dev/null 2>&1 || skip "no free loop device"

loop() { # VAR FILE [losetup options]: attaches a loop device, remembered for the trap
	local var=$1 f=$2 l
	shift 2
	l=$(losetup -f --show "$@" "$f") || return 1
	loops+=("$l")
	printf -v "$var" '%s' "$l"
}
disk_io() { # DEVICE: "READ WRITTEN", the bytes the kernel has counted so far (mawk's %d stops at 2^31)
	awk '{ printf "%.0f %.0f\n", $3 * 512, $7 * 512 }' "/sys/block/${1#/dev/}/stat"
}

# An image shaped like a disk image: data at the start, in the middle and at the very end, holes between.
img=$T/rig.img
truncate -s 48M "$img"
head -c 1M /dev/urandom | dd of="$img" conv=notrunc status=none
head -c 3M /dev/urandom | dd of="$img" bs=1M seek=9 conv=notrunc status=none
head -c 5000 /dev/urandom | dd of="$img" bs=1 seek=$((30 * 1024 * 1024 + 123)) conv=notrunc status=none
printf 'last bytes' | dd of="$img" bs=1 seek=$((48 * 1024 * 1024 - 10)) conv=notrunc status=none
img_size=$(stat -c %s "$img")

# the device is full of random bytes: only real zeroing makes the holes read back as zeros
head -c 64M /dev/urandom >"$T/dev.back"
loop dev "$T/dev.back"
out=$("$MLRIG" flash --yes --force "$img" "$dev" 2>&1)
rc=$?
check "flash to a loop device succeeds" test $rc -eq 0
check "a loop device over a file zeroes by itself" test "$(cat "/sys/block/${dev#/dev/}/queue/write_zeroes_max_bytes")" -gt 0
check "reports bytes written, zeroed holes and bytes read" \
	grep -q "wrote .* MiB (.* MiB of data), zeroed .* MiB of holes, read back .* MiB and verified" <<<"$out"
check "device reads back byte-identical to the image, holes included" cmp -n "$img_size" "$img" "$dev"
check "bytes after the image are untouched" cmp -i "$img_size:$img_size" -n 1M "$T/dev.back" "$dev"
check "the device's last MiB is cleared (an old backup GPT)" cmp -i $((63 * 1024 * 1024)):0 -n 1M "$dev" /dev/zero

# --verify-only reads the device back and names the first byte that differs
out=$("$MLRIG" flash --verify-only "$img" "$dev" 2>&1)
check "--verify-only: the device just flashed matches (exit 0)" test $? -eq 0
check "--verify-only: says it matches" grep -q "match" <<<"$out"
flip() { # DEVICE OFFSET [IMAGE]: writes the complement of the image's byte at OFFSET
	local b
	b=$(dd if="${3:-$img}" bs=1 skip="$2" count=1 status=none | od -An -tu1 | tr -d ' ')
	printf "\\$(printf %o $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc,fsync status=none
}
bad_data=$((9 * 1024 * 1024 + 4097)) bad_hole=$((20 * 1024 * 1024 + 5)) bad_late=$((40 * 1024 * 1024))
flip "$dev" "$bad_data"
err=$("$MLRIG" flash -q --verify-only "$img" "$dev" 2>&1)
rc=$?
check "--verify-only: a flipped data byte fails (exit 1)" test $rc -eq 1
check "--verify-only: names the flipped data byte's offset" grep -q "differs from $img at offset $bad_data " <<<"$err"
dd if="$img" of="$dev" bs=1 skip="$bad_data" seek="$bad_data" count=1 conv=notrunc,fsync status=none # back
flip "$dev" "$bad_late"
flip "$dev" "$bad_hole"
err=$("$MLRIG" flash -q --verify-only "$img" "$dev" 2>&1)
check "--verify-only: a byte in a hole, and a later one, report the hole's offset" grep -q "at offset $bad_hole " <<<"$err"
"$MLRIG" flash -q --yes --force "$img" "$dev" && cmp -n "$img_size" "$img" "$dev"
check "flashing again repairs the device" test $? -eq 0

# --no-zero-holes never zeroes, even where it is free: a hole keeps the old bytes
head -c 64M /dev/urandom >"$T/keep.old"
cp "$T/keep.old" "$T/keep.back"
loop kdev "$T/keep.back"
out=$("$MLRIG" flash --yes --force --no-zero-holes "$img" "$kdev" 2>&1)
check "--no-zero-holes: flashes and verifies" grep -q "left .* MiB of holes as they were (--no-zero-holes), read back" <<<"$out"
check "--no-zero-holes: a hole keeps its old bytes" cmp -i $((20 * 1024 * 1024)) -n 1M "$T/keep.old" "$kdev"
check "--no-zero-holes: the data is the image's" cmp -i $((9 * 1024 * 1024)) -n 3M "$img" "$kdev"
check "--no-zero-holes: the first MiB is the image's" cmp -n 1M "$img" "$kdev"
err=$("$MLRIG" flash --yes --force --zero-holes --no-zero-holes "$img" "$kdev" 2>&1)
rc=$?
check "--zero-holes with --no-zero-holes: a usage error (exit 2)" test $rc -eq 2
check "--zero-holes with --no-zero-holes: says so, then how to get help" \
	eval 'grep -q "^mlrig flash: --zero-holes and --no-zero-holes exclude each other$" <<<"$err" && grep -q "^Try .mlrig flash --help.." <<<"$err"'
check "--help names --zero-holes and --no-zero-holes" \
	eval '"$MLRIG" flash --help | grep -q -- "--zero-holes" && "$MLRIG" flash --help | grep -q -- "--no-zero-holes"'

# an image whose size is not a multiple of the sector size: the tail goes through the page cache
head -c $((5 * 1024 * 1024 + 1234)) /dev/urandom >"$T/odd.img"
"$MLRIG" flash -q --yes --force "$T/odd.img" "$dev" && cmp -n $((5 * 1024 * 1024 + 1234)) "$T/odd.img" "$dev"
check "an image of odd size flashes and verifies" test $? -eq 0

# the same for a regular file with --force
head -c 64M /dev/urandom >"$T/disk.raw"
"$MLRIG" flash -q --yes --force "$img" "$T/disk.raw"
check "regular file with --force: exit 0" test $? -eq 0
check "regular file reads back identical" cmp -n "$img_size" "$img" "$T/disk.raw"

# a hybrid ISO flashes the same way (no sparse ranges at all)
head -c 3M /dev/urandom >"$T/x.iso"
"$MLRIG" flash -q --yes --force "$T/x.iso" "$dev" && cmp -n 3M "$T/x.iso" "$dev"
check "an ISO-shaped file flashes identically" test $? -eq 0

refuses() { # NAME DEVICE-PATTERN MESSAGE-PATTERN mlrig-args...
	local name=$1 devpat=$2 pat=$3 err rc
	shift 3
	err=$("$MLRIG" flash --yes "$@" 2>&1)
	rc=$?
	if [ $rc -eq 2 ] && grep -q -- "$devpat" <<<"$err" && grep -q -- "$pat" <<<"$err"; then
		pass "refuses: $name"
	else
		fail "refuses: $name (exit $rc: $err)"
	fi
}

# a mounted partition of the target
truncate -s 40M "$T/pdisk"
printf 'label: gpt\nstart=2048, size=60000\n' | sfdisk -q "$T/pdisk"
loop pdev "$T/pdisk" -P
partx -u "$pdev" 2>/dev/null || partx -a "$pdev" 2>/dev/null
sys=/sys/block/${pdev#/dev/}/${pdev#/dev/}p1
[ -e "$sys/dev" ] || partx -a "$pdev" 2>/dev/null
if [ -e "$sys/dev" ]; then
	if [ ! -b "${pdev}p1" ]; then # no udev here: make the node ourselves
		IFS=: read -r major minor <"$sys/dev"
		mknod "${pdev}p1" b "$major" "$minor" && nodes+=("${pdev}p1")
	fi
	mkfs.ext4 -q "${pdev}p1" && mkdir -p "$T/mnt" && mount "${pdev}p1" "$T/mnt" && mnt=$T/mnt
	if [ -n "$mnt" ]; then
		refuses "a mounted loop partition" "$pdev" "mounted on $T/mnt" --force "$img" "$pdev"
		refuses "the mounted partition itself" "${pdev}p1" "mounted on" --force "$img" "${pdev}p1"
	else
		fail "could not mount a loop partition for the test"
	fi
else
	fail "no partition appeared on $pdev"
fi

# the target is backed by the image
loop idev "$img"
refuses "a loop device backed by the image file" "$idev" "backed by the image" --force "$img" "$idev"
# too small
truncate -s 16M "$T/small.back"
loop sdev "$T/small.back"
refuses "a device smaller than the image" "$sdev" "smaller than the image" --force "$img" "$sdev"
# not a block device
refuses "a regular file without --force" "$T/disk.raw" "not a block device" "$img" "$T/disk.raw"
# a loop device is not removable media
refuses "a non-removable disk without --force" "$dev" "not a removable disk" "$img" "$dev"
err=$("$MLRIG" flash --yes --force "$img" "$T/nonexistent" 2>&1)
check "a missing target: exit 2, nothing created" test $? -eq 2 -a ! -e "$T/nonexistent"

# a write that fails (a regular file on a 2 MiB tmpfs; the image has 4 MiB of data):
# one line naming the file, the offset and the errno, exit 1
mkdir -p "$T/full" && mount -t tmpfs -o size=2M tmpfs "$T/full" && full=$T/full
if [ -n "$full" ]; then
	: >"$full/disk.raw"
	err=$("$MLRIG" flash -q --yes --force "$img" "$full/disk.raw" 2>&1)
	rc=$?
	check "a full file system: exit 1" test $rc -eq 1
	check "a full file system: one line naming the file and the errno" \
		grep -qx "mlrig: Failed to write $full/disk.raw near offset [0-9]*: No space left on device" <<<"$err"
	check "a full file system: said once" test "$(wc -l <<<"$err")" -eq 1
	umount "$full" && full=
else
	fail "could not mount a tmpfs for the full file system test"
fi

# The read-back starts when every write but the first MiB's has completed, so that a device mapping two
# offsets onto one place shows: the device's counters, sampled through a slowed-down flash, never show a
# read before then (the first MiB, all data in this image, is written last, then read back).
head -c 64M /dev/urandom >"$T/order.back"
loop odev "$T/order.back"
read -r r0 w0 < <(disk_io "$odev")
MLRIG_FLASH_TEST_DELAY=300 "$MLRIG" flash -q --yes --force "$img" "$odev" &
pid=$! samples=()
while kill -0 $pid 2>/dev/null; do
	samples+=("$(disk_io "$odev")")
	sleep 0.02
done
wait $pid
check "ordered: the slowed-down flash succeeds" test $? -eq 0
read -r r1 w1 < <(disk_io "$odev")
early=0 reading=0
for x in "${samples[@]}"; do
	read -r r w <<<"$x"
	[ "$r" -gt "$r0" ] || continue
	reading=$((reading + 1))
	[ $((w - w0)) -ge $((w1 - w0 - 1024 * 1024)) ] || early=$((early + 1))
done
echo "ordered: ${#samples[@]} samples, $reading while reading back; $((w1 - w0)) bytes written, $((r1 - r0)) read"
check "ordered: the counters were sampled while reading back" test $reading -gt 2
check "ordered: no read before every write but the first MiB's had completed" test $early -eq 0

# interrupted: kill -9 once data has gone out (each chunk slowed down to 1 s), the first MiB must not be the image's
head -c 64M /dev/urandom >"$T/dev2.back"
loop dev2 "$T/dev2.back"
MLRIG_FLASH_TEST_DELAY=1000 "$MLRIG" flash -q --yes --force "$img" "$dev2" &
pid=$!
for _ in $(seq 100); do
	cmp -s -i $((9 * 1024 * 1024)) -n 3M "$img" "$dev2" && break
	sleep 0.1
done
check "interrupted: data reached the device before the kill" cmp -s -i $((9 * 1024 * 1024)) -n 3M "$img" "$dev2"
check "interrupted: mlrig was still running" kill -0 $pid
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
cmp -s -n 1M "$img" "$dev2"
check "killed mid-way: the first MiB of the device is not the image's" test $? -ne 0
check "killed mid-way: the first MiB is zeros (nothing bootable)" cmp -s -n 1M /dev/zero "$dev2"

# A device that cannot zero by itself, as a USB stick: a loop device over a file on ramfs. Only the
# image's data is written and read back; the holes keep what the device held before, and a real
# image's file systems do not mind. Checked with filefrag's map, python3, cmp, e2fsck and fsck.vfat.
image_map() { # IMAGE: "data BYTES", then "START END" of each allocated extent (filefrag: FIEMAP, unwritten ones too)
	filefrag -s -v "$1" | awk -v size="$(stat -c %s "$1")" '
		/ blocks of [0-9]+ bytes/ { for (i = 1; i < NF; i++) if ($i == "of") bs = $(i + 1) }
		/^ *[0-9]+:/ {
			split($0, f, ":"); split(f[2], le, "[.][.]")
			s = le[1] * bs; e = (le[2] + 1) * bs; if (e > size) e = size
			r[++n] = sprintf("%.0f %.0f", s, e); sum += e - s
		}
		END { printf "data %.0f\n", sum; for (i = 1; i <= n; i++) print r[i] }'
}
ranges_equal() { # MAP IMAGE DEVICE: every data range of MAP reads the same from both
	python3 - "$@" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")[1:]
with open(sys.argv[2], "rb") as a, open(sys.argv[3], "rb") as b:
    for s, e in (map(int, l.split()) for l in lines if l):
        for o in range(s, e, 1 << 22):
            a.seek(o), b.seek(o)
            if a.read(min(e - o, 1 << 22)) != b.read(min(e - o, 1 << 22)):
                sys.exit("data range %d-%d differs near %d" % (s, e, o))
PY
}
first_stale_hole_byte() { # MAP DEVICE: the first byte past the first MiB, in a hole, that is not zero
	python3 - "$@" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
ranges = [tuple(map(int, l.split())) for l in lines[1:] if l]
holes = [(ranges[i][1], ranges[i + 1][0]) for i in range(len(ranges) - 1)]
with open(sys.argv[2], "rb") as d:
    for s, e in holes:
        s = max(s, 1 << 20)
        if s < e:
            d.seek(s)
            b = d.read(e - s)
            n = len(b) - len(b.lstrip(b"\0"))
            if n < len(b):
                print(s + n)
                break
PY
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

ramfs_device() {
	local real map data size dsize roff esp_off esp_size r0 w0 r1 w1 rd wr out rc flip_at stale
	real=$T/real/rig.img
	cp -r "$REPO/images" "$T/real"
	"$MLRIG" image -q -p "$T/real/demo.conf" --rootfs "$rootfs" --size 1G -o "$real" || { fail "build a real image"; return; }
	size=$(stat -c %s "$real")
	map=$T/real/map
	image_map "$real" >"$map"
	data=$(awk 'NR == 1 { print $2 }' "$map")
	mkdir -p "$T/ramfs" && mount -t ramfs ramfs "$T/ramfs" && ramfs=$T/ramfs || { fail "mount a ramfs"; return; }
	# old bytes: one random MiB over and over, so that what a hole held before is known
	head -c 1M /dev/urandom >"$T/old.mib"
	dsize=$((size + 4 * 1024 * 1024))
	for _ in $(seq $((dsize / 1024 / 1024))); do cat "$T/old.mib"; done >"$ramfs/stick"
	loop rdev "$ramfs/stick"
	check "ramfs: the loop device cannot zero by itself" \
		test "$(cat "/sys/block/${rdev#/dev/}/queue/write_zeroes_max_bytes")" -eq 0

	read -r r0 w0 < <(disk_io "$rdev")
	if command -v script >/dev/null; then # on a terminal, to see the progress line
		out=$(script -qefc "$MLRIG flash --yes --force $real $rdev" /dev/null)
	else
		out=$("$MLRIG" flash --yes --force "$real" "$rdev" 2>&1)
	fi
	check "ramfs: flash succeeds" test $? -eq 0
	read -r r1 w1 < <(disk_io "$rdev")
	rd=$((r1 - r0)) wr=$((w1 - w0))
	echo "ramfs: image data $data bytes; the device's counters: written $wr, read $rd bytes"
	check "ramfs: written <= the image's data + 2 MiB" test "$wr" -le $((data + 2 * 1024 * 1024))
	check "ramfs: read back <= the image's data + 2 MiB" test "$rd" -le $((data + 2 * 1024 * 1024))
	check "ramfs: the summary gives the bytes written and read, as the device counted them" grep -q \
		"wrote $(mib "$wr") MiB ($(mib "$data") MiB of data), left .* MiB of holes as they were (.*), read back $(mib "$rd") MiB and verified" <<<"$out"
	if command -v script >/dev/null; then
		check "ramfs: the progress line says the holes are left" grep -aq "writing data (holes left as they are): [0-9]*/[0-9]* MiB" <<<"$out"
		check "ramfs: the progress line gives the bytes read back" grep -aq "reading back data: [0-9]*/[0-9]* MiB" <<<"$out"
	fi
	blockdev --flushbufs "$rdev"
	check "ramfs: every data range reads back equal" ranges_equal "$map" "$real" "$rdev"
	check "ramfs: the first MiB is the image's" cmp -n 1M "$real" "$rdev"
	check "ramfs: the device's last MiB is zeroed" cmp -i $((dsize - 1024 * 1024)):0 -n 1M "$rdev" /dev/zero
	check "ramfs: past the image, before the last MiB, the old bytes stay" \
		cmp -i $((dsize - 3 * 1024 * 1024)):0 -n 1M "$rdev" "$T/old.mib"
	stale=$(first_stale_hole_byte "$map" "$rdev")
	check "ramfs: holes keep the old bytes (not written)" test -n "$stale"
	roff=$(sfdisk --json "$rdev" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"]*512)')
	check "ramfs: the root file system passes e2fsck -fn, read from the device" e2fsck -fn "$rdev?offset=$roff"
	read -r esp_off esp_size < <(sfdisk --json "$rdev" | python3 -c 'import json,sys; p=json.load(sys.stdin)["partitiontable"]["partitions"][0]; print(p["start"]*512, p["size"]*512)')
	dd if="$rdev" of="$T/esp.img" bs=1M iflag=skip_bytes,count_bytes skip="$esp_off" count="$esp_size" status=none
	check "ramfs: the ESP passes fsck.vfat -n, read from the device" fsck.vfat -n "$T/esp.img"

	# --verify-only reads what flash wrote: the data and the first MiB; with --zero-holes, the holes too
	out=$("$MLRIG" flash --verify-only "$real" "$rdev" 2>&1)
	check "ramfs: --verify-only: data and first MiB match, holes not read" grep -q "match (holes not read" <<<"$out"
	out=$("$MLRIG" flash -q --verify-only --zero-holes "$real" "$rdev" 2>&1)
	check "ramfs: --verify-only --zero-holes: the first old byte in a hole is reported" \
		grep -q "differs from $real at offset $stale " <<<"$out"
	flip_at=$(awk -v r="$roff" 'NR > 1 && $1 > r + 4096 { print $1 + 1234; exit }' "$map")
	flip "$rdev" "$flip_at" "$real"
	out=$("$MLRIG" flash -q --verify-only "$real" "$rdev" 2>&1)
	rc=$?
	check "ramfs: a byte flipped in a data range fails --verify-only (exit 1)" test $rc -eq 1
	check "ramfs: a byte flipped in a data range is reported at its offset" \
		grep -q "differs from $real at offset $flip_at " <<<"$out"

	# --zero-holes on a device that cannot zero: the zeros are written, the whole span equals the image
	read -r r0 w0 < <(disk_io "$rdev")
	out=$("$MLRIG" flash --yes --force --zero-holes "$real" "$rdev" 2>&1)
	check "ramfs: --zero-holes: flash succeeds" test $? -eq 0
	read -r r1 w1 < <(disk_io "$rdev")
	rd=$((r1 - r0)) wr=$((w1 - w0))
	echo "ramfs --zero-holes: the device's counters: written $wr, read $rd bytes"
	check "ramfs: --zero-holes: the whole span equals the image" cmp -n "$size" "$real" "$rdev"
	check "ramfs: --zero-holes: the zeros were written, and read back" test "$wr" -ge "$size" -a "$rd" -ge "$size"
	check "ramfs: --zero-holes: the summary says so" grep -q "zeroed .* MiB of holes, read back $(mib "$rd") MiB" <<<"$out"
}
# A fake-capacity stick (tests/fixtures/fake-stick.py wrap, FUSE): 320 MiB claimed, 256 MiB
# real, what is written past 256 MiB lands at 0. The image's data there reads back right
# until the first MiB is written over it.
wrapping_device() {
	local wimg=$T/wrap.img out rc
	if [ ! -c /dev/fuse ] || ! /usr/bin/python3 -c 'import fusepy' 2>/dev/null; then
		echo "SKIP the fake-capacity stick: needs /dev/fuse and python3-fusepy (make deps)"
		return
	fi
	truncate -s 300M "$wimg"
	head -c 1M /dev/urandom | dd of="$wimg" conv=notrunc status=none
	head -c 512K /dev/urandom | dd of="$wimg" bs=1M seek=256 conv=notrunc status=none
	fuse=$T/fuse
	mkdir -p "$fuse"
	/usr/bin/python3 "$REPO/tests/fixtures/fake-stick.py" "$fuse" wrap $((320 * 1024 * 1024)) $((256 * 1024 * 1024)) &
	for _ in $(seq 50); do [ -e "$fuse/stick" ] && break; sleep 0.1; done
	out=$("$MLRIG" flash -q --yes --force --no-zero-holes "$wimg" "$fuse/stick" 2>&1)
	rc=$?
	check "fake-capacity stick: flash fails (exit 1)" test $rc -eq 1
	check "fake-capacity stick: the offset that wrapped is named, and why" \
		grep -q "at offset $((256 * 1024 * 1024)) .*holds less than it claims" <<<"$out"
	[ $rc -eq 1 ] || echo "$out"
	umount "$fuse" && fuse=''
}
wrapping_device

if rootfs=$(rootfs_fixture); then
	ramfs_device
else
	echo "SKIP the ramfs device: no rootfs fixture for a real image (run tests/fixtures/rootfs.sh as root)"
fi

finish
