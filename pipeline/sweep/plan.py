"""Plan a sweep: the task list and each task's memory estimate. Pure; no Dask, no store.

A task is one experiment, one ``n``, one hyperparameter grid point and one block of
samples. It owns one chunk of every store variable, so no two tasks write the same chunk.
"""

from __future__ import annotations

import itertools
from collections.abc import Container, Iterator
from dataclasses import dataclass

from pipeline.architectures import get_architecture
from pipeline.architectures.states import DEFAULT_BATCH
from pipeline.numerics.spectra import GATHER_BYTES, HERK_MIN_DIM, STACK_BYTES
from pipeline.sweep.spec import Experiment, Sweep

# Python, NumPy, SciPy, Dask worker and zarr overhead of one worker process: 92 MiB
# measured in a LocalCluster worker with the task's modules imported (nqs-ent bench memory
# prints the same for a fresh process), with a margin.
BASE_BYTES = 128 * 2**20


# Reals alive per configuration while a batch is evaluated, for architectures that do not
# give their own Architecture.eval_bytes (conservative: the transformer at d_model 32 keeps
# about 600).
EVAL_REALS_PER_CONFIG = 1024


class PlanError(ValueError):
    """A sweep that cannot run as planned (a task does not fit a worker)."""


@dataclass(frozen=True)
class Task:
    """One unit of work: samples ``start..stop-1`` of one ``(experiment, n, grid point)``."""

    experiment: int
    """Index of the experiment in the sweep."""
    n_index: int
    """Position of ``n`` on the experiment's ``n`` axis."""
    grid_index: tuple[int, ...]
    """Position on each hyperparameter axis."""
    block: int
    """Position on the ``block`` axis (``start // samples_per_task``)."""
    start: int
    """First sample."""
    stop: int
    """One past the last sample."""

    def key(self, sweep: Sweep) -> str:
        """A readable unique name, e.g. ``sn_real/n=14/1,0/block=2``."""
        experiment = sweep.experiments[self.experiment]
        grid = ",".join(str(i) for i in self.grid_index) or "-"
        n = experiment.n[self.n_index]
        return f"{experiment.name}/n={n}/{grid}/block={self.block}"


def iter_tasks(sweep: Sweep, selected: Container[int] | None = None) -> Iterator[Task]:
    """Every task of the sweep (of the experiments whose indices are in ``selected``),
    cheapest first and breadth first: the closed-form (``exact``) experiments, whose tasks
    take milliseconds at any ``n``, then the others; each group in order of ``n`` (over
    its experiments), then block, experiment and grid point. An interrupted sweep, whose
    cost grows like ``2^n``, so holds every experiment's and grid point's first samples at
    the smallest sizes before any gets more, and resumes from there. Lazy: memory does
    not grow with the number of tasks."""
    experiments = [e for e in sweep.experiments if selected is None or e.index in selected]
    grids = {
        e.index: list(itertools.product(*(range(size) for size in e.grid_shape)))
        for e in experiments
    }
    for exact in (True, False):
        group = [e for e in experiments if (e.method == "exact") == exact]
        for n in sorted({n for e in group for n in e.n}):
            at_n = [e for e in group if n in e.n]
            for block in range(max(e.n_blocks for e in at_n)):
                for experiment in at_n:
                    if block >= experiment.n_blocks:
                        continue
                    start, stop = experiment.block_range(block)
                    n_index = experiment.n.index(n)
                    for grid_index in grids[experiment.index]:
                        yield Task(experiment.index, n_index, grid_index, block, start, stop)


def itemsize(sweep: Sweep) -> int:
    """Bytes per complex amplitude."""
    return 16 if sweep.dtype == "complex128" else 8


