"""SN-NQS: one neuron, ``psi(s) = exp(a f(w.s + b))``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import check_positive, to_namespace
from pipeline.numerics.activations import check_activation, get_activation


@dataclass(frozen=True)
class SNHyper:
    """Hyperparameters of the single-neuron NQS."""

    activation: str = "tanh"
    """Scalar nonlinearity ``f`` (see :mod:`pipeline.numerics.activations`)."""
    mode: Literal["real", "pure_phase", "general"] = "real"
    """``a = 1`` (real), ``a = i`` (pure_phase), or ``a = a_r + i a_i`` with
    ``a_r, a_i ~ N(0, 1)`` (general)."""
    weight_std: float = 1.0
    """``w_j ~ N(0, weight_std^2)``."""
    bias_std: float = 1.0
    """``b ~ N(0, bias_std^2)``."""
    fan_in: bool = False
    """Divide the feature ``w.s + b`` by ``sqrt(n)``."""

    def __post_init__(self) -> None:
        check_activation(self.activation)
        check_positive("weight_std", self.weight_std)
        check_positive("bias_std", self.bias_std, strict=False)


def init(rng: np.random.Generator, n: int, hyper: SNHyper) -> Params:
    w = rng.normal(0.0, hyper.weight_std, size=n)
    b = rng.normal(0.0, hyper.bias_std, size=1) if hyper.bias_std > 0 else np.zeros(1)
    if hyper.mode == "real":
        a = np.array([1.0 + 0.0j])
    elif hyper.mode == "pure_phase":
        a = np.array([1.0j])
    else:
        a_r, a_i = rng.normal(0.0, 1.0, size=2)
        a = np.array([a_r + 1j * a_i])
    return {"w": w, "b": b, "a": a}


def evaluate(params: Params, spins: Any, hyper: SNHyper, xp: Any) -> Any:
    """Log-amplitude ``a f(w.s + b)`` (divided by ``sqrt(n)`` inside ``f`` with fan_in)."""
    p = to_namespace(params, xp, spins.dtype)
    feature = xp.matmul(spins, p["w"]) + p["b"]
    if hyper.fan_in:
        feature = feature / math.sqrt(spins.shape[-1])
    return p["a"] * get_activation(hyper.activation)(feature, xp)


def k(n: int, hyper: SNHyper) -> int:
    """``k = 1``: one activation of one affine feature."""
    return 1


SN = register(
    Architecture(
        name="sn", hyper_type=SNHyper, init=init, evaluate=evaluate, k=k, log_amplitude=True
    )
)
