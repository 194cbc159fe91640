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
- larger ``D_A``: block Krylov (Lanczos with full reorthogonalisation) from a Gaussian
  sketch ``Y = M Omega``. Pass ``k`` applies ``rho`` to the newest orthonormal block
  (``sum_J T_J (T_J^H Q_k)``, nothing of size ``D_B`` kept); the projections of that
  product give the compressed matrix ``K^H rho K`` on the whole basis ``K`` and hence its
  Ritz values, and its orthogonalised remainder is the next block. After every pass the
  certificate (:mod:`pipeline.numerics.certify`) is formed; the basis grows by one block
  until every requested measure's interval is narrower than ``tolerance`` or the rank
  reaches ``max_rank``.

Scale: log-amplitudes can exceed the floating-point range, so the first pass keeps a
running shift per chunk (its largest real log-amplitude, or log of its largest modulus),
rescaling the chunk's sums when it grows; chunks are combined at the largest shift, which
later passes use as a fixed shift. Every pass also sums ``N^2 = sum |T|^2``, so each
certificate is formed from sums of the same pass. Memory: ``O(D_A * max_rank + tile)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from pipeline.numerics.certify import Certificate, fp_budget
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
    backend: str
    """Array backend of the tiles (``numpy``, ``cupy``, ``array_api_strict``)."""

    def __call__(self, start: int, stop: int) -> Any:
        """Raw values of columns ``start..stop-1``: shape ``(rows, stop - start)``, complex,
        unnormalised amplitudes or log-amplitudes."""
        ...


@dataclass(frozen=True)
class StreamingOptions:
    """How hard the streaming method works for one state and cut."""

    tolerance: float = 1e-8
    """Target width, in nats, of every measure's certified interval."""
    max_rank: int = 1024
    """Largest basis; the interval reached there is reported however wide it is."""
    block: int = 64
    """Columns added to the basis per pass (the sketch's width)."""
    exact_dim: int = 256
    """Cuts with ``D_A`` up to this are summed exactly (one pass, no interval)."""
    seed: int = 0
    """Seed of the Gaussian sketch (drawn per tile, so tiles run in any order)."""
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
    """What one pass accumulates: ``kind`` ``"gram"`` (``sum T T^H``), ``"sketch"``
    (``sum T Omega_J``) or ``"apply"`` (``sum T (T^H Q)``, at the fixed ``shift``)."""

    kind: str
    width: int = 0
    """Sketch columns (``sketch``)."""
    seed: int = 0
    basis: Any = None
    """``Q`` of shape ``(rows, width)`` (``apply``), in the source's namespace."""
    shift: float = 0.0
    """Fixed log-scale of the amplitudes (``apply``)."""


@dataclass
class Partial:
    """One chunk's sums: ``acc`` (the pass's matrix) and ``norm2 = sum |T|^2``, both at the
    log-scale ``shift`` (true values are ``acc * exp(power * shift)``)."""

    acc: Any
    norm2: float
    shift: float


def _power(kind: str) -> int:
    return 1 if kind == "sketch" else 2


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


def _omega(seed: int, tile: int, rows: int, width: int, xp: Any, dtype: Any) -> Any:
    """The sketch's Gaussian block for one tile: ``(rows, width)`` standard complex normal,
    keyed by ``(seed, tile)`` so that it does not depend on who computes it, or when."""
    rng = np.random.default_rng([seed, tile])
    block = rng.standard_normal((rows, width)) + 1j * rng.standard_normal((rows, width))
    return xp.asarray(block, dtype=dtype)


def chunk_pass(
    source: TileSource, spec: PassSpec, tiles: Sequence[tuple[int, int, int]]
) -> Partial:
    """Accumulate one chunk: ``tiles`` are ``(tile index, start, stop)`` column ranges."""
    xp = namespace(source.backend)
    rows = source.rows
    acc: Any = None
    norm2 = 0.0
    shift = spec.shift if spec.kind == "apply" else -math.inf
    power = _power(spec.kind)
    for index, start, stop in tiles:
        raw = source(start, stop)
        if spec.kind != "apply":
            local = _tile_shift(raw, source.log_amplitude, xp)
            if local == -math.inf:
                continue  # every amplitude of the tile is zero
            if local > shift:
                if acc is not None:
                    factor = math.exp(shift - local)
                    acc = acc * xp.asarray(factor**power, dtype=acc.dtype)
                    norm2 *= factor * factor
                shift = local
        tile = _amplitudes(raw, shift, source.log_amplitude, xp)
        norm2 += float(xp.real(xp.vecdot(xp.reshape(tile, (-1,)), xp.reshape(tile, (-1,)))))
        if spec.kind == "gram":
            term = xp.matmul(tile, xp.conj(xp.matrix_transpose(tile)))
        elif spec.kind == "sketch":
            term = xp.matmul(
                tile, _omega(spec.seed, index, stop - start, spec.width, xp, tile.dtype)
            )
        else:
            term = xp.matmul(tile, xp.matmul(xp.conj(xp.matrix_transpose(tile)), spec.basis))
        acc = term if acc is None else acc + term
    if acc is None:  # a chunk of zeros
        width = rows if spec.kind == "gram" else (spec.width or spec.basis.shape[1])
        acc = xp.zeros((rows, width), dtype=complex_of(xp, xp.float64))
    return Partial(acc=acc, norm2=norm2, shift=shift)


