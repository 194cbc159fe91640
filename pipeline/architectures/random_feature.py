"""Random-feature networks (CosNet, TanhNet): a sum of random features is the amplitude.

``psi(s) = sum_i a^R_i f(w^R_i.s + b^R_i) + i sum_i a^I_i f(w^I_i.s + b^I_i)``

with ``N_h`` hidden units per channel, ``w ~ N(0, sigma_w^2 / n)``,
``a ~ N(0, sigma_a^2 / N_h)`` and ``b ~ U(-pi, pi)`` (or ``N(0, 1)``); ``f = cos`` gives
CosNet, ``f = tanh`` TanhNet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import check_positive, linear, to_namespace
from pipeline.architectures.states import SPLIT_SITES, basis_spins
from pipeline.numerics.activations import check_activation, get_activation
from pipeline.numerics.spectra import gram_schmidt_probs
from pipeline.numerics.xp import complex_of, namespace, to_complex

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
    return to_complex(real, imag, xp)


def product_form(
    params: Params,
    n: int,
    hyper: RandomFeatureHyper,
    sites: Sequence[int],
    xp: Any,
    real_dtype: Any,
) -> tuple[Any, Any] | None:
    """A ``cos`` or ``sin`` network as a sum of ``4 N_h`` product states across ``A | B``;
    None for other activations.

    With ``A = sites`` and ``B`` the other sites (ascending), ``w.s + b = u + v`` with
    ``u = w_A.s_A + b`` and ``v = w_B.s_B``, and

    ``cos(u + v) = cos u cos v - sin u sin v``, ``sin(u + v) = sin u cos v + cos u sin v``,

    so ``psi[x_A, x_B] = (left @ right^T)[x_A, x_B]`` (unnormalised) with ``left`` of shape
    ``(2^|A|, 4 N_h)`` (complex: ``a f(u)`` of both channels, the imaginary channel times
    ``i``) and ``right`` of shape ``(2^|B|, 4 N_h)`` (``cos v``, ``sin v`` of both). Basis
    order: the first site of ``sites`` is the most significant bit of ``x_A``.
    """
    factors = channel_factors(params, n, hyper, sites, xp, real_dtype)
    if factors is None:
        return None
    (left_re, right_re), (left_im, right_im) = factors
    complex_dtype = complex_of(xp, real_dtype)
    left = xp.concat(
        [xp.astype(left_re, complex_dtype), 1j * xp.astype(left_im, complex_dtype)], axis=1
    )
    return left, xp.astype(xp.concat([right_re, right_im], axis=1), complex_dtype)


def channel_factors(
    params: Params,
    n: int,
    hyper: RandomFeatureHyper,
    sites: Sequence[int],
    xp: Any,
    real_dtype: Any,
) -> tuple[tuple[Any, Any], tuple[Any, Any]] | None:
    """:func:`product_form` channel by channel, in real arithmetic: ``((left_re, right_re),
    (left_im, right_im))``, each ``(2^|A| or 2^|B|, 2 N_h)`` real, with
    ``psi = left_re @ right_re^T + i left_im @ right_im^T``; None for other activations."""
    if hyper.activation not in ("cos", "sin"):
        return None
    sites_a = [int(site) for site in sites]
    sites_b = [site for site in range(n) if site not in set(sites_a)]
    p = to_namespace(params, xp, real_dtype)
    spins_a = basis_spins(0, 1 << len(sites_a), len(sites_a), xp, real_dtype)
    spins_b = basis_spins(0, 1 << len(sites_b), len(sites_b), xp, real_dtype)
    factors = []
    for ch in ("re", "im"):
        weight, bias, output = p[f"{ch}.W"], p[f"{ch}.b"], p[f"{ch}.a"]
        columns_a = xp.stack([weight[:, site] for site in sites_a], axis=1)
        columns_b = xp.stack([weight[:, site] for site in sites_b], axis=1)
        u = xp.matmul(spins_a, xp.matrix_transpose(columns_a)) + bias  # (2^|A|, N_h)
        v = xp.matmul(spins_b, xp.matrix_transpose(columns_b))  # (2^|B|, N_h)
        cos_u, sin_u = xp.cos(u) * output, xp.sin(u) * output
        left = xp.concat([cos_u, -sin_u] if hyper.activation == "cos" else [sin_u, cos_u], axis=1)
        factors.append((left, xp.concat([xp.cos(v), xp.sin(v)], axis=1)))
    return factors[0], factors[1]


def product_grams(
    params: Params, n: int, hyper: RandomFeatureHyper, sites: Sequence[int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The Gram matrices of a ``cos`` or ``sin`` network as ``K = 4 N_h`` product states
    across ``A = sites | B``, at any ``n`` (NumPy, ``O(K^2 n)``): the exact reference
    beyond dense sizes, for :func:`pipeline.numerics.spectra.gram_schmidt_probs`. None for
    other activations.

    ``cos(t) = (e^{it} + e^{-it}) / 2`` and ``sin(t) = (e^{it} - e^{-it}) / 2i`` make each
    hidden unit two product states ``c e^{i sigma (w.s)}`` (``sigma = +-1``,
    ``c = a e^{i sigma b} / 2``, or ``/ 2i`` times ``sigma`` for ``sin``, times ``i`` in the
    imaginary channel), whose overlaps factorise over sites:
    ``<e^{i t_a s}|e^{i t_b s}> = 2 cos(t_b - t_a)`` per site. Returns ``(L^H L, R^T
    conj(R))`` for ``psi = L R^T``, each divided by ``2^|A|`` or ``2^|B|`` (unit-modulus
    diagonal, so no overflow at any ``n``; off-diagonal overlaps may underflow to 0, as
    they should).
    """
    if hyper.activation not in ("cos", "sin"):
        return None
    sites_a = [int(site) for site in sites]
    sites_b = [site for site in range(n) if site not in set(sites_a)]
    coefficients, phases = [], []
    for channel, unit in (("re", 1.0), ("im", 1j)):
        weight = np.asarray(params[f"{channel}.W"], dtype=np.float64)
        bias = np.asarray(params[f"{channel}.b"], dtype=np.float64)
        output = np.asarray(params[f"{channel}.a"], dtype=np.float64)
        for sigma in (1.0, -1.0):
            c = output * np.exp(1j * sigma * bias) / 2
            if hyper.activation == "sin":
                c = c * sigma / 1j
            coefficients.append(unit * c)
            phases.append(sigma * weight)
    c = np.concatenate(coefficients)
    theta = np.concatenate(phases)  # (K, n)

    def overlaps(side: list[int]) -> np.ndarray:
        gram = np.ones((len(c), len(c)))
        for site in side:
            gram *= np.cos(theta[None, :, site] - theta[:, None, site])
        return gram

    gram_left = np.conj(c)[:, None] * overlaps(sites_a) * c[None, :]
    return gram_left.astype(np.complex128), overlaps(sites_b).astype(np.complex128)


