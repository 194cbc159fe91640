"""Against a real SLURM: the single-node dev cluster (slurm/dev-cluster.sh up).

Skipped with the reason when sinfo is missing or no node answers (the ``slurm_up``
fixture, conftest.py). Jobs are followed with squeue and `scontrol show job` (the dev
cluster has no accounting, so no sacct).
"""

import os
import subprocess
import sys
import time

import pytest
from helpers import (
    SLURM_DIR,
    job_fields,
    run_command,
    sbatch,
    wait_for_end,
    wait_until_dequeued,
)

from pipeline.run.site import load_site_config
from pipeline.run.slurm import jobqueue_kwargs

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_up")]


def test_wrap_job_completes(tmp_path):
    job_id = sbatch(
        "--wrap", "hostname; sleep 2", "--output", str(tmp_path / "%j.out"), cwd=tmp_path
    )
    fields = wait_for_end(job_id, 60)
    assert fields["JobState"] == "COMPLETED", fields
    assert fields["ExitCode"] == "0:0"
    assert (tmp_path / f"{job_id}.out").read_text().strip() == os.uname().nodename.split(".")[0]


def test_impossible_job_is_refused_at_submission(tmp_path):
    result = subprocess.run(
        ["sbatch", "--parsable", "--ntasks=1000", "--wrap", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "error" in result.stderr.lower()


def test_jobqueue_slurmcluster_runs_a_task(tmp_path):
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    from distributed import Client

    kwargs = jobqueue_kwargs(load_site_config())
    assert kwargs["interface"] == "lo"
    with (
        dask_jobqueue.SLURMCluster(**kwargs, log_directory=str(tmp_path)) as cluster,
        Client(cluster) as client,
    ):
        cluster.scale(jobs=1)
        client.wait_for_workers(1, timeout=90)
        assert client.submit(lambda x: x + 1, 1).result(timeout=30) == 2
        (worker,) = client.scheduler_info()["workers"]
        assert worker.startswith("tcp://127.0.0.1:")
        # glibc's malloc defaults, not distributed's MALLOC_TRIM_THRESHOLD_ (see jobqueue_kwargs)
        environ = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert environ == {worker: None}
    # Closing the cluster cancels its job.
    wait_until_dequeued(kwargs["job_name"], 30, "the worker job outlived the cluster")


def test_start_slurm_cluster_replaces_workers_that_retire_before_walltime():
    """Workers retire at walltime - warning_seconds (give or take the stagger), their job
    ends COMPLETED, not killed at its walltime, and the cluster starts a replacement."""
    from distributed import Client

    from pipeline.run.slurm import start_slurm_cluster

    table = {"walltime": "00:00:50", "warning_seconds": 24, "job_name": "nqs-ent-retire"}
    with start_slurm_cluster(table, 1) as cluster, Client(cluster) as client:
        client.wait_for_workers(1, timeout=60)
        (first,) = client.scheduler_info()["workers"]
        (first_job,) = [job.job_id for job in cluster.workers.values()]
        assert client.submit(lambda x: x + 1, 1).result(timeout=30) == 2
        deadline = time.monotonic() + 90
        while first in client.scheduler_info()["workers"] or not client.scheduler_info()["workers"]:
            assert time.monotonic() < deadline, "no replacement for the retired worker"
            time.sleep(0.5)
        assert client.submit(lambda x: x * 3, 2).result(timeout=30) == 6
    retired = wait_for_end(first_job, 30)  # COMPLETING for a moment after the worker exits
    assert retired["JobName"] == "nqs-ent-retire-worker"
    assert retired["JobState"] == "COMPLETED", retired
    ran = sum(int(x) * 60**i for i, x in enumerate(reversed(retired["RunTime"].split(":"))))
    assert ran < 50


FAKE_DRIVER = """#!{python}
# Stand-in for the driver `nqs-ent run SPEC --store STORE --scheduler-file F --backend B`:
# one 0.5 s Dask task per store entry, resumes by skipping entries that exist, and exits
# 75 on SIGUSR1 or SIGTERM.
import argparse, pathlib, signal, sys, time
from distributed import Client

parser = argparse.ArgumentParser()
parser.add_argument("command")
parser.add_argument("spec")
parser.add_argument("--store", required=True)
parser.add_argument("--scheduler-file", required=True)
parser.add_argument("--backend")
args = parser.parse_args()
stop = []
for sig in (signal.SIGUSR1, signal.SIGTERM):
    signal.signal(sig, lambda s, f: stop.append(s))
store = pathlib.Path(args.store)
store.mkdir(exist_ok=True)


def task(i):
    time.sleep(0.5)
    return i


with Client(scheduler_file=args.scheduler_file, timeout="60s") as client:
    for i in range(int(pathlib.Path(args.spec).read_text())):
        if (store / str(i)).exists():
            continue
        if stop:
            print(f"driver: stopping before task {{i}}", flush=True)
            sys.exit(75)
        (store / str(i)).write_text(str(client.submit(task, i, pure=False).result()))
print("driver: done", flush=True)
"""


def test_sweep_job_requeues_on_warning_and_resumes(tmp_path):
    """slurm/sweep.sbatch as committed, with a stand-in driver: the warning signal
    (sent early with scancel) makes the job requeue itself, and the rerun finishes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    driver = bin_dir / "nqs-ent"
    driver.write_text(FAKE_DRIVER.format(python=sys.executable))
    driver.chmod(0o755)
    (tmp_path / "spec.txt").write_text("12")
    store = tmp_path / "store"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    job_id = sbatch(str(SLURM_DIR / "sweep.sbatch"), "spec.txt", "store", cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list(store.glob("*"))) < 2:
            assert time.monotonic() < deadline, f"no progress: {job_fields(job_id)}"
            time.sleep(0.2)
        run_command("scancel", "--batch", "--signal=USR1", job_id)
        fields = wait_for_end(job_id, 90)
    finally:
        subprocess.run(["scancel", job_id], check=False)
    log = (tmp_path / f"nqs-ent-{job_id}.out").read_text()
    assert fields["JobState"] == "COMPLETED", log
    assert fields["Restarts"] == "1", log
    assert sorted(int(p.name) for p in store.iterdir()) == list(range(12))
    assert "SIGUSR1" in log
    assert f"requeueing job {job_id}" in log
    assert "restart 1" in log
    assert log.count("driver: done") == 1
