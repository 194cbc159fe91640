"""TODO docstring (spec)"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from pipeline.architectures import get_architecture, make_hyper
from pipeline.sweep.subsystems import SubsystemSpec

N_MIN = 2
"""Smallest system size a spec accepts."""


N_MAX = 34
"""Largest system size a spec accepts (``2^34`` amplitudes)."""


DTYPES = ("complex128", "complex64")


NOT_DIGESTED = ("cluster", "description")
"""Top-level keys that do not change the numbers, so not the digest either."""


class SpecError(ValueError):
    """An invalid sweep spec; the message is one line: ``source: key.path: problem``."""


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
