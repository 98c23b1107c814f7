# slurm.sh: a private one-host Slurm cluster for the tests (sourced after tap.sh).
#
#   slurm_start || skip_all "$SLURM_WHY"   # munged, slurmctld, slurmd; exports SLURM_CONF
#   srun -n 2 ...; JOB=$(sbatch --parsable ...); slurm_wait_job "$JOB" 30
#
# Everything lives in one temp dir: munge's key, socket, pid, log and seed; slurm.conf, state, spool,
# pid and log files. The daemons listen on 127.0.0.1 only, on ports that were free a moment ago,
# and are stopped by PID at exit (jobs first, with scancel against this cluster alone). Debian's
# packaged services are never used: apt-ensure.sh installs the packages without starting them.
# Needs root (slurmd starts job steps as the submitting user) and Debian 12's Slurm 22.05.

SLURM_WHY=
SLURM_DIR=
SLURM_MUNGE_PID= SLURM_CTLD_PID= SLURM_D_PID=
SLURM_CPUS=${SLURM_CPUS:-8} # slots the node offers (config_overrides: more than real cores is fine)

# slurm_fail WHY [LOG]: sets SLURM_WHY (with the log's last lines as diagnostics) and returns 1.
slurm_fail() {
    SLURM_WHY=$1
    [ -n "${2:-}" ] && [ -s "$2" ] && diag "$(basename "$2"), last lines:" "$(tail -n 8 "$2")"
    return 1
}

