"""SLURM job scripts and dask-jobqueue settings, pure functions of validated site options
(:mod:`pipeline.run.site`):

- :func:`render_header` -- the ``#SBATCH`` lines of the whole-sweep job. An option that
  is unset (no account, no GPUs, ...) renders no directive at all.
- :func:`render_sweep_script` -- header, rendered settings and the fixed body
  ``run/data/sweep-body.sh``: one allocation holding a Dask scheduler, one worker per task
  (per GPU) and the driver ``nqs-ent run``; requeues itself on the walltime warning.
- :func:`jobqueue_kwargs` -- keyword arguments for ``dask_jobqueue.SLURMCluster``, with
  workers that retire before SLURM kills them; :func:`start_slurm_cluster` starts one
  (``nqs-ent run SPEC --cluster slurm``).

The committed ``slurm/sweep.sbatch`` and ``slurm/sweep-gpu.sbatch`` are regenerated with::

    nqs-ent slurm render > slurm/sweep.sbatch
    nqs-ent slurm render --gpu > slurm/sweep-gpu.sbatch

Examples
--------
>>> options = SlurmOptions(partition="debug", walltime="02:00:00", memory="4G")
>>> print(render_header(options, ntasks=4))  # doctest: +NORMALIZE_WHITESPACE
#SBATCH --job-name=nqs-ent
#SBATCH --partition=debug
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=4G
#SBATCH --time=02:00:00
#SBATCH --requeue
#SBATCH --signal=B:USR1@300
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
>>> walltime_seconds("1-00:00:00")
86400
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from pipeline.run.clusters import ClusterError, keep_malloc_defaults_shell
from pipeline.run.site import load_site_config, package_file
from pipeline.sweep.cluster import (
    MEMORY_PATTERN,
    ClusterSpec,
    SlurmOptions,
    check_int,
    walltime_seconds,
)

JOBQUEUE_MALLOC = [
    "# Workers keep glibc's malloc defaults (pipeline.run.clusters.KEEP_MALLOC_DEFAULTS).",
    'nqs_ent_dask_config="$(mktemp -d)"',
    *keep_malloc_defaults_shell('"$nqs_ent_dask_config"'),
]
"""Job-script lines of the malloc policy for dask-jobqueue workers."""


def render_header(
    options: SlurmOptions,
    *,
    job_name: str | None = None,
    nodes: int | None = None,
    ntasks: int | None = None,
    gpus: int | None = None,
) -> str:
    """``#SBATCH`` lines of the whole-sweep job, one per set option.

    Unset options (no partition, no account, no memory, ``gpus = 0``) render nothing.
    The job always asks for ``--requeue`` and for ``SIGUSR1`` to the batch shell
    ``warning_seconds`` before its walltime (``--signal=B:USR1@N``), and appends to its
    output file, so a requeued run continues the same log. Memory is per worker, so it is
    requested per CPU (``--mem-per-cpu``, rounded up to a MiB). Keyword arguments override
    the options of the same name and are validated the same way.
    """
    changes: dict[str, Any] = {"job_name": job_name, "nodes": nodes, "ntasks": ntasks, "gpus": gpus}
    options = replace(options, **{k: v for k, v in changes.items() if v is not None})
    lines = [f"--job-name={options.job_name}"]
    if options.partition is not None:
        lines.append(f"--partition={options.partition}")
    if options.account is not None:
        lines.append(f"--account={options.account}")
    lines += [
        f"--nodes={options.nodes}",
        f"--ntasks={options.ntasks}",
        f"--cpus-per-task={options.cpus_per_task}",
    ]
    if options.memory is not None:
        per_cpu = math.ceil(_memory_mib(options.memory) / options.cpus_per_task)
        lines.append(f"--mem-per-cpu={_format_mib(per_cpu)}")
    if options.gpus:
        lines.append(f"--gpus-per-task={options.gpus}")
    lines += [
        f"--time={options.walltime}",
        "--requeue",
        f"--signal=B:USR1@{options.warning_seconds}",
        "--open-mode=append",
        "--output=%x-%j.out",
        *options.extra_directives,
    ]
    return "\n".join(f"#SBATCH {line}" for line in lines) + "\n"


def _shell_value(value: str | None) -> str:
    return shlex.quote(value or "")


GPU_CHECK = """\
import os, sys
try:
    import cupy
    n = cupy.cuda.runtime.getDeviceCount()
    why = "no CUDA device"
except Exception as exc:
    n, why = 0, f"{type(exc).__name__}: {exc}"
