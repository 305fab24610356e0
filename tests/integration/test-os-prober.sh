#!/bin/bash
# Dual boot without a VM: the real os-prober and GRUB's own 30_os-prober over the
# Windows fixture disk (tests/fixtures/windows.sh, attached read-only with
# losetup), fed with the GRUB defaults the agent's boot-order stage writes into a
# --root tree. Shows that the fixture is what os-prober calls Windows Boot
# Manager, that mlrig's GRUB_DISABLE_OS_PROBER turns GRUB's Windows entry on and
# off, that [Boot] Default=windows picks that entry's title (the one with the
# /dev path os-prober found) and that GRUB's header then sets it as the default,
# with the profile's Timeout=; Default=saved makes GRUB remember the choice.
#
# This host boots without UEFI and runs no udevd, and os-prober's ESP probe
# needs both: it runs in a mount namespace whose /sys/firmware holds an empty
# efi/ directory and whose /sys/block lists only the fixture's loop device
# (so it probes nothing else on the host), with a udevadm stand-in on PATH that answers the two queries
# os-prober and grub-probe make ('info -q property': blkid -p's udev export,
# what udev's blkid builtin records; 'info -q path': sysfs's /dev/block/MAJ:MIN
# alias, so os-prober's skip of virtual devices, which a loop device is, keeps
# the fixture). Everything else is os-prober's and GRUB's own code.
. "$(dirname "$0")/../lib.sh"
need_root "losetup attaches the Windows fixture disk"
PATH=$PATH:/usr/sbin:/sbin
need losetup partx blkid unshare grub-mount grub-probe
command -v os-prober >/dev/null || skip "os-prober is not installed (make deps: os-prober)"
[ -x /etc/grub.d/30_os-prober ] && [ -f /usr/share/grub/grub-mkconfig_lib ] || skip "no GRUB menu scripts (/etc/grub.d, grub-common)"
[ -c /dev/fuse ] || skip "no /dev/fuse: grub-mount, which os-prober mounts partitions with, needs it"
windows=$(bash "$REPO/tests/fixtures/windows.sh") || skip "no Windows fixture disk (tests/fixtures/windows.sh)"
AGENT=$BUILD/mlrig-firstboot

loop=
detach() {
	[ -z "$loop" ] || losetup -d "$loop"
	_cleanup
}
trap detach EXIT
loop=$(losetup --show -f -P -r "$windows") || skip "losetup cannot attach a loop device here"
# where the kernel's own scan left no partitions (a container), partx adds them
[ -b "${loop}p1" ] || partx -a "$loop" 2>/dev/null || true
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b "${loop}p3" ] && break; sleep 0.2; done
[ -b "${loop}p1" ] && [ -b "${loop}p3" ] || skip "no partition devices for $loop (partx -a failed)"
esp=${loop}p1
esp_uuid=$(blkid -p -s UUID -o value "$esp")

mkdir "$T/shim"
cat >"$T/shim/udevadm" <<'EOF'
#!/bin/sh
# test-os-prober.sh's stand-in for udev's database: udevadm info -q property|path -n DEV
q= n=
while [ $# -gt 0 ]; do
	case $1 in
	-q | --query) q=$2; shift ;;
	--query=*) q=${1#*=} ;;
	-n | --name) n=$2; shift ;;
	--name=*) n=${1#*=} ;;
	esac
	shift
done
mm=$(stat -L -c '%Hr:%Lr' "$n") || exit 1
case $q in
property) exec blkid -p -o udev "$n" ;;
path) echo "/dev/block/$mm" ;;
*) exit 1 ;;
esac
EOF
chmod +x "$T/shim/udevadm"

# in_efi_ns COMMAND...: runs it where /sys/firmware/efi exists, the stand-in is on PATH and
# /sys/block lists only the fixture's loop device (os-prober probes every partition there: not
# this host's disks, nor another test's loop devices)
sys_loop=$(readlink -f "/sys/block/${loop#/dev/}")
in_efi_ns() {
	PATH=$T/shim:$PATH unshare -m sh -c '
		[ -d /sys/firmware/efi ] || { mount -t tmpfs -o size=64k mlrig-test /sys/firmware && mkdir /sys/firmware/efi; } || exit 99
		mount -t tmpfs -o size=64k mlrig-test /sys/block && ln -s "$0" "/sys/block/${0##*/}" || exit 99
		exec "$@"' "$sys_loop" "$@"
}

# --- os-prober itself
in_efi_ns os-prober >"$T/probed" 2>"$T/probed.err"
rc=$?
[ $rc -ne 99 ] || skip "cannot mount a tmpfs over /sys/firmware and /sys/block in a mount namespace (unshare -m)"
echo "os-prober: $(grep -F "$loop" "$T/probed")"
check "os-prober finds the fixture's Windows Boot Manager on its ESP" \
	grep -qx "$esp@/efi/Microsoft/Boot/bootmgfw.efi:Windows Boot Manager:Windows:efi" "$T/probed"
