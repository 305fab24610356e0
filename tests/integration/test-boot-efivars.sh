#!/bin/bash
# mlrig boot's firmware options without a VM: a stand-in qemu-system-x86_64 on
# PATH writes down its arguments and exits, so what mlrig hands QEMU can be read.
# --efivars FILE is made from OVMF's template when absent, given to QEMU as the
# writable variable store itself (not a copy), and kept as the previous boot
# left it; --secure-boot takes the 4 MiB Secure Boot code and Microsoft's
# enrolled template; --disk is repeatable, in order. (tests/boot/test-dualboot.sh
# boots the same machine three times with one --efivars file.)
. "$(dirname "$0")/../lib.sh"
need cmp
vars=/usr/share/OVMF/OVMF_VARS.fd
vars_sb=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
for f in $vars $vars_sb /usr/share/OVMF/OVMF_CODE.fd /usr/share/OVMF/OVMF_CODE_4M.secboot.fd; do
	[ -r "$f" ] || skip "no $f (make deps: ovmf)"
done
mkdir "$T/bin" "$T/tmp"
cat >"$T/bin/qemu-system-x86_64" <<EOF
#!/bin/sh
# test-boot-efivars.sh's stand-in: one line of arguments per start, then "QEMU failed"
printf '%s\n' "\$*" >>"$T/qemu.args"
exit 1
EOF
chmod +x "$T/bin/qemu-system-x86_64"
truncate -s 1M "$T/disk.img" "$T/win.img" "$T/data.img"
# boot ARGS...: one mlrig boot with the stand-in; its last QEMU start (not the KVM probe) in $T/last
boot() {
	: >"$T/qemu.args"
	PATH=$T/bin:$PATH TMPDIR=$T/tmp "$MLRIG" boot "$T/disk.img" --timeout 5 "$@" >"$T/out" 2>&1
	tail -n 1 "$T/qemu.args" >"$T/last"
}
# pflash UNIT: the file= of that pflash drive in the last QEMU start
pflash() {
	tr ' ' '\n' <"$T/last" | grep "^if=pflash,.*unit=$1," | sed 's/.*file=//'
}

boot --efivars "$T/vars.fd"
check "--efivars: made from OVMF's template when absent, and says so" eval \
	'cmp -s "$T/vars.fd" $vars && grep -q "UEFI variables: created $T/vars.fd from $vars" "$T/out"'
check "--efivars: QEMU's variable store is the file itself, writable" eval \
	'[ "$(pflash 1)" = "$T/vars.fd" ] && ! grep -q "unit=1,readonly" "$T/last"'
check "--efivars: the code is plain OVMF, read-only" grep -q "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd " "$T/last"
# what a boot leaves there (a Boot#### the guest wrote): kept for the next boot
printf 'mlrig-test' | dd of="$T/vars.fd" bs=1 seek=70000 conv=notrunc status=none
cp "$T/vars.fd" "$T/vars.before"
boot --efivars "$T/vars.fd"
check "--efivars: a second boot keeps what the first left (not made again)" eval \
	'cmp -s "$T/vars.fd" "$T/vars.before" && ! grep -q "created" "$T/out" && grep -q "UEFI variables: $T/vars.fd (kept)" "$T/out"'
check "--efivars: the KVM probe never gets the kept file" eval \
	'! grep -e "-accel kvm" "$T/qemu.args" | grep -q "file=$T/vars.fd"'

boot --secure-boot --efivars "$T/vars-sb.fd"
check "--secure-boot: Microsoft's enrolled 4 MiB template, the Secure Boot code" eval \
	'cmp -s "$T/vars-sb.fd" $vars_sb && [ "$(pflash 0)" = /usr/share/OVMF/OVMF_CODE_4M.secboot.fd ] && [ "$(pflash 1)" = "$T/vars-sb.fd" ]'
check "--secure-boot: the q35 machine with SMM, as the Secure Boot firmware needs" grep -q "smm=on" "$T/last"
boot --secure-boot
check "--secure-boot without --efivars: a fresh copy of the template, not the template itself" eval \
	'[ -n "$(pflash 1)" ] && [ "$(pflash 1)" != $vars_sb ] && case "$(pflash 1)" in "$T/tmp/"*) true ;; *) false ;; esac'

boot --disk "$T/win.img" --disk "$T/data.img"
check "--disk, twice: both attached after the image, in order" eval \
	'tr " " "\n" <"$T/last" | grep "^file=.*\.img" | sed "s/,.*//" | tr "\n" " " | grep -qx "file=$T/disk.img file=$T/win.img file=$T/data.img "'
finish
