"""Tables of a store's headline numbers: :func:`summarize` (a ``pandas.DataFrame`` for
analysis) and :func:`summary_table` (the text ``nqs-ent run`` prints), one built on the
other."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline import store
from pipeline.analysis.datasets import experiments, hyper_dims, largest_size
from pipeline.analysis.fits import bound_ratio, fit_log_slope
from pipeline.analysis.stats import measure_stats, status_counts
from pipeline.numerics.references import page_entropy
from pipeline.sweep.spec import Sweep


def summary_table(path: Path, sweep: Sweep) -> str:
    """The table ``nqs-ent run`` prints: per ``(experiment, n, grid point)``, the rows of
    :func:`summarize` for the experiment's first measure (mean +- standard error over
    samples, of the mean over windows, at the largest measured size ``<= n/2``), the
    samples averaged against those asked for, the tasks done and, for experiments with
    certified intervals, the worst certified width (nats). Samples whose state
    could not be normalised are counted by cause below the table."""
    from pipeline.numerics.measures import measure_variable

    tree = store.load(path)
    certified = any(experiment.certified for experiment in sweep.experiments)
    lines = [
        f"{'experiment':<18} {'n':>4} {'grid point':<22} {'k':>5} {'m':>4}  "
        f"{'measure':<8} {'mean':>8} {'SE':>8} {'samples':>9}  done"
        + ("  worst width" if certified else "")
    ]
    not_ok: dict[str, int] = {}
    for experiment in sweep.experiments:
        ds = tree[experiment.name].ds
        measure = experiment.measures[0]
        rows = summarize({experiment.name: ds}, measure_variable(measure))
        done = ds["done"].sum("block").values.reshape(-1)  # (n, *grid) in C order
        for row, tasks in zip(rows.itertuples(), done, strict=True):
            lines.append(
                f"{experiment.name:<18} {row.n:>4} {row.point[:22]:<22} "
                f"{_int(row.k):>5} {_int(row.m):>4}  {measure:<8} "
                f"{_fmt(row.mean):>8} {_fmt(row.se):>8} "
                f"{f'{row.samples}/{experiment.samples}':>9}  {tasks}/{ds.sizes['block']}"
                + (f"  {row.width:11.1e}" if experiment.certified else "")
            )
        for cause, count in status_counts(ds).items():
            if cause not in ("ok", "pending") and count:
                not_ok[f"{experiment.name}: {cause}"] = count
    if not_ok:
        causes = ", ".join(f"{key} {count}" for key, count in not_ok.items())
        lines.append(
            f"samples whose state could not be normalised (NaN entropies, not averaged): {causes}"
        )
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "-"


def _int(value: int) -> str:
    """``-1`` (no such value) as ``-``."""
    return str(value) if value >= 0 else "-"


def _point_label(ds: xr.Dataset | xr.DataArray, index: Mapping[str, Any]) -> str:
    """``key=value, ...`` of a grid point (``-`` without hyperparameter axes)."""
    return ", ".join(f"{dim}={ds[dim].values[i]}" for dim, i in index.items()) or "-"


def summarize(source: Any, measure: str = "S_vn") -> Any:
    """One row per experiment, ``n`` and grid point: the headline numbers of a store.

    Columns: ``experiment``, ``architecture``, ``n``, ``point`` (the swept
    hyperparameters), ``k``, ``m`` (the largest measured size ``<= n/2``), ``mean`` and
    ``se`` (nats, at that ``m``; :func:`pipeline.analysis.stats.ensemble_stats`),
    ``samples`` (with a finite value there), ``page`` (Page's value there),
    ``slope_log_m`` with ``slope_log_m_low`` and ``slope_log_m_high`` (fit of ``S``
    against ``log |A|`` over the measured sizes of that ``n``), ``slope_log_n`` with its
    interval (fit of the largest-size ``S`` against ``log n`` over the experiment's ``n``;
    the same on every row of a grid point), ``bound_ratio`` (the largest
    ``S / (k log n)`` over the sizes) and ``width`` (the worst certified width over the
    sizes, samples and windows of a streamed experiment; NaN for dense ones). Fits weigh
    each point by its standard error, plus the certified half-width where streamed
    (:func:`pipeline.analysis.stats.measure_stats`). Fits that lack points are NaN.

    Parameters
    ----------
    source : xarray.DataTree, xarray.Dataset, mapping or sequence of Datasets
        A store (:func:`pipeline.load`), one experiment's Dataset or several (see
        :func:`pipeline.analysis.datasets.experiments`), each with ``measure`` (nats,
        dims ``(n, <hyper...>, m, sample[, window])``) and optionally ``k``.
    measure : str, default "S_vn"
        The entropy variable to tabulate; experiments without it are left out.

    Returns
    -------
    pandas.DataFrame
        The columns above, one row per ``(experiment, n, grid point)``, in that nesting
        order (grid points in C order). Entropies, standard errors, Page's value and the
        slopes are in nats, ``m`` in sites, ``bound_ratio`` dimensionless; ``k`` and ``m``
        are ``-1`` where absent (no ``k``, nothing measured).

    Raises
    ------
    TypeError
        When ``source`` is not a DataTree, a Dataset or Datasets.

    Examples
    --------
    >>> ds = xr.Dataset(
    ...     {
    ...         "S_vn": (
    ...             ("n", "m", "sample"),
    ...             [[[0.6, 0.7], [1.0, 1.1], [1.2, 1.3]], [[0.6, 0.7], [1.1, 1.2], [1.4, 1.5]]],
    ...         ),
    ...         "k": ("n", [4, 6]),
    ...     },
    ...     coords={"n": [6, 8], "m": [1, 2, 3]},
    ...     attrs={"experiment": "toy", "architecture": "sn"},
    ... )
    >>> table = summarize(ds)
    >>> table[["experiment", "n", "k", "m", "mean", "se", "samples"]].round(4)
      experiment  n  k  m  mean    se  samples
    0        toy  6  4  3  1.25  0.05        2
    1        toy  8  6  3  1.45  0.05        2
    >>> table["bound_ratio"].round(4).tolist()  # 1.25 / (4 log 6), 1.45 / (6 log 8)
    [0.1744, 0.1162]
    """
    import pandas as pd

    rows = []
    for name, ds in experiments(source).items():
        if measure not in ds:
            continue
        st = measure_stats(ds, measure)
        fit_m = fit_log_slope(st["mean"], st["error"], dim="m")
        top = largest_size(st["mean"])
        top_se = largest_size(st["se"])
        top_error = largest_size(st["error"])
        width = st["certified_width"].max("m", skipna=True) if "certified_width" in st else None
        top_count = largest_size(st["count"].astype(float).where(st["mean"].notnull()))
        fit_n = fit_log_slope(top.drop_vars("m"), top_error.drop_vars("m"), dim="n")
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
                        "width": math.nan if width is None else float(width.isel(index)),
                    }
                )
    return pd.DataFrame(rows)
