# SPDX-License-Identifier: GPL-3.0-or-later
# slurm-cluster.sh -- a private one-node Slurm cluster for a test or a
# benchmark (sourced; needs free_port from campaign-lib.sh).
#
#   slurm_start DIR   munged, slurmctld and slurmd, every file under DIR
#                     (a fresh directory), loopback only, free ports, no
#                     cgroups; exports SLURM_CONF; sets munged_pid,
#                     ctld_pid, d_pid and pids.  0 when the node is idle.
#   slurm_stop        cancels this cluster's jobs, stops the daemons by
#                     pid (TERM, then KILL after 10 s).
#
# What works without cgroups or a system configuration (measured on
# Debian 12, slurm-wlm 22.05): proctrack/linuxproc, task/none,
# jobacct_gather/none, no accounting storage, SlurmdUser=root,
# SlurmdParameters=config_overrides (the node as configured, not as
# probed), and munged's socket in a directory searchable by all.
slurm_tools="munged mungekey slurmctld slurmd sbatch squeue sinfo scancel"

# free_port: a TCP port nothing listens on at 127.0.0.1 now.
free_port() {
    "${PYTHON3:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds; 1 on timeout.
wait_for() {
    n=$(( $1 * 5 )); shift
    while ! "$@" >/dev/null 2>&1; do
        n=$((n - 1)); [ $n -gt 0 ] || return 1
        sleep 0.2
    done
}

slurm_start() {
    sdir=$1
    munged_pid= ctld_pid= d_pid= pids=
    mkdir -p "$sdir/munge" "$sdir/key" "$sdir/state" "$sdir/spool" "$sdir/log" || return 1
    # munged wants its socket's directory and every parent searchable
    # by all, its key private.
    p=$sdir
    while [ "$p" != / ] && [ "$p" != "${TMPDIR:-/tmp}" ] && [ "$p" != /tmp ]; do
        chmod go+x "$p" || return 1
        p=$(dirname "$p")
    done
    chmod 700 "$sdir/key"
    mungekey -c -b 1024 -k "$sdir/key/munge.key" || return 1
    munged -F --socket="$sdir/munge/socket" --key-file="$sdir/key/munge.key" \
        --pid-file="$sdir/munge/munged.pid" --log-file="$sdir/log/munged.log" \
        --seed-file="$sdir/key/munged.seed" >"$sdir/log/munged.out" 2>&1 &
    munged_pid=$!
    pids=$munged_pid
    wait_for 20 test -S "$sdir/munge/socket" || return 1
    host=$(hostname)
    cat >"$sdir/slurm.conf" <<CONF
# A one-node cluster: loopback, private files.
ClusterName=instartest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$sdir/munge/socket
CredType=cred/munge
SlurmUser=$(id -un)
SlurmdUser=root
StateSaveLocation=$sdir/state
SlurmdSpoolDir=$sdir/spool
SlurmctldPidFile=$sdir/slurmctld.pid
SlurmdPidFile=$sdir/slurmd.pid
SlurmctldLogFile=$sdir/log/slurmctld.log
SlurmdLogFile=$sdir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=instartest Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    SLURM_CONF="$sdir/slurm.conf"
    export SLURM_CONF
    slurmctld -D -f "$SLURM_CONF" >"$sdir/log/slurmctld.out" 2>&1 &
    ctld_pid=$!
    pids="$pids $ctld_pid"
    slurmd -D -f "$SLURM_CONF" -N "$host" >"$sdir/log/slurmd.out" 2>&1 &
    d_pid=$!
    pids="$pids $d_pid"
    wait_for 60 slurm_node_idle
}

slurm_node_idle() { [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; }

slurm_stop() {
    [ -n "$pids" ] || return 0
    [ -n "${SLURM_CONF:-}" ] && scancel --quiet -u "$(id -un)" >/dev/null 2>&1
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null
    done
    pids=
}
