"""What each ``nqs-ent`` command does. Heavy imports happen inside the command that needs
them, so that ``--help`` and ``validate`` start quickly.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from pipeline.cli.errors import excerpt as _excerpt


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
    ]
    sizes = {"n": args.n, "samples": args.samples}
    if args.params:  # n and samples default to the files'
        lines.append(f"params = {_toml(args.params)}")
    else:
        sizes = {"n": args.n or 12, "samples": args.samples or 10}
    lines += [f"{key} = {value}" for key, value in sizes.items() if value is not None]
    lines += [
        f"measures = {_toml(args.measures.split(','))}",
        f"method = {_toml(args.method)}",
    ]
    streaming = {"tolerance": args.tolerance, "max_rank": args.max_rank}
    if any(value is not None for value in streaming.values()):
        lines.append("[experiment.streaming]")
        lines += [f"{key} = {value!r}" for key, value in streaming.items() if value is not None]
    lines.append("[experiment.hyper]")
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
    import xarray as xr

    from pipeline.analysis.stats import ensemble_stats
    from pipeline.architectures import get_architecture
    from pipeline.sweep.plan import check_scale, iter_tasks
    from pipeline.sweep.sample import SAMPLE_STATUS, compute_task
    from pipeline.sweep.validate import parse_spec

    sweep = parse_spec(entropy_spec(args), source="nqs-ent entropy")
    check_scale(sweep)
    experiment = sweep.experiments[0]
    started = time.perf_counter()
    (task,) = list(iter_tasks(sweep))
    values, _, status, certified = compute_task(sweep, task, args.backend)
    seconds = time.perf_counter() - started
    hyper = experiment.hyper_at(task.grid_index)
    (n,) = experiment.n
    k = get_architecture(experiment.architecture).k(n, hyper)
    print(
        f"{experiment.architecture}, n = {n}, {experiment.samples} "
        f"{'network(s) from files' if experiment.params else 'samples'}, "
        f"{args.subsystem} subsystems x {experiment.subsystem.n_windows}, k = {k}, "
        f"entropies in nats (mean over windows, then mean and SE over samples)"
    )
    for i, source in enumerate(experiment.params):
        print(f"  sample {i}: {source.file} ({source.format}, sha256 {source.sha256[:12]})")
    print(f"{'m':>3}  {'measure':<9} {'mean':>10} {'SE':>10}")
    sizes, measures = experiment.all_sizes(), experiment.measures
    da = xr.DataArray(
        values,
        dims=("sample", "measure", "m", "window"),
        coords={"measure": list(measures), "m": list(sizes)},
    )
    stats = ensemble_stats(da)
    if certified is not None:  # worst certified width per size and measure
        width = np.nanmax(certified["hi"] - certified["lo"], axis=(0, 3))
        print(f"{'':>37} certified: worst width, rank, passes")
    for m in sizes:
        for measure in measures:
            row = stats.sel(m=m, measure=measure)
            mean, error = float(row["mean"]), float(row["se"])
            if math.isfinite(mean):
                line = f"{m:>3}  {measure:<9} {mean:>10.6f} {error:>10.6f}"
                if certified is not None:
                    i, j = measures.index(measure), sizes.index(m)
                    rank = int(np.nanmax(certified["rank"][:, j]))
                    passes = int(np.nanmax(certified["passes"][:, j]))
                    line += f"  {width[i, j]:10.2e} {rank:>6} {passes:>4}"
                print(line)
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


def _store_path(args: argparse.Namespace, name: str) -> Path:
    return Path(args.store) if args.store else DEFAULT_RUNS / f"{name}.zarr"


def cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.run.clusters import default_workers, worker_memory
    from pipeline.store.layout import check_compatible
    from pipeline.store.lock import check_location, check_space
    from pipeline.sweep.plan import check_memory, check_scale, format_bytes, peak_task_bytes
    from pipeline.sweep.validate import load_spec

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
    if sweep.cluster.overrides:
        overrides = ", ".join(f"{key}={value!r}" for key, value in sweep.cluster.overrides)
        print(f"  [cluster] for --cluster slurm: {overrides}")
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
    from pipeline.analysis.tables import summary_table
    from pipeline.run.engine import run_sweep
    from pipeline.sweep.validate import load_spec

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
    if report.failed:
        return EXIT_FAILED
    return EXIT_INTERRUPTED if report.interrupted else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.store.integrity import progress
    from pipeline.store.layout import StoreError, read_root_attrs

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


DEFAULT_RUNS = Path("data/runs")


def cmd_plot(args: argparse.Namespace) -> int:
    """``nqs-ent plot``: write the store's figures and list them."""
    import matplotlib

    matplotlib.use("Agg")
    from pipeline.analysis.plots import FORMATS, plot_store

    try:
        written = plot_store(args.store, args.out, tuple(args.formats or FORMATS), args.measure)
    except ValueError as error:  # a measure or figure the store does not have
        raise UsageError(str(error)) from None
    if not written:
        print(f"nqs-ent plot: no figure applies to the experiments of {args.store}")
    for path in written:
        print(path)
    return EXIT_OK


