#!/bin/bash
# mlrig --version names the libraries it runs with, as mkfs and curl do: each
# version checked against what pkg-config (the -dev packages of the same
# Debian release) says, libcurl included while it loads, and a line saying it
# does not (exit 0 all the same) when libcurl.so.4 cannot be loaded.
. "$(dirname "$0")/../lib.sh"
need pkg-config

"$MLRIG" --version >"$T/v" 2>"$T/err" || { fail "mlrig --version exits 0"; cat "$T/err"; }
check "first line is mlrig and VERSION" grep -qx "mlrig $(cat "$REPO/VERSION")" <(head -1 "$T/v")

# library name in the output | its pkg-config module
while read -r lib module; do
	want=$(pkg-config --modversion "$module" 2>/dev/null) || { fail "$lib: pkg-config $module"; continue; }
	if grep -Eq "^$lib ${want//./\\.}( \(.*\))?\$" "$T/v"; then
		pass "$lib $want"
	else
		fail "$lib $want not in --version"; cat "$T/v"
	fi
done <<'EOF'
libarchive libarchive
libext2fs ext2fs
libfdisk fdisk
libblkid blkid
libisofs libisofs-1
libcurl libcurl
EOF
check "-V is --version" cmp -s "$T/v" <("$MLRIG" -V)

# A libcurl.so.4 that does not load (first on the loader's path): --version still works and says why.
mkdir -p "$T/badlib"
: >"$T/badlib/libcurl.so.4"
if LD_LIBRARY_PATH=$T/badlib "$MLRIG" --version >"$T/v2" 2>&1 &&
	grep -q "^libcurl not loadable (.*libcurl.so.4: file too short); mlrig fetch needs it\$" "$T/v2" &&
	grep -q '^libarchive ' "$T/v2"; then
	pass "libcurl not loadable: said, exit 0"
else
	fail "libcurl not loadable"; cat "$T/v2"
fi
finish
