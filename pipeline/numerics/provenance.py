"""What computed the numbers: package versions, BLAS library and kernel, NumPy's SIMD level.

Bit-identity holds on one machine (same BLAS kernel, same SIMD dispatch, single-threaded
BLAS in tasks), not across CPUs: OpenBLAS picks its kernel (``Haswell``, ``SkylakeX``, ...)
at run time and NumPy dispatches ``exp``, ``tanh``, ``sin``... to AVX2 or AVX-512
versions, so the last bits of a result follow the CPU. Stores record both (next to the
package versions) so that a difference in the last bits can be traced to its cause, and
:data:`CROSS_MACHINE_ATOL` is the tolerance for comparing with numbers made elsewhere.

``nqs-ent platform`` prints this machine's record as JSON; ``eval "$(nqs-ent platform
--older-cpu)"`` makes this machine compute like the next older CPU (CI's second run of the
reference tests).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

CROSS_MACHINE_ATOL = 1e-12
"""Absolute tolerance (nats) for entropies compared with files committed from another
machine. Round-off between BLAS kernels and SIMD levels is ~1e-15 here; physics is >> 1e-12.
"""


PACKAGES = ("nqs-ent", "numpy", "scipy", "dask", "distributed", "zarr", "xarray")


# (NumPy dispatch targets to switch off, OpenBLAS kernel) that emulate the next older CPU
# generation: an AVX-512 machine computes like an AVX2 one, an AVX2 machine like an AVX one.
_OLDER = (
    (("X86_V4", "AVX512_ICL", "AVX512_SPR"), "Haswell"),
    (("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"), "Sandybridge"),
)


def versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers."""
    out = {}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def simd() -> dict[str, list[str]]:
    """NumPy's SIMD extensions: ``baseline`` (compiled in), ``found`` (dispatch targets this
    CPU runs) and ``not_found``, as ``numpy.show_runtime()`` reports them."""
    try:
        from numpy._core._multiarray_umath import (
            __cpu_baseline__,
            __cpu_dispatch__,
            __cpu_features__,
        )
    except ImportError:  # a NumPy without these internals
        return {"baseline": [], "found": [], "not_found": []}
    return {
        "baseline": list(__cpu_baseline__),
        "found": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)],
        "not_found": [f for f in __cpu_dispatch__ if not __cpu_features__.get(f)],
    }


def blas() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process (threadpoolctl): library, version, kernel."""
    import numpy  # noqa: F401  (loads its BLAS, so threadpoolctl sees it)
    import scipy.linalg  # noqa: F401  (SciPy may bring a BLAS of its own)
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "prefix", "version", "architecture", "threading_layer")
    found = [
        {key: info.get(key) for key in keys}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return sorted(found, key=lambda info: json.dumps(info, sort_keys=True, default=str))


def platform() -> dict[str, Any]:
    """One machine's record: BLAS libraries with their kernel, and NumPy's SIMD level.

    >>> sorted(platform())
    ['blas', 'numpy_simd']
    """
    return {"blas": blas(), "numpy_simd": simd()}


def platform_key(record: dict[str, Any]) -> str:
    """A short stable text for a :func:`platform` record, e.g.
    ``openblas 0.3.31 SkylakeX; SIMD X86_V3,X86_V4,AVX512_ICL``."""
    libraries = ", ".join(
        f"{b.get('internal_api')} {b.get('version')} {b.get('architecture')}"
        for b in record.get("blas", [])
    )
    found = ",".join(record.get("numpy_simd", {}).get("found", []))
    return f"{libraries or 'no BLAS'}; SIMD {found or 'baseline only'}"


def older_cpu_environment(record: dict[str, Any] | None = None) -> dict[str, str] | None:
    """Environment variables that make this machine compute like the next older CPU.

    ``NPY_DISABLE_CPU_FEATURES`` switches NumPy's dispatch off above that level and
    ``OPENBLAS_CORETYPE`` forces OpenBLAS's kernel of that generation. ``None`` when the
    machine has neither AVX-512 nor AVX2 dispatch (nothing older worth emulating).
    """
    record = record or platform()
    found = set(record["numpy_simd"]["found"])
    for disabled, kernel in _OLDER:
        if disabled[0] in found:
            names = " ".join(name for name in disabled if name in found)
            return {"NPY_DISABLE_CPU_FEATURES": names, "OPENBLAS_CORETYPE": kernel}
    return None


def code_revision() -> str:
    """``git describe`` of the package's checkout (``+dirty`` marked), or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "describe", "--always", "--dirty=+dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
