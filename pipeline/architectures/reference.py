"""Reference states with known entanglement: random product, GHZ, Haar-random, random MPS.

They are not networks (``k`` is ``None``) but share the architecture interface, so every
entropy path can be checked against them: product 0, GHZ ``log 2``, Haar Page's mean, MPS
``S <= log chi`` on contiguous cuts. All return amplitudes (not log-amplitudes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import check_positive, spins_eval_bytes, to_namespace
from pipeline.numerics.xp import complex_of


def _complex_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard complex Gaussian: the real parts drawn first, then the imaginary parts."""
    real = rng.normal(0.0, 1.0, size=shape)
    imag = rng.normal(0.0, 1.0, size=shape)
    return real + 1j * imag


def _reference_k(n: int, hyper: Any) -> None:
    """Reference states are not networks: no ``k``."""
    return None


# --- random product state ------------------------------------------------------------


@dataclass(frozen=True)
class ProductHyper:
    """A random product state has no hyperparameters."""


def product_init(rng: np.random.Generator, n: int, hyper: ProductHyper) -> Params:
    """``sites`` ``(n, 2)``: row ``i`` is site ``i``'s Haar-random qubit state, a standard
    complex Gaussian 2-vector (all real parts, then all imaginary parts) over its norm."""
    sites = _complex_normal(rng, (n, 2))
    return {"sites": sites / np.linalg.norm(sites, axis=1, keepdims=True)}


def product_evaluate(params: Params, spins: Any, hyper: ProductHyper, xp: Any) -> Any:
    """``psi(s) = prod_i v_i[b_i]`` with ``b_i = (s_i + 1) / 2``: ``(batch, n) -> (batch,)``."""
    p = to_namespace(params, xp, spins.dtype)
    down, up = p["sites"][:, 0], p["sites"][:, 1]
    return xp.prod(xp.where(spins > 0, up, down), axis=-1)


def product_spectrum(params: Params, n: int, hyper: Any, sites: Sequence[int]) -> np.ndarray:
    """A product state has one Schmidt value across every cut."""
    return np.ones(1)


PRODUCT = register(
    Architecture(
        name="product",
        hyper_type=ProductHyper,
        init=product_init,
        evaluate=product_evaluate,
        k=_reference_k,
        log_amplitude=False,
        reference=True,
        eval_bytes=spins_eval_bytes,
        exact_spectrum=product_spectrum,
    )
)


# --- GHZ state -----------------------------------------------------------------------


@dataclass(frozen=True)
class GHZHyper:
    """The GHZ state has no hyperparameters."""


def ghz_init(rng: np.random.Generator, n: int, hyper: GHZHyper) -> Params:
    return {}


def ghz_evaluate(params: Params, spins: Any, hyper: GHZHyper, xp: Any) -> Any:
    """``(|0...0> + |1...1>) / sqrt 2`` (unnormalised): 1 on the two aligned
    configurations, 0 elsewhere."""
    aligned = xp.all(spins > 0, axis=-1) | xp.all(spins < 0, axis=-1)
    dtype = complex_of(xp, spins.dtype)
    return xp.where(aligned, xp.asarray(1.0, dtype=dtype), xp.asarray(0.0, dtype=dtype))


def ghz_spectrum(params: Params, n: int, hyper: GHZHyper, sites: Sequence[int]) -> np.ndarray:
    """``(1/2, 1/2)`` across every cut with both sides non-empty."""
    return np.full(2, 0.5) if 0 < len(sites) < n else np.ones(1)


GHZ = register(
    Architecture(
        name="ghz",
        hyper_type=GHZHyper,
        init=ghz_init,
        evaluate=ghz_evaluate,
        k=_reference_k,
        log_amplitude=False,
        reference=True,
        eval_bytes=spins_eval_bytes,
        exact_spectrum=ghz_spectrum,
    )
)


# --- Haar-random state ---------------------------------------------------------------


@dataclass(frozen=True)
class HaarHyper:
    """A Haar-random state has no hyperparameters."""


def haar_init(rng: np.random.Generator, n: int, hyper: HaarHyper) -> Params:
    """``psi`` ``(2^n,)``: a standard complex Gaussian vector (all real parts, then all
    imaginary parts); normalised, it is Haar-distributed."""
    return {"psi": _complex_normal(rng, (1 << n,))}


def basis_index(spins: Any, xp: Any) -> Any:
    """Basis index ``sum_i b_i 2^(n-1-i)``, ``b_i = (s_i + 1) / 2``: ``(batch, n) ->
    (batch,)`` int64 (site 0 the most significant bit)."""
    n = spins.shape[-1]
    bits = xp.astype(spins > 0, xp.int64)
    place = xp.asarray([1 << (n - 1 - i) for i in range(n)], dtype=xp.int64)
    return xp.sum(bits * place, axis=-1)


