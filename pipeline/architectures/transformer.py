"""T-NQS: a post-LayerNorm transformer over patches of spins, ``psi = exp(alpha re + i im)``.

The ``n`` spins are cut into ``T = (n - P) // stride + 1`` patches
``s[j*stride : j*stride + P]`` (tokens), embedded linearly ``P -> d``, passed through ``L``
post-LayerNorm blocks

    h = LN(h + O(MHA(h)))
    h = LN(h + F2(f(F1 h)))

with ``d_ff = 2 d``, flattened token-major to ``T*d`` features and read out by two linear
heads ``re`` and ``im``. Multi-head attention splits the model dimension into ``H``
contiguous blocks of ``d/H``, scores ``q.k / sqrt(d/H)`` with a softmax over tokens,
concatenates the heads in order and applies the output projection ``O``. LayerNorm uses the
biased variance over the model dimension and ``eps = 1e-5``; its gains start at 1 and its
biases at 0. With these conventions a network exported from a standard deep learning
framework (as separate query, key and value projections) evaluates to the same amplitudes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

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

LAYER_NORM_EPS = 1e-5

ATTENTION = ("query", "key", "value", "output")


@dataclass(frozen=True)
class TransformerHyper:
    """Hyperparameters of the T-NQS."""

    patch: int = 6
    """Sites per token ``P``."""
    stride: int = 5
    """Offset between consecutive patches (``stride < patch`` makes them overlap)."""
    d_model: int = 32
    """Model dimension ``d``; the feed-forward width is ``2 d``."""
    heads: int = 4
    """Attention heads ``H``; must divide ``d_model``."""
    layers: int = 4
    """Transformer blocks ``L``."""
    alpha: float = 1.0
    """Scale of the log-modulus: ``psi = exp(alpha re + i im)``."""
    activation: str = "tanh"
    """Feed-forward nonlinearity ``f`` (see :mod:`pipeline.numerics.activations`)."""
    weight_std: float = 1.0
    """``W ~ N(0, weight_std^2 / fan_in)`` for every linear layer."""
    bias_std: float = 0.2
    """``b ~ N(0, bias_std^2)`` for every linear layer."""
    frozen_heads: bool = False
    """Draw each output head as a unit-norm Gaussian vector with zero bias."""

    def __post_init__(self) -> None:
        for name in ("patch", "stride", "d_model", "heads", "layers"):
            check_positive(name, getattr(self, name))
        if self.d_model % self.heads:
            raise ValueError(
                f"hyperparameter 'd_model' ({self.d_model}) must be divisible by "
                f"'heads' ({self.heads})"
            )
        check_positive("alpha", self.alpha, strict=False)
        check_activation(self.activation)
        check_positive("weight_std", self.weight_std)
        check_positive("bias_std", self.bias_std, strict=False)


def n_tokens(n: int, hyper: TransformerHyper) -> int:
    """``T = (n - P) // stride + 1`` patches fit in ``n`` sites."""
    return (n - hyper.patch) // hyper.stride + 1


def uncovered_sites(n: int, hyper: TransformerHyper) -> list[int]:
    """Sites that no patch contains (a gap between patches or a tail after the last).

    >>> uncovered_sites(8, TransformerHyper())
    [6, 7]
    """
    covered = np.zeros(n, dtype=bool)
    for token in range(n_tokens(n, hyper)):
        start = token * hyper.stride
        covered[start : start + hyper.patch] = True
    return [int(site) for site in np.flatnonzero(~covered)]


def check(n: int, hyper: TransformerHyper) -> None:
    """Refuse a patch longer than ``n``; warn when patches leave sites uncovered."""
    if hyper.patch > n:
        raise ValueError(
            f"transformer: hyperparameter 'patch' ({hyper.patch}) is longer than n = {n}"
        )
    missing = uncovered_sites(n, hyper)
    if missing:
        warnings.warn(
            f"transformer: patches (patch = {hyper.patch}, stride = {hyper.stride}) leave "
            f"{'site' if len(missing) == 1 else 'sites'} {', '.join(map(str, missing))} of "
            f"n = {n} uncovered; psi does not depend on "
            f"{'it' if len(missing) == 1 else 'them'}",
            UserWarning,
            stacklevel=2,
        )


