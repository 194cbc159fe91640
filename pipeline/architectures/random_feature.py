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
    f = get_activation(hyper.activation)
    real, imag = (
        xp.matmul(f(linear(spins, p[f"{ch}.W"], p[f"{ch}.b"], xp), xp), p[f"{ch}.a"])
        for ch in ("re", "im")
    )
    complex_dtype = complex_of(xp, spins.dtype)
    return xp.astype(real, complex_dtype) + 1j * xp.astype(imag, complex_dtype)


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
        # (batch, N_h) features of 1024 configurations stay in cache: 1.3-1.6x faster than
        # 65536 for N_h = 500-1000 at n = 22, with identical results.
        host_batch=1024,
    )
)
