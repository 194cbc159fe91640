"""The typed options of SLURM jobs, shared by the site config and a spec's ``[cluster]``
table: :class:`SlurmOptions` (every key checked on construction) and :class:`ClusterSpec`
(a spec's overrides of them, checked when the spec is parsed).

The site config itself is read at run time (:func:`pipeline.run.site.load_site_config`);
a spec's ``[cluster]`` keys are applied over it for ``nqs-ent run --cluster slurm``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

MAX_SIGNAL_SECONDS = 65535
"""SLURM's largest ``--signal`` lead time."""


_WALLTIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<hours>\d+):(?P<minutes>\d\d):(?P<seconds>\d\d)$")


MEMORY_PATTERN = re.compile(r"^(?P<value>[1-9]\d*)(?P<unit>[KMGT])$", re.IGNORECASE)


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
            check_int(key, getattr(self, key), low)
        check_int("warning_seconds", self.warning_seconds, 1)
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
            if not isinstance(self.memory, str) or not MEMORY_PATTERN.match(self.memory):
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


def check_int(key: str, value: object, low: int) -> None:
    """:class:`ValueError` unless ``value`` is an integer ``>= low`` (not a bool)."""
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


SLURM_KEYS = tuple(f.name for f in fields(SlurmOptions))
"""The keys of the site config and of a spec's ``[cluster]`` table."""


def check_keys(table: Mapping[str, Any], where: str) -> None:
    """:class:`ValueError` naming the keys of ``table`` that are not :data:`SLURM_KEYS`."""
    unknown = sorted(set(table) - set(SLURM_KEYS))
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
            f"known keys: {', '.join(SLURM_KEYS)}"
        )


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


_PERMISSIVE = {"walltime": "9999-00:00:00"}
"""Stand-ins for keys a ``[cluster]`` table leaves to the site config, where a key's
check depends on another's value (``warning_seconds`` < ``walltime``, ``ntasks`` >=
``nodes``): the table is checked key by key here, and as a whole over the site config when
the cluster starts."""


@dataclass(frozen=True)
class ClusterSpec:
    """A spec's ``[cluster]`` table: overrides of the SLURM site options for
    ``nqs-ent run --cluster slurm``, keys from :data:`SLURM_KEYS`, each value checked as
    :class:`SlurmOptions` checks it.

    >>> ClusterSpec.from_table({"walltime": "02:00:00", "memory": "4g"}).overrides
    (('walltime', '02:00:00'), ('memory', '4G'))
    >>> ClusterSpec.from_table({"cpus": 4})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown key(s) 'cpus' in the [cluster] table; known keys: partition, ...
    """

    overrides: tuple[tuple[str, Any], ...] = ()
    """``(key, value)`` in the table's order, values as :class:`SlurmOptions` holds them."""

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> ClusterSpec:
        """Check a parsed ``[cluster]`` table; :class:`ValueError` names a bad key."""
        check_keys(table, "the [cluster] table")
        values = {key: table[key] for key in table}
        base: dict[str, Any] = {k: v for k, v in _PERMISSIVE.items() if k not in values}
        if "nodes" in values and "ntasks" not in values and isinstance(values["nodes"], int):
            base["ntasks"] = values["nodes"]
        options = SlurmOptions(**base, **values)
        return cls(tuple((key, getattr(options, key)) for key in values))

    def apply(self, options: SlurmOptions) -> SlurmOptions:
        """``options`` with these overrides (the whole checked again)."""
        return replace(options, **dict(self.overrides)) if self.overrides else options
