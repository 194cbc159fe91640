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

import array_api_compat
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

    if array_api_compat.is_cupy_namespace(xp):
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(x)
    from scipy.special import erf as scipy_erf

    host = np.from_dlpack(x)
    return xp.asarray(scipy_erf(host), dtype=x.dtype)


def tanh(x: Any, xp: Any) -> Any:
    """``tanh x``: the namespace's own where NumPy's is vectorised
    (:data:`NUMPY_TANH_VECTORISED`; the strict namespace runs NumPy's, so the two stay
    equal), on CuPy and for complex ``x``; else ``sign(x) (1 - t) / (1 + t)`` with
    ``t = exp(-2 |x|)`` (:func:`exp_tanh`).

    NumPy's float64 ``tanh`` has a SIMD kernel only for AVX-512 (``X86_V4``); elsewhere it
    is a scalar libm loop (about 35 ns a value on the Haswell CI machine) while its ``exp``
    is vectorised, so the ``exp`` form, in place, is about 2x faster there. On an AVX-512
    CPU NumPy's kernel is 2.6x faster than the ``exp`` form (1.7 against 4.4 ns a value,
    SkylakeX). It is the largest term of the MLP, SN, TanhNet and transformer states. The
    choice depends only on the CPU (through NumPy's dispatch), so results stay
    bit-identical on one machine; across the two forms they differ by at most ``2.3e-16``
    absolute, inside the cross-machine tolerance.
    """
    if (
        array_api_compat.is_cupy_namespace(xp)
        or xp.isdtype(x.dtype, "complex floating")
        or NUMPY_TANH_VECTORISED
    ):
        return xp.tanh(x)
    return exp_tanh(x, xp)


def exp_tanh(x: Any, xp: Any) -> Any:
    """``tanh x`` as ``sign(x) (1 - t) / (1 + t)`` with ``t = exp(-2 |x|)``, for real ``x``.

    Its error is absolute: at most ``2.3e-16`` from the correctly rounded ``tanh``
    (measured on 4M normal values and ``|x|`` from 1e-300 to 1e3), so it is relative only
    for ``|x| >~ 0.5``; below that it equals a change of ``x`` by less than one rounding of
    a pre-activation ``w.s + b`` of order one. No overflow: ``t`` lies in ``[0, 1]``;
    ``+-inf`` give ``+-1``, ``-0`` stays ``-0`` and NaN stays NaN. Under NumPy it works in
    place (two temporaries instead of six), 0-d arrays included.
    """
    if not is_numpy(xp):
        t = xp.exp(-2.0 * xp.abs(x))
        return xp.copysign((1.0 - t) / (1.0 + t), x)
    x = np.asarray(x)
    t = np.abs(x, out=np.empty(x.shape, dtype=np.result_type(x, 0.0)))
    t *= -2.0
    np.exp(t, out=t)
    out = np.subtract(1.0, t, out=np.empty_like(t))
    t += 1.0
    out /= t
    return np.copysign(out, x, out=out)


def numpy_dispatch(function: str) -> str:
    """The SIMD target NumPy's float64 ``function`` runs here (``"X86_V4"``,
    ``"AVX512_SKX"``, ``"baseline(...)"``, ...; ``""`` where NumPy does not say)."""
    try:
        from numpy.lib.introspect import opt_func_info

        info = opt_func_info(func_name=f"^{function}$", signature="float64")
    except (ImportError, ValueError):
        return ""
    return next((str(v.get("current", "")) for v in info.get(function, {}).values()), "")


NUMPY_TANH_VECTORISED = any(target in numpy_dispatch("tanh") for target in ("X86_V4", "AVX512"))
"""Whether NumPy's float64 ``tanh`` runs its AVX-512 kernel on this CPU."""


def _gelu(x: Any, xp: Any) -> Any:
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0), xp))


GELU_TANH_C = math.sqrt(2.0 / math.pi)


def _gelu_tanh(x: Any, xp: Any) -> Any:
    # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    return 0.5 * x * (1.0 + tanh(GELU_TANH_C * (x + 0.044715 * x * x * x), xp))


def _softplus(x: Any, xp: Any) -> Any:
    # log(1 + e^x) without overflow: max(x, 0) + log1p(exp(-|x|))
    return xp.maximum(x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(x: Any, xp: Any) -> Any:
    return 0.5 * (1.0 + tanh(0.5 * x, xp))


def _elu(x: Any, xp: Any) -> Any:
    return xp.where(x > 0, x, xp.expm1(xp.minimum(x, xp.zeros_like(x))))


ACTIVATIONS: dict[str, Activation] = {
    "tanh": tanh,
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
