#!/bin/bash
# Writes the fuzz corpus seeds under tests/fuzz/corpus/TARGET/ (committed; rerun after a
# format changes): small valid inputs of each kind, so the fuzzers start from deep inside.
set -euo pipefail
cd "$(dirname "$0")"
c=corpus
rm -rf "$c" && mkdir -p "$c"/{profile,tar,iso,deb,http,efi}
w=$(mktemp -d) && trap 'rm -rf "$w"' EXIT

# profiles: the shipped ones with their file keys pointed at what fuzz-profile.c provides
for f in ../../images/*.conf; do
	sed -e 's|^AuthorizedKeys=.*|AuthorizedKeys=key.pub|' -e 's|^PasswordFile=.*|PasswordFile=password|' \
		-e 's|^CUDNN=.*|CUDNN=cudnn.tar.xz|' -e 's|^Wheelhouse=.*|Wheelhouse=dir|' -e 's|^Debs=.*|Debs=dir|' \
		"$f" >"$c/profile/$(basename "$f" .conf)"
done
printf '[Rig]\nHostname=a\nUser=b\nAuthorizedKeys=key.pub\nPasswordHash=locked\n[DDNS]\nProvider=cloudflare\nHostname=x.example.com\nZone=example.com\nPasswordFile=password\nServer=http://127.0.0.1:8080\nCheckIP=interface:eth0\nIPv6=yes\n[Router]\nPortForward=upnp\nExternalPort=2222\n[Python]\nVenv=~/venv\nRequirements=jupyterlab torch==2.0\n[Jupyter]\nService=yes\nApp=lab\n[Install]\nDisk=/dev/sda\nWipe=yes\n[Image]\nSize=4G\n' >"$c/profile/full"

# tarballs: a small tree of every entry kind, in each compression
mkdir -p "$w/t/etc/x" "$w/t/bin"
echo hello >"$w/t/etc/x/file" && ln -s file "$w/t/etc/x/link" && ln "$w/t/etc/x/file" "$w/t/etc/x/hard"
mkfifo "$w/t/bin/fifo" && truncate -s 100k "$w/t/bin/sparse" && echo -n x >>"$w/t/bin/sparse"
tar -C "$w/t" --sort=name --mtime=@1700000000 --owner=0 --group=0 -cf "$c/tar/plain" .
tar -C "$w/t" --sort=name --mtime=@1700000000 --format=pax -S -cf "$c/tar/pax-sparse" .
tar -C "$w/t" --sort=name --mtime=@1700000000 --format=gnu -cf - . | gzip -n9 >"$c/tar/gnu.gz"
tar -C "$w/t" --sort=name --mtime=@1700000000 --format=ustar -cf - ./etc | xz -9 >"$c/tar/ustar.xz"

# ISOs: a small Ubuntu-looking tree, BIOS + UEFI El Torito, isohybrid-like; and report texts
mkdir -p "$w/iso/.disk" "$w/iso/isolinux" "$w/iso/boot/grub"
echo 'Ubuntu-Server 20.04.6 LTS "Focal Fossa" - Release amd64 (20230316)' >"$w/iso/.disk/info"
head -c 2048 /dev/zero >"$w/iso/isolinux/isolinux.bin" && head -c 4096 /dev/zero >"$w/iso/boot/grub/efi.img"
(cd "$w/iso" && md5sum .disk/info >md5sum.txt)
if command -v xorriso >/dev/null; then
	xorriso -as mkisofs -quiet -V seed -J -r -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot \
		-boot-load-size 4 -boot-info-table -eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot \
		-o "$c/iso/focal-like" "$w/iso" 2>/dev/null
	xorriso -as mkisofs -quiet -V plain -o "$c/iso/plain" "$w/iso" 2>/dev/null
fi
printf '\001System area options: 0x00000102\nSystem area summary: MBR isohybrid cyl-align-on GPT APM\nISO image size/512 : 26624\nPartition offset   : 0\nMBR heads per cyl  : 64\nMBR secs per head  : 32\nMBR partition      :   1   0x80  0x00            0        26624\nMBR partition      :   2   0x00  0xef          156         8192\nGPT type GUID      :   2  a2a0d0ebe5b9334487c068b6b72699c7\nGPT start and size :   2  156  8192\nGPT partition path :   2  /boot/grub/efi.img\nAPM block size     :      2048\nAPM partition path :   1  /boot/grub/efi.img\n--\nEl Torito catalog  : 38  1\nEl Torito cat path : /isolinux/boot.cat\nEl Torito boot img :   1  BIOS  y   none  0x0000  0x00      4        2087\nEl Torito boot img :   2  UEFI  y   none  0x0000  0x00   8192          39\nEl Torito img path :   1  /isolinux/isolinux.bin\nEl Torito img opts :   1  boot-info-table isohybrid-suitable\nEl Torito img path :   2  /boot/grub/efi.img\n' >"$c/iso/report-focal"
printf '\001System area options: 0x00004201\nSystem area summary: MBR protective-msdos-label grub2-mbr cyl-align-off GPT\nPartition offset   : 16\nMBR partition      :   1   0x00  0xee            1        26135\nMBR partition      :   2   0x80  0x00            0            1\nGPT type GUID      :   1  a2a0d0ebe5b9334487c068b6b72699c7\nGPT start and size :   1  64  17216\nGPT type GUID      :   2  28732ac11ff8d211ba4b00a0c93ec93b\nGPT start and size :   2  17280  8192\n--\nEl Torito cat path : /boot.catalog\nEl Torito boot img :   1  BIOS  y   none  0x0000  0x00      4          71\nEl Torito boot img :   2  UEFI  y   none  0x0000  0x00   8192        4320\nEl Torito img path :   1  /boot/grub/i386-pc/eltorito.img\nEl Torito img opts :   1  boot-info-table grub2-boot-info\nEl Torito img blks :   2  2048\n' >"$c/iso/report-jammy"

# deb822: a Packages file, a status file, a control file
printf 'Package: libc6\nVersion: 2.31-13+deb11u5\nArchitecture: amd64\nDepends: libgcc-s1, libcrypt1 (>= 1:4.4.10-10~)\nProvides: libc6-x (= 2.31)\nDescription: GNU C Library\n continued\n .\n more\n\nPackage: foo\nVersion: 1:2.0~rc1-1ubuntu0.1\nArchitecture: all\nPre-Depends: libc6 (>= 2.17) | libc6-udeb:any (<< 3)\nRecommends: bar\n' >"$c/deb/packages"
printf 'Package: a\nStatus: install ok installed\nVersion: 1.0\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2.0-1\n\n# comment\nPackage: c\nStatus: hold ok installed\nVersion: 0.9+git20200101\n' >"$c/deb/status"
printf 'Package: mlrig-test\r\nVersion: 0.1-1\r\nArchitecture: amd64\r\nMaintainer: x <x@example.com>\r\nDepends: libc6 (>> 2.30), python3:any\r\nDescription: test\r\n' >"$c/deb/control"

# HTTP: status bytes, headers, blank line, body
printf '\310\000HTTP/1.1 200 OK\r\nContent-Length: 12\r\nDate: Wed, 02 Dec 2026 06:00:00 GMT\r\n\r\ngood 1.2.3.4' >"$c/http/dyndns2-good"
printf '\351\001HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */1000\r\n\r\n' >"$c/http/range-416"
printf '\316\000HTTP/1.1 206 Partial\r\nContent-Range: bytes 100-199/1000\r\nContent-Length: 100\r\nRetry-After: 120\r\n\r\nnochg 1.2.3.4\n' >"$c/http/range"
printf '\310\000https://api.cloudflare.com/client/v4\r\nContent-Type: application/json\r\n\r\n{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"result":null}' >"$c/http/cloudflare"
printf '\310\000https://www.duckdns.org/update?domains=x&token=y\r\n\r\nOK\n1.2.3.4\n\nUPDATED' >"$c/http/duckdns"
printf '\365\001HTTP/1.1 503 Busy\r\nRetry-After: Wed, 02 Dec 2026 06:10:00 GMT\r\n\r\n911' >"$c/http/busy"

# EFI load options: attributes, path list length, UCS-2 description, HD()/File()/End
python3 - "$c/efi" <<'PY'
import struct, sys
d = sys.argv[1]
def opt(desc, path, attrs=1, extra=b""):
    return struct.pack("<IH", attrs, len(path)) + (desc + "\0").encode("utf-16-le") + path + extra
hd = struct.pack("<BBHIQQ16sBB", 4, 1, 42, 1, 2048, 1048576, bytes(range(16)), 2, 2)
f = "\\EFI\\BOOT\\BOOTX64.EFI\0".encode("utf-16-le")
fp = struct.pack("<BBH", 4, 4, 4 + len(f)) + f
end = struct.pack("<BBH", 0x7f, 0xff, 4)
open(d + "/hd-file", "wb").write(opt("mlrig", hd + fp + end))
open(d + "/optional-data", "wb").write(opt("Windows Boot Manager", hd + fp + end, 1, b"WINDOWS\0\x01\x00"))
open(d + "/empty-path", "wb").write(opt("x", end, 0))
PY
echo "seeds: $(find "$c" -type f | wc -l) files"