def task_bytes(experiment: Experiment, n: int, complex_bytes: int) -> int:
    """Estimated peak bytes of one dense task at size ``n`` (fitted to ``nqs-ent bench
    memory``, which measures it).

    Samples run one after another, so the peak is one sample's: the state vector (written,
    shifted, exponentiated and normalised in place: one vector) and the larger of two
    phases that do not overlap. Evaluation: the architecture's ``eval_bytes`` for its batch
    (or ``EVAL_REALS_PER_CONFIG`` reals per configuration). Spectra: the reduced density
    matrix of the largest cut ``<= n/2`` (with the next size's partial trace and its copy
    when there are several sizes), the eigensolver's band workspace, and the columns being
    gathered (:data:`~pipeline.numerics.spectra.GATHER_BYTES` at most; none for the first
    sites) or, for matrices below ``HERK_MIN_DIM``, the stack of permuted copies
    (:data:`~pipeline.numerics.spectra.STACK_BYTES`). Plus the task's results and the
    worker's base footprint.
    """
    dim = 1 << n
    state = dim * complex_bytes
    subsystem = experiment.subsystem
    sizes = subsystem.sizes(n)
    half = max(min(m, n - m) for m in sizes)
    architecture = get_architecture(experiment.architecture)
    batch = min(dim, DEFAULT_BATCH)
    if architecture.eval_bytes is None:
        evaluation = batch * EVAL_REALS_PER_CONFIG * 8
    else:
        evaluation = max(
            architecture.eval_bytes(n, hyper, min(dim, architecture.batch_for(hyper) or batch))
            for _, hyper in experiment.grid()
        )
    rows = 1 << half
    nested = len({min(m, n - m) for m in sizes}) > 1
    density = rows * rows * complex_bytes * (3 if nested else 2) // 2 + rows * 64 * complex_bytes
    if rows < HERK_MIN_DIM:
        permuted = state + min(STACK_BYTES, subsystem.n_windows * state)
    elif subsystem.kind == "first" and all(m <= n - m for m in sizes):
        permuted = 0
    else:
        permuted = min(GATHER_BYTES, state)
    windows = subsystem.n_windows
    results = (
        experiment.samples_per_task
        * windows
        * (len(experiment.measures) * len(experiment.all_sizes()) * 8 + n * 8)
    )
    return BASE_BYTES + state + max(evaluation, density + permuted) + results


def streaming_task_bytes(experiment: Experiment, n: int) -> int:
    """Estimated peak bytes of one streaming task at size ``n`` (complex128 throughout).

    Per cut: in the first pass the start block, the running sum, one chunk's sum and the
    product's copies (``D_A x 10 block``), in later ones the basis and the newest block with
    its sums (``D_A x (max_rank + 4 block)``); or the summed reduced density matrix of an
    exact cut (3 matrices); the
    row tables of the first layers; one tile and the network's intermediates on
    :data:`~pipeline.architectures.tiles.EVAL_CONFIGS` configurations; never ``2^n``.
    """
    from pipeline.architectures.tiles import EVAL_CONFIGS
    from pipeline.numerics.streaming import MIN_TILE_COLUMNS, TILE_CONFIGS

    options = experiment.streaming
    sizes = experiment.subsystem.sizes(n)
    rows = max(1 << min(m, n - m) for m in sizes)
    if rows <= options.exact_dim:
        basis = 3 * rows * rows * 16
    else:
        block = options.block
        basis = rows * max(min(options.max_rank, rows) + 4 * block, 10 * block) * 16
    tile = max(TILE_CONFIGS, rows * MIN_TILE_COLUMNS) * 16 * 3
    evaluation = EVAL_CONFIGS * EVAL_REALS_PER_CONFIG * 8 + rows * EVAL_REALS_PER_CONFIG // 8 * 8
    return BASE_BYTES + basis + tile + evaluation


def exact_task_bytes(experiment: Experiment, n: int) -> int:
    """Estimated peak bytes of one ``exact`` task: the worker's base footprint, a network's
    parameters and Gram matrices (``O(K^2 + K n)``, generously 64 MiB), and the results."""
    windows = experiment.subsystem.n_windows
    results = experiment.samples_per_task * windows * (len(experiment.all_sizes()) + n) * 8
    return BASE_BYTES + (64 << 20) + results


def task_method(
    experiment: Experiment, n: int, complex_bytes: int, worker_bytes: int | None
) -> str:
    """``dense`` or ``streaming`` for the tasks of ``experiment`` at ``n``: ``auto`` streams
    where the dense estimate exceeds ``worker_bytes`` (default: this machine's available
    memory)."""
    if experiment.method != "auto":
        return experiment.method
    if worker_bytes is None:
        import psutil

        worker_bytes = int(psutil.virtual_memory().available)
    return "dense" if task_bytes(experiment, n, complex_bytes) <= worker_bytes else "streaming"


