"""Benchmark of a dense task's peak memory against the state vector and ``validate``'s
estimate.

:func:`bench_memory` runs one dense half-cut task (an MLP-NQS, width 3, depth 2, sin, the
paper's parameter scaling; one network; von Neumann entropy of ``|A| = n/2``) per ``n``
and subsystem kind in a fresh process, as a sweep's worker runs it
(:func:`pipeline.sweep.sample.compute_task`, with the worker's imports loaded first), and
reads that process's peak resident memory from ``os.wait4``. Kinds: ``first`` (the first
``n/2`` sites: ``psi`` is already the matrix) and ``window`` (a cyclic window at a random
start: the columns are gathered from a strided view). A process that only imports and
runs an ``n = 8`` task gives the base footprint.

Printed per case: the state (``16 * 2^n`` bytes), the peak, their ratio, the estimate
(:func:`pipeline.sweep.plan.task_bytes`) and its ratio to the peak. Targets (the issue's):
at ``n = 26`` the peak at most 3x the state vector; at every ``n`` the estimate within 30%
of the peak. Run ``nqs-ent bench memory [--sizes 22,24,26]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

STATE_FACTOR = 3.0
"""Target: peak at most this many state vectors (at :data:`STATE_TARGET_N`)."""
STATE_TARGET_N = 26
ESTIMATE_TOLERANCE = 0.30
"""Target: ``|estimate / peak - 1|`` at most this."""
KINDS = ("first", "window")


def spec_text(n: int, kind: str) -> str:
    """A one-task spec: one MLP network at ``n``, the half cut of kind ``kind``."""
    windows = "\nwindows = 1" if kind == "window" else ""
    return f"""
name = "bench-memory"
seed = 5
[[experiment]]
name = "mlp"
architecture = "mlp"
n = {n}
samples = 1
measures = ["vn"]
[experiment.hyper]
width = 3
depth = 2
activation = "sin"
[experiment.subsystem]
kind = "{kind}"
m = "n//2"{windows}
"""


def _child(n: int, kind: str) -> None:
    """The task, in this (fresh) process."""
    import distributed  # noqa: F401  (a worker's imports: part of its footprint)

    import pipeline.run.worker  # noqa: F401
    from pipeline.sweep.plan import iter_tasks
    from pipeline.sweep.sample import compute_task
    from pipeline.sweep.validate import parse_spec

    sweep = parse_spec(spec_text(n, kind))
    (task,) = list(iter_tasks(sweep))
    compute_task(sweep, task, "numpy")


def peak_bytes(n: int, kind: str) -> int:
    """Peak resident bytes of one task in a fresh process (``os.wait4``'s ``ru_maxrss``)."""
    command = [sys.executable, "-m", "pipeline.bench.memory", str(n), kind]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    error = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"n = {n} {kind}: {error.strip().splitlines()[-1:]}")
    return int(usage.ru_maxrss) * 1024


def bench_memory(sizes: Sequence[int] = (22, 24, 26)) -> int:
    """Print the table and the verdicts; return the number of missed targets."""
    from pipeline.sweep.plan import BASE_BYTES, task_bytes
    from pipeline.sweep.validate import parse_spec

    mib = 1 << 20
    base = peak_bytes(8, "first")
    print(
        "dense half-cut task (MLP-NQS w3 d2 sin, one network, vn), one fresh process each "
        f"with a worker's imports; base footprint (n = 8) {base / mib:.0f} MiB "
        f"(the estimate counts {BASE_BYTES / mib:.0f} MiB)"
    )
    print(
        f"{'n':>3} {'kind':>7} {'state MiB':>10} {'peak MiB':>9} {'peak/state':>10} "
        f"{'estimate MiB':>13} {'estimate/peak':>13}"
    )
    misses = 0
    for n in sizes:
        state = 16 << n
        for kind in KINDS:
            peak = peak_bytes(n, kind)
            experiment = parse_spec(spec_text(n, kind)).experiments[0]
            estimate = task_bytes(experiment, n, 16)
            print(
                f"{n:>3} {kind:>7} {state / mib:10.0f} {peak / mib:9.0f} {peak / state:10.2f} "
                f"{estimate / mib:13.0f} {estimate / peak:13.2f}"
            )
            verdicts = [
                (
                    abs(estimate / peak - 1) <= ESTIMATE_TOLERANCE,
                    f"estimate {estimate / mib:.0f} MiB within {ESTIMATE_TOLERANCE:.0%} of "
                    f"the peak {peak / mib:.0f} MiB",
                )
            ]
            if n == STATE_TARGET_N:
                verdicts.append(
                    (
                        peak <= STATE_FACTOR * state,
                        f"peak {peak / mib:.0f} MiB <= {STATE_FACTOR:g} x state "
                        f"({STATE_FACTOR * state / mib:.0f} MiB)",
                    )
                )
            for ok, text in verdicts:
                print(f"    {'PASS' if ok else 'MISS'}  n = {n} {kind}: {text}")
                misses += not ok
    return misses


if __name__ == "__main__":  # one task, in its own process (see peak_bytes)
    _child(int(sys.argv[1]), sys.argv[2])
