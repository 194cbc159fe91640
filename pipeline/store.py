"""The Zarr v3 results store: written metadata-first, then filled task by task.

Layout: one group per experiment, each an xarray Dataset with

- ``S_<measure>`` (``S_vn``, ``S_renyi2``, ``S_inf``...): float64, dims
  ``(n, <swept hyperparameters...>, m, sample, window)``, NaN where not computed or where a
  size does not apply to an ``n``;
- ``site_order``: int16 ``(n, <hyper...>, sample, window, site)``, the site ordering that
  defines each window's subsystems (``A = site_order[:m]``), ``-1`` past ``n``;
- ``k``: int64 ``(n, <hyper...>)``, the nonlinearity count (``-1`` for reference states);
- ``done``: int8 ``(n, <hyper...>, block)``, 1 once a task's data are on disk.

Every data variable is chunked so that one task owns one chunk; ``done`` is written after
the data. The root group's attributes hold the spec text and digest, package versions,
code revision and creation time. Reading goes through xarray (:func:`load`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import math
import os
import socket
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from pipeline import provenance
from pipeline.architectures import get_architecture, hyper_dict
from pipeline.compute import SAMPLE_STATUS
from pipeline.plan import Task
from pipeline.spec import Experiment, Sweep, measure_variable

FORMAT_VERSION = 2
"""1: entropies, ``site_order``, ``k``, ``done``. 2 adds ``sample_status`` and
``chunk_crc32`` (checksums that let a resume find damaged chunks without decoding)."""
RESERVED_DIMS = ("n", "m", "sample", "window", "site", "block", "file")

MEASURE_NAMES = {"vn": "von Neumann entropy", "inf": "min-entropy"}


class StoreError(RuntimeError):
    """The store cannot be used for this run (different spec, locked, unreadable)."""


def measure_long_name(measure: str) -> str:
    """A label for plots: ``renyi2 -> 'Renyi-2 entropy'``."""
    return MEASURE_NAMES.get(measure, f"Renyi-{measure.removeprefix('renyi')} entropy")


# ----------------------------------------------------------------------------- creation


def _hyper_coordinate(values: tuple[Any, ...]) -> np.ndarray:
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=object)  # variable-length strings in Zarr
    return np.asarray(values)


def experiment_template(sweep: Sweep, experiment: Experiment) -> tuple[xr.Dataset, dict]:
    """The lazy Dataset (dask arrays, never computed) and encoding of one experiment.

    Each big variable is one dask chunk (so the graph stays tiny however many tasks
    there are); its Zarr chunks, one per task, come from the encoding."""
    hyper_dims = tuple(key for key, _ in experiment.hyper_axes)
    clash = set(hyper_dims) & set(RESERVED_DIMS)
    if clash:
        raise StoreError(f"hyperparameter name(s) {sorted(clash)} clash with store dimensions")
    grid_shape = experiment.grid_shape
    sizes = experiment.all_sizes()
    windows = experiment.subsystem.n_windows
    n_blocks = len(experiment.task_blocks())
    n_max = max(experiment.n)
    lead_shape = (len(experiment.n), *grid_shape)
    lead_chunks = (1,) * len(lead_shape)
    lead_dims = ("n", *hyper_dims)

    data_vars: dict[str, Any] = {}
    encoding: dict[str, dict[str, Any]] = {}
    for measure in experiment.measures:
        name = measure_variable(measure)
        data = da.full((*lead_shape, len(sizes), experiment.samples, windows), np.nan, chunks=-1)
        data_vars[name] = xr.Variable(
            (*lead_dims, "m", "sample", "window"),
            data,
            attrs={"long_name": measure_long_name(measure), "units": "nats", "measure": measure},
        )
        encoding[name] = {
            "_FillValue": np.nan,
            "chunks": (*lead_chunks, len(sizes), experiment.samples_per_task, windows),
        }
    data_vars["site_order"] = xr.Variable(
        (*lead_dims, "sample", "window", "site"),
        da.full((*lead_shape, experiment.samples, windows, n_max), -1, dtype=np.int16, chunks=-1),
        attrs={"long_name": "site ordering (A = first m sites)", "units": "1"},
    )
    encoding["site_order"] = {
        "_FillValue": None,
        "chunks": (*lead_chunks, experiment.samples_per_task, windows, n_max),
    }
    data_vars["sample_status"] = xr.Variable(
        (*lead_dims, "sample"),
        da.zeros((*lead_shape, experiment.samples), dtype=np.int8, chunks=-1),
        attrs={
            "long_name": "sample status",
            "units": "1",
            "flag_values": list(range(len(SAMPLE_STATUS))),
            "flag_meanings": " ".join(SAMPLE_STATUS),
        },
    )
    encoding["sample_status"] = {
        "_FillValue": None,
        "chunks": (*lead_chunks, experiment.samples_per_task),
        "compressors": None,
    }
    files = data_files(experiment)
    data_vars["chunk_crc32"] = xr.Variable(
        (*lead_dims, "block", "file"),
        da.zeros((*lead_shape, n_blocks, len(files)), dtype=np.uint32, chunks=-1),
        attrs={
            "long_name": "CRC-32 of each data chunk file of a task, as written",
            "units": "1",
            "files": files,
        },
    )
    encoding["chunk_crc32"] = {
        "_FillValue": None,
        "chunks": (*lead_chunks, 1, len(files)),
        "compressors": None,
    }
    data_vars["done"] = xr.Variable(
        (*lead_dims, "block"),
        da.zeros((*lead_shape, n_blocks), dtype=np.int8, chunks=-1),
        attrs={"long_name": "task finished", "units": "1"},
    )
    encoding["done"] = {"_FillValue": None, "chunks": (1,) * (len(lead_shape) + 1)}
    architecture = get_architecture(experiment.architecture)
    k = np.full(lead_shape, -1, dtype=np.int64)
    for n_index, n in enumerate(experiment.n):
        for grid_index, hyper in experiment.grid():
            count = architecture.k(n, hyper)
            k[(n_index, *grid_index)] = -1 if count is None else count
    data_vars["k"] = xr.Variable(
        lead_dims, k, attrs={"long_name": "scalar nonlinearities k", "units": "1"}
    )
    encoding["k"] = {"_FillValue": None}

    coords: dict[str, Any] = {
        "n": ("n", np.asarray(experiment.n), {"long_name": "number of spins n", "units": "1"}),
        "m": ("m", np.asarray(sizes), {"long_name": "subsystem size |A|", "units": "sites"}),
        "sample": ("sample", np.arange(experiment.samples), {"long_name": "network sample"}),
        "window": ("window", np.arange(windows), {"long_name": "subsystem draw per sample"}),
        "site": ("site", np.arange(n_max), {"long_name": "position in the site ordering"}),
        "block": ("block", np.arange(n_blocks), {"long_name": "task block of samples"}),
    }
    for key, values in experiment.hyper_axes:
        coords[key] = (key, _hyper_coordinate(values), {"long_name": key})
    attrs = {
        "experiment": experiment.name,
        "architecture": experiment.architecture,
        "hyper_fixed": json.dumps(dict(experiment.hyper_fixed)),
        "hyper_defaults": json.dumps(hyper_dict(experiment.grid()[0][1]), default=str),
        "k_formula": (architecture.k.__doc__ or "").strip(),
        "subsystem_kind": experiment.subsystem.kind,
        "subsystem_sizes": str(experiment.subsystem.m),
        "subsystem_sites": json.dumps(experiment.subsystem.sites),
        "measures": list(experiment.measures),
        "samples": experiment.samples,
        "samples_per_task": experiment.samples_per_task,
        "seed": sweep.seed,
        "entropy_units": "nats",
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), encoding


def code_revision() -> str:
    """``git describe`` of the package's checkout (``+dirty`` marked), or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "describe", "--always", "--dirty=+dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def create(path: Path, sweep: Sweep, worker_platforms: list[dict[str, Any]] | None = None) -> None:
    """Write the metadata of every experiment (no data chunks) and the root attributes.

    Provenance: package versions, code revision, and the BLAS library, version and kernel
    and NumPy's SIMD level of this process (``platform``) and of the workers
    (``worker_platforms``, distinct records; see :mod:`pipeline.provenance`).
    The root attribute ``initialised`` is set last, so a store whose creation was
    interrupted is recognised and created again.
    """
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    root.attrs.update(
        {
            "nqs_ent_format": FORMAT_VERSION,
            "spec_name": sweep.name,
            "spec_digest": sweep.digest,
            "spec_text": sweep.text,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "versions": provenance.versions(),
            "platform": provenance.platform(),
            "worker_platforms": _distinct(worker_platforms or []),
            "code_revision": code_revision(),
            "host": socket.gethostname(),
            "initialised": False,
        }
    )
    for experiment in sweep.experiments:
        dataset, encoding = experiment_template(sweep, experiment)
        dataset.to_zarr(
            str(path),
            group=experiment.name,
            mode="w",
            compute=False,
            zarr_format=3,
            consolidated=False,
            encoding=encoding,
        )
    root = zarr.open_group(str(path), mode="r+")
    root.attrs["initialised"] = True


