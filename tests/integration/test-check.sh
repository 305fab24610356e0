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

printf '[Rig]\nHostname=x\nUser=u\nAuthorizedKeys=empty.pub\n[DDNS]\nProvider=foo\n' >"$T/p/bad.conf"
err=$("$MLRIG" check -p "$T/p/bad.conf" 2>&1)
rc=$?
check "bad value: exit 2" test $rc -eq 2
check "bad value: names file:line, section, key and choices" \
	grep -q "bad.conf:6: \[DDNS\] Provider=foo: unknown provider (noip, dyndns2, duckdns, cloudflare, none)" <<<"$err"
finish
