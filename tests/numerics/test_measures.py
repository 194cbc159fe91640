"""Entropy measures by name: Renyi orders, store variables and labels."""

from __future__ import annotations

import math

import pytest

from pipeline.numerics.measures import (
    measure_long_name,
    measure_order,
    measure_variable,
    variable_measure,
)


def test_measures():
    assert [measure_variable(m) for m in ("vn", "renyi2", "renyi0.5", "inf", "renyi3")] == [
        "S_vn",
        "S_renyi2",
        "S_renyi0p5",
        "S_inf",
        "S_renyi3",
    ]
    assert measure_order("vn") == 1.0
    assert measure_order("renyi2") == 2.0
    assert measure_order("renyi0.5") == 0.5
    assert measure_order("inf") == math.inf
    for bad in ("renyi1", "renyi-2", "renyiabc", "renyi0", "renyi2.0", "renyi", "S_vn"):
        with pytest.raises(ValueError):
            measure_order(bad)


@pytest.mark.parametrize(
    ("measure", "alpha"),
    [
        ("vn", 1.0),
        ("inf", math.inf),
        ("renyi2", 2.0),
        ("renyi0.5", 0.5),
        ("renyi3", 3.0),
        ("renyi10", 10.0),
    ],
)
def test_measure_order_parses_names(measure, alpha):
    assert measure_order(measure) == alpha


@pytest.mark.parametrize(
    "measure",
    [
        "renyi1",
        "renyi0",
        "renyi0.0",
        "renyi-2",
        "renyi",
        "Renyi2",
        "shannon",
        "",
        "renyiinf",
        "renyi2.0",
    ],
)
def test_measure_order_rejects_bad_names(measure):
    with pytest.raises(ValueError, match=r"Renyi order|unknown measure"):
        measure_order(measure)


@pytest.mark.parametrize("measure", ["vn", "inf", "renyi2", "renyi0.5", "renyi10", "renyi2.25"])
def test_store_variable_round_trips(measure):
    assert variable_measure(measure_variable(measure)) == measure


@pytest.mark.parametrize("variable", ["S_renyi1", "S_renyi2p0", "vn", "S_", "S_shannon"])
def test_variable_measure_rejects_other_names(variable):
    with pytest.raises(ValueError):
        variable_measure(variable)


def test_long_names():
    assert measure_long_name("vn") == "von Neumann entropy"
    assert measure_long_name("inf") == "min-entropy"
    assert measure_long_name("renyi2") == "Renyi-2 entropy"
    assert measure_long_name("renyi0.5") == "Renyi-0.5 entropy"
