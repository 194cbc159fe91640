"""Building blocks shared by the architectures: linear layers and parameter transfer."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.numerics.xp import complex_of, is_numpy, pairs_to_complex


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
        add_rows(out, bias, xp)  # in place: no second (rows, n_out) array
    else:  # real activations, complex weights
        out = out + bias
    return xp.reshape(out, (*lead, weight.shape[0])) if len(lead) > 1 else out


BIAS_TILE = 4096
"""Values of the bias row repeated for :func:`add_rows` (32 KiB in float64)."""


def add_rows(out: Any, row: Any, xp: Any) -> None:
    """``out += row`` in place, for ``out`` of shape ``(rows, m)`` and ``row`` of ``(m,)``.

    NumPy broadcasts a short row one row at a time (about 3 ns a row): for the
    ``(batch, 3)`` layers of an MLP that is 8x slower than adding a tile of the row
    repeated ``BIAS_TILE // m`` times to ``out`` viewed as longer rows, and 1.4x slower
    at ``m = 96`` (measured, batch 65536). Each sum is the same floating-point
    addition either way, so the result is bit for bit the same."""
    rows, width = out.shape if out.ndim == 2 else (0, 0)
    repeat = BIAS_TILE // width if width else 0
    if not is_numpy(xp) or repeat < 2 or not out.flags.c_contiguous:
        out += row
        return
    whole = rows - rows % repeat
    if whole:
        tiled = out[:whole].reshape(-1, repeat * width)  # a view: out is C-contiguous
        tiled += np.tile(row, repeat)
    if whole < rows:
        out[whole:] += row


def complex_head(x: Any, p: dict[str, Any], xp: Any, alpha: float = 1.0) -> Any:
    """``alpha (W_re x + b_re) + i (W_im x + b_im)`` from the real features ``x`` and the
    linear heads ``head_re`` and ``head_im`` (each of one output): ``(..., n_in) -> (...)``.

    The two heads are one GEMM of two outputs, ``alpha`` folded into ``head_re``, whose
    ``(..., 2)`` result is read as complex (:func:`pairs_to_complex`)."""
    weight = xp.concat([alpha * p["head_re.W"], p["head_im.W"]])
    bias = xp.concat([alpha * p["head_re.b"], p["head_im.b"]])
    return pairs_to_complex(linear(x, weight, bias, xp), xp)


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
