#!/bin/bash
# mlrig iso on the three fixture ISOs, checked with the standard tools: the
# boot structure (xorriso -report_el_torito as_mkisofs) is the base's, the
# user-data is YAML with the autoinstall keys, the install script installs the
# payload into a fake /target, md5sum -c passes, the output is reproducible,
# a grown 22.04 image (where xorriso's replay fails) is remastered with its
# boot structure whole, and bad input (not an ISO, truncated, unknown layout,
# no .disk/info, no menu entry to copy) fails clearly with nothing left at
# the output path.
. "$(dirname "$0")/../lib.sh"
need xorriso osirrox python3 md5sum sha256sum truncate
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed (make deps)"
export MLRIG_AGENT=${MLRIG_AGENT:-$BUILD/compat/mlrig-firstboot}
[ -x "$MLRIG_AGENT" ] || MLRIG_AGENT=$BUILD/mlrig-firstboot
cp -r "$REPO/images" "$T/p"
printf '\n[Install]\nDisk=/dev/sda\nWipe=yes\n' | cat "$T/p/demo.conf" - >"$T/p/wipe.conf"

# The boot structure with what legitimately moves (sizes, LBAs, GUIDs, dates, paths) blanked.
structure() {
	xorriso -indev "$1" -report_el_torito as_mkisofs -report_system_area plain 2>/dev/null | sed -E \
		-e 's/^(--modification-date=).*/\1D/' \
		-e "s/--interval:local_fs:[0-9a-z]+-[0-9a-z]+:([^:]*):.*/--interval:local_fs:R:\1:F/" \
		-e 's/_start_[0-9]+s_size_[0-9]+d/_start_Ns_size_Nd/' \
		-e '/^(ISO image size|MBR partition  |GPT lba range|GPT start and size|APM start and size|El Torito boot img|El Torito catalog)/s/\b[0-9]+\b/N/g' \
		-e '/^GPT (disk|partition) GUID/s/[0-9a-f]{32}/G/'
}

for w in focal-server focal-desktop jammy-server; do
	base=$(bash "$REPO/tests/fixtures/iso.sh" $w) || skip "cannot build the $w fixture ISO"
	out=$T/$w.iso
	if ! "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$base" -o "$out" 2>"$T/$w.err"; then
		fail "$w: mlrig iso"; cat "$T/$w.err"; continue
	fi
	if diff <(structure "$base") <(structure "$out") >"$T/$w.diff"; then
		pass "$w: boot structure as the base's ($(structure "$out" | grep -c .) report lines)"
	else
		fail "$w: boot structure differs"; cat "$T/$w.diff"
	fi
	x=$T/x-$w
	osirrox -indev "$out" -extract / "$x" >/dev/null 2>&1
	chmod -R u+w "$x"
	check "$w: md5sum -c over the extracted tree" bash -c "cd '$x' && md5sum -c --quiet md5sum.txt"
	# the originals stay, ours is first
	check "$w: grub.cfg keeps the original entries" grep -q 'menuentry "Install Ubuntu Server"\|menuentry "Ubuntu"\|menuentry "Try or Install' "$x/boot/grub/grub.cfg"
	first=$(grep -m1 '^menuentry' "$x/boot/grub/grub.cfg")
	check "$w: mlrig's entry is the default" grep -q 'with mlrig' <<<"$first"

	case $w in
	*-server)
		check "$w: GRUB args escaped" grep -qF 'autoinstall ds=nocloud\;s=/cdrom/nocloud/ ---' "$x/boot/grub/grub.cfg"
		check "$w: loopback.cfg entry" grep -qF 'autoinstall ds=nocloud\;s=/cdrom/nocloud/' "$x/boot/grub/loopback.cfg"
		if [ -f "$x/isolinux/txt.cfg" ]; then
			check "$w: ISOLINUX args unescaped" grep -qF 'autoinstall ds=nocloud;s=/cdrom/nocloud/ ---' "$x/isolinux/txt.cfg"
		fi
		if python3 - "$x/nocloud/user-data" <<'PY'; then pass "$w: user-data keys"; else fail "$w: user-data keys"; fi
