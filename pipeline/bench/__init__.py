"""Benchmarks, out of the CLI's import path: ``nqs-ent bench spectra|nested|sweep|planning``
print their figures with ratios against baselines measured in the same run. Speed is
measured here, never in tests.
"""
