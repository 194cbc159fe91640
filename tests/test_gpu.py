"""The numerics contract on CuPy (skipped without CuPy and a CUDA device), and the error
that asking for a GPU gives when there is none (runs everywhere without a GPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.architectures import get_architecture
from pipeline.architectures.states import full_state
from pipeline.numerics.entropy import entropies
from pipeline.numerics.spectra import nested_schmidt_probs, schmidt_probs, schmidt_probs_svd
from pipeline.numerics.xp import BackendError, gpu_available, namespace, resolve_backend, to_numpy
from pipeline.sweep.subsystems import sample_orders

MEASURES = ("vn", "renyi2", "renyi0.5", "inf")
EXACT = 1e-12
"""Analytic values (GHZ log 2, product 0) and identities in double precision."""
PATHS = 1e-10
"""GPU against CPU spectra: two eigensolvers, each with round-off of order eps * dim."""


@pytest.fixture
def cupy_xp():
    pytest.importorskip("cupy")
    if not gpu_available():
        pytest.skip("CuPy imports but no CUDA device is visible")
    return namespace("cupy")


NP = namespace("numpy")


def pair(name: str, n: int, xp, seed: int = 0, **hyper):
    """The same network's state on CuPy (``xp``) and on NumPy."""
    arch = get_architecture(name)
    h = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(seed), n, h)
    return full_state(arch, params, n, h, xp), full_state(arch, params, n, h, NP)


# --- on a GPU ------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize(("name", "hyper"), [("haar", {}), ("mps", {"chi": 3}), ("sn", {})])
def test_full_state_matches_numpy(cupy_xp, name, hyper):
    gpu, cpu = pair(name, 10, cupy_xp, seed=1, **hyper)
    np.testing.assert_allclose(to_numpy(gpu), cpu, rtol=0, atol=PATHS)


@pytest.mark.gpu
@pytest.mark.parametrize("n", [8, 14])
def test_schmidt_probs_match_numpy(cupy_xp, n):
    gpu, cpu = pair("haar", n, cupy_xp, seed=n)
    rng = np.random.default_rng(n)
    for m in (1, n // 2, n // 2 + 1, n - 1):
        subsystem = tuple(int(s) for s in rng.permutation(n)[:m])
        for path in (schmidt_probs, schmidt_probs_svd):
            np.testing.assert_allclose(
                np.sort(to_numpy(path(gpu, n, subsystem, cupy_xp))),
                np.sort(to_numpy(path(cpu, n, subsystem, NP))),
                rtol=0,
                atol=PATHS,
            )


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["window", "random"])
def test_nested_spectra_match_numpy(cupy_xp, kind):
    n = 12
    gpu, cpu = pair("mps", n, cupy_xp, seed=2, chi=8)
    orders = sample_orders(kind, n, 4, np.random.default_rng(3)).tolist()
    sizes = (1, 3, 6, 7, 11)
    on_gpu = nested_schmidt_probs(gpu, n, orders, sizes, cupy_xp)
    on_cpu = nested_schmidt_probs(cpu, n, orders, sizes, NP)
    for m in sizes:
        np.testing.assert_allclose(
            np.sort(to_numpy(on_gpu[m]), axis=-1),
            np.sort(to_numpy(on_cpu[m]), axis=-1),
            rtol=0,
            atol=PATHS,
        )


@pytest.mark.gpu
def test_entropies_of_reference_states(cupy_xp):
    n = 8
    ghz, _ = pair("ghz", n, cupy_xp)
    product, _ = pair("product", n, cupy_xp, seed=4)
    for m in range(1, n):
        subsystem = tuple(range(m))
        ghz_values = to_numpy(
            entropies(schmidt_probs(ghz, n, subsystem, cupy_xp), MEASURES, cupy_xp)
        )
        product_values = to_numpy(
            entropies(schmidt_probs(product, n, subsystem, cupy_xp), MEASURES, cupy_xp)
        )
        np.testing.assert_allclose(ghz_values, math.log(2), rtol=0, atol=EXACT)
        np.testing.assert_allclose(product_values, 0.0, rtol=0, atol=EXACT)


# --- without a GPU -------------------------------------------------------------------------


def test_asking_for_cupy_without_a_gpu_is_a_clear_error():
    if gpu_available():
        pytest.skip("a GPU is present, so backend 'cupy' is valid here")
    with pytest.raises(BackendError, match=r"CUDA device.*use backend 'numpy'"):
        resolve_backend("cupy")
    with pytest.raises(BackendError, match="CUDA device"):
        namespace("cupy")
    assert resolve_backend("auto") == "numpy"  # auto never fails, it picks the CPU
