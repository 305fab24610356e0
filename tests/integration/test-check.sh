#!/bin/bash
# mlrig check: shipped profiles validate; risky settings give warnings; bad ones name file:line.
. "$(dirname "$0")/../lib.sh"
cp -r "$REPO/images" "$T/p"
chmod 600 "$T/p/secrets/noip.password"

out=$("$MLRIG" check -p "$T/p/demo.conf") && grep -q "0 warnings" <<<"$out"
check "demo profile is clean" test $? -eq 0
out=$("$MLRIG" check -p "$T/p/gpu-rig.conf")
check "gpu-rig profile validates" test $? -eq 0
check "gpu-rig: storage stays interactive" grep -q "storage stays interactive" <<<"$out"

cat >"$T/p/risky.conf" <<'CONF'
[Rig]
Hostname=risky
User=user
AuthorizedKeys=empty.pub
[SSH]
PasswordAuthentication=yes
PermitRootLogin=yes
[DDNS]
Provider=duckdns
Hostname=risky.duckdns.org
PasswordFile=token
[Install]
Disk=/dev/nvme0n1
Wipe=yes
CONF
: >"$T/p/empty.pub"
echo token >"$T/p/token" && chmod 644 "$T/p/token"
out=$("$MLRIG" check -p "$T/p/risky.conf")
rc=$?
check "warnings do not fail without --strict" test $rc -eq 0
check "warns: password login" grep -q "PasswordAuthentication=yes: password SSH login is enabled" <<<"$out"
check "warns: root login" grep -q "PermitRootLogin=yes" <<<"$out"
check "warns: no keys" grep -q "holds no public key" <<<"$out"
check "warns: secret readable by others" grep -q "token is readable by others (mode 0644)" <<<"$out"
check "explains: storage is wiped" grep -q "WIPES /dev/nvme0n1" <<<"$out"
"$MLRIG" check --strict -p "$T/p/risky.conf" >/dev/null
check "--strict fails on warnings" test $? -eq 1

cat >"$T/p/reach.conf" <<'CONF'
[Rig]
Hostname=reach
User=user
AuthorizedKeys=keys/demo_ed25519.pub
[DDNS]
Provider=noip
Hostname=reach.ddns.net
Username=me
PasswordFile=secrets/noip.password
[Router]
PortForward=upnp
[Firewall]
Enable=no
CONF
out=$("$MLRIG" check -p "$T/p/reach.conf")
check "warns: No-IP free names need a confirmation every 30 days" grep -q "noip: No-IP free host names expire unless confirmed by hand every 30 days" <<<"$out"
check "warns: router port 22" grep -q "PortForward=upnp maps router port 22" <<<"$out"
check "warns: firewall off" grep -q "\[Firewall\] Enable=no: every port the rig listens on is open" <<<"$out"
sed -i 's|^Username=me$|Username=me\nServer=http://ddns.example.com|' "$T/p/reach.conf"
err=$("$MLRIG" check -p "$T/p/reach.conf" 2>&1)
rc=$?
check "DDNS over plain HTTP to a non-loopback server: refused, exit 2, file:line" eval \
	'[ $rc -eq 2 ] && grep -q "reach.conf:9: \[DDNS\] Server=http://ddns.example.com: plain HTTP would send the credentials in the clear" <<<"$err"'
# Booting: what a rootfs tarball brings (names only), what an ISO install may lack.
mkdir -p "$T/fs/usr/lib/shim" "$T/fs/usr/lib/grub/x86_64-efi-signed" "$T/fs/usr/sbin" "$T/fs/usr/bin"
touch "$T/fs/usr/lib/shim/shimx64.efi.signed" "$T/fs/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" \
	"$T/fs/usr/sbin/update-grub" "$T/fs/usr/bin/os-prober"
