#!/bin/bash
# Fault injection: writes that fail (a full file system, a device-mapper error target under
# the output, a flakey target under a flash target; where the kernel has no device-mapper, a
# FUSE disk from tests/fixtures/fake-stick.py whose writes fail or are lost, and a FUSE
# directory, tests/fixtures/failing-dir.py, whose writes fail past 8 MiB), reads that fail
# under the input (dm error, or FUSE), and
# kill -9 at twenty points of mlrig image, iso, flash and fetch. After each: no file under the
# final name (a flash target: nothing bootable, its first MiB still cleared), the temp file
# gone or reported, and the next run succeeds. Loop devices over files only; never a disk.
# Prints the table (point, what was left, next run).
. "$(dirname "$0")/../lib.sh"
need_root "tmpfs mounts, loop devices and device-mapper targets"
need losetup mkfs.ext4 python3 nginx cmp
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (tests/fixtures/rootfs.sh)"
iso=$(bash "$REPO/tests/fixtures/iso.sh" focal-server) || skip "no focal-server fixture ISO"
losetup -f >/dev/null 2>&1 || skip "no free loop device"
# device-mapper: the error and flakey targets; without it (a kernel built without) those cases
# are said to be skipped and the rest runs
dm_ok=0
dmsetup version >/dev/null 2>&1 && dm_ok=1
cp -r "$REPO/images" "$T/p"
prof=$T/p/demo.conf
dm=mlrig-faults-$$
loops=() dms=() mounts=() table=() lo="" target=""

_faults_cleanup() {
	[ -n "${http_state:-}" ] && bash "$REPO/tests/fixtures/http-server.sh" stop "$http_state"
	for m in "${mounts[@]:-}"; do [ -n "$m" ] && umount -l "$m" 2>/dev/null; done
	for d in "${dms[@]:-}"; do [ -n "$d" ] && dmsetup remove --retry "$d" 2>/dev/null; done
	for l in "${loops[@]:-}"; do [ -n "$l" ] && losetup -d "$l" 2>/dev/null; done
	_cleanup
}
trap _faults_cleanup EXIT

loop_of() { # VAR FILE: a loop device over FILE in VAR, detached at the end (not in a
	# subshell, so that the cleanup knows it)
	local l
	l=$(losetup -f --show "$2") || return 1
	loops+=("$l")
	printf -v "$1" '%s' "$l"
}
sectors() { blockdev --getsz "$1"; }
row() { table+=("$(printf '%-34s | %-52s | %s' "$1" "$2" "$3")"); }

# left DIR NAME: what a run left in DIR besides what was there: the final name, temp files
left() {
	local what
	what=$(cd "$1" && ls -A | tr '\n' ' ')
	echo "${what:-nothing}"
}

# ---- writes that fail ------------------------------------------------------------------------
# a full file system under the output
mkdir -p "$T/full"
mount -t tmpfs -o size=8M tmpfs "$T/full" && mounts+=("$T/full")
"$MLRIG" iso -q -p "$prof" --base "$iso" -o "$T/full/rig.iso" >"$T/log" 2>&1
rc=$?
l=$(left "$T/full")
check "full fs: iso fails (exit $rc) and says so" eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -q "No space left" "$T/log"'
check "full fs: iso leaves nothing" [ "$l" = nothing ]
row "iso, output on a full tmpfs" "$l" "-"
"$MLRIG" image -q -p "$prof" --rootfs "$rootfs" -o "$T/full/rig.img" >"$T/log" 2>&1
rc=$?
l=$(left "$T/full")
check "full fs: image fails (exit $rc) and says so" eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -Eq "No space left|full" "$T/log"'
check "full fs: image leaves nothing" [ "$l" = nothing ]
row "image, output on a full tmpfs" "$l" "-"

if [ $dm_ok = 1 ]; then
# a device-mapper error target under the output: an ext4 whose blocks past 8 MiB fail
truncate -s 64M "$T/err.disk"
loop_of lo "$T/err.disk"
n=$(sectors "$lo")
dmsetup create "$dm-err" --table "0 $n linear $lo 0" && dms+=("$dm-err")
mkfs.ext4 -q -E nodiscard "/dev/mapper/$dm-err"
mkdir -p "$T/err" && mount -o errors=continue "/dev/mapper/$dm-err" "$T/err" && mounts+=("$T/err")
printf '0 16384 linear %s 0\n16384 %d error\n' "$lo" $((n - 16384)) | dmsetup reload "$dm-err" && dmsetup resume "$dm-err"
"$MLRIG" iso -q -p "$prof" --base "$iso" -o "$T/err/rig.iso" >"$T/log" 2>&1
rc=$?
l=$(left "$T/err")
check "dm error under the output: iso fails (exit $rc) with an I/O error" \
	eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -Eq "Input/output error|Read-only" "$T/log"'
