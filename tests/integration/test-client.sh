#!/bin/bash
# mlrig client, checked with the real ssh client (ssh -G) and real bash and zsh
# in a temporary HOME: the entry's alias, HostName, Port, User, key, tunnel,
# keep-alives; --install puts it before the user's "Host *" and keeps their
# lines; a second run changes nothing; a block per rig; the shortcuts run in
# both shells against a fake ssh, sshfs and mlrig that log what they are asked.
. "$(dirname "$0")/../lib.sh"
need ssh bash zsh python3
export HOME=$T/home
unset XDG_CONFIG_HOME
mkdir -p "$HOME" "$T/p"
install -m 600 "$REPO/images/keys/demo_ed25519" "$T/p/demo_ed25519"
cp "$REPO/images/keys/demo_ed25519.pub" "$T/p/demo_ed25519.pub"
cat >"$T/p/rig.conf" <<'CONF'
[Rig]
Hostname=lab-rig
User=demo
AuthorizedKeys=demo_ed25519.pub
[SSH]
Port=2222
[DDNS]
Hostname=labrig.example.net
[Jupyter]
Port=8899
Service=yes
App=notebook
CONF

# ssh_has CONFIG HOST LINE...: ssh -G resolves each LINE for HOST
ssh_has() {
	local config=$1 host=$2 line
	shift 2
	ssh -G -F "$config" "$host" >"$T/G" 2>/dev/null || return 1
	for line in "$@"; do grep -qxF "$line" "$T/G" || { echo "missing: $line"; return 1; }; done
}

"$MLRIG" client -p "$T/p/rig.conf" >"$T/printed" 2>"$T/err"
check "client prints an entry (exit 0)" test $? -eq 0
check "ssh -G: the rig's name is the alias; DDNS name, port, user, its key" ssh_has "$T/printed" lab-rig \
	"hostname labrig.example.net" "port 2222" "user demo" "identityfile $T/p/demo_ed25519" "identitiesonly yes"
check "ssh -G: Jupyter's port forwarded to the rig's 127.0.0.1, keep-alives, ExitOnForwardFailure" ssh_has \
	"$T/printed" lab-rig "localforward [127.0.0.1]:8899 [127.0.0.1]:8899" "serveraliveinterval 30" \
	"serveralivecountmax 4" "exitonforwardfailure yes"
check "ssh -G: another host gets none of it" eval 'ssh -G -F "$T/printed" other 2>/dev/null | grep -qx "port 22"'

"$MLRIG" client -p "$T/p/rig.conf" --address 127.0.0.1 --port 2200 >"$T/printed2"
check "--address and --port replace the DDNS name and port" ssh_has "$T/printed2" lab-rig "hostname 127.0.0.1" "port 2200"
"$MLRIG" client -p "$T/p/rig.conf" --address '1.2.3.4;x' >/dev/null 2>"$T/err"
# shellcheck disable=SC2034 # read by the eval below
rc=$?
check "--address with a shell character: usage error" eval '[ $rc -eq 2 ] && grep -q "expected a host name or an IP address" "$T/err"'

# the key: found in ~/.ssh when the profile's .pub has no private half beside it
mkdir -p "$T/q" "$HOME/.ssh"
cp "$T/p/demo_ed25519.pub" "$T/q/laptop.pub"
sed 's/=demo_ed25519.pub/=laptop.pub/' "$T/p/rig.conf" >"$T/q/rig.conf"
"$MLRIG" client -p "$T/q/rig.conf" >"$T/out" 2>"$T/err"
# shellcheck disable=SC2034 # read by the eval below
rc=$?
check "no key beside the .pub and none in ~/.ssh: exit 2, asks for --identity" eval \
	'[ $rc -eq 2 ] && grep -q "give --identity FILE" "$T/err"'
install -m 600 "$T/p/demo_ed25519" "$HOME/.ssh/id_ed25519"
cp "$T/p/demo_ed25519.pub" "$HOME/.ssh/id_ed25519.pub"
"$MLRIG" client -p "$T/q/rig.conf" >"$T/out" 2>"$T/err"
check "the key in ~/.ssh whose public half the rig has" ssh_has "$T/out" lab-rig "identityfile $HOME/.ssh/id_ed25519"
rm "$HOME/.ssh/id_ed25519" "$HOME/.ssh/id_ed25519.pub"

# --install into a config with the user's own lines, a global one at the top and a Host * at the end
cat >"$HOME/.ssh/config" <<'CFG'
# my own config
ConnectTimeout 7

Host work
	HostName work.example.com

Host *
	User someone-else
	ServerAliveInterval 5
CFG
chmod 644 "$HOME/.ssh/config"
printf 'export EDITOR=vi\n' >"$HOME/.bashrc"
"$MLRIG" client -p "$T/p/rig.conf" --install >"$T/install1" 2>&1
check "--install: exit 0, each file written" eval '[ $? -eq 0 ] && [ "$(grep -c ": written$" "$T/install1")" -eq 4 ]'
config=$HOME/.ssh/config
check "the entry goes before 'Host *', so the rig's User and keep-alives win" ssh_has "$config" lab-rig \
	"user demo" "serveraliveinterval 30" "hostname labrig.example.net"