def cmd_slurm(args: argparse.Namespace) -> int:
    """``nqs-ent slurm``: print a rendered script, its header, the jobqueue settings or the
    packaged site config."""
    from pipeline.run.site import load_site_config, site_config_text
    from pipeline.run.slurm import jobqueue_kwargs, render_header, render_sweep_script

    if args.slurm_command == "site":
        sys.stdout.write(site_config_text())
        return EXIT_OK
    try:
        options = load_site_config(args.config, gpu=args.gpu)
        if args.slurm_command == "render":
            text = render_sweep_script(options, args.spec, args.store, gpu=args.gpu)
        elif args.slurm_command == "header":
            text = render_header(options)
        else:
            text = "".join(f"{k} = {v!r}\n" for k, v in jobqueue_kwargs(options).items())
    except (ValueError, FileNotFoundError) as error:  # the site config's problem
        raise UsageError(str(error)) from None
    sys.stdout.write(text)
    return EXIT_OK


def cmd_platform(args: argparse.Namespace) -> int:
    """``nqs-ent platform``: what decides the last bits of the numbers here (JSON), or with
    ``--older-cpu`` the shell lines that emulate the next older CPU."""
    from pipeline.numerics import provenance

    if args.older_cpu:
        env = provenance.older_cpu_environment()
        if env is None:
            print("# this CPU has no AVX2 or AVX-512 dispatch; nothing older to emulate")
            return EXIT_FAILED
        for key, value in env.items():
            print(f"export {key}='{value}'")  # for a shell's eval
        return EXIT_OK
    print(json.dumps({"versions": provenance.versions(), **provenance.platform()}, indent=1))
    return EXIT_OK


def _verdict(misses: int) -> int:
    """A benchmark's exit status: 1 when a target was missed."""
    return EXIT_FAILED if misses else EXIT_OK


def cmd_bench_spectra(args: argparse.Namespace) -> int:
    from pipeline.bench.spectra import bench_spectra, verdicts

    rows = bench_spectra(sizes=args.sizes, repeats=args.repeats, methods=args.methods)
    statuses = [status for status, _ in verdicts(rows[-1])] if rows else []
    return _verdict(statuses.count("MISS"))


def cmd_bench_nested(args: argparse.Namespace) -> int:
    from pipeline.bench.spectra import NESTED_FLOOR_TARGET, bench_nested

    result = bench_nested(n=args.n, windows=args.windows)
    return _verdict(result["nested_s"] > NESTED_FLOOR_TARGET * result["floor_s"])


def cmd_bench_sweep(args: argparse.Namespace) -> int:
    from pipeline.bench.sweep import EFFICIENCY_TARGET, bench_sweep

    results = bench_sweep(
        workers=args.workers,
        task_seconds=args.task_seconds,
        tasks=args.tasks,
        tiny_tasks=args.tiny_tasks,
    )
    return _verdict(results["efficiency"] < EFFICIENCY_TARGET)


def cmd_bench_planning(args: argparse.Namespace) -> int:
    from pipeline.bench.planning import bench_planning

    return _verdict(bench_planning(args.tasks, args.resume_tasks, args.baseline_tasks))


def cmd_bench_states(args: argparse.Namespace) -> int:
    from pipeline.bench.states import PEER, bench_states

    peer = Path(args.peer) if args.peer else PEER
    return _verdict(bench_states(args.n, args.author_python, peer=peer, backend=args.backend))


def cmd_bench_paper(args: argparse.Namespace) -> int:
    from pipeline.bench.paper import bench_paper
    from pipeline.bench.states import PEER

    return _verdict(
        bench_paper(
            args.workflows,
            out=Path(args.out) if args.out else None,
            author_python=args.author_python,
            peer=Path(args.peer) if args.peer else PEER,
            quick=args.quick,
            author=not args.no_author,
            mlp_run=not args.no_mlp_run,
        )
    )


def cmd_bench_memory(args: argparse.Namespace) -> int:
    from pipeline.bench.memory import bench_memory

    return _verdict(bench_memory(args.sizes))


def cmd_bench_streaming(args: argparse.Namespace) -> int:
    from pipeline.bench.streaming import bench_streaming

    return _verdict(bench_streaming(args.sizes, args.workers, args.dense_max, backend=args.backend))
