"""The store's schema: an experiment's group, created metadata-first, then filled task by
task (:mod:`pipeline.store.writes`).

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


Format 2 adds ``sample_status`` (int8 per sample, ``flag_meanings``) and ``chunk_crc32``
(uint32 per task and data file).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import socket
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from pipeline.architectures import get_architecture, hyper_dict
from pipeline.numerics import provenance
from pipeline.numerics.measures import measure_long_name, measure_variable, variable_measure
from pipeline.numerics.provenance import code_revision
from pipeline.store.layout import (
    FORMAT_VERSION,
    RESERVED_DIMS,
    StoreError,
    certified_variables,
    data_files,
)
from pipeline.sweep.sample import SAMPLE_STATUS
from pipeline.sweep.spec import Experiment, Sweep


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
    for name in certified_variables(experiment):
        integer = name in ("rank", "passes")
        fill = -1 if integer else np.nan
        dtype = np.int32 if integer else np.float64
        data = da.full(
            (*lead_shape, len(sizes), experiment.samples, windows), fill, dtype=dtype, chunks=-1
        )
        data_vars[name] = xr.Variable(
            (*lead_dims, "m", "sample", "window"), data, attrs=_certified_attrs(name)
        )
        encoding[name] = {
            "_FillValue": fill,
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
        "method": experiment.method,
    }
    if experiment.certified:
        attrs["streaming"] = json.dumps(dataclasses.asdict(experiment.streaming))
    if experiment.params:  # sample i is the network of file i
        attrs["networks"] = json.dumps(
            [{"sample": i, **dataclasses.asdict(p)} for i, p in enumerate(experiment.params)]
        )
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), encoding


def _certified_attrs(name: str) -> dict[str, str]:
    """Attributes of the variables of a certified experiment."""
    if name == "tail_weight":
        return {
            "long_name": "Schmidt weight the streaming basis missed (0: exact or dense)",
            "units": "1",
        }
    if name == "rank":
        return {"long_name": "basis size of the certificate (2^|A_small| if exact)", "units": "1"}
    if name == "passes":
        return {"long_name": "passes over the state's tiles (0: dense)", "units": "1"}
    variable, side = name.rsplit("_", 1)
    measure = variable_measure(variable)
    bound = "lower" if side == "lo" else "upper"
    return {
        "long_name": f"certified {bound} bound of {measure_long_name(measure)}",
        "units": "nats",
        "measure": measure,
    }


def create(path: Path, sweep: Sweep, worker_platforms: list[dict[str, Any]] | None = None) -> None:
    """Write the metadata of every experiment (no data chunks) and the root attributes.

    Provenance: package versions, code revision, and the BLAS library, version and kernel
    and NumPy's SIMD level of this process (``platform``) and of the workers
    (``worker_platforms``, distinct records; see :mod:`pipeline.numerics.provenance`).
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
            "spec_folder": sweep.folder,
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
    :func:`pipeline.numerics.provenance.platform_key` of each new one (a resume on another CPU)."""
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


def load(path: str | os.PathLike[str]) -> xr.DataTree:
    """Open a store lazily as an xarray DataTree, one child per experiment.

    Data are read only when computed (the arrays are lazy); the entropies of tasks not
    yet done read as NaN. The root's attributes hold the spec (``spec_name``,
    ``spec_text``, ``spec_digest``) and the provenance; each child
    ``tree[<experiment name>].ds`` is a Dataset with

    - ``S_<measure>`` (``S_vn``, ``S_renyi2``, ``S_inf``...): float64 entropies in nats,
      dims ``(n, <swept hyperparameters...>, m, sample, window)``, ``m`` the subsystem
      size in sites; NaN where not computed or where a size does not apply to an ``n``;
    - ``site_order``: int16 ``(n, <hyper...>, sample, window, site)``, the site ordering
      of each window (``A = site_order[:m]``), ``-1`` past ``n``;
    - ``k``: int64 ``(n, <hyper...>)``, the nonlinearity count (``-1`` for reference
      states);
    - ``done``: int8 ``(n, <hyper...>, block)``; ``sample_status``: int8
      ``(n, <hyper...>, sample)``; ``chunk_crc32``: uint32 ``(n, <hyper...>, block, file)``.

    Parameters
    ----------
    path : str or os.PathLike
        The store directory (``nqs-ent run --store``).

    Returns
    -------
    xarray.DataTree
        The store, one child group per experiment (see above).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist or holds no Zarr group (raised by zarr).

    Examples
    --------
    A store created (its metadata only, before any task has run) in a temporary folder:

    >>> import shutil, tempfile
    >>> from pipeline.sweep.validate import parse_spec
    >>> sweep = parse_spec('''
    ... name = "demo"
    ... seed = 1
    ... [[experiment]]
    ... name = "sn"
    ... architecture = "sn"
    ... n = [6, 8]
    ... samples = 4
    ... measures = ["vn", "renyi2"]
    ... hyper.activation = ["tanh", "sin"]
    ... subsystem = {kind = "window", m = "1..n//2", windows = 3}
    ... ''')
    >>> folder = Path(tempfile.mkdtemp())
    >>> create(folder / "demo.zarr", sweep)
    >>> tree = load(folder / "demo.zarr")
    >>> list(tree.children), tree.attrs["spec_name"]
    (['sn'], 'demo')
    >>> ds = tree["sn"].ds
    >>> ds.S_vn.dims, ds.S_vn.shape, ds.S_vn.attrs["units"]
    (('n', 'activation', 'm', 'sample', 'window'), (2, 2, 4, 4, 3), 'nats')
    >>> ds.S_vn.mean("sample").dims, int(ds.done.sum())
    (('n', 'activation', 'm', 'window'), 0)
    >>> shutil.rmtree(folder)
    """
    return xr.open_datatree(str(path), engine="zarr", consolidated=False)
