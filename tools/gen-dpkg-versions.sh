#!/bin/bash
# Writes the version tables tests/unit/test-deb.c checks builder/deb-version.c against, as dpkg
# answers them: tests/data/dpkg-versions.txt ("A OP B", OP lt/eq/gt from `dpkg --compare-versions`)
# and tests/data/dpkg-bad-versions.txt (versions `dpkg --validate-version` refuses, one a line).
# Run once by hand where dpkg is installed; the tables are kept in git, so the test needs no dpkg.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dpkg >/dev/null || { echo "gen-dpkg-versions.sh: needs dpkg" >&2; exit 1; }

# Pairs chosen for one rule each: epochs, '~', letters against non-letters, leading zeros,
# numbers longer than 64 bits, hyphens and colons inside upstream, and real archive versions.
pairs=(
	"1.0 1.0" "1.0 1.1" "1.1 1.0" "1.0 1.0.0" "1 1.0" "1.0 1.00" "1.01 1.1" "1.001 1.1" "0001 1"
	"1.0010 1.01" "1.010 1.01" "1.9 1.10" "1.10 1.9" "2 10" "0 00" "0 1" "9 10" "1.2.3 1.2.10"
	"1:1.0 2.0" "0:1.0 1.0" "00:1.0 1.0" "10:1 9:2" "1:0 0:99" "2:1.0 1:9.9" "1:1.0-1 1:1.0-1"
	"0:0 0" "1:0 0" "+1:2 1:2" "-0:1 1" "2147483647:1 2147483646:9" "1:2:3 1:2.3" "1:2:3 1:2:4"
	"1~~ 1~~a" "1~~a 1~" "1~ 1" "1 1a" "1~ 1~a" "1~a 1~b" "1.0~rc1 1.0" "1.0~rc1 1.0~rc2"
	"1.0~rc1-1 1.0-1" "1.0~rc1-1 1.0~rc1-2" "1.0~beta~1 1.0~beta" "1.0~beta 1.0~rc" "1.0~~ 1.0~"
	"1.0~ 1.0" "1.0 1.0+" "1.0 1.0." "1.0~ 1.0-1" "1~1 1~" "1.0~rc1 1.0~RC1" "2.0~ 1.9"
	"1.0a 1.0b" "1.0A 1.0a" "1.0Z 1.0a" "1.0z 1.0+" "1.0a 1.0." "1.0a 1.0~" "1.0a 1.0" "1.0+ 1.0."
	"1:1.0+ 1:1.0:" "1:1.0: 1:1.0." "1.0a1 1.0a" "1.0aa 1.0ab" "1.0a 1.0aa" "1.0.a 1.0a"
	"1.0-1 1.0-1.1" "1.0-1 1.0-2" "1.0-10 1.0-9" "1.0-1~bpo1 1.0-1" "1.0-0 1.0" "1.0-00 1.0-0"
	"1.0-a 1.0-1" "1.0-1a 1.0-1" "1.0-1+b1 1.0-1" "1.0-1build1 1.0-1" "1.0-1+b1 1.0-1build1"
	"1.0-2-3 1.0-2" "1.0-2-3 1.0-3" "1.0-2-3 1.0-2-4" "1.0-1 1.0.1" "1.0-1 1.0+1" "1.0--1 1.0-1"
	"1.0~-1 1.0-1" "1.0+-1 1.0-1" "1.0-1 1.0-1~" "1.0-0.1 1.0-0" "1.0-1ubuntu1 1.0-1"
	"18446744073709551615 18446744073709551616" "99999999999999999999999 100000000000000000000000"
	"1.000000000000000000000000001 1.1" "1.18446744073709551616 1.18446744073709551617"
	"123456789012345678901234567890 123456789012345678901234567890"
	"00000000000000000000000000000001 1" "1.0.000000000000000000000000000002 1.0.3"
	"470.199.02-0ubuntu0.20.04.1 470.182.03-0ubuntu0.20.04.1"
	"470.199.02-0ubuntu0.20.04.1 470.199.02-0ubuntu0.22.04.1"
	"470.199.02-0ubuntu0.20.04.1 535.183.01-0ubuntu0.20.04.1"
	"470.199.02-0ubuntu0.20.04.1 470.199.02-0ubuntu0.20.04.1"
	"470.199.02-0ubuntu0.20.04.1 470.199.02-0ubuntu0.20.04.1~ppa1"
	"470.199.02-0ubuntu0.20.04.1 1:470.199.02-0ubuntu0.20.04.1"
	"470.199.02-0ubuntu0.20.04.1 470.199.2-0ubuntu0.20.04.1"
	"535.183.01-0ubuntu0.20.04.1 535.183.01-0ubuntu0.20.04.1+1"
	"2:8.2.3995-1ubuntu2.13 2:8.2.3995-1ubuntu2.12" "2:8.2.3995-1ubuntu2.13 2:8.1.2269-1ubuntu5.20"
	"2:8.2.3995-1ubuntu2.13 8.2.3995-1ubuntu2.13" "2:8.2.3995-1ubuntu2.13 2:8.2.3995-1ubuntu2.13"
	"1:1.2.11.dfsg-2ubuntu1.5 1:1.2.11.dfsg-2ubuntu1.2" "1:1.2.11.dfsg-2ubuntu1.5 1:1.2.11-2"
	"1:1.2.11.dfsg-2ubuntu1.5 1:1.2.11+dfsg-2"
	"2.31-0ubuntu9.9 2.31-0ubuntu9.16" "2.31-13+deb11u5 2.31-13+deb11u10" "2.31-13+deb11u5 2.31-13"
	"2.31-13+deb11u5 2.31-0ubuntu9.9" "2.36-9+deb12u4 2.31-13+deb11u5"
	"5.4.0-150.167 5.4.0-42.46" "5.15.0-91.101~20.04.1 5.15.0-91.101" "5.15.0-91.101~20.04.1 5.4.0-150.167"
	"245.4-4ubuntu3.22 245.4-4ubuntu3.3" "247.3-7+deb11u4 247.3-7+deb11u1"
	"7.68.0-1ubuntu2.18 7.68.0-1ubuntu2.7" "1.1.1f-1ubuntu2.19 1.1.1f-1ubuntu2.2" "1.1.1f-1 1.1.1g-1"
	"1.1.1f-1 1.1.1-1" "3.0.5-7 3.0.5-7" "3.0.5-7 3.0.5-7+b1" "3.1a-1 3.1-1" "3.1a-1 3.1b-1"
	"3.10.3-2 3.10.3-2" "3.10.3-2 3.9.9-1" "3.7.1-1 3.7.1+repack-1" "3.7.1+repack-1 3.7.1.1-1"
	"9.3.0-17ubuntu1~20.04 9.3.0-17ubuntu1" "9.3.0-17ubuntu1~20.04 9.3.0-10ubuntu2" "10.2.1-6 9.3.0-17ubuntu1~20.04"
	"0.9.8~git20200101.abc123-1 0.9.8-1" "0.9.8~git20200101.abc123-1 0.9.8~git20190101.fff-1"
	"0.0~git20200101-1 0.0~git20191231-3" "1.0+git20200101~beta 1.0+git20200101" "1.0+git20200101 1.0.1"
	"1.2.3+dfsg-1 1.2.3-1" "1.2.3+dfsg-1 1.2.3+dfsg1-1" "1.2.3+dfsg1-1 1.2.3+dfsg2-1"
	"2.0.0+really1.9.0-1 2.0.0-1" "2.0.0+really1.9.0-1 2.0.1-1" "1:2.0.0+really1.9.0-1 2.0.1-1"
	"4.2-1ubuntu1~ppa1 4.2-1ubuntu1" "4.2-1ubuntu1~ppa1 4.2-1" "12~0 12" "20.04.1 20.04" "20.04.1 20.10"
	"2.2.4 2.2.4ubuntu0.1" "2.0.10 2.0.9ubuntu2" "1.21.22 1.21.1" "1.6.0-1+deb11u1 1.6.0-1"
	"3.5.0-5 3.5.0-5+b1" "2.1.12-stable-1 2.1.12-stable-1+b1" "2.1.12-stable-1 2.1.12-1"
	"1.8.7-6 1.8.7-6+deb11u1" "2.66.8-1 2.66.8-1+deb11u3" "1:0.9.8-3 0:1.0" "1.0.0~alpha+git 1.0.0~alpha"
)
# and every pair among these (order, both directions, come from the test)
cross=(0 0~ 0.0 1 1~ 1~~ 1a 1A 1+ 1. 1-1 1:0 1.0-1~ 1.0-0ubuntu1 1.0+b1 2:0.1 10 1.10 1.9.9 1.0a~)

