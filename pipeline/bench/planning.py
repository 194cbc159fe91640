"""Planning at scale: validate a 10^6-task spec, and find what a 10^5-task store still has
to run on resume.

    nqs-ent bench planning [--tasks 1000000] [--resume-tasks 100000]

Prints, with the baseline measured in the same run:

- ``validate``: wall time and peak resident memory of ``nqs-ent validate`` on a spec of
  ``--tasks`` tasks (a subprocess, so the peak is its own), against the targets of a few
  seconds and a bounded driver;
- ``resume``: the time ``pending_tasks`` takes to find the remaining tasks of a store of
  ``--resume-tasks`` tasks (all done but one changed chunk, which must be found), and
  the time of the decode-every-chunk check that stores without checksums use, on the
  same store (``--baseline-tasks`` of them, default 10^4, and scaled), with the ratio.

The store is filled without computing: one task is computed and written for real, and
its chunk files (whose checksums match their bytes) are copied to every other task.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline import store
from pipeline.run.engine import pending_tasks, select_experiments
from pipeline.sweep.plan import iter_tasks
from pipeline.sweep.sample import compute_task
from pipeline.sweep.validate import parse_spec

SPEC = """
name = "planning-bench"
seed = 1
[[experiment]]
name = "sn"
architecture = "sn"
n = [6]
samples = {samples}
samples_per_task = 1
measures = ["vn"]
[experiment.subsystem]
kind = "window"
m = "1..3"
windows = 2
"""

VALIDATE_SECONDS = 5.0
VALIDATE_MIB = 512
RESUME_SECONDS = 10.0


def validate(tasks: int, folder: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of ``nqs-ent validate`` on a ``tasks``-task spec."""
    spec = folder / "validate.toml"
    spec.write_text(SPEC.format(samples=tasks))
    script = (
        "import resource, sys; from pipeline.cli import main; code = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
        "sys.exit(code)"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", script, "validate", str(spec), "--store", str(folder / "v.zarr")],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return seconds, int(result.stderr.strip().splitlines()[-1]) / 1024


def filled_store(tasks: int, folder: Path) -> tuple[Path, object]:
    """A store of ``tasks`` done tasks, all copies of one computed task."""
    sweep = parse_spec(SPEC.format(samples=tasks))
    path = folder / f"resume-{tasks}.zarr"
    store.create(path, sweep)
    experiment = sweep.experiments[0]
    first = next(iter_tasks(sweep))
    values, orders, status, certified = compute_task(sweep, first, "numpy")
    store.write_task(path, experiment, first, values, orders, status, certified=certified)
    names = [*store.data_files(experiment), "chunk_crc32", "done"]
    sources = {name: store.chunk_file(path, experiment, name, (0,), 0) for name in names}
    for block in range(1, tasks):
        for name, source in sources.items():
            target = store.chunk_file(path, experiment, name, (0,), block)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return path, sweep


def find_remaining(path: Path, sweep, damaged_block: int) -> float:
    """Seconds for ``pending_tasks``; checks that it finds exactly the damaged task."""
    experiment = sweep.experiments[0]
    target = store.chunk_file(path, experiment, "S_vn", (0,), damaged_block)
    content = bytearray(target.read_bytes())
    content[-1] ^= 1  # one bit, same size
    target.write_bytes(bytes(content))
    started = time.perf_counter()
    pending = pending_tasks(path, sweep, select_experiments(sweep, None))
    found = [task.block for task in pending.tasks]
    seconds = time.perf_counter() - started
    if found != [damaged_block] or pending.skipped != experiment.n_tasks - 1:
        raise RuntimeError(f"resume found {found[:5]}, expected [{damaged_block}]")
    return seconds


def decoded_check(path: Path, sweep) -> float:
    """Seconds for the baseline: decode the done flags and every chunk through Zarr."""
    experiment = sweep.experiments[0]
    started = time.perf_counter()
    done = np.asarray(zarr_open(path, "sn/done")[...]).astype(bool)
    store.decoded_damaged_tasks(path, experiment, done)
    return time.perf_counter() - started


def zarr_open(path: Path, name: str):
    import zarr

    return zarr.open_array(str(path), path=name, mode="r")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def bench_planning(
    tasks: int = 1_000_000, resume_tasks: int = 100_000, baseline_tasks: int = 10_000
) -> int:
    """Run both measurements and print them; the number of targets missed."""
    args = argparse.Namespace(tasks=tasks, resume_tasks=resume_tasks, baseline_tasks=baseline_tasks)
    misses = 0
    with tempfile.TemporaryDirectory(prefix="nqs-ent-planning-") as tmp:
        folder = Path(tmp)
        seconds, mib = validate(args.tasks, folder)
        ok = seconds <= VALIDATE_SECONDS and mib <= VALIDATE_MIB
        misses += not ok
        print(
            f"validate, {args.tasks} tasks: {seconds:.2f} s, peak {mib:.0f} MiB "
            f"(targets <= {VALIDATE_SECONDS:g} s, <= {VALIDATE_MIB} MiB)  {verdict(ok)}"
        )
        started = time.perf_counter()
        path, sweep = filled_store(args.resume_tasks, folder)
        print(f"(filled a {args.resume_tasks}-task store in {time.perf_counter() - started:.1f} s)")
        ours = find_remaining(path, sweep, damaged_block=args.resume_tasks // 2)
        ok = ours <= RESUME_SECONDS
        misses += not ok
        print(
            f"resume, {args.resume_tasks} tasks, one flipped bit to find: {ours:.2f} s "
            f"(target <= {RESUME_SECONDS:g} s)  {verdict(ok)}"
        )
        small, small_sweep = filled_store(args.baseline_tasks, folder)
        base = decoded_check(small, small_sweep)
        ours_small = find_remaining(small, small_sweep, damaged_block=args.baseline_tasks // 2)
        scaled = base * args.resume_tasks / args.baseline_tasks
        print(
            f"baseline (decode every chunk), {args.baseline_tasks} tasks: {base:.2f} s against "
            f"{ours_small:.2f} s with checksums ({base / ours_small:.0f}x); scaled to "
            f"{args.resume_tasks} tasks about {scaled:.0f} s ({scaled / ours:.0f}x)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of this process: {peak:.0f} MiB")
    return misses
