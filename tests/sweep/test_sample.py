"""One sample's entropies (:func:`pipeline.sweep.sample.sample_entropies`): seeded only by
its spawn key, the same on every array namespace, and single precision close to double.

Tests taking ``xp`` run on each array namespace of the ``xp`` fixture (conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.architectures import get_architecture
from pipeline.numerics.xp import namespace
from pipeline.sweep.sample import EnsemblePoint, sample_entropies
from pipeline.sweep.subsystems import SubsystemSpec

MEASURES = ("vn", "renyi2", "renyi0.5", "inf")

EXACT = 1e-12
"""The same computation on two array namespaces, in double precision."""
SINGLE = 1e-5
"""complex64 against complex128 on well-conditioned (Haar, random MPS) spectra."""

SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9)
PLAN = SubsystemSpec("window", (1, 2, 4, 5, 7), windows=3, sites=None)


def run_sample(name: str, spawn_key, xp, dtype=None, n: int = 10, **hyper):
    arch = get_architecture(name)
    *key, sample = spawn_key
    point = EnsemblePoint(arch, arch.hyper(**hyper), n, PLAN, SIZES, MEASURES, 11, tuple(key))
    return sample_entropies(point, sample, xp, dtype)


def test_sample_entropies_depend_only_on_the_spawn_key(xp):
    values, orders, _ = run_sample("haar", (0, 10, 3), xp)
    again, orders_again, _ = run_sample("haar", (0, 10, 3), xp)
    np.testing.assert_array_equal(values, again)
    np.testing.assert_array_equal(orders, orders_again)
    assert values.shape == (len(MEASURES), len(SIZES), PLAN.n_windows)
    unused = [i for i, m in enumerate(SIZES) if m not in PLAN.sizes(10)]
    assert np.isnan(values[:, unused]).all()
    used = [i for i, m in enumerate(SIZES) if m in PLAN.sizes(10)]
    assert np.isfinite(values[:, used]).all()
    other, _, _ = run_sample("haar", (0, 10, 4), xp)
    assert not np.allclose(other[:, used], values[:, used])


def test_sample_entropies_do_not_depend_on_the_namespace():
    numpy_values, numpy_orders, _ = run_sample("mps", (1, 2), namespace("numpy"), chi=3)
    strict_values, strict_orders, _ = run_sample(
        "mps", (1, 2), namespace("array_api_strict"), chi=3
    )
    np.testing.assert_array_equal(numpy_orders, strict_orders)
    np.testing.assert_allclose(strict_values, numpy_values, rtol=0, atol=EXACT)


@pytest.mark.parametrize(("name", "hyper"), [("haar", {}), ("mps", {"chi": 3})])
def test_sample_entropies_single_precision_agrees_with_double(xp, name, hyper):
    """Well-conditioned spectra (no Schmidt probability near the float32 clipping threshold;
    Renyi orders < 1 of fast-decaying spectra are not reliable in single precision)."""
    double, orders, _ = run_sample(name, (2, 5), xp, xp.complex128, **hyper)
    single, orders_single, _ = run_sample(name, (2, 5), xp, xp.complex64, **hyper)
    np.testing.assert_array_equal(orders, orders_single)
    np.testing.assert_allclose(single, double, rtol=0, atol=SINGLE)


@pytest.mark.parametrize(
    ("hyper", "n"),
    [({"hidden": 1}, 12), ({"hidden": 3, "activation": "sin"}, 13), ({"hidden": 40}, 14)],
)
def test_product_form_spectra_equal_the_dense_path(hyper, n):
    """CosNet and sin networks measure the sizes near the half cut from their product form;
    the dense path (the same state without it) agrees to 1e-13 nats."""
    import dataclasses

    arch = get_architecture("random_feature")
    sizes = tuple(range(1, n // 2 + 2))
    spec = SubsystemSpec("window", sizes, 3, None)
    point = EnsemblePoint(
        arch, arch.hyper(**hyper), n, spec, sizes, ("vn", "renyi2", "inf"), 5, (0,)
    )
    dense_arch = dataclasses.replace(arch, product_form=None)
    xp = namespace("numpy")
    values, orders, _ = sample_entropies(point, 1, xp)
    dense, dense_orders, _ = sample_entropies(
        dataclasses.replace(point, architecture=dense_arch), 1, xp
    )
    np.testing.assert_array_equal(orders, dense_orders)
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values, dense, rtol=0, atol=1e-13)