host, visible = os.uname().nodename, os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
if n < 1:
    sys.exit(f"no GPU visible on {host} (CUDA_VISIBLE_DEVICES={visible}): {why}")
print(f"{n} GPU(s) visible on {host} (CUDA_VISIBLE_DEVICES={visible})")
"""
"""Python code that exits with an error unless CuPy sees a GPU (both routes)."""


def render_sweep_script(
    options: SlurmOptions,
    spec: str | None = None,
    store: str | None = None,
    *,
    gpu: bool | None = None,
    body: str | None = None,
) -> str:
    """The whole-sweep batch script: shebang, header, settings, then the fixed body.

    Parameters
    ----------
    options
        Validated site options (``load_site_config(gpu=True)`` for the GPU variant).
    spec, store
        Baked in as defaults of the script's arguments ``SPEC STORE``; None leaves them
        required on the ``sbatch`` command line (the committed scripts).
    gpu
        Render the GPU variant: one worker per GPU with a ``GPU=1`` resource, the CuPy
        backend, and a check that fails the job when no GPU is visible. Default: true
        when the options ask for GPUs.
    body
        The script body; default: the packaged ``pipeline/run/data/sweep-body.sh``.
    """
    if gpu is None:
        gpu = options.gpus > 0
    if gpu and options.gpus < 1:
        raise ValueError(
            "the GPU sweep script needs 'gpus' >= 1 (set it in the [gpu] table of the site "
            "config and load it with gpu=True)"
        )
    if not gpu and options.gpus:
        raise ValueError(
            f"the options ask for {options.gpus} GPU(s) per task; render with gpu=True"
        )
    if body is None:
        body = package_file("sweep-body.sh")
    kind = "GPU variant, one worker per GPU" if gpu else "one worker per task"
    flag = " --gpu" if gpu else ""
    memory = _dask_bytes(options.memory) if options.memory else "auto"
    setup = "\n".join(f"    {line}" for line in options.setup) or "    :"
    parts = [
        "#!/usr/bin/env bash",
        f"# Whole-sweep allocation ({kind}): a Dask scheduler, the workers",
        "# and the driver `nqs-ent run` inside one job, which requeues itself on the walltime",
        "# warning; the rerun resumes from the store.",
        f"#   sbatch slurm/{'sweep-gpu' if gpu else 'sweep'}.sbatch SPEC STORE",
        f"# Rendered by `nqs-ent slurm render{flag}` from the site options and the body",
        "# pipeline/run/data/sweep-body.sh: edit those and render again, not this file.",
        render_header(options).rstrip("\n"),
        "",
        "# ---- settings rendered from the site options",
        f"IFACE={_shell_value(options.interface)}",
        f"GPU={int(gpu)}",
        f"BACKEND={'cupy' if gpu else 'numpy'}",
        f"PYTHON={shlex.quote(options.python or 'python3')}",
        f"WORKER_MEMORY={memory}",
        f"DEFAULT_SPEC={_shell_value(spec)}",
        f"DEFAULT_STORE={_shell_value(store)}",
        *(["# shellcheck disable=SC2089 # Python code, passed whole to python -c"] if gpu else []),
        f"GPU_CHECK={_shell_value(GPU_CHECK if gpu else None)}",
        "site_setup() {",
        setup,
        "}",
        "keep_malloc_defaults() { # pipeline.run.clusters.KEEP_MALLOC_DEFAULTS, into dir $1",
        *(f"    {line}" for line in keep_malloc_defaults_shell('"$1"')),
        "}",
        "",
        body.rstrip("\n"),
    ]
    return "\n".join(parts) + "\n"


def _with_overrides(
    options: SlurmOptions, cluster: ClusterSpec | Mapping[str, Any] | None
) -> SlurmOptions:
    if cluster is None:
        return options
    if not isinstance(cluster, ClusterSpec):
        cluster = ClusterSpec.from_table(cluster)
    return cluster.apply(options)


def jobqueue_kwargs(
    options: SlurmOptions, cluster: ClusterSpec | Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``dask_jobqueue.SLURMCluster`` (dask-jobqueue 0.9).

    One worker per job, running one Dask task at a time (``cores=1``, ``processes=1``)
    on ``cpus_per_task`` booked cores (``job_cpu``, exported as ``OMP_NUM_THREADS``).
    Workers retire before SLURM kills their job: ``--lifetime`` is the walltime minus
    ``warning_seconds``, give or take ``--lifetime-stagger``, half of ``warning_seconds``
    (at most a quarter of the lifetime), so each worker closes between 1.5 and 0.5
    ``warning_seconds`` before its walltime. Scale with ``cluster.adapt(minimum_jobs=n,
    maximum_jobs=n)`` so that retired workers are replaced (:func:`start_slurm_cluster`).
    With ``gpus = 1`` the job asks ``--gpus-per-task=1``, the worker offers a ``GPU=1``
    resource, and the job fails at once if no GPU is visible.

    ``cluster`` (a spec's ``[cluster]`` table, or a mapping checked as one) overrides
    option keys.
    """
    options = _with_overrides(options, cluster)
    if options.memory is None:
        raise ValueError(
            "slurm option 'memory': the dask-jobqueue route needs the memory per worker "
            '(e.g. memory = "8G")'
        )
    if options.gpus > 1:
        raise ValueError(
            f"slurm option 'gpus': the dask-jobqueue route runs one worker per job and "
            f"one GPU per worker, not {options.gpus}; set gpus = 1 and scale the jobs"
        )
    lifetime = walltime_seconds(options.walltime) - options.warning_seconds
    stagger = min(options.warning_seconds // 2, lifetime // 4)
    worker_args = ["--lifetime", f"{lifetime}s", "--lifetime-stagger", f"{stagger}s"]
    prologue = [
        *options.setup,
        f"export OMP_NUM_THREADS={options.cpus_per_task}",
        *JOBQUEUE_MALLOC,
    ]
    directives = list(options.extra_directives)
    if options.gpus:
        worker_args += ["--resources", "GPU=1"]
        directives.append("--gpus-per-task=1")
        python = shlex.quote(options.python or sys.executable)
        prologue.append(f"{python} -c {shlex.quote(GPU_CHECK)} || exit 1")
    kwargs: dict[str, Any] = {}
    if options.partition is not None:
        kwargs["queue"] = options.partition
    if options.account is not None:
        kwargs["account"] = options.account
    kwargs |= {
        "cores": 1,
        "processes": 1,
        "job_cpu": options.cpus_per_task,
        "memory": _dask_bytes(options.memory),
        "job_mem": options.memory,
        "walltime": options.walltime,
        "job_name": f"{options.job_name}-worker",
        "job_extra_directives": directives,
        "job_script_prologue": prologue,
        "worker_extra_args": worker_args,
        # A random dashboard port: on a login node 8787 is often taken by someone else.
        "scheduler_options": {"dashboard_address": ":0"},
    }
    if options.interface is not None:
        kwargs["interface"] = options.interface
    if options.python is not None:
        kwargs["python"] = options.python
    return kwargs


@contextmanager
def start_slurm_cluster(
    cluster: ClusterSpec | Mapping[str, Any] | None = None,
    workers: int | None = None,
    *,
    gpu: bool = False,
    config: str | os.PathLike[str] | None = None,
) -> Iterator[Any]:
    """A running ``dask_jobqueue.SLURMCluster`` from the site config, closed on exit.

    Parameters
    ----------
    cluster
        A spec's ``[cluster]`` table (a :class:`~pipeline.sweep.cluster.ClusterSpec`, or a
        mapping checked into one): overrides of the site options (same keys).
    workers
        Worker jobs to keep running; default: the options' ``ntasks``. The cluster adapts
        between this many jobs and this many, so a worker that retires before its walltime
        is replaced by a new job.
    gpu
        Apply the site config's ``[gpu]`` table (one GPU and a ``GPU=1`` resource per
        worker); pass ``backend == "cupy"``.
    config
        Site config path; default as in :func:`load_site_config`.
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "--cluster slurm needs dask-jobqueue: pip install 'nqs-ent[slurm]'"
        ) from exc
    try:
        options = _with_overrides(load_site_config(config, gpu=gpu), cluster)
        if workers is not None:
            check_int("workers", workers, 1)
        kwargs = jobqueue_kwargs(options)
    except (ValueError, FileNotFoundError) as error:  # the site config or [cluster]
        raise ClusterError(f"--cluster slurm: {error}") from None
    jobs = workers or options.ntasks
    with SLURMCluster(**kwargs) as slurm_cluster:
        slurm_cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
        yield slurm_cluster


_MIB_PER_UNIT = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}


def _memory_mib(memory: str) -> float:
    match = MEMORY_PATTERN.match(memory)
    assert match is not None  # validated by SlurmOptions
    return int(match["value"]) * _MIB_PER_UNIT[match["unit"].upper()]


def _format_mib(mib: int) -> str:
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


def _dask_bytes(memory: str) -> str:
    """SLURM's binary ``8G`` as Dask reads it (Dask's plain ``8G`` means 8e9 bytes)."""
    return f"{memory[:-1]}{memory[-1].upper()}iB"
