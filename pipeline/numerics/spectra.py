"""TODO docstring (spectra)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.numerics.entropy import clean_probs
from pipeline.numerics.lapacke import _eigvals_two_stage
from pipeline.numerics.xp import is_numpy

# Gram matrices at least this large use BLAS herk directly (NumPy only).
HERK_MIN_DIM = 128


# Bytes of permuted state vectors stacked at once in nested_schmidt_probs.
STACK_BYTES = 1 << 27


def _check_sites(n: int, sites: Sequence[int]) -> tuple[int, ...]:
    sites = tuple(int(s) for s in sites)
    if len(set(sites)) != len(sites) or any(not 0 <= s < n for s in sites):
        raise ValueError(f"subsystem {sites} is not a set of distinct sites in 0..{n - 1}")
    return sites


def site_order(n: int, subsystem: Sequence[int]) -> tuple[int, ...]:
    """``subsystem`` followed by the remaining sites in increasing order."""
    subsystem = _check_sites(n, subsystem)
    chosen = set(subsystem)
    return subsystem + tuple(s for s in range(n) if s not in chosen)


def bipartition(psi: Any, n: int, order: Sequence[int], m: int, xp: Any) -> Any:
    """The ``2^m x 2^(n-m)`` matrix of ``psi`` with sites ``order[:m]`` as rows.

    ``psi`` may carry leading batch axes: ``(..., 2^n) -> (..., 2^m, 2^(n-m))``.
    """
    batch = tuple(psi.shape[:-1])
    order = tuple(int(s) for s in order)
    if order != tuple(range(n)):
        tensor = xp.reshape(psi, batch + (2,) * n)
        lead = tuple(range(len(batch)))
        psi = xp.permute_dims(tensor, lead + tuple(len(batch) + s for s in order))
    return xp.reshape(psi, (*batch, 1 << m, 1 << (n - m)))


def gram(matrix: Any, xp: Any, *, full: bool = True) -> Any:
    """``M M^H`` (or its complex conjugate; the spectrum is the same) of ``(..., r, c)``.

    A single large NumPy matrix goes through BLAS ``herk``; ``full=False`` then leaves the
    strict lower triangle unset (enough for an eigensolver reading the upper triangle).
    """
    rows = matrix.shape[-2]
    if is_numpy(xp) and matrix.ndim == 2 and rows >= HERK_MIN_DIM:
        import numpy as np
        from scipy.linalg import blas

        transposed = np.asarray(matrix).T  # F-contiguous view when matrix is C-contiguous
        herk = blas.zherk if transposed.dtype == np.complex128 else blas.cherk
        upper = herk(1.0, transposed, trans=2)  # transposed^H transposed = conj(M M^H)
        if full:
            upper = np.triu(upper) + np.triu(upper, 1).conj().T
        return upper
    return xp.matmul(matrix, xp.conj(xp.matrix_transpose(matrix)))


def hermitian_eigvals(matrix: Any, xp: Any) -> Any:
    """Eigenvalues, ascending, of a Hermitian ``(..., d, d)`` matrix.

    A single NumPy matrix with ``d >= HERK_MIN_DIM`` goes to LAPACK: only its upper
    triangle is read, and an F-contiguous ``matrix`` is overwritten (pass a temporary).
    Complex matrices use the two-stage ``heevd_2stage`` where the loaded LAPACK has it,
    otherwise ``scipy.linalg.eigvalsh``.
    """
    if is_numpy(xp) and matrix.ndim == 2 and matrix.shape[-1] >= HERK_MIN_DIM:
        values = _eigvals_two_stage(matrix)
        if values is None:
            from scipy.linalg import eigvalsh

            values = eigvalsh(matrix, lower=False, overwrite_a=True, check_finite=False)
        return xp.asarray(values)
    return xp.linalg.eigvalsh(matrix)


def schmidt_probs(psi: Any, n: int, subsystem: Sequence[int], xp: Any) -> Any:
    """Schmidt probabilities of ``psi`` across ``subsystem | rest``.

    Parameters
    ----------
    psi : array, shape ``(..., 2^n)``
        Normalised state(s), site 0 the most significant bit.
    subsystem : sequence of int
        Sites of ``A``; ``1 <= |A| <= n - 1``.

    Returns
    -------
    array, shape ``(..., 2^min(|A|, n-|A|))``
        Real probabilities, ascending, summing to 1.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> ghz = xp.asarray([1, 0, 0, 0, 0, 0, 0, 1], dtype=xp.complex128) / 2**0.5
    >>> [round(float(p), 12) for p in schmidt_probs(ghz, 3, (1,), xp)]
    [0.5, 0.5]
    """
    order = site_order(n, subsystem)
    m = len(subsystem)
    if not 1 <= m <= n - 1:
        raise ValueError(f"subsystem size must be in 1..{n - 1}, got {m}")
    if m > n - m:  # the complement is smaller
        order, m = order[m:] + order[:m], n - m
    matrix = bipartition(psi, n, order, m, xp)
    return clean_probs(hermitian_eigvals(gram(matrix, xp, full=False), xp), xp)


def schmidt_probs_svd(psi: Any, n: int, subsystem: Sequence[int], xp: Any) -> Any:
    """Independent slow path: squared singular values of the full ``2^|A| x 2^(n-|A|)``
    matrix, ascending, for the same ``(..., d)`` shape as :func:`schmidt_probs`."""
    order = site_order(n, subsystem)
    matrix = bipartition(psi, n, order, len(subsystem), xp)
    values = xp.linalg.svdvals(matrix)
    probs = xp.sort(xp.real(values) ** 2, axis=-1)
    return clean_probs(probs, xp)


def partial_trace_last(rho: Any, m_keep: int, m_total: int, xp: Any) -> Any:
    """Trace the last ``m_total - m_keep`` qubits out of ``rho`` of shape ``(..., D, D)``."""
    batch = tuple(rho.shape[:-2])
    keep, drop = 1 << m_keep, 1 << (m_total - m_keep)
    tensor = xp.reshape(rho, (*batch, keep, drop, keep, drop))
    lead = tuple(range(len(batch)))
    b = len(batch)
    tensor = xp.permute_dims(tensor, (*lead, b, b + 2, b + 1, b + 3))
    return xp.linalg.trace(tensor)


def _nested_one_side(
    psi: Any, n: int, orders: Sequence[Sequence[int]], sizes: Sequence[int], xp: Any
) -> dict[int, Any]:
    """Spectra for sizes ``<= n/2`` taken as the first sites of each ordering."""
    top = max(sizes)
    dim = 1 << top
    itemsize = 16 if psi.dtype == xp.complex128 else 8
    per_order = (1 << n) * itemsize + dim * dim * itemsize
    step = max(1, min(len(orders), STACK_BYTES // per_order))
    chunks: dict[int, list[Any]] = {m: [] for m in sizes}
    for start in range(0, len(orders), step):
        block = orders[start : start + step]
        if len(block) == 1:
            rho = gram(bipartition(psi, n, block[0], top, xp), xp)[None, ...]
        else:
            stack = xp.stack([bipartition(psi, n, order, top, xp) for order in block])
            rho = gram(stack, xp)
        current, current_m = rho, top
        for m in sorted(sizes, reverse=True):
            if m != current_m:
                current, current_m = partial_trace_last(current, m, current_m, xp), m
            probs = (
                xp.stack([hermitian_eigvals(current[i, ...], xp) for i in range(current.shape[0])])
                if dim >= HERK_MIN_DIM
                else xp.linalg.eigvalsh(current)
            )
            chunks[m].append(clean_probs(probs, xp))
    return {m: xp.concat(parts) if len(parts) > 1 else parts[0] for m, parts in chunks.items()}


def nested_schmidt_probs(
    psi: Any, n: int, orders: Sequence[Sequence[int]], sizes: Sequence[int], xp: Any
) -> dict[int, Any]:
    """Schmidt probabilities of ``A = order[:m]`` for every ordering and every size.

    Parameters
    ----------
    psi : array, shape ``(2^n,)``
        One normalised state.
    orders : sequence of site orderings (each a permutation of ``0..n-1``)
        For cyclic windows, ``(start + arange(n)) % n``; for random subsets, a random
        permutation, so that the subsets of growing size are nested.
    sizes : sequence of int
        Subsystem sizes ``m`` in ``1..n-1``.

    Returns
    -------
    dict
        ``m -> probs`` of shape ``(len(orders), 2^min(m, n-m))``.

    Sizes up to ``n/2`` share one reduced density matrix per ordering (the largest size),
    reduced by partial traces; larger sizes use the complement, which is the first
    ``n - m`` sites of the reversed ordering.
    """
    sizes = sorted({int(m) for m in sizes})
    if any(not 1 <= m <= n - 1 for m in sizes):
        raise ValueError(f"subsystem sizes must be in 1..{n - 1}, got {sizes}")
    orders = [tuple(int(s) for s in order) for order in orders]
    small = [m for m in sizes if m <= n - m]
    large = [m for m in sizes if m > n - m]
    result: dict[int, Any] = {}
    if small:
        result.update(_nested_one_side(psi, n, orders, small, xp))
    if large:
        reversed_orders = [order[::-1] for order in orders]
        complement = _nested_one_side(psi, n, reversed_orders, [n - m for m in large], xp)
        result.update({m: complement[n - m] for m in large})
    return result
