"""MLP-NQS: a fully connected network with two linear heads, ``psi = re + i im``.

``h_0 = s``, ``h_l = f(W_l h_{l-1} + b_l)`` for ``l = 1..depth``; the heads
``re = w_re.h_depth + b_re`` and ``im = w_im.h_depth + b_im`` give the amplitude
``psi = re + i im`` (mode ``amplitude``) or ``psi = exp(alpha re + i im)`` (mode ``log``).
Layers may differ in width (``widths = "16,8"``); with ``depth = 0`` the heads read the
spins (``psi`` linear in ``s``, or ``log psi`` linear: a product state). With
``complex_params`` every layer and head is complex; then ``re`` and ``im`` are complex too
and mode ``log`` gives ``log psi = alpha re + i im`` all the same (NetKet's complex MLP is
``alpha = 1`` with ``head_re = Re W_out``, ``head_im = Im W_out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import (
    check_positive,
    complex_head,
    draw_linear,
    linear,
    to_namespace,
)
from pipeline.numerics.activations import check_activation, get_activation
from pipeline.numerics.xp import complex_of, real_dtype, to_complex

MODES = ("amplitude", "log")


@dataclass(frozen=True)
class MLPHyper:
    """Hyperparameters of the MLP-NQS."""

    width: int = 3
    """Hidden units per layer."""
    depth: int = 2
    """Number of hidden layers (each followed by the activation); 0: the heads read ``s``."""
    widths: str = ""
    """Per-layer widths, comma-separated (``"16,8"``: two hidden layers, 16 then 8 units),
    instead of ``width`` and ``depth``; a string because a list in ``[experiment.hyper]``
    is a sweep axis."""
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
    complex_params: bool = False
    """Complex weights and biases: the real parts of every layer and head are drawn
    first (as for real parameters), then the imaginary parts in the same order."""

    def __post_init__(self) -> None:
        check_positive("width", self.width)
        check_positive("depth", self.depth, strict=False)
        if self.widths:
            parts = self.widths.replace(" ", "").split(",")
            if not all(part.isdigit() and int(part) > 0 for part in parts):
                raise ValueError(
                    "hyperparameter 'widths' must list positive integers separated by commas "
                    f"(e.g. '16,8'), got {self.widths!r}"
                )
            if (self.width, self.depth) != (3, 2):
                raise ValueError(
                    "give hyperparameter 'widths' or 'width' and 'depth', not both "
                    f"(widths = {self.widths!r}, width = {self.width}, depth = {self.depth})"
                )
        check_activation(self.activation)
        check_positive("weight_std", self.weight_std)
        check_positive("bias_std", self.bias_std, strict=False)
        if self.mode not in MODES:
            raise ValueError(
                f"hyperparameter 'mode' must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
        check_positive("alpha", self.alpha, strict=False)

    @property
    def layer_widths(self) -> tuple[int, ...]:
        """Units of each hidden layer: ``widths``, or ``depth`` times ``width``.

        >>> MLPHyper(widths="16, 8").layer_widths, MLPHyper(depth=0).layer_widths
        ((16, 8), ())
        """
        if self.widths:
            return tuple(int(part) for part in self.widths.split(","))
        return (self.width,) * self.depth


def param_shapes(n: int, hyper: MLPHyper) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape, in drawing order: ``layer<l>.W`` ``(width_l, width_{l-1})``
    and ``layer<l>.b``, then the heads ``head_re``/``head_im`` ``(1, width_depth)``."""
    shapes: dict[str, tuple[int, ...]] = {}
    n_in = n
    for layer, width in enumerate(hyper.layer_widths, start=1):
        shapes[f"layer{layer}.W"], shapes[f"layer{layer}.b"] = (width, n_in), (width,)
        n_in = width
    for head in ("re", "im"):
        shapes[f"head_{head}.W"], shapes[f"head_{head}.b"] = (1, n_in), (1,)
    return shapes


