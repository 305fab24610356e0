# Shared by the shell tests: a temp dir removed on success and kept on failure,
# PASS/FAIL/SKIP reporting, and the fixtures.
set -u
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
# shellcheck disable=SC2034 # for the scripts that source this file
MLRIG=$BUILD/mlrig
REPO=$PWD
T=$(mktemp -d "${TMPDIR:-/tmp}/mlrig-$(basename "$0" .sh).XXXXXX")
_failed=0

_cleanup() {
	if [ $_failed -eq 0 ] && [ "${KEEP:-0}" = 0 ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap _cleanup EXIT

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; _failed=1; }
skip() { echo "SKIP $*"; exit 77; }
finish() { [ $_failed -eq 0 ] || exit 1; exit 0; }

# check NAME COMMAND...: runs the command, PASS/FAIL by its status.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

need() {
	for c in "$@"; do command -v "$c" >/dev/null || skip "$c is not installed (make deps)"; done
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: $*"
}

# The bullseye rootfs fixture (built once, cached under $MLRIG_CACHE).
rootfs_fixture() {
	bash "$REPO/tests/fixtures/rootfs.sh"
}

# How many stages the agent has: its --help lists them ("Stages: a, b, c"), so tests that
# check a full run need no edit when a stage is added.
agent_stage_count() {
	"$BUILD/mlrig-firstboot" --help | sed -n 's/^Stages: //p' | tr ',' '\n' | grep -c .
}

# A copy of the demo key with the mode ssh insists on.
demo_key() {
	install -m 600 "$REPO/images/keys/demo_ed25519" "$T/demo_key"
	echo "$T/demo_key"
}
