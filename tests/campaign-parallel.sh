#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# campaign-parallel.sh -- `instar-fuzz campaign parallel': GNU parallel
# runs the shards over ssh on two "hosts" (one sshd the test starts on a
# free loopback port, with a throwaway host key and an authorized key in
# a private directory, under two sshlogin lines), --return brings them
# back, the merge runs here; the merged summary equals a local --jobs 1
# run.  First with a --transferfile build, then resumed with --program.
. "$abs_top_srcdir/tests/campaign-lib.sh"
for t in parallel ssh ssh-keygen rsync; do
    require "$(command -v $t)" "$t (Debian: parallel, openssh-client, rsync)"
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
require "$SSHD" "sshd (Debian: openssh-server)"

H="$TMPD/ssh"
mkdir -p "$H" "$TMPD/parallel-home"
chmod 700 "$H"
ssh-keygen -q -t ed25519 -N '' -f "$H/host_key" &&
    ssh-keygen -q -t ed25519 -N '' -f "$H/user_key" &&
    cp "$H/user_key.pub" "$H/authorized_keys" || { echo "Bail out! ssh-keygen failed"; exit 99; }
port=$(free_port)
user=$(id -un)
cat >"$H/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $H/host_key
AuthorizedKeysFile $H/authorized_keys
PidFile $H/sshd.pid
AllowUsers $user
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
# The "hosts" are this machine: the tools where the test finds them.
SetEnv PATH=$PATH
CONF
# sshd's privilege separation directory: made (and removed) if missing.
made_run_sshd=
if [ ! -d /run/sshd ]; then mkdir -m 755 /run/sshd && made_run_sshd=1; fi
# parallel's --workdir ... lives in the login's home: remove what the
# test made there.
home=$(getent passwd "$user" | cut -d: -f6)
made_parallel_home=
[ -e "$home/.parallel" ] || made_parallel_home=1
sshd_pid=
cleanup() {
    [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
    [ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null
    [ -n "$made_parallel_home" ] && rmdir "$home/.parallel/tmp" "$home/.parallel" 2>/dev/null
    rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

"$SSHD" -D -e -f "$H/sshd_config" >"$H/sshd.log" 2>&1 &
sshd_pid=$!
SSH="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=$H/known_hosts -o BatchMode=yes -i $H/user_key -p $port"
# shellcheck disable=SC2086
wait_for 20 $SSH "$user@127.0.0.1" true
ok $? "sshd (pid $sshd_pid) on 127.0.0.1:$port takes the test's key"

# Two "hosts": the same sshd under two sshlogin lines.
printf '1/%s@127.0.0.1\n1/127.0.0.1\n' "$user" >"$H/logins"
# What a host runs as instar-fuzz: a build sent along (--transferfile).
cat >"$TMPD/instar-fuzz-build" <<SH
#!/bin/sh
exec "$abs_top_builddir/pre-inst-env" instar-fuzz "\$@"
SH
chmod +x "$TMPD/instar-fuzz-build"
export PARALLEL_HOME="$TMPD/parallel-home"

local_run "$TMPD/local"; rc=$?
ok $([ $rc -eq 1 ]; echo $?) "local --jobs 1 run: findings (exit $rc)"

D="$TMPD/campaign"
camp() {  # camp ARGS...: campaign parallel of this test's campaign
    # shellcheck disable=SC2086
    timeout 600 "$abs_top_builddir/pre-inst-env" instar-fuzz campaign parallel \
        --sshloginfile "$H/logins" --ssh "$SSH" --shards 4 --seed $SEED \
        --iterations $ITERATIONS --out "$D" "$@" resize-diff $RECIPE_OPTS
}
camp --transferfile "$TMPD/instar-fuzz-build" >"$TMPD/c1.log" 2>&1; rc=$?
diag "$(grep -v '^[1-4]	' "$TMPD/c1.log")"
ok $([ $rc -eq 1 ]; echo $?) "campaign parallel: findings (exit $rc)"
check_first_campaign "$D" "$TMPD/local"
hosts=$(awk -F'\t' 'NR > 1 { print $2 }' "$D/parallel/joblog" | sort -u | wc -l)
ok $([ "$hosts" -eq 2 ]; echo $?) "the shards ran on both sshlogins ($hosts)"
n=$(awk -F'\t' 'NR > 1 && $9 ~ /instar-fuzz-build run resize-diff/' "$D/parallel/joblog" | wc -l)
ok $([ "$n" -eq 4 ]; echo $?) "each host ran the transferred build ($n jobs)"
left=$(find "$home/.parallel/tmp" -mindepth 1 2>/dev/null | wc -l)
ok $([ "$left" -eq 0 ]; echo $?) "--cleanup: no work directory left on the hosts ($left)"

# Resume: shards 2 and 4 incomplete; the program installed "there".
others=$(sha "$D/shards/1/summary.json" "$D/shards/3/summary.json")
rm "$D/shards/2/summary.json" "$D/shards/4/summary.json"
camp --program "$TMPD/instar-fuzz-build" >"$TMPD/c2.log" 2>&1; rc=$?
diag "$(grep '^campaign' "$TMPD/c2.log")"
grep -q 'parallel ran shards 2,4 ' "$TMPD/c2.log"
ok $? "resumed: parallel ran only shards 2 and 4 (exit $rc)"
ok $([ "$(sha "$D/shards/1/summary.json" "$D/shards/3/summary.json")" = "$others" ]; echo $?) \
    "the complete shards did not run again"
compare "$TMPD/local" "$D/merged"
ok $? "after the resume the merged summary still equals the local run"

kill "$sshd_pid"; wait "$sshd_pid" 2>/dev/null
kill -0 "$sshd_pid" 2>/dev/null
ok $([ $? -ne 0 ]; echo $?) "sshd stopped"
sshd_pid=

done_testing
