"""What a Dask worker runs: one task, computed (:func:`pipeline.sweep.sample.compute_task`)
and written to the store, the sweep read once per worker process from the store itself.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import store
from pipeline.run.clusters import keep_freed_memory
from pipeline.sweep.plan import (
    Task,
)
from pipeline.sweep.sample import SAMPLE_STATUS, compute_task
from pipeline.sweep.spec import Sweep
from pipeline.sweep.validate import parse_spec

log = logging.getLogger("nqs_ent")


_SWEEPS: dict[tuple[str, str], tuple[Sweep, int]] = {}


def _sweep_of(store_path: str, digest: str) -> tuple[Sweep, int]:
    """The sweep a store was created from and the store's format, read once per worker
    process."""
    key = (store_path, digest)
    if key not in _SWEEPS:
        attrs = store.read_root_attrs(Path(store_path))
        if attrs is None or attrs.get("spec_digest") != digest:
            raise store.StoreError(f"{store_path} no longer holds the sweep {digest[:12]}")
        sweep = parse_spec(
            attrs["spec_text"], source=f"{store_path} (spec)", folder=attrs.get("spec_folder")
        )
        if sweep.digest != digest:  # the parameter files it names have changed
            raise store.StoreError(
                f"{store_path}: the parameter files of its spec changed since the run began"
            )
        _SWEEPS[key] = (sweep, int(attrs.get("nqs_ent_format", 1)))
    return _SWEEPS[key]


def _worker_memory() -> int | None:
    """This Dask worker's memory limit (bytes), or None outside a worker / without one."""
    try:
        from distributed import get_worker

        return int(get_worker().memory_manager.memory_limit or 0) or None
    except (ImportError, ValueError, TypeError, AttributeError):
        return None


def run_task(store_path: str, digest: str, task: Task, backend: str) -> dict[str, Any]:
    """Worker entry point: compute one task, write it to the store, return a summary."""
    started = time.perf_counter()
    keep_freed_memory()
    sweep, format_version = _sweep_of(store_path, digest)
    result = compute_task(sweep, task, backend, _worker_memory())
    experiment = sweep.experiments[task.experiment]
    store.write_task(
        Path(store_path),
        experiment,
        task,
        result.values,
        result.orders,
        result.status,
        token=digest,
        format_version=format_version,
        certified=result.certified,
    )
    status = result.status
    return {
        "key": task.key(sweep),
        "samples": task.stop - task.start,
        "not_ok": int(np.sum(status != SAMPLE_STATUS.index("ok"))),
        "seconds": time.perf_counter() - started,
        "pid": os.getpid(),
    }
