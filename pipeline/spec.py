"""Sweep specs: parse and validate a TOML file into frozen dataclasses.

A spec names a sweep (root seed, backend, precision) and one or more experiments; each
experiment fixes an architecture, the system sizes ``n``, the number of random networks
per grid point, the entropies to measure, a hyperparameter grid and the subsystems ``A``.
The whole spec is checked here, before anything runs: every grid point's hyperparameters
are built and checked against every ``n``. This module is pure: no Dask, no store.

Format (``#`` comments are TOML comments)::

    name = "quickstart"        # required, [A-Za-z0-9_-]+
    seed = 1234                # required, int >= 0: root of numpy's SeedSequence
    backend = "numpy"          # numpy (default) | cupy | auto
    dtype = "complex128"       # complex128 (default) | complex64
    description = "..."        # optional free text

    [cluster]                  # optional table, passed on to the cluster layer as is

    [[experiment]]             # one or more
    name = "sn_real"           # required, unique (also ignoring case), [A-Za-z0-9_-]+
    architecture = "sn"        # required, a registered architecture
    n = [10, 12, 14]           # int or strictly increasing list, each 2 <= n <= 34
    samples = 20               # int >= 1: random networks per grid point
    samples_per_task = 5       # optional, 1 <= samples_per_task <= samples (default samples)
    measures = ["vn", "renyi2", "inf"]
    [experiment.hyper]         # optional; a list value is a sweep axis, in key order
    activation = ["tanh", "sin"]
    [experiment.subsystem]     # required
    kind = "window"            # first | window | random | explicit
    m = "1..n//2-2"            # int, list of ints, "a..b" (inclusive) or one expression "e"
    windows = 10               # window/random: per sample (default 1); first: 1 only
    # sites = [[0, 1], [0, 2, 5]]   # explicit only (then no m and no windows)

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

import ast
import dataclasses
import difflib
import functools
import hashlib
import itertools
import json
import math
import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, NoReturn

from pipeline.architectures import REGISTRY, Architecture, get_architecture, make_hyper
from pipeline.entropy import measure_order
from pipeline.errors import one_line

N_MIN = 2
"""Smallest system size a spec accepts."""
N_MAX = 34
"""Largest system size a spec accepts (``2^34`` amplitudes)."""
BACKENDS = ("numpy", "cupy", "auto")
DTYPES = ("complex128", "complex64")
KINDS = ("first", "window", "random", "explicit")
NOT_DIGESTED = ("cluster", "description")
"""Top-level keys that do not change the numbers, so not the digest either."""

_TOP_KEYS = ("name", "seed", "backend", "dtype", "description", "cluster", "experiment")
_EXPERIMENT_KEYS = (
    "name",
    "architecture",
    "n",
    "samples",
    "samples_per_task",
    "measures",
    "hyper",
    "subsystem",
)
_SUBSYSTEM_KEYS = ("kind", "m", "windows", "sites")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


class SpecError(ValueError):
    """An invalid sweep spec; the message is one line: ``source: key.path: problem``."""


# ----------------------------------------------------------------------------- measures


measure_alpha = measure_order
"""The Renyi order of a measure name (see :func:`pipeline.entropy.measure_order`)."""


def measure_variable(measure: str) -> str:
    """Store variable name of a measure: ``vn -> S_vn``, ``renyi0.5 -> S_renyi0p5``.

    >>> [measure_variable(m) for m in ("vn", "renyi2", "renyi0.5", "inf")]
    ['S_vn', 'S_renyi2', 'S_renyi0p5', 'S_inf']
    """
    measure_alpha(measure)  # validates
    return "S_" + measure.replace(".", "p")


# ------------------------------------------------------------------ subsystem size ranges

_BINARY: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}
_UNARY: dict[type[ast.unaryop], Callable[[int], int]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _check_expression(node: ast.AST, text: str) -> None:
    """Refuse everything but integers, ``n``, ``+ - * //`` and parentheses."""
    if isinstance(node, ast.Constant):
        if type(node.value) is not int:
            raise ValueError(f"{text!r}: only integer constants are allowed, got {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id != "n":
            raise ValueError(f"{text!r}: unknown name {node.id!r}; the only variable is n")
    elif isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Div):
            raise ValueError(f"{text!r}: '/' is not allowed; use '//' for integer division")
        if type(node.op) not in _BINARY:
            raise ValueError(f"{text!r}: only + - * // and parentheses are allowed")
        _check_expression(node.left, text)
        _check_expression(node.right, text)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check_expression(node.operand, text)
    else:
        raise ValueError(
            f"{text!r}: not an integer expression in n (only integers, n, + - * // "
            "and parentheses are allowed)"
        )


def _evaluate(node: ast.AST, n: int) -> int:
    """Value of a checked expression at ``n``."""
    if isinstance(node, ast.Constant):
        return int(node.value)  # type: ignore[arg-type]  # checked by _check_expression
    if isinstance(node, ast.Name):
        return n
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, n))
    assert isinstance(node, ast.BinOp)
    left, right = _evaluate(node.left, n), _evaluate(node.right, n)
    if isinstance(node.op, ast.FloorDiv) and right == 0:
        raise ValueError(f"division by zero for n = {n}")
    return _BINARY[type(node.op)](left, right)