check "and nothing else (the NTFS partition holds no loader)" test "$(grep -c . "$T/probed")" -eq 1

# --- a rig tree, and the GRUB defaults the stage writes into it
R=$T/root
mkdir -p "$R/etc/mlrig" "$R/etc/default" "$R/usr/sbin" "$R/usr/bin" "$R/boot/grub"
printf 'ID=debian\nNAME="Debian GNU/Linux"\n' >"$R/etc/os-release"
cp "$REPO/images/keys/demo_ed25519.pub" "$R/etc/mlrig/keys.pub"
: >"$R/usr/sbin/update-grub"
: >"$R/usr/bin/os-prober"
# profile BOOT_KEYS...: the rig's rig.conf with these [Boot] lines
profile() {
	printf '[Rig]\nHostname=dual\nUser=rig\nAuthorizedKeys=/etc/mlrig/keys.pub\n[Boot]\n' >"$R/etc/mlrig/rig.conf"
	printf '%s\n' "$@" >>"$R/etc/mlrig/rig.conf"
}
defaults=$R/etc/default/grub.d/50-mlrig.cfg
# menu SCRIPT: GRUB's script, with the variables grub-mkconfig exports after sourcing the defaults
menu() {
	(
		set -a
		# shellcheck disable=SC1090
		. "$defaults"
		set +a
		pkgdatadir=/usr/share/grub in_efi_ns sh "$1"
	) 2>/dev/null
}
stage() {
	"$AGENT" --root "$R" stage boot-order >"$T/stage.out" 2>&1
}

profile DualBoot=no
stage
check "DualBoot=no: the stage keeps os-prober off" grep -qx 'GRUB_DISABLE_OS_PROBER=true' "$defaults"
menu /etc/grub.d/30_os-prober >"$T/menu-off"
check "DualBoot=no: GRUB's menu gets no Windows entry" eval '! grep -q "Windows" "$T/menu-off"'

profile DualBoot=yes Default=windows Timeout=7
stage
check "DualBoot=yes: the stage runs" grep -q "stage boot-order ok" "$T/stage.out"
check "DualBoot=yes: os-prober on" grep -qx 'GRUB_DISABLE_OS_PROBER=false' "$defaults"
check "no menu yet: Default=windows starts at entry 0" grep -qx 'GRUB_DEFAULT="0"' "$defaults"
{
	menu /etc/grub.d/00_header
	menu /etc/grub.d/30_os-prober
} >"$R/boot/grub/grub.cfg"
title="Windows Boot Manager (on $esp)"
check "GRUB's menu: os-prober's Windows Boot Manager, named after the device os-prober found" \
	grep -qF "menuentry '$title' --class windows" "$R/boot/grub/grub.cfg"
sed -n "/^menuentry .Windows Boot Manager/,/^}/p" "$R/boot/grub/grub.cfg" >"$T/winentry"
check "GRUB's entry finds the ESP by its UUID (blkid's $esp_uuid)" \
	grep -qx "	search --no-floppy --fs-uuid --set=root $esp_uuid" "$T/winentry"
check "and chainloads bootmgfw.efi" grep -qx "	chainloader /efi/Microsoft/Boot/bootmgfw.efi" "$T/winentry"

# the agent reads that menu back: its default is the entry's title, as GRUB matches it
stage
echo "$(grep '^GRUB_DEFAULT=' "$defaults") from a menu entry titled '$title'"
check "Default=windows: GRUB_DEFAULT is that entry's exact title" grep -qxF "GRUB_DEFAULT=\"$title\"" "$defaults"
menu /etc/grub.d/00_header >"$T/header"
check "GRUB's header sets it as the default" grep -qF "set default=\"$title\"" "$T/header"
check "and the profile's Timeout= (7 s), the menu shown" eval \
	'grep -q "^    set timeout=7$" "$T/header" && grep -q "^    set timeout_style=menu$" "$T/header"'
stage
check "a second run changes nothing" grep -qxF "GRUB_DEFAULT=\"$title\"" "$defaults"

profile DualBoot=yes Default=saved
stage
check "Default=saved: GRUB remembers the last choice" eval 'grep -qx "GRUB_DEFAULT=\"saved\"" "$defaults" && grep -qx "GRUB_SAVEDEFAULT=true" "$defaults"'
menu /etc/grub.d/00_header >"$T/header"
menu /etc/grub.d/30_os-prober >"$T/menu-saved"
check "Default=saved: GRUB's header boots the saved entry, the Windows entry saves itself" eval \
	'grep -qF "set default=\"\${saved_entry}\"" "$T/header" && sed -n "/^menuentry .Windows Boot Manager/,/^}/p" "$T/menu-saved" | grep -q savedefault'

profile DualBoot=yes Default=linux
stage
check "Default=linux: GRUB's first entry (Linux) again" grep -qx 'GRUB_DEFAULT="0"' "$defaults"
finish
