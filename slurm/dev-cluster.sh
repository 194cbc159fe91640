#!/usr/bin/env bash
# A single-node SLURM on this machine, for the tests marked `slurm` and for trying the
# sweep scripts before a real cluster.
#
#   slurm/dev-cluster.sh up       install slurm-wlm and munge if missing, start munged,
#                                 slurmctld and slurmd, wait until the node is idle
#   slurm/dev-cluster.sh down     cancel every job, wait for the queue to empty, then stop
#                                 exactly the daemons that `up` started (by PID)
#   slurm/dev-cluster.sh status   the daemons' PIDs, sinfo and squeue; exit 0 when up
#
# Needs root and Debian (apt-get); no systemd: the daemons are started directly.
# State (slurm.conf, PID files, logs, spool) lives in $NQS_SLURM_DEV_DIR, default
# /tmp/nqs-ent-slurm. Clients (sbatch, squeue, scontrol) read /etc/slurm/slurm.conf,
# which `up` makes a symlink to the state directory's slurm.conf.
#
# Choices, all for a fast and predictable test cluster:
# - AuthInfo=cred_expire=10: a requeued job may start again 10 s after it ended (the
#   default, 120 s, would make requeue tests slow);
# - SchedulerParameters=batch_sched_delay=0,bf_interval=2,sched_interval=2: jobs start at
#   once, and a requeued job is looked at again every 2 s once its credential has expired
#   (the main loop's default period, 60 s, would otherwise add up to a minute);
# - EnforcePartLimits=ALL: a job that can never run is refused by sbatch, not left pending;
# - no accounting (no slurmdbd), so use squeue and `scontrol show job`, not sacct;
# - proctrack/linuxproc and task/none: no cgroups needed (containers rarely have them).
set -euo pipefail

DEV_DIR=${NQS_SLURM_DEV_DIR:-/tmp/nqs-ent-slurm}
CONF=$DEV_DIR/slurm.conf
LOG_DIR=$DEV_DIR/log
PID_DIR=$DEV_DIR/pids
SYSTEM_CONF=/etc/slurm/slurm.conf
MARKER="# written by nqs-ent slurm/dev-cluster.sh"
MUNGE_KEY=/etc/munge/munge.key
IDLE_TIMEOUT=${NQS_SLURM_IDLE_TIMEOUT:-60}
DRAIN_TIMEOUT=${NQS_SLURM_DRAIN_TIMEOUT:-60}
export PATH=$PATH:/usr/sbin:/sbin

