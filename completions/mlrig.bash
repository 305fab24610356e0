# bash completion for mlrig and mlrig-firstboot                 -*- shell-script -*-
# Installed as bash-completion's completions/mlrig (and mlrig-firstboot, a link).
# The commands, options, their arguments and the stage names come from the
# programs' own --help, so they cannot drift from it; fetch's names from
# 'mlrig fetch --list'.

# The lines of PROG's --help between HEADING and the next blank line.
_mlrig_help_block() {
	local heading=$1
	shift
	"$@" --help 2>/dev/null | awk -v h="$heading" '$0 == h { on = 1; next } /^$/ { on = 0 } on'
}

# "OPTION PLACEHOLDER" per option in PROG [COMMAND]'s --help (placeholder "-" for none).
_mlrig_option_table() {
	_mlrig_help_block Options: "$@" | awk '/^ +-/ {
		arg = "-"; n = split($0, t, /[ ,]+/); k = 0
		for (i = 1; i <= n; i++) {
			if (t[i] == "") continue
			if (t[i] ~ /^-/) { o[++k] = t[i]; continue }
			if (t[i] ~ /^[A-Z][A-Za-z:]*$/) arg = t[i]
			break
		}
		for (i = 1; i <= k; i++) print o[i], arg
	}'
}

# The whole disks, as flash takes them.
_mlrig_block_devices() {
	lsblk -dnpo NAME 2>/dev/null
}

# Adds to COMPREPLY: files (filtered by a glob when given) and directories to walk into.
_mlrig_files() {
	local glob=${1-} f
	compopt -o filenames 2>/dev/null
	if [[ -n $glob ]]; then
		while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -X "!$glob" -- "$cur")
		while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -d -- "$cur")
	else
		while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -- "$cur")
	fi
}

# Profiles: *.conf here and under images/ (offered before anything is typed), and directories.
_mlrig_profiles() {
	local f
	_mlrig_files '*.conf'
	if [[ images/ == "$cur"* && -d images ]]; then
		while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -X '!*.conf' -- images/)
	fi
}

# Completes the argument of option OPT whose --help placeholder is ARG.
_mlrig_option_argument() {
	local opt=$1 arg=$2
	case $opt in
	-p | --profile) _mlrig_profiles ;;
	*)
		case $arg in
		FILE | KEYFILE | TARBALL) _mlrig_files ;;
		DIR) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
		esac
		;;
	esac
}

_mlrig() {
	local cur prev words cword split=
	if declare -F _init_completion >/dev/null; then
		_init_completion -s || return # --option=value: prev is --option, cur the value
	else
		cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
	fi
	local prog=${words[0]} cmd='' i table opt arg positional=0 force=''

	# the command: the first word that is not a global option
	for ((i = 1; i < cword; i++)); do
		if [[ ${words[i]} != -* ]]; then
			cmd=${words[i]}
			break
		fi
	done
	COMPREPLY=()
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_mlrig_option_table "$prog" | cut -d' ' -f1)" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_mlrig_help_block Commands: "$prog" | awk '/^ [a-z]/ { print $1 }')" -- "$cur")
		fi
		return
	fi

	table=$(_mlrig_option_table "$prog" "$cmd")
	# the previous word is an option that takes an argument: complete that
	if [[ $prev == -* ]] && ((cword > i + 1)) || [[ -n $split ]]; then
		arg=$(awk -v o="$prev" '$1 == o { print $2; exit }' <<<"$table")
		if [[ -n $arg && $arg != - ]]; then
			_mlrig_option_argument "$prev" "$arg"
			return
		fi
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(cut -d' ' -f1 <<<"$table")" -- "$cur")
		return
	fi

	# which positional argument this is: words after the command, less options and their arguments
	for ((i = i + 1; i < cword; i++)); do
		opt=${words[i]}
		if [[ $opt == -* ]]; then
			[[ $opt == --force ]] && force=1
			arg=$(awk -v o="$opt" '$1 == o { print $2; exit }' <<<"$table")
			[[ -n $arg && $arg != - && $opt != *=* ]] && ((i++))
			continue
		fi
		((positional++))
	done
	case $cmd:$positional in
	boot:0) _mlrig_files ;;
	inspect:0)
		_mlrig_files
		mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -W "$(_mlrig_block_devices)" -- "$cur")
		;;
	flash:0) _mlrig_files ;;
	flash:1)
		mapfile -t COMPREPLY < <(compgen -W "$(_mlrig_block_devices)" -- "$cur")
		[[ -n $force ]] && _mlrig_files # --force takes a regular file too
		;;
	fetch:0) mapfile -t COMPREPLY < <(compgen -W "$("$prog" fetch --list 2>/dev/null | awk '{ print $1 }')" -- "$cur") ;;
	wake:0) _mlrig_profiles ;; # or a MAC, which nothing can guess
	esac
}

_mlrig_firstboot() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
	fi
	local prog=${words[0]} cmd='' i

	COMPREPLY=()
	if [[ $prev == --root ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return
	fi
	for ((i = 1; i < cword; i++)); do
		[[ ${words[i]} == --root ]] && { ((i++)); continue; }
		[[ ${words[i]} != -* ]] && { cmd=${words[i]}; break; }
	done
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_mlrig_option_table "$prog" | cut -d' ' -f1)" -- "$cur")
	elif [[ -z $cmd ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_mlrig_help_block Commands: "$prog" | awk '/^ [a-z]/ { print $1 }')" -- "$cur")
	elif [[ $cmd == stage ]] && ((cword == i + 1)); then
		mapfile -t COMPREPLY < <(compgen -W "$("$prog" --help 2>/dev/null | sed -n 's/^Stages: //p' | tr -d ,)" -- "$cur")
	fi
}

complete -F _mlrig mlrig
complete -F _mlrig_firstboot mlrig-firstboot /usr/lib/mlrig/mlrig-firstboot
