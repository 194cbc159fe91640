"""Ensemble statistics, fits and references for the entropies of a results store.

Pure functions of xarray objects (no paths, except :func:`open_experiment`). The
conventions follow the paper (N. Paul, *Bound on entanglement in neural quantum states*,
PRL 136 (2026), arXiv:2510.11797):

1. per network sample, the mean over its windows (the subsystems drawn for it),
   ``S_s = mean_w S_{s,w}`` (:func:`sample_means`);
2. over samples, the mean ``S = mean_s S_s`` and its standard error
   ``SE = std_s(S_s, ddof=1) / sqrt(count)`` (:func:`ensemble_stats`);
3. fits of ``S = a log x + b`` against ``x = |A|``, ``n`` or ``k`` by weighted least
   squares, with 95% confidence intervals from Student's t distribution
   (:func:`fit_log_slope`);
4. the bound ``S_A <= c k log n``: the ratio ``S / (k log n)`` per point
   (:func:`bound_ratio`) and its maximum per experiment or architecture, an estimate of
   (a lower bound on) the constant ``c`` (:func:`bound_constant`);
5. the Page and Dicke references on the same coordinates (:func:`page_reference`,
   :func:`dicke_reference`).

Every statistic is NaN-aware: NaN marks sizes that do not apply to an ``n`` and tasks not
yet computed, and is never counted.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from pipeline.references import dicke_entropy, page_entropy

RESERVED_DIMS = ("n", "m", "sample", "window", "site", "block", "file")
"""Store dimensions that are not hyperparameters (as in :mod:`pipeline.store`)."""

FIT_FIELDS = (
    "slope",
    "intercept",
    "slope_se",
    "intercept_se",
    "slope_ci_low",
    "slope_ci_high",
    "points",
    "se_weights",
)
"""Variables of the Dataset returned by :func:`fit_log_slope`."""


# --------------------------------------------------------------------------- helpers


def hyper_dims(obj: xr.DataArray | xr.Dataset) -> list[str]:
    """The swept-hyperparameter dimensions of a store variable or Dataset, in order.

    >>> da = xr.DataArray(np.zeros((1, 2, 3)), dims=("n", "activation", "m"))
    >>> hyper_dims(da)
    ['activation']
    """
    return [str(dim) for dim in obj.dims if dim not in RESERVED_DIMS]


def axis_label(obj: xr.DataArray, fallback: str = "") -> str:
    """``"long_name [units]"`` from a variable's attributes (units omitted when absent or
    ``"1"``).

    >>> axis_label(xr.DataArray(0.0, attrs={"long_name": "von Neumann entropy",
    ...                                     "units": "nats"}))
    'von Neumann entropy [nats]'
    """
    name = str(obj.attrs.get("long_name") or obj.name or fallback)
    units = obj.attrs.get("units")
    return f"{name} [{units}]" if units and units != "1" else name


def _as_dataarray(values: Any, dim: str) -> xr.DataArray:
    """An int DataArray along ``dim`` from a scalar, a sequence or a DataArray."""
    if isinstance(values, xr.DataArray):
        return values
    array = np.asarray(values)
    if array.ndim == 0:
        return xr.DataArray(array)
    return xr.DataArray(array, dims=dim, coords={dim: array})


def half_cut(da: xr.DataArray) -> xr.DataArray:
    """The values at ``|A| = n // 2`` for every ``n``: the ``m`` dimension is dropped and
    ``m`` kept as a coordinate along ``n``; NaN where that size was not measured.

    >>> da = xr.DataArray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dims=("n", "m"),
    ...                   coords={"n": [4, 6], "m": [1, 2, 3]})
    >>> half_cut(da).values.tolist()
    [2.0, 6.0]
    """
    halves = da["n"] // 2
    wanted = np.union1d(da["m"].values, np.unique(halves.values))
    return da.reindex(m=wanted).sel(m=halves)


def largest_size(da: xr.DataArray, limit_half: bool = True) -> xr.DataArray:
    """Per ``n``, the values at the largest size ``m`` (``<= n // 2`` when
    ``limit_half``) that holds any finite value; NaN where none does."""
    finite = da.notnull()
    other = [dim for dim in da.dims if dim not in ("n", "m")]
    present = finite.any(other) if other else finite
    if limit_half:
        present = present & (da["m"] <= da["n"] // 2)
    m_values = da["m"].where(present).max("m")  # (n,)
    chosen = m_values.fillna(da["m"].values[0]).astype(int)
    out = da.sel(m=chosen)
    return out.where(m_values.notnull())


# -------------------------------------------------------------------------- statistics


def sample_means(da: xr.DataArray, dim: str = "window") -> xr.DataArray:
    """Per sample, the mean over the windows drawn for it (NaN-aware).

    ``S_s = (1 / W_s) sum_w S_{s,w}`` over the ``W_s`` finite windows of sample ``s``;
    NaN where a sample has none. Attributes (``long_name``, ``units``) are kept.

    >>> da = xr.DataArray([[1.0, 3.0], [2.0, np.nan]], dims=("sample", "window"))
    >>> sample_means(da).values.tolist()
    [2.0, 2.0]
    """
    if dim not in da.dims:
        return da
    out = da.mean(dim, skipna=True, keep_attrs=True)
    return out.compute() if out.chunks else out


def ensemble_stats(da: xr.DataArray, dim: str = "sample", window_dim: str = "window") -> xr.Dataset:
    """Mean, standard error and count over network samples.

    When ``window_dim`` is present, the per-sample window means are taken first
    (:func:`sample_means`). Then, over the ``N`` samples with a finite value,

    ``mean = (1/N) sum_s S_s``,  ``se = sqrt(sum_s (S_s - mean)^2 / (N - 1)) / sqrt(N)``,

    ``count = N``; ``se`` is NaN when ``N < 2`` (a deterministic state has no error bar).

    >>> da = xr.DataArray([[1.0, 3.0], [2.0, 4.0], [4.0, np.nan]],
    ...                   dims=("sample", "window"), attrs={"units": "nats"})
    >>> st = ensemble_stats(da)  # sample means 2, 3, 4: std 1, se 1/sqrt(3)
    >>> float(st["mean"]), round(float(st["se"]), 6), int(st["count"])
    (3.0, 0.57735, 3)
    """
    per_sample = sample_means(da, window_dim)
    count = per_sample.count(dim)
    mean = per_sample.mean(dim, skipna=True)
    centred = per_sample - mean
    sum_squares = (centred**2).sum(dim, skipna=True)
    dof = (count - 1).where(count > 1)
    se = (sum_squares / dof / count) ** 0.5
    attrs = dict(da.attrs)
    long_name = attrs.get("long_name", da.name or "value")
    mean.attrs = dict(attrs)
    se.attrs = {**attrs, "long_name": f"standard error of {long_name}"}
    count.attrs = {"long_name": f"samples with a finite {long_name}", "units": "1"}
    return xr.Dataset({"mean": mean, "se": se, "count": count})


def status_counts(ds: xr.Dataset) -> dict[str, int]:
    """Samples per status (``ok``, ``pending``, ``zero``, ``nonfinite``; see
    :data:`pipeline.compute.SAMPLE_STATUS`) of one experiment's Dataset.

    Stores written before per-sample status existed count every sample of a done task
    as ``ok`` (their tasks failed as a whole otherwise) and the rest as ``pending``.

    >>> ds = xr.Dataset({"sample_status": ("sample", np.array([1, 1, 3, 0], np.int8))})
    >>> ds["sample_status"].attrs["flag_meanings"] = "pending ok zero nonfinite"
    >>> status_counts(ds)
    {'pending': 1, 'ok': 2, 'zero': 0, 'nonfinite': 1}
    """
    if "sample_status" not in ds:
        done = np.asarray(ds["done"].values)
        samples = int(ds.sizes["sample"])
        per_task = int(ds.attrs.get("samples_per_task", samples))
        block = np.arange(done.shape[-1])
        sizes = np.minimum(per_task, samples - block * per_task)  # samples per task block
        ok = int(np.sum(done * sizes))
        return {"pending": done[..., 0].size * samples - ok, "ok": ok}
    codes = np.asarray(ds["sample_status"].values)
    names = str(ds["sample_status"].attrs.get("flag_meanings", "")).split()
    return {name: int(np.sum(codes == code)) for code, name in enumerate(names)}


# -------------------------------------------------------------------------------- fits


def _wls_line(x: np.ndarray, y: np.ndarray, s: np.ndarray, confidence: float) -> np.ndarray:
    """Fit ``y = a x + b`` along the last axis: ``(..., N) -> (..., len(FIT_FIELDS))``."""
    from scipy.stats import t as student_t  # imported here: keeps the CLI start quick

    x, y, s = np.broadcast_arrays(x, y, s)
    out = np.full((*y.shape[:-1], len(FIT_FIELDS)), np.nan)
    for index in np.ndindex(y.shape[:-1]):
        xi, yi, si = x[index], y[index], s[index]
        keep = np.isfinite(xi) & np.isfinite(yi)
        xi, yi, si = xi[keep], yi[keep], si[keep]
        row = out[index]
        row[6] = xi.size
        if xi.size < 2 or np.ptp(xi) == 0:
            continue
        weighted = bool(np.all(np.isfinite(si) & (si > 0)))
        w = 1.0 / si**2 if weighted else np.ones_like(xi)
        row[7] = float(weighted)
        sw = w.sum()
        x_bar, y_bar = (w * xi).sum() / sw, (w * yi).sum() / sw
        sxx = (w * (xi - x_bar) ** 2).sum()
        slope = (w * (xi - x_bar) * (yi - y_bar)).sum() / sxx
        intercept = y_bar - slope * x_bar
        row[0], row[1] = slope, intercept
        dof = xi.size - 2
        if dof < 1:
            continue
        residual_variance = (w * (yi - slope * xi - intercept) ** 2).sum() / dof
        slope_se = math.sqrt(residual_variance / sxx)
        intercept_se = math.sqrt(residual_variance * (1.0 / sw + x_bar**2 / sxx))
        half_width = float(student_t.ppf(0.5 + confidence / 2, dof)) * slope_se
        row[2:6] = slope_se, intercept_se, slope - half_width, slope + half_width
    return out


def fit_log_slope(
    mean: xr.DataArray,
    se: xr.DataArray | None = None,
    dim: str = "m",
    x: xr.DataArray | None = None,
    confidence: float = 0.95,
) -> xr.Dataset:
    """Fit ``S = a log(x) + b`` along ``dim``, independently for every other index.

    Weighted least squares with weights ``w = 1 / se^2`` when every point of a fit has a
    finite positive ``se`` (else ``w = 1``). With ``u = log x`` and the weighted means
    ``u_bar``, ``S_bar``::

        a = sum w (u - u_bar)(S - S_bar) / S_uu,   S_uu = sum w (u - u_bar)^2,
        b = S_bar - a u_bar.

    The standard errors act as relative weights, the scale comes from the residuals:
    ``s^2 = sum w (S - a u - b)^2 / (N - 2)``, ``se(a) = s / sqrt(S_uu)``, and the interval
    is ``a +- t_{N-2}((1 + confidence) / 2) se(a)`` (Student's t, ``scipy.stats.t``).
    Points with a NaN mean or ``x <= 0`` are left out; fewer than 2 points give NaN,
    exactly 2 give a line without an interval.

    Parameters
    ----------
    mean, se
        Ensemble mean and standard error (as from :func:`ensemble_stats`).
    dim
        The dimension to fit along (``"m"``, ``"n"``, or a hyperparameter).
    x
        The abscissa, a DataArray with dimension ``dim`` broadcastable against ``mean``;
        default the coordinate ``mean[dim]``. Use it to fit against ``k``.
    confidence
        Two-sided confidence level of ``slope_ci_low`` and ``slope_ci_high``.

    Returns
    -------
    xarray.Dataset
        Over the other dimensions: ``slope`` (entropy per e-fold of ``x``), ``intercept``,
        their standard errors ``slope_se`` and ``intercept_se``, ``slope_ci_low``,
        ``slope_ci_high``, ``points`` (the number used) and ``se_weights`` (1 when weighted
        by ``1/se^2``, 0 when not, NaN without a fit).

    Examples
    --------
    >>> m = np.arange(1, 9)
    >>> mean = xr.DataArray(0.5 * np.log(m) + 0.1, dims="m", coords={"m": m})
    >>> fit = fit_log_slope(mean)
    >>> round(float(fit.slope), 12), round(float(fit.intercept), 12), int(fit.points)
    (0.5, 0.1, 8)
    """
    if dim not in mean.dims:
        raise ValueError(f"fit_log_slope: {dim!r} is not a dimension of {list(mean.dims)}")
    abscissa = mean[dim] if x is None else x
    if dim not in abscissa.dims:
        raise ValueError(f"fit_log_slope: x must have the dimension {dim!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"fit_log_slope: confidence must be in (0, 1), got {confidence}")
    positive = abscissa.astype(float).where(abscissa > 0)
    log_x = xr.apply_ufunc(np.log, positive).drop_vars(dim, errors="ignore")
    errors = xr.full_like(mean, np.nan, dtype=float) if se is None else se.astype(float)
    result = xr.apply_ufunc(
        _wls_line,
        log_x,
        mean.astype(float).drop_vars(dim, errors="ignore"),
        errors.drop_vars(dim, errors="ignore"),
        input_core_dims=[[dim], [dim], [dim]],
        output_core_dims=[["fit_field"]],
        kwargs={"confidence": confidence},
    )
    out = xr.Dataset(
        {name: result.isel(fit_field=i, drop=True) for i, name in enumerate(FIT_FIELDS)}
    )
    what = mean.attrs.get("long_name", "S")
    units = mean.attrs.get("units", "")
    out["slope"].attrs = {"long_name": f"slope of {what} against log {dim}", "units": units}
    out["intercept"].attrs = {"long_name": f"{what} at {dim} = 1 (fit)", "units": units}
    out["slope_se"].attrs = {"long_name": "standard error of the slope", "units": units}
    out["intercept_se"].attrs = {"long_name": "standard error of the intercept", "units": units}
    for end in ("low", "high"):
        out[f"slope_ci_{end}"].attrs = {
            "long_name": f"{confidence:.0%} confidence interval of the slope, {end} end",
            "units": units,
        }
    out["points"].attrs = {"long_name": "points in the fit", "units": "1"}
    out["se_weights"].attrs = {"long_name": "weighted by 1/se^2", "units": "1"}
    out.attrs = {"model": f"S = slope * log({dim}) + intercept", "confidence": confidence}
    return out


# ------------------------------------------------------------------------------- bound


def bound_ratio(
    mean: xr.DataArray, k: xr.DataArray | int, n: xr.DataArray | int | None = None
) -> xr.DataArray:
    """The ratio ``S / (k log n)`` of each point to the bound's scale.

    ``S_A <= c k log n`` for every subregion ``A`` (Paul 2026), so the largest ratio over
    the points of an ensemble estimates (from below) the constant ``c``. ``k`` is the
    nonlinearity count (the store's ``k``, on ``(n, <hyper...>)``), ``n`` defaults to the
    coordinate ``mean["n"]``. Points with ``k <= 0`` (reference states store ``k = -1``) or
    ``n < 2`` are NaN.

    >>> mean = xr.DataArray([1.0, 2.0], dims="n", coords={"n": [4, 16]})
    >>> bound_ratio(mean, 2).round(6).values.tolist()  # 1/(2 log 4), 2/(2 log 16)
    [0.360674, 0.360674]
    """
    n_values = mean["n"] if n is None else n
    k_array = xr.DataArray(k) if not isinstance(k, xr.DataArray) else k
    n_array = xr.DataArray(n_values) if not isinstance(n_values, xr.DataArray) else n_values
    k_array = k_array.where(k_array > 0).astype(float)
    n_array = n_array.where(n_array >= 2).astype(float)
    ratio = mean / (k_array * np.log(n_array))
    ratio.attrs = {"long_name": "S / (k log n)", "units": "1"}
    return ratio.rename("bound_ratio")


def experiments(source: Any) -> dict[str, xr.Dataset]:
    """The experiment Datasets of a store: ``{name: Dataset}``.

    ``source`` is a DataTree (from :func:`pipeline.load`), one Dataset, a mapping of names
    to Datasets, or a sequence of Datasets (named by their ``experiment`` attribute).
    """
    if isinstance(source, xr.DataTree):
        found = {
            str(name): child.to_dataset()
            for name, child in source.children.items()
            if any(str(v).startswith("S_") for v in child.data_vars)
        }
        order = _spec_order(source.attrs.get("spec_text"))
        return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))
    if isinstance(source, xr.Dataset):
        return {str(source.attrs.get("experiment", "experiment")): source}
    if isinstance(source, Mapping):
        return {str(name): ds for name, ds in source.items()}
    if isinstance(source, Iterable):
        out = {}
        for i, ds in enumerate(source):
            out[str(ds.attrs.get("experiment", f"experiment{i}"))] = ds
        return out
    raise TypeError(f"expected a DataTree, a Dataset or Datasets, got {type(source).__name__}")


def _spec_order(spec_text: Any) -> dict[str, int]:
    """Experiment name -> position in the spec (``{}`` when the text is absent or bad)."""
    import tomllib

    if not isinstance(spec_text, str):
        return {}
    try:
        tables = tomllib.loads(spec_text).get("experiment", [])
        return {str(table["name"]): i for i, table in enumerate(tables)}
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError):
        return {}


def _argmax_point(da: xr.DataArray) -> dict[str, Any]:
    """Coordinates of the largest finite value of ``da`` (empty when all are NaN)."""
    values = np.asarray(da.values, dtype=float)
    if not np.any(np.isfinite(values)):
        return {}
    flat = int(np.nanargmax(values))
    index = np.unravel_index(flat, values.shape)
    point = {}
    for dim, i in zip(da.dims, index, strict=True):
        value = da[dim].values[i] if dim in da.coords else i
        point[str(dim)] = value.item() if hasattr(value, "item") else value
    return point


def bound_constant(source: Any, measure: str = "S_vn", by: str = "experiment") -> xr.DataArray:
    """The largest ``S / (k log n)`` of the ensemble means, per experiment or architecture.

    For every experiment, ``c_hat = max over (n, hyperparameters, |A|) of
    mean_S / (k log n)`` (:func:`bound_ratio` of :func:`ensemble_stats`), an estimate of
    the constant ``c`` of ``S_A <= c k log n`` from the data (a lower bound on the true
    constant). Experiments without ``k`` (reference states) give NaN.

    Parameters
    ----------
    source
        A DataTree, a Dataset (one experiment: the result is 0-d) or Datasets
        (see :func:`experiments`).
    measure
        The entropy variable (``S_vn``, ``S_renyi2``...).
    by
        ``"experiment"`` (dimension ``experiment``, with an ``architecture`` coordinate) or
        ``"architecture"`` (the maximum over the experiments of each architecture).

    Returns
    -------
    xarray.DataArray
        ``c_hat``; for one Dataset its ``attrs["argmax"]`` (JSON) holds the point.
    """
    if by not in ("experiment", "architecture"):
        raise ValueError(f"bound_constant: by must be 'experiment' or 'architecture', not {by!r}")
    single = isinstance(source, xr.Dataset)
    names, architectures, values, points = [], [], [], []
    for name, ds in experiments(source).items():
        if measure not in ds:
            continue
        mean = ensemble_stats(ds[measure])["mean"]
        ratio = bound_ratio(mean, ds["k"]) if "k" in ds else mean * np.nan
        best = float(ratio.max(skipna=True)) if bool(ratio.notnull().any()) else math.nan
        names.append(name)
        architectures.append(str(ds.attrs.get("architecture", "")))
        values.append(best)
        points.append(_argmax_point(ratio))
    attrs = {"long_name": "max S / (k log n)", "units": "1", "measure": measure}
    if single:
        if not values:
            raise ValueError(f"bound_constant: the Dataset has no variable {measure!r}")
        return xr.DataArray(
            values[0], attrs={**attrs, "argmax": json.dumps(points[0], default=str)}
        )
    per_experiment = xr.DataArray(
        np.asarray(values, dtype=float),
        dims="experiment",
        coords={"experiment": names, "architecture": ("experiment", architectures)},
        attrs=attrs,
        name="bound_constant",
    )
    if by == "experiment":
        return per_experiment
    grouped = per_experiment.groupby("architecture").max(skipna=True)
    grouped.attrs = attrs
    return grouped.rename("bound_constant")


# -------------------------------------------------------------------------- references


def _reference(function: Any, n: Any, m: Any, name: str, long_name: str) -> xr.DataArray:
    n_array, m_array = _as_dataarray(n, "n"), _as_dataarray(m, "m")

    def value(n_value: float, m_value: float) -> float:
        if not (np.isfinite(n_value) and np.isfinite(m_value)):
            return math.nan
        n_int, m_int = int(n_value), int(m_value)
        if not 1 <= m_int < n_int:
            return math.nan
        return float(function(n_int, m_int))

    out = xr.apply_ufunc(value, n_array, m_array, vectorize=True, output_dtypes=[float])
    out.attrs = {"long_name": long_name, "units": "nats"}
    return out.rename(name)


def page_reference(n: Any, m: Any) -> xr.DataArray:
    """Page's mean von Neumann entropy of a Haar-random state of ``n`` qubits across
    ``|A| = m``, on the coordinates of ``n`` and ``m`` (NaN where ``m >= n`` or ``m < 1``).

    ``S = H(d_A d_B) - H(d_B) - (d_A - 1) / (2 d_B)`` with ``d_A = 2^min(m, n-m)``,
    ``d_B = 2^max(m, n-m)`` and ``H`` the harmonic number (D. N. Page, PRL 71, 1291
    (1993)); :func:`pipeline.references.page_entropy`.

    Parameters
    ----------
    n, m
        Ints, sequences (giving dimensions ``n`` and ``m``) or DataArrays such as a
        store's coordinates ``ds.n`` and ``ds.m``; the result broadcasts them.

    >>> page_reference([2, 4], [1, 2]).round(6).values.tolist()  # 1/3 = H(4) - H(2) - 1/4
    [[0.333333, nan], [0.600372, 0.922396]]
    """
    return _reference(
        lambda n, m: page_entropy(2**m, 2 ** (n - m)),
        n,
        m,
        "S_page",
        "Page entropy (Haar-random state)",
    )


def dicke_reference(n: Any, m: Any, alpha: float = 1.0) -> xr.DataArray:
    """The Dicke state's entropy of order ``alpha`` across ``|A| = m`` on the coordinates
    of ``n`` and ``m`` (NaN where ``m >= n``, ``m < 1`` or ``n`` is odd).

    ``p_j = C(m, j) C(n - m, n/2 - j) / C(n, n/2)``, ``S = -sum_j p_j log p_j``
    (``alpha = 1``), ``log(sum_j p_j^alpha) / (1 - alpha)`` otherwise;
    :func:`pipeline.references.dicke_entropy`.

    >>> round(float(dicke_reference(22, 2)), 4)
    1.0221
    """

    def value(n_int: int, m_int: int) -> float:
        return dicke_entropy(n_int, m_int, alpha=alpha) if n_int % 2 == 0 else math.nan

    name = "von Neumann" if alpha == 1 else f"order-{alpha:g}"
    return _reference(value, n, m, "S_dicke", f"Dicke state {name} entropy")


# ---------------------------------------------------------------------------- summaries


def _point_label(ds: xr.Dataset | xr.DataArray, index: Mapping[str, Any]) -> str:
    return ", ".join(f"{dim}={ds[dim].values[i]}" for dim, i in index.items()) or "-"


def summarize(source: Any, measure: str = "S_vn") -> Any:
    """One row per experiment, ``n`` and grid point: the headline numbers of a store.

    Columns: ``experiment``, ``architecture``, ``n``, ``point`` (the swept
    hyperparameters), ``k``, ``m`` (the largest measured size ``<= n/2``), ``mean`` and
    ``se`` (nats, at that ``m``; :func:`ensemble_stats`), ``samples`` (with a finite
    value there), ``page`` (Page's value there), ``slope_log_m`` with ``slope_log_m_low``
    and ``slope_log_m_high`` (fit of ``S`` against ``log |A|`` over the measured sizes
    of that ``n``), ``slope_log_n`` with its interval (fit of the largest-size ``S``
    against ``log n`` over the experiment's ``n``; the same on every row of a grid point)
    and ``bound_ratio`` (the largest ``S / (k log n)`` over the sizes). Fits that lack
    points are NaN.

    Returns a ``pandas.DataFrame``.
    """
    import pandas as pd

    rows = []
    for name, ds in experiments(source).items():
        if measure not in ds:
            continue
        st = ensemble_stats(ds[measure])
        fit_m = fit_log_slope(st["mean"], st["se"], dim="m")
        top = largest_size(st["mean"])
        top_se = largest_size(st["se"])
        top_count = largest_size(st["count"].astype(float).where(st["mean"].notnull()))
        fit_n = fit_log_slope(top.drop_vars("m"), top_se.drop_vars("m"), dim="n")
        if "k" in ds:
            ratio = bound_ratio(st["mean"], ds["k"]).max("m", skipna=True)
        else:
            ratio = xr.full_like(top, np.nan)
        dims = hyper_dims(st["mean"])
        for n_index, n in enumerate(ds["n"].values):
            m_value = int(top["m"].values[n_index])
            for grid in np.ndindex(*(ds.sizes[d] for d in dims)):
                hyper = dict(zip(dims, grid, strict=True))
                index: dict[str, Any] = {"n": n_index, **hyper}
                mean_value = float(top.isel(index))
                measured = math.isfinite(mean_value)
                rows.append(
                    {
                        "experiment": name,
                        "architecture": ds.attrs.get("architecture", ""),
                        "n": int(n),
                        "point": _point_label(ds, hyper),
                        "k": int(ds["k"].isel(index)) if "k" in ds else -1,
                        "m": m_value if measured else -1,
                        "mean": mean_value,
                        "se": float(top_se.isel(index)),
                        "samples": int(np.nan_to_num(float(top_count.isel(index)))),
                        "page": page_entropy(2**m_value, 2 ** (int(n) - m_value))
                        if measured
                        else math.nan,
                        "slope_log_m": float(fit_m["slope"].isel(index)),
                        "slope_log_m_low": float(fit_m["slope_ci_low"].isel(index)),
                        "slope_log_m_high": float(fit_m["slope_ci_high"].isel(index)),
                        "slope_log_n": float(fit_n["slope"].isel(hyper)),
                        "slope_log_n_low": float(fit_n["slope_ci_low"].isel(hyper)),
                        "slope_log_n_high": float(fit_n["slope_ci_high"].isel(hyper)),
                        "bound_ratio": float(ratio.isel(index)),
                    }
                )
    return pd.DataFrame(rows)


def open_experiment(path: str | os.PathLike[str], name: str) -> xr.Dataset:
    """Open one experiment group of a results store lazily as a Dataset."""
    return xr.open_dataset(os.fspath(path), group=name, engine="zarr", consolidated=False)