log() { printf 'dev-cluster: %s\n' "$*"; }
die() {
    printf 'dev-cluster: error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- processes we own

# The PID recorded for daemon $1, if that process is alive and is still that daemon.
owned_pid() {
    local name=$1 pid comm
    [[ -r $PID_DIR/$name.pid ]] || return 1
    pid=$(<"$PID_DIR/$name.pid")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name"* ]] || return 1 # the PID was reused by something else
    echo "$pid"
}

# Whether the process recorded for daemon $1 is alive (right after the start it may still
# be setsid or setpriv, before it execs the daemon, so owned_pid would say no).
alive() {
    local pid
    pid=$(cat "$PID_DIR/$1.pid" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Stop daemon $1 if we started it: SIGTERM, wait up to 15 s, then SIGKILL.
stop_owned() {
    local name=$1 pid i
    if pid=$(owned_pid "$name"); then
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            [[ -d /proc/$pid ]] || break
            sleep 0.1
        done
        if [[ -d /proc/$pid ]]; then
            log "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
        fi
    fi
    rm -f "$PID_DIR/$name.pid"
}

# Start "$@" detached (own session, no terminal, output to a log) and record its PID.
# The commands run in the foreground mode of each daemon, so $! is the daemon itself.
start_daemon() {
    local name=$1
    shift
    setsid "$@" </dev/null >>"$LOG_DIR/$name.out" 2>&1 &
    echo $! >"$PID_DIR/$name.pid"
    log "started $name (pid $!)"
}

# ---------------------------------------------------------------- installation

ensure_packages() {
    local tool missing=0 policy_created=0
    for tool in slurmctld slurmd munged munge unmunge sinfo sbatch scontrol squeue scancel; do
        command -v "$tool" >/dev/null 2>&1 || missing=1
    done
    ((missing)) || return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "slurm-wlm and munge are not installed and apt-get is missing: install them by hand"
    log "installing slurm-wlm and munge (apt-get, --no-install-recommends); log: $LOG_DIR/apt.log"
    # Debian's postinst scripts start the services through invoke-rc.d; we start our own.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
    fi
    local status=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge ||
            { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
                --no-install-recommends slurm-wlm munge; }
    } >>"$LOG_DIR/apt.log" 2>&1 || status=$?
    ((policy_created)) && rm -f /usr/sbin/policy-rc.d
    if ((status)); then
        tail -n 20 "$LOG_DIR/apt.log" >&2
        die "apt-get install slurm-wlm munge failed (status $status); see $LOG_DIR/apt.log"
    fi
}

# ---------------------------------------------------------------- munge

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if owned_pid munged >/dev/null && munge_works; then
        return 0
    fi
    stop_owned munged
    if munge_works; then
        log "using the munged that is already running (not started by this script)"
        return 0
    fi
    install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
    install -d -o munge -g munge -m 0711 /var/lib/munge
    install -d -o munge -g munge -m 0755 /run/munge
    if [[ ! -s $MUNGE_KEY ]]; then
        log "creating the munge key $MUNGE_KEY"
        mungekey --create --keyfile="$MUNGE_KEY" --force
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
    rm -f /run/munge/munged.pid
    if [[ -e $LOG_DIR/munged.out ]]; then mv -f "$LOG_DIR/munged.out" "$LOG_DIR/munged.out.prev"; fi
    start_daemon munged setpriv --reuid=munge --regid=munge --clear-groups \
        /usr/sbin/munged --foreground
    local i
    for ((i = 0; i < 100; i++)); do
        munge_works && return 0
        alive munged || break
        sleep 0.1
    done
    tail -n 20 "$LOG_DIR/munged.out" >&2 || true
    stop_owned munged
    die "munged did not start within 10 s (log: $LOG_DIR/munged.out)"
}

# ---------------------------------------------------------------- slurm.conf

write_conf() {
    local host node_line
    host=$(hostname -s)
    # slurmd -C prints this machine's node line (CPUs, sockets, cores, memory).
    node_line=$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=') ||
        die "slurmd -C printed no NodeName line"
    node_line=${node_line/NodeName=+([^ ])/NodeName=$host}
    cat >"$CONF" <<EOF
$MARKER
# Single-node test cluster; state in $DEV_DIR. Regenerated by every \`up\`.
ClusterName=nqsdev
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
# Requeued jobs wait for the job credential to expire before they start again.
AuthInfo=cred_expire=10
StateSaveLocation=$DEV_DIR/state
SlurmdSpoolDir=$DEV_DIR/spool
SlurmctldPidFile=$DEV_DIR/slurmctld.pid
SlurmdPidFile=$DEV_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=2,sched_interval=2
EnforcePartLimits=ALL
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=300
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mkdir -p /etc/slurm
    if [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]]; then
        if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == "$CONF" ]]; then
            return 0
        fi
        if ! grep -qF "$MARKER" "$SYSTEM_CONF" 2>/dev/null; then
            die "$SYSTEM_CONF exists and was not written by this script; refusing to replace it"
        fi
    fi
    ln -sfn "$CONF" "$SYSTEM_CONF"
}

# ---------------------------------------------------------------- slurm daemons

# The node's state (idle, mixed, ...); empty while the controller does not answer (asked
# first with `scontrol ping`, which fails at once where sinfo would retry for ~10 s).
node_state() {
    scontrol ping >/dev/null 2>&1 || return 0
    sinfo -h -N -n "$(hostname -s)" -o '%T' 2>/dev/null | head -n1
}

# Seconds since $1 (an $EPOCHREALTIME), to a tenth.
elapsed() {
    local us=$((${EPOCHREALTIME/./} - ${1/./}))
    printf '%d.%d' $((us / 1000000)) $((us / 100000 % 10))
}

slurm_is_up() {
    owned_pid slurmctld >/dev/null && owned_pid slurmd >/dev/null &&
        [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]
}

