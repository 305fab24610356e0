# Shared by the tests of an installed mlrig (make install, the .deb, the boot of
# what it builds): installing into a scratch root, and running the installed
# programs from outside the source tree with that tree hidden and their file
# accesses traced. Sourced after tests/lib.sh.

# The installed tree is built without sanitizers: under the asan tier it would
# test nothing new, so the tests say SKIP there.
skip_under_sanitizers() {
	if ldd "$MLRIG" 2>/dev/null | grep -q 'libasan\|libubsan'; then
		skip "$BUILD is a sanitizer build; the installed tree is built without them and tested in the plain tier"
	fi
}

# make, with nothing of a calling make (its command-line variables, SANITIZE, CFLAGS)
# reaching it: the install is built the way a packager builds it.
clean_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u CPPFLAGS -u LDFLAGS -u SANITIZE \
		make -C "$REPO" --no-print-directory "$@"
}

# install_into ROOT: 'make install DESTDIR=ROOT PREFIX=/usr', built in its own build directory.
install_into() {
	clean_make -j2 BUILD="$T/build" DESTDIR="$1" PREFIX=/usr install >"$T/install.log" 2>&1 || {
		tail -30 "$T/install.log"
		return 1
	}
}

# run_installed ROOT LOG COMMAND...: runs the installed ROOT/usr/bin/COMMAND from $T/work,
# with MLRIG_DATADIR, MLRIG_AGENT, MLRIG_BOOT_USER and LD_LIBRARY_PATH unset, every
# file access traced into LOG (strace; LOG '-' for no trace), and the source tree
# hidden under an empty read-only tmpfs where a private mount namespace can be had
# (root), so that reading from it fails as well as shows.
run_installed() {
	local root=$1 log=$2 cmd=$3 trace=()
	shift 3
	[ "$log" = - ] || trace=(strace -f -qq -e 'trace=%file,execve' -o "$log")
	mkdir -p "$T/work"
	(
		cd "$T/work" || exit 1
		unset MLRIG_DATADIR MLRIG_AGENT MLRIG_BOOT_USER LD_LIBRARY_PATH
		if [ "${HIDE_REPO:-1}" = 1 ]; then
			unshare -m --propagation private -- sh -c 'mount -t tmpfs -o ro,size=64k mlrig-source-hidden "$0" && exec "$@"' \
				"$REPO" "${trace[@]}" "$root/usr/bin/$cmd" "$@"
		else
			"${trace[@]}" "$root/usr/bin/$cmd" "$@"
		fi
	)
}

# Whether this machine lets us hide the source tree (a private mount namespace and a tmpfs).
can_hide_repo() {
	unshare -m --propagation private -- sh -c 'mount -t tmpfs -o ro,size=64k x "$0"' "$T" 2>/dev/null
}

# no_source_reads NAME LOG: no path under the source tree in the trace (opened,
# stat'ed, executed, even tried), and the trace is not empty.
no_source_reads() {
	local name=$1 log=$2
	if [ ! -s "$log" ]; then fail "$name: no trace"; return; fi
	if grep -F -- "$REPO/" "$log" >"$T/source-reads" || grep -F -- "\"$REPO\"" "$log" >>"$T/source-reads"; then
		fail "$name: touched the source tree $REPO:"; head -20 "$T/source-reads"
	else
		pass "$name: nothing under $REPO touched ($(wc -l <"$log") traced calls)"
	fi
}

# The newest GLIBC_2.x version a binary needs, by readelf.
glibc_need() {
	readelf -V --wide "$1" | grep -o 'Name: GLIBC_2\.[0-9.]*' | cut -d' ' -f2 | sort -V | tail -1
}

