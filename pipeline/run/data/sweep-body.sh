# shellcheck shell=bash
# ---- body: pipeline/run/data/sweep-body.sh, appended to the header and settings by
# pipeline.run.slurm.render_sweep_script (so this file has no shebang and no #SBATCH lines).
#
# Uses the rendered settings: IFACE GPU BACKEND PYTHON WORKER_MEMORY DEFAULT_SPEC
# DEFAULT_STORE GPU_CHECK and the functions site_setup and keep_malloc_defaults.
#
# 1. a Dask scheduler in the background, its address in $WORKDIR/scheduler.json, a file
#    in the job's working directory ($NQS_ENT_WORKDIR overrides the folder);
# 2. one Dask worker per SLURM task (srun), one thread each; the GPU variant gives each
#    worker one GPU (CUDA_VISIBLE_DEVICES, set by SLURM) and a GPU=1 resource;
# 3. the driver: nqs-ent run SPEC --store STORE --scheduler-file ... --backend ...
#
# SIGUSR1, sent to this shell before the walltime (--signal=B:USR1@warning_seconds), is
# forwarded to the driver, which stops submitting and exits with 75 (EX_TEMPFAIL,
# "interrupted, resumable"); the job then stops Dask and requeues itself, and the rerun
# resumes from the store. Exit status: the driver's (0 done, 2 invalid spec, 75 requeued),
# or 1 when the scheduler or the workers fail.
set -uo pipefail

EX_TEMPFAIL=75
SPEC=${1:-$DEFAULT_SPEC}
STORE=${2:-$DEFAULT_STORE}
warned=0
terminating=0
driver_pid="" workers_pid="" scheduler_pid=""

say() { printf '[sweep %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# shellcheck disable=SC2317 # trap handlers are called indirectly
on_warning() {
    warned=1
    if [[ -n $driver_pid ]]; then kill -USR1 "$driver_pid" 2>/dev/null; fi
    local left
    left=$(squeue -h -j "$SLURM_JOB_ID" -o %L 2>/dev/null) || left=""
    say "SIGUSR1: the walltime is near (time left ${left:-unknown}); told the driver to stop"
}

# shellcheck disable=SC2317
on_terminate() {
    terminating=1 # SLURM signals every step: workers ending now is no crash
    say "SIGTERM: stopping"
    if [[ -n $driver_pid ]] && kill -0 "$driver_pid" 2>/dev/null; then
        kill -TERM "$driver_pid" 2>/dev/null # the main loop collects its status
    else
        exit 143
    fi
}

# Stop a background process: SIGTERM, then SIGKILL after 20 s.
stop() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}

stop_dask() {
    stop "$driver_pid"
    stop "$workers_pid" # srun passes SIGTERM on to every worker
    stop "$scheduler_pid"
    driver_pid="" workers_pid="" scheduler_pid=""
}

fail() {
    say "error: $1" >&2
    local log
    for log in "${@:2}"; do
        [[ -s $WORKDIR/$log ]] || continue
        say "----- tail of $WORKDIR/$log" >&2
        tail -n 30 "$WORKDIR/$log" >&2
    done
    exit 1
}

trap on_warning USR1
trap on_terminate TERM INT
trap stop_dask EXIT

if [[ -z $SPEC || -z $STORE ]]; then
    echo "usage: sbatch slurm/sweep.sbatch SPEC STORE" >&2
    exit 2
fi
if [[ -z ${SLURM_JOB_ID:-} ]]; then
    echo "not inside a SLURM job: submit it with sbatch slurm/sweep.sbatch SPEC STORE" >&2
    exit 2
fi

set +u # environment set-up scripts often read unset variables
site_setup || fail "the site's setup lines failed"
set -u

