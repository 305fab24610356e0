#!/bin/bash
# Runs test tiers and prints one summary line: "N passed, N failed, N skipped".
#   tests/run.sh unit|integration|boot|all BUILD_DIR [test ...]
# Unit tests are binaries; integration and boot tests are shell scripts that
# exit 0 (pass), 77 (skip, after printing why) or anything else (fail).
set -u
tier=$1 build=$2
shift 2
logs=$build/test-logs
mkdir -p "$logs"
passed=0 failed=0 skipped=0 failures=()

run_one() {
	local name=$1 log rc start=$SECONDS
	log=$logs/$(basename "$1").log
	shift
	"$@" >"$log" 2>&1
	rc=$?
	case $rc in
	0) passed=$((passed + 1))
	   # a unit binary that passed may still have skipped some of its tests: count them, say why
	   inner=$(grep -c '^SKIP ' "$log")
	   if [ "$inner" -gt 0 ]; then
		skipped=$((skipped + inner))
		printf 'PASS %s (%ds; %d skipped)\n' "$name" $((SECONDS - start)) "$inner"
		grep '^SKIP ' "$log" | sed 's/^/    | /'
	   else
		printf 'PASS %s (%ds)\n' "$name" $((SECONDS - start))
	   fi ;;
	77) skipped=$((skipped + 1)); printf 'SKIP %s: %s\n' "$name" "$(grep -m1 '^SKIP' "$log" | cut -c6-)" ;;
	*) failed=$((failed + 1)); failures+=("$name"); printf 'FAIL %s (exit %d, log %s)\n' "$name" $rc "$log"
	   sed 's/^/    | /' "$log" | tail -40 ;;
	esac
}

tests_of() {
	case $1 in
	unit) find "$build" -maxdepth 1 -type f -name 'test-*' -perm -u+x | sort ;;
	integration) ls tests/integration/test-*.sh 2>/dev/null ;;
	boot) ls tests/boot/test-*.sh 2>/dev/null ;;
	esac
}

for t in ${tier/all/unit integration boot}; do
	list=("$@")
	[ ${#list[@]} -eq 0 ] && mapfile -t list < <(tests_of "$t")
	echo "== $t tests"
	for x in "${list[@]}"; do
		case $x in
		# VMs one at a time on this machine, whoever else is running boot tests
		tests/boot/*.sh) run_one "$x" flock "${MLRIG_VM_LOCK:-/tmp/mlrig-vm.lock}" bash "$x" "$build" ;;
		*.sh) run_one "$x" bash "$x" "$build" ;;
		*) run_one "$x" "$x" ;;
		esac
	done
done
echo
[ $failed -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
