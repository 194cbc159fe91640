"""Building blocks shared by the architectures: linear layers and parameter transfer."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.numerics.xp import complex_of


def draw_linear(
    rng: np.random.Generator,
    n_out: int,
    n_in: int,
    weight_std: float,
    bias_std: float,
    *,
    fan_in: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``W ~ N(0, weight_std^2 / n_in)`` (or ``N(0, weight_std^2)`` without fan-in
    scaling) of shape ``(n_out, n_in)`` and ``b ~ N(0, bias_std^2)`` of shape ``(n_out,)``.

    ``W`` is drawn before ``b``; the order is part of the seeding contract.
    """
    scale = weight_std / np.sqrt(n_in) if fan_in else weight_std
    weight = rng.normal(0.0, scale, size=(n_out, n_in))
    bias = rng.normal(0.0, bias_std, size=(n_out,)) if bias_std > 0 else np.zeros(n_out)
    return weight, bias


def to_namespace(params: dict[str, np.ndarray], xp: Any, real_dtype: Any) -> dict[str, Any]:
    """Move host parameters to namespace ``xp``; real arrays become ``real_dtype``, complex
    arrays the matching complex dtype."""
    complex_dtype = complex_of(xp, real_dtype)
    out = {}
    for name, value in params.items():
        value = np.asarray(value)
        dtype = complex_dtype if np.iscomplexobj(value) else real_dtype
        out[name] = xp.asarray(value, dtype=dtype)
    return out


def linear(x: Any, weight: Any, bias: Any, xp: Any) -> Any:
    """``W @ x + b`` applied to a batch: ``x`` is ``(..., n_in)``, result ``(..., n_out)``.

    Leading axes are flattened first, so the product is one GEMM rather than a stack of
    small ones (about 3x faster for the transformer's ``(batch, T, d)`` activations; the
    last bit can differ from the stacked product)."""
    lead = x.shape[:-1]
    flat = xp.reshape(x, (-1, x.shape[-1])) if len(lead) > 1 else x
    out = xp.matmul(flat, xp.matrix_transpose(weight))
    if out.dtype == xp.result_type(out, bias):
        out += bias  # in place: no second (rows, n_out) array
    else:  # real activations, complex weights
        out = out + bias
    return xp.reshape(out, (*lead, weight.shape[0])) if len(lead) > 1 else out


def check_positive(name: str, value: float, *, strict: bool = True) -> None:
    """Raise ``ValueError`` when a hyperparameter is not positive (or negative)."""
    if (value <= 0) if strict else (value < 0):
        relation = "> 0" if strict else ">= 0"
        raise ValueError(f"hyperparameter {name!r} must be {relation}, got {value!r}")


def spins_eval_bytes(n: int, hyper: Any, batch: int) -> int:
    """``Architecture.eval_bytes`` of a network that reads a batch's ``(batch, n)`` spins and
    keeps a few values per configuration (Dicke and the reference states; measured at
    n = 18: 73 reals per configuration)."""
    return batch * 8 * (2 * n + 48)
