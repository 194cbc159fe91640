"""Fixtures shared by test files (tests never import from each other; plain helper
functions are in helpers.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import NAMESPACES, local_cluster

from pipeline.numerics.xp import namespace


@contextlib.contextmanager
def _mounted_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) to mount a small tmpfs")
    folder.mkdir(exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def tmpfs() -> Callable[..., contextlib.AbstractContextManager[Path]]:
    """``with tmpfs(folder, "16m") as disk:`` a real small filesystem mounted at
    ``folder`` for the block (skips unless root can mount); remount it read-only with
    ``mount -o remount,ro``."""
    return _mounted_tmpfs


@pytest.fixture(params=NAMESPACES)
def xp(request):
    """Each CPU array namespace in turn."""
    return namespace(request.param)


@pytest.fixture(scope="module")
def cluster():
    """A real Dask LocalCluster (two one-thread worker processes) shared by one module."""
    with local_cluster() as local:
        yield local


SLURM_START = "start it with: slurm/dev-cluster.sh up"


@pytest.fixture(scope="session")
def slurm_up() -> None:
    """Skip, with the reason, unless a SLURM controller answers and a node is up.

    Used by the tests marked ``slurm``: ``pytestmark = [pytest.mark.slurm,
    pytest.mark.usefixtures("slurm_up")]`` (session scope, so it runs before their
    module fixtures)."""
    if shutil.which("sinfo") is None:
        pytest.skip(f"sinfo not found: SLURM is not installed; {SLURM_START}")
    # scontrol ping answers at once; sinfo retries for ~10 s when no controller runs.
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    if ping.returncode != 0:
        said = (ping.stdout + ping.stderr).strip().splitlines() or [f"status {ping.returncode}"]
        pytest.skip(f"no SLURM controller answers ({said[0]}); {SLURM_START}")
    try:
        result = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"sinfo timed out: no SLURM controller answers; {SLURM_START}")
    states = result.stdout.split()
    if result.returncode != 0 or not any(
        s in ("idle", "mixed", "allocated", "completing") for s in states
    ):
        reason = result.stderr.strip() or f"node states {states}"
        pytest.skip(f"SLURM is not up ({reason}); {SLURM_START}")
