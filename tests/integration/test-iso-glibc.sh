#!/bin/bash
# mlrig iso checks the agent's glibc needs against the medium's release, as
# mlrig image does against the rootfs: Ubuntu 20.04 has glibc 2.31, 22.04 2.35,
# 24.04 2.39. Agents that need more than the medium has are refused (exit 1,
# the message names the release, its glibc and the version needed; nothing at
# -o); the glibc 2.31 build goes into all three. The needs are read here with
# readelf, not with mlrig's own ELF reader.
. "$(dirname "$0")/../lib.sh"
need xorriso readelf cc perl
compat=$BUILD/compat/mlrig-firstboot
[ -x "$compat" ] || skip "no glibc 2.31 agent build ($compat)"
cp -r "$REPO/images" "$T/p"

# The newest GLIBC_2.x version a binary needs, by readelf.
glibc_need() {
	readelf -V --wide "$1" | grep -o 'Name: GLIBC_2\.[0-9.]*' | cut -d' ' -f2 | sort -V | tail -1
}

# Agents that need newer glibc: arc4random() is GLIBC_2.36 (Debian 12's glibc);
# the same binary with its version need renamed GLIBC_2.40 stands for a newer one.
printf '#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 1); }\n' >"$T/a.c"
cc -o "$T/agent-2.36" "$T/a.c"
perl -pe 's/GLIBC_2\.36/GLIBC_2.40/g' "$T/agent-2.36" >"$T/agent-2.40"
chmod +x "$T/agent-2.40"
host=$BUILD/mlrig-firstboot
[ "$(glibc_need "$T/agent-2.36")" = GLIBC_2.36 ] || fail "the GLIBC_2.36 stand-in needs $(glibc_need "$T/agent-2.36")"
[ "$(glibc_need "$T/agent-2.40")" = GLIBC_2.40 ] || fail "the GLIBC_2.40 stand-in needs $(glibc_need "$T/agent-2.40")"
host_need=$(glibc_need "$host")

focal=$(bash "$REPO/tests/fixtures/iso.sh" focal-server) || skip "cannot build the 20.04 fixture ISO"
jammy=$(bash "$REPO/tests/fixtures/iso.sh" jammy-server) || skip "cannot build the 22.04 fixture ISO"
# 24.04: the 22.04 fixture with a noble .disk/info
printf '%s' 'Ubuntu-Server 24.04.1 LTS "Noble Numbat" - Release amd64 (20240827)' >"$T/info"
xorriso -indev "$jammy" -outdev "$T/noble.iso" -map "$T/info" /.disk/info -boot_image any replay >"$T/x.log" 2>&1 ||
	{ cat "$T/x.log"; skip "xorriso cannot make the 24.04 stand-in"; }

# iso_case NAME BASE RELEASE GLIBC AGENT ok|refused
iso_case() {
	local name=$1 base=$2 release=$3 glibc=$4 agent=$5 want=$6 rc need
	need=$(glibc_need "$agent")
	rm -f "$T/out.iso"
	MLRIG_AGENT=$agent "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$base" -o "$T/out.iso" 2>"$T/err"
	rc=$?
	if [ "$want" = ok ]; then
		if [ $rc -eq 0 ] && [ -s "$T/out.iso" ]; then pass "$name: accepted ($need <= $glibc)"; else fail "$name: exit $rc"; cat "$T/err"; fi
		return
	fi
	if [ $rc -eq 1 ] && [ ! -e "$T/out.iso" ] && ! ls "$T"/out.iso.* >/dev/null 2>&1 &&
		grep -qF "Ubuntu $release (glibc $glibc) cannot run the agent $agent: it needs $need." "$T/err"; then
		pass "$name: refused ($need > $glibc), nothing at -o"
	else
		fail "$name: exit $rc, expected 1 and the message"; cat "$T/err"
	fi
}

iso_case "20.04, glibc 2.31 agent" "$focal" 20.04.6 2.31 "$compat" ok
iso_case "20.04, host agent" "$focal" 20.04.6 2.31 "$host" refused
iso_case "22.04, glibc 2.31 agent" "$jammy" 22.04.4 2.35 "$compat" ok
iso_case "22.04, GLIBC_2.36 agent" "$jammy" 22.04.4 2.35 "$T/agent-2.36" refused
iso_case "24.04, glibc 2.31 agent" "$T/noble.iso" 24.04.1 2.39 "$compat" ok
iso_case "24.04, GLIBC_2.36 agent" "$T/noble.iso" 24.04.1 2.39 "$T/agent-2.36" ok
iso_case "24.04, GLIBC_2.40 agent" "$T/noble.iso" 24.04.1 2.39 "$T/agent-2.40" refused
case $host_need in GLIBC_2.3[2-5]) iso_case "22.04, host agent" "$jammy" 22.04.4 2.35 "$host" ok ;; esac
finish
