"""The results store: one Zarr v3 group per experiment, written task by task.

- :mod:`~pipeline.store.layout` -- format version, errors, chunk names and checksums;
- :mod:`~pipeline.store.schema` -- the template of an experiment's group, creating a
  store, checking that a store belongs to a spec, opening it as a ``DataTree``;
- :mod:`~pipeline.store.writes` -- writing and clearing one task's region;
- :mod:`~pipeline.store.integrity` -- which tasks are done, which are damaged, progress;
- :mod:`~pipeline.store.lock` -- one writer at a time, and the location and space checks;
- :mod:`~pipeline.store.snapshots` -- ``.npz`` snapshots of a store's numbers.

The names below are the store's interface for the run layer; ``from pipeline import
store`` then ``store.create(...)``.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "FORMAT_VERSION": "pipeline.store.layout",
    "StoreError": "pipeline.store.layout",
    "StoreLock": "pipeline.store.lock",
    "add_worker_platforms": "pipeline.store.schema",
    "check_compatible": "pipeline.store.layout",
    "check_location": "pipeline.store.lock",
    "check_space": "pipeline.store.lock",
    "check_unlocked": "pipeline.store.lock",
    "chunk_file": "pipeline.store.layout",
    "create": "pipeline.store.schema",
    "damaged_tasks": "pipeline.store.integrity",
    "data_files": "pipeline.store.layout",
    "decoded_damaged_tasks": "pipeline.store.integrity",
    "experiment_template": "pipeline.store.schema",
    "in_use": "pipeline.store.lock",
    "load": "pipeline.store.schema",
    "lock_path": "pipeline.store.lock",
    "locked": "pipeline.store.lock",
    "progress": "pipeline.store.integrity",
    "read_done": "pipeline.store.integrity",
    "read_root_attrs": "pipeline.store.layout",
    "read_snapshot": "pipeline.store.snapshots",
    "reset_task": "pipeline.store.writes",
    "snapshot_arrays": "pipeline.store.snapshots",
    "status_counts": "pipeline.store.integrity",
    "store_format": "pipeline.store.layout",
    "task_index": "pipeline.store.layout",
    "write_snapshot": "pipeline.store.snapshots",
    "write_task": "pipeline.store.writes",
}
"""Where each name of the interface lives; imported on first use, so that importing
a light part of the store (the lock, the layout) does not load xarray and dask."""

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
