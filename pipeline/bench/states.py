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
of 5x single-threaded. Speed is measured here, never in tests.
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
model = models[{key!r}]()
started = time.perf_counter()
with torch.no_grad():
    b.build_normalized_state(model, n, device="cpu")
print(json.dumps(time.perf_counter() - started))
"""


def ours(architecture: str, hyper: dict[str, Any], n: int, threads: int | None) -> float:
    """Seconds of one normalised state in nqs-ent with ``threads`` BLAS threads."""
    from threadpoolctl import threadpool_limits

    from pipeline.architectures import get_architecture
    from pipeline.architectures.states import full_state
    from pipeline.numerics.xp import namespace

    arch = get_architecture(architecture)
    values = arch.hyper(**hyper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a transformer's uncovered tail
        params = arch.init(np.random.default_rng(0), n, values)
    xp = namespace("numpy")
    with threadpool_limits(limits=threads):
        started = time.perf_counter()
        full_state(arch, params, n, values, xp)
        return time.perf_counter() - started


def author(python: str, key: str, n: int, threads: int, peer: Path = PEER) -> float | None:
    """Seconds of one normalised state in the author's code, or None if it cannot run."""
    if not peer.is_dir():
        return None
    script = AUTHOR.format(peer=str(peer), threads=threads, n=n, key=key)
    result = subprocess.run([python, "-c", script], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return float(json.loads(result.stdout.strip().splitlines()[-1]))


def author_available(python: str, peer: Path = PEER) -> str | None:
    """Why the author's column is skipped, or None when it can run."""
    if not peer.is_dir():
        return f"the author's code is not at {peer} (--peer gives its folder)"
    found = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True)
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
) -> int:
    """Print the table; the number of architectures that miss :data:`TARGET`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    skip = author_available(author_python, peer)
    out(f"state of one network at n = {n}, seconds (1 thread | {cores} threads)")
    if skip:
        out(f"author's column skipped: {skip}")
    out(f"{'architecture':<26} {'nqs-ent':>15} {'author':>15} {'ratio (1 thread)':>17}")
    misses = 0
    for label in cases or list(CASES):
        architecture, hyper, key = CASES[label]
        ours_1, ours_all = ours(architecture, hyper, n, 1), ours(architecture, hyper, n, None)
        theirs_1 = theirs_all = None
        if not skip:
            theirs_1, theirs_all = (author(author_python, key, n, t, peer) for t in (1, cores))
        if theirs_1 is None:
            verdict, ratio = "SKIP", "-"
        else:
            value = theirs_1 / ours_1
            verdict = "PASS" if value >= TARGET else "MISS"
            misses += verdict == "MISS"
            ratio = f"{value:.1f}x"
        theirs = "-" if theirs_1 is None else f"{theirs_1:.2f} | {theirs_all:.2f}"
        out(
            f"{label:<26} {f'{ours_1:.2f} | {ours_all:.2f}':>15} {theirs:>15} "
            f"{ratio:>11} {verdict} (target >= {TARGET:g}x)"
        )
    return misses
