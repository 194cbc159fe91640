"""Per-sample numerics: seeds -> parameters -> state -> spectra -> entropies.

Pure functions of plain values and arrays: no store, no Dask. The engine calls
:func:`sample_entropies` once per sample; results depend only on the root seed and the
sample's spawn key, never on how samples are grouped into tasks or where they run.

Seeding: ``SeedSequence(root_seed, spawn_key=(experiment, n, *grid_index, sample))`` spawns
two children, the first for the network parameters and the second for the subsystems.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.architectures.base import Architecture, Params
from pipeline.entropy import entropies
from pipeline.spectra import nested_schmidt_probs
from pipeline.states import StateError, full_state
from pipeline.subsystems import explicit_orders, sample_orders
from pipeline.xp import to_numpy

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


def mean_and_error(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean along ``axis``, ignoring NaN (``ddof = 1``;
    NaN where fewer than two values are finite)."""
    finite = np.isfinite(values)
    count = np.sum(finite, axis=axis)
    total = np.sum(np.where(finite, values, 0.0), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        deviation = np.where(finite, values - np.expand_dims(mean, axis), 0.0)
        variance = np.sum(deviation**2, axis=axis) / (count - 1)
        error = np.where(count > 1, np.sqrt(variance / count), np.nan)
    return mean, error


def summary_rows(
    values: np.ndarray, sizes: Sequence[int], measures: Sequence[str]
) -> list[tuple[int, str, float, float]]:
    """``(m, measure, mean, standard error)`` over samples of per-sample window means.

    ``values`` has shape ``(samples, measures, sizes, windows)``.
    """
    finite = np.isfinite(values)
    count = np.sum(finite, axis=-1)
    total = np.sum(np.where(finite, values, 0.0), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_sample = total / count  # the paper's convention: mean over windows
    mean, error = mean_and_error(per_sample, axis=0)
    rows = []
    for j, m in enumerate(sizes):
        for i, measure in enumerate(measures):
            if math.isfinite(mean[i, j]):
                rows.append((int(m), measure, float(mean[i, j]), float(error[i, j])))
    return rows
