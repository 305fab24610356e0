#!/bin/bash
# bench/fetch.sh: a 1 GiB file over loopback from nginx on 127.0.0.1: `mlrig fetch` (sha256 checked, fsync'd,
# renamed) vs `curl -o` (neither) and `curl -o` + sync. Prints times and ratios. Target: mlrig <= 1.1x curl.
set -euo pipefail
build=${1:-build}
runs=${RUNS:-2}
repo=$PWD
for c in curl nginx bc sha256sum; do command -v $c >/dev/null || { echo "bench/fetch.sh: $c missing (make deps)"; exit 1; }; done
work=$(mktemp -d /var/tmp/mlrig-bench-fetch.XXXXXX)
trap 'bash "$repo/tests/fixtures/http-server.sh" stop "$work/http"; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/out"
head -c 1G /dev/urandom >"$work/www/big.iso"
sha=$(sha256sum "$work/www/big.iso" | cut -d' ' -f1)
port=$(bash tests/fixtures/http-server.sh start "$work/http" "$work/www")
url=http://127.0.0.1:$port/big.iso

timed() { # cmd...: seconds on stdout
	local s e
	rm -f "$work/out/big.iso"
	sync
	s=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}
curl_sync() { curl -s -o "$work/out/big.iso" "$url" && sync -f "$work/out/big.iso"; }

for run in $(seq "$runs"); do
	t_mlrig=$(timed "$build/mlrig" fetch -q --sha256 "$sha" -o "$work/out" "$url")
	[ -f "$work/out/big.iso" ] || { echo "mlrig fetch failed"; exit 1; }
	t_curl=$(timed curl -s -o "$work/out/big.iso" "$url")
	t_curls=$(timed curl_sync)
	printf 'run %d: mlrig fetch %6.2f s   curl -o %6.2f s   curl -o + sync %6.2f s   mlrig/curl %.2f (<= 1.10)   mlrig/(curl+sync) %.2f\n' \
		"$run" "$t_mlrig" "$t_curl" "$t_curls" "$(echo "$t_mlrig / $t_curl" | bc -l)" "$(echo "$t_mlrig / $t_curls" | bc -l)"
done
