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
import os
import socket
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from pipeline.architectures import get_architecture, hyper_dict
from pipeline.plan import Task
from pipeline.spec import Experiment, Sweep, measure_variable

FORMAT_VERSION = 1
RESERVED_DIMS = ("n", "m", "sample", "window", "site", "block")

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
    """The lazy Dataset (dask arrays, never computed) and encoding of one experiment."""
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
        data = da.full(
            (*lead_shape, len(sizes), experiment.samples, windows),
            np.nan,
            chunks=(*lead_chunks, len(sizes), experiment.samples_per_task, windows),
        )
        data_vars[name] = xr.Variable(
            (*lead_dims, "m", "sample", "window"),
            data,
            attrs={"long_name": measure_long_name(measure), "units": "nats", "measure": measure},
        )
        encoding[name] = {"_FillValue": np.nan}
    data_vars["site_order"] = xr.Variable(
        (*lead_dims, "sample", "window", "site"),
        da.full(
            (*lead_shape, experiment.samples, windows, n_max),
            -1,
            dtype=np.int16,
            chunks=(*lead_chunks, experiment.samples_per_task, windows, n_max),
        ),
        attrs={"long_name": "site ordering (A = first m sites)", "units": "1"},
    )
    encoding["site_order"] = {"_FillValue": None}
    data_vars["done"] = xr.Variable(
        (*lead_dims, "block"),
        da.zeros((*lead_shape, n_blocks), dtype=np.int8, chunks=1),
        attrs={"long_name": "task finished", "units": "1"},
    )
    encoding["done"] = {"_FillValue": None}
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


def _versions() -> dict[str, str]:
    names = ("nqs-ent", "numpy", "scipy", "dask", "distributed", "zarr", "xarray")
    out = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


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


def create(path: Path, sweep: Sweep) -> None:
    """Write the metadata of every experiment (no data chunks) and the root attributes.

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
            "versions": _versions(),
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


# ------------------------------------------------------------------------------- locking


def lock_path(path: Path) -> Path:
    """The lock file of a store: ``STORE.lock`` beside it (Zarr ignores no foreign files
    inside a store)."""
    return path.with_name(path.name + ".lock")


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 4096).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise StoreError(
                f"{self.store} is in use by another run ({owner}); wait for it to finish or stop it"
            ) from None
        holder: dict[str, object] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        if os.environ.get("SLURM_JOB_ID"):
            holder["slurm_job"] = os.environ["SLURM_JOB_ID"]
        os.ftruncate(fd, 0)
        os.write(fd, " ".join(f"{k}={v}" for k, v in holder.items()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
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


_ARRAYS: dict[tuple[str, str, str], zarr.Array] = {}


def _array(path: Path, name: str, mode: str = "r+", token: str = "") -> zarr.Array:
    """An open array, cached per process and store version ``token`` (the spec digest):
    workers write many tasks to one store."""
    key = (str(path), name, token)
    if mode == "r" or key not in _ARRAYS:
        array = zarr.open_array(str(path), path=name, mode=mode)
        if mode == "r":
            return array
        _ARRAYS[key] = array
    return _ARRAYS[key]


def write_task(
    path: Path,
    experiment: Experiment,
    task: Task,
    values: np.ndarray,
    orders: np.ndarray,
    token: str = "",
) -> None:
    """Write a task's entropies and orderings, then its ``done`` flag.

    ``values``: ``(samples, measures, m, windows)``; ``orders``: ``(samples, windows, n)``.
    """
    lead = task_index(task)
    samples = slice(task.start, task.stop)
    for i, measure in enumerate(experiment.measures):
        array = _array(path, f"{experiment.name}/{measure_variable(measure)}", token=token)
        array[(*lead, slice(None), samples, slice(None))] = np.moveaxis(values[:, i], 0, 1)
    n_max = max(experiment.n)
    padded = np.full((*orders.shape[:2], n_max), -1, dtype=np.int16)
    padded[..., : orders.shape[-1]] = orders
    _array(path, f"{experiment.name}/site_order", token=token)[(*lead, samples)] = padded
    _array(path, f"{experiment.name}/done", token=token)[(*lead, task.block)] = 1


def read_done(path: Path, experiment: Experiment) -> np.ndarray:
    """The ``done`` flags of an experiment, shape ``(n, *grid, block)``."""
    return np.asarray(_array(path, f"{experiment.name}/done", mode="r")[...]).astype(bool)


def _slab_ok(
    experiment: Experiment,
    n_index: int,
    block: int,
    data: dict[str, np.ndarray],
    grid_index: tuple[int, ...],
) -> bool:
    """Whether one task's values in decoded slabs (arrays over ``(*grid, ...)``) are whole."""
    n = experiment.n[n_index]
    start, stop = experiment.task_blocks()[block]
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


def damaged_tasks(path: Path, experiment: Experiment, done: np.ndarray) -> set[tuple[int, ...]]:
    """Indices ``(n, *grid, block)`` of tasks flagged done whose data are not whole.

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
    start, stop = experiment.task_blocks()[block]
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


def progress(path: Path) -> list[tuple[str, int, int]]:
    """``(experiment, done tasks, total tasks)`` for every experiment of a store."""
    attrs = read_root_attrs(path)
    if attrs is None:
        raise StoreError(f"{path} is not an nqs-ent store")
    root = zarr.open_group(str(path), mode="r")
    rows = []
    for name, group in sorted(root.groups()):
        done = np.asarray(group["done"][...])
        rows.append((name, int(done.sum()), int(done.size)))
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
