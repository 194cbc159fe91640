"""SLURM job scripts and dask-jobqueue settings, rendered from validated site options.

Site defaults (partition, account, walltime, CPUs, memory, GPUs, network interface, ...)
live in ``slurm/site.toml``, not in code. :func:`load_site_config` reads and validates
them into a frozen :class:`SlurmOptions`; everything else here is a pure function of
those options:

- :func:`render_header` -- the ``#SBATCH`` lines of the whole-sweep job. An option that
  is unset (no account, no GPUs, ...) renders no directive at all.
- :func:`render_sweep_script` -- header, rendered settings and the fixed body
  ``slurm/sweep-body.sh``: one allocation holding a Dask scheduler, one worker per task
  (per GPU) and the driver ``nqs-ent run``; requeues itself on the walltime warning.
- :func:`jobqueue_kwargs` -- keyword arguments for ``dask_jobqueue.SLURMCluster``, with
  workers that retire before SLURM kills them; :func:`start_slurm_cluster` starts one
  (``nqs-ent run SPEC --cluster slurm``).

The committed ``slurm/sweep.sbatch`` and ``slurm/sweep-gpu.sbatch`` are regenerated with::

    python3 -m pipeline.slurm render > slurm/sweep.sbatch
    python3 -m pipeline.slurm render --gpu > slurm/sweep-gpu.sbatch

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

import argparse
import math
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

__all__ = [
    "EX_TEMPFAIL",
    "SlurmOptions",
    "jobqueue_kwargs",
    "load_site_config",
    "render_header",
    "render_sweep_script",
    "start_slurm_cluster",
    "walltime_seconds",
]

SLURM_DIR = Path(__file__).resolve().parent.parent / "slurm"
"""The repository's ``slurm/`` folder (site config, script body, committed scripts)."""
CONFIG_ENV = "NQS_ENT_SITE_CONFIG"
"""Environment variable naming a site config to use instead of ``slurm/site.toml``."""
EX_TEMPFAIL = 75

KEEP_MALLOC_DEFAULTS = (
    "# Keep glibc's malloc defaults in the worker, as slurm/sweep.sbatch does: distributed's",
    "# MALLOC_TRIM_THRESHOLD_ made tasks 10-17 % slower. A DASK_CONFIG of your own wins.",
    "# (distributed also leaks the variable into any process that started a LocalCluster.)",
    'if [ -z "${DASK_CONFIG:-}" ]; then unset MALLOC_TRIM_THRESHOLD_; '
    'export DASK_CONFIG="$(mktemp -d)" && '
    "printf '%s\\n' distributed: '  nanny:' '    pre-spawn-environ:' "
    "'      MALLOC_TRIM_THRESHOLD_: null' >\"$DASK_CONFIG/nqs-ent.yaml\"; fi",
)
"""Job-script lines for dask-jobqueue workers (see ``slurm/sweep-body.sh`` for the why)."""
"""Driver exit status meaning "interrupted, resumable" (sysexits.h ``EX_TEMPFAIL``)."""
MAX_SIGNAL_SECONDS = 65535
"""SLURM's largest ``--signal`` lead time."""

_WALLTIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<hours>\d+):(?P<minutes>\d\d):(?P<seconds>\d\d)$")
_MEMORY = re.compile(r"^(?P<value>[1-9]\d*)(?P<unit>[KMGT])$", re.IGNORECASE)
_MIB_PER_UNIT = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.,:+-]*$")

# Directives that have their own option: extra_directives may not set them behind its back.
_OWNED_FLAGS = {
    "--job-name": "job_name",
    "-J": "job_name",
    "--partition": "partition",
    "-p": "partition",
    "--account": "account",
    "-A": "account",
    "--time": "walltime",
    "-t": "walltime",
    "--nodes": "nodes",
    "-N": "nodes",
    "--ntasks": "ntasks",
    "-n": "ntasks",
    "--cpus-per-task": "cpus_per_task",
    "-c": "cpus_per_task",
    "--mem": "memory",
    "--mem-per-cpu": "memory",
    "--mem-per-gpu": "memory",
    "--gpus": "gpus",
    "-G": "gpus",
    "--gpus-per-task": "gpus",
    "--gpus-per-node": "gpus",
    "--gres": "gpus",
    "--signal": "warning_seconds",
}