def method_bytes(experiment: Experiment, n: int, complex_bytes: int) -> int:
    """The smallest estimate the experiment's method allows at ``n`` (``auto``: the
    smaller of dense and streaming)."""
    if experiment.method == "exact":
        return exact_task_bytes(experiment, n)
    dense = task_bytes(experiment, n, complex_bytes)
    if experiment.method == "dense":
        return dense
    streaming = streaming_task_bytes(experiment, n)
    return streaming if experiment.method == "streaming" else min(dense, streaming)


def peak_task_bytes(sweep: Sweep) -> tuple[int, str]:
    """The largest task estimate of the sweep and which experiment/``n`` it belongs to."""
    best, where = 0, ""
    for experiment in sweep.experiments:
        for n in experiment.n:
            estimate = method_bytes(experiment, n, itemsize(sweep))
            if estimate > best:
                best, where = estimate, f"experiment {experiment.name!r} at n = {n}"
    return best, where


def check_memory(sweep: Sweep, worker_bytes: int) -> int:
    """Raise :class:`PlanError` when the largest task does not fit ``worker_bytes``."""
    peak, where = peak_task_bytes(sweep)
    if peak > worker_bytes:
        raise PlanError(
            f"{sweep.name}: the largest task ({where}) needs about {format_bytes(peak)}, "
            f"more than a worker's {format_bytes(worker_bytes)} memory limit; "
            "lower n or give workers more memory (--memory-limit, fewer --workers)"
        )
    return peak


def format_bytes(count: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(count) < 1024 or unit == "PiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


MAX_TASKS = 10_000_000
"""Most tasks one sweep may have. Each task is a few chunk files and about 5 ms of
scheduler time, so 10^7 tasks are already ~4 x 10^7 files and ~14 h of overhead."""


MAX_CHUNK_BYTES = 1 << 30
"""Largest chunk (one task's entropies of one measure) a store accepts: 1 GiB."""


BLOCK_BYTES = 4096
"""Smallest space a file takes on disk (one filesystem block)."""


@dataclass(frozen=True)
class StoreEstimate:
    """The size of a sweep's store once every task is written."""

    bytes: int
    """Bytes on disk: every chunk uncompressed (entropies barely compress), each file at
    least one block."""
    files: int
    """Chunk files (inodes)."""
    largest_chunk: int
    """Bytes of the largest chunk of one task."""
    where: str
    """Which experiment holds the largest chunk."""


def estimate_store(sweep: Sweep) -> StoreEstimate:
    """Bytes, files and largest chunk of the finished store (arithmetic only)."""
    total = files = largest = 0
    where = ""
    for experiment in sweep.experiments:
        per_task = experiment.samples_per_task
        windows = experiment.subsystem.n_windows
        entropy = len(experiment.all_sizes()) * per_task * windows * 8
        chunks = [entropy] * len(experiment.measures)
        checksums = 4 * (len(experiment.measures) + 2)  # one CRC-32 per data chunk
        chunks += [per_task * windows * max(experiment.n) * 2, per_task, checksums, 1]
        tasks = experiment.n_tasks
        total += tasks * sum(max(size, BLOCK_BYTES) for size in chunks)
        files += tasks * len(chunks)
        if max(chunks) > largest:
            largest, where = max(chunks), f"experiment {experiment.name!r}"
    return StoreEstimate(total, files, largest, where)


def check_scale(sweep: Sweep) -> StoreEstimate:
    """Raise :class:`PlanError` when the sweep has more than :data:`MAX_TASKS` tasks or a
    chunk larger than :data:`MAX_CHUNK_BYTES`; return the store estimate."""
    if sweep.n_tasks > MAX_TASKS:
        raise PlanError(
            f"{sweep.name}: {sweep.n_tasks:.3g} tasks, more than the {MAX_TASKS:.0e} one sweep "
            "can run; raise samples_per_task or split the sweep"
        )
    estimate = estimate_store(sweep)
    if estimate.largest_chunk > MAX_CHUNK_BYTES:
        raise PlanError(
            f"{sweep.name}: one task of {estimate.where} writes a chunk of "
            f"{format_bytes(estimate.largest_chunk)}, more than {format_bytes(MAX_CHUNK_BYTES)}; "
            "lower samples_per_task (or windows)"
        )
    return estimate
