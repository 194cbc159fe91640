"""The sweep engine against a real Dask cluster and real Zarr stores on disk.

Bit-identity is checked with ``numpy.testing.assert_array_equal`` (NaN equals NaN; every
other value must match to the last bit).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from distributed import Client
from helpers import TWO_EXPERIMENTS_SPEC, local_cluster, nqs_ent_run, run_args, write_spec

from pipeline import load
from pipeline.cli import main
from pipeline.run.engine import run_sweep
from pipeline.sweep.plan import iter_tasks
from pipeline.sweep.sample import compute_task
from pipeline.sweep.validate import parse_spec

SPEC = TWO_EXPERIMENTS_SPEC

VARIABLES = {"sn": ["S_vn", "S_renyi2", "S_inf", "site_order"], "mlp": ["S_vn", "site_order"]}


def engine_spec(tmp_path: Path, block: int = 2, block2: int = 2) -> Path:
    """SPEC with blocks of ``block`` (sn) and ``block2`` (mlp) samples, in tmp_path."""
    return write_spec(tmp_path, SPEC.format(block=block, block2=block2))


def assert_same_results(a: Path, b: Path) -> None:
    tree_a, tree_b = load(a), load(b)
    for group, names in VARIABLES.items():
        for name in names:
            np.testing.assert_array_equal(
                tree_a[group].ds[name].values, tree_b[group].ds[name].values, err_msg=name
            )
        assert int(tree_a[group].ds.done.sum()) == tree_a[group].ds.done.size


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cluster) -> Path:
    """The sweep run once, uninterrupted, block size 2."""
    tmp = tmp_path_factory.mktemp("reference")
    store = tmp / "ref.zarr"
    assert nqs_ent_run(engine_spec(tmp), store, cluster=cluster) == 0
    return store


def test_store_layout(reference):
    tree = load(reference)
    ds = tree["sn"].ds
    assert ds.S_vn.dims == ("n", "activation", "m", "sample", "window")
    assert ds.S_vn.attrs["units"] == "nats" and "von Neumann" in ds.S_vn.attrs["long_name"]
    assert list(ds.m.values) == [1, 2, 3, 4, 5, 6]
    # sizes outside 1..n//2+1 for this n are NaN, inside are finite
    n8 = ds.S_vn.sel(n=8)
    assert np.isnan(n8.sel(m=6)).all() and np.isfinite(n8.sel(m=5)).all()
    assert ds.k.values.tolist() == [[1, 1], [1, 1]]
    assert tree["mlp"].ds.k.values.tolist() == [[4, 6]]  # width * depth (depth 2)
    attrs = zarr.open_group(str(reference), mode="r").attrs
    spec = parse_spec(attrs["spec_text"])
    assert attrs["spec_digest"] == spec.digest and attrs["initialised"] is True
    assert {"numpy", "zarr", "xarray", "dask"} <= set(attrs["versions"])
    # site orderings: windows are cyclic and contiguous
    order = ds.site_order.sel(n=10).values[0, 0, 0, :10]
    assert sorted(order) == list(range(10))
    assert all((order[i + 1] - order[i]) % 10 == 1 for i in range(9))


def test_block_size_does_not_change_results(tmp_path, reference, cluster):
    store = tmp_path / "b1.zarr"
    assert nqs_ent_run(engine_spec(tmp_path, block=1, block2=5), store, cluster=cluster) == 0
    assert_same_results(reference, store)


def test_one_and_two_workers_agree(tmp_path, reference):
    store = tmp_path / "w1.zarr"
    assert nqs_ent_run(engine_spec(tmp_path), store) == 0  # --workers 1
    assert_same_results(reference, store)


def test_interrupted_then_resumed_is_identical(tmp_path, reference, cluster, capsys):
    spec, store = engine_spec(tmp_path), tmp_path / "resumed.zarr"
    args = run_args(spec, store, "--max-in-flight", "1", cluster=cluster)
    assert main([*args, "--stop-after", "3"]) == 75
    capsys.readouterr()
    done_before = sum(int(load(store)[g].ds.done.sum()) for g in VARIABLES)
    assert done_before == 3
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "3 of 18 tasks already done and skipped, 15 to run" in err
    assert_same_results(reference, store)


def test_only_runs_the_named_experiment_and_a_full_run_the_rest(
    tmp_path, reference, cluster, capsys
):
    spec, store = engine_spec(tmp_path), tmp_path / "only.zarr"
    args = run_args(spec, store, cluster=cluster)
    assert main([*args, "--only", "mlp"]) == 0
    err = capsys.readouterr().err
    assert "only: mlp" in err and "run: 6 computed, 0 skipped" in err
    tree = load(store)
    assert int(tree["mlp"].ds.done.sum()) == 6 and int(tree["sn"].ds.done.sum()) == 0
    assert main([*args, "--only", "mlp"]) == 0
    assert "6 of 6 tasks already done and skipped, 0 to run" in capsys.readouterr().err
    assert main(args) == 0
    assert "6 of 18 tasks already done and skipped, 12 to run" in capsys.readouterr().err
    assert_same_results(reference, store)


def test_only_sizes_and_grid_points(tmp_path, reference, cluster, capsys):
    spec, store = engine_spec(tmp_path), tmp_path / "points.zarr"
    args = run_args(spec, store, cluster=cluster)
    assert main([*args, "--only", "sn:n=10:activation=sin,mlp:width=3"]) == 0
    err = capsys.readouterr().err
    assert "only: sn:n=10:activation=sin,mlp:width=3" in err
    assert "run: 6 computed, 0 skipped" in err
    tree = load(store)
    sn, mlp = tree["sn"].ds.done, tree["mlp"].ds.done
    assert int(sn.sum()) == int(sn.sel(n=10, activation="sin").sum()) == 3
    assert int(mlp.sum()) == int(mlp.sel(width=3).sum()) == 3
    assert main([*args, "--only", "sn:activation=sin:activation=tanh:n=10"]) == 0
    assert "3 of 6 tasks already done and skipped, 3 to run" in capsys.readouterr().err
    assert main(args) == 0
    assert "9 of 18 tasks already done and skipped, 9 to run" in capsys.readouterr().err
    assert_same_results(reference, store)


def test_truncated_chunk_is_recomputed(tmp_path, reference, cluster, capsys):
    spec, store = engine_spec(tmp_path), tmp_path / "damaged.zarr"
    args = run_args(spec, store, cluster=cluster)
    assert main(args) == 0
    chunk = store / "sn" / "S_vn" / "c" / "1" / "0" / "0" / "1" / "0"
    assert chunk.is_file()
    chunk.write_bytes(chunk.read_bytes()[:7])  # truncated
    missing = store / "mlp" / "site_order" / "c" / "0" / "1" / "2" / "0" / "0"
    missing.unlink()  # lost
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "2 damaged, recomputed" in err and "16 of 18 tasks already done" in err
    assert_same_results(reference, store)


def test_concurrent_run_is_refused(tmp_path, cluster, capsys):
    spec, store = engine_spec(tmp_path), tmp_path / "locked.zarr"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from pipeline.store import StoreLock; lock = StoreLock(Path(sys.argv[1])); "
            "lock.acquire(); print('locked', flush=True); time.sleep(60)",
            str(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main(run_args(spec, store, cluster=cluster))
        err = capsys.readouterr().err.strip()
        assert code == 2
        assert len(err.splitlines()) == 1
        assert f"pid={holder.pid}" in err and "in use by another run" in err
        assert not store.exists()
    finally:
        holder.kill()
        holder.wait()


def test_worker_killed_mid_task_sweep_finishes(tmp_path, reference):
    spec = parse_spec(engine_spec(tmp_path, block=1, block2=1).read_text())
    store = tmp_path / "worker-killed.zarr"
    with (
        local_cluster() as local,
        Client(local) as client,
    ):
        pids = list(client.run(os.getpid).values())
        result = {}

        def driver() -> None:
            result["report"] = run_sweep(
                spec,
                store,
                scheduler=local.scheduler_address,
                show_progress=False,
                echo=lambda line: None,
            )

        thread = threading.Thread(target=driver)
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until work is under way
            if store.exists() and (store / "sn" / "done" / "c").exists():
                break
            time.sleep(0.05)
        os.kill(pids[0], signal.SIGKILL)
        thread.join(timeout=120)
    report = result["report"]
    assert not report.failed and not report.interrupted
    assert report.computed == report.total
    assert_same_results(reference, store)


SLOW_SPEC = """
name = "slow"
seed = 11
[[experiment]]
name = "sn"
architecture = "sn"
n = [14, 16]
samples = 8
samples_per_task = 1
measures = ["vn"]
[experiment.hyper]
activation = ["tanh", "gelu"]
[experiment.subsystem]
kind = "window"
m = "1..n//2"
windows = 8
"""


def driver_command(spec: Path, store: Path, max_in_flight: int) -> list[str]:
    """``nqs-ent run`` as a separate process with its own one-worker LocalCluster."""
    return [
        *(sys.executable, "-m", "pipeline.cli", "run", str(spec), "--store", str(store)),
        *("--workers", "1", "--no-progress", "--max-in-flight", str(max_in_flight)),
    ]


def _done_chunks(store: Path) -> dict[str, int]:
    """mtime of the data chunk of every task flagged done."""
    done = np.asarray(zarr.open_array(str(store), path="sn/done", mode="r")[...])
    out = {}
    for index in np.argwhere(done):
        *lead, block = (str(i) for i in index)
        chunk = store / "sn" / "S_vn" / "c" / Path(*lead) / "0" / block / "0"
        out[str(chunk)] = chunk.stat().st_mtime_ns
    return out


@pytest.mark.slow
def test_driver_sigkill_then_rerun(tmp_path):
    """SIGKILL the driver's whole process group (driver, scheduler, workers) mid-sweep; the
    rerun skips exactly the tasks flagged done, rewrites none of their chunks, and ends
    bit-identical to a plain in-process loop over the same tasks."""
    spec_path, store = tmp_path / "slow.toml", tmp_path / "killed.zarr"
    spec_path.write_text(SLOW_SPEC)
    command = driver_command(spec_path, store, max_in_flight=1)
    driver = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                done = np.asarray(zarr.open_array(str(store), path="sn/done", mode="r")[...])
            except Exception:
                done = np.zeros(1)
            if done.sum() >= 5:
                break
            time.sleep(0.05)
        os.killpg(driver.pid, signal.SIGKILL)  # the driver, its scheduler and workers
    finally:
        driver.wait()
    before = _done_chunks(store)
    assert 5 <= len(before) < 32, "the kill came too late to test anything"
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    match = re.search(r"(\d+) of 32 tasks already done and skipped, (\d+) to run", rerun.stderr)
    assert match, rerun.stderr
    assert int(match.group(1)) == len(before) and int(match.group(2)) == 32 - len(before)
    after = _done_chunks(store)
    assert len(after) == 32
    assert all(after[chunk] == mtime for chunk, mtime in before.items()), "done task redone"

    sweep = parse_spec(SLOW_SPEC)
    expected = np.full(load(store)["sn"].ds.S_vn.shape, np.nan)
    for task in iter_tasks(sweep):
        values, _, _, _ = compute_task(sweep, task, "numpy")  # (samples, measures, m, windows)
        expected[(task.n_index, *task.grid_index, slice(None), slice(task.start, task.stop))] = (
            np.moveaxis(values[:, 0], 0, 1)
        )
    np.testing.assert_array_equal(load(store)["sn"].ds.S_vn.values, expected)


# Tasks of a few seconds (T-NQS at n = 16), so that the signal lands while one runs.
STOP_SPEC = """
name = "stop"
seed = 5
[[experiment]]
name = "t"
architecture = "transformer"
n = 16
samples = 10
samples_per_task = 1
measures = ["vn"]
[experiment.hyper]
patch = 6
stride = 5
[experiment.subsystem]
kind = "first"
m = 8
"""


@pytest.mark.slow
def test_stop_signal_withdraws_tasks_that_have_not_started(tmp_path):
    """SIGTERM: the driver cancels the submitted tasks no worker has started, lets the
    running one finish, and exits 75 without waiting for the rest of its queue."""
    spec_path, store = tmp_path / "stop.toml", tmp_path / "stopped.zarr"
    spec_path.write_text(STOP_SPEC)
    command = driver_command(spec_path, store, max_in_flight=8)
    driver = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        done = np.zeros(1)
        while time.monotonic() < deadline and done.sum() < 1:
            time.sleep(0.05)
            with contextlib.suppress(Exception):
                done = np.asarray(zarr.open_array(str(store), path="t/done", mode="r")[...])
        at_signal = int(done.sum())
        driver.send_signal(signal.SIGTERM)
        _, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert driver.returncode == 75, err
    assert "SIGTERM: submitting no more tasks" in err
    match = re.search(r"withdrew (\d+) submitted tasks that had not started", err)
    assert match and int(match.group(1)) >= 5, err  # 8 in flight, at most 2 on the worker
    # the task running at the signal finishes; one more if it ended before the withdrawal
    final = int(np.asarray(zarr.open_array(str(store), path="t/done", mode="r")[...]).sum())
    assert at_signal <= final <= at_signal + 2, (at_signal, final)
    assert "run the same command again to resume" in err
