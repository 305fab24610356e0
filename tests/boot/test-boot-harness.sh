#!/bin/bash
# mlrig boot's harness on tiny GRUB-only UEFI images: --expect, --timeout, power-off, cleanup.
# Usage: bash tests/boot/test-boot-harness.sh BUILD_DIR   (about 40 s under TCG)
set -u

BUILD=${1:-build}
MLRIG=$BUILD/mlrig
PATH=$PATH:/usr/sbin:/sbin

for tool in qemu-system-x86_64 grub-mkimage sfdisk mkfs.vfat mmd mcopy sha256sum pgrep ssh-keygen; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP $tool not installed"
		exit 77
	fi
done
if [ ! -d /usr/lib/grub/x86_64-efi ]; then
	echo "SKIP grub-efi-amd64-bin not installed"
	exit 77
fi
if [ ! -r /usr/share/OVMF/OVMF_CODE.fd ]; then
	echo "SKIP OVMF not installed"
	exit 77
fi
if [ ! -x "$MLRIG" ]; then
	echo "SKIP $MLRIG not built"
	exit 77
fi
MLRIG=$(realpath "$MLRIG")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mlrig-test-boot-harness-XXXXXX")
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; failed=1; }
cd "$tmp" || exit 1

MARKER=MLRIG-HARNESS-MARKER-7f3a

# make_image NAME GRUB_SCRIPT: a GPT disk with an ESP whose BOOTX64.EFI runs GRUB_SCRIPT.
make_image() {
	printf '%s\n' "$2" >"$1.cfg"
	grub-mkimage -O x86_64-efi -p /EFI/BOOT -c "$1.cfg" -o "$1.efi" echo sleep halt &&
		mkfs.vfat -C "$1.esp" 4096 >/dev/null &&
		mmd -i "$1.esp" ::/EFI ::/EFI/BOOT &&
		mcopy -i "$1.esp" "$1.efi" ::/EFI/BOOT/BOOTX64.EFI &&
		truncate -s 8M "$1.img" &&
		printf 'label: gpt\nlabel-id: 0d1e2f3a-0000-4000-8000-000000000001\nstart=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=0d1e2f3a-0000-4000-8000-000000000002, name="ESP"\n' |
		sfdisk -q "$1.img" >/dev/null &&
		dd if="$1.esp" of="$1.img" bs=512 seek=2048 conv=notrunc status=none
}

if ! make_image wait "echo \"$MARKER booted\"
sleep 600" || ! make_image halt "echo \"$MARKER halting\"
halt"; then
	echo "FAIL building the test images"
	exit 1
fi
sum_before=$(sha256sum wait.img | cut -d' ' -f1)

# qemu_alive IMAGE: is a QEMU of ours still running on this image?
qemu_alive() {
	pgrep -f "qemu-system-x86_64.*$tmp/$1" >/dev/null
}

# 1. The marker is seen: exit 0, QEMU shut down, the summary line.
start=$SECONDS
"$MLRIG" boot "$tmp/wait.img" --expect "$MARKER" --timeout 60 >out1.txt 2>err1.txt
rc=$?
if [ $rc -eq 0 ] && grep -q "^boot: expect '$MARKER' seen after .* s (\(tcg\|kvm\))$" out1.txt && ! qemu_alive wait.img; then
	pass "expect seen exits 0 ($(cat out1.txt), $((SECONDS - start)) s)"
else
	fail "expect seen exits 0 (rc=$rc)"
	cat out1.txt err1.txt
fi

# 2. The marker never comes: exit 1 at the timeout, log kept, QEMU gone.
start=$SECONDS
"$MLRIG" boot "$tmp/wait.img" --expect "NOT-$MARKER" --timeout 20 --log "$tmp/never.log" >out2.txt 2>err2.txt
rc=$?
took=$((SECONDS - start))
if [ $rc -eq 1 ] && [ $took -ge 19 ] && [ $took -le 35 ] && grep -q "expected text not seen within 20 s" err2.txt &&
	grep -q "serial log kept at $tmp/never.log" err2.txt && grep -q "$MARKER booted" never.log; then
	pass "expect not seen exits 1 after the timeout ($took s)"
else
	fail "expect not seen exits 1 after the timeout (rc=$rc, $took s)"
	cat err2.txt
fi
sleep 0.5
if qemu_alive wait.img; then
	fail "QEMU is gone after a timeout"
	pkill -f "qemu-system-x86_64.*$tmp/wait.img"
else
	pass "QEMU is gone after a timeout"
fi

# 3. Neither --expect nor --ssh: runs until the guest powers off.
"$MLRIG" boot "$tmp/halt.img" --timeout 60 >out3.txt 2>err3.txt
rc=$?
if [ $rc -eq 0 ] && grep -q "^boot: guest powered off after" out3.txt; then
	pass "power-off ends the boot with exit 0"
else
	fail "power-off ends the boot with exit 0 (rc=$rc)"
	cat out3.txt err3.txt
fi

# 4. SIGTERM to mlrig: QEMU goes with it, exit 1.
"$MLRIG" boot "$tmp/wait.img" --timeout 60 --log "$tmp/term.log" >/dev/null 2>err4.txt &
pid=$!
for _ in $(seq 50); do
	qemu_alive wait.img && break
	sleep 0.1
done
sleep 1
kill -TERM $pid
wait $pid
rc=$?
sleep 0.3
if [ $rc -eq 1 ] && grep -q "interrupted" err4.txt && ! qemu_alive wait.img; then
	pass "SIGTERM stops QEMU"
else
	fail "SIGTERM stops QEMU (rc=$rc)"
	cat err4.txt
	pkill -f "qemu-system-x86_64.*$tmp/wait.img"
fi

# 5. The image is never written to.
if [ "$(sha256sum wait.img | cut -d' ' -f1)" = "$sum_before" ]; then
	pass "image unchanged after boots"
else
	fail "image unchanged after boots"
fi

# 6. Bad input, before any VM starts.
"$MLRIG" boot "$tmp/missing.img" --expect x >/dev/null 2>err6.txt
rc1=$?
"$MLRIG" boot "$tmp/wait.img" --forward 80 >/dev/null 2>&1
rc2=$?
"$MLRIG" boot "$tmp/wait.img" --user root >/dev/null 2>&1
rc3=$?
if [ $rc1 -eq 1 ] && grep -q "Failed to open image '$tmp/missing.img': No such file or directory" err6.txt &&
	[ $rc2 -eq 2 ] && [ $rc3 -eq 2 ]; then
	pass "missing image exits 1, usage errors exit 2"
else
	fail "missing image exits 1, usage errors exit 2 (got $rc1 $rc2 $rc3)"
fi

cd / || exit 1
if [ $failed -eq 0 ]; then
	rm -rf "$tmp"
else
	echo "kept $tmp"
fi
exit $failed
