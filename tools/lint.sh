#!/bin/bash
# make lint: STYLE.md's banned functions, file and function sizes, cppcheck (with the _cleanup_ false
# positives told apart from real leaks), shellcheck on every shell script.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0
c_files=(common/*.[ch] builder/*.[ch] firstboot/*.[ch] tests/unit/*.[ch])

# 1. banned functions (STYLE.md), and sscanf, which the safe_atou*() parsers replace
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|system|sscanf)[[:space:]]*\('
if grep -nE "$banned" "${c_files[@]}"; then
	echo "lint: banned functions above (use snprintf/asprintf, safe_atou64, parse_devnum, process_run)" >&2
	status=1
fi

# 2. sizes (STYLE.md's one file per concern): a source file over 800 lines, or a
# function over 150, is two concerns or two steps that want a name each
sizes=$(python3 - "${c_files[@]}" <<'PY'
import re, sys
for path in sys.argv[1:]:
    src = open(path, errors="replace").read().splitlines()
    if len(src) > 800 and not path.startswith("tests/"):
        print(f"{path}: {len(src)} lines (at most 800)")
    start = None
    for i, line in enumerate(src):
        if start is None and re.match(r"^[A-Za-z_].*\)\s*\{\s*$", line):
            start = i
        elif start is not None and line == "}":
            if i - start + 1 > 150:
                print(f"{path}:{start + 1}: function of {i - start + 1} lines (at most 150)")
            start = None
PY
)
if [ -n "$sizes" ]; then
	echo "$sizes"
	echo "lint: split the files and functions above" >&2
	status=1
fi

# 3. cppcheck. It does not know __attribute__((cleanup)), so it calls every
# _cleanup_ variable leaked on an early return. A "leak" report stays an error
# unless the variable it names is declared with a _cleanup_ attribute in the
# function the report points into.
if command -v cppcheck >/dev/null; then
	report=$(cppcheck -q --enable=warning,portability --inline-suppr --error-exitcode=0 \
		-D_GNU_SOURCE -DMLRIG_VERSION='"0"' -DMLRIG_DATADIR='"/"' -DMLRIG_LIBDIR='"/"' \
		-Icommon -Ibuilder -Ifirstboot --template='{file}:{line}:{id}:{message}' \
		common builder firstboot tests/unit 2>&1)
	real=$(python3 - "$report" <<'PY'
import re, sys
out = []
for line in sys.argv[1].splitlines():
    m = re.match(r"^(.*?):(\d+):(\w+):(.*)$", line)
    if not m:
        if line.strip():
            out.append(line)
        continue
    path, lineno, ident, msg = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    var = re.search(r"(?:Memory leak|Resource leak): (\w+)", msg)
    if ident in ("memleak", "resourceLeak", "leakReturnValNotUsed") and var:
        src = open(path).read().splitlines()
        # walk back from the report to the start of the enclosing function
        start = lineno - 1
        while start > 0 and not re.match(r"^[A-Za-z_].*\)\s*\{\s*$", src[start]):
            start -= 1
        body = "\n".join(src[start:lineno])
        # the declaration may hold several declarators: "_cleanup_free_ char *a = NULL, *b = strdup(x);"
        if re.search(r"_cleanup_\w*(\([^)]*\))?\s[^;]*[\s,*]" + re.escape(var.group(1)) + r"\s*[=,;]", body):
            continue  # freed by its cleanup attribute when the function returns
    out.append(line)
print("\n".join(out))
PY
)
	if [ -n "$real" ]; then
		echo "$real"
		echo "lint: cppcheck found the problems above" >&2
		status=1
	fi
else
	echo "lint: cppcheck is not installed (make deps)" >&2
	status=1
fi

# 4. every shell script: syntax and shellcheck
mapfile -t scripts < <(git ls-files '*.sh' .ci/run tools/sysroot.sh 2>/dev/null | sort -u)
for f in "${scripts[@]}"; do
	bash -n "$f" || status=1
done
if command -v shellcheck >/dev/null; then
	# -x follows the files the scripts source (tests/lib.sh, bench/lib.sh, tests/fixtures/lib.sh)
	# -s bash: the libraries that are only sourced have no shebang; every script here is bash
	shellcheck -x -s bash -S warning "${scripts[@]}" || status=1
else
	echo "lint: shellcheck is not installed (make deps)" >&2
	status=1
fi
[ $status -eq 0 ] && echo "lint: clean (${#c_files[@]} C files, ${#scripts[@]} shell scripts)"
exit $status
