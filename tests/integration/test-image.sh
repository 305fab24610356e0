#!/bin/bash
# mlrig image end to end on the bullseye fixture, checked with the standard
# tools: sfdisk, e2fsck, debugfs, blkid, mtools, fsck.vfat; then a second build
# by another user, in another directory, later, must give the same bytes.
. "$(dirname "$0")/../lib.sh"
need sfdisk e2fsck debugfs blkid mdir fsck.vfat python3 runuser
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"

cp -r "$REPO/images" "$T/a"
"$MLRIG" image -q -p "$T/a/demo.conf" --rootfs "$rootfs" -o "$T/a/rig.img" || { fail "build"; finish; }
pass build
img=$T/a/rig.img

# Every GUID follows from the seed: derive them here independently.
python3 - "$img" <<'PY' && pass "sfdisk shows the seeded GUIDs and types" || fail "sfdisk GUIDs"
import hashlib, json, subprocess, sys, uuid
seed = uuid.UUID("6d6c7269-672d-4465-8d6f-000000000001").bytes
def derive(label):
    d = bytearray(hashlib.sha256(b"mlrig-uuid-v1" + seed + label.encode()).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x40
    d[8] = (d[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(d))).upper()
t = json.loads(subprocess.check_output(["sfdisk", "--json", sys.argv[1]]))["partitiontable"]
assert t["label"] == "gpt", t
assert t["id"] == derive("gpt-disk"), (t["id"], derive("gpt-disk"))
esp, root = t["partitions"]
assert esp["type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" and esp["uuid"] == derive("gpt-esp") and esp["name"] == "esp", esp
assert root["type"] == "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" and root["uuid"] == derive("gpt-root") and root["name"] == "root", root
assert esp["start"] == 2048 and root["start"] == esp["start"] + esp["size"], t
assert (root["start"] + root["size"]) * 512 <= 2 * 1024**3 - 33 * 512, t
open(sys.argv[1] + ".expect", "w").write(derive("ext4-root").lower())
PY

root_off=$(sfdisk --json "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"]*512)')
esp_off=$((2048 * 512))
rootfs_img="$img?offset=$root_off"

check "e2fsck -fn is clean" e2fsck -fn "$rootfs_img"
check "blkid: ext4 with the seeded UUID" test "$(blkid -p -O "$root_off" -s UUID -o value "$img")" = "$(cat "$img.expect")"
check "blkid: ESP is vfat" test "$(blkid -p -O "$esp_off" -s TYPE -o value "$img")" = vfat

dbg() { debugfs -R "$1" "$rootfs_img" 2>/dev/null; }
check "machine-id is 'uninitialized'" test "$(dbg 'cat /etc/machine-id')" = uninitialized
check "no SSH host keys baked in" test -z "$(dbg 'ls -l /etc/ssh' | grep ssh_host_)"
check "no apt lists" test -z "$(dbg 'ls /var/lib/apt/lists' | tr ' ' '\n' | grep _Packages)"
check "fstab by UUID" grep -q "^UUID=$(cat "$img.expect")[[:space:]]/[[:space:]]" <(dbg 'cat /etc/fstab')
check "hostname" test "$(dbg 'cat /etc/hostname')" = mlrig-demo
check "user in passwd" grep -q '^demo:x:1000:1000:' <(dbg 'cat /etc/passwd')
check "user in sudo group" grep -Eq '^sudo:x:27:(.*,)?demo$' <(dbg 'cat /etc/group')
check "user's password locked" grep -q '^demo:!:' <(dbg 'cat /etc/shadow')
check "authorized_keys is the profile's" cmp -s <(dbg 'cat /home/demo/.ssh/authorized_keys') "$REPO/images/keys/demo_ed25519.pub"
stat_ak=$(dbg 'stat /home/demo/.ssh/authorized_keys')
check "authorized_keys mode 0600, owner 1000" grep -Eq 'Mode: +0600' <<<"$stat_ak"
check "authorized_keys owner 1000" grep -Eq 'User: +1000 +Group: +1000' <<<"$stat_ak"
check "sshd drop-in rendered" grep -q '^AllowUsers demo$' <(dbg 'cat /etc/ssh/sshd_config.d/50-mlrig.conf')
check "networkd DHCP config" grep -q '^DHCP=yes' <(dbg 'cat /etc/systemd/network/50-mlrig-dhcp.network')
check "networkd enabled" grep -q 'systemd-networkd.service' <(dbg 'ls /etc/systemd/system/multi-user.target.wants')
check "ready unit enabled" grep -q 'mlrig-ready.service' <(dbg 'ls /etc/systemd/system/multi-user.target.wants')
check "grub.cfg boots the kernel by UUID with a serial console" \
	grep -q "linux /boot/vmlinuz-.* root=UUID=$(cat "$img.expect") ro console=tty0 console=ttyS0,115200n8" <(dbg 'cat /boot/grub/grub.cfg')
check "times clamped to SourceDateEpoch" grep -q 'mtime: 0x6553f100' <(dbg 'stat /etc/hostname')

check "/etc/mlrig is root-only (0700)" grep -Eq 'Mode: +0700' <(dbg 'stat /etc/mlrig')
check "rendered config is 0600" grep -Eq 'Mode: +0600' <(dbg 'stat /etc/mlrig/rig.conf')
check "agent installed and its unit enabled" eval 'dbg "stat /usr/lib/mlrig/mlrig-firstboot" | grep -Eq "Mode: +0755" && dbg "ls /etc/systemd/system/multi-user.target.wants" | grep -q mlrig-firstboot.service'

export MTOOLS_SKIP_CHECK=1
check "ESP has shim as BOOTX64.EFI" cmp -s <(mtype -i "$img@@$esp_off" ::/EFI/BOOT/BOOTX64.EFI) <(tar -xOf "$rootfs" ./usr/lib/shim/shimx64.efi.signed)
check "ESP grub.cfg finds the root by UUID" grep -q "search --no-floppy --fs-uuid --set=root $(cat "$img.expect")" <(mtype -i "$img@@$esp_off" ::/EFI/debian/grub.cfg)
dd if="$img" of="$T/esp.img" bs=1M skip=1 count=128 status=none
check "fsck.vfat -n is clean" fsck.vfat -n "$T/esp.img"

python3 - "$img.json" "$rootfs" <<'PY' && pass "manifest names the inputs and UUIDs" || fail "manifest"
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
h = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
assert m["inputs"]["rootfs"]["sha256"] == h, m["inputs"]
assert m["seed"] == "6d6c7269-672d-4465-8d6f-000000000001"
assert m["partitions"][1]["fs"] == "ext4" and m["image"]["size"] == 2 * 1024**3
assert m["kernel"].startswith("vmlinuz-")
PY

# Progress: one line redrawn on a TTY (script(1) gives the build a pty), nothing without one.
need script
script -qec "'$MLRIG' image -p '$T/a/demo.conf' --rootfs '$rootfs' -o '$T/a/tty.img'" /dev/null >"$T/tty.out" 2>&1
check "progress on a TTY: MiB, rate, ETA" grep -aEq 'rootfs: [0-9]+/[0-9]+ MiB, [0-9]+ MiB/s, ETA [0-9]+ s' "$T/tty.out"
"$MLRIG" image -p "$T/a/demo.conf" --rootfs "$rootfs" -o "$T/a/notty.img" >"$T/notty.out" 2>&1
check "no progress line without a TTY" eval '! grep -aq "MiB/s" "$T/notty.out"'
check "the rootfs's signed pair: no Secure Boot warning" eval '! grep -q "Secure Boot" "$T/notty.out"'
check "mlrig inspect: the loader boots with Secure Boot on" \
	grep -qx "EFI loader: shim + GRUB, signed, from the rootfs (boots with Secure Boot on)" <("$MLRIG" inspect "$T/a/notty.img")
rm -f "$T/a/tty.img" "$T/a/notty.img"

# The manifest names its inputs: names with quotes, backslashes, control
# characters and bytes that are not UTF-8 still give JSON.
odd=$'od"d\\\001\377'
cp "$T/a/demo.conf" "$T/a/$odd.conf"
ln -s "$rootfs" "$T/a/$odd.tar"
"$MLRIG" image -q -p "$T/a/$odd.conf" --rootfs "$T/a/$odd.tar" -o "$T/a/odd.img" >"$T/odd.out" 2>&1
check "manifest with odd input names is JSON" python3 -c "
import json; m = json.load(open('$T/a/odd.img.json', encoding='utf-8'))
assert m['inputs']['rootfs']['name'] == 'od\"d\\\\\x01\ufffd.tar', repr(m['inputs']['rootfs']['name'])
assert m['inputs']['profile']['name'] == 'od\"d\\\\\x01\ufffd.conf', repr(m['inputs']['profile']['name'])"
rm -f "$T/a/odd.img" "$T/a/odd.img.json"

# Same inputs, another directory, another user, later: same bytes.
mkdir -p "$T/b/elsewhere" && cp -r "$REPO/images/." "$T/b/elsewhere/" && chown -R nobody "$T/b" && chmod 755 "$T"
cp "$rootfs" "$T/b/rootfs.tar" && chown nobody "$T/b/rootfs.tar"
sleep 1
if runuser -u nobody -- env HOME=/nonexistent "$MLRIG" image -q -p "$T/b/elsewhere/demo.conf" --rootfs "$T/b/rootfs.tar" -o "$T/b/elsewhere/again.img"; then
	pass "build as nobody"
	a=$(sha256sum <"$img") b=$(sha256sum <"$T/b/elsewhere/again.img")
	check "reproducible: same sha256 across dirs, times and users" test "$a" = "$b"
else
	fail "build as nobody"
fi
finish
