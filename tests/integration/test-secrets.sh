#!/bin/bash
# Secrets audit: an image and an ISO built from a profile with every secret set (a password
# hash, a DDNS token file), every file of both scanned. In the image no secret may be in a
# file anyone but root can read (/etc/shadow: root and group shadow, as Debian has it), on
# the ESP, in the manifest or in what mlrig printed; the ISO carries them (the installer has
# to read them), so the test says where, and `mlrig check` must warn about it and say how to
# keep the damage small. The agent never puts a secret in a process's argument list: checked
# by running it under --root with the token set and reading every argv it spawned.
. "$(dirname "$0")/../lib.sh"
need_root "mounting the image's file systems read-only (loop)"
need python3 sfdisk xorriso mcopy
rootfs=$(rootfs_fixture) || skip "no rootfs fixture (tests/fixtures/rootfs.sh)"
iso=$(bash "$REPO/tests/fixtures/iso.sh" focal-server) || skip "no focal-server fixture ISO"
losetup -f >/dev/null 2>&1 || skip "no free loop device"
mounts=()
_secrets_cleanup() {
	for m in "${mounts[@]:-}"; do [ -n "$m" ] && umount "$m" 2>/dev/null; done
	_cleanup
}
trap _secrets_cleanup EXIT

# secrets no other byte string of the build contains
salt=$(head -c 12 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9' | head -c 16)
hash_body=$(head -c 64 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9' | head -c 86)
password_hash="\$6\$$salt\$$hash_body"
token="mlrigTOKEN$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$T/p/keys"
cp "$REPO/images/keys/demo_ed25519.pub" "$T/p/keys/"
printf '%s\n' "$token" >"$T/p/ddns.token" && chmod 600 "$T/p/ddns.token"
cat >"$T/p/rig.conf" <<CONF
[Rig]
Hostname=secretrig
User=demo
AuthorizedKeys=keys/demo_ed25519.pub
PasswordHash=$password_hash
[DDNS]
Provider=cloudflare
Hostname=rig.example.com
Zone=example.com
PasswordFile=ddns.token
[SSH]
Port=2222
[Image]
Size=2G
CONF
secrets=("$token" "$hash_body")

# grep_secrets DIR: every file under DIR holding a secret, as "MODE UID GID PATH"
grep_secrets() {
	local s
	for s in "${secrets[@]}"; do grep -rlaF -- "$s" "$1" 2>/dev/null; done | sort -u | while read -r f; do
		stat -c '%a %u %g %n' "$f"
	done
}

# ---- the image --------------------------------------------------------------------------
"$MLRIG" image -p "$T/p/rig.conf" --rootfs "$rootfs" -o "$T/rig.img" >"$T/image.log" 2>&1
check "image builds" test $? -eq 0 -a -s "$T/rig.img"
for s in "${secrets[@]}"; do
	check "no secret in what mlrig image printed" eval '! grep -qF -- "$s" "$T/image.log"'
	check "no secret in the manifest" eval '! grep -qF -- "$s" "$T/rig.img.json"'
done
parts=$(sfdisk -J "$T/rig.img" | python3 -c 'import json,sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]: print(p["name"], p["start"] * 512, p["size"] * 512)')
while read -r name start size; do
	mkdir -p "$T/mnt-$name"
	if [ "$name" = root ]; then
		mount -o "ro,loop,noload,offset=$start,sizelimit=$size" "$T/rig.img" "$T/mnt-$name" && mounts+=("$T/mnt-$name") ||
			fail "cannot mount the root partition"
	else # the ESP (FAT): mtools reads it without the kernel's vfat
		mcopy -s -n -i "$T/rig.img@@$start" ::/ "$T/mnt-$name" || fail "cannot read the $name partition"
	fi
done <<<"$parts"
hits=$(grep_secrets "$T/mnt-root")
echo "image files with a secret (mode uid gid path):"
echo "$hits" | sed "s|$T/mnt-root||; s/^/    /"
check "the image holds the secrets somewhere (the scan can find them)" test -n "$hits"
bad=$(echo "$hits" | while read -r mode uid gid f; do
	[ -z "$f" ] && continue
	path=${f#"$T/mnt-root"}
	# root only, or /etc/shadow and its backup: root and group shadow
	shadow_gid=$(awk -F: '$1 == "shadow" { print $3 }' "$T/mnt-root/etc/group")
	if [ "$uid" = 0 ] && [ $((8#$mode & 8#077)) -eq 0 ]; then continue; fi
	if [ "$uid" = 0 ] && [ "$gid" = "$shadow_gid" ] && [ $((8#$mode & 8#027)) -eq 0 ] &&
		{ [ "$path" = /etc/shadow ] || [ "$path" = /etc/shadow- ]; }; then continue; fi
	echo "$mode $uid:$gid $path"
done)
check "no secret in a file anyone but root can read: ${bad:-none}" test -z "$bad"
# and the directories above each such file do not matter: the file's own mode decides
esp_hits=$(grep_secrets "$T/mnt-esp")
check "no secret on the ESP: ${esp_hits:-none}" test -z "$esp_hits"
for m in "${mounts[@]}"; do umount "$m"; done
mounts=()

# ---- the agent: argv of everything it spawns, its output, status and what it leaves -------
if command -v strace >/dev/null && command -v debugfs >/dev/null; then
	off=$(sfdisk -J "$T/rig.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"] * 512)')
	R=$T/root
	mkdir -p "$R/usr/share" "$R/proc/net" "$R/sys/class/net/enp3s0"
	for d in /etc /home; do debugfs -R "rdump $d $R" "$T/rig.img?offset=$off" 2>/dev/null; done
	debugfs -R "rdump /usr/share/mlrig $R/usr/share" "$T/rig.img?offset=$off" 2>/dev/null
	printf 'Iface\tDestination\tGateway\nenp3s0\t00000000\t0102A8C0\n' >"$R/proc/net/route"
	echo 52:54:00:12:34:56 >"$R/sys/class/net/enp3s0/address"
	timeout 300 strace -f -qq -e trace=execve -s 65536 -o "$T/execve.trace" "$BUILD/mlrig-firstboot" --root "$R" run >"$T/agent.log" 2>&1
	"$BUILD/mlrig-firstboot" --root "$R" status >"$T/status.txt" 2>&1
	"$BUILD/mlrig-firstboot" --root "$R" status --json >"$T/status.json" 2>&1
	check "the agent ran and spawned programs (traced: $(grep -c execve "$T/execve.trace") execve)" \
		test "$(grep -c execve "$T/execve.trace")" -ge 2
	for s in "${secrets[@]}"; do
		check "no secret in any argv the agent spawned" eval '! grep -qF -- "$s" "$T/execve.trace"'
		check "no secret in the agent's output, status or status --json" \
			eval '! grep -qF -- "$s" "$T/agent.log" "$T/status.txt" "$T/status.json"'
	done
	bad=$(grep_secrets "$R" | while read -r mode uid gid f; do
		[ -z "$f" ] && continue
		[ "$uid" = 0 ] && [ $((8#$mode & 8#077)) -eq 0 ] && continue
		[ "$uid" = 0 ] && [ $((8#$mode & 8#027)) -eq 0 ] && case ${f#"$R"} in /etc/shadow | /etc/shadow-) continue ;; esac
		echo "$mode $uid:$gid ${f#"$R"}"
	done)
	check "after the agent: no secret in a file anyone but root can read: ${bad:-none}" test -z "$bad"
else
	echo "SKIP the agent's argv check: needs strace and debugfs"
fi

# ---- the ISO -----------------------------------------------------------------------------
"$MLRIG" iso -p "$T/p/rig.conf" --base "$iso" -o "$T/rig.iso" >"$T/iso.log" 2>&1
check "iso builds" test $? -eq 0 -a -s "$T/rig.iso"
for s in "${secrets[@]}"; do
	check "no secret in what mlrig iso printed" eval '! grep -qF -- "$s" "$T/iso.log"'
done
mkdir -p "$T/iso"
xorriso -osirrox on -indev "$T/rig.iso" -extract / "$T/iso" >/dev/null 2>&1
check "the ISO extracts" test -e "$T/iso/.disk/info"
echo "ISO files with a secret (readable by anyone holding the medium):"
grep_secrets "$T/iso" | sed "s|$T/iso||; s/^/    /"
check "the ISO carries the DDNS token only where the installer reads it" \
	eval '[ "$(grep -rlaF -- "$token" "$T/iso" | wc -l)" -ge 1 ]'

# ---- mlrig check says so -----------------------------------------------------------------
out=$("$MLRIG" check -p "$T/p/rig.conf" 2>&1)
check "check warns that an ISO carries the DDNS token in the clear" grep -q "carries the DDNS secret in the clear" <<<"$out"
check "check warns that an ISO carries the password hash in the clear" grep -q "carries the hash in the clear" <<<"$out"
check "check says how: a token with the narrowest scope" grep -q "narrowest scope (a Cloudflare API token with Zone.DNS edit for \[DDNS\] Zone= only)" <<<"$out"
check "check says how: a PasswordHash, never a password" grep -q "PasswordHash" <<<"$out"
for s in "${secrets[@]}"; do
	check "no secret in what mlrig check printed" eval '! grep -qF -- "$s" <<<"$out"'
done
finish