@functools.lru_cache(maxsize=256)
def _parse_range(text: str) -> tuple[ast.expr, ast.expr]:
    """``"a..b"`` (or a single expression ``"e"``, meaning ``"e..e"``) as two ASTs."""
    parts = text.split("..")
    if len(parts) > 2:
        raise ValueError(f"{text!r}: a range has one '..', as in '1..n//2'")
    nodes = []
    for part in parts:
        if not part.strip():
            raise ValueError(f"{text!r}: both ends of a range are needed, as in '1..n//2'")
        try:
            node = ast.parse(part.strip(), mode="eval").body
        except SyntaxError:
            raise ValueError(f"{text!r}: {part.strip()!r} is not an expression") from None
        _check_expression(node, text)
        nodes.append(node)
    return nodes[0], nodes[-1]


def _check_size(m: int, n: int, prefix: str) -> None:
    if m < 1:
        raise ValueError(
            f"{prefix}size {m} is not >= 1 for n = {n} (sizes must satisfy 1 <= m <= n-1)"
        )
    if m > n - 1:
        raise ValueError(f"{prefix}size {m} is not < n = {n} (sizes must satisfy 1 <= m <= n-1)")


# ---------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class SubsystemSpec:
    """Which subsystems ``A`` are measured, and of which sizes ``|A| = m``."""

    kind: str
    """``first`` (sites ``0..m-1``), ``window`` (cyclic windows at random starts),
    ``random`` (uniform random subsets of size ``m``) or ``explicit``."""
    m: tuple[int, ...] | str | None
    """Sizes as written: a tuple of ints, a range string ``"a..b"`` or a single
    expression in ``n``; ``None`` for ``explicit`` (the sizes come from ``sites``)."""
    windows: int | None
    """Windows (``window``) or random subsets (``random``) per sample; 1 for ``first``;
    ``None`` for ``explicit``."""
    sites: tuple[tuple[int, ...], ...] | None
    """The listed subsets for ``explicit``, in spec order; ``None`` otherwise."""

    def sizes(self, n: int) -> tuple[int, ...]:
        """Sorted distinct sizes ``m`` for ``n`` sites; ``ValueError`` if one is invalid.

        >>> SubsystemSpec("window", "1..n//2-2", 10, None).sizes(12)
        (1, 2, 3, 4)
        """
        if self.sites is not None:
            for subset in self.sites:
                if max(subset) >= n:
                    raise ValueError(f"site {max(subset)} is not < n = {n}")
                _check_size(len(subset), n, "")
            return tuple(sorted({len(subset) for subset in self.sites}))
        if isinstance(self.m, str):
            low_node, high_node = _parse_range(self.m)
            try:
                low, high = _evaluate(low_node, n), _evaluate(high_node, n)
            except ValueError as error:
                raise ValueError(f"{self.m!r}: {error}") from None
            if low > high:
                raise ValueError(f"{self.m!r} is empty for n = {n} (it gives {low}..{high})")
            prefix = f"{self.m!r} gives {low}..{high} for n = {n}; "
            for m in (low, high):
                _check_size(m, n, prefix)
            return tuple(range(low, high + 1))
        assert self.m is not None
        for m in self.m:
            _check_size(m, n, "")
        return tuple(sorted(set(self.m)))

    @property
    def n_windows(self) -> int:
        """Subsystems per sample and size: ``windows``, the number of listed subsets for
        ``explicit``, 1 for ``first``."""
        if self.sites is not None:
            return len(self.sites)
        return self.windows if self.windows is not None else 1


