"""TODO docstring (entropy)"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pipeline.numerics.measures import measure_order


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


def entropies(probs: Any, measures: Sequence[str], xp: Any) -> Any:
    """Stack the requested measures: result shape ``(len(measures), *probs.shape[:-1])``."""
    return xp.stack([renyi(probs, measure_order(m), xp) for m in measures])
