"""nqs-ent: how much entanglement neural quantum states hold, measured exactly at scale.

The public API is the names below; each is defined in one layer of the package and
imported on first use (``import pipeline`` itself loads nothing heavy):

- **numerics** (pure array code taking a namespace ``xp``): :func:`namespace`,
  :func:`schmidt_probs`, :func:`nested_schmidt_probs`, :func:`entropies`,
  :func:`measure_variable`, :func:`page_entropy`, :func:`dicke_entropy`;
- **architectures**: :func:`get_architecture`, :func:`full_state`;
- **sweep** (specs and their tasks): :func:`parse_spec`, :func:`load_spec`,
  :class:`Sweep`, :class:`Experiment`, :class:`SpecError`;
- **run**: :func:`run_sweep`; **store**: :func:`load`, :class:`StoreError`;
- **analysis**: :func:`ensemble_stats`, :func:`fit_log_slope`, :func:`bound_constant`,
  :func:`summarize`, :func:`plot_store`.

Entropies are in nats; a state on ``n`` spins is a vector of ``2^n`` amplitudes with site
0 the most significant bit of the basis index.

>>> import pipeline
>>> xp = pipeline.namespace("numpy")
>>> ghz = xp.asarray([1, 0, 0, 0, 0, 0, 0, 1], dtype=xp.complex128) / 2**0.5
>>> probs = pipeline.schmidt_probs(ghz, 3, [0], xp)
>>> round(float(pipeline.entropies(probs, ["vn"], xp)[0]), 12)  # log 2
0.69314718056
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("nqs-ent")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"

_HOMES = {
    "namespace": "pipeline.numerics.xp",
    "schmidt_probs": "pipeline.numerics.spectra",
    "nested_schmidt_probs": "pipeline.numerics.spectra",
    "entropies": "pipeline.numerics.entropy",
    "measure_variable": "pipeline.numerics.measures",
    "page_entropy": "pipeline.numerics.references",
    "dicke_entropy": "pipeline.numerics.references",
    "get_architecture": "pipeline.architectures",
    "full_state": "pipeline.architectures.states",
    "parse_spec": "pipeline.sweep.validate",
    "load_spec": "pipeline.sweep.validate",
    "Sweep": "pipeline.sweep.spec",
    "Experiment": "pipeline.sweep.spec",
    "SpecError": "pipeline.sweep.spec",
    "run_sweep": "pipeline.run.engine",
    "load": "pipeline.store.schema",
    "StoreError": "pipeline.store.layout",
    "ensemble_stats": "pipeline.analysis.stats",
    "fit_log_slope": "pipeline.analysis.fits",
    "bound_constant": "pipeline.analysis.fits",
    "summarize": "pipeline.analysis.tables",
    "plot_store": "pipeline.analysis.plots",
}
"""Where each public name is defined."""

__all__ = [
    "Experiment",
    "SpecError",
    "StoreError",
    "Sweep",
    "__version__",
    "bound_constant",
    "dicke_entropy",
    "ensemble_stats",
    "entropies",
    "fit_log_slope",
    "full_state",
    "get_architecture",
    "load",
    "load_spec",
    "measure_variable",
    "namespace",
    "nested_schmidt_probs",
    "page_entropy",
    "parse_spec",
    "plot_store",
    "run_sweep",
    "schmidt_probs",
    "summarize",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ imports
    from pipeline.analysis.fits import bound_constant, fit_log_slope
    from pipeline.analysis.plots import plot_store
    from pipeline.analysis.stats import ensemble_stats
    from pipeline.analysis.tables import summarize
    from pipeline.architectures import get_architecture
    from pipeline.architectures.states import full_state
    from pipeline.numerics.entropy import entropies
    from pipeline.numerics.measures import measure_variable
    from pipeline.numerics.references import dicke_entropy, page_entropy
    from pipeline.numerics.spectra import nested_schmidt_probs, schmidt_probs
    from pipeline.numerics.xp import namespace
    from pipeline.run.engine import run_sweep
    from pipeline.store.layout import StoreError
    from pipeline.store.schema import load
    from pipeline.sweep.spec import Experiment, SpecError, Sweep
    from pipeline.sweep.validate import load_spec, parse_spec


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value  # found once
        return value
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
