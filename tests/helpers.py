"""Plain helper functions and constants shared by the test files: ``from helpers import ...``
(``tests/`` is on ``pythonpath`` in pyproject.toml). Fixtures live in ``conftest.py``."""

from __future__ import annotations

import hashlib
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from distributed import LocalCluster

ROOT = Path(__file__).resolve().parent.parent
"""The repository checkout."""
WORKFLOWS = ROOT / "workflows"
SLURM_DIR = ROOT / "slurm"

NAMESPACES = ("numpy", "array_api_strict")
"""The CPU array namespaces every numerical test runs on."""


def host(x) -> np.ndarray:
    """Any backend's array as a NumPy array."""
    return np.from_dlpack(x)


# ------------------------------------------------------------------ specs and runs

GOOD_SPEC = """
name = "cli-test"
seed = 3
[[experiment]]
name = "sn"
architecture = "sn"
n = [6, 8]
samples = 2
measures = ["vn"]
[experiment.subsystem]
kind = "window"
m = "1..n//2"
windows = 2
"""
"""A valid two-task sweep of a few hundredths of a second."""


TWO_EXPERIMENTS_SPEC = """
name = "engine-test"
seed = 7
[[experiment]]
name = "sn"
architecture = "sn"
n = [8, 10]
samples = 6
samples_per_task = {block}
measures = ["vn", "renyi2", "inf"]
[experiment.hyper]
activation = ["tanh", "sin"]
[experiment.subsystem]
kind = "window"
m = "1..n//2+1"
windows = 3
[[experiment]]
name = "mlp"
architecture = "mlp"
n = [9]
samples = 5
samples_per_task = {block2}
measures = ["vn"]
[experiment.hyper]
width = [2, 3]
[experiment.subsystem]
kind = "random"
m = [1, 3, 6]
windows = 2
"""
"""Two experiments, 18 tasks of a few hundredths of a second at blocks of 2: ``sn`` with a
2-value grid over two sizes (6 samples in blocks of ``{block}``), ``mlp`` with a 2-value
grid at one size (5 samples in blocks of ``{block2}``); fill in with ``.format``."""


def write_spec(folder: Path, text: str, name: str = "spec.toml") -> Path:
    """Write the spec ``text`` to ``folder / name``; return the path."""
    path = folder / name
    path.write_text(text)
    return path


def local_cluster(**kwargs: Any) -> LocalCluster:
    """The tests' Dask cluster: two one-thread worker processes on 127.0.0.1."""
    from distributed import LocalCluster

    options = {
        "n_workers": 2,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",
        "host": "127.0.0.1",
    }
    return LocalCluster(**(options | kwargs))


def run_args(
    spec: Path, store: Path, *extra: str, cluster: LocalCluster | None = None
) -> list[str]:
    """``nqs-ent run SPEC --store STORE --no-progress`` arguments: on ``cluster`` (through
    ``--scheduler``), or without one on a one-worker local cluster of the run's own."""
    where = ["--scheduler", cluster.scheduler_address] if cluster else ["--workers", "1"]
    return ["run", str(spec), "--store", str(store), *where, "--no-progress", *extra]


def nqs_ent_run(spec: Path, store: Path, *extra: str, cluster: LocalCluster | None = None) -> int:
    """``nqs-ent run`` in-process (see :func:`run_args`); returns the exit status."""
    from pipeline.cli import main

    return main(run_args(spec, store, *extra, cluster=cluster))


def one_line_error(capsys) -> str:
    """stderr so far, which must be one ``nqs-ent: error: ...`` line."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("nqs-ent: error: "), err
    return err


def file_digests(path: Path, mtimes: bool = False) -> dict[str, Any]:
    """SHA-256 (and with ``mtimes`` the mtime too) of every file under ``path`` by relative
    path, or of ``path`` itself by name when it is a file: byte-for-byte comparison."""

    def digest(file: Path) -> Any:
        sha = hashlib.sha256(file.read_bytes()).hexdigest()
        return (sha, file.stat().st_mtime_ns) if mtimes else sha

    if path.is_file():
        return {path.name: digest(path)}
    return {str(p.relative_to(path)): digest(p) for p in sorted(path.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------- SLURM
# The dev cluster (slurm/dev-cluster.sh up) has no accounting, so jobs are followed with
# squeue and `scontrol show job`, not sacct.

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}
"""Job states after which a job runs no more (unless requeued)."""


def run_command(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command (30 s at most); raise unless it exits 0."""
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=30, **kwargs)