check "dm error under the output: no rig.iso" [ ! -e "$T/err/rig.iso" ]
row "iso, output on dm error past 8 MiB" "$l" "-"
umount "$T/err" 2>/dev/null && mounts=("${mounts[@]/$T\/err}")

# a flakey target under a flash target: every write fails, then every write is dropped
truncate -s 16M "$T/rig.img" && head -c 6M /dev/urandom | dd of="$T/rig.img" conv=notrunc status=none
truncate -s 32M "$T/flakey.disk"
loop_of lo "$T/flakey.disk"
n=$(sectors "$lo")
for mode in error_writes drop_writes; do
	dmsetup create "$dm-$mode" --table "0 $n flakey $lo 0 0 1 1 $mode" && dms+=("$dm-$mode")
	"$MLRIG" flash --yes --force "$T/rig.img" "/dev/mapper/$dm-$mode" >"$T/log" 2>&1
	rc=$?
	check "flakey ($mode) under the flash target: fails (exit $rc) and says why" \
		eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -Eiq "input/output error|differs|mismatch|verif" "$T/log"'
	row "flash onto dm flakey $mode" "exit $rc: $(tail -1 "$T/log" | cut -c1-38)" "-"
	dmsetup remove "$dm-$mode" && dms=("${dms[@]/$dm-$mode}")
done

# ---- reads that fail under the input ---------------------------------------------------------
cp "$iso" "$T/base.iso"
loop_of lo "$T/base.iso"
n=$(sectors "$lo")
printf '0 4096 linear %s 0\n4096 %d error\n' "$lo" $((n - 4096)) | dmsetup create "$dm-in" && dms+=("$dm-in")
mkdir -p "$T/o"
"$MLRIG" iso -q -p "$prof" --base "/dev/mapper/$dm-in" -o "$T/o/rig.iso" >"$T/log" 2>&1
rc=$?
check "reads fail under the base ISO: iso fails (exit $rc) and says so" \
	eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -Eiq "input/output error|read error|cannot read" "$T/log"'
check "reads fail under the base ISO: nothing left" [ "$(left "$T/o")" = nothing ]
row "iso, base on dm error past 2 MiB" "$(left "$T/o")" "-"
truncate -s 16M "$T/target.disk"
"$MLRIG" flash --yes --force "/dev/mapper/$dm-in" "$T/target.disk" >"$T/log" 2>&1
rc=$?
check "reads fail under the flash image: fails (exit $rc) and says so" \
	eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -Eiq "input/output error|cannot read" "$T/log"'
