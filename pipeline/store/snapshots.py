"""``.npz`` snapshots of a store's numbers, to compare runs bit for bit (or within the
cross-machine tolerance) without Zarr.
"""

from __future__ import annotations

import os

import numpy as np

from pipeline.store.schema import load


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
