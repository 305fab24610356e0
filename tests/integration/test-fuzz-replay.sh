#!/bin/bash
# The fuzz targets without libFuzzer: every seed of tests/fuzz/corpus/TARGET and every input a
# fuzzer once crashed on (tests/fuzz/regress/TARGET, kept when the bug was fixed) fed once to
# the target (build/fuzz-replay-TARGET, built by make check; the ASan build under make asan).
# The tarball target checks every image it leaves with e2fsck -fn.
source tests/lib.sh
need e2fsck
total=0
for dir in "$REPO"/tests/fuzz/corpus/*/; do
	t=$(basename "$dir")
	bin=$BUILD/fuzz-replay-$t
	[ -x "$bin" ] || { fail "$t: $bin is not built (make $bin)"; continue; }
	inputs=("$dir")
	[ -d "$REPO/tests/fuzz/regress/$t" ] && inputs+=("$REPO/tests/fuzz/regress/$t")
	if out=$(FUZZ_E2FSCK=1 TMPDIR=$T "$bin" "${inputs[@]}" 2>&1); then
		pass "$t: $out"
		total=$((total + $(echo "$out" | sed -n 's/^\([0-9]*\) inputs replayed$/\1/p')))
	else
		echo "$out" | tail -30
		fail "$t: an input crashes the target or fails its checks"
	fi
done
# the regression inputs are real: each one crashed a fuzzer before its fix
n=$(find "$REPO/tests/fuzz/regress" -type f | wc -l)
check "$n regression inputs among $total replayed" [ "$total" -gt "$n" ]
finish
