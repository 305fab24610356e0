#!/bin/bash
# Hostile inputs, counted: malformed and malicious profiles, tarballs, ISOs, flash targets and
# HTTP servers. Each must end with a clear message (matched below), an exit status from 1 to
# 127 (not a crash, not a hang: 300 s at most), nothing at the output path (a fetch's .part
# only where the message says it is kept) and nothing written anywhere else under the test's
# directory (nor /tmp/mlrig-hostile-escape, where the escaping tarballs aim).
# Prints "N/N hostile inputs refused cleanly".
. "$(dirname "$0")/../lib.sh"
need python3 xorriso timeout sha256sum
in=$T/in out=$T/out
mkdir -p "$in" "$out"
cp -r "$REPO/images" "$T/p"
escape=/tmp/mlrig-hostile-escape
rm -f "$escape"
count=0 clean=0

_hostile_cleanup() {
	[ -n "${http_pid:-}" ] && kill "$http_pid" 2>/dev/null
	for l in "${loops[@]:-}"; do [ -n "$l" ] && losetup -d "$l" 2>/dev/null; done
	_cleanup
}
loops=()
trap _hostile_cleanup EXIT

# Everything under $T but the output, the log and the HTTP server's state: name, size, time, mode.
snapshot() {
	find "$T" -mindepth 1 \( -path "$out" -o -path "$T/log" -o -path "$T/http" \) -prune -o -printf '%P %s %T@ %m\n' | sort
}

# hostile KIND/NAME REGEX COMMAND...
hostile() {
	local name=$1 re=$2 rc before after why="" left
	shift 2
	rm -rf "$out" && mkdir "$out"
	before=$(snapshot)
	timeout 300 "$@" >"$T/log" 2>&1 </dev/null
	rc=$?
	after=$(snapshot)
	count=$((count + 1))
	if [ $rc -lt 1 ] || [ $rc -gt 127 ] || [ $rc -eq 124 ]; then why="$why; exit $rc"; fi
	grep -Eq -- "$re" "$T/log" || why="$why; the message does not match /$re/: $(tail -2 "$T/log" | cut -c1-300)"
	left=$(cd "$out" && ls -A)
	if [ -n "$left" ]; then
		# a fetch keeps what arrived, for the next run to resume, and says so
		if [ "${left%.part}" != "$left" ] && [ "$(echo "$left" | wc -l)" -eq 1 ] && grep -q "$left is kept" "$T/log"; then
			:
		else
			why="$why; left in the output: $left"
		fi
	fi
	[ "$before" = "$after" ] || why="$why; wrote outside the output: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -3)"
	[ ! -e "$escape" ] || { why="$why; wrote $escape"; rm -f "$escape"; }
	if [ -z "$why" ]; then
		clean=$((clean + 1))
		pass "$name: $(grep -Em1 -- "$re" "$T/log" | cut -c1-160)"
	else
		fail "$name${why}"
	fi
}

# ---- profiles: mlrig image stops at the profile --------------------------------------------
tiny=$in/tiny.tar
mkdir -p "$T/tree/etc" && echo x >"$T/tree/etc/x" && tar -C "$T/tree" -cf "$tiny" . && rm -rf "$T/tree"
profile() { # NAME REGEX: $in/NAME.conf is the profile
	hostile "profile/$1" "$2" "$MLRIG" image -q -p "$in/$1.conf" --rootfs "$tiny" -o "$out/rig.img"
}
base='[Rig]\nHostname=rig\nUser=demo\nAuthorizedKeys=keys/demo_ed25519.pub\n'
mkdir -p "$in/keys" && cp "$REPO/images/keys/demo_ed25519.pub" "$in/keys/"
echo secret >"$in/secret" && chmod 600 "$in/secret"

