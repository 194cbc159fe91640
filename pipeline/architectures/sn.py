"""SN-NQS: one neuron, ``psi(s) = exp(a f(w.s + b))``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import check_positive, to_namespace
from pipeline.numerics.activations import check_activation, get_activation
from pipeline.numerics.xp import complex_of


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
    return evaluate_first(params, {"feature": xp.matmul(spins, p["w"]) + p["b"]}, hyper, xp)


def first_layers(params: Params, hyper: SNHyper) -> dict[str, tuple[Any, Any]]:
    """The one feature ``w.s + b``, as a layer of one output."""
    return {"feature": (params["w"][None, :], params["b"])}


def evaluate_first(params: Params, pre: dict[str, Any], hyper: SNHyper, xp: Any) -> Any:
    """:func:`evaluate` from the feature ``w.s + b``, ``(batch,)`` or ``(batch, 1)``."""
    feature = pre["feature"]
    if feature.ndim == 2:
        feature = feature[:, 0]
    a = xp.asarray(params["a"], dtype=complex_of(xp, feature.dtype))
    if hyper.fan_in:
        feature = feature / math.sqrt(params["w"].shape[0])
    return a * get_activation(hyper.activation)(feature, xp)


def k(n: int, hyper: SNHyper) -> int:
    """``k = 1``: one activation of one affine feature."""
    return 1


SN = register(
    Architecture(
        name="sn",
        hyper_type=SNHyper,
        init=init,
        evaluate=evaluate,
        k=k,
        log_amplitude=True,
        real_when=lambda hyper: hyper.mode == "real",  # log psi = f(w.s + b), real
        first_layers=first_layers,
        evaluate_first=evaluate_first,
        eval_bytes=lambda n, hyper, batch: batch * 8 * 48,  # measured: 41 reals per config
    )
)