check "the user's global line stays global, their hosts as they were" eval \
	'ssh_has "$config" lab-rig "connecttimeout 7" && ssh_has "$config" work "hostname work.example.com" "user someone-else"'
sed -n '/^# >>> mlrig lab-rig >>>$/,/^# <<< mlrig lab-rig <<<$/p' "$config" | sed '1d;$d' >"$T/block"
check "the block is what 'mlrig client' prints" cmp -s "$T/block" "$T/printed"
check "the config keeps its mode (ssh refuses a config others may write)" test "$(stat -c %a "$config")" = 644
check "the .ssh directory is 0700 when made" eval 'rm -rf "$T/h2" && mkdir "$T/h2" && HOME=$T/h2 "$MLRIG" client -p "$T/p/rig.conf" --install >/dev/null && [ "$(stat -c %a "$T/h2/.ssh")" = 700 ] && [ "$(stat -c %a "$T/h2/.ssh/config")" = 600 ]'
shortcuts=$HOME/.config/mlrig/lab-rig/shortcuts.sh
check "the shortcuts file is there" test -s "$shortcuts"
check "bash and zsh source it from a marked block; the user's .bashrc line kept" eval \
	'grep -qx "export EDITOR=vi" "$HOME/.bashrc" && for rc in .bashrc .zshrc; do grep -q "^# >>> mlrig lab-rig >>>" "$HOME/$rc" && grep -qF ". \"$shortcuts\"" "$HOME/$rc" || exit 1; done'
check "bash and zsh both parse the shortcuts" eval 'bash -n "$shortcuts" && zsh -n "$shortcuts"'
check "an interactive bash and zsh get the shortcuts from their rc files" eval \
	'bash -ic "type lab_rig_tunnel" 2>/dev/null | grep -q function && zsh -ic "whence -w lab_rig_tunnel" 2>/dev/null | grep -q function'

# a second run changes nothing: same bytes, same inodes and times
snapshot() { stat -c '%n %i %Y %s' "$config" "$shortcuts" "$HOME/.bashrc" "$HOME/.zshrc"; md5sum "$config" "$shortcuts" "$HOME/.bashrc" "$HOME/.zshrc"; }
snapshot >"$T/snap1"
sleep 1
"$MLRIG" client -p "$T/p/rig.conf" --install >"$T/install2" 2>&1
snapshot >"$T/snap2"
check "a second --install says unchanged for each file" eval '[ "$(grep -c ": unchanged$" "$T/install2")" -eq 4 ]'
check "a second --install rewrites nothing" cmp -s "$T/snap1" "$T/snap2"

# hand edits: outside the block kept, inside it restored; a block per rig
printf 'Host later\n\tHostName later.example.com\n' >>"$config"
sed -i 's/^\tPort 2222$/\tPort 1/' "$config"
sed 's/^Hostname=lab-rig/Hostname=rig-two/; s/^Port=2222/Port=2223/' "$T/p/rig.conf" >"$T/p/two.conf"
"$MLRIG" client -p "$T/p/rig.conf" --install >/dev/null 2>&1 && "$MLRIG" client -p "$T/p/two.conf" --install >/dev/null 2>&1 &&
	"$MLRIG" client -p "$T/p/rig.conf" --install >/dev/null 2>&1
check "a hand-edited line outside the block is kept" ssh_has "$config" later "hostname later.example.com"
check "a hand edit inside the block is put right" ssh_has "$config" lab-rig "port 2222"
check "a second rig gets a block of its own, which the first rig's next --install leaves alone" eval \
	'ssh_has "$config" rig-two "port 2223" && [ "$(grep -c "^# >>> mlrig " "$config")" -eq 2 ] && [ "$(grep -c "^# <<< mlrig " "$config")" -eq 2 ]'
sed -n '/^# >>> mlrig lab-rig >>>$/,/^# <<< mlrig lab-rig <<<$/p' "$config" >"$T/lab-block"
check "the blocks do not nest" eval '! grep -q "rig-two" "$T/lab-block"'

# a dotfile manager's symlink stays a symlink; its target gets the block
mv "$HOME/.zshrc" "$T/dotfiles-zshrc" && ln -s "$T/dotfiles-zshrc" "$HOME/.zshrc"
sed -i '/mlrig lab-rig/,/mlrig lab-rig/d' "$T/dotfiles-zshrc"
"$MLRIG" client -p "$T/p/rig.conf" --install >/dev/null 2>&1
check "a symlinked ~/.zshrc: still a symlink, the target has the block" eval \
	'[ -L "$HOME/.zshrc" ] && grep -q "^# >>> mlrig lab-rig >>>" "$T/dotfiles-zshrc"'