def haar_evaluate(params: Params, spins: Any, hyper: HaarHyper, xp: Any) -> Any:
    """The stored vector at each configuration's basis index."""
    p = to_namespace(params, xp, spins.dtype)
    return xp.take(p["psi"], basis_index(spins, xp))


HAAR = register(
    Architecture(
        name="haar",
        hyper_type=HaarHyper,
        init=haar_init,
        evaluate=haar_evaluate,
        k=_reference_k,
        log_amplitude=False,
        reference=True,
        eval_bytes=spins_eval_bytes,
    )
)


# --- random matrix product state -----------------------------------------------------


@dataclass(frozen=True)
class MPSHyper:
    """Hyperparameters of the random MPS."""

    chi: int = 4
    """Maximal bond dimension; every contiguous cut has ``S <= log chi``."""

    def __post_init__(self) -> None:
        check_positive("chi", self.chi)


def bond_dimensions(n: int, hyper: MPSHyper) -> list[int]:
    """``D_i = min(chi, 2^i, 2^(n-i))`` for bonds ``i = 0..n`` (``D_0 = D_n = 1``).

    >>> bond_dimensions(5, MPSHyper(chi=3))
    [1, 2, 3, 3, 2, 1]
    """
    return [min(hyper.chi, 2**i, 2 ** (n - i)) for i in range(n + 1)]


def mps_init(rng: np.random.Generator, n: int, hyper: MPSHyper) -> Params:
    """``site<i>`` ``(D_i, 2, D_{i+1})`` for ``i = 0..n-1`` in site order, each a standard
    complex Gaussian tensor (its real parts, then its imaginary parts); open boundaries."""
    bonds = bond_dimensions(n, hyper)
    return {f"site{i}": _complex_normal(rng, (bonds[i], 2, bonds[i + 1])) for i in range(n)}


def mps_evaluate(params: Params, spins: Any, hyper: MPSHyper, xp: Any) -> Any:
    """``psi(s) = A_0[b_0] A_1[b_1] ... A_{n-1}[b_{n-1}]``, contracted left to right for
    the whole batch: ``(batch, n) -> (batch,)``."""
    p = to_namespace(params, xp, spins.dtype)
    batch, n = spins.shape
    left = xp.ones((batch, 1), dtype=complex_of(xp, spins.dtype))
    for i in range(n):
        tensor = p[f"site{i}"]
        up = spins[:, i : i + 1] > 0
        left = xp.where(up, xp.matmul(left, tensor[:, 1, :]), xp.matmul(left, tensor[:, 0, :]))
    return left[:, 0]


def mps_grams(params: Params, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The Gram matrices of the MPS across the bond after site ``m - 1`` (``A`` = the first
    ``m`` sites), at any ``n`` (NumPy, ``O(n chi^3)``): ``psi = sum_a |L_a>|R_a>`` over the
    bond index, ``(L^H L, R^T conj(R))`` for
    :func:`pipeline.numerics.spectra.gram_schmidt_probs`, the canonical-form reference.

    The environments ``E <- sum_s A[s]^H E A[s]`` (from the left) and
    ``F <- sum_s A[s] F A[s]^H`` (from the right) are rescaled at every site, so no ``n``
    overflows.
    """
    if not 1 <= m <= n - 1:
        raise ValueError(f"need 1 <= m <= {n - 1}, got {m}")
    tensors = [np.asarray(params[f"site{i}"], dtype=np.complex128) for i in range(n)]
    left = np.ones((1, 1), dtype=np.complex128)
    for tensor in tensors[:m]:
        down, up = tensor[:, 0, :], tensor[:, 1, :]
        left = down.conj().T @ left @ down + up.conj().T @ left @ up
        left /= np.max(np.abs(left))
    right = np.ones((1, 1), dtype=np.complex128)
    for tensor in reversed(tensors[m:]):
        down, up = tensor[:, 0, :], tensor[:, 1, :]
        right = down @ right @ down.conj().T + up @ right @ up.conj().T
        right /= np.max(np.abs(right))
    # right[a, b] = <R_b|R_a>: already R^T conj(R)
    return left, right


MPS = register(
    Architecture(
        name="mps",
        hyper_type=MPSHyper,
        init=mps_init,
        evaluate=mps_evaluate,
        k=_reference_k,
        log_amplitude=False,
        reference=True,
        eval_bytes=spins_eval_bytes,
    )
)
