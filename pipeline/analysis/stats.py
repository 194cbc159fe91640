"""Ensemble statistics: per sample the mean over its windows, then the mean, standard error
and count over samples; per-sample status counts; the Page and Dicke references on the
same coordinates. NaN marks what does not apply or is not computed, and is never counted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from pipeline.analysis.datasets import _as_dataarray
from pipeline.numerics.references import dicke_entropy, page_entropy


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
    NaN (sizes that do not apply to an ``n``, tasks not yet computed, samples whose state
    could not be normalised) is never counted.

    Parameters
    ----------
    da : xarray.DataArray
        Values such as a store's ``S_<measure>`` (nats, dims
        ``(n, <hyper...>, m, sample, window)``); any dims that include ``dim``.
    dim : str, default "sample"
        The dimension of the network samples, reduced.
    window_dim : str, default "window"
        The dimension of the windows drawn per sample, averaged first; ignored when
        ``da`` does not have it.

    Returns
    -------
    xarray.Dataset
        Variables ``mean`` and ``se`` (in the units of ``da``: nats for entropies, with
        its attributes; ``se``'s ``long_name`` is ``standard error of ...``) and ``count``
        (int, units ``"1"``), each with the dims of ``da`` less ``dim`` and
        ``window_dim``, e.g. ``(n, <hyper...>, m)``.

    Examples
    --------
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


def measure_stats(ds: xr.Dataset, measure: str) -> xr.Dataset:
    """:func:`ensemble_stats` of ``ds[measure]`` and the error bar to draw.

    Adds ``error``: the standard error where the values are exact (dense), and where the
    store holds certified bounds ``<measure>_lo`` and ``<measure>_hi`` (the streaming
    method), the standard error (0 for a single sample) plus the half-width of the
    certified interval of the mean, ``(mean(hi) - mean(lo)) / 2``. Certified experiments
    also get ``lo`` and ``hi`` (the ensemble means of the bounds) and ``certified_width``,
    the worst
    certified width ``max(hi - lo)`` over samples and windows. All in nats.

    >>> ds = xr.Dataset({"S_vn": ("sample", [1.0, 3.0]), "S_vn_lo": ("sample", [0.9, 2.9]),
    ...                  "S_vn_hi": ("sample", [1.1, 3.3])})
    >>> st = measure_stats(ds, "S_vn")  # se 1, mean interval [1.9, 2.2]
    >>> round(float(st["error"]), 6), round(float(st["certified_width"]), 6)
    (1.15, 0.4)
    """
    st = ensemble_stats(ds[measure])
    lo_name, hi_name = f"{measure}_lo", f"{measure}_hi"
    if lo_name not in ds or hi_name not in ds:
        return st.assign(error=st["se"])
    lo = ensemble_stats(ds[lo_name])["mean"]
    hi = ensemble_stats(ds[hi_name])["mean"]
    spread = ds[hi_name] - ds[lo_name]
    width = spread.max([d for d in ("sample", "window") if d in spread.dims], skipna=True)
    error = st["se"].fillna(0.0).where(st["mean"].notnull()) + (hi - lo) / 2
    attrs = dict(ds[measure].attrs)
    long_name = attrs.get("long_name", measure)
    error.attrs = {**attrs, "long_name": f"standard error + certified half-width of {long_name}"}
    width.attrs = {**attrs, "long_name": f"worst certified width of {long_name}"}
    return st.assign(error=error, lo=lo, hi=hi, certified_width=width)


def status_counts(ds: xr.Dataset) -> dict[str, int]:
    """Samples per status (``ok``, ``pending``, ``zero``, ``nonfinite``; see
    :data:`pipeline.sweep.sample.SAMPLE_STATUS`) of one experiment's Dataset.

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
    (1993)); :func:`pipeline.numerics.references.page_entropy`.

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
    :func:`pipeline.numerics.references.dicke_entropy`.

    >>> round(float(dicke_reference(22, 2)), 4)
    1.0221
    """

    def value(n_int: int, m_int: int) -> float:
        return dicke_entropy(n_int, m_int, alpha=alpha) if n_int % 2 == 0 else math.nan

    name = "von Neumann" if alpha == 1 else f"order-{alpha:g}"
    return _reference(value, n, m, "S_dicke", f"Dicke state {name} entropy")
