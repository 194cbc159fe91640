"""The streaming method (:mod:`pipeline.numerics.streaming`) on matrices with known
spectra, under NumPy and array-api-strict: exact cuts, certified intervals that contain
the truth and narrow as the rank grows, honest widths at ``max_rank``, and results that do
not depend on how the tiles are grouped or scaled."""

from __future__ import annotations

import itertools
import math

import array_api_compat.numpy as anp
import numpy as np
import pytest

from pipeline.numerics import streaming
from pipeline.numerics.entropy import entropies
from pipeline.numerics.streaming import (
    ArraySource,
    StateError,
    StreamingOptions,
    streaming_spectrum,
)

MEASURES = ["vn", "renyi2", "inf"]


def _matrix(rows: int, cols: int, singular: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((rows, rows)) + 1j * rng.standard_normal((rows, rows)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, rows)) + 1j * rng.standard_normal((cols, rows)))
    return (u * singular) @ v.conj().T


def _truth(singular: np.ndarray) -> np.ndarray:
    p = singular**2 / np.sum(singular**2)
    return np.asarray(entropies(anp.asarray(p), MEASURES, anp))


@pytest.fixture(params=["numpy", "array_api_strict"])
def backend(request):
    return request.param


def test_exact_cut_equals_the_dense_spectrum(backend):
    singular = np.linspace(1.0, 0.1, 64)
    result = streaming_spectrum(ArraySource(_matrix(64, 512, singular), backend=backend), MEASURES)
    value, lo, hi = result.entropies(MEASURES)
    assert result.exact and result.passes == 1
    np.testing.assert_allclose(value, _truth(singular), atol=1e-12)
    np.testing.assert_array_equal(lo, hi)


def test_certified_interval_contains_the_truth_and_narrows_with_rank(backend):
    singular = np.exp(-np.arange(256) / 8.0)
    source = ArraySource(_matrix(256, 512, singular), backend=backend)
    options = StreamingOptions(block=16, max_rank=160, exact_dim=64)
    result = streaming_spectrum(source, MEASURES, options)
    value, lo, hi = result.entropies(MEASURES)
    truth = _truth(singular)
    assert not result.exact
    assert np.all(lo <= truth + 1e-12) and np.all(truth <= hi + 1e-12)
    assert np.all(lo <= value) and np.all(value <= hi)
    assert np.max(hi - lo) <= options.tolerance
    # the first pass certifies 2 blocks' worth; each later one adds a block
    assert result.passes > 1 and result.rank == result.passes * options.block
    widths = np.asarray(result.widths)
    assert widths[-1] < widths[0] * 1e-3 and np.all(np.diff(widths[:4]) < 0)


def test_low_rank_state_gives_a_floating_point_width():
    singular = np.r_[np.linspace(1.0, 0.2, 20), np.zeros(492)]  # rank 20, like CosNet N_h = 5
    result = streaming_spectrum(
        ArraySource(_matrix(512, 512, singular)), MEASURES, StreamingOptions(block=32)
    )
    value, lo, hi = result.entropies(MEASURES)
    assert result.rank == 64 and result.passes == 1  # rank 20 < 2 blocks: the first pass
    assert np.max(hi - lo) < 1e-10
    np.testing.assert_allclose(value, _truth(singular), atol=1e-12)


@pytest.mark.parametrize("decay", [2.0, 8.0, 40.0])
def test_one_pass_ritz_values_interlace_the_schmidt_probabilities(decay):
    singular = np.exp(-np.arange(256) / decay)
    matrix = _matrix(256, 1024, singular / np.linalg.norm(singular), seed=3)
    rng = np.random.default_rng(1)
    omega, _ = np.linalg.qr(rng.standard_normal((256, 48)) + 1j * rng.standard_normal((256, 48)))
    z = matrix.conj().T @ omega
    ritz, budget = streaming.one_pass_ritz(4 * matrix @ z, 4 * z.conj().T @ z, 4.0, np)
    probs = singular**2 / np.sum(singular**2)
    assert 0 < len(ritz) <= 48 and np.all(np.diff(ritz) <= 0)
    assert np.all(ritz <= probs[: len(ritz)] + 1e-15)  # Cauchy interlacing
    assert np.sum(ritz) <= 1 + budget and 0 <= budget < 1e-11
    # better than the Ritz values of rho on span(Omega) itself, from the same pass
    assert np.sum(ritz) >= np.trace(omega.conj().T @ matrix @ z).real - 1e-15


