"""Smoke tests of ``nqs-ent bench``: tiny sizes, so the numbers are noise and no speed is
asserted. What must hold: every method is run and agrees with the others, each target gets
a PASS or MISS verdict, and the exit status is 1 exactly when a target is missed."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pipeline.cli import main


def test_bench_spectra_runs_every_method_and_gives_verdicts(capsys):
    status = main(["bench", "spectra", "--sizes", "8,10", "--repeats", "1"])
    out = capsys.readouterr().out
    assert status == (1 if re.search(r"^MISS ", out, re.M) else 0), out
    rows = re.findall(r"^\s*(8|10)\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+.*$", out, re.M)
    assert rows == ["8", "10"], out
    agreement = [float(x) for x in re.findall(r"\s(\d\.\de[-+]\d+)\s", out)]
    assert len(agreement) == 2 and max(agreement) < 1e-12, out
    assert len(re.findall(r"^(PASS|MISS) ", out, re.M)) == 3, out


def test_bench_nested_agrees_with_direct_spectra(capsys):
    assert main(["bench", "nested", "--n", "10", "--windows", "3"]) in (0, 1)  # a verdict
    out = capsys.readouterr().out
    match = re.search(r"max\|dp\| = (\S+)", out)
    assert match and float(match.group(1)) < 1e-12, out
    assert re.search(r"^    (PASS|MISS)  nested within 1.3x of the herk .*: \d+\.\d\dx$", out, re.M)


@pytest.mark.slow
def test_bench_sweep_reports_efficiency_and_overhead(capsys):
    args = ["--tasks", "4", "--task-seconds", "0.2", "--tiny-tasks", "10", "--workers", "2"]
    status = main(["bench", "sweep", *args])
    out = capsys.readouterr().out
    assert status == (1 if re.search(r"^target .*: MISS", out, re.M) else 0), out
    for label in ("single-process loop", "2 plain processes", "dask, submission to end"):
        assert label in out, out
    assert re.search(r"per-task overhead: 10 tiny tasks .*: [\d.]+ ms per task", out), out
    assert re.search(r"^target >= 90% efficiency .*: (PASS|MISS)", out, re.M), out


def test_bench_states_times_every_architecture(capsys, tmp_path):
    """Without the author's code the author's column is skipped with a note, never
    failed; each paper architecture gets a row."""
    status = main(["bench", "states", "--n", "10", "--peer", str(tmp_path / "absent")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "author's column skipped: the author's code is not at" in out
    assert len(re.findall(r"^\S.*\d+\.\d\d \| \d+\.\d\d .* SKIP ", out, re.M)) == 5, out


def test_bench_streaming_certifies_and_compares_with_dense(capsys):
    # n = 16: D_A = 256 is summed exactly; n = 18: certified (D_A = 512 > exact_dim)
    assert main(["bench", "streaming", "--sizes", "16,18", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"18 streaming .* 256 +1 ", out)
    assert out.count("outside the interval by") == 2 and "False" not in out
    assert "PASS  n = 18: width" in out


def test_bench_memory_measures_each_kind_in_its_own_process(capsys):
    """At n = 16 the worker's base footprint dominates, so the estimate's verdict may go
    either way; the table and the verdict lines must be there."""
    assert main(["bench", "memory", "--sizes", "16"]) in (0, 1)
    out = capsys.readouterr().out
    rows = re.findall(
        r"^ 16 +(first|window) +1 +(\d+) +(\d+\.\d\d) +(\d+) +(\d+\.\d\d)$", out, re.M
    )
    assert [row[0] for row in rows] == ["first", "window"], out
    assert all(int(peak) > 1 for _, peak, *_ in rows)  # at least the state vector
    assert len(re.findall(r"^    (PASS|MISS)  n = 16 ", out, re.M)) == 2


def test_best_keeps_the_least_of_three_within_budget_and_gives_up_on_none():
    from pipeline.bench.states import BUDGET, best

    times = iter([3.0, 1.0, 2.0, 0.5])
    assert best(lambda: next(times)) == 1.0  # three runs, the fourth never made
    slow = iter([BUDGET + 1.0, 0.1])
    assert best(lambda: next(slow)) == BUDGET + 1.0  # over budget after one
    assert best(lambda: None) is None


def test_bench_paper_counts_the_paper_networks():
    from pipeline.bench.paper import ROOT, WORKFLOWS, networks

    counts = {name: networks(ROOT / "workflows" / "paper" / f"{name}.toml") for name in WORKFLOWS}
    assert counts["transformer"] == 40 and counts["dicke"] == 1
    assert sum(counts.values()) == 581  # the speed issue's count of the paper's networks


def test_bench_paper_runs_a_workflow_and_compares_stores(capsys, tmp_path):
    """The quick twin end to end (no author, no comparison: quick stores have no committed
    full-size counterpart); then compare() on its store: itself agrees exactly, a changed
    entropy is found, a changed NaN pattern is refused."""
    import shutil

    import zarr

    from pipeline.bench.paper import compare

    quick = ["--quick", "--workflows", "dicke", "--no-mlp-run", "--out", str(tmp_path)]
    status = main(["bench", "paper", *quick])
    out = capsys.readouterr().out
    assert status == 0, out
    assert re.search(r"^dicke +1 +\d+\.\d +- +- +no committed store to compare$", out, re.M), out
    assert re.search(r"^dicke +- +\d+\.\d\d +-$", out, re.M), out  # one network: ours
    assert "the 25-min target needs all six" in out
    store = tmp_path / "paper-dicke.zarr"
    assert compare(store, store)[1] == 0.0
    changed = tmp_path / "changed.zarr"
    shutil.copytree(store, changed)
    values = zarr.open_group(str(changed), mode="r+")["dicke/S_vn"]
    data = values[...]
    index = tuple(np.argwhere(np.isfinite(data))[0])
    data[index] += 1e-9
    values[...] = data
    count, worst = compare(changed, store)
    assert count >= np.isfinite(data).sum() and abs(worst - 1e-9) < 1e-12
    data[index] = np.nan
    values[...] = data
    with pytest.raises(AssertionError, match="NaN pattern"):
        compare(changed, store)
