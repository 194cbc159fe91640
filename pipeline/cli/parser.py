"""The ``nqs-ent`` argument parser: every command and option, nothing imported that a
command does not need (``nqs-ent --help`` starts without NumPy's heavy neighbours)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

from pipeline.bench.paper import WORKFLOWS as PAPER_WORKFLOWS
from pipeline.cli import commands
from pipeline.cli.errors import EXIT_USAGE, one_line
from pipeline.cli.errors import excerpt as _excerpt
from pipeline.numerics.xp import BACKENDS
from pipeline.run.clusters import CLUSTERS, CONNECT_TIMEOUT
from pipeline.sweep.spec import DTYPES, METHODS
from pipeline.sweep.subsystems import KINDS


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


BENCH_METHODS = ("kernel", "floor", "svd", "quimb")
"""What ``bench spectra`` can time (the names ``pipeline.bench.spectra`` knows)."""


def _sizes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(v < 2 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected qubit counts >= 2 like 20,22,24, got {_excerpt(text)}"
        )
    return values


def _comma_list(what: str, allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    """An argument type: a comma list of names from ``allowed``."""

    def parse(text: str) -> list[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        if not values or any(v not in allowed for v in values):
            raise argparse.ArgumentTypeError(
                f"{what} must be a comma list of {', '.join(allowed)}, got {_excerpt(text)}"
            )
        return values

    return parse


_methods = _comma_list("methods", BENCH_METHODS)
_workflows = _comma_list("workflows", PAPER_WORKFLOWS)


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        line = one_line(f"{self.prog}: {message} (see --help)")
        self.exit(EXIT_USAGE, f"nqs-ent: error: {line}\n")


def _author_options(p: argparse.ArgumentParser) -> None:
    """``--author-python`` and ``--peer``: where the author's code and its torch are."""
    p.add_argument(
        "--author-python",
        default=sys.executable,
        help="a Python with torch for the author's code (default: this one)",
    )
    p.add_argument(
        "--peer", default=None, help="the author's code (default ../shared/peers/bound-nqs)"
    )


