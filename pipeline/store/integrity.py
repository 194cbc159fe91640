"""What a store holds: which tasks are done (from the chunk files, without decoding), which
are damaged (their chunks no longer match the checksums written with them), per-sample
status counts and progress.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pipeline.numerics.measures import measure_variable
from pipeline.store.layout import (
    StoreError,
    _array,
    _chunk_crc,
    _chunk_key,
    _read,
    data_files,
    read_root_attrs,
    store_format,
)
from pipeline.sweep.sample import SAMPLE_STATUS
from pipeline.sweep.spec import Experiment
from pipeline.sweep.subsystems import measured_cells


def _done_files(path: Path, experiment: Experiment) -> Iterator[tuple[tuple[int, ...], str]]:
    """``((n, *grid, block), file)`` for every chunk file of the ``done`` array."""
    depth = 1 + len(experiment.grid_shape)  # folders above the block files

    def walk(folder: str, head: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], str]]:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if not entry.name.isdigit():
                continue
            index = (*head, int(entry.name))
            if len(head) < depth:
                if entry.is_dir():
                    yield from walk(entry.path, index)
            elif entry.is_file():
                yield index, entry.path

    yield from walk(f"{path}/{experiment.name}/done/c", ())


def read_done(path: Path, experiment: Experiment) -> np.ndarray:
    """The ``done`` flags of an experiment, shape ``(n, *grid, block)``.

    Read from the chunk files themselves: every file of a healthy ``done`` chunk holds the
    same bytes, so each distinct content is decoded once through Zarr and the rest are
    compared byte for byte (10^5 tasks in about a second, where decoding every chunk
    took tens of seconds). A chunk that does not decode counts as not done.
    """
    shape = (len(experiment.n), *experiment.grid_shape, experiment.n_blocks)
    done = np.zeros(shape, dtype=bool)
    decoded: dict[bytes, bool] = {}
    array = None
    for index, file in _done_files(path, experiment):
        if any(i >= size for i, size in zip(index, shape, strict=True)):
            continue
        try:
            content = _read(file)
        except OSError:
            continue
        if content not in decoded:
            if array is None:
                array = _array(path, f"{experiment.name}/done", mode="r")
            try:
                decoded[content] = bool(array[index] == 1)
            except Exception:  # a damaged done chunk: the task is not done
                decoded[content] = False
        done[index] = decoded[content]
    return done


def _task_whole(
    path: Path, experiment: Experiment, index: tuple[int, ...], names: list[str]
) -> bool:
    """Whether every data chunk of a done task matches the checksum written with it.

    Plain string paths and reads: a resume checks 10^5 tasks, and pathlib's parsing
    alone took half of the time."""
    *lead, block = index
    base = f"{path}/{experiment.name}/"
    try:
        raw = _read(base + _chunk_key("chunk_crc32", tuple(lead), block))
        expected = np.frombuffer(raw, dtype="<u4").tolist()
        if len(expected) != len(names):
            return False
        for name, crc in zip(names, expected, strict=True):
            if _chunk_crc(base, name, tuple(lead), block) != crc:
                return False
    except OSError:  # a chunk file is missing or unreadable
        return False
    return True


def damaged_tasks(path: Path, experiment: Experiment, done: np.ndarray) -> set[tuple[int, ...]]:
    """Indices ``(n, *grid, block)`` of tasks flagged done whose data are not whole.

    Format 2: each chunk file's CRC-32 is compared with the checksum written with the
    task (raw file reads, no decoding). Format 1 (no
    checksums): every chunk is decoded and checked for whole values
    (:func:`decoded_damaged_tasks`).
    """
    if store_format(path) < 2:
        return decoded_damaged_tasks(path, experiment, done)
    names = data_files(experiment)
    return {
        index
        for index in (tuple(int(i) for i in found) for found in np.argwhere(done))
        if not _task_whole(path, experiment, index, names)
    }


def _slab_ok(
    experiment: Experiment,
    n_index: int,
    block: int,
    data: dict[str, np.ndarray],
    grid_index: tuple[int, ...],
) -> bool:
    """Whether one task's values in decoded slabs (arrays over ``(*grid, ...)``) are whole."""
    n = experiment.n[n_index]
    start, stop = experiment.block_range(block)
    cells = measured_cells(experiment.subsystem, n, experiment.all_sizes())  # (m, windows)
    for name, slab in data.items():
        values = slab[grid_index]
        if name == "site_order":  # every ordering must be a permutation of 0..n-1
            orders = np.sort(values[start:stop, :, :n], axis=-1)
            if not np.array_equal(orders, np.broadcast_to(np.arange(n), orders.shape)):
                return False
            continue
        finite = np.isfinite(values[:, start:stop])  # (m, samples, windows)
        if not np.array_equal(finite, np.broadcast_to(cells[:, None, :], finite.shape)):
            return False
    return True