dump_logs() {
    local name f
    for name in slurmctld slurmd; do
        f=$LOG_DIR/$name.log # the daemon's stderr (.out) repeats it, or has what came first
        [[ -s $f ]] || f=$LOG_DIR/$name.out
        [[ -s $f ]] || continue
        printf -- '----- tail of %s\n' "$f" >&2
        tail -n 15 "$f" >&2
    done
}

cmd_up() {
    ((EUID == 0)) || die "run as root (it installs packages and starts slurmd)"
    local t0=$EPOCHREALTIME
    mkdir -p "$DEV_DIR" "$LOG_DIR" "$PID_DIR"
    ensure_packages
    if slurm_is_up && munge_works; then
        log "already up (state in $DEV_DIR)"
        cmd_status
        return 0
    fi
    # Partly up (a daemon died): start again from a clean slate.
    stop_owned slurmd
    stop_owned slurmctld
    local f # keep one previous log of each, so a failure shows this run's lines only
    for f in "$LOG_DIR"/{slurmctld,slurmd}.{log,out}; do
        if [[ -e $f ]]; then mv -f "$f" "$f.prev"; fi
    done
    start_munge
    write_conf
    # slurmctld -c forgets old jobs and job ids restart at 1, so slurmd must forget the
    # credentials it revoked for those ids too, or new jobs fail with "credential revoked".
    rm -rf "$DEV_DIR/state" "$DEV_DIR/spool"
    mkdir -p "$DEV_DIR/state" "$DEV_DIR/spool"
    start_daemon slurmctld slurmctld -D -c -f "$CONF"
    start_daemon slurmd slurmd -D -f "$CONF"
    local state="" deadline=$((SECONDS + IDLE_TIMEOUT))
    while ((SECONDS < deadline)); do
        state=$(node_state)
        if [[ $state =~ ^(idle|mixed|allocated|completing)$ ]]; then
            log "up in $(elapsed "$t0") s: node $(hostname -s) is $state, partition debug"
            log "config: $CONF (linked from $SYSTEM_CONF)"
            log "logs:   $LOG_DIR/{slurmctld.log,slurmd.log,munged.out}"
            return 0
        fi
        alive slurmctld || break
        alive slurmd || break
        sleep 0.5
    done
    if [[ -n $state ]]; then sinfo -R >&2 || true; fi # why a node is down or drained
    log "stopping what this script started"
    stop_owned slurmd
    stop_owned slurmctld
    stop_owned munged
    dump_logs
    die "node $(hostname -s) did not become idle within ${IDLE_TIMEOUT} s (last state: '${state:-none}'); logs in $LOG_DIR"
}

cmd_down() {
    local deadline
    if owned_pid slurmctld >/dev/null; then
        local jobs
        jobs=$(squeue -h -o '%i' 2>/dev/null | tr '\n' ' ')
        if [[ -n ${jobs// /} ]]; then
            log "cancelling jobs: $jobs"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
        fi
        # Stopping the daemons does not stop running jobs: wait until they are gone.
        deadline=$((SECONDS + DRAIN_TIMEOUT))
        while [[ -n $(squeue -h -o '%i' 2>/dev/null) ]]; do
            if ((SECONDS >= deadline)); then
                log "warning: jobs still listed after ${DRAIN_TIMEOUT} s:"
                squeue 2>/dev/null || true
                break
            fi
            sleep 0.5
        done
    fi
    stop_owned slurmd &
    stop_owned slurmctld &
    wait
    stop_owned munged
    local left
    left=$(pgrep -a slurmstepd 2>/dev/null || true)
    [[ -z $left ]] || log "warning: slurmstepd processes remain: $left"
    log "down (logs kept in $LOG_DIR)"
}

cmd_status() {
    local name pid up=1
    for name in munged slurmctld slurmd; do
        if pid=$(owned_pid "$name"); then
            log "$name: running, pid $pid"
        else
            log "$name: not running (none started by this script is alive)"
            [[ $name == munged ]] && munge_works && log "munged: another munged answers"
            [[ $name == munged ]] || up=0
        fi
    done
    if ((up)) && sinfo >/dev/null 2>&1; then
        sinfo
        squeue
        return 0
    fi
    log "down"
    return 3
}

shopt -s extglob
case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