# slurm_wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 on timeout.
slurm_wait_for() {
    _sw_end=$(($(date +%s) + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$_sw_end" ] && return 1
        sleep 0.1
    done
}

slurm_node_idle() { sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; }
slurm_ping_or_dead() { scontrol ping || ! kill -0 "$1" 2>/dev/null; }
# ... or a daemon that died (no point in waiting out the timeout): true when PID is gone.
slurm_idle_or_dead() { slurm_node_idle || ! kill -0 "$1" 2>/dev/null; }

# The configuration: loopback only, no cgroups, no accounting, no plugstack, no scheduling delay.
slurm_write_conf() {
    _d=$SLURM_DIR
    : >"$_d/plugstack.conf"
    cat >"$_d/slurm.conf" <<EOF
ClusterName=spatetest
SlurmctldHost=localhost
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$_d/munge/munge.socket
CredType=cred/munge
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$_d/state
SlurmdSpoolDir=$_d/spool
SlurmctldPidFile=$_d/slurmctld.pid
SlurmdPidFile=$_d/slurmd.pid
SlurmctldLogFile=$_d/slurmctld.log
SlurmdLogFile=$_d/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
PlugStackConfig=$_d/plugstack.conf
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=10
SlurmdTimeout=10
InactiveLimit=0
KillWait=2
MinJobAge=2
TmpFS=$_d/tmp
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$SLURM_CPUS RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
}

# munged in the foreground under setsid, every path private; its socket dir must be mode 755.
slurm_start_munge() {
    _m=$SLURM_DIR/munge
    mkdir -p "$_m" && chmod 755 "$_m" || return 1
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$_m/munge.key" >/dev/null 2>&1 || return 1
    else
        head -c 1024 /dev/urandom >"$_m/munge.key" || return 1
    fi
    chmod 600 "$_m/munge.key"
    setsid munged --foreground --force --socket="$_m/munge.socket" --key-file="$_m/munge.key" \
        --pid-file="$_m/munged.pid" --log-file="$_m/munged.log" --seed-file="$_m/munged.seed" \
        </dev/null >"$_m/munged.out" 2>&1 &
    SLURM_MUNGE_PID=$!
    slurm_wait_for 10 test -S "$_m/munge.socket"
}

# slurm_start: sets SLURM_DIR, exports SLURM_CONF and returns 0 once the node takes jobs; else
# returns 1 with SLURM_WHY saying why (the caller skips).
slurm_start() {
    for _b in munged slurmctld slurmd srun sbatch squeue sinfo scancel scontrol; do
        command -v "$_b" >/dev/null 2>&1 ||
            { slurm_fail "$_b not installed (make deps installs slurmctld slurmd slurm-client munge)"; return 1; }
    done
    [ "$(id -u)" = 0 ] || { slurm_fail "slurmd must run as root to start job steps"; return 1; }
    tmpdir SLURM_DIR
    on_exit slurm_stop # before the dir is removed (last registered, first run)
    mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/tmp"
    slurm_start_munge || { slurm_fail "munged did not start" "$SLURM_DIR/munge/munged.log"; return 1; }
    _p1=$(free_port); _p2=$(free_port)
    while [ "$_p2" = "$_p1" ]; do _p2=$(free_port); done
    slurm_write_conf "$_p1" "$_p2"
    SLURM_CONF=$SLURM_DIR/slurm.conf
    export SLURM_CONF
    # Slurm passes the submitting environment on to jobs: no stray settings from an outer cluster.
    unset SLURM_JOB_ID SLURM_JOBID SLURM_PROCID SLURM_NTASKS SLURM_ARRAY_TASK_ID
    (cd "$SLURM_DIR" && exec setsid slurmctld -D -c -f "$SLURM_CONF" </dev/null \
        >"$SLURM_DIR/slurmctld.out" 2>&1) &
    SLURM_CTLD_PID=$!
    slurm_wait_for 15 slurm_ping_or_dead "$SLURM_CTLD_PID" && scontrol ping >/dev/null 2>&1 ||
        { slurm_fail "slurmctld did not answer scontrol ping" "$SLURM_DIR/slurmctld.log"; return 1; }
    (cd "$SLURM_DIR" && exec setsid slurmd -D -N localhost -f "$SLURM_CONF" </dev/null \
        >"$SLURM_DIR/slurmd.out" 2>&1) &
    SLURM_D_PID=$!
    slurm_wait_for 20 slurm_idle_or_dead "$SLURM_D_PID" && slurm_node_idle ||
        { slurm_fail "node localhost did not become idle: $(sinfo -h -N -o '%T %E' 2>&1)" \
            "$SLURM_DIR/slurmd.log"; return 1; }
    return 0
}

# slurm_stop: cancels the jobs, then stops slurmd, slurmctld and munged by PID. Idempotent.
slurm_stop() {
    [ -n "$SLURM_D_PID$SLURM_CTLD_PID" ] && slurm_cancel_all
    [ -n "$SLURM_D_PID" ] && slurm_stop_daemon "$SLURM_DIR/slurmd.pid" "$SLURM_D_PID"
    [ -n "$SLURM_CTLD_PID" ] && slurm_stop_daemon "$SLURM_DIR/slurmctld.pid" "$SLURM_CTLD_PID"
    [ -n "$SLURM_MUNGE_PID" ] && slurm_stop_daemon "$SLURM_DIR/munge/munged.pid" "$SLURM_MUNGE_PID"
    SLURM_D_PID= SLURM_CTLD_PID= SLURM_MUNGE_PID=
    return 0
}

# slurm_cancel_all: cancels this cluster's jobs (SLURM_CONF is the private one) and waits for them.
slurm_cancel_all() {
    [ -n "$SLURM_CONF" ] || return 0
    scancel --user="$(id -un)" >/dev/null 2>&1
    slurm_wait_for 10 slurm_no_jobs
    return 0
}
slurm_no_jobs() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }

# slurm_stop_daemon PIDFILE PID: stops the daemon named in its own PID file (setsid may have forked)
# and the process this script started: TERM (Slurm daemons save state and exit), KILL after 5 s.
slurm_stop_daemon() {
    _own=$(cat "$1" 2>/dev/null)
    for _pid in $_own $2; do
        case $_pid in *[!0-9]* | '') continue ;; esac
        kill -TERM "$_pid" 2>/dev/null || continue
        _i=0
        while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
        kill -KILL "$_pid" 2>/dev/null
    done
    wait "$2" 2>/dev/null
    return 0
}

# slurm_wait_job JOBID SECONDS: polls squeue (faster than sbatch --wait) until the job and all its
# array tasks have left the queue; 1 on timeout.
slurm_wait_job() { slurm_wait_for "$2" slurm_job_gone "$1"; }
slurm_job_gone() { [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; }
