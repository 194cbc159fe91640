"""Whole sweeps on a real SLURM (slurm/dev-cluster.sh up) with the real driver and engine.

Each sweep's store must equal, bit for bit, the store of a local run of the same spec
(``numpy.testing.assert_array_equal``: NaN equals NaN, every other value to the last bit):
after ``sbatch slurm/sweep.sbatch SPEC STORE``, after ``nqs-ent run SPEC --cluster slurm``
(dask-jobqueue), and after a job is requeued by ``scontrol requeue`` or requeues itself on
the walltime warning (SIGUSR1) mid-sweep. A resumed run must skip every task flagged done
when the first run stopped and rewrite none of their chunk files (same mtimes). An invalid
spec fails the job fast and leaves an existing store byte for byte as it was.

Everything runs from ``tmp_path``, so the job logs (``nqs-ent-<jobid>.out``,
``nqs-ent-job-<jobid>/``, ``slurm-<jobid>.out``) land there. Skipped with the reason when
no SLURM answers. Jobs are followed with squeue and ``scontrol show job`` (the dev cluster
has no accounting, so no sacct).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from helpers import (
    SLURM_DIR,
    file_digests,
    job_fields,
    nqs_ent_run,
    run_command,
    sbatch,
    wait_for_end,
    wait_for_job,
    wait_until_dequeued,
    write_spec,
)

from pipeline import load

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_up")]

SWEEP_SCRIPT = SLURM_DIR / "sweep.sbatch"

# 16 tasks of a few hundredths of a second: two experiments, windows and random subsets,
# swept and fixed hyperparameters, blocks of one and two samples. The [cluster] table
# gives the jobqueue route's worker jobs a name of their own (the sbatch route ignores it).
QUICK_SPEC = """\
name = "slurm-quick"
seed = 11
[cluster]
job_name = "nqs-ent-test-jq"
[[experiment]]
name = "sn"
architecture = "sn"
n = [8, 10]
samples = 4
samples_per_task = 1
measures = ["vn", "renyi2"]
[experiment.hyper]
activation = ["tanh"]
[experiment.subsystem]
kind = "window"
m = "1..n//2"
windows = 3
[[experiment]]
name = "mlp"
architecture = "mlp"
n = [8, 10]
samples = 4
samples_per_task = 2
measures = ["vn", "inf"]
[experiment.hyper]
width = [2, 3]
[experiment.subsystem]
kind = "random"
m = [1, 3]
windows = 2
"""
QUICK_TASKS = 16

# 40 tasks of about 0.4 s alone (0.8 s with two workers on two cores): slow enough to
# interrupt mid-sweep with most of them still to run (with 20, a warning signal on a busy
# CI machine once came after the last task had been submitted).
SLOW_SPEC = """\
name = "slurm-slow"
seed = 5
[[experiment]]
name = "sn"
architecture = "sn"
n = [16]
samples = 20
samples_per_task = 1
measures = ["vn", "renyi2"]
[experiment.hyper]
activation = ["tanh", "sin"]
[experiment.subsystem]
kind = "window"
m = "1..n//2"
windows = 8
"""
SLOW_TASKS = 40


# ----------------------------------------------------------------------------- SLURM


def job_env():
    """The submitting environment, with this interpreter's scripts (nqs-ent, python3)
    first on the PATH: jobs inherit it (sbatch --export=ALL, the default)."""
    bin_dir = Path(sys.executable).parent
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture
def submit(tmp_path):
    """``submit(SPEC, STORE)``: ``sbatch slurm/sweep.sbatch SPEC STORE`` from tmp_path;
    returns the job id. Jobs still queued at the end of the test are cancelled."""
    submitted = []

    def submit_(spec, store):
        job_id = sbatch(str(SWEEP_SCRIPT), spec, store, cwd=tmp_path, env=job_env())
        submitted.append(job_id)
        return job_id

    yield submit_
    for job_id in submitted:
        subprocess.run(["scancel", job_id], check=False, capture_output=True)


def job_log(tmp_path, job_id):
    return (tmp_path / f"nqs-ent-{job_id}.out").read_text()


def processes_in(folder):
    """PIDs of processes whose working directory is in ``folder`` (a job's processes:
    jobs run in the folder they were submitted from)."""
    folder = folder.resolve()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if cwd == folder or folder in cwd.parents:
            pids.append(int(proc.name))
    return pids


def wait_until_stopped(job_id, folder):
    """Wait until the job is pending again after a requeue (SLURM has reaped its processes)
    and no process runs in ``folder``; returns the job's fields."""
    fields = wait_for_job(
        job_id,
        lambda f: f["JobState"] == "PENDING" and f["Restarts"] == "1",
        60,
        "requeue (PENDING with Restarts=1)",
    )
    deadline = time.monotonic() + 30
    while processes_in(folder):
        assert time.monotonic() < deadline, f"processes outlived the job: {processes_in(folder)}"
        time.sleep(0.2)
    return fields


