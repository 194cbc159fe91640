"""Entropies of a spectrum: exact small cases, the Renyi order's domain, and properties that
hold for every probability vector and every pure state (hypothesis). Measure names are in
test_measures.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import NAMESPACES, host
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.numerics.entropy import clean_probs, entropies, min_entropy, renyi, von_neumann
from pipeline.numerics.spectra import schmidt_probs
from pipeline.numerics.xp import namespace

ORDERS = (0.5, 1.0, 2.0, math.inf)
MEASURES = ("renyi0.5", "vn", "renyi2", "inf")  # increasing order

EXACT = 1e-12
"""Closed-form values, bounds and orderings, in double precision."""

PROPERTY = settings(max_examples=75, deadline=None)


def all_orders(p, xp) -> np.ndarray:
    """Entropies of ``p`` for every order in ``ORDERS``, on the host."""
    return np.array([float(renyi(p, alpha, xp)) for alpha in ORDERS])


# --- exact small cases -----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMESPACES)
@pytest.mark.parametrize("dim", [1, 2, 3, 7, 64, 1000])
def test_uniform_distribution_has_every_renyi_entropy_log_d(name, dim):
    xp = namespace(name)
    p = xp.full((dim,), 1.0 / dim, dtype=xp.float64)
    np.testing.assert_allclose(all_orders(p, xp), math.log(dim), rtol=0, atol=EXACT)


@pytest.mark.parametrize("name", NAMESPACES)
@pytest.mark.parametrize("dim", [1, 2, 16])
def test_pure_spectrum_has_zero_entropy(name, dim):
    xp = namespace(name)
    p = xp.asarray([1.0] + [0.0] * (dim - 1), dtype=xp.float64)
    values = all_orders(p, xp)
    assert np.all(np.isfinite(values))  # 0 log 0 = 0 and 0^a = 0 handled
    np.testing.assert_allclose(values, 0.0, rtol=0, atol=EXACT)


@pytest.mark.parametrize("name", NAMESPACES)
def test_known_two_level_values(name):
    """``p = (3/4, 1/4)``: closed forms of each order."""
    xp = namespace(name)
    p = xp.asarray([0.75, 0.25], dtype=xp.float64)
    expected = {
        0.5: 2 * math.log(math.sqrt(0.75) + math.sqrt(0.25)),
        1.0: -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)),
        2.0: -math.log(0.75**2 + 0.25**2),
        3.0: -0.5 * math.log(0.75**3 + 0.25**3),
        math.inf: -math.log(0.75),
    }
    for alpha, value in expected.items():
        assert abs(float(renyi(p, alpha, xp)) - value) <= EXACT, alpha
    assert float(von_neumann(p, xp)) == float(renyi(p, 1.0, xp))
    assert float(min_entropy(p, xp)) == float(renyi(p, math.inf, xp))


@pytest.mark.parametrize("name", NAMESPACES)
def test_entropies_stack_measures_over_batch(name):
    xp = namespace(name)
    p = xp.asarray([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]], dtype=xp.float64)
    values = host(entropies(p, MEASURES, xp))
    assert values.shape == (len(MEASURES), 2)
    np.testing.assert_allclose(values[:, 0], math.log(2), rtol=0, atol=EXACT)
    np.testing.assert_allclose(values[:, 1], math.log(4), rtol=0, atol=EXACT)


# --- the Renyi order --------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, -0.5, -math.inf])
def test_renyi_rejects_nonpositive_order(alpha):
    xp = namespace("numpy")
    with pytest.raises(ValueError, match="Renyi order must be > 0"):
        renyi(xp.asarray([0.5, 0.5]), alpha, xp)


# --- properties of probability vectors ---------------------------------------------------

weights = st.lists(
    st.floats(min_value=0.0, max_value=1.0, allow_nan=False, allow_subnormal=False),
    min_size=1,
    max_size=64,
).filter(lambda w: sum(w) > 1e-6)


def normalised(w: list[float], xp):
    p = np.asarray(w, dtype=np.float64)
    return xp.asarray(p / p.sum())


@pytest.mark.parametrize("name", NAMESPACES)
@PROPERTY
@given(w=weights)
def test_entropies_of_probability_vectors_are_bounded_and_ordered(name, w):
    """``0 <= S_inf <= S_2 <= S_1 <= S_0.5 <= log d`` (Renyi non-increasing in the order)."""
    xp = namespace(name)
    values = all_orders(normalised(w, xp), xp)
    assert np.all(values >= -EXACT)
    assert np.all(values <= math.log(len(w)) + EXACT)
    assert np.all(np.diff(values) <= EXACT), values


@PROPERTY
@given(w=weights, alpha=st.floats(min_value=1e-3, max_value=1e-2))
def test_renyi_is_continuous_at_order_one(w, alpha):
    """``S_a`` for ``a = 1 -+ delta`` brackets ``S_1`` and is within ``O(delta)`` of it:
    ``dS_a/da = -Var(log p) / 2`` at ``a = 1``, and the variance of ``log p`` over ``d``
    outcomes is below ``log(d)^2 + 1``."""
    xp = namespace("numpy")
    p = normalised(w, xp)
    below, at, above = (float(renyi(p, a, xp)) for a in (1 - alpha, 1.0, 1 + alpha))
    assert below + EXACT >= at >= above - EXACT
    slope = math.log(len(w)) ** 2 + 1
    assert below - at <= alpha * slope + EXACT
    assert at - above <= alpha * slope + EXACT


@pytest.mark.parametrize("name", NAMESPACES)
@PROPERTY
@given(
    w=weights,
    noise=st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=64, max_size=64),
)
def test_clean_probs_sums_to_one_and_is_nonnegative(name, w, noise):
    """Round-off-sized negatives (and numerical zeros) are clipped; the rest renormalised."""
    xp = namespace(name)
    raw = np.asarray(w) * 3.7 + 1e-17 * np.asarray(noise[: len(w)])
    cleaned = host(clean_probs(xp.asarray(raw), xp))
    assert np.all(cleaned >= 0)
    assert abs(cleaned.sum() - 1.0) <= EXACT
    kept = raw > len(w) * np.finfo(np.float64).eps * raw.max()
    np.testing.assert_allclose(cleaned[kept], raw[kept] / raw[kept].sum(), rtol=EXACT, atol=0)
    assert np.all(cleaned[~kept] == 0)


# --- properties of pure states -------------------------------------------------------------


@st.composite
def states_and_subsystems(draw):
    n = draw(st.integers(min_value=2, max_value=8))
    m = draw(st.integers(min_value=1, max_value=n - 1))
    subsystem = draw(st.permutations(range(n)))[:m]
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rank = draw(st.sampled_from(["haar", "low-rank"]))
    rng = np.random.default_rng(seed)
    if rank == "haar":
        psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    else:  # a sum of two product states: far from maximal entanglement
        psi = np.zeros(1 << n, dtype=complex)
        for _ in range(2):
            term = np.ones(1, dtype=complex)
            for _ in range(n):
                term = np.kron(term, rng.normal(size=2) + 1j * rng.normal(size=2))
            psi += term
    return n, tuple(subsystem), psi / np.linalg.norm(psi)


@pytest.mark.parametrize("name", NAMESPACES)
@PROPERTY
@given(case=states_and_subsystems())
def test_state_entropies_are_bounded_by_the_smaller_side(name, case):
    """``0 <= S_a(A) <= min(|A|, |B|) log 2`` for every order, non-increasing in ``a``."""
    n, subsystem, psi = case
    xp = namespace(name)
    probs = schmidt_probs(xp.asarray(psi), n, subsystem, xp)
    values = host(entropies(probs, MEASURES, xp))
    bound = min(len(subsystem), n - len(subsystem)) * math.log(2)
    assert np.all(values >= -EXACT)
    assert np.all(values <= bound + EXACT), (values, bound)
    assert np.all(np.diff(values) <= EXACT), values
    assert abs(float(xp.sum(probs)) - 1.0) <= EXACT
