"""State evaluation side by side with the author's code, per paper architecture.

``nqs-ent bench states [--n 22] [--author-python PYTHON]`` times, for each architecture of
the paper at its paper hyperparameters, the normalised ``2^n`` state of one network:

- ``nqs-ent``: :func:`pipeline.full_state` in this process, single-threaded BLAS and with
  every core;
- ``author``: ``boundnqs.build_normalized_state`` of the author's published code
  (``../shared/peers/bound-nqs``, torch, float64 as in the author's runs) in a subprocess
  of ``--author-python`` (a Python with ``torch``), with ``torch.set_num_threads`` 1 and
  every core. Both codes draw the parameters with their own initialisation; the work of
  a state does not depend on the values. Without torch or the peer code this column is
  skipped, with a note.

It prints seconds, the ratio author / nqs-ent and a PASS/MISS verdict against the target
of 5x single-threaded, and each state's floor (:func:`floor`): its multiply-adds at the
GEMM speed and its activations and exponentials at the NumPy speed of this machine, both
measured in the same run (:func:`machine_rates`), or the state's bytes at the measured
write bandwidth if that is larger; ``ours/floor`` is how far the 1-thread time is above
it. Speed is measured here, never in tests.

With ``--backend cupy`` both codes run on the GPU: nqs-ent through CuPy (timed up to a
device synchronisation) and the author's model moved to torch's CUDA device (its
``build_normalized_state`` on ``device="cuda"``, timed up to ``torch.cuda.synchronize``);
the thread columns and the CPU floor then do not apply (``-``), and the ratio is GPU
against GPU. Each time is still the best of up to three, after one untimed warm-up
(CUDA contexts, kernel compilation and the memory pool's first allocations).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 5.0
"""Author time / nqs-ent time, single-threaded, that each architecture must reach."""

BUDGET = 20.0
"""Seconds after which a timing is not repeated: a shared machine's noise is +-30% on one
run, so every time below is the best of up to three runs, stopping once this is spent."""


def best(work: Callable[[], float | None], most: int = 3) -> float | None:
    """The least of up to ``most`` timings ``work()`` returns (None: cannot run), stopping
    once their sum passes :data:`BUDGET`."""
    times: list[float] = []
    while len(times) < most and sum(times) < BUDGET:
        seconds = work()
        if seconds is None:
            return None
        times.append(seconds)
    return min(times)


def _elapsed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


PEER = Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "bound-nqs"
"""The author's code, next to the repository (``../shared/peers/bound-nqs``)."""

CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "SN-NQS (tanh, real)": ("sn", {"activation": "tanh"}, "sn"),
    "MLP-NQS (w3 d2, tanh)": (
        "mlp",
        {"width": 3, "depth": 2, "activation": "tanh", "bias_std": 0.2},
        "mlp",
    ),
    "T-NQS (P6 s5 d32 H4 L4)": (
        "transformer",
        {"patch": 6, "stride": 5, "d_model": 32, "heads": 4, "layers": 4, "frozen_heads": True},
        "transformer",
    ),
    "CosNet (N_h 100)": ("random_feature", {"hidden": 100, "activation": "cos"}, "cos100"),
    "TanhNet (N_h 5)": ("random_feature", {"hidden": 5, "activation": "tanh"}, "tanh5"),
}
"""Label -> (our architecture, hyperparameters, the author's model in :data:`AUTHOR`)."""

AUTHOR = """
import json, sys, time
import torch
sys.path.insert(0, {peer!r})
import boundnqs as b
torch.set_default_dtype(torch.float64)
torch.set_num_threads({threads})
n = {n}
models = {{
    "sn": lambda: b.SingleNonlinearityNQS(b.SingleNonlinearityConfig(n, "tanh")),
    "mlp": lambda: b.MLPNQS(n, 3, 2, activation="tanh", bias_std=0.2),
    "transformer": lambda: b.PatchTransformerNQS(n, 6, 5, 32, 4, 4, 2.0, "tanh", 1.0,
                                                 freeze_random_heads=True),
    "cos100": lambda: b.RandomFeatureNQS(n, 100, "cos"),
    "tanh5": lambda: b.RandomFeatureNQS(n, 5, "tanh"),
}}
device = {device!r}
model = models[{key!r}]().to(device)
for _ in range(1 + (device == "cuda")):  # on the GPU, the first run warms up
    started = time.perf_counter()
    with torch.no_grad():
        b.build_normalized_state(model, n, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
print(json.dumps(time.perf_counter() - started))
"""


