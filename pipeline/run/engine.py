"""Run a sweep on a Dask cluster: plan, open the store, submit tasks, resume, report.

The driver never holds result arrays: each task computes its samples on a worker, writes
its own chunks of the store, marks itself done and returns a small summary. Submission is
bounded (at most ``max_in_flight`` futures exist at once), so a sweep of 10^5 tasks never
floods the scheduler. SIGTERM, SIGINT and SIGUSR1 (SLURM's warning signal) stop the
submission; tasks already running finish and are recorded, and the run reports itself
interrupted (exit status 75 from the CLI) so that a rerun resumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import store
from pipeline.numerics import provenance
from pipeline.numerics.xp import resolve_backend
from pipeline.run.clusters import CONNECT_TIMEOUT, default_workers, open_client, worker_memory
from pipeline.run.progress import progress
from pipeline.run.submit import Abandon, _signals_handled, _StopFlag, executing_keys, submit_bounded
from pipeline.run.worker import run_task
from pipeline.sweep.plan import (
    Task,
    check_memory,
    check_scale,
    format_bytes,
    iter_tasks,
    peak_task_bytes,
)
from pipeline.sweep.spec import SpecError, Sweep

log = logging.getLogger("nqs_ent")


@dataclass
class RunReport:
    """What a run did."""

    total: int = 0
    skipped: int = 0
    repaired: int = 0
    computed: int = 0
    not_ok: int = 0
    """Samples of the computed tasks whose state could not be normalised (NaN entropies,
    their cause in ``sample_status``)."""
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    """Wall time of the whole run, cluster start and shutdown included."""
    execute_seconds: float = 0.0
    """Wall time from the first submission to the last result."""
    task_seconds: float = 0.0
    """Sum of the tasks' own run times, measured inside them."""


@dataclass(frozen=True)
class Selection:
    """The part of a sweep a run is restricted to (``--only``): whole experiments, or
    some of their sizes and grid points.

    ``points`` maps an experiment's index to its alternatives; each alternative maps
    ``"n"`` or a swept hyperparameter to the axis positions it keeps (absent: all). It
    contains the indices of its experiments, so it passes where a set of them does.
    """

    points: dict[int, tuple[dict[str, frozenset[int]], ...]]
    label: str = ""
    """The selection as the user wrote it, for the run's report ("" for everything)."""

    def __contains__(self, index: object) -> bool:
        return index in self.points

    def whole(self, index: int) -> bool:
        """Whether every task of experiment ``index`` is selected."""
        return any(not alternative for alternative in self.points.get(index, ()))

    def wants(self, sweep: Sweep, task: Task) -> bool:
        """Whether ``task`` is in the selection."""
        if self.whole(task.experiment):
            return True
        experiment = sweep.experiments[task.experiment]
        positions = {"n": task.n_index}
        positions.update(
            (key, i) for (key, _), i in zip(experiment.hyper_axes, task.grid_index, strict=True)
        )
        return any(
            all(positions[key] in kept for key, kept in alternative.items())
            for alternative in self.points.get(task.experiment, ())
        )

    def tasks(self, sweep: Sweep) -> Iterator[Task]:
        """The selected tasks in the sweep's order (lazily)."""
        return (task for task in iter_tasks(sweep, self) if self.wants(sweep, task))

    def partial(self) -> Selection:
        """The experiments of which only some tasks are selected."""
        return Selection({i: p for i, p in self.points.items() if not self.whole(i)})

    def count(self, sweep: Sweep) -> int:
        """How many tasks are selected (only partly selected experiments are counted task
        by task)."""
        whole = sum(sweep.experiments[i].n_tasks for i in self.points if self.whole(i))
        return whole + sum(1 for _ in self.partial().tasks(sweep))


def _axis_positions(values: Sequence[Any], text: str) -> frozenset[int]:
    """Positions on an axis whose value is written ``text`` (``1`` matches 1 and 1.0)."""

    def same(value: Any) -> bool:
        if str(value) == text:
            return True
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(text) == value
            except ValueError:
                return False
        return False

    return frozenset(i for i, value in enumerate(values) if same(value))


