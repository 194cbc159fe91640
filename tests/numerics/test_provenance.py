"""Provenance: the environment that emulates the next older CPU (BLAS kernel and NumPy
SIMD dispatch). The records a store keeps are tested in tests/store/test_store.py."""

from __future__ import annotations

from pipeline.numerics import provenance


def test_older_cpu_environment_switches_kernel_and_dispatch():
    record = {"blas": [], "numpy_simd": {"found": ["X86_V3", "X86_V4", "AVX512_ICL"]}}
    assert provenance.older_cpu_environment(record) == {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL",
        "OPENBLAS_CORETYPE": "Haswell",
    }
    record["numpy_simd"]["found"] = ["X86_V3"]
    assert provenance.older_cpu_environment(record)["OPENBLAS_CORETYPE"] == "Sandybridge"
    record["numpy_simd"]["found"] = []
    assert provenance.older_cpu_environment(record) is None