def _head(rng: np.random.Generator, size: int, hyper: TransformerHyper) -> tuple[Any, Any]:
    if hyper.frozen_heads:
        vector = rng.normal(0.0, 1.0, size=size)
        return (vector / np.linalg.norm(vector))[None, :], np.zeros(1)
    return draw_linear(rng, 1, size, hyper.weight_std, hyper.bias_std)


def init(rng: np.random.Generator, n: int, hyper: TransformerHyper) -> Params:
    """Draw (after :func:`check`), in this order, each linear layer ``W`` then ``b``:
    ``embed`` ``(d, P)``; per block ``l = 0..L-1``: ``block<l>.query``, ``.key``,
    ``.value``, ``.output`` ``(d, d)``, ``.ff1`` ``(2d, d)``, ``.ff2`` ``(d, 2d)``; then
    ``head_re``, ``head_im`` ``(1, T d)``. With ``frozen_heads`` each head is one standard
    normal vector divided by its norm, bias zero. LayerNorm gains (``block<l>.norm1.gain``,
    ``.norm2.gain``) are ones and biases zeros; they consume no random numbers."""
    check(n, hyper)
    d, d_ff = hyper.d_model, 2 * hyper.d_model
    params: Params = {}

    def add(name: str, n_out: int, n_in: int) -> None:
        weight, bias = draw_linear(rng, n_out, n_in, hyper.weight_std, hyper.bias_std)
        params[f"{name}.W"], params[f"{name}.b"] = weight, bias

    add("embed", d, hyper.patch)
    for layer in range(hyper.layers):
        for name in ATTENTION:
            add(f"block{layer}.{name}", d, d)
        add(f"block{layer}.ff1", d_ff, d)
        add(f"block{layer}.ff2", d, d_ff)
        for norm in ("norm1", "norm2"):
            params[f"block{layer}.{norm}.gain"] = np.ones(d)
            params[f"block{layer}.{norm}.bias"] = np.zeros(d)
    for head in ("re", "im"):
        params[f"head_{head}.W"], params[f"head_{head}.b"] = _head(
            rng, n_tokens(n, hyper) * d, hyper
        )
    return params


def row_sum(x: Any, xp: Any, scale: float = 1.0) -> Any:
    """``scale * sum(x, axis=-1)`` as one matrix-vector product: ``(..., m) -> (...)``.

    NumPy reduces a short last axis (the ``T`` keys of a softmax, the ``d`` features of a
    LayerNorm) one row at a time, 5-10x slower than BLAS's ``gemv`` over the same rows
    (measured at batch 1024, ``T = 4``, ``d = 32``); the last bit may differ."""
    weights = xp.full((x.shape[-1],), scale, dtype=x.dtype)
    return xp.reshape(xp.reshape(x, (-1, x.shape[-1])) @ weights, x.shape[:-1])


def layer_norm(x: Any, gain: Any, bias: Any, xp: Any) -> Any:
    """LayerNorm over the last axis: biased variance, ``eps = 1e-5``. ``gain`` and ``bias``
    may be None (ones and zeros: the passes are skipped, the result is the same)."""
    scale = 1.0 / x.shape[-1]
    centred = x - row_sum(x, xp, scale)[..., None]
    variance = row_sum(centred * centred, xp, scale)
    out = centred * (1.0 / xp.sqrt(variance + LAYER_NORM_EPS))[..., None]
    if gain is not None:
        out = out * gain
    return out if bias is None else out + bias


def softmax(scores: Any, xp: Any) -> Any:
    """Softmax over the last axis (the keys). The row maximum, subtracted first against
    overflow, is taken as an elementwise maximum over the key slices (NumPy's reduction
    over a short last axis is about 15x slower); one reciprocal per row sum."""
    top = scores[..., 0]
    for key in range(1, scores.shape[-1]):
        top = xp.maximum(top, scores[..., key])
    weights = xp.exp(scores - top[..., None])
    return weights * (1.0 / row_sum(weights, xp))[..., None]