def select_experiments(sweep: Sweep, only: Sequence[str] | None) -> Selection:
    """The tasks named by ``only`` (everything when ``only`` is None).

    Each item is an experiment's name, optionally followed by ``:KEY=VALUE`` terms that
    keep one size (``n=32``) or one value of a swept hyperparameter (``hidden=1``);
    terms on the same key may be repeated to keep several values. ``mlp:n=32`` runs the
    ``mlp`` experiment at ``n = 32`` only; ``tanhnet:hidden=1,mlp`` runs the ``hidden = 1``
    grid points of ``tanhnet`` and every task of ``mlp``.
    """
    if only is None:
        return Selection({e.index: ({},) for e in sweep.experiments})
    names = {e.name: e for e in sweep.experiments}
    parsed = [[part.strip() for part in item.split(":")] for item in only]
    unknown = [name for name, *_ in parsed if name not in names]
    if unknown or not only:
        raise SpecError(
            f"--only: no experiment {', '.join(map(repr, unknown)) or 'given'} in spec "
            f"{sweep.name!r} (its experiments: {', '.join(names)})"
        )
    points: dict[int, tuple[dict[str, frozenset[int]], ...]] = {}
    for item, (name, *terms) in zip(only, parsed, strict=True):
        experiment = names[name]
        axes = {"n": experiment.n, **dict(experiment.hyper_axes)}
        kept: dict[str, frozenset[int]] = {}
        for term in terms:
            key, equals, text = (part.strip() for part in term.partition("="))
            if not equals or key not in axes:
                raise SpecError(
                    f"--only {item!r}: {term!r} is not KEY=VALUE with KEY one of "
                    f"{', '.join(axes)} (the sizes and swept hyperparameters of {name!r})"
                )
            positions = _axis_positions(axes[key], text)
            if not positions:
                raise SpecError(
                    f"--only {item!r}: {key} = {text} is not swept by {name!r} "
                    f"(its values: {', '.join(map(str, axes[key]))})"
                )
            kept[key] = kept.get(key, frozenset()) | positions
        points[experiment.index] = (*points.get(experiment.index, ()), kept)
    return Selection(points, ",".join(only))


@dataclass
class Pending:
    """The tasks a resume still has to run, found from the store's files."""

    tasks: Iterator[Task]
    """The tasks to run, lazily, in the sweep's order."""
    count: int
    """How many ``tasks`` yields."""
    skipped: int
    """Tasks done and whole: not run again."""
    repaired: list[str]
    """Keys of tasks flagged done whose chunks are damaged: cleared, to be recomputed."""


def pending_tasks(path: Path, sweep: Sweep, selected: Selection) -> Pending:
    """Tasks still to run, with the counts of done tasks skipped and damaged ones redone.

    Only the tasks in ``selected`` are considered (:func:`select_experiments`). The
    ``done`` flags come from the chunk files (:func:`pipeline.store.read_done`); a task
    flagged done whose chunks no longer match their checksums (changed, truncated or
    deleted on disk) has its flag cleared here (in every task of a selected experiment)
    and is among the tasks to run if selected. Memory grows with the number of tasks
    only by the flags (one byte each), never by a list of tasks.
    """
    done: dict[int, np.ndarray] = {}
    repaired: list[str] = []
    for experiment in sweep.experiments:
        if experiment.index not in selected:
            continue
        flags = store.read_done(path, experiment)
        for index in sorted(store.damaged_tasks(path, experiment, flags)):
            *lead, block = index
            start, stop = experiment.block_range(block)
            task = Task(experiment.index, lead[0], tuple(lead[1:]), block, start, stop)
            repaired.append(task.key(sweep))
            log.warning(
                "task %s was marked done but its data are damaged; recomputing", repaired[-1]
            )
            store.reset_task(path, experiment, task)
            flags[index] = False
        done[experiment.index] = flags

    def undone(task: Task) -> bool:
        return not done[task.experiment][(*store.task_index(task), task.block)]

    total = remaining = 0
    for index, flags in done.items():
        if selected.whole(index):
            total += flags.size
            remaining += int(flags.size - flags.sum())
    for task in selected.partial().tasks(sweep):
        total += 1
        remaining += undone(task)

    def todo() -> Iterator[Task]:
        return (task for task in selected.tasks(sweep) if undone(task))

    return Pending(todo(), remaining, total - remaining, repaired)


