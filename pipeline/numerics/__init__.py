"""Numerics: pure array code taking an array namespace ``xp`` (NumPy, CuPy or
``array-api-strict``); nothing here knows of specs, stores or clusters.

- :mod:`~pipeline.numerics.xp` -- namespaces, backends and dtypes;
- :mod:`~pipeline.numerics.activations` -- the scalar nonlinearities;
- :mod:`~pipeline.numerics.spectra` -- Schmidt spectra (and :mod:`~pipeline.numerics.lapacke`);
- :mod:`~pipeline.numerics.entropy` and :mod:`~pipeline.numerics.measures` -- entropies
  and their names;
- :mod:`~pipeline.numerics.references` -- exact values (Page, Dicke);
- :mod:`~pipeline.numerics.provenance` -- what decides the last bits on this machine.
"""
