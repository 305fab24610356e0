#!/bin/bash
# mlrig iso outputs boot under QEMU (TCG), BIOS and UEFI, as a CD-ROM and as a
# USB disk (the hybrid image on a plain disk): the fixture's busybox initramfs
# prints the kernel command line, the firmware and the sha256 of the seed it
# was pointed at. The command line must carry mlrig's seed arguments exactly
# once and the hash must be that of the seed mlrig wrote.
# Usage: bash tests/boot/test-iso-boot.sh BUILD_DIR   (about 12 boots, ~10 s each)
. "$(dirname "$0")/../lib.sh"
PATH=$PATH:/usr/sbin:/sbin
need qemu-system-x86_64 xorriso osirrox sha256sum
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF not installed (make deps)"
[ -x "$MLRIG" ] || skip "$MLRIG not built"
export MLRIG_ACCEL=${MLRIG_ACCEL:-tcg} # KVM does not run guests on these machines
export MLRIG_AGENT=${MLRIG_AGENT:-$BUILD/compat/mlrig-firstboot}
[ -x "$MLRIG_AGENT" ] || MLRIG_AGENT=$BUILD/mlrig-firstboot

# boot_check NAME ISO SEED_PATH FIRMWARE(bios|uefi) MEDIUM(cd|usb)
boot_check() {
	local name=$1 iso=$2 seed=$3 fw=$4 medium=$5 log=$T/$1.log want got cmdline opts=() start=$SECONDS
	[ "$fw" = bios ] && opts+=(--bios)
	[ "$medium" = cd ] && opts+=(--cdrom)
	if ! "$MLRIG" boot "$iso" "${opts[@]}" --timeout 90 --memory 512 --log "$log" >"$T/$name.out" 2>&1; then
		fail "$name: boot did not reach power-off"
		tail -5 "$T/$name.out"
		tail -20 "$log"
		return
	fi
	want=$(sha256sum "$T/extract-$(basename "$iso" .iso)$seed" | cut -d' ' -f1)
	# GRUB's terminal codes may share the line: match anywhere, take the first
	cmdline=$(grep -ao 'mlrig-fixture: cmdline:.*' "$log" | head -1 | tr -d '\r')
	got=$(grep -ao 'mlrig-fixture: sha256 .*' "$log" | head -1 | tr -d '\r' | cut -d' ' -f3)
	local ok=1 fwname=BIOS
	[ "$fw" = uefi ] && fwname=UEFI
	grep -aq "mlrig-fixture: booted $fwname" "$log" || { ok=0; echo "not booted $fwname: $(grep -a booted "$log")"; }
	case $seed in
	/nocloud/user-data)
		[ "$(grep -o ' autoinstall ' <<<"$cmdline " | wc -l)" -eq 1 ] || { ok=0; echo "autoinstall not once: $cmdline"; }
		[ "$(grep -oF 'ds=nocloud;s=/cdrom/nocloud/' <<<"$cmdline" | wc -l)" -eq 1 ] || { ok=0; echo "ds= not once: $cmdline"; }
		;;
	*)
		[ "$(grep -oF 'file=/cdrom/preseed/mlrig.seed' <<<"$cmdline" | wc -l)" -eq 1 ] &&
			grep -q 'automatic-ubiquity' <<<"$cmdline" || { ok=0; echo "preseed args: $cmdline"; }
		;;
	esac
	grep -q 'console=ttyS0' <<<"$cmdline" || { ok=0; echo "original console args lost: $cmdline"; }
	[ "$got" = "$want" ] || { ok=0; echo "sha256 printed $got, mlrig wrote $want"; }
	if [ $ok = 1 ]; then pass "$name ($((SECONDS - start)) s)"; else fail "$name"; fi
}

cp -r "$REPO/images" "$T/p"
for w in focal-server jammy-server focal-desktop; do
	base=$(bash "$REPO/tests/fixtures/iso.sh" $w) || skip "cannot build the $w fixture ISO"
	if ! "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$base" -o "$T/$w.iso" 2>"$T/$w.err"; then
		fail "$w: mlrig iso"
		cat "$T/$w.err"
		continue
	fi
	mkdir -p "$T/extract-$w"
	osirrox -indev "$T/$w.iso" -extract / "$T/extract-$w" >/dev/null 2>&1
	seed=/nocloud/user-data
	[ $w = focal-desktop ] && seed=/preseed/mlrig.seed
	for fw in bios uefi; do
		for medium in cd usb; do
			# the desktop shares the server's boot structure: one boot of each firmware is enough
			[ $w = focal-desktop ] && [ $medium = usb ] && continue
			boot_check "$w-$fw-$medium" "$T/$w.iso" $seed $fw $medium
		done
	done
done
finish
