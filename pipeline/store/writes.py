"""Writing one task's region of the store: its data chunks, their checksums, then its
``done`` flag (so a task is done only once its data are on disk).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.numerics.measures import measure_variable
from pipeline.store.layout import (
    CERTIFIED_VARIABLES,
    FORMAT_VERSION,
    StoreError,
    _array,
    _chunk_crc,
    data_files,
    task_index,
)
from pipeline.sweep.plan import Task
from pipeline.sweep.sample import SAMPLE_STATUS
from pipeline.sweep.spec import Experiment


def write_task(
    path: Path,
    experiment: Experiment,
    task: Task,
    values: np.ndarray,
    orders: np.ndarray,
    status: np.ndarray | None = None,
    token: str = "",
    format_version: int = FORMAT_VERSION,
    certified: dict[str, np.ndarray] | None = None,
) -> None:
    """Write a task's entropies, orderings and sample status, their checksums, and last
    its ``done`` flag.

    ``values``: ``(samples, measures, m, windows)``; ``orders``: ``(samples, windows, n)``;
    ``status``: ``(samples,)`` codes of :data:`pipeline.sweep.sample.SAMPLE_STATUS` (all ``ok``
    when ``None``); ``certified``: for certified experiments, the bounds ``lo``/``hi``
    (like ``values``) and ``tail_weight``, ``rank``, ``passes`` ``(samples, m, windows)``
    (:class:`pipeline.sweep.sample.TaskResult`). Stores of format 1 have no status or
    checksums, so a task with a
    sample that is not ``ok`` is refused there (:class:`StoreError`, nothing written).
    Zarr writes each chunk to a temporary file and renames it, so a failed write leaves
    the previous chunk whole and the task not done.
    """
    ok = SAMPLE_STATUS.index("ok")
    if status is None:
        status = np.full(task.stop - task.start, ok, dtype=np.int8)
    if format_version < 2 and np.any(status != ok):
        causes = sorted({SAMPLE_STATUS[int(code)] for code in status if code != ok})
        raise StoreError(
            f"{path} predates per-sample status (format 1): a sample that is not ok "
            f"({', '.join(causes)}) cannot be recorded; run into a new store"
        )
    lead = task_index(task)
    samples = slice(task.start, task.stop)
    group = experiment.name
    for i, measure in enumerate(experiment.measures):
        array = _array(path, f"{group}/{measure_variable(measure)}", token=token)
        array[(*lead, slice(None), samples, slice(None))] = np.moveaxis(values[:, i], 0, 1)
    if experiment.certified:
        if certified is None:
            raise StoreError(f"{experiment.name}: a certified experiment needs its bounds")
        for i, measure in enumerate(experiment.measures):
            for side in ("lo", "hi"):
                name = f"{group}/{measure_variable(measure)}_{side}"
                region = np.moveaxis(certified[side][:, i], 0, 1)
                _array(path, name, token=token)[(*lead, slice(None), samples, slice(None))] = region
        for name in CERTIFIED_VARIABLES:
            region = np.moveaxis(certified[name], 0, 1)
            _array(path, f"{group}/{name}", token=token)[
                (*lead, slice(None), samples, slice(None))
            ] = region
    n_max = max(experiment.n)
    padded = np.full((*orders.shape[:2], n_max), -1, dtype=np.int16)
    padded[..., : orders.shape[-1]] = orders
    _array(path, f"{group}/site_order", token=token)[(*lead, samples)] = padded
    if format_version >= 2:
        _array(path, f"{group}/sample_status", token=token)[(*lead, samples)] = status
        base = f"{path}/{group}/"
        crcs = [_chunk_crc(base, name, lead, task.block) for name in data_files(experiment)]
        crc_array = _array(path, f"{group}/chunk_crc32", token=token)
        crc_array[(*lead, task.block)] = np.asarray(crcs, dtype=np.uint32)
    _array(path, f"{group}/done", token=token)[(*lead, task.block)] = 1


def reset_task(path: Path, experiment: Experiment, task: Task) -> None:
    """Clear a task's ``done`` flag (before recomputing a damaged task)."""
    _array(path, f"{experiment.name}/done")[(*task_index(task), task.block)] = 0
