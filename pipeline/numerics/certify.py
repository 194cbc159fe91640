"""Certified entropy intervals from a partial spectrum (DESIGN section 6).

A streaming spectrum gives Ritz values ``mu_1 >= ... >= mu_l >= 0`` of the reduced density
matrix on an orthonormal basis (a compression of it), and the weight they miss,
``tau = 1 - sum mu``. Cauchy interlacing gives ``mu_i <= p_i`` for the true Schmidt
probabilities ``p_1 >= p_2 >= ...`` (``D`` of them, ``D`` the dimension of the smaller
side), with ``sum (p_i - mu_i) = tau``. Among all probability vectors with ``p_i >= mu_i``:

- ``p_lo = (mu_1 + tau, mu_2, ..., mu_l, 0, ...)`` majorises every one;
- the water-filled ``p_hi_i = max(mu_i, L)`` (``sum_{i <= D} max(mu_i, L) = 1``) is majorised
  by every one.

Every Schur-concave measure (von Neumann, each Renyi order, the min-entropy) of the true
spectrum therefore lies in ``[S(p_lo), S(p_hi)]``. Floating-point error in ``mu`` and
``tau`` is covered by a stated budget added to ``tau`` (:func:`fp_budget`) and by lowering
each ``mu_i`` by its eigensolver error (``Certificate.of``'s ``error``); ``mu`` is scaled
down where needed so that ``sum mu + tau = 1`` stays exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.numerics.measures import measure_order

FP_ULPS = 64
"""The floating-point budget is ``FP_ULPS * eps * (rank + sqrt(terms))``: the Ritz values'
eigensolver error (a few ulps each, ``rank`` of them) and the accumulated sums of the norm
and the trace (``terms`` tiles, summed in blocks)."""


def fp_budget(rank: int, terms: int, eps: float = float(np.finfo(np.float64).eps)) -> float:
    """Weight added to ``tau`` for the rounding of ``rank`` Ritz values and of sums over
    ``terms`` tiles (:data:`FP_ULPS`).

    >>> fp_budget(100, 10_000) < 1e-11
    True
    """
    return FP_ULPS * eps * (rank + math.sqrt(max(terms, 1)))


@dataclass(frozen=True)
class Certificate:
    """The extremal spectra of a partial spectrum: everything the interval needs."""

    mu: np.ndarray
    """Lower bounds of the largest probabilities, descending, ``sum mu + tau = 1``."""
    tau: float
    """Weight not captured (with the floating-point budget), ``>= 0``."""
    dim: int
    """Number of Schmidt values ``D`` (the dimension of the smaller side)."""
    level: float
    """Water level ``L`` of ``p_hi``."""
    above: int
    """Number of ``mu_i > L`` (the rest of ``p_hi`` is ``D - above`` values ``L``)."""

    @classmethod
    def of(
        cls, ritz: Sequence[float] | np.ndarray, tau: float, dim: int, error: float = 0.0
    ) -> Certificate:
        """The certificate of Ritz values ``ritz`` (any order) with missed weight ``tau``.

        ``error`` bounds each computed Ritz value's absolute error (the eigensolver's
        round-off): every value is lowered by it, so that ``mu_i <= p_i`` holds for the
        computed values too, and the weight removed joins ``tau``. Without it, round-off
        values of order ``eps`` that stand for true zeros would raise the lower bound of
        every Renyi order below 1 (each adds ``mu^alpha``: at ``alpha = 1/2`` a value of
        ``1e-16`` adds ``1e-8``). Negative values count as 0; when ``sum ritz + tau``
        exceeds 1, the values are scaled down to make it 1 (lower bounds stay lower bounds).

        >>> Certificate.of([0.5, 0.5 - 1e-12, 1e-16], 0.0, 4, error=1e-15).mu.tolist()
        [0.499999999999999, 0.499999999998999, 0.0]
        """
        values = np.asarray(ritz, dtype=np.float64) - float(error)
        mu = np.sort(np.clip(values, 0.0, None))[::-1][:dim]
        tau = min(max(float(tau), 0.0), 1.0)
        total = float(mu.sum())
        if total + tau > 1.0 and total > 0:
            mu = mu * ((1.0 - tau) / total)
        tau = max(1.0 - float(mu.sum()), 0.0)
        level, above = _water_level(mu, dim)
        return cls(mu=mu, tau=tau, dim=int(dim), level=level, above=above)

    def p_lo(self) -> np.ndarray:
        """``(mu_1 + tau, mu_2, ..., mu_l)``: the lowest entropy of every measure."""
        probs = self.mu.copy()
        if probs.size:
            probs[0] += self.tau
        else:
            probs = np.asarray([1.0])
        return probs

    def bounds(self, measures: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)``, each of shape ``(len(measures),)``, in nats."""
        lo = np.asarray([_entropy(self.p_lo(), 0, 0.0, measure_order(m)) for m in measures])
        top = self.mu[: self.above]
        hi = np.asarray(
            [_entropy(top, self.dim - self.above, self.level, measure_order(m)) for m in measures]
        )
        return lo, np.maximum(hi, lo)

    def estimate(self, measures: Sequence[str]) -> np.ndarray:
        """The entropies of ``mu / sum mu`` (a point inside the interval: it satisfies
        ``p_i >= mu_i``)."""
        total = float(self.mu.sum())
        probs = self.mu / total if total > 0 else np.asarray([1.0])
        return np.asarray([_entropy(probs, 0, 0.0, measure_order(m)) for m in measures])


def _water_level(mu: np.ndarray, dim: int) -> tuple[float, int]:
    """``(L, k)`` with ``sum_{i < k} mu_i + (dim - k) L = 1`` and ``mu_{k-1} > L >= mu_k``."""
    rank = mu.size
    head = np.concatenate([[0.0], np.cumsum(mu)])
    for k in range(min(rank, dim - 1), -1, -1):
        level = max(1.0 - float(head[k]), 0.0) / (dim - k)
        below = k == rank or level >= mu[k]
        if below and (k == 0 or mu[k - 1] > level):
            return level, k
    return max(1.0 - float(head[0]), 0.0) / dim, 0  # unreachable for sorted mu


def _entropy(top: np.ndarray, repeats: int, level: float, alpha: float) -> float:
    """Renyi entropy of order ``alpha`` of ``top`` and ``repeats`` copies of ``level``."""
    top = top[top > 0]
    flat = repeats if level > 0 else 0
    if alpha == 1.0:
        value = -float(np.sum(top * np.log(top)))
        return value - (flat * level * math.log(level) if flat else 0.0)
    if math.isinf(alpha):
        largest = max(float(top.max()) if top.size else 0.0, level if flat else 0.0)
        return -math.log(largest)
    power = float(np.sum(top**alpha)) + (flat * level**alpha if flat else 0.0)
    return math.log(power) / (1.0 - alpha)
