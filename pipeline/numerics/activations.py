"""Scalar activations, by name, for any array namespace.

Names: ``tanh``, ``sin``, ``cos``, ``gelu`` (exact erf form), ``gelu_tanh`` (the tanh
approximation, ``jax.nn.gelu``'s default and so flax's and NetKet's; it differs from
``gelu`` by up to about 5e-4), ``relu``, ``softplus``, ``sigmoid``, ``elu``, and
``poly<d>`` for the degree-``d`` polynomial ``sum_{j=0}^{d} x^j / j!`` (the Taylor
polynomial of ``exp``; every monomial up to ``d`` present, so the activation has exactly
degree ``d``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.numerics.xp import is_numpy

Activation = Callable[[Any, Any], Any]


_POLY = re.compile(r"^poly([1-9][0-9]*)$")


def erf(x: Any, xp: Any) -> Any:
    """The error function in namespace ``xp`` (not part of the array API standard).

    NumPy arrays use SciPy, CuPy arrays use ``cupyx.scipy.special``; any other namespace
    (the strict reference implementation in tests) goes through host memory.
    """
    if is_numpy(xp):
        from scipy.special import erf as scipy_erf

        return xp.asarray(scipy_erf(x))
    import array_api_compat

    if array_api_compat.is_cupy_namespace(xp):
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(x)
    from scipy.special import erf as scipy_erf

    host = np.from_dlpack(x)
    return xp.asarray(scipy_erf(host), dtype=x.dtype)


def _gelu(x: Any, xp: Any) -> Any:
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0), xp))


GELU_TANH_C = math.sqrt(2.0 / math.pi)


def _gelu_tanh(x: Any, xp: Any) -> Any:
    # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    return 0.5 * x * (1.0 + xp.tanh(GELU_TANH_C * (x + 0.044715 * x * x * x)))


def _softplus(x: Any, xp: Any) -> Any:
    # log(1 + e^x) without overflow: max(x, 0) + log1p(exp(-|x|))
    return xp.maximum(x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(x: Any, xp: Any) -> Any:
    return 0.5 * (1.0 + xp.tanh(0.5 * x))


def _elu(x: Any, xp: Any) -> Any:
    return xp.where(x > 0, x, xp.expm1(xp.minimum(x, xp.zeros_like(x))))


ACTIVATIONS: dict[str, Activation] = {
    "tanh": lambda x, xp: xp.tanh(x),
    "sin": lambda x, xp: xp.sin(x),
    "cos": lambda x, xp: xp.cos(x),
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "relu": lambda x, xp: xp.maximum(x, xp.zeros_like(x)),
    "softplus": _softplus,
    "sigmoid": _sigmoid,
    "elu": _elu,
}


def _polynomial(degree: int) -> Activation:
    coefficients = [1.0 / math.factorial(j) for j in range(degree + 1)]

    def poly(x: Any, xp: Any) -> Any:
        out = xp.full_like(x, coefficients[-1])
        for c in reversed(coefficients[:-1]):  # Horner
            out = out * x + c
        return out

    return poly


def check_activation(name: str) -> None:
    """Raise ``ValueError`` naming the valid choices when ``name`` is not an activation."""
    if name not in ACTIVATIONS and not _POLY.match(name):
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)} "
            "or poly<d> (e.g. poly3)"
        )


def get_activation(name: str) -> Activation:
    """The activation ``f(x, xp)`` called ``name``."""
    check_activation(name)
    match = _POLY.match(name)
    if match:
        return _polynomial(int(match.group(1)))
    return ACTIVATIONS[name]
