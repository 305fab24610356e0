#!/bin/bash
# Shell completion, as installed (make install-completions into a fresh root):
# bash-completion's loader finds it for mlrig and mlrig-firstboot (complete -p);
# then, by calling the completion function on typed words as bash would and
# reading COMPREPLY, it offers the commands and each command's options as
# their --help lists them (read here with awk), files for file options,
# profiles (*.conf) here and under images/, whole-disk block devices for
# flash's DEVICE, the names of 'mlrig fetch --list', and the stages of
# mlrig-firstboot's --help for 'stage'. The zsh file gets the same cases with
# compadd and _files stood in for. shellcheck and zsh -n pass on the files.
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/integration/lib-help.sh"
. "$REPO/tests/integration/lib-install.sh"
need bash awk
AGENT=$BUILD/mlrig-firstboot
bc=/usr/share/bash-completion/bash_completion
[ -f "$bc" ] || skip "bash-completion is not installed (make deps)"
root=$T/root
clean_make DESTDIR="$root" PREFIX=/usr install-completions >"$T/install.log" 2>&1 ||
	{ fail "make install-completions"; cat "$T/install.log"; finish; }
comps=$root/usr/share/bash-completion/completions
if command -v shellcheck >/dev/null; then
	check "shellcheck on the bash completion" shellcheck -s bash -S warning "$comps/mlrig"
fi

# A directory to complete in: profiles, other files, a directory, images/.
w=$T/w
mkdir -p "$w/images" "$w/subdir"
touch "$w/rig.conf" "$w/notes.txt" "$w/images/demo.conf" "$w/images/other.txt" "$w/Rootfs.tar" "$w/key_ed25519"
# The tools the completion calls, as the programs users have on PATH.
mkdir -p "$T/bin"
ln -s "$MLRIG" "$T/bin/mlrig"
ln -s "$AGENT" "$T/bin/mlrig-firstboot"

# Each case: a name, then the words typed (the last one being completed, '' for none).
cat >"$T/cases" <<'EOF'
commands|mlrig|
commands-prefix|mlrig|i
global-options|mlrig|--
image-options|mlrig|image|--
iso-options|mlrig|iso|--
flash-options|mlrig|flash|--
boot-options|mlrig|boot|--
fetch-options|mlrig|fetch|--
inspect-options|mlrig|inspect|--
check-options|mlrig|check|--
wake-options|mlrig|wake|--
client-options|mlrig|client|--
wake-profile|mlrig|wake|im
after-global|mlrig|-v|image|--r
profile|mlrig|image|-p|
profile-long|mlrig|check|--profile|im
rootfs-file|mlrig|image|-p|rig.conf|--rootfs|Ro
rootfs-equals|mlrig|image|--rootfs=Ro
ssh-key|mlrig|boot|x.img|--ssh|key
output-dir|mlrig|fetch|-o|
fetch-names|mlrig|fetch|
fetch-prefix|mlrig|fetch|ubuntu-22
flash-image|mlrig|flash|no
flash-device|mlrig|flash|rig.img|
flash-device-after-options|mlrig|flash|--yes|-q|rig.img|/dev/
inspect-target|mlrig|inspect|no
agent-commands|mlrig-firstboot|
agent-stage|mlrig-firstboot|stage|
agent-stage-prefix|mlrig-firstboot|stage|g
agent-stage-root|mlrig-firstboot|--root|/tmp|stage|
agent-options|mlrig-firstboot|--
agent-root-dir|mlrig-firstboot|--root|sub
EOF

# bash: load the installed files through bash-completion's own loader, then run the cases.
cat >"$T/drive.bash" <<'EOF'
. /usr/share/bash-completion/bash_completion
__load_completion mlrig && __load_completion mlrig-firstboot || { echo "LOAD FAILED"; exit 1; }
echo "SPEC $(complete -p mlrig)"
echo "SPEC $(complete -p mlrig-firstboot)"
while IFS= read -r line; do
	name=${line%%|*} rest=${line#*|}
	IFS='|' read -r -a COMP_WORDS <<<"$rest"
	[ "${rest: -1}" = '|' ] && COMP_WORDS+=('') # the word being completed is empty
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	func=$(complete -p "${COMP_WORDS[0]}" | awk '{ print $(NF - 1) }')
	"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\t%s\n' "$name" "$(printf '%s\n' "${COMPREPLY[@]}" | sort -u | tr '\n' ' ')"
done <"$1"
EOF
(cd "$w" && env -i HOME="$T" PATH="$T/bin:/usr/bin:/bin:/usr/sbin:/sbin" XDG_DATA_DIRS="$root/usr/share" \
	BASH_COMPLETION_USER_DIR="$T/none" bash --norc --noprofile "$T/drive.bash" "$T/cases") >"$T/bash.out" 2>"$T/bash.err"
check "bash-completion loads it for mlrig (complete -p)" grep -qx 'SPEC complete -F _mlrig mlrig' "$T/bash.out"
check "and for mlrig-firstboot, through the link" grep -qx 'SPEC complete -F _mlrig_firstboot mlrig-firstboot' "$T/bash.out"

# What each case must offer, derived here from the programs' --help and the files above.
words() { tr ' ' '\n' | grep . | sort -u | tr '\n' ' '; } # stdin's words, sorted, as the cases print them
long_options() { "$@" --help | help_options | grep -- '^--' | words; }
disks=$(for d in /sys/block/*; do
	n=${d##*/}
	case $n in loop* | ram*) continue ;; esac
	[ "$(cat "$d/size")" -gt 0 ] && [ -b "/dev/$n" ] && echo "/dev/$n"
