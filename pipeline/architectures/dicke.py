"""The Dicke state as a one-nonlinearity NQS: ``psi(s) = delta(sum_i s_i)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.architectures.base import Architecture, Params, register
from pipeline.architectures.layers import spins_eval_bytes
from pipeline.numerics.references import dicke_probs
from pipeline.numerics.xp import complex_of


@dataclass(frozen=True)
class DickeHyper:
    """The zero-magnetisation Dicke state has no hyperparameters."""


def init(rng: np.random.Generator, n: int, hyper: DickeHyper) -> Params:
    return {}


def evaluate(params: Params, spins: Any, hyper: DickeHyper, xp: Any) -> Any:
    """Amplitude 1 on configurations with zero magnetisation, 0 elsewhere."""
    magnetisation = xp.sum(spins, axis=-1)
    one = xp.ones_like(magnetisation)
    values = xp.where(magnetisation == 0, one, xp.zeros_like(one))
    return xp.astype(values, complex_of(xp, spins.dtype))


def exact_spectrum(params: Params, n: int, hyper: DickeHyper, sites: Sequence[int]) -> np.ndarray:
    """Hypergeometric Schmidt probabilities across any ``len(sites)`` sites (the state is
    permutation symmetric), at any ``n``."""
    return dicke_probs(n, len(sites))


def k(n: int, hyper: DickeHyper) -> int:
    """``k = 1``: the Kronecker delta of one affine feature ``sum_i s_i``."""
    return 1


def check(n: int, hyper: DickeHyper) -> None:
    if n % 2:
        raise ValueError(f"dicke: n must be even for zero magnetisation, got n = {n}")


DICKE = register(
    Architecture(
        name="dicke",
        hyper_type=DickeHyper,
        init=init,
        evaluate=evaluate,
        k=k,
        log_amplitude=False,
        check=check,
        exact_spectrum=exact_spectrum,
        eval_bytes=spins_eval_bytes,
    )
)
