"""Run a sweep on a Dask cluster: plan, open the store, submit tasks, resume, report.

The driver never holds result arrays: each task computes its samples on a worker, writes
its own chunks of the store, marks itself done and returns a small summary. Submission is
bounded (at most ``max_in_flight`` futures exist at once), so a sweep of 10^5 tasks never
floods the scheduler. SIGTERM, SIGINT and SIGUSR1 (SLURM's warning signal) stop the
submission; tasks already running finish and are recorded, and the run exits with
:data:`EXIT_INTERRUPTED` so that a rerun resumes.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import provenance, store
from pipeline.architectures import get_architecture
from pipeline.compute import SAMPLE_STATUS, SubsystemPlan, sample_entropies
from pipeline.plan import Task, check_memory, check_scale, format_bytes, iter_tasks, peak_task_bytes
from pipeline.spec import Experiment, SpecError, Sweep, parse_spec
from pipeline.xp import complex_dtype, namespace, resolve_backend

log = logging.getLogger("nqs_ent")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: stopped early, rerun to resume


# --------------------------------------------------------------------- worker side


_SWEEPS: dict[tuple[str, str], tuple[Sweep, int]] = {}


def _sweep_of(store_path: str, digest: str) -> tuple[Sweep, int]:
    """The sweep a store was created from and the store's format, read once per worker
    process."""
    key = (store_path, digest)
    if key not in _SWEEPS:
        attrs = store.read_root_attrs(Path(store_path))
        if attrs is None or attrs.get("spec_digest") != digest:
            raise store.StoreError(f"{store_path} no longer holds the sweep {digest[:12]}")
        sweep = parse_spec(attrs["spec_text"], source=f"{store_path} (spec)")
        _SWEEPS[key] = (sweep, int(attrs.get("nqs_ent_format", 1)))
    return _SWEEPS[key]


def subsystem_plan(experiment: Experiment, n: int) -> SubsystemPlan:
    """The compute layer's view of an experiment's subsystem spec at size ``n``."""
    spec = experiment.subsystem
    return SubsystemPlan(
        kind=spec.kind,
        sizes=spec.sizes(n),
        windows=spec.n_windows,
        sites=tuple(spec.sites or ()),
    )


def compute_task(
    sweep: Sweep, task: Task, backend: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entropies ``(samples, measures, m, windows)``, orderings ``(samples, windows, n)``
    and status codes ``(samples,)`` (:data:`pipeline.compute.SAMPLE_STATUS`) of one
    task's samples.

    BLAS runs single-threaded inside a task, so the numbers are bit-identical however the
    sweep is spread over workers; parallelism comes from running tasks side by side.
    """
    from threadpoolctl import threadpool_limits

    experiment = sweep.experiments[task.experiment]
    n = experiment.n[task.n_index]
    hyper = experiment.hyper_at(task.grid_index)
    architecture = get_architecture(experiment.architecture)
    plan = subsystem_plan(experiment, n)
    xp = namespace(resolve_backend(backend))
    dtype = complex_dtype(xp, sweep.dtype)
    values, orders, status = [], [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for sample in range(task.start, task.stop):
            spawn_key = (experiment.index, n, *task.grid_index, sample)
            v, o, code = sample_entropies(
                architecture,
                hyper,
                n,
                plan,
                experiment.all_sizes(),
                experiment.measures,
                sweep.seed,
                spawn_key,
                xp,
                dtype,
            )
            values.append(v)
            orders.append(o)
            status.append(code)
    return np.stack(values), np.stack(orders), np.asarray(status, dtype=np.int8)


def run_task(store_path: str, digest: str, task: Task, backend: str) -> dict[str, Any]:
    """Worker entry point: compute one task, write it to the store, return a summary."""
    started = time.perf_counter()
    sweep, format_version = _sweep_of(store_path, digest)
    values, orders, status = compute_task(sweep, task, backend)
    experiment = sweep.experiments[task.experiment]
    store.write_task(
        Path(store_path),
        experiment,
        task,
        values,
        orders,
        status,
        token=digest,
        format_version=format_version,
    )
    return {
        "key": task.key(sweep),
        "samples": task.stop - task.start,
        "not_ok": int(np.sum(status != SAMPLE_STATUS.index("ok"))),
        "seconds": time.perf_counter() - started,
        "pid": os.getpid(),
    }


# ---------------------------------------------------------------------- driver side


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

    @property
    def exit_code(self) -> int:
        if self.failed:
            return EXIT_FAILED
        return EXIT_INTERRUPTED if self.interrupted else EXIT_OK


def select_experiments(sweep: Sweep, only: Sequence[str] | None) -> set[int]:
    """Indices of the experiments named in ``only`` (all of them when ``only`` is None)."""
    if only is None:
        return {e.index for e in sweep.experiments}
    names = {e.name: e.index for e in sweep.experiments}
    unknown = [name for name in only if name not in names]
    if unknown or not only:
        raise SpecError(
            f"--only: no experiment {', '.join(map(repr, unknown)) or 'given'} in spec "
            f"{sweep.name!r} (its experiments: {', '.join(names)})"
        )
    return {names[name] for name in only}


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


def pending_tasks(path: Path, sweep: Sweep, selected: set[int]) -> Pending:
    """Tasks still to run, with the counts of done tasks skipped and damaged ones redone.

    Only the experiments whose indices are in ``selected`` are considered
    (:func:`select_experiments`). The ``done`` flags come from the chunk files
    (:func:`pipeline.store.read_done`); a task flagged done whose chunks no longer match
    their checksums (changed, truncated or deleted on disk) has its flag cleared here and
    is among the tasks to run. Memory grows with the number of tasks only by the flags
    (one byte each), never by a list of tasks.
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
    remaining = sum(int(flags.size - flags.sum()) for flags in done.values())
    total = sum(sweep.experiments[i].n_tasks for i in done)

    def todo() -> Iterator[Task]:
        for task in iter_tasks(sweep, selected):
            if not done[task.experiment][(*store.task_index(task), task.block)]:
                yield task

    return Pending(todo(), remaining, total - remaining, repaired)


class Abandon(Exception):
    """Raised by a second stop signal: leave running tasks behind."""


class _StopFlag:
    """Set by SIGTERM/SIGINT/SIGUSR1; a second signal abandons running tasks."""

    def __init__(self) -> None:
        self.stop = False

    def __call__(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.stop:
            log.warning("%s again: abandoning running tasks", name)
            raise Abandon(name)
        self.stop = True
        log.warning(
            "%s: submitting no more tasks; waiting for running ones (send it again to stop "
            "at once)",
            name,
        )


@contextlib.contextmanager
def _signals_handled(flag: _StopFlag) -> Iterator[None]:
    names = ("SIGTERM", "SIGINT", "SIGUSR1")
    previous = {}
    for name in names:
        number = getattr(signal, name)
        with contextlib.suppress(ValueError):  # not in the main thread
            previous[number] = signal.signal(number, flag)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


POLL_SECONDS = 0.5
"""How often the submission loop wakes to check for a stop signal while tasks run."""


def executing_keys(dask_worker: Any) -> list[str]:
    """Keys of the tasks a worker is running right now (run on workers via ``client.run``)."""
    return [task.key for task in dask_worker.state.executing]


def submit_bounded(
    tasks: Iterable[Task],
    make_future: Callable[[Task], Any],
    max_in_flight: int,
    on_result: Callable[[Task, dict[str, Any] | None, BaseException | None], None],
    flag: _StopFlag,
    stop_after: int | None = None,
    withdraw: Callable[[list[Any]], None] | None = None,
) -> bool:
    """Keep at most ``max_in_flight`` tasks on the cluster until all are done, or until
    ``flag.stop`` is set. Then ``withdraw(futures)`` is called once, within
    ``POLL_SECONDS``, to cancel the submitted tasks that have not started; the running ones
    are awaited. Cancelled futures are dropped silently. Returns whether it stopped
    early."""
    from distributed import wait
    from distributed.client import FuturesCancelledError

    queue = iter(tasks)
    futures: dict[Any, Task] = {}

    def top_up() -> None:
        while not flag.stop and len(futures) < max_in_flight:
            task = next(queue, None)
            if task is None:
                return
            futures[make_future(task)] = task

    top_up()
    finished = dropped = 0
    withdrawn = False
    while futures:
        if flag.stop and not withdrawn:
            withdrawn = True
            if withdraw is not None:
                withdraw(list(futures))
        try:
            done = wait(list(futures), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            continue
        except FuturesCancelledError:
            done = {future for future in futures if future.done()}
        for future in done:
            task = futures.pop(future)
            if future.cancelled():
                dropped += 1
                continue
            try:
                result = future.result()
            except Exception as error:  # the task's own error, reported per task
                on_result(task, None, error)
            else:
                on_result(task, result, None)
            finished += 1
            if stop_after is not None and finished >= stop_after:
                flag.stop = True
        top_up()
    return flag.stop and (dropped > 0 or next(queue, None) is not None)


def default_workers() -> int:
    """One worker per core (tasks run single-threaded BLAS)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def machine_memory() -> int:
    """Physical memory of this machine in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def worker_memory(workers: int, memory_limit: int | None) -> int:
    """Memory limit per local worker: given, or an equal share of the machine."""
    return memory_limit if memory_limit else machine_memory() // max(1, workers)


CONNECT_TIMEOUT = 30.0
"""Seconds to wait for a running scheduler (``--scheduler``, ``--scheduler-file``)."""


class ClusterError(RuntimeError):
    """The cluster cannot be reached or started (reported on one line, exit status 2)."""


def scheduler_address(scheduler_file: str) -> str:
    """The address written in a Dask scheduler file; :class:`ClusterError` if unreadable."""
    import json

    try:
        with open(scheduler_file, encoding="utf-8") as handle:
            address = json.load(handle)["address"]
    except FileNotFoundError:
        raise ClusterError(
            f"scheduler file {scheduler_file} does not exist; start the scheduler with "
            "--scheduler-file, or give its address with --scheduler"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = "no 'address' in it" if isinstance(error, KeyError | TypeError) else error
        raise ClusterError(
            f"scheduler file {scheduler_file} is not a Dask scheduler file ({reason})"
        ) from None
    if not isinstance(address, str):
        raise ClusterError(f"scheduler file {scheduler_file}: its 'address' is not a string")
    return address


def connect(address: str, timeout: float = CONNECT_TIMEOUT, source: str = "") -> Any:
    """A ``distributed.Client`` on the scheduler at ``address``, giving up after
    ``timeout`` seconds with a :class:`ClusterError` that names the address."""
    from distributed import Client
    from distributed.comm import parse_address

    where = f" (from {source})" if source else ""
    try:
        parse_address(address, strict=True)
    except (ValueError, TypeError) as error:
        raise ClusterError(
            f"{address!r}{where} is not a Dask scheduler address ({error}); expected e.g. "
            "tcp://HOST:8786"
        ) from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address}{where} within {timeout:g} s "
            f"({type(error).__name__}); is it running? (--connect-timeout sets the wait)"
        ) from None


@contextlib.contextmanager
def open_client(
    *,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    cluster: str = "local",
    workers: int | None = None,
    memory_limit: int | None = None,
    cluster_options: dict[str, Any] | None = None,
    gpu: bool = False,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """A ``distributed.Client`` on the requested cluster, closed on exit.

    A running scheduler (``scheduler`` address or ``scheduler_file``) must answer within
    ``connect_timeout`` seconds, else :class:`ClusterError`. ``gpu`` asks SLURM workers
    for one GPU each and a ``GPU`` resource (CuPy backend)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler or scheduler_file:
        if scheduler_file:
            client = connect(scheduler_address(scheduler_file), connect_timeout, scheduler_file)
        else:
            client = connect(str(scheduler), connect_timeout)
        try:
            yield client
        finally:
            client.close()
        return
    if cluster == "slurm":
        from pipeline.slurm import start_slurm_cluster

        with start_slurm_cluster(cluster_options or {}, workers, gpu=gpu) as slurm_cluster:
            client = Client(slurm_cluster)
            try:
                yield client
            finally:
                client.close()
        return
    if cluster == "local-cuda":
        from dask_cuda import LocalCUDACluster

        with LocalCUDACluster(resources={"GPU": 1}) as cuda_cluster, Client(cuda_cluster) as c:
            yield c
        return
    if cluster != "local":
        raise ValueError(f"unknown cluster {cluster!r}; use local, slurm or local-cuda")
    n_workers = workers or default_workers()
    # distributed sets MALLOC_TRIM_THRESHOLD_ in workers, which switches off glibc's
    # dynamic mmap threshold: every multi-MB state vector then becomes a fresh mmap with
    # page faults, and tasks ran 10-17 % slower than the same loop outside Dask
    # (`nqs-ent bench sweep`). Our workers keep glibc's defaults.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        local = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=worker_memory(n_workers, memory_limit),
            dashboard_address=":0",
            host="127.0.0.1",
        )
    client = Client(local)
    try:
        yield client
    finally:
        _quiet_shutdown()
        client.close()
        local.close()


