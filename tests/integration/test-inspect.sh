#!/bin/bash
# mlrig inspect against a GPT image made with the standard tools (sfdisk, mkfs.vfat, mke2fs).
# Usage: bash tests/integration/test-inspect.sh BUILD_DIR
set -u

BUILD=${1:-build}
MLRIG=$BUILD/mlrig
PATH=$PATH:/usr/sbin:/sbin

for tool in sfdisk mkfs.vfat mke2fs python3 dd truncate; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP $tool not installed"
		exit 77
	fi
done
if [ ! -x "$MLRIG" ]; then
	echo "SKIP $MLRIG not built"
	exit 77
fi
MLRIG=$(realpath "$MLRIG")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mlrig-test-inspect-XXXXXX")
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; failed=1; }

DISK_ID=4f1d2c3b-1111-4a5b-8c6d-0123456789ab
ESP_UUID=6a7e0b5c-2222-4c1d-9e0f-a1b2c3d4e5f6
ROOT_UUID=0b9c8d7e-3333-4f6a-8b5c-112233445566
EXT4_UUID=d00dfeed-4444-4abc-9def-0123456789ab
VFAT_ID=1234ABCD
ESP_TYPE=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
LINUX_TYPE=0FC63DAF-8483-4772-8E79-3D69D8477DE4

cd "$tmp" || exit 1
set -e
truncate -s 48M disk.img
sfdisk -q disk.img >/dev/null <<EOF
label: gpt
label-id: $DISK_ID
start=2048, size=32768, type=$ESP_TYPE, uuid=$ESP_UUID, name="EFI System"
start=34816, size=59392, type=$LINUX_TYPE, uuid=$ROOT_UUID, name="rig root"
EOF
mkfs.vfat -C -n RIGESP -i $VFAT_ID esp.fs 16384 >/dev/null
truncate -s $((59392 * 512)) root.fs
mke2fs -q -F -t ext4 -L rigroot -U $EXT4_UUID -E root_owner=0:0 root.fs >/dev/null
dd if=esp.fs of=disk.img bs=512 seek=2048 conv=notrunc status=none
dd if=root.fs of=disk.img bs=512 seek=34816 conv=notrunc status=none
cp disk.img plain.img
printf '{"mlrig": {"version": "test"}, "seed": "x\\"y", "inputs": [1, 2]}\n' >disk.img.json
set +e

# The image as sfdisk sees it, for the cross-check below.
sfdisk --json disk.img >sfdisk.json

if "$MLRIG" inspect disk.img --json >out.json 2>err.txt; then
	pass "inspect --json exits 0"
else
	fail "inspect --json exits 0 ($(cat err.txt))"
fi

if python3 - "$DISK_ID" "$ESP_UUID" "$ROOT_UUID" "$EXT4_UUID" "$ESP_TYPE" "$LINUX_TYPE" <<'EOF'; then
import json, sys
disk_id, esp_uuid, root_uuid, ext4_uuid, esp_type, linux_type = [a.lower() for a in sys.argv[1:]]
j = json.load(open("out.json"))
s = json.load(open("sfdisk.json"))["partitiontable"]
def check(cond, what):
    if not cond:
        print("  mismatch:", what, file=sys.stderr)
        sys.exit(1)
check(j["table"]["type"] == "gpt", "table type")
check(j["table"]["id"].lower() == disk_id == s["id"].lower(), "disk GUID")
check(j["size"] == 48 * 1024 * 1024, "size")
p = j["partitions"]
check(len(p) == 2, "two partitions")
check([x["number"] for x in p] == [1, 2], "numbers")
for mine, theirs in zip(p, s["partitions"]):
    check(mine["start_sector"] == theirs["start"], "start vs sfdisk")
    check(mine["sectors"] == theirs["size"], "size vs sfdisk")
    check(mine["start"] == theirs["start"] * 512, "start bytes")
    check(mine["type"].lower() == theirs["type"].lower(), "type vs sfdisk")
    check(mine["uuid"].lower() == theirs["uuid"].lower(), "uuid vs sfdisk")
    check(mine["name"] == theirs["name"], "name vs sfdisk")
check(p[0]["type"] == esp_type and p[0]["type_name"] == "EFI System", "ESP type")
check(p[0]["uuid"] == esp_uuid and p[0]["name"] == "EFI System", "ESP uuid/name")
check(p[0]["filesystem"]["type"] == "vfat", "ESP fs type")
check(p[0]["filesystem"]["label"] == "RIGESP", "ESP label")
check(p[0]["filesystem"]["uuid"] == "1234-ABCD", "ESP volume id")
check(p[1]["type"] == linux_type and p[1]["uuid"] == root_uuid and p[1]["name"] == "rig root", "root partition")
check(p[1]["filesystem"]["type"] == "ext4", "root fs type")
check(p[1]["filesystem"]["label"] == "rigroot", "root label")
check(p[1]["filesystem"]["uuid"] == ext4_uuid, "root fs uuid")
check(j["manifest"] == {"mlrig": {"version": "test"}, "seed": 'x"y', "inputs": [1, 2]}, "manifest embedded")
check(j["manifest_path"] == "disk.img.json", "manifest path")
EOF
	pass "inspect --json matches sfdisk, mkfs.vfat and mke2fs"