@dataclass(frozen=True)
class SlurmOptions:
    """Validated site options for SLURM jobs; see ``slurm/site.toml`` for the defaults.

    Every field is checked on construction (also by :func:`dataclasses.replace`); a bad
    value raises :class:`ValueError` naming the key.

    Examples
    --------
    >>> SlurmOptions(walltime="1:00")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: slurm option 'walltime': '1:00' is not HH:MM:SS or D-HH:MM:SS ...
    """

    partition: str | None = None
    """Partition (``--partition``); None: the cluster's default partition."""
    account: str | None = None
    """Account charged (``--account``); None: the user's default account."""
    walltime: str = "01:00:00"
    """Time limit of each job, ``HH:MM:SS`` or ``D-HH:MM:SS`` (``--time``)."""
    nodes: int = 1
    """Nodes of the whole-sweep allocation (``--nodes``)."""
    ntasks: int = 1
    """Worker slots of the whole-sweep allocation: one Dask worker per task (per GPU)."""
    cpus_per_task: int = 1
    """Cores per worker (``--cpus-per-task``); each worker runs one Dask task at a time
    and lets BLAS/OpenMP use these cores (``OMP_NUM_THREADS``)."""
    memory: str | None = None
    """Memory per worker, an integer with a unit K, M, G or T (binary, as SLURM reads
    them), e.g. ``"8G"``; also the worker's Dask memory limit. None: no request."""
    gpus: int = 0
    """GPUs per worker (``--gpus-per-task``); 0 renders no GPU directive."""
    interface: str | None = None
    """Network interface Dask listens on: ``"lo"`` on the single-node dev cluster,
    e.g. ``"ib0"`` on a real cluster; None: Dask's default address."""
    warning_seconds: int = 300
    """Lead time of the warning signal before the walltime (``--signal=B:USR1@N``); the
    whole-sweep job then requeues itself and jobqueue workers retire this early."""
    job_name: str = "nqs-ent"
    """Job name (``--job-name``); jobqueue worker jobs get ``<job_name>-worker``."""
    extra_directives: tuple[str, ...] = ()
    """Further sbatch options, one per entry, each rendered as ``#SBATCH <entry>``
    (e.g. ``"--constraint=skylake"``, ``"--qos=normal"``)."""
    setup: tuple[str, ...] = ()
    """Shell lines run before Dask starts, e.g. ``"module load cuda/12.4"`` or
    ``"source ~/envs/nqs/bin/activate"``; they must put ``nqs-ent`` on the PATH."""
    python: str | None = None
    """Python interpreter that runs the Dask scheduler, workers and GPU check; None:
    ``python3`` from the PATH (sweep scripts) or the submitting interpreter (jobqueue)."""

    def __post_init__(self) -> None:
        for key in ("partition", "account", "interface"):
            _check_name(key, getattr(self, key), optional=True)
        _check_name("job_name", self.job_name, optional=False)
        try:
            total = walltime_seconds(self.walltime)
        except ValueError as exc:
            raise ValueError(f"slurm option 'walltime': {exc}") from None
        for key, low in (("nodes", 1), ("ntasks", 1), ("cpus_per_task", 1), ("gpus", 0)):
            _check_int(key, getattr(self, key), low)
        _check_int("warning_seconds", self.warning_seconds, 1)
        if self.warning_seconds > MAX_SIGNAL_SECONDS:
            raise ValueError(
                f"slurm option 'warning_seconds': {self.warning_seconds} exceeds SLURM's "
                f"limit of {MAX_SIGNAL_SECONDS} s for --signal"
            )
        if self.warning_seconds >= total:
            raise ValueError(
                f"slurm option 'warning_seconds': {self.warning_seconds} s is not shorter "
                f"than the walltime {self.walltime!r} ({total} s); lower it or raise walltime"
            )
        if self.memory is not None:
            if not isinstance(self.memory, str) or not _MEMORY.match(self.memory):
                raise ValueError(
                    f"slurm option 'memory': {self.memory!r} is not an integer with a unit "
                    "K, M, G or T (e.g. '500M', '8G', '1T')"
                )
            object.__setattr__(self, "memory", self.memory.upper())
        if self.ntasks < self.nodes:
            raise ValueError(
                f"slurm option 'ntasks': {self.ntasks} tasks cannot fill {self.nodes} nodes; "
                "raise ntasks or lower nodes"
            )
        object.__setattr__(
            self, "extra_directives", _lines("extra_directives", self.extra_directives)
        )
        object.__setattr__(self, "setup", _lines("setup", self.setup))
        for directive in self.extra_directives:
            flag = directive.split("=", 1)[0].split(None, 1)[0]
            if not flag.startswith("--"):
                flag = flag[:2]  # a short option may carry its value: -t02:00:00
            if not flag.startswith("-"):
                raise ValueError(
                    f"slurm option 'extra_directives': {directive!r} is not an sbatch option "
                    "(write e.g. '--constraint=skylake', without '#SBATCH')"
                )
            if flag in _OWNED_FLAGS:
                raise ValueError(
                    f"slurm option 'extra_directives': {directive!r} sets what the "
                    f"{_OWNED_FLAGS[flag]!r} option sets; use that key instead"
                )
        if self.python is not None and (
            not isinstance(self.python, str)
            or not self.python
            or self.python.split() != [self.python]
        ):
            raise ValueError(
                f"slurm option 'python': {self.python!r} is not an interpreter path or name "
                "(no spaces; put environment set-up commands in 'setup')"
            )


