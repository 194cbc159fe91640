"""Certified samples (:func:`pipeline.sweep.sample.certified_sample`): for every registered
architecture and every subsystem kind, the streaming interval of every measure contains
the dense value of the same network and subsystem; a spec's method and streaming options
are validated in one line."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from helpers import svd_entropies

from pipeline.architectures import REGISTRY
from pipeline.architectures.states import full_state
from pipeline.architectures.tiles import NetworkTiles
from pipeline.numerics.streaming import StreamingOptions, streaming_spectrum
from pipeline.numerics.xp import namespace
from pipeline.sweep.sample import EnsemblePoint, certified_sample, compute_task, sample_entropies
from pipeline.sweep.spec import SpecError
from pipeline.sweep.subsystems import SubsystemSpec
from pipeline.sweep.validate import parse_spec

MEASURES = ("vn", "renyi2", "inf")
N = 10
KINDS = {
    "first": SubsystemSpec("first", "1..n-1", 1, None),
    "window": SubsystemSpec("window", "2..n//2+2", 2, None),
    "random": SubsystemSpec("random", "3..6", 2, None),
    "explicit": SubsystemSpec("explicit", None, None, ((0, 3, 7), (1, 2, 4, 5, 8))),
}
SMALL_SPEC = """
name = "t"
seed = 1
[[experiment]]
name = "sn"
architecture = "sn"
n = 8
samples = 1
measures = ["vn"]
subsystem = {kind = "first", m = 4}
"""
# small exact threshold and block, so that most cuts go through the certified sketch
OPTIONS = StreamingOptions(block=8, max_rank=64, exact_dim=4)


def _point(name: str, kind: str, backend_options: StreamingOptions = OPTIONS) -> EnsemblePoint:
    arch = REGISTRY[name]
    subsystem = KINDS[kind]
    sizes = (
        tuple(sorted({len(s) for s in subsystem.sites})) if subsystem.sites else subsystem.sizes(N)
    )
    return EnsemblePoint(
        arch, arch.hyper(), N, subsystem, sizes, MEASURES, 3, (0, N), backend_options
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_dense_value_lies_inside_the_certified_interval(name, kind):
    point = _point(name, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the transformer's uncovered site
        dense, dense_orders, status = sample_entropies(point, 0, namespace("numpy"))
        certified, orders, certified_status = certified_sample(point, 0)
    np.testing.assert_array_equal(orders, dense_orders)
    assert status == certified_status == 1
    measured = ~np.isnan(dense)
    np.testing.assert_array_equal(measured, ~np.isnan(certified["values"]))
    lo, hi, value = certified["lo"][measured], certified["hi"][measured], dense[measured]
    assert np.all(lo <= value + 1e-11) and np.all(value <= hi + 1e-11)
    assert np.all(certified["passes"][measured[0]] >= 1)
    np.testing.assert_allclose(
        certified["values"][measured], value, atol=max(1e-8, np.max(hi - lo))
    )


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_renyi_orders_below_one_are_certified_against_the_unclipped_svd(name):
    """Renyi 1/2 and 1/4 add ``mu^alpha`` for every Ritz value, so eigensolver round-off
    of order ``eps`` (where the true value is ~0) would raise the lower bound by
    ``~ D sqrt(eps)``: each Ritz value is lowered by its error bound first (before that,
    an MLP-NQS at n = 16 had its Renyi-1/2 lower bound 2.7e-6 above the truth). The
    interval must hold the SVD's value up to its own round-off (1e-11 nats)."""
    n, m = 12, 6
    measures = ("vn", "renyi0.5", "renyi0.25", "renyi2", "inf")
    arch = REGISTRY[name]
    hyper = arch.hyper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the transformer's uncovered site
        params = arch.init(np.random.default_rng(5), n, hyper)
        psi = np.asarray(full_state(arch, params, n, hyper, namespace("numpy")))
        order = tuple(range(3, n)) + tuple(range(3))
        source = NetworkTiles(arch, params, n, hyper, order, m)
        result = streaming_spectrum(source, measures, dataclasses.replace(OPTIONS, block=16))
    _, lo, hi = result.entropies(measures)
    truth = svd_entropies(psi, n, order, m, measures)
    assert np.all(lo <= truth + 1e-11) and np.all(truth <= hi + 1e-11), (lo - truth, hi - truth)


