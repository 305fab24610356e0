#!/bin/bash
# Dual boot, proven: the rig image beside the Windows-shaped fixture disk, one
# --efivars file across the boots of one machine; then the same with Secure
# Boot on (Debian's OVMF, Microsoft's keys).
#  boot 1: the agent creates the rig's own entry, HD() of the rig's ESP as
#          sfdisk reads it, first in BootOrder; efibootmgr writes the same bytes
#          for that ESP; GRUB's menu has os-prober's Windows Boot Manager and
#          the profile's timeout; a second run of the stage makes no second
#          entry; then, as a Windows update does, efibootmgr puts a "Windows Boot
#          Manager" entry first.
#  boot 2: the firmware runs the Windows loader (its marker on the console),
#          which returns; the firmware falls through to the rig, and
#          mlrig-bootorder.service puts the rig's entry first again and says so.
#  boot 3: no Windows loader, the rig boots straight away; EntryName= relabels
#          the entry; without libefiboot the stage says what it skipped;
#          Default=windows makes GRUB's default Windows and leaves BootOrder alone.
# With Secure Boot a never-booted copy of the same image boots on a machine
# whose variables are fresh from the template: shim and GRUB pass the
# firmware's check, the kernel reports Secure Boot on, the whole first boot
# completes, the agent creates the entry and GRUB's menu has Windows; then
# boots 2 and 3 as above, except that the firmware refuses the unsigned
# Windows stand-in.
. "$(dirname "$0")/../lib.sh"
need qemu-system-x86_64 ssh sfdisk python3
for f in /usr/share/OVMF/OVMF_CODE.fd /usr/share/OVMF/OVMF_CODE_4M.secboot.fd /usr/share/OVMF/OVMF_VARS_4M.ms.fd; do
	[ -r "$f" ] || skip "$f is missing (make deps: ovmf)"
done
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
windows=$(bash "$REPO/tests/fixtures/windows.sh") || skip "no Windows fixture disk (tests/fixtures/windows.sh)"
key=$(demo_key)
cp -r "$REPO/images" "$T/p"
if ! "$MLRIG" image -q -p "$T/p/test-dualboot.conf" --rootfs "$rootfs" -o "$T/plain-rig.img" 2>"$T/build.log"; then
	fail "build"; cat "$T/build.log"; finish