# The shortcuts in bash and zsh, against fakes that log their arguments.
mkdir -p "$T/bin"
cat >"$T/bin/ssh" <<'SH'
#!/bin/bash
echo "ssh $*" >>"$FAKE_LOG"
case "$*" in
*jupyter-token*) printf 'tok123' ;;
*wol-mac*) echo 52:54:00:ab:cd:07 ;;
esac
SH
cat >"$T/bin/sshfs" <<'SH'
#!/bin/bash
echo "sshfs $*" >>"$FAKE_LOG"
SH
cat >"$T/bin/mlrig" <<'SH'
#!/bin/bash
echo "mlrig $*" >>"$FAKE_LOG"
SH
chmod +x "$T/bin/"*
for sh in bash zsh; do
	export FAKE_LOG=$T/$sh.log
	rm -f "$FAKE_LOG" "$HOME/.config/mlrig/lab-rig/wol-mac"
	PATH=$T/bin:$PATH $sh -c '. "$1"
		echo "URL $(lab_rig_jupyter)"
		lab_rig_tunnel echo hi
		lab_rig_wake
		lab_rig_wake --broadcast 192.168.1.255
		lab_rig_mount; echo "mount rc $?"' _ "$shortcuts" >"$T/$sh.out" 2>&1
	check "$sh: the Jupyter URL carries the token fetched over ssh, without the forward" eval \
		'grep -qx "URL http://127.0.0.1:8899/tree?token=tok123" "$T/$sh.out" && grep -qx "ssh -o ClearAllForwardings=yes lab-rig cat .local/share/mlrig/jupyter-token" "$FAKE_LOG"'
	check "$sh: the tunnel is ssh to the alias (whose config forwards Jupyter), the command passed on" \
		grep -qx "ssh lab-rig echo hi" "$FAKE_LOG"
	check "$sh: the tunnel saved the MAC the rig reported" grep -qx 52:54:00:ab:cd:07 "$HOME/.config/mlrig/lab-rig/wol-mac"
	check "$sh: wake sends to the DDNS name with that MAC; options replace the target" eval \
		'grep -qx "mlrig wake --host labrig.example.net 52:54:00:ab:cd:07" "$FAKE_LOG" && grep -qx "mlrig wake --broadcast 192.168.1.255 52:54:00:ab:cd:07" "$FAKE_LOG"'
	check "$sh: mount runs sshfs on the rig's home and notices it did not mount" eval \
		'grep -qx "sshfs -o reconnect,idmap=user lab-rig: $HOME/rigs/lab-rig" "$FAKE_LOG" && grep -q "is not a mount point" "$T/$sh.out" && grep -qx "mount rc 1" "$T/$sh.out"'
done

# macOS has neither mountpoint(1) nor fusermount: mount(8)'s list and umount, in both shells
mkdir -p "$T/mac"
for tool in bash zsh mkdir cat grep; do ln -sf "$(command -v $tool)" "$T/mac/$tool"; done
cp "$T/bin/sshfs" "$T/mac/sshfs"
cat >"$T/mac/mount" <<SH
#!/bin/bash
echo "demo@lab-rig: on $HOME/rigs/lab-rig (macfuse, nodev, nosuid, synchronous, mounted by me)"
SH
cat >"$T/mac/umount" <<'SH'
#!/bin/bash
echo "umount $*" >>"$FAKE_LOG"
SH
chmod +x "$T/mac/mount" "$T/mac/umount"
for sh in bash zsh; do
	export FAKE_LOG=$T/mac-$sh.log
	rm -f "$FAKE_LOG"
	PATH=$T/mac "$T/mac/$sh" -c '. "$1"; lab_rig_umount; echo "umount rc $?"' _ "$shortcuts" >"$T/mac-$sh.out" 2>&1
	check "$sh without mountpoint and fusermount (macOS): mount's list says mounted, umount unmounts" eval \
		'grep -qx "umount $HOME/rigs/lab-rig" "$FAKE_LOG" && grep -qx "umount rc 0" "$T/mac-$sh.out"'
done

# wake with the real mlrig, the MAC from the profile, to a receiver on 127.0.0.1
printf '[WakeOnLan]\nMAC=52:54:00:ab:cd:08\n' >>"$T/p/rig.conf"
"$MLRIG" client -p "$T/p/rig.conf" --install >/dev/null 2>&1
cat >"$T/recv.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
s.settimeout(5)
open(sys.argv[1], "w").write(s.recv(4096).hex())
PY
python3 "$T/recv.py" "$T/pkt" &
for _ in $(seq 50); do [ -s "$T/pkt.port" ] && break; sleep 0.1; done
PATH=$BUILD:$PATH bash -c '. "$1"; lab_rig_wake --host 127.0.0.1 --port "$2"' _ "$shortcuts" "$(cat "$T/pkt.port")" >"$T/wake.out" 2>&1
wait
check "bash: the wake shortcut's packet carries the profile's MAC" eval \
	'[ "$(cat "$T/pkt")" = "ffffffffffff$(printf "525400abcd08%.0s" $(seq 16))" ]'
finish
