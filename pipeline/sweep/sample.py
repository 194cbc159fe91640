"""One sample, from seeds to entropies: the numbers of a sweep.

Pure functions of plain values and arrays (no store, no Dask): the run layer calls
:func:`compute_task` once per task, and each sample's result depends only on the root seed
and its spawn key, never on how samples are grouped into tasks or where they run.

Seeding: ``SeedSequence(root_seed, spawn_key=(experiment, n, *grid_index, sample))``
spawns two children, the first for the network parameters, the second for the
subsystems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.architectures import get_architecture
from pipeline.architectures.base import Architecture, Params
from pipeline.architectures.states import StateError, full_state
from pipeline.numerics.entropy import entropies
from pipeline.numerics.spectra import nested_schmidt_probs, product_schmidt_probs
from pipeline.numerics.xp import complex_dtype, namespace, real_dtype, resolve_backend, to_numpy
from pipeline.sweep.plan import Task
from pipeline.sweep.spec import Sweep
from pipeline.sweep.subsystems import SubsystemSpec, orders_for

SAMPLE_STATUS = ("pending", "ok", "zero", "nonfinite")
"""Codes of a sample's status (its index in this tuple): not computed yet; measured;
its state is zero (every amplitude zero or underflowing); its amplitudes or norm are not
finite (e.g. a deep polynomial network overflowing). A sample that is not ``ok`` has NaN
entropies and is counted, never averaged silently."""


@dataclass(frozen=True)
class EnsemblePoint:
    """One ``(experiment, n, grid point)`` of a sweep: all that its samples share.

    Built once per task (:meth:`of`); a sample adds only its index.
    """

    architecture: Architecture
    hyper: Any
    """The grid point's hyperparameters (the architecture's frozen dataclass)."""
    n: int
    """Number of spins."""
    subsystem: SubsystemSpec
    """How subsystems are chosen."""
    all_sizes: tuple[int, ...]
    """The store's ``m`` axis (sizes over every ``n`` of the experiment)."""
    measures: tuple[str, ...]
    """Entropy measures (``vn``, ``renyi<a>``, ``inf``)."""
    root_seed: int
    """The sweep's seed."""
    key: tuple[int, ...]
    """Spawn-key prefix ``(experiment, n, *grid_index)``; a sample appends its index."""

    @classmethod
    def of(cls, sweep: Sweep, task: Task) -> EnsemblePoint:
        """The point of ``task`` in ``sweep``."""
        experiment = sweep.experiments[task.experiment]
        n = experiment.n[task.n_index]
        return cls(
            architecture=get_architecture(experiment.architecture),
            hyper=experiment.hyper_at(task.grid_index),
            n=n,
            subsystem=experiment.subsystem,
            all_sizes=experiment.all_sizes(),
            measures=experiment.measures,
            root_seed=sweep.seed,
            key=(experiment.index, n, *task.grid_index),
        )

    @property
    def sizes(self) -> tuple[int, ...]:
        """Subsystem sizes measured at this ``n``."""
        return self.subsystem.sizes(self.n)


def sample_generators(
    root_seed: int, spawn_key: Sequence[int]
) -> tuple[np.random.Generator, np.random.Generator]:
    """Generators for one sample's network and subsystems.

    >>> net, sub = sample_generators(7, (0, 10, 3))
    >>> float(net.random()) == float(sample_generators(7, (0, 10, 3))[0].random())
    True
    """
    sequence = np.random.SeedSequence(root_seed, spawn_key=tuple(int(k) for k in spawn_key))
    network, subsystems = sequence.spawn(2)
    return np.random.default_rng(network), np.random.default_rng(subsystems)


