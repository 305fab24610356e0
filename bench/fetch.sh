#!/bin/bash
# bench/fetch.sh: a 1 GiB file over loopback from nginx on 127.0.0.1: `mlrig fetch` (sha256 checked, fsync'd,
# renamed) vs `curl -o` (none of those) and `curl -o` + sync. ROUNDS rounds (default 5), the order rotated;
# before each command the last output is removed, the served file is in the page cache and memory is warm
# (bench/lib.sh). Prints every time, the medians and their ratios.   Target: mlrig <= 1.1x curl.
#   bash bench/fetch.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
rounds=${ROUNDS:-5}
repo=$PWD
. "$repo/bench/lib.sh"
for c in curl nginx bc sha256sum; do command -v $c >/dev/null || { echo "bench/fetch.sh: $c missing (make deps)"; exit 1; }; done
mlrig=$(realpath "$build/mlrig")
work=$(mktemp -d /var/tmp/mlrig-bench-fetch.XXXXXX)
trap 'bash "$repo/tests/fixtures/http-server.sh" stop "$work/http"; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/out"
head -c 1G /dev/urandom >"$work/www/big.iso"
sha=$(sha256sum "$work/www/big.iso" | cut -d' ' -f1)
port=$(bash tests/fixtures/http-server.sh start "$work/http" "$work/www")
url=http://127.0.0.1:$port/big.iso
out=$work/out/big.iso

curl_sync() { curl -sf -o "$out" "$url" && sync -f "$out"; }
run() { # tool: seconds on stdout
	rm -f "$out" "$out.part"
	sync
	sleep 2 # the file system frees (and discards) the last output's blocks before the next timing
	cat "$work/www/big.iso" >/dev/null
	warm_memory
	case $1 in
	mlrig) seconds "$mlrig" fetch -q --sha256 "$sha" -o "$work/out" "$url" ;;
	curl) seconds curl -sf -o "$out" "$url" ;;
	curl+sync) seconds curl_sync ;;
	esac
}

tools=(mlrig curl curl+sync)
declare -A times
for round in $(seq "$rounds"); do
	line="round $round:"
	for k in 0 1 2; do
		tool=${tools[$(((round + k) % 3))]}
		t=$(run "$tool") || { echo "bench/fetch.sh: $tool failed"; exit 1; }
		cmp -s "$out" "$work/www/big.iso" || { echo "bench/fetch.sh: $tool's file differs from the served one"; exit 1; }
		times[$tool]+="$t "
		line+=$(printf '  %s %.2f s' "$tool" "$t")
	done
	echo "$line"
done
m=$(echo ${times[mlrig]} | tr ' ' '\n' | median)
c=$(echo ${times[curl]} | tr ' ' '\n' | median)
cs=$(echo ${times[curl+sync]} | tr ' ' '\n' | median)
printf 'median of %d: mlrig fetch %.2f s   curl -o %.2f s   curl -o + sync %.2f s   mlrig/curl %.2f (<= 1.10)   mlrig/(curl+sync) %.2f\n' \
	"$rounds" "$m" "$c" "$cs" "$(echo "$m / $c" | bc -l)" "$(echo "$m / $cs" | bc -l)"
