"""Benchmarks of the spectrum kernels against baselines measured in the same run.

Speed is measured here, never in tests. :func:`bench_spectra` times the half-cut von Neumann
entropy (nats) of one seeded random state per ``n`` with

- ``kernel``: the full path ``von_neumann(schmidt_probs(psi, n, range(n // 2), xp))``;
- ``floor``: a bare BLAS ``zherk`` on the same ``2^(n/2) x 2^(n - n/2)`` matrix followed by
  ``scipy.linalg.eigvalsh`` (eigenvalues only) and the entropy: the floor for a dense
  method built from SciPy's LAPACK calls on this machine;
- ``svd``: NumPy's full SVD, ``np.linalg.svd(M, compute_uv=False)``;
- ``quimb``: ``quimb.entropy_subsys`` (which works in bits; converted to nats).

and prints seconds, ratios against the kernel and a PASS/MISS verdict per target at the
largest ``n``. Every method runs with the BLAS threads the machine gives by default; the
BLAS libraries and their thread counts are printed with the table. Each timed call also
reports the CPU contention during it (the share of wall time in which some task waited
for a CPU, from ``/proc/pressure/cpu``): above a few percent the machine was busy and the
numbers are noisy.

:func:`bench_nested` times :func:`pipeline.numerics.spectra.nested_schmidt_probs` for one state
against one :func:`pipeline.numerics.spectra.schmidt_probs` call per (window, size).

Run ``nqs-ent bench spectra [--sizes 20,22,24] [--repeats N]`` or
``nqs-ent bench nested [--n 22]``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

METHODS = ("kernel", "floor", "svd", "quimb")


# (name, numerator, denominator, comparison, bound): the targets at the largest n.
TARGETS = (
    ("at least 2x faster than numpy's SVD", "svd", "kernel", ">=", 2.0),
    ("faster than quimb", "quimb", "kernel", ">", 1.0),
    ("within 1.15x of the herk + eigvalsh floor", "kernel", "floor", "<=", 1.15),
)


AGREEMENT = 1e-8


SEED = 20240611


_PRESSURE = "/proc/pressure/cpu"


def random_state(n: int, seed: int = SEED) -> np.ndarray:
    """A normalised complex Gaussian state of shape ``(2^n,)``, seeded by ``(seed, n)``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, n]))
    psi = rng.standard_normal(1 << n) + 1j * rng.standard_normal(1 << n)
    psi /= np.linalg.norm(psi)
    return psi


def _entropy_of_probs(probs: np.ndarray) -> float:
    """``-sum p log p`` (nats) of non-negative weights, renormalised to sum 1."""
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs[probs > 0]
    probs = probs / probs.sum()
    return float(-np.sum(probs * np.log(probs)))


def _cpu_pressure_us() -> int | None:
    """Total microseconds in which some task waited for a CPU (None where not reported)."""
    try:
        with open(_PRESSURE) as handle:
            for line in handle:
                if line.startswith("some"):
                    return int(line.split("total=")[1])
    except (OSError, IndexError, ValueError):
        return None
    return None


def _timed(fn: Callable[[], float]) -> tuple[float, float, float | None]:
    """Run ``fn`` once: ``(seconds, value, contention)`` with contention in ``[0, 1]``."""
    before = _cpu_pressure_us()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    after = _cpu_pressure_us()
    contention = None
    if before is not None and after is not None and seconds > 0:
        contention = min(1.0, (after - before) / 1e6 / seconds)
    return seconds, float(value), contention


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's view of the loaded BLAS libraries (NumPy's and SciPy's)."""
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS so that it is listed)
    from threadpoolctl import threadpool_info

    return [info for info in threadpool_info() if info.get("user_api") == "blas"]


def describe_blas() -> list[str]:
    """Lines naming each BLAS library, its version, threads, kernel and the env overrides."""
    lines = []
    for info in blas_info():
        lines.append(
            "BLAS  {lib}  version {version}  threads {threads}  api {api}  architecture {arch}"
            "  ({path})".format(
                lib=info.get("prefix", "?"),
                version=info.get("version", "?"),
                threads=info.get("num_threads", "?"),
                api=info.get("internal_api", "?"),
                arch=info.get("architecture", info.get("threading_layer", "?")),
                path=os.path.basename(str(info.get("filepath", "?"))),
            )
        )
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS"):
        lines.append(f"env   {name}={os.environ.get(name, '(unset)')}")
    lines.append(f"cpus  {os.cpu_count()}  load average {' '.join(_load())}")
    return lines


