"""A store's experiments as xarray objects: which dimensions are hyperparameters, labels,
the half cut and the largest measured size.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from pipeline.store.layout import RESERVED_DIMS

"""Store dimensions that are not hyperparameters (as in :mod:`pipeline.store`)."""


def hyper_dims(obj: xr.DataArray | xr.Dataset) -> list[str]:
    """The swept-hyperparameter dimensions of a store variable or Dataset, in order.

    >>> da = xr.DataArray(np.zeros((1, 2, 3)), dims=("n", "activation", "m"))
    >>> hyper_dims(da)
    ['activation']
    """
    return [str(dim) for dim in obj.dims if dim not in RESERVED_DIMS]


def axis_label(obj: xr.DataArray, fallback: str = "") -> str:
    """``"long_name [units]"`` from a variable's attributes (units omitted when absent or
    ``"1"``).

    >>> axis_label(xr.DataArray(0.0, attrs={"long_name": "von Neumann entropy",
    ...                                     "units": "nats"}))
    'von Neumann entropy [nats]'
    """
    name = str(obj.attrs.get("long_name") or obj.name or fallback)
    units = obj.attrs.get("units")
    return f"{name} [{units}]" if units and units != "1" else name


def _as_dataarray(values: Any, dim: str) -> xr.DataArray:
    """An int DataArray along ``dim`` from a scalar, a sequence or a DataArray."""
    if isinstance(values, xr.DataArray):
        return values
    array = np.asarray(values)
    if array.ndim == 0:
        return xr.DataArray(array)
    return xr.DataArray(array, dims=dim, coords={dim: array})


def half_cut(da: xr.DataArray) -> xr.DataArray:
    """The values at ``|A| = n // 2`` for every ``n``: the ``m`` dimension is dropped and
    ``m`` kept as a coordinate along ``n``; NaN where that size was not measured.

    >>> da = xr.DataArray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dims=("n", "m"),
    ...                   coords={"n": [4, 6], "m": [1, 2, 3]})
    >>> half_cut(da).values.tolist()
    [2.0, 6.0]
    """
    halves = da["n"] // 2
    wanted = np.union1d(da["m"].values, np.unique(halves.values))
    return da.reindex(m=wanted).sel(m=halves)


def largest_size(da: xr.DataArray, limit_half: bool = True) -> xr.DataArray:
    """Per ``n``, the values at the largest size ``m`` (``<= n // 2`` when
    ``limit_half``) that holds any finite value; NaN where none does."""
    finite = da.notnull()
    other = [dim for dim in da.dims if dim not in ("n", "m")]
    present = finite.any(other) if other else finite
    if limit_half:
        present = present & (da["m"] <= da["n"] // 2)
    m_values = da["m"].where(present).max("m")  # (n,)
    chosen = m_values.fillna(da["m"].values[0]).astype(int)
    out = da.sel(m=chosen)
    return out.where(m_values.notnull())


def experiments(source: Any) -> dict[str, xr.Dataset]:
    """The experiment Datasets of a store: ``{name: Dataset}``.

    ``source`` is a DataTree (from :func:`pipeline.load`), one Dataset, a mapping of names
    to Datasets, or a sequence of Datasets (named by their ``experiment`` attribute).
    """
    if isinstance(source, xr.DataTree):
        found = {
            str(name): child.to_dataset()
            for name, child in source.children.items()
            if any(str(v).startswith("S_") for v in child.data_vars)
        }
        order = _spec_order(source.attrs.get("spec_text"))
        return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))
    if isinstance(source, xr.Dataset):
        return {str(source.attrs.get("experiment", "experiment")): source}
    if isinstance(source, Mapping):
        return {str(name): ds for name, ds in source.items()}
    if isinstance(source, Iterable):
        out = {}
        for i, ds in enumerate(source):
            out[str(ds.attrs.get("experiment", f"experiment{i}"))] = ds
        return out
    raise TypeError(f"expected a DataTree, a Dataset or Datasets, got {type(source).__name__}")


def open_experiment(path: str | os.PathLike[str], name: str) -> xr.Dataset:
    """Open one experiment group of a results store lazily as a Dataset."""
    return xr.open_dataset(os.fspath(path), group=name, engine="zarr", consolidated=False)


def _spec_order(spec_text: Any) -> dict[str, int]:
    """Experiment name -> position in the spec (``{}`` when the text is absent or bad)."""
    import tomllib

    if not isinstance(spec_text, str):
        return {}
    try:
        tables = tomllib.loads(spec_text).get("experiment", [])
        return {str(table["name"]): i for i, table in enumerate(tables)}
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError):
        return {}
