"""Benchmarks, out of the CLI's import path:
``nqs-ent bench spectra|nested|sweep|planning|states|streaming|memory`` print their
figures with ratios against baselines measured in the same run (and memory against its
targets). Speed is measured here, never in tests.
"""