def _load() -> list[str]:
    try:
        return [f"{x:.2f}" for x in os.getloadavg()]
    except OSError:
        return ["?"]


def _kernel(psi: np.ndarray, n: int) -> Callable[[], float]:
    from pipeline.numerics.entropy import von_neumann
    from pipeline.numerics.spectra import schmidt_probs
    from pipeline.numerics.xp import namespace

    xp = namespace("numpy")
    return lambda: float(von_neumann(schmidt_probs(psi, n, range(n // 2), xp), xp))


def _floor(psi: np.ndarray, n: int) -> Callable[[], float]:
    from scipy.linalg import blas, eigvalsh

    matrix = psi.reshape(1 << (n // 2), 1 << (n - n // 2))

    def run() -> float:
        # zherk of the F-contiguous transposed view: conj(M M^H), upper triangle only.
        upper = blas.zherk(1.0, matrix.T, trans=2)
        values = eigvalsh(upper, lower=False, overwrite_a=True, check_finite=False)
        return _entropy_of_probs(values)

    return run


def _svd(psi: np.ndarray, n: int) -> Callable[[], float]:
    matrix = psi.reshape(1 << (n // 2), 1 << (n - n // 2))
    return lambda: _entropy_of_probs(np.linalg.svd(matrix, compute_uv=False) ** 2)


def _quimb(psi: np.ndarray, n: int) -> Callable[[], float]:
    from quimb import entropy_subsys

    column = psi.reshape(-1, 1)
    # quimb's entropies are in bits; ours are in nats.
    return lambda: float(entropy_subsys(column, [2] * n, list(range(n // 2)))) * math.log(2)


_FACTORIES: dict[str, Callable[[np.ndarray, int], Callable[[], float]]] = {
    "kernel": _kernel,
    "floor": _floor,
    "svd": _svd,
    "quimb": _quimb,
}


_PACKAGES = {"quimb": "quimb"}


def available_methods(methods: Iterable[str], out: Callable[[str], Any] = print) -> list[str]:
    """The methods whose package imports; a note is printed for each one skipped."""
    chosen = []
    for method in methods:
        if method not in _FACTORIES:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        package = _PACKAGES.get(method)
        if package is not None:
            try:
                __import__(package)
            except ImportError as error:
                out(f"note: skipping {method}: {package} is not importable ({error})")
                continue
        chosen.append(method)
    return chosen


def _ratio(seconds: dict[str, float], top: str, bottom: str) -> float | None:
    if top in seconds and bottom in seconds and seconds[bottom] > 0:
        return seconds[top] / seconds[bottom]
    return None


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def verdicts(row: dict[str, Any]) -> list[tuple[str, str]]:
    """``(status, line)`` per target for one result row: PASS, MISS or SKIP."""
    lines = []
    seconds = row["seconds"]
    for name, top, bottom, op, bound in TARGETS:
        ratio = _ratio(seconds, top, bottom)
        if ratio is None:
            lines.append(("SKIP", f"SKIP  {name}: {top} or {bottom} not measured"))
            continue
        ok = {">=": ratio >= bound, ">": ratio > bound, "<=": ratio <= bound}[op]
        status = "PASS" if ok else "MISS"
        lines.append(
            (
                status,
                f"{status}  {name} at n = {row['n']}: {top}/{bottom} = "
                f"{seconds[top]:.2f} s / {seconds[bottom]:.2f} s = {ratio:.2f} "
                f"(target {op} {bound:g})",
            )
        )
    return lines


def bench_spectra(
    sizes: Sequence[int] = (20, 22, 24),
    repeats: int = 1,
    methods: Sequence[str] = METHODS,
    out: Callable[[str], Any] = print,
) -> list[dict[str, Any]]:
    """Time the half-cut von Neumann entropy of a random state with each method.

    Parameters
    ----------
    sizes : sequence of int
        Numbers of qubits ``n``; the cut is ``A = (0, ..., n//2 - 1)``.
    repeats : int
        Each method runs this many times per ``n`` (methods interleaved, so that a busy
        spell hits all of them); the best time is kept.
    methods : sequence of str
        Any of ``kernel``, ``floor``, ``svd``, ``quimb``; those whose package is missing
        are skipped with a note.
    out : callable
        Receives each printed line.

    Returns
    -------
    list of dict
        One per ``n``: ``n``, ``seconds``, ``entropy`` (nats) and ``contention`` (CPU
        contention during the best run) per method, and ``max_abs_diff`` of the entropies.

    Raises
    ------
    RuntimeError
        When two methods disagree on the entropy by more than ``1e-8``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    sizes = [int(n) for n in sizes]
    if any(n < 2 for n in sizes):
        raise ValueError(f"sizes must be numbers of qubits >= 2, got {sizes}")
    methods = available_methods(methods, out)
    for method in methods:  # warm up: imports, JIT compilation, first BLAS calls
        _FACTORIES[method](random_state(8), 8)()
    for line in describe_blas():
        out(line)
    rows: list[dict[str, Any]] = []
    header = (
        f"{'n':>3} "
        + " ".join(f"{m + ' s':>9}" for m in METHODS if m in methods)
        + f" {'kern/floor':>10} {'svd/kern':>9} {'quimb/kern':>10} {'max|dS|':>9}"
        + "  contention %"
    )
    out(f"half-cut von Neumann entropy (nats), best of {repeats}, seed {SEED}")
    out(header)
    for n in sizes:
        psi = random_state(n)
        runs = {method: _FACTORIES[method](psi, n) for method in methods}
        best: dict[str, tuple[float, float, float | None]] = {}
        for _ in range(repeats):
            for method in methods:
                result = _timed(runs[method])
                if method not in best or result[0] < best[method][0]:
                    best[method] = result
        seconds = {m: best[m][0] for m in methods}
        entropy = {m: best[m][1] for m in methods}
        contention = {m: best[m][2] for m in methods}
        values = list(entropy.values())
        diff = max(values) - min(values) if values else 0.0
        row = {
            "n": n,
            "seconds": seconds,
            "entropy": entropy,
            "contention": contention,
            "max_abs_diff": diff,
        }
        rows.append(row)
        out(
            f"{n:>3} "
            + " ".join(f"{seconds[m]:>9.2f}" for m in METHODS if m in methods)
            + f" {_fmt(_ratio(seconds, 'kernel', 'floor')):>10}"
            + f" {_fmt(_ratio(seconds, 'svd', 'kernel')):>9}"
            + f" {_fmt(_ratio(seconds, 'quimb', 'kernel')):>10}"
            + f" {diff:>9.1e}  "
            + " ".join(
                f"{m}={_fmt(None if c is None else 100 * c, '.0f')}" for m, c in contention.items()
            )
        )
        if diff > AGREEMENT:
            raise RuntimeError(
                f"methods disagree on the entropy at n = {n} by {diff:.3e} > {AGREEMENT:g}: "
                + ", ".join(f"{m} {s!r}" for m, s in entropy.items())
            )
    if rows:
        out(f"targets at n = {rows[-1]['n']}:")
        for _, line in verdicts(rows[-1]):
            out(line)
        busy = [m for m, c in rows[-1]["contention"].items() if c is not None and c > 0.05]
        if busy:
            out(f"warning: CPU contention above 5% while timing {', '.join(busy)}: noisy")
    return rows


def bench_nested(
    n: int = 22,
    windows: int = 10,
    sizes: Sequence[int] | None = None,
    out: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Time :func:`~pipeline.numerics.spectra.nested_schmidt_probs` for ``windows`` cyclic windows
    of one random state against one :func:`~pipeline.numerics.spectra.schmidt_probs` call per
    (window, size) and against :func:`_nested_floor`, single-threaded as a sweep's tasks
    run. ``sizes`` defaults to ``range(1, n // 2 - 1)``.

    Returns ``{"n", "windows", "sizes", "nested_s", "direct_s", "floor_s", "ratio",
    "max_abs_diff"}``
    with ``ratio = direct_s / nested_s``; raises ``RuntimeError`` when the two disagree by
    more than ``1e-8``.
    """
    from threadpoolctl import threadpool_limits

    from pipeline.numerics.spectra import nested_schmidt_probs, schmidt_probs
    from pipeline.numerics.xp import namespace

    xp = namespace("numpy")
    sizes = list(range(1, n // 2 - 1) if sizes is None else sizes)
    if not sizes:
        raise ValueError(f"no subsystem sizes to time for n = {n}")
    psi = random_state(n)
    starts = sorted({(k * n) // windows for k in range(windows)})
    orders = [tuple((start + i) % n for i in range(n)) for start in starts]

    def nested() -> dict[int, Any]:
        return nested_schmidt_probs(psi, n, orders, sizes, xp)

    def direct() -> dict[int, Any]:
        return {
            m: np.stack([np.asarray(schmidt_probs(psi, n, order[:m], xp)) for order in orders])
            for m in sizes
        }

    nested_schmidt_probs(random_state(8), 8, [tuple(range(8))], [1, 2], xp)  # warm up
    with threadpool_limits(1):  # as a sweep's task runs
        start = time.perf_counter()
        fast = nested()
        nested_s = time.perf_counter() - start
        start = time.perf_counter()
        slow = direct()
        direct_s = time.perf_counter() - start
        floor_s = _nested_floor(psi, n, [order[0] for order in orders], sizes)
    diff = max(float(np.max(np.abs(np.asarray(fast[m]) - slow[m]))) for m in sizes)
    result = {
        "n": n,
        "windows": len(orders),
        "sizes": sizes,
        "nested_s": nested_s,
        "direct_s": direct_s,
        "floor_s": floor_s,
        "ratio": direct_s / nested_s,
        "max_abs_diff": diff,
    }
    ratio = nested_s / floor_s
    verdict = "PASS" if ratio <= NESTED_FLOOR_TARGET else "MISS"
    out(
        f"nested spectra, n = {n}, {len(orders)} windows, sizes {sizes[0]}..{sizes[-1]}, "
        "1 thread: "
        f"nested {nested_s:.2f} s, direct {direct_s:.2f} s, direct/nested = "
        f"{result['ratio']:.2f}, max|dp| = {diff:.1e}"
    )
    out(
        f"    {verdict}  nested within {NESTED_FLOOR_TARGET}x of the herk + eigvalsh floor on "
        f"the same matrices ({floor_s:.2f} s): {ratio:.2f}x"
    )
    if diff > AGREEMENT:
        raise RuntimeError(f"nested and direct spectra disagree by {diff:.3e} > {AGREEMENT:g}")
    return result


NESTED_FLOOR_TARGET = 1.3
"""Target: one network's window spectra within this factor of :func:`_nested_floor`."""


def _nested_floor(psi: np.ndarray, n: int, starts: Sequence[int], sizes: Sequence[int]) -> float:
    """Seconds of the least work that gives every window's spectra, measured on the same
    matrices: per window, one ``zherk`` of the largest size's ``2^M x 2^(n-M)`` matrix
    (the state with its sites rotated to start at the window, made before the clock runs)
    and one ``eigvalsh`` (eigenvalues only) of each size's reduced density matrix (their
    partial traces, made before the clock runs too)."""
    from scipy.linalg import blas, eigvalsh

    largest = max(m for m in sizes if m <= n // 2)
    seconds = 0.0
    for start in starts:
        rotated = np.ascontiguousarray(psi.reshape(1 << start, -1).T).reshape(-1)
        matrix = rotated.reshape(1 << largest, -1)
        began = time.perf_counter()
        upper = blas.zherk(1.0, matrix.T, trans=2)  # conj(M M^H), upper triangle
        seconds += time.perf_counter() - began
        rho = np.triu(upper) + np.triu(upper, 1).conj().T
        for m in sizes:
            small = min(m, n - m)
            rest = 1 << (largest - small)
            reduced = np.einsum("aibi->ab", rho.reshape(1 << small, rest, 1 << small, rest))
            began = time.perf_counter()
            eigvalsh(reduced, overwrite_a=True, check_finite=False)
            seconds += time.perf_counter() - began
    return seconds
