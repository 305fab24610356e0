#!/bin/bash
# The command-line skeleton of both programs: every verb, given an unknown
# option, a missing argument and an extra argument, exits 2 with one line that
# names the problem and a "Try" line; --help works for each.
. "$(dirname "$0")/../lib.sh"
AGENT=$BUILD/mlrig-firstboot

# usage_case NAME PROGRAM VERB REGEX ARGS...: exit 2, exactly two lines on stderr,
# the first "PROGRAM[ VERB]: ..." matching REGEX, the second the Try line; nothing on stdout.
usage_case() {
	local name=$1 prog=$2 verb=$3 regex=$4 rc prefix
	shift 4
	prefix=$(basename "$prog")${verb:+ $verb}
	"$prog" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -ne 2 ]; then fail "$name: exit $rc, expected 2"; cat "$T/err"; return; fi
	if [ "$(wc -l <"$T/err")" -ne 2 ]; then fail "$name: expected 2 lines, got:"; cat "$T/err"; return; fi
	if ! head -1 "$T/err" | grep -Eq -- "^$prefix: $regex\$"; then fail "$name: first line"; cat "$T/err"; return; fi
	if [ "$(tail -1 "$T/err")" != "Try '$prefix --help'." ]; then fail "$name: Try line"; cat "$T/err"; return; fi
	if [ -s "$T/out" ]; then fail "$name: wrote to stdout"; return; fi
	pass "$name"
}

# The verbs each program's --help lists must be exactly the ones tested here.
verbs_of() {
	"$1" --help | awk '/^Commands:/ {on=1; next} /^$/ {on=0} on && /^ [a-z]/ {print $1}' | sort -u
}

# verb | a required-argument option to leave bare (or -) | arguments that parse, to add one to
mlrig_cases=(
	"check|--profile|-p x.conf"
	"image|--rootfs|-p x.conf --rootfs r.tar -o out.img"
	"iso|--base|-p x.conf --base b.iso -o out.iso"
	"inspect|-|disk.img"
	"boot|--timeout|disk.img"
	"flash|-|disk.img /dev/null"
	"fetch|--output-dir|https://example.invalid/x.iso"
	"wake|--port|52:54:00:12:34:56"
	"client|--address|-p x.conf"
)
agent_cases=(
	"run|--root|"
	"status|--root|"
	"stage|--root|identity"
	"ddns|--root|--force"
	"gpu-check|--root|--json"
)

check "mlrig --help lists the verbs tested here" test "$(verbs_of "$MLRIG")" = \
	"$(printf '%s\n' "${mlrig_cases[@]}" | cut -d'|' -f1 | sort)"
check "mlrig-firstboot --help lists the verbs tested here" test "$(verbs_of "$AGENT")" = \
	"$(printf '%s\n' "${agent_cases[@]}" | cut -d'|' -f1 | sort)"

run_cases() {
	local prog=$1 verb opt args
	shift
	for c in "$@"; do
		IFS='|' read -r verb opt args <<<"$c"
		# shellcheck disable=SC2086 # args is a list of words on purpose
		usage_case "$verb: unknown option" "$prog" "$verb" "unrecognized option '--no-such-option'" \
			"$verb" $args --no-such-option
		usage_case "$verb: unknown short option" "$prog" "$verb" "invalid option '-Z'" "$verb" -Z
		if [ "$opt" != - ]; then
			usage_case "$verb: $opt without its argument" "$prog" "$verb" "option '$opt' requires an argument" \
				"$verb" "$opt"
		fi
		# shellcheck disable=SC2086
		usage_case "$verb: extra argument" "$prog" "$verb" "unexpected argument 'extra-arg'" "$verb" $args extra-arg
		"$prog" "$verb" --help >"$T/help" 2>&1
		check "$verb --help: exit 0 and a usage block" eval 'grep -q "^Usage:" "$T/help"'
	done
}
run_cases "$MLRIG" "${mlrig_cases[@]}"
run_cases "$AGENT" "${agent_cases[@]}"

