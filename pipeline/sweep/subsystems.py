"""Seeded subsystem samplers.

A sampler returns site *orderings*: permutations of ``0..n-1`` whose first ``m`` sites form
the subsystem of size ``m``. Subsystems of growing size drawn for one ordering are therefore
nested, which lets :func:`pipeline.numerics.spectra.nested_schmidt_probs` share one reduced density
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
from dataclasses import dataclass

import numpy as np

from pipeline.numerics.spectra import site_order
from pipeline.sweep.sizes import check_size, size_range

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
    return [site_order(n, subset) for subset in subsets]


def subsystem_sites(order: Sequence[int], m: int) -> tuple[int, ...]:
    """The sites of the size-``m`` subsystem of an ordering, ascending."""
    return tuple(sorted(int(s) for s in order[:m]))


@dataclass(frozen=True)
class SubsystemSpec:
    """Which subsystems ``A`` are measured, and of which sizes ``|A| = m``."""

    kind: str
    """``first`` (sites ``0..m-1``), ``window`` (cyclic windows at random starts),
    ``random`` (uniform random subsets of size ``m``) or ``explicit``."""
    m: tuple[int, ...] | str | None
    """Sizes as written: a tuple of ints, a range string ``"a..b"`` or a single
    expression in ``n``; ``None`` for ``explicit`` (the sizes come from ``sites``)."""
    windows: int | None
    """Windows (``window``) or random subsets (``random``) per sample; 1 for ``first``;
    ``None`` for ``explicit``."""
    sites: tuple[tuple[int, ...], ...] | None
    """The listed subsets for ``explicit``, in spec order; ``None`` otherwise."""

    def sizes(self, n: int) -> tuple[int, ...]:
        """Sorted distinct sizes ``m`` for ``n`` sites; ``ValueError`` if one is invalid.

        >>> SubsystemSpec("window", "1..n//2-2", 10, None).sizes(12)
        (1, 2, 3, 4)
        """
        if self.sites is not None:
            for subset in self.sites:
                if max(subset) >= n:
                    raise ValueError(f"site {max(subset)} is not < n = {n}")
                check_size(len(subset), n)
            return tuple(sorted({len(subset) for subset in self.sites}))
        if isinstance(self.m, str):
            return size_range(self.m, n)
        assert self.m is not None
        for m in self.m:
            check_size(m, n)
        return tuple(sorted(set(self.m)))

    @property
    def n_windows(self) -> int:
        """Subsystems per sample and size: ``windows``, the number of listed subsets for
        ``explicit``, 1 for ``first``."""
        if self.sites is not None:
            return len(self.sites)
        return self.windows if self.windows is not None else 1


def orders_for(spec: SubsystemSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Site orderings ``(windows, n)`` of one sample: the first ``m`` sites of a row are
    its size-``m`` subsystem. ``rng`` is the sample's subsystem generator (unused by the
    ``first`` and ``explicit`` kinds)."""
    if spec.sites is not None:
        return np.asarray(explicit_orders(n, spec.sites))
    return sample_orders(spec.kind, n, spec.n_windows, rng)


def measured_cells(spec: SubsystemSpec, n: int, all_sizes: Sequence[int]) -> np.ndarray:
    """Which ``(size, window)`` cells of a sample hold an entropy at ``n``, as a boolean
    array ``(len(all_sizes), windows)``: every window at each size measured at ``n``, or,
    for the explicit kind, each listed subset at its own size only.

    >>> measured_cells(SubsystemSpec("explicit", None, None, ((0,), (0, 2))), 4, (1, 2))
    array([[ True, False],
           [False,  True]])
    """
    position = {m: i for i, m in enumerate(all_sizes)}
    cells = np.zeros((len(all_sizes), spec.n_windows), dtype=bool)
    if spec.sites is not None:
        for w, subset in enumerate(spec.sites):
            cells[position[len(subset)], w] = True
    else:
        cells[[position[m] for m in spec.sizes(n)], :] = True
    return cells
