#!/bin/bash
# mlrig image on bad input: each case exits non-zero with a clear message and
# leaves nothing at the output path (nor a temp file next to it).
. "$(dirname "$0")/../lib.sh"
need python3 truncate
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
cp -r "$REPO/images" "$T/p"

# expect_failure NAME EXPECTED_STATUS MESSAGE_REGEX ARGS...: one bad input.
expect_failure() {
	local name=$1 want=$2 msg=$3 out=$T/out/$1 rc
	shift 3
	rm -rf "$T/out" && mkdir -p "$T/out"
	"$MLRIG" image -q -p "$T/p/demo.conf" -o "$out.img" "$@" >"$T/log" 2>&1
	rc=$?
	if [ $rc -ne "$want" ]; then fail "$name: exit $rc, expected $want"; cat "$T/log"; return; fi
	if ! grep -Eq -- "$msg" "$T/log"; then fail "$name: message"; echo "got: $(cat "$T/log")"; return; fi
	if grep -q -- '%m' "$T/log"; then fail "$name: a literal %m in the message"; cat "$T/log"; return; fi
	if [ -n "$(ls -A "$T/out")" ]; then fail "$name: left files: $(ls -A "$T/out")"; return; fi
	pass "$name"
}

python3 - "$T" <<'PY'
import io, sys, tarfile
d = sys.argv[1]
def make(name, members):
    with tarfile.open(f"{d}/{name}", "w", format=tarfile.GNU_FORMAT) as t:
        for n in members:
            data = b'ID=debian\nPRETTY_NAME="Debian"\n' if n.endswith("os-release") else b"x\n"
            i = tarfile.TarInfo(n)
            i.size = len(data)
            t.addfile(i, io.BytesIO(data))
make("dotdot.tar", ["./etc/hostname", "./etc/../../escape"])
make("absolute.tar", ["./etc/hostname", "/etc/shadow"])
make("nokernel.tar", ["./etc/passwd", "./usr/lib/os-release"])
PY
head -c $(( $(stat -c %s "$rootfs") / 2 )) "$rootfs" >"$T/truncated.tar"
echo "this is not a tarball" >"$T/garbage.tar"

expect_failure dotdot 1 "'\./etc/\.\./\.\./escape'.*escapes" --rootfs "$T/dotdot.tar"
expect_failure absolute 1 "'/etc/shadow'.*absolute" --rootfs "$T/absolute.tar"
expect_failure truncated 1 "truncated.tar|[Tt]runcated" --rootfs "$T/truncated.tar"
expect_failure garbage 1 "garbage.tar" --rootfs "$T/garbage.tar"
expect_failure no-kernel 1 "no kernel" --rootfs "$T/nokernel.tar"
expect_failure too-small 1 "needs [0-9]+ MiB, have [0-9]+ MiB" --rootfs "$rootfs" --size 300M
expect_failure missing-rootfs 2 "no-such.tar.*No such file" --rootfs "$T/no-such.tar"
expect_failure tiny-size 2 "too small" --rootfs "$rootfs" --size 64M

rm -rf "$T/out" && mkdir -p "$T/out"
"$MLRIG" image -p "$T/missing.conf" --rootfs "$rootfs" -o "$T/out/x.img" >"$T/log" 2>&1
rc=$?
check "missing profile: exit 2, names the file, no output" \
	eval '[ $rc -eq 2 ] && grep -q "missing.conf: cannot read profile: No such file or directory" "$T/log" && [ -z "$(ls -A "$T/out")" ]'

"$MLRIG" image --rootfs x >"$T/log" 2>&1
rc=$?
check "usage error: exit 2 and a hint" eval '[ $rc -eq 2 ] && grep -q "Try .mlrig image --help." "$T/log"'

# Ctrl-C in the middle: nothing at the output path. Signal as soon as the
# temp file exists, while the rootfs streams (about a second here).
rm -rf "$T/out" && mkdir -p "$T/out"
"$MLRIG" image -q -p "$T/p/demo.conf" --rootfs "$rootfs" -o "$T/out/int.img" >"$T/log" 2>&1 &
pid=$!
for _ in $(seq 500); do [ -n "$(ls -A "$T/out")" ] && break; sleep 0.01; done
alive=0; kill -0 $pid 2>/dev/null && alive=1
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
check "SIGINT while building: interrupted" test $alive -eq 1 -a $rc -ne 0
check "SIGINT: no output, no temp file" test -z "$(ls -A "$T/out")"
finish