import sys, yaml
text = open(sys.argv[1]).read()
assert text.startswith("#cloud-config\n"), "first line"
a = yaml.safe_load(text)["autoinstall"]
assert a["version"] == 1
assert a["identity"] == {"hostname": "mlrig-demo", "username": "demo", "password": "!"}, a["identity"]
assert a["ssh"]["install-server"] is True and a["ssh"]["allow-pw"] is False
assert a["ssh"]["authorized-keys"][0].startswith("ssh-ed25519 ")
assert isinstance(a["packages"], list)
assert any("/cdrom/mlrig/install.sh" in c for c in a["late-commands"])
assert a["interactive-sections"] == ["storage"] and "storage" not in a, "storage must stay interactive"
PY
		[ -f "$x/nocloud/meta-data" ] && pass "$w: meta-data" || fail "$w: meta-data"
		;;
	*-desktop)
		check "$w: preseed success_command" grep -q '^ubiquity ubiquity/success_command string sh /cdrom/mlrig/install.sh /cdrom /target$' "$x/preseed/mlrig.seed"
		check "$w: no partman answers without Disk+Wipe" bash -c "! grep -q partman '$x/preseed/mlrig.seed'"
		check "$w: desktop entry" grep -qF 'file=/cdrom/preseed/mlrig.seed automatic-ubiquity' "$x/boot/grub/grub.cfg"
		check "$w: original seed kept" grep -q 'ubuntu.seed' "$x/isolinux/txt.cfg"
		;;
	esac
done

# A grown 22.04 image: a session added in place (xorriso -dev, as users do to
# drop a file onto the ISO) moves the volume past the appended EFI partition,
# which stays where it was, now inside the ISO's range, while the GPT still
# lists it as "Appended2". xorriso cannot replay that: growing it again fails
# with "Overlapping GPT entries" (its replay asks for the ESP at its old place
# while the new session's range covers it), and a replay to a new file drops
# the UEFI El Torito entry ("not a data file in the ISO filesystem"). mlrig
# copies the ESP by content and lets libisofs lay it out after the new volume.
# "START END" (512-byte sectors) of appended partition 2, the ESP, as xorriso reports it
esp_range() {
	xorriso -indev "$1" -report_el_torito as_mkisofs 2>/dev/null |
		sed -nE 's/^-append_partition 2 28732ac11ff8d211ba4b00a0c93ec93b --interval:local_fs:([0-9]+)d-([0-9]+)d::.*/\1 \2/p'
}
esp_bytes() {
	local a e
	read -r a e <<<"$(esp_range "$1")"
	[ -n "$e" ] && dd if="$1" bs=512 skip="$a" count=$((e - a + 1)) status=none
}
jammy=$(bash "$REPO/tests/fixtures/iso.sh" jammy-server)
g=$T/grown
mkdir -p "$g"
echo "added in a second session" >"$g/added.txt"
cp "$jammy" "$g/grown.iso"
if ! xorriso -dev "$g/grown.iso" -map "$g/added.txt" /added.txt -boot_image any keep -commit >"$g/grow.log" 2>&1; then
	fail "grown: cannot grow the 22.04 fixture"; cat "$g/grow.log"
