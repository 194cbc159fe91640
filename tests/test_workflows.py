"""The paper's workflows and scans: every one validates and has a quick twin; the quick
twins run end to end and reproduce the committed reference in data/reference.

The references were made on another machine, so entropies are compared within
:data:`pipeline.numerics.provenance.CROSS_MACHINE_ATOL` (BLAS kernels and NumPy's SIMD dispatch
differ by CPU in the last bits); integers (site orderings, k) and the NaN pattern must
match exactly. CI runs these tests a second time emulating an older CPU (``.ci/run``).

Regenerate the references (after a deliberate change of numerics or seeds) with
``NQS_ENT_UPDATE_REFERENCE=1 python3 -m pytest tests/test_workflows.py``.
"""

from __future__ import annotations

import os

import pytest
from helpers import ROOT, assert_matches_reference, nqs_ent_run

from pipeline.cli import main
from pipeline.store.snapshots import write_snapshot
from pipeline.sweep.validate import load_spec

FULL = sorted(p for p in ROOT.glob("workflows/*/*.toml") if not p.stem.endswith("_quick"))
QUICK = sorted(ROOT.glob("workflows/*/*_quick.toml"))
REFERENCE = ROOT / "data" / "reference"
UPDATE = os.environ.get("NQS_ENT_UPDATE_REFERENCE") == "1"


def test_every_workflow_has_a_quick_twin():
    assert FULL and QUICK
    assert {p.with_name(p.stem + "_quick.toml") for p in FULL} == set(QUICK)


@pytest.mark.filterwarnings("ignore:.*uncovered:UserWarning")
@pytest.mark.parametrize("path", FULL + QUICK, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_workflow_validates(path, capsys):
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:.*uncovered:UserWarning")
def test_paper_runs_are_at_n_22_with_20_samples_and_10_windows():
    for path in ROOT.glob("workflows/paper/*.toml"):
        if path.stem.endswith("_quick") or path.stem == "dicke":
            continue
        for experiment in load_spec(path).experiments:
            assert experiment.n == (22,), path
            assert experiment.samples == 20 and experiment.subsystem.n_windows == 10, path
            assert experiment.subsystem.kind == "window" and "vn" in experiment.measures


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*uncovered:UserWarning")
@pytest.mark.parametrize("path", QUICK, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_quick_twin_reproduces_reference(path, tmp_path, cluster, capsys):
    store = tmp_path / "store.zarr"
    code = nqs_ent_run(path, store, cluster=cluster)
    assert code == 0, capsys.readouterr().err
    reference = REFERENCE / f"{path.parent.name}_{path.stem}.npz"
    if UPDATE:
        reference.parent.mkdir(parents=True, exist_ok=True)
        write_snapshot(store, reference)
    assert_matches_reference(store, reference)
    figures = tmp_path / "figures"
    assert main(["plot", str(store), "--out", str(figures)]) == 0
    assert list(figures.glob("*.png")) and list(figures.glob("*.pdf"))
