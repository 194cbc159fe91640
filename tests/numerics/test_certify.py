"""Certified intervals from partial spectra (:mod:`pipeline.numerics.certify`): every
spectrum consistent with the lower bounds has its entropies inside the interval, and the
extremal spectra are attained."""

from __future__ import annotations

import math

import array_api_compat.numpy as xp
import numpy as np
import pytest

from pipeline.numerics.certify import Certificate
from pipeline.numerics.entropy import entropies

MEASURES = ["vn", "renyi2", "renyi0.5", "renyi3", "inf"]


def _random_spectrum(rng: np.random.Generator, dim: int, decay: float) -> np.ndarray:
    p = np.sort(rng.random(dim) ** decay)[::-1]
    return p / p.sum()


@pytest.mark.parametrize("decay", [1.0, 4.0, 16.0])
@pytest.mark.parametrize("rank", [1, 5, 20, 63])
def test_every_consistent_spectrum_lies_inside_the_interval(decay, rank):
    rng = np.random.default_rng(rank)
    dim = 64
    p = _random_spectrum(rng, dim, decay)
    mu = p[:rank] * rng.uniform(0.9, 1.0, rank)  # lower bounds of the largest values
    certificate = Certificate.of(mu, 1.0 - mu.sum(), dim)
    lo, hi = certificate.bounds(MEASURES)
    true = np.asarray(entropies(xp.asarray(p), MEASURES, xp))
    assert np.all(lo <= true + 1e-13) and np.all(true <= hi + 1e-13)
    for _ in range(20):  # any other completion p_i >= mu_i
        extra = rng.dirichlet(np.ones(dim)) * (1.0 - mu.sum())
        other = np.concatenate([mu, np.zeros(dim - rank)]) + extra
        value = np.asarray(entropies(xp.asarray(other), MEASURES, xp))
        assert np.all(lo <= value + 1e-13) and np.all(value <= hi + 1e-13)


def test_the_bounds_are_the_entropies_of_the_extremal_spectra():
    mu = np.asarray([0.5, 0.2, 0.1])
    certificate = Certificate.of(mu, 0.2, 8)
    lo, hi = certificate.bounds(MEASURES)
    p_lo = np.asarray([0.7, 0.2, 0.1])
    # water level: 0.8 + 5 L = 1 with the three mu kept, L = 0.04 < 0.1 (consistent)
    p_hi = np.asarray([0.5, 0.2, 0.1] + [0.04] * 5)
    assert certificate.level == pytest.approx(0.04, abs=1e-15) and certificate.above == 3
    np.testing.assert_allclose(
        lo, np.asarray(entropies(xp.asarray(p_lo), MEASURES, xp)), atol=1e-14
    )
    np.testing.assert_allclose(
        hi, np.asarray(entropies(xp.asarray(p_hi), MEASURES, xp)), atol=1e-14
    )


def test_a_complete_spectrum_gives_a_point_and_nothing_captured_gives_zero_to_log_d():
    p = np.asarray([0.5, 0.25, 0.25])
    lo, hi = Certificate.of(p, 0.0, 3).bounds(["vn"])
    assert lo[0] == pytest.approx(hi[0], abs=1e-15)
    lo, hi = Certificate.of([], 1.0, 16).bounds(["vn", "inf"])
    np.testing.assert_allclose(lo, [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(hi, [math.log(16)] * 2, atol=1e-14)


def test_ritz_values_above_one_are_scaled_down_not_trusted():
    certificate = Certificate.of([0.7, 0.4], 1e-12, 4)  # round-off: sum + tau > 1
    assert certificate.mu.sum() + certificate.tau == pytest.approx(1.0, abs=1e-15)
    lo, hi = certificate.bounds(["vn"])
    assert lo[0] <= hi[0]
