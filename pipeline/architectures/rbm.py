"""RBM-NQS (Carleo and Troyer, Science 355, 602 (2017)) with the hidden units traced out.

``psi(s) = exp(a.s) prod_{j=1}^{M} 2 cosh(W_j.s + b_j)``, ``M = round(alpha n)`` hidden
units, real or complex parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import check_positive, draw_linear, linear, to_namespace
from pipeline.numerics.xp import complex_of


@dataclass(frozen=True)
class RBMHyper:
    """Hyperparameters of the RBM."""

    density: float = 1.0
    """Hidden-unit density ``alpha``: ``M = round(alpha n)`` (Python's ``round``, half to
    even), at least 1."""
    complex_params: bool = True
    """Complex parameters (real and imaginary parts drawn independently, each with the
    distribution below) or real ones."""
    weight_std: float = 1.0
    """``W ~ N(0, weight_std^2 / n)`` and visible bias ``a ~ N(0, weight_std^2 / n)`` (``a``
    multiplies ``s`` like a one-output linear layer)."""
    bias_std: float = 0.2
    """Hidden bias ``b ~ N(0, bias_std^2)``."""

    def __post_init__(self) -> None:
        check_positive("density", self.density)
        check_positive("weight_std", self.weight_std)
        check_positive("bias_std", self.bias_std, strict=False)


def n_hidden(n: int, hyper: RBMHyper) -> int:
    """``M = round(alpha n)``."""
    return round(hyper.density * n)


def check(n: int, hyper: RBMHyper) -> None:
    if n_hidden(n, hyper) < 1:
        raise ValueError(
            f"rbm: hyperparameter 'density' ({hyper.density}) gives "
            f"M = round(density * n) = 0 hidden units at n = {n}; raise it"
        )


def init(rng: np.random.Generator, n: int, hyper: RBMHyper) -> Params:
    """Draw, in this order: the real parts of ``W`` ``(M, n)``, ``b`` ``(M,)``, ``a``
    ``(n,)``; then, with ``complex_params``, their imaginary parts in the same order."""
    check(n, hyper)
    parts = []
    for _ in range(2 if hyper.complex_params else 1):
        weight, bias = draw_linear(rng, n_hidden(n, hyper), n, hyper.weight_std, hyper.bias_std)
        visible = rng.normal(0.0, hyper.weight_std / math.sqrt(n), size=n)
        parts.append((weight, bias, visible))
    if hyper.complex_params:
        (w_r, b_r, a_r), (w_i, b_i, a_i) = parts
        return {"W": w_r + 1j * w_i, "b": b_r + 1j * b_i, "a": a_r + 1j * a_i}
    weight, bias, visible = parts[0]
    return {"W": weight, "b": bias, "a": visible}


def log_2cosh(theta: Any, xp: Any) -> Any:
    """``log(2 cosh theta)`` without overflow, for real or complex ``theta``.

    With ``y = +-theta`` chosen so that ``Re y >= 0``: ``log(2 cosh theta) = y +
    log1p(exp(-2 y))`` (``cosh`` is even; ``|exp(-2y)| <= 1``). For complex ``theta`` the
    imaginary part is defined modulo ``2 pi``, which ``exp`` does not see.
    """
    real = xp.real(theta) if xp.isdtype(theta.dtype, "complex floating") else theta
    y = xp.where(real >= 0, theta, -theta)
    return y + xp.log1p(xp.exp(-2.0 * y))


def evaluate(params: Params, spins: Any, hyper: RBMHyper, xp: Any) -> Any:
    """Log-amplitude ``a.s + sum_j log(2 cosh(W_j.s + b_j))``: ``(batch, n) -> (batch,)``
    complex."""
    p = to_namespace(params, xp, spins.dtype)
    theta = linear(spins, p["W"], p["b"], xp)
    values = xp.matmul(spins, p["a"]) + xp.sum(log_2cosh(theta, xp), axis=-1)
    return xp.astype(values, complex_of(xp, spins.dtype))


def k(n: int, hyper: RBMHyper) -> int:
    """``k = M``: one ``cosh`` per hidden unit (the exp of the log-amplitude is not
    counted)."""
    return n_hidden(n, hyper)


RBM = register(
    Architecture(
        name="rbm",
        hyper_type=RBMHyper,
        init=init,
        evaluate=evaluate,
        k=k,
        log_amplitude=True,
        real_when=lambda hyper: not hyper.complex_params,
        check=check,
        # measured (n = 18): 8 M + 20 reals per configuration (M hidden units)
        eval_bytes=lambda n, hyper, batch: batch * 8 * (8 * n_hidden(n, hyper) + 32),
    )
)
