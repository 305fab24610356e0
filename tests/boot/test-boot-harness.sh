#!/bin/bash
# mlrig boot's harness on tiny GRUB-only UEFI images: --expect, --timeout, power-off, cleanup,
# --power-cut, and (with stand-ins for ssh and for a QEMU whose KVM fails) ssh retries, the
# ssh command, and the restart under TCG.
# Usage: bash tests/boot/test-boot-harness.sh BUILD_DIR   (about 80 s under TCG)
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

MARKER='MLRIG-HARNESS-MARKER-7f3a'

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

# 7. --power-cut: the checks pass, then QEMU is killed at once; exit 0 all the same.
"$MLRIG" boot "$tmp/wait.img" --expect "$MARKER" --power-cut --timeout 60 >out7.txt 2>err7.txt
rc=$?
if [ $rc -eq 0 ] && grep -q "^boot: expect '$MARKER' seen after" out7.txt && ! qemu_alive wait.img; then
	pass "--power-cut exits 0 and QEMU is gone"
else
	fail "--power-cut exits 0 and QEMU is gone (rc=$rc)"
	cat out7.txt err7.txt
fi

# A stand-in for ssh (the GRUB guest has no sshd): attempts ("true") are refused until
# $FAKE_SSH_OK_AFTER of them were made; a command prints itself and exits 3 when it starts with "fail".
mkdir -p fake-ssh
cat >fake-ssh/ssh <<'FAKE'
#!/bin/bash
for cmd; do :; done
if [ "$cmd" = true ]; then
	n=$(($(cat "$FAKE_SSH_COUNT" 2>/dev/null || echo 0) + 1))
	echo $n >"$FAKE_SSH_COUNT"
	if [ $n -lt "$FAKE_SSH_OK_AFTER" ]; then
		echo "ssh: connect to host 127.0.0.1 port 22: Connection refused" >&2
		exit 255
	fi
	exit 0
fi
echo "ran: $cmd"
case $cmd in fail*) exit 3 ;; esac
exit 0
FAKE
chmod +x fake-ssh/ssh
ssh-keygen -q -t ed25519 -N '' -f key >/dev/null
# fake_ssh OK_AFTER ARGS...: mlrig boot with the stand-in ssh
fake_ssh() {
	local ok_after=$1
	shift
	rm -f ssh-count
	FAKE_SSH_COUNT=$tmp/ssh-count FAKE_SSH_OK_AFTER=$ok_after PATH="$tmp/fake-ssh:$PATH" "$MLRIG" boot "$@"
}

# 8. ssh is refused once, works at the second attempt, then the command runs with its output on stdout.
fake_ssh 2 "$tmp/wait.img" --ssh key --ssh-command "echo hi" --timeout 60 >out8.txt 2>err8.txt
rc=$?
if [ $rc -eq 0 ] && grep -q "ssh works after .* s (2 attempts)" err8.txt && grep -qx "ran: echo hi" out8.txt &&
	grep -q "^boot: ssh ok after .* s; ssh command ok (\(tcg\|kvm\))$" out8.txt && ! qemu_alive wait.img; then
	pass "ssh retried until it works, then the command"
else
	fail "ssh retried until it works, then the command (rc=$rc)"
	cat out8.txt err8.txt
fi

# 9. The ssh command fails: exit 1, saying how.
fake_ssh 1 "$tmp/wait.img" --ssh key --ssh-command "fail now" --timeout 60 --log "$tmp/9.log" >out9.txt 2>err9.txt
rc=$?
if [ $rc -eq 1 ] && grep -q "boot: ssh command 'fail now' exited with status 3 (\(tcg\|kvm\)); serial log kept at" err9.txt; then
	pass "a failing ssh command exits 1"
else
	fail "a failing ssh command exits 1 (rc=$rc)"
	cat out9.txt err9.txt
fi

# 10. ssh never works: exit 1 at the timeout, with ssh's last complaint.
fake_ssh 1000 "$tmp/wait.img" --ssh key --timeout 6 --log "$tmp/10.log" >out10.txt 2>err10.txt
rc=$?
if [ $rc -eq 1 ] &&
	grep -q "boot: ssh did not succeed within 6 s; last ssh error: ssh: connect to host 127.0.0.1 port 22: Connection refused" err10.txt &&
	[ "$(cat ssh-count)" -ge 2 ] && ! qemu_alive wait.img; then
	pass "ssh that never works exits 1 at the timeout ($(cat ssh-count) attempts)"