def init(rng: np.random.Generator, n: int, hyper: MLPHyper) -> Params:
    """Draw, in this order: ``layer1.W, layer1.b, ..., layer<depth>.W, layer<depth>.b``,
    then ``head_re.W, head_re.b, head_im.W, head_im.b`` (heads of shape ``(1, width)``);
    with ``complex_params``, then their imaginary parts in the same order."""
    shapes = param_shapes(n, hyper)
    parts = []
    for _ in range(2 if hyper.complex_params else 1):
        drawn: Params = {}
        for name, (n_out, n_in) in ((k, v) for k, v in shapes.items() if k.endswith(".W")):
            drawn[name], drawn[name[:-1] + "b"] = draw_linear(
                rng, n_out, n_in, hyper.weight_std, hyper.bias_std
            )
        parts.append(drawn)
    if hyper.complex_params:
        return {name: parts[0][name] + 1j * parts[1][name] for name in shapes}
    return {name: parts[0][name] for name in shapes}


def evaluate(params: Params, spins: Any, hyper: MLPHyper, xp: Any) -> Any:
    """``re + i im`` (mode ``amplitude``) or the log-amplitude ``alpha re + i im`` (mode
    ``log``): ``(batch, n) -> (batch,)`` complex."""
    p = to_namespace(params, xp, spins.dtype)
    pre = {name: linear(spins, p[f"{name}.W"], p[f"{name}.b"], xp) for name in _first(hyper)}
    return evaluate_first(params, pre, hyper, xp)


def _first(hyper: MLPHyper) -> tuple[str, ...]:
    return ("layer1",) if hyper.layer_widths else ("head_re", "head_im")


def first_layers(params: Params, hyper: MLPHyper) -> dict[str, tuple[Any, Any]]:
    """The layers that read the spins: ``layer1``, or both heads when ``depth = 0``."""
    return {name: (params[f"{name}.W"], params[f"{name}.b"]) for name in _first(hyper)}


def evaluate_first(params: Params, pre: dict[str, Any], hyper: MLPHyper, xp: Any) -> Any:
    """:func:`evaluate` from the first layers' outputs ``(batch, out)``."""
    if hyper.layer_widths:
        hidden = pre["layer1"]
        p = to_namespace(params, xp, _real_of(hidden, xp))
        f = get_activation(hyper.activation)
        hidden = f(hidden, xp)
        for layer in range(2, len(hyper.layer_widths) + 1):
            hidden = f(linear(hidden, p[f"layer{layer}.W"], p[f"layer{layer}.b"], xp), xp)
        if not xp.isdtype(hidden.dtype, "complex floating"):
            alpha = hyper.alpha if hyper.mode == "log" else 1.0
            return complex_head(hidden, p, xp, alpha)
        real = linear(hidden, p["head_re.W"], p["head_re.b"], xp)[..., 0]
        imag = linear(hidden, p["head_im.W"], p["head_im.b"], xp)[..., 0]
    else:
        real, imag = pre["head_re"][..., 0], pre["head_im"][..., 0]
    if hyper.mode == "log":
        real = hyper.alpha * real
    if not xp.isdtype(real.dtype, "complex floating"):
        return to_complex(real, imag, xp)
    complex_dtype = complex_of(xp, _real_of(real, xp))  # complex weights: re, im complex
    return xp.astype(real, complex_dtype) + 1j * xp.astype(imag, complex_dtype)


def _real_of(x: Any, xp: Any) -> Any:
    """The real dtype of ``x`` (complex hidden units with ``complex_params``)."""
    return real_dtype(xp, x.dtype) if xp.isdtype(x.dtype, "complex floating") else x.dtype


def k(n: int, hyper: MLPHyper) -> int:
    """``k = sum of the layer widths`` (``width * depth``): one activation per hidden
    unit (the heads are linear)."""
    return sum(hyper.layer_widths)


def is_log_amplitude(hyper: MLPHyper) -> bool:
    """Mode ``log`` returns ``log psi``; mode ``amplitude`` returns ``psi``."""
    return hyper.mode == "log"


def eval_bytes(n: int, hyper: MLPHyper, batch: int) -> int:
    """A batch's layer outputs (measured, n = 18: 41 reals per configuration at width 3,
    96 at width 16)."""
    return batch * 8 * (32 + 4 * max(hyper.layer_widths, default=1))


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
        eval_bytes=eval_bytes,
    )
)