def _distinct(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        seen.setdefault(provenance.platform_key(record), record)
    return list(seen.values())


def add_worker_platforms(path: Path, records: list[dict[str, Any]]) -> list[str]:
    """Record worker platforms not yet in the store's ``worker_platforms``; return the
    :func:`pipeline.provenance.platform_key` of each new one (a resume on another CPU)."""
    root = zarr.open_group(str(path), mode="r+")
    known: list[dict[str, Any]] = list(root.attrs.get("worker_platforms", []))  # type: ignore[arg-type]
    keys = {provenance.platform_key(record) for record in known}
    new = [r for r in _distinct(records) if provenance.platform_key(r) not in keys]
    if new:
        try:
            root.attrs["worker_platforms"] = known + new
        except OSError as error:  # a full or read-only disk: the tasks will report it
            raise StoreError(f"cannot update {path}: {error.strerror or error}") from None
    return [provenance.platform_key(record) for record in new]


def read_root_attrs(path: Path) -> dict[str, Any] | None:
    """The root attributes, or ``None`` when ``path`` holds no nqs-ent store."""
    try:
        root = zarr.open_group(str(path), mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError):
        return None
    attrs = dict(root.attrs)
    return attrs if "spec_digest" in attrs else None


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


# ------------------------------------------------------------------- location and space


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_location(path: Path) -> None:
    """Raise :class:`StoreError` unless a run can create or update the store at ``path``
    and its lock file beside it: every existing ancestor a directory, the store (or the
    directory it will be created in) writable. Read-only."""
    if path.exists() and not path.is_dir():
        raise StoreError(f"{path} is a file, not a store; choose another --store")
    ancestor = _existing_ancestor(path if path.exists() else path.parent)
    if not ancestor.is_dir():
        raise StoreError(
            f"cannot create {path}: {ancestor} is a file, not a directory; choose another --store"
        )
    need = [ancestor]
    if path.exists():
        need.append(path)
        lock = lock_path(path)
        need.append(lock if lock.exists() else path.parent)
    for where in need:
        if not os.access(where, os.W_OK | (os.X_OK if where.is_dir() else 0)):
            raise StoreError(
                f"cannot write {where} (permission denied or a read-only filesystem); "
                "choose another --store"
            )


def check_space(path: Path, estimate: Any) -> None:
    """Raise :class:`StoreError` when a new store's estimated size on disk (or its number
    of files) exceeds what the filesystem that will hold ``path`` has free.

    ``estimate``: a :class:`pipeline.plan.StoreEstimate`."""
    from pipeline.plan import format_bytes

    where = _existing_ancestor(path)
    stats = os.statvfs(where)
    free = stats.f_bavail * stats.f_frsize
    if estimate.bytes > free:
        raise StoreError(
            f"{path}: the store needs about {format_bytes(estimate.bytes)} on disk, more than "
            f"the {format_bytes(free)} free on the filesystem of {where}; free space, or "
            "choose another --store"
        )
    if stats.f_files and estimate.files > stats.f_favail:
        raise StoreError(
            f"{path}: the store needs {estimate.files} files, more than the "
            f"{stats.f_favail} free inodes of the filesystem of {where}; raise "
            "samples_per_task, or choose another --store"
        )


# ------------------------------------------------------------------------------- locking


def lock_path(path: Path) -> Path:
    """The lock file of a store: ``STORE.lock`` beside it (Zarr ignores no foreign files
    inside a store)."""
    return path.with_name(path.name + ".lock")


def _owner(fd: int) -> str:
    """The holder named in an open lock file."""
    return os.read(fd, 4096).decode(errors="replace").strip() or "unknown process"


def in_use(path: Path, owner: str) -> StoreError:
    """The error for a store locked by another run."""
    return StoreError(
        f"{path} is in use by another run ({owner}); wait for it to finish or stop it"
    )


def check_unlocked(path: Path) -> None:
    """Raise :class:`StoreError` when another run holds the store's lock. Read-only."""
    owner = StoreLock(path).holder()
    if owner is not None:
        raise in_use(path, owner)


class StoreLock:
    """An exclusive advisory lock (``flock``) on the file ``STORE.lock``.

    The kernel releases it when the holder exits, even on SIGKILL, so a killed run never
    leaves a stale lock. The file names its holder for the message a second run prints.
    """

    def __init__(self, path: Path) -> None:
        self.store = path
        self.path = lock_path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreError(
                f"cannot lock {self.store}: {error.strerror or error} ({self.path}); "
                "choose another --store"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            raise in_use(self.store, owner) from None
        holder: dict[str, object] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        if os.environ.get("SLURM_JOB_ID"):
            holder["slurm_job"] = os.environ["SLURM_JOB_ID"]
        with contextlib.suppress(OSError):  # naming the holder is a courtesy (disk full)
            os.ftruncate(fd, 0)
            os.write(fd, " ".join(f"{k}={v}" for k, v in holder.items()).encode())
        self._fd = fd

    def holder(self) -> str | None:
        """Who holds the lock now (read-only probe), or ``None`` when it is free."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _owner(fd)
        finally:
            os.close(fd)  # also drops the shared lock, if taken
        return None

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ----------------------------------------------------------------------- task regions


def task_index(task: Task) -> tuple[int, ...]:
    """The leading ``(n, *grid)`` index of a task."""
    return (task.n_index, *task.grid_index)


def data_files(experiment: Experiment) -> list[str]:
    """The variables with one chunk per task, checksummed in ``chunk_crc32``, in order."""
    return [measure_variable(m) for m in experiment.measures] + ["site_order", "sample_status"]


def _chunk_coords(name: str, lead: tuple[int, ...], block: int) -> tuple[int, ...]:
    """Chunk coordinates of a task's chunk of variable ``name``."""
    if name.startswith("S_"):  # (*lead, m, sample, window): m and window are whole
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


def _array(path: Path, name: str, mode: str = "r+", token: str = "") -> zarr.Array:
    """An open array, cached per process and store version ``token`` (the spec digest):
    workers write many tasks to one store. Writes store every chunk, even one that equals
    the fill value (a task of NaN entropies is data, and its chunk is checksummed)."""
    if mode == "r":
        return zarr.open_array(str(path), path=name, mode=mode)
    key = (str(path), name, token)
    if key not in _ARRAYS:
        array = zarr.open_array(str(path), path=name, mode=mode)
        _ARRAYS[key] = array.with_config({"write_empty_chunks": True})
    return _ARRAYS[key]


def store_format(path: Path) -> int:
    """The ``nqs_ent_format`` of a store (1 for stores that predate the attribute)."""
    attrs = read_root_attrs(path) or {}
    return int(attrs.get("nqs_ent_format", 1))


def write_task(
    path: Path,
    experiment: Experiment,
    task: Task,
    values: np.ndarray,
    orders: np.ndarray,
    status: np.ndarray | None = None,
    token: str = "",
    format_version: int = FORMAT_VERSION,
) -> None:
    """Write a task's entropies, orderings and sample status, their checksums, and last
    its ``done`` flag.

    ``values``: ``(samples, measures, m, windows)``; ``orders``: ``(samples, windows, n)``;
    ``status``: ``(samples,)`` codes of :data:`pipeline.compute.SAMPLE_STATUS` (all ``ok``
    when ``None``). Stores of format 1 have no status or checksums, so a task with a
    sample that is not ``ok`` is refused there (:class:`StoreError`, nothing written).
    Zarr writes each chunk to a temporary file and renames it, so a failed write leaves
    the previous chunk whole and the task not done.
    """
    ok = SAMPLE_STATUS.index("ok")
    if status is None:
        status = np.full(task.stop - task.start, ok, dtype=np.int8)
    if format_version < 2 and np.any(status != ok):
        causes = sorted({SAMPLE_STATUS[int(code)] for code in status if code != ok})
        raise StoreError(
            f"{path} predates per-sample status (format 1): a sample that is not ok "
            f"({', '.join(causes)}) cannot be recorded; run into a new store"
        )
    lead = task_index(task)
    samples = slice(task.start, task.stop)
    group = experiment.name
    for i, measure in enumerate(experiment.measures):
        array = _array(path, f"{group}/{measure_variable(measure)}", token=token)
        array[(*lead, slice(None), samples, slice(None))] = np.moveaxis(values[:, i], 0, 1)
    n_max = max(experiment.n)
    padded = np.full((*orders.shape[:2], n_max), -1, dtype=np.int16)
    padded[..., : orders.shape[-1]] = orders
    _array(path, f"{group}/site_order", token=token)[(*lead, samples)] = padded
    if format_version >= 2:
        _array(path, f"{group}/sample_status", token=token)[(*lead, samples)] = status
        base = f"{path}/{group}/"
        crcs = [_chunk_crc(base, name, lead, task.block) for name in data_files(experiment)]
        crc_array = _array(path, f"{group}/chunk_crc32", token=token)
        crc_array[(*lead, task.block)] = np.asarray(crcs, dtype=np.uint32)
    _array(path, f"{group}/done", token=token)[(*lead, task.block)] = 1


def _done_files(path: Path, experiment: Experiment) -> Iterator[tuple[tuple[int, ...], str]]:
    """``((n, *grid, block), file)`` for every chunk file of the ``done`` array."""
    depth = 1 + len(experiment.grid_shape)  # folders above the block files

    def walk(folder: str, head: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], str]]:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if not entry.name.isdigit():
                continue
            index = (*head, int(entry.name))
            if len(head) < depth:
                if entry.is_dir():
                    yield from walk(entry.path, index)
            elif entry.is_file():
                yield index, entry.path

    yield from walk(f"{path}/{experiment.name}/done/c", ())


