"""Figures: panels, lines, bands, labels, scales and legends of every figure function on
small real stores (quick workflows run once per session), plus ``plot_store`` and the
``plot`` command's exit status. The Axes are tested, not pixels."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr
from helpers import WORKFLOWS, local_cluster, nqs_ent_run
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer

from pipeline import load
from pipeline.analysis.fits import bound_constant
from pipeline.analysis.plots import (
    plot_cosnet_hidden,
    plot_dicke,
    plot_entropy_vs_k,
    plot_entropy_vs_n,
    plot_entropy_vs_size,
    plot_store,
)
from pipeline.analysis.stats import ensemble_stats
from pipeline.cli import main
from pipeline.numerics.references import dicke_entropy, page_entropy_qubits

matplotlib.use("Agg")

QUICK = {
    "sn": WORKFLOWS / "paper" / "sn_quick.toml",
    "dicke": WORKFLOWS / "paper" / "dicke_quick.toml",
    "vs_n": WORKFLOWS / "scans" / "entropy_vs_n_quick.toml",
    "vs_k": WORKFLOWS / "scans" / "entropy_vs_k_quick.toml",
}
ENTROPY_LABEL = "von Neumann entropy [nats]"


@pytest.fixture(scope="session")
def stores(tmp_path_factory) -> dict[str, Path]:
    """The quick workflows, each run once into its own store on one shared cluster."""
    tmp = tmp_path_factory.mktemp("plot-stores")
    out = {}
    with local_cluster() as cluster:
        for key, spec in QUICK.items():
            store = tmp / f"{key}.zarr"
            assert nqs_ent_run(spec, store, cluster=cluster) == 0
            out[key] = store
    return out


@pytest.fixture(scope="session")
def trees(stores) -> dict[str, xr.DataTree]:
    return {key: load(path) for key, path in stores.items()}


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


def test_entropy_vs_size_one_panel_per_experiment_one_line_per_activation(trees):
    figure = plot_entropy_vs_size(trees["sn"])
    axes = figure.axes
    assert len(axes) == 2
    for ax, name in zip(axes, ("sn_real", "sn_pure_phase"), strict=True):
        assert name in ax.get_title() and "n = 14" in ax.get_title()
        assert ax.get_xscale() == "log"
        assert ax.get_xlabel() == "subsystem size |A| [sites]"
        assert ax.get_ylabel() == ENTROPY_LABEL
        assert len(ax.lines) == 4  # tanh, sin, gelu, relu
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 4  # mean +- SE
        band = "shaded: +-1 standard error"
        assert legend_texts(ax) == ["tanh", "sin", "gelu", "relu", band]
        assert ax.get_legend().get_title().get_text() == "activation"
        sizes = trees["sn"][name].ds.sizes
        ensemble = f"{sizes['sample']} networks x {sizes['window']} windows each"
        assert ensemble in ax.get_title()
        # coinciding curves stay apart: every series has its own marker and line style
        styles = {(line.get_marker(), line.get_linestyle()) for line in ax.lines}
        assert len(styles) == 4
        assert list(ax.lines[0].get_xdata()) == [1, 2, 3, 4, 5]  # |A| = 1..n/2-2
    # the plotted line is the ensemble mean of the store
    ds = trees["sn"]["sn_real"].ds
    expected = ensemble_stats(ds.S_vn)["mean"].sel(n=14, activation="sin", m=[1, 2, 3, 4, 5])
    np.testing.assert_allclose(axes[0].lines[1].get_ydata(), expected.values, rtol=1e-12)


def test_entropy_vs_size_with_page_reference(trees):
    figure = plot_entropy_vs_size(trees["dicke"], page=True)
    (ax,) = figure.axes
    assert legend_texts(ax) == ["dicke", "Page (Haar)"]
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 0  # one sample
    page = ax.lines[1].get_ydata()
    assert page[-1] == pytest.approx(page_entropy_qubits(14, 7))


def test_cosnet_hidden_against_page(trees):
    ds = trees["vs_k"]["cosnet_hidden"].ds  # N_h = 1..100 at |A| = n/2 = 6, n = 12
    figure = plot_cosnet_hidden(ds)
    (ax,) = figure.axes
    assert ax.get_xscale() == "log"
    assert "hidden" in ax.get_xlabel() and ax.get_ylabel() == ENTROPY_LABEL
    assert "|A| = 6" in ax.get_title()
    containers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(containers) == 1
    page = [line for line in ax.lines if len(set(line.get_ydata())) == 1]
    assert len(page) == 1 and page[0].get_ydata()[0] == pytest.approx(page_entropy_qubits(12, 6))
    texts = legend_texts(ax)
    assert len(texts) == 2 and "n = 12" in texts
    assert any(text.startswith("Page (Haar), n = 12: 3.659") for text in texts)
    data = containers[0].lines[0]
    assert list(data.get_xdata()) == [1, 2, 5, 10, 20, 50, 100]


def test_dicke_analytic_against_numerical(trees):
    figure = plot_dicke(trees["dicke"]["dicke"].ds)
    (ax,) = figure.axes
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "subsystem size |A| [sites]" and ax.get_ylabel() == ENTROPY_LABEL
    analytic, numerical = ax.lines
    assert analytic.get_linestyle() == "-" and numerical.get_linestyle() == "None"
    expected = [dicke_entropy(14, m) for m in range(1, 8)]
    np.testing.assert_allclose(analytic.get_ydata(), expected, atol=1e-12)
    np.testing.assert_allclose(numerical.get_ydata(), expected, atol=1e-10)
    texts = legend_texts(ax)
    assert texts[0] == "analytic, n = 14" and texts[1].startswith("numerical, n = 14")
    renyi = plot_dicke(trees["dicke"]["dicke"].ds, measure="S_renyi2").axes[0]
    assert renyi.get_ylabel() == "Renyi-2 entropy [nats]"
    np.testing.assert_allclose(
        renyi.lines[0].get_ydata(), [dicke_entropy(14, m, alpha=2) for m in range(1, 8)]
    )


def test_entropy_vs_n_panels_fits_and_labels(trees):
    figure = plot_entropy_vs_n(trees["vs_n"])
    axes = figure.axes
    names = ["sn", "mlp", "cosnet", "tanhnet", "dicke"]  # spec order
    assert len(axes) == len(names)
    for ax, name in zip(axes, names, strict=True):
        assert ax.get_title().startswith(name)
        assert ax.get_xscale() == "log"
        assert ax.get_xlabel() == "number of spins n" and ax.get_ylabel() == ENTROPY_LABEL
        points = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(points) == (1 if name == "dicke" else 2)
        assert list(points[0].lines[0].get_xdata()) == [8, 10, 12, 14]
        texts = legend_texts(ax)
        c_hat = float(bound_constant(trees["vs_n"][name].ds))
        assert texts[-1] == f"c k log n (thin, series colour), c = {c_hat:.3f}"
        assert all(" a = " in t for t in texts[:-1] if "analytic" not in t)
        # one bound line c k log n per grid point, in its colour, never below its points
        solid = [line for line in ax.lines if line.get_linestyle() == "-"]
        bounds = [line for line in solid if len(line.get_xdata())]
        assert len(bounds) == len(points)
        for i, (bound, container) in enumerate(zip(bounds, points, strict=True)):
            k = int(texts[i].split("(k = ")[1].split(")")[0])
            n, y = bound.get_xdata(), bound.get_ydata()
            np.testing.assert_allclose(y, c_hat * k * np.log(n), rtol=1e-12)
            data = container.lines[0]
            assert bound.get_color() == data.get_color()
            n_data = data.get_xdata()
            assert np.all(data.get_ydata() <= c_hat * k * np.log(n_data) + 1e-12)
    assert legend_texts(axes[0])[0].startswith("tanh (k = 1): a = ")
    assert legend_texts(axes[1])[1].startswith("sin (k = 6): a = ")
    # the Dicke panel: slope near 1/2 (S ~ (1/2) log(pi e n / 8)) and the analytic curve
    dicke_texts = legend_texts(axes[4])
    assert dicke_texts[-2] == "Dicke, analytic"
    slope = float(dicke_texts[0].split("a = ")[1].split()[0])
    assert 0.4 < slope < 0.5


def test_entropy_vs_n_lines_end_at_the_largest_measured_n(trees):
    ds = trees["vs_n"]["sn"].to_dataset()
    partial = ds.assign(S_vn=ds["S_vn"].where(ds["n"] < 14))  # a sweep stopped before n = 14
    ax = plot_entropy_vs_n({"sn": partial}).axes[0]
    drawn = [line for line in ax.lines if line.get_linestyle() in ("-", "--")]
    drawn = [line for line in drawn if len(line.get_xdata())]  # not the legend's proxy
    assert len(drawn) == 4  # per activation: the fit and the bound
    assert all(line.get_xdata().max() == pytest.approx(12) for line in drawn)


def test_entropy_vs_k_panels_and_bound_line(trees):
    figure = plot_entropy_vs_k(trees["vs_k"])
    axes = figure.axes
    names = ["mlp_width", "mlp_depth", "cosnet_hidden", "tanhnet_hidden", "rbm_density"]
    assert len(axes) == len(names)
    for ax, name in zip(axes, names, strict=True):
        assert ax.get_title().startswith(name) and "|A| = 6" in ax.get_title()
        assert ax.get_xscale() == "log"
        assert ax.get_xlabel() == "scalar nonlinearities k" and ax.get_ylabel() == ENTROPY_LABEL
        assert len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 1
        texts = legend_texts(ax)
        assert len(texts) == 2 and texts[0].startswith(f"{name}: a = ")
        c_hat = float(bound_constant(trees["vs_k"][name].ds))
        assert texts[1] == f"c k log n, c = {c_hat:.3f}"
        bound = ax.lines[-1]
        k, y = bound.get_xdata(), bound.get_ydata()
        np.testing.assert_allclose(y, c_hat * k * math.log(12), rtol=1e-12)
        # the bound's scale is never below the data it was estimated from
        data = ax.containers[0].lines[0]
        assert np.all(data.get_ydata() <= c_hat * data.get_xdata() * math.log(12) + 1e-12)
    width = next(c for c in axes[0].containers if isinstance(c, ErrorbarContainer))
    assert list(width.lines[0].get_xdata()) == [2, 4, 6, 8, 12, 16, 24, 32]  # k = 2 width


def test_figures_refuse_data_they_cannot_show(trees):
    with pytest.raises(ValueError, match="three or more sizes n"):
        plot_entropy_vs_n(trees["sn"])
    with pytest.raises(ValueError, match="three or more values of k"):
        plot_entropy_vs_k(trees["dicke"])
    with pytest.raises(ValueError, match="no 'hidden' axis"):
        plot_cosnet_hidden(trees["sn"]["sn_real"].ds)


def test_plot_store_writes_every_applicable_figure(stores, tmp_path):
    written = plot_store(stores["dicke"], tmp_path / "figures")  # png and pdf by default
    prefix = "paper-dicke-quick"
    assert [path.name for path in written] == [
        f"{prefix}_{figure}.{fmt}"
        for figure in ("entropy_vs_size", "dicke_analytic")
        for fmt in ("png", "pdf")
    ]
    assert all(path.stat().st_size > 1000 for path in written)
    assert written[0].read_bytes()[:4] == b"\x89PNG" and written[1].read_bytes()[:4] == b"%PDF"
    k_scan = plot_store(stores["vs_k"], tmp_path / "k", formats=("png",))
    assert sorted(p.name for p in k_scan) == [
        f"scan-entropy-vs-k-quick_{figure}.png"
        for figure in ("cosnet_hidden_page", "entropy_vs_k", "tanhnet_hidden_page")
    ]
    sizes_and_n = plot_store(stores["vs_n"], tmp_path / "n", formats=("png",))
    assert [p.name for p in sizes_and_n] == ["scan-entropy-vs-n-quick_entropy_vs_n.png"]


def test_plot_command(stores, tmp_path, capsys):
    assert main(["plot", str(stores["sn"]), "--out", str(tmp_path), "--format", "png"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "paper-sn-quick_entropy_vs_size.png")]
    foreign = tmp_path / "not-a-store"
    foreign.mkdir()
    assert main(["plot", str(foreign), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is not an nqs-ent store" in error


def test_log_axis_labels_never_crowd():
    """n = 8..32 with steps of 2 near the end and one point at 1024: the first and last
    sizes keep their labels, and no two labels are closer than a twelfth of the axis."""
    import itertools

    import matplotlib.pyplot as plt

    from pipeline.analysis.plots import _integer_log_axis

    figure, ax = plt.subplots()
    sizes = [8, 12, 16, 20, 24, 26, 28, 30, 32, 1024]
    ax.plot(sizes, sizes)
    _integer_log_axis(ax, sizes)
    ticks = list(ax.get_xticks())
    plt.close(figure)
    assert ticks[0] == 8 and ticks[-1] == 1024 and set(ticks) <= set(sizes)
    gaps = [math.log(b / a) for a, b in itertools.pairwise(ticks)]
    assert min(gaps) >= math.log(1024 / 8) / 12
