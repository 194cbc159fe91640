"""Scalar activations by name (pipeline.numerics.activations): every one against a
closed form from :mod:`math`, the same on every CPU namespace, finite where it must be,
``erf`` against :func:`math.erf`, ``poly<d>`` against the truncated exponential series,
and the errors for unknown names."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import NAMESPACES, host

from pipeline.numerics.activations import (
    ACTIVATIONS,
    NUMPY_TANH_VECTORISED,
    check_activation,
    erf,
    exp_tanh,
    get_activation,
    numpy_dispatch,
)
from pipeline.numerics.xp import namespace

GRID = np.linspace(-4.0, 4.0, 33)
"""A small grid through 0, both signs and the bends of every activation."""

CLOSED_FORM = 1e-14
"""Relative error of a double-precision activation against its closed form in math
(a few ulp); absolute near 0."""
SERIES = 1e-13
"""poly<d> by Horner against the series summed term by term (values up to e^4)."""
FAR = 2.0**-52
"""Absolute error far from 0 (|x| >= 40): one ulp of 1."""
SINGLE = 1e-6
"""float32 evaluation against float64 (a few float32 ulp)."""

REFERENCE = {
    "tanh": math.tanh,
    "sin": math.sin,
    "cos": math.cos,
    "gelu": lambda x: 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))),
    "gelu_tanh": lambda x: (
        0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    ),
    "relu": lambda x: max(x, 0.0),
    "softplus": lambda x: math.log1p(math.exp(x)),
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)),
    "elu": lambda x: x if x > 0 else math.expm1(x),
}
NAMES = sorted(ACTIVATIONS)
POLYS = ("poly1", "poly2", "poly3", "poly8", "poly12")


def evaluate(name: str, values, xp_name: str, dtype: str = "float64") -> np.ndarray:
    xp = namespace(xp_name)
    x = xp.asarray(np.asarray(values, dtype=dtype), dtype=getattr(xp, dtype))
    out = get_activation(name)(x, xp)
    assert out.dtype == x.dtype and out.shape == x.shape, name
    return host(out)


def truncated_exp(x: float, degree: int) -> float:
    return sum(x**j / math.factorial(j) for j in range(degree + 1))


def test_every_named_activation_has_a_reference():
    assert set(REFERENCE) == set(ACTIVATIONS)


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("name", [*NAMES, *POLYS])
def test_finite_on_the_grid_and_equal_across_namespaces(name, xp_name):
    values = evaluate(name, GRID, xp_name)
    assert np.isfinite(values).all(), name
    np.testing.assert_allclose(values, evaluate(name, GRID, "numpy"), rtol=1e-15, atol=0)


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("name", NAMES)
def test_named_activations_match_their_closed_forms(name, xp_name):
    expected = np.array([REFERENCE[name](float(x)) for x in GRID])
    np.testing.assert_allclose(
        evaluate(name, GRID, xp_name), expected, rtol=CLOSED_FORM, atol=CLOSED_FORM
    )


@pytest.mark.parametrize("name", ["tanh", "relu", "softplus", "sigmoid", "elu", "gelu"])
def test_no_overflow_far_from_zero(name):
    """``softplus``, ``sigmoid`` and ``elu`` are written so that ``exp`` never overflows.
    Absolute accuracy ``FAR``: ``sigmoid`` is ``(1 + tanh(x/2)) / 2``, which rounds its
    negative tail (4e-18 at x = -40) to 0."""
    far = [-700.0, -40.0, 40.0, 700.0]
    values = evaluate(name, far, "numpy")
    assert np.isfinite(values).all(), values
    limits = {
        "tanh": [-1.0, -1.0, 1.0, 1.0],
        "relu": [0.0, 0.0, 40.0, 700.0],
        "softplus": [0.0, math.log1p(math.exp(-40.0)), 40.0, 700.0],
        "sigmoid": [0.0, 1.0 / (1.0 + math.exp(40.0)), 1.0, 1.0],
        "elu": [-1.0, math.expm1(-40.0), 40.0, 700.0],
        "gelu": [0.0, 0.0, 40.0, 700.0],
    }[name]
    np.testing.assert_allclose(values, limits, rtol=CLOSED_FORM, atol=FAR)


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("name", [*NAMES, "poly3"])
def test_single_precision_keeps_its_dtype_and_agrees(name, xp_name):
    single = evaluate(name, GRID, xp_name, "float32")
    double = evaluate(name, GRID.astype(np.float32).astype(np.float64), xp_name)
    np.testing.assert_allclose(single, double, rtol=SINGLE, atol=SINGLE)


EXP_TANH = 2.3e-16
"""Absolute error of the ``exp`` form of ``tanh`` (its docstring's measured bound, with
one more rounding of the reference)."""


@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_exp_tanh_is_tanh_to_its_absolute_bound(xp_name):
    """The form the activation takes where NumPy's ``tanh`` is scalar (Haswell, AMD), tested
    on every CPU: against :func:`math.tanh` on normal values and the edges (tiny, huge,
    signed zero, infinities, NaN)."""
    xp = namespace(xp_name)
    points = np.concatenate(
        [np.random.default_rng(3).standard_normal(4096) * 3, [1e-300, -1e-300, 1e-8, 20.0, -1e3]]
    )
    values = host(exp_tanh(xp.asarray(points, dtype=xp.float64), xp))
    expected = np.array([math.tanh(x) for x in points])
    np.testing.assert_allclose(values, expected, rtol=0, atol=EXP_TANH + 2.0**-53)
    edges = host(exp_tanh(xp.asarray([0.0, -0.0, np.inf, -np.inf, np.nan]), xp))
    assert np.signbit(edges[1]) and edges[0] == 0.0
    np.testing.assert_array_equal(edges[2:4], [1.0, -1.0])
    assert np.isnan(edges[4])


def test_numpy_tanh_is_taken_exactly_where_numpy_vectorises_it():
    """The choice follows NumPy's dispatch of float64 ``tanh`` on this CPU, so it is one
    choice per machine (bit-identity on one machine holds)."""
    target = numpy_dispatch("tanh")
    assert NUMPY_TANH_VECTORISED == ("X86_V4" in target or "AVX512" in target)
    x = np.linspace(-3, 3, 101)
    chosen = get_activation("tanh")(x, namespace("numpy"))
    expected = np.tanh(x) if NUMPY_TANH_VECTORISED else exp_tanh(x, namespace("numpy"))
    np.testing.assert_array_equal(chosen, expected)


@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_erf_matches_math_erf(xp_name):
    xp = namespace(xp_name)
    points = np.concatenate([GRID, [-30.0, -1e-8, 0.0, 1e-8, 0.3, 30.0]])
    values = host(erf(xp.asarray(points, dtype=xp.float64), xp))
    expected = np.array([math.erf(x) for x in points])
    np.testing.assert_allclose(values, expected, rtol=CLOSED_FORM, atol=1e-300)
    assert values[points == 0.0][0] == 0.0
    np.testing.assert_array_equal(values[np.abs(points) == 30.0], [-1.0, 1.0])


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("degree", [1, 2, 3, 5, 8, 12])
def test_poly_is_the_truncated_exponential_series(degree, xp_name):
    values = evaluate(f"poly{degree}", GRID, xp_name)
    expected = np.array([truncated_exp(float(x), degree) for x in GRID])
    np.testing.assert_allclose(values, expected, rtol=SERIES, atol=SERIES)


def test_poly_has_exactly_degree_d():
    """The d-th finite difference of poly<d> on a unit grid is the leading coefficient
    times d! = 1, and the (d+1)-th vanishes."""
    for degree in (1, 2, 3, 4, 6):
        values = evaluate(f"poly{degree}", np.arange(-3.0, 5.0), "numpy")
        np.testing.assert_allclose(np.diff(values, degree), 1.0, rtol=1e-12)
        np.testing.assert_allclose(np.diff(values, degree + 1), 0.0, atol=1e-11)


@pytest.mark.parametrize("name", [*NAMES, "poly1", "poly7", "poly10", "poly25"])
def test_known_names_are_accepted(name):
    check_activation(name)
    assert callable(get_activation(name))


@pytest.mark.parametrize(
    "name", ["swish", "Tanh", "poly", "poly0", "poly01", "poly-1", "poly2.5", "polyx", " tanh", ""]
)
def test_unknown_names_are_refused_naming_the_choices(name):
    for call in (check_activation, get_activation):
        with pytest.raises(ValueError) as info:
            call(name)
        message = str(info.value)
        assert f"unknown activation {name!r}" in message
        assert all(known in message for known in ACTIVATIONS) and "poly<d>" in message
