"""Sweep efficiency: a local Dask cluster against a single-process loop over the same tasks.

``nqs-ent bench sweep`` builds a sweep whose tasks take about ``--task-seconds`` each
(SN-NQS at ``n = 18``, windows of every size up to ``n/2``), then measures in one run:

1. the single-process baseline: every task computed and written to a store in a plain
   loop in this process (the same functions the workers call);
2. the same sweep through ``nqs-ent run``'s engine on a ``LocalCluster`` of ``--workers``
   single-threaded workers, timed from the first submission to the last result (cluster
   start-up is reported separately);
3. the per-task overhead: many tiny tasks (``n = 6``, one sample) through the engine, wall
   time per task minus the tasks' own compute time.

Parallel efficiency = baseline time / (workers x engine time). Target: >= 90 % for tasks
of 1 s or more.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline import store
from pipeline.run.engine import run_sweep
from pipeline.sweep.plan import iter_tasks
from pipeline.sweep.sample import compute_task
from pipeline.sweep.spec import Sweep
from pipeline.sweep.validate import parse_spec

EFFICIENCY_TARGET = 0.9
"""Parallel efficiency the Dask sweep must reach for tasks of 1 s or more."""


SPEC = """
name = "bench-sweep"
seed = 5
[[experiment]]
name = "sn"
architecture = "sn"
n = [{n}]
samples = {samples}
samples_per_task = {per_task}
measures = ["vn", "renyi2"]
[experiment.hyper]
activation = "sin"
[experiment.subsystem]
kind = "window"
m = "1..n//2"
windows = {windows}
"""


def make_sweep(n: int, tasks: int, per_task: int, windows: int) -> Sweep:
    """A sweep of ``tasks`` tasks of ``per_task`` samples each at size ``n``."""
    return parse_spec(
        SPEC.format(n=n, samples=tasks * per_task, per_task=per_task, windows=windows)
    )


def loop_seconds(sweep: Sweep, path: Path) -> float:
    """Compute and write every task in this process; wall seconds."""
    from threadpoolctl import threadpool_limits

    store.create(path, sweep)
    started = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        for task in iter_tasks(sweep):
            values, orders, status, certified = compute_task(sweep, task, "numpy")
            experiment = sweep.experiments[task.experiment]
            store.write_task(
                path, experiment, task, values, orders, status, sweep.digest, certified=certified
            )
    return time.perf_counter() - started


def _loop_part(args: tuple[str, str, int, int]) -> float:
    """One process of :func:`pool_seconds`: every ``stride``-th task from ``offset``."""
    from threadpoolctl import threadpool_limits

    text, path, offset, stride = args
    sweep = parse_spec(text)
    tasks = list(iter_tasks(sweep))[offset::stride]
    with threadpool_limits(limits=1, user_api="blas"):
        for task in tasks:
            values, orders, status, certified = compute_task(sweep, task, "numpy")
            experiment = sweep.experiments[task.experiment]
            store.write_task(
                Path(path),
                experiment,
                task,
                values,
                orders,
                status,
                token=sweep.digest,
                certified=certified,
            )
    return 0.0


def pool_seconds(sweep: Sweep, path: Path, workers: int) -> float:
    """The same loop split over ``workers`` plain processes, no Dask: what this machine
    gives for independent work on that many cores (shared caches, memory bandwidth,
    hyperthreads). Wall seconds, process start included."""
    from concurrent.futures import ProcessPoolExecutor

    store.create(path, sweep)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(int, range(workers)))  # start the processes before timing
        started = time.perf_counter()
        parts = [(sweep.text, str(path), i, workers) for i in range(workers)]
        list(pool.map(_loop_part, parts))
    return time.perf_counter() - started


def engine_seconds(sweep: Sweep, path: Path, workers: int) -> tuple[float, float, float]:
    """Run through the engine on a fresh local cluster.

    Returns ``(total wall seconds, seconds from submission to last result, summed task
    seconds as measured inside the tasks)``.
    """
    report = run_sweep(sweep, path, workers=workers, show_progress=False, echo=lambda _: None)
    if report.failed or report.computed != report.total:
        raise RuntimeError(f"benchmark sweep did not complete: {report}")
    return report.seconds, report.execute_seconds, report.task_seconds


def calibrate(n: int, windows: int, target: float) -> int:
    """Samples per task so that one task takes about ``target`` seconds."""
    probe = make_sweep(n, 1, 1, windows)
    task = next(iter(iter_tasks(probe)))
    compute_task(probe, task, "numpy")  # warm up
    started = time.perf_counter()
    compute_task(probe, task, "numpy")
    per_sample = time.perf_counter() - started
    return max(1, round(target / per_sample))


def bench_sweep(
    workers: int = 2,
    task_seconds: float = 1.0,
    tasks: int = 24,
    n: int = 18,
    windows: int = 4,
    tiny_tasks: int = 200,
    out: Callable[[str], None] = print,
) -> dict[str, float]:
    """Measure and print parallel efficiency and per-task overhead (see module doc)."""
    per_task = calibrate(n, windows, task_seconds)
    sweep = make_sweep(n, tasks, per_task, windows)
    tiny = make_sweep(6, tiny_tasks, 1, 1)
    scratch = Path(tempfile.mkdtemp(prefix="nqs-ent-bench-"))
    try:
        baseline = loop_seconds(sweep, scratch / "loop.zarr")
        pooled = pool_seconds(sweep, scratch / "pool.zarr", workers)
        total, busy, inside = engine_seconds(sweep, scratch / "dask.zarr", workers)
        _, tiny_busy, tiny_inside = engine_seconds(tiny, scratch / "tiny.zarr", workers)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    efficiency = baseline / (workers * busy)
    hardware = baseline / (workers * pooled)
    overhead = (workers * tiny_busy - tiny_inside) / tiny_tasks
    results = {
        "task_seconds": baseline / tasks,
        "baseline_seconds": baseline,
        "engine_seconds": busy,
        "engine_total_seconds": total,
        "efficiency": efficiency,
        "efficiency_total": baseline / (workers * total),
        "pool_seconds": pooled,
        "hardware_efficiency": hardware,
        "dask_vs_pool": pooled / busy,
        "overhead_seconds": overhead,
    }
    out(
        f"sweep: {tasks} tasks of {per_task} samples (SN-NQS, n = {n}, {windows} windows), "
        f"{workers} workers"
    )
    out(f"  single-process loop      {baseline:8.2f} s   ({baseline / tasks:.2f} s per task)")
    out(
        f"  {workers} plain processes, no Dask{pooled:6.2f} s   efficiency {hardware:6.1%}"
        "   (what the cores give for independent work)"
    )
    out(
        f"  dask, submission to end  {busy:8.2f} s   efficiency {efficiency:6.1%}"
        f"   ({pooled / busy:.1%} of the plain processes' speed)"
    )
    out(
        f"  dask, incl. cluster start{total:8.2f} s   efficiency {results['efficiency_total']:6.1%}"
    )
    out(f"  tasks' own time (inside) {inside:8.2f} s")
    out(
        f"per-task overhead: {tiny_tasks} tiny tasks in {tiny_busy:.2f} s on {workers} workers, "
        f"{tiny_inside:.2f} s inside them: {overhead * 1e3:.1f} ms per task"
    )
    verdict = "PASS" if efficiency >= EFFICIENCY_TARGET else "MISS"
    out(
        f"target >= 90% efficiency for tasks >= 1 s: {verdict} ({efficiency:.1%} against one "
        f"process; Dask itself keeps {pooled / busy:.1%} of what {workers} plain processes do)"
    )
    return results
