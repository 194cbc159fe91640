"""Subsystem samplers and the subsystem-size language: the orderings each kind draws
(seeded, permutations, nested subsystems), explicit subsets, the sizes of a
:class:`~pipeline.sweep.subsystems.SubsystemSpec`, and the ``m`` ranges of a spec."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from scipy.stats import chisquare

from pipeline.sweep.sizes import parse_range, size_range
from pipeline.sweep.subsystems import (
    KINDS,
    SubsystemSpec,
    explicit_orders,
    orders_for,
    sample_orders,
    subsystem_sites,
)

SAMPLED = ("first", "window", "random")
"""The kinds :func:`sample_orders` draws (``explicit`` is listed, not drawn)."""


def test_kinds():
    assert KINDS == ("first", "window", "random", "explicit")
    assert set(SAMPLED) < set(KINDS)


# --- sample_orders ------------------------------------------------------------------------


def test_first_sampler_is_the_identity():
    orders = sample_orders("first", 7, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(orders, np.tile(np.arange(7), (4, 1)))


def test_window_sampler_gives_cyclic_windows_with_uniform_starts():
    n, count = 7, 7000
    orders = sample_orders("window", n, count, np.random.default_rng(1))
    assert orders.shape == (count, n)
    starts = orders[:, 0]
    np.testing.assert_array_equal(orders, (starts[:, None] + np.arange(n)) % n)
    frequencies = np.bincount(starts, minlength=n)
    assert frequencies.size == n and frequencies.min() > 0
    assert chisquare(frequencies).pvalue > 1e-3


def test_random_sampler_gives_uniform_permutations():
    n, count = 6, 6000
    orders = sample_orders("random", n, count, np.random.default_rng(2))
    np.testing.assert_array_equal(np.sort(orders, axis=1), np.tile(np.arange(n), (count, 1)))
    for position in (0, n // 2):  # every site equally likely at every position
        assert chisquare(np.bincount(orders[:, position], minlength=n)).pvalue > 1e-3


@pytest.mark.parametrize("kind", ["first", "window", "random"])
def test_samplers_are_reproducible(kind):
    first = sample_orders(kind, 9, 5, np.random.default_rng(42))
    again = sample_orders(kind, 9, 5, np.random.default_rng(42))
    np.testing.assert_array_equal(first, again)
    if kind != "first":
        other = sample_orders(kind, 9, 5, np.random.default_rng(43))
        assert not np.array_equal(first, other)


def test_explicit_orders_put_the_subset_first():
    assert explicit_orders(5, [(3, 1), (0,)]) == [(3, 1, 0, 2, 4), (0, 1, 2, 3, 4)]
    with pytest.raises(ValueError, match="distinct sites"):
        explicit_orders(5, [(1, 1)])


def test_sampler_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown subsystem kind"):
        sample_orders("blocks", 5, 1, np.random.default_rng(0))


@pytest.mark.parametrize("kind", SAMPLED)
@pytest.mark.parametrize(("n", "windows"), [(2, 1), (5, 3), (12, 40)])
def test_every_row_is_a_permutation_of_the_sites(kind, n, windows):
    orders = sample_orders(kind, n, windows, np.random.default_rng(n * windows))
    assert orders.shape == (windows, n)
    assert np.issubdtype(orders.dtype, np.integer)
    np.testing.assert_array_equal(np.sort(orders, axis=1), np.tile(np.arange(n), (windows, 1)))


@pytest.mark.parametrize("kind", SAMPLED)
def test_samplers_depend_only_on_the_generator_state(kind):
    """The same seed gives the same orderings whatever was drawn from other generators in
    between; drawing one block of windows equals drawing them one after another."""
    first = sample_orders(kind, 8, 6, np.random.default_rng(7))
    np.random.default_rng(8).random(100)
    np.testing.assert_array_equal(sample_orders(kind, 8, 6, np.random.default_rng(7)), first)
    if kind == "random":
        rng = np.random.default_rng(7)
        one_by_one = np.concatenate([sample_orders(kind, 8, 1, rng) for _ in range(6)])
        np.testing.assert_array_equal(one_by_one, first)


def test_first_sampler_draws_nothing():
    rng = np.random.default_rng(5)
    sample_orders("first", 6, 3, rng)
    assert rng.random() == np.random.default_rng(5).random()


def test_window_subsystems_are_nested_cyclic_windows():
    n = 9
    for order in sample_orders("window", n, 20, np.random.default_rng(4)):
        start = int(order[0])
        for m in range(1, n):
            assert subsystem_sites(order, m) == tuple(sorted((start + i) % n for i in range(m)))
            assert set(subsystem_sites(order, m)) < set(subsystem_sites(order, m + 1))


def test_explicit_kind_is_not_sampled():
    with pytest.raises(ValueError, match="unknown subsystem kind 'explicit'"):
        sample_orders("explicit", 5, 1, np.random.default_rng(0))


# --- explicit subsets, orders_for, subsystem_sites ----------------------------------------


def test_explicit_orders_are_permutations_with_the_rest_ascending():
    orders = explicit_orders(6, [(5, 2, 0), (4,), ()])
    assert orders == [(5, 2, 0, 1, 3, 4), (4, 0, 1, 2, 3, 5), (0, 1, 2, 3, 4, 5)]
    for order in orders:
        assert sorted(order) == list(range(6))


@pytest.mark.parametrize("subset", [(0, 6), (-1,), (2, 2)])
def test_explicit_orders_refuse_sites_outside_or_repeated(subset):
    with pytest.raises(ValueError, match=r"distinct sites in 0\.\.5"):
        explicit_orders(6, [subset])


def test_subsystem_sites_are_the_first_m_sorted():
    order = (4, 1, 3, 0, 2)
    assert subsystem_sites(order, 1) == (4,)
    assert subsystem_sites(order, 3) == (1, 3, 4)
    assert subsystem_sites(np.array(order), 4) == (0, 1, 3, 4)
    assert all(type(s) is int for s in subsystem_sites(np.array(order), 4))
    assert subsystem_sites(order, 0) == ()


@pytest.mark.parametrize(
    ("spec", "windows"),
    [
        (SubsystemSpec("first", (1, 2), None, None), 1),
        (SubsystemSpec("window", "1..n//2", 4, None), 4),
        (SubsystemSpec("random", (2,), 3, None), 3),
    ],
)
def test_orders_for_sampled_kinds_equal_sample_orders(spec, windows):
    orders = orders_for(spec, 8, np.random.default_rng(21))
    assert orders.shape == (windows, 8)
    expected = sample_orders(spec.kind, 8, windows, np.random.default_rng(21))
    np.testing.assert_array_equal(orders, expected)


def test_orders_for_explicit_lists_the_subsets_and_ignores_the_generator():
    spec = SubsystemSpec("explicit", None, None, ((3, 1), (0, 4, 2)))
    rng = np.random.default_rng(0)
    orders = orders_for(spec, 5, rng)
    np.testing.assert_array_equal(orders, [[3, 1, 0, 2, 4], [0, 4, 2, 1, 3]])
    assert rng.random() == np.random.default_rng(0).random()  # nothing drawn
    assert [subsystem_sites(row, len(s)) for row, s in zip(orders, spec.sites, strict=True)] == [
        (1, 3),
        (0, 2, 4),
    ]


# --- SubsystemSpec.sizes and n_windows ------------------------------------------------------


def test_sizes_of_a_tuple_are_sorted_and_distinct():
    assert SubsystemSpec("random", (3, 1, 3, 2), 2, None).sizes(8) == (1, 2, 3)


@pytest.mark.parametrize(("m", "n"), [((0,), 6), ((6,), 6), ((1, 7), 6)])
def test_sizes_of_a_tuple_must_be_proper(m, n):
    with pytest.raises(ValueError, match=r"1 <= m <= n-1"):
        SubsystemSpec("random", m, 2, None).sizes(n)


def test_sizes_of_a_range_depend_on_n():
    spec = SubsystemSpec("window", "1..n//2", 3, None)
    assert spec.sizes(4) == (1, 2)
    assert spec.sizes(9) == (1, 2, 3, 4)
    assert SubsystemSpec("first", "n-1", None, None).sizes(7) == (6,)


def test_sizes_of_explicit_subsets_are_their_lengths():
    spec = SubsystemSpec("explicit", None, None, ((0, 1), (2,), (3, 4)))
    assert spec.sizes(5) == (1, 2)
    with pytest.raises(ValueError, match="site 4 is not < n = 4"):
        spec.sizes(4)
    with pytest.raises(ValueError, match=r"size 3 is not < n = 3"):
        SubsystemSpec("explicit", None, None, ((0, 1, 2),)).sizes(3)


def test_n_windows():
    assert SubsystemSpec("first", (1,), None, None).n_windows == 1
    assert SubsystemSpec("first", (1,), 1, None).n_windows == 1
    assert SubsystemSpec("window", (1,), 5, None).n_windows == 5
    assert SubsystemSpec("random", (1,), 2, None).n_windows == 2
    assert SubsystemSpec("explicit", None, None, ((0,), (1,), (0, 1))).n_windows == 3


# --- size_range and parse_range (pipeline.sweep.sizes) --------------------------------------


@pytest.mark.parametrize(
    ("text", "n", "sizes"),
    [
        ("1..n//2-2", 12, (1, 2, 3, 4)),
        ("3", 10, (3,)),
        ("n//2", 11, (5,)),
        ("(n+1)//2..n-1", 7, (4, 5, 6)),
        ("-(-n)//3..+2*2", 9, (3, 4)),
        ("  2 ..  n - 2 ", 6, (2, 3, 4)),
    ],
)
def test_size_range(text, n, sizes):
    assert size_range(text, n) == sizes


def test_parse_range_gives_both_ends_and_one_expression_twice():
    low, high = parse_range("1..n//2")
    assert ast.unparse(low) == "1" and ast.unparse(high) == "n // 2"
    low, high = parse_range("n-1")
    assert low is high and ast.unparse(low) == "n - 1"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1..2..3", "one '..'"),
        ("..4", "both ends"),
        ("2.. ", "both ends"),
        ("", "both ends"),
        ("1..n)", "not an expression"),
        ("1..n/2", "'/' is not allowed"),
        ("1..n%2", "only + - * //"),
        ("1..n**2", "only + - * //"),
        ("1..m", "unknown name 'm'"),
        ("1..0x", "not an expression"),
        ("1..2.0", "only integer constants"),
        ("1..'3'", "only integer constants"),
        ("1..False", "only integer constants"),
        ("1..len(n)", "not an integer expression"),
        ("1..~n", "not an integer expression"),
        ("1..n[0]", "not an integer expression"),
    ],
)
def test_parse_range_refuses(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_range(text)
    assert fragment in str(info.value)
    with pytest.raises(ValueError):
        size_range(text, 10)


@pytest.mark.parametrize(
    ("text", "n", "fragment"),
    [
        ("4..2", 10, "'4..2' is empty for n = 10 (it gives 4..2)"),
        ("1..n//2-3", 6, "is empty for n = 6"),
        ("0..2", 6, "size 0 is not >= 1"),
        ("1..n", 6, "size 6 is not < n = 6"),
        ("n-3..n+1", 6, "'n-3..n+1' gives 3..7 for n = 6; size 7 is not < n = 6"),
        ("1..n//(n-6)", 6, "division by zero for n = 6"),
    ],
)
def test_size_range_refuses_sizes_for_this_n(text, n, fragment):
    with pytest.raises(ValueError) as info:
        size_range(text, n)
    assert fragment in str(info.value)
