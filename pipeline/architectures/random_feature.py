"""Random-feature networks (CosNet, TanhNet): a sum of random features is the amplitude.

``psi(s) = sum_i a^R_i f(w^R_i.s + b^R_i) + i sum_i a^I_i f(w^I_i.s + b^I_i)``

with ``N_h`` hidden units per channel, ``w ~ N(0, sigma_w^2 / n)``,
``a ~ N(0, sigma_a^2 / N_h)`` and ``b ~ U(-pi, pi)`` (or ``N(0, 1)``); ``f = cos`` gives
CosNet, ``f = tanh`` TanhNet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import check_positive, linear, to_namespace
from pipeline.numerics.activations import check_activation, get_activation
from pipeline.numerics.xp import complex_of

BIAS_DISTRIBUTIONS = ("uniform", "normal")


@dataclass(frozen=True)
class RandomFeatureHyper:
    """Hyperparameters of the random-feature network."""

    hidden: int = 100
    """Hidden units per channel ``N_h`` (the real and imaginary channels each have
    ``N_h``)."""
    activation: str = "cos"
    """Feature nonlinearity ``f``: ``cos`` (CosNet), ``tanh`` (TanhNet) or any other
    activation of :mod:`pipeline.numerics.activations`."""
    weight_std: float = 10.0
    """``sigma_w``: ``w ~ N(0, sigma_w^2 / n)``."""
    output_std: float = 1.0
    """``sigma_a``: ``a ~ N(0, sigma_a^2 / N_h)``."""
    bias_dist: Literal["uniform", "normal"] = "uniform"
    """``b ~ U(-pi, pi)`` (uniform) or ``b ~ N(0, 1)`` (normal)."""

    def __post_init__(self) -> None:
        check_positive("hidden", self.hidden)
        check_activation(self.activation)
        check_positive("weight_std", self.weight_std)
        check_positive("output_std", self.output_std)
        if self.bias_dist not in BIAS_DISTRIBUTIONS:
            raise ValueError(
                f"hyperparameter 'bias_dist' must be one of {', '.join(BIAS_DISTRIBUTIONS)}, "
                f"got {self.bias_dist!r}"
            )


def init(rng: np.random.Generator, n: int, hyper: RandomFeatureHyper) -> Params:
    """Draw, in this order: ``re.W`` ``(N_h, n)``, ``re.b`` ``(N_h,)``, ``re.a``
    ``(N_h,)``, then ``im.W``, ``im.b``, ``im.a``."""
    params: Params = {}
    for channel in ("re", "im"):
        weight = rng.normal(0.0, hyper.weight_std / math.sqrt(n), size=(hyper.hidden, n))
        if hyper.bias_dist == "uniform":
            bias = rng.uniform(-math.pi, math.pi, size=hyper.hidden)
        else:
            bias = rng.normal(0.0, 1.0, size=hyper.hidden)
        output = rng.normal(0.0, hyper.output_std / math.sqrt(hyper.hidden), size=hyper.hidden)
        params[f"{channel}.W"], params[f"{channel}.b"], params[f"{channel}.a"] = (
            weight,
            bias,
            output,
        )
    return params


def evaluate(params: Params, spins: Any, hyper: RandomFeatureHyper, xp: Any) -> Any:
    """The amplitude ``psi``: ``(batch, n) -> (batch,)`` complex."""
    p = to_namespace(params, xp, spins.dtype)
    pre = {ch: linear(spins, p[f"{ch}.W"], p[f"{ch}.b"], xp) for ch in ("re", "im")}
    return evaluate_first(params, pre, hyper, xp)


def first_layers(params: Params, hyper: RandomFeatureHyper) -> dict[str, tuple[Any, Any]]:
    """The two channels' features ``w.s + b``."""
    return {ch: (params[f"{ch}.W"], params[f"{ch}.b"]) for ch in ("re", "im")}


def evaluate_first(params: Params, pre: dict[str, Any], hyper: RandomFeatureHyper, xp: Any) -> Any:
    """:func:`evaluate` from the channels' features ``(batch, N_h)``."""
    dtype = pre["re"].dtype
    f = get_activation(hyper.activation)
    real, imag = (
        xp.matmul(f(pre[ch], xp), xp.asarray(params[f"{ch}.a"], dtype=dtype)) for ch in ("re", "im")
    )
    complex_dtype = complex_of(xp, dtype)
    return xp.astype(real, complex_dtype) + 1j * xp.astype(imag, complex_dtype)