def _quiet_shutdown() -> None:
    """Workers closing at the end of a run are expected; keep their comm errors quiet."""
    for name in ("distributed", "distributed.batched", "distributed.nanny", "tornado"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


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
    :class:`pipeline.spec.SpecError`, :class:`pipeline.plan.PlanError`,
    :class:`pipeline.store.StoreError`, :class:`ClusterError` or
    :class:`pipeline.xp.BackendError` with the store untouched.
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
            names = ", ".join(e.name for e in sweep.experiments if e.index in selected)
            echo(f"only: {names}")
        platforms = _worker_platforms(client)
        if mode == "create":
            store.create(path, sweep, platforms)
            echo(f"store: created {path}")
            todo: Iterator[Task] = iter_tasks(sweep, selected)
            count = report.total = sum(sweep.experiments[i].n_tasks for i in selected)
        else:
            for key in store.add_worker_platforms(path, platforms):
                log.warning(
                    "resuming on another platform (%s): new tasks may differ from the earlier "
                    "ones in the last bits (see pipeline.provenance)",
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
    """The :func:`pipeline.provenance.platform` record of every connected worker."""
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
    from tqdm import tqdm

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

        import sys

        bar = tqdm(
            total=count,
            mininterval=0.2 if sys.stderr.isatty() else 15.0,
            unit="task",
            desc="tasks",
            disable=not show_progress,
            dynamic_ncols=True,
            smoothing=0.1,
        )

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
                    todo, make_future, in_flight, on_result, flag, stop_after, withdraw
                )
            except Abandon:
                report.interrupted = True
        report.execute_seconds = time.perf_counter() - submitted
    if report.interrupted:
        remaining = count - report.computed - len(report.failed)
        echo(f"stopped early: {remaining} tasks left; run the same command again to resume")


def summary_table(path: Path, sweep: Sweep) -> str:
    """Mean +- standard error (over samples, of the mean over windows) of the first
    measure at the largest size of each ``(experiment, n, grid point)``, with the number
    of samples averaged against the number asked for. Samples whose state could not be
    normalised are counted by cause below the table."""
    from pipeline.analysis import ensemble_stats, status_counts
    from pipeline.spec import measure_variable

    tree = store.load(path)
    lines = [
        f"{'experiment':<18} {'n':>3} {'grid point':<22} {'k':>5} {'m':>3}  "
        f"{'measure':<8} {'mean':>8} {'SE':>8} {'samples':>9}  done"
    ]
    not_ok: dict[str, int] = {}
    for experiment in sweep.experiments:
        ds = tree[experiment.name].ds
        measure = experiment.measures[0]
        stats = ensemble_stats(ds[measure_variable(measure)])
        keys = [key for key, _ in experiment.hyper_axes]
        for n_index, n in enumerate(experiment.n):
            m = max(experiment.subsystem.sizes(n))
            for grid_index in itertools.product(*(range(s) for s in experiment.grid_shape)):
                lead = {"n": n_index, **dict(zip(keys, grid_index, strict=True))}
                point = ",".join(
                    f"{key}={ds[key].values[i]}" for key, i in zip(keys, grid_index, strict=True)
                )
                k = int(ds["k"].isel(lead))
                done = int(ds["done"].isel(lead).sum())
                row = stats.isel(lead).sel(m=m)
                samples = f"{int(row['count'])}/{experiment.samples}"
                lines.append(
                    f"{experiment.name:<18} {n:>3} {(point or '-')[:22]:<22} "
                    f"{(k if k >= 0 else '-'):>5} {m:>3}  {measure:<8} "
                    f"{_fmt(row['mean']):>8} {_fmt(row['se']):>8} {samples:>9}  "
                    f"{done}/{ds.sizes['block']}"
                )
        for cause, count in status_counts(ds).items():
            if cause not in ("ok", "pending") and count:
                not_ok[f"{experiment.name}: {cause}"] = count
    if not_ok:
        causes = ", ".join(f"{key} {count}" for key, count in not_ok.items())
        lines.append(
            f"samples whose state could not be normalised (NaN entropies, not averaged): {causes}"
        )
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    value = float(np.asarray(value))
    return f"{value:.4f}" if math.isfinite(value) else "-"
