#!/bin/bash
# mlrig flash: byte-identical on a loop device over random bytes (holes too); refusals naming the device; a failing write said once; interrupted flash leaves no first MiB.
# shellcheck disable=SC2154 # dev, pdev, idev, sdev, dev2 are set by loop() through printf -v
. "$(dirname "$0")/../lib.sh"
need_root "loop devices"
need losetup sfdisk mkfs.ext4 partx cmp
loops=() nodes=() mnt='' full=''
_flash_cleanup() {
	[ -n "$mnt" ] && umount "$mnt" 2>/dev/null
	[ -n "$full" ] && umount "$full" 2>/dev/null
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
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
check "reports data and zeroed holes" grep -q "wrote .* MiB of data, zeroed .* MiB of holes, verified" <<<"$out"
check "device reads back byte-identical to the image, holes included" cmp -n "$img_size" "$img" "$dev"
check "bytes after the image are untouched" cmp -i "$img_size:$img_size" -n 1M "$T/dev.back" "$dev"

# --verify-only reads the device back and names the first byte that differs
out=$("$MLRIG" flash --verify-only "$img" "$dev" 2>&1)
check "--verify-only: the device just flashed matches (exit 0)" test $? -eq 0
check "--verify-only: says it matches" grep -q "match" <<<"$out"
flip() { # DEVICE OFFSET: writes the complement of the image's byte at OFFSET
	local b
	b=$(dd if="$img" bs=1 skip="$2" count=1 status=none | od -An -tu1 | tr -d ' ')
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

finish