fi
# the same image, never booted, for the machine with Secure Boot
cp --sparse=always "$T/plain-rig.img" "$T/secure-rig.img"
# The rig's ESP as the firmware should name it, read from the image with sfdisk.
read -r esp_uuid esp_start esp_size < <(sfdisk --json "$T/plain-rig.img" | python3 -c '
import json, sys
p = json.load(sys.stdin)["partitiontable"]["partitions"][0]
print(p["uuid"].lower(), p["start"], p["size"])')
hd=$(printf 'HD(1,GPT,%s,0x%x,0x%x)/File(\\EFI\\BOOT\\BOOTX64.EFI)' "$esp_uuid" "$esp_start" "$esp_size")
marker="mlrig-test: Windows Boot Manager stand-in ran"
agent=/usr/lib/mlrig/mlrig-firstboot

# In the guest ($ESP is the rig's partition GUID): BootOrder, entry numbers, a variable's bytes.
helpers='order() { sudo efibootmgr | sed -n "s/^BootOrder: //p"; }
num_of() { sudo efibootmgr -v | sed -n "s/^Boot\([0-9A-F]\{4\}\)\*\{0,1\} $1.*/\1/p" | head -1; }
rig() { sudo efibootmgr -v | grep "HD(1,GPT,$ESP," | sed -n "s/^Boot\([0-9A-F]\{4\}\).*/\1/p" | head -1; }
var() { sudo cat /sys/firmware/efi/efivars/Boot$1-8be4df61-93ca-11d2-aa0d-00e098032b8c | tail -c +5 | od -An -tx1 | tr -d " \n"; }
echo "ORDER $(order) RIG $(rig)"
sudo efibootmgr -v | sed "s/^/EFI /"
echo "SECUREBOOT $(sudo dmesg | grep -ci "secure boot enabled")"
'
windows_update='sudo efibootmgr -q -c -d /dev/vdb -p 1 -l "\\EFI\\Microsoft\\Boot\\bootmgfw.efi" -L "Windows Boot Manager"
echo "UPDATED $(order) WIN $(num_of "Windows Boot Manager")"
sync'
probe1=$helpers'sed -n "/^menuentry .Windows Boot Manager/,/^}/p" /boot/grub/grub.cfg | sed "s/^/WINMENU /"
grep "^ *set timeout=" /boot/grub/grub.cfg | head -1 | sed "s/^ */GRUB /"
sudo '$agent' stage boot-order | sed "s/^/AGAIN /"
echo "ENTRIES $(sudo efibootmgr -v | grep -c "HD(1,GPT,$ESP,")"
mine=$(rig)
new=$(sudo efibootmgr -c -d /dev/vda -p 1 -l "\\EFI\\BOOT\\BOOTX64.EFI" -L "Debian GNU/Linux" 2>/dev/null | sed -n "s/^BootOrder: \([0-9A-F]\{4\}\).*/\1/p")
[ -n "$new" ] && [ "$new" != "$mine" ] && [ -n "$(var "$mine")" ] && [ "$(var "$new")" = "$(var "$mine")" ] &&
	echo "SAMEBYTES efibootmgr Boot$new = agent Boot$mine: $(var "$mine")"
sudo efibootmgr -q -b "$new" -B
'$windows_update
secure1=$helpers'sed -n "/^menuentry .Windows Boot Manager/,/^}/p" /boot/grub/grub.cfg | sed "s/^/WINMENU /"
'$windows_update
probe3=$helpers'sudo sed -i "/^\[Boot\]/a EntryName=mlrig dual-boot test" /etc/mlrig/rig.conf
sudo '$agent' stage boot-order | sed "s/^/RENAMED /"
sudo efibootmgr -v | grep "HD(1,GPT,$ESP," | sed "s/^/RENAMED /"
sudo mount --bind /dev/null /usr/lib/x86_64-linux-gnu/libefiboot.so.1
out=$(sudo '$agent' stage boot-order 2>&1); echo "NOLIB rc=$? $out"
sudo umount /usr/lib/x86_64-linux-gnu/libefiboot.so.1
sudo sed -i "s/^Default=linux/Default=windows/" /etc/mlrig/rig.conf
win=$(num_of "Windows Boot Manager")
sudo efibootmgr -q -o "$win,$(order | sed "s/$win,\{0,1\}//; s/,$//")"
echo "BEFORE $(order) WIN $win"
sudo '$agent' stage boot-order | sed "s/^/WINDEFAULT /"
echo "AFTER $(order)"
grep "^ *set default=\"[^$]" /boot/grub/grub.cfg | sed "s/^ */GRUB /"
echo "ENTRIES $(sudo efibootmgr -v | grep -c "HD(1,GPT,$ESP,")"
sync'

# boot N MODE PROBE EXPECT: one boot of the mode's machine (rig + Windows disk, its
# --efivars); sets out and log, prints the time it took and the BootOrder the guest saw.
boot() {
	local n=$1 mode=$2 probe=$3 expect=$4 start=$SECONDS sb=()
	[ "$mode" = secure ] && sb=(--secure-boot)
	out=$T/$mode-$n.out log=$T/$mode-$n.log
	"$MLRIG" boot "$T/$mode-rig.img" --disk "$T/$mode-win.img" --writable --efivars "$T/$mode-vars.fd" "${sb[@]}" \
		--expect "$expect" --ssh "$key" --user demo --ssh-command "ESP=$esp_uuid; $probe" --timeout 500 \
		--log "$log" >"$out" 2>"$T/$mode-$n.err"
	local rc=$?
	echo "$mode boot $n: $((SECONDS - start)) s; BootOrder after it: $(field ORDER "$out" | cut -d' ' -f1)"
	[ $rc -eq 0 ] && return 0
	fail "$mode boot $n: boots and ssh works"
	cat "$T/$mode-$n.err"; tail -40 "$log"
	return 1
}

# field NAME FILE: the rest of the first line that starts with NAME
field() { sed -n "s/^$1 //p" "$2" | head -1; }

# after_update MODE: the Windows update left Windows Boot Manager first; sets win
after_update() {
	win=$(sed -n 's/^UPDATED .* WIN //p' "$out")
	check "$1: the Windows update put Windows Boot Manager first" eval '[ -n "$win" ] && field UPDATED "$out" | grep -q "^$win,"'
	echo "BootOrder after the Windows update: $(field UPDATED "$out" | cut -d' ' -f1)"
}

# second_and_third MODE: the Windows loader runs (or is refused), the rig re-asserts, then boots straight
second_and_third() {
	local mode=$1 probe3=$2
	boot 2 "$mode" "$helpers" "mlrig-ready: dual-test" || return
	if [ "$mode" = secure ]; then
		check "secure 2: the firmware refuses the unsigned Windows stand-in" \
			grep -q "BdsDxe: failed to load Boot$win \"Windows Boot Manager\" .*: Access Denied" "$log"
	else
		check "plain 2: the firmware runs the Windows loader (its marker)" grep -q "$marker" "$log"
	fi
	check "$mode 2: and then falls through to the rig's entry" \
		eval 'grep "Boot$win \"Windows Boot Manager\"\|BdsDxe: starting Boot$rig " "$log" | tail -1 | grep -q "starting Boot$rig "'
	check "$mode 2: mlrig-bootorder puts the rig's entry first again and says so" \
		grep -q "stage boot-order ok .* kept, moved first in BootOrder (was $win,$rig,.*, now $rig,$win," "$log"
	check "$mode 2: the rig's entry is first in BootOrder" eval 'field ORDER "$out" | grep -q "^$rig,"'
	boot 3 "$mode" "$probe3" "mlrig-ready: dual-test" || return
	check "$mode 3: the rig boots straight away" \
		eval '! grep -q "BdsDxe: .*Windows Boot Manager\|$marker" "$log" && grep -m1 "BdsDxe: starting" "$log" | grep -q "Boot$rig "'
}

# --- Secure Boot off
cp --sparse=always "$windows" "$T/plain-win.img"
boot 1 plain "$probe1" "mlrig-firstboot: complete" || finish
rig=$(sed -n "s/^EFI Boot\([0-9A-F]\{4\}\)\* Debian GNU\/Linux\t.*/\1/p" "$out")
check "plain 1: --efivars made from the template" test -s "$T/plain-vars.fd"
check "plain 1: the agent's entry, named after os-release, is the HD() of the rig's ESP" \
	grep -qxF "EFI Boot$rig* Debian GNU/Linux	$hd" "$out"
check "plain 1: the rig's entry is first in BootOrder" eval '[ -n "$rig" ] && field ORDER "$out" | grep -q "^$rig,"'
check "plain 1: the console says the stage created it" \
	grep -q "stage boot-order ok .*EFI: Boot$rig \"Debian GNU/Linux\" HD(1,GPT,$esp_uuid,.* created, moved first in BootOrder" "$log"
check "plain 1: efibootmgr writes the same bytes for that ESP" grep -Eq "^SAMEBYTES .*: 01000000[0-9a-f]{100,}$" "$out"
check "plain 1: GRUB's menu has os-prober's Windows Boot Manager, chainloading bootmgfw.efi" \
	eval 'grep -q "^WINMENU menuentry .Windows Boot Manager (on /dev/vdb1)." "$out" && grep -qi "^WINMENU .*chainloader /efi/Microsoft/Boot/bootmgfw.efi" "$out"'
check "plain 1: GRUB's timeout is the profile's (1 s)" grep -qx "GRUB set timeout=1" "$out"
check "plain 1: a second run of the stage keeps the one entry" \
	eval 'grep -q "^AGAIN .*Boot$rig \"Debian GNU/Linux\" .* kept, already first in BootOrder" "$out" && [ "$(field ENTRIES "$out")" = 1 ]'
check "plain 1: Secure Boot is off" test "$(field SECUREBOOT "$out")" = 0
after_update plain
second_and_third plain "$probe3"
check "plain 3: EntryName= relabels the same entry" \
	eval 'grep -q "^RENAMED .*Boot$rig \"mlrig dual-boot test\" .* repaired" "$out" && grep -qxF "RENAMED Boot$rig* mlrig dual-boot test	$hd" "$out"'
check "plain 3: without libefiboot the stage says what it skipped" \
	grep -q "^NOLIB rc=0 .*skipped the rig.s own boot entry: .*libefiboot.so.1.* (install libefiboot1)" "$out"
check "plain 3: Default=windows: GRUB's default is the Windows entry" \
	grep -qx "GRUB set default=\"Windows Boot Manager (on /dev/vdb1)\"" "$out"
check "plain 3: Default=windows leaves BootOrder alone" \
	eval '[ -n "$(field BEFORE "$out")" ] && [ "$(field BEFORE "$out" | cut -d" " -f1)" = "$(field AFTER "$out")" ] && grep -q "^WINDEFAULT .*BootOrder left alone" "$out"'
check "plain 3: still one rig entry" test "$(field ENTRIES "$out")" = 1

# --- Secure Boot on
cp --sparse=always "$windows" "$T/secure-win.img"
boot 1 secure "$secure1" "mlrig-firstboot: complete" || finish
rig=$(sed -n "s/^EFI Boot\([0-9A-F]\{4\}\)\* Debian GNU\/Linux\t.*/\1/p" "$out")
check "secure 1: the firmware starts the rig's signed shim" grep -q "BdsDxe: starting Boot[0-9A-F]\{4\} \"UEFI Misc Device\"" "$log"
check "secure 1: the kernel reports Secure Boot enabled" eval '[ "$(field SECUREBOOT "$out")" -ge 1 ]'
check "secure 1: the first boot completes, every stage ok" eval 'grep -q "mlrig-firstboot: complete" "$log" && ! grep -q "stage [a-z-]* FAILED" "$log"'
check "secure 1: the agent creates the rig's entry on a machine without it" \
	grep -q "stage boot-order ok .*EFI: Boot$rig \"Debian GNU/Linux\" HD(1,GPT,$esp_uuid,.* created, moved first in BootOrder" "$log"
check "secure 1: GRUB's menu has os-prober's Windows Boot Manager" grep -q "^WINMENU menuentry .Windows Boot Manager (on /dev/vdb1)." "$out"
check "secure 1: the entry is the HD() of the rig's ESP" grep -qxF "EFI Boot$rig* Debian GNU/Linux	$hd" "$out"
after_update secure
second_and_third secure "$helpers"
finish