else
	cp "$g/grown.iso" "$g/again.iso"
	xorriso -dev "$g/again.iso" -map "$g/added.txt" /again.txt -boot_image any replay -commit >"$g/again.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && grep -q "Overlapping GPT entries" "$g/again.log"; then
		pass "grown: xorriso replay fails on it (exit $rc, Overlapping GPT entries)"
	else
		# the reference tool's bug, not ours: note it, do not fail on it
		echo "NOTE grown: this xorriso no longer fails here (exit $rc, $(xorriso -version 2>/dev/null | head -1))"
	fi
	xorriso -indev "$g/grown.iso" -outdev "$g/xorriso.iso" -boot_image any replay >"$g/replay.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && ! xorriso -indev "$g/xorriso.iso" -report_el_torito plain 2>/dev/null | grep -q 'El Torito boot img : *2 *UEFI'; then
		pass "grown: xorriso's replay to a new file drops the UEFI entry (exit $rc)"
	else
		echo "NOTE grown: this xorriso keeps the UEFI entry on replay (exit $rc)"
	fi
	if "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$g/grown.iso" -o "$g/out.iso" 2>"$g/mlrig.err"; then
		pass "grown: mlrig iso"
		xorriso -indev "$g/out.iso" -report_el_torito as_mkisofs 2>/dev/null >"$g/out.report"
		esp=$(esp_range "$g/out.iso")
		if grep -qx -- "-b '/boot/grub/i386-pc/eltorito.img'" "$g/out.report" &&
			grep -qx -- "-e '--interval:appended_partition_2_start_[0-9]*s_size_8192d:all::'" "$g/out.report" &&
			grep -qx -- "-appended_part_as_gpt" "$g/out.report" && [ -n "$esp" ]; then
			pass "grown: El Torito BIOS + UEFI entries, the UEFI one the appended EFI partition"
		else
			fail "grown: boot entries"; cat "$g/out.report"
		fi
		# the ESP's bytes are the base's, now after the new volume
		if [ -n "$esp" ] && cmp -s <(esp_bytes "$g/out.iso") <(esp_bytes "$jammy"); then
			pass "grown: the EFI partition is the base's"
		else
			fail "grown: EFI partition content (at ${esp:-nowhere})"
		fi
		if diff <(structure "$jammy") <(structure "$g/out.iso") >"$g/structure.diff"; then
			pass "grown: boot structure as the ungrown 22.04 fixture's"
		else
			fail "grown: boot structure differs from the 22.04 fixture's"; cat "$g/structure.diff"
		fi
		osirrox -indev "$g/out.iso" -extract / "$g/x" >/dev/null 2>&1
		chmod -R u+w "$g/x"
		check "grown: md5sum -c over the extracted tree" bash -c "cd '$g/x' && md5sum -c --quiet md5sum.txt"
		check "grown: the second session's file is there" cmp -s "$g/x/added.txt" "$g/added.txt"
	else
		fail "grown: mlrig iso"; cat "$g/mlrig.err"
	fi
fi
rm -rf "$g"

# The install script against a fake /cdrom and /target.
x=$T/x-focal-server tgt=$T/target
mkdir -p "$tgt/etc" "$tgt/usr"
chmod 0751 "$tgt/etc"
if sh "$x/mlrig/install.sh" "$x" "$tgt" >"$T/install.log" 2>&1 &&
	[ -x "$tgt/usr/lib/mlrig/mlrig-firstboot" ] && cmp -s "$tgt/usr/lib/mlrig/mlrig-firstboot" "$MLRIG_AGENT" &&
	[ "$(readlink "$tgt/etc/systemd/system/multi-user.target.wants/mlrig-firstboot.service")" = /etc/systemd/system/mlrig-firstboot.service ] &&
	[ -f "$tgt/etc/systemd/system/mlrig-firstboot.service" ] &&
	[ "$(stat -c %a "$tgt/etc/mlrig")" = 700 ] && [ "$(stat -c %a "$tgt/etc/mlrig/rig.conf")" = 600 ] &&
	[ "$(stat -c %a "$tgt/etc")" = 751 ]; then
	pass "install script installs the agent, enables its unit, keeps /etc/mlrig private"
else
	fail "install script"; cat "$T/install.log"; find "$tgt" | head -30
fi

# [Install] Disk= + Wipe=yes: the one case storage is answered.
base=$(bash "$REPO/tests/fixtures/iso.sh" focal-server)
"$MLRIG" iso -q -p "$T/p/wipe.conf" --base "$base" -o "$T/wipe.iso" 2>/dev/null &&
	osirrox -indev "$T/wipe.iso" -extract /nocloud/user-data "$T/wipe-user-data" >/dev/null 2>&1
if python3 - "$T/wipe-user-data" <<'PY'; then pass "Disk+Wipe: storage layout on the named disk"; else fail "Disk+Wipe: storage"; fi
import sys, yaml
a = yaml.safe_load(open(sys.argv[1]))["autoinstall"]
assert a["storage"] == {"layout": {"name": "direct", "match": {"path": "/dev/sda"}}}, a.get("storage")
assert "interactive-sections" not in a
PY

# Reproducible: same inputs at another time give the same bytes, for each layout
# (20.04 isohybrid, 20.04 desktop preseed, 22.04 appended ESP with derived GPT GUIDs).
for w in focal-server focal-desktop jammy-server; do
	b=$(bash "$REPO/tests/fixtures/iso.sh" $w)
	rm -f "$T/r1-$w.iso" "$T/r2-$w.iso"
	sleep 1.1
	SOURCE_DATE_EPOCH=1700000000 "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$b" -o "$T/r1-$w.iso" 2>/dev/null
	sleep 1.1
	SOURCE_DATE_EPOCH=1700000000 "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$b" -o "$T/r2-$w.iso" 2>/dev/null
	s1=$(sha256sum "$T/r1-$w.iso" 2>/dev/null | cut -d' ' -f1)
	s2=$(sha256sum "$T/r2-$w.iso" 2>/dev/null | cut -d' ' -f1)
	if [ -s "$T/r1-$w.iso" ] && [ "$s1" = "$s2" ]; then
		pass "$w: reproducible (sha256 ${s1:0:16}...)"
	else
		fail "$w: reproducible: two runs differ (${s1:-none} vs ${s2:-none})"
	fi
