"""The paper end to end, against the author's code.

``nqs-ent bench paper [--workflows dicke,sn,...] [--out DIR] [--quick] [--no-author]``
measures (items 1, 2 and 4 each as a whole process, imports and cluster start included):

1. **Each paper workflow** (``workflows/paper/<name>.toml``; ``--quick``: its ``_quick``
   twin) run by ``nqs-ent run`` on a local cluster of one worker per core into a fresh
   store under ``--out``, then compared with the committed store
   ``data/paper/paper-<name>.zarr`` where there is one: every entropy within
   :data:`~pipeline.numerics.provenance.CROSS_MACHINE_ATOL`, integers (``k``, site
   orders) and the NaN pattern exactly. Target: the six in at most
   :data:`PAPER_TARGET_S` in all (on a 2-core machine).
2. **The author's time for the same workflow** (not Dicke: the author's script evaluates
   the analytic formula only), estimated as one network's full
   measurement (state and 10 translations of every size, the author's script with
   ``--trials 1`` at the workflow's first grid point, its cheapest) times the workflow's
   networks, with every core: a lower bound where the grid has costlier points (CosNet
   and TanhNet up to ``N_h`` = 500 and 1000).
3. **One network's full measurement** per workflow, the author's (item 2's one network)
   against one task of the same grid point computed in this process, single-threaded.
4. **The MLP run** of the speed issue: n = 22, width 3, depth 2, tanh and sin, 4 networks
   each, 10 windows, ``|A|`` = 1..9, by ``nqs-ent run`` and by the author's
   ``run_mlp_curve.py``. Target: at least :data:`MLP_RUN_TARGET` times faster.

The author's columns need ``torch`` in ``--author-python`` and the author's code
(``../shared/peers/bound-nqs``); without them they are skipped with a note. Regenerate the
committed stores with the same command the benchmark runs, ``nqs-ent run
workflows/paper/<name>.toml --store data/paper/paper-<name>.zarr`` into a fresh store.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.bench.states import PEER, author_available

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ("dicke", "sn", "mlp", "cosnet", "tanhnet", "transformer")
PAPER_TARGET_S = 25 * 60.0
"""Target: the six paper workflows, one after another, in at most this many seconds."""
MLP_RUN_TARGET = 20.0
"""Target: the MLP run at least this many times faster than the author's."""

AUTHOR_ONE: dict[str, list[str]] = {
    "sn": ["run_sn_curve.py", "--mode", "real", "--activations", "tanh"],
    "mlp": ["run_mlp_curve.py", "--width", "3", "--depth", "2", "--activations", "tanh"],
    "cosnet": [
        "run_random_feature.py",
        "--activation",
        "cos",
        "--hidden-sizes",
        "1",
        "--mode",
        "curve",
    ],
    "tanhnet": [
        "run_random_feature.py",
        "--activation",
        "tanh",
        "--hidden-sizes",
        "1",
        "--mode",
        "curve",
    ],
    "transformer": ["run_transformer_curve.py", "--activations", "tanh"],
}
"""The author's script and options for one network of each workflow's first grid point
(the options that :func:`author_command` adds: n, one trial, 10 translations, CPU). The
author's Dicke script evaluates the analytic formula only, so it has no state to compare
with."""

MLP_RUN_SPEC = """
name = "bench-mlp-run"
seed = 1400
[[experiment]]
name = "mlp"
architecture = "mlp"
n = 22
samples = 4
samples_per_task = 1
measures = ["vn"]
[experiment.hyper]
activation = ["tanh", "sin"]
width = 3
depth = 2
[experiment.subsystem]
kind = "window"
m = "1..9"
windows = 10
"""


def _load(spec: Path) -> Any:
    """The spec's :class:`~pipeline.sweep.spec.Sweep`, without the warnings that the run
    itself gives (the transformer's uncovered site)."""
    from pipeline.sweep.validate import load_spec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_spec(spec)


def networks(spec: Path) -> int:
    """Networks a spec draws: samples times grid points times sizes, over experiments."""
    sweep = _load(spec)
    return sum(e.samples * len(e.grid()) * len(e.n) for e in sweep.experiments)


