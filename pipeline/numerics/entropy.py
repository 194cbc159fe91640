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
    """Entropies of Schmidt spectra for several measures, stacked along a new first axis.

    Each measure reduces the last axis of ``probs``: ``vn`` is the von Neumann entropy
    ``-sum_j p_j log p_j`` (with ``0 log 0 = 0``), ``renyi<a>`` the Renyi entropy
    ``log(sum_j p_j^a) / (1 - a)`` and ``inf`` the min-entropy ``-log max_j p_j``. Zero
    probabilities are skipped, so padding a spectrum with zeros changes nothing.

    Parameters
    ----------
    probs : array, shape ``(..., d)``
        Real probabilities along the last axis, summing to 1 (as from
        :func:`pipeline.numerics.spectra.schmidt_probs`).
    measures : sequence of str
        At least one measure name: ``"vn"``, ``"renyi<a>"`` (``a > 0``, ``a != 1``,
        written without superfluous zeros: ``renyi2``, ``renyi0.5``) or ``"inf"``.
    xp : namespace
        The array namespace of ``probs`` (:func:`pipeline.numerics.xp.namespace`).

    Returns
    -------
    array, shape ``(len(measures), *probs.shape[:-1])``
        The entropies in nats, in the order of ``measures``, in the real dtype of
        ``probs``.

    Raises
    ------
    ValueError
        For an unknown or badly written measure name
        (:func:`pipeline.numerics.measures.measure_order`).

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> probs = xp.asarray([0.5, 0.25, 0.25])
    >>> xp.round(entropies(probs, ["vn", "renyi2", "inf"], xp), 6).tolist()
    [1.039721, 0.980829, 0.693147]
    >>> batch = xp.asarray([[0.5, 0.25, 0.25], [0.5, 0.5, 0.0]])
    >>> entropies(batch, ["vn", "inf"], xp).shape
    (2, 2)
    """
    return xp.stack([renyi(probs, measure_order(m), xp) for m in measures])
