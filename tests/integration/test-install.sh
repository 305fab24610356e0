#!/bin/bash
# make install DESTDIR=ROOT PREFIX=/usr into a fresh root, then that mlrig, run
# from outside the source tree with the tree hidden (an empty tmpfs over it) and
# every file access traced, with MLRIG_DATADIR, MLRIG_AGENT and LD_LIBRARY_PATH
# unset: --version loads the system's libraries, image builds from the bullseye
# rootfs fixture and iso remasters the 20.04 fixture, both with the installed
# glibc 2.31 agent and templates and nothing read from the source tree.
# tests/boot/test-installed-boot.sh boots what it builds.
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/integration/lib-install.sh"
need strace unshare readelf debugfs sfdisk osirrox python3
skip_under_sanitizers
root=$T/root

install_into "$root" || { fail "make install DESTDIR=$root PREFIX=/usr"; finish; }
pass "make install DESTDIR=... PREFIX=/usr"
check_layout "$root"
if run_installed "$root" "$T/version.trace" mlrig --version >"$T/version" 2>&1 && grep -q '^libext2fs ' "$T/version"; then
	pass "installed mlrig --version runs on the system's libraries"
else
	fail "installed mlrig --version"; cat "$T/version"
fi
check "its libraries are the system's" bash -c "! ldd '$root/usr/bin/mlrig' | grep -F -e '$REPO' -e '$T'"
no_source_reads "mlrig --version" "$T/version.trace"
check_installed_builds "$root"
finish
