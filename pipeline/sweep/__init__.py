"""Sweeps: what to compute, before anything runs.

- :mod:`~pipeline.sweep.spec` -- the data model (:class:`~pipeline.sweep.spec.Sweep`,
  :class:`~pipeline.sweep.spec.Experiment`) and its limits;
- :mod:`~pipeline.sweep.validate` -- TOML into that model, every problem on one line;
- :mod:`~pipeline.sweep.sizes` -- the ``"1..n//2"`` size language;
- :mod:`~pipeline.sweep.subsystems` -- the kinds of subsystem and their samplers;
- :mod:`~pipeline.sweep.plan` -- tasks, memory and store-size estimates;
- :mod:`~pipeline.sweep.sample` -- one sample from seeds to entropies, and one task.
"""