done)
stages=$("$AGENT" --help | sed -n 's/^Stages: //p' | tr -d , | tr ' ' '\n')
commands=$("$MLRIG" --help | help_commands)
names=$("$MLRIG" fetch --list | awk '{ print $1 }')
declare -A want=(
	[commands]=$(words <<<"$commands")
	[commands-prefix]=$(grep '^i' <<<"$commands" | words)
	[global-options]=$(long_options "$MLRIG")
	[after-global]="--rootfs "
	[profile]=$(words <<<"images images/demo.conf rig.conf subdir")
	[profile-long]=$(words <<<"images images/demo.conf")
	[wake-profile]=$(words <<<"images images/demo.conf")
	[rootfs-file]="Rootfs.tar "
	[rootfs-equals]="Rootfs.tar "
	[ssh-key]="key_ed25519 "
	[output-dir]=$(words <<<"images subdir")
	[fetch-names]=$(words <<<"$names")
	[fetch-prefix]=$(grep '^ubuntu-22' <<<"$names" | words)
	[flash-image]="notes.txt "
	[inspect-target]="notes.txt "
	[agent-commands]=$("$AGENT" --help | help_commands | words)
	[agent-stage]=$(words <<<"$stages")
	[agent-stage-prefix]=$(grep '^g' <<<"$stages" | words)
	[agent-stage-root]=$(words <<<"$stages")
	[agent-options]=$(long_options "$AGENT")
	[agent-root-dir]="subdir "
)
for c in $commands; do want[$c-options]=$(long_options "$MLRIG" "$c"); done
got() { awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$T/$2.out"; }
for name in "${!want[@]}"; do
	g=$(got "$name" bash)
	[ "$g" = "${want[$name]}" ] && pass "bash: $name: ${g:0:70}" || fail "bash: $name: got '$g', want '${want[$name]}'"
done
# block devices: every whole disk is offered, and nothing that is not a block device
g=$(got flash-device bash)
missing=$(for d in $disks; do grep -qw -- "$d" <<<"$g" || echo "$d"; done)
others=$(for d in $g; do [ -b "$d" ] || echo "$d"; done)
if [ -z "$disks" ]; then
	echo "NOTE: no disk with a size here; the offered devices: '$g'"
	check "bash: flash-device: only block devices" test -z "$others"
else
	check "bash: flash-device: the disks ($(echo $disks)), block devices only" test -z "$missing$others"
fi
g=$(got flash-device-after-options bash)
check "bash: flash-device-after-options: /dev/ disks after --yes -q IMAGE" test "$g" = "$(got flash-device bash)"
[ -s "$T/bash.err" ] && { echo "bash said:"; cat "$T/bash.err"; }

# zsh: the same cases with compadd, _files and _message stood in for (compadd filters by PREFIX, as zsh does).
if command -v zsh >/dev/null; then
	zf=$root/usr/share/zsh/vendor-completions/_mlrig
	check "zsh -n on the zsh completion" zsh -n "$zf"
	check "the zsh file is a #compdef for both programs" grep -qx '#compdef mlrig mlrig-firstboot /usr/lib/mlrig/mlrig-firstboot' "$zf"
	cat >"$T/drive.zsh" <<'EOF'
compadd() {
	local a
	while [[ $1 == -* && $1 != -- ]]; do shift; done
	[[ $1 == -- ]] && shift
	for a in "$@"; do [[ $a == ${PREFIX}* ]] && print -r -- "$a"; done
}
_files() { local f; if [[ $1 == -/ ]]; then for f in ${PREFIX}*(N/); do print -r -- $f; done
	elif [[ $1 == -g ]]; then for f in ${PREFIX}*(N/) ${~:-${PREFIX}${2%%\(*}}(N); do print -r -- $f; done
	else for f in ${PREFIX}*(N); do print -r -- $f; done; fi }
_message() { : }
while IFS='|' read -r name rest; do
	words=("${(@s:|:)rest}")
	CURRENT=${#words}
	PREFIX=${words[-1]}
	print -r -- "$name	${(j: :)${(ouf)"$(source $1 2>&1)"}} "
done <$2
EOF
	(cd "$w" && env -i HOME="$T" PATH="$T/bin:/usr/bin:/bin" zsh -f "$T/drive.zsh" "$zf" "$T/cases") >"$T/zsh.out" 2>"$T/zsh.err"
	for name in commands image-options fetch-names fetch-prefix agent-stage agent-stage-prefix agent-commands rootfs-file ssh-key output-dir; do
		g=$(got "$name" zsh)
		[ "$g" = "${want[$name]}" ] && pass "zsh: $name" || fail "zsh: $name: got '$g', want '${want[$name]}'"
	done
	g=$(got profile zsh)
	check "zsh: profile: the *.conf here and under images/" test "$g" = "${want[profile]}"
	[ -s "$T/zsh.err" ] && { echo "zsh said:"; cat "$T/zsh.err"; }
else
	echo "NOTE: zsh is not installed; the zsh completion is not exercised"
fi
finish
