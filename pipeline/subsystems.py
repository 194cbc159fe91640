"""Seeded subsystem samplers.

A sampler returns site *orderings*: permutations of ``0..n-1`` whose first ``m`` sites form
the subsystem of size ``m``. Subsystems of growing size drawn for one ordering are therefore
nested, which lets :func:`pipeline.spectra.nested_schmidt_probs` share one reduced density
matrix between sizes.

- ``first``: the identity ordering (``A = {0, ..., m-1}``), one per sample;
- ``window``: cyclic windows ``(start + arange(m)) mod n`` with ``start`` uniform in
  ``[0, n)``, ``windows`` per sample (the paper's translations);
- ``random``: uniformly random subsets (a uniformly random permutation), ``windows`` per
  sample;
- ``explicit``: subsets listed by the user (see :func:`explicit_orders`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KINDS = ("first", "window", "random", "explicit")


def sample_orders(kind: str, n: int, windows: int, rng: np.random.Generator) -> np.ndarray:
    """Orderings of shape ``(windows, n)`` for the ``first``, ``window`` and ``random`` kinds.

    >>> sample_orders("window", 5, 2, np.random.default_rng(0)).tolist()
    [[4, 0, 1, 2, 3], [3, 4, 0, 1, 2]]
    """
    if kind == "first":
        return np.tile(np.arange(n), (windows, 1))
    if kind == "window":
        starts = rng.integers(0, n, size=windows)
        return (starts[:, None] + np.arange(n)[None, :]) % n
    if kind == "random":
        return np.stack([rng.permutation(n) for _ in range(windows)])
    raise ValueError(f"unknown subsystem kind {kind!r}; choose one of {', '.join(KINDS)}")


def explicit_orders(n: int, subsets: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """One ordering per listed subset: the subset's sites, then the rest ascending."""
    from pipeline.spectra import site_order

    return [site_order(n, subset) for subset in subsets]


def subsystem_sites(order: Sequence[int], m: int) -> tuple[int, ...]:
    """The sites of the size-``m`` subsystem of an ordering, ascending."""
    return tuple(sorted(int(s) for s in order[:m]))
