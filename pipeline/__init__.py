"""nqs-ent: how much entanglement neural quantum states hold, measured exactly at scale.

The numerics (:mod:`pipeline.architectures`, :mod:`pipeline.states`,
:mod:`pipeline.spectra`, :mod:`pipeline.entropy`, :mod:`pipeline.references`) are pure
functions of plain arrays; :func:`load` opens a results store as xarray objects.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nqs-ent")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"


def load(path):  # type: ignore[no-untyped-def]
    """Open a results store lazily as an ``xarray.DataTree`` (one child per experiment)."""
    from pipeline.store.schema import load as _load

    return _load(path)


__all__ = ["__version__", "load"]
