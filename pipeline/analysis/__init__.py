"""Analysis of a results store: datasets (:mod:`~pipeline.analysis.datasets`), ensemble
statistics (:mod:`~pipeline.analysis.stats`), fits and the bound
(:mod:`~pipeline.analysis.fits`), tables (:mod:`~pipeline.analysis.tables`) and figures
(:mod:`~pipeline.analysis.plots`).

The conventions follow the paper (N. Paul, *Bound on entanglement in neural quantum states*,
PRL 136 (2026), arXiv:2510.11797):

1. per network sample, the mean over its windows (the subsystems drawn for it),
   ``S_s = mean_w S_{s,w}`` (:func:`~pipeline.analysis.stats.sample_means`);
2. over samples, the mean ``S = mean_s S_s`` and its standard error
   ``SE = std_s(S_s, ddof=1) / sqrt(count)`` (:func:`~pipeline.analysis.stats.ensemble_stats`);
3. fits of ``S = a log x + b`` against ``x = |A|``, ``n`` or ``k`` by weighted least
   squares, with 95% confidence intervals from Student's t distribution
   (:func:`~pipeline.analysis.fits.fit_log_slope`);
4. the bound ``S_A <= c k log n``: the ratio ``S / (k log n)`` per point
   (:func:`~pipeline.analysis.fits.bound_ratio`) and its maximum per experiment or
   architecture, an estimate of (a lower bound on) the constant ``c``
   (:func:`~pipeline.analysis.fits.bound_constant`);
5. the Page and Dicke references on the same coordinates
   (:func:`~pipeline.analysis.stats.page_reference`,
   :func:`~pipeline.analysis.stats.dicke_reference`).

Every statistic is NaN-aware: NaN marks sizes that do not apply to an ``n`` and tasks not
yet computed, and is never counted.
"""
