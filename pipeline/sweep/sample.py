"""One sample, from seeds to entropies: the numbers of a sweep.

Pure functions of plain values and arrays (no store, no Dask): the run layer calls
:func:`compute_task` once per task, and each sample's result depends only on the root seed
and its spawn key, never on how samples are grouped into tasks or where they run.

Seeding: ``SeedSequence(root_seed, spawn_key=(experiment, n, *grid_index, sample))``
spawns two children, the first for the network parameters, the second for the
subsystems.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from pipeline.architectures import get_architecture
from pipeline.architectures.base import Architecture, Params
from pipeline.architectures.files import load_network
from pipeline.architectures.states import StateError, full_state
from pipeline.numerics.entropy import entropies
from pipeline.numerics.spectra import (
    nested_schmidt_probs,
    partial_trace_last,
    product_schmidt_probs,
)
from pipeline.numerics.streaming import (
    Mapper,
    StreamingOptions,
    exact_density,
    exact_spectrum,
    serial_map,
    streaming_spectrum,
)
from pipeline.numerics.xp import complex_dtype, namespace, real_dtype, resolve_backend, to_numpy
from pipeline.sweep.plan import Task, itemsize, task_method
from pipeline.sweep.spec import ParamsFile, Sweep
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
    streaming: StreamingOptions = dataclasses.field(default_factory=StreamingOptions)
    """Options of the streaming method (used by :func:`certified_sample`)."""
    params_files: tuple[ParamsFile, ...] = ()
    """Networks from files, one per sample (the experiment's ``params``); empty: drawn."""

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
            streaming=experiment.streaming,
            params_files=experiment.params,
        )

    def network(self, sample: int, rng: np.random.Generator) -> Params:
        """Sample ``sample``'s parameters: read from its file, checked against the
        hyperparameters and the SHA-256 the spec was read with; or drawn with ``rng``."""
        if self.params_files:
            source = self.params_files[sample]
            return load_network(source.file, self.architecture, self.n, self.hyper, source.sha256)
        return self.architecture.init(rng, self.n, self.hyper)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Subsystem sizes measured at this ``n``."""
        return self.subsystem.sizes(self.n)

    def window_sizes(self, window: int) -> list[int]:
        """Sizes measured on ordering ``window``: the explicit subset's own size, or all."""
        if self.subsystem.sites is not None:
            return [len(self.subsystem.sites[window])]
        return list(self.sizes)


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
            params = point.network(sample, network_rng)
            psi = full_state(point.architecture, params, point.n, point.hyper, xp, dtype)
    except StateError as error:
        values = np.full((len(point.measures), len(point.all_sizes), len(orders)), np.nan)
        return values, orders, SAMPLE_STATUS.index(error.cause)
    values = state_entropies(psi, orders, point, xp, params)
    return values, orders, SAMPLE_STATUS.index("ok")


