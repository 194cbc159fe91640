"""Plan a sweep: the task list and each task's memory estimate. Pure; no Dask, no store.

A task is one experiment, one ``n``, one hyperparameter grid point and one block of
samples. It owns one chunk of every store variable, so no two tasks write the same chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.spec import Experiment, Sweep
from pipeline.spectra import STACK_BYTES
from pipeline.states import DEFAULT_BATCH

# Python, NumPy, SciPy, Dask worker and zarr overhead of one worker process.
BASE_BYTES = 300 * 2**20
# Reals alive per configuration while a batch is evaluated (conservative for every
# built-in architecture at its default size; the transformer at d_model 32 is the largest).
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


def iter_tasks(sweep: Sweep) -> Iterator[Task]:
    """Every task of the sweep, in a fixed order (experiment, n, grid point, block)."""
    for experiment in sweep.experiments:
        blocks = experiment.task_blocks()
        for n_index in range(len(experiment.n)):
            for grid_index, _ in experiment.grid():
                for block, (start, stop) in enumerate(blocks):
                    yield Task(experiment.index, n_index, grid_index, block, start, stop)


def itemsize(sweep: Sweep) -> int:
    """Bytes per complex amplitude."""
    return 16 if sweep.dtype == "complex128" else 8


def task_bytes(experiment: Experiment, n: int, complex_bytes: int) -> int:
    """Estimated peak bytes of one task at size ``n``.

    Samples run one after another, so the peak is one sample's: the state vector and its
    normalisation temporaries (5 vectors of ``2^n``), one permuted copy plus the stack of
    permuted copies (capped at ``STACK_BYTES``), the reduced density matrix of the
    largest size ``<= n/2`` with its partial traces and eigensolver workspace (4
    matrices), a batch of configurations being evaluated, and the worker's base
    footprint.
    """
    dim = 1 << n
    sizes = experiment.subsystem.sizes(n)
    half = max(min(m, n - m) for m in sizes)
    state = 5 * dim * complex_bytes
    permuted = dim * complex_bytes + min(STACK_BYTES, experiment.subsystem.n_windows * dim)
    density = 4 * (1 << half) ** 2 * complex_bytes
    evaluation = min(dim, DEFAULT_BATCH) * EVAL_REALS_PER_CONFIG * 8
    return BASE_BYTES + state + permuted + density + evaluation


def peak_task_bytes(sweep: Sweep) -> tuple[int, str]:
    """The largest task estimate of the sweep and which experiment/``n`` it belongs to."""
    best, where = 0, ""
    for experiment in sweep.experiments:
        for n in experiment.n:
            estimate = task_bytes(experiment, n, itemsize(sweep))
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