def read_done(path: Path, experiment: Experiment) -> np.ndarray:
    """The ``done`` flags of an experiment, shape ``(n, *grid, block)``.

    Read from the chunk files themselves: every file of a healthy ``done`` chunk holds the
    same bytes, so each distinct content is decoded once through Zarr and the rest are
    compared byte for byte (10^5 tasks in about a second, where decoding every chunk
    took tens of seconds). A chunk that does not decode counts as not done.
    """
    shape = (len(experiment.n), *experiment.grid_shape, experiment.n_blocks)
    done = np.zeros(shape, dtype=bool)
    decoded: dict[bytes, bool] = {}
    array = None
    for index, file in _done_files(path, experiment):
        if any(i >= size for i, size in zip(index, shape, strict=True)):
            continue
        try:
            content = _read(file)
        except OSError:
            continue
        if content not in decoded:
            if array is None:
                array = _array(path, f"{experiment.name}/done", mode="r")
            try:
                decoded[content] = bool(array[index] == 1)
            except Exception:  # a damaged done chunk: the task is not done
                decoded[content] = False
        done[index] = decoded[content]
    return done


def _read(file: str) -> bytes:
    with open(file, "rb") as handle:
        return handle.read()


def _chunk_crc(base: str, name: str, lead: tuple[int, ...], block: int) -> int:
    """CRC-32 of the bytes of a task's chunk file of ``name`` (``base``: the group's path
    with a trailing ``/``)."""
    return zlib.crc32(_read(base + _chunk_key(name, lead, block)))


