#!/bin/bash
# The one list of what mlrig needs to build, test and run the demo; installs it when root.
set -euo pipefail

# Build: compiler and the libraries the two binaries link.
build_pkgs="build-essential pkg-config libarchive-dev libext2fs-dev libfdisk-dev libblkid-dev libcurl4-openssl-dev libssl-dev
	libisofs-dev libyaml-dev libminiupnpc-dev libnatpmp-dev"
# Run and test: the reference tools mlrig calls or checks its outputs with
# (libefiboot1: test-efi loads it as the agent does; efibootmgr makes its
# reference bytes; ntfs-3g: the Windows fixture disk; os-prober: test-os-prober
# finds Windows on it; python3-fusepy: test-flash's fake-capacity stick; dmsetup:
# test-faults' error and flakey targets).
run_pkgs="e2fsprogs dosfstools mtools fdisk util-linux grub-efi-amd64-bin grub-common
	qemu-system-x86 ovmf debootstrap openssh-client xz-utils zstd gzip tar
	python3 cpio busybox-static gpgv gpg nginx-light
	xorriso isolinux syslinux-common grub-pc-bin python3-yaml
	debian-archive-keyring
	miniupnpd miniupnpd-nftables miniupnpc nftables sshfs
	libefiboot1 efibootmgr ntfs-3g os-prober python3-fusepy dmsetup"
# make deb and its test; the install, completion and manual page tests.
package_pkgs="dpkg-dev debhelper lintian bash-completion zsh strace man-db"
# Benchmarks only.
bench_pkgs="bc bmap-tools curl"
# make lint.
lint_pkgs="cppcheck shellcheck"
# make fuzz: libFuzzer comes with clang's runtime libraries.
fuzz_pkgs="clang libclang-rt-14-dev"

pkgs="$build_pkgs $run_pkgs $package_pkgs $bench_pkgs $lint_pkgs $fuzz_pkgs"

missing=()
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "mlrig needs these packages: ${missing[*]}" >&2
	echo "Run: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
