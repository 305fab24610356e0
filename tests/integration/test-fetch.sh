#!/bin/bash
# mlrig fetch against nginx on 127.0.0.1: resume after kill -9, checksums, SHA256SUMS by name, 404/TLS messages, gpgv.
. "$(dirname "$0")/../lib.sh"
need nginx python3 sha256sum
www=$T/www
mkdir -p "$www/20.04" "$www/rel" "$T/out"
_fetch_cleanup() {
	mountpoint -q "$T/full" 2>/dev/null && umount "$T/full"
	bash "$REPO/tests/fixtures/http-server.sh" stop "$T/http"
	[ -n "${GNUPGHOME:-}" ] && gpgconf --kill all 2>/dev/null
	_cleanup
}
trap _fetch_cleanup EXIT
port=$(bash "$REPO/tests/fixtures/http-server.sh" start "$T/http" "$www") || skip "could not start nginx on 127.0.0.1"
base=http://127.0.0.1:$port
export MLRIG_FETCH_BACKOFF_MS=50 # retries in tests should not take seconds

head -c 4M /dev/urandom >"$www/rel/big.bin"
big_sha=$(sha256sum "$www/rel/big.bin" | cut -d' ' -f1)
head -c 100K /dev/urandom >"$www/rel/small.bin"
(cd "$www/rel" && sha256sum big.bin small.bin >SHA256SUMS)

# resume: kill -9 while /slow/ trickles at 1 MiB/s, then run again
mkdir "$T/out/resume"
"$MLRIG" fetch -q --sha256 "$big_sha" -o "$T/out/resume" "$base/slow/rel/big.bin" &
pid=$!
for _ in $(seq 50); do
	[ "$(stat -c %s "$T/out/resume/big.bin.part" 2>/dev/null || echo 0)" -ge $((1024 * 1024)) ] && break
	sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null
part=$(stat -c %s "$T/out/resume/big.bin.part" 2>/dev/null || echo 0)
check "killed mid-way: a partial .part, no final file" test "$part" -gt 0 -a "$part" -lt 4194304 -a ! -e "$T/out/resume/big.bin"
out=$("$MLRIG" fetch -q --sha256 "$big_sha" -o "$T/out/resume" "$base/slow/rel/big.bin" 2>&1)
check "resumed download succeeds" test $? -eq 0
check "resumed file is identical" cmp "$www/rel/big.bin" "$T/out/resume/big.bin"
check "resume asked for a Range and got 206" grep -q "^206 GET /slow/rel/big.bin range=bytes=$part- " "$T/http/access.log"
check "no .part left after success" test ! -e "$T/out/resume/big.bin.part"
check "prints the verified sha256" grep -q "sha256 $big_sha (verified)" <<<"$out"

# --sums: the file's line in a SHA256SUMS
"$MLRIG" fetch -q --sums "$base/rel/SHA256SUMS" -o "$T/out" "$base/rel/small.bin" >/dev/null
check "--sums: verified download" cmp "$www/rel/small.bin" "$T/out/small.bin"
out=$("$MLRIG" fetch -q --sums "$base/rel/SHA256SUMS" -o "$T/out" "$base/rel/small.bin" 2>&1)
check "already there and matching: exit 0" test $? -eq 0

# a wrong checksum: no final file, nothing of the user's touched
mkdir "$T/out/bad"
echo "mine" >"$T/out/bad/other.txt"
err=$("$MLRIG" fetch -q --sha256 "$(printf '0%.0s' $(seq 64))" -o "$T/out/bad" "$base/rel/big.bin" 2>&1)
rc=$?
check "wrong checksum: exit 1" test $rc -eq 1
check "wrong checksum: says so" grep -q "sha256 mismatch" <<<"$err"
check "wrong checksum: no final file" test ! -e "$T/out/bad/big.bin"
check "wrong checksum: the user's files are untouched" grep -qx mine "$T/out/bad/other.txt"
# an existing file under the final name that does not match is left alone
echo "user data" >"$T/out/bad/small.bin"
"$MLRIG" fetch -q --sums "$base/rel/SHA256SUMS" -o "$T/out/bad" "$base/rel/small.bin" 2>/dev/null
check "an existing different file: exit 1 and kept" test $? -eq 1 -a "$(cat "$T/out/bad/small.bin")" = "user data"

# a full disk ends the fetch with the reason, and no final file (a retry must not skip what was not written)
mkdir "$T/full"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1M tmpfs "$T/full" 2>/dev/null; then
	err=$("$MLRIG" fetch -q --sha256 "$big_sha" -o "$T/full" "$base/rel/big.bin" 2>&1)
	rc=$?
	check "disk full: exit 1" test $rc -eq 1
	check "disk full: says so" grep -q "No space left on device" <<<"$err"
	check "disk full: no final file" test ! -e "$T/full/big.bin"
	umount "$T/full"
