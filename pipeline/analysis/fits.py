"""Fits of ``S = a log x + b`` (weighted least squares, 95% Student-t intervals) and the
bound ``S_A <= c k log n``: the ratio per point and its maximum, an estimate of ``c``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import xarray as xr

from pipeline.analysis.datasets import experiments
from pipeline.analysis.stats import ensemble_stats

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
        known = np.isfinite(si) & (si > 0)
        if 2 <= known.sum() < known.size and np.ptp(xi[known]) > 0:  # drop unweighted points
            xi, yi, si = xi[known], yi[known], si[known]
            row[6] = xi.size
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

    Weighted least squares with weights ``w = 1 / se^2`` when the points of a fit have a
    finite positive ``se`` (else ``w = 1``). Where only some have one (a partial store: an
    ensemble of one network so far at the largest n), the points without one are left out
    (at least two with one must remain): one unweighted point would otherwise turn the whole
    fit unweighted. With ``u = log x`` and the weighted means
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
    mean : xarray.DataArray
        Ensemble mean (as from :func:`ensemble_stats`), e.g. entropies in nats with dims
        ``(n, <hyper...>, m)``; must have the dimension ``dim``.
    se : xarray.DataArray, optional
        Its standard error, same dims and units; default none (an unweighted fit).
    dim : str, default "m"
        The dimension to fit along (``"m"``, ``"n"``, or a hyperparameter).
    x : xarray.DataArray, optional
        The abscissa, a DataArray with dimension ``dim`` broadcastable against ``mean``;
        default the coordinate ``mean[dim]``. Use it to fit against ``k``.
    confidence : float, default 0.95
        Two-sided confidence level of ``slope_ci_low`` and ``slope_ci_high``, in (0, 1).

    Returns
    -------
    xarray.Dataset
        Over the other dimensions (those of ``mean``, ``se`` and ``x`` less ``dim``):
        ``slope`` (entropy per e-fold of ``x``, in the units of ``mean``: nats),
        ``intercept`` (the fitted value at ``x = 1``), their standard errors
        ``slope_se`` and ``intercept_se``, ``slope_ci_low``, ``slope_ci_high``,
        ``points`` (the number used) and ``se_weights`` (1 when weighted by ``1/se^2``,
        0 when not, NaN without a fit). ``attrs`` hold the ``model`` and the
        ``confidence``.

    Raises
    ------
    ValueError
        When ``dim`` is not a dimension of ``mean`` or of ``x``, or ``confidence`` is not
        in (0, 1).

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
    source : xarray.DataTree, xarray.Dataset, mapping or sequence of Datasets
        A DataTree, a Dataset (one experiment: the result is 0-d) or Datasets
        (see :func:`experiments`), each with ``measure`` (nats, dims
        ``(n, <hyper...>, m, sample[, window])``) and ``k`` (dims ``(n, <hyper...>)``).
    measure : str, default "S_vn"
        The entropy variable (``S_vn``, ``S_renyi2``...); experiments without it are left
        out.
    by : {"experiment", "architecture"}, default "experiment"
        ``"experiment"`` (dimension ``experiment``, with an ``architecture`` coordinate) or
        ``"architecture"`` (the maximum over the experiments of each architecture).

    Returns
    -------
    xarray.DataArray
        ``c_hat``, dimensionless (units ``"1"``), dims ``(experiment,)`` or
        ``(architecture,)``; for one Dataset 0-d, with the point of the maximum
        (``n``, the hyperparameters, ``m``) as JSON in ``attrs["argmax"]``.

    Raises
    ------
    ValueError
        For another ``by``, or a single Dataset without ``measure``.

    Examples
    --------
    >>> values = [[[0.5, 0.7], [0.9, 1.1]], [[0.8, 1.0], [1.6, 1.8]]]
    >>> ds = xr.Dataset(
    ...     {"S_vn": (("n", "m", "sample"), values), "k": ("n", [2, 2])},
    ...     coords={"n": [4, 8], "m": [1, 2]},
    ...     attrs={"experiment": "toy", "architecture": "sn"},
    ... )
    >>> c = bound_constant(ds)  # largest mean 1.7 / (2 log 8)
    >>> round(float(c), 6), json.loads(c.attrs["argmax"])
    (0.408764, {'n': 8, 'm': 2})
    >>> ref = ds.assign(k=ds.k * 0 - 1).assign_attrs(experiment="ref", architecture="haar")
    >>> per = bound_constant([ds, ref])  # reference states have no k: NaN
    >>> per.experiment.values.tolist(), per.round(6).values.tolist()
    (['toy', 'ref'], [0.408764, nan])
    >>> bound_constant([ds, ref], by="architecture").round(6).to_series().to_dict()
    {'haar': nan, 'sn': 0.408764}
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