def _bench_backend(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy"), help=what)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nqs-ent",
        description="Entanglement of random neural quantum states, exactly, at scale.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("entropy", help="one ensemble in this process: mean and SE per |A|")
    p.add_argument("architecture", help="registered architecture (sn, mlp, transformer, ...)")
    p.add_argument("-n", type=int, default=None, help="number of spins (default 12, or the files')")
    p.add_argument("--samples", type=int, default=None, help="networks drawn (default 10)")
    p.add_argument(
        "--params",
        nargs="+",
        default=None,
        metavar="FILE",
        help="measure networks from parameter files instead of drawing them (.npz, "
        ".safetensors, NetKet .mpack, torch .pt): one network each",
    )
    p.add_argument("--subsystem", default="window", choices=KINDS)
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
    p.add_argument("--backend", default="numpy", choices=BACKENDS)
    p.add_argument("--dtype", default="complex128", choices=DTYPES)
    p.add_argument(
        "--method",
        default="dense",
        choices=METHODS,
        help="dense (the state vector), streaming (certified intervals from tiles, never "
        "psi), auto (streaming where dense would not fit), exact (closed form at any n: "
        "random_feature cos/sin, dicke, ghz, product)",
    )
    p.add_argument(
        "--tolerance", type=float, default=None, help="streaming: target interval width, nats"
    )
    p.add_argument("--max-rank", type=int, default=None, help="streaming: largest basis")
    p.set_defaults(func=commands.cmd_entropy)

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
        choices=CLUSTERS,
        help="start this kind of cluster (default local)",
    )
    cluster_options(p)
    p.add_argument("--backend", choices=BACKENDS, help="override the spec's backend")
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
        metavar="NAME[:KEY=VALUE...][,NAME...]",
        help="run only these experiments of the spec, or only some of their sizes and "
        "grid points (e.g. mlp:n=32, tanhnet:hidden=1), into the same store; a later run "
        "without --only computes the rest",
    )
    p.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=CONNECT_TIMEOUT,
        metavar="SECONDS",
        help="give up on --scheduler/--scheduler-file after this long (default 30)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=commands.cmd_run)

    p = sub.add_parser("validate", help="check a spec: tasks, memory, disk; runs nothing")
    p.add_argument("spec")
    p.add_argument("--store", help="Zarr store (default data/runs/<spec name>.zarr)")
    cluster_options(p)
    p.set_defaults(func=commands.cmd_validate)

    p = sub.add_parser("status", help="done/total tasks per experiment of a store")
    p.add_argument("store")
    p.set_defaults(func=commands.cmd_status)

    p = sub.add_parser("plot", help="figures of a store (PNG and PDF) into a folder")
    p.add_argument("store", help="a results store written by nqs-ent run")
    p.add_argument("--out", default="figures", help="folder for the figures (default ./figures)")
    p.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=("png", "pdf", "svg"),
        help="file format, repeatable (default png and pdf)",
    )
    p.add_argument(
        "--measure", default=None, help="entropy variable, e.g. S_vn (default), S_renyi2, S_inf"
    )
    p.set_defaults(func=commands.cmd_plot)

    p = sub.add_parser("slurm", help="SLURM batch scripts and jobqueue settings from site options")
    p.add_argument(
        "--config", help="site config (default: $NQS_ENT_SITE_CONFIG or the packaged site.toml)"
    )
    what = p.add_subparsers(dest="slurm_command", required=True, parser_class=_Parser)
    render = what.add_parser("render", help="the whole-sweep batch script")
    render.add_argument("--spec", help="default SPEC baked into the script")
    render.add_argument("--store", help="default STORE baked into the script")
    header = what.add_parser("header", help="the #SBATCH lines only")
    jobqueue = what.add_parser("jobqueue", help="dask_jobqueue.SLURMCluster keyword arguments")
    site = what.add_parser("site", help="the packaged site.toml, to copy and edit")
    for q in (render, header, jobqueue, site):
        q.add_argument("--gpu", action="store_true", help="apply the [gpu] table")
    p.set_defaults(func=commands.cmd_slurm)

    p = sub.add_parser("platform", help="BLAS kernel, SIMD level and package versions here")
    p.add_argument(
        "--older-cpu",
        action="store_true",
        help="print the environment that emulates the next older CPU (exit 1 if none)",
    )
    p.set_defaults(func=commands.cmd_platform)

    bench_parser = sub.add_parser("bench", help="benchmarks, printed with ratios to baselines")
    which = bench_parser.add_subparsers(dest="benchmark", required=True, parser_class=_Parser)
    p = which.add_parser("spectra", help="half-cut entropy: our kernel, SVD, quimb, floor")
    p.add_argument(
        "--sizes", type=_sizes, default=[20, 22, 24], help="qubit counts (default 20,22,24)"
    )
    p.add_argument(
        "--repeats", type=_positive, default=1, help="best of this many runs (default 1)"
    )
    p.add_argument(
        "--methods",
        type=_methods,
        default=list(BENCH_METHODS),
        help=f"comma list of {','.join(BENCH_METHODS)} (default all)",
    )
    p.set_defaults(func=commands.cmd_bench_spectra)
    p = which.add_parser("nested", help="nested windows against one spectrum per window")
    p.add_argument("--n", type=_positive, default=22, help="qubits (default 22)")
    p.add_argument("--windows", type=_positive, default=10, help="windows (default 10)")
    p.set_defaults(func=commands.cmd_bench_nested)
    p = which.add_parser("sweep", help="Dask efficiency against a single-process loop")
    p.add_argument("--workers", type=_positive, default=2)
    p.add_argument("--task-seconds", type=_seconds, default=1.0)
    p.add_argument("--tasks", type=_positive, default=24)
    p.add_argument("--tiny-tasks", type=_positive, default=200)
    p.set_defaults(func=commands.cmd_bench_sweep)
    p = which.add_parser("states", help="one network's state: nqs-ent against the author's code")
    p.add_argument("--n", type=_positive, default=22, help="spins (default 22)")
    _author_options(p)
    _bench_backend(p, "cupy: nqs-ent on the GPU against the author's code on torch's CUDA device")
    p.set_defaults(func=commands.cmd_bench_states)
    p = which.add_parser("streaming", help="certified entropies beyond dense sizes (MLP-NQS)")
    p.add_argument("--sizes", type=_sizes, default=[24, 28, 32], help="spins (default 24,28,32)")
    p.add_argument("--workers", type=_positive, default=None, help="workers (default: cores)")
    p.add_argument(
        "--dense-max", type=_positive, default=24, help="largest n also run dense (default 24)"
    )
    _bench_backend(p, "cupy: tiles and sketches on the GPU (one worker thread)")
    p.set_defaults(func=commands.cmd_bench_streaming)
    p = which.add_parser("memory", help="a dense half-cut task's peak memory and its estimate")
    p.add_argument("--sizes", type=_sizes, default=[22, 24, 26], help="spins (default 22,24,26)")
    p.set_defaults(func=commands.cmd_bench_memory)
    p = which.add_parser(
        "paper", help="the paper's workflows end to end and the MLP run, against the author"
    )
    p.add_argument(
        "--workflows",
        type=_workflows,
        default=list(PAPER_WORKFLOWS),
        help=f"comma list of {','.join(PAPER_WORKFLOWS)} (default all)",
    )
    p.add_argument("--out", default=None, help="folder for the stores (default: a new temp one)")
    p.add_argument("--quick", action="store_true", help="the quick twins (for a smoke test)")
    p.add_argument("--no-author", action="store_true", help="skip the author's columns")
    p.add_argument("--no-mlp-run", action="store_true", help="skip the MLP run")
    _author_options(p)
    p.set_defaults(func=commands.cmd_bench_paper)
    p = which.add_parser("planning", help="validate and resume at 10^5-10^6 tasks")
    p.add_argument("--tasks", type=_positive, default=1_000_000, help="tasks to validate")
    p.add_argument(
        "--resume-tasks", type=_positive, default=100_000, help="tasks of the resume store"
    )
    p.add_argument(
        "--baseline-tasks",
        type=_positive,
        default=10_000,
        help="tasks of the store checked the slow way (decoding every chunk)",
    )
    p.set_defaults(func=commands.cmd_bench_planning)
    return parser