row "flash, image on dm error past 2 MiB" "exit $rc: $(tail -1 "$T/log" | cut -c1-38)" "-"
elif [ -c /dev/fuse ] && /usr/bin/python3 -c 'import fusepy' 2>/dev/null; then
	# no device-mapper here: the same faults from tests/fixtures/fake-stick.py (FUSE), a disk
	# whose writes fail or are dropped, and an input whose reads fail past 2 MiB
	# an output directory whose writes fail with EIO past 8 MiB (tests/fixtures/failing-dir.py)
	mkdir -p "$T/errout" "$T/errback"
	/usr/bin/python3 "$REPO/tests/fixtures/failing-dir.py" "$T/errout" "$T/errback" $((8 * 1024 * 1024)) &
	mounts+=("$T/errout")
	for _ in $(seq 100); do mountpoint -q "$T/errout" && break; sleep 0.05; done
	"$MLRIG" iso -q -p "$prof" --base "$iso" -o "$T/errout/rig.iso" >"$T/log" 2>&1
	rc=$?
	l=$(left "$T/errback")
	check "writes fail past 8 MiB under the output (FUSE): iso fails (exit $rc) with an I/O error" \
		eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -q "Input/output error" "$T/log"'
	check "writes fail under the output: no rig.iso, no temp file" [ "$l" = nothing ]
	row "iso, output failing writes past 8 MiB (FUSE)" "$l" "-"
	umount "$T/errout" && mounts=("${mounts[@]/$T\/errout}")
	fuse_at() { # MODE ARGS...: mounts a fake stick at $T/fuse (unmounted by the trap)
		mkdir -p "$T/fuse"
		/usr/bin/python3 "$REPO/tests/fixtures/fake-stick.py" "$T/fuse" "$@" &
		mounts+=("$T/fuse")
		for _ in $(seq 100); do [ -e "$T/fuse/stick" ] && break; sleep 0.05; done
	}
	fuse_off() { umount "$T/fuse" && mounts=("${mounts[@]/$T\/fuse}"); }
	truncate -s 16M "$T/rig.img" && head -c 6M /dev/urandom | dd of="$T/rig.img" conv=notrunc status=none
	for mode in error-writes drop-writes; do
		what=failed && [ $mode = drop-writes ] && what=dropped
		fuse_at "$mode" $((32 * 1024 * 1024))
		"$MLRIG" flash --yes --force "$T/rig.img" "$T/fuse/stick" >"$T/log" 2>&1
		rc=$?
		check "a stick whose writes are $what (FUSE): flash fails (exit $rc) and says why" \
			eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -Eiq "input/output error|differs" "$T/log"'
		row "flash onto a FUSE stick: $mode" "exit $rc: $(tail -1 "$T/log" | cut -c1-38)" "-"
		fuse_off
	done
	fuse_at error-reads "$iso" $((2 * 1024 * 1024))
	mkdir -p "$T/o"
	"$MLRIG" iso -q -p "$prof" --base "$T/fuse/stick" -o "$T/o/rig.iso" >"$T/log" 2>&1
	rc=$?
	check "reads fail under the base ISO (FUSE, past 2 MiB): iso fails (exit $rc) and says so" \
		eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -Eiq "input/output error|read error|cannot read" "$T/log"'
	check "reads fail under the base ISO: nothing left" [ "$(left "$T/o")" = nothing ]
	row "iso, base failing reads past 2 MiB (FUSE)" "$(left "$T/o")" "-"
	fuse_off
	fuse_at error-reads "$T/rig.img" $((2 * 1024 * 1024))
	truncate -s 32M "$T/target.disk"
	"$MLRIG" flash --yes --force "$T/fuse/stick" "$T/target.disk" >"$T/log" 2>&1
	rc=$?
	check "reads fail under the flash image (FUSE, past 2 MiB): fails (exit $rc) and says so" \
		eval '[ $rc -ge 1 ] && [ $rc -le 127 ] && grep -Eiq "input/output error|cannot read" "$T/log"'
	check "reads fail under the flash image: nothing bootable on the target" \
		eval '! cmp -s -n 1048576 "$T/rig.img" "$T/target.disk"'
	row "flash, image failing reads past 2 MiB (FUSE)" "exit $rc: $(tail -1 "$T/log" | cut -c1-38)" "-"
	fuse_off
else
	echo "SKIP the device-mapper cases (error under the output, flakey under a flash target, errors under the input): the kernel has no device-mapper, and no FUSE to stand in"
	for c in "iso, output on dm error past 8 MiB" "flash onto dm flakey error_writes" "flash onto dm flakey drop_writes" \
		"iso, base on dm error past 2 MiB" "flash, image on dm error past 2 MiB"; do
		row "$c" "not run: no device-mapper in this kernel" "-"
	done
fi

# ---- kill -9 at twenty points ----------------------------------------------------------------
# until COND: polls the shell condition every 2 ms (10 s at most)
until_true() {
	for _ in $(seq 5000); do eval "$1" && return 0; sleep 0.002; done
	return 1
}

# kill_at_file GLOB BYTES size|allocated -- COMMAND...: runs COMMAND and kills it once a file
# matching GLOB holds BYTES (tests/fixtures/kill-at.py polls every 0.2 ms: a shell loop can miss
# a whole ISO being written); fails when COMMAND finished first
kill_at_file() { /usr/bin/python3 "$REPO/tests/fixtures/kill-at.py" "$@" >"$T/kill.log" 2>&1; }
# kill_when COND -- COMMAND...: runs COMMAND and kills it once the shell condition COND holds
kill_when() {
	local cond=$1 pid
	shift 2
	"$@" >"$T/kill.log" 2>&1 &
	pid=$!
	until_true "$cond"
	kill -9 $pid 2>/dev/null || { wait $pid; return 1; }
	wait $pid 2>/dev/null
	return 0
}