def decoded_damaged_tasks(
    path: Path, experiment: Experiment, done: np.ndarray
) -> set[tuple[int, ...]]:
    """Damaged tasks found by decoding every chunk (stores of format 1, which have no
    checksums): a task is whole when its orderings are permutations and its entropies
    finite wherever a size applies.

    Reads one ``n`` at a time; a slab that fails to decode (a truncated chunk) is checked
    chunk by chunk to find the damaged task.
    """
    names = [measure_variable(m) for m in experiment.measures] + ["site_order"]
    damaged: set[tuple[int, ...]] = set()
    for n_index in range(len(experiment.n)):
        flagged = [tuple(int(i) for i in idx) for idx in np.argwhere(done[n_index])]
        if not flagged:
            continue
        try:
            data = {
                name: np.asarray(_array(path, f"{experiment.name}/{name}", mode="r")[n_index])
                for name in names
            }
        except Exception:  # some chunk does not decode: look task by task
            data = None
        for *grid, block in flagged:
            if data is not None:
                ok = _slab_ok(experiment, n_index, block, data, tuple(grid))
            else:
                ok = _task_ok(path, experiment, n_index, tuple(grid), block, names)
            if not ok:
                damaged.add((n_index, *grid, block))
    return damaged


def _task_ok(
    path: Path,
    experiment: Experiment,
    n_index: int,
    grid: tuple[int, ...],
    block: int,
    names: list[str],
) -> bool:
    start, stop = experiment.block_range(block)
    data = {}
    try:
        for name in names:
            array = _array(path, f"{experiment.name}/{name}", mode="r")
            region = (
                (n_index, *grid, slice(None), slice(start, stop))
                if name != "site_order"
                else (n_index, *grid, slice(start, stop))
            )
            values = np.asarray(array[region])
            # re-embed at full sample length so _slab_ok's indexing applies
            full_shape = list(values.shape)
            axis = 1 if name != "site_order" else 0
            full_shape[axis] = experiment.samples
            fill = np.nan if name != "site_order" else -1
            embedded = np.full(full_shape, fill, dtype=values.dtype)
            index = [slice(None)] * len(full_shape)
            index[axis] = slice(start, stop)
            embedded[tuple(index)] = values
            data[name] = embedded[(np.newaxis,) * len(grid)] if grid else embedded
    except Exception:  # the chunk does not decode
        return False
    return _slab_ok(experiment, n_index, block, data, (0,) * len(grid))


def status_counts(path: Path, experiment: Experiment, done: np.ndarray) -> dict[str, int]:
    """Samples per status (:data:`pipeline.sweep.sample.SAMPLE_STATUS`) of one experiment,
    from the raw ``sample_status`` chunk files of its done tasks (format 2; a format-1
    store counts the samples of done tasks as ``ok``)."""
    total = np.zeros(len(SAMPLE_STATUS), dtype=np.int64)
    total[0] = len(experiment.n) * math.prod(experiment.grid_shape) * experiment.samples
    legacy = store_format(path) < 2
    base = f"{path}/{experiment.name}/"
    for index in np.argwhere(done):
        *lead, block = (int(i) for i in index)
        start, stop = experiment.block_range(block)
        total[0] -= stop - start
        if legacy:
            total[SAMPLE_STATUS.index("ok")] += stop - start
            continue
        try:
            raw = _read(base + _chunk_key("sample_status", tuple(lead), block))
        except OSError:  # a damaged task: its samples count as pending
            raw = b""
        codes = np.frombuffer(raw, dtype=np.int8)[: stop - start]
        codes = np.where((codes >= 0) & (codes < len(SAMPLE_STATUS)), codes, 0)
        total += np.bincount(codes, minlength=len(SAMPLE_STATUS))
    return dict(zip(SAMPLE_STATUS, total.tolist(), strict=True))


def progress(path: Path) -> list[tuple[str, int, int, dict[str, int]]]:
    """``(experiment, done tasks, total tasks, samples per status)`` for every experiment
    of a store, from its files (no chunk is decoded)."""
    from pipeline.sweep.validate import parse_spec

    attrs = read_root_attrs(path)
    if attrs is None:
        raise StoreError(f"{path} is not an nqs-ent store")
    sweep = parse_spec(attrs["spec_text"], source=f"{path} (spec)", folder=attrs.get("spec_folder"))
    rows = []
    for experiment in sorted(sweep.experiments, key=lambda e: e.name):
        done = read_done(path, experiment)
        counts = status_counts(path, experiment, done)
        rows.append((experiment.name, int(done.sum()), int(done.size), counts))
    return rows