@pytest.mark.parametrize("name", ["mlp", "sn"])  # a complex and a real (sn: mode real) state
def test_certified_samples_agree_under_array_api_strict(name):
    point = _point(name, "window")
    numpy_result, _, _ = certified_sample(point, 1, "numpy")
    strict_result, _, _ = certified_sample(point, 1, "array_api_strict")
    for key in ("values", "lo", "hi"):
        np.testing.assert_allclose(strict_result[key], numpy_result[key], atol=1e-12)


def test_a_certified_task_fills_bounds_and_costs_and_dense_tasks_of_auto_fill_points():
    text = """
name = "t"
seed = 2
[[experiment]]
name = "sn"
architecture = "sn"
n = 10
samples = 2
measures = ["vn", "inf"]
method = "METHOD"
subsystem = {kind = "window", m = "3..5", windows = 2}
[experiment.streaming]
exact_dim = 8
"""
    streamed = compute_task(
        parse_spec(text.replace("METHOD", "streaming")), _only_task(text, "streaming"), "numpy"
    )
    auto = parse_spec(text.replace("METHOD", "auto"))
    dense = compute_task(auto, _only_task(text, "auto"), "numpy", worker_bytes=1 << 40)
    assert streamed.certified is not None and dense.certified is not None
    np.testing.assert_array_equal(dense.certified["lo"], dense.values)
    assert np.all(dense.certified["passes"] == 0) and np.all(dense.certified["tail_weight"] == 0)
    assert np.all(streamed.certified["passes"] >= 1)
    assert np.all(streamed.certified["lo"] <= dense.values + 1e-11)
    assert np.all(dense.values <= streamed.certified["hi"] + 1e-11)
    tiny = compute_task(auto, _only_task(text, "auto"), "numpy", worker_bytes=1)  # auto streams
    np.testing.assert_array_equal(tiny.certified["passes"], streamed.certified["passes"])


def _only_task(text: str, method: str):
    from pipeline.sweep.plan import iter_tasks

    (task,) = list(iter_tasks(parse_spec(text.replace("METHOD", method))))
    return task


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('method = "fast"', "experiment[0].method: 'fast' is not one of dense, streaming, auto"),
        (
            "[experiment.streaming]\ntolerance = 1e-6",
            'experiment[0].streaming: streaming options need method = "streaming" or "auto"',
        ),
        (
            'method = "streaming"\n[experiment.streaming]\ntolerance = -1',
            "experiment[0].streaming.tolerance: expected a number > 0 (nats), got -1",
        ),
        (
            'method = "streaming"\n[experiment.streaming]\nblock = 64\nmax_rank = 8',
            "experiment[0].streaming.max_rank: 8 is out of range (expected an integer >= 64)",
        ),
        (
            'method = "streaming"\n[experiment.streaming]\nrank = 8',
            "experiment[0].streaming.rank: unknown key 'rank'",
        ),
    ],
)
def test_bad_streaming_settings_are_one_line_errors(extra, message):
    with pytest.raises(SpecError) as error:
        parse_spec(SMALL_SPEC + extra, source="s.toml")
    assert str(error.value).startswith(f"s.toml: {message}")
    assert "\n" not in str(error.value)


def test_options_reach_the_point():
    sweep = parse_spec(
        SMALL_SPEC
        + 'method = "streaming"\n[experiment.streaming]\ntolerance = 1e-6\nmax_rank = 128\n'
    )
    experiment = sweep.experiments[0]
    assert experiment.certified
    assert experiment.streaming == dataclasses.replace(
        StreamingOptions(), tolerance=1e-6, max_rank=128
    )


def test_a_real_state_streams_real_tiles_and_a_false_declaration_is_refused():
    sn = REGISTRY["sn"]
    params = sn.init(np.random.default_rng(0), N, sn.hyper())
    tiles = NetworkTiles(sn, params, N, sn.hyper(), range(N), N // 2)
    assert tiles.real and tiles(0, 8).dtype == np.float64
    general = sn.hyper(mode="general")
    params = sn.init(np.random.default_rng(0), N, general)
    assert not NetworkTiles(sn, params, N, general, range(N), N // 2).real
    lying = dataclasses.replace(sn, real_when=lambda hyper: True)
    with pytest.raises(ValueError, match="declare a real state"):
        NetworkTiles(lying, params, N, general, range(N), N // 2)(0, 8)