@dataclass(frozen=True)
class Experiment:
    """One experiment: an architecture over sizes ``n`` and a hyperparameter grid."""

    index: int
    """Position in the spec (0-based); part of every sample's seed."""
    name: str
    """Unique name; the Zarr group of its results."""
    architecture: str
    """Registered architecture name (see :func:`pipeline.architectures.get_architecture`)."""
    n: tuple[int, ...]
    """System sizes, strictly increasing."""
    samples: int
    """Random networks per ``(n, grid point)``."""
    samples_per_task: int
    """Samples handled by one task (the last block of a grid point may be smaller)."""
    measures: tuple[str, ...]
    """Entropies to compute: ``vn``, ``renyi<alpha>``, ``inf``."""
    hyper_axes: tuple[tuple[str, tuple[Any, ...]], ...]
    """Swept hyperparameters ``(key, values)`` in spec order: the grid's dimensions."""
    hyper_fixed: tuple[tuple[str, Any], ...]
    """Hyperparameters given as scalars ``(key, value)``; the rest take defaults."""
    subsystem: SubsystemSpec
    """Which subsystems are measured."""

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Length of each hyperparameter axis (``()`` without axes)."""
        return tuple(len(values) for _, values in self.hyper_axes)

    def grid(self) -> list[tuple[tuple[int, ...], Any]]:
        """Every grid point in C order (last axis fastest): ``(index tuple, hyper)``."""
        architecture = get_architecture(self.architecture)
        fixed = dict(self.hyper_fixed)
        points = []
        for index in itertools.product(*(range(size) for size in self.grid_shape)):
            values = {key: axis[i] for (key, axis), i in zip(self.hyper_axes, index, strict=True)}
            points.append((index, make_hyper(architecture, {**fixed, **values})))
        return points

    def all_sizes(self) -> tuple[int, ...]:
        """Sorted union of the subsystem sizes over all ``n`` (the store's ``m`` axis)."""
        return tuple(sorted({m for n in self.n for m in self.subsystem.sizes(n)}))

    def hyper_at(self, grid_index: tuple[int, ...]) -> Any:
        """The hyperparameters of one grid point (without building the whole grid)."""
        values = {key: axis[i] for (key, axis), i in zip(self.hyper_axes, grid_index, strict=True)}
        architecture = get_architecture(self.architecture)
        return make_hyper(architecture, {**dict(self.hyper_fixed), **values})

    def task_blocks(self) -> list[tuple[int, int]]:
        """Sample ranges ``(start, stop)`` of the tasks of one ``(n, grid point)``."""
        return [self.block_range(block) for block in range(self.n_blocks)]

    @property
    def n_blocks(self) -> int:
        """Tasks per ``(n, grid point)``: ``ceil(samples / samples_per_task)``."""
        return -(-self.samples // self.samples_per_task)

    def block_range(self, block: int) -> tuple[int, int]:
        """Samples ``(start, stop)`` of task block ``block``."""
        start = block * self.samples_per_task
        return start, min(start + self.samples_per_task, self.samples)

    @property
    def n_tasks(self) -> int:
        """``len(n) * grid points * ceil(samples / samples_per_task)``."""
        return len(self.n) * math.prod(self.grid_shape) * self.n_blocks


@dataclass(frozen=True)
class Sweep:
    """A validated sweep spec."""

    name: str
    """Sweep name, ``[A-Za-z0-9_-]+``."""
    seed: int
    """Root seed of ``numpy.random.SeedSequence``."""
    backend: str
    """``numpy``, ``cupy`` or ``auto``."""
    dtype: str
    """``complex128`` or ``complex64``."""
    description: str
    """Free text ("" when absent)."""
    experiments: tuple[Experiment, ...]
    """The experiments, in spec order."""
    cluster: dict[str, Any] = field(compare=False)
    """The ``[cluster]`` table as is, for the cluster layer (``{}`` when absent)."""
    text: str = field(repr=False)
    """The exact source text."""
    digest: str
    """SHA-256 of the parsed TOML (JSON, sorted keys) without ``cluster`` and
    ``description``: equal digests mean the same numbers, whatever the comments, layout,
    cluster settings or description; a store is resumed only by the same digest."""

    @property
    def n_tasks(self) -> int:
        """Total number of tasks over all experiments."""
        return sum(experiment.n_tasks for experiment in self.experiments)


# -------------------------------------------------------------------------------- parsing


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
        raise SpecError(one_line(f"{self.source}: {path}: {message}"))

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


def parse_spec(text: str, source: str = "<string>") -> Sweep:
    """Parse and validate a sweep spec given as TOML text.

    ``source`` names the spec in error messages (a file name).

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
    cluster = dict(check.table(data.get("cluster", {}), "cluster"))

    tables = data["experiment"]
    if isinstance(tables, dict):
        check.fail("experiment", "write each experiment as [[experiment]] (an array of tables)")
    if not isinstance(tables, list) or not tables:
        check.fail("experiment", "expected at least one [[experiment]] table")
    experiments = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        experiment = _parse_experiment(check, table, index)
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
    )


def load_spec(path: str | PathLike[str]) -> Sweep:
    """Read and validate the sweep spec in the TOML file ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(one_line(f"{path}: cannot read the spec: {error}")) from None
    return parse_spec(text, source=str(path))


def _parse_experiment(check: _Checker, table: Any, index: int) -> Experiment:
    path = f"experiment[{index}]"
    table = check.table(table, path)
    required = ("name", "architecture", "n", "samples", "measures", "subsystem")
    check.keys(table, path, _EXPERIMENT_KEYS, required)
    name = check.name(table["name"], f"{path}.name")

    architecture_name = check.string(table["architecture"], f"{path}.architecture")
    if architecture_name not in REGISTRY:
        check.unknown(f"{path}.architecture", architecture_name, REGISTRY, "architecture")
    architecture = get_architecture(architecture_name)

    n = _parse_n(check, table["n"], f"{path}.n")
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
    return Experiment(
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
    )


def _parse_n(check: _Checker, value: Any, path: str) -> tuple[int, ...]:
    if _is_int(value):
        return (check.integer(value, path, N_MIN, N_MAX),)
    if not isinstance(value, list) or not value:
        check.fail(
            path, f"expected an integer or a non-empty array of integers, got {_describe(value)}"
        )
    sizes = tuple(check.integer(v, f"{path}[{i}]", N_MIN, N_MAX) for i, v in enumerate(value))
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
            measure_alpha(measure)
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
            _parse_range(value)
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
