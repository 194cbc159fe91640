"""Array namespaces: one helper to choose or infer the backend of every kernel.

All numerics take an array namespace ``xp`` that follows the Python array API standard
(``array_api_compat.numpy``, ``array_api_compat.cupy`` or ``array_api_strict``). CuPy is
imported lazily, and asking for a GPU that is not there is an error, never a silent CPU
fallback.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np

BACKENDS = ("numpy", "cupy", "auto")


class BackendError(RuntimeError):
    """The requested array backend cannot be used on this machine."""


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        cupy = importlib.import_module("cupy")
        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:
        return False


def resolve_backend(name: str) -> str:
    """Turn ``auto`` into ``cupy`` or ``numpy``; check that ``cupy`` is usable."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "cupy" if gpu_available() else "numpy"
    if name == "cupy" and not gpu_available():
        raise BackendError(
            "backend 'cupy' needs CuPy and a visible CUDA device, and none was found "
            "(install the 'gpu' extra, check CUDA_VISIBLE_DEVICES, or use backend 'numpy')"
        )
    return name


def namespace(name: str = "numpy") -> Any:
    """Return the array-API namespace for a backend name.

    ``"numpy"`` and ``"cupy"`` give the array-api-compat wrappers; ``"array_api_strict"``
    (for tests) gives the strict reference implementation. The result is what every
    kernel of :mod:`pipeline.numerics` takes as its argument ``xp``. CuPy is imported only
    when asked for, and a missing GPU is an error, never a silent CPU fallback.

    Parameters
    ----------
    name : {"numpy", "cupy", "array_api_strict"}, default "numpy"
        The backend (``"array-api-strict"`` is accepted too). ``"auto"`` is not a
        namespace: resolve it first with :func:`resolve_backend`.

    Returns
    -------
    module
        ``array_api_compat.numpy``, ``array_api_compat.cupy`` or ``array_api_strict``.

    Raises
    ------
    ValueError
        For any other ``name``.
    BackendError
        For ``"cupy"`` when CuPy does not import or sees no CUDA device.

    Examples
    --------
    >>> xp = namespace("numpy")
    >>> xp.__name__
    'array_api_compat.numpy'
    >>> float(xp.sum(xp.asarray([0.25, 0.75], dtype=xp.float64)))
    1.0
    >>> namespace("jax")
    Traceback (most recent call last):
    ...
    ValueError: unknown array namespace 'jax'
    """
    if name == "numpy":
        import array_api_compat.numpy as xp_numpy

        return xp_numpy
    if name == "cupy":
        resolve_backend("cupy")
        import array_api_compat.cupy as xp_cupy

        return xp_cupy
    if name in ("array_api_strict", "array-api-strict"):
        return importlib.import_module("array_api_strict")
    raise ValueError(f"unknown array namespace {name!r}")


def get_namespace(*arrays: Any) -> Any:
    """Infer the namespace of ``arrays``; refuse a mixture of backends."""
    return array_api_compat.array_namespace(*arrays)


def is_numpy(xp: Any) -> bool:
    """True when ``xp`` computes on NumPy arrays (where SciPy's BLAS can be used)."""
    return array_api_compat.is_numpy_namespace(xp)


def synchronize(xp: Any) -> None:
    """Wait for the device's queued work (CuPy launches asynchronously); a no-op on the CPU.
    Timings of GPU code call it before reading the clock."""
    if array_api_compat.is_cupy_namespace(xp):
        import cupy

        cupy.cuda.Device().synchronize()


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any backend to host memory as a NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_cupy_array(x):
        return x.get()
    return np.from_dlpack(x)


def real_dtype(xp: Any, complex_dtype: Any) -> Any:
    """The real dtype matching a complex one (complex128 -> float64)."""
    return xp.float64 if complex_dtype == xp.complex128 else xp.float32


def complex_of(xp: Any, real: Any) -> Any:
    """The complex dtype matching a real one (float64 -> complex128, float32 ->
    complex64): what a network evaluated on spins of dtype ``real`` returns."""
    return xp.complex128 if real == xp.float64 else xp.complex64


def to_complex(real: Any, imag: Any, xp: Any) -> Any:
    """``real + i imag`` for real arrays of one shape, in the matching complex dtype.

    NumPy writes the two parts into one new array (one allocation instead of four
    temporaries); other namespaces compute ``astype(real) + 1j * astype(imag)``, which
    is the same number for finite parts.

    >>> import array_api_compat.numpy as xp
    >>> to_complex(xp.asarray([1.0, -0.5]), xp.asarray([2.0, 0.0]), xp).tolist()
    [(1+2j), (-0.5+0j)]
    """
    dtype = complex_of(xp, real.dtype)
    if is_numpy(xp):
        out = np.empty(np.broadcast_shapes(real.shape, imag.shape), dtype=dtype)
        out.real, out.imag = real, imag
        return out
    return xp.astype(real, dtype) + 1j * xp.astype(imag, dtype)


def pairs_to_complex(pairs: Any, xp: Any) -> Any:
    """``pairs[..., 0] + i pairs[..., 1]`` for a real array whose last axis has length 2.

    NumPy reads the pairs of a C-contiguous array as complex numbers without a copy (a
    complex number is its real and imaginary part side by side); other namespaces go
    through :func:`to_complex`.

    >>> import array_api_compat.numpy as xp
    >>> pairs_to_complex(xp.asarray([[1.0, 2.0], [-0.5, 0.0]]), xp).tolist()
    [(1+2j), (-0.5+0j)]
    """
    if is_numpy(xp):
        contiguous = np.ascontiguousarray(pairs)
        return contiguous.view(complex_of(xp, contiguous.dtype))[..., 0]
    return to_complex(pairs[..., 0], pairs[..., 1], xp)


def complex_dtype(xp: Any, precision: str) -> Any:
    """``"double"`` -> complex128, ``"single"`` -> complex64."""
    if precision in ("double", "complex128"):
        return xp.complex128
    if precision in ("single", "complex64"):
        return xp.complex64
    raise ValueError(f"unknown precision {precision!r}; use 'complex128' or 'complex64'")
