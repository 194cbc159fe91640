"""Analysis: ensemble statistics, log-slope fits, the bound ratio, references, summaries,
and two oracles on real runs of the paper's quick workflows (Dicke exact, CosNet vs Page)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import WORKFLOWS, nqs_ent_run

from pipeline import load
from pipeline.analysis.datasets import experiments, half_cut, hyper_dims, largest_size
from pipeline.analysis.fits import bound_constant, bound_ratio, fit_log_slope
from pipeline.analysis.stats import dicke_reference, ensemble_stats, page_reference, sample_means
from pipeline.analysis.tables import summarize
from pipeline.numerics.references import dicke_entropy, page_entropy, page_entropy_qubits


def run_workflow(spec: Path, store: Path) -> xr.DataTree:
    """Run a workflow into ``store`` through the CLI (a real local Dask cluster)."""
    assert nqs_ent_run(spec, store) == 0
    return load(store)


def store_like(values: np.ndarray, k: np.ndarray, hidden=(1, 2), n=(8, 10), m=(1, 2, 3, 4, 5)):
    """A Dataset with the store's layout ``(n, hidden, m, sample, window)``."""
    ds = xr.Dataset(
        {
            "S_vn": (
                ("n", "hidden", "m", "sample", "window"),
                values,
                {"long_name": "von Neumann entropy", "units": "nats", "measure": "vn"},
            ),
            "k": (("n", "hidden"), k, {"long_name": "scalar nonlinearities k", "units": "1"}),
        },
        coords={"n": list(n), "hidden": list(hidden), "m": list(m)},
        attrs={"experiment": "toy", "architecture": "random_feature"},
    )
    return ds


# ------------------------------------------------------------------ ensemble statistics


def test_sample_means_then_mean_and_se_match_numpy():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 2, size=(2, 2, 5, 6, 3))  # (n, hidden, m, sample, window)
    values[0, :, 4] = np.nan  # m = 5 does not apply to n = 8
    values[1, 0, 2, 5, :] = np.nan  # one sample not computed yet
    values[1, 1, 3, 2, 1] = np.nan  # one window missing
    ds = store_like(values, np.array([[2, 4], [2, 4]]))
    st = ensemble_stats(ds.S_vn)

    # by hand, at n = 10, hidden = 1, m = 3: sample 5 missing
    per_sample = values[1, 0, 2, :5].mean(axis=1)
    assert float(st["mean"].sel(n=10, hidden=1, m=3)) == pytest.approx(per_sample.mean(), 1e-14)
    expected_se = per_sample.std(ddof=1) / math.sqrt(5)
    assert float(st["se"].sel(n=10, hidden=1, m=3)) == pytest.approx(expected_se, 1e-12)
    assert int(st["count"].sel(n=10, hidden=1, m=3)) == 5
    # a missing window: that sample's mean is over its two other windows
    means = sample_means(ds.S_vn).sel(n=10, hidden=2, m=4).values
    assert means[2] == pytest.approx(np.mean(values[1, 1, 3, 2, [0, 2]]), 1e-14)
    # sizes that do not apply stay NaN with count 0
    assert np.isnan(st["mean"].sel(n=8, m=5)).all() and (st["count"].sel(n=8, m=5) == 0).all()
    assert st["mean"].dims == ("n", "hidden", "m")
    assert st["mean"].attrs["units"] == "nats" and st["se"].attrs["units"] == "nats"
    assert "standard error" in st["se"].attrs["long_name"]


def test_one_sample_has_no_standard_error():
    da = xr.DataArray([[0.5, 0.5]], dims=("sample", "window"))
    st = ensemble_stats(da)
    assert float(st["mean"]) == 0.5 and int(st["count"]) == 1 and np.isnan(st["se"])


# -------------------------------------------------------------------------------- fits