def one_network(spec: Path) -> float:
    """Seconds per network of the spec's first task (its first experiment's first grid
    point, block 0), computed in this process as a worker computes it (single-threaded
    BLAS); the faster of two runs while they take under 10 s in all."""
    from pipeline.sweep.plan import iter_tasks
    from pipeline.sweep.sample import compute_task

    sweep = _load(spec)
    task = next(iter(iter_tasks(sweep)))
    with warnings.catch_warnings():  # as in _load
        warnings.simplefilter("ignore")
        runs: list[float] = []
        while len(runs) < 2 and sum(runs) < 10.0:
            started = time.perf_counter()
            compute_task(sweep, task, "numpy")
            runs.append(time.perf_counter() - started)
    return min(runs) / (task.stop - task.start)


def timed(command: Sequence[str], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, exit status and the last line of stderr of ``command``."""
    started = time.perf_counter()
    done = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True)
    lines = (done.stderr or done.stdout).strip().splitlines()
    return time.perf_counter() - started, done.returncode, lines[-1] if lines else ""


def run_spec(spec: Path, store: Path) -> tuple[float, int, str]:
    """``nqs-ent run spec --store store`` in a fresh process, timed."""
    command = [sys.executable, "-m", "pipeline.cli", "run", str(spec), "--store", str(store)]
    return timed([*command, "--no-progress"], ROOT)


def author_command(python: str, workflow: str, out: Path) -> list[str]:
    """The author's script for one network of ``workflow`` (:data:`AUTHOR_ONE`)."""
    script, *options = AUTHOR_ONE[workflow]
    command = [python, script, "--n", "22", *options, "--out-prefix", str(out / workflow)]
    return [*command, "--trials", "1", "--translations", "10", "--device", "cpu"]


def compare(store: Path, committed: Path) -> tuple[int, float]:
    """Values compared and the largest entropy difference; raises ``AssertionError`` when
    integers, shapes or the NaN pattern differ."""
    from pipeline.store.snapshots import snapshot_arrays

    new, old = snapshot_arrays(store), snapshot_arrays(committed)
    assert sorted(new) == sorted(old), f"variables differ: {sorted(new)} != {sorted(old)}"
    count, worst = 0, 0.0
    for key, expected in old.items():
        actual = new[key]
        assert actual.shape == expected.shape, f"{key}: shape {actual.shape} != {expected.shape}"
        if not np.issubdtype(expected.dtype, np.floating):
            assert np.array_equal(actual, expected), f"{key} differs"
            continue
        assert np.array_equal(np.isnan(actual), np.isnan(expected)), f"{key}: NaN pattern"
        finite = np.isfinite(expected)
        count += int(finite.sum())
        if finite.any():
            worst = max(worst, float(np.max(np.abs(actual[finite] - expected[finite]))))
    return count, worst


def bench_paper(
    workflows: Sequence[str] = WORKFLOWS,
    out: Path | None = None,
    author_python: str = sys.executable,
    peer: Path = PEER,
    quick: bool = False,
    author: bool = True,
    mlp_run: bool = True,
    write: Callable[[str], None] = print,
) -> int:
    """Run the benchmark and print its tables; return the number of missed targets (a
    store that disagrees with the committed one counts as one)."""
    from pipeline.numerics.provenance import CROSS_MACHINE_ATOL

    folder = Path(out) if out else Path(tempfile.mkdtemp(prefix="nqs-ent-bench-paper-"))
    folder.mkdir(parents=True, exist_ok=True)
    missing = author_available(author_python, peer) if author else "--no-author"
    if missing:
        write(f"author's columns skipped: {missing}")
    misses, total, singles = 0, 0.0, []
    write(f"paper workflows, end to end ({'quick twins, ' if quick else ''}stores in {folder})")
    write(
        f"{'workflow':<13}{'networks':>9}{'nqs-ent s':>11}{'author s':>11}{'ratio':>8}"
        f"  agreement with data/paper (tolerance {CROSS_MACHINE_ATOL:g} nats)"
    )
    for name in workflows:
        spec = ROOT / "workflows" / "paper" / f"{name}{'_quick' if quick else ''}.toml"
        store = folder / f"paper-{name}.zarr"
        count = networks(spec)
        seconds, status, last = run_spec(spec, store)
        total += seconds
        theirs = ratio = single = "-"
        if name in AUTHOR_ONE and not missing and not quick:
            one, code, why = timed(author_command(author_python, name, folder), peer)
            if code == 0:
                estimate = one * count
                bound = "" if name in ("sn", "mlp", "transformer") else ">="
                theirs, ratio = f"{bound}{estimate:.0f}", f"{bound}{estimate / seconds:.1f}x"
                single = f"{one:.2f}"
            else:
                theirs = f"failed: {why}"
        mine = one_network(spec)
        singles.append((name, single, mine))
        if status != 0:
            agreement = f"FAIL: nqs-ent run exited {status}: {last}"
            misses += 1
        elif quick or not (ROOT / "data" / "paper" / f"paper-{name}.zarr").exists():
            agreement = "no committed store to compare"
        else:
            try:
                values, worst = compare(store, ROOT / "data" / "paper" / f"paper-{name}.zarr")
                ok = worst <= CROSS_MACHINE_ATOL
                agreement = f"{'PASS' if ok else 'FAIL'}: {values} values, max |dS| {worst:.1e}"
                misses += not ok
            except AssertionError as error:
                agreement, misses = f"FAIL: {error}", misses + 1
        write(f"{name:<13}{count:>9}{seconds:>11.1f}{theirs:>11}{ratio:>8}  {agreement}")
    if not quick and set(workflows) == set(WORKFLOWS):
        verdict = "PASS" if total <= PAPER_TARGET_S else "MISS"
        misses += verdict == "MISS"
        write(
            f"    {verdict}  the six paper workflows in {total / 60:.1f} min "
            f"(target <= {PAPER_TARGET_S / 60:.0f} min)"
        )
    else:
        write(
            f"    all listed workflows: {total / 60:.1f} min (the 25-min target needs all six,"
            " full size)"
        )
    write(
        "one network's full measurement, seconds (the workflow's first grid point; author: "
        "its script, a whole process, every core; nqs-ent: one task in this process, 1 thread)"
    )
    write(f"{'workflow':<13}{'author':>9}{'nqs-ent':>9}{'ratio':>8}")
    for name, single, mine in singles:
        ratio = f"{float(single) / mine:.1f}x" if single != "-" else "-"
        write(f"{name:<13}{single:>9}{mine:>9.2f}{ratio:>8}")
    if mlp_run:
        misses += _mlp_run(folder, author_python, peer, missing, write)
    return misses


def _mlp_run(
    folder: Path, python: str, peer: Path, missing: str | None, write: Callable[[str], None]
) -> int:
    spec = folder / "bench-mlp-run.toml"
    spec.write_text(MLP_RUN_SPEC)
    seconds, status, last = run_spec(spec, folder / "bench-mlp-run.zarr")
    if status != 0:
        write(f"    FAIL  MLP run: nqs-ent run exited {status}: {last}")
        return 1
    line = (
        f"MLP run (n 22, w3 d2, tanh + sin, 4 networks each, 10 windows, |A| 1..9): "
        f"nqs-ent {seconds:.1f} s"
    )
    if missing:
        write(f"    SKIP  {line}; author skipped")
        return 0
    command = [
        python,
        "run_mlp_curve.py",
        "--n",
        "22",
        "--width",
        "3",
        "--depth",
        "2",
        "--activations",
        "tanh,sin",
        "--trials",
        "4",
        "--translations",
        "10",
        "--seed",
        "1400",
        "--device",
        "cpu",
        "--out-prefix",
        str(folder / "mlp-run"),
    ]
    theirs, code, why = timed(command, peer)
    if code != 0:
        write(f"    SKIP  {line}; the author's run failed: {why}")
        return 0
    ratio = theirs / seconds
    verdict = "PASS" if ratio >= MLP_RUN_TARGET else "MISS"
    write(
        f"    {verdict}  {line}, author {theirs:.1f} s: {ratio:.1f}x "
        f"(target >= {MLP_RUN_TARGET:.0f}x)"
    )
    return int(verdict == "MISS")