# killpoint LABEL DIR FINAL KILLER... -- COMMAND...: KILLER... -- COMMAND... runs COMMAND and
# kills it with SIGKILL at its point; then checks that FINAL is not there and runs COMMAND
# again, which must succeed and leave no temp file (a stale one it removes and names).
kills=0
killpoint() {
	local label=$1 dir=$2 final=$3 what next rc killer=()
	shift 3
	while [ "$1" != -- ]; do killer+=("$1"); shift; done
	shift
	if ! "${killer[@]}" -- "$@"; then
		fail "kill -9 $label: it had finished before the kill"
		row "$label" "finished before the kill" "-"
		rm -f "$dir/$final" "$dir/$final.json"
		return
	fi
	kills=$((kills + 1))
	what=$(left "$dir")
	check "kill -9 $label: no $final" test ! -e "$dir/$final"
	"$@" >"$T/next.log" 2>&1
	rc=$?
	next="exit $rc"
	grep -q "Removed .*killed" "$T/next.log" && next="$next, removed the stale temp file"
	grep -q "Resuming" "$T/next.log" && next="$next, resumed the .part"
	check "kill -9 $label: the next run succeeds" test $rc -eq 0 -a -e "$dir/$final"
	check "kill -9 $label: no temp file after the next run" test -z "$(find "$dir" -maxdepth 1 \( -name '.*.??????' -o -name '*.part' \))"
	row "$label" "$what" "$next"
	rm -f "$dir/$final" "$dir/$final.json"
}

mkdir -p "$T/k-image" "$T/k-iso" "$T/k-fetch"
# image: the temp file appears, then the rootfs streams into it (its allocated size grows)
for mib in 0 100 250 450 600; do
	killpoint "image, temp file at ${mib} MiB" "$T/k-image" rig.img \
		kill_at_file "$T/k-image/.rig.img.??????" $((mib * 1048576)) allocated -- \
		"$MLRIG" image -q -p "$prof" --rootfs "$rootfs" -o "$T/k-image/rig.img"
done
for mib in 0 1 3 5 8; do
	killpoint "iso, temp file at ${mib} MiB" "$T/k-iso" rig.iso \
		kill_at_file "$T/k-iso/.rig.iso.??????" $((mib * 1048576)) size -- \
		"$MLRIG" iso -q -p "$prof" --base "$iso" -o "$T/k-iso/rig.iso"
done

# flash: a 256 MiB image onto a loop device over a sparse file (what is written shows as its
# allocated size); killed, the target has nothing bootable (its first MiB is written last)
head -c 256M /dev/urandom >"$T/big.img"
truncate -s 300M "$T/flash.disk"
loop_of target "$T/flash.disk"
flash_left() {
	if cmp -s -n 1048576 "$T/big.img" "$target"; then echo "first MiB written: bootable"; else echo "first MiB not the image's: nothing bootable"; fi
}
for mib in 0 40 100 160 220; do
	fallocate -p -o 0 -l 300M "$T/flash.disk" # all holes again
	if ! kill_at_file "$T/flash.disk" $((mib * 1048576)) allocated -- \
		"$MLRIG" flash --yes --force --no-verify "$T/big.img" "$target"; then
		fail "kill -9 flash at ${mib} MiB: it had finished before the kill"
		row "flash, ${mib} MiB written" "finished before the kill" "-"
		continue
	fi
	kills=$((kills + 1))
	what="$(du -m "$T/flash.disk" | cut -f1) MiB on the target; $(flash_left)"
	check "kill -9 flash at ${mib} MiB: nothing bootable on the target" eval '[ "${what#*; }" = "first MiB not the image'"'"'s: nothing bootable" ]'
	"$MLRIG" flash --yes --force "$T/big.img" "$target" >"$T/next.log" 2>&1
	rc=$?
	check "kill -9 flash at ${mib} MiB: the next flash succeeds and verifies" eval '[ $rc -eq 0 ] && grep -q verified "$T/next.log"'
	row "flash, ${mib} MiB written" "$what" "exit $rc, verified"
done

# fetch: a 4 MiB file trickling at 1 MiB/s from nginx; killed, the .part is resumed
mkdir -p "$T/www/rel"
head -c 4M /dev/urandom >"$T/www/rel/big.bin"
sum=$(sha256sum "$T/www/rel/big.bin" | cut -d' ' -f1)
http_state=$T/http
port=$(bash "$REPO/tests/fixtures/http-server.sh" start "$http_state" "$T/www") || skip "could not start nginx"
# (the .part grows in 4 MiB slots and at each flush: the points are times after it appears)
for d in 0 0.6 1.2 1.8 2.6; do
	killpoint "fetch, ${d}s after the .part appears" "$T/k-fetch" big.bin \
		kill_when "[ -e '$T/k-fetch/big.bin.part' ] && sleep $d" -- \
		"$MLRIG" fetch -q --sha256 "$sum" -o "$T/k-fetch" "http://127.0.0.1:$port/slow/rel/big.bin"
done
check "twenty kill -9 points" test $kills -eq 20

echo
printf '%-34s | %-52s | %s\n' "point" "what was left" "next run"
for r in "${table[@]}"; do echo "$r"; done
finish
