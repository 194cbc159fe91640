"""The streaming method on a real Dask cluster: one state's passes spread over the
workers give bit-identical results to the serial passes, and ``nqs-ent run`` on a spec
with ``method = "streaming"`` writes certified intervals, checksummed and resumable."""

from __future__ import annotations

import numpy as np
from helpers import nqs_ent_run, write_spec

from pipeline.analysis.stats import measure_stats
from pipeline.analysis.tables import summarize, summary_table
from pipeline.architectures import get_architecture
from pipeline.architectures.tiles import NetworkTiles
from pipeline.numerics.streaming import StreamingOptions, streaming_spectrum
from pipeline.run.streaming import dask_mapper
from pipeline.store import load
from pipeline.sweep.validate import load_spec

SPEC = """
name = "streamed"
seed = 4
[[experiment]]
name = "mlp"
architecture = "mlp"
n = [10, 12]
samples = 3
samples_per_task = 2
measures = ["vn", "renyi2"]
method = "streaming"
hyper.activation = ["tanh", "sin"]
subsystem = {kind = "window", m = "2..n//2", windows = 2}
[experiment.streaming]
exact_dim = 8
block = 16
"""


def test_one_state_over_the_workers_is_bit_identical_to_serial(cluster):
    from distributed import Client

    mlp = get_architecture("mlp")
    hyper = mlp.hyper()
    params = mlp.init(np.random.default_rng(0), 14, hyper)
    source = NetworkTiles(mlp, params, 14, hyper, range(14), 7)
    options = StreamingOptions(block=16, exact_dim=8, chunks=5)
    serial = streaming_spectrum(source, ["vn"], options)
    with Client(cluster) as client:
        spread = streaming_spectrum(source, ["vn"], options, mapper=dask_mapper(client))
    assert spread.passes == serial.passes and spread.rank == serial.rank
    np.testing.assert_array_equal(spread.certificate.mu, serial.certificate.mu)
    np.testing.assert_array_equal(
        np.stack(spread.entropies(["vn"])), np.stack(serial.entropies(["vn"]))
    )


def test_run_writes_certified_intervals_and_resumes(tmp_path, cluster):
    spec = write_spec(tmp_path, SPEC)
    store = tmp_path / "s.zarr"
    assert nqs_ent_run(spec, store, "--stop-after", "3", cluster=cluster) == 75
    assert nqs_ent_run(spec, store, cluster=cluster) == 0
    ds = load(store)["mlp"].ds
    assert ds.attrs["method"] == "streaming"
    for measure in ("vn", "renyi2"):
        value, lo, hi = (ds[f"S_{measure}{s}"].values for s in ("", "_lo", "_hi"))
        measured = ~np.isnan(value)
        assert measured.any()
        np.testing.assert_array_equal(measured, ~np.isnan(lo))
        assert np.all(lo[measured] <= value[measured]) and np.all(value[measured] <= hi[measured])
        assert np.max(hi[measured] - lo[measured]) <= 1e-8
    assert float(ds.passes.max()) >= 1 and float(ds.tail_weight.max()) < 1e-9
    # the analysis carries the intervals: error bars, worst widths, the summary table
    st = measure_stats(ds, "S_vn")
    widths = (ds.S_vn_hi - ds.S_vn_lo).max(["sample", "window"])
    np.testing.assert_allclose(st["certified_width"].values, widths.values)
    measured = st["mean"].notnull().values
    half = (st["hi"] - st["lo"]).values[measured] / 2
    np.testing.assert_allclose(st["error"].values[measured], st["se"].values[measured] + half)
    assert np.any(half > 0)  # the certified cuts widen the error bars
    table = summarize(ds, "S_vn")
    assert np.all((table["width"] >= 0) & (table["width"] <= 1e-8))
    text = summary_table(store, load_spec(spec))
    assert "worst width" in text.splitlines()[0]
    again = tmp_path / "again.zarr"
    assert nqs_ent_run(spec, again, cluster=cluster) == 0  # no interruption: same numbers
    np.testing.assert_array_equal(load(again)["mlp"].ds.S_vn_hi.values, ds.S_vn_hi.values)