def test_fit_recovers_a_known_slope_and_the_interval_covers_it():
    rng = np.random.default_rng(1)
    m = np.arange(1, 12)
    sigma = 0.02 * np.sqrt(m)
    truth = xr.DataArray([0.3, 1.1], dims="activation", coords={"activation": ["tanh", "sin"]})
    noise = rng.normal(0, 1, size=(2, m.size)) * sigma
    mean = truth * np.log(xr.DataArray(m, dims="m", coords={"m": m})) + 0.2 + noise
    se = xr.full_like(mean, 0.0) + sigma
    fit = fit_log_slope(mean, se, dim="m")
    assert fit.slope.dims == ("activation",)
    assert np.all(np.abs(fit.slope - truth) < 5 * fit.slope_se)
    assert np.all((fit.slope_ci_low < truth) & (truth < fit.slope_ci_high))
    assert fit.points.values.tolist() == [11, 11] and fit.se_weights.values.tolist() == [1, 1]


def test_interval_coverage_is_about_95_percent():
    """Over 400 noisy replicates, the 95% interval holds the true slope ~95% of the time."""
    rng = np.random.default_rng(2)
    x = np.arange(2, 12)
    sigma = 0.05
    noise = rng.normal(0, sigma, size=(400, x.size))
    mean = xr.DataArray(0.7 * np.log(x) + noise, dims=("replicate", "m"), coords={"m": x})
    fit = fit_log_slope(mean, xr.full_like(mean, sigma), dim="m")
    covered = float(((fit.slope_ci_low < 0.7) & (0.7 < fit.slope_ci_high)).mean())
    assert 0.92 <= covered <= 0.98


def test_weights_follow_the_standard_errors():
    x = np.arange(1, 7)
    y = 0.5 * np.log(x)
    y[-1] += 3.0  # an outlier with a huge error bar barely moves a weighted fit
    mean = xr.DataArray(y, dims="m", coords={"m": x})
    se = xr.DataArray([0.01] * 5 + [100.0], dims="m", coords={"m": x})
    assert float(fit_log_slope(mean, se).slope) == pytest.approx(0.5, abs=1e-3)
    unweighted = fit_log_slope(mean)
    assert float(unweighted.se_weights) == 0 and float(unweighted.slope) > 1


def test_points_without_a_standard_error_leave_a_weighted_fit():
    """A partial store: the largest n has one network so far (se NaN). It is left out of
    the weighted fit instead of turning the whole fit unweighted."""
    x = np.arange(1, 8)
    y = 0.5 * np.log(x)
    y[-1] += 3.0
    mean = xr.DataArray(y, dims="m", coords={"m": x})
    se = xr.DataArray([0.01] * 6 + [np.nan], dims="m", coords={"m": x})
    fit = fit_log_slope(mean, se)
    assert float(fit.se_weights) == 1 and int(fit.points) == 6
    assert float(fit.slope) == pytest.approx(0.5, abs=1e-12)
    alone = fit_log_slope(mean, se.where(x < 2))  # one point with an se: all unweighted
    assert float(alone.se_weights) == 0 and int(alone.points) == 7


def test_fit_against_k_with_nan_and_too_few_points():
    hidden = [1, 2, 5, 10]
    k = xr.DataArray([2, 4, 10, 20], dims="hidden", coords={"hidden": hidden})
    mean = xr.DataArray(
        [0.4, np.nan, 0.4 + 0.25 * np.log(5), 0.4 + 0.25 * np.log(10)],
        dims="hidden",
        coords={"hidden": hidden},
    )
    fit = fit_log_slope(mean, dim="hidden", x=k)  # against log k, NaN point left out
    assert float(fit.slope) == pytest.approx(0.25, 1e-12) and int(fit.points) == 3
    two = fit_log_slope(mean.isel(hidden=[0, 2]), dim="hidden", x=k.isel(hidden=[0, 2]))
    assert float(two.slope) == pytest.approx(0.25, 1e-12) and np.isnan(two.slope_ci_low)
    assert np.isnan(fit_log_slope(mean.isel(hidden=[0]), dim="hidden").slope)
    with pytest.raises(ValueError, match="not a dimension"):
        fit_log_slope(mean, dim="m")


