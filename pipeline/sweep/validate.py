"""Sweep specs: parse and validate a TOML file into the frozen dataclasses of
:mod:`pipeline.sweep.spec`.

The whole spec is checked here, before anything runs: every grid point's hyperparameters
are built and checked against every ``n``. Pure: no Dask, no store.

Format (``#`` comments are TOML comments)::

    name = "quickstart"        # required, [A-Za-z0-9_-]+
    seed = 1234                # required, int >= 0: root of numpy's SeedSequence
    backend = "numpy"          # numpy (default) | cupy | auto
    dtype = "complex128"       # complex128 (default) | complex64
    description = "..."        # optional free text

    [cluster]                  # optional: overrides of the SLURM site options (typed)

    [[experiment]]             # one or more
    name = "sn_real"           # required, unique (also ignoring case), [A-Za-z0-9_-]+
    architecture = "sn"        # required, a registered architecture
    n = [10, 12, 14]           # int or strictly increasing list, each 2 <= n <= 34
    samples = 20               # int >= 1: random networks per grid point
    # params = ["runs/rbm_*.npz"]   # optional: networks from files, one per sample (then
                               #   samples = the number of files, n and the shape
                               #   hyperparameters default to the files')
    samples_per_task = 5       # optional, 1 <= samples_per_task <= samples (default samples)
    measures = ["vn", "renyi2", "inf"]
    [experiment.hyper]         # optional; a list value is a sweep axis, in key order
    activation = ["tanh", "sin"]
    [experiment.subsystem]     # required
    kind = "window"            # first | window | random | explicit
    m = "1..n//2-2"            # int, list of ints, "a..b" (inclusive) or one expression "e"
    windows = 10               # window/random: per sample (default 1); first: 1 only
    # sites = [[0, 1], [0, 2, 5]]   # explicit only (then no m and no windows)
    method = "dense"           # dense (default) | streaming | auto (streaming where the
                               #   dense task would not fit a worker) | exact (closed
                               #   form at any n <= 4096: random_feature with cos or sin,
                               #   dicke, ghz, product)
    [experiment.streaming]     # optional, for streaming/auto (DESIGN section 6)
    tolerance = 1e-8           # target width of each certified interval, nats
    max_rank = 1024            # largest basis; the interval there is reported however wide
    block = 64                 # basis columns added per pass
    exact_dim = 256            # cuts with 2^|A| up to this are summed exactly

Measures: ``vn`` (von Neumann), ``renyi<alpha>`` with ``alpha`` a positive number other
than 1 written without superfluous zeros (``renyi2``, ``renyi0.5``), ``inf``
(min-entropy). Range ends are integer expressions in ``n`` built from integers, ``n``,
``+``, ``-``, ``*``, ``//`` and parentheses; ``/`` is refused (use ``//``), so a range
never depends on rounding. Every ``n`` must get at least one size and every size must
satisfy ``1 <= m <= n-1``; nothing is clipped silently.

Every problem raises :class:`SpecError` with a one-line message
``<source>: <key path>: <what is wrong and what is expected>``.
"""

from __future__ import annotations

import dataclasses
import difflib
import glob
import hashlib
import itertools
import json
import re
import tomllib
from os import PathLike
from pathlib import Path
from typing import Any, NoReturn

from pipeline.architectures import REGISTRY, Architecture, get_architecture, make_hyper
from pipeline.architectures.files import (
    NetworkFileError,
    check_network,
    complete_hyper,
    read_network,
)
from pipeline.numerics.measures import measure_order
from pipeline.numerics.streaming import StreamingOptions
from pipeline.numerics.xp import BACKENDS
from pipeline.sweep.cluster import ClusterSpec
from pipeline.sweep.sizes import parse_range
from pipeline.sweep.spec import (
    DTYPES,
    METHODS,
    N_MAX,
    N_MAX_EXACT,
    N_MIN,
    NOT_DIGESTED,
    Experiment,
    ParamsFile,
    SpecError,
    Sweep,
)
from pipeline.sweep.subsystems import KINDS, SubsystemSpec

