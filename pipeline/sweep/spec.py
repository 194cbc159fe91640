"""The data model of a validated sweep: :class:`Sweep` of :class:`Experiment` s, each with
its :class:`~pipeline.sweep.subsystems.SubsystemSpec`, and the limits a spec must keep.

Frozen dataclasses built only by :func:`pipeline.sweep.validate.parse_spec`; a sweep's
``digest`` names its numbers (a store is resumed only by the same digest).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from pipeline.architectures import get_architecture, make_hyper
from pipeline.numerics.streaming import StreamingOptions
from pipeline.sweep.cluster import ClusterSpec
from pipeline.sweep.subsystems import SubsystemSpec

N_MIN = 2
"""Smallest system size a spec accepts."""


N_MAX = 34
"""Largest system size a spec accepts (``2^34`` amplitudes) for the methods that evaluate
the network (dense, streaming)."""


N_MAX_EXACT = 4096
"""Largest system size of method ``exact`` (closed forms, ``O(n)`` to ``O(K^2 n)`` work)."""


DTYPES = ("complex128", "complex64")


METHODS = ("dense", "streaming", "auto", "exact")
"""How an experiment's spectra are computed: from the full state vector (``dense``), from
tiles of it with certified intervals (``streaming``, :mod:`pipeline.numerics.streaming`),
streaming only where the dense task would not fit a worker (``auto``), or in closed form
at any ``n`` for the architectures that have one (``exact``:
:attr:`pipeline.architectures.base.Architecture.exact_spectrum`)."""


NOT_DIGESTED = ("cluster", "description")
"""Top-level keys that do not change the numbers, so not the digest either."""


@dataclass(frozen=True)
class ParamsFile:
    """One network of an experiment read from a file (``params``), as the store records
    it: :meth:`pipeline.architectures.files.NetworkFile.provenance`."""

    file: str
    """Absolute path."""
    format: str
    """``npz``, ``safetensors``, ``netket`` or ``torch``."""
    conversion: str
    """How its parameters became ours."""
    sha256: str
    """The file's SHA-256 when the spec was read; part of the sweep's digest."""


class SpecError(ValueError):
    """An invalid sweep spec; the message is one line: ``source: key.path: problem``.

    Raised by :func:`pipeline.sweep.validate.parse_spec` and
    :func:`pipeline.sweep.validate.load_spec` for every problem of a spec, and by
    :func:`pipeline.run.engine.run_sweep` for an ``only`` that names no experiment of
    the spec. A ``ValueError``; it carries nothing but its message.

    Examples
    --------
    >>> from pipeline.sweep.validate import parse_spec
    >>> try:
    ...     parse_spec('name = "demo"', source="demo.toml")
    ... except SpecError as error:
    ...     print(error)
    demo.toml: seed: missing required key
    """


@dataclass(frozen=True)
class Experiment:
    """One experiment: an architecture over sizes ``n`` and a hyperparameter grid.

    One ``[[experiment]]`` table of a spec, validated; frozen, built only by
    :func:`pipeline.sweep.validate.parse_spec`. Its tasks are the product of the sizes
    ``n``, the grid points (C order, last axis fastest) and the blocks of
    ``samples_per_task`` samples; its results are the store group ``name`` (dims
    ``(n, <hyper axes...>, m, sample, window)``, see :mod:`pipeline.store.schema`).
    Each field is documented by the docstring that follows it in the class body; derived
    are ``grid_shape``, ``n_blocks`` and ``n_tasks`` (properties), ``grid()``,
    ``hyper_at()``, ``all_sizes()``, ``task_blocks()`` and ``block_range()``.

    Attributes
    ----------
    index : int
    name : str
    architecture : str
    n : tuple of int
        System sizes in sites.
    samples : int
    samples_per_task : int
    measures : tuple of str
    hyper_axes : tuple of (str, tuple) pairs
    hyper_fixed : tuple of (str, value) pairs
    subsystem : SubsystemSpec

    Examples
    --------
    >>> from pipeline.sweep.validate import parse_spec
    >>> sweep = parse_spec('''
    ... name = "demo"
    ... seed = 1
    ... [[experiment]]
    ... name = "rbm"
    ... architecture = "rbm"
    ... n = [6, 8]
    ... samples = 5
    ... samples_per_task = 2
    ... measures = ["vn"]
    ... hyper.density = [0.5, 1.0, 2.0]
    ... subsystem = {kind = "first", m = "1..n//2"}
    ... ''')
    >>> experiment = sweep.experiments[0]
    >>> experiment.grid_shape, experiment.task_blocks(), experiment.n_tasks
    ((3,), [(0, 2), (2, 4), (4, 5)], 18)
    >>> experiment.hyper_at((2,)).density, experiment.all_sizes()
    (2.0, (1, 2, 3, 4))
    """

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
    method: str = "dense"
    """One of :data:`METHODS`."""
    streaming: StreamingOptions = field(default_factory=StreamingOptions)
    """Tolerance, rank limit, block and exact threshold of the streaming method."""
    params: tuple[ParamsFile, ...] = ()
    """Networks from files, one per sample (``params`` in the spec), instead of drawn
    ones; then ``n`` has one value and the hyperparameters no axis."""

    @property
    def certified(self) -> bool:
        """True when results may be certified intervals (method ``streaming`` or ``auto``):
        the store then holds ``S_x_lo``/``S_x_hi``, ``tail_weight``, ``rank``, ``passes``."""
        return self.method in ("streaming", "auto")

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
    """A validated sweep spec.

    The whole spec file: its global settings and its experiments, frozen, built only by
    :func:`pipeline.sweep.validate.parse_spec` (or :func:`~pipeline.sweep.validate.load_spec`)
    and run by :func:`pipeline.run.engine.run_sweep`. Each field is documented by the
    docstring that follows it in the class body; ``n_tasks`` (a property) is the total
    number of tasks. Two sweeps with the same ``digest`` compute the same numbers, and a
    store is resumed only by a sweep with its digest.

    Attributes
    ----------
    name : str
    seed : int
    backend : str
    dtype : str
    description : str
    experiments : tuple of Experiment
    cluster : ClusterSpec
    text : str
    digest : str
        64 hexadecimal digits.

    Examples
    --------
    >>> from pipeline.sweep.validate import parse_spec
    >>> sweep = parse_spec('''
    ... name = "demo"
    ... seed = 3
    ... [[experiment]]
    ... name = "haar"
    ... architecture = "haar"
    ... n = [4, 6]
    ... samples = 2
    ... measures = ["vn", "inf"]
    ... subsystem = {kind = "first", m = 1}
    ... ''')
    >>> sweep.backend, sweep.dtype, sweep.n_tasks, len(sweep.digest)
    ('numpy', 'complex128', 2, 64)
    >>> parse_spec(sweep.text + "\\n# a comment\\n").digest == sweep.digest
    True
    """

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
    cluster: ClusterSpec = field(compare=False)
    """The ``[cluster]`` table: checked overrides of the SLURM site options (empty when
    absent)."""
    text: str = field(repr=False)
    """The exact source text."""
    digest: str
    """SHA-256 of the parsed TOML (JSON, sorted keys) without ``cluster`` and
    ``description``: equal digests mean the same numbers, whatever the comments, layout,
    cluster settings or description; a store is resumed only by the same digest."""
    folder: str = field(default="", compare=False)
    """The folder relative ``params`` patterns were read from (absolute; the store keeps
    it, so that workers find the same files)."""

    @property
    def n_tasks(self) -> int:
        """Total number of tasks over all experiments."""
        return sum(experiment.n_tasks for experiment in self.experiments)