def exact_sample(point: EnsemblePoint, sample: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw sample ``sample`` of ``point`` and measure it in closed form (method
    ``exact``: :attr:`~pipeline.architectures.base.Architecture.exact_spectrum`, at any
    ``n``, no state): ``(values, orders, status)`` as :func:`sample_entropies`."""
    network_rng, subsystem_rng = sample_generators(point.root_seed, (*point.key, sample))
    orders = orders_for(point.subsystem, point.n, subsystem_rng)
    params = point.network(sample, network_rng)
    spectrum = point.architecture.exact_spectrum
    assert spectrum is not None  # the spec's validation saw to it
    xp = namespace("numpy")
    out = np.full((len(point.measures), len(point.all_sizes), len(orders)), np.nan)
    for w, order in enumerate(orders.tolist()):
        for m in point.window_sizes(w):
            probs = spectrum(params, point.n, point.hyper, order[:m])
            out[:, point.all_sizes.index(m), w] = to_numpy(entropies(probs, point.measures, xp))
    return out, orders, SAMPLE_STATUS.index("ok")


CERTIFIED_FIELDS = ("lo", "hi", "tail_weight", "rank", "passes")
"""What a certified experiment stores beside the entropies (:class:`TaskResult`)."""


class TaskResult(NamedTuple):
    """One task's numbers, as :func:`compute_task` returns them."""

    values: np.ndarray
    """Entropies in nats, ``(samples, measures, m, windows)``."""
    orders: np.ndarray
    """Site orderings, ``(samples, windows, n)``."""
    status: np.ndarray
    """Status codes (:data:`SAMPLE_STATUS`), ``(samples,)``."""
    certified: dict[str, np.ndarray] | None
    """Certified experiments only (method ``streaming`` or ``auto``): ``lo``/``hi``
    ``(samples, measures, m, windows)`` bounds in nats, and ``tail_weight`` (float),
    ``rank`` and ``passes`` (int; 0 passes for a dense result), ``(samples, m, windows)``."""


def _sketch_seed(point: EnsemblePoint, sample: int, window: int, m: int) -> int:
    sequence = np.random.SeedSequence(point.root_seed, spawn_key=(*point.key, sample, window, m))
    return int(sequence.generate_state(1)[0])


def certified_entropies(
    params: Params,
    orders: np.ndarray,
    point: EnsemblePoint,
    sample: int,
    backend: str = "numpy",
    mapper: Mapper = serial_map,
) -> dict[str, np.ndarray]:
    """Streaming entropies of one network: ``values``, ``lo``, ``hi`` of shape
    ``(len(measures), len(all_sizes), windows)`` and ``tail_weight``, ``rank``, ``passes``
    of shape ``(len(all_sizes), windows)``; NaN (and -1) where a size does not apply.

    Per ordering, sizes whose smaller side has at most ``exact_dim`` configurations share
    one exactly summed reduced density matrix (the largest of them, reduced by partial
    traces; each reports the one pass); every other size is certified on its own
    (:func:`pipeline.numerics.streaming.streaming_spectrum`), with a sketch seeded by the
    sample, ordering and size. ``psi`` is never formed.
    """
    from pipeline.architectures.tiles import NetworkTiles

    n, measures, options = point.n, point.measures, point.streaming
    xp = namespace(backend)
    shape = (len(measures), len(point.all_sizes), len(orders))
    out = {key: np.full(shape, np.nan) for key in ("values", "lo", "hi")}
    out["tail_weight"] = np.full(shape[1:], np.nan)
    out["rank"] = np.full(shape[1:], -1, dtype=np.int64)
    out["passes"] = np.full(shape[1:], -1, dtype=np.int64)
    position = {m: i for i, m in enumerate(point.all_sizes)}

    def record(result: Any, m: int, w: int) -> None:
        value, lo, hi = result.entropies(measures)
        i = position[m]
        out["values"][:, i, w], out["lo"][:, i, w], out["hi"][:, i, w] = value, lo, hi
        out["tail_weight"][i, w] = result.tail_weight
        out["rank"][i, w], out["passes"][i, w] = result.rank, result.passes

    def tiles(order: Sequence[int], m: int) -> NetworkTiles:
        return NetworkTiles(point.architecture, params, n, point.hyper, order, m, backend)

    for w, order in enumerate(orders.tolist()):
        sizes = point.window_sizes(w)
        # exact sizes, nested along the ordering (m <= n/2) or its reverse (m > n/2)
        for side, reverse in ((lambda m: m <= n - m, False), (lambda m: m > n - m, True)):
            exact = [m for m in sizes if side(m) and 1 << min(m, n - m) <= options.exact_dim]
            if not exact:
                continue
            cut = order[::-1] if reverse else order
            cut_sizes = sorted((n - m if reverse else m) for m in exact)
            top = cut_sizes[-1]
            rho = exact_density(tiles(cut, top), options, mapper)
            current = top
            for size in reversed(cut_sizes):
                if size != current:
                    rho, current = partial_trace_last(rho, size, current, xp), size
                record(exact_spectrum(rho, xp), n - size if reverse else size, w)
            sizes = [m for m in sizes if m not in exact]
        for m in sizes:
            seeded = dataclasses.replace(options, seed=_sketch_seed(point, sample, w, m))
            record(streaming_spectrum(tiles(order, m), measures, seeded, mapper), m, w)
    return out


def _dense_certified(values: np.ndarray, point: EnsemblePoint) -> dict[str, np.ndarray]:
    """A dense result in a certified experiment: both bounds the value, no tail, 0 passes."""
    measured = ~np.isnan(values[0])
    ranks = np.asarray([1 << min(m, point.n - m) for m in point.all_sizes])[:, None]
    return {
        "values": values,
        "lo": values.copy(),
        "hi": values.copy(),
        "tail_weight": np.where(measured, 0.0, np.nan),
        "rank": np.where(measured, ranks, -1),
        "passes": np.where(measured, 0, -1),
    }


def certified_sample(
    point: EnsemblePoint, sample: int, backend: str = "numpy", mapper: Mapper = serial_map
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Draw sample ``sample`` of ``point`` and measure it by the streaming method:
    ``(certified, orders, status)`` (``certified`` as :func:`certified_entropies`)."""
    network_rng, subsystem_rng = sample_generators(point.root_seed, (*point.key, sample))
    orders = orders_for(point.subsystem, point.n, subsystem_rng)
    params = point.network(sample, network_rng)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            result = certified_entropies(params, orders, point, sample, backend, mapper)
    except StateError as error:
        nan = np.full((len(point.measures), len(point.all_sizes), len(orders)), np.nan)
        return _dense_certified(nan, point), orders, SAMPLE_STATUS.index(error.cause)
    return result, orders, SAMPLE_STATUS.index("ok")


def compute_task(
    sweep: Sweep, task: Task, backend: str, worker_bytes: int | None = None
) -> TaskResult:
    """One task's samples (:class:`TaskResult`): entropies ``(samples, measures, m,
    windows)`` in nats, orderings ``(samples, windows, n)``, status codes ``(samples,)``
    (:data:`SAMPLE_STATUS`), and for certified experiments their bounds and costs.

    The method is the experiment's; ``auto`` streams where the dense task's estimate
    exceeds ``worker_bytes`` (the worker's memory limit; default this machine's available
    memory). BLAS runs single-threaded inside a task, so the numbers are bit-identical
    however the sweep is spread over workers; parallelism comes from running tasks side
    by side.
    """
    from threadpoolctl import threadpool_limits

    point = EnsemblePoint.of(sweep, task)
    experiment = sweep.experiments[task.experiment]
    method = task_method(experiment, point.n, itemsize(sweep), worker_bytes)
    backend = resolve_backend(backend)
    xp = namespace(backend)
    dtype = complex_dtype(xp, sweep.dtype)
    samples = range(task.start, task.stop)
    with threadpool_limits(limits=1, user_api="blas"):
        if method == "streaming":
            certified_results = [certified_sample(point, sample, backend) for sample in samples]
            records, orders, status = zip(*certified_results, strict=True)
            values = tuple(record["values"] for record in records)
        else:
            if method == "exact":
                results = [exact_sample(point, sample) for sample in samples]
            else:
                results = [sample_entropies(point, sample, xp, dtype) for sample in samples]
            values, orders, status = zip(*results, strict=True)
            if experiment.certified:
                records = tuple(_dense_certified(v, point) for v in values)
    certified = None
    if experiment.certified:
        certified = {key: np.stack([r[key] for r in records]) for key in CERTIFIED_FIELDS}
    return TaskResult(
        values=np.stack(values),
        orders=np.stack(orders),
        status=np.asarray(status, dtype=np.int8),
        certified=certified,
    )
