"""Array namespaces (pipeline.numerics.xp): backend names, the namespaces they give, the
clear error for a GPU that is not there, host copies and matching dtypes."""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest
from helpers import NAMESPACES

from pipeline.numerics.xp import (
    BACKENDS,
    BackendError,
    complex_dtype,
    complex_of,
    get_namespace,
    gpu_available,
    is_numpy,
    namespace,
    real_dtype,
    resolve_backend,
    to_numpy,
)


def test_backends():
    assert BACKENDS == ("numpy", "cupy", "auto")


def test_resolve_backend():
    assert resolve_backend("numpy") == "numpy"
    assert resolve_backend("auto") == ("cupy" if gpu_available() else "numpy")
    for bad in ("gpu", "NumPy", "array_api_strict", ""):
        with pytest.raises(ValueError, match=r"unknown backend .*numpy, cupy, auto"):
            resolve_backend(bad)


def test_numpy_namespace_wraps_numpy_arrays():
    xp = namespace("numpy")
    assert xp is namespace() and xp.__name__ == "array_api_compat.numpy"
    assert is_numpy(xp)
    x = xp.asarray([1.0, 2.0], dtype=xp.float64)
    assert isinstance(x, np.ndarray)
    assert get_namespace(x) is xp


@pytest.mark.parametrize("name", ["array_api_strict", "array-api-strict"])
def test_strict_namespace_is_the_reference_implementation(name):
    xp = namespace(name)
    assert xp is array_api_strict
    assert not is_numpy(xp)
    x = xp.asarray([1.0, 2.0], dtype=xp.float64)
    assert not isinstance(x, np.ndarray)
    assert get_namespace(x) is xp


def test_unknown_namespace_is_refused():
    with pytest.raises(ValueError, match="unknown array namespace 'torch'"):
        namespace("torch")
    with pytest.raises(ValueError, match="unknown array namespace 'auto'"):
        namespace("auto")


def test_mixed_backends_are_refused():
    with pytest.raises(TypeError):
        get_namespace(namespace("numpy").asarray([1.0]), array_api_strict.asarray([1.0]))


def test_cupy_without_a_gpu_is_a_backend_error():
    if gpu_available():
        pytest.skip("a GPU is present, so backend 'cupy' is valid here")
    with pytest.raises(BackendError, match=r"needs CuPy and a visible CUDA device") as info:
        resolve_backend("cupy")
    assert isinstance(info.value, RuntimeError)
    assert "use backend 'numpy'" in str(info.value)
    with pytest.raises(BackendError, match="CUDA device"):
        namespace("cupy")
    assert resolve_backend("auto") == "numpy"


@pytest.mark.parametrize("name", NAMESPACES)
def test_to_numpy_copies_to_the_host(name):
    xp = namespace(name)
    x = xp.asarray([[1.0, -2.5], [0.0, 3.0]], dtype=xp.float64)
    host = to_numpy(x)
    assert isinstance(host, np.ndarray) and host.dtype == np.float64
    np.testing.assert_array_equal(host, [[1.0, -2.5], [0.0, 3.0]])
    z = xp.asarray([1 + 2j], dtype=xp.complex64)
    assert to_numpy(z).dtype == np.complex64 and to_numpy(z)[0] == 1 + 2j


def test_to_numpy_returns_a_numpy_array_itself():
    x = np.arange(3.0)
    assert to_numpy(x) is x


@pytest.mark.parametrize("name", NAMESPACES)
def test_matching_dtypes(name):
    xp = namespace(name)
    assert real_dtype(xp, xp.complex128) == xp.float64
    assert real_dtype(xp, xp.complex64) == xp.float32
    assert complex_of(xp, xp.float64) == xp.complex128
    assert complex_of(xp, xp.float32) == xp.complex64
    for precision in ("double", "complex128"):
        assert complex_dtype(xp, precision) == xp.complex128
    for precision in ("single", "complex64"):
        assert complex_dtype(xp, precision) == xp.complex64
    for dtype in (xp.complex128, xp.complex64):
        assert complex_of(xp, real_dtype(xp, dtype)) == dtype


@pytest.mark.parametrize("precision", ["half", "float64", "Double", "", "complex256"])
def test_complex_dtype_refuses_other_precisions(precision):
    with pytest.raises(ValueError, match=rf"unknown precision '{precision}'; use 'complex128'"):
        complex_dtype(namespace("numpy"), precision)