printf "$base"'[Boot]\nEntryName=caf\xe9\n' >"$in/bad-utf8.conf"
profile bad-utf8 "bad-utf8.conf:6: not valid UTF-8"
printf "$base"'[Boot]\nTimeout=1\0\nKernelCommandLine=init=/bin/sh\n' >"$in/nul.conf"
profile nul "nul.conf:6: a NUL byte"
{ printf "$base"; printf '[Boot]\nKernelCommandLine='; head -c 1048576 /dev/zero | tr '\0' q; echo; } >"$in/mb-line.conf"
profile mb-line "mb-line.conf:6: line longer than 4096 bytes"
{ printf "$base"; head -c 2000 /dev/zero | tr "\0" "["; head -c 2000 /dev/zero | tr "\0" "]"; echo; } >"$in/deep-brackets.conf"
profile deep-brackets "deep-brackets.conf:5: unknown section \[\[\[\["
{ printf "$base"; head -c 100000 /dev/zero | tr '\0' '['; echo; } >"$in/deep-open.conf"
profile deep-open "deep-open.conf:5: line longer than 4096 bytes"
printf "$base"'[Boot]\nEntryName=rig\x1b]0;owned\x07\n' >"$in/escape-seq.conf"
profile escape-seq "escape-seq.conf:6: control character 0x1b"
printf '\xef\xbb\xbf\xff\xfe'"$base" >"$in/bom-garbage.conf"
profile bom-garbage "bom-garbage.conf:1: not valid UTF-8"
head -c 4096 /dev/urandom >"$in/binary.conf"
profile binary "binary.conf:[0-9]+: (not valid UTF-8|a NUL byte|control character|line longer)"

# every key with a value of the wrong type ([Python]
# Requirements= take any words: nothing to be wrong about)
ddns='[DDNS]\nProvider=dyndns2\nHostname=rig.example.com\nUsername=me\nPasswordFile=secret\nServer=https://ddns.example.com\n'
while read -r section key value want; do
	n=wrong-$section-$key
	if [ "$section" = Rig ]; then
		printf "$base" | grep -v "^$key=" >"$in/$n.conf"
		printf '%s=%s\n' "$key" "$value" >>"$in/$n.conf"
	elif [ "$section" = DDNS ]; then
		{ printf "$base$ddns"; printf '%s=%s\n' "$key" "$value"; } >"$in/$n.conf"
	else
		{ printf "$base"; printf '[%s]\n%s=%s\n' "$section" "$key" "$value"; } >"$in/$n.conf"
	fi
	profile "$n" "\[$section\] $key=.*$want"
done <<'KEYS'
Rig Hostname /etc/passwd not a valid host name
Rig User 42 not a valid user name
Rig AuthorizedKeys keys is not a regular file
Rig PasswordHash yes not a crypt
Packages Install nvidia;reboot not a Debian package name
Packages Debs keys/demo_ed25519.pub is not a directory
Packages Debconf keys is not a regular file
Boot DualBoot 2 not a boolean
Boot Default 7 unknown default
Boot Timeout -1 not a number
Boot KernelCommandLine $(reboot) must not contain
Boot EntryName 99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999 .
SSH Port 70000 not a port number
SSH PasswordAuthentication 1.5 not a boolean
SSH PermitRootLogin [] not a boolean
SSH ClientAliveInterval 1e9 not a number
WakeOnLan Enable maybe not a boolean
WakeOnLan Interface a/b not an interface
WakeOnLan MAC 12 not a MAC
DDNS Provider yes unknown provider
DDNS Hostname [::1] not a valid DNS name
DDNS Username me:pw must not contain ':'
DDNS PasswordFile 0 cannot use
DDNS Server 443 not an https:// URL
DDNS Zone -x- not a zone name
DDNS CheckIP 8.8.8.8 not an https:// URL
DDNS IPv6 6 not a boolean
DDNS Interval 0 not a number of minutes
Router PortForward 22 unknown port mapping
Router ExternalPort http not a port number
Firewall Enable on-ish not a boolean
GPU Driver 470 not a driver
GPU CUDA 11.4 a CUDA version is no longer accepted
GPU CUDNN 8 not a cuDNN tarball
GPU BlacklistNouveau maybe not a boolean
GPU Sha256 abc a pin is FILE:SHA256
Python Venv 3 must be an absolute path
Python Wheelhouse 0 cannot use
Jupyter Port -8888 not a port number
Jupyter Service 8888 not a boolean
Jupyter App 1 unknown app
Image Size yes not a size
Image Seed 7 not a UUID
Image SourceDateEpoch yesterday not a time
Install Disk 1 must be a device path
Install Wipe 2 not a boolean
KEYS