def run_sweep(
    sweep: Sweep,
    path: Path,
    *,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    cluster: str = "local",
    workers: int | None = None,
    memory_limit: int | None = None,
    backend: str | None = None,
    max_in_flight: int | None = None,
    stop_after: int | None = None,
    only: Sequence[str] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    show_progress: bool = True,
    echo: Callable[[str], None] = print,
) -> RunReport:
    """Run (or resume) ``sweep`` into the store at ``path``.

    ``only`` restricts the run to the named experiments; the store is still the whole
    spec's, and a later run without ``only`` computes the rest.

    Order of events: every check that can be made without a cluster runs first and
    read-only (the sweep's scale, the largest task against a local worker's memory, the
    store's spec, its location and free space, its lock); then the cluster is reached
    (a running scheduler within ``connect_timeout`` seconds) and the store locked; only
    then is anything printed or written. So invalid input raises
    :class:`pipeline.sweep.spec.SpecError`, :class:`pipeline.sweep.plan.PlanError`,
    :class:`pipeline.store.StoreError`, :class:`ClusterError` or
    :class:`pipeline.numerics.xp.BackendError` with the store untouched.

    A new store is created (:mod:`pipeline.store.schema`); an existing one of the same
    spec digest is resumed: tasks done and whole are skipped, tasks flagged done whose
    chunks are damaged are cleared and computed again. Each task runs on a worker, which
    writes its own chunks; the driver keeps at most ``max_in_flight`` tasks submitted.
    SIGTERM, SIGINT and SIGUSR1 stop the submission; running tasks finish and are
    recorded, and the report says ``interrupted`` (rerun to resume).

    Parameters
    ----------
    sweep : Sweep
        The validated spec (:func:`pipeline.sweep.validate.load_spec`).
    path : pathlib.Path
        The Zarr store to create or resume (a directory).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://HOST:8786``) to use instead of
        starting a cluster.
    scheduler_file : str, optional
        A Dask scheduler file naming that address.
    cluster : {"local", "slurm", "local-cuda"}, default "local"
        The cluster to start when no scheduler is given: a ``LocalCluster`` of one-thread
        worker processes, SLURM jobs (:mod:`pipeline.run.slurm`) or ``dask-cuda``.
    workers : int, optional
        Number of workers; default one per core for a local cluster.
    memory_limit : int, optional
        Memory limit per worker in bytes; default an equal share of the machine's memory
        for a local cluster.
    backend : {"numpy", "cupy", "auto"}, optional
        Overrides the spec's ``backend``. ``auto`` is resolved here; ``cupy`` is checked
        here for a local run, and by the workers where they run otherwise.
    max_in_flight : int, optional
        Most tasks submitted at once; default ``max(4, 2 * worker threads)``.
    stop_after : int, optional
        Stop submitting once this many tasks have finished (a partial run, resumable).
    only : sequence of str, optional
        The experiments to run, each optionally restricted to some sizes or grid points
        (``"mlp:n=32"``, ``"tanhnet:hidden=1"``; :func:`select_experiments`); default all.
    connect_timeout : float, default ``CONNECT_TIMEOUT`` (30 s)
        Seconds to wait for a running scheduler.
    show_progress : bool, default True
        Show a progress bar of the tasks.
    echo : callable, default print
        Receives each line the run reports (plan, store, dashboard, stop).

    Returns
    -------
    RunReport
        Task counts (``total``, ``skipped``, ``repaired``, ``computed``), ``not_ok``
        samples, ``failed`` task messages, ``interrupted``, and wall times in seconds
        (``seconds``, ``execute_seconds``, ``task_seconds``).

    Raises
    ------
    SpecError
        When ``only`` names no experiment of the spec (or is empty).
    PlanError
        When the sweep has too many tasks, too large a chunk, or a task larger than a
        worker's memory.
    StoreError
        When ``path`` is not a store of this spec, is locked by another run, cannot be
        written or lacks the space.
    ClusterError
        When the scheduler cannot be reached within ``connect_timeout`` or the cluster
        cannot be started.
    BackendError
        When a local run asks for ``cupy`` without a usable GPU.
    ValueError
        For an unknown ``cluster``.

    Examples
    --------
    >>> from pathlib import Path
    >>> from pipeline import load_spec
    >>> sweep = load_spec("workflows/quickstart.toml")  # doctest: +SKIP
    >>> report = run_sweep(sweep, Path("data/runs/quickstart.zarr"), workers=4)  # doctest: +SKIP
    >>> report.failed, report.interrupted  # doctest: +SKIP
    ([], False)
    """
    started = time.perf_counter()
    selected = select_experiments(sweep, only)
    local = not scheduler and not scheduler_file and cluster == "local"
    # Remote workers resolve the backend where they run (a login node may have no GPU);
    # a local run checks it here, before anything is written.
    backend = backend or sweep.backend
    if local or backend == "auto":
        backend = resolve_backend(backend)
    estimate = check_scale(sweep)
    peak, _ = peak_task_bytes(sweep)
    if local:
        check_memory(sweep, worker_memory(workers or default_workers(), memory_limit))
    creating = store.check_compatible(path, sweep) == "create"  # read-only from here on
    store.check_location(path)
    if creating:
        store.check_space(path, estimate)
    store.check_unlocked(path)
    report = RunReport()
    client_options: dict[str, Any] = dict(
        scheduler=scheduler,
        scheduler_file=scheduler_file,
        cluster=cluster,
        workers=workers,
        memory_limit=memory_limit,
        cluster_options=sweep.cluster,
        gpu=backend == "cupy",
        connect_timeout=connect_timeout,
    )
    with open_client(**client_options) as client, store.locked(path):
        if not local:
            limits = [
                w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()
            ]
            if any(limits):
                check_memory(sweep, min(limit for limit in limits if limit))
        mode = store.check_compatible(path, sweep)  # again, now that the store is ours
        echo(f"plan: {sweep.n_tasks} tasks, largest about {format_bytes(peak)} per task")
        if only is not None:
            echo(f"only: {selected.label}")
        platforms = _worker_platforms(client)
        if mode == "create":
            store.create(path, sweep, platforms)
            echo(f"store: created {path}")
            todo: Iterator[Task] = selected.tasks(sweep)
            count = report.total = selected.count(sweep)
        else:
            for key in store.add_worker_platforms(path, platforms):
                log.warning(
                    "resuming on another platform (%s): new tasks may differ from the earlier "
                    "ones in the last bits (see pipeline.numerics.provenance)",
                    key,
                )
            pending = pending_tasks(path, sweep, selected)
            todo, count = pending.tasks, pending.count
            report.skipped, report.repaired = pending.skipped, len(pending.repaired)
            report.total = pending.count + pending.skipped
            echo(
                f"store: resuming {path}: {report.skipped} of {report.total} tasks already "
                f"done and skipped, {count} to run"
                + (f" ({report.repaired} damaged, recomputed)" if report.repaired else "")
            )
        if count:
            _execute(
                client,
                sweep,
                path,
                todo,
                count,
                report,
                backend,
                echo,
                show_progress,
                max_in_flight,
                stop_after,
            )
    report.seconds = time.perf_counter() - started
    return report


