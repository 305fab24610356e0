# Shared by the tests that hold --help against other texts (manual pages,
# completion): what a program's --help lists, read here with awk, apart from
# the readers under test. Sourced after tests/lib.sh.

# The commands of a --help text (stdin): the first word of each " name ..." line of its Commands: block.
help_commands() {
	awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^ [a-z]/ { print $1 }' | sort -u
}

# The options of a --help text (stdin): the left column of its Options: block,
# option words and their placeholders, up to the description.
help_options() {
	awk '/^Options:/ { on = 1; next } on && /^$/ { on = 0 }
	on && /^ +-/ {
		n = split($0, t, /[ ,]+/)
		for (i = 1; i <= n; i++) {
			if (t[i] == "") continue
			if (t[i] ~ /^-/) print t[i]
			else if (t[i] !~ /^[A-Z][A-Za-z:]*$/) break
		}
	}' | sort -u
}