done
SOURCE_DATE_EPOCH=1700000001 "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$base" -o "$T/r3.iso" 2>/dev/null
check "SOURCE_DATE_EPOCH changes the bytes" bash -c "! cmp -s '$T/r1-focal-server.iso' '$T/r3.iso'"
rm -f "$T"/r[123]*.iso

# Bad input: exit 2, a message naming the file, nothing at the output path.
expect_failure() {
	local name=$1 want=$2 msg=$3 in=$4 rc
	rm -rf "$T/out" && mkdir -p "$T/out"
	"$MLRIG" iso -q -p "$T/p/demo.conf" --base "$in" -o "$T/out/out.iso" >"$T/log" 2>&1
	rc=$?
	if [ $rc -ne "$want" ]; then fail "$name: exit $rc, expected $want"; cat "$T/log"; return; fi
	if ! grep -Eq -- "$msg" "$T/log"; then fail "$name: message"; echo "got: $(cat "$T/log")"; return; fi
	if [ -n "$(ls -A "$T/out")" ]; then fail "$name: left files: $(ls -A "$T/out")"; return; fi
	pass "$name ($(head -1 "$T/log" | cut -c1-100))"
}
head -c 3M /dev/urandom >"$T/random.iso"
expect_failure "not an ISO" 2 "random.iso is not an ISO 9660 image" "$T/random.iso"
head -c 2M "$base" >"$T/truncated.iso"
expect_failure "truncated ISO" 2 "truncated.iso is truncated" "$T/truncated.iso"
mkdir -p "$T/plain/.disk" "$T/nodisk/casper"
printf 'Ubuntu-Server 20.04.6 LTS "Focal Fossa" - Release amd64 (20230316)' >"$T/plain/.disk/info"
echo x >"$T/nodisk/casper/vmlinuz"
xorriso -as mkisofs -r -o "$T/noboot.iso" "$T/plain" 2>/dev/null
xorriso -as mkisofs -r -o "$T/nodisk.iso" "$T/nodisk" 2>/dev/null
expect_failure "unknown layout" 2 "noboot.iso: unknown boot layout .*found no El Torito boot entries" "$T/noboot.iso"
expect_failure "no .disk/info" 2 "nodisk.iso has no .disk/info" "$T/nodisk.iso"
printf 'set timeout=5\n' >"$T/nomenu.cfg"
xorriso -indev "$base" -outdev "$T/nomenu.iso" -boot_image any replay -map "$T/nomenu.cfg" /boot/grub/grub.cfg >/dev/null 2>&1
expect_failure "grub.cfg without a menu entry" 2 "grub.cfg in .*nomenu.iso has no boot entry to copy" "$T/nomenu.iso"
expect_failure "missing base" 2 "cannot open $T/missing.iso" "$T/missing.iso"

# -o naming the base, directly or through a hard link: refused, base untouched.
cp "$base" "$T/base.iso"
ln "$T/base.iso" "$T/base-link.iso"
sum=$(sha256sum "$T/base.iso" | cut -d' ' -f1)
"$MLRIG" iso -q -p "$T/p/demo.conf" --base "$T/base.iso" -o "$T/base.iso" 2>"$T/same.err"
rc1=$?
"$MLRIG" iso -q -p "$T/p/demo.conf" --base "$T/base.iso" -o "$T/base-link.iso" 2>>"$T/same.err"
rc2=$?
if [ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] && grep -q "refusing to overwrite the base" "$T/same.err" &&
	[ "$(sha256sum "$T/base.iso" | cut -d' ' -f1)" = "$sum" ] && ! compgen -G "$T/.base*" >/dev/null; then
	pass "-o equal to --base refused (path and hard link)"
else
	fail "-o equal to --base (rc $rc1 $rc2)"; cat "$T/same.err"
fi
check "usage error exits 2" bash -c "'$MLRIG' iso -p x >/dev/null 2>&1; [ \$? -eq 2 ]"
finish
