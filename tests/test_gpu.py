"""The numerics contract on CuPy (skipped without CuPy and a CUDA device), and the error
that asking for a GPU gives when there is none (runs everywhere without a GPU).

On a GPU: every registered architecture's state, the dense and nested spectra, the
streaming method's certified intervals, and every quick twin run end to end with
``--backend cupy`` against the committed CPU references (within the cross-machine
tolerance, as on any other machine)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import ROOT, assert_matches_reference, nqs_ent_run, svd_entropies

from pipeline.architectures import REGISTRY, get_architecture
from pipeline.architectures.states import full_state
from pipeline.architectures.tiles import NetworkTiles
from pipeline.numerics.entropy import entropies
from pipeline.numerics.spectra import nested_schmidt_probs, schmidt_probs, schmidt_probs_svd
from pipeline.numerics.streaming import StreamingOptions, streaming_spectrum
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

SMALL = {
    "transformer": {"patch": 3, "stride": 2, "d_model": 8, "heads": 2, "layers": 2},
    "random_feature": {"hidden": 20},
}
"""Hyperparameters that fit n = 10 (every other architecture at its defaults)."""
CASES = [(name, SMALL.get(name, {})) for name in sorted(REGISTRY)] + [
    ("mlp", {"activation": "sin"}),
    ("random_feature", {"hidden": 5, "activation": "tanh"}),
    ("sn", {"activation": "sin", "mode": "general"}),
]


def pair(name: str, n: int, xp, seed: int = 0, **hyper):
    """The same network's state on CuPy (``xp``) and on NumPy."""
    arch = get_architecture(name)
    h = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(seed), n, h)
    return full_state(arch, params, n, h, xp), full_state(arch, params, n, h, NP)


# --- on a GPU ------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.filterwarnings("ignore:.*uncovered:UserWarning")
@pytest.mark.parametrize(("name", "hyper"), CASES, ids=lambda c: str(c))
def test_full_state_matches_numpy(cupy_xp, name, hyper):
    gpu, cpu = pair(name, 10, cupy_xp, seed=1, **hyper)
    np.testing.assert_allclose(to_numpy(gpu), cpu, rtol=0, atol=PATHS)


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("name", "hyper"),
    [("mlp", {"activation": "sin"}), ("sn", {}), ("random_feature", {"hidden": 5})],
)
def test_streaming_on_gpu_matches_numpy_and_contains_the_truth(cupy_xp, name, hyper):
    """n = 16, a window of 8 sites (exact_dim 16: the certified sketch, not the exact sum);
    the truth is NumPy's unclipped SVD (Renyi 1/2 weighs the smallest values)."""
    n, m = 16, 8
    arch = get_architecture(name)
    h = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(5), n, h)
    order = tuple(range(3, n)) + tuple(range(3))
    options = StreamingOptions(exact_dim=16, block=32)
    results = {
        backend: streaming_spectrum(
            NetworkTiles(arch, params, n, h, order, m, backend), MEASURES, options
        )
        for backend in ("cupy", "numpy")
    }
    gpu, cpu = results["cupy"], results["numpy"]
    assert gpu.rank == cpu.rank and gpu.passes == cpu.passes
    truth = svd_entropies(to_numpy(full_state(arch, params, n, h, NP)), n, order, m, MEASURES)
    for a, b in zip(gpu.entropies(MEASURES), cpu.entropies(MEASURES), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=PATHS)
    _, lo, hi = gpu.entropies(MEASURES)
    assert np.all(lo - PATHS <= truth) and np.all(truth <= hi + PATHS), (lo, truth, hi)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*uncovered:UserWarning")
@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("workflows/*/*_quick.toml")), ids=lambda p: p.stem
)
def test_quick_twin_on_gpu_reproduces_reference(cupy_xp, path, tmp_path, cluster, capsys):
    """The committed CPU references, within the cross-machine tolerance."""
    store = tmp_path / "store.zarr"
    assert nqs_ent_run(path, store, "--backend", "cupy", cluster=cluster) == 0, (
        capsys.readouterr().err
    )
    assert_matches_reference(
        store, ROOT / "data" / "reference" / f"{path.parent.name}_{path.stem}.npz"
    )


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