def machine_rates() -> dict[str, float]:
    """This machine's single-threaded speeds, measured now (best of 5):
    ``gemm`` float64 multiply-adds per second of a ``(16384, 32) x (32, 64)`` product (the
    transformer's shape; the MLP-sized layers are cheaper still), ``tanh`` and ``exp``
    seconds per value of :func:`pipeline.numerics.activations.tanh` and ``numpy.exp`` on
    ``2^16`` values in cache, ``write`` bytes per second filling a 64 MiB complex vector."""
    import array_api_compat.numpy as xp
    from threadpoolctl import threadpool_limits

    from pipeline.numerics.activations import tanh

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(16384, 32)), rng.normal(size=(32, 64))
    x = rng.normal(size=1 << 16)
    state = np.empty(1 << 22, dtype=np.complex128)

    def fastest(work: Callable[[], Any]) -> float:
        return min(_elapsed(work) for _ in range(5))

    with threadpool_limits(limits=1):
        return {
            "gemm": a.size * b.shape[1] / fastest(lambda: a @ b),
            "tanh": fastest(lambda: tanh(x, xp)) / x.size,
            "exp": fastest(lambda: np.exp(x)) / x.size,
            "write": state.nbytes / fastest(lambda: state.fill(1.0)),
        }


def work(architecture: str, hyper: dict[str, Any], n: int) -> dict[str, float]:
    """What one state of :data:`CASES` must compute at least, over its evaluated
    configurations: ``macs`` multiply-adds, ``tanh`` activations and ``exp`` calls (the
    softmax's and the log-amplitude's), by the routes nqs-ent takes: the first layer split
    into two halves' tables (an add per unit), a cos network as two real GEMMs of
    ``K = 2 N_h``, the transformer's uncovered last site evaluated once."""
    dim = float(1 << n)
    if architecture == "sn":
        return {"macs": dim, "tanh": dim, "exp": dim}
    if architecture == "mlp":
        width, depth = hyper["width"], hyper["depth"]
        return {
            "macs": dim * (width + (depth - 1) * width**2 + 2 * width),
            "tanh": dim * width * depth,
            "exp": 0.0,
        }
    if architecture == "random_feature":
        hidden = hyper["hidden"]
        if hyper["activation"] == "cos":
            return {"macs": dim * 4 * hidden, "tanh": 0.0, "exp": 0.0}
        return {"macs": dim * 4 * hidden, "tanh": dim * 2 * hidden, "exp": 0.0}
    from pipeline.architectures import get_architecture
    from pipeline.architectures.transformer import n_tokens, uncovered_sites

    values = get_architecture("transformer").hyper(**hyper)
    tokens, d, heads, layers = n_tokens(n, values), values.d_model, values.heads, values.layers
    dim = float(1 << (n - len(uncovered_sites(n, values))))
    per_layer = tokens * (3 * d * d + d * d + 4 * d * d) + 2 * tokens * tokens * d
    return {
        "macs": dim * (layers * per_layer + 2 * tokens * d),
        "tanh": dim * layers * tokens * 2 * d,
        "exp": dim * (layers * heads * tokens * tokens + 1),
    }


def floor(architecture: str, hyper: dict[str, Any], n: int, rates: dict[str, float]) -> float:
    """Seconds below which one state cannot go on this machine (single-threaded): the
    larger of its arithmetic (:func:`work` at :func:`machine_rates`) and writing its
    ``2^n`` complex amplitudes once at the measured bandwidth."""
    needed = work(architecture, hyper, n)
    arithmetic = (
        needed["macs"] / rates["gemm"]
        + needed["tanh"] * rates["tanh"]
        + needed["exp"] * rates["exp"]
    )
    return max(arithmetic, 16.0 * (1 << n) / rates["write"])