# missing positional arguments, each named
usage_case "inspect: no file" "$MLRIG" inspect "missing FILE or DEVICE" inspect
usage_case "boot: no image" "$MLRIG" boot "missing IMAGE" boot
usage_case "boot: --secure-boot needs UEFI" "$MLRIG" boot "--secure-boot needs UEFI \(OVMF\), not --bios" \
	boot disk.img --bios --secure-boot
usage_case "boot: --disk needs a name" "$MLRIG" boot "--disk needs a file name" boot disk.img --disk ""
usage_case "flash: no device" "$MLRIG" flash "missing DEVICE" flash disk.img
usage_case "fetch: no URL" "$MLRIG" fetch "missing URL or NAME" fetch
usage_case "check: no profile" "$MLRIG" check "needs -p PROFILE" check
usage_case "wake: no MAC" "$MLRIG" wake "missing MAC or PROFILE" wake
usage_case "client: no profile" "$MLRIG" client "needs -p PROFILE" client
usage_case "stage: no name" "$AGENT" stage "missing NAME" stage
usage_case "stage: unknown name" "$AGENT" stage "unknown stage 'nope'" stage nope
usage_case "status --json is status's" "$AGENT" run "unrecognized option '--json'" run --json

# global options and commands
usage_case "mlrig: unknown global option" "$MLRIG" "" "unrecognized option '--no-such-option'" --no-such-option check
usage_case "mlrig: no command" "$MLRIG" "" "no command given" --verbose
usage_case "mlrig: unknown command" "$MLRIG" "" "unknown command 'frobnicate'" frobnicate
usage_case "mlrig-firstboot: unknown global option" "$AGENT" "" "unrecognized option '--no-such-option'" \
	--no-such-option run
usage_case "mlrig-firstboot: no command" "$AGENT" "" "no command given.*" --root /
usage_case "mlrig-firstboot: unknown command" "$AGENT" "" "unknown command 'frobnicate'" frobnicate
usage_case "mlrig-firstboot: --root without its argument" "$AGENT" "" "option '--root' requires an argument" --root

# --efivars made for the other firmware is refused before QEMU starts, and left as it was
if command -v qemu-system-x86_64 >/dev/null && [ -r /usr/share/OVMF/OVMF_VARS.fd ] && [ -r /usr/share/OVMF/OVMF_VARS_4M.ms.fd ]; then
	truncate -s 1M "$T/disk.img"
	cp /usr/share/OVMF/OVMF_VARS.fd "$T/vars.fd"
	"$MLRIG" boot "$T/disk.img" --secure-boot --efivars "$T/vars.fd" >"$T/out" 2>"$T/err"
	rc=$?
	check "boot --efivars of the other firmware: refused, says why, file kept" eval \
		'[ $rc -eq 1 ] && grep -q "efivars $T/vars.fd holds 131072 bytes, the template /usr/share/OVMF/OVMF_VARS_4M.ms.fd 540672: it belongs to the firmware without --secure-boot" "$T/err" && cmp -s "$T/vars.fd" /usr/share/OVMF/OVMF_VARS.fd'
fi

# bad input (not usage) is exit 2 with a message naming the thing, and no Try line
"$AGENT" --root /nonexistent status >"$T/out" 2>"$T/err"
rc=$?
check "--root /nonexistent: exit 2, names the reason (not 'Success')" eval \
	'[ $rc -eq 2 ] && grep -qx "mlrig-firstboot: Cannot open --root /nonexistent: No such file or directory" "$T/err"'
"$MLRIG" check -p "$T/missing.conf" >"$T/out" 2>"$T/err"
rc=$?
check "check -p missing: exit 2, names the file" eval \
	'[ $rc -eq 2 ] && grep -q "missing.conf" "$T/err" && ! grep -q "Try" "$T/err"'

# the version line
check "mlrig --version" eval '"$MLRIG" --version | grep -Eq "^mlrig [0-9]"'
check "mlrig-firstboot --version" eval '"$AGENT" --version | grep -Eq "^mlrig-firstboot [0-9]"'
finish