else
	echo "SKIP disk-full check: mounting a small tmpfs needs root"
fi

# errors that say what happened
err=$("$MLRIG" fetch -q -o "$T/out" "$base/rel/missing.iso" 2>&1)
rc=$?
check "404: exit 1" test $rc -eq 1
check "404: a clear message" grep -q "HTTP 404: the file is not on the server" <<<"$err"
check "404: no file left" test ! -e "$T/out/missing.iso" -a ! -e "$T/out/missing.iso.part"
mkdir "$T/out/tls"
err=$("$MLRIG" fetch -q -o "$T/out/tls" "https://127.0.0.1:$port/rel/small.bin" 2>&1)
check "TLS failure: a clear message" grep -q "TLS: the secure connection failed" <<<"$err"
err=$("$MLRIG" fetch -q --sums "$base/rel/SHA256SUMS" -o "$T/out" "$base/rel/nolisted.bin" 2>&1)
check "file missing from SHA256SUMS: said before downloading" grep -q "has no entry for nolisted.bin" <<<"$err"
"$MLRIG" fetch --sha256 xyz "$base/rel/small.bin" 2>/dev/null
check "bad --sha256: exit 2" test $? -eq 2
"$MLRIG" fetch ubuntu-19.04-nonsense 2>/dev/null
check "unknown name: exit 2" test $? -eq 2
# a closed port: retried with backoff, then a clear failure
cport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
err=$("$MLRIG" fetch -q -o "$T/out" "http://127.0.0.1:$cport/x.iso" 2>&1)
check "connection refused: retried, then fails" test "$(grep -c "trying again" <<<"$err")" -eq 5 -a $? -eq 0
check "connection refused: a clear message" grep -q "could not connect to the server" <<<"$err"

# known names through a mirror: the newest point release in SHA256SUMS
head -c 200K /dev/urandom >"$www/20.04/ubuntu-20.04.6-live-server-amd64.iso"
head -c 10K /dev/urandom >"$www/20.04/ubuntu-20.04.5-live-server-amd64.iso"
head -c 10K /dev/urandom >"$www/20.04/ubuntu-20.04.6-desktop-amd64.iso"
(cd "$www/20.04" && sha256sum *.iso >SHA256SUMS)
mkdir "$T/out/name"
MLRIG_FETCH_MIRROR=$base "$MLRIG" fetch -q -o "$T/out/name" ubuntu-20.04-live-server >/dev/null
check "known name via mirror: newest point release, verified" \
	cmp "$www/20.04/ubuntu-20.04.6-live-server-amd64.iso" "$T/out/name/ubuntu-20.04.6-live-server-amd64.iso"

# gpgv: a signed SHA256SUMS passes, a tampered one does not
if command -v gpg >/dev/null && command -v gpgv >/dev/null; then
	export GNUPGHOME=$T/gnupg
	mkdir -m 700 "$GNUPGHOME"
	gpg -q --batch --passphrase '' --quick-gen-key "mlrig test <test@example.invalid>" ed25519 sign never 2>/dev/null
	gpg -q --batch --export >"$T/keyring.gpg"
	gpg -q --batch --detach-sign -o "$www/rel/SHA256SUMS.gpg" "$www/rel/SHA256SUMS"
	mkdir "$T/out/gpg"
	"$MLRIG" fetch -q --keyring "$T/keyring.gpg" --sums "$base/rel/SHA256SUMS" -o "$T/out/gpg" "$base/rel/small.bin" >/dev/null 2>&1
	check "gpgv: good signature, file fetched" cmp "$www/rel/small.bin" "$T/out/gpg/small.bin"
	echo "0000000000000000000000000000000000000000000000000000000000000000  evil.bin" >>"$www/rel/SHA256SUMS"
	rm "$T/out/gpg/small.bin"
	err=$("$MLRIG" fetch -q --keyring "$T/keyring.gpg" --sums "$base/rel/SHA256SUMS" -o "$T/out/gpg" "$base/rel/small.bin" 2>&1)
	check "gpgv: tampered SHA256SUMS refused" test $? -eq 1 -a ! -e "$T/out/gpg/small.bin"
	check "gpgv: says the signature is bad" grep -q "signature of .* does not check out" <<<"$err"
else
	echo "SKIP gpgv checks: gpg or gpgv not installed"
fi
finish
