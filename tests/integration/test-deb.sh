#!/bin/bash
# make deb (dpkg-buildpackage -us -uc -b on a copy of the tree) builds
# mlrig_VERSION_amd64.deb: its version is VERSION and debian/changelog's; its
# Depends name the package of every library the binaries link (found here with
# readelf, ldd and dpkg -S, not from the package's own shlibs) and of every
# program mlrig runs, qemu and OVMF are recommended; lintian finds no error, and every other tag is fixed or overridden with its reason
# (its other tags are printed); unpacked with dpkg-deb -x into a fresh root,
# the package has the builder, the glibc 2.31 agent, templates, pages and
# completions, and its mlrig builds an image and an ISO with nothing read
# from the source tree.
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/integration/lib-install.sh"
need dpkg-buildpackage dh lintian dpkg-deb dpkg-parsechangelog readelf strace unshare debugfs sfdisk osirrox python3
skip_under_sanitizers
version=$(cat "$REPO/VERSION")
check "debian/changelog's version is VERSION ($version)" \
	test "$(dpkg-parsechangelog -l "$REPO/debian/changelog" -S Version)" = "$version"

PATH=$PATH:/usr/sbin:/sbin
touch "$T/before"
if ! clean_make deb DEB_OUT="$T/deb" >"$T/deb.log" 2>&1; then
	fail "make deb"; tail -40 "$T/deb.log"; finish
fi
deb=$T/deb/mlrig_${version}_amd64.deb
[ -f "$deb" ] && pass "make deb built $(basename "$deb")" || { fail "no $deb"; ls "$T/deb"; finish; }
# the package is built from a copy: nothing in the tree changed (the build directories aside)
find "$REPO" \( -path "$REPO/.git" -o -path "$REPO/build*" \) -prune -o -newer "$T/before" -print >"$T/changed"
check "make deb left the source tree as it was" test ! -s "$T/changed"

field() { dpkg-deb -f "$deb" "$1"; }
# a package named in a relationship field, alone or with a version
in_field() { field "$1" | tr ',' '\n' | sed -E 's/^ *//; s/ .*//' | grep -qx "$2"; }
check "Architecture: amd64" test "$(field Architecture)" = amd64
# The package that ships a file here, under its own name, its real path, or that without /usr (merged /usr).
package_of() {
	local real
	real=$(realpath "$1")
	for p in "$1" "$real" "${real#/usr}"; do
		dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 | grep . && return
	done
}

# Every library the packaged binaries link, by the package that ships it here.
root=$T/root
dpkg-deb -x "$deb" "$root"
missing=
for bin in "$root/usr/bin/mlrig" "$root/usr/lib/mlrig/mlrig-firstboot"; do
	for soname in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldd "$bin" | awk -v s="$soname" '$1 == s { print $3 }')
		pkg=$(package_of "$path")
		in_field Depends "$pkg" || missing="$missing $soname($pkg)"
	done
done
[ -z "$missing" ] && pass "Depends has the package of every linked library" || fail "Depends lacks:$missing"

# The programs mlrig runs, by their packages (grub-mkimage's grub-common comes with grub-efi-amd64-bin).
missing=
for prog in mkfs.vfat mke2fs mmd mcopy xz; do
	pkg=$(package_of "$(command -v $prog)")
	in_field Depends "$pkg" || missing="$missing $prog($pkg)"
done
pkg=$(package_of "$(command -v grub-mkimage)")
in_field Depends grub-efi-amd64-bin && dpkg-query -W -f='${Depends}' grub-efi-amd64-bin | grep -qw "$pkg" ||
	missing="$missing grub-mkimage($pkg)"
[ -z "$missing" ] && pass "Depends has the package of every program mlrig runs" || fail "Depends lacks:$missing"
for p in "$(package_of "$(command -v qemu-system-x86_64)")" "$(package_of /usr/share/OVMF/OVMF_CODE.fd)" libcurl4 \
	"$(package_of "$(command -v ssh)")"; do
	check "Recommends: $p (mlrig boot, boot --ssh, fetch)" in_field Recommends "$p"
done

lintian --pedantic -I -E "$T/deb/mlrig_${version}_amd64.changes" >"$T/lintian" 2>&1
grep -E '^[EWIXP]:' "$T/lintian" | sed 's/^/NOTE lintian: /'
if grep -q '^E:' "$T/lintian"; then fail "lintian reports errors"; else pass "lintian: no errors"; fi
# every other tag, down to pedantic and experimental, is fixed or overridden with its reason
if grep -qE '^[WIXP]:' "$T/lintian"; then
	fail "lintian: tags neither fixed nor in debian/mlrig.lintian-overrides"
else
	pass "lintian: every tag fixed or overridden, with why (debian/mlrig.lintian-overrides)"
fi

check_layout "$root"
check "the man pages are compressed, as Debian installs them" test -f "$root/usr/share/man/man1/mlrig-image.1.gz"
check_installed_builds "$root"
finish