def combine(partials: Sequence[Partial], kind: str, xp: Any) -> Partial:
    """Sum chunks in order at their largest shift."""
    power = _power(kind)
    shift = max(p.shift for p in partials)
    if shift == -math.inf:
        raise StateError("every amplitude is zero", "zero")
    acc: Any = None
    norm2 = 0.0
    for part in partials:
        if part.shift == -math.inf:
            continue
        factor = math.exp(part.shift - shift)
        scaled = (
            part.acc
            if factor == 1.0
            else part.acc * xp.asarray(factor**power, dtype=part.acc.dtype)
        )
        acc = scaled if acc is None else acc + scaled
        norm2 += part.norm2 * factor * factor
    if not math.isfinite(norm2):
        raise StateError("the norm is not finite")
    if not norm2 > 0:
        raise StateError("the norm underflows to zero", "zero")
    return Partial(acc=acc, norm2=norm2, shift=shift)


Mapper = Callable[[Callable[..., Partial], list[tuple[Any, ...]]], list[Partial]]
"""``mapper(function, argument_tuples) -> results in order``: runs a pass's chunks."""


def serial_map(function: Callable[..., Partial], arguments: list[tuple[Any, ...]]) -> list[Partial]:
    """Run the chunks one after another in this process."""
    return [function(*args) for args in arguments]


def run_pass(
    source: TileSource, spec: PassSpec, options: StreamingOptions, mapper: Mapper, xp: Any
) -> Partial:
    """One pass over every tile of ``source``: the chunks through ``mapper``, then their sum."""
    ranges = tile_ranges(source.rows, source.columns)
    tiles = [(i, start, stop) for i, (start, stop) in enumerate(ranges)]
    chunks = chunk_ranges(len(tiles), options.chunks)
    arguments = [(source, spec, tiles[a:b]) for a, b in chunks]
    return combine(mapper(chunk_pass, arguments), spec.kind, xp)


# --- the method ---------------------------------------------------------------------------


def _orthonormal(block: Any, basis: Any, xp: Any) -> Any:
    """Orthonormal columns spanning ``block`` minus its projection on ``basis``.

    Each round normalises, then projects out ``basis``; where the block lies almost inside
    the basis (an exhausted Krylov space) the first remainder is rounding noise, which the
    next rounds make orthogonal too, so the basis stays orthonormal to working precision
    (which the certificate's interlacing needs)."""
    q, _ = xp.linalg.qr(block)
    if basis is None:
        return q
    for _ in range(3):
        q = q - xp.matmul(basis, xp.matmul(xp.conj(xp.matrix_transpose(basis)), q))
        q, _ = xp.linalg.qr(q)
    return q


def exact_density(
    source: TileSource, options: StreamingOptions | None = None, mapper: Mapper = serial_map
) -> Any:
    """The reduced density matrix of the rows, ``sum_J T_J T_J^H / N^2``, in one pass:
    ``(D_A, D_A)`` Hermitian, unit trace, in the source's namespace."""
    xp = namespace(source.backend)
    total = run_pass(source, PassSpec("gram"), options or StreamingOptions(), mapper, xp)
    rho = total.acc / xp.asarray(total.norm2, dtype=total.acc.dtype)
    return (rho + xp.conj(xp.matrix_transpose(rho))) / 2


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
    first = run_pass(
        source, PassSpec("sketch", width=block, seed=options.seed), options, mapper, xp
    )
    shift, passes = first.shift, 1
    basis = _orthonormal(first.acc, None, xp)
    newest = basis
    compressed = np.zeros((0, 0), dtype=np.complex128)
    widths: list[float] = []
    while True:
        applied = run_pass(
            source, PassSpec("apply", basis=newest, shift=shift), options, mapper, xp
        )
        passes += 1
        scale = xp.asarray(applied.norm2, dtype=applied.acc.dtype)
        product = applied.acc / scale  # rho @ newest
        column = to_numpy(xp.matmul(xp.conj(xp.matrix_transpose(basis)), product))
        size, width = column.shape
        grown = np.zeros((size, size), dtype=np.complex128)
        old = size - width
        grown[:old, :old] = compressed
        grown[:, old:] = column
        grown[old:, :old] = column[:old].conj().T
        grown[old:, old:] = (column[old:] + column[old:].conj().T) / 2
        compressed = grown
        ritz = np.linalg.eigvalsh(compressed)
        tau = 1.0 - float(np.sum(ritz)) + fp_budget(size, n_tiles)
        certificate = Certificate.of(ritz, tau, rows)
        lo, hi = certificate.bounds(measures)
        widths.append(float(np.max(hi - lo)))
        if widths[-1] <= options.tolerance or size >= max_rank:
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
    def rows(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def columns(self) -> int:
        return int(self.matrix.shape[1])

    def __call__(self, start: int, stop: int) -> Any:
        xp = namespace(self.backend)
        return xp.asarray(self.matrix[:, start:stop], dtype=xp.complex128)