# check_layout ROOT: what an installed mlrig consists of.
check_layout() {
	local root=$1 missing='' f need
	for f in usr/bin/mlrig usr/lib/mlrig/mlrig-firstboot usr/share/mlrig/overlays/rig usr/share/mlrig/grub \
		usr/share/man/man1/mlrig.1 usr/share/man/man5/mlrig-profile.5 usr/share/man/man8/mlrig-firstboot.8 \
		usr/share/bash-completion/completions/mlrig usr/share/bash-completion/completions/mlrig-firstboot \
		usr/share/zsh/vendor-completions/_mlrig; do
		[ -e "$root/$f" ] || [ -e "$root/$f.gz" ] || missing="$missing $f"
	done
	for c in $("$MLRIG" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^ [a-z]/ { print $1 }'); do
		[ -e "$root/usr/share/man/man1/mlrig-$c.1" ] || [ -e "$root/usr/share/man/man1/mlrig-$c.1.gz" ] ||
			missing="$missing mlrig-$c.1"
	done
	[ -z "$missing" ] && pass "installed: binaries, agent, templates, a page per command, completions" ||
		fail "not installed:$missing"
	need=$(glibc_need "$root/usr/lib/mlrig/mlrig-firstboot")
	case $need in
	GLIBC_2.[0-9] | GLIBC_2.[12][0-9] | GLIBC_2.3[01]) pass "the installed agent is the glibc 2.31 build (needs $need)" ;;
	*) fail "the installed agent needs $need, more than Ubuntu 20.04's glibc 2.31" ;;
	esac
}

# check_installed_builds ROOT: the installed mlrig builds an image from the bullseye rootfs
# fixture and an ISO from the 20.04 fixture, with nothing read from the source tree, and
# both carry the installed agent. Leaves the image at $T/work/rig.img.
check_installed_builds() {
	local root=$1 rootfs focal agent_sum img_agent iso_agent start
	rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
	focal=$(bash "$REPO/tests/fixtures/iso.sh" focal-server) || skip "cannot build the 20.04 fixture ISO"
	cp -r "$REPO/images" "$T/p"
	HIDE_REPO=1
	can_hide_repo || { HIDE_REPO=0; echo "NOTE: no private mount namespace here: the source tree stays visible, the trace alone checks"; }
	agent_sum=$(sha256sum <"$root/usr/lib/mlrig/mlrig-firstboot")

	if run_installed "$root" "$T/image.trace" mlrig image -q -p "$T/p/demo.conf" --rootfs "$rootfs" -o "$T/work/rig.img" 2>"$T/image.err"; then
		pass "installed mlrig image: built from the bullseye rootfs"
	else
		fail "installed mlrig image"; cat "$T/image.err"; return
	fi
	no_source_reads "mlrig image" "$T/image.trace"
	check "mlrig image read the installed templates" grep -qF "\"$root/usr/share/mlrig/overlays/rig" "$T/image.trace"
	# the agent inside the image's root file system (partition 2, by sfdisk), read with debugfs
	start=$(sfdisk --json "$T/work/rig.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])')
	img_agent=$(debugfs -R "cat /usr/lib/mlrig/mlrig-firstboot" "$T/work/rig.img?offset=$((start * 512))" 2>/dev/null | sha256sum)
	check "the image carries the installed agent" test "$img_agent" = "$agent_sum"
	check "the manifest names the rig user" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if m["rig"] == {"hostname": "mlrig-demo", "user": "demo"} else 1)' "$T/work/rig.img.json"

	if run_installed "$root" "$T/iso.trace" mlrig iso -q -p "$T/p/demo.conf" --base "$focal" -o "$T/work/rig.iso" 2>"$T/iso.err"; then
		pass "installed mlrig iso: remastered the 20.04 fixture"
	else
		fail "installed mlrig iso"; cat "$T/iso.err"; return
	fi
	no_source_reads "mlrig iso" "$T/iso.trace"
	osirrox -indev "$T/work/rig.iso" -extract /mlrig/root/usr/lib/mlrig/mlrig-firstboot "$T/iso-agent" >/dev/null 2>&1
	iso_agent=$(sha256sum <"$T/iso-agent" 2>/dev/null)
	check "the ISO carries the installed agent" test "$iso_agent" = "$agent_sum"
	rm -f "$T/work/rig.iso"
}