# ---- tarballs: mlrig image streams the rootfs ----------------------------------------------
python3 - "$in" "$escape" <<'PY'
import io, sys, tarfile
d, escape = sys.argv[1], sys.argv[2]
def add(t, name, typ=tarfile.REGTYPE, data=b"x\n", link="", pax=None, **kw):
    i = tarfile.TarInfo(name); i.type = typ; i.linkname = link; i.mtime = 1700000000
    if pax: i.pax_headers = pax
    for k, v in kw.items(): setattr(i, k, v)
    if typ == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
def make(name, *entries, fmt=tarfile.PAX_FORMAT):
    with tarfile.open("%s/%s.tar" % (d, name), "w", format=fmt) as t:
        add(t, "./etc/", tarfile.DIRTYPE)
        for e in entries:
            args = list(e)
            kw = args.pop() if isinstance(args[-1], dict) else {}
            add(t, *args, **kw)
up = "../" * 12 + escape.lstrip("/")
make("dotdot", ("./etc/../../x",), ("./" + up,))
make("absolute", (escape,))
make("symlink-then-file", ("./lnk", tarfile.SYMTYPE, b"", "/tmp",), ("./lnk/mlrig-hostile-escape",))
make("symlink-up-then-file", ("./up", tarfile.SYMTYPE, b"", "../../../../../../tmp",), ("./up/mlrig-hostile-escape",))
make("hardlink-outside", ("./h", tarfile.LNKTYPE, b"", "../../../../etc/passwd",))
make("hardlink-absolute", ("./h", tarfile.LNKTYPE, b"", "/etc/shadow",))
make("file-then-dir", ("./etc/x",), ("./etc/x/", tarfile.DIRTYPE), ("./etc/x/y",))
make("dir-then-file", ("./etc/d/", tarfile.DIRTYPE), ("./etc/d/y",), ("./etc/d",))
make("file-then-symlink", ("./etc/f",), ("./etc/f", tarfile.SYMTYPE, b"", "/etc/shadow",))
make("symlink-then-fifo", ("./etc/s", tarfile.SYMTYPE, b"", "x",), ("./etc/s", tarfile.FIFOTYPE))
make("name-300", ("./etc/" + "a" * 300,))
make("path-5000", ("./" + "/".join(["b" * 200] * 25),))
make("time-negative", ("./etc/t", {"pax": {"mtime": "-99999999999"}}))
make("time-huge", ("./etc/t", {"pax": {"mtime": "99999999999999999999"}}))
make("uid-huge", ("./etc/u", {"pax": {"uid": "1099511627776"}}))
make("uid-negative", ("./etc/u", {"pax": {"uid": "-1"}}))
make("gid-32bit", ("./etc/u", {"pax": {"gid": "4294967296"}}))
make("pax-size-huge", ("./etc/big", {"pax": {"size": "10000000000"}}))
make("pax-size-short", ("./etc/s", {"data": b"y" * 5000, "pax": {"size": "10"}}), ("./etc/z",))
with tarfile.open(d + "/trunc-base.tar", "w", format=tarfile.GNU_FORMAT) as t:
    for n in ("./etc/", "./etc/a", "./etc/b", "./etc/c"):
        add(t, n, tarfile.DIRTYPE if n.endswith("/") else tarfile.REGTYPE)