def full_values(params: Params, n: int, hyper: RandomFeatureHyper, xp: Any, real_dtype: Any) -> Any:
    """All ``2^n`` amplitudes of a ``cos``/``sin`` network as two real GEMMs of the halves'
    features (:func:`channel_factors` across the first ``n // 2`` sites: ``K = 2 N_h``
    each, a quarter of the multiply-adds of the complex ``left @ right^T``) instead of
    ``2^n N_h`` activations, in row blocks of ``2^18`` amplitudes so that the real and
    imaginary parts never exist as whole vectors; None for other activations."""
    factors = channel_factors(params, n, hyper, range(n // 2), xp, real_dtype)
    if factors is None:
        return None
    (left_re, right_re), (left_im, right_im) = factors
    rows, columns = left_re.shape[0], right_re.shape[0]
    complex_dtype = complex_of(xp, real_dtype)
    values = xp.empty((rows * columns,), dtype=complex_dtype)
    step = max(1, (1 << 18) // columns)
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        real = xp.matmul(left_re[start:stop, ...], xp.matrix_transpose(right_re))
        imag = xp.matmul(left_im[start:stop, ...], xp.matrix_transpose(right_im))
        values[start * columns : stop * columns] = xp.reshape(to_complex(real, imag, xp), (-1,))
    return values


def exact_spectrum(
    params: Params, n: int, hyper: RandomFeatureHyper, sites: Sequence[int]
) -> np.ndarray:
    """Schmidt probabilities of a ``cos``/``sin`` network across ``A = sites``, at any
    ``n``, from its ``4 N_h x 4 N_h`` Gram matrices (:func:`product_grams`)."""
    grams = product_grams(params, n, hyper, sites)
    if grams is None:
        raise ValueError(f"random_feature: no closed form for activation {hyper.activation!r}")
    return np.asarray(gram_schmidt_probs(*grams, namespace("numpy")))


def eval_bytes(n: int, hyper: RandomFeatureHyper, batch: int) -> int:
    """The spins of the last ``j = min(n, 16)`` sites and the first-layer tables over them
    (``2^j x (2 j + 2 N_h)`` reals with the spins' temporaries), and a batch's
    ``(batch, 2 N_h)`` features with theirs (measured, n = 18: 21 MiB at N_h = 5, 111 MiB
    at N_h = 100, 1039 MiB at N_h = 1000)."""
    columns, low = 2 * hyper.hidden, min(n, SPLIT_SITES)
    return (1 << low) * (2 * low + columns) * 8 + batch * 8 * (8 * columns + 64)


def host_batch(hyper: RandomFeatureHyper) -> int:
    """Configurations per batch on the host: about ``2^17`` features, as a power of two in
    ``[1024, 65536]``. The ``(batch, 2 N_h)`` features stay near cache (1024 at N_h = 1000
    is 1.3-1.6x faster than 65536), and narrow networks are not held back by the per-call
    cost of small batches (8192 at N_h = 5 is 1.3x faster than 1024 at n = 22)."""
    target = (1 << 17) // (2 * hyper.hidden)
    return max(1024, min(1 << 16, 1 << max(target, 1).bit_length() - 1))


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
        product_form=product_form,
        exact_spectrum=exact_spectrum,
        exact_when=lambda hyper: hyper.activation in ("cos", "sin"),
        first_layers=first_layers,
        evaluate_first=evaluate_first,
        eval_bytes=eval_bytes,
        host_batch=host_batch,
    )
)
