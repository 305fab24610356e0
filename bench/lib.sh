# bench/lib.sh: what the benchmarks share. Sourced, not run.

# Gives every timed command the same memory to start from. Guests like the one CI and
# these benches run on hand freed pages back to the host (free page reporting); the
# first touch of such a page afterwards is a host page fault, which made the same copy
# 2-3x slower at random (1 GiB downloads took 0.9-3.2 s). Touching 3 GiB of tmpfs and
# freeing it right before timing leaves warm pages for whichever tool runs next.
warm_memory() {
	local f=/dev/shm/mlrig-bench-warm.$$
	[ -d /dev/shm ] || return 0
	dd if=/dev/zero of="$f" bs=1M count=3072 status=none 2>/dev/null || true
	rm -f "$f"
}

# Disk quiet, page cache empty, memory warm.
settle() {
	sync
	[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches
	warm_memory
}

# Wall seconds of "$@" (output discarded) on stdout; fails with the command.
seconds() {
	local s e
	s=$(date +%s.%N)
	"$@" >/dev/null 2>&1 || return 1
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}

# The median of the numbers on stdin.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Bytes read and written so far by block device $1, as the kernel counts them
# (/sys/block/DEV/stat, 512-byte sectors whatever the device's): "READ WRITTEN".
# Zeros made by WRITE ZEROES count as written, though no data crosses the bus.
disk_io() {
	awk '{ printf "%.0f %.0f\n", $3 * 512, $7 * 512 }' "/sys/block/${1#/dev/}/stat"
}