PY
# a member with 10 GiB of holes: not in a 2 GiB image
truncate -s 10G "$T/big" && printf x >>"$T/big"
tar -C "$T" --sparse --transform 's,^,./,' -cf "$in/sparse-10g.tar" big && rm -f "$T/big"
tarball() { # NAME REGEX
	hostile "tar/$1" "$2" "$MLRIG" image -q -p "$T/p/demo.conf" --rootfs "$in/$1.tar" -o "$out/rig.img"
}
tarball dotdot "entry '\./etc/\.\./\.\./x': path escapes the root"
tarball absolute "entry '$escape': absolute path"
tarball symlink-then-file "entry '\./lnk/mlrig-hostile-escape': a parent is not a directory"
tarball symlink-up-then-file "entry '\./up/mlrig-hostile-escape': a parent is not a directory"
tarball hardlink-outside "hard link target '\.\./\.\./\.\./\.\./etc/passwd' escapes the root"
tarball hardlink-absolute "hard link target '/etc/shadow' is an absolute path"
tarball file-then-dir "entry '\./etc/x/': a regular entry of that name came before"
tarball dir-then-file "entry '\./etc/d': would replace a directory"
tarball file-then-symlink "entry '\./etc/f': a regular entry of that name came before"
tarball symlink-then-fifo "entry '\./etc/s': a symlink entry of that name came before"
tarball name-300 "a name is longer than 255 bytes"
tarball path-5000 "path longer than 4095 bytes"
tarball time-negative "entry '\./etc/t': time -99999999999 out of range"
tarball time-huge "entry '\./etc/t': time [0-9]+ out of range"
tarball uid-huge "entry '\./etc/u': owner 1099511627776:0 out of range"
tarball uid-negative "entry '\./etc/u': owner -1:0 out of range"
tarball gid-32bit "entry '\./etc/u': owner 0:4294967296 out of range"
tarball pax-size-huge "does not fit in the image.*needs [0-9]+ MiB, have [0-9]+ MiB"
tarball pax-size-short "pax-size-short.tar: (entry without a path name|Truncated|Damaged)"
tarball sparse-10g "does not fit in the image.*needs 1024[0-9] MiB, have [0-9]+ MiB"
# cut at every header boundary of a four-entry tarball, and inside a header and a member
for cut in 512 1024 1536 2048 2560 3072 3584 700 1100; do
	head -c $cut "$in/trunc-base.tar" >"$in/cut-$cut.tar"
	tarball cut-$cut "cut-$cut.tar: ([Tt]runcated|Damaged)"
done

# ---- ISOs: mlrig iso imports the base ------------------------------------------------------
if iso=$(bash "$REPO/tests/fixtures/iso.sh" focal-server 2>/dev/null); then
	python3 "$REPO/tests/integration/hostile-iso.py" "$iso" "$in"
	head -c $(($(stat -c %s "$iso") / 2)) "$iso" >"$in/truncated.iso"
	head -c 40000 "$iso" >"$in/truncated-in-descriptors.iso"
	: >"$in/empty.iso"
	head -c 1M /dev/urandom >"$in/random.iso"
	mkdir -p "$T/plain/.disk" && echo 'Debian GNU/Linux 12' >"$T/plain/.disk/info"
	xorriso -as mkisofs -quiet -o "$in/not-ubuntu.iso" "$T/plain" 2>/dev/null && rm -rf "$T/plain"
	isobase() { # NAME REGEX
		hostile "iso/$1" "$2" "$MLRIG" iso -q -p "$T/p/demo.conf" --base "$in/$1.iso" -o "$out/rig.iso"
	}
	isobase truncated "truncated.iso is truncated: [0-9]+ bytes, its volume descriptor says"
	isobase truncated-in-descriptors "truncated-in-descriptors.iso is truncated"
	isobase empty "empty.iso is not an ISO 9660 image"
	isobase random "random.iso is not an ISO 9660 image"
	isobase no-pvd "no-pvd.iso is not an ISO 9660 image"
	isobase size-lie "size-lie.iso is truncated"
	isobase catalog-outside "the El Torito boot catalog lies outside the image"
	isobase bootimg-outside "an El Torito boot image lies outside the image"
	isobase catalog-garbage "unknown boot layout.*found no El Torito boot entries"
	isobase dir-loop "a directory record points at a directory already in the tree .*a loop"
	isobase dir-extent-outside "a directory lies outside the image"
	isobase not-ubuntu "not-ubuntu.iso: .disk/info says \"Debian GNU/Linux 12\": not Ubuntu install media"
else
	echo "SKIP the ISO cases: no focal-server fixture ISO (tests/fixtures/iso.sh)"
fi