def _check_name(key: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"slurm option {key!r}: {value!r} is not a name (letters, digits and _ . , : + -, "
            "no spaces)"
        )


def _check_int(key: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"slurm option {key!r}: {value!r} is not {kind}")


def _lines(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"slurm option {key!r}: {value!r} is not a list of strings")
    for item in value:
        if not isinstance(item, str) or not item.strip() or "\n" in item:
            raise ValueError(f"slurm option {key!r}: {item!r} is not a one-line string")
    return tuple(value)


_KEYS = tuple(f.name for f in fields(SlurmOptions))


def _check_keys(table: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
            f"known keys: {', '.join(_KEYS)}"
        )


def options_from_mapping(
    table: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    gpu: bool = False,
    where: str = "the site config",
) -> SlurmOptions:
    """Validate a parsed site config (a TOML table) into :class:`SlurmOptions`.

    ``table`` may hold a ``[gpu]`` sub-table, applied over the top-level keys when
    ``gpu`` is true; ``overrides`` (e.g. a spec's ``[cluster]`` table) are applied last.
    Unknown keys anywhere raise :class:`ValueError`.

    Examples
    --------
    >>> options_from_mapping({"gpus": 0, "gpu": {"gpus": 1}}, gpu=True).gpus
    1
    >>> options_from_mapping({"partitoin": "debug"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown key(s) 'partitoin' in the site config; known keys: partition, ...
    """
    values = dict(table)
    gpu_table = values.pop("gpu", {})
    if not isinstance(gpu_table, Mapping):
        raise ValueError(f"'gpu' in {where} must be a table ([gpu]), not {gpu_table!r}")
    _check_keys(values, where)
    _check_keys(gpu_table, f"the [gpu] table of {where}")
    if gpu:
        values.update(gpu_table)
    if overrides:
        _check_keys(overrides, "the overrides")
        values.update(overrides)
    return SlurmOptions(**values)