def sbatch(*args: str, **kwargs: Any) -> str:
    """``sbatch --parsable ARGS``; the job id."""
    return run_command("sbatch", "--parsable", *args, **kwargs).stdout.strip().split(";")[0]


def job_fields(job_id: str) -> dict[str, str]:
    """JobState, Restarts, ExitCode, ... of a job, from `scontrol show job -o`."""
    out = run_command("scontrol", "show", "job", "-o", job_id).stdout
    return dict(re.findall(r"(\w+)=(\S*)", out))


def wait_for_job(job_id: str, done, timeout: float, what: str) -> dict[str, str]:
    """Poll `scontrol show job` until ``done(fields)``; fail (and cancel) after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        fields = job_fields(job_id)
        if done(fields):
            return fields
        if time.monotonic() > deadline:
            subprocess.run(["scancel", job_id], check=False)
            pytest.fail(f"job {job_id}: no {what} after {timeout} s: {fields}")
        time.sleep(0.3)


def wait_for_end(job_id: str, timeout: float) -> dict[str, str]:
    """Wait until the job is in a :data:`FINAL` state; its fields."""
    return wait_for_job(job_id, lambda f: f["JobState"] in FINAL, timeout, "end")


def wait_until_dequeued(job_name: str, timeout: float, message: str) -> None:
    """Wait until squeue lists no job named ``job_name``; fail with ``message`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while run_command("squeue", "-h", "-n", job_name, "-o", "%i").stdout.strip():
        assert time.monotonic() < deadline, message
        time.sleep(0.3)


def state_from_file(path: Path, architecture: str, n: int, **given: Any) -> tuple[Any, Any]:
    """The normalised state nqs-ent evaluates from a parameter file at ``n`` sites (the
    hyperparameters the file does not fix given as keywords), and the network read."""
    from pipeline.architectures import get_architecture
    from pipeline.architectures.files import check_network, complete_hyper, read_network
    from pipeline.architectures.states import full_state

    arch = get_architecture(architecture)
    network = read_network(path, architecture)
    hyper = arch.hyper(**complete_hyper(network, arch, given))
    check_network(network, arch, n, hyper)
    return np.asarray(full_state(arch, network.params, n, hyper, np)), network


def assert_matches_reference(store: Path, reference: Path) -> None:
    """The store's arrays equal the committed snapshot ``reference``: entropies (nats)
    within :data:`pipeline.numerics.provenance.CROSS_MACHINE_ATOL` (the references were
    made on another machine), integers (site orderings, k) and the NaN pattern exactly."""
    from pipeline.numerics.provenance import CROSS_MACHINE_ATOL
    from pipeline.store.snapshots import read_snapshot, snapshot_arrays

    expected = read_snapshot(reference)
    actual = snapshot_arrays(store)
    assert sorted(actual) == sorted(expected)
    for key, values in expected.items():
        assert actual[key].dtype == values.dtype and actual[key].shape == values.shape, key
        if np.issubdtype(values.dtype, np.floating):
            np.testing.assert_allclose(
                actual[key], values, rtol=0, atol=CROSS_MACHINE_ATOL, equal_nan=True, err_msg=key
            )
        else:
            np.testing.assert_array_equal(actual[key], values, err_msg=key)


def svd_entropies(psi: np.ndarray, n: int, order: Sequence[int], m: int, measures) -> np.ndarray:
    """Entropies (nats) of the first ``m`` sites of ``order`` from NumPy's SVD of the
    state, with no clipping of small values: the oracle of Renyi orders below 1, which
    weigh the smallest Schmidt values most (the library's dense paths zero values below
    ``D eps p_max``, a convention, not the truth; the SVD's ``p = s^2`` are accurate down
    to ``(eps s_max)^2``)."""
    import array_api_compat.numpy as xp

    from pipeline.numerics.entropy import entropies

    matrix = np.transpose(np.asarray(psi).reshape((2,) * n), tuple(order)).reshape(1 << m, -1)
    s = np.linalg.svd(matrix, compute_uv=False)
    return np.asarray(entropies(xp.asarray(s**2 / np.sum(s**2)), measures, xp))