else
	fail "inspect --json matches sfdisk, mkfs.vfat and mke2fs"
fi

# The manifest is optional; without one the output says null.
if "$MLRIG" inspect plain.img --json | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j["manifest"] is None and len(j["partitions"]) == 2 else 1)'; then
	pass "inspect without manifest"
else
	fail "inspect without manifest"
fi

# The table: both file systems and GUIDs appear.
if "$MLRIG" inspect disk.img >human.txt 2>&1 && grep -q "$DISK_ID" human.txt && grep -q "rigroot" human.txt &&
	grep -q "RIGESP" human.txt && grep -q "$EXT4_UUID" human.txt && grep -q '"seed"' human.txt; then
	pass "inspect table output"
else
	fail "inspect table output"
	cat human.txt
fi

# A bare file system: no partition table, still exit 0 with the fs type.
if "$MLRIG" inspect root.fs --json >bare.json 2>/dev/null &&
	python3 -c 'import json,sys; j=json.load(open("bare.json")); sys.exit(0 if j["table"] is None and j["filesystem"]["type"] == "ext4" and j["filesystem"]["uuid"] == sys.argv[1] else 1)' "$EXT4_UUID"; then
	pass "inspect bare file system"
else
	fail "inspect bare file system"
fi

# Missing file: exit 1 and the errno text.
"$MLRIG" inspect does-not-exist.img >/dev/null 2>err.txt
rc=$?
if [ $rc -eq 1 ] && grep -q "Failed to open 'does-not-exist.img': No such file or directory" err.txt; then
	pass "inspect missing file exits 1"
else
	fail "inspect missing file exits 1 (rc=$rc: $(cat err.txt))"
fi

# Nothing recognisable: exit 1.
head -c 1M /dev/zero >zeros.img
"$MLRIG" inspect zeros.img >/dev/null 2>err.txt
rc=$?
if [ $rc -eq 1 ] && grep -q "no partition table or file system" err.txt; then
	pass "inspect blank image exits 1"
else
	fail "inspect blank image exits 1 (rc=$rc)"
fi

# Usage errors exit 2.
"$MLRIG" inspect >/dev/null 2>&1
rc1=$?
"$MLRIG" inspect --bogus disk.img >/dev/null 2>&1
rc2=$?
if [ $rc1 -eq 2 ] && [ $rc2 -eq 2 ]; then
	pass "inspect usage errors exit 2"
else
	fail "inspect usage errors exit 2 (got $rc1, $rc2)"
fi

# Hostile names: a file name, a GPT partition name and an ext4 label holding
# quotes, backslashes, control characters and bytes that are not UTF-8, and a
# manifest that is not JSON. The output must still be JSON (python3 -m json.tool).
weird=$'we"ird\\name\001\377.img'
cp plain.img "$weird"
sfdisk -q --part-label "$weird" 2 $'ro"ot\\\t' >/dev/null 2>&1
dd if="$weird" of=root2.fs bs=512 skip=34816 count=59392 status=none
tune2fs -L $'l"a\\b\001\377' root2.fs >/dev/null
dd if=root2.fs of="$weird" bs=512 seek=34816 conv=notrunc status=none
printf '{"broken": json, \001\377\n' >"$weird.json"
if "$MLRIG" inspect "$weird" --json >weird.json 2>err.txt && python3 -m json.tool weird.json >/dev/null &&
	python3 - "$weird" <<'PY'; then
import json, sys
j = json.load(open("weird.json", encoding="utf-8"))
# the printable part of the name survives; the byte that is not UTF-8 is U+FFFD
assert j["device"] == 'we"ird\\name\x01\ufffd.img', repr(j["device"])
assert j["partitions"][1]["name"].startswith('ro"ot\\'), repr(j["partitions"][1]["name"])
assert j["partitions"][1]["filesystem"]["label"] == 'l"a\\b\x01\ufffd', repr(j["partitions"][1]["filesystem"]["label"])
assert isinstance(j["manifest"], str) and j["manifest"].startswith('{"broken"'), repr(j["manifest"])
PY
	pass "inspect --json: hostile names and a broken manifest still give JSON"
else
	fail "inspect --json with hostile names ($(cat err.txt))"
fi

cd / || exit 1
if [ $failed -eq 0 ]; then
	rm -rf "$tmp"
else
	echo "kept $tmp"
fi
exit $failed