tar -C "$T/fs" -cf "$T/full.tar" .
rm "$T/fs/usr/lib/shim/shimx64.efi.signed" "$T/fs/usr/bin/os-prober"
tar -C "$T/fs" -cf "$T/lacking.tar" .
printf '[Boot]\nDualBoot=yes\n' | cat "$T/p/demo.conf" - >"$T/p/dual.conf"
out=$("$MLRIG" check -p "$T/p/dual.conf")
check "dual boot from an ISO: os-prober not in [Packages] Install=" grep -q "DualBoot=yes, but \[Packages\] Install= does not list os-prober" <<<"$out"
check "gpu-rig installs os-prober" eval '! "$MLRIG" check -p "$T/p/gpu-rig.conf" | grep -q os-prober'
out=$("$MLRIG" check -p "$T/p/dual.conf" --rootfs "$T/full.tar")
check "--rootfs with the signed pair and the dual-boot tools: no boot warning" grep -q "^0 warnings" <<<"$out"
out=$("$MLRIG" check -p "$T/p/dual.conf" --rootfs "$T/lacking.tar")
check "--rootfs without shim-signed: will not boot with Secure Boot on" \
	grep -q "^warning: this image will not boot with Secure Boot on: the rootfs has no shim-signed (/usr/lib/shim/shimx64.efi.signed)" <<<"$out"
check "--rootfs without os-prober: GRUB will not list Windows" grep -q "rootfs has no os-prober (/usr/bin/os-prober): GRUB's menu will not list Windows" <<<"$out"
# Ubuntu's shim-signed: shimx64.efi.signed is a link to shimx64.efi.signed.latest; what the link names counts
touch "$T/fs/usr/bin/os-prober" "$T/fs/usr/lib/shim/shimx64.efi.signed.latest"
ln -s shimx64.efi.signed.latest "$T/fs/usr/lib/shim/shimx64.efi.signed"
tar -C "$T/fs" -cf "$T/linked.tar" .
out=$("$MLRIG" check -p "$T/p/dual.conf" --rootfs "$T/linked.tar")
check "--rootfs whose signed shim is a link to the .latest file: no boot warning" grep -q "^0 warnings" <<<"$out"
rm "$T/fs/usr/lib/shim/shimx64.efi.signed.latest"
ln -s /usr/lib/shim/shimx64.efi.signed.previous "$T/fs/usr/lib/shim/shimx64.efi.signed.latest"
tar -C "$T/fs" -cf "$T/dangling.tar" .
out=$("$MLRIG" check -p "$T/p/dual.conf" --rootfs "$T/dangling.tar")
check "--rootfs whose signed shim links (through a link) to nothing: will not boot with Secure Boot on" \
	grep -q "^warning: this image will not boot with Secure Boot on: the rootfs has no shim-signed (/usr/lib/shim/shimx64.efi.signed)" <<<"$out"
touch "$T/fs/usr/lib/shim/shimx64.efi.signed.previous"
tar -C "$T/fs" -cf "$T/chain.tar" .
out=$("$MLRIG" check -p "$T/p/dual.conf" --rootfs "$T/chain.tar")
check "--rootfs whose signed shim reaches a file through two links (one absolute): no boot warning" grep -q "^0 warnings" <<<"$out"
"$MLRIG" check -p "$T/p/dual.conf" --rootfs "$T/missing.tar" 2>/dev/null
check "--rootfs that is not there: exit 2" test $? -eq 2

printf '[Rig]\nHostname=x\nUser=u\nAuthorizedKeys=empty.pub\n[DDNS]\nProvider=foo\n' >"$T/p/bad.conf"
err=$("$MLRIG" check -p "$T/p/bad.conf" 2>&1)
rc=$?
check "bad value: exit 2" test $rc -eq 2
check "bad value: names file:line, section, key and choices" \
	grep -q "bad.conf:6: \[DDNS\] Provider=foo: unknown provider (noip, dyndns2, duckdns, cloudflare, none)" <<<"$err"
finish