def _task_whole(
    path: Path, experiment: Experiment, index: tuple[int, ...], names: list[str]
) -> bool:
    """Whether every data chunk of a done task matches the checksum written with it.

    Plain string paths and reads: a resume checks 10^5 tasks, and pathlib's parsing
    alone took half of the time."""
    *lead, block = index
    base = f"{path}/{experiment.name}/"
    try:
        raw = _read(base + _chunk_key("chunk_crc32", tuple(lead), block))
        expected = np.frombuffer(raw, dtype="<u4").tolist()
        if len(expected) != len(names):
            return False
        for name, crc in zip(names, expected, strict=True):
            if _chunk_crc(base, name, tuple(lead), block) != crc:
                return False
    except OSError:  # a chunk file is missing or unreadable
        return False
    return True


def damaged_tasks(path: Path, experiment: Experiment, done: np.ndarray) -> set[tuple[int, ...]]:
    """Indices ``(n, *grid, block)`` of tasks flagged done whose data are not whole.

    Format 2: each chunk file's CRC-32 is compared with the checksum written with the
    task (raw file reads, no decoding). Format 1 (no
    checksums): every chunk is decoded and checked for whole values
    (:func:`decoded_damaged_tasks`).
    """
    if store_format(path) < 2:
        return decoded_damaged_tasks(path, experiment, done)
    names = data_files(experiment)
    return {
        index
        for index in (tuple(int(i) for i in found) for found in np.argwhere(done))
        if not _task_whole(path, experiment, index, names)
    }