def ours(
    architecture: str,
    hyper: dict[str, Any],
    n: int,
    threads: int | None,
    backend: str = "numpy",
) -> float:
    """Seconds of one normalised state in nqs-ent with ``threads`` BLAS threads, or on the
    GPU for ``backend="cupy"`` (after one warm-up; the best of up to three, :func:`best`)."""
    from threadpoolctl import threadpool_limits

    from pipeline.architectures import get_architecture
    from pipeline.architectures.states import full_state
    from pipeline.numerics.xp import namespace, synchronize

    arch = get_architecture(architecture)
    values = arch.hyper(**hyper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a transformer's uncovered tail
        params = arch.init(np.random.default_rng(0), n, values)
    xp = namespace(backend)

    def state() -> None:
        full_state(arch, params, n, values, xp)
        synchronize(xp)

    with threadpool_limits(limits=threads):
        if backend != "numpy":
            state()
        seconds = best(lambda: _elapsed(state))
    assert seconds is not None
    return seconds


def author(
    python: str, key: str, n: int, threads: int, peer: Path = PEER, device: str = "cpu"
) -> float | None:
    """Seconds of one normalised state in the author's code on torch's ``device`` (the best
    of up to three subprocesses, :func:`best`), or None if it cannot run."""
    if not peer.is_dir():
        return None
    script = AUTHOR.format(peer=str(peer), threads=threads, n=n, key=key, device=device)

    def once() -> float | None:
        result = subprocess.run([python, "-c", script], capture_output=True, text=True)
        if result.returncode != 0:
            return None
        return float(json.loads(result.stdout.strip().splitlines()[-1]))

    return best(once)


def author_available(python: str, peer: Path = PEER, device: str = "cpu") -> str | None:
    """Why the author's column is skipped, or None when it can run."""
    if not peer.is_dir():
        return f"the author's code is not at {peer} (--peer gives its folder)"
    check = "import torch" + ("; assert torch.cuda.is_available()" if device == "cuda" else "")
    found = subprocess.run([python, "-c", check], capture_output=True, text=True)
    if found.returncode != 0 and device == "cuda":
        return f"{python}'s torch sees no CUDA device"
    if found.returncode != 0:
        return (
            f"{python} has no torch (make one: python3 -m venv --system-site-packages "
            "/tmp/peer && /tmp/peer/bin/pip install torch==2.13.0; then --author-python "
            "/tmp/peer/bin/python)"
        )
    return None


def bench_states(
    n: int = 22,
    author_python: str = sys.executable,
    cases: list[str] | None = None,
    peer: Path = PEER,
    out: Callable[[str], Any] = print,
    backend: str = "numpy",
) -> int:
    """Print the table; the number of architectures that miss :data:`TARGET`."""
    if backend != "numpy":
        return _bench_gpu(n, author_python, cases, peer, out, backend)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    skip = author_available(author_python, peer)
    rates = machine_rates()
    out(f"state of one network at n = {n}, seconds (1 thread | {cores} threads)")
    out(
        f"machine, 1 thread: GEMM {2 * rates['gemm'] / 1e9:.1f} GFLOP/s, tanh "
        f"{rates['tanh'] * 1e9:.1f} ns, exp {rates['exp'] * 1e9:.1f} ns a value, write "
        f"{rates['write'] / 2**30:.1f} GiB/s"
    )
    if skip:
        out(f"author's column skipped: {skip}")
    out(
        f"{'architecture':<26} {'nqs-ent':>15} {'author':>15} {'floor':>7} {'ours/floor':>10}"
        f" {'ratio (1 thread)':>17}"
    )
    misses = 0
    for label in cases or list(CASES):
        architecture, hyper, key = CASES[label]
        ours_1, ours_all = ours(architecture, hyper, n, 1), ours(architecture, hyper, n, None)
        theirs_1 = theirs_all = None
        if not skip:
            theirs_1, theirs_all = (author(author_python, key, n, t, peer) for t in (1, cores))
        verdict, ratio = _ratio(theirs_1, ours_1)
        misses += verdict == "MISS"
        theirs = "-" if theirs_1 is None else f"{theirs_1:.2f} | {theirs_all:.2f}"
        lowest = floor(architecture, hyper, n, rates)
        out(
            f"{label:<26} {f'{ours_1:.2f} | {ours_all:.2f}':>15} {theirs:>15} "
            f"{lowest:>7.3f} {ours_1 / lowest:>9.1f}x {ratio:>11} {verdict} "
            f"(target >= {TARGET:g}x)"
        )
    return misses


def _bench_gpu(
    n: int,
    author_python: str,
    cases: list[str] | None,
    peer: Path,
    out: Callable[[str], Any],
    backend: str,
) -> int:
    """The GPU table of :func:`bench_states`: nqs-ent on CuPy against the author's code on
    torch's CUDA device; the number of architectures below :data:`TARGET`."""
    from pipeline.numerics.xp import resolve_backend

    resolve_backend(backend)  # a clear BackendError without a GPU
    skip = author_available(author_python, peer, "cuda")
    out(f"state of one network at n = {n} on the GPU, seconds (best of up to 3, warmed up)")
    if skip:
        out(f"author's column skipped: {skip}")
    out(f"{'architecture':<26} {'nqs-ent':>9} {'author':>9} {'ratio':>8}")
    misses = 0
    for label in cases or list(CASES):
        architecture, hyper, key = CASES[label]
        mine = ours(architecture, hyper, n, None, backend)
        theirs = None if skip else author(author_python, key, n, 1, peer, "cuda")
        verdict, ratio = _ratio(theirs, mine)
        misses += verdict == "MISS"
        shown = "-" if theirs is None else f"{theirs:.4f}"
        out(f"{label:<26} {mine:>9.4f} {shown:>9} {ratio:>8} {verdict} (target >= {TARGET:g}x)")
    return misses


def _ratio(theirs: float | None, mine: float) -> tuple[str, str]:
    """``(PASS|MISS|SKIP, "author/nqs-ent x")`` against :data:`TARGET`."""
    if theirs is None:
        return "SKIP", "-"
    value = theirs / mine
    return ("PASS" if value >= TARGET else "MISS"), f"{value:.1f}x"
