"""The Zarr store against a real Dask cluster and real files: provenance, damage found
from checksums, failed writes that lose nothing, and samples whose state cannot be
normalised recorded per sample.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr
from helpers import nqs_ent_run, write_spec

from pipeline import load
from pipeline.analysis.stats import status_counts
from pipeline.cli import main
from pipeline.numerics import provenance
from pipeline.store.integrity import read_done
from pipeline.store.layout import chunk_file
from pipeline.sweep.sample import SAMPLE_STATUS
from pipeline.sweep.validate import parse_spec

SPEC = """
name = "store-test"
seed = 11
[[experiment]]
name = "sn"
architecture = "sn"
n = [8, 10]
samples = 6
samples_per_task = 2
measures = ["vn", "renyi2"]
[experiment.hyper]
activation = ["tanh", "sin"]
[experiment.subsystem]
kind = "window"
m = "1..n//2"
windows = 2
"""

# Degree-8 polynomials 8 layers deep overflow float64: every such state is non-finite.
OVERFLOW_SPEC = """
name = "overflow-test"
seed = 2
[[experiment]]
name = "mlp"
architecture = "mlp"
n = [8]
samples = 4
samples_per_task = 2
measures = ["vn"]
[experiment.hyper]
activation = ["tanh", "poly8"]
depth = 8
width = 8
[experiment.subsystem]
kind = "window"
m = "1..4"
windows = 2
"""


def run(spec_path: Path, store: Path, cluster, *extra: str) -> int:
    """``nqs-ent run`` on the module's cluster."""
    return nqs_ent_run(spec_path, store, *extra, cluster=cluster)


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory) -> Path:
    return write_spec(tmp_path_factory.mktemp("spec"), SPEC)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, spec_path, cluster) -> Path:
    store = tmp_path_factory.mktemp("reference") / "ref.zarr"
    assert run(spec_path, store, cluster) == 0
    return store


def assert_same(a: Path, b: Path) -> None:
    ta, tb = load(a), load(b)
    for var in ("S_vn", "S_renyi2", "site_order", "sample_status", "done"):
        np.testing.assert_array_equal(ta["sn"].ds[var].values, tb["sn"].ds[var].values, var)


# ------------------------------------------------------------------------- provenance


def test_store_records_blas_kernel_and_simd_level(reference):
    attrs = zarr.open_group(str(reference), mode="r").attrs
    assert attrs["nqs_ent_format"] == 2
    for record in [attrs["platform"], *attrs["worker_platforms"]]:
        assert record["blas"] and all(
            "architecture" in b and "version" in b for b in record["blas"]
        )
        assert "found" in record["numpy_simd"] and "baseline" in record["numpy_simd"]
    here = provenance.platform_key(provenance.platform())
    assert here in {provenance.platform_key(r) for r in attrs["worker_platforms"]}
    assert {"numpy", "zarr", "dask"} <= set(attrs["versions"])


# --------------------------------------------------------------------------- damage


def test_done_flags_are_read_from_the_files(reference):
    experiment = parse_spec(SPEC).experiments[0]
    done = read_done(reference, experiment)
    assert done.shape == (2, 2, 3) and done.all()
    decoded = np.asarray(zarr.open_array(str(reference), path="sn/done", mode="r")[...])
    np.testing.assert_array_equal(done, decoded == 1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "done"])