# ------------------------------------------------------------------------------- bound


def test_bound_ratio_and_constant():
    values = np.full((2, 2, 5, 3, 1), np.nan)
    values[..., 0] = 1.0  # S = 1 everywhere
    values[1, 1, 2] = 2.0  # S = 2 at n = 10, hidden = 2, m = 3
    ds = store_like(values, np.array([[2, 4], [2, 4]]))
    ds["k"][0, 0] = -1  # a reference-like point: no ratio
    mean = ensemble_stats(ds.S_vn)["mean"]
    ratio = bound_ratio(mean, ds.k)
    assert ratio.dims == ("n", "hidden", "m")
    assert float(ratio.sel(n=10, hidden=1, m=1)) == pytest.approx(1 / (2 * math.log(10)))
    assert np.isnan(ratio.sel(n=8, hidden=1)).all()
    assert ratio.attrs["long_name"] == "S / (k log n)"
    c_hat = bound_constant(ds)
    assert float(c_hat) == pytest.approx(1 / (2 * math.log(10)))  # k = 2 at n = 10
    assert '"hidden": 1' in c_hat.attrs["argmax"] and '"n": 10' in c_hat.attrs["argmax"]
    other = ds.assign_attrs(experiment="other", architecture="mlp")
    per_experiment = bound_constant({"toy": ds, "other": other.assign(S_vn=ds.S_vn / 2)})
    assert per_experiment.dims == ("experiment",)
    assert per_experiment.architecture.values.tolist() == ["random_feature", "mlp"]
    assert float(per_experiment.sel(experiment="other")) == pytest.approx(float(c_hat) / 2)
    by_architecture = bound_constant({"toy": ds, "other": other}, by="architecture")
    assert sorted(by_architecture.architecture.values.tolist()) == ["mlp", "random_feature"]


# -------------------------------------------------------------------------- references


def test_references_on_store_coordinates():
    n = xr.DataArray([8, 10], dims="n", coords={"n": [8, 10]})
    m = xr.DataArray([1, 4, 9], dims="m", coords={"m": [1, 4, 9]})
    page = page_reference(n, m)
    assert page.dims == ("n", "m") and page.attrs["units"] == "nats"
    assert float(page.sel(n=10, m=4)) == pytest.approx(page_entropy(16, 64), abs=1e-12)
    assert float(page.sel(n=8, m=1)) == pytest.approx(page_entropy_qubits(8, 1), abs=1e-12)
    assert np.isnan(page.sel(n=8, m=9)) and np.isfinite(page.sel(n=10, m=9))
    dicke = dicke_reference(n, m)
    assert float(dicke.sel(n=10, m=4)) == pytest.approx(dicke_entropy(10, 4), abs=1e-12)
    assert np.isnan(dicke.sel(n=8, m=9))
    renyi = dicke_reference(10, m, alpha=2.0)
    assert renyi.dims == ("m",)
    assert float(renyi.sel(m=4)) == pytest.approx(dicke_entropy(10, 4, alpha=2.0), abs=1e-12)
    assert np.isnan(dicke_reference(9, 3))  # odd n: no zero-magnetisation Dicke state
    # Page at a half cut: log d - 1/2 + O(1/d)
    assert float(page_reference(20, 10)) == pytest.approx(10 * math.log(2) - 0.5, abs=1e-3)


def test_half_cut_and_largest_size():
    da = xr.DataArray(
        [[1.0, 2.0, np.nan], [4.0, 5.0, 6.0], [7.0, np.nan, np.nan]],
        dims=("n", "m"),
        coords={"n": [4, 6, 8], "m": [1, 2, 3]},
    )
    assert half_cut(da).values.tolist()[:2] == [2.0, 6.0] and np.isnan(half_cut(da)[2])
    top = largest_size(da)
    assert top.values.tolist() == [2.0, 6.0, 7.0] and top.m.values.tolist() == [2, 3, 1]
    assert hyper_dims(xr.Dataset({"S_vn": (("n", "width", "m"), np.zeros((1, 1, 1)))})) == ["width"]


