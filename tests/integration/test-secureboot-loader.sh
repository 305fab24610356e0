#!/bin/bash
# The ESP's loader and the Secure Boot warnings, built for real but not booted
# (tests/boot/test-secureboot.sh boots them): from the fixture rootfs without
# shim-signed and grub-efi-amd64-signed, mlrig check --rootfs and mlrig image
# warn and the ESP gets grub-mkimage's GRUB, which mlrig inspect calls unsigned;
# from a rootfs whose shimx64.efi.signed is a symlink to the file
# (shimx64.efi.signed.latest, as Ubuntu's shim-signed lays it out), the ESP
# gets that signed shim, with no warning.
. "$(dirname "$0")/../lib.sh"
need tar mtype cmp
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
tar -tf "$rootfs" ./usr/lib/shim/shimx64.efi.signed >/dev/null 2>&1 || skip "the rootfs fixture has no shim-signed"
cp -r "$REPO/images" "$T/p"
export MTOOLS_SKIP_CHECK=1
esp_off=$((2048 * 512))
warning="this image will not boot with Secure Boot on: the rootfs has no shim-signed / grub-efi-amd64-signed"
shim=./usr/lib/shim/shimx64.efi.signed
grub=./usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed

# --- no signed pair
cp "$rootfs" "$T/unsigned.tar"
tar --delete -f "$T/unsigned.tar" "$shim" "$grub"
"$MLRIG" check -p "$T/p/demo.conf" --rootfs "$T/unsigned.tar" >"$T/check.out" 2>&1
check "unsigned: mlrig check --rootfs warns before anything is built" grep -q "^warning: $warning" "$T/check.out"
"$MLRIG" image -q -p "$T/p/demo.conf" --rootfs "$T/unsigned.tar" -o "$T/unsigned.img" 2>"$T/build.log"
check "unsigned: mlrig image builds it and warns" eval '[ -s "$T/unsigned.img" ] && grep -q "warning: image: $warning" "$T/build.log"'
check "unsigned: mlrig inspect says the loader is unsigned" \
	grep -qx "EFI loader: GRUB from grub-mkimage (unsigned: will not boot with Secure Boot on)" <("$MLRIG" inspect "$T/unsigned.img" 2>&1)
check "unsigned: BOOTX64.EFI is a PE image, not the rootfs's shim" eval \
	'mtype -i "$T/unsigned.img@@$esp_off" ::/EFI/BOOT/BOOTX64.EFI | head -c 2 | grep -q MZ &&
	! cmp -s <(mtype -i "$T/unsigned.img@@$esp_off" ::/EFI/BOOT/BOOTX64.EFI) <(tar -xOf "$rootfs" "$shim")'
rm -f "$T/unsigned.img" "$T/unsigned.tar"

# --- the signed shim behind a symlink
mkdir -p "$T/fs/usr/lib/shim"
tar -xOf "$rootfs" "$shim" >"$T/fs/usr/lib/shim/shimx64.efi.signed.latest"
ln -s shimx64.efi.signed.latest "$T/fs/usr/lib/shim/shimx64.efi.signed"
cp "$rootfs" "$T/linked.tar"
tar --delete -f "$T/linked.tar" "$shim"
tar -rf "$T/linked.tar" -C "$T/fs" ./usr/lib/shim/shimx64.efi.signed.latest "$shim"
check "linked: the tarball has shimx64.efi.signed as a link" \
	eval 'tar -tvf "$T/linked.tar" "$shim" | grep -q "^l.* -> shimx64.efi.signed.latest$"'
"$MLRIG" check -p "$T/p/demo.conf" --rootfs "$T/linked.tar" >"$T/check.out" 2>&1
check "linked: mlrig check --rootfs gives no Secure Boot warning" eval '! grep -q "Secure Boot" "$T/check.out"'
"$MLRIG" image -q -p "$T/p/demo.conf" --rootfs "$T/linked.tar" -o "$T/linked.img" 2>"$T/build.log"
check "linked: mlrig image builds it, no Secure Boot warning" eval '[ -s "$T/linked.img" ] && ! grep -q "Secure Boot" "$T/build.log"'
check "linked: the ESP's BOOTX64.EFI is the signed shim the link names" \
	cmp -s <(mtype -i "$T/linked.img@@$esp_off" ::/EFI/BOOT/BOOTX64.EFI) "$T/fs/usr/lib/shim/shimx64.efi.signed.latest"
check "linked: and GRUB beside it is the signed one" \
	cmp -s <(mtype -i "$T/linked.img@@$esp_off" ::/EFI/BOOT/grubx64.efi) <(tar -xOf "$rootfs" "$grub")
check "linked: mlrig inspect says it boots with Secure Boot on" \
	grep -qx "EFI loader: shim + GRUB, signed, from the rootfs (boots with Secure Boot on)" <("$MLRIG" inspect "$T/linked.img" 2>&1)
rm -f "$T/linked.img" "$T/linked.tar"
finish