def _slab_ok(
    experiment: Experiment,
    n_index: int,
    block: int,
    data: dict[str, np.ndarray],
    grid_index: tuple[int, ...],
) -> bool:
    """Whether one task's values in decoded slabs (arrays over ``(*grid, ...)``) are whole."""
    n = experiment.n[n_index]
    start, stop = experiment.block_range(block)
    valid = np.isin(np.asarray(experiment.all_sizes()), experiment.subsystem.sizes(n))
    for name, slab in data.items():
        values = slab[grid_index]
        if name == "site_order":  # every ordering must be a permutation of 0..n-1
            orders = np.sort(values[start:stop, :, :n], axis=-1)
            if not np.array_equal(orders, np.broadcast_to(np.arange(n), orders.shape)):
                return False
            continue
        values = values[:, start:stop]  # (m, samples, windows)
        if experiment.subsystem.kind == "explicit":
            # each listed subset fills exactly its own size
            if np.any(np.sum(np.isfinite(values), axis=0) != 1):
                return False
        elif not np.all(np.isfinite(values[valid])):
            return False
    return True


def decoded_damaged_tasks(
    path: Path, experiment: Experiment, done: np.ndarray
) -> set[tuple[int, ...]]:
    """Damaged tasks found by decoding every chunk (stores of format 1, which have no
    checksums): a task is whole when its orderings are permutations and its entropies
    finite wherever a size applies.

    Reads one ``n`` at a time; a slab that fails to decode (a truncated chunk) is checked
    chunk by chunk to find the damaged task.
    """
    names = [measure_variable(m) for m in experiment.measures] + ["site_order"]
    damaged: set[tuple[int, ...]] = set()
    for n_index in range(len(experiment.n)):
        flagged = [tuple(int(i) for i in idx) for idx in np.argwhere(done[n_index])]
        if not flagged:
            continue
        try:
            data = {
                name: np.asarray(_array(path, f"{experiment.name}/{name}", mode="r")[n_index])
                for name in names
            }
        except Exception:  # some chunk does not decode: look task by task
            data = None
        for *grid, block in flagged:
            if data is not None:
                ok = _slab_ok(experiment, n_index, block, data, tuple(grid))
            else:
                ok = _task_ok(path, experiment, n_index, tuple(grid), block, names)
            if not ok:
                damaged.add((n_index, *grid, block))
    return damaged


