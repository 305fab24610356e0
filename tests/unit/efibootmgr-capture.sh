#!/bin/bash
# Makes the reference bytes of tests/unit/test-efi.c: efibootmgr (libefiboot's
# own device path code) creates a boot entry for the ESP of a small GPT disk,
# written into a fake efivarfs (libefivar 37 takes EFIVARFS_PATH), and this
# prints the variable as the C array the test compares mlrig's load option with.
# The disk's layout below is the one the test describes (ESP_* there).
#   sudo bash tests/unit/efibootmgr-capture.sh   (root: a loop device; efibootmgr)
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
[ "$(id -u)" -eq 0 ] || { echo "efibootmgr-capture.sh: needs root (losetup)" >&2; exit 1; }
command -v efibootmgr >/dev/null || { echo "efibootmgr-capture.sh: apt install efibootmgr" >&2; exit 1; }
work=$(mktemp -d)
loop=
cleanup() {
	[ -z "$loop" ] || losetup -d "$loop"
	rm -rf "$work"
}
trap cleanup EXIT

truncate -s 64M "$work/disk.img"
sfdisk -q "$work/disk.img" >/dev/null <<'EOF'
label: gpt
label-id: 6d6c7269-6700-4566-8900-000000000001
start=2048, size=65536, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=0a1b2c3d-4e5f-4607-8899-aabbccddeeff, name="EFI System"
start=67584, size=61440, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6d6c7269-6700-4566-8900-000000000002, name="rig root"
EOF
loop=$(losetup --show -f -P "$work/disk.img")
mkdir "$work/efivars"
EFIVARFS_PATH=$work/efivars/ efibootmgr -q -c -d "$loop" -p 1 -l '\EFI\BOOT\BOOTX64.EFI' -L 'Debian GNU/Linux' >/dev/null
var=$(ls "$work"/efivars/Boot0000-*)
echo "/* Made by tests/unit/efibootmgr-capture.sh: efibootmgr $(efibootmgr --version | sed -n 's/^version //p'), libefiboot $(dpkg-query -W -f='${Version}' libefiboot1 2>/dev/null || echo '?'):"
echo " * efibootmgr -c -d DISK -p 1 -l '\\EFI\\BOOT\\BOOTX64.EFI' -L 'Debian GNU/Linux' (efivarfs file without its 4 attribute bytes) */"
echo "static const uint8_t efibootmgr_boot0000[] = {"
tail -c +5 "$var" | od -An -v -tx1 | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1, /g; s/^/\t/; s/, $/,/'
echo "};"
