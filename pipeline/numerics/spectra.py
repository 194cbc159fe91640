"""Schmidt spectra of pure states on ``n`` qubits.

For a subsystem ``A`` (a tuple of sites) the state is reshaped into the
``2^|A| x 2^(n-|A|)`` matrix ``M`` (axes of ``A`` first, in the order given). The Schmidt
probabilities are the eigenvalues of the Gram matrix on the smaller side (``M M^H`` when
``|A| <= n - |A|``, otherwise the same for the complement, since ``S_A = S_B`` for a pure
state), found with a Hermitian eigensolver. :func:`schmidt_probs_svd` (squared singular
values of ``M``) is the independent slow path.

With NumPy the Gram matrix is one BLAS ``herk`` (half the work of a general product) on the
transposed view of ``M``, so no copy is made for a cut after the first sites. The ``herk``
of the transpose gives ``conj(M M^H)``, whose spectrum is the same. Its eigenvalues come
from LAPACK's two-stage solver ``heevd_2stage`` (dense to band with BLAS-3, then band to
tridiagonal), taken through LAPACKE from the LAPACK library that SciPy loaded
(:mod:`pipeline.numerics.lapacke`). It needs
about half the time of the one-stage ``hetrd`` behind ``scipy.linalg.eigvalsh``, whose
matrix-vector products are bound by memory bandwidth; where the library has no two-stage
solver, ``scipy.linalg.eigvalsh`` is used.

:func:`nested_schmidt_probs` serves the ``window`` and ``random`` samplers: for one site
ordering it forms a single reduced density matrix for the largest size and gets each smaller
size by tracing out the far end, and it batches orderings while matrices are small.
"""

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
    start = order[0] if order else 0
    if order != tuple(range(n)) and order == tuple((start + i) % n for i in range(n)):
        # A cyclic window's order is a rotation: one 2-D transpose of psi, not n axes.
        halves = xp.reshape(psi, (*batch, 1 << start, 1 << (n - start)))
        psi = xp.matrix_transpose(halves)
    elif order != tuple(range(n)):
        tensor = xp.reshape(psi, batch + (2,) * n)
        lead = tuple(range(len(batch)))
        psi = xp.permute_dims(tensor, lead + tuple(len(batch) + s for s in order))
    return xp.reshape(psi, (*batch, 1 << m, 1 << (n - m)))


GATHER_BYTES = 1 << 26
"""Bytes of the columns of ``M`` gathered per ``herk`` by :func:`cut_gram` (NumPy)."""


def _cut_view(psi: Any, n: int, order: Sequence[int], m: int) -> tuple[Any, int]:
    """``psi`` (NumPy, ``(2^n,)``) as a view with the sites of ``order[:m]`` on the leading
    axes and those of ``order[m:]`` on the rest, in that order; no copy. Runs of
    consecutive sites share one axis (the identity ordering is a ``2^m x 2^(n-m)`` matrix,
    a cyclic window three axes). Returns ``(view, number of row axes)``."""
    runs: list[list[int]] = []
    row_axes = 0
    for part in (order[:m], order[m:]):
        start = len(runs)
        for site in part:
            if len(runs) > start and site == runs[-1][-1] + 1:
                runs[-1].append(site)
            else:
                runs.append([site])
        row_axes = row_axes or len(runs)
    layout = sorted(range(len(runs)), key=lambda i: runs[i][0])  # runs tile 0..n-1
    tensor = psi.reshape([1 << len(runs[i]) for i in layout])
    return tensor.transpose([layout.index(i) for i in range(len(runs))]), row_axes


def _fill_lower(upper: Any, block: int = 512) -> Any:
    """Complete a Hermitian NumPy matrix from its upper triangle, in place, a band of
    ``block`` columns at a time (temporaries of ``block x d``, not ``d x d``)."""
    import numpy as np

    dim = upper.shape[0]
    for i in range(0, dim, block):
        j = min(i + block, dim)
        diagonal = upper[i:j, i:j]
        diagonal[...] = np.triu(diagonal) + np.triu(diagonal, 1).conj().T
        upper[j:, i:j] = upper[i:j, j:].conj().T
    return upper


