#!/bin/bash
# Power cut inside a stage: a test hook holds the agent inside the user, sshd
# or python stage, QEMU is killed with SIGKILL (on a copy of the image, not a
# snapshot), the copy boots again: the agent resumes at that stage, completes,
# and nothing is duplicated. The python run also starts on a bigger disk, so
# grow-root has work to do.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-firstboot.sh"
need qemu-system-x86_64 ssh sfdisk debugfs python3
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip "OVMF is not installed (make deps)"
key=$(demo_key)
fb_image "$T" || { fail "build"; cat "$T/build.log"; finish; }
off=$(root_offset "$T/fb.img")
keys=$(grep -c . "$REPO/images/keys/demo_ed25519.pub")
N=$(agent_stage_count)

probe='echo "PASSWD $(grep -c ^demo: /etc/passwd)"; echo "SHADOW $(sudo grep -c ^demo: /etc/shadow)"
echo "KEYS $(grep -c . ~/.ssh/authorized_keys)"; echo "SUDO $(grep ^sudo: /etc/group)"
echo "ALIASES $(grep -c ">>> mlrig >>>" ~/.bash_aliases)"
echo "PROBE $(~/venv/ml/bin/python -c "import mlrig_probe; print(mlrig_probe.MARKER)")"
echo "ROOT_MIB $(df -B1M --output=size / | tail -1 | tr -d " ")"
sudo /usr/lib/mlrig/mlrig-firstboot status | sed "s/^/STATUS /"'

for stage in user sshd python; do
	img=$T/cut-$stage.img
	cp --sparse=always "$T/fb.img" "$img"
	[ $stage = python ] && truncate -s +512M "$img"
	echo $stage >"$T/hold"
	debugfs -w -R "write $T/hold /etc/mlrig/test-hold-stage" "$img?offset=$off" >/dev/null 2>&1
	"$MLRIG" boot "$img" --writable --power-cut --expect "holding inside stage $stage" --timeout 300 \
		--log "$T/$stage-a.log" >/dev/null 2>"$T/$stage-a.err"
	if [ $? -ne 0 ]; then fail "$stage: agent held inside the stage"; tail -30 "$T/$stage-a.log"; continue; fi
	pass "$stage: agent held inside the stage, power cut"
	"$MLRIG" boot "$img" --writable --expect "mlrig-firstboot: complete" --ssh "$key" --user demo \
		--ssh-command "$probe" --timeout 400 --log "$T/$stage-b.log" >"$T/$stage.out" 2>"$T/$stage-b.err"
	if [ $? -ne 0 ]; then fail "$stage: next boot completes"; cat "$T/$stage-b.err"; tail -40 "$T/$stage-b.log"; continue; fi
	pass "$stage: next boot completes"
	check "$stage: resumed at that stage (earlier stages not rerun)" \
		eval 'grep -q "stage $stage ok" "$T/$stage-b.log" && ! grep -q "stage identity ok" "$T/$stage-b.log"'
	check "$stage: one passwd and shadow line" eval 'grep -qx "PASSWD 1" "$T/$stage.out" && grep -qx "SHADOW 1" "$T/$stage.out"'
	check "$stage: keys not duplicated" grep -qx "KEYS $keys" "$T/$stage.out"
	check "$stage: user once in sudo" grep -Eqx "SUDO sudo:x:27:demo" "$T/$stage.out"
	check "$stage: one shortcut block, venv works" eval 'grep -qx "ALIASES 1" "$T/$stage.out" && grep -qx "PROBE mlrig-probe-ok" "$T/$stage.out"'
	check "$stage: every stage done" test "$(grep -c '^STATUS .* done ' "$T/$stage.out")" -eq "$N"
	if [ $stage = python ]; then
		mib=$(sed -n 's/^ROOT_MIB //p' "$T/$stage.out")
		check "grow-root: the root file system grew onto the bigger disk (${mib} MiB)" test "${mib:-0}" -gt 2000
		# The finished rig boots again from update-grub's config: serial console
		# kept, the agent done, the boot order re-asserted.
		"$MLRIG" boot "$img" --writable --expect "mlrig-ready: fb-test" --ssh "$key" --user demo \
			--ssh-command 'cat /proc/cmdline; grep -c "BEGIN /etc/grub.d/10_linux" /boot/grub/grub.cfg' \
			--timeout 300 --log "$T/after.log" >"$T/after.out" 2>"$T/after.err"
		check "after update-grub: boots with the serial console and the ready marker" test $? -eq 0
		check "after update-grub: console arguments kept" grep -q "console=ttyS0,115200n8" "$T/after.out"
		check "after update-grub: grub.cfg is update-grub's" grep -qx "[1-9]" "$T/after.out"
		check "after completion: the agent does not run again" eval '! grep -q "stage identity ok" "$T/after.log"'
	fi
done
finish
