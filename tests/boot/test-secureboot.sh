#!/bin/bash
# Secure Boot and the ESP's loader: a rootfs without shim-signed and
# grub-efi-amd64-signed gets the warning from mlrig check --rootfs and when
# mlrig image builds from it, mlrig inspect says the image's loader is
# unsigned, and mlrig boot --secure-boot (Microsoft's keys) shows the firmware
# refusing it. The signed image booting under Secure Boot, with the kernel
# reporting it, is in test-dualboot.sh.
. "$(dirname "$0")/../lib.sh"
need qemu-system-x86_64 tar
for f in /usr/share/OVMF/OVMF_CODE_4M.secboot.fd /usr/share/OVMF/OVMF_VARS_4M.ms.fd; do
	[ -r "$f" ] || skip "$f is missing (make deps: ovmf)"
done
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
cp -r "$REPO/images" "$T/p"
cp "$rootfs" "$T/unsigned.tar"
tar --delete -f "$T/unsigned.tar" ./usr/lib/shim/shimx64.efi.signed ./usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
warning="this image will not boot with Secure Boot on: the rootfs has no shim-signed / grub-efi-amd64-signed"

"$MLRIG" check -p "$T/p/demo.conf" --rootfs "$T/unsigned.tar" >"$T/check.out" 2>&1
check "mlrig check --rootfs warns before anything is built" grep -q "^warning: $warning" "$T/check.out"
"$MLRIG" image -q -p "$T/p/demo.conf" --rootfs "$T/unsigned.tar" -o "$T/unsigned.img" 2>"$T/build.log"
check "mlrig image builds it and warns" eval '[ -s "$T/unsigned.img" ] && grep -q "warning: image: $warning" "$T/build.log"'
"$MLRIG" inspect "$T/unsigned.img" >"$T/inspect.out" 2>&1
check "mlrig inspect says the loader is unsigned" \
	grep -qx "EFI loader: GRUB from grub-mkimage (unsigned: will not boot with Secure Boot on)" "$T/inspect.out"

"$MLRIG" boot "$T/unsigned.img" --secure-boot --expect "Access Denied" --timeout 180 --log "$T/sb.log" >"$T/sb.out" 2>&1
rc=$?
check "with Secure Boot on, the firmware refuses the image's loader" \
	eval '[ $rc -eq 0 ] && grep -q "BdsDxe: failed to load Boot0001 \"UEFI Misc Device\" .*: Access Denied" "$T/sb.log"'
[ $rc -eq 0 ] || { cat "$T/sb.out"; tail -20 "$T/sb.log"; }
check "and nothing of the image ran" eval '! grep -q "GNU GRUB\|Linux version" "$T/sb.log"'
finish
