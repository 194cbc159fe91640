"""The ``nqs-ent`` command line.

Exit status: 0 done; 1 some tasks failed; 2 invalid input (spec, sizes, store), nothing
written; 75 stopped early (signal or ``--stop-after``), rerun to resume.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pipeline.engine import EXIT_USAGE
from pipeline.errors import excerpt as _excerpt
from pipeline.errors import one_line

DEFAULT_RUNS = Path("data/runs")


class UsageError(Exception):
    """Bad input: reported on one line, exit status 2."""


def _input_errors() -> tuple[type[BaseException], ...]:
    from pipeline.engine import ClusterError
    from pipeline.plan import PlanError
    from pipeline.spec import SpecError
    from pipeline.store import StoreError
    from pipeline.xp import BackendError

    return (UsageError, SpecError, PlanError, StoreError, BackendError, ClusterError)


def _bytes(text: str) -> int:
    from dask.utils import parse_bytes

    try:
        value = int(parse_bytes(text))
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(f"not a size: {_excerpt(text)} (e.g. 4GiB)") from error
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a positive size (e.g. 4GiB), got {_excerpt(text)}"
        )
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds, got {_excerpt(text)}"
        )
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {_excerpt(text)}")
    return value


# ------------------------------------------------------------------------------ entropy


def _toml_value(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def entropy_spec(args: argparse.Namespace) -> str:
    """The one-experiment spec text that ``nqs-ent entropy`` runs."""
    lines = [
        'name = "entropy"',
        f"seed = {args.seed}",
        f"backend = {_toml(args.backend)}",
        f"dtype = {_toml(args.dtype)}",
        "[[experiment]]",
        f"name = {_toml(args.architecture)}",
        f"architecture = {_toml(args.architecture)}",
        f"n = {args.n}",
        f"samples = {args.samples}",
        f"measures = {_toml(args.measures.split(','))}",
        "[experiment.hyper]",
    ]
    for item in args.hyper:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--hyper {_excerpt(item)}: expected key=value")
        lines.append(f"{key.strip()} = {_toml(_toml_value(value.strip()))}")
    lines += ["[experiment.subsystem]", f"kind = {_toml(args.subsystem)}"]
    if args.subsystem == "explicit":
        try:
            sites = json.loads(args.sites)
        except ValueError as error:
            raise UsageError(
                f"--sites {_excerpt(args.sites)} is not JSON ({error.args[0].split(':')[0]}); "
                "write subsets as a JSON array of arrays, e.g. '[[0,1],[0,2]]'"
            ) from None
        lines.append(f"sites = {_toml(sites)}")
    else:
        m = args.m if args.m is not None else "1..n//2"
        lines.append(f"m = {_toml(_toml_value(m) if m.lstrip('[').isdigit() else m)}")
        if args.subsystem != "first":
            lines.append(f"windows = {args.windows}")
    return "\n".join(lines) + "\n"


def cmd_entropy(args: argparse.Namespace) -> int:
    """Draw a seeded ensemble in this process and print mean and SE per subsystem size."""
    import numpy as np

    from pipeline.architectures import get_architecture
    from pipeline.compute import SAMPLE_STATUS, summary_rows
    from pipeline.engine import compute_task
    from pipeline.plan import check_scale, iter_tasks
    from pipeline.spec import parse_spec

    sweep = parse_spec(entropy_spec(args), source="nqs-ent entropy")
    check_scale(sweep)
    experiment = sweep.experiments[0]
    started = time.perf_counter()
    (task,) = list(iter_tasks(sweep))
    values, _, status = compute_task(sweep, task, args.backend)
    seconds = time.perf_counter() - started
    hyper = experiment.hyper_at(task.grid_index)
    k = get_architecture(experiment.architecture).k(args.n, hyper)
    print(
        f"{experiment.architecture}, n = {args.n}, {args.samples} samples, "
        f"{args.subsystem} subsystems x {experiment.subsystem.n_windows}, k = {k}, "
        f"entropies in nats (mean over windows, then mean and SE over samples)"
    )
    print(f"{'m':>3}  {'measure':<9} {'mean':>10} {'SE':>10}")
    for m, measure, mean, error in summary_rows(
        values, experiment.all_sizes(), experiment.measures
    ):
        print(f"{m:>3}  {measure:<9} {mean:>10.6f} {error:>10.6f}")
    ok = SAMPLE_STATUS.index("ok")
    if np.any(status != ok):
        causes = ", ".join(
            f"{SAMPLE_STATUS[code]} {int(np.sum(status == code))}"
            for code in sorted(set(status.tolist()) - {ok})
        )
        print(
            f"samples not ok: {int(np.sum(status != ok))} of {len(status)} ({causes}): their "
            f"state could not be normalised; mean and SE are over the {int(np.sum(status == ok))} "
            "others"
        )
    print(f"time: {seconds:.2f} s")
    return 0


# ---------------------------------------------------------------------------- sweeps


def _store_path(args: argparse.Namespace, name: str) -> Path:
    return Path(args.store) if args.store else DEFAULT_RUNS / f"{name}.zarr"


def cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.engine import default_workers, worker_memory
    from pipeline.plan import check_memory, check_scale, format_bytes, peak_task_bytes
    from pipeline.spec import load_spec
    from pipeline.store import check_compatible, check_location, check_space

    sweep = load_spec(args.spec)
    estimate = check_scale(sweep)
    path = _store_path(args, sweep.name)
    print(f"spec {sweep.name!r} ({args.spec}), digest {sweep.digest[:12]}, seed {sweep.seed}")
    for experiment in sweep.experiments:
        print(
            f"  {experiment.name}: {experiment.architecture}, n = {list(experiment.n)}, "
            f"{len(experiment.grid())} grid point(s), {experiment.samples} samples, "
            f"{experiment.n_tasks} tasks"
        )
    peak, where = peak_task_bytes(sweep)
    workers = args.workers or default_workers()
    limit = worker_memory(workers, args.memory_limit)
    print(f"tasks: {sweep.n_tasks}")
    print(
        f"largest task: about {format_bytes(peak)} ({where}); "
        f"worker memory limit {format_bytes(limit)}"
    )
    check_memory(sweep, limit)
    creating = check_compatible(path, sweep) == "create"
    check_location(path)
    if creating:
        check_space(path, estimate)
    where = f"new store {path}" if creating else f"resumes {path}"
    print(
        f"store: about {format_bytes(estimate.bytes)} on disk in {estimate.files} files "
        f"when complete ({where})"
    )
    print("ok")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.engine import run_sweep, summary_table
    from pipeline.spec import load_spec

    sweep = load_spec(args.spec)
    path = _store_path(args, sweep.name)
    report = run_sweep(
        sweep,
        path,
        scheduler=args.scheduler,
        scheduler_file=args.scheduler_file,
        cluster=args.cluster,
        workers=args.workers,
        memory_limit=args.memory_limit,
        backend=args.backend,
        max_in_flight=args.max_in_flight,
        stop_after=args.stop_after,
        only=args.only,
        connect_timeout=args.connect_timeout,
        show_progress=not args.no_progress,
        echo=lambda line: print(line, file=sys.stderr, flush=True),
    )
    rate = f", {report.task_seconds / report.computed:.2f} s per task" if report.computed else ""
    not_ok = f" ({report.not_ok} samples not ok, see the table)" if report.not_ok else ""
    print(
        f"run: {report.computed} computed{not_ok}, {report.skipped} skipped (already done), "
        f"{len(report.failed)} failed, in {report.seconds:.1f} s{rate}",
        file=sys.stderr,
    )
    for failure in report.failed:
        print(f"failed: {failure}", file=sys.stderr)
    if not report.interrupted:
        print(summary_table(path, sweep))
        print(
            f'\nstore: {path}\nopen it with:  python -c "import pipeline; '
            f"print(pipeline.load('{path}'))\""
        )
    return report.exit_code


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.store import StoreError, progress, read_root_attrs

    path = Path(args.store)
    if not path.exists():
        raise StoreError(f"{path} does not exist")
    rows = progress(path)
    attrs = read_root_attrs(path) or {}
    print(
        f"store {path}: spec {attrs.get('spec_name')!r}, digest "
        f"{str(attrs.get('spec_digest'))[:12]}, created {attrs.get('created')}"
    )
    total_done = total = 0
    for name, done, count, samples in rows:
        bad = {cause: c for cause, c in samples.items() if cause not in ("ok", "pending") and c}
        note = ""
        if bad:
            causes = ", ".join(f"{cause} {c}" for cause, c in bad.items())
            note = f"; samples not ok: {sum(bad.values())} ({causes})"
        print(f"  {name:<24} {done:>7}/{count:<7} tasks done{note}")
        total_done += done
        total += count
    print(f"  {'all':<24} {total_done:>7}/{total:<7} tasks done")
    return 0


# -------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        line = one_line(f"{self.prog}: {message} (see --help)")
        self.exit(EXIT_USAGE, f"nqs-ent: error: {line}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nqs-ent",
        description="Entanglement of random neural quantum states, exactly, at scale.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("entropy", help="one ensemble in this process: mean and SE per |A|")
    p.add_argument("architecture", help="registered architecture (sn, mlp, transformer, ...)")
    p.add_argument("-n", type=int, default=12, help="number of spins (default 12)")
    p.add_argument("--samples", type=int, default=10, help="networks drawn (default 10)")
    p.add_argument(
        "--subsystem", default="window", choices=("first", "window", "random", "explicit")
    )
    p.add_argument("--m", default=None, help="sizes: int, [list] or range '1..n//2' (default)")
    p.add_argument("--windows", type=int, default=4, help="subsystems per sample (default 4)")
    p.add_argument("--sites", default="[[0]]", help="explicit subsets as JSON, e.g. [[0,2]]")
    p.add_argument("--measures", default="vn,renyi2", help="comma list: vn, renyi<a>, inf")
    p.add_argument(
        "--hyper",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="hyperparameter (repeatable), e.g. --hyper activation=sin",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy", "auto"))
    p.add_argument("--dtype", default="complex128", choices=("complex128", "complex64"))
    p.set_defaults(func=cmd_entropy)

    def cluster_options(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--workers", type=_positive, default=None, help="local workers (default: one per core)"
        )
        q.add_argument(
            "--memory-limit",
            type=_bytes,
            default=None,
            help="memory per local worker, e.g. 4GiB (default: an equal share)",
        )

    p = sub.add_parser("run", help="run or resume a sweep spec into a Zarr store")
    p.add_argument("spec", help="sweep spec (TOML), e.g. workflows/quickstart.toml")
    p.add_argument("--store", help="Zarr store (default data/runs/<spec name>.zarr)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--scheduler", help="address of a running Dask scheduler")
    group.add_argument("--scheduler-file", help="scheduler file of a running Dask scheduler")
    group.add_argument(
        "--cluster",
        default="local",
        choices=("local", "slurm", "local-cuda"),
        help="start this kind of cluster (default local)",
    )
    cluster_options(p)
    p.add_argument(
        "--backend", choices=("numpy", "cupy", "auto"), help="override the spec's backend"
    )
    p.add_argument(
        "--max-in-flight",
        type=_positive,
        default=None,
        help="tasks on the cluster at once (default 2 per worker thread, >= 4)",
    )
    p.add_argument(
        "--stop-after",
        type=_positive,
        default=None,
        help="stop after this many tasks (exit 75; rerun to resume)",
    )
    p.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=None,
        metavar="NAME[,NAME...]",
        help="run only these experiments of the spec (into the same store; "
        "a later run without --only computes the rest)",
    )
    p.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="give up on --scheduler/--scheduler-file after this long (default 30)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a spec: tasks, memory, disk; runs nothing")
    p.add_argument("spec")
    p.add_argument("--store", help="Zarr store (default data/runs/<spec name>.zarr)")
    cluster_options(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("status", help="done/total tasks per experiment of a store")
    p.add_argument("store")
    p.set_defaults(func=cmd_status)

    from pipeline import plots

    p = sub.add_parser("plot", help="figures of a store (PNG and PDF) into a folder")
    plots.add_arguments(p)
    p.set_defaults(func=plots.main_plot)

    bench_parser = sub.add_parser("bench", help="benchmarks, printed with ratios to baselines")
    which = bench_parser.add_subparsers(dest="benchmark", required=True, parser_class=_Parser)
    from pipeline import bench, bench_sweep

    p = which.add_parser("spectra", help="half-cut entropy: our kernel, SVD, quimb, floor")
    bench.add_arguments(p)
    p.set_defaults(func=bench.main_spectra)
    p = which.add_parser("nested", help="nested windows against one spectrum per window")
    bench.add_nested_arguments(p)
    p.set_defaults(func=bench.main_nested)
    p = which.add_parser("sweep", help="Dask efficiency against a single-process loop")
    bench_sweep.add_arguments(p)
    p.set_defaults(func=bench_sweep.main_sweep)
    return parser


EXIT_BROKEN_PIPE = 141
"""What a shell reports for a process killed by SIGPIPE (128 + 13)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already reported on one line
        return int(exit_.code or 0)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("nqs-ent: %(message)s"))
    ours = logging.getLogger("nqs_ent")
    ours.handlers[:] = [handler]
    ours.propagate = False
    ours.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if args.command == "run":
        import distributed  # noqa: F401  (applies its logging config first; then quiet it)

        for noisy in ("distributed", "tornado", "bokeh"):
            logging.getLogger(noisy).setLevel(logging.INFO if args.verbose else logging.ERROR)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # so a closed pipe shows up here, not at interpreter exit
        return status
    except _input_errors() as error:
        print(f"nqs-ent: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `nqs-ent status STORE | head`: the reader left early
        # Python's documented idiom: stdout to devnull so the final flush is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
