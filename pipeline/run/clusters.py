"""The clusters a run can use: a local ``LocalCluster`` (the default), a running scheduler
(address or scheduler file, within a bounded wait), ``local-cuda`` (dask-cuda) or SLURM
(dask-jobqueue, :mod:`pipeline.run.slurm`); and the workers' malloc policy.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.sweep.cluster import ClusterSpec

log = logging.getLogger("nqs_ent")


KEEP_MALLOC_DEFAULTS = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
"""The malloc policy of every worker we start: keep glibc's defaults. distributed sets
``MALLOC_TRIM_THRESHOLD_`` in its workers, which switches off glibc's dynamic mmap
threshold: every multi-MB state vector then becomes a fresh mmap with page faults, and
tasks ran 10-17 % slower than the same loop outside Dask (``nqs-ent bench sweep``). Local
workers get this Dask config; batch-script workers get it from
:func:`keep_malloc_defaults_shell`."""


HEAP_MMAP_THRESHOLD = 64 << 20
"""Allocations below this come from the heap (glibc's dynamic threshold stops at 32 MiB
and resets on a trim); larger ones (dense state vectors) stay fresh mmaps, returned to
the system when freed."""
HEAP_TRIM_THRESHOLD = 256 << 20
"""Free memory the heap keeps at its top before it is returned to the system: the most
a process holds beyond its live arrays."""
_heap_tuned = False


def keep_freed_memory() -> bool:
    """Let this process reuse freed temporaries instead of faulting in fresh pages.

    A network's evaluation allocates and frees megabyte temporaries thousands of times
    (every NumPy operation on a batch). With glibc's defaults the heap top is trimmed as
    soon as two of them are free, so the next ones are fresh pages, and first touch costs
    more than the arithmetic: ``tanh`` on a batch of 196k values took 24 ns a value
    against 7.5 ns into reused arrays on the Haswell CI machine (a VM, where page faults
    are dear). :data:`HEAP_MMAP_THRESHOLD` and :data:`HEAP_TRIM_THRESHOLD` through
    ``mallopt`` (which also ends the dynamic threshold) keep up to 256 MiB of freed
    memory for reuse. Called once per process by the CLI and by every sweep and
    streaming task; returns False (and changes nothing) where there is no glibc."""
    global _heap_tuned
    if _heap_tuned:
        return True
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    _heap_tuned = bool(
        mallopt(m_mmap_threshold, HEAP_MMAP_THRESHOLD)
        and mallopt(m_trim_threshold, HEAP_TRIM_THRESHOLD)
    )
    return _heap_tuned


def keep_malloc_defaults_shell(config_dir: str) -> list[str]:
    """:data:`KEEP_MALLOC_DEFAULTS` as shell lines for workers a batch script starts.

    Unless the user has a ``DASK_CONFIG`` of their own, write the policy as a Dask YAML
    file into ``config_dir`` (a shell word, expanded when the lines run) and point
    ``DASK_CONFIG`` at it. The variable itself is unset too: a process that once started
    a ``LocalCluster`` has it in its environment, and ``sbatch`` would pass it on.

    >>> print("\\n".join(keep_malloc_defaults_shell('"$WORK/dask"')))
    if [[ -z ${DASK_CONFIG:-} ]]; then
        unset MALLOC_TRIM_THRESHOLD_
        mkdir -p "$WORK/dask"
        printf '%s\\n' 'distributed:' '  nanny:' '    pre-spawn-environ:' \\
            '      MALLOC_TRIM_THRESHOLD_: null' >"$WORK/dask"/nqs-ent.yaml
        export DASK_CONFIG="$WORK/dask"
    fi
    """
    ((key, value),) = KEEP_MALLOC_DEFAULTS.items()
    *tables, name = key.split(".")
    yaml = [f"{'  ' * depth}{table}:" for depth, table in enumerate(tables)]
    leaf = f"{'  ' * len(tables)}{name}: {'null' if value is None else value}"
    return [
        "if [[ -z ${DASK_CONFIG:-} ]]; then",
        f"    unset {name}",
        f"    mkdir -p {config_dir}",
        "    printf '%s\\n' " + " ".join(f"'{line}'" for line in yaml) + " \\",
        f"        '{leaf}' >{config_dir}/nqs-ent.yaml",
        f"    export DASK_CONFIG={config_dir}",
        "fi",
    ]


CLUSTERS = ("local", "slurm", "local-cuda")
"""Kinds of cluster ``nqs-ent run --cluster`` starts (a running scheduler is the fourth
route: ``--scheduler`` or ``--scheduler-file``)."""


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
    cluster_options: ClusterSpec | None = None,
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
        from pipeline.run.slurm import start_slurm_cluster

        with start_slurm_cluster(cluster_options, workers, gpu=gpu) as slurm_cluster:
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
        raise ValueError(f"unknown cluster {cluster!r}; use one of {', '.join(CLUSTERS)}")
    n_workers = workers or default_workers()
    with dask.config.set(KEEP_MALLOC_DEFAULTS):
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
