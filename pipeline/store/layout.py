"""Where things are in a store: its format version and errors, the names of a task's
chunk files and their checksums, and the check that a store belongs to a spec.

Imports no xarray or dask, and zarr only when a store is read, so that ``nqs-ent validate``
stays light.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.numerics.measures import measure_variable
from pipeline.sweep.plan import Task
from pipeline.sweep.spec import Experiment, Sweep

if TYPE_CHECKING:
    import zarr

FORMAT_VERSION = 2
"""1: entropies, ``site_order``, ``k``, ``done``. 2 adds ``sample_status`` and
``chunk_crc32`` (checksums that let a resume find damaged chunks without decoding)."""


RESERVED_DIMS = ("n", "m", "sample", "window", "site", "block", "file")


class StoreError(RuntimeError):
    """The store cannot be used for this run (different spec, locked, unreadable).

    Raised, before anything is written, by the checks of
    :func:`pipeline.run.engine.run_sweep` (:func:`check_compatible`: not a store or
    another spec's; :mod:`pipeline.store.lock`: locked by another run, not writable,
    short of space), by :func:`pipeline.analysis.plots.plot_store` and
    :func:`pipeline.store.integrity.progress` for a path that holds no store, and by
    writes the store cannot take (an old format, a full or read-only disk). A
    ``RuntimeError``; it carries nothing but its one-line message, which names the store's
    path where there is one.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pipeline.sweep.validate import parse_spec
    >>> sweep = parse_spec('''
    ... name = "demo"
    ... seed = 1
    ... [[experiment]]
    ... name = "ghz"
    ... architecture = "ghz"
    ... n = 4
    ... samples = 1
    ... measures = ["vn"]
    ... subsystem = {kind = "first", m = 2}
    ... ''')
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "notes.txt").write_text("not a store")
    >>> check_compatible(folder, sweep)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pipeline.store.layout.StoreError: ... exists and is not an nqs-ent store; choose another --store
    >>> shutil.rmtree(folder)
    """


def read_root_attrs(path: Path) -> dict[str, Any] | None:
    """The root attributes, or ``None`` when ``path`` holds no nqs-ent store."""
    if not path.exists():
        return None
    import zarr

    try:
        root = zarr.open_group(str(path), mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError):
        return None
    attrs = dict(root.attrs)
    return attrs if "spec_digest" in attrs else None


def store_format(path: Path) -> int:
    """The ``nqs_ent_format`` of a store (1 for stores that predate the attribute)."""
    attrs = read_root_attrs(path) or {}
    return int(attrs.get("nqs_ent_format", 1))


def task_index(task: Task) -> tuple[int, ...]:
    """The leading ``(n, *grid)`` index of a task."""
    return (task.n_index, *task.grid_index)


CERTIFIED_VARIABLES = ("tail_weight", "rank", "passes")
"""Per sample and subsystem costs of a certified experiment, dims ``(*lead, m, sample,
window)`` like the entropies."""


def certified_variables(experiment: Experiment) -> list[str]:
    """``S_x_lo``, ``S_x_hi`` of every measure and :data:`CERTIFIED_VARIABLES`, for
    experiments whose method is ``streaming`` or ``auto`` (none otherwise)."""
    if not experiment.certified:
        return []
    bounds = [f"{measure_variable(m)}_{side}" for m in experiment.measures for side in ("lo", "hi")]
    return bounds + list(CERTIFIED_VARIABLES)


def data_files(experiment: Experiment) -> list[str]:
    """The variables with one chunk per task, checksummed in ``chunk_crc32``, in order."""
    entropies = [measure_variable(m) for m in experiment.measures]
    return [*entropies, "site_order", "sample_status", *certified_variables(experiment)]


def _chunk_coords(name: str, lead: tuple[int, ...], block: int) -> tuple[int, ...]:
    """Chunk coordinates of a task's chunk of variable ``name``."""
    if name.startswith("S_") or name in CERTIFIED_VARIABLES:  # (*lead, m, sample, window)
        return (*lead, 0, block, 0)
    if name == "site_order":  # (*lead, sample, window, site)
        return (*lead, block, 0, 0)
    if name == "chunk_crc32":  # (*lead, block, file)
        return (*lead, block, 0)
    return (*lead, block)  # sample_status (*lead, sample) and done (*lead, block)


def _chunk_key(name: str, lead: tuple[int, ...], block: int) -> str:
    """``name/c/i/j/...``: the key of a task's chunk of ``name`` within its group (Zarr v3
    default chunk keys, ``/`` separated)."""
    return f"{name}/c/" + "/".join(map(str, _chunk_coords(name, lead, block)))


def chunk_file(
    path: Path, experiment: Experiment, name: str, lead: tuple[int, ...], block: int
) -> Path:
    """The file of a task's chunk of variable ``name``."""
    return path / experiment.name / _chunk_key(name, lead, block)


_ARRAYS: dict[tuple[str, str, str], zarr.Array] = {}
"""Open arrays of this process, by (store, array, spec digest): a worker opens each once."""


def _array(path: Path, name: str, mode: str = "r+", token: str = "") -> zarr.Array:
    """An open array, cached per process and store version ``token`` (the spec digest):
    workers write many tasks to one store. Writes store every chunk, even one that equals
    the fill value (a task of NaN entropies is data, and its chunk is checksummed)."""
    import zarr

    if mode == "r":
        return zarr.open_array(str(path), path=name, mode=mode)
    key = (str(path), name, token)
    if key not in _ARRAYS:
        array = zarr.open_array(str(path), path=name, mode=mode)
        _ARRAYS[key] = array.with_config({"write_empty_chunks": True})
    return _ARRAYS[key]


def _read(file: str) -> bytes:
    with open(file, "rb") as handle:
        return handle.read()


def _chunk_crc(base: str, name: str, lead: tuple[int, ...], block: int) -> int:
    """CRC-32 of the bytes of a task's chunk file of ``name`` (``base``: the group's path
    with a trailing ``/``)."""
    return zlib.crc32(_read(base + _chunk_key(name, lead, block)))


def check_compatible(path: Path, sweep: Sweep) -> str:
    """Decide what to do with ``path``: ``"create"`` (absent, empty or half-created) or
    ``"resume"`` (same spec). Raise :class:`StoreError` for anything else. Read-only."""
    if not path.exists():
        return "create"
    if path.is_dir() and not any(path.iterdir()):
        return "create"
    attrs = read_root_attrs(path)
    if attrs is None:
        raise StoreError(f"{path} exists and is not an nqs-ent store; choose another --store")
    if attrs.get("spec_digest") != sweep.digest:
        raise StoreError(
            f"{path} was written by a different spec ({attrs.get('spec_name')!r}, digest "
            f"{str(attrs.get('spec_digest'))[:12]}) than {sweep.name!r} (digest "
            f"{sweep.digest[:12]}); use a new --store or the original spec"
        )
    return "resume" if attrs.get("initialised") else "create"