def test_a_real_state_is_certified_in_real_arithmetic(backend):
    singular = np.exp(-np.arange(256) / 8.0)
    rng = np.random.default_rng(5)
    u, _ = np.linalg.qr(rng.standard_normal((256, 256)))
    v, _ = np.linalg.qr(rng.standard_normal((1024, 256)))
    matrix = (u * singular) @ v.T  # real, with these singular values
    options = StreamingOptions(block=16, max_rank=160, exact_dim=64)
    real = ArraySource(matrix, backend=backend)
    assert real.real and not ArraySource(matrix.astype(complex)).real
    # every pass's sums stay real: the basis, the tiles and their products
    xp = streaming.namespace(backend)
    basis = streaming._orthonormal(streaming._omega(0, 256, 32, xp, True), None, xp)
    part = streaming.chunk_pass(
        real, streaming.PassSpec("apply", basis=basis, gram=True), [(0, 512), (512, 1024)]
    )
    assert part.acc.dtype == xp.float64 and part.gram.dtype == xp.float64
    truth = _truth(singular)
    for source in (real, ArraySource(matrix.astype(complex), backend=backend)):
        result = streaming_spectrum(source, MEASURES, options)
        _, lo, hi = result.entropies(MEASURES)
        assert not result.exact and np.max(hi - lo) <= options.tolerance
        assert np.all(lo <= truth + 1e-12) and np.all(truth <= hi + 1e-12)


def test_flat_spectrum_reports_an_honest_wide_interval_at_max_rank():
    singular = np.ones(256)  # maximally entangled: no rank below 256 certifies anything
    result = streaming_spectrum(
        ArraySource(_matrix(256, 256, singular)),
        MEASURES,
        StreamingOptions(block=16, max_rank=64, exact_dim=16),
    )
    _, lo, hi = result.entropies(MEASURES)
    truth = _truth(singular)
    assert result.rank == 64
    assert np.all(lo <= truth + 1e-12) and np.all(truth <= hi + 1e-12)
    assert np.min(hi - lo) > 0.5  # wide, and says so
    assert result.tail_weight > 0.5


def test_chunking_and_scale_do_not_change_the_result():
    singular = np.exp(-np.arange(128) / 6.0)
    matrix = _matrix(128, 2048, singular)
    options = StreamingOptions(block=32, exact_dim=16)
    base = streaming_spectrum(ArraySource(matrix), MEASURES, options)
    for chunks in (1, 3, 7):
        other = streaming_spectrum(
            ArraySource(matrix), MEASURES, StreamingOptions(block=32, exact_dim=16, chunks=chunks)
        )
        np.testing.assert_allclose(
            np.stack(other.entropies(MEASURES)), np.stack(base.entropies(MEASURES)), atol=1e-12
        )
    # the same state as log-amplitudes far outside the floating-point range
    logs = ArraySource(np.log(matrix.astype(complex)) + 2000.0, log_amplitude=True)
    shifted = streaming_spectrum(logs, MEASURES, options)
    np.testing.assert_allclose(
        np.stack(shifted.entropies(MEASURES)), np.stack(base.entropies(MEASURES)), atol=1e-12
    )
    again = streaming_spectrum(ArraySource(matrix), MEASURES, options)
    np.testing.assert_array_equal(
        np.stack(again.entropies(MEASURES)), np.stack(base.entropies(MEASURES))
    )


def test_tiles_are_fixed_by_the_shape_and_chunks_cover_them():
    ranges = streaming.tile_ranges(1 << 14, 1 << 14)
    assert ranges[0] == (0, 32) and len(ranges) == 512
    chunks = streaming.chunk_ranges(len(ranges), 16)
    assert chunks[0][0] == 0 and chunks[-1][1] == 512 and len(chunks) == 16
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))


def test_zero_and_nonfinite_states_are_refused():
    with pytest.raises(StateError) as error:
        streaming_spectrum(ArraySource(np.zeros((4, 8))), MEASURES)
    assert error.value.cause == "zero"
    bad = np.ones((4, 8), complex)
    bad[1, 2] = math.inf
    with pytest.raises(StateError) as error:
        streaming_spectrum(ArraySource(bad), MEASURES)
    assert error.value.cause == "nonfinite"