export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
WORKDIR=${NQS_ENT_WORKDIR:-$PWD/nqs-ent-job-$SLURM_JOB_ID}
SCHEDULER_FILE=$WORKDIR/scheduler.json
mkdir -p "$WORKDIR" || fail "cannot create $WORKDIR"
# Workers keep glibc's malloc defaults: distributed's MALLOC_TRIM_THRESHOLD_ made tasks
# 10-17 % slower (nqs-ent bench sweep). A DASK_CONFIG of the user's own takes precedence.
keep_malloc_defaults "$WORKDIR/dask-config"
rm -f "$SCHEDULER_FILE" # a requeued run keeps its job id: never read the last run's address
iface_args=()
if [[ -n $IFACE ]]; then iface_args=(--interface "$IFACE"); fi
say "job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}, on $(hostname): ${SLURM_NTASKS:-1}" \
    "worker(s) of ${SLURM_CPUS_PER_TASK:-1} core(s), backend $BACKEND"
say "spec $SPEC, store $STORE, scheduler file and logs in $WORKDIR"

if ((GPU)); then
    "$PYTHON" -c "$GPU_CHECK" || fail "no usable GPU on the batch node; is CuPy installed?"
fi

"$PYTHON" -m distributed.cli.dask_scheduler --scheduler-file "$SCHEDULER_FILE" \
    "${iface_args[@]}" --port 0 --dashboard-address :0 >>"$WORKDIR/scheduler.log" 2>&1 &
scheduler_pid=$!
for ((i = 0; i < 240; i++)); do
    [[ -s $SCHEDULER_FILE ]] && break
    kill -0 "$scheduler_pid" 2>/dev/null || fail "the Dask scheduler exited" scheduler.log
    sleep 0.5
done
[[ -s $SCHEDULER_FILE ]] || fail "no scheduler file after 120 s" scheduler.log
say "scheduler up (pid $scheduler_pid)"

worker=("$PYTHON" -m distributed.cli.dask_worker --scheduler-file "$SCHEDULER_FILE"
    "${iface_args[@]}" --nthreads 1 --memory-limit "$WORKER_MEMORY" --death-timeout 120)
srun_args=(--ntasks="${SLURM_NTASKS:-1}" --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}"
    --kill-on-bad-exit=0)
if ((GPU)); then
    worker+=(--resources GPU=1)
    srun_args+=(--gpus-per-task="${SLURM_GPUS_PER_TASK:-1}")
fi
# shellcheck disable=SC2090 # GPU_CHECK is Python code, passed whole to python -c
export GPU GPU_CHECK PYTHON
# shellcheck disable=SC2016 # expanded by the task's shell
srun "${srun_args[@]}" bash -c '
    if ((GPU)); then "$PYTHON" -c "$GPU_CHECK" || exit 1; fi
    exec "$@" --name "worker-$SLURM_PROCID"
' worker "${worker[@]}" >>"$WORKDIR/workers.log" 2>&1 &
workers_pid=$!

status=0
if ((warned)); then
    status=$EX_TEMPFAIL # the warning came while Dask was starting: no time left to run
else
    driver=(nqs-ent run "$SPEC" --store "$STORE" --scheduler-file "$SCHEDULER_FILE"
        --backend "$BACKEND")
    say "driver: ${driver[*]}"
    "${driver[@]}" &
    driver_pid=$!
    # Wait for the driver, watching the scheduler and the workers. The sleep runs in the
    # background: bash runs a trap only between commands, but `wait` returns at once on a
    # trapped signal, so the driver hears SIGUSR1 or SIGTERM without delay.
    crashed=""
    while kill -0 "$driver_pid" 2>/dev/null; do
        if ! kill -0 "$scheduler_pid" 2>/dev/null; then crashed=scheduler; fi
        if ! kill -0 "$workers_pid" 2>/dev/null; then crashed=workers; fi
        if ((terminating)); then crashed=""; fi
        [[ -z $crashed ]] || break
        sleep 1 &
        wait "$!"
    done
    if [[ -n $crashed ]]; then
        stop "$driver_pid"
        fail "the Dask $crashed exited while the driver was running" scheduler.log workers.log
    fi
    wait "$driver_pid"
    status=$?
    driver_pid=""
    say "driver exited with status $status"
fi

stop_dask
if ((warned && status == EX_TEMPFAIL)); then
    say "requeueing job $SLURM_JOB_ID; the rerun resumes from $STORE"
    scontrol requeue "$SLURM_JOB_ID" || say "error: scontrol requeue $SLURM_JOB_ID failed" >&2
fi
exit "$status"