# ----------------------------------------------------------------------------- stores


@pytest.fixture(scope="module")
def quick_reference(tmp_path_factory):
    """QUICK_SPEC run locally (one worker): the store every SLURM run must equal."""
    folder = tmp_path_factory.mktemp("quick-reference")
    store = folder / "local.zarr"
    assert nqs_ent_run(write_spec(folder, QUICK_SPEC), store) == 0
    return store


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slow-reference")
    store = folder / "local.zarr"
    assert nqs_ent_run(write_spec(folder, SLOW_SPEC), store) == 0
    return store


def assert_same_results(expected, actual):
    """Every S_* variable and site_order of every experiment group, bit for bit, and every
    task of ``actual`` flagged done."""
    tree_e, tree_a = load(expected), load(actual)
    assert set(tree_a.children) == set(tree_e.children)
    for group in tree_e.children:
        ds_e, ds_a = tree_e[group].ds, tree_a[group].ds
        names = [*sorted(v for v in ds_e.data_vars if v.startswith("S_")), "site_order"]
        assert names[0].startswith("S_") and set(names) <= set(ds_a.data_vars)
        for name in names:
            np.testing.assert_array_equal(
                ds_a[name].values, ds_e[name].values, err_msg=f"{group}/{name}"
            )
        assert ds_a.done.values.all(), f"{group}: tasks not done"


def done_count(store):
    """Tasks flagged done, or -1 while the store is not readable yet."""
    try:
        root = zarr.open_group(str(store), mode="r")
        return sum(int(np.asarray(group["done"][...]).sum()) for _, group in root.groups())
    except Exception:
        return -1


def done_chunks(store):
    """mtime of every chunk file (S_*, site_order and the flag) of every task flagged done.

    One task owns one chunk of each variable: the chunk at the task's ``(n, *grid)`` index,
    at its block along ``sample`` (and ``block`` for the flag), 0 along every other axis.
    """
    root = zarr.open_group(str(store), mode="r")
    mtimes = {}
    for name, group in root.groups():
        done = np.asarray(group["done"][...])
        lead = done.ndim - 1
        variables = [v for v in group.array_keys() if v.startswith("S_")]
        variables += ["site_order", "done"]
        for index in np.argwhere(done):
            block = int(index[-1])
            for variable in variables:
                dims = group[variable].metadata.dimension_names
                coords = [*(int(i) for i in index[:lead])]
                coords += [block if dim in ("sample", "block") else 0 for dim in dims[lead:]]
                chunk = Path(name, variable, "c", *map(str, coords))
                mtimes[str(chunk)] = (store / chunk).stat().st_mtime_ns
    return mtimes


def wait_for_progress(store, job_id, at_least, timeout=120):
    """Wait until at least ``at_least`` tasks are flagged done while the job runs (the job
    runs in the store's folder, where its log is)."""
    deadline = time.monotonic() + timeout
    while done_count(store) < at_least:
        fields = job_fields(job_id)
        running = fields["JobState"] in ("PENDING", "RUNNING")
        if not running or time.monotonic() > deadline:
            log = store.parent / f"nqs-ent-{job_id}.out"
            said = log.read_text() if log.exists() else "(no job log)"
            why = "the job ended" if not running else f"no progress after {timeout} s"
            pytest.fail(f"{why} before {at_least} tasks were done: {fields}\n{said}")
        time.sleep(0.1)


def resumed_count(log, total):
    """K from the rerun's `store: resuming PATH: K of T tasks already done and skipped`."""
    found = re.findall(rf"(\d+) of {total} tasks already done and skipped, (\d+) to run", log)
    assert len(found) == 1, log
    skipped, to_run = map(int, found[0])
    assert skipped + to_run == total
    return skipped


# ----------------------------------------------------------------------------- tests


def test_sweep_job_equals_local_run(tmp_path, submit, quick_reference):
    """`sbatch slurm/sweep.sbatch SPEC STORE`: scheduler, workers and driver in one job."""
    write_spec(tmp_path, QUICK_SPEC)
    job_id = submit("spec.toml", "store.zarr")
    fields = wait_for_end(job_id, 120)
    log = job_log(tmp_path, job_id)
    assert fields["JobState"] == "COMPLETED", log
    assert fields["ExitCode"] == "0:0" and fields["Restarts"] == "0", fields
    assert "store: created store.zarr" in log and "driver exited with status 0" in log
    assert (tmp_path / f"nqs-ent-job-{job_id}" / "workers.log").is_file()
    assert_same_results(quick_reference, tmp_path / "store.zarr")