def _task_ok(
    path: Path,
    experiment: Experiment,
    n_index: int,
    grid: tuple[int, ...],
    block: int,
    names: list[str],
) -> bool:
    start, stop = experiment.block_range(block)
    data = {}
    try:
        for name in names:
            array = _array(path, f"{experiment.name}/{name}", mode="r")
            region = (
                (n_index, *grid, slice(None), slice(start, stop))
                if name != "site_order"
                else (n_index, *grid, slice(start, stop))
            )
            values = np.asarray(array[region])
            # re-embed at full sample length so _slab_ok's indexing applies
            full_shape = list(values.shape)
            axis = 1 if name != "site_order" else 0
            full_shape[axis] = experiment.samples
            fill = np.nan if name != "site_order" else -1
            embedded = np.full(full_shape, fill, dtype=values.dtype)
            index = [slice(None)] * len(full_shape)
            index[axis] = slice(start, stop)
            embedded[tuple(index)] = values
            data[name] = embedded[(np.newaxis,) * len(grid)] if grid else embedded
    except Exception:  # the chunk does not decode
        return False
    return _slab_ok(experiment, n_index, block, data, (0,) * len(grid))


def reset_task(path: Path, experiment: Experiment, task: Task) -> None:
    """Clear a task's ``done`` flag (before recomputing a damaged task)."""
    _array(path, f"{experiment.name}/done")[(*task_index(task), task.block)] = 0


