"""Streaming Schmidt spectra: certified entropies without ever holding the state vector
(DESIGN section 6).

For a cut ``A | B`` (``A`` the smaller side, ``D_A = 2^|A|`` rows) the state is the matrix
``M[a, b] = psi(a, b)``. A *tile* is all ``D_A`` rows times a block of columns, evaluated on
the fly by a :class:`TileSource` and never stored. Tiles are grouped into a fixed number of
*chunks* (contiguous tile ranges, a function of the cut only); a *pass* is a map over the
chunks, each accumulated on its own, and one sum of the chunks' results in chunk order. So
the result is bit-identical whichever worker computes which chunk, and however many there
are (:func:`streaming_spectrum` takes a ``mapper``; :mod:`pipeline.run` gives a Dask one).

- ``D_A <= exact_dim``: the reduced density matrix ``sum_J T_J T_J^H / N^2`` is summed
  exactly in one pass; its eigenvalues are the spectrum.
- larger ``D_A``: the first pass applies ``rho`` to a Gaussian block ``Omega`` of ``D_A``
  rows and ``2 block`` columns and also sums the Gram matrix ``Omega^H rho Omega`` of the
  tiles' ``T^H Omega``: that alone certifies (:func:`one_pass_ritz`, the Nystrom
  approximation), and for the decaying spectra of networks it usually suffices (an
  MLP-NQS at n = 26-28, half cut: one pass, width 1-2e-9). Otherwise block Krylov (Lanczos
  with full reorthogonalisation) goes on from ``orth(rho Omega)``: pass ``k`` applies
  ``rho`` to the newest orthonormal block
  (``sum_J T_J (T_J^H Q_k)``, nothing of size ``D_B`` kept); the projections of that
  product give the compressed matrix ``K^H rho K`` on the whole basis ``K`` and hence its
  Ritz values, and its orthogonalised remainder is the next block. After every pass the
  certificate (:mod:`pipeline.numerics.certify`) is formed; the basis grows by one block
  until every requested measure's interval is narrower than ``tolerance`` or the rank
  reaches ``max_rank``.

Scale: log-amplitudes can exceed the floating-point range, so the first pass keeps a
running shift per chunk (its largest real log-amplitude, or log of its largest modulus),
rescaling the chunk's sums when it grows; chunks are combined in order at the running
largest shift, which later passes use as a fixed shift. Every pass also sums
``N^2 = sum |T|^2``, so each certificate is formed from sums of the same pass.
Memory: ``O(D_A * max_rank + tile)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from array_api_compat import array_namespace

from pipeline.numerics.certify import FP_ULPS, Certificate, fp_budget
from pipeline.numerics.entropy import clean_probs
from pipeline.numerics.xp import complex_of, namespace, to_numpy

TILE_CONFIGS = 1 << 18
"""Configurations per tile (``D_A`` rows times the tile's columns), at least
:data:`MIN_TILE_COLUMNS` columns: wide enough that the products with the basis run at
matrix-multiply speed, small enough to stay in cache-friendly memory."""
MIN_TILE_COLUMNS = 32
CHUNKS = 16
"""Chunks per pass (fewer when there are fewer tiles): the units of the reduction and of
distribution over workers. Fixed, so that worker count never changes a result."""


class StateError(ValueError):
    """The network's state cannot be normalised (zero or non-finite amplitudes).

    ``cause`` is ``"zero"`` (every amplitude is zero, or they underflow) or
    ``"nonfinite"`` (an amplitude or the norm is infinite or NaN)."""

    def __init__(self, message: str, cause: str = "nonfinite") -> None:
        super().__init__(message)
        self.cause = cause


class TileSource(Protocol):
    """The state's matrix across one cut, evaluated block by block of columns."""

    rows: int
    """``D_A``: configurations of the (smaller) side ``A``."""
    columns: int
    """``D_B``: configurations of the other side."""
    log_amplitude: bool
    """True when tiles hold ``log psi`` rather than ``psi``."""
    real: bool
    """True when tiles are real (float64: the state is real). The start block is then real
    too, and every pass runs in real arithmetic (a quarter of the complex multiply-adds)."""
    backend: str
    """Array backend of the tiles (``numpy``, ``cupy``, ``array_api_strict``)."""

    def __call__(self, start: int, stop: int) -> Any:
        """Raw values of columns ``start..stop-1``: shape ``(rows, stop - start)``, float64
        (:attr:`real`) or complex128, unnormalised amplitudes or log-amplitudes."""
        ...


@dataclass(frozen=True)
class StreamingOptions:
    """How hard the streaming method works for one state and cut."""

    tolerance: float = 1e-8
    """Target width, in nats, of every measure's certified interval."""
    max_rank: int = 1024
    """Largest basis; the interval reached there is reported however wide it is."""
    block: int = 128
    """Columns added to the basis per pass after the first (which uses ``2 block``).
    Network evaluation dominates a pass, so a wide block costs little and saves passes."""
    exact_dim: int = 256
    """Cuts with ``D_A`` up to this are summed exactly (one pass, no interval)."""
    seed: int = 0
    """Seed of the Gaussian start block."""
    chunks: int = CHUNKS
    """Chunks per pass (:data:`CHUNKS`)."""

    def __post_init__(self) -> None:
        if not self.tolerance > 0:
            raise ValueError(f"tolerance must be > 0, got {self.tolerance!r}")
        if self.block < 1 or self.max_rank < self.block:
            raise ValueError(
                f"need 1 <= block <= max_rank, got block {self.block}, max_rank {self.max_rank}"
            )
        if self.exact_dim < 1 or self.chunks < 1:
            raise ValueError("exact_dim and chunks must be positive")


@dataclass(frozen=True)
class StreamingSpectrum:
    """The outcome for one state and cut: an exact spectrum or a certificate."""

    certificate: Certificate
    """Lower bounds ``mu`` and missed weight ``tau`` (exact cuts: ``mu`` = the spectrum,
    ``tau = 0``)."""
    exact: bool
    """True when the reduced density matrix was summed exactly."""
    rank: int
    """Basis size of the last certificate (``D_A`` for exact cuts)."""
    passes: int
    """Passes over the state's tiles (each one full evaluation of the network)."""
    widths: tuple[float, ...] = field(default=())
    """Largest interval width over the measures after each certificate, in order."""

    @property
    def tail_weight(self) -> float:
        """``tau``: the weight the basis missed (0 for exact cuts)."""
        return self.certificate.tau

    def entropies(self, measures: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(value, lo, hi)`` of every measure, each of shape ``(len(measures),)``, nats."""
        if self.exact:
            value = self.certificate.estimate(measures)
            return value, value.copy(), value.copy()
        lo, hi = self.certificate.bounds(measures)
        value = np.clip(self.certificate.estimate(measures), lo, hi)
        return value, lo, hi


# --- one pass ---------------------------------------------------------------------------


def tile_ranges(rows: int, columns: int) -> list[tuple[int, int]]:
    """Column ranges of the tiles of a ``rows x columns`` matrix (a function of its shape)."""
    width = min(columns, max(MIN_TILE_COLUMNS, TILE_CONFIGS // max(rows, 1)))
    return [(start, min(start + width, columns)) for start in range(0, columns, width)]


def chunk_ranges(tiles: int, chunks: int) -> list[tuple[int, int]]:
    """Tile-index ranges of the chunks: ``min(chunks, tiles)`` contiguous, near-equal."""
    count = max(1, min(chunks, tiles))
    bounds = [round(i * tiles / count) for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(count)]


@dataclass(frozen=True)
class PassSpec:
    """What one pass accumulates: ``kind`` ``"gram"`` (``sum T T^H``) or ``"apply"``
    (``sum T (T^H Q)``)."""

    kind: str
    basis: Any = None
    gram: bool = False
    """Also sum ``Z^H Z`` for ``Z = T^H Q`` (``apply``): the one-pass certificate's Gram."""
    """``Q`` of shape ``(rows, width)`` (``apply``), in the source's namespace."""
    shift: float | None = None
    """Fixed log-scale of the amplitudes (``apply`` after the first pass); ``None``: found
    on the way, as in the other kinds."""


@dataclass
class Partial:
    """One chunk's sums: ``acc`` (the pass's matrix) and ``norm2 = sum |T|^2``, both at the
    log-scale ``shift`` (true values are ``acc * exp(power * shift)``)."""

    acc: Any
    norm2: float
    shift: float
    gram: Any = None
    """``sum Z^H Z`` at the same scale, where the pass asked for it."""


def _tile_shift(raw: Any, log_amplitude: bool, xp: Any) -> float:
    """The log-scale of a raw tile; checks finiteness."""
    if log_amplitude:
        real = xp.real(raw)
        if not bool(xp.all(xp.isfinite(real) | (real == -xp.inf))):
            raise StateError("log-amplitudes are not finite")
        return float(xp.max(real))
    if not bool(xp.all(xp.isfinite(raw))):
        raise StateError("amplitudes are not finite")
    largest = float(xp.max(xp.abs(raw)))
    return math.log(largest) if largest > 0 else -math.inf


def _amplitudes(raw: Any, shift: float, log_amplitude: bool, xp: Any) -> Any:
    if log_amplitude:
        return xp.exp(raw - xp.asarray(shift, dtype=raw.dtype))
    return raw * xp.asarray(math.exp(-shift), dtype=raw.dtype)


def _omega(seed: int, rows: int, width: int, xp: Any, real: bool) -> Any:
    """The Gaussian start block: ``(rows, width)`` standard complex normal from ``seed``, or
    for a real state its real part alone."""
    rng = np.random.default_rng(seed)
    block = rng.standard_normal((rows, width))
    if real:
        return xp.asarray(block, dtype=xp.float64)
    block = block + 1j * rng.standard_normal((rows, width))
    return xp.asarray(block, dtype=xp.complex128)


def _dtype(real: bool, xp: Any) -> Any:
    """The tiles' dtype: float64 for a real state, else complex128."""
    return xp.float64 if real else complex_of(xp, xp.float64)


def _adjoint(x: Any, xp: Any) -> Any:
    """The conjugate transpose of a matrix (the transpose of a real one)."""
    if xp.isdtype(x.dtype, "complex floating"):
        return xp.conj(xp.matrix_transpose(x))
    return xp.matrix_transpose(x)


def _scaled(partial: Partial, factor: float, xp: Any) -> Partial:
    """``partial`` with its sums (all quadratic in the amplitudes) times ``factor**2``."""
    if factor == 1.0:
        return partial
    square = factor * factor
    gram = (
        None
        if partial.gram is None
        else partial.gram * xp.asarray(square, dtype=partial.gram.dtype)
    )
    return Partial(
        partial.acc * xp.asarray(square, dtype=partial.acc.dtype),
        partial.norm2 * square,
        partial.shift,
        gram,
    )


def _added(total: Partial | None, part: Partial) -> Partial:
    """``total + part`` at ``total``'s shift, summed into ``total``'s arrays."""
    if total is None:
        return part
    total.acc += part.acc
    if part.gram is not None:
        total.gram += part.gram
    return Partial(total.acc, total.norm2 + part.norm2, total.shift, total.gram)


ROW_BLOCK = 4096
"""Rows per product when a tile's terms are added to a chunk's sums (bounds the
temporary to ``ROW_BLOCK x width``, not ``D_A x width``)."""


def _accumulate(acc: Any, left: Any, right: Any, xp: Any) -> Any:
    """``acc + left @ right`` into ``acc`` (``left @ right`` when ``acc`` is None)."""
    if acc is None:
        return xp.matmul(left, right)
    for r0, r1 in _row_blocks(left.shape[0]):
        acc[r0:r1, ...] += xp.matmul(left[r0:r1, ...], right)
    return acc


def _row_blocks(rows: int) -> list[tuple[int, int]]:
    return [(r0, min(r0 + ROW_BLOCK, rows)) for r0 in range(0, rows, ROW_BLOCK)]


def chunk_pass(source: TileSource, spec: PassSpec, tiles: Sequence[tuple[int, int]]) -> Partial:
    """Accumulate one chunk: ``tiles`` are ``(start, stop)`` column ranges."""
    xp = namespace(source.backend)
    total: Partial | None = None
    fixed = spec.shift is not None
    shift: float = -math.inf if spec.shift is None else spec.shift
    for start, stop in tiles:
        raw = source(start, stop)
        if not fixed:
            local = _tile_shift(raw, source.log_amplitude, xp)
            if local == -math.inf:
                continue  # every amplitude of the tile is zero
            if local > shift:
                if total is not None:
                    total = _scaled(total, math.exp(shift - local), xp)
                shift = local
        tile = _amplitudes(raw, shift, source.log_amplitude, xp)
        norm2 = float(xp.real(xp.vecdot(xp.reshape(tile, (-1,)), xp.reshape(tile, (-1,)))))
        acc, gram = (None, None) if total is None else (total.acc, total.gram)
        if spec.kind == "gram":
            acc = _accumulate(acc, tile, _adjoint(tile, xp), xp)
        else:
            z = xp.matmul(_adjoint(tile, xp), spec.basis)
            acc = _accumulate(acc, tile, z, xp)
            if spec.gram:
                term = xp.matmul(_adjoint(z, xp), z)
                gram = term if gram is None else gram + term
        total = Partial(acc, norm2 + (0.0 if total is None else total.norm2), shift, gram)
    if total is None:  # a chunk of zeros
        width = source.rows if spec.kind == "gram" else spec.basis.shape[1]
        dtype = _dtype(source.real, xp)
        gram = xp.zeros((width, width), dtype=dtype) if spec.gram else None
        return Partial(xp.zeros((source.rows, width), dtype=dtype), 0.0, shift, gram)
    return total


def combine(partials: Iterable[Partial], xp: Any) -> Partial:
    """Sum chunks in order (each consumed as it comes), at the running largest shift."""
    total: Partial | None = None
    for part in partials:
        if part.shift == -math.inf:
            continue
        if total is None:
            total = part
        elif part.shift > total.shift:
            total = _added(_scaled(total, math.exp(total.shift - part.shift), xp), part)
            total = Partial(total.acc, total.norm2, part.shift, total.gram)
        else:
            total = _added(total, _scaled(part, math.exp(part.shift - total.shift), xp))
        del part  # summed: one chunk's sums in memory at a time
    if total is None:
        raise StateError("every amplitude is zero", "zero")
    if not math.isfinite(total.norm2):
        raise StateError("the norm is not finite")
    if not total.norm2 > 0:
        raise StateError("the norm underflows to zero", "zero")
    return total


Mapper = Callable[[Callable[..., Partial], list[tuple[Any, ...]]], Iterable[Partial]]
"""``mapper(function, argument_tuples) -> results in order``: runs a pass's chunks. The
results are consumed one at a time, so a lazy iterator keeps one chunk's sums in memory."""


def serial_map(
    function: Callable[..., Partial], arguments: list[tuple[Any, ...]]
) -> Iterator[Partial]:
    """Run the chunks one after another in this process, as they are consumed."""
    return (function(*args) for args in arguments)


def run_pass(
    source: TileSource, spec: PassSpec, options: StreamingOptions, mapper: Mapper, xp: Any
) -> Partial:
    """One pass over every tile of ``source``: the chunks through ``mapper``, then their sum."""
    ranges = tile_ranges(source.rows, source.columns)
    chunks = chunk_ranges(len(ranges), options.chunks)
    arguments = [(source, spec, ranges[a:b]) for a, b in chunks]
    return combine(mapper(chunk_pass, arguments), xp)


# --- the method ---------------------------------------------------------------------------


def _orthonormal(block: Any, basis: Any, xp: Any) -> Any:
    """Orthonormal columns spanning ``block`` minus its projection on ``basis``.

    Each round normalises, then projects out ``basis``; where the block lies almost inside
    the basis (an exhausted Krylov space) the first remainder is rounding noise, which the
    next rounds make orthogonal too, so the basis stays orthonormal to working precision
    (which the certificate's interlacing needs). Where a remainder is exactly zero (a
    state of few exact Schmidt values, GHZ say) QR returns unit vectors that may lie in the
    basis, and no projection frees them: such columns are replaced by seeded Gaussian
    ones (the certificate holds for any orthonormal basis, Krylov or not)."""
    q, _ = xp.linalg.qr(block)
    if basis is None:
        return q
    for attempt in range(DEFLATION_TRIES):
        for _ in range(3):
            q = q - xp.matmul(basis, xp.matmul(_adjoint(basis, xp), q))
            q, _ = xp.linalg.qr(q)
        overlap = to_numpy(xp.linalg.vector_norm(xp.matmul(_adjoint(basis, xp), q), axis=0))
        stuck = np.flatnonzero(overlap > DEFLATION_OVERLAP)
        if stuck.size == 0:
            return q
        free = np.flatnonzero(overlap <= DEFLATION_OVERLAP)
        real = not xp.isdtype(q.dtype, "complex floating")
        fresh = _omega(attempt + 1, q.shape[0], int(stuck.size), xp, real)
        q = xp.concat([xp.take(q, xp.asarray(free, dtype=xp.int64), axis=1), fresh], axis=1)
    raise RuntimeError("could not extend the streaming basis orthonormally")


DEFLATION_OVERLAP = 1e-8
"""A new column whose projection on the basis is above this is not orthogonal to it."""
DEFLATION_TRIES = 4
"""Rounds of replacing such columns by Gaussian ones (one round has always sufficed)."""


ONE_PASS_KEEP = 1e-12
"""Directions of ``Omega^H rho Omega`` below this fraction of its largest eigenvalue are left
out of the one-pass certificate: their rounding error would outweigh their weight."""


def one_pass_ritz(product: Any, gram: Any, norm2: float, xp: Any) -> tuple[np.ndarray, float]:
    """Ritz values of ``rho`` from one pass, and their floating-point budget.

    With ``Z = M^H Omega / N`` (never stored) the pass gives ``Y = rho Omega = M Z / N`` and
    ``G = Z^H Z = Omega^H rho Omega`` (``product`` and ``gram`` are the pass's sums, ``N^2``
    times these). On ``span(Z)`` the orthonormal basis ``Z V g^{-1/2}``
    (``G = V g V^H``) compresses ``rho_B = M^H M / N^2``, whose nonzero spectrum is that of
    ``rho``, to ``g^{-1/2} V^H Y^H Y V g^{-1/2}``: its eigenvalues interlace the Schmidt
    probabilities exactly as a Krylov basis's Ritz values do (this is the Nystrom
    approximation ``Y G^+ Y^H <= rho``), and they come from the same pass that gave ``Y``.
    A direction's rounding error is its weight times ``eps`` times ``g_max / g_i`` (the
    basis's departure from orthonormality); the budget is ``FP_ULPS`` times their sum, and
    directions with ``g_i < ONE_PASS_KEEP * g_max`` are left out.
    """
    g, v = np.linalg.eigh(to_numpy(gram) / norm2)
    if not g[-1] > 0:
        return np.zeros(0), 0.0
    keep = g >= ONE_PASS_KEEP * g[-1]
    # (Y V)^H (Y V), not V^H (Y^H Y) V: the tail directions' weights keep their accuracy;
    # in row blocks, so no second D_A x width matrix
    kept = xp.asarray(v[:, keep], dtype=product.dtype)
    w = np.zeros((kept.shape[1], kept.shape[1]), dtype=np.complex128)
    for r0, r1 in _row_blocks(product.shape[0]):
        yv = xp.matmul(product[r0:r1, ...], kept)
        w += to_numpy(xp.matmul(_adjoint(yv, xp), yv))
    w /= norm2**2
    scale = 1.0 / np.sqrt(g[keep])
    h = w * scale[:, None] * scale[None, :]
    ritz = np.clip(np.linalg.eigvalsh((h + h.conj().T) / 2), 0.0, None)[::-1]
    eps = float(np.finfo(np.float64).eps)
    budget = FP_ULPS * eps * float(np.sum(np.real(np.diag(h)) * g[-1] / g[keep]))
    return ritz, budget


def exact_density(
    source: TileSource, options: StreamingOptions | None = None, mapper: Mapper = serial_map
) -> Any:
    """The reduced density matrix of the rows, ``sum_J T_J T_J^H / N^2``, in one pass:
    ``(D_A, D_A)`` Hermitian, unit trace, in the source's namespace."""
    xp = namespace(source.backend)
    total = run_pass(source, PassSpec("gram"), options or StreamingOptions(), mapper, xp)
    rho = total.acc / xp.asarray(total.norm2, dtype=total.acc.dtype)
    return (rho + _adjoint(rho, xp)) / 2


def exact_spectrum(rho: Any, xp: Any) -> StreamingSpectrum:
    """The exact outcome of a summed reduced density matrix (one pass, no interval)."""
    probs = to_numpy(clean_probs(xp.linalg.eigvalsh(rho), xp))
    return StreamingSpectrum(
        Certificate.of(probs, 0.0, rho.shape[-1]), True, rho.shape[-1], 1, (0.0,)
    )


def streaming_spectrum(
    source: TileSource,
    measures: Sequence[str],
    options: StreamingOptions | None = None,
    mapper: Mapper = serial_map,
) -> StreamingSpectrum:
    """The Schmidt spectrum across one cut, exact or certified, from tiles of the state.

    Parameters
    ----------
    source : TileSource
        The state's matrix across the cut, ``rows <= columns`` (``A`` the smaller side).
    measures : sequence of str
        Measures whose intervals must be narrower than ``options.tolerance``.
    options : StreamingOptions, optional
        Tolerance, rank limit, block size, exact threshold, seed, chunks.
    mapper : callable, optional
        Runs a pass's chunks (default: one after another here).

    Returns
    -------
    StreamingSpectrum
        ``entropies(measures)`` gives value, lower and upper bound; ``rank``, ``passes``
        and ``tail_weight`` say what it took.

    Raises
    ------
    StateError
        For a zero or non-finite state.

    Notes
    -----
    BLAS runs single-threaded here and in every chunk, so the result is bit-identical
    whichever mapper runs the chunks (parallelism comes from the chunks).

    Examples
    --------
    A GHZ state on 4 sites across the half cut, from tiles of its matrix:

    >>> import numpy as np
    >>> from pipeline.numerics.streaming import ArraySource
    >>> psi = np.zeros(16, complex); psi[0] = psi[15] = 1
    >>> result = streaming_spectrum(ArraySource(psi.reshape(4, 4)), ["vn"])
    >>> result.exact, bool(abs(result.entropies(["vn"])[0][0] - np.log(2)) < 1e-12)
    (True, True)
    """
    from threadpoolctl import threadpool_limits

    # single-threaded BLAS here as in every chunk: the same bits wherever chunks run
    with threadpool_limits(limits=1, user_api="blas"):
        return _streaming_spectrum(source, measures, options or StreamingOptions(), mapper)


def _certify(
    ritz: np.ndarray, budget: float, rank: int, n_tiles: int, rows: int, measures: Sequence[str]
) -> tuple[Certificate, float]:
    """The certificate of Ritz values (the missed weight with the floating-point budgets
    added) and its worst width over ``measures``."""
    tau = 1.0 - float(np.sum(ritz)) + fp_budget(rank, n_tiles) + budget
    # a backward-stable eigensolver's values carry an absolute error of a few eps * ||C||
    error = FP_ULPS * float(np.finfo(np.float64).eps) * float(np.max(ritz, initial=0.0))
    certificate = Certificate.of(ritz, tau, rows, error)
    lo, hi = certificate.bounds(measures)
    return certificate, float(np.max(hi - lo))


def _streaming_spectrum(
    source: TileSource, measures: Sequence[str], options: StreamingOptions, mapper: Mapper
) -> StreamingSpectrum:
    xp = namespace(source.backend)
    rows = source.rows
    if rows > source.columns:
        raise ValueError(f"the tiles' rows ({rows}) must be the smaller side ({source.columns})")
    n_tiles = len(tile_ranges(rows, source.columns))
    if rows <= options.exact_dim:
        return exact_spectrum(exact_density(source, options, mapper), xp)

    block = min(options.block, rows)
    max_rank = min(options.max_rank, rows)
    # the first pass applies rho to a Gaussian block Omega and certifies from it alone
    width = min(2 * block, max_rank)
    start = _orthonormal(_omega(options.seed, rows, width, xp, source.real), None, xp)
    first = run_pass(source, PassSpec("apply", basis=start, gram=True), options, mapper, xp)
    del start
    shift, passes = first.shift, 1
    ritz, budget = one_pass_ritz(first.acc, first.gram, first.norm2, xp)
    certificate, worst = _certify(ritz, budget, width, n_tiles, rows, measures)
    widths = [worst]
    if worst <= options.tolerance or width >= max_rank:
        return StreamingSpectrum(certificate, False, width, passes, tuple(widths))
    # then block Krylov from Q = orth(rho Omega)
    basis = _orthonormal(first.acc, None, xp)
    newest = basis
    compressed = np.zeros((0, 0), dtype=np.complex128)
    while True:
        applied = run_pass(
            source, PassSpec("apply", basis=newest, shift=shift), options, mapper, xp
        )
        passes += 1
        scale = xp.asarray(applied.norm2, dtype=applied.acc.dtype)
        product = applied.acc / scale  # rho @ newest
        column = to_numpy(xp.matmul(_adjoint(basis, xp), product))
        size, width = column.shape
        grown = np.zeros((size, size), dtype=np.complex128)
        old = size - width
        grown[:old, :old] = compressed
        grown[:, old:] = column
        grown[old:, :old] = column[:old].conj().T
        grown[old:, old:] = (column[old:] + column[old:].conj().T) / 2
        compressed = grown
        certificate, worst = _certify(
            np.linalg.eigvalsh(compressed), 0.0, size, n_tiles, rows, measures
        )
        widths.append(worst)
        if worst <= options.tolerance or size >= max_rank:
            return StreamingSpectrum(certificate, False, size, passes, tuple(widths))
        step = min(block, max_rank - size)
        newest = _orthonormal(product[:, :step] if step < width else product, basis, xp)
        basis = xp.concat([basis, newest], axis=1)


@dataclass(frozen=True)
class ArraySource:
    """Tiles of a matrix held in memory (tests, and the dense path as an oracle)."""

    matrix: Any
    log_amplitude: bool = False
    backend: str = "numpy"

    @property
    def real(self) -> bool:
        """A real matrix gives real tiles."""
        matrix = self.matrix
        return not array_namespace(matrix).isdtype(matrix.dtype, "complex floating")

    @property
    def rows(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def columns(self) -> int:
        return int(self.matrix.shape[1])

    def __call__(self, start: int, stop: int) -> Any:
        xp = namespace(self.backend)
        return xp.asarray(self.matrix[:, start:stop], dtype=_dtype(self.real, xp))
