"""MLP-NQS: a fully connected network with two linear heads, ``psi = re + i im``.

``h_0 = s``, ``h_l = f(W_l h_{l-1} + b_l)`` for ``l = 1..depth``; the heads
``re = w_re.h_depth + b_re`` and ``im = w_im.h_depth + b_im`` give the amplitude
``psi = re + i im`` (mode ``amplitude``) or ``psi = exp(alpha re + i im)`` (mode ``log``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import check_positive, draw_linear, linear, to_namespace
from pipeline.numerics.activations import check_activation, get_activation
from pipeline.numerics.xp import complex_of

MODES = ("amplitude", "log")


@dataclass(frozen=True)
class MLPHyper:
    """Hyperparameters of the MLP-NQS."""

    width: int = 3
    """Hidden units per layer."""
    depth: int = 2
    """Number of hidden layers (each followed by the activation)."""
    activation: str = "tanh"
    """Scalar nonlinearity ``f`` (see :mod:`pipeline.numerics.activations`)."""
    weight_std: float = 1.0
    """``W ~ N(0, weight_std^2 / fan_in)`` for hidden layers and heads."""
    bias_std: float = 0.2
    """``b ~ N(0, bias_std^2)`` for hidden layers and heads."""
    mode: Literal["amplitude", "log"] = "amplitude"
    """``amplitude``: ``psi = re + i im``; ``log``: ``psi = exp(alpha re + i im)``."""
    alpha: float = 1.0
    """Scale of the log-modulus in mode ``log`` (unused in mode ``amplitude``)."""

    def __post_init__(self) -> None:
        check_positive("width", self.width)
        check_positive("depth", self.depth)
        check_activation(self.activation)
        check_positive("weight_std", self.weight_std)
        check_positive("bias_std", self.bias_std, strict=False)
        if self.mode not in MODES:
            raise ValueError(
                f"hyperparameter 'mode' must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
        check_positive("alpha", self.alpha, strict=False)


def init(rng: np.random.Generator, n: int, hyper: MLPHyper) -> Params:
    """Draw, in this order: ``layer1.W, layer1.b, ..., layer<depth>.W, layer<depth>.b``,
    then ``head_re.W, head_re.b, head_im.W, head_im.b`` (heads of shape ``(1, width)``)."""
    params: Params = {}
    n_in = n
    for layer in range(1, hyper.depth + 1):
        weight, bias = draw_linear(rng, hyper.width, n_in, hyper.weight_std, hyper.bias_std)
        params[f"layer{layer}.W"], params[f"layer{layer}.b"] = weight, bias
        n_in = hyper.width
    for head in ("re", "im"):
        weight, bias = draw_linear(rng, 1, hyper.width, hyper.weight_std, hyper.bias_std)
        params[f"head_{head}.W"], params[f"head_{head}.b"] = weight, bias
    return params


def evaluate(params: Params, spins: Any, hyper: MLPHyper, xp: Any) -> Any:
    """``re + i im`` (mode ``amplitude``) or the log-amplitude ``alpha re + i im`` (mode
    ``log``): ``(batch, n) -> (batch,)`` complex."""
    p = to_namespace(params, xp, spins.dtype)
    pre = {"layer1": linear(spins, p["layer1.W"], p["layer1.b"], xp)}
    return evaluate_first(params, pre, hyper, xp)


def first_layers(params: Params, hyper: MLPHyper) -> dict[str, tuple[Any, Any]]:
    """``layer1``, the one layer that reads the spins."""
    return {"layer1": (params["layer1.W"], params["layer1.b"])}


def evaluate_first(params: Params, pre: dict[str, Any], hyper: MLPHyper, xp: Any) -> Any:
    """:func:`evaluate` from the first layer's output ``(batch, width)``."""
    hidden = pre["layer1"]
    p = to_namespace(params, xp, hidden.dtype)
    f = get_activation(hyper.activation)
    hidden = f(hidden, xp)
    for layer in range(2, hyper.depth + 1):
        hidden = f(linear(hidden, p[f"layer{layer}.W"], p[f"layer{layer}.b"], xp), xp)
    real = linear(hidden, p["head_re.W"], p["head_re.b"], xp)[..., 0]
    imag = linear(hidden, p["head_im.W"], p["head_im.b"], xp)[..., 0]
    if hyper.mode == "log":
        real = hyper.alpha * real
    complex_dtype = complex_of(xp, hidden.dtype)
    return xp.astype(real, complex_dtype) + 1j * xp.astype(imag, complex_dtype)


def k(n: int, hyper: MLPHyper) -> int:
    """``k = width * depth``: one activation per hidden unit (the heads are linear)."""
    return hyper.width * hyper.depth


def is_log_amplitude(hyper: MLPHyper) -> bool:
    """Mode ``log`` returns ``log psi``; mode ``amplitude`` returns ``psi``."""
    return hyper.mode == "log"


MLP = register(
    Architecture(
        name="mlp",
        hyper_type=MLPHyper,
        init=init,
        evaluate=evaluate,
        k=k,
        log_amplitude=is_log_amplitude,
        first_layers=first_layers,
        evaluate_first=evaluate_first,
    )
)
