"""Full-space evaluation: the normalised ``2^n`` amplitude vector of a network.

Basis order: index ``x in [0, 2^n)``, site 0 the most significant bit, ``s_i = 2 b_i - 1``.
So ``psi.reshape((2,) * n)`` has axis ``i`` = site ``i``.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.architectures.base import Architecture, Params
from pipeline.architectures.layers import add_rows, to_namespace
from pipeline.numerics.streaming import StateError
from pipeline.numerics.xp import is_numpy, real_dtype

__all__ = ["StateError", "basis_spins", "full_state"]

DEFAULT_BATCH = 1 << 16


def basis_spins(start: int, stop: int, n: int, xp: Any, dtype: Any) -> Any:
    """Spins of basis states ``start..stop-1``: shape ``(stop - start, n)``, entries +-1.

    >>> import array_api_compat.numpy as xp
    >>> basis_spins(0, 4, 2, xp, xp.float64).tolist()
    [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]
    """
    index = xp.arange(start, stop, dtype=xp.int64)
    shifts = xp.arange(n - 1, -1, -1, dtype=xp.int64)
    bits = xp.bitwise_and(
        xp.bitwise_right_shift(index[:, None], shifts[None, :]), xp.asarray(1, dtype=xp.int64)
    )
    return xp.astype(2 * bits - 1, dtype)


def full_state(
    architecture: Architecture,
    params: Params,
    n: int,
    hyper: Any,
    xp: Any,
    dtype: Any = None,
    batch_size: int | None = None,
) -> Any:
    """Evaluate ``psi`` on all ``2^n`` configurations and normalise it.

    Basis index ``x`` in ``[0, 2^n)`` is the configuration with site 0 the most
    significant bit and spins ``s_i = 2 b_i - 1`` (:func:`basis_spins`), so
    ``psi.reshape((2,) * n)`` has axis ``i`` = site ``i``.

    Configurations are evaluated in batches of ``batch_size`` (default: the
    architecture's ``host_batch`` under NumPy, else ``DEFAULT_BATCH``); the batch size
    does not change the result. For log-amplitude
    architectures the maximum real part is subtracted before exponentiating, so states
    whose log-amplitudes exceed the floating-point range still normalise. Amplitude
    architectures are scaled by their largest modulus before the norm is taken. The
    values are written into the result and shifted, exponentiated and normalised in
    place, so the peak is one state vector plus a batch's intermediates.

    Parameters
    ----------
    architecture : Architecture
        The network (:func:`pipeline.architectures.get_architecture`).
    params : dict of str to numpy.ndarray
        Its parameters on the host, from ``architecture.init(rng, n, hyper)``.
    n : int
        Number of sites (spins).
    hyper : dataclass
        The architecture's hyperparameters (``architecture.hyper(...)``).
    xp : namespace
        The array namespace to compute in (:func:`pipeline.numerics.xp.namespace`).
    dtype : dtype, optional
        Complex dtype of the result, ``xp.complex128`` (default) or ``xp.complex64``;
        spins are evaluated in the matching real dtype.
    batch_size : int, optional
        Configurations per ``evaluate`` call.

    Returns
    -------
    array, shape ``(2^n,)``
        A complex vector with unit 2-norm, in ``dtype`` (``xp.complex128`` by default),
        in the namespace ``xp``.

    Raises
    ------
    StateError
        For a zero or non-finite state (``cause`` ``"zero"`` or ``"nonfinite"``).

    Examples
    --------
    >>> import numpy as np
    >>> import array_api_compat.numpy as xp
    >>> from pipeline.architectures import get_architecture
    >>> ghz = get_architecture("ghz")
    >>> hyper = ghz.hyper()
    >>> psi = full_state(ghz, ghz.init(np.random.default_rng(0), 3, hyper), 3, hyper, xp)
    >>> psi.shape, psi.dtype
    ((8,), dtype('complex128'))
    >>> xp.round(xp.abs(psi) ** 2, 12).tolist()
    [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]
    >>> rbm = get_architecture("rbm")
    >>> hyper = rbm.hyper()
    >>> params = rbm.init(np.random.default_rng(1), 6, hyper)
    >>> psi = full_state(rbm, params, 6, hyper, xp, batch_size=16)
    >>> psi.shape, round(float(xp.linalg.vector_norm(psi)), 12)
    ((64,), 1.0)
    """
    dtype = xp.complex128 if dtype is None else dtype
    if batch_size is None:
        batch_size = (architecture.batch_for(hyper) if is_numpy(xp) else None) or DEFAULT_BATCH
    log = architecture.is_log_amplitude(hyper)
    rdtype = real_dtype(xp, dtype)
    scan = _Scan(xp, log, rdtype)
    fast = None
    if architecture.full_values is not None:
        fast = architecture.full_values(params, n, hyper, xp, rdtype)
    if fast is None and architecture.first_layers is not None:
        values = _split_values(architecture, params, n, hyper, xp, dtype, batch_size, scan)
    elif fast is None:
        values = _batched_values(architecture, params, n, hyper, xp, dtype, batch_size, scan)
    else:
        values = xp.astype(fast, dtype, copy=False)
        for start in range(0, values.shape[0], DEFAULT_BATCH):
            scan(values[start : min(start + DEFAULT_BATCH, values.shape[0])])
    name = architecture.name
    if not bool(scan.finite):
        what = "log-amplitudes" if log else "amplitudes"
        raise StateError(f"{name}: {what} are not finite (n = {n})")
    # Shift (log-amplitudes: exp(v - max re v)) or scale (amplitudes: v / max |v|) chunk
    # by chunk, each chunk's part of the norm taken while it is in cache.
    peak = scan.peak
    if not bool(xp.isfinite(peak) if log else peak > 0):
        raise StateError(f"{name}: every amplitude is zero (n = {n})", "zero")
    # a real log-amplitude (SN in mode real, a real RBM) takes the real exponential
    # instead of the complex one (8x slower in NumPy)
    real_only = log and not bool(scan.complex)
    # amplitudes: times the real 1 / max |v| (a complex division by a complex scalar is
    # 6x slower in NumPy; the last bit may differ from v / max |v|)
    shift, scale = xp.astype(peak, dtype), 1.0 / peak
    norm2 = xp.zeros((), dtype=rdtype)
    for start in range(0, values.shape[0], DEFAULT_BATCH):
        stop = min(start + DEFAULT_BATCH, values.shape[0])
        chunk = values[start:stop]
        if real_only:
            modulus = xp.exp(xp.real(chunk) - peak)
            norm2 = norm2 + xp.vecdot(modulus, modulus)
            values[start:stop] = xp.astype(modulus, dtype)
            continue
        chunk = xp.exp(chunk - shift) if log else chunk * scale
        norm2 = norm2 + xp.real(xp.vecdot(chunk, chunk))
        values[start:stop] = chunk
    copies = 1 if scan.kept is None else 1 << (n - len(scan.kept))  # per value
    norm = xp.sqrt(norm2 * copies)
    if not bool(xp.isfinite(norm)):
        raise StateError(f"{name}: the norm is not finite (n = {n})")
    if not bool(norm > 0):
        raise StateError(f"{name}: the norm underflows to zero (n = {n})", "zero")
    values *= 1.0 / norm  # a real factor, as above
    return scan.expand(values, n)


class _Scan:
    """What :func:`full_state` needs of the values before it normalises them, gathered
    chunk by chunk as they are written (while each chunk is in cache), as 0-d arrays so
    that a GPU synchronises once: whether all are finite (``-inf`` allowed for a
    log-amplitude: a zero amplitude), the largest real part (log) or modulus, whether any
    log-amplitude has an imaginary part; and the ignored sites that
    :func:`_batched_values` leaves to :meth:`expand`."""

    def __init__(self, xp: Any, log: bool, dtype: Any) -> None:
        self.xp, self.log = xp, log
        self.finite: Any = xp.asarray(True)
        self.peak: Any = xp.asarray(-math.inf if log else 0.0, dtype=dtype)
        self.complex: Any = xp.asarray(False)
        self.kept: list[int] | None = None  # the sites the values run over, if not all

    def __call__(self, chunk: Any) -> None:
        xp = self.xp
        if self.log:
            real = xp.real(chunk)
            self.finite = self.finite & xp.all(xp.isfinite(real) | (real == -xp.inf))
            self.peak = xp.maximum(self.peak, xp.max(real))
            self.complex = self.complex | xp.any(xp.imag(chunk) != 0)
        else:
            self.finite = self.finite & xp.all(xp.isfinite(chunk))
            self.peak = xp.maximum(self.peak, xp.max(xp.abs(chunk)))

    def expand(self, values: Any, n: int) -> Any:
        """The values over the kept sites copied along the ignored ones: ``(2^n,)``."""
        return values if self.kept is None else _expand(values, self.kept, n, self.xp)


def _batched_values(
    architecture: Architecture,
    params: Params,
    n: int,
    hyper: Any,
    xp: Any,
    dtype: Any,
    batch_size: int,
    scan: _Scan | None = None,
) -> Any:
    """``evaluate`` batch by batch over the configurations of the sites the network reads,
    copied along the ones it ignores (:attr:`Architecture.ignored_sites`); with ``scan``,
    which sees each batch, the copying is left to ``scan.expand``."""
    rdtype = real_dtype(xp, dtype)
    ignored = sorted(architecture.ignored_sites(n, hyper)) if architecture.ignored_sites else []
    kept = [site for site in range(n) if site not in ignored]
    dim = 1 << len(kept)
    values = xp.empty((dim,), dtype=dtype)  # filled in place: no list of chunks to join
    for start in range(0, dim, batch_size):
        stop = min(start + batch_size, dim)
        spins = basis_spins(start, stop, len(kept), xp, rdtype)
        if ignored:  # the ignored sites' spins, never read, are -1
            low = xp.full((spins.shape[0],), -1.0, dtype=rdtype)
            column = {site: i for i, site in enumerate(kept)}
            spins = xp.stack(
                [spins[:, column[site]] if site in column else low for site in range(n)],
                axis=1,
            )
        chunk = xp.astype(architecture.evaluate(params, spins, hyper, xp), dtype, copy=False)
        if scan is not None:
            scan(chunk)
        values[start:stop] = chunk
    if not ignored:
        return values
    if scan is None:
        return _expand(values, kept, n, xp)
    scan.kept = kept
    return values


def _expand(values: Any, kept: list[int], n: int, xp: Any) -> Any:
    """Values over the ``kept`` sites copied along the others: the same value for both
    spins of each ignored site, ``(2^n,)``."""
    shape = tuple(2 if site in kept else 1 for site in range(n))
    return xp.reshape(xp.broadcast_to(xp.reshape(values, shape), (2,) * n), (1 << n,))


SPLIT_SITES = 16
"""Trailing sites of the first-layer tables of :func:`_split_values` (``2^16`` rows):
fixed, so that the batch size never changes a result."""


def _split_values(
    architecture: Architecture,
    params: Params,
    n: int,
    hyper: Any,
    xp: Any,
    dtype: Any,
    batch_size: int,
    scan: _Scan | None = None,
) -> Any:
    """``evaluate_first`` batch by batch, each first layer's ``W s + b`` split as
    ``(W_high s_high + b) + W_low s_low``: the configurations come in blocks of ``2^j``
    (``j = min(n, SPLIT_SITES)``) that share their first ``n - j`` sites, and the trailing
    sites' part is a table computed once (:attr:`Architecture.first_layers`)."""
    assert architecture.first_layers is not None and architecture.evaluate_first is not None
    rdtype = real_dtype(xp, dtype)
    low = min(n, SPLIT_SITES)
    high = n - low
    layers = {
        name: tuple(to_namespace({"W": weight, "b": bias}, xp, rdtype).values())
        for name, (weight, bias) in architecture.first_layers(params, hyper).items()
    }
    spins_low = basis_spins(0, 1 << low, low, xp, rdtype)
    tables = {
        name: xp.matmul(spins_low, xp.matrix_transpose(weight[:, high:]))
        for name, (weight, _) in layers.items()
    }
    values = xp.empty((1 << n,), dtype=dtype)  # filled in place: no list of chunks to join
    for block in range(1 << high):
        spins_high = basis_spins(block, block + 1, high, xp, rdtype)  # (1, high)
        shared = {
            name: xp.matmul(spins_high, xp.matrix_transpose(weight[:, :high])) + bias
            for name, (weight, bias) in layers.items()
        }
        for start in range(0, 1 << low, batch_size):
            stop = min(start + batch_size, 1 << low)
            pre = {}
            for name in layers:  # the table's rows plus the shared part, in place
                pre[name] = xp.asarray(tables[name][start:stop, ...], copy=True)
                add_rows(pre[name], shared[name][0, ...], xp)
            offset = block << low
            chunk = xp.astype(
                architecture.evaluate_first(params, pre, hyper, xp), dtype, copy=False
            )
            if scan is not None:
                scan(chunk)
            values[offset + start : offset + stop] = chunk
    return values
