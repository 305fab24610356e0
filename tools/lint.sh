#!/bin/bash
# make lint: banned functions (STYLE.md), cppcheck, shell syntax.
set -u
status=0
banned='\b(strcpy|strcat|sprintf|strtok|atoi|gets|system)[[:space:]]*\('
if grep -nE "$banned" common/*.[ch] builder/*.[ch] firstboot/*.[ch] tests/unit/*.[ch]; then
	echo "lint: banned functions above (use snprintf/asprintf, safe_atou64, posix_spawn)" >&2
	status=1
fi
if command -v cppcheck >/dev/null; then
	cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
		-D_GNU_SOURCE -DMLRIG_VERSION='"0"' -DMLRIG_DATADIR='"/"' -Icommon -Ibuilder -Ifirstboot \
		common builder firstboot || status=1
else
	echo "lint: cppcheck not installed, skipping it" >&2
fi
for f in tests/*.sh tests/*/*.sh tools/*.sh bench/*.sh .ci/run; do
	[ -f "$f" ] && { bash -n "$f" || status=1; }
done
exit $status