# ---- flash targets: the target must be left as it was ---------------------------------------
truncate -s 8M "$in/rig.img" && echo "image data" | dd of="$in/rig.img" conv=notrunc status=none
mkdir -p "$in/a-dir"
ln -s rig.img "$in/link-to-image"
flashto() { # NAME REGEX TARGET [OPTIONS]
	local name=$1 re=$2 target=$3 sum
	shift 3
	digest() { if [ -f "$1" ] || [ -b "$1" ]; then sha256sum <"$1"; else stat -Lc '%F %s' "$1" 2>/dev/null; fi; }
	sum=$(digest "$target")
	hostile "flash/$name" "$re" "$MLRIG" flash --yes "$@" "$in/rig.img" "$target"
	[ "$(digest "$target")" = "$sum" ] || fail "flash/$name: the target changed"
}
flashto the-image-itself "is the image file itself" "$in/rig.img" --force
flashto symlink-to-image "is the image file itself" "$in/link-to-image" --force
flashto a-directory "is neither a block device nor a regular file" "$in/a-dir" --force
flashto dev-zero "is neither a block device nor a regular file" /dev/zero --force
flashto missing "No such file or directory" "$in/no-such-disk" --force
flashto regular-without-force "is not a block device \(a regular file needs --force\)" "$in/tiny.tar"
hostile flash/image-a-directory "is not a regular file or block device" "$MLRIG" flash --yes --force "$in/a-dir" "$in/tiny.tar"
if [ "$(id -u)" -eq 0 ] && losetup -f >/dev/null 2>&1; then
	truncate -s 4M "$in/small.disk"
	small=$(losetup -f --show "$in/small.disk") && loops+=("$small")
	flashto smaller-than-image "is smaller than the image" "$small" --force
	holder=$(losetup -f --show "$in/rig.img") && loops+=("$holder")
	flashto loop-over-the-image "is a loop device backed by the image file" "$holder" --force
	truncate -s 16M "$in/mounted.disk" && mkfs.ext4 -q "$in/mounted.disk"
	mounted=$(losetup -f --show "$in/mounted.disk") && loops+=("$mounted")
	mkdir -p "$T/mnt" && mount -o ro "$mounted" "$T/mnt" && {
		flashto mounted "is mounted on" "$mounted" --force
		umount "$T/mnt"
	}
else
	echo "SKIP the loop device flash cases: needs root and loop devices"
fi

# ---- fetch: servers that lie ---------------------------------------------------------------
export MLRIG_FETCH_BACKOFF_MS=20
mkdir -p "$T/http"
python3 "$REPO/tests/fixtures/hostile-http.py" "$T/http/port" &
http_pid=$!
for _ in $(seq 50); do [ -s "$T/http/port" ] && break; sleep 0.1; done
if [ -s "$T/http/port" ]; then
	url=http://127.0.0.1:$(cat "$T/http/port")
	x1000=$(head -c 1000 /dev/zero | tr '\0' x | sha256sum | cut -d' ' -f1)
	fetch() { # KIND REGEX [PART_BYTES]: a .part of PART_BYTES is there before, to resume
		local kind=$1 re=$2 part=${3:-}
		hostile "fetch/$kind" "$re" bash -c '[ -z "$3" ] || head -c "$3" /dev/zero | tr "\0" x >"$4/f.iso.part"
			exec "$1" fetch -q --sha256 "$2" -o "$4" "$5"' _ "$MLRIG" "$x1000" "$part" "$out" "$url/$kind/f.iso"
	}
	fetch range "the server sent another part of the file than the one asked for" 500
	fetch total "sha256 mismatch" 500
	fetch long "sha256 mismatch"
	fetch short "the connection dropped"
	fetch loop "the server redirects in a loop"
	fetch file "bad or unsupported URL \(Protocol \"?file\"? not supported"
	fetch headers "[Hh]eader"
	fetch status "Failed to fetch .*status/f.iso"
	fetch nothing-here "HTTP 404"
	hostile fetch/file-url "bad or unsupported URL" "$MLRIG" fetch -q --sha256 "$x1000" -o "$out" file:///etc/passwd
else
	fail "the hostile HTTP server did not start"
fi

echo
echo "$clean/$count hostile inputs refused cleanly"
check "at least 40 hostile inputs" [ "$count" -ge 40 ]
finish