def _worker_platforms(client: Any) -> list[dict[str, Any]]:
    """The :func:`pipeline.numerics.provenance.platform` record of every connected worker."""
    try:
        return list(client.run(provenance.platform).values())
    except Exception as error:  # a worker without our package: record nothing
        log.warning("could not ask the workers for their BLAS and SIMD level (%s)", error)
        return []


def _execute(
    client: Any,
    sweep: Sweep,
    path: Path,
    todo: Iterator[Task],
    count: int,
    report: RunReport,
    backend: str,
    echo: Callable[[str], None],
    show_progress: bool,
    max_in_flight: int | None,
    stop_after: int | None,
) -> None:
    flag = _StopFlag()
    with _signals_handled(flag):
        echo(f"dask: dashboard at {client.dashboard_link}")
        threads = sum(client.nthreads().values()) or 1
        in_flight = max_in_flight or max(4, 2 * threads)
        resources = {"GPU": 1} if backend == "cupy" else None
        store_path = str(path.resolve())

        def make_future(task: Task) -> Any:
            return client.submit(
                run_task,
                store_path,
                sweep.digest,
                task,
                backend,
                key=f"nqs-ent-{sweep.digest[:8]}-{task.key(sweep)}",
                pure=False,
                resources=resources,
                retries=1,
            )

        bar = progress(count, echo, show_progress)

        def on_result(task: Task, result: dict[str, Any] | None, error: Any) -> None:
            if error is not None:
                report.failed.append(f"{task.key(sweep)}: {type(error).__name__}: {error}")
                log.error("task %s failed: %s", task.key(sweep), error)
            else:
                assert result is not None
                report.computed += 1
                report.not_ok += result.get("not_ok", 0)
                report.task_seconds += result["seconds"]
            bar.update(1)

        def withdraw(futures: list[Any]) -> None:
            try:
                running = {key for keys in client.run(executing_keys).values() for key in keys}
            except Exception as error:  # an old or foreign worker: wait for everything
                log.warning("could not ask the workers what runs (%s); waiting for all", error)
                return
            waiting = [future for future in futures if future.key not in running]
            client.cancel(waiting)
            log.warning(
                "withdrew %d submitted tasks that had not started; waiting for %d running",
                len(waiting),
                len(futures) - len(waiting),
            )

        submitted = time.perf_counter()
        with bar:
            try:
                report.interrupted = submit_bounded(
                    todo, make_future, in_flight, on_result, flag, stop_after, withdraw, bar.refresh
                )
            except Abandon:
                report.interrupted = True
        report.execute_seconds = time.perf_counter() - submitted
    if report.interrupted:
        remaining = count - report.computed - len(report.failed)
        echo(f"stopped early: {remaining} tasks left; run the same command again to resume")
