"""Entropies of a spectrum of Schmidt probabilities, in nats.

All functions take probabilities ``p`` of shape ``(..., d)`` (any array namespace) and
reduce the last axis:

- von Neumann ``S = -sum_j p_j log p_j``;
- Renyi ``S_a = log(sum_j p_j^a) / (1 - a)`` for ``a > 0``, ``a != 1``;
- min-entropy ``S_inf = -log max_j p_j`` (the limit ``a -> inf``).

Spectra from an eigensolver carry round-off: :func:`clean_probs` clips negative values and
values below ``d * eps * max(p)`` (numerical zeros of a Gram matrix, which would otherwise
dominate ``sum p^a`` for ``a < 1``) to zero, then renormalises to sum 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

_RENYI = re.compile(r"renyi((?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?)")


def clean_probs(probs: Any, xp: Any) -> Any:
    """Clip round-off (negatives and numerical zeros) and renormalise along the last axis.

    >>> import array_api_compat.numpy as xp
    >>> clean_probs(xp.asarray([0.5, 0.5, -1e-18]), xp).tolist()
    [0.5, 0.5, 0.0]
    """
    dim = probs.shape[-1]
    eps = xp.finfo(probs.dtype).eps
    top = xp.max(probs, axis=-1, keepdims=True)
    zero = xp.zeros_like(probs)
    probs = xp.where(probs > dim * eps * top, probs, zero)
    return probs / xp.sum(probs, axis=-1, keepdims=True)


def von_neumann(probs: Any, xp: Any) -> Any:
    """``-sum p log p`` over the last axis, with ``0 log 0 = 0``.

    >>> import array_api_compat.numpy as xp
    >>> round(float(von_neumann(xp.asarray([0.5, 0.5]), xp)), 12) == round(math.log(2), 12)
    True
    """
    positive = probs > 0
    safe = xp.where(positive, probs, xp.ones_like(probs))
    return -xp.sum(xp.where(positive, probs * xp.log(safe), xp.zeros_like(probs)), axis=-1)


def renyi(probs: Any, alpha: float, xp: Any) -> Any:
    """Renyi entropy of order ``alpha`` (``alpha = 1`` and ``inf`` dispatch to the limits)."""
    if alpha <= 0:
        raise ValueError(f"Renyi order must be > 0, got {alpha}")
    if alpha == 1:
        return von_neumann(probs, xp)
    if math.isinf(alpha):
        return min_entropy(probs, xp)
    positive = probs > 0
    powered = xp.where(positive, xp.where(positive, probs, xp.ones_like(probs)) ** alpha, 0.0)
    return xp.log(xp.sum(powered, axis=-1)) / (1.0 - alpha)


def min_entropy(probs: Any, xp: Any) -> Any:
    """``-log max p`` over the last axis."""
    return -xp.log(xp.max(probs, axis=-1))


def measure_order(measure: str) -> float:
    """The Renyi order of a measure name: ``vn`` -> 1, ``inf`` -> inf, ``renyi<a>`` -> a.

    ``a`` is a positive number other than 1 written without superfluous zeros
    (``renyi2``, ``renyi0.5``; not ``renyi2.0``), so that one measure has one name.

    >>> measure_order("renyi2"), measure_order("vn"), measure_order("inf")
    (2.0, 1.0, inf)
    """
    if measure == "vn":
        return 1.0
    if measure == "inf":
        return math.inf
    match = _RENYI.fullmatch(measure) if isinstance(measure, str) else None
    if match is None:
        raise ValueError(
            f"unknown measure {measure!r}; expected 'vn', 'inf' or 'renyi<alpha>' with alpha "
            "a positive number != 1 written without extra zeros (e.g. renyi2, renyi0.5)"
        )
    alpha = float(match.group(1))
    if alpha == 0:
        raise ValueError(f"measure {measure!r}: the Renyi order must be > 0")
    if alpha == 1:
        raise ValueError(f"measure {measure!r}: the Renyi order 1 is von Neumann; write 'vn'")
    return alpha


def entropies(probs: Any, measures: Sequence[str], xp: Any) -> Any:
    """Stack the requested measures: result shape ``(len(measures), *probs.shape[:-1])``."""
    return xp.stack([renyi(probs, measure_order(m), xp) for m in measures])