# ---------------------------------------------------------------- real quick workflows


@pytest.fixture(scope="module")
def dicke_tree(tmp_path_factory) -> xr.DataTree:
    store = tmp_path_factory.mktemp("dicke") / "dicke.zarr"
    return run_workflow(WORKFLOWS / "paper" / "dicke_quick.toml", store)


def test_numerical_dicke_equals_analytic(dicke_tree):
    ds = dicke_tree["dicke"].ds
    for variable, alpha in (("S_vn", 1.0), ("S_renyi2", 2.0), ("S_inf", math.inf)):
        st = ensemble_stats(ds[variable])
        reference = dicke_reference(ds.n, ds.m, alpha=alpha)
        assert st["mean"].dims == ("n", "m")
        np.testing.assert_allclose(st["mean"].values, reference.values, rtol=0, atol=1e-10)
        # every window agrees, not only the mean
        spread = ds[variable].max("window") - ds[variable].min("window")
        assert float(spread.max()) < 1e-10


def test_summarize_a_real_store(dicke_tree):
    table = summarize(dicke_tree)
    assert list(table.experiment) == ["dicke"]
    row = table.iloc[0]
    assert row.n == 14 and row.m == 7 and row.k == 1 and row.samples == 1
    assert row["mean"] == pytest.approx(dicke_entropy(14, 7), abs=1e-10)
    assert row.page == pytest.approx(page_entropy_qubits(14, 7), abs=1e-12)
    assert row.bound_ratio == pytest.approx(dicke_entropy(14, 7) / math.log(14), abs=1e-10)
    assert 0 < row.slope_log_m < 1 and np.isnan(row.slope_log_n)  # one n: no n-fit
    assert list(experiments(dicke_tree)) == ["dicke"]


@pytest.mark.slow
def test_cosnet_approaches_page_from_below(tmp_path):
    """CosNet at |A| = 7 against Page's Haar value, from the quick twin (n = 14, 5 samples).

    What the data show: the entropy rises monotonically with N_h towards Page's mean
    (4.352 nats for 2^7 x 2^7) but stays below it at every finite N_h. At N_h = 100 it is
    4.07-4.08 nats, about 0.28 nats (6%) and some 20 standard errors below Page, so
    "within the ensemble's error" does not hold at n = 14. The deficit shrinks like 1/N_h
    (deficit * N_h ~ 30 nats for N_h = 100, 200, 500). That is expected: psi is a sum of
    2 N_h random cosines, each the sum of two product states, so its Schmidt rank across
    any cut is at most 4 N_h and its spectrum is far from flat at finite N_h; only as
    N_h -> infinity do the amplitudes become a Gaussian process with covariance
    exp(-2 sigma_w^2 d_H / n) (d_H the Hamming distance), nearly independent for
    sigma_w = 10, whose mean entropy is Page's.
    """
    tree = run_workflow(WORKFLOWS / "paper" / "cosnet_quick.toml", tmp_path / "cosnet.zarr")
    page = float(page_reference(14, 7))
    sweep = ensemble_stats(tree["cosnet_hidden"].ds.S_vn).sel(n=14, m=7)
    curve = ensemble_stats(tree["cosnet"].ds.S_vn).sel(n=14, m=7, hidden=100)
    mean, se = sweep["mean"].values, sweep["se"].values
    # monotone in N_h within two combined standard errors
    assert np.all(np.diff(mean) > -2 * np.hypot(se[1:], se[:-1]))
    # never above Page beyond the error; at N_h = 100 within 10% of it but well below
    assert np.all(mean < page + 3 * se)
    for point in (curve, sweep.sel(hidden=100)):
        assert 0.9 * page < float(point["mean"]) < page - 5 * float(point["se"])
    # the deficit falls like 1 / N_h
    scaled = [(page - float(sweep["mean"].sel(hidden=h))) * h for h in (100, 200, 500)]
    assert max(scaled) / min(scaled) < 2
