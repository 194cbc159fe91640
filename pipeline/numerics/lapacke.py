"""LAPACK's two-stage Hermitian eigensolver (``?heevd_2stage``) through LAPACKE.

SciPy does not wrap the two-stage routines; they are looked up by name in the LAPACK
library that SciPy itself loaded (OpenBLAS, MKL, ...), called through ``ctypes``, and
used only when found (:func:`pipeline.numerics.spectra.hermitian_eigvals` falls back to
``scipy.linalg.eigvalsh``).
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

# LAPACKE symbol spellings tried in each loaded BLAS/LAPACK library, with the width of
# lapack_int: SciPy's wheels prefix ``scipy_``; ILP64 builds append ``64_``.
_LAPACKE_SPELLINGS = (
    ("scipy_LAPACKE_{}", ctypes.c_int),
    ("LAPACKE_{}", ctypes.c_int),
    ("scipy_LAPACKE_{}64_", ctypes.c_int64),
    ("LAPACKE_{}64_", ctypes.c_int64),
)


_LAPACK_COL_MAJOR = 102


@functools.cache
def _two_stage_solver(routine: str) -> Callable[..., int] | None:
    """``LAPACKE_<routine>`` (e.g. ``zheevd_2stage``) from a loaded LAPACK, or None.

    The libraries are those threadpoolctl sees after SciPy's LAPACK is loaded, SciPy's
    LP64 build first (the one its ``herk`` runs in, under the same thread setting).
    """
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS/LAPACK)
    from threadpoolctl import threadpool_info

    paths = [info["filepath"] for info in threadpool_info() if info.get("user_api") == "blas"]
    for spelling, lapack_int in _LAPACKE_SPELLINGS:
        for path in paths:
            try:
                function = getattr(ctypes.CDLL(path), spelling.format(routine))
            except (OSError, AttributeError):
                continue
            real = ctypes.c_double if routine[0] == "z" else ctypes.c_float
            function.restype = lapack_int
            function.argtypes = [
                ctypes.c_int,  # matrix_layout
                ctypes.c_char,  # jobz
                ctypes.c_char,  # uplo
                lapack_int,  # n
                ctypes.c_void_p,  # a
                lapack_int,  # lda
                ctypes.POINTER(real),  # w
            ]
            return function
    return None


def _eigvals_two_stage(matrix: Any) -> Any:
    """Eigenvalues (ascending) of the upper triangle of a square complex NumPy matrix with
    LAPACK's ``heevd_2stage``, overwriting an F-contiguous ``matrix``; None where the
    routine is not available."""
    import numpy as np

    if matrix.dtype not in (np.complex128, np.complex64):
        return None
    routine = "zheevd_2stage" if matrix.dtype == np.complex128 else "cheevd_2stage"
    solver = _two_stage_solver(routine)
    if solver is None:
        return None
    if not (matrix.flags.f_contiguous and matrix.flags.writeable):
        matrix = np.array(matrix, order="F")  # a copy: the solver overwrites it
    dim = matrix.shape[0]
    values = np.empty(dim, dtype=matrix.real.dtype)
    real = ctypes.c_double if matrix.dtype == np.complex128 else ctypes.c_float
    info = solver(
        _LAPACK_COL_MAJOR, b"N", b"U", dim, matrix.ctypes.data, dim,
        values.ctypes.data_as(ctypes.POINTER(real)),
    )  # fmt: skip
    if info != 0:
        raise np.linalg.LinAlgError(
            f"LAPACK {routine} failed with info = {info} (a negative value names a bad "
            "argument; -5 means the matrix holds NaN or inf)"
        )
    return values