# ------------------------------------------------------------------------------ reading


def load(path: str | os.PathLike[str]) -> xr.DataTree:
    """Open a store lazily as an xarray DataTree, one child per experiment.

    >>> tree = load("data/runs/quickstart.zarr")  # doctest: +SKIP
    >>> tree["sn"].ds.S_vn.mean("sample")  # doctest: +SKIP
    """
    return xr.open_datatree(str(path), engine="zarr", consolidated=False)


def status_counts(path: Path, experiment: Experiment, done: np.ndarray) -> dict[str, int]:
    """Samples per status (:data:`pipeline.compute.SAMPLE_STATUS`) of one experiment,
    from the raw ``sample_status`` chunk files of its done tasks (format 2; a format-1
    store counts the samples of done tasks as ``ok``)."""
    total = np.zeros(len(SAMPLE_STATUS), dtype=np.int64)
    total[0] = len(experiment.n) * math.prod(experiment.grid_shape) * experiment.samples
    legacy = store_format(path) < 2
    base = f"{path}/{experiment.name}/"
    for index in np.argwhere(done):
        *lead, block = (int(i) for i in index)
        start, stop = experiment.block_range(block)
        total[0] -= stop - start
        if legacy:
            total[SAMPLE_STATUS.index("ok")] += stop - start
            continue
        try:
            raw = _read(base + _chunk_key("sample_status", tuple(lead), block))
        except OSError:  # a damaged task: its samples count as pending
            raw = b""
        codes = np.frombuffer(raw, dtype=np.int8)[: stop - start]
        codes = np.where((codes >= 0) & (codes < len(SAMPLE_STATUS)), codes, 0)
        total += np.bincount(codes, minlength=len(SAMPLE_STATUS))
    return dict(zip(SAMPLE_STATUS, total.tolist(), strict=True))


def progress(path: Path) -> list[tuple[str, int, int, dict[str, int]]]:
    """``(experiment, done tasks, total tasks, samples per status)`` for every experiment
    of a store, from its files (no chunk is decoded)."""
    from pipeline.spec import parse_spec

    attrs = read_root_attrs(path)
    if attrs is None:
        raise StoreError(f"{path} is not an nqs-ent store")
    sweep = parse_spec(attrs["spec_text"], source=f"{path} (spec)")
    rows = []
    for experiment in sorted(sweep.experiments, key=lambda e: e.name):
        done = read_done(path, experiment)
        counts = status_counts(path, experiment, done)
        rows.append((experiment.name, int(done.sum()), int(done.size), counts))
    return rows


@contextlib.contextmanager
def locked(path: Path) -> Iterator[StoreLock]:
    """``with locked(store): ...`` holds the store's lock for the block."""
    lock = StoreLock(path)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


# ------------------------------------------------------------------ reference snapshots


def snapshot_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every entropy variable, ``site_order`` and ``k`` of a store as ``"group/var"`` ->
    NumPy array: a compact, exact copy of its numbers (for committed references)."""
    tree = load(path)
    out: dict[str, np.ndarray] = {}
    for name, child in sorted(tree.children.items()):
        ds = child.to_dataset()
        for var in sorted(str(v) for v in ds.data_vars):
            if var.startswith("S_") or var in ("site_order", "k"):
                out[f"{name}/{var}"] = np.asarray(ds[var].values)
    return out


def write_snapshot(path: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """Save :func:`snapshot_arrays` of a store to a compressed ``.npz`` file."""
    np.savez_compressed(out, **snapshot_arrays(path))  # type: ignore[arg-type]


def read_snapshot(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load a snapshot written by :func:`write_snapshot`."""
    with np.load(path) as data:
        return {key: data[key] for key in data.files}
