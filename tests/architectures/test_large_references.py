"""Exact references beyond dense sizes, and the streaming method checked against them.

- random-feature ``cos``/``sin`` networks as ``4 N_h`` product states
  (:func:`pipeline.architectures.random_feature.product_grams`) and the random MPS through
  its environments (:func:`pipeline.architectures.reference.mps_grams`) equal the dense
  path to 1e-12 at n <= 16 and run at n = 1024;
- the streaming interval contains them at n = 20 (here) and n = 24-28 (slow), and Dicke's
  and GHZ's exact half-cut values at n = 28 (slow). Intervals are compared with a slack of
  1e-11 nats, the references' own rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.architectures import get_architecture
from pipeline.architectures.random_feature import product_grams
from pipeline.architectures.reference import mps_grams
from pipeline.architectures.states import full_state
from pipeline.architectures.tiles import NetworkTiles
from pipeline.numerics.entropy import entropies
from pipeline.numerics.references import dicke_entropy
from pipeline.numerics.spectra import gram_schmidt_probs, schmidt_probs
from pipeline.numerics.streaming import StreamingOptions, streaming_spectrum

MEASURES = ["vn", "renyi2", "inf"]
SLACK = 1e-11


def _entropies(probs: np.ndarray) -> np.ndarray:
    return np.asarray(entropies(probs, MEASURES, np))


def _network(name: str, n: int, seed: int = 0, **hyper):
    arch = get_architecture(name)
    values = arch.hyper(**hyper)
    return arch, values, arch.init(np.random.default_rng(seed), n, values)


@pytest.mark.parametrize("activation", ["cos", "sin"])
@pytest.mark.parametrize("sites", [[0, 1, 2, 3, 4, 5, 6], [3, 7, 1, 12], [9]])
def test_product_grams_equal_the_dense_path(activation, sites):
    n = 14
    arch, hyper, params = _network("random_feature", n, hidden=6, activation=activation)
    dense = schmidt_probs(full_state(arch, params, n, hyper, np), n, sites, np)
    exact = gram_schmidt_probs(*product_grams(params, n, hyper, sites), np)
    np.testing.assert_allclose(_entropies(exact), _entropies(dense), atol=1e-12)


def test_product_grams_at_n_1024():
    n, hidden = 1024, 8
    _, hyper, params = _network("random_feature", n, hidden=hidden, activation="cos")
    probs = np.asarray(gram_schmidt_probs(*product_grams(params, n, hyper, range(n // 2)), np))
    assert probs.shape == (4 * hidden,) and abs(probs.sum() - 1) < 1e-12
    value = _entropies(probs)[0]
    assert 0.1 < value <= math.log(4 * hidden)  # entangled, and at most log(rank)


def test_product_grams_refuse_other_activations():
    _, hyper, params = _network("random_feature", 8, hidden=2, activation="tanh")
    assert product_grams(params, 8, hyper, [0, 1]) is None


@pytest.mark.parametrize("m", [1, 5, 9, 13])
def test_mps_grams_equal_the_dense_path(m):
    n = 14
    arch, hyper, params = _network("mps", n, seed=2, chi=5)
    dense = schmidt_probs(full_state(arch, params, n, hyper, np), n, range(m), np)
    exact = gram_schmidt_probs(*mps_grams(params, n, m), np)
    np.testing.assert_allclose(_entropies(exact), _entropies(dense), atol=1e-12)


def test_mps_grams_at_n_512_stay_below_log_chi():
    n, chi = 512, 6
    _, _, params = _network("mps", n, chi=chi)
    values = [_entropies(gram_schmidt_probs(*mps_grams(params, n, m), np))[0] for m in (1, 256)]
    assert 0 < values[0] <= math.log(2) + 1e-12
    assert 0 < values[1] <= math.log(chi) + 1e-12


def _inside(result, exact: np.ndarray) -> None:
    _, lo, hi = result.entropies(MEASURES)
    assert np.all(lo <= exact + SLACK) and np.all(exact <= hi + SLACK), (lo, exact, hi)


def _streamed_cosnet(n: int, hidden: int):
    arch, hyper, params = _network("random_feature", n, seed=n, hidden=hidden, activation="cos")
    result = streaming_spectrum(NetworkTiles(arch, params, n, hyper, range(n), n // 2), MEASURES)
    exact = _entropies(gram_schmidt_probs(*product_grams(params, n, hyper, range(n // 2)), np))
    return result, exact


@pytest.mark.parametrize("hidden", [5, 40])
def test_streaming_contains_the_product_reference_at_n_20(hidden):
    result, exact = _streamed_cosnet(20, hidden)
    _inside(result, exact)
    if hidden == 5:  # rank 20: an interval of floating-point width (the budget's
        # tau ~ 4e-12 spread over D_A = 1024 values gives ~ tau log(D_A / tau) ~ 1e-10)
        _, lo, hi = result.entropies(MEASURES)
        assert result.passes == 1 and np.max(hi - lo) < 5e-10


@pytest.mark.slow
@pytest.mark.parametrize(("n", "hidden"), [(24, 10), (28, 5)])
def test_streaming_contains_the_product_reference_beyond_dense(n, hidden):
    result, exact = _streamed_cosnet(n, hidden)
    _inside(result, exact)
    _, lo, hi = result.entropies(MEASURES)
    assert np.max(hi - lo) <= 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dicke", "ghz"])
def test_dicke_and_ghz_at_n_28_match_their_exact_values(name):
    n = 28
    arch, hyper, params = _network(name, n)
    result = streaming_spectrum(NetworkTiles(arch, params, n, hyper, range(n), n // 2), ["vn"])
    exact = dicke_entropy(n, n // 2) if name == "dicke" else math.log(2)
    value, lo, hi = (float(x[0]) for x in result.entropies(["vn"]))
    assert lo - SLACK <= exact <= hi + SLACK
    # rank 2 (GHZ) or 15 (Dicke): one pass, a width of the floating-point budget's order
    assert abs(value - exact) < 1e-10 and hi - lo < 5e-10


def test_a_tanhnet_whose_spectrum_does_not_decay_gets_an_honest_wide_interval():
    n = 14
    arch, hyper, params = _network("random_feature", n, hidden=200, activation="tanh")
    options = StreamingOptions(block=8, max_rank=32, exact_dim=16)
    tiles = NetworkTiles(arch, params, n, hyper, range(n), n // 2)
    result = streaming_spectrum(tiles, MEASURES, options)
    dense = _entropies(schmidt_probs(full_state(arch, params, n, hyper, np), n, range(7), np))
    _inside(result, dense)
    _, lo, hi = result.entropies(MEASURES)
    assert result.rank == 32 and np.min(hi - lo) > 0.05  # wide at max_rank, and says so
