"""Full-space evaluation: the normalised ``2^n`` amplitude vector of a network.

Basis order: index ``x in [0, 2^n)``, site 0 the most significant bit, ``s_i = 2 b_i - 1``.
So ``psi.reshape((2,) * n)`` has axis ``i`` = site ``i``.
"""

from __future__ import annotations

from typing import Any

from pipeline.architectures.base import Architecture, Params
from pipeline.numerics.xp import is_numpy, real_dtype

DEFAULT_BATCH = 1 << 16


class StateError(ValueError):
    """The network's state cannot be normalised (zero or non-finite amplitudes).

    ``cause`` is ``"zero"`` (every amplitude is zero, or they underflow) or
    ``"nonfinite"`` (an amplitude or the norm is infinite or NaN)."""

    def __init__(self, message: str, cause: str = "nonfinite") -> None:
        super().__init__(message)
        self.cause = cause


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
    architectures are scaled by their largest modulus before the norm is taken.

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
        batch_size = (architecture.host_batch if is_numpy(xp) else None) or DEFAULT_BATCH
    rdtype = real_dtype(xp, dtype)
    dim = 1 << n
    chunks = []
    for start in range(0, dim, batch_size):
        spins = basis_spins(start, min(start + batch_size, dim), n, xp, rdtype)
        chunks.append(xp.astype(architecture.evaluate(params, spins, hyper, xp), dtype))
    values = xp.concat(chunks) if len(chunks) > 1 else chunks[0]
    if architecture.is_log_amplitude(hyper):
        real = xp.real(values)
        if not bool(xp.all(xp.isfinite(real) | (real == -xp.inf))):
            raise StateError(f"{architecture.name}: log-amplitudes are not finite (n = {n})")
        shift = xp.max(real)
        if not bool(xp.isfinite(shift)):
            raise StateError(f"{architecture.name}: every amplitude is zero (n = {n})", "zero")
        psi = xp.exp(values - xp.astype(shift, dtype))
    else:
        if not bool(xp.all(xp.isfinite(values))):
            raise StateError(f"{architecture.name}: amplitudes are not finite (n = {n})")
        scale = xp.max(xp.abs(values))
        if not bool(scale > 0):
            raise StateError(f"{architecture.name}: every amplitude is zero (n = {n})", "zero")
        psi = values / xp.astype(scale, dtype)
    norm = xp.linalg.vector_norm(psi)
    if not bool(xp.isfinite(norm)):
        raise StateError(f"{architecture.name}: the norm is not finite (n = {n})")
    if not bool(norm > 0):
        raise StateError(f"{architecture.name}: the norm underflows to zero (n = {n})", "zero")
    return psi / xp.astype(norm, dtype)