def state_entropies(
    psi: Any, orders: np.ndarray, point: EnsemblePoint, xp: Any, params: Params | None = None
) -> np.ndarray:
    """Entropies (nats) of one state ``psi`` (shape ``(2^n,)``) for the subsystems given by
    the site orderings ``orders`` (shape ``(windows, n)``).

    Returns shape ``(len(measures), len(all_sizes), windows)``; entries for sizes that do
    not apply (not measured at this ``n``, or, for the explicit kind, a size other than
    the subset's own) are NaN. With the network's ``params`` and an architecture that
    has a product form of ``K`` terms, sizes within two sites of the half cut whose
    reduced density matrix would exceed ``K x K`` take their spectra from ``K x K`` matrices
    (:func:`pipeline.numerics.spectra.product_schmidt_probs`); the rest come from ``psi``.
    """
    n, measures = point.n, point.measures
    out = np.full((len(measures), len(point.all_sizes), len(orders)), np.nan)
    position = {m: i for i, m in enumerate(point.all_sizes)}
    if point.subsystem.sites is not None:  # explicit: one size per listed subset
        for w, subset in enumerate(point.subsystem.sites):
            m = len(subset)
            probs = nested_schmidt_probs(psi, n, [orders[w].tolist()], [m], xp)[m]
            out[:, position[m], w] = to_numpy(entropies(probs, measures, xp))[:, 0]
        return out
    dense, product = list(point.sizes), []
    form = point.architecture.product_form
    if form is not None and params is not None:
        rdtype = real_dtype(xp, psi.dtype)
        trial = form(params, n, point.hyper, orders[0][: n // 2].tolist(), xp, rdtype)
        if trial is not None:
            terms = trial[0].shape[1]
            # near the half cut, where the dense matrices are largest (below it a dense
            # reduced density matrix is cheaper than the features of the large side)
            product = [
                m for m in dense if 1 << min(m, n - m) > terms and min(m, n - m) >= n // 2 - 2
            ]
            dense = [m for m in dense if m not in product]
    if dense:
        spectra = nested_schmidt_probs(psi, n, orders.tolist(), dense, xp)
        for m, probs in spectra.items():
            out[:, position[m], :] = to_numpy(entropies(probs, measures, xp))
    for w, order in enumerate(orders.tolist()):
        for m in product:
            assert form is not None and params is not None
            # the trial form is window 0's half cut: not built twice
            reuse = (w, m) == (0, n // 2)
            left, right = trial if reuse else form(params, n, point.hyper, order[:m], xp, rdtype)
            probs = product_schmidt_probs(left, right, xp)
            out[:, position[m], w] = to_numpy(entropies(probs, measures, xp))
    return out


def draw_state(
    architecture: Architecture,
    hyper: Any,
    n: int,
    rng: np.random.Generator,
    xp: Any,
    dtype: Any,
) -> tuple[Params, Any]:
    """Draw a network with ``rng`` and return ``(params, psi)``."""
    params = architecture.init(rng, n, hyper)
    return params, full_state(architecture, params, n, hyper, xp, dtype)


def sample_entropies(
    point: EnsemblePoint, sample: int, xp: Any, dtype: Any = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw sample ``sample`` of ``point`` and measure it.

    Returns ``(values, orders, status)``: entropies in nats of shape
    ``(len(measures), len(all_sizes), windows)`` (NaN where a size does not apply), the
    site orderings ``(windows, n)`` that define its subsystems, and the sample's status
    code (:data:`SAMPLE_STATUS`). A state that cannot be normalised gives NaN entropies
    and the status of its cause, not an error: the rest of the task goes on. ``dtype``
    is the state's complex dtype (``xp.complex128`` by default).
    """
    network_rng, subsystem_rng = sample_generators(point.root_seed, (*point.key, sample))
    dtype = xp.complex128 if dtype is None else dtype
    orders = orders_for(point.subsystem, point.n, subsystem_rng)
    try:
        # Overflow in a network (deep polynomials) is expected here: the state's own
        # finiteness check turns it into the sample's status.
        with np.errstate(over="ignore", invalid="ignore"):
            params, psi = draw_state(
                point.architecture, point.hyper, point.n, network_rng, xp, dtype
            )
    except StateError as error:
        values = np.full((len(point.measures), len(point.all_sizes), len(orders)), np.nan)
        return values, orders, SAMPLE_STATUS.index(error.cause)
    values = state_entropies(psi, orders, point, xp, params)
    return values, orders, SAMPLE_STATUS.index("ok")


def compute_task(
    sweep: Sweep, task: Task, backend: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entropies ``(samples, measures, m, windows)`` in nats, orderings
    ``(samples, windows, n)`` and status codes ``(samples,)`` (:data:`SAMPLE_STATUS`) of
    one task's samples.

    BLAS runs single-threaded inside a task, so the numbers are bit-identical however the
    sweep is spread over workers; parallelism comes from running tasks side by side.
    """
    from threadpoolctl import threadpool_limits

    point = EnsemblePoint.of(sweep, task)
    xp = namespace(resolve_backend(backend))
    dtype = complex_dtype(xp, sweep.dtype)
    with threadpool_limits(limits=1, user_api="blas"):
        results = [
            sample_entropies(point, sample, xp, dtype) for sample in range(task.start, task.stop)
        ]
    values, orders, status = zip(*results, strict=True)
    return np.stack(values), np.stack(orders), np.asarray(status, dtype=np.int8)
