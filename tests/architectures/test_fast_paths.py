"""Fast routes to a network's full state against the batched ``evaluate`` they replace
(the test oracle): the random-feature product form and the transformer's ignored sites.

Tolerances: the product form rounds ``cos u cos v - sin u sin v`` instead of
``cos(u + v)``; over ``N_h`` features the amplitudes agree to ``1e-13`` relative to the
largest. Skipping ignored sites evaluates the same spins and must agree exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import NAMESPACES, host

from pipeline import full_state, get_architecture, namespace
from pipeline.architectures.states import _batched_values
from pipeline.architectures.transformer import uncovered_sites

PRODUCT_FORM = 1e-13


@pytest.mark.parametrize("name", NAMESPACES)
@pytest.mark.parametrize(
    ("n", "hyper"),
    [
        (9, {"activation": "cos", "hidden": 4}),
        (10, {"activation": "cos"}),
        (11, {"activation": "sin", "hidden": 7, "bias_dist": "normal"}),
        (8, {"activation": "cos", "hidden": 300, "weight_std": 1.0}),
    ],
)
def test_random_feature_product_form_equals_evaluate(name, n, hyper):
    xp = namespace(name)
    arch = get_architecture("random_feature")
    values = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(n), n, values)
    fast = host(arch.full_values(params, n, values, xp, xp.float64))
    slow = host(_batched_values(arch, params, n, values, xp, xp.complex128, 64))
    assert fast.shape == slow.shape == (2**n,)
    assert np.max(np.abs(fast - slow)) <= PRODUCT_FORM * np.max(np.abs(slow))


def test_random_feature_other_activations_keep_the_batched_route():
    arch = get_architecture("random_feature")
    values = arch.hyper(activation="tanh", hidden=3)
    params = arch.init(np.random.default_rng(0), 6, values)
    assert arch.full_values(params, 6, values, namespace("numpy"), np.float64) is None


def _all_configurations(arch, params, n, values, xp):
    """The state evaluated on every configuration, ignored sites included."""
    from pipeline.architectures.states import basis_spins

    spins = basis_spins(0, 2**n, n, xp, xp.float64)
    log_psi = host(arch.evaluate(params, spins, values, xp))
    psi = np.exp(log_psi - log_psi.real.max())
    return psi / np.linalg.norm(psi)


@pytest.mark.parametrize("name", NAMESPACES)
@pytest.mark.parametrize(("n", "hyper"), [(12, {}), (14, {"stride": 4, "patch": 5})])
def test_transformer_skips_uncovered_sites_exactly(name, n, hyper):
    xp = namespace(name)
    arch = get_architecture("transformer")
    values = arch.hyper(layers=2, **hyper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert uncovered_sites(n, values)  # the case under test
        params = arch.init(np.random.default_rng(n), n, values)
    psi = host(full_state(arch, params, n, values, xp))
    direct = _all_configurations(arch, params, n, values, xp)
    np.testing.assert_allclose(psi, direct, rtol=0, atol=1e-15)
    # psi does not depend on the uncovered sites: equal amplitudes along them
    tensor = psi.reshape((2,) * n)
    for site in uncovered_sites(n, values):
        np.testing.assert_array_equal(np.take(tensor, 0, axis=site), np.take(tensor, 1, axis=site))


@pytest.mark.parametrize("name", NAMESPACES)
@pytest.mark.parametrize(
    ("architecture", "n", "hyper"),
    [
        ("sn", 11, {}),
        ("sn", 12, {"mode": "general", "fan_in": True, "activation": "sin"}),
        ("mlp", 12, {}),
        ("mlp", 11, {"mode": "log", "depth": 3, "width": 4, "activation": "sin"}),
        ("mlp", 10, {"mode": "log", "depth": 0}),
        ("mlp", 10, {"mode": "log", "widths": "5,3", "complex_params": True, "weight_std": 0.5}),
        ("random_feature", 10, {"activation": "tanh", "hidden": 20}),
    ],
)
def test_split_first_layer_equals_evaluate(name, architecture, n, hyper, monkeypatch):
    monkeypatch.setattr("pipeline.architectures.states.SPLIT_SITES", 6)
    """With n > SPLIT_SITES (lowered here to 6) the first layer is a shared vector plus a
    table over the last sites: it rounds ``W s + b`` in another order, so agreement is to a
    few ulp (the states are normalised: ``1e-15`` absolute)."""
    xp = namespace(name)
    arch = get_architecture(architecture)
    values = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(n), n, values)
    split = host(full_state(arch, params, n, values, xp, batch_size=64))
    slow = _batched_values(arch, params, n, values, xp, xp.complex128, 64)
    direct = host(full_state(_without_split(arch), params, n, values, xp, batch_size=64))
    assert host(slow).shape == (2**n,)
    np.testing.assert_allclose(split, direct, rtol=0, atol=1e-15)


def _without_split(arch):
    import dataclasses

    return dataclasses.replace(arch, first_layers=None, evaluate_first=None)


@pytest.mark.parametrize("rows", [1, 5, 4096, 4099])
@pytest.mark.parametrize("width", [1, 2, 3, 96, 5000])
def test_add_rows_is_the_same_addition_as_broadcasting(rows, width):
    """The tiled bias add (rows that are not a multiple of the tile included, and widths
    too wide to tile) gives exactly the broadcast sum, bit for bit."""
    from pipeline.architectures.layers import add_rows

    rng = np.random.default_rng(rows * width)
    out, row = rng.normal(size=(rows, width)), rng.normal(size=width)
    expected = out + row
    add_rows(out, row, namespace("numpy"))
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("name", NAMESPACES)
def test_transformer_kernels_against_plain_reductions(name):
    """softmax and layer_norm (maxima over key slices, row sums by gemv) against NumPy's
    own reductions, to 1e-15; softmax stays finite for scores of 1e300 (the shift); the
    two heads read as complex equal re + i im."""
    from pipeline.architectures.layers import complex_head
    from pipeline.architectures.transformer import layer_norm, softmax

    xp = namespace(name)
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(7, 4, 5, 5)) * 10
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    expected = shifted / shifted.sum(axis=-1, keepdims=True)
    got = host(softmax(xp.asarray(scores), xp))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    huge = host(softmax(xp.asarray(np.full((2, 3), 1e300)), xp))
    np.testing.assert_allclose(huge, np.full((2, 3), 1 / 3), rtol=1e-15)
    x = rng.normal(size=(6, 4, 32)) * 3 + 1
    centred = x - x.mean(axis=-1, keepdims=True)
    expected = centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + 1e-5)
    got = host(layer_norm(xp.asarray(x), None, None, xp))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)
    p = {
        f"head_{part}.{kind}": xp.asarray(rng.normal(size=shape))
        for part in ("re", "im")
        for kind, shape in (("W", (1, 32)), ("b", (1,)))
    }
    features = rng.normal(size=(9, 32))
    value = host(complex_head(xp.asarray(features), p, xp, alpha=0.5))
    weights = {key: host(array) for key, array in p.items()}
    real = features @ weights["head_re.W"][0] + weights["head_re.b"][0]
    imag = features @ weights["head_im.W"][0] + weights["head_im.b"][0]
    np.testing.assert_allclose(value, 0.5 * real + 1j * imag, rtol=0, atol=1e-14)