def test_damaged_chunk_is_found_and_recomputed(
    tmp_path, spec_path, reference, cluster, damage, capsys
):
    store = tmp_path / "damaged.zarr"
    shutil.copytree(reference, store)
    experiment = parse_spec(SPEC).experiments[0]
    lead, block = (1, 0), 2
    name = {"flip": "S_renyi2", "truncate": "site_order", "delete": "S_vn", "done": "done"}[damage]
    target = chunk_file(store, experiment, name, lead, block)
    content = target.read_bytes()
    if damage == "flip":  # same size, one bit changed: only a checksum sees it
        target.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    elif damage == "truncate":
        target.write_bytes(content[: len(content) // 2])
    elif damage == "delete":
        target.unlink()
    else:  # a done flag that no longer decodes: the task is not done
        target.write_bytes(b"\x00garbage")
    capsys.readouterr()
    assert run(spec_path, store, cluster) == 0
    err = capsys.readouterr().err
    if damage == "done":
        assert "11 of 12 tasks already done and skipped, 1 to run" in err
    else:
        assert "11 of 12 tasks already done and skipped, 1 to run (1 damaged, recomputed)" in err
        assert "task sn/n=10/0/block=2 was marked done but its data are damaged" in err
    assert_same(reference, store)


def test_resume_of_a_format_1_store_still_checks_its_chunks(
    tmp_path, spec_path, reference, cluster, capsys
):
    """Stores written before checksums (data/paper/) resume with the decoding check."""
    store = tmp_path / "old.zarr"
    shutil.copytree(reference, store)
    root = zarr.open_group(str(store), mode="r+")
    root.attrs["nqs_ent_format"] = 1
    experiment = parse_spec(SPEC).experiments[0]
    chunk_file(store, experiment, "S_vn", (0, 1), 1).write_bytes(b"truncated")
    capsys.readouterr()
    assert run(spec_path, store, cluster) == 0
    assert "(1 damaged, recomputed)" in capsys.readouterr().err
    np.testing.assert_array_equal(
        load(store)["sn"].ds.S_vn.values, load(reference)["sn"].ds.S_vn.values
    )


# ------------------------------------------------------------------------ failed writes


def fill(folder: Path) -> Path:
    """Take every free byte of the filesystem of ``folder``."""
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * (1 << 16))
                handle.flush()
    return filler


def test_a_full_disk_fails_tasks_loses_nothing_and_a_rerun_completes(
    tmp_path, spec_path, reference, cluster, tmpfs, capsys
):
    experiment = parse_spec(SPEC).experiments[0]
    with tmpfs(tmp_path / "disk", "16m") as disk:
        store = disk / "store.zarr"
        assert run(spec_path, store, cluster, "--stop-after", "3") == 75
        before = read_done(store, experiment)
        filler = fill(disk)
        capsys.readouterr()
        assert run(spec_path, store, cluster) == 1
        err = capsys.readouterr().err
        failed = [line for line in err.splitlines() if line.startswith("failed: ")]
        assert failed and all("No space left on device" in line for line in failed)
        after = read_done(store, experiment)
        # a failed task is not done, and nothing a resume trusts was half-written
        assert int(after.sum()) == int(before.sum()) + 12 - int(before.sum()) - len(failed)
        assert not list(store.rglob("*.partial")) and not list(store.rglob("*.tmp*"))
        filler.unlink()
        assert run(spec_path, store, cluster) == 0
        assert_same(reference, store)


# -------------------------------------------------------------- non-finite samples


def test_samples_that_cannot_be_normalised_are_recorded_not_fatal(tmp_path, cluster, capsys):
    spec = write_spec(tmp_path, OVERFLOW_SPEC, "overflow.toml")
    store = tmp_path / "overflow.zarr"
    assert run(spec, store, cluster) == 0
    captured = capsys.readouterr()
    assert "4 samples not ok" in captured.err
    assert "mlp: nonfinite 4" in captured.out and "0/4" in captured.out
    ds = load(store)["mlp"].ds
    ok, nonfinite = SAMPLE_STATUS.index("ok"), SAMPLE_STATUS.index("nonfinite")
    status = ds.sample_status.values  # (n, activation, sample)
    assert (status[0, 0] == ok).all() and (status[0, 1] == nonfinite).all()
    assert np.isfinite(ds.S_vn.values[0, 0]).all() and np.isnan(ds.S_vn.values[0, 1]).all()
    assert status_counts(ds) == {"pending": 0, "ok": 4, "zero": 0, "nonfinite": 4}
    assert main(["status", str(store)]) == 0
    assert "samples not ok: 4 (nonfinite 4)" in capsys.readouterr().out
    assert run(spec, store, cluster) == 0  # NaN samples are data, not damage
    assert "4 of 4 tasks already done and skipped, 0 to run" in capsys.readouterr().err