def test_jobqueue_route_equals_local_run(tmp_path, quick_reference):
    """`nqs-ent run SPEC --cluster slurm`: the worker jobs (named by the spec's [cluster]
    table) run on SLURM, and are gone from the queue once the run has ended."""
    pytest.importorskip("dask_jobqueue")
    spec = write_spec(tmp_path, QUICK_SPEC)
    env = job_env()
    command = [
        shutil.which("nqs-ent", path=env["PATH"]) or "nqs-ent",
        "run",
        str(spec),
        "--store",
        "store.zarr",
        "--cluster",
        "slurm",
        "--no-progress",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert "store: created store.zarr" in result.stderr
    assert_same_results(quick_reference, tmp_path / "store.zarr")
    # The worker jobs (their logs, slurm-<id>.out, are in tmp_path) were cancelled when
    # the cluster closed; none is left in the queue.
    worker_jobs = sorted(p.stem.removeprefix("slurm-") for p in tmp_path.glob("slurm-*.out"))
    assert worker_jobs, "no worker job ran"
    for job_id in worker_jobs:
        assert job_fields(job_id)["JobName"] == "nqs-ent-test-jq-worker"
    wait_until_dequeued("nqs-ent-test-jq-worker", 30, "worker jobs outlived the run")
    for job_id in worker_jobs:
        assert job_fields(job_id)["JobState"] in ("CANCELLED", "COMPLETED")


@pytest.mark.parametrize("interrupt", ["scontrol requeue", "warning signal"])
def test_sweep_job_interrupted_then_resumed(tmp_path, submit, slow_reference, interrupt):
    """Requeued mid-sweep, by `scontrol requeue` (the job's processes are killed: the
    driver and workers get SIGTERM, then SIGKILL) or by the job itself on SIGUSR1 (the
    driver stops submitting, finishes running tasks, exits 75): the rerun skips exactly
    the tasks flagged done when the job stopped, rewrites none of their chunks, and ends
    bit-identical to a local run."""
    write_spec(tmp_path, SLOW_SPEC)
    store = tmp_path / "store.zarr"
    job_id = submit("spec.toml", "store.zarr")
    wait_for_progress(store, job_id, at_least=3)
    if interrupt == "scontrol requeue":
        run_command("scontrol", "requeue", job_id)
    else:
        run_command("scancel", "--batch", "--signal=USR1", job_id)
    wait_until_stopped(job_id, tmp_path)
    before = done_chunks(store)
    stopped_at = done_count(store)
    assert job_fields(job_id)["JobState"] == "PENDING", "the rerun started before the snapshot"
    assert 3 <= stopped_at < SLOW_TASKS, "the interruption came too late to test anything"

    fields = wait_for_end(job_id, 180)
    log = job_log(tmp_path, job_id)
    assert fields["JobState"] == "COMPLETED", log
    assert fields["ExitCode"] == "0:0" and fields["Restarts"] == "1", fields
    assert "restart 1" in log
    if interrupt == "warning signal":
        assert "SIGUSR1" in log
        assert "driver exited with status 75" in log
        assert f"requeueing job {job_id}" in log
    else:
        assert "DUE TO JOB REQUEUE" in log
    assert resumed_count(log, SLOW_TASKS) == stopped_at
    assert "damaged" not in log
    after = done_chunks(store)
    rewritten = [chunk for chunk, mtime in before.items() if after.get(chunk) != mtime]
    assert not rewritten, f"chunks of done tasks rewritten: {rewritten}"
    assert_same_results(slow_reference, store)


def test_invalid_spec_fails_fast_and_leaves_the_store(tmp_path, submit, quick_reference):
    """A misspelt key: the job is FAILED with exit 2 within 30 s, its log has the one-line
    error, and the existing store (same spec name) keeps every byte and mtime."""
    store = tmp_path / "store.zarr"
    shutil.copytree(quick_reference, store)
    before = file_digests(store, mtimes=True)
    write_spec(tmp_path, QUICK_SPEC.replace("samples = 4\n", "sampels = 4\n", 1))
    started = time.monotonic()
    job_id = submit("spec.toml", "store.zarr")
    fields = wait_for_end(job_id, 60)
    seconds = time.monotonic() - started
    log = job_log(tmp_path, job_id)
    assert fields["JobState"] == "FAILED", log
    assert fields["ExitCode"] == "2:0", fields
    assert seconds < 30, f"the job took {seconds:.0f} s to fail"
    errors = [line for line in log.splitlines() if line.startswith("nqs-ent: error: ")]
    assert len(errors) == 1, log
    assert "sampels" in errors[0] and "samples" in errors[0]
    assert "Traceback" not in log
    assert file_digests(store, mtimes=True) == before
