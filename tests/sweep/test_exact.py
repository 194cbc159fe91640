"""Method ``exact`` (:func:`pipeline.sweep.sample.exact_sample`): closed-form spectra at any
``n`` for the architectures that have one, equal to the dense path of the same network and
subsystem at small ``n`` (the oracle), and the one-line refusals of specs that ask for a
closed form where there is none."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.architectures import REGISTRY
from pipeline.numerics.references import dicke_entropy
from pipeline.numerics.xp import namespace
from pipeline.sweep.plan import iter_tasks, peak_task_bytes
from pipeline.sweep.sample import EnsemblePoint, compute_task, exact_sample, sample_entropies
from pipeline.sweep.spec import SpecError
from pipeline.sweep.subsystems import SubsystemSpec
from pipeline.sweep.validate import parse_spec

MEASURES = ("vn", "renyi2", "renyi0.5", "inf")
N = 12
KINDS = {
    "first": SubsystemSpec("first", "1..n-1", 1, None),
    "window": SubsystemSpec("window", "2..n//2+2", 2, None),
    "random": SubsystemSpec("random", "3..7", 2, None),
    "explicit": SubsystemSpec("explicit", None, None, ((0, 3, 7), (1, 2, 4, 5, 8, 11))),
}
CASES = {
    "cos, N_h = 1": ("random_feature", {"hidden": 1, "activation": "cos"}),
    "cos, N_h = 5": ("random_feature", {"hidden": 5, "activation": "cos"}),
    "sin, N_h = 3": ("random_feature", {"hidden": 3, "activation": "sin"}),
    "dicke": ("dicke", {}),
    "ghz": ("ghz", {}),
    "product": ("product", {}),
}


def _point(name: str, hyper: dict, kind: str, n: int = N) -> EnsemblePoint:
    arch = REGISTRY[name]
    subsystem = KINDS[kind]
    sizes = (
        tuple(sorted({len(s) for s in subsystem.sites})) if subsystem.sites else subsystem.sizes(n)
    )
    return EnsemblePoint(arch, arch.hyper(**hyper), n, subsystem, sizes, MEASURES, 5, (0, n))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_exact_equals_the_dense_path(case, kind):
    """Same seeds, same subsystems; every measure to 1e-10 nats (the dense eigensolver's
    rounding on 2^6 x 2^6 matrices is far below that)."""
    point = _point(*CASES[case], kind)
    for sample in range(3):
        dense, dense_orders, status = sample_entropies(point, sample, namespace("numpy"))
        exact, orders, exact_status = exact_sample(point, sample)
        np.testing.assert_array_equal(orders, dense_orders)
        assert status == exact_status == 1
        np.testing.assert_array_equal(np.isnan(exact), np.isnan(dense))
        np.testing.assert_allclose(exact, dense, rtol=0, atol=1e-10)


def _spec(architecture: str, n: str, method: str = "exact", extra: str = "") -> str:
    return f"""
name = "exact-test"
seed = 11
[[experiment]]
name = "e"
architecture = "{architecture}"
n = {n}
samples = 2
measures = ["vn", "inf"]
method = "{method}"
{extra}
[experiment.subsystem]
kind = "window"
m = "n//2"
windows = 2
"""


def test_exact_tasks_run_at_n_1024():
    """Dicke's hypergeometric law and GHZ's log 2 at sizes no state vector reaches, and a
    cos network's rank bound log(4 N_h); the task estimate stays small."""
    for name, check in (
        ("dicke", lambda n: dicke_entropy(n, n // 2)),
        ("ghz", lambda n: math.log(2)),
    ):
        sweep = parse_spec(_spec(name, "[64, 1024]"))
        for task in iter_tasks(sweep):
            n = sweep.experiments[0].n[task.n_index]
            half = sweep.experiments[0].all_sizes().index(n // 2)
            result = compute_task(sweep, task, "numpy")
            assert result.certified is None
            np.testing.assert_allclose(result.values[:, 0, half, :], check(n), rtol=1e-13)
    sweep = parse_spec(
        _spec("random_feature", "1024", extra='hyper = {hidden = 5, activation = "cos"}')
    )
    values = compute_task(sweep, next(iter_tasks(sweep)), "numpy").values
    assert np.all(np.isfinite(values)) and np.all(values <= math.log(20) + 1e-12)
    assert np.all(values[:, 0] >= values[:, 1] - 1e-12)  # vn >= min-entropy
    assert peak_task_bytes(sweep)[0] < 1 << 30


def test_exact_tasks_come_first_at_every_n():
    """Milliseconds at any n: the closed-form experiment's tasks (n up to 512) run before
    the streaming experiment's smallest n, although it is listed second."""
    streaming = _spec("sn", "[8, 10]", "streaming").split("[[experiment]]")[1]
    exact = _spec("dicke", "[8, 512]").split("[[experiment]]")[1].replace('"e"', '"d"')
    sweep = parse_spec(f'name = "t"\nseed = 1\n[[experiment]]{streaming}[[experiment]]{exact}')
    experiments = sweep.experiments
    order = [
        (experiments[t.experiment].name, experiments[t.experiment].n[t.n_index])
        for t in iter_tasks(sweep)
    ]
    assert order == [("d", 8), ("d", 512), ("e", 8), ("e", 10)]


@pytest.mark.parametrize(
    ("architecture", "n", "method", "extra", "message"),
    [
        ("mlp", "8", "exact", "", 'experiment[0].method: "exact" needs a closed-form spectrum'),
        (
            "random_feature",
            "8",
            "exact",
            'hyper = {activation = ["cos", "tanh"]}',
            "which random_feature has not with these hyperparameters",
        ),
        ("dicke", "[8, 36]", "dense", "", "experiment[0].n[1]: 36 is out of range"),
        ("dicke", "[8, 4097]", "exact", "", "experiment[0].n[1]: 4097 is out of range"),
        (
            "dicke",
            "8",
            "exact",
            "streaming = {tolerance = 1e-6}",
            'streaming options need method = "streaming" or "auto"',
        ),
    ],
)
def test_specs_asking_for_a_closed_form_where_there_is_none_are_refused(
    architecture, n, method, extra, message
):
    with pytest.raises(SpecError, match=r"^<string>: ") as error:
        parse_spec(_spec(architecture, n, method, extra))
    assert message in str(error.value)
    assert "\n" not in str(error.value)
