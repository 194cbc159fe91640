"""Figures of a results store, in the paper's style (matplotlib).

Every figure function takes xarray objects (a DataTree from :func:`pipeline.load`, one
experiment's Dataset, or several), computes its statistics with :mod:`pipeline.analysis`
(per sample the mean over windows, then the mean and standard error over samples) and
returns a :class:`matplotlib.figure.Figure`. Error bars and bands are the standard error,
and for experiments measured by the streaming method the standard error plus the
half-width of the certified interval of the mean
(:func:`pipeline.analysis.stats.measure_stats`). Nothing is shown and no global pyplot state is
used; axis labels come from the variables' ``long_name`` and ``units``. Only
:func:`plot_store` touches the file system.

Figures:

- :func:`plot_entropy_vs_size`: ``S`` against ``|A|`` (log axis), mean +- SE bands, one
  panel per experiment, one line per grid point (activation, ``N_h``...);
- :func:`plot_cosnet_hidden`: ``S`` at one ``|A|`` against ``N_h``, with Page's value;
- :func:`plot_dicke`: the Dicke state's analytic curve against the numerical points;
- :func:`plot_entropy_vs_n`: the half-cut ``S`` against ``n`` (log axis) with the fitted
  ``S = a log n + b`` and the bound ``c k log n`` at the estimated ``c``;
- :func:`plot_entropy_vs_k`: ``S`` against ``k`` with the fitted slope against ``log k``
  and the bound ``c k log n`` at the estimated ``c``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from pipeline.analysis.datasets import axis_label, experiments, hyper_dims, largest_size
from pipeline.analysis.fits import bound_constant, fit_log_slope
from pipeline.analysis.stats import dicke_reference, measure_stats, page_reference
from pipeline.numerics.measures import measure_order, variable_measure

if TYPE_CHECKING:  # matplotlib is imported where figures are made: the CLI starts quickly
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


FORMATS = ("png", "pdf")


BAND_ALPHA = 0.25
ERROR_LABELS = {False: "standard error", True: "(SE + certified half-width)"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", "-.", ":")


HYPER_LABELS = {
    "hidden": "hidden units per channel N_h",
    "density": "hidden-unit density alpha",
}
"""Labels for hyperparameter axes whose store ``long_name`` is just their key."""


def _measure(source: dict[str, xr.Dataset], measure: str | None) -> str:
    """``measure`` if given, else ``S_vn`` when present, else the first entropy variable."""
    if measure:
        return measure
    names = [
        str(v)
        for ds in source.values()
        for v in ds.data_vars
        if str(v).startswith("S_") and not str(v).endswith(("_lo", "_hi"))
    ]
    if not names:
        raise ValueError("no entropy variable (S_*) in the given experiments")
    return "S_vn" if "S_vn" in names else names[0]


def _coordinate_label(ds: xr.Dataset, dim: str) -> str:
    coordinate = ds[dim]
    if coordinate.attrs.get("long_name", dim) == dim and dim in HYPER_LABELS:
        return HYPER_LABELS[dim]
    return axis_label(coordinate, dim)


def _grid_points(
    da: xr.DataArray, dims: Sequence[str], default: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(label, selection)`` for every combination of the ``dims`` values (spec order);
    without dims, one point labelled ``default``."""
    if not dims:
        yield default, {}
        return
    values = [[v.item() if hasattr(v, "item") else v for v in da[d].values] for d in dims]
    for combination in itertools.product(*values):
        selection = dict(zip(dims, combination, strict=True))
        if len(dims) == 1:
            label = str(combination[0])
        else:
            label = ", ".join(f"{d}={v}" for d, v in selection.items())
        yield label, selection


def _legend_title(dims: Sequence[str]) -> str | None:
    return dims[0] if len(dims) == 1 else None


def _panel_grid(count: int, width: float = 4.2, height: float = 3.3) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure with ``count`` panels (no unused axes)."""
    from matplotlib.figure import Figure

    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = [figure.add_subplot(rows, columns, i + 1) for i in range(count)]
    return figure, axes


def _integer_log_axis(ax: Axes, ticks: Any) -> None:
    """Log x-axis labelled at the given (integer) positions."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    positions = sorted({float(t) for t in np.ravel(ticks) if np.isfinite(t) and t > 0})
    if len(positions) > 2:  # no two labels closer than a twelfth of the axis
        gap = (math.log(positions[-1]) - math.log(positions[0])) / 12
        kept = [positions[0]]
        for p in positions[1:-1]:
            if math.log(p) - math.log(kept[-1]) >= gap and math.log(positions[-1] / p) >= gap:
                kept.append(p)
        positions = [*kept, positions[-1]]
    if 0 < len(positions) <= 12:
        ax.set_xticks(positions)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())


