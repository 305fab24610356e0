#!/bin/bash
# make fuzz: runs each libFuzzer target for SECONDS, one after another, from its seed corpus
# (tests/fuzz/corpus/NAME, read only) and dictionary (tests/fuzz/NAME.dict); new inputs go to
# BUILD/corpus/NAME, crashes, leaks and timeouts to BUILD/crashes/NAME. Prints each target's
# executions and findings; fails when any target found something.
#   tests/fuzz/run.sh BUILD SECONDS TARGET...
set -u
build=$1 seconds=$2
shift 2
found=0
for t in "$@"; do
	mkdir -p "$build/corpus/$t" "$build/crashes/$t"
	dict=() && [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	log=$build/crashes/$t.log
	"$build/fuzzer-$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
		-artifact_prefix="$build/crashes/$t/" "${dict[@]}" "$build/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	n=$(find "$build/crashes/$t" -type f | wc -l)
	printf '%-8s %10s executions in %ss, exit %d, %d finding(s)%s\n' "$t" "${execs:-?}" "$seconds" "$rc" "$n" \
		"$([ "$n" -gt 0 ] && echo ": $build/crashes/$t/")"
	[ "$rc" -ne 0 ] || [ "$n" -gt 0 ] && found=1
done
exit $found
