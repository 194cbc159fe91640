"""Analytic entanglement of reference states, in nats.

- Dicke states: the Schmidt probabilities across a cut of ``m`` sites are hypergeometric,
  ``p_j = C(m, j) C(n - m, w - j) / C(n, w)`` for ``w`` excitations;
- Haar-random states: Page's mean entropy ``S = H(d_A d_B) - H(d_B) - (d_A - 1) / (2 d_B)``
  for ``d_A <= d_B`` (D. N. Page, Phys. Rev. Lett. 71, 1291 (1993)), with ``H`` the
  harmonic number, written through digamma for large dimensions.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma


def dicke_probs(n: int, m: int, excitations: int | None = None) -> np.ndarray:
    """Schmidt probabilities of the Dicke state with ``excitations`` up spins (default
    ``n // 2``) across sites ``0..m-1`` | rest.

    >>> dicke_probs(4, 1).tolist()
    [0.5, 0.5]
    """
    w = n // 2 if excitations is None else excitations
    if not (0 <= m <= n and 0 <= w <= n):
        raise ValueError(f"need 0 <= m <= n and 0 <= excitations <= n, got n={n} m={m} w={w}")
    total = math.comb(n, w)
    j = range(max(0, w - (n - m)), min(m, w) + 1)
    return np.array([math.comb(m, i) * math.comb(n - m, w - i) / total for i in j])


def dicke_entropy(n: int, m: int, excitations: int | None = None, alpha: float = 1.0) -> float:
    """Entropy of order ``alpha`` (1: von Neumann) of the Dicke state across ``m | n - m``.

    The Dicke state with ``w`` excitations (up spins) is permutation symmetric, so every
    cut of ``m`` sites has the hypergeometric Schmidt probabilities
    ``p_j = C(m, j) C(n - m, w - j) / C(n, w)`` (:func:`dicke_probs`, taken for the sites
    ``0..m-1``), and the entropy is ``-sum_j p_j log p_j`` (``alpha = 1``),
    ``-log max_j p_j`` (``alpha = inf``) or ``log(sum_j p_j^alpha) / (1 - alpha)``.

    Parameters
    ----------
    n : int
        Number of sites (spins).
    m : int
        Sites in the subsystem, ``0 <= m <= n``.
    excitations : int, optional
        Up spins ``w``, ``0 <= w <= n``; default ``n // 2`` (zero magnetisation for even
        ``n``, the ``dicke`` architecture).
    alpha : float, default 1.0
        Renyi order: 1 for von Neumann, ``math.inf`` for the min-entropy, else a positive
        order.

    Returns
    -------
    float
        The entropy in nats.

    Raises
    ------
    ValueError
        Unless ``0 <= m <= n`` and ``0 <= excitations <= n``.

    Examples
    --------
    >>> round(dicke_entropy(22, 2), 4)
    1.0221
    >>> round(dicke_entropy(4, 2, alpha=math.inf), 6)  # p = 1/6, 2/3, 1/6: log(3/2)
    0.405465
    """
    p = dicke_probs(n, m, excitations)
    p = p[p > 0]
    if alpha == 1:
        return float(-np.sum(p * np.log(p)))
    if math.isinf(alpha):
        return float(-np.log(p.max()))
    return float(np.log(np.sum(p**alpha)) / (1 - alpha))


def harmonic(x: float) -> float:
    """Harmonic number ``H(x) = digamma(x + 1) + euler_gamma`` (exact for integers)."""
    return float(digamma(x + 1) + np.euler_gamma)


def page_entropy(dim_a: int, dim_b: int) -> float:
    """Page's mean von Neumann entropy of a Haar-random state in ``C^dim_a x C^dim_b``.

    With ``d_A = min(dim_a, dim_b)`` and ``d_B = max(dim_a, dim_b)`` (the result is
    symmetric), ``S = H(d_A d_B) - H(d_B) - (d_A - 1) / (2 d_B)`` with ``H`` the harmonic
    number (D. N. Page, Phys. Rev. Lett. 71, 1291 (1993)), computed through digamma so that
    large dimensions cost nothing. For ``m`` of ``n`` qubits the dimensions are ``2**m``
    and ``2**(n - m)`` (:func:`page_entropy_qubits`).

    Parameters
    ----------
    dim_a, dim_b : int
        Hilbert-space dimensions of the two parts (not numbers of sites), each >= 1.

    Returns
    -------
    float
        The mean entropy in nats.

    Raises
    ------
    ValueError
        When a dimension is smaller than 1.

    Examples
    --------
    >>> round(page_entropy(2, 2), 12)  # H(4) - H(2) - 1/4 = 1/3
    0.333333333333
    >>> page_entropy(2**3, 2**5) == page_entropy(2**5, 2**3)
    True
    >>> round(page_entropy(2**512, 2**512) / math.log(2), 6)  # 512 bits less 1/2 nat
    511.278652
    """
    small, large = sorted((int(dim_a), int(dim_b)))
    if small < 1:
        raise ValueError(f"dimensions must be >= 1, got {dim_a} and {dim_b}")
    if small * large < 1 << 60:
        psi_diff = float(digamma(small * large + 1) - digamma(large + 1))
    else:  # digamma's asymptotic series; the next terms are below 1e-18 here
        psi_diff = math.log(small) + 1 / (2 * small * large) - 1 / (2 * large)
    return psi_diff - (small - 1) / (2 * large)


def page_entropy_qubits(n: int, m: int) -> float:
    """Page's mean entropy for ``m`` of ``n`` qubits."""
    return page_entropy(2**m, 2 ** (n - m))
