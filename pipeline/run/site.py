"""TODO docstring (slurm)"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any


def package_file(name: str) -> str:
    """The text of a file shipped in ``pipeline/run/data/`` (``site.toml``,
    ``sweep-body.sh``), read through :mod:`importlib.resources` so that a wheel install
    finds it as well as a checkout."""
    return resources.files("pipeline.run").joinpath("data", name).read_text(encoding="utf-8")


def site_config_text() -> str:
    """The packaged site defaults (``nqs-ent slurm site``), to copy and edit."""
    return package_file("site.toml")


CONFIG_ENV = "NQS_ENT_SITE_CONFIG"
"""Environment variable naming a site config to use instead of the packaged one
(``nqs-ent slurm site`` prints it)."""


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
    """Validated site options for SLURM jobs; see ``nqs-ent slurm site`` for the defaults.

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
        A TOML file; default: ``$NQS_ENT_SITE_CONFIG`` if set, else the packaged defaults
        (``pipeline/run/data/site.toml``).
    overrides
        Keys applied over the file's values (validated the same way).
    gpu
        Apply the file's ``[gpu]`` table (the GPU variant of the scripts).
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        path, text = "the packaged site.toml", site_config_text()
    else:
        try:
            text = Path(path).read_text()
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