def half_features(
    params: Params, n: int, hyper: RandomFeatureHyper, xp: Any, real_dtype: Any
) -> tuple[dict[str, tuple[Any, Any]], int] | None:
    """The product form of a ``cos`` or ``sin`` network, None for other activations.

    With ``A`` the first ``n_A = n // 2`` sites and ``B`` the rest, ``w.s + b = u(s_A) +
    v(s_B)`` with ``u = w_A.s_A + b`` and ``v = w_B.s_B``, and

    ``cos(u + v) = cos u cos v - sin u sin v``, ``sin(u + v) = sin u cos v + cos u sin v``,

    so each channel is ``L R^T`` with ``L = [a f_1(u), a f_2(u)]`` of shape
    ``(2^n_A, 2 N_h)`` and ``R = [cos v, sin v]`` of shape ``(2^n_B, 2 N_h)``: a sum of
    ``2 N_h`` product states per channel. Returns ``({"re": (L, R), "im": (L, R)}, n_A)``.
    """
    if hyper.activation not in ("cos", "sin"):
        return None
    from pipeline.architectures.states import basis_spins

    p = to_namespace(params, xp, real_dtype)
    n_a = n // 2
    spins_a = basis_spins(0, 1 << n_a, n_a, xp, real_dtype)
    spins_b = basis_spins(0, 1 << (n - n_a), n - n_a, xp, real_dtype)
    out = {}
    for ch in ("re", "im"):
        weight, bias, output = p[f"{ch}.W"], p[f"{ch}.b"], p[f"{ch}.a"]
        u = xp.matmul(spins_a, xp.matrix_transpose(weight[:, :n_a])) + bias  # (2^n_A, N_h)
        v = xp.matmul(spins_b, xp.matrix_transpose(weight[:, n_a:]))  # (2^n_B, N_h)
        cos_u, sin_u = xp.cos(u) * output, xp.sin(u) * output
        if hyper.activation == "cos":
            left = xp.concat([cos_u, -sin_u], axis=1)
        else:
            left = xp.concat([sin_u, cos_u], axis=1)
        out[ch] = (left, xp.concat([xp.cos(v), xp.sin(v)], axis=1))
    return out, n_a


def full_values(params: Params, n: int, hyper: RandomFeatureHyper, xp: Any, real_dtype: Any) -> Any:
    """All ``2^n`` amplitudes of a ``cos``/``sin`` network as two GEMMs of the halves'
    features (:func:`half_features`) instead of ``2^n N_h`` activations; None for other
    activations."""
    form = half_features(params, n, hyper, xp, real_dtype)
    if form is None:
        return None
    halves, _ = form
    complex_dtype = complex_of(xp, real_dtype)
    (left_re, right_re), (left_im, right_im) = halves["re"], halves["im"]
    # psi = L_re R_re^T + i L_im R_im^T as one complex GEMM of the stacked halves
    left = xp.concat(
        [xp.astype(left_re, complex_dtype), 1j * xp.astype(left_im, complex_dtype)], axis=1
    )
    right = xp.astype(xp.concat([right_re, right_im], axis=1), complex_dtype)
    return xp.reshape(xp.matmul(left, xp.matrix_transpose(right)), (-1,))


def k(n: int, hyper: RandomFeatureHyper) -> int:
    """``k = 2 N_h``: one activation per hidden unit in each of the two channels."""
    return 2 * hyper.hidden


RANDOM_FEATURE = register(
    Architecture(
        name="random_feature",
        hyper_type=RandomFeatureHyper,
        init=init,
        evaluate=evaluate,
        k=k,
        log_amplitude=False,
        full_values=full_values,
        first_layers=first_layers,
        evaluate_first=evaluate_first,
        # (batch, N_h) features of 1024 configurations stay in cache: 1.3-1.6x faster than
        # 65536 for N_h = 500-1000 at n = 22, with identical results.
        host_batch=1024,
    )
)
