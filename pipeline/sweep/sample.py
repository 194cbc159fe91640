"""TODO docstring (compute, engine)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.architectures import get_architecture
from pipeline.architectures.base import Architecture, Params
from pipeline.architectures.states import StateError, full_state
from pipeline.numerics.entropy import entropies
from pipeline.numerics.spectra import nested_schmidt_probs
from pipeline.numerics.xp import complex_dtype, namespace, resolve_backend, to_numpy
from pipeline.sweep.plan import Task
from pipeline.sweep.spec import Experiment, Sweep
from pipeline.sweep.subsystems import explicit_orders, sample_orders

SAMPLE_STATUS = ("pending", "ok", "zero", "nonfinite")
"""Codes of a sample's status (its index in this tuple): not computed yet; measured;
its state is zero (every amplitude zero or underflowing); its amplitudes or norm are not
finite (e.g. a deep polynomial network overflowing). A sample that is not ``ok`` has NaN
entropies and is counted, never averaged silently."""


@dataclass(frozen=True)
class SubsystemPlan:
    """How to choose subsystems for one sample."""

    kind: str
    """``first``, ``window``, ``random`` or ``explicit``."""
    sizes: tuple[int, ...]
    """Subsystem sizes ``m`` (for ``explicit``, ignored: each subset has its own size)."""
    windows: int = 1
    """Orderings per sample (``window``/``random``); the number of subsets (``explicit``)."""
    sites: tuple[tuple[int, ...], ...] = ()
    """The listed subsets of the ``explicit`` kind."""


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


def sample_orders_for(plan: SubsystemPlan, n: int, rng: np.random.Generator) -> np.ndarray:
    """Site orderings ``(windows, n)`` for one sample."""
    if plan.kind == "explicit":
        return np.asarray(explicit_orders(n, plan.sites))
    return sample_orders(plan.kind, n, plan.windows, rng)


def state_entropies(
    psi: Any,
    n: int,
    orders: np.ndarray,
    plan: SubsystemPlan,
    all_sizes: Sequence[int],
    measures: Sequence[str],
    xp: Any,
) -> np.ndarray:
    """Entropies of one state, shape ``(len(measures), len(all_sizes), len(orders))``.

    Entries for sizes that do not apply (not in ``plan.sizes`` for this ``n``, or, for the
    explicit kind, a size other than the subset's own) are NaN.
    """
    out = np.full((len(measures), len(all_sizes), len(orders)), np.nan)
    position = {m: i for i, m in enumerate(all_sizes)}
    if plan.kind == "explicit":
        for w, subset in enumerate(plan.sites):
            m = len(subset)
            probs = nested_schmidt_probs(psi, n, [orders[w].tolist()], [m], xp)[m]
            out[:, position[m], w] = to_numpy(entropies(probs, measures, xp))[:, 0]
        return out
    spectra = nested_schmidt_probs(psi, n, orders.tolist(), plan.sizes, xp)
    for m, probs in spectra.items():
        out[:, position[m], :] = to_numpy(entropies(probs, measures, xp))
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
    architecture: Architecture,
    hyper: Any,
    n: int,
    plan: SubsystemPlan,
    all_sizes: Sequence[int],
    measures: Sequence[str],
    root_seed: int,
    spawn_key: Sequence[int],
    xp: Any,
    dtype: Any = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw one sample and measure it.

    Returns ``(values, orders, status)``: entropies of shape
    ``(len(measures), len(all_sizes), windows)`` (NaN where a size does not apply), the
    site orderings ``(windows, n)`` that define its subsystems, and the sample's status
    code (:data:`SAMPLE_STATUS`). A state that cannot be normalised gives NaN entropies
    and the status of its cause, not an error: the rest of the task goes on.
    """
    network_rng, subsystem_rng = sample_generators(root_seed, spawn_key)
    dtype = xp.complex128 if dtype is None else dtype
    orders = sample_orders_for(plan, n, subsystem_rng)
    try:
        # Overflow in a network (deep polynomials) is expected here: the state's own
        # finiteness check turns it into the sample's status.
        with np.errstate(over="ignore", invalid="ignore"):
            _, psi = draw_state(architecture, hyper, n, network_rng, xp, dtype)
    except StateError as error:
        values = np.full((len(measures), len(all_sizes), len(orders)), np.nan)
        return values, orders, SAMPLE_STATUS.index(error.cause)
    values = state_entropies(psi, n, orders, plan, all_sizes, measures, xp)
    return values, orders, SAMPLE_STATUS.index("ok")


def subsystem_plan(experiment: Experiment, n: int) -> SubsystemPlan:
    """The compute layer's view of an experiment's subsystem spec at size ``n``."""
    spec = experiment.subsystem
    return SubsystemPlan(
        kind=spec.kind,
        sizes=spec.sizes(n),
        windows=spec.n_windows,
        sites=tuple(spec.sites or ()),
    )


def compute_task(
    sweep: Sweep, task: Task, backend: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entropies ``(samples, measures, m, windows)``, orderings ``(samples, windows, n)``
    and status codes ``(samples,)`` (:data:`pipeline.compute.SAMPLE_STATUS`) of one
    task's samples.

    BLAS runs single-threaded inside a task, so the numbers are bit-identical however the
    sweep is spread over workers; parallelism comes from running tasks side by side.
    """
    from threadpoolctl import threadpool_limits

    experiment = sweep.experiments[task.experiment]
    n = experiment.n[task.n_index]
    hyper = experiment.hyper_at(task.grid_index)
    architecture = get_architecture(experiment.architecture)
    plan = subsystem_plan(experiment, n)
    xp = namespace(resolve_backend(backend))
    dtype = complex_dtype(xp, sweep.dtype)
    values, orders, status = [], [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for sample in range(task.start, task.stop):
            spawn_key = (experiment.index, n, *task.grid_index, sample)
            v, o, code = sample_entropies(
                architecture,
                hyper,
                n,
                plan,
                experiment.all_sizes(),
                experiment.measures,
                sweep.seed,
                spawn_key,
                xp,
                dtype,
            )
            values.append(v)
            orders.append(o)
            status.append(code)
    return np.stack(values), np.stack(orders), np.asarray(status, dtype=np.int8)