answer() {
	if dpkg --compare-versions -- "$1" lt "$2"; then echo lt
	elif dpkg --compare-versions -- "$1" eq "$2"; then echo eq
	else echo gt; fi
}

check_valid() {
	dpkg --validate-version -- "$1" >/dev/null 2>&1 || { echo "gen-dpkg-versions.sh: dpkg refuses '$1'" >&2; exit 1; }
}

emit() {
	check_valid "$1"
	check_valid "$2"
	echo "$1 $(answer "$1" "$2") $2"
}

mkdir -p tests/data
out=tests/data/dpkg-versions.txt
{
	echo "# Generated by tools/gen-dpkg-versions.sh with $(dpkg-query -W -f='dpkg ${Version}' dpkg): A OP B as dpkg --compare-versions answered."
	for p in "${pairs[@]}"; do
		# shellcheck disable=SC2086 # a pair is two words
		emit $p
	done
	for ((i = 0; i < ${#cross[@]}; i++)); do
		for ((j = i + 1; j < ${#cross[@]}; j++)); do
			emit "${cross[i]}" "${cross[j]}"
		done
	done
} >"$out.tmp"
mv "$out.tmp" "$out"

# Refused by dpkg, as errors or as warnings: the parser refuses both.
bad=(a1 "1 2" 1: :1 +:1 -1:2 -1 1.0- 1_0 1.0-a_b 1:a 1:: 2147483648:1 99999999999:1 1.0-1:2 "1:2-3:4"
	1.0/1 1.0-1/2 "1.0!" "1.0,1" ~1 .1 1.0-1.0_1 "1@2" "1%" "1.0 -1" "-" "-1.0" "1.0-1-" "x:1"
	"1x:2" 1.0-ü)
out=tests/data/dpkg-bad-versions.txt
{
	echo "# Generated by tools/gen-dpkg-versions.sh: versions dpkg --validate-version refuses, one a line."
	for v in "${bad[@]}"; do
		if dpkg --validate-version -- "$v" >/dev/null 2>&1; then
			echo "gen-dpkg-versions.sh: dpkg accepts '$v'; not a bad version" >&2
			exit 1
		fi
		echo "$v"
	done
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote tests/data/dpkg-versions.txt ($(grep -vc '^#' tests/data/dpkg-versions.txt) pairs), tests/data/dpkg-bad-versions.txt" >&2