else
	fail "ssh that never works exits 1 at the timeout (rc=$rc)"
	cat err10.txt
fi

# 11. A bad MLRIG_ACCEL is bad input.
MLRIG_ACCEL=xen "$MLRIG" boot "$tmp/wait.img" --timeout 60 >/dev/null 2>err11.txt
rc=$?
if [ $rc -eq 2 ] && grep -q "MLRIG_ACCEL=xen: expected 'kvm' or 'tcg'" err11.txt && ! qemu_alive wait.img; then
	pass "MLRIG_ACCEL=xen exits 2"
else
	fail "MLRIG_ACCEL=xen exits 2 (rc=$rc)"
	cat err11.txt
fi

# A stand-in for a QEMU whose KVM passes the probe (no serial console) and fails in the boot.
# With FAKE_KVM_EXIT=1 it stops mlrig (its parent) for half a second, says its complaint after
# 8 KiB of other output and exits, so that mlrig finds both at once, as when QEMU dies between
# two of its rounds: it reads 4 KiB, sees QEMU gone, and finds the complaint in what QEMU left.
# Under TCG it is the real QEMU.
real_qemu=$(command -v qemu-system-x86_64)
mkdir -p fake-kvm
cat >fake-kvm/qemu-system-x86_64 <<FAKE
#!/bin/bash
case " \$* " in
*" -accel kvm "*" -serial none "*) exec sleep 600 ;;
*" -accel kvm "*)
	if [ "\$FAKE_KVM_EXIT" = 1 ]; then
		(sleep 0.5; kill -CONT \$PPID) >/dev/null 2>&1 &
		kill -STOP \$PPID
		printf '%8000s\nKVM internal error. Suberror: 1\n' noise
		exit 1
	fi
	echo "KVM internal error. Suberror: 1"
	exec sleep 600 ;;
esac
exec $real_qemu "\$@"
FAKE
chmod +x fake-kvm/qemu-system-x86_64

# 12. MLRIG_ACCEL=kvm and KVM fails: no fallback, exit 1 naming QEMU's words.
MLRIG_ACCEL=kvm PATH="$tmp/fake-kvm:$PATH" "$MLRIG" boot "$tmp/wait.img" --expect "$MARKER" --timeout 60 --log "$tmp/12.log" >out12.txt 2>err12.txt
rc=$?
if [ $rc -eq 1 ] &&
	grep -q "boot: KVM failed (QEMU: \"KVM internal error\"); try MLRIG_ACCEL=tcg (kvm); serial log kept at" err12.txt &&
	! grep -q "restarting with TCG" err12.txt; then
	pass "forced KVM that fails exits 1"
else
	fail "forced KVM that fails exits 1 (rc=$rc)"
	cat err12.txt
fi

# 13-14. KVM passes the probe and fails in the boot, while QEMU runs or as it exits: the same
# boot again under TCG, to the end. Only where /dev/kvm opens: else mlrig does not probe.
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	for how in running exiting; do
		MLRIG_ACCEL='' FAKE_KVM_EXIT=$([ $how = exiting ] && echo 1) PATH="$tmp/fake-kvm:$PATH" \
			"$MLRIG" boot "$tmp/wait.img" --expect "$MARKER" --timeout 60 >out13.txt 2>err13.txt
		rc=$?
		if [ $rc -eq 0 ] && grep -q "Accelerator kvm (probe ran" err13.txt &&
			grep -q "KVM failed during boot (QEMU: \"KVM internal error\"), restarting with TCG." err13.txt &&
			grep -q "^boot: expect '$MARKER' seen after .* s (tcg)$" out13.txt && ! qemu_alive wait.img; then
			pass "KVM failing while QEMU $how: restarted under TCG"
		else
			fail "KVM failing while QEMU $how: restarted under TCG (rc=$rc)"
			cat out13.txt err13.txt
		fi
	done
else
	echo "SKIP KVM fallback: /dev/kvm cannot be opened, so mlrig does not probe it"
fi

cd / || exit 1
if [ $failed -eq 0 ]; then
	rm -rf "$tmp"
else
	echo "kept $tmp"
fi
exit $failed