def _finite_sizes(mean: xr.DataArray, n: int) -> list[int]:
    """Sizes ``m`` with a finite mean at ``n`` for some grid point."""
    at_n = mean.sel(n=n)
    other = [d for d in at_n.dims if d != "m"]
    present = at_n.notnull().any(other) if other else at_n.notnull()
    return [int(m) for m in at_n["m"].values[present.values]]


def _default_n(mean: xr.DataArray, minimum_sizes: int) -> int | None:
    """The largest ``n`` with at least ``minimum_sizes`` measured sizes."""
    for n in sorted((int(v) for v in mean["n"].values), reverse=True):
        if len(_finite_sizes(mean, n)) >= minimum_sizes:
            return n
    return None


def _title(name: str, ds: xr.Dataset, extra: str = "") -> str:
    """``name (architecture), extra`` and, on a second line, the ensemble behind each
    point: networks per grid point and windows per network."""
    architecture = ds.attrs.get("architecture", "")
    head = f"{name} ({architecture})" if architecture and architecture != name else name
    networks, windows = ds.sizes.get("sample", 1), ds.sizes.get("window", 1)
    ensemble = (
        f"{networks} network{'s' if networks != 1 else ''} x {windows} "
        f"window{'s' if windows != 1 else ''} each"
    )
    return f"{head}{', ' + extra if extra else ''}\n{ensemble}"


def _style(index: int) -> dict[str, Any]:
    """Marker and line style of a figure's ``index``-th series, so that series that
    coincide stay distinguishable (as SN's relu and gelu at S ~ 1e-7)."""
    return {"marker": MARKERS[index % len(MARKERS)], "ls": LINESTYLES[index % len(LINESTYLES)]}