def cut_gram(psi: Any, n: int, order: Sequence[int], m: int, xp: Any, *, full: bool = True) -> Any:
    """``M M^H`` (or its conjugate) of ``M`` = :func:`bipartition` ``(psi, n, order, m)``.

    With NumPy and ``2^m >= HERK_MIN_DIM`` the permuted matrix is never formed: ``M``'s
    columns are gathered from a strided view of ``psi`` :data:`GATHER_BYTES` at a time and
    summed into one F-contiguous result by BLAS ``herk`` (``beta = 1``), so the peak is
    ``psi`` plus the result plus one buffer, not a second copy of ``psi``; the identity
    ordering needs no gather at all. ``full=False`` leaves the strict lower triangle unset
    (enough for :func:`hermitian_eigvals`, which may then overwrite the result).
    Elsewhere, :func:`gram` of :func:`bipartition`.
    """
    if not (is_numpy(xp) and (1 << m) >= HERK_MIN_DIM and psi.ndim == 1):
        return gram(bipartition(psi, n, order, m, xp), xp, full=full)
    import numpy as np
    from scipy.linalg import blas

    view, row_axes = _cut_view(np.asarray(psi), n, tuple(int(s) for s in order), m)
    rows = 1 << m
    herk = blas.zherk if view.dtype == np.complex128 else blas.cherk
    columns = view.shape[row_axes:]
    if view.flags.c_contiguous:
        pieces: Any = [view.reshape(rows, -1)]
    else:
        # blocks of whole trailing axes and a slice of the one before: contiguous runs of
        # M's columns, in order (so the sum order is fixed by the shapes alone)
        per_block = max(1, GATHER_BYTES // (rows * view.itemsize))
        split, tail = len(columns), 1
        while split > 0 and tail * columns[split - 1] <= per_block:
            split -= 1
            tail *= columns[split]
        if split == 0:
            pieces = [np.ascontiguousarray(view).reshape(rows, -1)]
        else:
            step = max(1, per_block // tail)
            lead = (slice(None),) * row_axes
            pieces = (
                np.ascontiguousarray(view[(*lead, *outer, slice(a, a + step))]).reshape(rows, -1)
                for outer in np.ndindex(*columns[: split - 1])
                for a in range(0, columns[split - 1], step)
            )
    result = None
    for piece in pieces:
        if result is None:  # transposed^H transposed = conj(M M^H), F-contiguous
            result = herk(1.0, piece.T, trans=2)
        else:
            result = herk(1.0, piece.T, beta=1.0, c=result, trans=2, overwrite_c=1)
        del piece  # before the next gather: one buffer alive
    return _fill_lower(result) if full else result


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
        return _fill_lower(upper) if full else upper
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

    The state is reshaped into the ``2^|A| x 2^(n-|A|)`` matrix ``M`` of the cut and the
    eigenvalues of the Gram matrix of the smaller side are taken (``M M^H``, or the same
    for the complement when ``|A| > n - |A|``: ``S_A = S_B`` for a pure state), with a
    Hermitian eigensolver (an unbatched NumPy matrix of side >= ``HERK_MIN_DIM`` uses BLAS
    ``herk`` and LAPACK; see the module docstring). Round-off is cleaned
    (:func:`pipeline.numerics.entropy.clean_probs`): negatives and numerical zeros become
    0, and the result is renormalised. The order of the sites in ``subsystem`` does not
    change the spectrum.

    Parameters
    ----------
    psi : array, shape ``(..., 2^n)``
        Normalised state(s), complex (complex128 or complex64), site 0 the most
        significant bit of the basis index; leading axes are a batch of states.
    n : int
        Number of sites (spins) of the state.
    subsystem : sequence of int
        Sites of ``A``, distinct, each in ``0..n-1``; ``1 <= |A| <= n - 1``.
    xp : namespace
        The array namespace of ``psi`` (:func:`pipeline.numerics.xp.namespace`).

    Returns
    -------
    array, shape ``(..., 2^min(|A|, n-|A|))``
        Real probabilities (float64 for complex128, float32 for complex64), ascending
        along the last axis, summing to 1; the leading axes are those of ``psi``.

    Raises
    ------
    ValueError
        When ``subsystem`` repeats a site or names one outside ``0..n-1``, or when
        ``|A|`` is not in ``1..n-1``.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> ghz = xp.asarray([1, 0, 0, 0, 0, 0, 0, 1], dtype=xp.complex128) / 2**0.5
    >>> [round(float(p), 12) for p in schmidt_probs(ghz, 3, (1,), xp)]
    [0.5, 0.5]

    A batch of two 3-site states across ``A = {0, 2}`` (the complement ``{1}`` is
    smaller, so two probabilities per state):

    >>> product = xp.asarray([1, 0, 0, 0, 0, 0, 0, 0], dtype=xp.complex128)
    >>> probs = schmidt_probs(xp.stack([ghz, product]), 3, (0, 2), xp)
    >>> probs.shape, xp.round(probs, 12).tolist()
    ((2, 2), [[0.5, 0.5], [0.0, 1.0]])
    """
    order = site_order(n, subsystem)
    m = len(subsystem)
    if not 1 <= m <= n - 1:
        raise ValueError(f"subsystem size must be in 1..{n - 1}, got {m}")
    if m > n - m:  # the complement is smaller
        order, m = order[m:] + order[:m], n - m
    return clean_probs(hermitian_eigvals(cut_gram(psi, n, order, m, xp, full=False), xp), xp)


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
            rho = cut_gram(psi, n, block[0], top, xp, full=len(sizes) > 1)[None, ...]
        else:
            stack = xp.stack([bipartition(psi, n, order, top, xp) for order in block])
            rho = gram(stack, xp)
        descending = sorted(sizes, reverse=True)
        current = rho
        for i, m in enumerate(descending):
            # the next size's matrix first: the eigensolver may overwrite this one
            following = None
            if i + 1 < len(descending):
                following = partial_trace_last(current, descending[i + 1], m, xp)
            probs = (
                xp.stack([hermitian_eigvals(current[j, ...], xp) for j in range(current.shape[0])])
                if (1 << m) >= HERK_MIN_DIM
                else xp.linalg.eigvalsh(current)
            )
            chunks[m].append(clean_probs(probs, xp))
            current = following
    return {m: xp.concat(parts) if len(parts) > 1 else parts[0] for m, parts in chunks.items()}


def nested_schmidt_probs(
    psi: Any, n: int, orders: Sequence[Sequence[int]], sizes: Sequence[int], xp: Any
) -> dict[int, Any]:
    """Schmidt probabilities of ``A = order[:m]`` for every ordering and every size.

    This serves the ``window`` and ``random`` samplers: the same values as
    :func:`schmidt_probs` for each subsystem ``order[:m]``, computed with far fewer
    eigen-decompositions of large matrices.

    Parameters
    ----------
    psi : array, shape ``(2^n,)``
        One normalised state, complex (complex128 or complex64), site 0 the most
        significant bit of the basis index.
    n : int
        Number of sites (spins) of the state.
    orders : sequence of site orderings (each a permutation of ``0..n-1``)
        For cyclic windows, ``(start + arange(n)) % n``; for random subsets, a random
        permutation, so that the subsets of growing size are nested.
    sizes : sequence of int
        Subsystem sizes ``m`` in ``1..n-1`` (in sites; duplicates are merged).
    xp : namespace
        The array namespace of ``psi`` (:func:`pipeline.numerics.xp.namespace`).

    Returns
    -------
    dict
        ``m -> probs`` of shape ``(len(orders), 2^min(m, n-m))``, for every distinct size
        in ``sizes`` (keys ascending): real probabilities, ascending along the last axis,
        summing to 1; row ``i`` belongs to ``orders[i]``.

    Raises
    ------
    ValueError
        When a size is not in ``1..n-1``.

    Notes
    -----
    Sizes up to ``n/2`` share one reduced density matrix per ordering (the largest size),
    reduced by partial traces; larger sizes use the complement, which is the first
    ``n - m`` sites of the reversed ordering. Orderings are processed in blocks whose
    permuted states and matrices take about ``STACK_BYTES`` at most (one at a time when a
    single ordering is larger). An ordering listed twice is computed once.

    Examples
    --------
    Two Bell pairs on sites ``(0, 1)`` and ``(2, 3)``: the ordering ``(1, 2, 3, 0)`` cuts
    both pairs at ``m = 2``, the identity ordering none.

    >>> import array_api_compat.numpy as xp
    >>> bell = xp.asarray([1, 0, 0, 1], dtype=xp.complex128) / 2**0.5
    >>> psi = xp.reshape(bell[:, None] * bell[None, :], (16,))
    >>> probs = nested_schmidt_probs(psi, 4, [(0, 1, 2, 3), (1, 2, 3, 0)], [1, 2, 3], xp)
    >>> sorted(probs), probs[1].shape, probs[2].shape
    ([1, 2, 3], (2, 2), (2, 4))
    >>> xp.round(probs[2], 12).tolist()
    [[0.0, 0.0, 0.0, 1.0], [0.25, 0.25, 0.25, 0.25]]
    """
    sizes = sorted({int(m) for m in sizes})
    if any(not 1 <= m <= n - 1 for m in sizes):
        raise ValueError(f"subsystem sizes must be in 1..{n - 1}, got {sizes}")
    orders = [tuple(int(s) for s in order) for order in orders]
    distinct = list(dict.fromkeys(orders))
    if len(distinct) < len(orders):
        # a sample's window starts are drawn with replacement (10 of 22 repeat about two):
        # each distinct ordering is computed once and its rows copied
        once = nested_schmidt_probs(psi, n, distinct, sizes, xp)
        rows = xp.asarray([distinct.index(order) for order in orders])
        return {m: xp.take(probs, rows, axis=0) for m, probs in once.items()}
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


def product_schmidt_probs(left: Any, right: Any, xp: Any) -> Any:
    """Schmidt probabilities of ``psi = left @ right^T`` from ``K x K`` matrices.

    Parameters
    ----------
    left, right : arrays, shapes ``(2^m, K)`` and ``(2^(n-m), K)``
        The state (unnormalised) as a sum of ``K`` product states across ``A | B``.
    xp : array namespace

    Returns
    -------
    array, shape ``(K,)``
        Real probabilities, ascending, summing to 1; beyond the rank, zeros.

    Notes
    -----
    ``rho_A = M M^H = L G L^H`` with ``G = R^T conj(R)``. Writing ``G = B B^H`` (``B = V
    sqrt(g)`` from ``G``'s eigendecomposition), ``rho_A = (L B)(L B)^H`` has the nonzero
    spectrum of ``B^H (L^H L) B``: two ``K x K`` Hermitian eigenproblems instead of one of
    size ``2^min(m, n-m)``. The dense path (:func:`schmidt_probs`) is its test oracle.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> bell = xp.asarray([[1, 0], [0, 1]], dtype=xp.complex128)  # |00> + |11>
    >>> [round(float(p), 12) for p in product_schmidt_probs(bell, bell, xp)]
    [0.5, 0.5]
    """
    gram_right = xp.matmul(xp.matrix_transpose(right), xp.conj(right))
    gram_left = xp.matmul(xp.conj(xp.matrix_transpose(left)), left)
    return gram_schmidt_probs(gram_left, gram_right, xp)


def gram_schmidt_probs(gram_left: Any, gram_right: Any, xp: Any) -> Any:
    """Schmidt probabilities of ``psi = L R^T`` from its ``K x K`` Gram matrices alone,
    ``gram_left = L^H L`` and ``gram_right = R^T conj(R)`` (any scale: the result is
    normalised), without ever forming ``L``, ``R`` or ``psi``: the exact path for states
    given as ``K`` product states at any ``n`` (see :func:`product_schmidt_probs`).

    >>> import array_api_compat.numpy as xp
    >>> ghz = xp.eye(2, dtype=xp.complex128) * 2.0**40  # |0..0>|0..0> + |1..1>|1..1>
    >>> [round(float(p), 12) for p in gram_schmidt_probs(ghz, ghz, xp)]
    [0.5, 0.5]
    """
    values, vectors = xp.linalg.eigh(gram_right)
    root = vectors * xp.sqrt(xp.where(values > 0, values, xp.zeros_like(values)))[None, :]
    middle = xp.matmul(xp.conj(xp.matrix_transpose(root)), xp.matmul(gram_left, root))
    return clean_probs(xp.linalg.eigvalsh(middle), xp)