_TOP_KEYS = ("name", "seed", "backend", "dtype", "description", "cluster", "experiment")


_EXPERIMENT_KEYS = (
    "name",
    "architecture",
    "n",
    "samples",
    "samples_per_task",
    "measures",
    "hyper",
    "params",
    "subsystem",
    "method",
    "streaming",
)


_STREAMING_KEYS = ("tolerance", "max_rank", "block", "exact_dim")


_SUBSYSTEM_KEYS = ("kind", "m", "windows", "sites")


_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _describe(value: Any) -> str:
    """``value`` with its TOML type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({list: "an array", dict: "a table"})
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{names.get(type(value), type(value).__name__)} {shown}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    """Raises :class:`SpecError` for one source, with key paths."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> NoReturn:
        raise SpecError(f"{self.source}: {path}: {message}")

    def keys(
        self, table: dict[str, Any], path: str, known: tuple[str, ...], required: tuple[str, ...]
    ) -> None:
        prefix = f"{path}." if path else ""
        for key in table:
            if key not in known:
                self.unknown(f"{prefix}{key}", key, known, "key")
        for key in required:
            if key not in table:
                self.fail(f"{prefix}{key}", "missing required key")

    def unknown(self, path: str, key: str, known: Any, what: str, owner: str = "") -> NoReturn:
        choices = sorted(known)
        close = difflib.get_close_matches(key, choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(choices) if choices else "none"
        self.fail(path, f"unknown {what} {key!r}{owner}{hint} (known: {listed})")

    def table(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a table, got {_describe(value)}")
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {_describe(value)}")
        return value

    def name(self, value: Any, path: str) -> str:
        self.string(value, path)
        if not _NAME.fullmatch(value):
            self.fail(
                path,
                f"{value!r} is not a valid name (expected 1 to 100 letters, digits, _ and -)",
            )
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        self.string(value, path)
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(path, f"{value!r} is not one of {', '.join(choices)}{hint}")
        return value

    def integer(
        self, value: Any, path: str, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        if not _is_int(value):
            self.fail(path, f"expected an integer, got {_describe(value)}")
        if minimum is not None and value < minimum:
            self.fail(path, f"{value} is out of range (expected an integer >= {minimum})")
        if maximum is not None and value > maximum:
            self.fail(path, f"{value} is out of range (expected an integer <= {maximum})")
        return value


def parse_spec(
    text: str, source: str = "<string>", folder: str | PathLike[str] | None = None
) -> Sweep:
    """Parse and validate a sweep spec given as TOML text.

    ``source`` names the spec in error messages (a file name). The whole spec is checked
    before anything runs (the format is in the module docstring): every key and type,
    every measure name, every subsystem size against every ``n`` (``1 <= m <= n - 1``,
    sizes in sites), and every grid point's hyperparameters against every ``n``. Pure: no
    Dask, no store, no files.

    Parameters
    ----------
    text : str
        The TOML text of the spec.
    source : str, default "<string>"
        What error messages call the spec (a file name).
    folder : path, optional
        Where relative ``params`` patterns are looked up (:func:`load_spec` passes the
        spec's folder); default the current directory.

    Returns
    -------
    Sweep
        The frozen, validated sweep; its ``digest`` (SHA-256 of the parsed TOML without
        ``cluster`` and ``description``) names its numbers, and ``text`` is ``text``.

    Raises
    ------
    SpecError
        For invalid TOML or any invalid value, with a one-line message
        ``<source>: <key path>: <what is wrong and what is expected>``.

    Examples
    --------
    >>> spec = parse_spec('''
    ... name = "demo"
    ... seed = 1
    ... [[experiment]]
    ... name = "sn"
    ... architecture = "sn"
    ... n = [6, 8]
    ... samples = 4
    ... samples_per_task = 3
    ... measures = ["vn", "renyi2"]
    ... hyper.activation = ["tanh", "sin"]
    ... subsystem = {kind = "first", m = "1..n//2"}
    ... ''')
    >>> spec.experiments[0].all_sizes(), spec.n_tasks
    ((1, 2, 3, 4), 8)
    >>> parse_spec('name = "demo"\\nseed = -1\\nexperiment = []', source="demo.toml")
    Traceback (most recent call last):
    ...
    pipeline.sweep.spec.SpecError: demo.toml: seed: -1 is out of range (expected an integer >= 0)
    """
    check = _Checker(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _TOML_POSITION.search(message)
        if found:
            where = f"line {found.group(1)}, column {found.group(2)}"
            message = message[: found.start()]
        else:
            where = f"line {getattr(error, 'lineno', '?')}"
        check.fail(where, f"invalid TOML: {message}")

    check.keys(data, "", _TOP_KEYS, ("name", "seed", "experiment"))
    name = check.name(data["name"], "name")
    seed = check.integer(data["seed"], "seed", minimum=0)
    backend = check.choice(data.get("backend", "numpy"), "backend", BACKENDS)
    dtype = check.choice(data.get("dtype", "complex128"), "dtype", DTYPES)
    description = check.string(data.get("description", ""), "description")
    try:
        cluster = ClusterSpec.from_table(check.table(data.get("cluster", {}), "cluster"))
    except ValueError as error:
        check.fail("cluster", str(error))

    tables = data["experiment"]
    if isinstance(tables, dict):
        check.fail("experiment", "write each experiment as [[experiment]] (an array of tables)")
    if not isinstance(tables, list) or not tables:
        check.fail("experiment", "expected at least one [[experiment]] table")
    experiments = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        experiment = _parse_experiment(check, table, index, Path(folder or "."))
        other = seen.get(experiment.name.lower())
        if other is not None:
            check.fail(
                f"experiment[{index}].name",
                f"{experiment.name!r} repeats the name of experiment[{other}] "
                "(names must be unique, also ignoring case: they are store group names)",
            )
        seen[experiment.name.lower()] = index
        experiments.append(experiment)

    # [cluster] and description say where and why, not what is computed: editing them
    # must not stop a store from resuming.
    numbers = {key: value for key, value in data.items() if key not in NOT_DIGESTED}
    files = {e.name: [f.sha256 for f in e.params] for e in experiments if e.params}
    if files:  # networks from files: other contents are other numbers
        numbers["params_sha256"] = files
    canonical = json.dumps(numbers, sort_keys=True, default=str)
    return Sweep(
        name=name,
        seed=seed,
        backend=backend,
        dtype=dtype,
        description=description,
        experiments=tuple(experiments),
        cluster=cluster,
        text=text,
        digest=hashlib.sha256(canonical.encode()).hexdigest(),
        folder=str(Path(folder or ".").resolve()),
    )


def load_spec(path: str | PathLike[str]) -> Sweep:
    """Read and validate the sweep spec in the TOML file ``path``.

    The file is read as UTF-8 and checked by :func:`parse_spec`, with ``str(path)`` as the
    source that error messages name.

    Parameters
    ----------
    path : str or os.PathLike
        The spec file.

    Returns
    -------
    Sweep
        The validated sweep (see :func:`parse_spec`).

    Raises
    ------
    SpecError
        When the file cannot be read or decoded, or the spec is invalid; the message
        starts with ``path``.

    Examples
    --------
    >>> import shutil, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "ghz.toml").write_text('''
    ... name = "ghz"
    ... seed = 7
    ... [[experiment]]
    ... name = "ghz"
    ... architecture = "ghz"
    ... n = 4
    ... samples = 1
    ... measures = ["vn"]
    ... subsystem = {kind = "first", m = 2}
    ... ''', encoding="utf-8")
    >>> sweep = load_spec(folder / "ghz.toml")
    >>> sweep.name, sweep.experiments[0].n, sweep.n_tasks
    ('ghz', (4,), 1)
    >>> load_spec(folder / "missing.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pipeline.sweep.spec.SpecError: .../missing.toml: cannot read the spec: ...
    >>> shutil.rmtree(folder)
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read the spec: {error}") from None
    return parse_spec(text, source=str(path), folder=Path(path).parent)


def _parse_experiment(check: _Checker, table: Any, index: int, folder: Path) -> Experiment:
    path = f"experiment[{index}]"
    table = check.table(table, path)
    required: tuple[str, ...] = ("name", "architecture", "n", "samples", "measures", "subsystem")
    if "params" in table:  # the files say how many networks, and of which size
        required = ("name", "architecture", "measures", "subsystem")
    check.keys(table, path, _EXPERIMENT_KEYS, required)
    name = check.name(table["name"], f"{path}.name")

    architecture_name = check.string(table["architecture"], f"{path}.architecture")
    if architecture_name not in REGISTRY:
        check.unknown(f"{path}.architecture", architecture_name, REGISTRY, "architecture")
    architecture = get_architecture(architecture_name)

    params: tuple[ParamsFile, ...] = ()
    if "params" in table:
        table, params = _parse_params(check, table, path, architecture, folder)
    exact = table.get("method") == "exact"
    n = _parse_n(check, table["n"], f"{path}.n", N_MAX_EXACT if exact else N_MAX)
    samples = check.integer(table["samples"], f"{path}.samples", minimum=1)
    samples_per_task = check.integer(
        table.get("samples_per_task", samples), f"{path}.samples_per_task", minimum=1
    )
    if samples_per_task > samples:
        check.fail(
            f"{path}.samples_per_task",
            f"{samples_per_task} is greater than samples = {samples} (expected at most {samples})",
        )
    measures = _parse_measures(check, table["measures"], f"{path}.measures")
    subsystem = _parse_subsystem(check, table["subsystem"], f"{path}.subsystem", n)
    hyper = check.table(table.get("hyper", {}), f"{path}.hyper")
    axes, fixed = _parse_hyper(check, hyper, f"{path}.hyper", architecture, n)
    method = check.choice(table.get("method", "dense"), f"{path}.method", METHODS)
    streaming = _parse_streaming(check, table.get("streaming", {}), f"{path}.streaming", method)
    experiment = Experiment(
        index=index,
        name=name,
        architecture=architecture_name,
        n=n,
        samples=samples,
        samples_per_task=samples_per_task,
        measures=measures,
        hyper_axes=axes,
        hyper_fixed=fixed,
        subsystem=subsystem,
        method=method,
        streaming=streaming,
        params=params,
    )
    if method == "exact":
        for _, hyper in experiment.grid():
            if not architecture.has_exact(hyper):
                which = ", ".join(name for name, a in REGISTRY.items() if a.exact_spectrum)
                where = " with these hyperparameters" if architecture.exact_spectrum else ""
                check.fail(
                    f"{path}.method",
                    f'"exact" needs a closed-form spectrum, which {architecture_name} has '
                    f"not{where} (those with one: {which}; random_feature with activation "
                    "cos or sin)",
                )
    return experiment


def _parse_params(
    check: _Checker, table: dict[str, Any], path: str, architecture: Architecture, folder: Path
) -> tuple[dict[str, Any], tuple[ParamsFile, ...]]:
    """Expand ``params`` (glob patterns, relative to ``folder``; each pattern's matches in
    natural order, so ``step2`` before ``step10``), read every file and check it against
    the hyperparameters. Returns the experiment table with ``n``, ``samples`` and the
    shape hyperparameters the files imply filled in where the spec left them out."""
    patterns = table["params"]
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns:
        check.fail(
            f"{path}.params",
            f"expected a file pattern or a non-empty array of them, got {_describe(patterns)}",
        )
    files: list[str] = []
    for i, pattern in enumerate(patterns):
        check.string(pattern, f"{path}.params[{i}]")
        matches = sorted(glob.glob(str(folder / Path(pattern).expanduser())), key=_natural)
        if not matches:
            check.fail(
                f"{path}.params[{i}]", f"{pattern!r} matches no file (in {folder.resolve()})"
            )
        files += [str(Path(m).resolve()) for m in matches if str(Path(m).resolve()) not in files]
    hyper = dict(check.table(table.get("hyper", {}), f"{path}.hyper"))
    for key, value in hyper.items():
        if isinstance(value, list):
            check.fail(
                f"{path}.hyper.{key}",
                "a sweep axis does not apply to networks from files (each file is one "
                "network); give a scalar",
            )
    try:
        first = read_network(files[0], architecture.name)
    except NetworkFileError as error:
        check.fail(f"{path}.params", str(error))
    if "n" not in table and first.n is None:
        check.fail(
            f"{path}.n",
            f"missing required key ({files[0]} does not say how many spins; give n, or -n)",
        )
    n = table.get("n", first.n)
    if not isinstance(n, int) or (first.n is not None and n != first.n):
        check.fail(
            f"{path}.n",
            f"{n!r} does not fit the files: {files[0]} reads {first.n} spins (one n per file set)",
        )
    samples = table.get("samples", len(files))
    if samples != len(files):
        check.fail(
            f"{path}.samples",
            f"{samples!r}, but params names {len(files)} file(s), one network each "
            "(leave samples out)",
        )
    hyper = complete_hyper(first, architecture, hyper)
    try:
        values = make_hyper(architecture, hyper)
    except ValueError as error:
        check.fail(f"{path}.hyper", f"{error} (with the values {files[0]} implies)")
    sources = []
    for file in files:
        try:
            network = first if file == first.path else read_network(file, architecture.name)
            check_network(network, architecture, n, values)
        except NetworkFileError as error:
            check.fail(f"{path}.params", str(error))
        sources.append(ParamsFile(**network.provenance()))
    return {**table, "n": n, "samples": samples, "hyper": hyper}, tuple(sources)


def _natural(text: str) -> list[Any]:
    """Sort key: digit runs compare as numbers (``step2`` < ``step10``)."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)
    ]


def _parse_streaming(check: _Checker, value: Any, path: str, method: str) -> StreamingOptions:
    table = check.table(value, path)
    check.keys(table, path, _STREAMING_KEYS, ())
    if table and method in ("dense", "exact"):
        check.fail(path, 'streaming options need method = "streaming" or "auto"')
    defaults = StreamingOptions()
    tolerance = table.get("tolerance", defaults.tolerance)
    if not isinstance(tolerance, int | float) or isinstance(tolerance, bool) or not tolerance > 0:
        check.fail(f"{path}.tolerance", f"expected a number > 0 (nats), got {tolerance!r}")
    block = check.integer(table.get("block", defaults.block), f"{path}.block", minimum=1)
    max_rank = check.integer(
        table.get("max_rank", defaults.max_rank), f"{path}.max_rank", minimum=block
    )
    exact_dim = check.integer(
        table.get("exact_dim", defaults.exact_dim), f"{path}.exact_dim", minimum=1, maximum=1 << 14
    )
    return StreamingOptions(
        tolerance=float(tolerance), max_rank=max_rank, block=block, exact_dim=exact_dim
    )


def _parse_n(check: _Checker, value: Any, path: str, largest: int) -> tuple[int, ...]:
    if _is_int(value):
        return (check.integer(value, path, N_MIN, largest),)
    if not isinstance(value, list) or not value:
        check.fail(
            path, f"expected an integer or a non-empty array of integers, got {_describe(value)}"
        )
    sizes = tuple(check.integer(v, f"{path}[{i}]", N_MIN, largest) for i, v in enumerate(value))
    for i in range(1, len(sizes)):
        if sizes[i] <= sizes[i - 1]:
            check.fail(
                f"{path}[{i}]",
                f"{sizes[i]} follows {sizes[i - 1]} (n must be strictly increasing, "
                "without duplicates)",
            )
    return sizes


def _parse_measures(check: _Checker, value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        check.fail(
            path,
            "expected a non-empty array of measures such as ['vn', 'renyi2', 'inf'], "
            f"got {_describe(value)}",
        )
    measures: list[str] = []
    for i, measure in enumerate(value):
        check.string(measure, f"{path}[{i}]")
        try:
            measure_order(measure)
        except ValueError as error:
            check.fail(f"{path}[{i}]", str(error))
        if measure in measures:
            check.fail(f"{path}[{i}]", f"duplicate measure {measure!r}")
        measures.append(measure)
    return tuple(measures)


def _parse_subsystem(check: _Checker, value: Any, path: str, n: tuple[int, ...]) -> SubsystemSpec:
    table = check.table(value, path)
    check.keys(table, path, _SUBSYSTEM_KEYS, ("kind",))
    kind = check.choice(table["kind"], f"{path}.kind", KINDS)
    if kind == "explicit":
        for key in ("m", "windows"):
            if key in table:
                check.fail(
                    f"{path}.{key}",
                    f"not allowed for kind 'explicit' (the subsets and their sizes come "
                    f"from {path}.sites)",
                )
        if "sites" not in table:
            check.fail(f"{path}.sites", "missing required key for kind 'explicit'")
        sites = _parse_sites(check, table["sites"], f"{path}.sites", min(n))
        return SubsystemSpec(kind=kind, m=None, windows=None, sites=sites)

    if "sites" in table:
        check.fail(f"{path}.sites", f"only allowed for kind 'explicit', not {kind!r}")
    if "m" not in table:
        check.fail(f"{path}.m", f"missing required key for kind {kind!r}")
    windows = check.integer(table.get("windows", 1), f"{path}.windows", minimum=1)
    if kind == "first" and windows != 1:
        check.fail(
            f"{path}.windows",
            f"kind 'first' has one subsystem per size; windows must be 1 or absent, got {windows}",
        )
    m = _parse_m(check, table["m"], f"{path}.m")
    subsystem = SubsystemSpec(kind=kind, m=m, windows=windows, sites=None)
    for size in n:
        try:
            subsystem.sizes(size)
        except ValueError as error:
            check.fail(f"{path}.m", str(error))
    return subsystem


def _parse_m(check: _Checker, value: Any, path: str) -> tuple[int, ...] | str:
    if _is_int(value):
        return (value,)
    if isinstance(value, str):
        try:
            parse_range(value)
        except ValueError as error:
            check.fail(path, str(error))
        return value
    if isinstance(value, list) and value:
        sizes = tuple(check.integer(v, f"{path}[{i}]") for i, v in enumerate(value))
        for i, size in enumerate(sizes):
            if size in sizes[:i]:
                check.fail(f"{path}[{i}]", f"duplicate size {size}")
        return sizes
    check.fail(
        path,
        f"expected an integer, a non-empty array of integers or a range such as '1..n//2', "
        f"got {_describe(value)}",
    )


def _parse_sites(check: _Checker, value: Any, path: str, n_min: int) -> tuple[tuple[int, ...], ...]:
    if not isinstance(value, list) or not value:
        check.fail(
            path,
            "expected a non-empty array of site arrays such as [[0, 1], [0, 2]], "
            f"got {_describe(value)}",
        )
    subsets: list[tuple[int, ...]] = []
    for i, subset in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(subset, list) or not subset:
            check.fail(where, f"expected a non-empty array of sites, got {_describe(subset)}")
        sites = tuple(check.integer(site, f"{where}[{j}]", 0) for j, site in enumerate(subset))
        for j, site in enumerate(sites):
            if site >= n_min:
                check.fail(f"{where}[{j}]", f"site {site} is not < min(n) = {n_min}")
        if len(set(sites)) != len(sites):
            check.fail(where, f"sites {list(sites)} repeat a site (sites must be unique)")
        if len(sites) >= n_min:
            check.fail(
                where,
                f"size {len(sites)} is not < min(n) = {n_min} (a subsystem must leave out at "
                "least one site)",
            )
        for k, other in enumerate(subsets):
            if set(other) == set(sites):
                check.fail(where, f"sites {list(sites)} repeat the subset {path}[{k}]")
        subsets.append(sites)
    return tuple(subsets)


def _parse_hyper(
    check: _Checker,
    table: dict[str, Any],
    path: str,
    architecture: Architecture,
    n: tuple[int, ...],
) -> tuple[tuple[tuple[str, tuple[Any, ...]], ...], tuple[tuple[str, Any], ...]]:
    known = tuple(f.name for f in dataclasses.fields(architecture.hyper_type))
    axes: list[tuple[str, tuple[Any, ...]]] = []
    fixed: list[tuple[str, Any]] = []
    for key, value in table.items():
        if key not in known:
            owner = f" for architecture {architecture.name!r}"
            check.unknown(f"{path}.{key}", key, known, "hyperparameter", owner)
        if isinstance(value, list):
            if not value:
                check.fail(
                    f"{path}.{key}",
                    "empty array; an array is a sweep axis and needs at least one value "
                    "(write a scalar for a fixed value)",
                )
            for i, item in enumerate(value):
                if item in value[:i]:
                    check.fail(f"{path}.{key}[{i}]", f"duplicate value {item!r} on a sweep axis")
            axes.append((key, tuple(value)))
        else:
            fixed.append((key, value))

    experiment_path = path.rsplit(".", 1)[0]
    values = dict(fixed)
    for point in itertools.product(*(axis for _, axis in axes)):
        values.update(zip((key for key, _ in axes), point, strict=True))
        merged = {key: values[key] for key in table}  # spec order
        try:
            hyper = make_hyper(architecture, merged)
        except ValueError as error:
            _fail_hyper(check, path, architecture, merged, table, error)
        for size in n:
            try:
                architecture.validate(size, hyper)
            except ValueError as error:
                at = f" at hyper {_show_point(merged, table)}" if axes else ""
                check.fail(
                    f"{experiment_path}.n",
                    f"n = {size} does not fit architecture {architecture.name!r}{at}: {error}",
                )
    return tuple(axes), tuple(fixed)


def _show_point(merged: dict[str, Any], table: dict[str, Any]) -> str:
    """The swept values of a grid point (all values when nothing is swept)."""
    swept = [key for key in merged if isinstance(table[key], list)] or list(merged)
    return "(" + ", ".join(f"{key}={merged[key]!r}" for key in swept) + ")"


def _fail_hyper(
    check: _Checker,
    path: str,
    architecture: Architecture,
    merged: dict[str, Any],
    table: dict[str, Any],
    error: ValueError,
) -> NoReturn:
    """Report a hyperparameter error at the key that causes it, when one can be told."""
    message = str(error)
    blamed = None
    for key, value in merged.items():  # the key that fails on its own, with the same error
        try:
            make_hyper(architecture, {key: value})
        except ValueError as alone:
            if str(alone) == message:
                blamed = key
                break
    if blamed is None:  # else the key the message names
        blamed = next((key for key in merged if f"'{key}'" in message), None)
    if blamed is None:
        check.fail(path, f"invalid hyperparameters {_show_point(merged, table)}: {message}")
    where = f"{path}.{blamed}"
    if isinstance(table[blamed], list):
        where += f"[{table[blamed].index(merged[blamed])}]"
    check.fail(where, message)