def load_site_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    gpu: bool = False,
) -> SlurmOptions:
    """Read and validate the site config.

    Parameters
    ----------
    path
        A TOML file; default: ``$NQS_ENT_SITE_CONFIG`` if set, else ``slurm/site.toml``.
    overrides
        Keys applied over the file's values (validated the same way).
    gpu
        Apply the file's ``[gpu]`` table (the GPU variant of the scripts).
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or SLURM_DIR / "site.toml"
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no SLURM site config at {path}; pass a path or set {CONFIG_ENV}"
        ) from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    return options_from_mapping(table, overrides, gpu=gpu, where=str(path))


def walltime_seconds(walltime: str) -> int:
    """Seconds in a SLURM walltime ``HH:MM:SS`` or ``D-HH:MM:SS``.

    Examples
    --------
    >>> walltime_seconds("01:30:00"), walltime_seconds("2-12:00:00")
    (5400, 216000)
    """
    match = _WALLTIME.match(walltime) if isinstance(walltime, str) else None
    if match is None:
        raise ValueError(
            f"{walltime!r} is not HH:MM:SS or D-HH:MM:SS (e.g. '01:30:00' or '2-00:00:00')"
        )
    days, hours, minutes, seconds = (
        int(match[k] or 0) for k in ("days", "hours", "minutes", "seconds")
    )
    if minutes > 59 or seconds > 59 or (match["days"] is not None and hours > 23):
        raise ValueError(
            f"{walltime!r} has a field out of range "
            "(hours < 24 after days, minutes and seconds < 60)"
        )
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total == 0:
        raise ValueError(f"{walltime!r} is zero; give a positive walltime")
    return total


def _memory_mib(memory: str) -> float:
    match = _MEMORY.match(memory)
    assert match is not None  # validated by SlurmOptions
    return int(match["value"]) * _MIB_PER_UNIT[match["unit"].upper()]


def _format_mib(mib: int) -> str:
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


def _dask_bytes(memory: str) -> str:
    """SLURM's binary ``8G`` as Dask reads it (Dask's plain ``8G`` means 8e9 bytes)."""
    return f"{memory[:-1]}{memory[-1].upper()}iB"


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
        The script body; default: the text of ``slurm/sweep-body.sh``.
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
        body = (SLURM_DIR / "sweep-body.sh").read_text()
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
        f"# Rendered by `python3 -m pipeline.slurm render{flag}` from slurm/site.toml and",
        "# slurm/sweep-body.sh: edit those and render again, not this file.",
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
        "",
        body.rstrip("\n"),
    ]
    return "\n".join(parts) + "\n"


def jobqueue_kwargs(
    options: SlurmOptions, cluster_table: Mapping[str, Any] | None = None
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

    ``cluster_table`` (a spec's ``[cluster]`` table) overrides option keys; any other
    key raises :class:`ValueError`.
    """
    if cluster_table:
        _check_keys(cluster_table, "the [cluster] table")
        options = replace(options, **cluster_table)
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
        *KEEP_MALLOC_DEFAULTS,
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
    cluster_table: Mapping[str, Any] | None = None,
    workers: int | None = None,
    *,
    gpu: bool = False,
    config: str | os.PathLike[str] | None = None,
) -> Iterator[Any]:
    """A running ``dask_jobqueue.SLURMCluster`` from the site config, closed on exit.

    Parameters
    ----------
    cluster_table
        A spec's ``[cluster]`` table: overrides of the site options (same keys).
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
    options = load_site_config(config, gpu=gpu)
    if cluster_table:
        _check_keys(cluster_table, "the [cluster] table")
        options = replace(options, **cluster_table)
    if workers is not None:
        _check_int("workers", workers, 1)
    jobs = workers or options.ntasks
    with SLURMCluster(**jobqueue_kwargs(options)) as cluster:
        cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
        yield cluster


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 -m pipeline.slurm``: print rendered scripts, headers or jobqueue kwargs."""
    parser = argparse.ArgumentParser(
        prog="python3 -m pipeline.slurm", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", help=f"site config (default: ${CONFIG_ENV} or slurm/site.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="the whole-sweep batch script")
    render.add_argument("--spec", help="default SPEC baked into the script")
    render.add_argument("--store", help="default STORE baked into the script")
    header = sub.add_parser("header", help="the #SBATCH lines only")
    jobqueue = sub.add_parser("jobqueue", help="SLURMCluster keyword arguments")
    for p in (render, header, jobqueue):
        p.add_argument("--gpu", action="store_true", help="apply the [gpu] table")
    args = parser.parse_args(argv)
    try:
        options = load_site_config(args.config, gpu=args.gpu)
        if args.command == "render":
            sys.stdout.write(render_sweep_script(options, args.spec, args.store, gpu=args.gpu))
        elif args.command == "header":
            sys.stdout.write(render_header(options))
        else:
            for key, value in jobqueue_kwargs(options).items():
                print(f"{key} = {value!r}")
    except (ValueError, FileNotFoundError) as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