def attention(h: Any, p: dict[str, Any], prefix: str, heads: int, xp: Any) -> Any:
    """Multi-head self-attention, ``(batch, T, d) -> (batch, T, d)``, output projection
    included; the query, key and value projections are one GEMM (their weights stacked)."""
    batch, tokens, d = h.shape
    d_head = d // heads
    qkv = linear(h, p[f"{prefix}.qkv.W"], p[f"{prefix}.qkv.b"], xp)  # (batch, T, 3d)
    qkv = xp.reshape(qkv, (batch, tokens, 3, heads, d_head))
    # (batch, H, T, d/H) views of the query, key and value
    query, key, value = (xp.permute_dims(qkv[:, :, i, ...], (0, 2, 1, 3)) for i in range(3))
    scores = xp.matmul(query, xp.matrix_transpose(key)) / math.sqrt(d_head)
    weights = softmax(scores, xp)
    mixed = xp.permute_dims(xp.matmul(weights, value), (0, 2, 1, 3))
    mixed = xp.reshape(mixed, (batch, tokens, d))
    return linear(mixed, p[f"{prefix}.output.W"], p[f"{prefix}.output.b"], xp)


def _prepared(params: Params, xp: Any, dtype: Any) -> dict[str, Any]:
    """Parameters in ``xp`` for :func:`evaluate`: each block's query, key and value
    stacked into one ``qkv`` layer, and LayerNorm gains and biases that are exactly ones
    and zeros replaced by None (their passes are skipped)."""
    host = dict(params)
    blocks = sorted({name.split(".")[0] for name in host if name.startswith("block")})
    for block in blocks:
        for part in ("W", "b"):
            host[f"{block}.qkv.{part}"] = np.concatenate(
                [host.pop(f"{block}.{name}.{part}") for name in ("query", "key", "value")]
            )
    p: dict[str, Any] = to_namespace(host, xp, dtype)
    for name, value in host.items():
        if (name.endswith(".gain") and np.all(value == 1)) or (
            name.endswith(".bias") and not (np.any(value))
        ):
            p[name] = None
    return p


def evaluate(params: Params, spins: Any, hyper: TransformerHyper, xp: Any) -> Any:
    """Log-amplitude ``alpha re + i im``: ``(batch, n) -> (batch,)`` complex."""
    p = _prepared(params, xp, spins.dtype)
    f = get_activation(hyper.activation)
    batch, n = spins.shape
    tokens = n_tokens(n, hyper)
    patches = xp.stack(
        [spins[:, j * hyper.stride : j * hyper.stride + hyper.patch] for j in range(tokens)],
        axis=1,
    )  # (batch, T, P)
    h = linear(patches, p["embed.W"], p["embed.b"], xp)
    for layer in range(hyper.layers):
        block = f"block{layer}"
        h = layer_norm(
            h + attention(h, p, block, hyper.heads, xp),
            p[f"{block}.norm1.gain"],
            p[f"{block}.norm1.bias"],
            xp,
        )
        hidden = f(linear(h, p[f"{block}.ff1.W"], p[f"{block}.ff1.b"], xp), xp)
        h = layer_norm(
            h + linear(hidden, p[f"{block}.ff2.W"], p[f"{block}.ff2.b"], xp),
            p[f"{block}.norm2.gain"],
            p[f"{block}.norm2.bias"],
            xp,
        )
    flat = xp.reshape(h, (batch, tokens * hyper.d_model))
    return complex_head(flat, p, xp, hyper.alpha)


def k(n: int, hyper: TransformerHyper) -> int:
    """Every exp, division, sqrt and activation of the graph:

    ``k = L (H T^2 + H T + 4 T + 2 d T)``

    per block: ``H T^2`` softmax exponentials (one per score), ``H T`` softmax divisions
    (one reciprocal of each row sum), ``2 * T * 2`` for the two LayerNorms (one sqrt and
    one division per token), and ``T d_ff = 2 d T`` feed-forward activations. Linear maps,
    the bilinear products (``q.k``, attention-weighted sums, the variance's squares) and
    the final ``exp`` of the log-amplitude are not counted; the softmax's row-maximum
    shift is a numerical device that leaves the function unchanged.

    >>> k(11, TransformerHyper())  # T = 2: 4 * (4*4 + 4*2 + 4*2 + 2*32*2)
    640
    """
    tokens = n_tokens(n, hyper)
    h, d = hyper.heads, hyper.d_model
    return hyper.layers * (h * tokens**2 + h * tokens + 4 * tokens + 2 * d * tokens)


TRANSFORMER = register(
    Architecture(
        name="transformer",
        hyper_type=TransformerHyper,
        init=init,
        evaluate=evaluate,
        k=k,
        log_amplitude=True,
        check=check,
        ignored_sites=uncovered_sites,
        # (batch, T, 2d) activations of 1024 configurations fit in L2/L3: 1.6x faster
        # than 65536 at n = 22, T = 4, d = 32.
        host_batch=1024,
    )
)