def _band_legend(ax: Axes, certified: bool = False, **kwargs: Any) -> None:
    """The axes' legend, with an entry saying what the shaded bands are when there are
    any (``certified``: the standard error plus the certified half-width)."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    if any(isinstance(c, PolyCollection) for c in ax.collections):
        band = Patch(
            facecolor="0.5", alpha=BAND_ALPHA, label=f"shaded: +-1 {ERROR_LABELS[certified]}"
        )
        handles.append(band)
    ax.legend(handles=handles, **kwargs)


def _k_dimension(ds: xr.Dataset, n: int) -> str | None:
    """The first hyperparameter dimension along which ``k`` takes several values at ``n``."""
    if "k" not in ds:
        return None
    k = ds["k"].sel(n=n)
    for dim in hyper_dims(k):
        if k.sizes[dim] > 1 and bool((k.max(dim) != k.min(dim)).any()):
            return dim
    return None


def _k_values(ds: xr.Dataset, n: int) -> set[int]:
    return {int(v) for v in np.ravel(ds["k"].sel(n=n).values) if v > 0} if "k" in ds else set()


def plot_entropy_vs_size(
    source: Any, measure: str | None = None, n: int | None = None, page: bool = False
) -> Figure:
    """``S`` against the subsystem size ``|A|`` on a log axis, as in the paper.

    One panel per experiment that has at least two measured sizes, one line per value of
    its swept hyperparameter (one per activation, per ``N_h``...), drawn as the ensemble
    mean with a band of +- one standard error over samples (of the per-sample window
    means). With several swept hyperparameters, the last one gives the lines and every
    combination of the others gets its own panel.

    Parameters
    ----------
    source
        A DataTree, a Dataset or Datasets (see :func:`pipeline.analysis.datasets.experiments`).
    measure
        Entropy variable; default ``S_vn``.
    n
        System size to show; default the largest ``n`` with at least two sizes.
    page
        Also draw Page's Haar-random value (dashed black) for reference.
    """
    sets = experiments(source)
    measure = _measure(sets, measure)
    panels = []
    for name, ds in sets.items():
        if measure not in ds:
            continue
        st = measure_stats(ds, measure)
        chosen = n if n is not None and n in ds["n"].values else _default_n(st["mean"], 2)
        sizes = _finite_sizes(st["mean"], chosen) if chosen is not None else []
        if len(sizes) < 2:
            continue
        dims = hyper_dims(st["mean"])
        for label, selection in _grid_points(st["mean"], dims[:-1]):
            title = _title(name, ds, ", ".join([*([label] if label else []), f"n = {chosen}"]))
            panels.append(
                (name, title, ds, st.sel(n=chosen).sel(selection), chosen, sizes, dims[-1:])
            )
    if not panels:
        raise ValueError("no experiment has two or more measured sizes |A| to plot")
    figure, axes = _panel_grid(len(panels), width=6.0)  # the legend beside each panel
    for ax, (name, title, ds, st, chosen, sizes, dims) in zip(axes, panels, strict=True):
        for index, (label, selection) in enumerate(_grid_points(st["mean"], dims, name)):
            point = st.sel(selection).sel(m=sizes)
            x = point["m"].values.astype(float)
            mean, se = point["mean"].values, point["error"].values
            (line,) = ax.plot(x, mean, markersize=3, label=label, **_style(index))
            if np.any(np.isfinite(se)):
                ax.fill_between(
                    x, mean - se, mean + se, color=line.get_color(), alpha=BAND_ALPHA, lw=0
                )
        if page:
            reference = page_reference(chosen, xr.DataArray(sizes, dims="m"))
            ax.plot(sizes, reference.values, "k--", lw=1, label="Page (Haar)")
        _integer_log_axis(ax, sizes)
        ax.set_xlabel(axis_label(ds["m"], "m"))
        ax.set_ylabel(axis_label(ds[measure], measure))
        ax.set_title(title, fontsize="medium")
        certified = f"{measure}_lo" in ds
        # beside the axes: inside, every corner covers some curve (SN's sin line at small
        # |A| lay under the legend)
        _band_legend(
            ax,
            certified,
            title=_legend_title(dims),
            fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0,
        )
    return figure


def plot_cosnet_hidden(
    ds: xr.Dataset,
    measure: str | None = None,
    m: int | None = None,
    hidden_dim: str = "hidden",
    name: str | None = None,
) -> Figure:
    """``S`` at one subsystem size against the number of hidden units, with Page's value.

    Points: ensemble mean +- SE at ``|A| = m`` for every ``N_h`` (log axis), one line per
    ``n`` and grid point of the other swept hyperparameters; a dashed horizontal line per
    ``n`` marks Page's mean entropy of a Haar-random state at the same ``(n, |A|)``, which
    CosNet approaches as ``N_h`` grows.

    Parameters
    ----------
    ds
        One experiment's Dataset with a ``hidden_dim`` axis (random_feature).
    m
        The size ``|A|``; default the single measured size, else 7 when measured, else
        the largest measured size ``<= n/2``.
    """
    measure = _measure({"": ds}, measure)
    if hidden_dim not in ds.dims:
        raise ValueError(f"plot_cosnet_hidden: the Dataset has no {hidden_dim!r} axis")
    name = name or str(ds.attrs.get("experiment", "random_feature"))
    st = measure_stats(ds, measure)
    measured = sorted({s for n in ds["n"].values for s in _finite_sizes(st["mean"], int(n))})
    if not measured:
        raise ValueError(f"plot_cosnet_hidden: {name} has no finite {measure}")
    if m is None:
        half = [s for s in measured if s <= int(ds["n"].max()) // 2]
        m = measured[0] if len(measured) == 1 else 7 if 7 in measured else max(half or measured)
    figure, (ax,) = _panel_grid(1, 5.5, 4.0)
    others = [d for d in hyper_dims(st["mean"]) if d != hidden_dim]
    hidden = ds[hidden_dim].values.astype(float)
    colour: Any = "k"
    for n_value in ds["n"].values:
        n_int = int(n_value)
        if m >= n_int:
            continue
        for label, selection in _grid_points(st["mean"], others, name):
            point = st.sel(selection).sel(n=n_int, m=m)
            text = f"n = {n_int}" + (f", {label}" if others else "")
            container = ax.errorbar(
                hidden,
                point["mean"].values,
                yerr=point["error"].values,
                marker="o",
                markersize=4,
                capsize=0,
                label=text,
            )
            colour = container.lines[0].get_color()
        value = float(page_reference(n_int, m))
        ax.axhline(
            value, ls="--", lw=1, color=colour, label=f"Page (Haar), n = {n_int}: {value:.3f}"
        )
    _integer_log_axis(ax, hidden)
    ax.set_xlabel(_coordinate_label(ds, hidden_dim))
    ax.set_ylabel(axis_label(ds[measure], measure))
    ax.set_title(_title(name, ds, f"|A| = {m}"))
    ax.legend(fontsize="small")
    return figure


def plot_dicke(ds: xr.Dataset, measure: str | None = None, name: str | None = None) -> Figure:
    """The Dicke state: analytic entropy (line) against the numerical values (points).

    For every ``n``: the analytic ``S(|A|)`` from the hypergeometric Schmidt
    probabilities (:func:`pipeline.analysis.stats.dicke_reference`, of the measure's Renyi
    order) over the measured range of sizes, and the numerical mean over windows and
    samples at each measured size; the legend gives the largest deviation.
    """
    measure = _measure({"": ds}, measure)
    name = name or str(ds.attrs.get("experiment", "dicke"))
    alpha = measure_order(variable_measure(measure))
    st = measure_stats(ds, measure)
    figure, (ax,) = _panel_grid(1, 8.5, 4.0)
    ticks: list[int] = []
    for n_value in ds["n"].values:
        n_int = int(n_value)
        sizes = _finite_sizes(st["mean"], n_int)
        if not sizes:
            continue
        ticks += sizes
        curve = np.arange(min(sizes), max(sizes) + 1)
        analytic = dicke_reference(n_int, xr.DataArray(curve, dims="m"), alpha=alpha)
        (line,) = ax.plot(curve, analytic.values, lw=1.5, label=f"analytic, n = {n_int}")
        numerical = st["mean"].sel(n=n_int, m=sizes).values
        exact = dicke_reference(n_int, xr.DataArray(sizes, dims="m"), alpha=alpha).values
        deviation = float(np.max(np.abs(numerical - exact)))
        ax.plot(
            sizes,
            numerical,
            ls="none",
            marker="o",
            mfc="none",
            color=line.get_color(),
            label=f"numerical, n = {n_int} (max |diff| {deviation:.1e})",
        )
    _integer_log_axis(ax, ticks)
    ax.set_xlabel(axis_label(ds["m"], "m"))
    ax.set_ylabel(axis_label(ds[measure], measure))
    ax.set_title(_title(name, ds, "analytic vs numerical"))
    # beside the axes, not over the points
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return figure


def _entropy_vs_n_panels(sets: dict[str, xr.Dataset], measure: str) -> list[tuple]:
    panels = []
    for name, ds in sets.items():
        if measure not in ds or ds.sizes["n"] < 3:
            continue
        st = measure_stats(ds, measure)
        top = largest_size(st["mean"])
        other = [d for d in top.dims if d != "n"]
        present = top.notnull().any(other) if other else top.notnull()
        if int(present.sum()) >= 3:
            # the fit weighs only points of two or more networks (a single network's
            # error bar is its certified half-width alone, far below an ensemble's SE)
            weights = largest_size(st["error"].where(st["se"].notnull()))
            panels.append((name, ds, top, largest_size(st["error"]), weights))
    return panels


def plot_entropy_vs_n(source: Any, measure: str | None = None) -> Figure:
    """The half-cut entropy against ``n`` (log axis) with the fitted ``S = a log n + b``.

    One panel per experiment with three or more sizes ``n``; per ``n`` the largest measured
    ``|A| <= n/2`` (the half cut in the n-scans). One set of points (mean +- SE) per grid
    point and its weighted fit (dashed), whose slope ``a`` and 95% interval are in the
    legend (:func:`pipeline.analysis.fits.fit_log_slope`). At fixed ``k`` the bound allows at
    most ``a <= c k``: the thin solid line of each grid point's colour is ``c k log n`` at
    ``c`` = the experiment's largest ``S / (k log n)``
    (:func:`pipeline.analysis.fits.bound_constant`; one legend entry), so it touches the data at
    that point and lies above all others; lines far above the data are cut off by the
    y-range. A Dicke experiment also gets its analytic half-cut curve.
    """
    sets = experiments(source)
    measure = _measure(sets, measure)
    panels = _entropy_vs_n_panels(sets, measure)
    if not panels:
        raise ValueError("no experiment has three or more sizes n to plot")
    figure, axes = _panel_grid(len(panels))
    for ax, (name, ds, top, top_se, weights) in zip(axes, panels, strict=True):
        dims = hyper_dims(top)
        fit = fit_log_slope(top.drop_vars("m"), weights.drop_vars("m"), dim="n")
        n_values = top["n"].values.astype(float)
        c_hat = float(bound_constant(ds, measure))  # NaN without k (reference states)
        highest = 0.0
        for label, selection in _grid_points(top, dims, name):
            mean, se = top.sel(selection).values, top_se.sel(selection).values
            measured = n_values[np.isfinite(mean)]  # a partial store may lack the largest n
            if measured.size == 0:
                continue
            dense = np.geomspace(measured.min(), measured.max(), 50)
            highest = max(highest, float(np.nanmax(mean + np.nan_to_num(se))))
            container = ax.errorbar(
                n_values,
                mean,
                yerr=se,
                ls="none",
                marker="o",
                markersize=4,
                capsize=0,
            )
            colour = container.lines[0].get_color()
            line = fit.sel(selection)
            slope, low, high = (float(line[v]) for v in ("slope", "slope_ci_low", "slope_ci_high"))
            k_here = (
                {int(v) for v in np.ravel(ds["k"].sel(selection).values)} if "k" in ds else set()
            )
            if len(k_here) == 1 and min(k_here) > 0:
                label = f"{label} (k = {min(k_here)})"
                if math.isfinite(c_hat):
                    ax.plot(dense, c_hat * min(k_here) * np.log(dense), "-", lw=1, color=colour)
            text = f"{label}: a = {slope:.3f} [{low:.3f}, {high:.3f}]"
            ax.plot(
                dense,
                slope * np.log(dense) + float(line["intercept"]),
                ls="--",
                color=colour,
                label=text,
            )
        if ds.attrs.get("architecture") == "dicke":
            measured_n = top.notnull().any([d for d in top.dims if d != "n"])
            reference = dicke_reference(top["n"], top["m"]).where(measured_n)  # partial stores
            ax.plot(n_values, reference.values, "k:", lw=1, label="Dicke, analytic")
        if math.isfinite(c_hat):
            ax.plot(
                [],
                [],
                "-",
                lw=1,
                color="0.45",
                label=f"c k log n (thin, series colour), c = {c_hat:.3f}",
            )
            ax.set_ylim(top=1.15 * highest)
        _integer_log_axis(ax, n_values)
        ax.set_xlabel(axis_label(ds["n"], "n"))
        ax.set_ylabel(axis_label(ds[measure], measure))
        ax.set_title(_title(name, ds, "|A| = n/2"), fontsize="medium")
        ax.legend(title=_legend_title(dims), fontsize="small")
    return figure


def _entropy_vs_k_panels(sets: dict[str, xr.Dataset], measure: str, n: int | None) -> list:
    panels = []
    for name, ds in sets.items():
        if measure not in ds or "k" not in ds:
            continue
        candidates = [n] if n is not None else sorted(ds["n"].values.tolist(), reverse=True)
        for n_value in candidates:
            if n_value not in ds["n"].values:
                continue
            dim = _k_dimension(ds, int(n_value))
            if dim is not None and len(_k_values(ds, int(n_value))) >= 3:
                panels.append((name, ds, int(n_value), dim))
                break
    return panels


def plot_entropy_vs_k(source: Any, measure: str | None = None, n: int | None = None) -> Figure:
    """``S`` against the nonlinearity count ``k`` (log axis) with the bound ``c k log n``.

    One panel per experiment whose ``k`` takes three or more values at one ``n`` (the
    largest such ``n`` unless given); ``S`` at the largest measured ``|A| <= n/2``. Points
    are mean +- SE along the hyperparameter that changes ``k`` (``width``, ``depth``,
    ``hidden``, ``density``...), one set per grid point of the other swept
    hyperparameters, each with its weighted fit ``S = a log k + b`` (dashed, slope and 95%
    interval in the legend). The solid black line is the bound's scale ``c k log n`` at
    ``c`` = the experiment's largest ``S / (k log n)``
    (:func:`pipeline.analysis.fits.bound_constant`), which touches the data at that point.
    """
    sets = experiments(source)
    measure = _measure(sets, measure)
    panels = _entropy_vs_k_panels(sets, measure, n)
    if not panels:
        raise ValueError("no experiment has three or more values of k at one n to plot")
    figure, axes = _panel_grid(len(panels))
    for ax, (name, ds, n_value, k_dim) in zip(axes, panels, strict=True):
        st = measure_stats(ds, measure)
        top, top_se = (
            largest_size(st["mean"]).sel(n=n_value),
            largest_size(st["error"]).sel(n=n_value),
        )
        m_value = int(top["m"])
        k = ds["k"].sel(n=n_value)
        others = [d for d in hyper_dims(top) if d != k_dim]
        highest = 0.0
        for label, selection in _grid_points(top, others, name):
            mean = top.sel(selection).drop_vars("m")
            se = top_se.sel(selection).drop_vars("m")
            k_line = k.sel(selection).astype(float)
            container = ax.errorbar(
                k_line.values,
                mean.values,
                yerr=se.values,
                ls="none",
                marker="o",
                markersize=4,
                capsize=0,
            )
            colour = container.lines[0].get_color()
            highest = max(highest, float(np.nanmax((mean + se.fillna(0)).values)))
            fit = fit_log_slope(mean, se, dim=k_dim, x=k_line)
            slope, low, high = (float(fit[v]) for v in ("slope", "slope_ci_low", "slope_ci_high"))
            dense = np.geomspace(float(k_line.min()), float(k_line.max()), 50)
            ax.plot(
                dense,
                slope * np.log(dense) + float(fit["intercept"]),
                ls="--",
                color=colour,
                label=f"{label}: a = {slope:.3f} [{low:.3f}, {high:.3f}]",
            )
        c_hat = float(bound_constant(ds, measure))
        k_all = np.array(sorted(_k_values(ds, n_value)), dtype=float)
        dense = np.geomspace(k_all.min(), k_all.max(), 50)
        ax.plot(
            dense,
            c_hat * dense * math.log(n_value),
            "k-",
            lw=1,
            label=f"c k log n, c = {c_hat:.3f}",
        )
        ax.set_ylim(0, 1.15 * highest if highest > 0 else None)
        _integer_log_axis(ax, k_all)
        ax.set_xlabel(axis_label(ds["k"], "k"))
        ax.set_ylabel(axis_label(ds[measure], measure))
        ax.set_title(_title(name, ds, f"n = {n_value}, |A| = {m_value}"), fontsize="medium")
        ax.legend(title=_legend_title(others), fontsize="small")
    return figure


def _single_size(ds: xr.Dataset, measure: str) -> bool:
    """Whether every ``n`` has at most one measured size (a sweep at fixed ``|A|``)."""
    mean = measure_stats(ds, measure)["mean"]
    counts = [len(_finite_sizes(mean, int(n))) for n in ds["n"].values]
    return max(counts, default=0) == 1


def _has_sizes(ds: xr.Dataset, measure: str, minimum: int) -> bool:
    mean = measure_stats(ds, measure)["mean"]
    return _default_n(mean, minimum) is not None


def store_figures(tree: Any, measure: str | None = None) -> list[tuple[str, Figure]]:
    """``(name, figure)`` for every figure that applies to a store's experiments.

    - ``entropy_vs_size``: experiments with two or more sizes ``|A|`` at some ``n``;
    - ``<experiment>_page``: an experiment with a ``hidden`` axis of three or more values
      and one size ``|A|``
      (the CosNet sweep against Page);
    - ``<experiment>_analytic``: a Dicke experiment with two or more sizes;
    - ``entropy_vs_n``: experiments with three or more ``n``;
    - ``entropy_vs_k``: experiments whose ``k`` takes three or more values at one ``n``.
    """
    sets = experiments(tree)
    measure = _measure(sets, measure)
    # read each experiment's entropies and k once (the site orderings are not needed)
    sets = {
        name: ds.drop_vars(["site_order", "done"], errors="ignore").load()
        for name, ds in sets.items()
        if measure in ds
    }
    figures: list[tuple[str, Figure]] = []
    curves = {name: ds for name, ds in sets.items() if _has_sizes(ds, measure, 2)}
    if curves:
        figures.append(("entropy_vs_size", plot_entropy_vs_size(curves, measure)))
    for name, ds in sets.items():
        if "hidden" in ds.dims and ds.sizes["hidden"] >= 3 and _single_size(ds, measure):
            figures.append((f"{name}_page", plot_cosnet_hidden(ds, measure, name=name)))
    for name, ds in sets.items():
        if ds.attrs.get("architecture") == "dicke" and name in curves:
            figures.append((f"{name}_analytic", plot_dicke(ds, measure, name=name)))
    if _entropy_vs_n_panels(sets, measure):
        figures.append(("entropy_vs_n", plot_entropy_vs_n(sets, measure)))
    if _entropy_vs_k_panels(sets, measure, None):
        figures.append(("entropy_vs_k", plot_entropy_vs_k(sets, measure)))
    return figures


def plot_store(
    path: str | Path,
    out_dir: str | Path,
    formats: Sequence[str] = FORMATS,
    measure: str | None = None,
) -> list[Path]:
    """Write every figure that applies to the store at ``path`` to ``out_dir``.

    The figures are those of :func:`store_figures`, each written as
    ``<spec name>_<figure>.<format>`` (the store's stem when it names no spec). Returns
    the paths written, in order. Raises :class:`pipeline.store.StoreError` when ``path``
    is not an nqs-ent store.

    The figures follow the paper's style (mean +- standard error over samples of the
    per-sample window means, entropies in nats, sizes ``|A|`` and ``n`` in sites) and are
    saved at 150 dpi; NaN (tasks not yet computed) is left out, so a partial store gives
    the figures its data allow.

    Parameters
    ----------
    path : str or pathlib.Path
        The store (as written by :func:`pipeline.run.engine.run_sweep`).
    out_dir : str or pathlib.Path
        The folder to write to; created (with its parents) when missing.
    formats : sequence of str, default ``("png", "pdf")``
        File formats (extensions matplotlib can save); each figure is written once per
        format.
    measure : str, optional
        The entropy variable to plot (``"S_vn"``, ``"S_renyi2"``...); default ``S_vn``
        when present, else the first ``S_*`` variable.

    Returns
    -------
    list of pathlib.Path
        The files written, figure by figure (in the order of :func:`store_figures`), each
        in every format; empty when no figure applies.

    Raises
    ------
    StoreError
        When ``path`` is not an nqs-ent store.

    Examples
    --------
    A small store computed in this process (each task directly, without Dask):

    >>> import shutil, tempfile
    >>> from pipeline import store
    >>> from pipeline.run.worker import run_task
    >>> from pipeline.sweep.plan import iter_tasks
    >>> from pipeline.sweep.validate import parse_spec
    >>> sweep = parse_spec('''
    ... name = "demo"
    ... seed = 1
    ... [[experiment]]
    ... name = "haar"
    ... architecture = "haar"
    ... n = [4, 6]
    ... samples = 3
    ... measures = ["vn"]
    ... subsystem = {kind = "first", m = "1..n//2"}
    ... ''')
    >>> folder = Path(tempfile.mkdtemp())
    >>> store.create(folder / "demo.zarr", sweep)
    >>> for task in iter_tasks(sweep):
    ...     _ = run_task(str(folder / "demo.zarr"), sweep.digest, task, "numpy")
    >>> written = plot_store(folder / "demo.zarr", folder / "figures", formats=["png"])
    >>> [file.name for file in written]
    ['demo_entropy_vs_size.png']
    >>> shutil.rmtree(folder)
    """
    from pipeline.store.layout import StoreError, read_root_attrs
    from pipeline.store.schema import load

    path = Path(path)
    attrs = read_root_attrs(path)
    if attrs is None:
        raise StoreError(f"{path} is not an nqs-ent store (no spec attributes at its root)")
    tree = load(path)
    prefix = str(attrs.get("spec_name") or path.stem)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, figure in store_figures(tree, measure):
        for fmt in formats:
            target = out / f"{prefix}_{name}.{fmt}"
            figure.savefig(target, dpi=150)
            written.append(target)
    return written
