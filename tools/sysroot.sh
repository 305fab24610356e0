#!/bin/bash
# Makes the glibc 2.31 sysroot (Debian bullseye, same glibc as Ubuntu 20.04)
# that the agent shipped into rigs is compiled against, so it runs there.
# Prints the sysroot's path; cached under $MLRIG_CACHE keyed by this script.
# Besides libc: the headers of the libraries the agent loads with dlopen() (libcurl for
# DDNS, miniupnpc and libnatpmp for the router port mapping), whose struct layouts and
# constants it compiles against; the agent never links them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/fixtures/lib.sh"

out=$(fixture_path sysroot-bullseye "$0" d)
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
	echo "$0: the glibc 2.31 sysroot for the agent is not built yet; it needs root once (debootstrap):" >&2
	echo "  sudo bash $0" >&2
	exit 1
fi
mkdir -p "$MLRIG_CACHE"
rm -rf "$out"
work=$(mktemp -d "$MLRIG_CACHE/.sysroot.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkgs=libc6-dev,libcurl4-openssl-dev,libminiupnpc-dev,libnatpmp-dev
echo "sysroot.sh: debootstrap bullseye with $pkgs into $work (a minute or two)" >&2
debootstrap --variant=minbase --include="$pkgs" bullseye "$work/root" "$FIXTURE_MIRROR" >"$work/log" 2>&1 || {
	tail -30 "$work/log" >&2
	exit 1
}
rm -rf "$work"/root/var/cache/apt/archives/*.deb "$work"/root/usr/share/doc "$work"/root/usr/share/locale
# absolute symlinks inside a sysroot would point at the host: make them relative
find "$work/root" -type l -lname '/*' | while read -r l; do
	t=$(readlink "$l")
	ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$work/root$t")" "$l"
done
touch "$work/root/.complete"
mv "$work/root" "$out"
echo "$out"
