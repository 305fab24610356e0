#!/bin/bash
# A manual page per command, and each says what --help says: every command
# that 'mlrig --help' lists has docs/man/mlrig-COMMAND.1 (and no page names a
# command that is not there); every option in a command's --help is in its
# page's OPTIONS and the other way round (mlrig(1) and mlrig-firstboot(8) for
# the programs' own options); every option in a getopt table (the source) is
# in --help, so an option added without its help line and page fails here;
# mlrig-firstboot(8) has its commands and every stage of --help's Stages line;
# mlrig-profile(5) is what tools/man-profile.py makes of docs/profile.md and
# has every key of the profile table; man --warnings is quiet on every page.
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/integration/lib-help.sh"
need man awk python3
AGENT=$BUILD/mlrig-firstboot
MAN=$REPO/docs/man

# The options a page's OPTIONS section names in its .TP tags.
page_options() {
	awk '/^\.SH/ { on = ($2 == "OPTIONS") } on && tag { print; tag = 0 } on && /^\.TP/ { tag = 1 }' "$1" |
		sed -E 's/\\f[BIRP]//g; s/\\-/-/g' | tr ' ,' '\n\n' | grep -E '^--?[A-Za-z0-9]' | sort -u
}

# The long options (--name) and short ones (-x) in a C file's getopt tables.
source_options() {
	grep -oE '\{ *"[a-z0-9-]+", *(no|required|optional)_argument' "$1" | cut -d'"' -f2 | sed 's/^/--/'
	grep -oE 'getopt_long\([^"]*"[^"]*"' "$1" | sed -E 's/.*"([^"]*)"$/\1/' | tr -d '+:' | grep -o . | sed 's/^/-/'
}

# same_options NAME HELP_TEXT_FILE PAGE SOURCE...
same_options() {
	local name=$1 help=$2 page=$3 missing
	shift 3
	help_options <"$help" >"$T/h"
	page_options "$page" >"$T/p"
	if [ ! -s "$T/h" ]; then fail "$name: no options found in --help"; return; fi
	missing=$(comm -23 "$T/h" "$T/p" | tr '\n' ' ')
	[ -z "$missing" ] && pass "$name: every --help option is in $(basename "$page")" ||
		fail "$name: in --help, not in $(basename "$page"): $missing"
	missing=$(comm -13 "$T/h" "$T/p" | tr '\n' ' ')
	[ -z "$missing" ] && pass "$name: every option in $(basename "$page") is in --help" ||
		fail "$name: in $(basename "$page"), not in --help: $missing"
	missing=$(for s in "$@"; do source_options "$s"; done | sort -u | comm -23 - "$T/h" | tr '\n' ' ')
	[ -z "$missing" ] && pass "$name: every option in the getopt tables is in --help" ||
		fail "$name: in $* but not in --help: $missing"
}

commands=$("$MLRIG" --help | help_commands)
[ "$(wc -w <<<"$commands")" -ge 7 ] || fail "mlrig --help lists only: $commands"
for c in $commands; do
	page=$MAN/mlrig-$c.1
	if [ ! -f "$page" ]; then fail "$c: no page $page"; continue; fi
	"$MLRIG" "$c" --help >"$T/help-$c" || fail "$c: --help exits $?"
	src=$REPO/builder/verb-$c.c
	[ -f "$src" ] || { fail "$c: no $src to read its getopt table from"; continue; }
	same_options "mlrig $c" "$T/help-$c" "$page" "$src"
	grep -q "^\.BR mlrig\\\\-$c (1)" "$REPO/docs/mlrig.1" || fail "mlrig(1) does not point at mlrig-$c(1)"
done
for page in "$MAN"/mlrig-*.1; do
	c=$(basename "$page" .1)
	c=${c#mlrig-}
	grep -qx "$c" <<<"$commands" || fail "$(basename "$page"): 'mlrig --help' has no command '$c'"
done
pass "pages and commands match: $(echo $commands)"

"$MLRIG" --help >"$T/help-mlrig"
same_options "mlrig" "$T/help-mlrig" "$REPO/docs/mlrig.1" "$REPO/builder/main.c"
"$AGENT" --help >"$T/help-agent"
same_options "mlrig-firstboot" "$T/help-agent" "$MAN/mlrig-firstboot.8" "$REPO/firstboot/main.c"

# mlrig-firstboot(8): its commands, and the stages as --help lists them (in that order).
section_tags() { # PAGE SECTION: the .TP tags of a section, font escapes and \- undone, first word
	awk -v s="$2" '/^\.SH/ { on = ($2 == s) } on && tag { print; tag = 0 } on && /^\.TP/ { tag = 1 }' "$1" |
		sed -E 's/^\.B[IR]? //; s/\\f[BIRP]//g; s/\\-/-/g; s/"//g' | awk '{ print $1 }'
}
agent_cmds=$(awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^ [a-z]/ { print $1 }' "$T/help-agent") # in order
check "mlrig-firstboot(8) COMMANDS are --help's ($(echo $agent_cmds))" \
	diff <(echo "$agent_cmds") <(section_tags "$MAN/mlrig-firstboot.8" COMMANDS)
stages=$(sed -n 's/^Stages: //p' "$T/help-agent" | tr -d ' ' | tr , '\n')
[ "$(wc -l <<<"$stages")" -ge 5 ] || fail "no Stages line in mlrig-firstboot --help"
check "mlrig-firstboot(8) STAGES are --help's, in order ($(echo $stages))" \
	diff <(echo "$stages") <(section_tags "$MAN/mlrig-firstboot.8" STAGES)

# mlrig-profile(5) is generated and current, and documents every key of the profile table.
check "mlrig-profile.5 is what tools/man-profile.py makes of docs/profile.md" \
	cmp -s <(cd "$REPO" && python3 tools/man-profile.py docs/profile.md) "$MAN/mlrig-profile.5"
keys=$(grep -oE '^\s*\{ "[A-Za-z]+", "[A-Za-z]+", T_' "$REPO/common/profile.c" | cut -d'"' -f2,4 | tr '"' ' ')
[ "$(wc -l <<<"$keys")" -ge 20 ] || fail "read only $(wc -l <<<"$keys") keys from common/profile.c"
missing=
while read -r section key; do
	# the key's .TP tag comes after its section's .SS heading and before the next one
	sed -E 's/\\f[BIRP]//g' "$MAN/mlrig-profile.5" | awk -v s=".SS \"[$section]\"" -v k="$key=" '
		$0 == s { on = 1; next } /^\.S[SH]/ { on = 0 } on && $0 == k { found = 1 } END { exit !found }' ||
		missing="$missing [$section] $key="
done <<<"$keys"
[ -z "$missing" ] && pass "mlrig-profile(5) has all $(wc -l <<<"$keys") keys, each in its section" ||
	fail "mlrig-profile(5) lacks:$missing"

# Every page renders without a warning (what lintian runs).
for page in "$REPO/docs/mlrig.1" "$MAN"/*.[0-9]; do
	w=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
	[ -z "$w" ] || fail "$(basename "$page"): $w"
done
pass "man --warnings is quiet on every page"
finish
